//! Every decision of `ops-reconcile` around the planner: who may call it,
//! which passes run, page after page within the invocation's budget, where
//! they stop and resume, and what to answer.
//!
//! [`reconcile_plan`] decides what changed on each page; [`Reconcile`] is
//! the machine ([`function_io`] describes the protocol). The request, `now`
//! and the lease holder (random, made by the shim) go in; the executor then
//! performs, in order: take the reconcile's lease (`ops.reconcile_acquire`),
//! read where the last passes stopped (`ops.reconcile_status`), then, phase
//! after phase, per page read Odoo's rows through the wrapper and the
//! control plane's (`ops.reconcile_read`, `ops.reconcile_read_users`), plan,
//! and apply the changes (`ops.reconcile_apply`, `ops.reconcile_apply_users`,
//! the ordering rules of ops-ingest); at each phase's end record where it
//! stands (`ops.reconcile_record`); finally release the lease, ask for the
//! next invocation when the budget stopped a phase, and answer.
//!
//! # Decisions
//!
//! - **Phases.** One invocation reconciles, in this order, the projects of
//!   the instance they come from (`OPS_RECONCILE_INSTANCE`), then the users
//!   of every configured instance, that one first and the others by name
//!   (`ops.reconcile_status` lists them): each phase has its own watermark
//!   and resume, so a user phase never waits for a project pass to be
//!   repeated, and the projects are never read from another Odoo.
//! - **Modes.** `{"mode": "incremental"}` (the default; the hourly job) or
//!   `{"mode": "full"}` (the nightly job; it also finds deletions);
//!   `"dry_run": true` plans and answers without applying or recording. A
//!   phase with no watermark yet (its first pass ever) runs full.
//! - **Resume.** A phase that stops at its budget records its cursor and the
//!   state it carries; the next invocation of the same mode starts at the
//!   first phase with a resume of that mode (the phases before it finished
//!   in this round) and resumes it. A full pass asked for while an
//!   incremental one waits starts afresh, and the other way round: a full
//!   pass covers what the incremental would. A phase that starts always
//!   reads its first page, so a round always moves forward.
//! - **Odoo unreachable** (the wrapper's SQLSTATE: class 08, HV or 57014 on
//!   a read). The projects' instance answers 503 with Retry-After: the page
//!   being read wrote nothing, nothing of its phase is recorded, and the
//!   next invocation reads again. Pages applied before it stay: each was
//!   Odoo's state, applied by the ordering rule, which a repeated page
//!   cannot undo. Another instance's users phase is reported as failed
//!   (with the same words) and the next phase goes on: a `dev` Odoo that is
//!   down does not stop `prod`'s users from being reconciled.
//! - **Only the projects' instance.** The instance must be the one
//!   configured as the projects' source; any other answers 503 before a
//!   page is read: its projects are not the control plane's, and a full
//!   pass would mark the control plane's deleted.
//! - **Budget.** No new page of a started phase begins after
//!   [`TIME_BUDGET_MS`] or once [`READ_BUDGET_BYTES`] of pages were planned
//!   (the stand-in for CPU time, as ops-cleanup's).
#![deny(missing_docs)]

use function_io::{Answer, Io, Machine, Param};
use ops_values::Environment;
use reconcile_plan::users::UsersInput;
use reconcile_plan::{Input, Mode, Next, PageRange, Pass, Summary, Timestamp, UsersSummary};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use subtle::ConstantTimeEq;

/// Odoo's projects per page. Most of a full pass's pairs agree and are
/// counted by the read without being shipped (`ops.reconcile_read`'s
/// agreement), so a page is large: 5,000 took 31 ms to read of 100,000 in
/// BENCHMARKS.md, against 8 ms for 1,000. A page where nothing agrees is
/// about 0.7 MiB (the first mirror: Odoo's side alone) to 2.2 MiB (both
/// sides), so the read budget stops an invocation after 4 to 12 of them.
pub const PROJECTS_PAGE_SIZE: u32 = 5_000;

/// Odoo's users per page: each is planned, since their read has no
/// agreement.
pub const USERS_PAGE_SIZE: u32 = 1_000;

/// How long the lease lasts: longer than Supabase's 150 s wall clock, so a
/// live invocation never loses it, short enough that a crashed one blocks
/// the next hourly run for minutes only.
pub const LEASE_SECONDS: u32 = 300;

/// No new page starts after this much of the invocation's time.
pub const TIME_BUDGET_MS: f64 = 60_000.0;

/// No new page starts once this many bytes of `ops.reconcile_read` answers
/// were planned: the CPU stand-in (a page of 5,000 projects where nothing
/// agrees is 0.7 to 2.2 MiB). Measured in BENCHMARKS.md: the first mirror of
/// 100,000 projects stopped here after 12 pages, having used 770-1,120 ms
/// of the functions server's CPU with a cold isolate, inside Supabase's
/// 2 s.
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

/// The answer to a body longer than `max` bytes.
fn too_large(max: usize) -> Response {
    problem(
        413,
        "body-too-large",
        "Body too large",
        &format!("the body is longer than {max} bytes"),
        LogFields::default(),
    )
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

/// What a phase reconciles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Subject {
    /// Odoo's `project_project` against `ops.projects`.
    Projects,
    /// Odoo's `res_users` (with `res_partner`) against `ops.odoo_users`.
    Users,
}

impl Subject {
    fn name(self) -> &'static str {
        match self {
            Subject::Projects => "projects",
            Subject::Users => "users",
        }
    }
}

/// What `ops.reconcile_status` answers.
#[derive(Deserialize)]
struct Status {
    projects_source: bool,
    #[serde(default)]
    phases: Vec<PhaseStatus>,
}

/// Where one phase stands (its row of `ops_private.reconcile_state`, or
/// nothing for a phase never run).
#[derive(Deserialize)]
struct PhaseStatus {
    subject: Subject,
    odoo_instance: Environment,
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
    range: PageRange,
    /// Absent when the read was asked for no agreement.
    #[serde(default)]
    agreed: reconcile_plan::Agreed,
}

/// What `ops.reconcile_read_users` answers.
#[derive(Deserialize)]
struct UsersPage {
    odoo_users: Vec<reconcile_plan::users::OdooUser>,
    users: Vec<reconcile_plan::users::ControlUser>,
    range: PageRange,
}

/// What `ops.reconcile_apply` and `ops.reconcile_apply_users` answer (the
/// latter's `identity` is for ops-ingest's callers; no one here reads it).
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

impl Applied {
    fn add(&mut self, other: Applied) {
        self.applied += other.applied;
        self.stale += other.stale;
        self.deferred += other.deferred;
        for (effect, count) in other.effects {
            *self.effects.entry(effect).or_default() += count;
        }
    }
}

const ACQUIRE_SQL: &str =
    "select ops.reconcile_acquire($1::text, $2::text, $3::int)::text as result";
const STATUS_SQL: &str = "select ops.reconcile_status($1::text) as result";
const READ_SQL: &str = "select ops.reconcile_read($1::text, $2::bigint, $3::int, $4::text::timestamptz, p_agreement => $5::text::jsonb) as result";
const READ_USERS_SQL: &str = "select ops.reconcile_read_users($1::text, $2::bigint, $3::int, $4::text::timestamptz) as result";
const APPLY_SQL: &str = "select ops.reconcile_apply($1::text::jsonb) as result";
const APPLY_USERS_SQL: &str =
    "select ops.reconcile_apply_users($1::text, $2::text::jsonb) as result";
const RECORD_SQL: &str = "select 'recorded' as result from ops.reconcile_record($1::text, $2::text, $3::text, $4::text::bigint, $5::text::jsonb, $6::text::timestamptz, $7::text::jsonb)";
const RELEASE_SQL: &str =
    "select 'released' as result from ops.reconcile_release($1::text, $2::text)";
const FOLLOW_UP_SQL: &str = "select ops.invoke_reconcile($1::text)::text as result";

/// The step waiting for its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Acquire,
    Status,
    Read(Subject),
    Apply(Subject),
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

/// What a phase counted, in its planner's words.
#[derive(Debug)]
enum Counts {
    Projects(Summary),
    Users(UsersSummary),
}

impl Counts {
    fn json(&self) -> Value {
        match self {
            Counts::Projects(summary) => json!(summary),
            Counts::Users(summary) => json!(summary),
        }
    }
}

/// How a phase ended in this invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PhaseEnd {
    /// Finished: the watermark to record (none when it saw nothing).
    Done(Option<Timestamp>),
    /// Stopped at the budget; resumes after this id.
    Stopped(i64),
    /// Its Odoo could not be read or its page planned: nothing of it was
    /// recorded, and the next round reads it again.
    Failed(String),
}

/// One phase: a pass over one subject of one instance.
#[derive(Debug)]
struct Phase {
    subject: Subject,
    instance: Environment,
    mode: Mode,
    watermark: Option<Timestamp>,
    after_id: i64,
    pass: Option<Pass>,
    /// base's `latest_version` as the phase's last page read it: the next
    /// page's read may leave out what agrees under the series derived from
    /// it. None before the first page of the invocation.
    base_latest_version: Option<String>,
    /// Whether this invocation ran it (the phases before a resumed one
    /// finished in an earlier invocation of the round).
    ran: bool,
    pages: u32,
    counts: Counts,
    applied: Applied,
    end: Option<PhaseEnd>,
}

impl Phase {
    fn new(status: PhaseStatus, asked: Mode, dry_run: bool) -> Phase {
        // A phase's first pass ever has no watermark: it reads everything.
        let mode = if asked == Mode::Incremental && status.watermark.is_none() {
            Mode::Full
        } else {
            asked
        };
        let (after_id, pass) = match (status.resume_mode, status.resume_after, status.resume_pass) {
            (Some(resume), Some(after), Some(pass)) if resume == mode && !dry_run => {
                (after, Some(pass))
            }
            _ => (0, None),
        };
        Phase {
            subject: status.subject,
            instance: status.odoo_instance,
            mode,
            watermark: status.watermark,
            after_id,
            pass,
            base_latest_version: None,
            ran: false,
            pages: 0,
            counts: match status.subject {
                Subject::Projects => Counts::Projects(Summary::default()),
                Subject::Users => Counts::Users(UsersSummary::default()),
            },
            applied: Applied::default(),
            end: None,
        }
    }

    fn resumes(&self) -> bool {
        self.pass.is_some()
    }

    fn summary_json(&self) -> Value {
        self.counts.json()
    }

    /// The phase in the answer.
    fn report(&self) -> Value {
        let mut report = json!({
            "subject": self.subject.name(),
            "odoo_instance": self.instance.as_str(),
            "mode": mode_name(self.mode),
            "complete": matches!(self.end, Some(PhaseEnd::Done(_))),
            "pages": self.pages,
            "summary": self.summary_json(),
            "applied": self.applied,
        });
        if let (Some(PhaseEnd::Failed(error)), Value::Object(object)) = (&self.end, &mut report) {
            object.insert("error".to_owned(), Value::String(error.clone()));
        }
        report
    }
}

/// What the invocation knows and has done so far.
#[derive(Debug)]
struct Run {
    /// The projects' instance, which holds the lease.
    instance: String,
    language: String,
    holder: String,
    now: Timestamp,
    asked: Mode,
    dry_run: bool,
    phases: Vec<Phase>,
    current: usize,
    read_bytes: u64,
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
            asked: Mode::Incremental,
            dry_run: false,
            phases: Vec::new(),
            current: 0,
            read_bytes: 0,
            ending: None,
            follow_up: false,
            pending_next: None,
        };
        let pending = match start(config, method, headers, body, body_complete) {
            Err(response) => Err(response),
            Ok((instance, options)) => {
                run.instance = instance;
                run.asked = options.mode.unwrap_or(Mode::Incremental);
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
        return Err(too_large(MAX_BODY_BYTES));
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
    fn pages(&self) -> u32 {
        self.phases.iter().map(|phase| phase.pages).sum()
    }

    fn log(&self, outcome: &str, status: u16) -> LogFields {
        LogFields {
            outcome: outcome.to_owned(),
            status,
            pages: self.pages(),
            sqlstate: None,
        }
    }

    fn read_params(&self, phase: &Phase) -> Vec<Param> {
        let since = match phase.mode {
            Mode::Incremental => phase
                .watermark
                .map(|watermark| reconcile_plan::window_start(watermark).to_string()),
            Mode::Full => None,
        };
        let mut params = vec![
            Param::Text(phase.instance.as_str().to_owned()),
            Param::Int(phase.after_id),
            Param::Int(i64::from(match phase.subject {
                Subject::Projects => PROJECTS_PAGE_SIZE,
                Subject::Users => USERS_PAGE_SIZE,
            })),
            Param::text_or_null(since),
        ];
        if phase.subject == Subject::Projects {
            let agreement = reconcile_plan::agreement(
                &self.language,
                phase.base_latest_version.as_deref(),
                self.now,
            )
            .map(|agreement| json!(agreement).to_string());
            params.push(Param::text_or_null(agreement));
        }
        params
    }

    /// Reads the current phase's next page.
    fn read(&mut self) -> (Step, Vec<Param>) {
        match self.phases.get_mut(self.current) {
            Some(phase) => {
                phase.ran = true;
                let subject = phase.subject;
                let params = self.read_params(&self.phases[self.current]);
                (Step::Read(subject), params)
            }
            None => self.failed("the reconcile lost its place", None),
        }
    }

    /// The phase after the current one, or the end of the invocation.
    fn next_phase(&mut self) -> (Step, Vec<Param>) {
        self.current += 1;
        if self.current < self.phases.len() {
            // Its first page is read whatever the budget says: a round
            // whose phases each end at the budget still moves forward.
            self.read()
        } else {
            let report = self.report();
            self.release(report)
        }
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

    /// The answer of an invocation that got this far: complete when every
    /// phase it ran finished.
    fn report(&self) -> Response {
        let ran: Vec<&Phase> = self.phases.iter().filter(|phase| phase.ran).collect();
        let complete = ran
            .iter()
            .all(|phase| matches!(phase.end, Some(PhaseEnd::Done(_))));
        let outcome = if complete { "complete" } else { "partial" };
        let body = json!({
            "instance": self.instance,
            "mode": mode_name(self.asked),
            "dry_run": self.dry_run,
            "complete": complete,
            "pages": self.pages(),
            "phases": ran.iter().map(|phase| phase.report()).collect::<Vec<_>>(),
        });
        Response {
            status: 200,
            headers: vec![("content-type".to_owned(), "application/json".to_owned())],
            body: body.to_string(),
            log: self.log(outcome, 200),
        }
    }

    /// 503, after the lease is released.
    fn failed(&mut self, detail: &str, sqlstate: Option<&str>) -> (Step, Vec<Param>) {
        let mut log = self.log("", 503);
        log.sqlstate = sqlstate.map(str::to_owned);
        let response = problem(503, "unavailable", "Temporarily unavailable", detail, log);
        self.release(response)
    }

    /// The current phase could not read or plan a page: 503 for the
    /// projects' instance; for another, the phase is reported failed and
    /// the next one runs.
    fn phase_failed(&mut self, detail: &str, sqlstate: Option<&str>) -> (Step, Vec<Param>) {
        let instance = self.instance.clone();
        match self.phases.get_mut(self.current) {
            Some(phase) if phase.instance.as_str() != instance => {
                phase.end = Some(PhaseEnd::Failed(format!(
                    "{} of instance {}: {detail}",
                    phase.subject.name(),
                    phase.instance
                )));
                self.next_phase()
            }
            _ => self.failed(detail, sqlstate),
        }
    }

    /// After a page was planned (and applied): the next page, or the
    /// phase's end.
    fn after_page(&mut self, next: Next, elapsed_ms: f64) -> (Step, Vec<Param>) {
        let within_budget = elapsed_ms < TIME_BUDGET_MS && self.read_bytes < READ_BUDGET_BYTES;
        let dry_run = self.dry_run;
        let Some(phase) = self.phases.get_mut(self.current) else {
            return self.failed("the reconcile lost its place", None);
        };
        match next {
            Next::Done { watermark } => {
                phase.end = Some(PhaseEnd::Done(watermark));
                if dry_run {
                    self.next_phase()
                } else {
                    self.record()
                }
            }
            Next::Page { after_id, pass } => {
                phase.after_id = after_id;
                phase.pass = Some(pass);
                if within_budget {
                    self.read()
                } else {
                    phase.end = Some(PhaseEnd::Stopped(after_id));
                    if dry_run {
                        let report = self.report();
                        self.release(report)
                    } else {
                        self.follow_up = true;
                        self.record()
                    }
                }
            }
        }
    }

    /// Records where the current phase stands.
    fn record(&mut self) -> (Step, Vec<Param>) {
        let Some(phase) = self.phases.get(self.current) else {
            return self.failed("the reconcile lost its place", None);
        };
        let (resume_after, pass, watermark) = match &phase.end {
            Some(PhaseEnd::Stopped(after_id)) => (
                Some(after_id.to_string()),
                phase
                    .pass
                    .and_then(|pass| serde_json::to_string(&pass).ok()),
                None,
            ),
            Some(PhaseEnd::Done(watermark)) => (None, None, watermark.map(|w| w.to_string())),
            _ => return self.failed("the reconcile lost its place", None),
        };
        let summary = json!({"summary": phase.summary_json(), "applied": phase.applied});
        (
            Step::Record,
            vec![
                Param::Text(phase.instance.as_str().to_owned()),
                Param::Text(phase.subject.name().to_owned()),
                Param::Text(mode_name(phase.mode).to_owned()),
                Param::text_or_null(resume_after),
                Param::text_or_null(pass),
                Param::text_or_null(watermark),
                Param::Text(summary.to_string()),
            ],
        )
    }

    /// The phases `ops.reconcile_status` listed: this round starts at the
    /// first with a resume of the asked mode, or at the first.
    fn begin(&mut self, status: Status) -> (Step, Vec<Param>) {
        if !status.projects_source {
            let detail = format!(
                "the function is misconfigured: OPS_RECONCILE_INSTANCE is {:?}, which is not the \
                 Odoo instance the control plane's projects come from (ops.configure_odoo_instance \
                 with p_projects_source => true)",
                self.instance
            );
            return self.failed(&detail, None);
        }
        self.phases = status
            .phases
            .into_iter()
            .map(|phase| Phase::new(phase, self.asked, self.dry_run))
            .collect();
        let projects_first = self.phases.first().is_some_and(|phase| {
            phase.subject == Subject::Projects && phase.instance.as_str() == self.instance
        });
        if !projects_first {
            return self.failed(
                "the reconcile's state does not start with the projects' instance",
                None,
            );
        }
        self.current = self
            .phases
            .iter()
            .position(Phase::resumes)
            .unwrap_or_default();
        self.read()
    }

    /// Plans the page the current phase read.
    fn plan(&mut self, subject: Subject, text: &str, elapsed_ms: f64) -> (Step, Vec<Param>) {
        self.read_bytes += text.len() as u64;
        let Some(phase) = self.phases.get_mut(self.current) else {
            return self.failed("the reconcile lost its place", None);
        };
        let planned = plan_page(
            subject,
            text,
            &PageContext {
                instance: phase.instance,
                mode: phase.mode,
                watermark: phase.watermark,
                pass: phase.pass,
                now: self.now,
                language: &self.language,
            },
        );
        match planned {
            Err(detail) => self.phase_failed(&detail, None),
            Ok(planned) => {
                match (&mut phase.counts, &planned.counts) {
                    (Counts::Projects(total), Counts::Projects(page)) => add_projects(total, page),
                    (Counts::Users(total), Counts::Users(page)) => add_users(total, page),
                    _ => {}
                }
                phase.pages += 1;
                phase.base_latest_version = planned.base_latest_version;
                match planned.apply {
                    Some(params) if !self.dry_run => {
                        // What follows once the changes are in.
                        self.pending_next = Some(planned.next);
                        (Step::Apply(subject), params)
                    }
                    _ => self.after_page(planned.next, elapsed_ms),
                }
            }
        }
    }
}

/// What a page is planned with, besides what was read.
struct PageContext<'a> {
    instance: Environment,
    mode: Mode,
    watermark: Option<Timestamp>,
    pass: Option<Pass>,
    now: Timestamp,
    language: &'a str,
}

/// One page planned: its counts, the apply statement's parameters (none
/// when nothing changes) and what follows it.
struct Planned {
    counts: Counts,
    apply: Option<Vec<Param>>,
    next: Next,
    /// The projects' page: base's `latest_version` it was read with.
    base_latest_version: Option<String>,
}

/// Plans what `ops.reconcile_read` or `ops.reconcile_read_users` answered,
/// for ops-reconcile's pages and ops-odoo-nudge's re-reads alike.
fn plan_page(subject: Subject, text: &str, context: &PageContext<'_>) -> Result<Planned, String> {
    let unreadable =
        |error: serde_json::Error| format!("the page read could not be planned: {error}");
    let unplannable =
        |error: reconcile_plan::Error| format!("the page could not be planned: {error}");
    match subject {
        Subject::Projects => {
            let page = serde_json::from_str::<Page>(text).map_err(unreadable)?;
            let base_latest_version = page.base_latest_version.clone();
            let plan = reconcile_plan::plan_with_agreed(
                &Input {
                    mode: context.mode,
                    watermark: context.watermark,
                    now: context.now,
                    language: context.language.to_owned(),
                    base_latest_version: page.base_latest_version,
                    range: page.range,
                    pass: context.pass,
                    odoo_projects: page.odoo_projects,
                    projects: page.projects,
                },
                &page.agreed,
            )
            .map_err(unplannable)?;
            Ok(Planned {
                apply: (!plan.changes.is_empty())
                    .then(|| vec![Param::Text(changes_json(&plan.changes))]),
                counts: Counts::Projects(plan.summary),
                next: plan.next,
                base_latest_version,
            })
        }
        Subject::Users => {
            let page = serde_json::from_str::<UsersPage>(text).map_err(unreadable)?;
            let plan = reconcile_plan::plan_users(&UsersInput {
                instance: context.instance,
                mode: context.mode,
                watermark: context.watermark,
                now: context.now,
                range: page.range,
                pass: context.pass,
                odoo_users: page.odoo_users,
                users: page.users,
            })
            .map_err(unplannable)?;
            Ok(Planned {
                apply: (!plan.changes.is_empty()).then(|| {
                    vec![
                        Param::Text(context.instance.as_str().to_owned()),
                        Param::Text(changes_json(&plan.changes)),
                    ]
                }),
                counts: Counts::Users(plan.summary),
                next: plan.next,
                base_latest_version: None,
            })
        }
    }
}

fn add_projects(total: &mut Summary, page: &Summary) {
    total.created += page.created;
    total.updated += page.updated;
    total.archived += page.archived;
    total.unarchived += page.unarchived;
    total.deleted += page.deleted;
    total.unchanged += page.unchanged;
    for (reason, count) in &page.skipped {
        *total.skipped.entry(*reason).or_default() += count;
    }
}

fn add_users(total: &mut UsersSummary, page: &UsersSummary) {
    total.created += page.created;
    total.updated += page.updated;
    total.archived += page.archived;
    total.unarchived += page.unarchived;
    total.deleted += page.deleted;
    total.unchanged += page.unchanged;
    for (reason, count) in &page.skipped {
        *total.skipped.entry(*reason).or_default() += count;
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
                    Step::Read(Subject::Projects) => READ_SQL,
                    Step::Read(Subject::Users) => READ_USERS_SQL,
                    Step::Apply(Subject::Projects) => APPLY_SQL,
                    Step::Apply(Subject::Users) => APPLY_USERS_SQL,
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
            (Step::Status, Ok(text)) => match text.and_then(|t| serde_json::from_str::<Status>(t).ok()) {
                Some(status) => Ok(run.begin(status)),
                None => Ok(run.failed("where the reconcile stands could not be read", None)),
            },
            (Step::Status, Err(())) => Ok(run.failed("the control plane's database is unavailable", sqlstate)),
            (Step::Read(subject), Ok(Some(text))) => Ok(run.plan(subject, text, elapsed_ms)),
            (Step::Read(_), Ok(None)) => Ok(run.phase_failed("the page read answered nothing", None)),
            (Step::Read(_), Err(())) if odoo_away(sqlstate) => Ok(run.phase_failed(
                "Odoo's database cannot be reached through the wrapper; nothing was written for this page",
                sqlstate,
            )),
            (Step::Read(_), Err(())) => Ok(run.phase_failed("the page could not be read", sqlstate)),
            (Step::Apply(_), Ok(text)) => {
                let applied = text.and_then(|t| serde_json::from_str::<Applied>(t).ok());
                match (run.phases.get_mut(run.current), run.pending_next.take()) {
                    (Some(phase), Some(next)) => {
                        phase.applied.add(applied.unwrap_or_default());
                        Ok(run.after_page(next, elapsed_ms))
                    }
                    _ => Ok(run.failed("the reconcile lost its place", None)),
                }
            }
            (Step::Apply(_), Err(())) => Ok(run.failed("the changes could not be applied; they will be planned again", sqlstate)),
            (Step::Record, Ok(_)) => {
                let stopped = run
                    .phases
                    .get(run.current)
                    .is_some_and(|phase| matches!(phase.end, Some(PhaseEnd::Stopped(_))));
                if stopped {
                    let report = run.report();
                    Ok(run.release(report))
                } else {
                    Ok(run.next_phase())
                }
            }
            (Step::Record, Err(())) => Ok(run.failed("where the pass stands could not be recorded", sqlstate)),
            (Step::Release, _) => {
                if run.follow_up {
                    run.follow_up = false;
                    Ok((Step::FollowUp, vec![Param::Text(mode_name(run.asked).to_owned())]))
                } else {
                    Err(run.ending.take().unwrap_or_else(|| run.report()))
                }
            }
            (Step::FollowUp, _) => Err(run.ending.take().unwrap_or_else(|| run.report())),
        };
    }
}

fn changes_json<T: Serialize>(changes: &[T]) -> String {
    // Plain data always serializes.
    serde_json::to_string(changes).unwrap_or_else(|_| "[]".to_owned())
}

pub mod nudge;

#[cfg(test)]
mod tests;
