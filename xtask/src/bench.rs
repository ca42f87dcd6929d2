//! `cargo xtask bench`: every benchmark of BENCHMARKS.md in one run.
//!
//! - `micro`: the ingest decision natively (criterion, `bench/rust/decide.rs`),
//!   then in one `deno bench` run the wasm next to the TypeScript baseline
//!   (`bench/deno/ingest.bench.ts`), on the same signed fixtures.
//! - `instantiate`: the wasm's size and what compiling, instantiating and
//!   importing it costs in Deno (`bench/deno/instantiate.bench.ts`).
//! - `load`: a private local stack; pgbench on `ops.ingest_event` as the
//!   ceiling, then end-to-end HTTP load with 10% redeliveries
//!   (`bench/deno/load.ts`) and the exactly-once check; then the same load on
//!   a peer, the seed's own ops-ingest (`bench/deno/seed-peer/`), against
//!   the same database.
//!
//! Results go to `target/bench/`; `bench/deno/report.ts` prints the summary and
//! writes `target/bench/summary.md`. Not part of `cargo xtask test`: it takes
//! a few minutes and its numbers depend on the machine.

use std::fs;
use std::net::{Ipv4Addr, TcpListener};
use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::build;
use crate::cmd;
use crate::install::{self, Scope, Tools};
use crate::stack::{self, Mode, Stack};

/// One part of the run.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Micro,
    Instantiate,
    Load,
}

const PARTS: [(Part, &str); 3] = [
    (Part::Micro, "micro"),
    (Part::Instantiate, "instantiate"),
    (Part::Load, "load"),
];

/// Concurrency and duration shared by pgbench and the HTTP load, so the two
/// numbers are comparable.
const CONCURRENCY: u32 = 32;
const DURATION_SECONDS: u32 = 20;
const WARMUP_SECONDS: u32 = 2;

/// Runs the parts named in `args` (`--part micro|instantiate|load`, all by
/// default); `Ok(false)` when a check inside a benchmark failed.
pub fn run(root: &Path, args: &[String]) -> Result<bool> {
    let parts = parse_parts(args)?;
    let out = root.join("target/bench");
    fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    // The load average at the start: the machine is shared, and the report
    // says how quiet it was.
    let loadavg = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    fs::write(out.join("loadavg-start.txt"), &loadavg)
        .with_context(|| format!("cannot write to {}", out.display()))?;
    println!("xtask: bench: load average at start: {}", loadavg.trim());

    let needs_stack = parts.contains(&Part::Load);
    let tools = install::ensure(
        root,
        if needs_stack {
            Scope::Stack
        } else {
            Scope::Build
        },
    )?;
    build::build(root, &tools)?;

    let mut ok = true;
    if parts.contains(&Part::Micro) {
        ok &= micro(root, &tools, &out)?;
    }
    if parts.contains(&Part::Instantiate) {
        println!("\nxtask: bench: instantiate (deno bench)");
        let json = cmd::output(
            deno(root, &tools)
                .args([
                    "bench",
                    "--json",
                    "--allow-read",
                    "--allow-write",
                    "--allow-env",
                ])
                .arg("bench/deno/instantiate.bench.ts"),
        )
        .context("bench/deno/instantiate.bench.ts failed")?;
        write(&out.join("instantiate.json"), &json)?;
    }
    if parts.contains(&Part::Load) {
        println!("\nxtask: bench: starting a private local stack");
        let stack = stack::start(root, &tools, Mode::Test)?;
        let meter = CpuMeter::new(&tools, &stack)?;
        let functions = meter.functions;
        let before = meter.read(functions);
        ok &= pgbench(root, &tools, &stack, &out)?;
        let between = meter.read(functions);
        ok &= load(root, &tools, &stack, &Target::Ours, &out.join("load.json"))?;
        let after = meter.read(functions);
        // The peer only after ours is done, so the two never share the cores.
        let peer = start_seed_peer(root, &tools, &stack, &out)?;
        let peer_before = meter.read(peer.pid);
        ok &= load(
            root,
            &tools,
            &stack,
            &peer.target,
            &out.join("load-peer.json"),
        )?;
        let peer_after = meter.read(peer.pid);
        write(
            &out.join("cpu.json"),
            &format!(
                "{{\"pgbench\": {{\"postgres_s\": {:.3}}}, \
                 \"load\": {{\"postgres_s\": {:.3}, \"functions_s\": {:.3}}}, \
                 \"peer\": {{\"postgres_s\": {:.3}, \"server_s\": {:.3}}}}}\n",
                between.postgres - before.postgres,
                after.postgres - between.postgres,
                after.server - between.server,
                peer_after.postgres - peer_before.postgres,
                peer_after.server - peer_before.server,
            ),
        )?;
    }

    println!();
    let report = cmd::status(
        deno(root, &tools)
            .args([
                "run",
                "--allow-read",
                "--allow-sys",
                "--allow-write=target/bench",
            ])
            .arg("bench/deno/report.ts")
            .arg(&out),
    )?;
    Ok(ok && report.success())
}

fn parse_parts(args: &[String]) -> Result<Vec<Part>> {
    let mut parts = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let name = match arg.strip_prefix("--part=") {
            Some(name) => name.to_string(),
            None if arg == "--part" => args
                .next()
                .cloned()
                .context("--part needs a name: micro, instantiate or load")?,
            None => bail!("unknown argument `{arg}`; expected --part micro|instantiate|load"),
        };
        match PARTS.iter().find(|(_, known)| *known == name) {
            Some((part, _)) => parts.push(*part),
            None => bail!("unknown part {name:?}; expected micro, instantiate or load"),
        }
    }
    if parts.is_empty() {
        parts = PARTS.iter().map(|(part, _)| *part).collect();
    }
    Ok(parts)
}

fn deno(root: &Path, tools: &Tools) -> Command {
    let mut command = Command::new(&tools.deno);
    command.current_dir(root).env("NO_COLOR", "1");
    command
}

fn write(path: &Path, text: &str) -> Result<()> {
    fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// The decision natively, then wasm and TypeScript in one deno bench run.
fn micro(root: &Path, tools: &Tools, out: &Path) -> Result<bool> {
    println!("\nxtask: bench: micro (criterion, then deno bench)");
    let fixtures = out.join("fixtures.json");
    let probe = build_probe(root, tools, out)?;
    let criterion = |soft_sha: bool| {
        let mut command = install::cargo_command();
        command
            .current_dir(root)
            .args(["bench", "-p", "odooops-bench", "--bench", "decide"])
            .env("OPS_BENCH_FIXTURES", &fixtures);
        if soft_sha {
            command.args(["--features", "soft-sha"]);
        }
        command
    };
    // Compiled first, so the fixtures are signed just before they are used:
    // the TypeScript baseline's verifier refuses them after five minutes.
    for soft_sha in [false, true] {
        cmd::run(criterion(soft_sha).arg("--no-run"))
            .context("building bench/rust/decide.rs failed")?;
    }
    cmd::run(
        deno(root, tools)
            .args([
                "run",
                "--allow-read",
                "--allow-env",
                "--allow-write=target/bench",
            ])
            .arg("bench/deno/fixtures.ts")
            .arg(&fixtures),
    )
    .context("bench/deno/fixtures.ts failed")?;
    cmd::run(criterion(false).args(["--", "--noplot"])).context("bench/rust/decide.rs failed")?;

    println!("\nxtask: bench: deno bench bench/deno/ingest.bench.ts (wasm and TypeScript)");
    let json = cmd::output(
        deno(root, tools)
            .args(["bench", "--json", "--allow-read", "--allow-env"])
            .arg("bench/deno/ingest.bench.ts")
            .env("OPS_BENCH_FIXTURES", &fixtures)
            .env("OPS_BENCH_PROBE", &probe),
    )
    .context("bench/deno/ingest.bench.ts failed")?;
    write(&out.join("ingest.json"), &json)?;

    // Where native and wasm differ: SHA-256 without the CPU's instructions.
    println!("\nxtask: bench: native again, SHA-256 in software (--features soft-sha)");
    cmd::run(criterion(true).args(["--", "--noplot"]))
        .context("bench/rust/decide.rs (soft-sha) failed")?;
    Ok(true)
}

/// Builds `bench/rust/` for wasm the way `cargo xtask build` builds a function
/// (release profile, wasm-bindgen for Deno, wasm-opt -Os) and returns the
/// path of its glue module.
fn build_probe(root: &Path, tools: &Tools, out: &Path) -> Result<std::path::PathBuf> {
    cmd::run(install::cargo_command().current_dir(root).args([
        "build",
        "--release",
        "--target",
        "wasm32-unknown-unknown",
        "-p",
        "odooops-bench",
        "--lib",
    ]))
    .context("building the wasm probe (bench/rust/) failed")?;
    let wasm = build::target_dir(root).join("wasm32-unknown-unknown/release/odooops_bench.wasm");
    let dir = out.join("probe");
    build::bindgen(tools, &wasm, &dir, "odooops_bench").context("the wasm probe")?;
    Ok(dir.join("odooops_bench.js"))
}

/// CPU seconds used so far by the stack's PostgreSQL (postmaster, its
/// children and the children it reaped) and by one HTTP server: the
/// functions server or the peer.
#[derive(Clone, Copy, Default)]
struct CpuTimes {
    postgres: f64,
    server: f64,
}

/// Reads [`CpuTimes`] from /proc, so the report can say how much CPU one
/// request costs in Deno and in PostgreSQL.
struct CpuMeter {
    postmaster: u32,
    functions: u32,
    ticks_per_second: f64,
}

impl CpuMeter {
    fn new(tools: &Tools, stack: &Stack) -> Result<CpuMeter> {
        // The first line of postmaster.pid in the data directory (a setting
        // only a superuser may read).
        let data_dir = cmd::output(stack::psql_admin(&tools.pg_bin, stack.ports.db).args([
            "-At",
            "-c",
            "show data_directory",
        ]))?;
        let pid_file = Path::new(data_dir.trim()).join("postmaster.pid");
        let postmaster: u32 = fs::read_to_string(&pid_file)
            .with_context(|| format!("cannot read {}", pid_file.display()))?
            .lines()
            .next()
            .and_then(|line| line.trim().parse().ok())
            .with_context(|| format!("{} holds no pid", pid_file.display()))?;
        let functions = stack
            .servers
            .iter()
            .find(|(name, _)| name == "the functions server")
            .map(|(_, pid)| *pid)
            .context("the stack has no functions server")?;
        // SAFETY: sysconf has no preconditions.
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        Ok(CpuMeter {
            postmaster,
            functions,
            ticks_per_second: if ticks > 0 { ticks as f64 } else { 100.0 },
        })
    }

    fn read(&self, server: u32) -> CpuTimes {
        let mut postgres = proc_stat(self.postmaster)
            .map(|stat| stat.own + stat.reaped)
            .unwrap_or_default();
        if let Ok(entries) = fs::read_dir("/proc") {
            for entry in entries.flatten() {
                let Some(pid) = entry
                    .file_name()
                    .to_str()
                    .and_then(|n| n.parse::<u32>().ok())
                else {
                    continue;
                };
                if let Some(stat) = proc_stat(pid).filter(|stat| stat.ppid == self.postmaster) {
                    postgres += stat.own;
                }
            }
        }
        let server = proc_stat(server).map(|stat| stat.own).unwrap_or_default();
        CpuTimes {
            postgres: postgres as f64 / self.ticks_per_second,
            server: server as f64 / self.ticks_per_second,
        }
    }
}

struct ProcStat {
    ppid: u32,
    /// utime + stime, in clock ticks.
    own: u64,
    /// cutime + cstime: the children it waited for.
    reaped: u64,
}

fn proc_stat(pid: u32) -> Option<ProcStat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: split after it.
    let rest = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let number = |index: usize| fields.get(index)?.parse::<u64>().ok();
    // Counting from the state (field 3 of proc(5)) as index 0.
    Some(ProcStat {
        ppid: u32::try_from(number(1)?).ok()?,
        own: number(11)? + number(12)?,
        reaped: number(13)? + number(14)?,
    })
}

/// pgbench on the same SQL function, same concurrency and duration.
fn pgbench(root: &Path, tools: &Tools, stack: &Stack, out: &Path) -> Result<bool> {
    println!(
        "\nxtask: bench: pgbench on ops.ingest_event ({CONCURRENCY} clients, {DURATION_SECONDS} s)"
    );
    // The events the script's redeliveries repeat.
    cmd::run(stack::psql(&tools.pg_bin, stack.ports.db).args([
        "-c",
        "select count(ops.ingest_event('pgbseed_' || s, repeat('0', 64), \
           ('{\"event_type\":\"project_created\",\"project_id\":\"odoo-9' || s || \
           '\",\"name\":\"Seed\",\"odoo_version\":\"19.0\"}')::jsonb, \
           '2026-01-01T00:00:00Z')) from generate_series(1, 1000) s",
    ]))
    .context("seeding the pgbench redeliveries failed")?;

    let logs = out.join("pgbench");
    if logs.exists() {
        fs::remove_dir_all(&logs).with_context(|| format!("cannot clear {}", logs.display()))?;
    }
    fs::create_dir_all(&logs).with_context(|| format!("cannot create {}", logs.display()))?;
    let pgbench = |seconds: u32| {
        let mut command = Command::new(tools.pg_bin.join("pgbench"));
        command
            .current_dir(root)
            .args(["-n", "-M", "extended", "-h", "127.0.0.1", "-p"])
            .arg(stack.ports.db.to_string())
            .args(["-U", "postgres", "-c"])
            .arg(CONCURRENCY.to_string())
            .args(["-j", "2", "-T"])
            .arg(seconds.to_string())
            .args(["-f", "bench/deno/ingest_event.pgbench"])
            .env("PGDATABASE", "postgres")
            .env("PGPASSWORD", "postgres");
        command
    };
    // The same warm-up as the HTTP load gets, unrecorded.
    let warmup = cmd::output(&mut pgbench(WARMUP_SECONDS)).context("pgbench (warm-up) failed")?;
    write(&out.join("pgbench-warmup.txt"), &warmup)?;
    let text = cmd::output(
        pgbench(DURATION_SECONDS)
            .arg("-l")
            .arg(format!("--log-prefix={}", logs.join("log").display())),
    )
    .context("pgbench failed")?;
    print!("{text}");
    write(&out.join("pgbench.txt"), &text)?;
    Ok(text.contains("tps = "))
}

/// What the HTTP load runs against.
enum Target {
    /// Our ops-ingest on the stack's functions server, with the exactly-once
    /// check.
    Ours,
    /// Another server at this URL, without the check: it promises none.
    Peer(String),
}

/// The HTTP load with redeliveries, and for ours the exactly-once check. Every
/// target gets the same concurrency, duration, warm-up and duplicate share
/// (load.ts's default, 10%).
fn load(root: &Path, tools: &Tools, stack: &Stack, target: &Target, out: &Path) -> Result<bool> {
    let url = match target {
        Target::Ours => stack.function_url("ops-ingest"),
        Target::Peer(url) => url.clone(),
    };
    println!(
        "\nxtask: bench: HTTP load on {url} ({CONCURRENCY} connections, {DURATION_SECONDS} s, 10% duplicates)"
    );
    let mut command = deno(root, tools);
    command
        .args([
            "run",
            "--allow-net=127.0.0.1",
            "--allow-env",
            "--allow-read",
            "--allow-sys=cpus",
            "--allow-write=target/bench",
            "bench/deno/load.ts",
            "--concurrency",
        ])
        .arg(CONCURRENCY.to_string())
        .arg("--duration")
        .arg(DURATION_SECONDS.to_string())
        .arg("--warmup")
        .arg(WARMUP_SECONDS.to_string())
        .arg("--out")
        .arg(out)
        .envs(stack.env.iter().map(|(key, value)| (key, value)));
    if let Target::Peer(url) = target {
        command.args(["--url", url, "--skip-exactly-once"]);
    }
    Ok(cmd::status(&mut command)?.success())
}

/// A running peer server.
struct Peer {
    pid: u32,
    target: Target,
}

/// Starts the seed's ops-ingest (`bench/deno/seed-peer/ops-ingest`) on a
/// free port against the stack's database, served as ours is, by
/// `dev/functions-serve.ts`: the router's cost is then paid by both sides.
fn start_seed_peer(root: &Path, tools: &Tools, stack: &Stack, out: &Path) -> Result<Peer> {
    let db_url = stack
        .get("SUPABASE_DB_URL")
        .context("the stack has no SUPABASE_DB_URL")?;
    // The kernel picks a free port; it is released just before the peer binds
    // it, as the stack does for its own servers.
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .context("cannot find a free port on 127.0.0.1")?
        .port();
    let log = out.join("seed-peer.log");
    println!(
        "\nxtask: bench: starting the seed's ops-ingest (bench/deno/seed-peer) on 127.0.0.1:{port}"
    );
    let env = [("SUPABASE_DB_URL".to_owned(), db_url.to_owned())];
    let pid = stack::start_functions(
        root,
        tools,
        "bench/deno/seed-peer",
        &[],
        &env,
        port,
        Some(&log),
    )?;
    Ok(Peer {
        pid,
        target: Target::Peer(format!("http://127.0.0.1:{port}/functions/v1/ops-ingest")),
    })
}
