//! The local stack: PostgreSQL with the Supabase bootstrap and the migrations,
//! an S3-compatible server, and every Edge Function served by Deno.
//!
//! `dev` runs it on fixed ports with its state in `.dev/`; `test` runs a
//! private one on free ports in a temporary directory, so both can run at once.
//! Everything started here is registered with [`crate::cmd`], which stops it
//! on exit, on error and on a signal.

use std::env;
use std::ffi::CString;
use std::fmt::Write as _;
use std::fs;
use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use base64::Engine as _;

use crate::cmd::{self, Service};
use crate::install::Tools;

pub const S3_BUCKET: &str = "odooops-archives";
const DB_PASSWORD: &str = "postgres";
/// The password of `odoo`, the owner of the local Odoo database
/// (`xtask/sql/odoo_fixture.sql`): a throwaway, as Odoo's Docker image has it.
const ODOO_OWNER_PASSWORD: &str = "odoo";
/// The cluster's superuser, as on hosted Supabase. Only the bootstrap and the
/// test fixtures that stand in for the platform (enabling pgTAP) use it;
/// migrations, tests and functions connect as the non-superuser `postgres`.
pub const ADMIN_ROLE: &str = "supabase_admin";
const LOCALHOST: Ipv4Addr = Ipv4Addr::LOCALHOST;
/// The keys of `.dev/stack.env` that dev keeps across restarts, so a
/// developer's Odoo configuration keeps working.
const KEPT_SECRETS: &[&str] = &[
    "OPS_WEBHOOK_SECRET",
    "OPS_CRON_SECRET",
    "OPS_AUTH_HOOK_SECRET",
    "OPS_RECONCILE_SECRET",
    "OPS_NUDGE_TOKENS",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
];

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Fixed ports, state in `.dev/`, function logs on the terminal.
    Dev,
    /// Free ports, a temporary directory, logs in files.
    Test,
}

#[derive(Clone, Copy)]
pub struct Ports {
    pub functions: u16,
    pub db: u16,
    pub s3: u16,
}

/// A running stack; its processes are owned by the [`cmd`] registry.
pub struct Stack {
    pub ports: Ports,
    /// The environment every client of the stack gets, in a stable order.
    pub env: Vec<(String, String)>,
    pub functions: Vec<String>,
    /// Server logs worth showing when something fails.
    pub logs: Vec<PathBuf>,
    /// The server processes to watch while the stack runs: (name, pid).
    pub servers: Vec<(String, u32)>,
}

impl Stack {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.env
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
    }

    pub fn function_url(&self, name: &str) -> String {
        format!(
            "http://127.0.0.1:{}/functions/v1/{name}",
            self.ports.functions
        )
    }
}

/// Starts the whole stack. On error, what was started is stopped by the
/// caller's [`cmd::shutdown`].
pub fn start(root: &Path, tools: &Tools, mode: Mode) -> Result<Stack> {
    let dirs = Dirs::prepare(root, tools, mode)?;
    let ports = match mode {
        Mode::Dev => dev_ports()?,
        Mode::Test => free_ports()?,
    };
    let secrets = match mode {
        Mode::Dev => Secrets::kept_or_new(&root.join(".dev/stack.env"))?,
        Mode::Test => Secrets::new()?,
    };
    let functions = discover_functions(root)?;
    let env = stack_env(&ports, &secrets);
    let mut logs = Vec::new();

    println!("xtask: starting postgres on 127.0.0.1:{}", ports.db);
    let postgres = Postgres::start(tools, &dirs.pg, ports.db)?;
    logs.push(postgres.log.clone());
    postgres.bootstrap(root)?;
    println!("xtask: creating Odoo's database `odoo` (xtask/sql/odoo_fixture.sql)");
    postgres.odoo_fixture(root, &secrets.odoo_reader)?;
    println!("xtask: applying migrations (supabase migration up)");
    migrate(root, tools, ports.db)?;
    println!("xtask: configuring it as Odoo instance prod (postgres_fdw, schema odoo_prod)");
    postgres.configure_odoo(root, &secrets.odoo_reader)?;

    println!(
        "xtask: starting s3s-fs (dev/s3-local) on 127.0.0.1:{}",
        ports.s3
    );
    let s3_log = dirs.logs.join("s3s-fs.log");
    let s3_pid = start_s3(tools, &dirs.s3, ports.s3, &secrets, &s3_log)?;
    logs.push(s3_log);

    println!(
        "xtask: serving {} function(s) on 127.0.0.1:{}",
        functions.len(),
        ports.functions
    );
    let functions_log = match mode {
        Mode::Dev => None,
        Mode::Test => Some(dirs.logs.join("functions.log")),
    };
    let functions_pid = start_functions(
        root,
        tools,
        "supabase/functions",
        &functions,
        &env,
        ports.functions,
        functions_log.as_deref(),
    )?;
    logs.extend(functions_log);

    Ok(Stack {
        ports,
        env,
        functions,
        logs,
        servers: vec![
            ("s3s-fs".to_string(), s3_pid),
            ("the functions server".to_string(), functions_pid),
        ],
    })
}

/// Where the stack keeps its state.
struct Dirs {
    pg: PathBuf,
    s3: PathBuf,
    logs: PathBuf,
}

impl Dirs {
    fn prepare(root: &Path, tools: &Tools, mode: Mode) -> Result<Dirs> {
        let base = match mode {
            Mode::Dev => {
                let base = root.join(".dev");
                create_dir(&base)?;
                claim_dev(&base)?;
                // A killed earlier run may have left its server running, holding
                // the port; the data is thrown away anyway.
                stop_stale_postgres(tools, &base.join("pg"))?;
                base
            }
            Mode::Test => {
                let base = env::temp_dir().join(format!(
                    "odooops-test-{}-{}",
                    std::process::id(),
                    hex(&random_bytes(4)?)
                ));
                create_dir(&base)?;
                cmd::register(Service::Remove(base.clone()))?;
                base
            }
        };
        let logs = base.join("logs");
        create_dir(&logs)?;
        let s3 = base.join("s3");
        create_dir(&s3.join(S3_BUCKET))?;
        let mut pg = base.join("pg");
        if !postgres_can_use(&pg)? {
            // Postgres runs as its own user, which may not reach a checkout
            // under a private home directory, and unix socket paths are
            // limited to ~107 bytes: fall back to a temporary directory.
            let fallback = env::temp_dir().join(format!(
                "odooops-pg-{}-{}",
                std::process::id(),
                hex(&random_bytes(4)?)
            ));
            println!(
                "xtask: note: postgres cannot use {}; its data goes to {} instead",
                pg.display(),
                fallback.display()
            );
            cmd::register(Service::Remove(fallback.clone()))?;
            pg = fallback;
        }
        Ok(Dirs { pg, s3, logs })
    }
}

fn create_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))
}

/// Makes sure only one `dev` uses `.dev/` at a time and clears what a killed
/// earlier run left behind.
fn claim_dev(base: &Path) -> Result<()> {
    let pid_file = base.join("xtask.pid");
    if let Ok(text) = fs::read_to_string(&pid_file) {
        if let Ok(pid) = text.trim().parse::<u32>() {
            let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if pid != std::process::id() && String::from_utf8_lossy(&cmdline).contains("xtask") {
                bail!(
                    "another `cargo xtask dev` (pid {pid}) is using {}; stop it first",
                    base.display()
                );
            }
        }
    }
    fs::write(&pid_file, format!("{}\n", std::process::id()))
        .with_context(|| format!("cannot write {}", pid_file.display()))?;
    cmd::register(Service::Remove(pid_file))?;
    Ok(())
}

fn stop_stale_postgres(tools: &Tools, data_dir: &Path) -> Result<()> {
    if !data_dir.join("postmaster.pid").exists() {
        return Ok(());
    }
    println!(
        "xtask: stopping a postgres left running on {}",
        data_dir.display()
    );
    let mut stop = Command::new(tools.pg_bin.join("pg_ctl"));
    stop.arg("stop")
        .arg("-D")
        .arg(data_dir)
        .args(["-m", "immediate", "-s"]);
    cmd::run_as(&mut stop, postgres_user()?);
    // It may already be gone, leaving only a stale pid file.
    let _ = cmd::status(&mut stop);
    Ok(())
}

fn dev_ports() -> Result<Ports> {
    let ports = Ports {
        functions: port_from_env("OPS_FUNCTIONS_PORT", 54321)?,
        db: port_from_env("OPS_DB_PORT", 54322)?,
        s3: port_from_env("OPS_S3_PORT", 54326)?,
    };
    for (port, variable) in [
        (ports.functions, "OPS_FUNCTIONS_PORT"),
        (ports.db, "OPS_DB_PORT"),
        (ports.s3, "OPS_S3_PORT"),
    ] {
        if TcpListener::bind((LOCALHOST, port)).is_err() {
            bail!(
                "port {port} on 127.0.0.1 is in use (another `cargo xtask dev`?); \
                 stop it or choose another port with {variable}=<port>"
            );
        }
    }
    Ok(ports)
}

fn port_from_env(variable: &str, default: u16) -> Result<u16> {
    match env::var(variable) {
        Ok(value) if !value.trim().is_empty() => value
            .trim()
            .parse()
            .with_context(|| format!("{variable}: expected a port number, got {value:?}")),
        _ => Ok(default),
    }
}

/// Three free ports, found by letting the kernel choose; all are held at once
/// so they differ.
fn free_ports() -> Result<Ports> {
    let listeners = (0..3)
        .map(|_| TcpListener::bind((LOCALHOST, 0)))
        .collect::<std::io::Result<Vec<_>>>()
        .context("cannot find free ports on 127.0.0.1")?;
    let port = |index: usize| -> Result<u16> {
        Ok(listeners[index]
            .local_addr()
            .context("cannot read a bound port")?
            .port())
    };
    Ok(Ports {
        functions: port(0)?,
        db: port(1)?,
        s3: port(2)?,
    })
}

struct Secrets {
    webhook: String,
    cron: String,
    auth_hook: String,
    reconcile: String,
    /// The token in the URL Odoo's webhook calls ops-odoo-nudge at.
    nudge: String,
    access_key: String,
    secret_key: String,
    /// The password of the wrapper's Odoo role, `odoo_fdw_reader`. Only the
    /// fixture and the user mapping hold it, as on hosted only Odoo's server
    /// and Vault do; a new one each start, since the database is new too.
    odoo_reader: String,
}

impl Secrets {
    fn new() -> Result<Secrets> {
        Ok(Secrets {
            // Standard Webhooks: "whsec_" + base64 of the key bytes.
            webhook: format!(
                "whsec_{}",
                base64::engine::general_purpose::STANDARD.encode(random_bytes(32)?)
            ),
            cron: hex(&random_bytes(32)?),
            reconcile: hex(&random_bytes(32)?),
            // 256 bits in a URL path segment: base64url, no padding.
            nudge: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes(32)?),
            // Supabase Auth's form of the same kind of secret: "v1," first.
            auth_hook: format!(
                "v1,whsec_{}",
                base64::engine::general_purpose::STANDARD.encode(random_bytes(32)?)
            ),
            access_key: format!("OPSLOCAL{}", hex(&random_bytes(6)?).to_uppercase()),
            secret_key: hex(&random_bytes(20)?),
            odoo_reader: hex(&random_bytes(16)?),
        })
    }

    /// The secrets of an earlier `dev` run, or new ones for those missing.
    fn kept_or_new(env_file: &Path) -> Result<Secrets> {
        let mut secrets = Secrets::new()?;
        let Ok(text) = fs::read_to_string(env_file) else {
            return Ok(secrets);
        };
        for (key, value) in parse_env_file(&text) {
            if value.is_empty() || !KEPT_SECRETS.contains(&key.as_str()) {
                continue;
            }
            match key.as_str() {
                "OPS_WEBHOOK_SECRET" => secrets.webhook = value,
                "OPS_CRON_SECRET" => secrets.cron = value,
                "OPS_AUTH_HOOK_SECRET" => secrets.auth_hook = value,
                "OPS_RECONCILE_SECRET" => secrets.reconcile = value,
                "OPS_NUDGE_TOKENS" => secrets.nudge = value,
                "AWS_ACCESS_KEY_ID" => secrets.access_key = value,
                "AWS_SECRET_ACCESS_KEY" => secrets.secret_key = value,
                _ => {}
            }
        }
        Ok(secrets)
    }
}

fn stack_env(ports: &Ports, secrets: &Secrets) -> Vec<(String, String)> {
    [
        (
            "SUPABASE_URL",
            format!("http://127.0.0.1:{}", ports.functions),
        ),
        ("SUPABASE_DB_URL", db_url(ports.db)),
        ("OPS_WEBHOOK_SECRET", secrets.webhook.clone()),
        ("OPS_CRON_SECRET", secrets.cron.clone()),
        ("OPS_AUTH_HOOK_SECRET", secrets.auth_hook.clone()),
        ("OPS_RECONCILE_SECRET", secrets.reconcile.clone()),
        ("OPS_NUDGE_TOKENS", secrets.nudge.clone()),
        ("S3_ENDPOINT", format!("http://127.0.0.1:{}", ports.s3)),
        ("S3_BUCKET", S3_BUCKET.to_string()),
        ("AWS_ACCESS_KEY_ID", secrets.access_key.clone()),
        ("AWS_SECRET_ACCESS_KEY", secrets.secret_key.clone()),
        ("AWS_REGION", "us-east-1".to_string()),
        ("ODOO_DB_URL", odoo_db_url(ports.db)),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_string(), value))
    .collect()
}

pub fn db_url(port: u16) -> String {
    format!("postgresql://postgres:{DB_PASSWORD}@127.0.0.1:{port}/postgres")
}

/// The local Odoo database, as its owner (what Odoo itself connects as), for
/// a developer or a test to change Odoo's data.
pub fn odoo_db_url(port: u16) -> String {
    format!("postgresql://odoo:{ODOO_OWNER_PASSWORD}@127.0.0.1:{port}/odoo")
}

/// `KEY=value` lines; blank lines and `#` comments are skipped.
pub fn parse_env_file(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.trim().to_string(), value.trim().to_string()))
        .collect()
}

/// Writes `.dev/stack.env`, readable only by its owner (it holds secrets).
pub fn write_env_file(path: &Path, env: &[(String, String)]) -> Result<()> {
    let mut text =
        String::from("# Written by `cargo xtask dev` on each start; the secrets are kept.\n");
    for (key, value) in env {
        let _ = writeln!(text, "{key}={value}");
    }
    fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600))
        .with_context(|| format!("cannot restrict the permissions of {}", path.display()))
}

pub fn random_bytes(count: usize) -> Result<Vec<u8>> {
    let mut bytes = vec![0u8; count];
    fs::File::open("/dev/urandom")
        .and_then(|mut urandom| urandom.read_exact(&mut bytes))
        .context("cannot read /dev/urandom")?;
    Ok(bytes)
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut text, byte| {
        let _ = write!(text, "{byte:02x}");
        text
    })
}

/// The functions to serve: `supabase/functions/<name>/index.ts`, except the
/// shared code in folders starting with `_`.
pub fn discover_functions(root: &Path) -> Result<Vec<String>> {
    let dir = root.join("supabase/functions");
    let mut names = Vec::new();
    let Ok(entries) = fs::read_dir(&dir) else {
        return Ok(names);
    };
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with('_') && entry.path().join("index.ts").is_file() {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// The (uid, gid) Postgres must run as: the `postgres` user when we are
/// root, because the server refuses to run as root.
fn postgres_user() -> Result<Option<(u32, u32)>> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    let name = CString::new("postgres").map_err(|_| anyhow!("bad user name"))?;
    // SAFETY: getpwnam gets a valid C string; the result is read at once,
    // before any other call could reuse its static buffer.
    let entry = unsafe { libc::getpwnam(name.as_ptr()) };
    if entry.is_null() {
        bail!(
            "running as root, but there is no `postgres` user to run PostgreSQL as; \
             install the postgresql-15 package (it creates the user)"
        );
    }
    // SAFETY: checked non-null above.
    let (uid, gid) = unsafe { ((*entry).pw_uid, (*entry).pw_gid) };
    Ok(Some((uid, gid)))
}

/// Whether Postgres can keep its data (and its unix socket) in `dir`.
fn postgres_can_use(dir: &Path) -> Result<bool> {
    // ".s.PGSQL.<port>" is appended to the directory; sun_path holds 107 bytes.
    if dir.as_os_str().len() + 16 > 107 {
        return Ok(false);
    }
    let Some((uid, gid)) = postgres_user()? else {
        return Ok(true);
    };
    create_dir(dir)?;
    std::os::unix::fs::chown(dir, Some(uid), Some(gid))
        .with_context(|| format!("cannot give {} to the postgres user", dir.display()))?;
    let mut probe = Command::new("test");
    probe.arg("-w").arg(dir).arg("-a").arg("-x").arg(dir);
    cmd::run_as(&mut probe, Some((uid, gid)));
    Ok(probe.status().map(|s| s.success()).unwrap_or(false))
}

struct Postgres {
    bin: PathBuf,
    port: u16,
    log: PathBuf,
}

impl Postgres {
    fn start(tools: &Tools, data_dir: &Path, port: u16) -> Result<Postgres> {
        let bin = tools.pg_bin.clone();
        let initdb = bin.join("initdb");
        if !initdb.exists() {
            bail!(
                "PostgreSQL 15 server binaries not found in {}; install postgresql-15 \
                 or set OPS_PG_BIN to the directory holding initdb",
                bin.display()
            );
        }
        let as_user = postgres_user()?;
        let pg_ctl = bin.join("pg_ctl");
        if data_dir.exists() {
            fs::remove_dir_all(data_dir)
                .with_context(|| format!("cannot clear {}", data_dir.display()))?;
        }
        create_dir(data_dir)?;
        fs::set_permissions(data_dir, fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot set the permissions of {}", data_dir.display()))?;
        let parent = data_dir
            .parent()
            .ok_or_else(|| anyhow!("{} has no parent directory", data_dir.display()))?;
        let password_file = parent.join(format!("pgpass-{}", std::process::id()));
        fs::write(&password_file, DB_PASSWORD)
            .with_context(|| format!("cannot write {}", password_file.display()))?;
        if let Some((uid, gid)) = as_user {
            for path in [data_dir, password_file.as_path()] {
                std::os::unix::fs::chown(path, Some(uid), Some(gid)).with_context(|| {
                    format!("cannot give {} to the postgres user", path.display())
                })?;
            }
        }

        let mut initdb_command = Command::new(&initdb);
        initdb_command
            .arg("-D")
            .arg(data_dir)
            .args(["-U", ADMIN_ROLE, "-A", "scram-sha-256", "-E", "UTF8"])
            .args(["--locale=C.UTF-8", "--no-instructions", "--no-sync"])
            .arg(format!("--pwfile={}", password_file.display()))
            .stdout(std::process::Stdio::null());
        cmd::run_as(&mut initdb_command, as_user);
        let initdb_result = cmd::run(&mut initdb_command);
        let _ = fs::remove_file(&password_file);
        initdb_result.context("initdb failed")?;

        let config = format!(
            "\n# Added by xtask: a throwaway local cluster.\n\
             listen_addresses = '127.0.0.1'\n\
             port = {port}\n\
             unix_socket_directories = '{socket_dir}'\n\
             max_connections = 200\n\
             shared_preload_libraries = 'pg_cron'\n\
             # Logical decoding, as hosted has it for Realtime.\n\
             wal_level = logical\n\
             cron.database_name = 'postgres'\n\
             # Jobs run in background workers, so pg_cron needs no password.\n\
             cron.use_background_workers = on\n\
             max_worker_processes = 32\n\
             # Durability is pointless for a cluster recreated on each start.\n\
             fsync = off\n\
             synchronous_commit = off\n\
             full_page_writes = off\n",
            socket_dir = data_dir.display()
        );
        let config_path = data_dir.join("postgresql.conf");
        let mut text = fs::read_to_string(&config_path)
            .with_context(|| format!("cannot read {}", config_path.display()))?;
        text.push_str(&config);
        fs::write(&config_path, text)
            .with_context(|| format!("cannot write {}", config_path.display()))?;

        let log = data_dir.join("server.log");
        let mut start = Command::new(&pg_ctl);
        start
            .arg("start")
            .arg("-D")
            .arg(data_dir)
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", "60", "-s"]);
        cmd::run_as(&mut start, as_user);
        // Registered before it is known to run, so a half-started server is
        // stopped too.
        cmd::register(Service::Postgres {
            pg_ctl,
            data_dir: data_dir.to_path_buf(),
            as_user,
        })?;
        if let Err(error) = cmd::run(&mut start) {
            bail!(
                "postgres did not start ({error:#}); its log {} ends with:\n{}",
                log.display(),
                cmd::log_tail(&log, 20)
            );
        }

        let postgres = Postgres { bin, port, log };
        postgres.wait_ready()?;
        Ok(postgres)
    }

    fn wait_ready(&self) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ready = Command::new(self.bin.join("pg_isready"))
                .args(["-q", "-h", "127.0.0.1", "-p"])
                .arg(self.port.to_string())
                .status()
                .map(|status| status.success())
                .unwrap_or(false);
            if ready {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "postgres does not accept connections on port {}; its log {} ends with:\n{}",
                    self.port,
                    self.log.display(),
                    cmd::log_tail(&self.log, 20)
                );
            }
            thread::sleep(Duration::from_millis(200));
        }
    }

    /// Creates what hosted Supabase has before any migration runs, as the
    /// platform does: connected as its superuser.
    fn bootstrap(&self, root: &Path) -> Result<()> {
        let sql = root.join("xtask/sql/bootstrap.sql");
        cmd::run(psql_admin(&self.bin, self.port).arg("-f").arg(&sql))
            .context("the Supabase bootstrap (xtask/sql/bootstrap.sql) failed")
    }

    /// Creates Odoo's database next to Supabase's, in the same cluster, as
    /// Odoo's server administrator and Odoo would: the stand-in for the
    /// other server a hosted project reads.
    fn odoo_fixture(&self, root: &Path, reader_password: &str) -> Result<()> {
        let sql = root.join("xtask/sql/odoo_fixture.sql");
        cmd::run(
            psql_admin(&self.bin, self.port)
                .arg("-v")
                .arg(format!("reader_password={reader_password}"))
                .arg("-f")
                .arg(&sql),
        )
        .context("the Odoo fixture (xtask/sql/odoo_fixture.sql) failed")
    }

    /// Points the wrapper at that database, with the migrations' own
    /// `ops.configure_odoo_instance`, as an admin does on hosted.
    fn configure_odoo(&self, root: &Path, reader_password: &str) -> Result<()> {
        let sql = root.join("xtask/sql/odoo_configure_local.sql");
        cmd::run(
            psql_admin(&self.bin, self.port)
                .arg("-v")
                .arg(format!("reader_password={reader_password}"))
                .arg("-v")
                .arg(format!("port={}", self.port))
                .arg("-f")
                .arg(&sql),
        )
        .context("configuring the Odoo instance (xtask/sql/odoo_configure_local.sql) failed")
    }
}

/// `psql` on the stack's database as `postgres`, stopping at the first error.
pub fn psql(pg_bin: &Path, port: u16) -> Command {
    psql_as(pg_bin, port, "postgres")
}

/// `psql` as the cluster's superuser, for what only the platform does on
/// hosted Supabase.
/// The Deno permissions of the functions' executor (postgres.js, the S3 SDK,
/// the environment, the wasm files): the functions server and the restore
/// command both run with these.
pub const EXECUTOR_PERMISSIONS: &[&str] =
    &["--allow-net", "--allow-env", "--allow-read", "--allow-sys"];

pub fn psql_admin(pg_bin: &Path, port: u16) -> Command {
    psql_as(pg_bin, port, ADMIN_ROLE)
}

fn psql_as(pg_bin: &Path, port: u16, role: &str) -> Command {
    let mut command = Command::new(pg_bin.join("psql"));
    command
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p"])
        .arg(port.to_string())
        .args(["-U", role, "-d", "postgres"])
        .env("PGPASSWORD", DB_PASSWORD);
    command
}

/// The Supabase CLI, kept off the network: without these it sends telemetry
/// (PostHog) on every command and asks GitHub for the latest release, caching
/// the answer in `supabase/.temp/`.
pub fn supabase_cli(tools: &Tools, root: &Path) -> Command {
    let mut command = Command::new(&tools.supabase);
    command
        .current_dir(root)
        .env("SUPABASE_TELEMETRY_DISABLED", "1")
        .env("DO_NOT_TRACK", "1")
        .env("SUPABASE_NO_UPDATE_NOTIFIER", "1");
    command
}

/// The database URL for the Supabase CLI. It treats any port other than
/// `[db] port` of supabase/config.toml as a remote database and then insists
/// on TLS, which the local cluster does not offer.
pub fn cli_db_url(port: u16) -> String {
    format!("{}?sslmode=disable", db_url(port))
}

fn migrate(root: &Path, tools: &Tools, port: u16) -> Result<()> {
    cmd::run(
        supabase_cli(tools, root)
            .args(["migration", "up", "--db-url"])
            .arg(cli_db_url(port)),
    )
    .context("`supabase migration up` failed; fix the migration it names above")
}

fn start_s3(tools: &Tools, root: &Path, port: u16, secrets: &Secrets, log: &Path) -> Result<u32> {
    let pid = cmd::spawn_service(
        "s3s-fs",
        Command::new(&tools.s3_server)
            .args(["--host", "127.0.0.1", "--port"])
            .arg(port.to_string())
            .arg("--access-key")
            .arg(&secrets.access_key)
            .arg("--secret-key")
            .arg(&secrets.secret_key)
            .arg(root),
        Some(log),
    )?;
    wait_for_port("s3s-fs", pid, port, Duration::from_secs(30), Some(log))?;
    Ok(pid)
}

/// Serves the functions of `dir` (their names; all when empty) on `port`
/// with `dev/functions-serve.ts`, the local stand-in for the edge runtime,
/// as a service killed when xtask ends; returns its pid once it answers.
pub fn start_functions(
    root: &Path,
    tools: &Tools,
    dir: &str,
    functions: &[String],
    env: &[(String, String)],
    port: u16,
    log: Option<&Path>,
) -> Result<u32> {
    let mut command = crate::install::deno_command(tools, "run");
    command
        .current_dir(root)
        .args(EXECUTOR_PERMISSIONS)
        .args(["dev/functions-serve.ts", "--port"])
        .arg(port.to_string())
        .arg("--dir")
        .arg(dir)
        .args(functions)
        .envs(env.iter().map(|(key, value)| (key, value)));
    if log.is_some() {
        command.env("NO_COLOR", "1");
    }
    let pid = cmd::spawn_service("deno (functions)", &mut command, log)?;
    // The first start may download npm packages for the functions.
    wait_for_port(
        "the functions server",
        pid,
        port,
        Duration::from_secs(300),
        log,
    )?;
    Ok(pid)
}

/// Waits until `port` accepts connections, failing early if the server exits.
pub fn wait_for_port(
    name: &str,
    pid: u32,
    port: u16,
    timeout: Duration,
    log: Option<&Path>,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    let address = SocketAddr::from((LOCALHOST, port));
    let log_hint = |log: Option<&Path>| match log {
        Some(log) => format!(
            "; its log {} ends with:\n{}",
            log.display(),
            cmd::log_tail(log, 30)
        ),
        None => "; see its output above".to_string(),
    };
    loop {
        if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if let Some(status) = cmd::service_exited(pid) {
            bail!("{name} exited ({status}){}", log_hint(log));
        }
        if Instant::now() > deadline {
            bail!(
                "{name} does not answer on 127.0.0.1:{port} after {}s{}",
                timeout.as_secs(),
                log_hint(log)
            );
        }
        thread::sleep(Duration::from_millis(200));
    }
}

/// Fails if a registered server died, so `dev` does not sit on a broken stack.
pub fn check_alive(stack: &Stack) -> Result<()> {
    for (name, pid) in &stack.servers {
        if let Some(status) = cmd::service_exited(*pid) {
            bail!("{name} exited ({status})");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_file_round_trips_and_ignores_comments() {
        let text = "# comment\n\nOPS_CRON_SECRET=abc\nAWS_REGION = us-east-1\nnot a pair\n";
        assert_eq!(
            parse_env_file(text),
            vec![
                ("OPS_CRON_SECRET".to_string(), "abc".to_string()),
                ("AWS_REGION".to_string(), "us-east-1".to_string()),
            ]
        );
    }

    #[test]
    fn webhook_secret_has_the_standard_webhooks_format() {
        let secrets = Secrets::new().expect("urandom");
        let key = secrets.webhook.strip_prefix("whsec_").expect("prefix");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(key)
            .expect("base64");
        assert_eq!(bytes.len(), 32);
        assert_eq!(secrets.cron.len(), 64);
    }

    #[test]
    fn auth_hook_secret_has_auths_format() {
        // Auth accepts `^v1,whsec_[A-Za-z0-9+/=]{32,88}` (its configuration's
        // symmetric secret format).
        let secrets = Secrets::new().expect("urandom");
        let key = secrets.auth_hook.strip_prefix("v1,whsec_").expect("prefix");
        assert!((32..=88).contains(&key.len()), "{key}");
        assert!(key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b)));
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(key)
            .expect("base64");
        assert_eq!(bytes.len(), 32);
    }

    #[test]
    fn clients_get_the_odoo_owners_url_on_the_stacks_port() {
        let ports = Ports {
            functions: 1,
            db: 2345,
            s3: 3,
        };
        let secrets = Secrets::new().expect("urandom");
        let env = stack_env(&ports, &secrets);
        let odoo = env
            .iter()
            .find(|(key, _)| key == "ODOO_DB_URL")
            .map(|(_, value)| value.as_str());
        assert_eq!(odoo, Some("postgresql://odoo:odoo@127.0.0.1:2345/odoo"));
        // The reader's password stays out of every client's environment.
        assert!(env
            .iter()
            .all(|(_, value)| !value.contains(&secrets.odoo_reader)));
        assert_eq!(secrets.odoo_reader.len(), 32);
    }

    #[test]
    fn free_ports_differ() {
        let ports = free_ports().expect("ports");
        assert_ne!(ports.functions, ports.db);
        assert_ne!(ports.db, ports.s3);
        assert_ne!(ports.functions, ports.s3);
    }
}
