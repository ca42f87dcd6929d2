//! The bindings as the shim uses them, run in a real wasm engine.
#![cfg(target_arch = "wasm32")]

use ops_ingest::Ingest;
use serde_json::{json, Value};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::wasm_bindgen_test;
use webhook_auth::{sign, SecretKey};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const NOW_MS: f64 = 1_700_000_000_000.0;
const SEED: &str = r#"{"event_type":"project_created","project_id":"odoo-42","name":"Alpha","odoo_version":"19.0"}"#;

// Plain objects, as the shim passes them (the default would make JS Maps).
fn js(value: &Value) -> JsValue {
    use serde::Serialize;
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .unwrap()
}

fn rust(value: JsValue) -> Value {
    serde_wasm_bindgen::from_value(value).unwrap()
}

fn signed(body: &str) -> JsValue {
    let signature = sign(
        &SecretKey::parse(SECRET).unwrap(),
        "msg_1",
        1_700_000_000,
        body.as_bytes(),
    );
    js(&json!({
        "content-type": "application/json",
        "webhook-id": "msg_1",
        "webhook-timestamp": "1700000000",
        "webhook-signature": signature,
    }))
}

#[wasm_bindgen_test]
fn a_signed_seed_event_becomes_a_write_and_then_a_200() {
    let ingest = Ingest::new(Some(SECRET.to_owned()));
    let decision = ingest.decide("POST", signed(SEED), SEED.as_bytes(), true, NOW_MS);
    let plain = rust(decision.clone());
    assert_eq!(plain["action"], "apply");
    assert_eq!(plain["write"]["params"][0], "msg_1");
    let write = js(&plain["write"]);
    let response = rust(ingest.complete(write, r#"{"result":"applied","effect":"created"}"#));
    assert_eq!(response["status"], 200);
    assert_eq!(
        response["headers"][0],
        json!(["content-type", "application/json"])
    );
}

#[wasm_bindgen_test]
fn refusals_are_plain_responses() {
    let ingest = Ingest::new(Some(SECRET.to_owned()));
    let unsigned = rust(ingest.decide("POST", js(&json!({})), SEED.as_bytes(), true, NOW_MS));
    assert_eq!(unsigned["action"], "respond");
    assert_eq!(unsigned["response"]["status"], 401);

    let too_long = rust(ingest.decide("POST", js(&json!({})), b"{}", false, NOW_MS));
    assert_eq!(too_long["response"]["status"], 413);

    // Headers that are not an object of strings do not throw.
    let odd = rust(ingest.decide(
        "POST",
        JsValue::from_f64(3.0),
        SEED.as_bytes(),
        true,
        NOW_MS,
    ));
    assert_eq!(odd["response"]["status"], 401);
}

#[wasm_bindgen_test]
fn database_failures_and_bad_writes_are_503() {
    let ingest = Ingest::new(Some(SECRET.to_owned()));
    let plain = rust(ingest.decide("POST", signed(SEED), SEED.as_bytes(), true, NOW_MS));
    let failed = rust(ingest.database_failed(js(&plain["write"]), None));
    assert_eq!(failed["status"], 503);
    let unreadable = rust(ingest.complete(JsValue::from_str("nope"), "{}"));
    assert_eq!(unreadable["status"], 503);
}

#[wasm_bindgen_test]
fn a_missing_secret_is_503() {
    let ingest = Ingest::new(None);
    let plain = rust(ingest.decide("POST", signed(SEED), SEED.as_bytes(), true, NOW_MS));
    assert_eq!(plain["response"]["status"], 503);
}
