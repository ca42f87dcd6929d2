//! `cargo xtask test`: every test layer against a private local stack.
//!
//! Each layer's output is printed as it comes and parsed for its counts. A
//! layer whose command fails without counts, or that ran no test, counts as a
//! failure: a green run must mean tests actually ran and passed.

use std::path::Path;
use std::process::{Command, ExitStatus};

use anyhow::Result;

use crate::build;
use crate::cmd;
use crate::install::{self, Scope, Tools};
use crate::schema;
use crate::stack::{self, Mode, Stack};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layer {
    Rust,
    Wasm,
    Pgtap,
    Deno,
    Schema,
    /// `supabase db lint` and Supabase's advisors against the stack's schema.
    Advisors,
    Lint,
}

impl Layer {
    pub const ALL: [Layer; 7] = [
        Layer::Lint,
        Layer::Rust,
        Layer::Wasm,
        Layer::Pgtap,
        Layer::Deno,
        Layer::Schema,
        Layer::Advisors,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Layer::Rust => "rust",
            Layer::Wasm => "wasm",
            Layer::Pgtap => "pgtap",
            Layer::Deno => "deno",
            Layer::Schema => "schema",
            Layer::Advisors => "advisors",
            Layer::Lint => "lint",
        }
    }

    pub fn parse(name: &str) -> Result<Layer> {
        Layer::ALL
            .into_iter()
            .find(|layer| layer.name() == name)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "unknown layer {name:?}; expected one of lint, rust, wasm, pgtap, deno, schema, advisors"
                )
            })
    }

    fn needs_stack(self) -> bool {
        // The lint layer reads only the sources; the database's own lints
        // are the advisors layer.
        matches!(
            self,
            Layer::Pgtap | Layer::Deno | Layer::Schema | Layer::Advisors
        )
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub passed: u64,
    pub failed: u64,
}

/// The verdict on one layer.
struct Outcome {
    layer: Layer,
    counts: Counts,
    /// Why the layer failed beyond its counted failures, if it did.
    problem: Option<String>,
}

impl Outcome {
    /// Judges a layer from its exit status and the counts parsed from it.
    fn judge(layer: Layer, status: Option<ExitStatus>, counts: Option<Counts>) -> Outcome {
        let success = status.is_some_and(|status| status.success());
        let mut counts = counts.unwrap_or_default();
        let problem = if counts.passed == 0 && counts.failed == 0 {
            Some(if success {
                format!("layer {} ran no test", layer.name())
            } else {
                format!("layer {} failed before reporting any test", layer.name())
            })
        } else if !success && counts.failed == 0 {
            Some(format!(
                "layer {} failed without a failing test (a build or setup error?)",
                layer.name()
            ))
        } else {
            None
        };
        // A failure nobody counted is still one failure in the totals.
        if problem.is_some() && counts.failed == 0 {
            counts.failed = 1;
        }
        Outcome {
            layer,
            counts,
            problem,
        }
    }

    fn broken(layer: Layer, problem: String) -> Outcome {
        Outcome {
            layer,
            counts: Counts {
                passed: 0,
                failed: 1,
            },
            problem: Some(problem),
        }
    }

    fn failed(&self) -> bool {
        self.counts.failed > 0 || self.problem.is_some()
    }
}

/// Runs the layers (all when `layers` is empty); `Ok(false)` when any failed.
pub fn run(root: &Path, layers: &[Layer]) -> Result<bool> {
    let layers: Vec<Layer> = if layers.is_empty() {
        Layer::ALL.to_vec()
    } else {
        Layer::ALL
            .into_iter()
            .filter(|layer| layers.contains(layer))
            .collect()
    };
    let needs_stack = layers.iter().any(|layer| layer.needs_stack());
    let tools = install::ensure(
        root,
        if needs_stack {
            Scope::Test
        } else {
            Scope::Build
        },
    )?;
    if needs_stack {
        build::build(root, &tools)?;
    }

    let mut outcomes = Vec::new();
    let mut stack: Option<Result<Stack>> = None;
    for layer in layers {
        let outcome = if layer.needs_stack() {
            let started = stack.get_or_insert_with(|| {
                println!("xtask: starting a private local stack");
                stack::start(root, &tools, Mode::Test)
            });
            match started {
                Ok(stack) => run_layer(root, &tools, layer, Some(stack)),
                Err(error) => Outcome::broken(
                    layer,
                    format!(
                        "layer {}: the local stack did not start: {error:#}",
                        layer.name()
                    ),
                ),
            }
        } else {
            run_layer(root, &tools, layer, None)
        };
        summarise(&outcome);
        outcomes.push(outcome);
    }

    let any_failed = outcomes.iter().any(Outcome::failed);
    // After Ctrl-C the failures are ours, not the tests': no logs then.
    if any_failed && !cmd::stopping() {
        if let Some(Ok(stack)) = &stack {
            for log in &stack.logs {
                println!(
                    "xtask: the end of {}:\n{}",
                    log.display(),
                    cmd::log_tail(log, 40)
                );
            }
        }
    }
    cmd::shutdown();

    let passed: u64 = outcomes.iter().map(|outcome| outcome.counts.passed).sum();
    let failed: u64 = outcomes.iter().map(|outcome| outcome.counts.failed).sum();
    println!();
    for outcome in outcomes.iter().filter(|outcome| outcome.failed()) {
        if let Some(problem) = &outcome.problem {
            println!("xtask: {problem}");
        }
    }
    println!("{passed} passed, {failed} failed");
    Ok(!any_failed)
}

fn summarise(outcome: &Outcome) {
    println!(
        "layer {}: {} passed, {} failed{}",
        outcome.layer.name(),
        outcome.counts.passed,
        outcome.counts.failed,
        outcome
            .problem
            .as_deref()
            .map(|problem| format!(" ({problem})"))
            .unwrap_or_default()
    );
}

fn run_layer(root: &Path, tools: &Tools, layer: Layer, stack: Option<&Stack>) -> Outcome {
    println!("\nxtask: layer {}", layer.name());
    let (prepared, parse): (Result<Option<Command>>, Parser) = match (layer, stack) {
        (Layer::Rust, _) => (rust_command(root), parse_cargo),
        (Layer::Wasm, _) => (wasm_command(root, tools), parse_cargo),
        (Layer::Pgtap, Some(stack)) => (pgtap_command(root, tools, stack), parse_pg_prove),
        (Layer::Deno, Some(stack)) => (deno_command(root, tools, stack), parse_deno),
        (Layer::Schema, Some(stack)) => (schema::command(root, tools, stack), schema::parse),
        (Layer::Lint, _) => return run_checks(Layer::Lint, lint_checks(root, tools)),
        (Layer::Advisors, Some(stack)) => {
            return run_checks(Layer::Advisors, advisors_checks(root, tools, stack))
        }
        (_, None) => return Outcome::broken(layer, "the stack is not running".to_string()),
    };
    let mut command = match prepared {
        Ok(Some(command)) => command,
        Ok(None) => return Outcome::broken(layer, format!("layer {} ran no test", layer.name())),
        Err(error) => return Outcome::broken(layer, format!("layer {}: {error:#}", layer.name())),
    };
    match cmd::tee(&mut command) {
        Ok((status, output)) => {
            let output = strip_ansi(&output);
            Outcome::judge(layer, Some(status), parse(&output, status))
        }
        Err(error) => Outcome::broken(layer, format!("layer {}: {error:#}", layer.name())),
    }
}

type Parser = fn(&str, ExitStatus) -> Option<Counts>;

/// One named check: it passes when its command exits 0.
type Check = (&'static str, Command);

/// The house rules that tools check on the sources alone, in seconds and
/// without a stack: formatting, clippy (native, wasm and the S3 server),
/// rustdoc with warnings denied, deno fmt and deno lint.
fn lint_checks(root: &Path, tools: &Tools) -> Result<Vec<Check>> {
    let cargo = || {
        let mut command = install::cargo_command();
        command.current_dir(root);
        command
    };
    let deno = || {
        let mut command = Command::new(&tools.deno);
        command.current_dir(root).env("NO_COLOR", "1");
        command
    };
    let mut checks: Vec<Check> = Vec::new();
    let mut fmt = cargo();
    fmt.args(["fmt", "--all", "--check"]);
    checks.push(("cargo fmt --check", fmt));
    let mut clippy = cargo();
    clippy.args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]);
    checks.push(("cargo clippy (native)", clippy));
    // Broken intra-doc links and malformed docs fail like any other warning.
    let mut doc = cargo();
    doc.args(["doc", "--workspace", "--no-deps"])
        .env("RUSTDOCFLAGS", "-D warnings");
    checks.push(("cargo doc --no-deps", doc));
    // The S3 server tool is its own workspace (see dev/s3-local); clippy
    // reuses the build directory its installation left in the tools dir.
    let s3_local = root.join("dev/s3-local/Cargo.toml");
    let mut fmt_s3 = cargo();
    fmt_s3
        .args(["fmt", "--check", "--manifest-path"])
        .arg(&s3_local);
    checks.push(("cargo fmt --check (dev/s3-local)", fmt_s3));
    let mut clippy_s3 = cargo();
    clippy_s3
        .args(["clippy", "--release", "--locked", "--manifest-path"])
        .arg(&s3_local)
        .arg("--target-dir")
        .arg(tools.dir.join("build/s3-local"))
        .args(["--", "-D", "warnings"]);
    checks.push(("cargo clippy (dev/s3-local)", clippy_s3));
    let packages = build::function_packages(root)?;
    if !packages.is_empty() {
        let mut clippy_wasm = cargo();
        clippy_wasm.args([
            "clippy",
            "--target",
            "wasm32-unknown-unknown",
            "--all-targets",
        ]);
        for package in packages {
            clippy_wasm.arg("-p").arg(package);
        }
        clippy_wasm.args(["--", "-D", "warnings"]);
        checks.push(("cargo clippy (wasm)", clippy_wasm));
    }
    let mut deno_fmt = deno();
    deno_fmt.args(["fmt", "--check"]);
    checks.push(("deno fmt --check", deno_fmt));
    let mut deno_lint = deno();
    deno_lint.arg("lint");
    checks.push(("deno lint", deno_lint));
    Ok(checks)
}

/// The database's own lints on the migrated schema: `supabase db lint`
/// (plpgsql_check) and Supabase's advisors.
fn advisors_checks(root: &Path, tools: &Tools, stack: &Stack) -> Result<Vec<Check>> {
    // `supabase db <args> --db-url <the stack's database>`.
    let supabase_db = |args: &[&str]| {
        let mut command = stack::supabase_cli(tools, root);
        command
            .arg("db")
            .args(args)
            .arg("--db-url")
            .arg(stack::cli_db_url(stack.ports.db));
        command
    };
    Ok(vec![
        // Our schema only: `extensions` holds pgTAP once the pgtap layer ran,
        // and plpgsql_check finds errors in pgTAP's own version-specific code.
        (
            "supabase db lint",
            supabase_db(&[
                "lint",
                "--schema",
                "ops",
                "--level",
                "warning",
                "--fail-on",
                "error",
            ]),
        ),
        // Supabase's advisors (the dashboard's Security and Performance
        // lints), as a user's hosted project would show them: nothing at warn
        // level or above. INFO findings are printed; the README lists those we
        // keep and why.
        (
            "supabase db advisors",
            supabase_db(&[
                "advisors",
                "--type",
                "all",
                "--level",
                "info",
                "--fail-on",
                "warn",
            ]),
        ),
    ])
}

/// Runs each check as one test of `layer`.
fn run_checks(layer: Layer, checks: Result<Vec<Check>>) -> Outcome {
    let checks = match checks {
        Ok(checks) => checks,
        Err(error) => return Outcome::broken(layer, format!("layer {}: {error:#}", layer.name())),
    };
    let mut counts = Counts::default();
    for (name, mut command) in checks {
        let passed = match cmd::tee(&mut command) {
            Ok((status, _)) => status.success(),
            Err(error) => {
                println!("xtask: {name}: {error:#}");
                false
            }
        };
        println!(
            "xtask: {} check {name}: {}",
            layer.name(),
            if passed { "ok" } else { "FAILED" }
        );
        if passed {
            counts.passed += 1;
        } else {
            counts.failed += 1;
        }
    }
    Outcome {
        layer,
        counts,
        problem: None,
    }
}

fn rust_command(root: &Path) -> Result<Option<Command>> {
    let mut command = install::cargo_command();
    command.current_dir(root).args(["test", "--workspace"]);
    // The function crates are wasm bindings: their tests run in the wasm layer.
    for package in build::function_packages(root)? {
        command.arg("--exclude").arg(package);
    }
    Ok(Some(command))
}

fn wasm_command(root: &Path, tools: &Tools) -> Result<Option<Command>> {
    let packages = build::function_packages(root)?;
    if packages.is_empty() {
        return Ok(None);
    }
    let mut command = install::cargo_command();
    command
        .current_dir(root)
        .args(["test", "--target", "wasm32-unknown-unknown"])
        .env(
            "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER",
            &tools.wasm_bindgen_test_runner,
        );
    for package in packages {
        command.arg("-p").arg(package);
    }
    Ok(Some(command))
}

fn pgtap_command(root: &Path, tools: &Tools, stack: &Stack) -> Result<Option<Command>> {
    let tests = root.join("supabase/tests/database");
    if !tests.is_dir() {
        return Ok(None);
    }
    // As `supabase test db` does: pgTAP lives in `extensions`, enabled for the
    // tests only (no migration depends on it). pgTAP is not a trusted
    // extension, so the platform's superuser enables it, as the dashboard
    // would on hosted; the tests themselves run as `postgres`.
    cmd::run(stack::psql_admin(&tools.pg_bin, stack.ports.db).args([
        "-c",
        "create extension if not exists pgtap with schema extensions",
    ]))?;
    let pg_prove = install::find_in_path("pg_prove")
        .ok_or_else(|| anyhow::anyhow!("pg_prove is not installed; run `apt-get install libtap-parser-sourcehandler-pgtap-perl`"))?;
    let mut command = Command::new(pg_prove);
    command
        .current_dir(root)
        .args(["--host", "127.0.0.1", "--port"])
        .arg(stack.ports.db.to_string())
        .args(["--username", "postgres", "--dbname", "postgres"])
        .args(["--ext", ".sql", "-r", "supabase/tests/database/"])
        .env("PGPASSWORD", "postgres")
        .env("PATH", path_with(&tools.pg_bin));
    Ok(Some(command))
}

fn deno_command(root: &Path, tools: &Tools, stack: &Stack) -> Result<Option<Command>> {
    let dirs: Vec<&str> = ["tests/", "supabase/functions/"]
        .into_iter()
        .filter(|dir| root.join(dir).is_dir())
        .collect();
    if dirs.is_empty() {
        return Ok(None);
    }
    let mut command = install::deno_command(tools, "test");
    command
        .current_dir(root)
        .arg("--allow-all")
        .args(dirs)
        .envs(stack.env.iter().map(|(key, value)| (key, value)))
        .env("NO_COLOR", "1");
    Ok(Some(command))
}

/// PATH with `dir` first (pg_prove runs `psql`, which Debian keeps there too).
fn path_with(dir: &Path) -> std::ffi::OsString {
    let mut paths = vec![dir.to_path_buf()];
    if let Some(path) = std::env::var_os("PATH") {
        paths.extend(std::env::split_paths(&path));
    }
    std::env::join_paths(paths).unwrap_or_default()
}

/// Removes ANSI colour sequences so summaries parse whatever the terminal.
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The number right before `word` in `text` ("12 passed" → 12).
fn number_before(text: &str, word: &str) -> Option<u64> {
    let words: Vec<&str> = text.split_whitespace().collect();
    words.windows(2).find_map(|pair| {
        let label = pair[1].trim_end_matches([';', ',', '.', ')']);
        (label == word).then(|| pair[0].parse().ok()).flatten()
    })
}

/// Sums every `test result: ok. N passed; M failed; ...` line of cargo test
/// (unit, integration and doc-tests alike; wasm-bindgen-test-runner prints
/// the same line).
fn parse_cargo(output: &str, _status: ExitStatus) -> Option<Counts> {
    let mut total: Option<Counts> = None;
    for line in output.lines() {
        let Some(at) = line.find("test result:") else {
            continue;
        };
        let rest = &line[at..];
        let (Some(passed), Some(failed)) =
            (number_before(rest, "passed"), number_before(rest, "failed"))
        else {
            continue;
        };
        let counts = total.get_or_insert_with(Counts::default);
        counts.passed += passed;
        counts.failed += failed;
    }
    total
}

/// pg_prove (TAP::Harness): `Files=2, Tests=40, ...` gives the tests run and
/// `(Wstat: ... Tests: 10 Failed: 2)` the failures per file.
fn parse_pg_prove(output: &str, status: ExitStatus) -> Option<Counts> {
    let mut tests = None;
    let mut failed = 0u64;
    for line in output.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("Files=") {
            tests = rest
                .split(',')
                .find_map(|part| part.trim().strip_prefix("Tests="))
                .and_then(|n| n.trim().parse::<u64>().ok());
        } else if line.contains("(Wstat:") {
            if let Some(n) = line
                .split("Failed:")
                .nth(1)
                .and_then(|rest| rest.trim().trim_end_matches(')').trim().parse::<u64>().ok())
            {
                failed += n;
            }
        }
    }
    let tests = tests?;
    // A file that died (a bad plan, an SQL error) fails without a failed test.
    if !status.success() && failed == 0 {
        failed = 1;
    }
    Some(Counts {
        passed: tests.saturating_sub(failed),
        failed,
    })
}

/// Deno: `ok | 5 passed (3 steps) | 0 failed (1s)` or
/// `FAILED | 4 passed | 1 failed (1s)`; only whole tests count, not steps.
fn parse_deno(output: &str, _status: ExitStatus) -> Option<Counts> {
    output.lines().rev().find_map(|line| {
        let line = line.trim();
        if !(line.starts_with("ok |") || line.starts_with("FAILED |")) {
            return None;
        }
        let (passed, failed) = labelled_counts(line.split('|').skip(1));
        (passed.is_some() || failed.is_some()).then(|| Counts {
            passed: passed.unwrap_or(0),
            failed: failed.unwrap_or(0),
        })
    })
}

/// The numbers labelled `passed` and `failed` among parts such as
/// `5 passed (3 steps)`: a number, then its label, then anything.
pub fn labelled_counts<'a>(parts: impl Iterator<Item = &'a str>) -> (Option<u64>, Option<u64>) {
    let (mut passed, mut failed) = (None, None);
    for part in parts {
        let mut words = part.split_whitespace();
        let (Some(number), Some(label)) = (words.next(), words.next()) else {
            continue;
        };
        let Ok(number) = number.parse::<u64>() else {
            continue;
        };
        match label {
            "passed" => passed = Some(number),
            "failed" => failed = Some(number),
            _ => {}
        }
    }
    (passed, failed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    fn exit(code: i32) -> ExitStatus {
        ExitStatus::from_raw(code << 8)
    }

    #[test]
    fn cargo_results_are_summed_including_doc_tests() {
        let output = "running 3 tests\n\
            test result: ok. 3 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s\n\
            \x20  Doc-tests webhook_auth\n\
            test result: FAILED. 1 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out\n";
        assert_eq!(
            parse_cargo(output, exit(101)),
            Some(Counts {
                passed: 4,
                failed: 2
            })
        );
        assert_eq!(parse_cargo("error: could not compile", exit(101)), None);
    }

    #[test]
    fn pg_prove_failures_come_from_the_summary() {
        let output = "supabase/tests/database/a.test.sql .. ok\n\
            supabase/tests/database/b.test.sql .. Failed 2/10 subtests\n\
            \n\
            Test Summary Report\n\
            -------------------\n\
            supabase/tests/database/b.test.sql (Wstat: 0 Tests: 10 Failed: 2)\n\
            \x20 Failed tests:  3, 7\n\
            Files=2, Tests=25,  0 wallclock secs\n\
            Result: FAIL\n";
        assert_eq!(
            parse_pg_prove(output, exit(1)),
            Some(Counts {
                passed: 23,
                failed: 2
            })
        );
        let passing = "All tests successful.\nFiles=3, Tests=42,  1 wallclock secs\nResult: PASS\n";
        assert_eq!(
            parse_pg_prove(passing, exit(0)),
            Some(Counts {
                passed: 42,
                failed: 0
            })
        );
    }

    #[test]
    fn pg_prove_bad_plan_counts_as_a_failure() {
        let output = "x.test.sql (Wstat: 0 Tests: 3 Failed: 0)\n  Parse errors: Bad plan.\n\
            Files=1, Tests=3, 0 wallclock secs\nResult: FAIL\n";
        assert_eq!(
            parse_pg_prove(output, exit(1)),
            Some(Counts {
                passed: 2,
                failed: 1
            })
        );
    }

    #[test]
    fn deno_summary_lines_parse_with_steps() {
        assert_eq!(
            parse_deno("ok | 5 passed (3 steps) | 0 failed (1s)\n", exit(0)),
            Some(Counts {
                passed: 5,
                failed: 0
            })
        );
        assert_eq!(
            parse_deno(
                "ERRORS\n\nFAILED | 4 passed (1 step) | 1 failed (2 steps) (1s)\n",
                exit(1)
            ),
            Some(Counts {
                passed: 4,
                failed: 1
            })
        );
        assert_eq!(
            parse_deno("ok | 0 passed | 0 failed | 2 ignored (0ms)", exit(0)),
            Some(Counts::default())
        );
        assert_eq!(parse_deno("error: Module not found", exit(1)), None);
    }

    #[test]
    fn a_layer_that_ran_nothing_fails() {
        let outcome = Outcome::judge(Layer::Deno, Some(exit(0)), Some(Counts::default()));
        assert!(outcome.failed());
        assert_eq!(outcome.counts.failed, 1);
        let outcome = Outcome::judge(Layer::Rust, Some(exit(101)), None);
        assert!(outcome.failed());
    }

    #[test]
    fn a_failing_command_with_only_passes_still_fails() {
        let counts = Counts {
            passed: 7,
            failed: 0,
        };
        let outcome = Outcome::judge(Layer::Rust, Some(exit(101)), Some(counts));
        assert!(outcome.failed());
        assert_eq!(outcome.counts.passed, 7);
        assert_eq!(outcome.counts.failed, 1);
        assert!(!Outcome::judge(Layer::Rust, Some(exit(0)), Some(counts)).failed());
    }

    #[test]
    fn ansi_colours_are_removed() {
        assert_eq!(
            strip_ansi("\u{1b}[32mok\u{1b}[0m | 1 passed"),
            "ok | 1 passed"
        );
    }
}
