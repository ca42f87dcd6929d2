use super::*;
use serde_json::json;

const TOKEN: &str = "odoo-nudge-token-0123456789abcdefghijkl";
const OLD_TOKEN: &str = "odoo-nudge-token-old-0123456789abcdefgh";
// 2026-11-26T12:00:00Z.
const NOW_MS: f64 = 1_795_694_400_000.0;

fn config() -> NudgeConfig {
    NudgeConfig::new(Some(&format!("{TOKEN}|{OLD_TOKEN}")), Some("fr_FR"))
}

fn nudge_at(path: &str, body: &str) -> Nudge {
    Nudge::new(
        &config(),
        "POST",
        path,
        body.as_bytes(),
        true,
        "holder-1",
        NOW_MS,
    )
}

fn nudge(body: &str) -> Nudge {
    nudge_at(&format!("/ops-odoo-nudge/prod/{TOKEN}"), body)
}

fn sql(machine: &Nudge) -> (String, Vec<Param>) {
    match machine.poll() {
        Io::Sql { text, params } => (text.to_owned(), params.to_vec()),
        other => panic!("expected a statement, got {other:?}"),
    }
}

fn response(machine: &Nudge) -> Response {
    match machine.poll() {
        Io::Respond { response } => response.clone(),
        other => panic!("expected the answer, got {other:?}"),
    }
}

fn problem_of(machine: &Nudge) -> (u16, Value) {
    let response = response(machine);
    (
        response.status,
        serde_json::from_str(&response.body).unwrap(),
    )
}

fn answer(machine: &mut Nudge, text: &str) {
    machine.handle(Answer::Sql(Some(text)), 1.0);
}

fn queued(claims: Value) -> String {
    json!({"configured": true, "queued": true, "full": false, "ignored": null, "claims": claims})
        .to_string()
}

#[test]
fn a_wrong_or_missing_token_is_401_before_anything_else() {
    for path in [
        "/ops-odoo-nudge/prod/not-the-token-but-just-as-long-as-it-is",
        "/ops-odoo-nudge/prod",
        "/ops-odoo-nudge",
        &format!("/ops-odoo-nudge/prod/{TOKEN}x"),
        &format!("/ops-odoo-nudge/prod/{TOKEN}/more"),
        // An unknown instance with a wrong token says nothing of instances.
        "/ops-odoo-nudge/qa/wrong",
    ] {
        let machine = nudge_at(path, r#"{"_model": "project.project", "_id": 1}"#);
        let (status, body) = problem_of(&machine);
        assert_eq!(status, 401, "{path}");
        assert_eq!(body["type"], "urn:odooops:problem:unauthorized");
    }
}

#[test]
fn both_tokens_of_a_rotation_are_accepted() {
    for token in [TOKEN, OLD_TOKEN] {
        let machine = nudge_at(&format!("/functions/v1/ops-odoo-nudge/prod/{token}"), "{}");
        assert!(sql(&machine).0.contains("ops.nudge_odoo("));
    }
}

#[test]
fn no_token_or_a_short_one_configured_is_503() {
    for tokens in [
        None,
        Some(""),
        Some(" | "),
        Some("short"),
        Some(&*format!("{TOKEN}|short")),
    ] {
        let config = NudgeConfig::new(tokens, None);
        let machine = Nudge::new(
            &config,
            "POST",
            "/ops-odoo-nudge/prod/short",
            b"{}",
            true,
            "h",
            NOW_MS,
        );
        let (status, body) = problem_of(&machine);
        assert_eq!(status, 503, "{tokens:?}");
        assert!(body["detail"]
            .as_str()
            .unwrap()
            .contains("OPS_NUDGE_TOKENS"));
    }
}

#[test]
fn bad_input_is_a_4xx_naming_the_field() {
    let cases = [
        ("not json", 400, "body"),
        ("[1, 2]", 400, "body"),
        (r#"{"_id": 3}"#, 422, "_model"),
        (r#"{"_model": 7, "_id": 3}"#, 422, "_model"),
        (r#"{"_model": "project.project"}"#, 422, "_id"),
        (r#"{"_model": "project.project", "_id": 0}"#, 422, "_id"),
        (r#"{"_model": "project.project", "_id": "3"}"#, 422, "_id"),
        (r#"{"_model": "project.project", "_id": 1.5}"#, 422, "_id"),
    ];
    for (body, status, field) in cases {
        let (got, problem) = problem_of(&nudge(body));
        assert_eq!(got, status, "{body}");
        assert!(
            problem["detail"].as_str().unwrap().starts_with(field),
            "{body}: {problem}"
        );
    }
    let machine = nudge_at(&format!("/ops-odoo-nudge/qa/{TOKEN}"), "{}");
    assert_eq!(problem_of(&machine).0, 404);
    let machine = Nudge::new(
        &config(),
        "GET",
        &format!("/ops-odoo-nudge/prod/{TOKEN}"),
        b"",
        true,
        "h",
        NOW_MS,
    );
    assert_eq!(problem_of(&machine).0, 405);
    let machine = Nudge::new(
        &config(),
        "POST",
        &format!("/ops-odoo-nudge/prod/{TOKEN}"),
        b"{",
        false,
        "h",
        NOW_MS,
    );
    assert_eq!(problem_of(&machine).0, 413);
}

#[test]
fn an_unknown_model_is_ignored_without_a_statement() {
    let machine = nudge(r#"{"_model": "project.task", "_id": 12, "name": "x"}"#);
    let answer = response(&machine);
    assert_eq!(answer.status, 202);
    let body: Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(body["queued"], false);
    assert_eq!(answer.log.outcome, "ignored");
}

#[test]
fn a_nudge_queues_answers_at_once_then_rereads_by_id_and_never_uses_its_own_values() {
    let mut machine = nudge(
        r#"{"_model": "project.project", "_id": 42, "_action": "Notify(#3)", "id": 42, "name": "Forged"}"#,
    );
    let (text, params) = sql(&machine);
    assert!(text.contains("ops.nudge_odoo("));
    assert_eq!(
        params[..4],
        [
            Param::Text("prod".into()),
            Param::Text("projects".into()),
            Param::Int(42),
            Param::Text("holder-1".into())
        ]
    );
    assert_eq!(
        params[4..],
        [
            Param::Int(QUEUE_CAP),
            Param::Int(READ_INTERVAL_MS),
            Param::Int(BATCH),
            Param::Int(CLAIM_SECONDS)
        ]
    );
    answer(
        &mut machine,
        &queued(json!([{"subject": "projects", "ids": [40, 42]}])),
    );
    // Odoo waits a second at most: the 202 goes before any read.
    let Io::RespondThen { response: early } = machine.poll() else {
        panic!("expected the early answer, got {:?}", machine.poll());
    };
    assert_eq!(early.status, 202);
    let body: Value = serde_json::from_str(&early.body).unwrap();
    assert_eq!(
        body["rereading"],
        json!([{"subject": "projects", "ids": 2}])
    );
    machine.responded();

    let (text, params) = sql(&machine);
    assert!(text.contains("ops.reconcile_read($1::text"));
    assert_eq!(
        params,
        [
            Param::Text("prod".into()),
            Param::Int(39),
            Param::Int(2),
            Param::Null,
            Param::TextArray(vec!["40".into(), "42".into()])
        ]
    );
    // Odoo has 42 renamed; 40 is gone and long settled.
    answer(
        &mut machine,
        &json!({
            "odoo_projects": [{"id": 42, "name": {"en_US": "Truth"}, "active": true,
                               "write_date": "2026-11-26 11:00:00", "is_template": false}],
            "projects": [
                {"project_id": "odoo-40", "name": "Old", "odoo_version": "19.0", "active": true,
                 "deleted_at": null, "described_at": "2026-11-01T08:00:00Z", "described_by": "a",
                 "activity_at": null, "activity_by": null},
                {"project_id": "odoo-42", "name": "Before", "odoo_version": "19.0", "active": true,
                 "deleted_at": null, "described_at": "2026-11-01T08:00:00Z", "described_by": "a",
                 "activity_at": null, "activity_by": null}],
            "base_latest_version": "19.0.1.3",
            "range": {"after_id": 39, "through_id": null}
        })
        .to_string(),
    );
    let (text, params) = sql(&machine);
    assert!(text.contains("ops.reconcile_apply($1"));
    let Param::Text(changes) = &params[0] else {
        panic!()
    };
    assert!(changes.contains("Truth"), "{changes}");
    assert!(
        !changes.contains("Forged"),
        "the nudge's own values are never written"
    );
    let changes: Value = serde_json::from_str(changes).unwrap();
    let types: Vec<&str> = changes
        .as_array()
        .unwrap()
        .iter()
        .map(|change| change["event"]["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["project_deleted", "project_updated"]);
    answer(
        &mut machine,
        r#"{"applied": 2, "stale": 0, "deferred": 0, "effects": {"deleted": 1, "updated": 1}}"#,
    );
    let (text, params) = sql(&machine);
    assert!(text.contains("ops.nudge_odoo_done"));
    assert_eq!(params[1], Param::Text("projects".into()));
    assert_eq!(params[4], Param::Text("true".into()));
    answer(&mut machine, "2");
    let last = response(&machine);
    assert_eq!(last.log.outcome, "reread");
    let body: Value = serde_json::from_str(&last.body).unwrap();
    assert_eq!(body["rereads"][0]["applied"]["applied"], 2);
}

#[test]
fn odoo_away_lets_the_claim_go_writes_nothing_and_goes_on_to_the_next_model() {
    let mut machine = nudge(r#"{"_model": "res.users", "_id": 7}"#);
    answer(
        &mut machine,
        &queued(json!([{"subject": "projects", "ids": [5]}, {"subject": "users", "ids": [7]}])),
    );
    machine.responded();
    assert!(sql(&machine).0.contains("ops.reconcile_read("));
    machine.handle(
        Answer::SqlFailed {
            sqlstate: Some("08001"),
            message: None,
        },
        2.0,
    );
    let (text, params) = sql(&machine);
    assert!(
        text.contains("ops.nudge_odoo_done"),
        "no apply after a failed read: {text}"
    );
    assert_eq!(params[4], Param::Text("false".into()));
    answer(&mut machine, "0");
    let (text, params) = sql(&machine);
    assert!(text.contains("ops.reconcile_read_users("));
    assert_eq!(params[4], Param::TextArray(vec!["7".into()]));
    // Odoo has user 7 as the control plane does: nothing to apply.
    answer(
        &mut machine,
        &json!({"odoo_users": [], "users": [], "range": {"after_id": 6, "through_id": null}})
            .to_string(),
    );
    let (text, params) = sql(&machine);
    assert!(text.contains("ops.nudge_odoo_done"));
    assert_eq!(params[1], Param::Text("users".into()));
    assert_eq!(params[4], Param::Text("true".into()));
    answer(&mut machine, "1");
    let last = response(&machine);
    assert_eq!(last.log.outcome, "reread_failed");
    let body: Value = serde_json::from_str(&last.body).unwrap();
    assert!(body["rereads"][0]["error"]
        .as_str()
        .unwrap()
        .contains("08001"));
    assert!(body["rereads"][1].get("error").is_none());
}

#[test]
fn nothing_due_answers_202_at_once_and_an_unconfigured_instance_is_404() {
    let mut machine = nudge(r#"{"_model": "project.project", "_id": 9}"#);
    answer(&mut machine, &queued(json!([])));
    let answer_sent = response(&machine);
    assert_eq!(answer_sent.status, 202);
    let body: Value = serde_json::from_str(&answer_sent.body).unwrap();
    assert_eq!(body["queued"], true);

    let mut machine = nudge(r#"{"_model": "project.project", "_id": 9}"#);
    answer(&mut machine, r#"{"configured": false}"#);
    assert_eq!(problem_of(&machine).0, 404);

    let mut machine = nudge(r#"{"_model": "project.project", "_id": 9}"#);
    answer(
        &mut machine,
        r#"{"configured": true, "queued": false, "full": true, "ignored": null, "claims": []}"#,
    );
    let full = response(&machine);
    assert_eq!(full.status, 202);
    assert_eq!(full.log.outcome, "queue_full");
    assert!(full.body.contains("hourly reconcile"));
}

#[test]
fn the_control_planes_database_away_is_503_and_a_drain_names_no_record() {
    let mut machine = nudge(r#"{"_model": "project.project", "_id": 9}"#);
    machine.handle(
        Answer::SqlFailed {
            sqlstate: None,
            message: None,
        },
        1.0,
    );
    let (status, _) = problem_of(&machine);
    assert_eq!(status, 503);
    let machine = nudge("  ");
    let (_, params) = sql(&machine);
    assert_eq!((&params[1], &params[2]), (&Param::Null, &Param::Null));
}
