//! The project's automation, run as `cargo xtask <command>` (an alias in
//! `.cargo/config.toml`), so it needs nothing but cargo.
//!
//! Commands:
//!
//! - `cargo xtask build`: builds every `functions/<name>/` crate for
//!   `wasm32-unknown-unknown`, runs `wasm-bindgen --target deno` into
//!   `pkg/<name>/` and shrinks the wasm with `wasm-opt -Os` when binaryen is
//!   installed.
//! - `cargo xtask dev`: builds, then runs the local stack in the foreground
//!   until Ctrl-C: PostgreSQL (Supabase bootstrap + migrations) on 54322,
//!   s3s-fs on 54326 and every Edge Function on
//!   `http://127.0.0.1:54321/functions/v1/<name>`. Ports can be changed with
//!   `OPS_FUNCTIONS_PORT`, `OPS_DB_PORT` and `OPS_S3_PORT`. The same
//!   cluster holds an Odoo 19-shaped database, `odoo` (the fixture
//!   `xtask/sql/odoo_fixture.sql`), which the migrations' postgres_fdw
//!   wrapper reads as Odoo instance `prod`. The URLs (Odoo's owner's as
//!   `ODOO_DB_URL`) and secrets are written to `.dev/stack.env`; the secrets
//!   are kept across restarts.
//! - `cargo xtask sample`: sends a signed sample event to the running `dev`
//!   stack (`dev/send-sample.ts` with `.dev/stack.env`).
//! - `cargo xtask restore (--run <run_id> | --object <key>)`: puts runs that
//!   ops-cleanup archived back into the ops tables (`scripts/restore.ts`),
//!   with the environment's settings or those of `.dev/stack.env`.
//! - `cargo xtask test [--layer lint|rust|wasm|pgtap|deno|schema|advisors]...`: builds, starts a
//!   private stack on free ports and runs every test layer (all by default),
//!   ending with the line `N passed, N failed`. This is what CI runs.
//! - `cargo xtask install`: installs the pinned tools only.
//! - `cargo xtask bench [--part micro|instantiate|load]...`: the benchmarks
//!   of BENCHMARKS.md, with a private stack for the load part; not run by CI.
//!
//! Every command first installs what it needs and is missing (the wasm
//! target, wasm-bindgen-cli matching Cargo.lock, s3s-fs (`dev/s3-local`), Deno, the Supabase
//! CLI, PostgreSQL packages), into a tools directory shared between clones:
//! `$ODOOOPS_TOOLS_DIR`, else `$XDG_CACHE_HOME/odooops/tools`, else
//! `$HOME/.cache/odooops/tools`.
//!
//! No server started here outlives xtask: on Ctrl-C, SIGTERM, an error or a
//! normal exit, the functions server and s3s-fs are killed and PostgreSQL is
//! stopped with `pg_ctl stop -m fast`.

mod bench;
mod build;
mod cmd;
mod install;
mod schema;
mod stack;
mod test;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};

use crate::install::Scope;
use crate::stack::Mode;
use crate::test::Layer;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  build                     build the wasm of every function into pkg/
  dev                       run the local stack until Ctrl-C
  sample                    send a signed sample event to the `dev` stack
  restore (--run <id> | --object <key>)
                            put archived runs back (settings from the environment or .dev/stack.env)
  test [--layer <name>]...  run the test layers: lint, rust, wasm, pgtap, deno, schema, advisors (default: all)
  install                   install the pinned tools only
  bench [--part <name>]...  run the benchmarks: micro, instantiate, load (default: all)
";

/// Stops whatever is still running when `main` ends, even by a panic.
struct ShutdownOnDrop;

impl Drop for ShutdownOnDrop {
    fn drop(&mut self) {
        cmd::shutdown();
    }
}

fn main() -> ExitCode {
    let guard = ShutdownOnDrop;
    let result = cmd::install_signal_handler().and_then(|()| run(std::env::args().skip(1)));
    drop(guard);
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            cmd::note(&format!("xtask: error: {error:#}"));
            ExitCode::FAILURE
        }
    }
}

/// Runs a command; `Ok(false)` means it ran and reported failure itself.
fn run(mut args: impl Iterator<Item = String>) -> Result<bool> {
    let root = repo_root()?;
    let command = args.next().unwrap_or_default();
    let rest: Vec<String> = args.collect();
    if !matches!(command.as_str(), "test" | "bench" | "restore") && !rest.is_empty() {
        bail!("`{command}` takes no arguments\n\n{USAGE}");
    }
    match command.as_str() {
        "build" => {
            let tools = install::ensure(&root, Scope::Build)?;
            build::build(&root, &tools)?;
        }
        "dev" => dev(&root)?,
        "sample" => sample(&root)?,
        "restore" => return restore(&root, &rest),
        "test" => return test::run(&root, &parse_layers(&rest)?),
        "bench" => return bench::run(&root, &rest),
        "install" => {
            install::ensure(&root, Scope::Test)?;
            println!(
                "xtask: tools are installed in {}",
                install::tools_dir()?.display()
            );
        }
        "" | "help" | "-h" | "--help" => print!("{USAGE}"),
        other => bail!("unknown command `{other}`\n\n{USAGE}"),
    }
    Ok(true)
}

/// The workspace root, one level above this crate.
fn repo_root() -> Result<PathBuf> {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| anyhow!("xtask must live one level below the workspace root"))
}

fn parse_layers(args: &[String]) -> Result<Vec<Layer>> {
    let mut layers = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let name = match arg.strip_prefix("--layer=") {
            Some(name) => name,
            None if arg == "--layer" => args
                .next()
                .ok_or_else(|| anyhow!("--layer needs a name: rust, wasm, pgtap or deno"))?,
            None => bail!("unknown argument `{arg}`\n\n{USAGE}"),
        };
        layers.push(Layer::parse(name)?);
    }
    Ok(layers)
}

fn dev(root: &Path) -> Result<()> {
    let tools = install::ensure(root, Scope::Stack)?;
    build::build(root, &tools)?;
    let stack = stack::start(root, &tools, Mode::Dev)?;
    let env_file = root.join(".dev/stack.env");
    stack::write_env_file(&env_file, &stack.env)?;

    println!("\nThe local stack is up (Ctrl-C stops it).\n");
    println!("functions:");
    for name in &stack.functions {
        println!("  {}", stack.function_url(name));
    }
    let value = |key: &str| stack.get(key).unwrap_or_default().to_string();
    println!("database:   {}", value("SUPABASE_DB_URL"));
    println!(
        "Odoo:       {} (ODOO_DB_URL; read through postgres_fdw as instance prod, schema odoo_prod)",
        value("ODOO_DB_URL")
    );
    println!(
        "S3:         {} (bucket {})",
        value("S3_ENDPOINT"),
        value("S3_BUCKET")
    );
    println!("secrets:");
    for key in [
        "OPS_WEBHOOK_SECRET",
        "OPS_CRON_SECRET",
        "OPS_AUTH_HOOK_SECRET",
        "OPS_RECONCILE_SECRET",
        "OPS_NUDGE_TOKENS",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    ] {
        println!("  {key}={}", value(key));
    }
    println!(
        "the Auth hook (ops-auth-hook) takes OPS_AUTH_HOOK_SECRET in Auth's form; see the README's \"Odoo identities in the token\""
    );
    println!("all of the above: .dev/stack.env");
    println!("send a signed sample event: cargo xtask sample");
    println!(
        "change a project in Odoo: {}\n",
        odoo_change_example(&value("ODOO_DB_URL"))
    );

    loop {
        thread::sleep(Duration::from_millis(500));
        stack::check_alive(&stack)?;
    }
}

/// A psql command that renames project 1 in the local Odoo as Odoo's ORM
/// would write it: the en_US key of the translated name, and write_date in
/// UTC without a time zone.
fn odoo_change_example(odoo_db_url: &str) -> String {
    format!(
        r#"psql '{odoo_db_url}' -c "update project_project set name = name || '{{\"en_US\": \"Website Relaunch\"}}', write_date = now() at time zone 'UTC' where id = 1""#
    )
}

/// Runs the restore command (`scripts/restore.ts`, the functions' executor
/// with ops-cleanup's restore machine) with `args`. Its settings come from
/// the environment (`SUPABASE_DB_URL`, `S3_ENDPOINT`, `S3_BUCKET`, the AWS
/// keys), or, when `SUPABASE_DB_URL` is not set, from `.dev/stack.env`.
/// Succeeds when the command exits 0; its exit code is passed on.
fn restore(root: &Path, args: &[String]) -> Result<bool> {
    let tools = install::ensure(root, Scope::Build)?;
    if !build::is_fresh(root, "ops-cleanup") {
        build::build(root, &tools)?;
    }
    let mut command = install::deno_command(&tools, "run");
    command
        .current_dir(root)
        .args(stack::EXECUTOR_PERMISSIONS)
        .arg("scripts/restore.ts")
        .args(args);
    if std::env::var_os("SUPABASE_DB_URL").is_none() {
        let env_file = root.join(".dev/stack.env");
        let text = std::fs::read_to_string(&env_file).map_err(|_| {
            anyhow!(
                "SUPABASE_DB_URL is not set and there is no .dev/stack.env: set the database \
                 and S3 settings, or start `cargo xtask dev` first"
            )
        })?;
        eprintln!("xtask: restore with the settings of .dev/stack.env");
        command.envs(stack::parse_env_file(&text));
    }
    let status = command
        .status()
        .context("cannot run the restore command with deno")?;
    match status.code() {
        Some(0) => Ok(true),
        Some(code) => std::process::exit(code),
        None => Ok(false),
    }
}

fn sample(root: &Path) -> Result<()> {
    let env_file = root.join(".dev/stack.env");
    let text = std::fs::read_to_string(&env_file).map_err(|_| {
        anyhow!("no .dev/stack.env: start `cargo xtask dev` first (in another terminal)")
    })?;
    let script = root.join("dev/send-sample.ts");
    if !script.is_file() {
        bail!("dev/send-sample.ts is missing");
    }
    let tools = install::ensure(root, Scope::Deno)?;
    cmd::run(
        install::deno_command(&tools, "run")
            .current_dir(root)
            .args([
                "--allow-net",
                "--allow-env",
                "--allow-read",
                "dev/send-sample.ts",
            ])
            .envs(stack::parse_env_file(&text)),
    )
    .context("the sample event was not accepted (see above); is `cargo xtask dev` still running?")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_odoo_change_example_survives_the_shell() {
        // The shell's own word splitting, with printf in psql's place, gives
        // the arguments psql would get.
        let example = odoo_change_example("postgresql://odoo:odoo@127.0.0.1:54322/odoo");
        let script = example.replacen("psql", "printf '%s\\n'", 1);
        let output = std::process::Command::new("sh")
            .args(["-c", &script])
            .output()
            .expect("sh");
        let text = String::from_utf8(output.stdout).expect("utf-8");
        let words: Vec<&str> = text.lines().collect();
        assert_eq!(
            words,
            [
                "postgresql://odoo:odoo@127.0.0.1:54322/odoo",
                "-c",
                "update project_project set name = name || '{\"en_US\": \"Website Relaunch\"}', \
                 write_date = now() at time zone 'UTC' where id = 1",
            ]
        );
    }
}
