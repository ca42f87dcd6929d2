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

/// `ops.reconcile_status`'s answer: prod is the projects' source; the
/// phases are prod's projects (`projects`, where it stands), then the users
/// of the instances named.
fn status(projects: Value, users: &[(&str, Value)]) -> String {
    let mut phases = vec![phase("projects", "prod", projects)];
    phases.extend(
        users
            .iter()
            .map(|(instance, state)| phase("users", instance, state.clone())),
    );
    json!({"projects_source": true, "phases": phases}).to_string()
}

fn phase(subject: &str, instance: &str, state: Value) -> Value {
    let mut phase = json!({"subject": subject, "odoo_instance": instance});
    if let (Value::Object(phase), Value::Object(state)) = (&mut phase, state) {
        phase.extend(state);
    }
    phase
}

fn users_page(odoo: Value, ops: Value, through: Option<i64>) -> String {
    json!({"odoo_users": odoo, "users": ops, "range": {"after_id": 0, "through_id": through}})
        .to_string()
}

fn odoo_user(id: i64, login: &str, write_date: &str) -> Value {
    json!({"id": id, "login": login, "active": true, "share": false, "write_date": write_date,
           "partner_id": id + 100, "email": login, "partner_write_date": write_date})
}

/// Answers a projects phase that finds nothing to do and finishes.
fn projects_phase_finishes(machine: &mut Reconcile) {
    assert!(sql(machine).0.contains("ops.reconcile_read("));
    answer(machine, &page(json!([]), json!([]), None), 3.0);
    let (text, params) = sql(machine);
    assert!(text.contains("ops.reconcile_record"));
    assert_eq!(params[1], Param::Text("projects".into()));
    answer(machine, "recorded", 3.0);
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
    answer(&mut machine, &status(json!({}), &[]), 2.0);
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
    assert_eq!(params[0], Param::Text("prod".into()));
    assert_eq!(params[1], Param::Text("projects".into()));
    assert_eq!(params[2], Param::Text("full".into()));
    assert_eq!(params[3], Param::Null, "complete: nothing to resume");
    assert_eq!(params[5], Param::Text("2026-11-26T10:00:00.000000Z".into()));
    answer(&mut machine, "recorded", 5.0);
    assert!(sql(&machine).0.contains("ops.reconcile_release"));
    answer(&mut machine, "released", 6.0);
    let response = response(&machine);
    assert_eq!(response.status, 200);
    let body = body(response);
    assert_eq!(body["complete"], true);
    assert_eq!(body["mode"], "incremental", "what was asked");
    assert_eq!(body["pages"], 1);
    let phases = body["phases"].as_array().unwrap();
    assert_eq!(phases.len(), 1);
    assert_eq!(phases[0]["subject"], "projects");
    assert_eq!(phases[0]["mode"], "full", "what ran");
    assert_eq!(phases[0]["summary"]["created"], 1);
    assert_eq!(phases[0]["applied"]["effects"]["created"], 1);
    assert_eq!(response.log.outcome, "complete");
}

#[test]
fn an_incremental_pass_reads_from_the_window_before_the_watermark() {
    let mut machine = started(r#"{"mode": "incremental"}"#);
    answer(&mut machine, "true", 1.0);
    answer(
        &mut machine,
        &status(json!({"watermark": "2026-11-26T10:00:00Z"}), &[]),
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
        &status(
            json!({"watermark": "2026-11-26T10:00:00Z"}),
            &[("prod", json!({}))],
        ),
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
    assert_eq!(params[1], Param::Text("projects".into()));
    assert_eq!(params[3], Param::Text("1".into()), "resume after id 1");
    assert!(matches!(&params[4], Param::Text(pass) if pass.contains("started_at")));
    answer(&mut machine, "recorded", 1.0);
    assert!(
        sql(&machine).0.contains("ops.reconcile_release"),
        "the users' phase waits for the next invocation"
    );
    answer(&mut machine, "released", 1.0);
    let (text, params) = sql(&machine);
    assert!(text.contains("ops.invoke_reconcile"));
    assert_eq!(params[0], Param::Text("full".into()));
    answer(&mut machine, "17", 1.0);
    let response = response(&machine);
    assert_eq!(response.status, 200);
    let body = body(response);
    assert_eq!(body["complete"], false);
    assert_eq!(body["phases"].as_array().unwrap().len(), 1, "{body}");
}

#[test]
fn a_stopped_pass_of_the_same_mode_resumes_where_it_stopped() {
    let mut machine = started(r#"{"mode": "full"}"#);
    answer(&mut machine, "true", 1.0);
    answer(
        &mut machine,
        &status(
            json!({"watermark": null, "resume_mode": "full", "resume_after": 1000,
                   "resume_pass": {"started_at": "2026-11-26T11:00:00Z", "high_water": null}}),
            &[("prod", json!({}))],
        ),
        2.0,
    );
    assert_eq!(sql(&machine).1[1], Param::Int(1000));
}

#[test]
fn odoo_away_is_503_after_the_lease_is_released_and_nothing_is_recorded() {
    for sqlstate in [Some("08001"), Some("HV00N"), Some("57014"), None] {
        let mut machine = started("{}");
        answer(&mut machine, "true", 1.0);
        answer(
            &mut machine,
            &status(json!({}), &[("prod", json!({}))]),
            2.0,
        );
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
    // A resume is ignored: a dry run records nothing, so it reads from the start.
    answer(
        &mut machine,
        &status(
            json!({"resume_mode": "full", "resume_after": 1000,
                   "resume_pass": {"started_at": "2026-11-26T11:00:00Z", "high_water": null}}),
            &[],
        ),
        2.0,
    );
    assert_eq!(sql(&machine).1[1], Param::Int(0));
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
    assert_eq!(body["phases"][0]["summary"]["created"], 1);
    assert_eq!(body["phases"][0]["applied"]["applied"], 0);
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

#[test]
fn the_users_of_every_instance_follow_the_projects_each_phase_recorded_apart() {
    let mut machine = started(r#"{"mode": "incremental"}"#);
    answer(&mut machine, "true", 1.0);
    answer(
        &mut machine,
        &status(
            json!({"watermark": "2026-11-26T10:00:00Z"}),
            &[
                ("prod", json!({"watermark": "2026-11-26T09:00:00Z"})),
                ("staging", json!({})),
            ],
        ),
        2.0,
    );
    projects_phase_finishes(&mut machine);
    // prod's users: incremental from their own watermark's window.
    let (text, params) = sql(&machine);
    assert!(text.contains("ops.reconcile_read_users"));
    assert_eq!(params[0], Param::Text("prod".into()));
    let start = reconcile_plan::window_start("2026-11-26T09:00:00Z".parse().unwrap());
    assert_eq!(params[3], Param::Text(start.to_string()));
    answer(
        &mut machine,
        &users_page(
            json!([odoo_user(7, "ana@example.com", "2026-11-26T09:30:00")]),
            json!([]),
            None,
        ),
        4.0,
    );
    let (text, params) = sql(&machine);
    assert!(text.contains("ops.reconcile_apply_users"));
    assert_eq!(params[0], Param::Text("prod".into()));
    let Param::Text(changes) = &params[1] else {
        panic!("{params:?}")
    };
    let changes: Value = serde_json::from_str(changes).unwrap();
    assert_eq!(changes[0]["event"]["event_type"], "user_created");
    assert_eq!(changes[0]["event"]["login_key"], "ana@example.com");
    answer(
        &mut machine,
        r#"{"applied": 1, "stale": 0, "deferred": 0, "effects": {"created": 1},
            "identity": {"odoo_instance": "prod", "keys": ["ana@example.com"], "auth_user_ids": []}}"#,
        5.0,
    );
    let (text, params) = sql(&machine);
    assert!(text.contains("ops.reconcile_record"));
    assert_eq!(params[0], Param::Text("prod".into()));
    assert_eq!(params[1], Param::Text("users".into()));
    assert_eq!(params[2], Param::Text("incremental".into()));
    answer(&mut machine, "recorded", 6.0);
    // staging's users: never reconciled, so a full pass.
    let (text, params) = sql(&machine);
    assert!(text.contains("ops.reconcile_read_users"));
    assert_eq!(params[0], Param::Text("staging".into()));
    assert_eq!(params[3], Param::Null, "a full pass has no window");
    answer(&mut machine, &users_page(json!([]), json!([]), None), 7.0);
    let (_, params) = sql(&machine);
    assert_eq!(params[0], Param::Text("staging".into()));
    assert_eq!(params[2], Param::Text("full".into()));
    answer(&mut machine, "recorded", 8.0);
    answer(&mut machine, "released", 9.0);
    let body = body(response(&machine));
    assert_eq!(body["complete"], true, "{body}");
    assert_eq!(body["pages"], 3);
    let phases: Vec<(Value, Value, Value)> = body["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["subject"].clone(),
                p["odoo_instance"].clone(),
                p["mode"].clone(),
            )
        })
        .collect();
    assert_eq!(
        phases,
        [
            (json!("projects"), json!("prod"), json!("incremental")),
            (json!("users"), json!("prod"), json!("incremental")),
            (json!("users"), json!("staging"), json!("full")),
        ]
    );
    assert_eq!(body["phases"][1]["summary"]["created"], 1);
    assert_eq!(body["phases"][1]["applied"]["effects"]["created"], 1);
}

#[test]
fn another_instance_away_fails_its_phase_only_and_the_round_goes_on() {
    let mut machine = started(r#"{"mode": "full"}"#);
    answer(&mut machine, "true", 1.0);
    answer(
        &mut machine,
        &status(
            json!({}),
            &[
                ("prod", json!({})),
                ("dev", json!({})),
                ("staging", json!({})),
            ],
        ),
        2.0,
    );
    projects_phase_finishes(&mut machine);
    assert_eq!(sql(&machine).1[0], Param::Text("prod".into()));
    answer(&mut machine, &users_page(json!([]), json!([]), None), 3.0);
    answer(&mut machine, "recorded", 3.0);
    // dev's Odoo is down: nothing of dev is recorded, staging runs.
    assert_eq!(sql(&machine).1[0], Param::Text("dev".into()));
    machine.handle(
        Answer::SqlFailed {
            sqlstate: Some("08001"),
            message: Some("could not connect to server"),
        },
        4.0,
    );
    let (text, params) = sql(&machine);
    assert!(text.contains("ops.reconcile_read_users"), "{text}");
    assert_eq!(params[0], Param::Text("staging".into()));
    answer(&mut machine, &users_page(json!([]), json!([]), None), 5.0);
    let (_, params) = sql(&machine);
    assert_eq!(
        params[0],
        Param::Text("staging".into()),
        "staging is recorded"
    );
    answer(&mut machine, "recorded", 6.0);
    answer(&mut machine, "released", 7.0);
    let response = response(&machine);
    assert_eq!(response.status, 200);
    assert_eq!(response.log.outcome, "partial");
    let body = body(response);
    assert_eq!(body["complete"], false);
    assert_eq!(body["phases"][2]["complete"], false);
    assert!(body["phases"][2]["error"]
        .as_str()
        .unwrap()
        .contains("users of instance dev: Odoo's database cannot be reached"));
    assert!(!response.body.contains("could not connect"));
    assert_eq!(body["phases"][3]["complete"], true);
}

#[test]
fn the_projects_instance_away_in_its_users_phase_is_503() {
    let mut machine = started("{}");
    answer(&mut machine, "true", 1.0);
    answer(
        &mut machine,
        &status(
            json!({"watermark": "2026-11-26T10:00:00Z"}),
            &[("prod", json!({}))],
        ),
        2.0,
    );
    projects_phase_finishes(&mut machine);
    machine.handle(
        Answer::SqlFailed {
            sqlstate: Some("08006"),
            message: None,
        },
        4.0,
    );
    assert!(sql(&machine).0.contains("ops.reconcile_release"));
    answer(&mut machine, "released", 5.0);
    assert_eq!(response(&machine).status, 503);
}

#[test]
fn a_round_resumes_at_the_phase_that_stopped_and_a_stop_in_it_asks_for_more() {
    let mut machine = started(r#"{"mode": "full"}"#);
    answer(&mut machine, "true", 1.0);
    let resume = json!({"watermark": "2026-11-26T08:00:00Z", "resume_mode": "full", "resume_after": 2000,
                        "resume_pass": {"started_at": "2026-11-26T11:00:00Z", "high_water": null}});
    // The projects finished in this round's first invocation; prod's users
    // stopped at id 2000.
    answer(
        &mut machine,
        &status(
            json!({"watermark": "2026-11-26T10:00:00Z"}),
            &[("prod", resume), ("staging", json!({}))],
        ),
        2.0,
    );
    let (text, params) = sql(&machine);
    assert!(text.contains("ops.reconcile_read_users"), "{text}");
    assert_eq!(params[1], Param::Int(2000));
    // A full page of one user already as Odoo has it, past the budget.
    let ops = json!([{"odoo_user_id": 2001, "odoo_login": "ana@example.com", "odoo_email": "ana@example.com",
                      "share": false, "active": true, "deleted_at": null,
                      "odoo_changed_at": "2026-11-26T09:30:00Z", "facts_at": "2026-11-26T09:30:00Z",
                      "facts_by": "msg_1", "activity_at": null, "activity_by": null}]);
    answer(
        &mut machine,
        &json!({"odoo_users": [odoo_user(2001, "ana@example.com", "2026-11-26T09:30:00")],
                "users": ops, "range": {"after_id": 2000, "through_id": 2001}})
        .to_string(),
        TIME_BUDGET_MS + 1.0,
    );
    let (text, params) = sql(&machine);
    assert!(text.contains("ops.reconcile_record"), "{text}");
    assert_eq!(params[1], Param::Text("users".into()));
    assert_eq!(params[3], Param::Text("2001".into()));
    answer(&mut machine, "recorded", 1.0);
    answer(&mut machine, "released", 1.0);
    let (text, params) = sql(&machine);
    assert!(text.contains("ops.invoke_reconcile"));
    assert_eq!(params[0], Param::Text("full".into()));
    answer(&mut machine, "18", 1.0);
    let body = body(response(&machine));
    assert_eq!(body["complete"], false);
    let phases = body["phases"].as_array().unwrap();
    assert_eq!(phases.len(), 1, "only the phase it ran: {body}");
    assert_eq!(phases[0]["odoo_instance"], "prod");
    assert_eq!(phases[0]["subject"], "users");
    assert_eq!(phases[0]["summary"]["unchanged"], 1, "{body}");
}

#[test]
fn a_resume_of_the_other_mode_starts_the_round_afresh() {
    let mut machine = started(r#"{"mode": "full"}"#);
    answer(&mut machine, "true", 1.0);
    let resume = json!({"watermark": "2026-11-26T08:00:00Z", "resume_mode": "incremental", "resume_after": 2000,
                        "resume_pass": {"started_at": "2026-11-26T11:00:00Z", "high_water": null}});
    answer(
        &mut machine,
        &status(
            json!({"watermark": "2026-11-26T10:00:00Z"}),
            &[("prod", resume)],
        ),
        2.0,
    );
    let (text, params) = sql(&machine);
    assert!(text.contains("ops.reconcile_read("), "{text}");
    assert_eq!(params[1], Param::Int(0));
}

#[test]
fn a_state_that_does_not_start_with_the_projects_is_503_before_any_read() {
    for text in [
        r#"{"projects_source": true, "phases": []}"#,
        r#"{"projects_source": true, "phases": [{"subject": "users", "odoo_instance": "prod"}]}"#,
        r#"{"projects_source": true, "phases": [{"subject": "projects", "odoo_instance": "dev"}]}"#,
        r#"{"projects_source": true, "phases": [{"subject": "tasks", "odoo_instance": "prod"}]}"#,
        "not json",
    ] {
        let mut machine = started("{}");
        answer(&mut machine, "true", 1.0);
        answer(&mut machine, text, 2.0);
        assert!(sql(&machine).0.contains("ops.reconcile_release"), "{text}");
        answer(&mut machine, "released", 3.0);
        assert_eq!(response(&machine).status, 503, "{text}");
    }
}

#[test]
fn a_page_is_read_under_the_agreement_of_the_base_version_the_last_page_saw() {
    let mut machine = started(r#"{"mode": "full"}"#);
    answer(&mut machine, "true", 1.0);
    answer(&mut machine, &status(json!({}), &[]), 2.0);
    let (_, params) = sql(&machine);
    assert_eq!(params[2], Param::Int(i64::from(PROJECTS_PAGE_SIZE)));
    assert_eq!(
        params[4],
        Param::Null,
        "the first page: no series known yet"
    );
    // The read left 4,000 agreeing pairs out of a full page and sent one.
    let mut first: Value = serde_json::from_str(&page(
        json!([odoo(7, "Seven", "2026-11-26 09:00:00")]),
        json!([]),
        Some(5000),
    ))
    .unwrap();
    first["agreed"] = json!({"count": 4000, "latest_write_date": "2026-11-26 10:30:00"});
    answer(&mut machine, &first.to_string(), 3.0);
    assert!(sql(&machine).0.contains("ops.reconcile_apply"));
    answer(
        &mut machine,
        r#"{"applied": 1, "stale": 0, "deferred": 0, "effects": {"created": 1}}"#,
        4.0,
    );
    let (text, params) = sql(&machine);
    assert!(text.contains("ops.reconcile_read"), "{text}");
    assert_eq!(params[1], Param::Int(5000));
    let Param::Text(agreement) = &params[4] else {
        panic!("{params:?}")
    };
    assert_eq!(
        serde_json::from_str::<Value>(agreement).unwrap(),
        json!({"language": "fr_FR", "series": "19.0", "base_latest_version": "19.0.1.3",
               "now": "2026-11-26T12:00:00.000000Z"})
    );
    answer(&mut machine, &page(json!([]), json!([]), None), 5.0);
    let (_, params) = sql(&machine);
    // The agreed rows count as read: unchanged, and in the watermark.
    assert_eq!(params[5], Param::Text("2026-11-26T10:30:00.000000Z".into()));
    answer(&mut machine, "recorded", 6.0);
    answer(&mut machine, "released", 7.0);
    let body = body(response(&machine));
    assert_eq!(body["phases"][0]["summary"]["unchanged"], 4000);
    assert_eq!(body["phases"][0]["summary"]["created"], 1);
}
