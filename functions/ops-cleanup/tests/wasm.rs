//! The bindings as the shim uses them, in a real wasm engine.
#![cfg(target_arch = "wasm32")]

use ops_cleanup::{Cleanup, CleanupRun};
use serde_json::{json, Value};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::wasm_bindgen_test;

fn js(value: &Value) -> JsValue {
    use serde::Serialize;
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .unwrap()
}

fn rust(value: JsValue) -> Value {
    serde_wasm_bindgen::from_value(value).unwrap()
}

#[wasm_bindgen_test]
fn start_refuses_without_the_secret_and_runs_with_it() {
    let cleanup = Cleanup::new(
        Some("a-cron-secret-long-enough".into()),
        Some("b".into()),
        Some("4096".into()),
    );
    let refused = rust(cleanup.start("POST", js(&json!({})), b"{}", true));
    assert_eq!(refused["response"]["status"], 401);
    let run = rust(cleanup.start(
        "POST",
        js(&json!({"authorization": "Bearer a-cron-secret-long-enough"})),
        br#"{"dry_run":true}"#,
        true,
    ));
    assert_eq!(run["action"], "run");
    assert_eq!(run["dry_run"], true);
    // A u64 that crosses as a plain number, which CleanupRun::new takes back.
    assert_eq!(run["read_budget_bytes"], 4096);
    assert_eq!(rust(cleanup.busy())["status"], 409);
}

#[wasm_bindgen_test]
fn a_step_hands_archive_bytes_over_as_a_uint8array() {
    let mut run = CleanupRun::new(false, "b", 10, 4096.0);
    let read = json!({
        "input": {
            "now": "2026-11-26T03:00:00Z",
            "policies": [{"project_id": null, "target": "runs", "class": null, "retain_days": 90}],
            "budget": {"max_rows": 100, "max_bytes": 1000000},
            "lifecycle": {"backup_locations": []},
            "runs": [{"run": {
                "run_id": "run-1", "project_id": "odoo-1", "kind": "build", "environment": null,
                "status": "success", "git_ref": null, "commit_sha": null, "created_by": "a@b.co",
                "metadata": {}, "created_at": "2026-01-01T00:00:00Z", "started_at": null,
                "finished_at": "2026-01-01T00:01:00Z", "updated_at": "2026-01-01T00:01:00Z"
            }, "events": []}],
            "approvals": [], "artifacts": [], "backups": [],
            "run_events": {"partitions": [], "events": [], "complete": true}
        },
        "guards": {"runs": {"run-1": "g"}, "run_events": {}, "artifacts": {}, "backups": {}}
    });
    let answer = run.step(&read.to_string());
    let step = js_sys_get(&answer, "step");
    let puts = js_sys_get(&step, "puts");
    let first = js_sys::Reflect::get_u32(&puts, 0).unwrap();
    let content = js_sys_get(&first, "content");
    assert!(content.is_instance_of::<js_sys::Uint8Array>());
    let bytes = js_sys::Uint8Array::new(&content).to_vec();
    let sha = js_sys_get(&first, "sha256_hex").as_string().unwrap();
    assert!(run.verifies(&sha, &bytes));
    assert!(!run.verifies(&sha, &bytes[1..]));
    // The shim stores the object with the type Rust names, and no encoding.
    assert_eq!(
        js_sys_get(&first, "content_type").as_string().as_deref(),
        Some("application/gzip")
    );
    assert!(js_sys_get(&first, "content_encoding").is_undefined());
    let bad = rust(run.step("{}"));
    assert_eq!(bad["response"]["status"], 503);
}

#[wasm_bindgen_test]
fn the_s3_queue_is_drained_page_by_page_and_complete_only_when_empty() {
    let mut run = CleanupRun::new(false, "b", 10, 32.0 * 1024.0 * 1024.0);
    // A batch that found nothing to plan: only the queue is left.
    let nothing = json!({
        "input": {
            "now": "2026-11-26T03:00:00Z",
            "policies": [],
            "budget": {"max_rows": 100, "max_bytes": 1000000},
            "lifecycle": {"backup_locations": []},
            "runs": [], "approvals": [], "artifacts": [], "backups": [],
            "run_events": {"partitions": [], "events": [], "complete": true}
        },
        "guards": {"runs": {}, "run_events": {}, "artifacts": {}, "backups": {}}
    });
    assert!(js_sys_get(&run.step(&nothing.to_string()), "step").is_object());
    assert!(!run.should_continue(0.0));
    let page = run.s3_page() as usize;
    assert!(page > 0);
    let listing = |from: usize, count: usize| {
        let rows: Vec<Value> = (from..from + count)
            .map(|i| json!({"uri": format!("s3://dumps/p/{i}.dump"), "reason": "backup_dump", "row_id": i.to_string()}))
            .collect();
        Value::Array(rows).to_string()
    };
    let targets = rust(run.s3_targets(&listing(0, page)));
    assert_eq!(targets.as_array().map(Vec::len), Some(page));
    assert_eq!(targets[0]["key"], "p/0.dump");
    run.s3_deleted(page as u32);
    assert!(run.should_drain(0.0));
    let body = |run: &CleanupRun| -> Value {
        serde_json::from_str(rust(run.finish())["body"].as_str().unwrap()).unwrap()
    };
    assert_eq!(
        body(&run)["complete"],
        false,
        "a full page may have left more"
    );
    assert!(run.wants_follow_up());
    rust(run.s3_targets(&listing(page, 3)));
    run.s3_deleted(3);
    assert!(!run.should_drain(0.0));
    assert_eq!(body(&run)["complete"], true);
    assert_eq!(body(&run)["s3_objects_deleted"], page + 3);
}

fn js_sys_get(value: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(value, &JsValue::from_str(key)).unwrap()
}
