//! The bindings as the executor drives them, in a real wasm engine.

#![cfg(target_arch = "wasm32")]
// A test file, helpers included: a panic is a failing test (clippy.toml's
// allow-in-tests covers only the #[test] functions themselves).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ops_cleanup::{Cleanup, CleanupInvocation};
use serde_json::{json, Value};
use wasm_bindgen_test::wasm_bindgen_test;

const SECRET: &str = "a-cron-secret-long-enough";
const NOW_MS: f64 = 1_795_662_000_000.0; // 2026-11-26T03:00:00Z

fn parse(text: String) -> Value {
    serde_json::from_str(&text).unwrap()
}

fn cleanup() -> Cleanup {
    Cleanup::new(Some(SECRET.into()), Some("b".into()), None)
}

fn invocation(cleanup: &Cleanup, body: &[u8]) -> CleanupInvocation {
    cleanup.invocation(
        "POST",
        Some(format!("Bearer {SECRET}")),
        body,
        true,
        "holder-1",
        NOW_MS,
    )
}

const POLICIES: &str =
    r#"[{"project_id": null, "target": "runs", "class": null, "retain_days": 90}]"#;

/// A read as `ops.cleanup_read` answers it, with the runs given.
fn read(runs: Value) -> String {
    json!({
        "input": {
            "now": "2026-11-26T03:00:00Z",
            "policies": serde_json::from_str::<Value>(POLICIES).unwrap(),
            "budget": {"max_rows": 100, "max_bytes": 1000000},
            "lifecycle": {"backup_locations": []},
            "runs": runs,
            "approvals": [], "artifacts": [], "backups": [],
            "run_events": {"partitions": [], "events": [], "complete": true}
        },
        "guards": {"runs": {"run-1": "g"}, "run_events": {}, "artifacts": {}, "backups": {}}
    })
    .to_string()
}

fn old_run() -> Value {
    json!([{"run": {
        "run_id": "run-1", "project_id": "odoo-1", "kind": "build", "environment": null,
        "status": "success", "git_ref": null, "commit_sha": null, "created_by": "a@b.co",
        "metadata": {}, "created_at": "2026-01-01T00:00:00Z", "started_at": null,
        "finished_at": "2026-01-01T00:01:00Z", "updated_at": "2026-01-01T00:01:00Z"
    }, "events": []}])
}

/// Takes the lease and answers the policies: the next I/O is the first read.
fn leased(machine: &mut CleanupInvocation) -> Value {
    let acquire = parse(machine.poll());
    assert_eq!(acquire["kind"], "sql");
    assert_eq!(acquire["params"][0], "holder-1");
    machine.sql_answered(Some("true".into()), 1.0);
    let read = parse(machine.sql_answered(Some(POLICIES.into()), 1.0));
    assert!(read["text"].as_str().unwrap().contains("ops.cleanup_read"));
    read
}

#[wasm_bindgen_test]
fn start_refuses_without_the_secret_and_runs_with_it() {
    let cleanup = cleanup();
    let refused = parse(
        cleanup
            .invocation("POST", None, b"{}", true, "h", NOW_MS)
            .poll(),
    );
    assert_eq!(refused["kind"], "respond");
    assert_eq!(refused["response"]["status"], 401);
    let mut dry = invocation(&cleanup, br#"{"dry_run":true}"#);
    let read = leased(&mut dry);
    // The bounds come from Rust: runs finished 90 days before now.
    assert_eq!(read["params"][2], "2026-11-26T03:00:00.000000Z");
    assert_eq!(read["params"][3], "2026-08-28T03:00:00.000000Z");
    let release = parse(dry.sql_answered(Some(read_of_old_run()), 1.0));
    assert!(release["text"]
        .as_str()
        .unwrap()
        .contains("ops.cleanup_release"));
    let answer = parse(dry.sql_answered(None, 1.0));
    let body = parse(answer["response"]["body"].as_str().unwrap().to_owned());
    assert_eq!(body["dry_run"], true);
    assert_eq!(body["plan"]["delete"]["runs"], json!(["run-1"]));

    let mut busy = invocation(&cleanup, b"{}");
    assert_eq!(
        parse(busy.sql_answered(Some("false".into()), 1.0))["response"]["status"],
        409
    );
    // A bad read budget is reported only to a caller with the secret.
    let misconfigured = Cleanup::new(Some(SECRET.into()), Some("b".into()), Some("x".into()));
    assert_eq!(
        parse(invocation(&misconfigured, b"{}").poll())["response"]["status"],
        503
    );
}

fn read_of_old_run() -> String {
    read(old_run())
}

#[wasm_bindgen_test]
fn an_archive_put_hands_its_bytes_over_and_only_identical_bytes_verify() {
    let cleanup = cleanup();
    let mut machine = invocation(&cleanup, b"{}");
    leased(&mut machine);
    let put = parse(machine.sql_answered(Some(read_of_old_run()), 1.0));
    assert_eq!(put["kind"], "s3_put");
    // The executor stores the object with the type Rust names, and no encoding.
    assert_eq!(put["content_type"], "application/gzip");
    assert!(put.get("content_encoding").is_none());
    assert!(put.get("content").is_none(), "the bytes come on their own");
    let bytes = machine.content();
    assert!(!bytes.is_empty());
    // Bytes that are not the archive's: nothing is committed.
    let mut twin = invocation(&cleanup, b"{}");
    leased(&mut twin);
    twin.sql_answered(Some(read_of_old_run()), 1.0);
    let release = parse(twin.s3_answered(Some(bytes[1..].to_vec()), 1.0));
    assert!(release["text"]
        .as_str()
        .unwrap()
        .contains("ops.cleanup_release"));
    let failed = parse(twin.sql_answered(None, 1.0));
    assert_eq!(failed["response"]["status"], 503);
    assert_eq!(failed["response"]["log"]["stage"], "archive");
    // The archive's bytes: the commit follows.
    let commit = parse(machine.s3_answered(Some(bytes), 1.0));
    assert!(commit["text"]
        .as_str()
        .unwrap()
        .contains("ops.cleanup_commit"));
    // An unreadable read is a 503 after the release.
    let mut bad = invocation(&cleanup, b"{}");
    leased(&mut bad);
    bad.sql_answered(Some("{}".into()), 1.0);
    assert_eq!(
        parse(bad.sql_answered(None, 1.0))["response"]["status"],
        503
    );
}

#[wasm_bindgen_test]
fn the_s3_queue_is_drained_page_by_page_and_complete_only_when_empty() {
    let cleanup = cleanup();
    let mut machine = invocation(&cleanup, b"{}");
    leased(&mut machine);
    // A batch that found nothing to plan: only the queue is left.
    let commit = parse(machine.sql_answered(Some(read(json!([]))), 1.0));
    assert_eq!(commit["kind"], "sql");
    let pending = parse(machine.sql_answered(Some("{}".into()), 1.0));
    let page = pending["params"][0].as_u64().unwrap() as usize;
    assert!(page > 0);
    let listing = |from: usize, count: usize| {
        let rows: Vec<Value> = (from..from + count)
            .map(|i| json!({"uri": format!("s3://dumps/p/{i}.dump"), "reason": "backup_dump", "row_id": i.to_string()}))
            .collect();
        Value::Array(rows).to_string()
    };
    let mut io = parse(machine.sql_answered(Some(listing(0, page)), 1.0));
    assert_eq!(io["kind"], "s3_delete");
    assert_eq!(io["key"], "p/0.dump");
    for _ in 0..page {
        assert_eq!(io["kind"], "s3_delete");
        io = parse(machine.s3_answered(None, 1.0));
    }
    assert_eq!(io["params"][0].as_array().map(Vec::len), Some(page));
    // A full page may have left more: another page.
    let pending = parse(machine.sql_answered(Some(String::new()), 1.0));
    assert!(pending["text"]
        .as_str()
        .unwrap()
        .contains("ops.cleanup_s3_pending"));
    io = parse(machine.sql_answered(Some(listing(page, 3)), 1.0));
    for _ in 0..3 {
        io = parse(machine.s3_answered(None, 1.0));
    }
    assert_eq!(io["params"][0].as_array().map(Vec::len), Some(3));
    // A short page was the rest: release, then the answer, complete.
    let release = parse(machine.sql_answered(Some(String::new()), 1.0));
    assert!(release["text"]
        .as_str()
        .unwrap()
        .contains("ops.cleanup_release"));
    let answer = parse(machine.sql_answered(Some(String::new()), 1.0));
    let body = parse(answer["response"]["body"].as_str().unwrap().to_owned());
    assert_eq!(body["complete"], true);
    assert_eq!(body["s3_objects_deleted"], page + 3);
}
