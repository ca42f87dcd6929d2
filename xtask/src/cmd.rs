//! Running child processes so that none of them outlives xtask.
//!
//! Every child is started in its own process group with a parent-death
//! signal. Ctrl-C from a terminal therefore reaches only xtask, which then
//! stops the children in a known order (the functions before the database they
//! use) instead of racing them. If xtask itself is killed, the kernel still
//! signals the direct children.
//!
//! Long-running servers are registered as [`Service`]s and stopped by
//! [`shutdown`]; short commands are tracked while they run so a signal can
//! stop them too.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;

use anyhow::{bail, Context, Result};

/// Something to stop when xtask ends.
pub enum Service {
    /// A server process in its own process group; stopped with SIGKILL
    /// because it keeps no state worth a graceful shutdown.
    Process { name: String, child: Child },
    /// A PostgreSQL cluster started by `pg_ctl`, which detaches the postmaster
    /// from us, so it is stopped by `pg_ctl stop` rather than by a signal.
    Postgres {
        pg_ctl: PathBuf,
        data_dir: PathBuf,
        as_user: Option<(u32, u32)>,
    },
    /// A scratch file or directory, removed once the servers using it are gone.
    Remove(PathBuf),
}

struct Registry {
    shutting_down: bool,
    services: Vec<Service>,
    /// Process group ids of the short commands running right now.
    foreground: Vec<i32>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    shutting_down: false,
    services: Vec::new(),
    foreground: Vec::new(),
});

fn registry() -> MutexGuard<'static, Registry> {
    // A panic while holding the lock must not stop the cleanup of the stack.
    REGISTRY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Installs the handler for SIGINT, SIGTERM and SIGHUP: stop everything, then
/// exit with the conventional status of an interrupted program.
pub fn install_signal_handler() -> Result<()> {
    ctrlc::set_handler(|| {
        note("\nxtask: interrupted; stopping the local stack");
        shutdown();
        std::process::exit(130);
    })
    .context("cannot install the Ctrl-C/SIGTERM handler")
}

/// Registers a service so that [`shutdown`] stops it.
pub fn register(service: Service) -> Result<()> {
    let mut registry = registry();
    if registry.shutting_down {
        drop(registry);
        stop_service(service);
        bail!("interrupted");
    }
    registry.services.push(service);
    Ok(())
}

/// Whether a signal (or the end of the run) has started stopping everything.
pub fn stopping() -> bool {
    registry().shutting_down
}

/// Held for the whole of a shutdown, so a second caller (the main thread
/// while the signal handler stops the stack) waits until everything is
/// stopped instead of exiting half-way.
static STOPPING: Mutex<()> = Mutex::new(());

/// Stops the short commands still running and every registered service, the
/// newest first. Safe to call more than once and from the signal handler.
pub fn shutdown() {
    let _stopping = STOPPING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let (services, foreground) = {
        let mut registry = registry();
        registry.shutting_down = true;
        (
            std::mem::take(&mut registry.services),
            std::mem::take(&mut registry.foreground),
        )
    };
    for pgid in foreground {
        // SAFETY: killpg only sends a signal; a stale id yields ESRCH.
        unsafe { libc::killpg(pgid, libc::SIGTERM) };
    }
    for service in services.into_iter().rev() {
        stop_service(service);
    }
}

fn stop_service(service: Service) {
    match service {
        Service::Process { name, mut child } => {
            if let Ok(None) = child.try_wait() {
                note(&format!("xtask: stopping {name}"));
                let pgid = child.id() as i32;
                // SAFETY: killpg only sends a signal to the group we created.
                unsafe { libc::killpg(pgid, libc::SIGKILL) };
            }
            let _ = child.wait();
        }
        Service::Postgres {
            pg_ctl,
            data_dir,
            as_user,
        } => {
            if !data_dir.join("postmaster.pid").exists() {
                return;
            }
            note("xtask: stopping postgres");
            let mut command = Command::new(&pg_ctl);
            command
                .arg("stop")
                .arg("-D")
                .arg(&data_dir)
                .args(["-m", "fast", "-w", "-t", "60"])
                .stdin(Stdio::null())
                .stdout(Stdio::null());
            run_as(&mut command, as_user);
            match command.status() {
                Ok(status) if status.success() => {}
                other => note(&format!(
                    "xtask: `pg_ctl stop` on {} did not succeed ({other:?}); \
                     stop it by hand with `pg_ctl stop -D {}`",
                    data_dir.display(),
                    data_dir.display()
                )),
            }
        }
        Service::Remove(path) => {
            let _ = if path.is_dir() {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
        }
    }
}

/// Prints to stderr, ignoring errors: when the terminal or a pipe is gone
/// (Ctrl-C also kills a `| tee`), `eprintln!` would panic and skip the cleanup.
pub fn note(message: &str) {
    let _ = writeln!(std::io::stderr(), "{message}");
}

/// Makes a command run as the given (uid, gid) when set; used for Postgres,
/// which refuses to run as root.
pub fn run_as(command: &mut Command, as_user: Option<(u32, u32)>) {
    if let Some((uid, gid)) = as_user {
        // `/` is readable by everyone, unlike root's working directory.
        command.uid(uid).gid(gid).current_dir("/");
    }
}

/// Puts the child in its own process group and asks the kernel to send it
/// `signal` when xtask dies.
fn detach(command: &mut Command, signal: libc::c_int) {
    command.process_group(0);
    // SAFETY: prctl is async-signal-safe and touches only the new process.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, signal as libc::c_ulong) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

fn describe(command: &Command) -> String {
    let mut text = command.get_program().to_string_lossy().into_owned();
    for arg in command.get_args() {
        text.push(' ');
        text.push_str(&arg.to_string_lossy());
    }
    text
}

/// Spawns a short command and records its process group while it runs.
fn spawn_foreground(command: &mut Command) -> Result<(Child, i32)> {
    detach(command, libc::SIGTERM);
    let mut registry = registry();
    if registry.shutting_down {
        bail!("interrupted");
    }
    let child = command
        .spawn()
        .with_context(|| format!("cannot run `{}`", describe(command)))?;
    let pgid = child.id() as i32;
    registry.foreground.push(pgid);
    Ok((child, pgid))
}

fn forget_foreground(pgid: i32) {
    registry().foreground.retain(|&id| id != pgid);
}

/// Runs a command with inherited output and returns its exit status.
pub fn status(command: &mut Command) -> Result<ExitStatus> {
    command.stdin(Stdio::null());
    let (mut child, pgid) = spawn_foreground(command)?;
    let status = child.wait();
    forget_foreground(pgid);
    status.with_context(|| format!("cannot wait for `{}`", describe(command)))
}

/// Runs a command with inherited output and fails unless it succeeds.
pub fn run(command: &mut Command) -> Result<()> {
    let status = status(command)?;
    if !status.success() {
        bail!("`{}` failed ({status})", describe(command));
    }
    Ok(())
}

/// Runs a command, capturing stdout and returns it; stderr passes through.
pub fn output(command: &mut Command) -> Result<String> {
    command.stdin(Stdio::null()).stdout(Stdio::piped());
    let (child, pgid) = spawn_foreground(command)?;
    let result = child.wait_with_output();
    forget_foreground(pgid);
    let output = result.with_context(|| format!("cannot wait for `{}`", describe(command)))?;
    if !output.status.success() {
        bail!("`{}` failed ({})", describe(command), output.status);
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Runs a command, printing its output as it comes and also returning it
/// (stdout and stderr interleaved as they arrive), so that counts can be
/// parsed from it while failures stay visible.
pub fn tee(command: &mut Command) -> Result<(ExitStatus, String)> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let (mut child, pgid) = spawn_foreground(command)?;
    let captured = Arc::new(Mutex::new(Vec::new()));
    let mut readers = Vec::new();
    if let Some(stdout) = child.stdout.take() {
        let sink = Arc::clone(&captured);
        readers.push(thread::spawn(move || {
            pump(stdout, &mut std::io::stdout(), &sink)
        }));
    }
    if let Some(stderr) = child.stderr.take() {
        let sink = Arc::clone(&captured);
        readers.push(thread::spawn(move || {
            pump(stderr, &mut std::io::stderr(), &sink)
        }));
    }
    for reader in readers {
        let _ = reader.join();
    }
    let status = child.wait();
    forget_foreground(pgid);
    let status = status.with_context(|| format!("cannot wait for `{}`", describe(command)))?;
    let bytes = captured
        .lock()
        .map(|bytes| bytes.clone())
        .unwrap_or_default();
    Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
}

fn pump(mut from: impl Read, to: &mut impl Write, sink: &Mutex<Vec<u8>>) {
    let mut buffer = [0u8; 8192];
    loop {
        match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let _ = to.write_all(&buffer[..n]);
                let _ = to.flush();
                if let Ok(mut sink) = sink.lock() {
                    sink.extend_from_slice(&buffer[..n]);
                }
            }
        }
    }
}

/// Starts a server in the background with its output sent to `log` (or
/// inherited when `log` is `None`) and registers it for [`shutdown`].
pub fn spawn_service(name: &str, command: &mut Command, log: Option<&Path>) -> Result<u32> {
    detach(command, libc::SIGKILL);
    command.stdin(Stdio::null());
    if let Some(log) = log {
        let file = fs::File::create(log)
            .with_context(|| format!("cannot create log file {}", log.display()))?;
        let file2 = file
            .try_clone()
            .with_context(|| format!("cannot reopen log file {}", log.display()))?;
        command.stdout(file).stderr(file2);
    }
    let mut registry = registry();
    if registry.shutting_down {
        bail!("interrupted");
    }
    let child = command
        .spawn()
        .with_context(|| format!("cannot start {name}: `{}`", describe(command)))?;
    let pid = child.id();
    registry.services.push(Service::Process {
        name: name.to_string(),
        child,
    });
    Ok(pid)
}

/// Whether the registered service with this pid has exited, with its status.
pub fn service_exited(pid: u32) -> Option<ExitStatus> {
    let mut registry = registry();
    registry
        .services
        .iter_mut()
        .find_map(|service| match service {
            Service::Process { child, .. } if child.id() == pid => child.try_wait().ok().flatten(),
            _ => None,
        })
}

/// The last `lines` lines of a log file, for error messages.
pub fn log_tail(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    let start = all.len().saturating_sub(lines);
    all[start..].join("\n")
}
