//! The bindings as the executor drives them, run in a real wasm engine.

#![cfg(target_arch = "wasm32")]
// A test file, helpers included: a panic is a failing test (clippy.toml's
// allow-in-tests covers only the #[test] functions themselves).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ops_ingest::{Ingest, IngestRequest};
use serde_json::{json, Value};
use wasm_bindgen_test::wasm_bindgen_test;
use webhook_auth::{sign, SecretKey};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const NOW_MS: f64 = 1_700_000_000_000.0;
const SEED: &str = r#"{"event_type":"project_created","project_id":"odoo-42","name":"Alpha","odoo_version":"19.0"}"#;

fn parse(text: String) -> Value {
    serde_json::from_str(&text).unwrap()
}

fn request(ingest: &Ingest, signed: bool, body: &str, complete: bool) -> IngestRequest {
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
    ingest.request(
        "POST",
        Some("application/json".to_owned()),
        id,
        ts,
        sig,
        body.as_bytes(),
        complete,
        NOW_MS,
    )
}

#[wasm_bindgen_test]
fn a_signed_seed_event_becomes_a_write_and_then_a_200() {
    let ingest = Ingest::new(Some(SECRET.to_owned()));
    let mut machine = request(&ingest, true, SEED, true);
    let io = parse(machine.poll());
    assert_eq!(io["kind"], "sql");
    assert!(io["text"].as_str().unwrap().contains("ops.ingest_event"));
    assert_eq!(io["params"][0], "msg_1");
    let io = parse(machine.sql_answered(
        Some(r#"{"result":"applied","effect":"created"}"#.to_owned()),
        1.0,
    ));
    assert_eq!(io["kind"], "respond");
    let response = &io["response"];
    assert_eq!(response["status"], 200);
    assert_eq!(
        response["headers"][0],
        json!(["content-type", "application/json"])
    );
    assert_eq!(
        parse(response["body"].as_str().unwrap().to_owned())["result"],
        "created"
    );
    assert!(machine.content().is_empty(), "ingest never puts an object");
}

#[wasm_bindgen_test]
fn refusals_are_plain_responses() {
    let ingest = Ingest::new(Some(SECRET.to_owned()));
    let unsigned = parse(request(&ingest, false, SEED, true).poll());
    assert_eq!(unsigned["kind"], "respond");
    assert_eq!(unsigned["response"]["status"], 401);
    let too_long = parse(request(&ingest, false, "{}", false).poll());
    assert_eq!(too_long["response"]["status"], 413);
}

#[wasm_bindgen_test]
fn database_failures_and_strange_answers_are_503() {
    let ingest = Ingest::new(Some(SECRET.to_owned()));
    let failed = parse(request(&ingest, true, SEED, true).sql_failed(None, None, 1.0));
    assert_eq!(failed["response"]["status"], 503);
    let refused =
        parse(request(&ingest, true, SEED, true).sql_failed(Some("23514".into()), None, 1.0));
    assert_eq!(refused["response"]["status"], 422);
    let unreadable =
        parse(request(&ingest, true, SEED, true).sql_answered(Some("nope".into()), 1.0));
    assert_eq!(unreadable["response"]["status"], 503);
    let no_row = parse(request(&ingest, true, SEED, true).sql_answered(None, 1.0));
    assert_eq!(no_row["response"]["status"], 503);
    let s3 = parse(request(&ingest, true, SEED, true).s3_failed(1.0));
    assert_eq!(s3["response"]["status"], 503);
}

#[wasm_bindgen_test]
fn a_missing_secret_is_503() {
    let ingest = Ingest::new(None);
    let io = parse(request(&ingest, true, SEED, true).poll());
    assert_eq!(io["response"]["status"], 503);
}
