//! Every decision of `ops-auth-hook`, Supabase Auth's Custom Access Token
//! hook: the person signing in gets their Odoo identities in their token.
//!
//! Auth calls the hook over HTTP before it signs an access token, with the
//! claims it is about to sign; the hook answers the claims to sign instead.
//! [`Hook`] is the machine of one call ([`function_io`] describes the
//! protocol): it checks the Standard Webhooks signature Auth puts on every
//! call, reads the part of the identity picture that concerns the person
//! (`ops.identity_neighbourhood`, one statement), lets
//! [`identity_map::decide`] say which Odoo users of which instances they are,
//! and answers every claim Auth sent, unchanged, plus one of its own:
//!
//! ```json
//! "odoo_identities": [{"odoo_instance": "prod", "odoo_user_id": 7, "odoo_login": "admin"}]
//! ```
//!
//! only the active links, sorted by instance. A person with no active link
//! gets Auth's claims back exactly as sent (an `odoo_identities` claim in
//! them, which Auth never makes, is removed: the claim means what this hook
//! decided, or nothing).
//!
//! # What the hook may do, and why
//!
//! - **It never refuses a sign-in for want of a mapping.** Most people have
//!   none. And when the database fails or times out, the answer is Auth's
//!   claims without Odoo identities: a token with fewer rights, never a
//!   sign-in refused because the control plane is slow. The log line says so
//!   (`outcome: "degraded"`).
//! - **Its answer writes nothing.** Auth calls the hook inside the
//!   sign-in's transaction, which holds the person's `auth.users` row. A
//!   write that touched that row, or checked a foreign key to it
//!   (`ops.odoo_users` has one), could wait for the sign-in that waits for
//!   the hook, until Auth's 5-second budget runs out. A plain read waits for
//!   no row lock, so the hook reads and decides; only when a decided link
//!   differs from the stored one does it store it, after the answer has gone
//!   (`respond_then`, the `store` module), when the write may wait safely.
//! - **It answers fast.** One statement, with no retry of its own: Auth
//!   retries (up to 3 attempts, each with a new `webhook-id`, within 5 s for
//!   all of them), so a slow attempt must not eat the others' time.
//! - **A refusal is for calls that are not Auth's.** A missing, stale or
//!   wrong signature is 401; a body that is not Auth's input is 400; a
//!   method other than POST is 405; a body over [`MAX_BODY_BYTES`] is 413; a
//!   missing or broken secret is 503. Each body is problem+json naming the
//!   field and the rule, and carries Auth's error object as well
//!   (`{"error": {"http_code", "message"}}`), the shape Auth reads.
#![deny(missing_docs)]

use function_io::{Answer, Io, Machine, Param};
use identity_map::{AuthUser, How, Input, Mapping};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use webhook_auth::{DeliveryHeaders, SecretSet};

mod problem;
mod store;

use problem::Problem;

/// Every function's response, with this function's log fields.
pub type Response = function_io::Response<LogFields>;

/// The claim this hook adds.
pub const CLAIM: &str = "odoo_identities";

/// The longest body read. Auth's input is the claims it is about to sign,
/// `user_metadata` included; its own limit on the hook's answer is 200 KB,
/// so a larger input could not be answered anyway.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

// Parameters are sent as text and cast here, so the driver never guesses a
// type.
const READ_SQL: &str =
    "select ops.identity_neighbourhood($1::text::uuid, $2::text)::text as result";

/// The hook's configuration, from its environment.
#[derive(Clone, Debug)]
pub struct Config {
    // A broken secret is kept as an error rather than refused at start-up,
    // so the function answers 503 with the reason instead of crashing.
    secrets: Result<SecretSet, String>,
}

impl Config {
    /// Builds the configuration from `OPS_AUTH_HOOK_SECRET`, in the form
    /// Auth's hook configuration takes: `v1,whsec_<base64>`, several
    /// separated by `|` while a secret is rotated.
    pub fn new(secret: Option<&str>) -> Config {
        let secrets = match secret {
            None => Err("OPS_AUTH_HOOK_SECRET is not set".to_owned()),
            Some(text) => {
                SecretSet::parse_auth_hook(text).map_err(|e| format!("OPS_AUTH_HOOK_SECRET: {e}"))
            }
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

/// The fields of the request's log line: no claim, no email, no secret.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LogFields {
    /// The `webhook-id`, once the signature proved it genuine.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_id: Option<String>,
    /// `mapped`, `unmapped`, `degraded`, or the refusal's kind.
    pub outcome: String,
    /// The status code sent.
    pub status: u16,
    /// How many Odoo identities the token carries.
    pub identities: usize,
    /// PostgreSQL's error code, when the read failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sqlstate: Option<String>,
    /// How many rows the store after the answer changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows: Option<usize>,
}

/// One Odoo identity, as the claim carries it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Identity {
    /// The Odoo instance: `dev`, `staging`, `prod`.
    pub odoo_instance: String,
    /// `res_users.id` in that instance.
    pub odoo_user_id: i64,
    /// `res_users.login`, as Odoo stores it.
    pub odoo_login: String,
}

/// What `ops.identity_neighbourhood` answers.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Neighbourhood {
    auth_user: Option<AuthUser>,
    input: Input,
    /// The stored links of the Odoo users decided exactly.
    stored: Vec<StoredLink>,
    /// A digest of the rest, for `ops.identity_store`'s check.
    version: String,
}

/// One Odoo user's link, as `ops.odoo_users` stores it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredLink {
    odoo_instance: String,
    odoo_user_id: i64,
    auth_user_id: Option<String>,
    link_how: Option<How>,
}

/// What one read gave.
enum Read {
    /// Read again, with the email auth.users holds.
    Again,
    /// Auth no longer has the user.
    UnknownUser,
    /// The neighbourhood and its decision.
    Decided(Box<(Neighbourhood, Mapping)>),
    /// The read failed or could not be decided; the SQLSTATE if any.
    Failed(Option<String>),
}

/// One call of the hook in progress.
#[derive(Debug)]
pub struct Hook {
    state: State,
}

#[derive(Debug)]
enum State {
    Reading(Reading),
    /// The claims are decided and a link must be stored: answer first.
    Answering {
        response: Response,
        store: [Param; 4],
    },
    /// The claims were sent; storing the links.
    Storing {
        log: LogFields,
        params: [Param; 4],
    },
    Done(Response),
}

#[derive(Debug)]
struct Reading {
    webhook_id: String,
    user_id: String,
    claims: Map<String, Value>,
    key: Option<String>,
    params: [Param; 2],
    /// Whether this is the read again with the email auth.users holds.
    again: bool,
}

impl Reading {
    fn new(webhook_id: String, user_id: String, claims: Map<String, Value>) -> Reading {
        let key = claims
            .get("email")
            .and_then(Value::as_str)
            .and_then(identity_map::match_key);
        Reading {
            params: [
                Param::Text(user_id.clone()),
                Param::text_or_null(key.clone()),
            ],
            webhook_id,
            user_id,
            claims,
            key,
            again: false,
        }
    }

    fn log(&self) -> LogFields {
        LogFields {
            webhook_id: Some(self.webhook_id.clone()),
            ..LogFields::default()
        }
    }

    /// Takes the answer to the read.
    fn read(&mut self, answer: Answer<'_>) -> Read {
        let text = match answer {
            Answer::Sql(Some(text)) => text,
            Answer::SqlFailed { sqlstate, .. } => return Read::Failed(sqlstate.map(str::to_owned)),
            // No row, or an I/O this machine never asks for answered: a bug
            // outside this crate, read as a failed read.
            Answer::Sql(None) | Answer::Stored(_) | Answer::Deleted | Answer::S3Failed => {
                return Read::Failed(None)
            }
        };
        let Ok(found) = serde_json::from_str::<Neighbourhood>(text) else {
            return Read::Failed(None);
        };
        let Some(person) = &found.auth_user else {
            return Read::UnknownUser;
        };
        let key = person.email.as_deref().and_then(identity_map::match_key);
        if key != self.key && !self.again {
            // Auth's claims had another email than auth.users holds now:
            // read the neighbourhood of the real one.
            self.params[1] = Param::text_or_null(key.clone());
            self.key = key;
            self.again = true;
            return Read::Again;
        }
        match identity_map::decide(&found.input) {
            Ok(mapping) => Read::Decided(Box::new((found, mapping))),
            Err(_) => Read::Failed(None),
        }
    }
}

impl Hook {
    /// Authenticates and reads one request; its first I/O is the read of the
    /// person's neighbourhood, or the refusal. `now` is the receiver's clock
    /// in Unix seconds.
    pub fn new(config: &Config, request: &Request<'_>, now: i64) -> Hook {
        let state = match start(config, request, now) {
            Ok(reading) => State::Reading(reading),
            Err(refusal) => State::Done(*refusal),
        };
        Hook { state }
    }
}

/// The refusal is boxed: it is the rare path, and large.
fn start(config: &Config, request: &Request<'_>, now: i64) -> Result<Reading, Box<Response>> {
    let mut log = LogFields::default();
    let refuse = |problem: Problem, log: &mut LogFields| Box::new(problem.respond(log));
    if request.method != "POST" {
        return Err(refuse(
            Problem::method_not_allowed(request.method),
            &mut log,
        ));
    }
    let secrets = match &config.secrets {
        Ok(secrets) => secrets,
        Err(reason) => return Err(refuse(Problem::misconfigured(reason), &mut log)),
    };
    if !request.body_complete || request.body.len() > MAX_BODY_BYTES {
        return Err(refuse(Problem::too_large(MAX_BODY_BYTES), &mut log));
    }
    let header = |name: &str| request.headers.get(name).map(String::as_str);
    let delivery = DeliveryHeaders {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
    };
    let verified = webhook_auth::verify(secrets, &delivery, request.body, now)
        .map_err(|e| refuse(Problem::unauthorized(&e), &mut log))?;
    log.webhook_id = Some(verified.id.clone());
    let (user_id, claims) = parse_input(request.body).map_err(|p| refuse(*p, &mut log))?;
    Ok(Reading::new(verified.id, user_id, claims))
}

/// Auth's input: `{"user_id", "claims", "authentication_method", "metadata"}`.
/// Only the two fields the answer depends on are checked; the rest is Auth's
/// business and is ignored.
fn parse_input(body: &[u8]) -> Result<(String, Map<String, Value>), Box<Problem>> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        Box::new(Problem::invalid(
            "body",
            "json",
            format!("the body is not JSON: {e}"),
        ))
    })?;
    let Value::Object(mut input) = value else {
        return Err(Box::new(Problem::invalid(
            "body",
            "type",
            "the body must be a JSON object".to_owned(),
        )));
    };
    let user_id = match input.get("user_id") {
        None => {
            return Err(Box::new(Problem::invalid(
                "user_id",
                "required",
                "is missing".into(),
            )))
        }
        Some(Value::String(id)) if is_uuid(id) => id.clone(),
        Some(_) => {
            return Err(Box::new(Problem::invalid(
                "user_id",
                "pattern",
                "must be a user id, a lowercase uuid".into(),
            )))
        }
    };
    let claims = match input.remove("claims") {
        None => {
            return Err(Box::new(Problem::invalid(
                "claims",
                "required",
                "is missing".into(),
            )))
        }
        Some(Value::Object(claims)) => claims,
        Some(_) => {
            return Err(Box::new(Problem::invalid(
                "claims",
                "type",
                "must be a JSON object".into(),
            )))
        }
    };
    // Auth makes the token for the user it names; claims about someone else
    // are not Auth's input.
    if claims.get("sub").and_then(Value::as_str) != Some(user_id.as_str()) {
        return Err(Box::new(Problem::invalid(
            "claims.sub",
            "const",
            "must be the user_id".into(),
        )));
    }
    Ok((user_id, claims))
}

fn is_uuid(text: &str) -> bool {
    let lengths = [8, 4, 4, 4, 12];
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == lengths.len()
        && groups.iter().zip(lengths).all(|(group, len)| {
            group.len() == len
                && group
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
}

/// The person's active Odoo identities in `mapping`, sorted.
pub fn identities_of(mapping: &Mapping, user_id: &str) -> Vec<Identity> {
    let mut identities: Vec<Identity> = mapping
        .links
        .iter()
        .filter(|link| link.active && link.auth_user_id == user_id)
        .map(|link| Identity {
            odoo_instance: link.odoo_instance.clone(),
            odoo_user_id: link.odoo_user_id,
            odoo_login: link.odoo_login.clone(),
        })
        .collect();
    identities.sort();
    identities
}

/// The answer: Auth's claims, with ours set or removed.
fn answer(reading: &Reading, identities: &[Identity], outcome: &str) -> Response {
    let mut claims = reading.claims.clone();
    if identities.is_empty() {
        claims.remove(CLAIM);
    } else {
        claims.insert(
            CLAIM.to_owned(),
            serde_json::to_value(identities).unwrap_or(Value::Array(Vec::new())),
        );
    }
    let mut output = Map::new();
    output.insert("claims".to_owned(), Value::Object(claims));
    let mut log = reading.log();
    log.outcome = outcome.to_owned();
    log.status = 200;
    log.identities = identities.len();
    Response {
        status: 200,
        headers: vec![("content-type".to_owned(), "application/json".to_owned())],
        // A map of JSON values always serializes.
        body: serde_json::to_string(&Value::Object(output)).unwrap_or_default(),
        log,
    }
}

impl Machine for Hook {
    type Response = Response;

    fn poll(&self) -> Io<'_, Response> {
        match &self.state {
            State::Reading(reading) => Io::Sql {
                text: READ_SQL,
                params: &reading.params,
            },
            State::Answering { response, .. } => Io::RespondThen { response },
            State::Storing { params, .. } => Io::Sql {
                text: store::STORE_SQL,
                params,
            },
            State::Done(response) => Io::Respond { response },
        }
    }

    fn responded(&mut self) {
        let state = std::mem::replace(&mut self.state, State::Done(Response::default()));
        self.state = match state {
            State::Answering { response, store } => State::Storing {
                log: LogFields {
                    rows: None,
                    ..response.log
                },
                params: store,
            },
            other => other,
        };
    }

    fn handle(&mut self, answer_: Answer<'_>, _elapsed_ms: f64) {
        let reading = match &mut self.state {
            State::Reading(reading) => reading,
            State::Storing { log, .. } => {
                self.state = State::Done(store::finished(log.clone(), answer_));
                return;
            }
            // An answer after the response changes nothing.
            State::Answering { .. } | State::Done(_) => return,
        };
        self.state = match reading.read(answer_) {
            Read::Again => return,
            // Auth asks about a user it has; if the row is gone (deleted
            // meanwhile), there is nothing to add.
            Read::UnknownUser => State::Done(answer(reading, &[], "unknown_user")),
            Read::Decided(decided) => {
                let (found, mapping) = &*decided;
                let identities = identities_of(mapping, &reading.user_id);
                let outcome = if identities.is_empty() {
                    "unmapped"
                } else {
                    "mapped"
                };
                let response = answer(reading, &identities, outcome);
                match store::plan(reading, found, mapping) {
                    Some(store) => State::Answering { response, store },
                    None => State::Done(response),
                }
            }
            Read::Failed(sqlstate) => {
                let mut response = answer(reading, &[], "degraded");
                response.log.sqlstate = sqlstate;
                State::Done(response)
            }
        };
    }
}

#[cfg(test)]
mod tests;
