use super::*;
use serde_json::json;

const SECRET: &str = "s3cret-token-of-at-least-16";

fn config() -> Config {
    Config::new(Some(SECRET), Some("odooops-archives"))
}

fn headers(auth: &str) -> BTreeMap<String, String> {
    BTreeMap::from([("authorization".to_owned(), auth.to_owned())])
}

fn status(start: Start) -> u16 {
    match start {
        Start::Respond { response } => response.status,
        Start::Run { .. } => 0,
    }
}

#[test]
fn only_the_cron_secret_may_start_a_cleanup() {
    let bearer = format!("Bearer {SECRET}");
    assert_eq!(
        status(start(
            &config(),
            "POST",
            &headers("Bearer nope"),
            b"{}",
            true
        )),
        401
    );
    assert_eq!(
        status(start(&config(), "POST", &headers(SECRET), b"{}", true)),
        401,
        "no Bearer prefix"
    );
    assert_eq!(
        status(start(&config(), "POST", &BTreeMap::new(), b"{}", true)),
        401
    );
    assert_eq!(
        status(start(
            &config(),
            "POST",
            &headers(&format!("{bearer}x")),
            b"{}",
            true
        )),
        401
    );
    assert_eq!(
        status(start(&config(), "GET", &headers(&bearer), b"", true)),
        405
    );
    assert_eq!(
        status(start(
            &Config::new(None, Some("b")),
            "POST",
            &headers(&bearer),
            b"{}",
            true
        )),
        503
    );
    assert_eq!(
        status(start(
            &Config::new(Some(""), Some("b")),
            "POST",
            &headers("Bearer "),
            b"{}",
            true
        )),
        503
    );
    assert!(matches!(
        start(&config(), "POST", &headers(&bearer), b"", true),
        Start::Run { dry_run: false, .. }
    ));
}

#[test]
fn the_body_chooses_a_dry_run_and_nothing_else() {
    let bearer = format!("Bearer {SECRET}");
    assert!(matches!(
        start(
            &config(),
            "POST",
            &headers(&bearer),
            br#"{"dry_run": true}"#,
            true
        ),
        Start::Run { dry_run: true, .. }
    ));
    for bad in [
        &b"[]"[..],
        b"{\"dry_run\": 1}",
        b"{\"delete_everything\": true}",
        b"nope",
    ] {
        assert_eq!(
            status(start(&config(), "POST", &headers(&bearer), bad, true)),
            422
        );
    }
}

fn run_row(id: &str, status: &str, finished: Option<&str>) -> Value {
    json!({
        "run": {
            "run_id": id, "project_id": "odoo-42", "kind": "build", "environment": null,
            "status": status, "git_ref": "main", "commit_sha": null,
            "created_by": "dev@example.com", "metadata": {},
            "created_at": "2026-01-01T10:00:00+00:00", "started_at": "2026-01-01T10:00:01+00:00",
            "finished_at": finished, "updated_at": "2026-01-01T10:05:00+00:00"
        },
        "events": [{
            "event_id": 7, "run_id": id, "project_id": "odoo-42",
            "created_at": "2026-01-01T10:00:02+00:00", "level": "info",
            "event_type": "build.started", "message": "go", "data": {}
        }]
    })
}

fn read(runs: Vec<Value>) -> String {
    json!({
        "input": {
            "now": "2026-11-26T03:00:00+00:00",
            "policies": cleanup_plan::RetentionPolicy::seed_defaults(),
            "budget": Budget::DEFAULT,
            "lifecycle": {"backup_locations": []},
            "runs": runs,
            "approvals": [], "artifacts": [], "backups": [],
            "run_events": {"partitions": [], "events": [], "complete": true}
        },
        "guards": {
            "runs": {"run-old": "g1", "run-open": "g2"}, "run_events": {},
            "artifacts": {}, "backups": {}
        },
        "events_before": null
    })
    .to_string()
}

#[test]
fn a_batch_archives_then_commits_exactly_the_archived_runs() {
    let mut run = Run::new(false, "odooops-archives", 100, READ_BUDGET_BYTES);
    let step = run
        .step(&read(vec![
            run_row("run-old", "success", Some("2026-01-01T10:05:00+00:00")),
            run_row("run-open", "running", None),
        ]))
        .unwrap();
    assert_eq!(step.puts.len(), 1);
    let put = &step.puts[0];
    assert_eq!(put.bucket, "odooops-archives");
    assert_eq!(cleanup_plan::sha256_hex(&put.content), put.sha256_hex);
    assert_eq!(STANDARD.decode(&put.sha256_base64).unwrap().len(), 32);
    let commit: Value = serde_json::from_str(&step.commit).unwrap();
    assert_eq!(
        commit["runs"],
        json!([{"id": "run-old", "guard": "g1", "key": put.key}])
    );
    assert_eq!(commit["archives"][0]["key"], put.key);
    assert_eq!(commit["archives"][0]["ids"], json!(["run-old"]));
    // The page was not full: the table was read to its end.
    assert_eq!(commit["resume_after"]["runs"], "reset");
    assert!(!run.should_continue(0.0));
}

/// A read of month events only: `complete` as given, two events of a kept run.
fn read_events(complete: bool) -> String {
    let event = |id: i64| {
        json!({
            "event_id": id, "run_id": "run-kept", "project_id": "odoo-42",
            "created_at": "2026-08-01T10:00:02+00:00", "level": "info",
            "event_type": "build.started", "message": "go", "data": {}
        })
    };
    json!({
        "input": {
            "now": "2026-11-26T03:00:00+00:00",
            "policies": cleanup_plan::RetentionPolicy::seed_defaults(),
            "budget": Budget::DEFAULT,
            "lifecycle": {"backup_locations": []},
            "runs": [], "approvals": [], "artifacts": [], "backups": [],
            "run_events": {
                "partitions": ["run_events_p202608", "run_events_p202612"],
                "events": [event(11), event(12)], "complete": complete
            }
        },
        "guards": {
            "runs": {}, "run_events": {"11": "e11", "12": "e12"},
            "artifacts": {}, "backups": {}
        },
        "events_before": "2026-10-01T00:00:00+00:00"
    })
    .to_string()
}

#[test]
fn archived_month_events_are_deleted_by_the_commit_and_the_month_dropped_once_complete() {
    let mut run = Run::new(false, "b", 100, READ_BUDGET_BYTES);
    let step = run.step(&read_events(false)).unwrap();
    let commit: Value = serde_json::from_str(&step.commit).unwrap();
    assert_eq!(step.puts.len(), 1);
    // Every archived event goes with this commit, under its guard...
    assert_eq!(
        commit["run_events"],
        json!([{"id": "11", "guard": "e11"}, {"id": "12", "guard": "e12"}])
    );
    assert_eq!(commit["events_before"], "2026-10-01T00:00:00.000000Z");
    // ...but the month stays while events may be left: the next batch reads them.
    assert_eq!(commit["drop_events_before"], Value::Null);
    assert!(run.should_continue(0.0));

    let mut last = Run::new(false, "b", 100, READ_BUDGET_BYTES);
    let step = last.step(&read_events(true)).unwrap();
    let commit: Value = serde_json::from_str(&step.commit).unwrap();
    assert_eq!(commit["run_events"].as_array().map(Vec::len), Some(2));
    assert_eq!(commit["drop_events_before"], "2026-10-01T00:00:00.000000Z");
}

#[test]
fn a_full_page_continues_within_the_time_budget() {
    let mut run = Run::new(false, "b", 1, READ_BUDGET_BYTES);
    let step = run
        .step(&read(vec![run_row(
            "run-old",
            "success",
            Some("2026-01-01T10:05:00+00:00"),
        )]))
        .unwrap();
    let commit: Value = serde_json::from_str(&step.commit).unwrap();
    assert_eq!(commit["resume_after"]["runs"]["run_id"], "run-old");
    assert!(run.should_continue(1_000.0));
    assert!(!run.should_continue(TIME_BUDGET_MS));
}

#[test]
fn a_dry_run_answers_the_plan_and_never_continues() {
    let mut run = Run::new(true, "b", 1, READ_BUDGET_BYTES);
    run.step(&read(vec![run_row(
        "run-old",
        "success",
        Some("2026-01-01T10:05:00+00:00"),
    )]))
    .unwrap();
    assert!(!run.should_continue(0.0));
    let body: Value = serde_json::from_str(&run.finish().body).unwrap();
    assert_eq!(body["dry_run"], true);
    assert_eq!(body["plan"]["delete"]["runs"], json!(["run-old"]));
    assert_eq!(body["summary"]["runs"]["archived"], 1);
}

#[test]
fn unexpected_input_and_failures_are_503() {
    let mut run = Run::new(false, "b", 10, READ_BUDGET_BYTES);
    assert_eq!(run.step("{}").unwrap_err().status, 503);
    assert_eq!(run.step("not json").unwrap_err().status, 503);
    for stage in [Stage::Read, Stage::Archive, Stage::Commit, Stage::S3Delete] {
        let response = run.failed(stage);
        assert_eq!(response.status, 503);
        assert!(response.headers.iter().any(|(k, _)| k == "retry-after"));
    }
}

#[test]
fn totals_add_up_over_batches() {
    let mut run = Run::new(false, "b", 10, READ_BUDGET_BYTES);
    run.committed(r#"{"runs": 2, "artifacts": 1, "partitions_dropped": ["run_events_p202601"]}"#);
    run.committed(r#"{"runs": 3, "partitions_dropped": []}"#);
    run.s3_deleted(4);
    let body: Value = serde_json::from_str(&run.finish().body).unwrap();
    assert_eq!(body["deleted"]["runs"], 5);
    assert_eq!(body["partitions_dropped"], json!(["run_events_p202601"]));
    assert_eq!(body["s3_objects_deleted"], 4);
}

#[test]
fn an_oversized_body_is_413_not_an_empty_one() {
    let bearer = format!("Bearer {SECRET}");
    assert_eq!(
        status(start(&config(), "POST", &headers(&bearer), b"", false)),
        413
    );
    let long = vec![b' '; MAX_BODY_BYTES + 1];
    assert_eq!(
        status(start(&config(), "POST", &headers(&bearer), &long, true)),
        413
    );
}

#[test]
fn busy_is_409() {
    assert_eq!(busy().status, 409);
}

#[test]
fn only_identical_bytes_verify() {
    let bytes = b"archive bytes";
    let digest = cleanup_plan::sha256_hex(bytes);
    assert!(Run::verifies(&digest, bytes));
    assert!(!Run::verifies(&digest, b"archive bytez"));
    assert!(!Run::verifies(&digest, b""));
    assert!(!Run::verifies("", bytes));
}

#[test]
fn queued_uris_split_into_bucket_and_key() {
    let pending = r#"[{"uri":"s3://dumps/odoo-1/prod/a.dump","reason":"backup_dump","row_id":"x"},{"uri":"garbage"},{"uri":"s3://nokey"}]"#;
    let mut run = Run::new(false, "b", 10, READ_BUDGET_BYTES);
    let targets = run.s3_targets(pending);
    assert_eq!(targets.len(), 1);
    assert_eq!(
        (targets[0].bucket.as_str(), targets[0].key.as_str()),
        ("dumps", "odoo-1/prod/a.dump")
    );
    assert!(run.s3_targets("nonsense").is_empty());
}

#[test]
fn archive_puts_are_gzip_files_without_a_content_encoding() {
    let mut run = Run::new(false, "odooops-archives", 100, READ_BUDGET_BYTES);
    let step = run
        .step(&read(vec![run_row(
            "run-old",
            "success",
            Some("2026-01-01T10:05:00+00:00"),
        )]))
        .unwrap();
    let put = &step.puts[0];
    assert_eq!(put.content_type, "application/gzip");
    assert_eq!(
        &put.content[..2],
        &[0x1f, 0x8b],
        "the bytes are a gzip file"
    );
    // What the shim receives: the type, and nothing that could make a client
    // undo the compression.
    let handed: Value = serde_json::to_value(put).unwrap();
    assert_eq!(handed["content_type"], "application/gzip");
    let fields: Vec<&String> = handed.as_object().unwrap().keys().collect();
    assert!(
        fields.iter().all(|field| !field.contains("encoding")),
        "{fields:?}"
    );
}

/// `ops.cleanup_s3_pending`'s answer: `count` queued dumps from `first` on.
fn pending(first: usize, count: usize) -> String {
    let rows: Vec<Value> = (first..first + count)
        .map(|i| json!({"uri": format!("s3://dumps/odoo-1/prod/{i}.dump"), "reason": "backup_dump", "row_id": i.to_string()}))
        .collect();
    Value::Array(rows).to_string()
}

/// One invocation whose only batch found nothing to plan.
fn idle_run(read_budget_bytes: u64) -> Run {
    let mut run = Run::new(false, "b", 100, read_budget_bytes);
    run.step(&read(vec![])).unwrap();
    assert!(!run.should_continue(0.0), "no rows are left to plan");
    run
}

fn complete(run: &Run) -> bool {
    let body: Value = serde_json::from_str(&run.finish().body).unwrap();
    body["complete"].as_bool().unwrap()
}

#[test]
fn complete_is_false_while_s3_deletes_remain_queued() {
    let page = S3_DELETE_PAGE as usize;
    let mut run = idle_run(READ_BUDGET_BYTES);
    assert_eq!(run.s3_page(), S3_DELETE_PAGE);
    // A full page: the queue may hold more than was listed.
    let targets = run.s3_targets(&pending(0, page));
    assert_eq!(targets.len(), page);
    run.s3_deleted(targets.len() as u64);
    assert!(!complete(&run), "a full page may have left deletes queued");
    assert!(
        run.wants_follow_up(),
        "stopping here would need a follow-up"
    );
    assert!(run.should_drain(1_000.0), "the next page fits the budget");

    // The rest of the queue: shorter than a page, so nothing is left.
    let targets = run.s3_targets(&pending(page, 110));
    run.s3_deleted(targets.len() as u64);
    assert!(!run.should_drain(1_000.0));
    assert!(complete(&run));
    assert!(!run.wants_follow_up());
    let body: Value = serde_json::from_str(&run.finish().body).unwrap();
    assert_eq!(body["s3_objects_deleted"], page + 110);

    // A queue of exactly one page takes one more, empty, listing to know.
    let mut exact = idle_run(READ_BUDGET_BYTES);
    exact.s3_targets(&pending(0, page));
    assert!(exact.should_drain(0.0));
    exact.s3_targets("[]");
    assert!(!exact.should_drain(0.0));
    assert!(complete(&exact));
}

#[test]
fn draining_stops_at_the_budgets_and_asks_for_the_next_invocation() {
    let page = S3_DELETE_PAGE as usize;
    // Time: no page starts after the time budget.
    let mut late = idle_run(READ_BUDGET_BYTES);
    late.s3_targets(&pending(0, page));
    late.s3_deleted(page as u64);
    assert!(!late.should_drain(TIME_BUDGET_MS));
    assert!(late.wants_follow_up());
    late.follow_up(true);
    let body: Value = serde_json::from_str(&late.finish().body).unwrap();
    assert_eq!(body["complete"], false);
    assert_eq!(body["follow_up"], "requested");

    // CPU: deletes count against the stand-in, and stop batches too.
    let mut spent = Run::new(false, "b", 1, S3_DELETE_COST_BYTES * page as u64);
    spent
        .step(&read(vec![run_row(
            "run-old",
            "success",
            Some("2026-01-01T10:05:00+00:00"),
        )]))
        .unwrap();
    assert!(
        spent.should_continue(0.0),
        "a full page of runs, budget left"
    );
    spent.s3_targets(&pending(0, page));
    spent.s3_deleted(page as u64);
    assert!(!spent.should_drain(0.0), "the deletes spent the budget");
    assert!(!spent.should_continue(0.0));
    assert!(spent.wants_follow_up());

    // A dry run deletes nothing and asks for nothing.
    let mut dry = Run::new(true, "b", 100, READ_BUDGET_BYTES);
    dry.step(&read(vec![])).unwrap();
    assert!(!dry.wants_follow_up());
}

#[test]
fn a_page_with_nothing_deletable_ends_the_draining() {
    let rows: Vec<Value> = (0..S3_DELETE_PAGE)
        .map(|i| json!({"uri": format!("garbage-{i}")}))
        .collect();
    let mut run = idle_run(READ_BUDGET_BYTES);
    assert!(run.s3_targets(&Value::Array(rows).to_string()).is_empty());
    assert!(
        !run.should_drain(0.0),
        "listing the same entries again cannot help"
    );
    assert!(!run.wants_follow_up(), "nor can another invocation");
}

#[test]
fn rows_the_budget_left_for_later_keep_the_cursor_and_the_run_going() {
    // A page that is not full, but the budget took only the first run.
    let mut run = Run::new(false, "b", 100, READ_BUDGET_BYTES);
    let tight = read(vec![
        run_row("run-old", "success", Some("2026-01-01T10:05:00+00:00")),
        run_row("run-older", "success", Some("2026-01-01T10:06:00+00:00")),
    ])
    .replace(r#""max_rows":10000"#, r#""max_rows":1"#);
    let step = run.step(&tight).unwrap();
    let commit: Value = serde_json::from_str(&step.commit).unwrap();
    assert_eq!(commit["runs"].as_array().unwrap().len(), 1);
    assert!(
        commit["resume_after"]["runs"].is_object(),
        "{}",
        commit["resume_after"]
    );
    assert!(run.should_continue(0.0));
}

#[test]
fn the_read_budget_comes_from_the_config_and_a_bad_one_is_refused() {
    let bearer = format!("Bearer {SECRET}");
    let budget_of = |config: &Config| match start(config, "POST", &headers(&bearer), b"{}", true) {
        Start::Run {
            read_budget_bytes, ..
        } => Ok(read_budget_bytes),
        Start::Respond { response } => Err(response),
    };
    assert_eq!(budget_of(&config()), Ok(READ_BUDGET_BYTES));
    assert_eq!(
        budget_of(&config().read_budget(Some(""))),
        Ok(READ_BUDGET_BYTES)
    );
    assert_eq!(budget_of(&config().read_budget(Some("4096"))), Ok(4096));
    for bad in ["0", "-1", "1.5", "40MiB"] {
        let response = budget_of(&config().read_budget(Some(bad))).unwrap_err();
        assert_eq!(response.status, 503, "{bad}");
        assert!(
            response.body.contains("OPS_CLEANUP_READ_BUDGET_BYTES"),
            "{bad}"
        );
    }
    // A caller without the secret learns nothing about the configuration.
    let stranger = start(
        &config().read_budget(Some("0")),
        "POST",
        &headers("Bearer wrong"),
        b"{}",
        true,
    );
    assert_eq!(status(stranger), 401);
}

#[test]
fn a_spent_read_budget_stops_the_invocation_and_asks_for_the_next() {
    let page = read(vec![run_row(
        "run-old",
        "success",
        Some("2026-01-01T10:05:00+00:00"),
    )]);
    // A full page (limit 1) means more may follow.
    let mut roomy = Run::new(false, "b", 1, READ_BUDGET_BYTES);
    roomy.step(&page).unwrap();
    assert!(roomy.should_continue(1_000.0));

    let mut spent = Run::new(false, "b", 1, page.len() as u64);
    spent.step(&page).unwrap();
    assert!(!spent.should_continue(1_000.0), "the budget is spent");
    assert!(spent.wants_follow_up(), "with work left");
    spent.follow_up(false);
    let body: Value = serde_json::from_str(&spent.finish().body).unwrap();
    assert_eq!(body["complete"], false);
    assert_eq!(body["follow_up"], "unavailable");

    // Nothing left, or only a dry run: no follow-up.
    let mut done = Run::new(false, "b", 100, 1);
    done.step(&page).unwrap();
    assert!(!done.wants_follow_up());
    let body: Value = serde_json::from_str(&done.finish().body).unwrap();
    assert_eq!(body["follow_up"], Value::Null);
    let mut dry = Run::new(true, "b", 1, 1);
    dry.step(&page).unwrap();
    assert!(!dry.wants_follow_up());
}

/// A read of ledger rows only: an applied delivery and a deferred event still
/// waiting for its project, both long past the 30-day default.
fn read_ledger() -> String {
    let row = |id: &str, deferred: bool| {
        json!({
            "webhook_id": id, "body_sha256": "ab".repeat(32),
            "event_type": if deferred { "project_archived" } else { "project_created" },
            "project_id": "odoo-42",
            "outcome": if deferred { json!({"result": "deferred"}) } else { json!({"result": "applied", "effect": "created"}) },
            "received_at": "2026-08-01T10:00:00+00:00", "occurred_at": "2026-08-01T09:59:59+00:00",
            "deferred_event": if deferred { json!({"event_type": "project_archived", "project_id": "odoo-42"}) } else { Value::Null },
            "resolved_at": null
        })
    };
    json!({
        "input": {
            "now": "2026-11-26T03:00:00+00:00",
            "policies": cleanup_plan::RetentionPolicy::seed_defaults(),
            "budget": Budget::DEFAULT,
            "lifecycle": {"backup_locations": []},
            "runs": [], "approvals": [], "artifacts": [], "backups": [],
            "run_events": {"partitions": [], "events": [], "complete": true},
            "ingest_deliveries": [row("msg_applied", false), row("msg_waiting", true)]
        },
        "guards": {
            "runs": {}, "run_events": {}, "artifacts": {}, "backups": {},
            "ingest_deliveries": {"msg_applied": "d1", "msg_waiting": "d2"}
        },
        "events_before": null
    })
    .to_string()
}

#[test]
fn an_expired_ledger_row_is_archived_and_committed_under_its_guard_a_waiting_one_is_not() {
    let mut run = Run::new(false, "odooops-archives", 100, READ_BUDGET_BYTES);
    let step = run.step(&read_ledger()).unwrap();
    assert_eq!(step.puts.len(), 1);
    assert!(step.puts[0].key.starts_with("ingest_deliveries/2026/08/"));
    let commit: Value = serde_json::from_str(&step.commit).unwrap();
    assert_eq!(
        commit["ingest_deliveries"],
        json!([{"id": "msg_applied", "guard": "d1", "key": null}])
    );
    assert_eq!(commit["archives"][0]["table"], "ingest_deliveries");
    assert_eq!(commit["archives"][0]["ids"], json!(["msg_applied"]));
    assert_eq!(commit["resume_after"]["ingest_deliveries"], "reset");
    assert!(!step.empty);
    run.committed(r#"{"ingest_deliveries": 1}"#);
    let body: Value = serde_json::from_str(&run.finish().body).unwrap();
    assert_eq!(body["summary"]["ingest_deliveries"]["archived"], 1);
    assert_eq!(body["summary"]["ingest_deliveries"]["kept"], 1);
    assert_eq!(body["deleted"]["ingest_deliveries"], 1);

    // A full page of the ledger means more may follow, and the cursor moves on.
    let mut paged = Run::new(false, "b", 2, READ_BUDGET_BYTES);
    let step = paged.step(&read_ledger()).unwrap();
    let commit: Value = serde_json::from_str(&step.commit).unwrap();
    assert_eq!(
        commit["resume_after"]["ingest_deliveries"]["webhook_id"],
        "msg_waiting"
    );
    assert!(paged.should_continue(0.0));
}
