//! Every decision of `ops-reconcile` around the planner: who may call it,
//! which pass runs, page after page within the invocation's budget, where it
//! stops and resumes, and what to answer.
//!
//! [`reconcile_plan`] decides what changed on each page; [`Reconcile`] is
//! the machine ([`function_io`] describes the protocol). The request, `now`
//! and the lease holder (random, made by the shim) go in; the executor then
//! performs, in order: take the instance's lease (`ops.reconcile_acquire`),
//! read where the last pass stopped (`ops.reconcile_status`), then per page
//! read Odoo's projects through the wrapper and the control plane's
//! (`ops.reconcile_read`), plan, and apply the changes
//! (`ops.reconcile_apply`, the ordering rule of ops-ingest); at the end
//! record where the pass stands (`ops.reconcile_record`), release the lease,
//! ask for the next invocation when the budget stopped the pass, and answer.
//!
//! # Decisions
//!
//! - **Modes.** `{"mode": "incremental"}` (the default; the hourly job) or
//!   `{"mode": "full"}` (the nightly job; it also finds deletions);
//!   `"dry_run": true` plans and answers without applying or recording. An
//!   incremental pass with no watermark yet (the first ever) runs full.
//! - **Resume.** A pass that stops at its budget records its cursor and the
//!   state it carries; the next invocation of the same mode resumes it. A
//!   full pass asked for while an incremental one waits starts afresh, and
//!   the other way round: a full pass covers what the incremental would.
//! - **Odoo unreachable** (the wrapper's SQLSTATE: class 08, HV or 57014 on
//!   a read) answers 503 with Retry-After; the page being read wrote
//!   nothing, and nothing is recorded, so the next invocation reads again.
//!   Pages applied before it stay: each was Odoo's state, applied by the
//!   ordering rule, which a repeated page cannot undo.
//! - **Only the projects' instance.** The instance must be the one
//!   configured as the projects' source; any other answers 503 before a
//!   page is read: its projects are not the control plane's, and a full
//!   pass would mark the control plane's deleted.
//! - **Budget.** No new page starts after [`TIME_BUDGET_MS`] or once
//!   [`READ_BUDGET_BYTES`] of pages were planned (the stand-in for CPU time,
//!   as ops-cleanup's).
#![deny(missing_docs)]

use function_io::{Answer, Io, Machine, Param};
use reconcile_plan::{Change, Input, Mode, Next, Pass, Plan, Summary, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use subtle::ConstantTimeEq;

/// Projects read from Odoo per page.
pub const PAGE_SIZE: u32 = 1_000;

/// How long the lease lasts: longer than Supabase's 150 s wall clock, so a
/// live invocation never loses it, short enough that a crashed one blocks
/// the next hourly run for minutes only.
pub const LEASE_SECONDS: u32 = 300;

/// No new page starts after this much of the invocation's time.
pub const TIME_BUDGET_MS: f64 = 60_000.0;

/// No new page starts once this many bytes of `ops.reconcile_read` answers
/// were planned: the CPU stand-in (a page of 1,000 projects is about
/// 200 KiB). Not measured yet for this function; ops-cleanup's measured
/// 23-31 ms of CPU per MiB puts 8 MiB well inside Supabase's 2 s.
pub const READ_BUDGET_BYTES: u64 = 8 << 20;

/// The longest body accepted.
pub const MAX_BODY_BYTES: usize = 4096;

/// The function's configuration, from its secrets.
#[derive(Clone, Debug)]
pub struct Config {
    secret: Option<String>,
    instance: Result<String, String>,
    language: String,
}

impl Config {
    /// `OPS_RECONCILE_SECRET`, `OPS_RECONCILE_INSTANCE` (the instance the
    /// control plane's projects come from, `prod` unless set) and
    /// `OPS_RECONCILE_LANGUAGE` (the language of the mirrored names,
    /// `en_US` unless set), as set.
    pub fn new(secret: Option<&str>, instance: Option<&str>, language: Option<&str>) -> Config {
        let instance = match instance.map(str::trim).filter(|text| !text.is_empty()) {
            None => Ok("prod".to_owned()),
            Some(text) => ops_values::Environment::parse(text)
                .map(|_| text.to_owned())
                .map_err(|_| text.to_owned()),
        };
        Config {
            secret: secret.filter(|s| !s.is_empty()).map(str::to_owned),
            instance,
            language: language
                .map(str::trim)
                .filter(|text| !text.is_empty())
                .unwrap_or(reconcile_plan::FALLBACK_LANGUAGE)
                .to_owned(),
        }
    }
}

/// An HTTP response, with this function's log fields.
pub type Response = function_io::Response<LogFields>;

/// What the log line of one invocation says, besides its duration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LogFields {
    /// A short word for what happened.
    pub outcome: String,
    /// The status code sent.
    pub status: u16,
    /// Pages planned.
    pub pages: u32,
    /// PostgreSQL's error code, when a statement failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sqlstate: Option<String>,
}

fn problem(status: u16, slug: &str, title: &str, detail: &str, log: LogFields) -> Response {
    let (headers, body) = function_io::problem_parts(status, slug, title, detail);
    Response {
        status,
        headers,
        body,
        log: LogFields {
            outcome: function_io::outcome_of(slug),
            status,
            ..log
        },
    }
}

/// The body a caller may send.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Options {
    #[serde(default)]
    mode: Option<Mode>,
    #[serde(default)]
    dry_run: bool,
}

/// What `ops.reconcile_status` answers.
#[derive(Deserialize, Default)]
struct Status {
    #[serde(default)]
    projects_source: bool,
    #[serde(default)]
    watermark: Option<Timestamp>,
    #[serde(default)]
    resume_mode: Option<Mode>,
    #[serde(default)]
    resume_after: Option<i64>,
    #[serde(default)]
    resume_pass: Option<Pass>,
}

/// What `ops.reconcile_read` answers: the databases' part of the planner's
/// input.
#[derive(Deserialize)]
struct Page {
    odoo_projects: Vec<reconcile_plan::OdooProject>,
    projects: Vec<reconcile_plan::ControlProject>,
    base_latest_version: Option<String>,
    range: reconcile_plan::PageRange,
}

/// What `ops.reconcile_apply` answers.
#[derive(Deserialize, Default, Serialize, Clone, Debug, PartialEq, Eq)]
struct Applied {
    #[serde(default)]
    applied: u64,
    #[serde(default)]
    stale: u64,
    #[serde(default)]
    deferred: u64,
    #[serde(default)]
    effects: BTreeMap<String, u64>,
}

const ACQUIRE_SQL: &str =
    "select ops.reconcile_acquire($1::text, $2::text, $3::int)::text as result";
const STATUS_SQL: &str = "select ops.reconcile_status($1::text) as result";
const READ_SQL: &str =
    "select ops.reconcile_read($1::text, $2::bigint, $3::int, $4::text::timestamptz) as result";
const APPLY_SQL: &str = "select ops.reconcile_apply($1::text::jsonb) as result";
const RECORD_SQL: &str = "select 'recorded' as result from ops.reconcile_record($1::text, $2::text, $3::text::bigint, $4::text::jsonb, $5::text::timestamptz, $6::text::jsonb)";
const RELEASE_SQL: &str =
    "select 'released' as result from ops.reconcile_release($1::text, $2::text)";
const FOLLOW_UP_SQL: &str = "select ops.invoke_reconcile($1::text)::text as result";

/// The step waiting for its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Acquire,
    Status,
    Read,
    Apply,
    Record,
    Release,
    FollowUp,
}

/// One invocation in progress.
#[derive(Debug)]
pub struct Reconcile {
    /// The statement pending, with its parameters; or the answer.
    pending: Result<(Step, Vec<Param>), Response>,
    run: Run,
}

/// What the invocation knows and has done so far.
#[derive(Debug)]
struct Run {
    instance: String,
    language: String,
    holder: String,
    now: Timestamp,
    asked: Option<Mode>,
    dry_run: bool,
    mode: Mode,
    watermark: Option<Timestamp>,
    after_id: i64,
    pass: Option<Pass>,
    pages: u32,
    read_bytes: u64,
    summary: Summary,
    applied: Applied,
    /// Set when the pass ended: the watermark to record.
    done: Option<Option<Timestamp>>,
    /// The answer to give once the lease is released.
    ending: Option<Response>,
    follow_up: bool,
    /// What comes after the page whose changes are being applied.
    pending_next: Option<Next>,
}

impl Reconcile {
    /// Authenticates and starts one invocation. `now_ms` is the caller's
    /// clock (`Date.now()`), `holder` a random lease holder.
    pub fn new(
        config: &Config,
        method: &str,
        headers: &BTreeMap<String, String>,
        body: &[u8],
        body_complete: bool,
        holder: &str,
        now_ms: f64,
    ) -> Reconcile {
        let now = Timestamp::from_unix_micros((now_ms * 1000.0) as i64).unwrap_or(Timestamp::MIN);
        let mut run = Run {
            instance: String::new(),
            language: config.language.clone(),
            holder: holder.to_owned(),
            now,
            asked: None,
            dry_run: false,
            mode: Mode::Incremental,
            watermark: None,
            after_id: 0,
            pass: None,
            pages: 0,
            read_bytes: 0,
            summary: Summary::default(),
            applied: Applied::default(),
            done: None,
            ending: None,
            follow_up: false,
            pending_next: None,
        };
        let pending = match start(config, method, headers, body, body_complete) {
            Err(response) => Err(response),
            Ok((instance, options)) => {
                run.instance = instance;
                run.asked = options.mode;
                run.dry_run = options.dry_run;
                Ok((
                    Step::Acquire,
                    vec![
                        Param::Text(run.instance.clone()),
                        Param::Text(run.holder.clone()),
                        Param::Int(i64::from(LEASE_SECONDS)),
                    ],
                ))
            }
        };
        Reconcile { pending, run }
    }
}

fn start(
    config: &Config,
    method: &str,
    headers: &BTreeMap<String, String>,
    body: &[u8],
    body_complete: bool,
) -> Result<(String, Options), Response> {
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
    if !body_complete || body.len() > MAX_BODY_BYTES {
        return Err(problem(
            413,
            "body-too-large",
            "Body too large",
            &format!("the body is longer than {MAX_BODY_BYTES} bytes"),
            log(),
        ));
    }
    let Some(secret) = &config.secret else {
        return Err(problem(
            503,
            "unavailable",
            "Temporarily unavailable",
            "the function is not configured: OPS_RECONCILE_SECRET must be set",
            log(),
        ));
    };
    let presented = headers
        .get("authorization")
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or("");
    // Constant-time, so the answer's timing does not reveal a prefix.
    let matches: bool = presented.as_bytes().ct_eq(secret.as_bytes()).into();
    if !matches {
        return Err(problem(
            401,
            "unauthorized",
            "Unauthorized",
            "authorization: expected \"Bearer <OPS_RECONCILE_SECRET>\"",
            log(),
        ));
    }
    let instance = match &config.instance {
        Ok(instance) => instance.clone(),
        Err(text) => {
            return Err(problem(
                503,
                "unavailable",
                "Temporarily unavailable",
                &format!(
                    "the function is misconfigured: OPS_RECONCILE_INSTANCE must be dev, staging or prod, not {text:?}"
                ),
                log(),
            ))
        }
    };
    let options = if body.iter().all(u8::is_ascii_whitespace) {
        Ok(Options::default())
    } else {
        // Through a Value: serde would also take `[]` for a struct.
        serde_json::from_slice::<Value>(body).and_then(|value| match value {
            Value::Object(_) => serde_json::from_value::<Options>(value),
            _ => Err(serde::de::Error::custom("not an object")),
        })
    };
    match options {
        Ok(options) => Ok((instance, options)),
        Err(err) => Err(problem(
            422,
            "invalid-request",
            "Invalid request body",
            &format!(
                "body: expected {{}} or {{\"mode\": \"incremental\" | \"full\", \"dry_run\": true | false}}: {err}"
            ),
            log(),
        )),
    }
}

fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Incremental => "incremental",
        Mode::Full => "full",
    }
}

/// Whether a failed read means Odoo (or the way to it) is away.
fn odoo_away(sqlstate: Option<&str>) -> bool {
    sqlstate.is_none_or(|code| code.starts_with("08") || code.starts_with("HV") || code == "57014")
}

impl Run {
    fn log(&self, outcome: &str, status: u16) -> LogFields {
        LogFields {
            outcome: outcome.to_owned(),
            status,
            pages: self.pages,
            sqlstate: None,
        }
    }

    fn read_params(&self) -> Vec<Param> {
        let since = match self.mode {
            Mode::Incremental => self
                .watermark
                .map(|watermark| reconcile_plan::window_start(watermark).to_string()),
            Mode::Full => None,
        };
        vec![
            Param::Text(self.instance.clone()),
            Param::Int(self.after_id),
            Param::Int(i64::from(PAGE_SIZE)),
            Param::text_or_null(since),
        ]
    }

    fn release(&mut self, ending: Response) -> (Step, Vec<Param>) {
        self.ending = Some(ending);
        (
            Step::Release,
            vec![
                Param::Text(self.instance.clone()),
                Param::Text(self.holder.clone()),
            ],
        )
    }

    /// The answer of a pass that got this far.
    fn report(&self, complete: bool) -> Response {
        let outcome = if complete { "complete" } else { "partial" };
        let body = json!({
            "instance": self.instance,
            "mode": mode_name(self.mode),
            "dry_run": self.dry_run,
            "complete": complete,
            "pages": self.pages,
            "summary": self.summary,
            "applied": self.applied,
        });
        Response {
            status: 200,
            headers: vec![("content-type".to_owned(), "application/json".to_owned())],
            body: body.to_string(),
            log: self.log(outcome, 200),
        }
    }

    fn failed(&mut self, status_detail: &str, sqlstate: Option<&str>) -> (Step, Vec<Param>) {
        let mut log = self.log("", 503);
        log.sqlstate = sqlstate.map(str::to_owned);
        let response = problem(
            503,
            "unavailable",
            "Temporarily unavailable",
            status_detail,
            log,
        );
        self.release(response)
    }

    fn add(&mut self, plan: &Plan) {
        let s = &mut self.summary;
        let p = &plan.summary;
        s.created += p.created;
        s.updated += p.updated;
        s.archived += p.archived;
        s.unarchived += p.unarchived;
        s.deleted += p.deleted;
        s.unchanged += p.unchanged;
        for (reason, count) in &p.skipped {
            *s.skipped.entry(*reason).or_default() += count;
        }
    }

    /// After a page was planned (and applied): the next page, or the end.
    fn after_page(&mut self, next: Next, elapsed_ms: f64) -> (Step, Vec<Param>) {
        match next {
            Next::Done { watermark } => {
                self.done = Some(watermark);
                self.record(None)
            }
            Next::Page { after_id, pass } => {
                self.after_id = after_id;
                self.pass = Some(pass);
                if elapsed_ms < TIME_BUDGET_MS && self.read_bytes < READ_BUDGET_BYTES {
                    (Step::Read, self.read_params())
                } else {
                    self.follow_up = !self.dry_run;
                    self.record(Some(after_id))
                }
            }
        }
    }

    fn record(&mut self, resume_after: Option<i64>) -> (Step, Vec<Param>) {
        if self.dry_run {
            let report = self.report(resume_after.is_none());
            return self.release(report);
        }
        let pass = match resume_after {
            Some(_) => self.pass.and_then(|pass| serde_json::to_string(&pass).ok()),
            None => None,
        };
        let watermark = self.done.flatten().map(|w| w.to_string());
        (
            Step::Record,
            vec![
                Param::Text(self.instance.clone()),
                Param::Text(mode_name(self.mode).to_owned()),
                Param::text_or_null(resume_after.map(|id| id.to_string())),
                Param::text_or_null(pass),
                Param::text_or_null(watermark),
                Param::Text(json!({"summary": self.summary, "applied": self.applied}).to_string()),
            ],
        )
    }
}

impl Machine for Reconcile {
    type Response = Response;

    fn poll(&self) -> Io<'_, Response> {
        match &self.pending {
            Ok((step, params)) => Io::Sql {
                text: match step {
                    Step::Acquire => ACQUIRE_SQL,
                    Step::Status => STATUS_SQL,
                    Step::Read => READ_SQL,
                    Step::Apply => APPLY_SQL,
                    Step::Record => RECORD_SQL,
                    Step::Release => RELEASE_SQL,
                    Step::FollowUp => FOLLOW_UP_SQL,
                },
                params,
            },
            Err(response) => Io::Respond { response },
        }
    }

    fn handle(&mut self, answer: Answer<'_>, elapsed_ms: f64) {
        let Ok((step, _)) = &self.pending else {
            return;
        };
        let step = *step;
        let run = &mut self.run;
        let (result, sqlstate) = match answer {
            Answer::Sql(result) => (Ok(result), None),
            Answer::SqlFailed { sqlstate, .. } => (Err(()), sqlstate),
            Answer::Stored(_) | Answer::Deleted | Answer::S3Failed => (Err(()), None),
        };
        self.pending = match (step, result) {
            (Step::Acquire, Ok(Some("true"))) => Ok((Step::Status, vec![Param::Text(run.instance.clone())])),
            (Step::Acquire, Ok(_)) => Err(problem(
                409,
                "reconcile-running",
                "Another reconcile is running",
                "another invocation holds this instance's reconcile lease; this one did nothing",
                run.log("", 409),
            )),
            (Step::Acquire, Err(())) => {
                let mut log = run.log("", 503);
                log.sqlstate = sqlstate.map(str::to_owned);
                Err(problem(503, "unavailable", "Temporarily unavailable", "the control plane's database is unavailable", log))
            }
            (Step::Status, Ok(text)) => {
                let status: Status = text.and_then(|t| serde_json::from_str(t).ok()).unwrap_or_default();
                if !status.projects_source {
                    let detail = format!(
                        "the function is misconfigured: OPS_RECONCILE_INSTANCE is {:?}, which is not the \
                         Odoo instance the control plane's projects come from (ops.configure_odoo_instance \
                         with p_projects_source => true)",
                        run.instance
                    );
                    self.pending = Ok(run.failed(&detail, None));
                    return;
                }
                run.watermark = status.watermark;
                let asked = run.asked.unwrap_or(Mode::Incremental);
                // The first pass ever has no watermark: it reads everything.
                run.mode = if asked == Mode::Incremental && status.watermark.is_none() {
                    Mode::Full
                } else {
                    asked
                };
                if let (Some(mode), Some(after), Some(pass)) =
                    (status.resume_mode, status.resume_after, status.resume_pass)
                {
                    if mode == run.mode && !run.dry_run {
                        run.after_id = after;
                        run.pass = Some(pass);
                    }
                }
                Ok((Step::Read, run.read_params()))
            }
            (Step::Status, Err(())) => Ok(run.failed("the control plane's database is unavailable", sqlstate)),
            (Step::Read, Ok(Some(text))) => {
                run.read_bytes += text.len() as u64;
                match serde_json::from_str::<Page>(text) {
                    Err(error) => Ok(run.failed(&format!("the page read could not be planned: {error}"), None)),
                    Ok(page) => {
                        let input = Input {
                            mode: run.mode,
                            watermark: run.watermark,
                            now: run.now,
                            language: run.language.clone(),
                            base_latest_version: page.base_latest_version,
                            range: page.range,
                            pass: run.pass,
                            odoo_projects: page.odoo_projects,
                            projects: page.projects,
                        };
                        match reconcile_plan::plan(&input) {
                            Err(error) => Ok(run.failed(&format!("the page could not be planned: {error}"), None)),
                            Ok(plan) => {
                                run.pages += 1;
                                run.add(&plan);
                                if plan.changes.is_empty() || run.dry_run {
                                    Ok(run.after_page(plan.next, elapsed_ms))
                                } else {
                                    let changes = changes_json(&plan.changes);
                                    // What follows once the changes are in.
                                    run.pending_next = Some(plan.next);
                                    Ok((Step::Apply, vec![Param::Text(changes)]))
                                }
                            }
                        }
                    }
                }
            }
            (Step::Read, Ok(None)) => Ok(run.failed("the page read answered nothing", None)),
            (Step::Read, Err(())) if odoo_away(sqlstate) => {
                Ok(run.failed("Odoo's database cannot be reached through the wrapper; nothing was written for this page", sqlstate))
            }
            (Step::Read, Err(())) => Ok(run.failed("the page could not be read", sqlstate)),
            (Step::Apply, Ok(text)) => {
                if let Some(applied) = text.and_then(|t| serde_json::from_str::<Applied>(t).ok()) {
                    run.applied.applied += applied.applied;
                    run.applied.stale += applied.stale;
                    run.applied.deferred += applied.deferred;
                    for (effect, count) in applied.effects {
                        *run.applied.effects.entry(effect).or_default() += count;
                    }
                }
                match run.pending_next.take() {
                    Some(next) => Ok(run.after_page(next, elapsed_ms)),
                    None => Ok(run.failed("the reconcile lost its place", None)),
                }
            }
            (Step::Apply, Err(())) => Ok(run.failed("the changes could not be applied; they will be planned again", sqlstate)),
            (Step::Record, Ok(_)) => {
                let report = run.report(run.done.is_some());
                Ok(run.release(report))
            }
            (Step::Record, Err(())) => Ok(run.failed("where the pass stands could not be recorded", sqlstate)),
            (Step::Release, _) => {
                if run.follow_up {
                    run.follow_up = false;
                    Ok((Step::FollowUp, vec![Param::Text(mode_name(run.mode).to_owned())]))
                } else {
                    Err(run.ending.take().unwrap_or_else(|| run.report(false)))
                }
            }
            (Step::FollowUp, _) => Err(run.ending.take().unwrap_or_else(|| run.report(false))),
        };
    }
}

fn changes_json(changes: &[Change]) -> String {
    // Plain data always serializes.
    serde_json::to_string(changes).unwrap_or_else(|_| "[]".to_owned())
}

#[cfg(test)]
mod tests;
