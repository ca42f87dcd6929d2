//! The bindings as the executor drives them, run in a real wasm engine.

#![cfg(target_arch = "wasm32")]
// A test file, helpers included: a panic is a failing test (clippy.toml's
// allow-in-tests covers only the #[test] functions themselves).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ops_auth_hook::{AuthHook, HookRequest};
use serde_json::{json, Value};
use wasm_bindgen_test::wasm_bindgen_test;
use webhook_auth::{sign, SecretSet};

const SECRET: &str = "v1,whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const NOW_MS: f64 = 1_700_000_000_000.0;
const ME: &str = "7d0c6a3e-0000-4000-8000-000000000001";

fn parse(text: String) -> Value {
    serde_json::from_str(&text).unwrap()
}

fn body() -> String {
    json!({"user_id": ME, "claims": {"sub": ME, "email": "ana@example.com", "role": "authenticated"}})
        .to_string()
}

fn request(hook: &AuthHook, signed: bool, body: &str) -> HookRequest {
    let secrets = SecretSet::parse_auth_hook(SECRET).unwrap();
    let signature = sign(&secrets.keys()[0], "msg_1", 1_700_000_000, body.as_bytes());
    hook.request(
        "POST",
        Some("msg_1".to_owned()),
        Some("1700000000".to_owned()),
        signed.then_some(signature),
        body.as_bytes(),
        true,
        NOW_MS,
    )
}

#[wasm_bindgen_test]
fn a_signed_call_reads_answers_the_claims_then_stores_the_link() {
    let hook = AuthHook::new(Some(SECRET.to_owned()));
    let mut machine = request(&hook, true, &body());
    let io = parse(machine.poll());
    assert_eq!(io["kind"], "sql");
    assert!(io["text"]
        .as_str()
        .unwrap()
        .contains("ops.identity_neighbourhood"));
    assert_eq!(io["params"], json!([ME, "ana@example.com"]));
    let found = json!({
        "auth_user": {"id": ME, "email": "ana@example.com", "email_confirmed": true},
        "input": {
            "odoo_users": [{"odoo_instance": "prod", "odoo_user_id": 7, "login": "ana@example.com",
                            "email": null, "active": true, "share": false, "deleted": false}],
            "auth_users": [{"id": ME, "email": "ana@example.com", "email_confirmed": true}],
            "decisions": []
        },
        "stored": [{"odoo_instance": "prod", "odoo_user_id": 7, "auth_user_id": null, "link_how": null}],
        "version": "v1"
    });
    // The link is not stored yet: the claims go first, the store after.
    let io = parse(machine.sql_answered(Some(found.to_string()), 1.0));
    assert_eq!(io["kind"], "respond_then");
    let response = &io["response"];
    assert_eq!(response["status"], 200);
    let answer = parse(response["body"].as_str().unwrap().to_owned());
    assert_eq!(answer["claims"]["role"], "authenticated");
    assert_eq!(
        answer["claims"]["odoo_identities"],
        json!([{"odoo_instance": "prod", "odoo_user_id": 7, "odoo_login": "ana@example.com"}])
    );
    assert!(
        machine.content().is_empty(),
        "the hook never puts an object"
    );
}

#[wasm_bindgen_test]
fn an_unsigned_call_is_refused_without_a_read() {
    let hook = AuthHook::new(Some(SECRET.to_owned()));
    let io = parse(request(&hook, false, &body()).poll());
    assert_eq!(io["kind"], "respond");
    assert_eq!(io["response"]["status"], 401);
}

#[wasm_bindgen_test]
fn a_failed_read_still_answers_the_claims() {
    let hook = AuthHook::new(Some(SECRET.to_owned()));
    let mut machine = request(&hook, true, &body());
    let io = parse(machine.sql_failed(Some("57014".to_owned()), None, 2000.0));
    assert_eq!(io["response"]["status"], 200);
    let answer = parse(io["response"]["body"].as_str().unwrap().to_owned());
    assert_eq!(
        answer["claims"],
        json!({"sub": ME, "email": "ana@example.com", "role": "authenticated"})
    );
}
