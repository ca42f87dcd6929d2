//! Every decision of the `ops-ingest` Edge Function.
//!
//! The function's shim moves bytes; this crate decides. A request comes in as
//! plain data ([`Request`]) together with `now`, and becomes an [`Ingestion`]:
//! a [`function_io::Machine`] that the executor polls. Its first I/O is
//! either the response, to send as it is, or one call of one transactional
//! SQL function; the executor hands the database's answer (or its failure)
//! back, and the next poll is the response. The same steps are also plain
//! functions: [`decide`] gives the [`Decision`], [`complete`] and
//! [`database_failed`] the response after the write.
//!
//! The checks run in the order that tells a sender the most without telling
//! an unauthenticated caller anything: method (405), size (413), signature
//! (401), content type (415), JSON (400), schema (422). Every refusal is an
//! RFC 9457 problem+json body; no input leads to a 500.
//!
//! ```
//! use ingest_core::{decide, Config, Decision, Request};
//! use std::collections::BTreeMap;
//!
//! let config = Config::new(Some("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
//! let headers = BTreeMap::new();
//! let request = Request { method: "POST", headers: &headers, body: b"{}", body_complete: true };
//! let Decision::Respond { response } = decide(&config, &request, 1_700_000_000) else { panic!() };
//! assert_eq!(response.status, 401);
//!
//! // The same request as a machine: its one I/O is the response.
//! use function_io::{Io, Machine};
//! let ingestion = ingest_core::Ingestion::new(&config, &request, 1_700_000_000);
//! let Io::Respond { response } = ingestion.poll() else { panic!() };
//! assert_eq!(response.status, 401);
//! ```
#![deny(missing_docs)]

mod problem;

pub use problem::Problem;

use function_io::{Answer, Io, Machine, Param};
use ops_events::OccurredAt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use webhook_auth::{DeliveryHeaders, SecretSet};

/// The largest body accepted, in bytes. The largest valid event, a user
/// event whose login and email are at their longest with every character a
/// `\u`-escaped surrogate pair, is about 6 KiB; 64 KiB leaves room for
/// future events while keeping a hostile sender from making the function
/// buffer megabytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Seconds a sender should wait before retrying when the database is away:
/// the one policy of every function.
pub use function_io::RETRY_AFTER_SECONDS;

/// The receiver's configuration, from the function's secrets.
#[derive(Clone, Debug)]
pub struct Config {
    // A broken secret is kept as an error rather than refused at start-up: the
    // function then answers 503 (Odoo keeps retrying) instead of crashing, and
    // no event is lost while the operator fixes it.
    secrets: Result<SecretSet, String>,
}

impl Config {
    /// Builds the configuration from `OPS_WEBHOOK_SECRET`: one `whsec_`
    /// secret, or several separated by spaces or commas during a rotation.
    pub fn new(webhook_secret: Option<&str>) -> Config {
        let secrets = match webhook_secret {
            None => Err("OPS_WEBHOOK_SECRET is not set".to_owned()),
            Some(text) => SecretSet::parse(text).map_err(|e| e.to_string()),
        };
        Config { secrets }
    }
}

/// One HTTP request as the shim received it.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// The HTTP method.
    pub method: &'a str,
    /// The headers, names in lower case (as the Fetch API gives them).
    pub headers: &'a BTreeMap<String, String>,
    /// The body, or its first [`MAX_BODY_BYTES`] + 1 bytes.
    pub body: &'a [u8],
    /// False when the shim stopped reading because the body was too long.
    pub body_complete: bool,
}

/// What the shim does next.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Decision {
    /// Send this response; nothing is written.
    Respond {
        /// The response.
        response: Response,
    },
    /// Run this one SQL statement, then pass its `result` column to
    /// [`complete`], or its failure to [`database_failed`].
    Apply {
        /// The statement and what the answer is about.
        write: Write,
    },
}

/// One transactional SQL function call that applies an event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Write {
    /// The statement; it returns one row with one text column, `result`.
    pub sql: String,
    /// Its parameters, in order, all text.
    pub params: Vec<String>,
    /// The delivery's `webhook-id`.
    pub webhook_id: String,
    /// The event's type.
    pub event_type: String,
    /// The project or user the event is about.
    pub subject: Subject,
}

/// What an event is about, as the answer names it: its fields are the
/// answer's, next to `webhook_id`, `event_type` and `result`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Subject {
    /// A project: `{"project_id": "odoo-42"}`.
    Project {
        /// The project's external id.
        project_id: String,
    },
    /// An Odoo user: `{"odoo_instance": "prod", "odoo_user_id": 7}`.
    OdooUser {
        /// The instance.
        odoo_instance: String,
        /// `res_users.id`.
        odoo_user_id: i32,
    },
}

impl From<ops_events::Subject<'_>> for Subject {
    fn from(subject: ops_events::Subject<'_>) -> Subject {
        match subject {
            ops_events::Subject::Project(id) => Subject::Project {
                project_id: id.as_str().to_owned(),
            },
            ops_events::Subject::OdooUser {
                odoo_instance,
                odoo_user_id,
            } => Subject::OdooUser {
                odoo_instance: odoo_instance.as_str().to_owned(),
                odoo_user_id: odoo_user_id.get(),
            },
        }
    }
}

/// An HTTP response, ready to send, with this function's log fields.
pub type Response = function_io::Response<LogFields>;

/// What the log line of one request says, besides its duration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LogFields {
    /// The `webhook-id`, once the signature proved it genuine.
    pub webhook_id: Option<String>,
    /// The event type, once the body was valid.
    pub event_type: Option<String>,
    /// A short word for what happened: `applied`, `replayed`, `invalid`, ….
    pub outcome: &'static str,
    /// The status code sent.
    pub status: u16,
    /// PostgreSQL's error code when the database refused or failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sqlstate: Option<String>,
}

// Every parameter is sent as text and cast here, so the driver never guesses
// a type (postgres.js would JSON-encode a string bound to a jsonb parameter).
const INGEST_SQL: &str =
    "select ops.ingest_event($1::text, $2::text, $3::text::jsonb, $4::text::timestamptz)::text as result";

/// Decides what to do with one request.
///
/// `now` is the receiver's clock, in Unix seconds.
pub fn decide(config: &Config, request: &Request<'_>, now: i64) -> Decision {
    match plan(config, request, now) {
        Ok(write) => Decision::Apply { write },
        Err(response) => Decision::Respond { response },
    }
}

// A refusal is the common answer, not a rare error: boxing it would only add
// an allocation to every refused request.
#[allow(clippy::result_large_err)]
fn plan(config: &Config, request: &Request<'_>, now: i64) -> Result<Write, Response> {
    let mut log = LogFields::default();
    if request.method != "POST" {
        return Err(
            Problem::method_not_allowed(request.method).respond(&mut log, "method_not_allowed")
        );
    }
    if !request.body_complete || request.body.len() > MAX_BODY_BYTES {
        return Err(Problem::too_large(MAX_BODY_BYTES).respond(&mut log, "too_large"));
    }
    let secrets = match &config.secrets {
        Ok(secrets) => secrets,
        Err(reason) => {
            return Err(Problem::misconfigured(reason).respond(&mut log, "misconfigured"))
        }
    };
    let header = |name: &str| request.headers.get(name).map(String::as_str);
    let delivery = DeliveryHeaders {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
    };
    let verified = webhook_auth::verify(secrets, &delivery, request.body, now)
        .map_err(|e| Problem::unauthorized(&e).respond(&mut log, "unauthorized"))?;
    log.webhook_id = Some(verified.id.clone());

    if !is_json_media_type(header("content-type")) {
        return Err(Problem::unsupported_media_type(header("content-type"))
            .respond(&mut log, "unsupported_media_type"));
    }
    let event = ops_events::parse_event(request.body, now).map_err(|e| match e.kind() {
        ops_events::ErrorKind::NotJson(_) => Problem::not_json(&e).respond(&mut log, "not_json"),
        _ => Problem::invalid(&e).respond(&mut log, "invalid"),
    })?;

    // The canonical form of the validated event is what the database gets;
    // the raw body's digest is what decides whether a repeat is identical.
    let event_json = event_for_database(&event).map_err(|_| {
        Problem::unavailable("the event could not be encoded").respond(&mut log, "encode_failed")
    })?;
    // The ordering key: Odoo's own date of the change or, for the seed's
    // undated project_created, the moment the sender signed the delivery.
    let occurred_at = event
        .occurred_at()
        .or_else(|| OccurredAt::from_unix(verified.timestamp))
        .map(|at| at.to_rfc3339())
        .ok_or_else(|| {
            Problem::unavailable("the event's date could not be encoded")
                .respond(&mut log, "encode_failed")
        })?;
    Ok(Write {
        sql: INGEST_SQL.to_owned(),
        params: vec![
            verified.id.clone(),
            sha256_hex(request.body),
            event_json,
            occurred_at,
        ],
        webhook_id: verified.id,
        event_type: event.event_type().to_owned(),
        subject: event.subject().into(),
    })
}

/// The event as `ops.ingest_event` reads it: the validated event and, for a
/// user event that carries a login, the match keys of its login and email
/// (`identity_map::match_key`). Rust computes them because the rule is
/// Unicode's full lowercase, which SQL's `lower()` is not; the database
/// stores them so that a person's candidates are an index lookup.
fn event_for_database(event: &ops_events::Event) -> Result<String, serde_json::Error> {
    let mut value = serde_json::to_value(event)?;
    if let (Some((login, email)), serde_json::Value::Object(object)) =
        (event.user_facts(), &mut value)
    {
        object.insert(
            "login_key".to_owned(),
            identity_map::match_key(login.as_str()).into(),
        );
        object.insert(
            "email_key".to_owned(),
            email
                .and_then(|e| identity_map::match_key(e.as_str()))
                .into(),
        );
    }
    serde_json::to_string(&value)
}

fn is_json_media_type(content_type: Option<&str>) -> bool {
    let Some(value) = content_type else {
        return false;
    };
    // Parameters such as `charset=utf-8` are allowed; the type itself is
    // case-insensitive (RFC 9110 §8.3.1).
    let essence = value.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/json")
}

fn sha256_hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let digest = Sha256::digest(bytes);
    let mut text = String::with_capacity(64);
    for byte in digest {
        // Writing to a String cannot fail.
        let _ = write!(text, "{byte:02x}");
    }
    text
}

/// What `ops.ingest_event` answers: `{"result": …, "effect": …}`, with
/// `"replayed": true` when the delivery had been applied before.
#[derive(Deserialize)]
struct Outcome {
    result: OutcomeResult,
    #[serde(default)]
    effect: Option<Effect>,
    #[serde(default)]
    replayed: bool,
}

#[derive(Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum OutcomeResult {
    /// The event changed the project or user.
    Applied,
    /// A later change of the same part of the project or user was already
    /// applied, or the user was deleted; this one is recorded and has no
    /// effect.
    Stale,
    /// The project or user is not known yet (its creation has not arrived),
    /// or another user still holds the login the event gives; the event is
    /// kept and applied when it can be.
    Deferred,
    /// The `webhook-id` was used before with a different body.
    Conflict,
}

#[derive(Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum Effect {
    Created,
    Updated,
    Archived,
    Unarchived,
    Deleted,
}

/// Turns the database's answer to a [`Write`] into the response.
pub fn complete(write: &Write, outcome: &str) -> Response {
    let mut log = LogFields {
        webhook_id: Some(write.webhook_id.clone()),
        event_type: Some(write.event_type.clone()),
        ..LogFields::default()
    };
    let outcome = match serde_json::from_str::<Outcome>(outcome) {
        Ok(outcome) => outcome,
        // The function and the database disagree on the protocol: a deploy
        // mismatch. 503 keeps the event at the sender until it is fixed.
        Err(_) => {
            return Problem::unavailable("the database answered in an unexpected form")
                .respond(&mut log, "unexpected_outcome")
        }
    };
    let (status, result) = match (outcome.result, outcome.effect) {
        (OutcomeResult::Conflict, _) => {
            return Problem::conflict(&write.webhook_id).respond(&mut log, "conflict")
        }
        (OutcomeResult::Applied, Some(effect)) => {
            (200, serde_json::to_value(effect).unwrap_or_default())
        }
        (OutcomeResult::Applied, None) => {
            return Problem::unavailable("the database answered in an unexpected form")
                .respond(&mut log, "unexpected_outcome")
        }
        (OutcomeResult::Stale, _) => (200, "stale".into()),
        // Accepted, not yet in effect: 202 says exactly that.
        (OutcomeResult::Deferred, _) => (202, "deferred".into()),
    };
    let mut body = serde_json::Map::new();
    body.insert("webhook_id".to_owned(), write.webhook_id.clone().into());
    body.insert("event_type".to_owned(), write.event_type.clone().into());
    if let Ok(serde_json::Value::Object(subject)) = serde_json::to_value(&write.subject) {
        body.extend(subject);
    }
    body.insert("result".to_owned(), result);
    let body = serde_json::Value::Object(body);
    log.outcome = match (outcome.replayed, outcome.result) {
        (true, _) => "replayed",
        (false, OutcomeResult::Stale) => "stale",
        (false, OutcomeResult::Deferred) => "deferred",
        (false, _) => "applied",
    };
    log.status = status;
    let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
    if outcome.replayed {
        headers.push(("idempotent-replayed".to_owned(), "true".to_owned()));
    }
    Response {
        status,
        headers,
        body: body.to_string(),
        log,
    }
}

/// Turns a failed [`Write`] into the response. `sqlstate` is PostgreSQL's
/// error code when the server answered, `None` when it could not be reached.
pub fn database_failed(write: &Write, sqlstate: Option<&str>) -> Response {
    let mut log = LogFields {
        webhook_id: Some(write.webhook_id.clone()),
        event_type: Some(write.event_type.clone()),
        sqlstate: sqlstate.map(|code| code.chars().take(5).collect()),
        ..LogFields::default()
    };
    match sqlstate {
        // Integrity violations (class 23) mean the database's constraints
        // refused what the validation let through: the sender cannot fix it
        // by retrying, so it is a 422 like any other invalid event.
        Some(code) if code.starts_with("23") => {
            Problem::rejected_by_database(code).respond(&mut log, "rejected_by_database")
        }
        // Everything else — unreachable, restarting, out of connections,
        // serialization failures — is transient from the sender's view: the
        // transaction rolled back, nothing was written, and a retry is safe.
        _ => Problem::unavailable("the database is unavailable; retry later")
            .respond(&mut log, "database_unavailable"),
    }
}

/// One request as a machine: [`decide`], then, for a write, the response
/// to the database's answer.
#[derive(Clone, Debug)]
pub struct Ingestion {
    state: State,
}

#[derive(Clone, Debug)]
enum State {
    /// The write is waiting for the database: its statement's parameters
    /// (moved out of the write, which keeps what the answer is about).
    Writing { write: Write, params: Vec<Param> },
    /// The response; nothing more to do.
    Done(Response),
}

impl Ingestion {
    /// Decides about one request (see [`decide`]); `now` is in Unix seconds.
    pub fn new(config: &Config, request: &Request<'_>, now: i64) -> Ingestion {
        let state = match decide(config, request, now) {
            Decision::Respond { response } => State::Done(response),
            Decision::Apply { mut write } => {
                let params = std::mem::take(&mut write.params)
                    .into_iter()
                    .map(Param::Text)
                    .collect();
                State::Writing { write, params }
            }
        };
        Ingestion { state }
    }
}

impl Machine for Ingestion {
    type Response = Response;

    fn poll(&self) -> Io<'_, Response> {
        match &self.state {
            State::Writing { write, params } => Io::Sql {
                text: &write.sql,
                params,
            },
            State::Done(response) => Io::Respond { response },
        }
    }

    fn handle(&mut self, answer: Answer<'_>, _elapsed_ms: f64) {
        // An answer after the response changes nothing.
        let State::Writing { write, .. } = &self.state else {
            return;
        };
        let response = match answer {
            // No row at all is an answer in an unexpected form, too.
            Answer::Sql(outcome) => complete(write, outcome.unwrap_or("")),
            Answer::SqlFailed { sqlstate, .. } => database_failed(write, sqlstate),
            // The executor answered an I/O this machine never asks for: a
            // bug outside this crate, answered as a retryable 503 all the same.
            Answer::Stored(_) | Answer::Deleted | Answer::S3Failed => {
                Problem::unavailable("the function's executor answered an I/O it was not asked")
                    .respond(
                        &mut LogFields {
                            webhook_id: Some(write.webhook_id.clone()),
                            event_type: Some(write.event_type.clone()),
                            ..LogFields::default()
                        },
                        "unexpected_answer",
                    )
            }
        };
        self.state = State::Done(response);
    }
}

#[cfg(test)]
mod tests;
