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
    let mut run = Progress::new(false, "odooops-archives", 100, READ_BUDGET_BYTES);
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
    let mut run = Progress::new(false, "b", 100, READ_BUDGET_BYTES);
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

    let mut last = Progress::new(false, "b", 100, READ_BUDGET_BYTES);
    let step = last.step(&read_events(true)).unwrap();
    let commit: Value = serde_json::from_str(&step.commit).unwrap();
    assert_eq!(commit["run_events"].as_array().map(Vec::len), Some(2));
    assert_eq!(commit["drop_events_before"], "2026-10-01T00:00:00.000000Z");
}

#[test]
fn a_full_page_continues_within_the_time_budget() {
    let mut run = Progress::new(false, "b", 1, READ_BUDGET_BYTES);
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
    let mut run = Progress::new(true, "b", 1, READ_BUDGET_BYTES);
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
    let mut run = Progress::new(false, "b", 10, READ_BUDGET_BYTES);
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
    let mut run = Progress::new(false, "b", 10, READ_BUDGET_BYTES);
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
    assert!(Progress::verifies(&digest, bytes));
    assert!(!Progress::verifies(&digest, b"archive bytez"));
    assert!(!Progress::verifies(&digest, b""));
    assert!(!Progress::verifies("", bytes));
}

#[test]
fn queued_uris_split_into_bucket_and_key() {
    let pending = r#"[{"uri":"s3://dumps/odoo-1/prod/a.dump","reason":"backup_dump","row_id":"x"},{"uri":"garbage"},{"uri":"s3://nokey"}]"#;
    let mut run = Progress::new(false, "b", 10, READ_BUDGET_BYTES);
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
    let mut run = Progress::new(false, "odooops-archives", 100, READ_BUDGET_BYTES);
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
fn idle_run(read_budget_bytes: u64) -> Progress {
    let mut run = Progress::new(false, "b", 100, read_budget_bytes);
    run.step(&read(vec![])).unwrap();
    assert!(!run.should_continue(0.0), "no rows are left to plan");
    run
}

fn complete(run: &Progress) -> bool {
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
    let mut spent = Progress::new(false, "b", 1, S3_DELETE_COST_BYTES * page as u64);
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
    let mut dry = Progress::new(true, "b", 100, READ_BUDGET_BYTES);
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
    let mut run = Progress::new(false, "b", 100, READ_BUDGET_BYTES);
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
    let mut roomy = Progress::new(false, "b", 1, READ_BUDGET_BYTES);
    roomy.step(&page).unwrap();
    assert!(roomy.should_continue(1_000.0));

    let mut spent = Progress::new(false, "b", 1, page.len() as u64);
    spent.step(&page).unwrap();
    assert!(!spent.should_continue(1_000.0), "the budget is spent");
    assert!(spent.wants_follow_up(), "with work left");
    spent.follow_up(false);
    let body: Value = serde_json::from_str(&spent.finish().body).unwrap();
    assert_eq!(body["complete"], false);
    assert_eq!(body["follow_up"], "unavailable");

    // Nothing left, or only a dry run: no follow-up.
    let mut done = Progress::new(false, "b", 100, 1);
    done.step(&page).unwrap();
    assert!(!done.wants_follow_up());
    let body: Value = serde_json::from_str(&done.finish().body).unwrap();
    assert_eq!(body["follow_up"], Value::Null);
    let mut dry = Progress::new(true, "b", 1, 1);
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
    let mut run = Progress::new(false, "odooops-archives", 100, READ_BUDGET_BYTES);
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
    let mut paged = Progress::new(false, "b", 2, READ_BUDGET_BYTES);
    let step = paged.step(&read_ledger()).unwrap();
    let commit: Value = serde_json::from_str(&step.commit).unwrap();
    assert_eq!(
        commit["resume_after"]["ingest_deliveries"]["webhook_id"],
        "msg_waiting"
    );
    assert!(paged.should_continue(0.0));
}

// ---------------------------------------------------------------------------
// The invocation as a machine: the order of its I/O, driven as the executor
// drives it, with the answers the database and the store would give.

use cleanup_plan::{fetch_bounds, RetentionPolicy, Timestamp};
use function_io::{Answer, Io, Machine, Param};

const HOLDER: &str = "6f1c1f7e-2f0b-4c59-9d2a-0d5b8a1f3c11";

fn now() -> Timestamp {
    Timestamp::parse("2026-11-26T03:00:00Z").unwrap()
}

fn invocation(body: &[u8]) -> Invocation {
    Invocation::new(
        &config(),
        "POST",
        &headers(&format!("Bearer {SECRET}")),
        body,
        true,
        HOLDER,
        (now().unix_micros() / 1000) as f64,
    )
}

/// The pending statement; panics on any other I/O.
fn sql(machine: &Invocation) -> (&'static str, Vec<Param>) {
    match machine.poll() {
        Io::Sql { text, params } => {
            let text: &'static str = [
                machine::ACQUIRE,
                machine::POLICIES,
                machine::READ,
                machine::COMMIT,
                machine::PENDING,
                machine::DELETED,
                machine::RELEASE,
                machine::INVOKE,
            ]
            .into_iter()
            .find(|known| *known == text)
            .unwrap_or_else(|| panic!("unknown statement {text}"));
            assert!(text.ends_with("as result"), "the executor reads `result`");
            (text, params.to_vec())
        }
        other => panic!("expected a statement, got {other:?}"),
    }
}

fn answered(machine: &Invocation) -> Response {
    match machine.poll() {
        Io::Respond { response } => response.clone(),
        other => panic!("expected the answer, got {other:?}"),
    }
}

fn answer_sql(machine: &mut Invocation, result: Option<&str>) {
    machine.handle(Answer::Sql(result), 10.0);
}

fn seed_policies() -> String {
    serde_json::to_string(&RetentionPolicy::seed_defaults()).unwrap()
}

/// Takes the lease and reads the policies: the machine then asks for a read.
fn leased(body: &[u8]) -> Invocation {
    let mut machine = invocation(body);
    assert_eq!(
        sql(&machine),
        (
            machine::ACQUIRE,
            vec![Param::Text(HOLDER.into()), Param::Int(LEASE_SECONDS.into())]
        )
    );
    answer_sql(&mut machine, Some("true"));
    assert_eq!(sql(&machine), (machine::POLICIES, vec![]));
    answer_sql(&mut machine, Some(&seed_policies()));
    assert_eq!(sql(&machine).0, machine::READ);
    machine
}

fn expect_release_then(machine: &mut Invocation) {
    assert_eq!(
        sql(machine),
        (machine::RELEASE, vec![Param::Text(HOLDER.into())])
    );
}

fn body(response: &Response) -> Value {
    serde_json::from_str(&response.body).unwrap()
}

#[test]
fn the_read_gets_the_bounds_rust_computed_from_the_policies_and_now() {
    let machine = leased(b"{}");
    let bounds = fetch_bounds(&RetentionPolicy::seed_defaults(), now()).unwrap();
    let text = |at: Option<Timestamp>| Param::Text(at.unwrap().to_string());
    assert_eq!(
        sql(&machine).1,
        vec![
            Param::Text(json!(BUDGET).to_string()),
            Param::Int(READ_LIMIT.into()),
            Param::Text("2026-11-26T03:00:00.000000Z".into()),
            text(bounds.runs_finished_before),
            text(bounds.artifacts_created_before),
            text(bounds.run_events_before),
            text(bounds.ingest_deliveries_received_before),
        ]
    );
    // The seed's shortest rules: runs 90 days, images and logs 30, the
    // month holding now - 30 days, the ledger 30 days.
    assert_eq!(
        sql(&machine).1[3..],
        [
            Param::Text("2026-08-28T03:00:00.000000Z".into()),
            Param::Text("2026-10-27T03:00:00.000000Z".into()),
            Param::Text("2026-10-01T00:00:00.000000Z".into()),
            Param::Text("2026-10-27T03:00:00.000000Z".into()),
        ]
    );
}

#[test]
fn a_table_no_rule_expires_is_read_with_a_null_bound() {
    let mut machine = invocation(b"{}");
    answer_sql(&mut machine, Some("true"));
    let mut policies = RetentionPolicy::seed_defaults();
    for policy in &mut policies {
        if policy.target == cleanup_plan::Target::Runs {
            policy.retain_days = None;
        }
    }
    answer_sql(
        &mut machine,
        Some(&serde_json::to_string(&policies).unwrap()),
    );
    assert_eq!(sql(&machine).1[3], Param::Null);
    assert!(matches!(sql(&machine).1[4], Param::Text(_)));
}

#[test]
fn an_invocation_runs_the_stages_in_the_order_that_loses_nothing() {
    let mut machine = leased(b"{}");
    answer_sql(
        &mut machine,
        Some(&read(vec![
            run_row("run-old", "success", Some("2026-01-01T10:05:00+00:00")),
            run_row("run-open", "running", None),
        ])),
    );
    // The archive first: a conditional put, as a gzip file with its digest.
    let Io::S3Put {
        bucket,
        key,
        content_type,
        sha256_base64,
    } = machine.poll()
    else {
        panic!("expected the archive put, got {:?}", machine.poll())
    };
    assert_eq!(bucket, "odooops-archives");
    assert!(key.starts_with("runs/2026/01/"));
    assert_eq!(content_type, "application/gzip");
    let content = machine.content().to_vec();
    assert_eq!(
        STANDARD.decode(sha256_base64).unwrap().len(),
        32,
        "a SHA-256 in base64"
    );
    assert_eq!(
        sha256_base64,
        base64_of_hex(&cleanup_plan::sha256_hex(&content))
    );
    let wire: Value = serde_json::from_str(&machine.poll_json()).unwrap();
    assert_eq!(wire["kind"], "s3_put");
    assert!(
        wire.get("content").is_none(),
        "bytes do not go through JSON"
    );
    assert!(
        wire.as_object()
            .unwrap()
            .keys()
            .all(|k| !k.contains("encoding")),
        "{wire}"
    );
    let key = key.to_owned();
    machine.handle(Answer::Stored(&content), 10.0);
    // Then the commit, with the lease's holder.
    let (text, params) = sql(&machine);
    assert_eq!(text, machine::COMMIT);
    assert_eq!(params[0], Param::Text(HOLDER.into()));
    let Param::Text(commit) = &params[1] else {
        panic!("{params:?}")
    };
    let commit: Value = serde_json::from_str(commit).unwrap();
    assert_eq!(
        commit["runs"],
        json!([{"id": "run-old", "guard": "g1", "key": key}])
    );
    answer_sql(
        &mut machine,
        Some(r#"{"runs": 1, "partitions_dropped": []}"#),
    );
    // Then the S3 deletes the commit queued, a page at a time.
    assert_eq!(
        sql(&machine),
        (machine::PENDING, vec![Param::Int(S3_DELETE_PAGE.into())])
    );
    answer_sql(&mut machine, Some(&pending(0, 2)));
    for i in 0..2 {
        let Io::S3Delete { bucket, key } = machine.poll() else {
            panic!("expected a delete, got {:?}", machine.poll())
        };
        assert_eq!(
            (bucket, key),
            ("dumps", format!("odoo-1/prod/{i}.dump").as_str())
        );
        machine.handle(Answer::Deleted, 10.0);
    }
    assert_eq!(
        sql(&machine),
        (
            machine::DELETED,
            vec![Param::TextArray(vec![
                "s3://dumps/odoo-1/prod/0.dump".into(),
                "s3://dumps/odoo-1/prod/1.dump".into()
            ])]
        )
    );
    answer_sql(&mut machine, Some(""));
    // Nothing left: release, then answer (no follow-up).
    expect_release_then(&mut machine);
    answer_sql(&mut machine, Some(""));
    let response = answered(&machine);
    assert_eq!(response.status, 200);
    let body = body(&response);
    assert_eq!(body["deleted"]["runs"], 1);
    assert_eq!(body["s3_objects_deleted"], 2);
    assert_eq!(body["complete"], true);
    assert_eq!(body["follow_up"], Value::Null);
    assert_eq!(body, serde_json::from_str::<Value>(&response.body).unwrap());
}

#[test]
fn a_busy_lease_is_409_and_nothing_else_happens() {
    let mut machine = invocation(b"{}");
    answer_sql(&mut machine, Some("false"));
    assert_eq!(answered(&machine), busy());
    // A lease that could not even be asked for is not released either.
    let mut machine = invocation(b"{}");
    machine.handle(
        Answer::SqlFailed {
            sqlstate: None,
            message: None,
        },
        1.0,
    );
    let response = answered(&machine);
    assert_eq!(
        (response.status, response.log.stage),
        (503, Some(Stage::Read))
    );
}

#[test]
fn a_dry_run_reads_plans_releases_and_answers_the_plan() {
    let mut machine = leased(br#"{"dry_run": true}"#);
    answer_sql(
        &mut machine,
        Some(&read(vec![run_row(
            "run-old",
            "success",
            Some("2026-01-01T10:05:00+00:00"),
        )])),
    );
    // No put, no commit, no delete.
    expect_release_then(&mut machine);
    answer_sql(&mut machine, Some(""));
    let response = answered(&machine);
    let body = body(&response);
    assert_eq!(body["dry_run"], true);
    assert_eq!(body["plan"]["delete"]["runs"], json!(["run-old"]));
    assert_eq!(body["follow_up"], Value::Null);
}

#[test]
fn every_failure_after_the_lease_releases_it_and_names_its_stage() {
    let run_old = read(vec![run_row(
        "run-old",
        "success",
        Some("2026-01-01T10:05:00+00:00"),
    )]);
    // A fresh invocation is driven this many steps of a successful run,
    // then failed there.
    let advance = |m: &mut Invocation, steps: usize| {
        for step in 0..steps {
            match step {
                0 => answer_sql(m, Some(&seed_policies())),
                1 => answer_sql(m, Some(&run_old)),
                2 => {
                    let content = m.content().to_vec();
                    m.handle(Answer::Stored(&content), 1.0);
                }
                3 => answer_sql(m, Some(r#"{"runs": 1}"#)),
                4 => answer_sql(m, Some(&pending(0, 1))),
                _ => m.handle(Answer::Deleted, 1.0),
            }
        }
    };
    let cases = [
        ("policies", Stage::Read, 0),
        ("read", Stage::Read, 1),
        ("put", Stage::Archive, 2),
        ("commit", Stage::Commit, 3),
        ("pending", Stage::S3Delete, 4),
        ("delete", Stage::S3Delete, 5),
        ("deleted", Stage::S3Delete, 6),
    ];
    for (name, stage, steps) in cases {
        for failure in [
            Answer::SqlFailed {
                sqlstate: Some("57014"),
                message: Some("canceling statement due to statement timeout"),
            },
            Answer::S3Failed,
            // An answer to an I/O that was not asked counts as a failure.
            Answer::Deleted,
        ] {
            let mut machine = invocation(b"{}");
            answer_sql(&mut machine, Some("true"));
            advance(&mut machine, steps);
            if name == "delete" && failure == Answer::Deleted {
                // The right answer to a delete, not a failure.
                continue;
            }
            machine.handle(failure, 1.0);
            expect_release_then(&mut machine);
            // Released or not, the answer is the failed stage's.
            machine.handle(
                Answer::SqlFailed {
                    sqlstate: None,
                    message: None,
                },
                1.0,
            );
            let response = answered(&machine);
            assert_eq!(response.status, 503, "{name}");
            assert_eq!(response.log.stage, Some(stage), "{name}");
            assert!(response.headers.contains(&(
                "retry-after".into(),
                function_io::RETRY_AFTER_SECONDS.to_string()
            )));
        }
    }
}

#[test]
fn an_archive_that_does_not_verify_is_never_committed() {
    let mut machine = leased(b"{}");
    answer_sql(
        &mut machine,
        Some(&read(vec![run_row(
            "run-old",
            "success",
            Some("2026-01-01T10:05:00+00:00"),
        )])),
    );
    let mut stored = machine.content().to_vec();
    stored.push(0);
    machine.handle(Answer::Stored(&stored), 1.0);
    expect_release_then(&mut machine);
    answer_sql(&mut machine, Some(""));
    let response = answered(&machine);
    assert_eq!(
        (response.status, response.log.stage),
        (503, Some(Stage::Archive))
    );
}

#[test]
fn policies_changed_under_the_read_are_read_again_with_their_bounds() {
    let mut machine = leased(b"{}");
    // Between the policy read and this read, runs went to 3 days.
    let mut changed = serde_json::from_str::<Value>(&read(vec![])).unwrap();
    let mut policies = RetentionPolicy::seed_defaults();
    for policy in &mut policies {
        if policy.target == cleanup_plan::Target::Runs {
            policy.retain_days = Some(3);
        }
    }
    changed["input"]["policies"] = serde_json::to_value(&policies).unwrap();
    let changed = changed.to_string();
    answer_sql(&mut machine, Some(&changed));
    let (text, params) = sql(&machine);
    assert_eq!(text, machine::READ, "read again, not planned");
    assert_eq!(
        params[3],
        Param::Text("2026-11-23T03:00:00.000000Z".into()),
        "with the new rule's bound"
    );
    // Now the read agrees with its bounds: it is planned.
    answer_sql(&mut machine, Some(&changed));
    assert_eq!(sql(&machine).0, machine::COMMIT, "planned and committed");

    // Policies that keep changing fail the read rather than spin.
    let mut machine = leased(b"{}");
    for round in 0.. {
        let mut flapping = serde_json::from_str::<Value>(&changed).unwrap();
        for policy in flapping["input"]["policies"].as_array_mut().unwrap() {
            if policy["target"] == "runs" {
                policy["retain_days"] = json!(4 + round);
            }
        }
        answer_sql(&mut machine, Some(&flapping.to_string()));
        if sql(&machine).0 == machine::RELEASE {
            assert_eq!(round, 3, "three rereads, then the failure");
            break;
        }
    }
    answer_sql(&mut machine, Some(""));
    let response = answered(&machine);
    assert_eq!(
        (response.status, response.log.stage),
        (503, Some(Stage::Read))
    );
}

#[test]
fn work_left_at_the_budget_is_released_then_followed_up() {
    for (follow_up, answer) in [
        ("requested", Answer::Sql(Some("42"))),
        ("unavailable", Answer::Sql(None)),
        (
            "unavailable",
            Answer::SqlFailed {
                sqlstate: Some("42883"),
                message: None,
            },
        ),
    ] {
        let mut machine = leased(b"{}");
        answer_sql(&mut machine, Some(&read(vec![])));
        // Even an empty batch commits: its checkpoints move.
        assert_eq!(sql(&machine).0, machine::COMMIT);
        answer_sql(&mut machine, Some("{}"));
        assert_eq!(sql(&machine).0, machine::PENDING);
        let page = S3_DELETE_PAGE as usize;
        answer_sql(&mut machine, Some(&pending(0, page)));
        for _ in 0..page {
            machine.handle(Answer::Deleted, 10.0);
        }
        assert_eq!(sql(&machine).0, machine::DELETED);
        // A full page within the budget: another page.
        machine.handle(Answer::Sql(Some("")), 1_000.0);
        assert_eq!(sql(&machine).0, machine::PENDING);
        answer_sql(&mut machine, Some(&pending(page, page)));
        for _ in 0..page {
            machine.handle(Answer::Deleted, 10.0);
        }
        // Another full page, but the time is spent: release, then follow up.
        machine.handle(Answer::Sql(Some("")), TIME_BUDGET_MS);
        expect_release_then(&mut machine);
        answer_sql(&mut machine, Some(""));
        assert_eq!(sql(&machine), (machine::INVOKE, vec![]));
        machine.handle(answer, TIME_BUDGET_MS);
        let body = body(&answered(&machine));
        assert_eq!(body["follow_up"], follow_up);
        assert_eq!(body["complete"], false);
        assert_eq!(body["s3_objects_deleted"], 2 * page);
    }
}

#[test]
fn a_full_batch_is_followed_by_another_read_within_the_budget() {
    let mut machine = leased(b"{}");
    // A month of events not read to its end: there is more to read.
    answer_sql(&mut machine, Some(&read_events(false)));
    while let Io::S3Put { .. } = machine.poll() {
        let content = machine.content().to_vec();
        machine.handle(Answer::Stored(&content), 1.0);
    }
    assert_eq!(sql(&machine).0, machine::COMMIT);
    answer_sql(&mut machine, Some(r#"{"run_events": 2}"#));
    answer_sql(&mut machine, Some("[]"));
    assert_eq!(
        sql(&machine),
        (machine::DELETED, vec![Param::TextArray(vec![])])
    );
    machine.handle(Answer::Sql(Some("")), 1_000.0);
    assert_eq!(sql(&machine).0, machine::READ, "the next batch");
}

#[test]
fn refusals_and_answers_after_the_end_do_no_io() {
    let mut machine = Invocation::new(&config(), "GET", &headers(""), b"", true, HOLDER, 0.0);
    assert_eq!(answered(&machine).status, 405);
    machine.handle(Answer::Sql(Some("true")), 1.0);
    assert_eq!(answered(&machine).status, 405);
    let machine = Invocation::new(
        &config(),
        "POST",
        &headers(&format!("Bearer {SECRET}")),
        b"{}",
        true,
        HOLDER,
        f64::MAX,
    );
    assert_eq!(answered(&machine).status, 503, "a clock out of range");
}
