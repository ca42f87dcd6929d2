use super::*;
use serde_json::json;

const SECRET: &str = "reconcile-secret-of-some-length";
// 2026-11-26T12:00:00Z, after every write_date below.
const NOW_MS: f64 = 1_795_694_400_000.0;

fn config() -> Config {
    Config::new(Some(SECRET), None, Some("fr_FR"))
}

fn headers(secret: &str) -> BTreeMap<String, String> {
    BTreeMap::from([("authorization".to_owned(), format!("Bearer {secret}"))])
}

fn started(body: &str) -> Reconcile {
    Reconcile::new(
        &config(),
        "POST",
        &headers(SECRET),
        body.as_bytes(),
        true,
        "holder-1",
        NOW_MS,
    )
}

/// The pending statement's text and parameters.
fn sql(machine: &Reconcile) -> (String, Vec<Param>) {
    match machine.poll() {
        Io::Sql { text, params } => (text.to_owned(), params.to_vec()),
        other => panic!("expected a statement, got {other:?}"),
    }
}

fn response(machine: &Reconcile) -> &Response {
    match machine.poll() {
        Io::Respond { response } => response,
        other => panic!("expected the answer, got {other:?}"),
    }
}

fn body(response: &Response) -> Value {
    serde_json::from_str(&response.body).unwrap()
}

fn page(odoo: Value, ops: Value, through: Option<i64>) -> String {
    json!({
        "odoo_projects": odoo,
        "projects": ops,
        "base_latest_version": "19.0.1.3",
        "range": {"after_id": 0, "through_id": through}
    })
    .to_string()
}

fn odoo(id: i64, name: &str, write_date: &str) -> Value {
    json!({"id": id, "name": {"en_US": name}, "active": true,
           "write_date": write_date, "is_template": false})
}

fn answer(machine: &mut Reconcile, text: &str, elapsed_ms: f64) {
    machine.handle(Answer::Sql(Some(text)), elapsed_ms);
}

#[test]
fn a_first_pass_reads_everything_applies_the_changes_and_records_the_watermark() {
    let mut machine = started("{}");
    let (text, params) = sql(&machine);
    assert!(text.contains("ops.reconcile_acquire"));
    assert_eq!(params[0], Param::Text("prod".into()));
    answer(&mut machine, "true", 1.0);
    assert!(sql(&machine).0.contains("ops.reconcile_status"));
    // No watermark yet: the incremental pass asked for runs full.
    answer(&mut machine, r#"{"projects_source": true}"#, 2.0);
    let (text, params) = sql(&machine);
    assert!(text.contains("ops.reconcile_read"));
    assert_eq!(params[1], Param::Int(0));
    assert_eq!(params[3], Param::Null, "a full pass has no window");
    answer(
        &mut machine,
        &page(
            json!([odoo(42, "Office", "2026-11-26 10:00:00")]),
            json!([]),
            None,
        ),
        3.0,
    );
    let (text, params) = sql(&machine);
    assert!(text.contains("ops.reconcile_apply"));
    let Param::Text(changes) = &params[0] else {
        panic!("{params:?}")
    };
    let changes: Value = serde_json::from_str(changes).unwrap();
    assert_eq!(changes[0]["event"]["event_type"], "project_created");
    assert_eq!(changes[0]["event"]["project_id"], "odoo-42");
    assert_eq!(changes[0]["occurred_at"], "2026-11-26T10:00:00.000000Z");
    answer(
        &mut machine,
        r#"{"applied": 1, "stale": 0, "deferred": 0, "effects": {"created": 1}}"#,
        4.0,
    );
    let (text, params) = sql(&machine);
    assert!(text.contains("ops.reconcile_record"));
    assert_eq!(params[1], Param::Text("full".into()));
    assert_eq!(params[2], Param::Null, "complete: nothing to resume");
    assert_eq!(params[4], Param::Text("2026-11-26T10:00:00.000000Z".into()));
    answer(&mut machine, "recorded", 5.0);
    assert!(sql(&machine).0.contains("ops.reconcile_release"));
    answer(&mut machine, "released", 6.0);
    let response = response(&machine);
    assert_eq!(response.status, 200);
    let body = body(response);
    assert_eq!(body["complete"], true);
    assert_eq!(body["mode"], "full");
    assert_eq!(body["summary"]["created"], 1);
    assert_eq!(body["applied"]["effects"]["created"], 1);
    assert_eq!(response.log.outcome, "complete");
}

#[test]
fn an_incremental_pass_reads_from_the_window_before_the_watermark() {
    let mut machine = started(r#"{"mode": "incremental"}"#);
    answer(&mut machine, "true", 1.0);
    answer(
        &mut machine,
        r#"{"projects_source": true, "watermark": "2026-11-26T10:00:00Z"}"#,
        2.0,
    );
    let (_, params) = sql(&machine);
    // The overlap covers Odoo transactions still open at the watermark.
    let start = reconcile_plan::window_start("2026-11-26T10:00:00Z".parse().unwrap());
    assert_eq!(params[3], Param::Text(start.to_string()));
    assert!(start < "2026-11-26T10:00:00Z".parse().unwrap());
}

#[test]
fn a_pass_stopped_by_its_budget_records_its_place_and_asks_for_the_next_invocation() {
    let mut machine = started(r#"{"mode": "full"}"#);
    answer(&mut machine, "true", 1.0);
    answer(
        &mut machine,
        r#"{"projects_source": true, "watermark": "2026-11-26T10:00:00Z"}"#,
        2.0,
    );
    // A full page whose project is already as Odoo has it: nothing to apply.
    let ops = json!([{"project_id": "odoo-1", "name": "A", "odoo_version": "19.0", "active": true,
                      "deleted_at": null, "described_at": "2026-11-26T09:00:00Z", "described_by": "msg_1",
                      "activity_at": null, "activity_by": null}]);
    answer(
        &mut machine,
        &page(json!([odoo(1, "A", "2026-11-26 09:00:00")]), ops, Some(1)),
        TIME_BUDGET_MS + 1.0,
    );
    let (text, params) = sql(&machine);
    assert!(text.contains("ops.reconcile_record"));
    assert_eq!(params[2], Param::Text("1".into()), "resume after id 1");
    assert!(matches!(&params[3], Param::Text(pass) if pass.contains("started_at")));
    answer(&mut machine, "recorded", 1.0);
    answer(&mut machine, "released", 1.0);
    let (text, params) = sql(&machine);
    assert!(text.contains("ops.invoke_reconcile"));
    assert_eq!(params[0], Param::Text("full".into()));
    answer(&mut machine, "17", 1.0);
    let response = response(&machine);
    assert_eq!(response.status, 200);
    assert_eq!(body(response)["complete"], false);
}

#[test]
fn a_stopped_pass_of_the_same_mode_resumes_where_it_stopped() {
    let mut machine = started(r#"{"mode": "full"}"#);
    answer(&mut machine, "true", 1.0);
    answer(
        &mut machine,
        r#"{"projects_source": true, "watermark": null, "resume_mode": "full", "resume_after": 1000,
            "resume_pass": {"started_at": "2026-11-26T11:00:00Z", "high_water": null}}"#,
        2.0,
    );
    assert_eq!(sql(&machine).1[1], Param::Int(1000));
}

#[test]
fn odoo_away_is_503_after_the_lease_is_released_and_nothing_is_recorded() {
    for sqlstate in [Some("08001"), Some("HV00N"), Some("57014"), None] {
        let mut machine = started("{}");
        answer(&mut machine, "true", 1.0);
        answer(&mut machine, r#"{"projects_source": true}"#, 2.0);
        machine.handle(
            Answer::SqlFailed {
                sqlstate,
                message: Some("could not connect to server"),
            },
            3.0,
        );
        assert!(
            sql(&machine).0.contains("ops.reconcile_release"),
            "{sqlstate:?}"
        );
        answer(&mut machine, "released", 4.0);
        let response = response(&machine);
        assert_eq!(response.status, 503);
        assert!(response
            .headers
            .iter()
            .any(|(name, _)| name == "retry-after"));
        assert_eq!(response.log.sqlstate.as_deref(), sqlstate);
        // The database's words are not the caller's.
        assert!(!response.body.contains("could not connect"));
    }
}

#[test]
fn a_dry_run_plans_without_applying_or_recording() {
    let mut machine = started(r#"{"dry_run": true, "mode": "full"}"#);
    answer(&mut machine, "true", 1.0);
    answer(&mut machine, r#"{"projects_source": true}"#, 2.0);
    answer(
        &mut machine,
        &page(
            json!([odoo(42, "Office", "2026-11-26 10:00:00")]),
            json!([]),
            None,
        ),
        3.0,
    );
    assert!(
        sql(&machine).0.contains("ops.reconcile_release"),
        "no apply, no record"
    );
    answer(&mut machine, "released", 4.0);
    let body = body(response(&machine));
    assert_eq!(body["dry_run"], true);
    assert_eq!(body["summary"]["created"], 1);
    assert_eq!(body["applied"]["applied"], 0);
}

#[test]
fn another_holder_means_409_and_nothing_else() {
    let mut machine = started("{}");
    answer(&mut machine, "false", 1.0);
    assert_eq!(response(&machine).status, 409);
}

#[test]
fn callers_without_the_secret_and_bad_bodies_are_refused_before_any_statement() {
    let cases: [(&str, BTreeMap<String, String>, &str, u16); 5] = [
        ("POST", headers("wrong"), "{}", 401),
        ("POST", BTreeMap::new(), "{}", 401),
        ("GET", headers(SECRET), "", 405),
        ("POST", headers(SECRET), r#"{"mode": "sometimes"}"#, 422),
        ("POST", headers(SECRET), "[]", 422),
    ];
    for (method, headers, body, status) in cases {
        let machine = Reconcile::new(
            &config(),
            method,
            &headers,
            body.as_bytes(),
            true,
            "h",
            NOW_MS,
        );
        let response = response(&machine);
        assert_eq!(response.status, status, "{method} {body}");
        assert_eq!(
            serde_json::from_str::<Value>(&response.body).unwrap()["status"],
            status
        );
    }
    let unconfigured = Config::new(None, None, None);
    let machine = Reconcile::new(
        &unconfigured,
        "POST",
        &headers(SECRET),
        b"{}",
        true,
        "h",
        NOW_MS,
    );
    assert_eq!(response(&machine).status, 503);
    let misconfigured = Config::new(Some(SECRET), Some("production"), None);
    let machine = Reconcile::new(
        &misconfigured,
        "POST",
        &headers(SECRET),
        b"{}",
        true,
        "h",
        NOW_MS,
    );
    assert_eq!(response(&machine).status, 503);
}

#[test]
fn an_instance_that_is_not_the_projects_source_reads_nothing() {
    let mut machine = started(r#"{"mode": "full"}"#);
    answer(&mut machine, "true", 1.0);
    answer(&mut machine, r#"{"projects_source": false}"#, 2.0);
    assert!(
        sql(&machine).0.contains("ops.reconcile_release"),
        "no page is read"
    );
    answer(&mut machine, "released", 3.0);
    let response = response(&machine);
    assert_eq!(response.status, 503);
    assert!(body(response)["detail"]
        .as_str()
        .unwrap()
        .contains("OPS_RECONCILE_INSTANCE"));
}
