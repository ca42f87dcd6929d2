use super::*;
use proptest::prelude::*;
use serde_json::json;

const SECRET: &str = "v1,whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const OTHER: &str = "v1,whsec_dGhpcyBpcyB0aGUgb3RoZXIgc2VjcmV0IGtleQ==";
const NOW: i64 = 1_795_000_000;
const ME: &str = "7d0c6a3e-0000-4000-8000-000000000001";
const RIVAL: &str = "7d0c6a3e-0000-4000-8000-000000000002";

fn claims() -> Value {
    json!({
        "iss": "http://127.0.0.1:54321/auth/v1", "aud": "authenticated",
        "exp": 1_795_003_600, "iat": 1_795_000_000, "sub": ME,
        "email": "Ana@Example.com", "phone": "", "role": "authenticated", "aal": "aal1",
        "session_id": "5b1c0e8e-0000-4000-8000-00000000000a", "is_anonymous": false,
        "amr": [{"method": "password", "timestamp": 1_795_000_000}],
        "app_metadata": {"provider": "email", "providers": ["email"]},
        "user_metadata": {"full_name": "Ana"}
    })
}

fn body_with(claims: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "metadata": {"uuid": "0e4b0000-0000-4000-8000-000000000000", "name": "customize-access-token"},
        "user_id": ME,
        "claims": claims,
        "authentication_method": "password"
    }))
    .unwrap()
}

fn signed(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> BTreeMap<String, String> {
    let set = SecretSet::parse_auth_hook(secret).unwrap();
    let signature = set
        .keys()
        .iter()
        .map(|key| webhook_auth::sign(key, id, timestamp, body))
        .collect::<Vec<_>>()
        .join(", ");
    [
        ("content-type", "application/json".to_owned()),
        ("webhook-id", id.to_owned()),
        ("webhook-timestamp", timestamp.to_string()),
        ("webhook-signature", signature),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

fn hook(config: &str, headers: &BTreeMap<String, String>, body: &[u8]) -> Hook {
    let config = Config::new(Some(config));
    let request = Request {
        method: "POST",
        headers,
        body,
        body_complete: true,
    };
    Hook::new(&config, &request, NOW)
}

fn started(body: &[u8]) -> Hook {
    hook(SECRET, &signed(SECRET, "msg_1", NOW, body), body)
}

fn response(hook: &Hook) -> &Response {
    match hook.poll() {
        Io::Respond { response } => response,
        other => panic!("expected a response, got {other:?}"),
    }
}

fn body_json(response: &Response) -> Value {
    serde_json::from_str(&response.body).unwrap()
}

fn neighbourhood(odoo_users: Value, auth_users: Value, decisions: Value) -> String {
    let me = auth_users
        .as_array()
        .and_then(|users| users.iter().find(|u| u["id"] == ME))
        .cloned()
        .unwrap_or(Value::Null);
    json!({
        "auth_user": me,
        "input": {"odoo_users": odoo_users, "auth_users": auth_users, "decisions": decisions},
        "stored": [],
        "version": "v1"
    })
    .to_string()
}

fn odoo(instance: &str, id: i64, login: &str, active: bool) -> Value {
    json!({"odoo_instance": instance, "odoo_user_id": id, "login": login,
           "email": null, "active": active, "share": false, "deleted": false})
}

fn me(email: &str, confirmed: bool) -> Value {
    json!({"id": ME, "email": email, "email_confirmed": confirmed})
}

#[test]
fn a_valid_call_reads_the_neighbourhood_of_the_claims_email() {
    let body = body_with(claims());
    let hook = started(&body);
    match hook.poll() {
        Io::Sql { text, params } => {
            assert!(text.contains("ops.identity_neighbourhood"), "{text}");
            // The email's match key: Unicode lowercase, nothing else.
            assert_eq!(
                params,
                [
                    Param::Text(ME.into()),
                    Param::Text("ana@example.com".into())
                ]
            );
        }
        other => panic!("expected the read, got {other:?}"),
    }
}

#[test]
fn a_mapped_person_gets_every_claim_unchanged_plus_their_active_identities() {
    let body = body_with(claims());
    let mut hook = started(&body);
    let found = neighbourhood(
        json!([
            odoo("prod", 7, "Ana@Example.com", true),
            odoo("dev", 2, "ana@example.com", true),
            // Archived in staging: the link is kept but names no identity.
            odoo("staging", 3, "ana@example.com", false)
        ]),
        json!([me("ana@example.com", true)]),
        json!([]),
    );
    hook.handle(Answer::Sql(Some(&found)), 3.0);
    let response = response(&hook);
    assert_eq!(response.status, 200);
    assert_eq!(
        response.headers,
        [("content-type".to_owned(), "application/json".to_owned())]
    );
    let mut expected = claims();
    expected[CLAIM] = json!([
        {"odoo_instance": "dev", "odoo_user_id": 2, "odoo_login": "ana@example.com"},
        {"odoo_instance": "prod", "odoo_user_id": 7, "odoo_login": "Ana@Example.com"}
    ]);
    assert_eq!(body_json(response), json!({"claims": expected}));
    assert_eq!(response.log.outcome, "mapped");
    assert_eq!(response.log.identities, 2);
    assert_eq!(response.log.webhook_id.as_deref(), Some("msg_1"));
}

#[test]
fn a_person_without_a_mapping_gets_auths_claims_back_exactly() {
    for found in [
        // No Odoo user at all.
        neighbourhood(json!([]), json!([me("ana@example.com", true)]), json!([])),
        // An Odoo user with the address, but the address is not confirmed.
        neighbourhood(
            json!([odoo("prod", 7, "ana@example.com", true)]),
            json!([me("ana@example.com", false)]),
            json!([]),
        ),
        // Ambiguous: another confirmed person has the same address up to case.
        neighbourhood(
            json!([odoo("prod", 7, "ana@example.com", true)]),
            json!([me("ana@example.com", true),
                   {"id": RIVAL, "email": "ANA@example.com", "email_confirmed": true}]),
            json!([]),
        ),
        // An admin unlinked the pair.
        neighbourhood(
            json!([odoo("prod", 7, "ana@example.com", true)]),
            json!([me("ana@example.com", true)]),
            json!([{"odoo_instance": "prod", "odoo_user_id": 7, "auth_user_id": ME, "kind": "unlink"}]),
        ),
    ] {
        let body = body_with(claims());
        let mut hook = started(&body);
        hook.handle(Answer::Sql(Some(&found)), 3.0);
        let response = response(&hook);
        assert_eq!(response.status, 200);
        assert_eq!(body_json(response), json!({"claims": claims()}), "{found}");
        assert_eq!(response.log.outcome, "unmapped");
    }
}

#[test]
fn an_odoo_identities_claim_the_hook_did_not_decide_is_removed() {
    let mut forged = claims();
    forged[CLAIM] = json!([{"odoo_instance": "prod", "odoo_user_id": 1, "odoo_login": "admin"}]);
    let body = body_with(forged);
    let mut hook = started(&body);
    hook.handle(
        Answer::Sql(Some(&neighbourhood(
            json!([]),
            json!([me("ana@example.com", true)]),
            json!([]),
        ))),
        1.0,
    );
    assert_eq!(body_json(response(&hook)), json!({"claims": claims()}));
}

#[test]
fn an_admins_link_names_the_identity_whatever_the_emails_say() {
    let body = body_with(claims());
    let mut hook = started(&body);
    let found = neighbourhood(
        json!([odoo("prod", 1, "admin", true)]),
        json!([me("ana@example.com", false)]),
        json!([{"odoo_instance": "prod", "odoo_user_id": 1, "auth_user_id": ME, "kind": "link"}]),
    );
    hook.handle(Answer::Sql(Some(&found)), 1.0);
    let claims = &body_json(response(&hook))["claims"];
    assert_eq!(
        claims[CLAIM],
        json!([{"odoo_instance": "prod", "odoo_user_id": 1, "odoo_login": "admin"}])
    );
}

#[test]
fn when_auth_users_holds_another_email_the_hook_reads_again_with_it() {
    let body = body_with(claims());
    let mut hook = started(&body);
    let found = neighbourhood(json!([]), json!([me("Bea@Example.com", true)]), json!([]));
    hook.handle(Answer::Sql(Some(&found)), 1.0);
    match hook.poll() {
        Io::Sql { params, .. } => assert_eq!(params[1], Param::Text("bea@example.com".into())),
        other => panic!("expected a second read, got {other:?}"),
    }
    let found = neighbourhood(
        json!([odoo("prod", 9, "bea@example.com", true)]),
        json!([me("Bea@Example.com", true)]),
        json!([]),
    );
    hook.handle(Answer::Sql(Some(&found)), 2.0);
    let claims = &body_json(response(&hook))["claims"];
    assert_eq!(claims[CLAIM][0]["odoo_user_id"], 9);
    // Still Auth's claims: the email claim is Auth's to set, not ours.
    assert_eq!(claims["email"], "Ana@Example.com");
}

#[test]
fn a_read_that_fails_gives_the_sign_in_its_claims_without_identities() {
    let answers: [(Answer<'_>, Option<&str>); 4] = [
        (
            Answer::SqlFailed {
                sqlstate: Some("57014"),
                message: Some("canceling statement due to statement timeout"),
            },
            Some("57014"),
        ),
        (
            Answer::SqlFailed {
                sqlstate: None,
                message: None,
            },
            None,
        ),
        (Answer::Sql(None), None),
        (Answer::Sql(Some("{\"not\": \"the shape\"}")), None),
    ];
    for (answer, sqlstate) in answers {
        let body = body_with(claims());
        let mut hook = started(&body);
        hook.handle(answer, 4.0);
        let response = response(&hook);
        assert_eq!(response.status, 200);
        assert_eq!(body_json(response), json!({"claims": claims()}));
        assert_eq!(response.log.outcome, "degraded");
        assert_eq!(response.log.sqlstate.as_deref(), sqlstate);
    }
}

#[test]
fn a_user_auth_no_longer_has_gets_the_claims_unchanged() {
    let body = body_with(claims());
    let mut hook = started(&body);
    hook.handle(
        Answer::Sql(Some(
            r#"{"auth_user": null, "input": {"odoo_users": [], "auth_users": []}, "stored": [], "version": "v"}"#,
        )),
        1.0,
    );
    let response = response(&hook);
    assert_eq!(body_json(response), json!({"claims": claims()}));
    assert_eq!(response.log.outcome, "unknown_user");
}

fn refusal(hook: &Hook) -> (u16, Value) {
    let response = response(hook);
    assert!(response.headers.contains(&(
        "content-type".to_owned(),
        "application/problem+json".to_owned()
    )));
    let body = body_json(response);
    assert_eq!(body["status"], response.status);
    assert_eq!(body["error"]["http_code"], response.status);
    assert!(body["error"]["message"]
        .as_str()
        .is_some_and(|m| !m.is_empty()));
    (response.status, body)
}

#[test]
fn calls_not_signed_by_auth_are_refused_with_the_header_named() {
    let body = body_with(claims());
    let good = signed(SECRET, "msg_1", NOW, &body);
    let cases: Vec<(&str, BTreeMap<String, String>)> = vec![
        ("wrong secret", signed(OTHER, "msg_1", NOW, &body)),
        ("stale", signed(SECRET, "msg_1", NOW - 301, &body)),
        ("future", signed(SECRET, "msg_1", NOW + 301, &body)),
        ("other id", {
            let mut h = good.clone();
            h.insert("webhook-id".into(), "msg_2".into());
            h
        }),
        ("no signature", {
            let mut h = good.clone();
            h.remove("webhook-signature");
            h
        }),
    ];
    for (case, headers) in cases {
        let (status, problem) = refusal(&hook(SECRET, &headers, &body));
        assert_eq!(status, 401, "{case}");
        assert_eq!(problem["rule"], "signature", "{case}");
        assert!(
            problem["field"]
                .as_str()
                .is_some_and(|f| f.starts_with("webhook-")),
            "{case}"
        );
    }
    // The body changed after signing.
    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    let (status, _) = refusal(&hook(SECRET, &good, &tampered));
    assert_eq!(status, 401);
}

#[test]
fn either_of_two_configured_secrets_verifies_during_a_rotation() {
    let body = body_with(claims());
    let both = format!("{SECRET}|{OTHER}");
    for signer in [SECRET, OTHER, both.as_str()] {
        let hook = hook(&both, &signed(signer, "msg_1", NOW, &body), &body);
        assert!(matches!(hook.poll(), Io::Sql { .. }), "{signer}");
    }
}

#[test]
fn a_body_that_is_not_auths_input_is_refused_naming_the_field() {
    let cases: [(&[u8], &str, &str); 7] = [
        (b"not json", "body", "json"),
        (b"[]", "body", "type"),
        (br#"{"claims": {}}"#, "user_id", "required"),
        (br#"{"user_id": "ME", "claims": {}}"#, "user_id", "pattern"),
        (br#"{"user_id": "7d0c6a3e-0000-4000-8000-000000000001"}"#, "claims", "required"),
        (br#"{"user_id": "7d0c6a3e-0000-4000-8000-000000000001", "claims": []}"#, "claims", "type"),
        (
            br#"{"user_id": "7d0c6a3e-0000-4000-8000-000000000001", "claims": {"sub": "7d0c6a3e-0000-4000-8000-000000000002"}}"#,
            "claims.sub",
            "const",
        ),
    ];
    for (body, field, rule) in cases {
        let (status, problem) = refusal(&started(body));
        assert_eq!(status, 400, "{field}");
        assert_eq!(problem["field"], field);
        assert_eq!(problem["rule"], rule);
    }
}

#[test]
fn other_methods_oversized_bodies_and_missing_secrets_are_refused() {
    let body = body_with(claims());
    let headers = signed(SECRET, "msg_1", NOW, &body);
    let config = Config::new(Some(SECRET));
    let get = Hook::new(
        &config,
        &Request {
            method: "GET",
            headers: &headers,
            body: &[],
            body_complete: true,
        },
        NOW,
    );
    assert_eq!(refusal(&get).0, 405);
    let long = Hook::new(
        &config,
        &Request {
            method: "POST",
            headers: &headers,
            body: &body,
            body_complete: false,
        },
        NOW,
    );
    assert_eq!(refusal(&long).0, 413);
    for config in [
        Config::new(None),
        Config::new(Some("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")),
    ] {
        let hook = Hook::new(
            &config,
            &Request {
                method: "POST",
                headers: &headers,
                body: &body,
                body_complete: true,
            },
            NOW,
        );
        let (status, problem) = refusal(&hook);
        assert_eq!(status, 503);
        assert!(problem["detail"]
            .as_str()
            .unwrap()
            .contains("OPS_AUTH_HOOK_SECRET"));
        // The configured value never reaches the answer.
        assert!(!response(&hook).body.contains("MfKQ9r8"));
        assert!(response(&hook)
            .headers
            .iter()
            .any(|(name, _)| name == "retry-after"));
    }
}

proptest! {
    #[test]
    fn any_signed_body_gets_an_answer_and_never_a_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let hook = started(&body);
        match hook.poll() {
            Io::Respond { response } => prop_assert_eq!(response.status, 400),
            Io::Sql { .. } => {}
            other => prop_assert!(false, "unexpected {:?}", other),
        }
    }

    #[test]
    fn any_database_answer_gives_the_claims_back(text in ".{0,256}") {
        let body = body_with(claims());
        let mut hook = started(&body);
        hook.handle(Answer::Sql(Some(&text)), 1.0);
        let response = response(&hook);
        prop_assert_eq!(response.status, 200);
        prop_assert_eq!(&body_json(response)["claims"]["sub"], ME);
    }
}

// The store, after the answer.

fn with_stored(found: &str, stored: Value) -> String {
    let mut value: Value = serde_json::from_str(found).unwrap();
    value["stored"] = stored;
    value.to_string()
}

fn ended(hook: &Hook) -> &LogFields {
    match hook.poll() {
        Io::Respond { response } => &response.log,
        other => panic!("expected the end, got {other:?}"),
    }
}

#[test]
fn links_that_differ_from_the_stored_ones_are_stored_after_the_answer() {
    let found = neighbourhood(
        json!([
            odoo("prod", 7, "ana@example.com", true),
            odoo("dev", 2, "ana@example.com", false)
        ]),
        json!([me("ana@example.com", true)]),
        json!([]),
    );
    let stored = json!([
        {"odoo_instance": "dev", "odoo_user_id": 2, "auth_user_id": ME, "link_how": "automatic"},
        {"odoo_instance": "prod", "odoo_user_id": 7, "auth_user_id": null, "link_how": null}
    ]);
    let body = body_with(claims());
    let mut hook = started(&body);
    hook.handle(Answer::Sql(Some(&with_stored(&found, stored))), 1.0);
    // The answer goes first, with the active identity only.
    match hook.poll() {
        Io::RespondThen { response } => {
            assert_eq!(response.status, 200);
            assert_eq!(body_json(response)["claims"][CLAIM][0]["odoo_user_id"], 7);
        }
        other => panic!("expected the answer first, got {other:?}"),
    }
    // Nothing is written before the executor says the answer was sent.
    hook.handle(Answer::Sql(Some("{}")), 2.0);
    assert!(matches!(hook.poll(), Io::RespondThen { .. }));
    hook.responded();
    match hook.poll() {
        Io::Sql { text, params } => {
            assert!(text.contains("ops.identity_store"), "{text}");
            assert_eq!(params[0], Param::Text(ME.into()));
            assert_eq!(params[1], Param::Text("ana@example.com".into()));
            assert_eq!(params[2], Param::Text("v1".into()));
            let Param::Text(links) = &params[3] else {
                panic!("{params:?}")
            };
            // Every row of `stored`, as decided: the archived user keeps its
            // (inactive) link, the other gains one.
            assert_eq!(
                serde_json::from_str::<Value>(links).unwrap(),
                json!([
                    {"odoo_instance": "dev", "odoo_user_id": 2, "auth_user_id": ME, "link_how": "automatic"},
                    {"odoo_instance": "prod", "odoo_user_id": 7, "auth_user_id": ME, "link_how": "automatic"}
                ])
            );
        }
        other => panic!("expected the write, got {other:?}"),
    }
    hook.handle(Answer::Sql(Some(r#"{"result": "stored", "rows": 1}"#)), 3.0);
    let log = ended(&hook);
    assert_eq!(log.outcome, "stored");
    assert_eq!(log.rows, Some(1));
    assert_eq!(log.webhook_id.as_deref(), Some("msg_1"));
}

#[test]
fn when_the_stored_links_are_the_decided_ones_the_answer_is_all() {
    let found = neighbourhood(
        json!([odoo("prod", 7, "ana@example.com", true)]),
        json!([me("ana@example.com", true), {"id": RIVAL, "email": "Ana@example.com", "email_confirmed": true}]),
        json!([]),
    );
    // Ambiguous, and stored as linked to no one: nothing to do.
    let stored = json!([{"odoo_instance": "prod", "odoo_user_id": 7, "auth_user_id": null, "link_how": null}]);
    let body = body_with(claims());
    let mut hook = started(&body);
    hook.handle(Answer::Sql(Some(&with_stored(&found, stored))), 1.0);
    assert_eq!(ended(&hook).outcome, "unmapped");
}

#[test]
fn a_store_that_finds_the_neighbourhood_changed_or_failing_ends_without_a_retry() {
    let found = neighbourhood(
        json!([odoo("prod", 7, "ana@example.com", true)]),
        json!([me("ana@example.com", true)]),
        json!([]),
    );
    let stored = json!([{"odoo_instance": "prod", "odoo_user_id": 7, "auth_user_id": null, "link_how": null}]);
    for (answer, outcome, sqlstate) in [
        (
            Answer::Sql(Some(r#"{"result": "changed"}"#)),
            "changed",
            None,
        ),
        (
            Answer::SqlFailed {
                sqlstate: Some("55P03"),
                message: None,
            },
            "store_failed",
            Some("55P03"),
        ),
        (Answer::Sql(None), "store_failed", None),
    ] {
        let body = body_with(claims());
        let mut hook = started(&body);
        hook.handle(Answer::Sql(Some(&with_stored(&found, stored.clone()))), 1.0);
        hook.responded();
        hook.handle(answer, 2.0);
        let log = ended(&hook);
        assert_eq!(log.outcome, outcome);
        assert_eq!(log.sqlstate.as_deref(), sqlstate);
    }
}
