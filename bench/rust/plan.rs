//! Times `plan` natively on 10k, 100k and 1M backups and runs, and reads the
//! peak memory of each (VmHWM). Run with `cargo bench -p odooops-bench --bench plan`.
//!
//! Each (workload, size) runs in a child process of this same binary, so its
//! VmHWM is its own. Inputs are built in memory (no JSON) from a fixed
//! pseudo-random sequence, so every run measures the same rows. Workloads:
//!
//! * `backups`: n backups in n/1000 series (project, environment), about one
//!   a day (some days two) for ~2.7 years; the seed policy; the default
//!   budget (10,000 rows), as one invocation would plan it.
//! * `runs`: n finished runs over two years in 1,000 projects (ten of them
//!   with their own retention), 1% with an approval; default budget.
//! * `runs-all`: the same runs with an unlimited budget: every expired run
//!   is serialized, gzipped and hashed in one plan, to show the archive path.
//! * `runs+events`: 10,000 runs with 10 events each, unlimited budget: the
//!   archive throughput in rows per second.
//! * `backups-decide`, `runs-decide`: a budget of one row, so the time is the
//!   deciding alone (checks, sorting, the backup rule), not the archive.
//!
//! `ns/row` should stay flat or grow like log n across sizes: the planner
//! sorts (n log n) and otherwise makes one pass. With the default budget the
//! archive part is fixed (10,000 rows), so small inputs show a high ns/row.

// A benchmark is a test program: a bad fixture should stop it loudly.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use cleanup_plan::{
    plan, Approval, ApprovalStatus, Backup, BackupKind, Budget, EventBatch, LifecycleConfig,
    PlanInput, RetentionPolicy, Run, RunCandidate, RunEvent, RunStatus, Target, Timestamp,
};
use serde_json::json;
use std::process::Command;
use std::time::Instant;

const DAY: i64 = 86_400_000_000;
const NOW_MICROS: i64 = 1_795_000_000_000_000; // 2026-11-18

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*: fixed seed, the same rows on every run.
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn ts(micros: i64) -> Timestamp {
    Timestamp::from_unix_micros(micros).expect("in range")
}

fn base_input() -> PlanInput {
    let mut policies = RetentionPolicy::seed_defaults();
    for p in 0..10 {
        policies.push(RetentionPolicy {
            project_id: Some(format!("odoo-{}", p * 97 + 1)),
            target: Target::Runs,
            class: None,
            retain_days: Some(30 + p * 30),
        });
    }
    PlanInput {
        now: ts(NOW_MICROS),
        policies,
        budget: Budget::DEFAULT,
        lifecycle: LifecycleConfig {
            backup_locations: vec!["s3://odooops-backups/".to_owned()],
        },
        runs: Vec::new(),
        approvals: Vec::new(),
        artifacts: Vec::new(),
        backups: Vec::new(),
        run_events: EventBatch::default(),
        ingest_deliveries: Vec::new(),
    }
}

fn backups(n: usize) -> PlanInput {
    let mut input = base_input();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let per_series = 1_000;
    input.backups.reserve(n);
    let mut i = 0;
    'series: for series in 0.. {
        let project = series / 3 + 1;
        let environment = ["dev", "staging", "prod"][series % 3];
        let mut day = 0;
        while day < per_series {
            if i == n {
                break 'series;
            }
            let jitter = rng.below(3_600_000_000) as i64;
            let created_at = ts(NOW_MICROS - (day as i64) * DAY - 2 * 3_600_000_000 - jitter);
            input.backups.push(Backup {
                backup_id: format!("{:08x}-0000-4000-8000-{:012x}", series, i),
                project_id: format!("odoo-{project}"),
                run_id: None,
                kind: BackupKind::Daily,
                environment: environment.to_owned(),
                storage_path: format!("s3://odooops-backups/odoo-{project}/{environment}/{i}.dump"),
                size_bytes: 1 << 30,
                digest: format!("sha256:{:064x}", i),
                created_at,
            });
            i += 1;
            // About one day in ten has a second backup (a manual one).
            if rng.below(10) != 0 {
                day += 1;
            }
        }
    }
    input
}

fn runs(n: usize, events_per_run: usize) -> PlanInput {
    let mut input = base_input();
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    input.runs.reserve(n);
    for i in 0..n {
        let project = format!("odoo-{}", rng.below(1_000) + 1);
        let finished = NOW_MICROS - rng.below(730 * DAY as u64) as i64;
        let created = finished - 600_000_000;
        let run_id = format!("run-{i:010x}");
        let events = (0..events_per_run)
            .map(|k| RunEvent {
                event_id: (i * events_per_run + k) as i64,
                run_id: run_id.clone(),
                project_id: project.clone(),
                created_at: ts(created + k as i64 * 1_000_000),
                level: "info".to_owned(),
                event_type: "build.log".to_owned(),
                message: format!("step {k}: compiled 42 modules in 1.{k}s"),
                data: json!({"step": k}),
            })
            .collect();
        if rng.below(100) == 0 {
            input.approvals.push(Approval {
                approval_id: format!("{i:08x}-0000-4000-8000-000000000000"),
                project_id: project.clone(),
                run_id: run_id.clone(),
                status: ApprovalStatus::Approved,
                requested_by: "dev@example.com".to_owned(),
                requested_at: ts(created),
                request_note: None,
                decided_by: Some("lead@example.com".to_owned()),
                decided_at: Some(ts(created)),
                decision_note: None,
            });
        }
        input.runs.push(RunCandidate {
            run: Run {
                run_id,
                project_id: project,
                kind: "deploy".to_owned(),
                environment: Some("prod".to_owned()),
                status: RunStatus::Success,
                git_ref: Some("refs/heads/main".to_owned()),
                commit_sha: Some(format!("{:040x}", rng.next())),
                created_by: "dev@example.com".to_owned(),
                metadata: json!({"trigger": "push"}),
                created_at: ts(created),
                started_at: Some(ts(created + 1_000_000)),
                finished_at: Some(ts(finished)),
                updated_at: ts(finished),
            },
            events,
        });
    }
    input
}

/// Peak resident memory of this process so far, in MiB (VmHWM).
fn peak_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

fn child(workload: &str, n: usize) {
    let mut input = match workload {
        "backups" | "backups-decide" => backups(n),
        "runs" | "runs-all" | "runs-decide" => runs(n, 0),
        "runs+events" => runs(n, 10),
        other => panic!("unknown workload {other}"),
    };
    input.budget = match workload {
        "backups" | "runs" => Budget::DEFAULT,
        "backups-decide" | "runs-decide" => Budget {
            max_rows: 1,
            max_bytes: u64::MAX,
        },
        _ => Budget {
            max_rows: u64::MAX,
            max_bytes: u64::MAX,
        },
    };
    let input_peak = peak_mib();
    let rows_in =
        input.backups.len() + input.runs.iter().map(|c| 1 + c.events.len()).sum::<usize>();
    let start = Instant::now();
    let plan = plan(&input).expect("a valid input");
    let elapsed = start.elapsed();
    let peak = peak_mib();
    let archived = plan.summary.runs.archived
        + plan.summary.run_events.archived
        + plan.summary.backups.archived;
    let gz: u64 = plan.archives.iter().map(|a| a.size_bytes).sum();
    let ndjson: u64 = plan.archives.iter().map(|a| a.ndjson_bytes).sum();
    println!(
        "{workload:<14} {n:>9} {:>10.1} {:>8.0} {:>11.1} {:>9.1} {archived:>9} {:>7} {:>9.1} {:>8.1}",
        elapsed.as_secs_f64() * 1e3,
        elapsed.as_secs_f64() * 1e9 / rows_in as f64,
        input_peak,
        peak,
        plan.archives.len(),
        ndjson as f64 / (1 << 20) as f64,
        gz as f64 / (1 << 20) as f64,
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|arg| arg == "--child") {
        let workload = &args[at + 1];
        let n = args[at + 2].parse().expect("a size");
        child(workload, n);
        return;
    }
    let exe = std::env::current_exe().expect("own path");
    println!(
        "{:<14} {:>9} {:>10} {:>8} {:>11} {:>9} {:>9} {:>7} {:>9} {:>8}",
        "workload",
        "n",
        "plan ms",
        "ns/row",
        "input MiB",
        "peak MiB",
        "archived",
        "objects",
        "ndjson MiB",
        "gz MiB"
    );
    let plans: [(&str, &[usize]); 6] = [
        ("backups-decide", &[10_000, 100_000, 1_000_000]),
        ("backups", &[10_000, 100_000, 1_000_000]),
        ("runs-decide", &[10_000, 100_000, 1_000_000]),
        ("runs", &[10_000, 100_000, 1_000_000]),
        ("runs-all", &[10_000, 100_000, 1_000_000]),
        ("runs+events", &[10_000]),
    ];
    for (workload, sizes) in plans {
        for n in sizes {
            let out = Command::new(&exe)
                .args(["--child", workload, &n.to_string()])
                .output()
                .expect("run the child");
            if !out.status.success() {
                eprintln!("{}", String::from_utf8_lossy(&out.stderr));
                std::process::exit(1);
            }
            print!("{}", String::from_utf8_lossy(&out.stdout));
        }
    }
    println!("input MiB: VmHWM once the input is built; peak MiB: VmHWM after planning (both whole process).");
}
