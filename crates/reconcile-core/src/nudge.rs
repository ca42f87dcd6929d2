//! Every decision of `ops-odoo-nudge`: Odoo 19's native webhook ("Send
//! Webhook Notification") taken as a hint to re-read, never as data.
//!
//! Odoo posts `{"_model": "project.project", "_id": 42, "_action": …}` plus
//! any fields the rule selects, once, unsigned, with a one-second timeout,
//! to `…/ops-odoo-nudge/<instance>/<token>`. [`Nudge`] is the machine:
//!
//! 1. The token is compared in constant time with each of
//!    `OPS_NUDGE_TOKENS` (`|`-separated, so one can be rotated in while the
//!    old one still works; each at least [`MIN_TOKEN_CHARS`] characters); a
//!    wrong one is 401, and nothing else is looked at first.
//! 2. `_model` `project.project` nudges the projects, `res.users` the users;
//!    any other model is answered 202 and ignored, without a statement. A
//!    body `{}` only drains the queue. Every other field of the body is
//!    ignored: a nudge never writes its own values.
//! 3. `ops.nudge_odoo` queues `(model, _id)` (coalesced per record, at most
//!    [`QUEUE_CAP`] records per instance) and claims what is due: per model,
//!    at most [`BATCH`] ids, only if that model was not read in the last
//!    [`READ_INTERVAL_MS`]. The answer, 202, goes at once (Odoo waits one
//!    second at most).
//! 4. After it, per claim: read those ids from Odoo and the control plane
//!    (`ops.reconcile_read` / `ops.reconcile_read_users` with the ids: by
//!    primary key), plan them as a full pass of the reconcile plans that id
//!    range ([`reconcile_plan`], so the ordering rule, archiving and
//!    deletion are the reconcile's), apply, and let the queue go
//!    (`ops.nudge_odoo_done`). Odoo away: the claim is let go, and the
//!    records are read again at the next due nudge or by the hourly
//!    reconcile.
//!
//! **The bound**: whatever the number of nudges, Odoo's database sees at
//! most one read of `project_project` and one of `res_users` (with those
//! users' `res_partner` rows, by id) per instance per [`READ_INTERVAL_MS`],
//! each of at most [`BATCH`] ids by primary key. Records nudged while the
//! slot is taken wait in the queue for the next nudge after it, or for the
//! hourly reconcile, which reads them by `write_date` anyway.

use super::{plan_page, problem, too_large, Applied, LogFields, PageContext, Response, Subject};
use super::{APPLY_SQL, APPLY_USERS_SQL};
use function_io::{Answer, Io, Machine, Param};
use ops_values::Environment;
use reconcile_plan::{Mode, Timestamp};
use serde::Deserialize;
use serde_json::{json, Value};
use subtle::ConstantTimeEq;

/// The shortest token accepted: 32 characters (the README makes 43, 256
/// random bits in base64url).
pub const MIN_TOKEN_CHARS: usize = 32;
/// Records queued per instance at most; past it a nudge is dropped, and the
/// hourly reconcile repairs its record.
pub const QUEUE_CAP: i64 = 10_000;
/// The least time between two reads of one model of one instance.
pub const READ_INTERVAL_MS: i64 = 1_000;
/// Ids per read at most.
pub const BATCH: i64 = 1_000;
/// How long a claim holds before another invocation may take its ids.
pub const CLAIM_SECONDS: i64 = 60;
/// The largest body read: Odoo's payload with a few selected fields.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

const NUDGE_SQL: &str = "select ops.nudge_odoo($1::text, $2::text, $3::bigint, $4::text, $5::int, $6::int, $7::int, $8::int) as result";
const READ_SQL: &str = "select ops.reconcile_read($1::text, $2::bigint, $3::int, $4::text::timestamptz, $5::text[]::bigint[]) as result";
const READ_USERS_SQL: &str = "select ops.reconcile_read_users($1::text, $2::bigint, $3::int, $4::text::timestamptz, $5::text[]::bigint[]) as result";
const DONE_SQL: &str = "select ops.nudge_odoo_done($1::text, $2::text, $3::text, $4::text[]::bigint[], $5::text::boolean)::text as result";

/// `OPS_NUDGE_TOKENS` and `OPS_RECONCILE_LANGUAGE`, checked once.
#[derive(Clone, Debug)]
pub struct NudgeConfig {
    tokens: Result<Vec<String>, String>,
    language: String,
}

impl NudgeConfig {
    /// The tokens as set (`|`-separated), and the language of the mirrored
    /// project names (`en_US` unless set), as ops-reconcile takes it.
    pub fn new(tokens: Option<&str>, language: Option<&str>) -> NudgeConfig {
        let listed: Vec<String> = tokens
            .unwrap_or("")
            .split('|')
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .map(str::to_owned)
            .collect();
        let tokens = if listed.is_empty() {
            Err("the function is not configured: OPS_NUDGE_TOKENS must be set".to_owned())
        } else if listed
            .iter()
            .any(|token| token.chars().count() < MIN_TOKEN_CHARS)
        {
            Err(format!(
                "the function is misconfigured: every token in OPS_NUDGE_TOKENS must be at least {MIN_TOKEN_CHARS} characters"
            ))
        } else {
            Ok(listed)
        };
        NudgeConfig {
            tokens,
            language: language
                .map(str::trim)
                .filter(|text| !text.is_empty())
                .unwrap_or(reconcile_plan::FALLBACK_LANGUAGE)
                .to_owned(),
        }
    }
}

/// What `ops.nudge_odoo` answers.
#[derive(Deserialize)]
struct Queued {
    configured: bool,
    #[serde(default)]
    queued: bool,
    #[serde(default)]
    full: bool,
    #[serde(default)]
    ignored: Option<String>,
    #[serde(default)]
    claims: Vec<Claim>,
}

#[derive(Deserialize, Clone, Debug)]
struct Claim {
    subject: Subject,
    ids: Vec<i64>,
}

/// What the re-read of one claim came to, for the log's last line.
#[derive(Debug, Default)]
struct Reread {
    summary: Value,
    applied: Applied,
    error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Queue,
    Read,
    Apply,
    Done,
}

/// One nudge in progress.
#[derive(Debug)]
pub struct Nudge {
    pending: Result<(Step, Vec<Param>), Response>,
    /// Sent with `RespondThen` before the re-reads.
    accepted: Option<Response>,
    instance: Option<Environment>,
    holder: String,
    language: String,
    now: Timestamp,
    claims: Vec<Claim>,
    current: usize,
    rereads: Vec<Reread>,
}

fn accepted(body: Value, outcome: &str) -> Response {
    Response {
        status: 202,
        headers: vec![("content-type".to_owned(), "application/json".to_owned())],
        body: body.to_string(),
        log: LogFields {
            outcome: outcome.to_owned(),
            status: 202,
            ..LogFields::default()
        },
    }
}

impl Nudge {
    /// Checks and starts one nudge. `path` is the request URL's path
    /// (`/ops-odoo-nudge/<instance>/<token>`), `holder` a random claim
    /// holder, `now_ms` `Date.now()`.
    pub fn new(
        config: &NudgeConfig,
        method: &str,
        path: &str,
        body: &[u8],
        body_complete: bool,
        holder: &str,
        now_ms: f64,
    ) -> Nudge {
        let mut nudge = Nudge {
            pending: Err(Response::default()),
            accepted: None,
            instance: None,
            holder: holder.to_owned(),
            language: config.language.clone(),
            now: Timestamp::from_unix_micros((now_ms * 1000.0) as i64).unwrap_or(Timestamp::MIN),
            claims: Vec::new(),
            current: 0,
            rereads: Vec::new(),
        };
        nudge.pending = match check(config, method, path, body, body_complete) {
            Err(response) => Err(response),
            Ok(Checked::Ignored { instance, model }) => Err(accepted(
                json!({"odoo_instance": instance.as_str(), "model": model, "queued": false,
                       "reason": "only project.project and res.users are re-read; this model is ignored"}),
                "ignored",
            )),
            Ok(Checked::Nudged { instance, record }) => {
                nudge.instance = Some(instance);
                Ok((
                    Step::Queue,
                    vec![
                        Param::Text(instance.as_str().to_owned()),
                        Param::text_or_null(record.map(|(kind, _)| kind.name().to_owned())),
                        record.map_or(Param::Null, |(_, id)| Param::Int(id)),
                        Param::Text(nudge.holder.clone()),
                        Param::Int(QUEUE_CAP),
                        Param::Int(READ_INTERVAL_MS),
                        Param::Int(BATCH),
                        Param::Int(CLAIM_SECONDS),
                    ],
                ))
            }
        };
        nudge
    }

    fn instance(&self) -> &'static str {
        self.instance.map_or("", |instance| instance.as_str())
    }

    fn queued(&mut self, queued: Queued) -> Result<(Step, Vec<Param>), Response> {
        if !queued.configured {
            return Err(problem(
                404,
                "unknown-instance",
                "Unknown Odoo instance",
                &format!(
                    "path: the Odoo instance {} is not configured (ops.configure_odoo_instance)",
                    self.instance()
                ),
                LogFields::default(),
            ));
        }
        let mut body = json!({
            "odoo_instance": self.instance(),
            "queued": queued.queued,
            "rereading": queued.claims.iter().map(|claim| json!({
                "subject": claim.subject.name(), "ids": claim.ids.len()
            })).collect::<Vec<_>>(),
        });
        if let Value::Object(object) = &mut body {
            let reason = if queued.full {
                Some(format!(
                    "the queue holds {QUEUE_CAP} records of this instance: this nudge is dropped, and the hourly reconcile repairs its record"
                ))
            } else {
                queued.ignored
            };
            if let Some(reason) = reason {
                object.insert("reason".to_owned(), Value::String(reason));
            }
        }
        let outcome = if queued.full { "queue_full" } else { "queued" };
        self.claims = queued.claims;
        if self.claims.is_empty() {
            return Err(accepted(body, outcome));
        }
        self.accepted = Some(accepted(body, outcome));
        Ok(self.read())
    }

    fn ids(&self) -> Vec<String> {
        self.claims
            .get(self.current)
            .map(|claim| claim.ids.iter().map(i64::to_string).collect())
            .unwrap_or_default()
    }

    fn read(&mut self) -> (Step, Vec<Param>) {
        let claim = self.claims.get(self.current);
        let ids = claim.map_or(&[][..], |claim| &claim.ids[..]);
        let after = ids.iter().min().map_or(0, |min| min - 1);
        (
            Step::Read,
            vec![
                Param::Text(self.instance().to_owned()),
                Param::Int(after),
                Param::Int(ids.len() as i64),
                Param::Null,
                Param::TextArray(self.ids()),
            ],
        )
    }

    fn done(&mut self, read: bool) -> (Step, Vec<Param>) {
        let subject = self
            .claims
            .get(self.current)
            .map_or("", |claim| claim.subject.name());
        (
            Step::Done,
            vec![
                Param::Text(self.instance().to_owned()),
                Param::Text(subject.to_owned()),
                Param::Text(self.holder.clone()),
                Param::TextArray(self.ids()),
                Param::Text(read.to_string()),
            ],
        )
    }

    fn failed(&mut self, detail: &str) -> (Step, Vec<Param>) {
        self.rereads.push(Reread {
            error: Some(detail.to_owned()),
            ..Reread::default()
        });
        self.done(false)
    }

    /// Plans the claim's read as a full pass over exactly those ids.
    fn plan(&mut self, text: &str) -> (Step, Vec<Param>) {
        let (Some(claim), Some(instance)) = (self.claims.get(self.current), self.instance) else {
            return self.failed("the nudge lost its place");
        };
        let planned = plan_page(
            claim.subject,
            text,
            &PageContext {
                instance,
                mode: Mode::Full,
                watermark: None,
                pass: None,
                now: self.now,
                language: &self.language,
            },
        );
        match planned {
            Err(detail) => self.failed(&detail),
            Ok(planned) => {
                self.rereads.push(Reread {
                    summary: planned.counts.json(),
                    ..Reread::default()
                });
                match planned.apply {
                    Some(params) => (Step::Apply, params),
                    None => self.done(true),
                }
            }
        }
    }

    fn next_claim(&mut self) -> Result<(Step, Vec<Param>), Response> {
        self.current += 1;
        if self.current < self.claims.len() {
            Ok(self.read())
        } else {
            Err(self.report())
        }
    }

    /// The last line, logged after the 202 went.
    fn report(&self) -> Response {
        let failed = self.rereads.iter().any(|reread| reread.error.is_some());
        let rereads: Vec<Value> = self
            .claims
            .iter()
            .zip(&self.rereads)
            .map(|(claim, reread)| {
                let mut line = json!({
                    "subject": claim.subject.name(),
                    "ids": claim.ids.len(),
                    "summary": reread.summary,
                    "applied": reread.applied,
                });
                if let (Some(error), Value::Object(object)) = (&reread.error, &mut line) {
                    object.insert("error".to_owned(), Value::String(error.clone()));
                }
                line
            })
            .collect();
        let mut response = accepted(
            json!({"odoo_instance": self.instance(), "rereads": rereads}),
            if failed { "reread_failed" } else { "reread" },
        );
        response.log.pages = self.rereads.len() as u32;
        response
    }
}

enum Checked {
    Ignored {
        instance: Environment,
        model: String,
    },
    Nudged {
        instance: Environment,
        record: Option<(Subject, i64)>,
    },
}

fn check(
    config: &NudgeConfig,
    method: &str,
    path: &str,
    body: &[u8],
    body_complete: bool,
) -> Result<Checked, Response> {
    let log = LogFields::default;
    if method != "POST" {
        return Err(problem(
            405,
            "method-not-allowed",
            "Method not allowed",
            "send POST",
            log(),
        ));
    }
    let tokens = match &config.tokens {
        Ok(tokens) => tokens,
        Err(detail) => {
            return Err(problem(
                503,
                "unavailable",
                "Temporarily unavailable",
                detail,
                log(),
            ))
        }
    };
    // The segments after the function's name: <instance>/<token>.
    let mut segments = path.split('/').filter(|segment| !segment.is_empty());
    let _ = segments
        .by_ref()
        .find(|segment| *segment == "ops-odoo-nudge");
    let (instance, presented, rest) = (segments.next(), segments.next(), segments.next());
    // Every token is compared, whichever matches, so the time taken does not
    // say which one did.
    let presented = presented.unwrap_or("");
    let matches = tokens.iter().fold(subtle::Choice::from(0), |found, token| {
        found | presented.as_bytes().ct_eq(token.as_bytes())
    });
    if !bool::from(matches) || rest.is_some() {
        return Err(problem(
            401,
            "unauthorized",
            "Unauthorized",
            "path: expected /ops-odoo-nudge/<instance>/<one of OPS_NUDGE_TOKENS>",
            log(),
        ));
    }
    let instance = match instance.map(Environment::parse) {
        Some(Ok(instance)) => instance,
        _ => {
            return Err(problem(
                404,
                "unknown-instance",
                "Unknown Odoo instance",
                "path: the instance is dev, staging or prod",
                log(),
            ))
        }
    };
    if !body_complete || body.len() > MAX_BODY_BYTES {
        return Err(too_large(MAX_BODY_BYTES));
    }
    let value: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(body).map_err(|error| {
            problem(
                400,
                "malformed-body",
                "Malformed body",
                &format!("body: expected Odoo's webhook JSON object: {error}"),
                log(),
            )
        })?
    };
    let Value::Object(object) = value else {
        return Err(problem(
            400,
            "malformed-body",
            "Malformed body",
            "body: expected Odoo's webhook JSON object",
            log(),
        ));
    };
    let invalid = |detail: &str| problem(422, "invalid-nudge", "Invalid nudge", detail, log());
    let model = match object.get("_model") {
        None if object.is_empty() => {
            return Ok(Checked::Nudged {
                instance,
                record: None,
            })
        }
        Some(Value::String(model)) => model.clone(),
        _ => {
            return Err(invalid(
                "_model: expected the Odoo model's name, a string such as \"project.project\"",
            ))
        }
    };
    let id = match object.get("_id").and_then(Value::as_i64) {
        Some(id) if id > 0 => id,
        _ => {
            return Err(invalid(
                "_id: expected the record's id, a whole number above 0",
            ))
        }
    };
    let kind = match model.as_str() {
        "project.project" => Subject::Projects,
        "res.users" => Subject::Users,
        _ => return Ok(Checked::Ignored { instance, model }),
    };
    Ok(Checked::Nudged {
        instance,
        record: Some((kind, id)),
    })
}

impl Machine for Nudge {
    type Response = Response;

    fn poll(&self) -> Io<'_, Response> {
        if let Some(response) = &self.accepted {
            return Io::RespondThen { response };
        }
        match &self.pending {
            Ok((step, params)) => Io::Sql {
                text: match step {
                    Step::Queue => NUDGE_SQL,
                    Step::Read => match self.claims.get(self.current).map(|claim| claim.subject) {
                        Some(Subject::Users) => READ_USERS_SQL,
                        _ => READ_SQL,
                    },
                    Step::Apply => match self.claims.get(self.current).map(|claim| claim.subject) {
                        Some(Subject::Users) => APPLY_USERS_SQL,
                        _ => APPLY_SQL,
                    },
                    Step::Done => DONE_SQL,
                },
                params,
            },
            Err(response) => Io::Respond { response },
        }
    }

    fn responded(&mut self) {
        self.accepted = None;
    }

    fn handle(&mut self, answer: Answer<'_>, _elapsed_ms: f64) {
        let Ok((step, _)) = &self.pending else {
            return;
        };
        let step = *step;
        let result = match answer {
            Answer::Sql(result) => Ok(result),
            Answer::SqlFailed { sqlstate, .. } => Err(sqlstate.map(str::to_owned)),
            Answer::Stored(_) | Answer::Deleted | Answer::S3Failed => Err(None),
        };
        self.pending = match (step, result) {
            (Step::Queue, Ok(text)) => {
                match text.and_then(|text| serde_json::from_str::<Queued>(text).ok()) {
                    Some(queued) => self.queued(queued),
                    None => Err(unavailable(None)),
                }
            }
            (Step::Queue, Err(sqlstate)) => Err(unavailable(sqlstate)),
            (Step::Read, Ok(Some(text))) => Ok(self.plan(text)),
            (Step::Read, Ok(None)) => Ok(self.failed("the read answered nothing")),
            (Step::Read, Err(sqlstate)) => Ok(self.failed(&format!(
                "Odoo's records could not be read through the wrapper (SQLSTATE {}); they stay queued",
                sqlstate.as_deref().unwrap_or("none")
            ))),
            (Step::Apply, Ok(text)) => {
                if let Some(reread) = self.rereads.last_mut() {
                    reread.applied = text
                        .and_then(|text| serde_json::from_str::<Applied>(text).ok())
                        .unwrap_or_default();
                }
                Ok(self.done(true))
            }
            (Step::Apply, Err(sqlstate)) => {
                if let Some(reread) = self.rereads.last_mut() {
                    reread.error = Some(format!(
                        "the changes could not be applied (SQLSTATE {}); the records stay queued",
                        sqlstate.as_deref().unwrap_or("none")
                    ));
                }
                Ok(self.done(false))
            }
            // Whether or not the queue let go (a claim expires anyway), the
            // next claim is read.
            (Step::Done, _) => self.next_claim(),
        };
    }
}

fn unavailable(sqlstate: Option<String>) -> Response {
    problem(
        503,
        "unavailable",
        "Temporarily unavailable",
        "the control plane's database is unavailable; the nudge was not queued",
        LogFields {
            sqlstate,
            ..LogFields::default()
        },
    )
}

#[cfg(test)]
mod tests;
