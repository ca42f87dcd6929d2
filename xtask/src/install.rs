//! Installs the pinned tools that are missing, saying so.
//!
//! Tools live in one directory shared by every clone of the repository, so CI
//! does not compile `wasm-bindgen-cli` and the S3 server again on each run.
//! Every step checks the installed *version*, not only that a binary exists,
//! so a bump of a pin reinstalls.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{anyhow, bail, Context, Result};

use crate::cmd;

/// Version pins of the tools that are not Rust crates of the workspace.
const DENO_VERSION: &str = "2.9.6";
const SUPABASE_CLI_VERSION: &str = "2.117.0";
/// wasm-opt from npm: Debian 12's binaryen 108 points the exported externref
/// table of wasm-bindgen output at the wrong table, which breaks the module.
const BINARYEN_VERSION: &str = "132.0.0";
/// The local stack's S3 server, `dev/s3-local`: s3s-fs's store with
/// TCP_NODELAY (see its crate docs), built from this repository.
const S3_LOCAL_DIR: &str = "dev/s3-local";
const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// Debian packages the local stack and the database tests need.
const STACK_PACKAGES: &[&str] = &[
    "postgresql-15",
    "postgresql-15-cron",
    "postgresql-15-plpgsql-check",
];
const PGTAP_PACKAGES: &[&str] = &[
    "postgresql-15-pgtap",
    // pg_prove
    "libtap-parser-sourcehandler-pgtap-perl",
];

/// What a command needs installed.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// Deno only (`cargo xtask sample`).
    Deno,
    /// Building the wasm.
    Build,
    /// Building and running the local stack.
    Stack,
    /// Everything, including the test runners.
    Test,
}

/// Paths of the installed tools.
pub struct Tools {
    pub dir: PathBuf,
    pub deno: PathBuf,
    pub supabase: PathBuf,
    pub wasm_bindgen: PathBuf,
    pub wasm_bindgen_test_runner: PathBuf,
    /// The S3 server (`dev/s3-local`).
    pub s3_server: PathBuf,
    /// `None` when binaryen could not be installed: the wasm is then only larger.
    pub wasm_opt: Option<PathBuf>,
    /// Where `initdb`, `pg_ctl` and friends are.
    pub pg_bin: PathBuf,
}

/// The shared tools directory: `$ODOOOPS_TOOLS_DIR`, else
/// `$XDG_CACHE_HOME/odooops/tools`, else `$HOME/.cache/odooops/tools`.
pub fn tools_dir() -> Result<PathBuf> {
    if let Some(dir) = env::var_os("ODOOOPS_TOOLS_DIR").filter(|dir| !dir.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    if let Some(cache) = env::var_os("XDG_CACHE_HOME").filter(|dir| !dir.is_empty()) {
        return Ok(PathBuf::from(cache).join("odooops/tools"));
    }
    let home = env::var_os("HOME")
        .filter(|dir| !dir.is_empty())
        .ok_or_else(|| anyhow!("cannot find a tools directory: set ODOOOPS_TOOLS_DIR or HOME"))?;
    Ok(PathBuf::from(home).join(".cache/odooops/tools"))
}

/// Paths of the tools without installing anything (for commands that only
/// read what is there).
pub fn locate() -> Result<Tools> {
    let dir = tools_dir()?;
    let cargo_bin = dir.join("cargo/bin");
    let npm_bin = dir.join("npm/node_modules/.bin");
    Ok(Tools {
        deno: npm_bin.join("deno"),
        supabase: npm_bin.join("supabase"),
        wasm_bindgen: cargo_bin.join("wasm-bindgen"),
        wasm_bindgen_test_runner: cargo_bin.join("wasm-bindgen-test-runner"),
        s3_server: cargo_bin.join("s3-local"),
        wasm_opt: Some(npm_bin.join("wasm-opt")).filter(|path| path.exists()),
        pg_bin: pg_bin_dir(),
        dir,
    })
}

/// Installs what `scope` needs and is missing, then returns the tool paths.
pub fn ensure(root: &Path, scope: Scope) -> Result<Tools> {
    let mut tools = locate()?;
    fs::create_dir_all(&tools.dir)
        .with_context(|| format!("cannot create the tools directory {}", tools.dir.display()))?;

    ensure_npm(&tools)?;
    tools.wasm_opt = Some(tools.dir.join("npm/node_modules/.bin/wasm-opt"))
        .filter(|wasm_opt| version_output(wasm_opt, &["--version"]).is_some());
    if scope == Scope::Deno {
        return Ok(tools);
    }

    let mut packages: Vec<&str> = Vec::new();
    if scope >= Scope::Stack {
        packages.extend(STACK_PACKAGES);
    }
    if scope >= Scope::Test {
        packages.extend(PGTAP_PACKAGES);
    }
    ensure_debian(&packages)?;
    tools.pg_bin = pg_bin_dir();

    ensure_wasm_target()?;
    let wasm_bindgen_version = locked_version(root, "wasm-bindgen")?;
    ensure_cargo_tool(
        &tools,
        "wasm-bindgen-cli",
        &wasm_bindgen_version,
        &tools.wasm_bindgen,
        &[],
    )?;
    if scope >= Scope::Stack {
        ensure_s3_server(root, &tools)?;
    }
    if scope >= Scope::Test {
        ensure_schema_python(root, &tools)?;
    }
    Ok(tools)
}

/// The schema layer's pinned Python packages (hypothesis-jsonschema and
/// friends), with their hashes.
const SCHEMA_REQUIREMENTS: &str = "tests/schema/requirements.txt";
/// The oldest Python the pinned wheels are built for (rpds-py's floor).
const SCHEMA_PYTHON_MIN: (u32, u32) = (3, 11);

/// The Python of the schema layer's virtual environment.
pub fn schema_python(tools: &Tools) -> PathBuf {
    tools.dir.join("python/schema/bin/python")
}

/// The `name==version` pins of a requirements file, for saying what is
/// being installed.
fn requirement_pins(requirements: &str) -> Vec<&str> {
    requirements
        .lines()
        .map(str::trim)
        .filter(|line| !line.starts_with('#') && !line.starts_with("--"))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|pin| pin.contains("=="))
        .collect()
}

/// `major.minor` of a `python3 --version` line.
fn python_version(line: &str) -> Option<(u32, u32)> {
    let version = line.strip_prefix("Python ")?;
    let mut parts = version.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// Creates the schema layer's virtual environment with the machine's
/// `python3 -m venv` and installs the pinned packages into it, when it is
/// missing or the pins (or the Python) changed since it was made. It is
/// built beside its place and moved there when complete, so a run that
/// stops half-way, or another clone installing at the same time, never
/// leaves a broken one behind.
fn ensure_schema_python(root: &Path, tools: &Tools) -> Result<()> {
    let requirements_path = root.join(SCHEMA_REQUIREMENTS);
    let requirements = fs::read_to_string(&requirements_path)
        .with_context(|| format!("cannot read {}", requirements_path.display()))?;
    let python3 = match find_in_path("python3") {
        Some(python3) => python3,
        None => {
            ensure_debian(&["python3", "python3-venv"])?;
            find_in_path("python3").ok_or_else(|| anyhow!("python3 is not installed"))?
        }
    };
    let version_line = version_output(&python3, &["--version"])
        .ok_or_else(|| anyhow!("{} --version failed", python3.display()))?;
    match python_version(&version_line) {
        Some(version) if version >= SCHEMA_PYTHON_MIN => {}
        _ => bail!(
            "the schema layer needs Python {}.{} or newer, found {version_line:?} ({})",
            SCHEMA_PYTHON_MIN.0,
            SCHEMA_PYTHON_MIN.1,
            python3.display()
        ),
    }
    let stamp = format!("{version_line}\n{requirements}");
    let venv = tools.dir.join("python/schema");
    let stamp_path = venv.join("odooops.stamp");
    let current = |dir: &Path| {
        version_output(&dir.join("bin/python"), &["--version"]).is_some()
            && fs::read_to_string(dir.join("odooops.stamp")).is_ok_and(|old| old == stamp)
    };
    if current(&venv) {
        return Ok(());
    }
    // Debian splits venv's pip bootstrap into python3-venv.
    let has_ensurepip = Command::new(&python3)
        .args(["-c", "import ensurepip, venv"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !has_ensurepip {
        ensure_debian(&["python3-venv"])?;
    }
    eprintln!(
        "xtask: installing {} (pip, pinned with hashes in {SCHEMA_REQUIREMENTS}) into {}",
        requirement_pins(&requirements).join(", "),
        venv.display()
    );
    let building = tools
        .dir
        .join(format!("python/schema.partial-{}", std::process::id()));
    if building.exists() {
        fs::remove_dir_all(&building)
            .with_context(|| format!("cannot remove {}", building.display()))?;
    }
    cmd::run(Command::new(&python3).args(["-m", "venv"]).arg(&building))
        .context("`python3 -m venv` failed; on Debian, install python3-venv")?;
    cmd::run(
        Command::new(building.join("bin/python"))
            .args([
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--no-input",
                "--quiet",
                "--require-hashes",
                "--no-deps",
                "--only-binary=:all:",
                "-r",
            ])
            .arg(&requirements_path),
    )
    .with_context(|| format!("pip could not install {SCHEMA_REQUIREMENTS}"))?;
    // --no-deps installs exactly the pins; pip check proves they are all
    // that the packages need.
    cmd::run(Command::new(building.join("bin/python")).args([
        "-m",
        "pip",
        "check",
        "--disable-pip-version-check",
    ]))
    .with_context(|| format!("the pins of {SCHEMA_REQUIREMENTS} do not fit together"))?;
    fs::write(building.join("odooops.stamp"), &stamp)
        .with_context(|| format!("cannot write {}", stamp_path.display()))?;
    if venv.exists() {
        fs::remove_dir_all(&venv).with_context(|| format!("cannot remove {}", venv.display()))?;
    }
    if let Err(error) = fs::rename(&building, &venv) {
        // Another run finished the same environment first: use it.
        let _ = fs::remove_dir_all(&building);
        if !current(&venv) {
            return Err(error)
                .with_context(|| format!("cannot move the venv to {}", venv.display()));
        }
    }
    Ok(())
}

/// Builds `dev/s3-local` into the tools directory when it is missing or its
/// sources changed since it was built (a stamp next to the binary holds them).
fn ensure_s3_server(root: &Path, tools: &Tools) -> Result<()> {
    let source = root.join(S3_LOCAL_DIR);
    let mut stamp = Vec::new();
    for file in ["Cargo.toml", "Cargo.lock", "src/main.rs"] {
        let path = source.join(file);
        stamp.extend(fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?);
    }
    let stamp_path = tools.dir.join("cargo/s3-local.stamp");
    let built = version_output(&tools.s3_server, &["--version"]).is_some()
        && fs::read(&stamp_path).is_ok_and(|old| old == stamp);
    if built {
        return Ok(());
    }
    let cargo_root = tools.dir.join("cargo");
    eprintln!(
        "xtask: building the S3 server ({S3_LOCAL_DIR}: s3s-fs's store, cargo install --locked) into {}",
        cargo_root.display()
    );
    // Always `--locked`: the tool has its own lock file, committed with it.
    cmd::run(
        cargo_install(tools)
            .args(["--locked", "--force", "--target-dir"])
            .arg(tools.dir.join("build/s3-local"))
            .arg("--path")
            .arg(&source),
    )
    .with_context(|| format!("cannot build {S3_LOCAL_DIR} with cargo"))?;
    fs::write(&stamp_path, stamp).with_context(|| format!("cannot write {}", stamp_path.display()))
}

/// The directory of the PostgreSQL 15 server binaries (`OPS_PG_BIN` overrides).
fn pg_bin_dir() -> PathBuf {
    if let Some(dir) = env::var_os("OPS_PG_BIN").filter(|dir| !dir.is_empty()) {
        return PathBuf::from(dir);
    }
    // Debian keeps server binaries out of PATH, one directory per major version.
    let debian = PathBuf::from("/usr/lib/postgresql/15/bin");
    if debian.join("initdb").exists() {
        return debian;
    }
    find_in_path("initdb")
        .and_then(|initdb| initdb.parent().map(Path::to_path_buf))
        .unwrap_or(debian)
}

pub fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = env::var_os("PATH")?;
    env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// First line of `<binary> <args>`, or `None` when it cannot run.
fn version_output(binary: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new(binary)
        .args(args)
        // The Supabase CLI otherwise asks GitHub for a newer release and
        // sends telemetry, even for `--version`.
        .env("SUPABASE_NO_UPDATE_NOTIFIER", "1")
        .env("SUPABASE_TELEMETRY_DISABLED", "1")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines().next().map(|line| line.trim().to_string())
}

/// Whether `line` names exactly `version` as one of its words.
fn mentions_version(line: &str, version: &str) -> bool {
    line.split_whitespace()
        .any(|word| word.trim_start_matches('v') == version)
}

fn ensure_npm(tools: &Tools) -> Result<()> {
    let deno_ok = version_output(&tools.deno, &["--version"])
        .is_some_and(|line| mentions_version(&line, DENO_VERSION));
    let supabase_ok = version_output(&tools.supabase, &["--version"])
        .is_some_and(|line| mentions_version(&line, SUPABASE_CLI_VERSION));
    let wasm_opt = tools.dir.join("npm/node_modules/.bin/wasm-opt");
    let binaryen_major = BINARYEN_VERSION
        .split('.')
        .next()
        .unwrap_or(BINARYEN_VERSION);
    let wasm_opt_ok = version_output(&wasm_opt, &["--version"])
        .is_some_and(|line| mentions_version(&line, binaryen_major));
    if deno_ok && supabase_ok && wasm_opt_ok {
        return Ok(());
    }
    let prefix = tools.dir.join("npm");
    eprintln!(
        "xtask: installing deno {DENO_VERSION}, supabase {SUPABASE_CLI_VERSION} and \
         binaryen {BINARYEN_VERSION} (npm) into {}",
        prefix.display()
    );
    let npm = find_in_path("npm").ok_or_else(|| {
        anyhow!("npm is not installed; install Node.js 20 or newer (it brings npm) and retry")
    })?;
    cmd::run(
        Command::new(npm)
            .arg("install")
            .arg("--prefix")
            .arg(&prefix)
            .args(["--no-audit", "--no-fund", "-E"])
            .arg(format!("deno@{DENO_VERSION}"))
            .arg(format!("supabase@{SUPABASE_CLI_VERSION}"))
            .arg(format!("binaryen@{BINARYEN_VERSION}")),
    )
    .context("installing deno, the supabase CLI and binaryen from npm failed")?;
    Ok(())
}

fn dpkg_installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).contains("install ok installed"))
        .unwrap_or(false)
}

fn ensure_debian(required: &[&str]) -> Result<()> {
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|package| !dpkg_installed(package))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let list = missing.join(" ");
    if find_in_path("apt-get").is_none() {
        bail!("missing packages: {list}; install them (Debian names) and retry");
    }
    // Root runs apt-get directly; anyone else needs sudo.
    // SAFETY: geteuid has no preconditions.
    let sudo = if unsafe { libc::geteuid() } == 0 {
        None
    } else {
        Some(find_in_path("sudo").ok_or_else(|| {
            anyhow!("missing packages: {list}; run `apt-get install {list}` as root and retry")
        })?)
    };
    let apt = |args: &[&str]| {
        let mut command = match &sudo {
            Some(sudo) => {
                let mut command = Command::new(sudo);
                command.arg("apt-get");
                command
            }
            None => Command::new("apt-get"),
        };
        command.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        command
    };

    eprintln!("xtask: updating the apt package lists");
    cmd::run(&mut apt(&["update"])).context("`apt-get update` failed")?;
    eprintln!("xtask: installing {list} (apt)");
    cmd::run(apt(&["install", "-y", "--no-install-recommends"]).args(&missing))
        .with_context(|| format!("cannot install {list}; install them by hand and retry"))
}

fn ensure_wasm_target() -> Result<()> {
    let Some(rustup) = find_in_path("rustup") else {
        // Without rustup the toolchain is managed elsewhere; the build says
        // clearly if the target is missing.
        return Ok(());
    };
    let installed = cmd::output(Command::new(&rustup).args(["target", "list", "--installed"]))
        .context("cannot list the installed rustup targets")?;
    if installed.lines().any(|line| line.trim() == WASM_TARGET) {
        return Ok(());
    }
    eprintln!("xtask: installing rust target {WASM_TARGET} (rustup)");
    cmd::run(Command::new(&rustup).args(["target", "add", WASM_TARGET]))
        .with_context(|| format!("cannot add the rust target {WASM_TARGET}"))
}

/// The version of `package` in Cargo.lock, so wasm-bindgen-cli matches the
/// wasm-bindgen crate exactly (their wasm ABI must agree).
fn locked_version(root: &Path, package: &str) -> Result<String> {
    let lock_path = root.join("Cargo.lock");
    if !lock_path.exists() {
        cmd::run(cargo_command().arg("generate-lockfile").current_dir(root))?;
    }
    let lock = fs::read_to_string(&lock_path)
        .with_context(|| format!("cannot read {}", lock_path.display()))?;
    parse_locked_version(&lock, package).ok_or_else(|| {
        anyhow!(
            "{package} is not in Cargo.lock; add it to a functions/ crate \
             (it pins the wasm-bindgen-cli version)"
        )
    })
}

fn parse_locked_version(lock: &str, package: &str) -> Option<String> {
    let wanted = format!("name = \"{package}\"");
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == wanted {
            let version = lines.next()?.trim();
            return version
                .strip_prefix("version = \"")
                .and_then(|rest| rest.strip_suffix('"'))
                .map(str::to_string);
        }
    }
    None
}

fn ensure_cargo_tool(
    tools: &Tools,
    krate: &str,
    version: &str,
    binary: &Path,
    extra: &[&str],
) -> Result<()> {
    let current = version_output(binary, &["--version"]);
    if current
        .as_deref()
        .is_some_and(|line| mentions_version(line, version))
    {
        return Ok(());
    }
    let root = tools.dir.join("cargo");
    eprintln!(
        "xtask: installing {krate} {version} (cargo install) into {}",
        root.display()
    );
    // Locally it resolves afresh, which also works from a registry mirror that
    // lacks a version the crate's shipped lock pins; under CI it is --locked.
    cmd::run(
        cargo_install(tools)
            .arg(krate)
            .arg("--version")
            .arg(format!("={version}"))
            .args(extra),
    )
    .with_context(|| format!("cannot install {krate} {version} with cargo"))
}

/// `cargo install --root <tools>/cargo`, for the caller to complete. Under
/// CI it is `--locked` like every cargo command there ([`cargo_command`]):
/// the installed crate's own lock file decides its dependencies.
fn cargo_install(tools: &Tools) -> Command {
    let mut command = cargo_command();
    command
        .arg("install")
        .arg("--root")
        .arg(tools.dir.join("cargo"));
    command
}

/// The cargo that runs us (so nested builds use the same toolchain).
fn cargo() -> PathBuf {
    env::var_os("CARGO")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("cargo"))
}

/// Whether we run under CI: `CI` is set, as CI services do, to anything but
/// empty, `false` or `0`.
pub fn ci() -> bool {
    is_ci(env::var("CI").ok().as_deref())
}

fn is_ci(value: Option<&str>) -> bool {
    value.is_some_and(|value| !matches!(value.trim(), "" | "false" | "0"))
}

/// A cargo command; under CI with `--locked` (a global option, valid before
/// any subcommand), so CI fails when Cargo.lock does not match the manifests
/// instead of quietly resolving other versions.
pub fn cargo_command() -> Command {
    let mut command = Command::new(cargo());
    if ci() {
        command.arg("--locked");
    }
    command
}

/// A Deno subcommand (`run`, `test`, `bench`, ...); under CI those that
/// resolve modules get `--frozen`, so an out-of-date deno.lock is an error
/// there while local development may still update it (deno.json keeps
/// `"frozen": false`).
pub fn deno_command(tools: &Tools, subcommand: &str) -> Command {
    let mut command = Command::new(&tools.deno);
    command.arg(subcommand);
    if ci() && matches!(subcommand, "run" | "test" | "bench" | "cache" | "install") {
        command.arg("--frozen");
    }
    command
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_locked_version() {
        let lock = "[[package]]\nname = \"wasm-bindgen\"\nversion = \"0.2.130\"\n\
                    [[package]]\nname = \"wasm-bindgen-shared\"\nversion = \"0.2.130\"\n";
        assert_eq!(
            parse_locked_version(lock, "wasm-bindgen").as_deref(),
            Some("0.2.130")
        );
        assert_eq!(parse_locked_version(lock, "serde"), None);
    }

    #[test]
    fn requirement_pins_are_read_without_hashes() {
        let requirements = "# comment\nattrs==26.1.0 \\\n    --hash=sha256:c647\n\
                            rpds-py==2026.9.1 \\\n    --hash=sha256:e01b \\\n    --hash=sha256:1360\n";
        assert_eq!(
            requirement_pins(requirements),
            ["attrs==26.1.0", "rpds-py==2026.9.1"]
        );
    }

    #[test]
    fn python_versions_are_compared_as_numbers() {
        assert_eq!(python_version("Python 3.11.7"), Some((3, 11)));
        assert!(python_version("Python 3.9.2").unwrap() < SCHEMA_PYTHON_MIN);
        assert!(python_version("Python 3.13.0").unwrap() >= SCHEMA_PYTHON_MIN);
        assert_eq!(python_version("Python"), None);
    }

    #[test]
    fn ci_is_any_value_but_empty_false_or_zero() {
        assert!(is_ci(Some("true")));
        assert!(is_ci(Some("1")));
        assert!(!is_ci(Some("false")));
        assert!(!is_ci(Some("0")));
        assert!(!is_ci(Some("")));
        assert!(!is_ci(None));
    }

    #[test]
    fn version_must_match_a_whole_word() {
        assert!(mentions_version("wasm-bindgen 0.2.130", "0.2.130"));
        assert!(mentions_version(
            "deno 2.9.6 (stable, release, x86_64)",
            "2.9.6"
        ));
        assert!(!mentions_version("wasm-bindgen 0.2.1300", "0.2.130"));
        assert!(mentions_version("2.117.0", "2.117.0"));
    }
}
