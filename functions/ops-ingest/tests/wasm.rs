//! The bindings as the shim uses them, run in a real wasm engine.
#![cfg(target_arch = "wasm32")]

use ops_ingest::Ingest;
use serde_json::{json, Value};
use wasm_bindgen_test::wasm_bindgen_test;
use webhook_auth::{sign, SecretKey};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const NOW_MS: f64 = 1_700_000_000_000.0;
const SEED: &str = r#"{"event_type":"project_created","project_id":"odoo-42","name":"Alpha","odoo_version":"19.0"}"#;

fn parse(text: String) -> Value {
    serde_json::from_str(&text).unwrap()
}

fn decide(ingest: &Ingest, signed: bool, body: &str, complete: bool) -> Value {
    let signature = sign(
        &SecretKey::parse(SECRET).unwrap(),
        "msg_1",
        1_700_000_000,
        body.as_bytes(),
    );
    let (id, ts, sig) = if signed {
        (
            Some("msg_1".to_owned()),
            Some("1700000000".to_owned()),
            Some(signature),
        )
    } else {
        (None, None, None)
    };
    parse(ingest.decide(
        "POST",
        Some("application/json".to_owned()),
        id,
        ts,
        sig,
        body.as_bytes(),
        complete,
        NOW_MS,
    ))
}

#[wasm_bindgen_test]
fn a_signed_seed_event_becomes_a_write_and_then_a_200() {
    let ingest = Ingest::new(Some(SECRET.to_owned()));
    let decision = decide(&ingest, true, SEED, true);
    assert_eq!(decision["action"], "apply");
    assert_eq!(decision["write"]["params"][0], "msg_1");
    let response = parse(ingest.complete(
        &decision["write"].to_string(),
        r#"{"result":"applied","effect":"created"}"#,
    ));
    assert_eq!(response["status"], 200);
    assert_eq!(
        response["headers"][0],
        json!(["content-type", "application/json"])
    );
    assert_eq!(
        parse(response["body"].as_str().unwrap().to_owned())["result"],
        "created"
    );
}

#[wasm_bindgen_test]
fn refusals_are_plain_responses() {
    let ingest = Ingest::new(Some(SECRET.to_owned()));
    let unsigned = decide(&ingest, false, SEED, true);
    assert_eq!(unsigned["action"], "respond");
    assert_eq!(unsigned["response"]["status"], 401);
    let too_long = decide(&ingest, false, "{}", false);
    assert_eq!(too_long["response"]["status"], 413);
}

#[wasm_bindgen_test]
fn database_failures_and_bad_writes_are_503() {
    let ingest = Ingest::new(Some(SECRET.to_owned()));
    let decision = decide(&ingest, true, SEED, true);
    let failed = parse(ingest.database_failed(&decision["write"].to_string(), None));
    assert_eq!(failed["status"], 503);
    let unreadable = parse(ingest.complete("nope", "{}"));
    assert_eq!(unreadable["status"], 503);
}

#[wasm_bindgen_test]
fn a_missing_secret_is_503() {
    let ingest = Ingest::new(None);
    assert_eq!(decide(&ingest, true, SEED, true)["response"]["status"], 503);
}
