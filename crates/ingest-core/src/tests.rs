use super::*;
use proptest::prelude::*;
use serde_json::Value;
use webhook_auth::{sign, SecretKey};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const NOW: i64 = 1_700_000_000; // 2023-11-14T22:13:20Z
const SEED: &str = r#"{"event_type":"project_created","project_id":"odoo-42","name":"Alpha","odoo_version":"19.0"}"#;

fn signed_headers(body: &[u8], id: &str, ts: i64) -> BTreeMap<String, String> {
    let key = SecretKey::parse(SECRET).unwrap();
    BTreeMap::from([
        ("content-type".to_owned(), "application/json".to_owned()),
        ("webhook-id".to_owned(), id.to_owned()),
        ("webhook-timestamp".to_owned(), ts.to_string()),
        ("webhook-signature".to_owned(), sign(&key, id, ts, body)),
    ])
}

fn run(method: &str, headers: &BTreeMap<String, String>, body: &[u8]) -> Decision {
    let request = Request {
        method,
        headers,
        body,
        body_complete: true,
    };
    decide(&Config::new(Some(SECRET)), &request, NOW)
}

fn response(decision: Decision) -> Response {
    match decision {
        Decision::Respond { response } => response,
        Decision::Apply { write } => panic!("expected a response, got a write: {write:?}"),
    }
}

fn problem(decision: Decision) -> (u16, Value) {
    let r = response(decision);
    assert!(
        r.headers
            .contains(&("content-type".into(), "application/problem+json".into())),
        "{:?}",
        r.headers
    );
    let body: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(body["status"], r.status);
    assert!(body["type"]
        .as_str()
        .unwrap()
        .starts_with("urn:odooops:problem:"));
    assert!(!body["detail"].as_str().unwrap().is_empty());
    (r.status, body)
}

#[test]
fn the_seed_event_becomes_one_write() {
    let headers = signed_headers(SEED.as_bytes(), "msg_1", NOW);
    let Decision::Apply { write } = run("POST", &headers, SEED.as_bytes()) else {
        panic!("expected a write")
    };
    assert_eq!(write.webhook_id, "msg_1");
    assert_eq!(write.event_type, "project_created");
    assert_eq!(
        write.subject,
        Subject::Project {
            project_id: "odoo-42".into()
        }
    );
    assert_eq!(write.params[0], "msg_1");
    assert_eq!(write.params[1], sha256_hex(SEED.as_bytes()));
    let event: Value = serde_json::from_str(&write.params[2]).unwrap();
    assert_eq!(event, serde_json::from_str::<Value>(SEED).unwrap());
    assert!(write.sql.contains("ops.ingest_event"));
    // The seed's event has no date: the delivery's timestamp orders it.
    assert_eq!(write.params[3], "2023-11-14T22:13:20Z");
}

#[test]
fn a_dated_event_is_ordered_by_its_own_date() {
    let body = br#"{"event_type":"project_archived","project_id":"odoo-42","occurred_at":"2023-11-14T22:00:00.25+01:00"}"#;
    let headers = signed_headers(body, "msg_2", NOW);
    let Decision::Apply { write } = run("POST", &headers, body) else {
        panic!("expected a write")
    };
    assert_eq!(write.event_type, "project_archived");
    assert_eq!(write.params[3], "2023-11-14T21:00:00.25Z");
}

#[test]
fn the_year_as_written_counts_and_the_database_gets_utc() {
    // 2000-01-01 at +01:00 is in 1999 in UTC: accepted, as the schema's
    // pattern says, and handed to the database as UTC.
    let body = br#"{"event_type":"project_deleted","project_id":"odoo-42","occurred_at":"2000-01-01t00:00:00.123456789+01:00"}"#;
    let headers = signed_headers(body, "msg_3", NOW);
    let Decision::Apply { write } = run("POST", &headers, body) else {
        panic!("expected a write")
    };
    assert_eq!(write.params[3], "1999-12-31T23:00:00.123456789Z");
}

#[test]
fn names_the_database_refuses_are_refused_first() {
    // PostgreSQL's [[:cntrl:]] counts the line and paragraph separators; a
    // name with one must not get as far as the database's CHECK.
    for name in [
        "a\u{2028}b",
        "a\u{2029}",
        "x\u{1}",
        "\u{85}",
        "\u{a0}\u{3000}",
    ] {
        let body = serde_json::json!({
            "event_type": "project_created",
            "project_id": "odoo-42",
            "name": name,
            "odoo_version": "19.0",
        })
        .to_string();
        let headers = signed_headers(body.as_bytes(), "msg_4", NOW);
        let (status, problem) = problem(run("POST", &headers, body.as_bytes()));
        assert_eq!(status, 422, "{name:?}");
        assert_eq!(problem["errors"][0]["field"], "name", "{name:?}");
        assert_eq!(problem["errors"][0]["rule"], "pattern", "{name:?}");
    }
}

#[test]
fn the_largest_valid_event_fits_the_body_limit() {
    // Every field at its longest, every character escaped as a surrogate
    // pair: the schema's bounds keep a valid event far from the 413.
    let name = "\\udbff\\udfff".repeat(255);
    let body = format!(
        r#"{{"event_type":"project_updated","project_id":"odoo-999999999999999999","name":"{name}","odoo_version":"saas~999.99","occurred_at":"2023-11-14T22:00:00.999999999+23:59"}}"#
    );
    assert!(body.len() < MAX_BODY_BYTES / 16, "{}", body.len());
    let headers = signed_headers(body.as_bytes(), "msg_5", NOW);
    assert!(matches!(
        run("POST", &headers, body.as_bytes()),
        Decision::Apply { .. }
    ));
}

const USER_CREATED: &str = r#"{"event_type":"user_created","odoo_instance":"prod","odoo_user_id":7,"login":"Ana@Example.com","email":"ANA.Maria@Example.COM","share":false,"active":true,"occurred_at":"2023-11-14T22:00:00Z"}"#;

fn user_write(body: &str) -> Write {
    let headers = signed_headers(body.as_bytes(), "msg_u", NOW);
    match run("POST", &headers, body.as_bytes()) {
        Decision::Apply { write } => write,
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_user_event_goes_to_the_database_with_its_match_keys() {
    let write = user_write(USER_CREATED);
    assert_eq!(write.event_type, "user_created");
    assert_eq!(
        write.subject,
        Subject::OdooUser {
            odoo_instance: "prod".into(),
            odoo_user_id: 7
        }
    );
    assert_eq!(write.sql, INGEST_SQL, "user events take the same one call");
    let sent: Value = serde_json::from_str(&write.params[2]).unwrap();
    // The login and email as Odoo stores them, and their keys beside them.
    assert_eq!(sent["login"], "Ana@Example.com");
    assert_eq!(sent["login_key"], "ana@example.com");
    assert_eq!(sent["email"], "ANA.Maria@Example.COM");
    assert_eq!(sent["email_key"], "ana.maria@example.com");
    let mut event: Value = serde_json::from_str(USER_CREATED).unwrap();
    event["login_key"] = "ana@example.com".into();
    event["email_key"] = "ana.maria@example.com".into();
    assert_eq!(sent, event, "the rest is the event as it came");
    assert_eq!(write.params[3], "2023-11-14T22:00:00Z");
}

#[test]
fn the_keys_are_unicode_lowercase_and_nothing_else() {
    // Full lowercase (İ is i and a combining dot), no trimming; a null
    // email has a null key.
    let body = USER_CREATED
        .replace("Ana@Example.com", " İSTANBUL@Example.com")
        .replace(r#""ANA.Maria@Example.COM""#, "null")
        .replace("user_created", "user_updated")
        .replace(r#""active":true,"#, "");
    let sent: Value = serde_json::from_str(&user_write(&body).params[2]).unwrap();
    assert_eq!(sent["login_key"], " i\u{307}stanbul@example.com");
    assert_eq!(sent["email"], Value::Null);
    assert_eq!(sent["email_key"], Value::Null);
    assert!(sent.as_object().unwrap().contains_key("email_key"));
}

#[test]
fn events_without_a_login_carry_no_keys() {
    for event_type in ["user_archived", "user_unarchived", "user_deleted"] {
        let body = format!(
            r#"{{"event_type":"{event_type}","odoo_instance":"dev","odoo_user_id":2,"occurred_at":"2023-11-14T22:00:00Z"}}"#
        );
        let sent: Value = serde_json::from_str(&user_write(&body).params[2]).unwrap();
        assert_eq!(
            sent,
            serde_json::from_str::<Value>(&body).unwrap(),
            "{event_type}"
        );
    }
    let sent: Value = serde_json::from_str(&write().params[2]).unwrap();
    assert!(sent.get("login_key").is_none());
}

#[test]
fn a_broken_user_event_gets_422_naming_the_field_and_rule() {
    let body = USER_CREATED.replace(r#""Ana@Example.com""#, r#""""#);
    let headers = signed_headers(body.as_bytes(), "msg_u", NOW);
    let (status, problem) = problem(run("POST", &headers, body.as_bytes()));
    assert_eq!(status, 422);
    assert_eq!(problem["errors"][0]["field"], "login");
    assert_eq!(problem["errors"][0]["pointer"], "#/login");
    assert_eq!(problem["errors"][0]["rule"], "minLength");
    assert_eq!(problem["errors"].as_array().unwrap().len(), 1);
}

#[test]
fn user_outcomes_name_the_user() {
    let w = user_write(USER_CREATED);
    let outcome = r#"{"result":"applied","effect":"created","identity":{"odoo_instance":"prod","keys":["ana@example.com"],"auth_user_ids":[]}}"#;
    let applied = complete(&w, outcome);
    assert_eq!(applied.status, 200);
    let body: Value = serde_json::from_str(&applied.body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({
            "webhook_id": "msg_u",
            "event_type": "user_created",
            "odoo_instance": "prod",
            "odoo_user_id": 7,
            "result": "created",
        }),
        "the identities to re-decide are the database's, not the sender's"
    );
    for (effect, result) in [
        ("updated", "updated"),
        ("archived", "archived"),
        ("unarchived", "unarchived"),
        ("deleted", "deleted"),
    ] {
        let answer = complete(
            &w,
            &format!(r#"{{"result":"applied","effect":"{effect}"}}"#),
        );
        let body: Value = serde_json::from_str(&answer.body).unwrap();
        assert_eq!(
            (answer.status, body["result"].as_str()),
            (200, Some(result))
        );
    }
    let deferred = complete(&w, r#"{"result":"deferred"}"#);
    assert_eq!(deferred.status, 202);
    let stale = complete(&w, r#"{"result":"stale"}"#);
    assert_eq!(stale.status, 200);
    assert!(!stale.body.contains("project_id"));
}

#[test]
fn the_largest_valid_user_event_fits_the_body_limit() {
    let long = "\\udbff\\udfff".repeat(254);
    let body = format!(
        r#"{{"event_type":"user_created","odoo_instance":"staging","odoo_user_id":2147483647,"login":"{long}","email":"{long}","share":false,"active":false,"occurred_at":"2023-11-14T22:00:00.999999999+23:59"}}"#
    );
    assert!(body.len() < MAX_BODY_BYTES / 8, "{}", body.len());
    let write = user_write(&body);
    // The keys double what goes to the database, still far from any limit.
    assert!(write.params[2].len() < MAX_BODY_BYTES / 2);
}

#[test]
fn other_methods_get_405_with_allow() {
    for method in ["GET", "PUT", "DELETE", "PATCH"] {
        let r = response(run(method, &BTreeMap::new(), b""));
        assert_eq!(r.status, 405);
        assert!(r.headers.contains(&("allow".into(), "POST".into())));
    }
}

#[test]
fn an_unsigned_or_badly_signed_request_gets_401() {
    let (status, body) = problem(run("POST", &BTreeMap::new(), SEED.as_bytes()));
    assert_eq!((status, body["header"].as_str()), (401, Some("webhook-id")));

    let mut headers = signed_headers(SEED.as_bytes(), "msg_1", NOW);
    let tampered = SEED.replace("Alpha", "Alpho");
    let (status, body) = problem(run("POST", &headers, tampered.as_bytes()));
    assert_eq!(
        (status, body["header"].as_str()),
        (401, Some("webhook-signature"))
    );

    headers.insert("webhook-timestamp".into(), (NOW - 301).to_string());
    let (status, body) = problem(run("POST", &headers, SEED.as_bytes()));
    assert_eq!(
        (status, body["header"].as_str()),
        (401, Some("webhook-timestamp"))
    );
}

#[test]
fn authentication_comes_before_content_checks() {
    // An unauthenticated caller learns nothing about what would be accepted.
    let mut headers = BTreeMap::new();
    headers.insert("content-type".into(), "text/plain".into());
    let (status, _) = problem(run("POST", &headers, b"not json"));
    assert_eq!(status, 401);
}

#[test]
fn wrong_content_type_gets_415() {
    let mut headers = signed_headers(SEED.as_bytes(), "msg_1", NOW);
    headers.insert("content-type".into(), "text/plain".into());
    assert_eq!(problem(run("POST", &headers, SEED.as_bytes())).0, 415);
    headers.remove("content-type");
    assert_eq!(problem(run("POST", &headers, SEED.as_bytes())).0, 415);
    headers.insert(
        "content-type".into(),
        "Application/JSON; charset=utf-8".into(),
    );
    assert!(matches!(
        run("POST", &headers, SEED.as_bytes()),
        Decision::Apply { .. }
    ));
}

#[test]
fn a_body_that_is_not_json_gets_400() {
    let body = b"{\"event_type\": project_created";
    let headers = signed_headers(body, "msg_1", NOW);
    assert_eq!(problem(run("POST", &headers, body)).0, 400);
}

#[test]
fn a_schema_violation_gets_422_naming_every_field() {
    let body = br#"{"event_type":"project_created","project_id":"abc","odoo_version":"nineteen"}"#;
    let headers = signed_headers(body, "msg_1", NOW);
    let (status, problem) = problem(run("POST", &headers, body));
    assert_eq!(status, 422);
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["project_id", "name", "odoo_version"]);
    assert_eq!(problem["errors"][0]["rule"], "pattern");
    assert_eq!(problem["errors"][1]["rule"], "required");
}

#[test]
fn a_long_body_gets_413_before_anything_else() {
    let body = vec![b' '; MAX_BODY_BYTES + 1];
    assert_eq!(problem(run("POST", &BTreeMap::new(), &body)).0, 413);
    let truncated = Request {
        method: "POST",
        headers: &BTreeMap::new(),
        body: b"{}",
        body_complete: false,
    };
    let r = response(decide(&Config::new(Some(SECRET)), &truncated, NOW));
    assert_eq!(r.status, 413);
}

#[test]
fn a_missing_or_broken_secret_gets_503_not_500() {
    let headers = signed_headers(SEED.as_bytes(), "msg_1", NOW);
    let request = Request {
        method: "POST",
        headers: &headers,
        body: SEED.as_bytes(),
        body_complete: true,
    };
    for config in [Config::new(None), Config::new(Some("not-a-secret"))] {
        let r = response(decide(&config, &request, NOW));
        assert_eq!(r.status, 503);
        assert!(r.headers.iter().any(|(k, _)| k == "retry-after"));
        assert!(
            !r.body.contains("not-a-secret"),
            "the response must not echo the secret"
        );
    }
}

fn write() -> Write {
    let headers = signed_headers(SEED.as_bytes(), "msg_1", NOW);
    match run("POST", &headers, SEED.as_bytes()) {
        Decision::Apply { write } => write,
        other => panic!("{other:?}"),
    }
}

#[test]
fn outcomes_map_to_responses() {
    let w = write();
    let applied = complete(&w, r#"{"result":"applied","effect":"created"}"#);
    assert_eq!(applied.status, 200);
    let body: Value = serde_json::from_str(&applied.body).unwrap();
    assert_eq!(body["result"], "created");
    assert_eq!(body["project_id"], "odoo-42");
    assert_eq!(applied.log.outcome, "applied");

    let replayed = complete(
        &w,
        r#"{"result":"applied","effect":"created","replayed":true}"#,
    );
    assert_eq!(replayed.status, 200);
    assert_eq!(
        replayed.body, applied.body,
        "a replay answers like the original"
    );
    assert!(replayed
        .headers
        .contains(&("idempotent-replayed".into(), "true".into())));

    assert_eq!(complete(&w, r#"{"result":"conflict"}"#).status, 409);
    assert_eq!(complete(&w, "nonsense").status, 503);
    assert_eq!(complete(&w, r#"{"result":"applied"}"#).status, 503);

    let stale = complete(&w, r#"{"result":"stale"}"#);
    assert_eq!((stale.status, stale.log.outcome), (200, "stale"));
    assert!(stale.body.contains(r#""result":"stale""#));
    let deferred = complete(&w, r#"{"result":"deferred"}"#);
    assert_eq!((deferred.status, deferred.log.outcome), (202, "deferred"));
    let replayed_deferred = complete(&w, r#"{"result":"deferred","replayed":true}"#);
    assert_eq!(
        (replayed_deferred.status, replayed_deferred.log.outcome),
        (202, "replayed")
    );
}

#[test]
fn database_failures_are_retryable_unless_the_data_is_refused() {
    let w = write();
    for code in [
        None,
        Some("08006"),
        Some("57P01"),
        Some("53300"),
        Some("40001"),
        Some("XX000"),
    ] {
        let r = database_failed(&w, code);
        assert_eq!(r.status, 503, "{code:?}");
        assert!(r
            .headers
            .contains(&("retry-after".into(), RETRY_AFTER_SECONDS.to_string())));
    }
    assert_eq!(database_failed(&w, Some("23514")).status, 422);
}

fn ingestion(method: &str, headers: &BTreeMap<String, String>, body: &[u8]) -> Ingestion {
    let request = Request {
        method,
        headers,
        body,
        body_complete: true,
    };
    Ingestion::new(&Config::new(Some(SECRET)), &request, NOW)
}

fn responded(machine: &Ingestion) -> Response {
    match machine.poll() {
        Io::Respond { response } => response.clone(),
        other => panic!("expected the response, got {other:?}"),
    }
}

#[test]
fn the_machine_asks_for_the_one_write_then_answers() {
    let headers = signed_headers(SEED.as_bytes(), "msg_1", NOW);
    let mut machine = ingestion("POST", &headers, SEED.as_bytes());
    let Io::Sql { text, params } = machine.poll() else {
        panic!("expected the write")
    };
    assert_eq!(text, write().sql);
    assert!(text.ends_with("as result"), "the executor reads `result`");
    let expected: Vec<Param> = write().params.into_iter().map(Param::Text).collect();
    assert_eq!(params, expected.as_slice());
    // Polling again without an answer asks for the same write.
    assert!(matches!(machine.poll(), Io::Sql { .. }));
    machine.handle(
        Answer::Sql(Some(r#"{"result":"applied","effect":"created"}"#)),
        1.0,
    );
    let response = responded(&machine);
    assert_eq!(
        response,
        complete(&write(), r#"{"result":"applied","effect":"created"}"#)
    );
    // Once answered, further answers change nothing.
    machine.handle(
        Answer::SqlFailed {
            sqlstate: None,
            message: None,
        },
        2.0,
    );
    assert_eq!(responded(&machine), response);
}

#[test]
fn the_machine_answers_failures_and_strange_answers_like_the_functions() {
    let headers = signed_headers(SEED.as_bytes(), "msg_1", NOW);
    let failed = |answer: Answer<'_>| {
        let mut machine = ingestion("POST", &headers, SEED.as_bytes());
        machine.handle(answer, 0.0);
        responded(&machine)
    };
    assert_eq!(
        failed(Answer::SqlFailed {
            sqlstate: Some("23514"),
            message: Some("new row violates check constraint")
        }),
        database_failed(&write(), Some("23514"))
    );
    assert_eq!(
        failed(Answer::SqlFailed {
            sqlstate: None,
            message: None
        })
        .status,
        503
    );
    // No row, or null: the database answered in an unexpected form.
    assert_eq!(failed(Answer::Sql(None)).status, 503);
    for strange in [Answer::Deleted, Answer::S3Failed, Answer::Stored(b"x")] {
        let response = failed(strange);
        assert_eq!(response.status, 503);
        assert_eq!(response.log.outcome, "unexpected_answer");
    }
}

#[test]
fn a_refused_request_is_answered_without_any_io() {
    let headers = BTreeMap::new();
    let machine = ingestion("POST", &headers, SEED.as_bytes());
    assert_eq!(
        responded(&machine),
        response(run("POST", &headers, SEED.as_bytes()))
    );
    let json: Value = serde_json::from_str(&machine.poll_json()).unwrap();
    assert_eq!(json["kind"], "respond");
    assert_eq!(json["response"]["status"], 401);
}

#[test]
fn log_fields_never_hold_the_body_or_secret() {
    let w = write();
    let r = complete(&w, r#"{"result":"applied","effect":"created"}"#);
    let log = serde_json::to_string(&r.log).unwrap();
    assert!(!log.contains("Alpha"), "{log}");
    assert!(!log.contains("whsec_"), "{log}");
    assert!(log.contains("msg_1"));
}

proptest! {
    #[test]
    fn no_input_panics_or_answers_5xx(
        method in prop_oneof![Just("POST".to_owned()), "[A-Z]{0,8}"],
        body in proptest::collection::vec(any::<u8>(), 0..512),
        headers in proptest::collection::btree_map(
            prop_oneof![
                Just("webhook-id".to_owned()),
                Just("webhook-timestamp".to_owned()),
                Just("webhook-signature".to_owned()),
                Just("content-type".to_owned()),
            ],
            ".{0,80}",
            0..4,
        ),
        now in any::<i64>(),
    ) {
        let request = Request { method: &method, headers: &headers, body: &body, body_complete: true };
        if let Decision::Respond { response } = decide(&Config::new(Some(SECRET)), &request, now) {
            prop_assert!((400..500).contains(&response.status), "{}", response.status);
            prop_assert!(serde_json::from_str::<Value>(&response.body).is_ok());
        }
    }

    #[test]
    fn signed_garbage_gets_a_4xx_problem(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let headers = signed_headers(&body, "msg_p", NOW);
        let decision = run("POST", &headers, &body);
        if let Decision::Respond { response } = decision {
            prop_assert!(response.status == 400 || response.status == 422, "{}", response.status);
        }
    }
}
