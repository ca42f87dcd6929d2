//! One invocation as a machine: the order of the stages and every statement.
//!
//! The executor polls an [`Invocation`] for its next I/O and hands back each
//! answer; this module decides what comes next. The order is the one that
//! loses nothing:
//!
//! 1. take the lease (`ops.cleanup_acquire`, with the holder the executor
//!    generated); someone else holds it: `409`, nothing else happens;
//! 2. read the retention policies and compute the candidate bounds from
//!    them and `now` ([`cleanup_plan::fetch_bounds`]);
//! 3. each batch: read the candidates within the bounds
//!    (`ops.cleanup_read`), plan; a dry run stops here; put and verify every
//!    archive object, commit (`ops.cleanup_commit`), then list and delete
//!    the queued S3 objects page by page (`ops.cleanup_s3_pending`, the
//!    deletes, `ops.cleanup_s3_deleted`); another batch while
//!    [`Progress::should_continue`];
//! 4. release the lease, whatever happened after it was taken (an
//!    unreleased lease only expires: the next run waits, nothing breaks);
//! 5. after the release, so the next invocation finds the lease free, ask
//!    for it (`ops.invoke_cleanup()`) if [`Progress::wants_follow_up`];
//! 6. answer: the summary, or the failed stage's `503`.
//!
//! The bounds are computed once, in Rust; `ops.cleanup_read` only applies
//! them. The read also returns the policies it planned with (the same
//! snapshot as its rows): if they no longer give the bounds it was asked
//! with (someone changed a policy in between), the batch is read again with
//! the new bounds rather than planned from rows chosen by the old ones.

use crate::{busy, problem, start, Config, Progress, Put, Response, S3Target, Stage, Start};
use cleanup_plan::{fetch_bounds, FetchBounds, RetentionPolicy, Timestamp};
use function_io::{Answer, Io, Machine, Param};
use std::collections::BTreeMap;

/// Takes the lease: `true` when this invocation holds it.
pub(crate) const ACQUIRE: &str = "select ops.cleanup_acquire($1::text, $2::int)::text as result";
/// The retention policies, as the planner reads them.
pub(crate) const POLICIES: &str = "select ops.cleanup_policies() as result";
/// One batch of candidates within the bounds, after the checkpoints.
pub(crate) const READ: &str =
    "select ops.cleanup_read($1::text::jsonb, $2::int, $3::text::timestamptz, \
     $4::text::timestamptz, $5::text::timestamptz, $6::text::timestamptz, \
     $7::text::timestamptz) as result";
/// Records the verified archives and deletes the archived rows.
pub(crate) const COMMIT: &str =
    "select ops.cleanup_commit($1::text, $2::text::jsonb)::text as result";
/// A page of queued S3 deletes.
pub(crate) const PENDING: &str = "select ops.cleanup_s3_pending($1::int) as result";
/// Forgets the S3 objects just deleted.
pub(crate) const DELETED: &str = "select ops.cleanup_s3_deleted($1::text[])::text as result";
/// Gives the lease back.
pub(crate) const RELEASE: &str = "select ops.cleanup_release($1::text)::text as result";
/// Queues the next invocation; null where pg_net or Vault are missing.
pub(crate) const INVOKE: &str = "select ops.invoke_cleanup()::text as result";

/// How many times in a row a batch is read again because the policies
/// changed under it. A policy edited that often is a fight, not a change:
/// the invocation then fails and the next one starts afresh.
const MAX_REREADS: u32 = 3;

/// One `ops-cleanup` invocation, from the request to the answer.
#[derive(Debug)]
pub struct Invocation {
    next: Next,
    awaiting: Awaiting,
    run: Option<Plan>,
}

/// What an invocation that may run is made of.
#[derive(Debug)]
struct Plan {
    run: Progress,
    holder: String,
    now: Timestamp,
    budget: String,
    limit: u32,
    bounds: FetchBounds,
    /// The answer to send after the release, when a stage failed.
    failure: Option<Response>,
}

/// The pending I/O, owned, so that a poll only borrows it.
#[derive(Debug)]
enum Next {
    Sql {
        text: &'static str,
        params: Vec<Param>,
    },
    Put(Put),
    Delete(S3Target),
    Respond(Response),
}

/// What the answer to the pending I/O is for.
#[derive(Debug)]
enum Awaiting {
    Lease,
    Policies,
    Read {
        rereads: u32,
    },
    Archive {
        rest: std::vec::IntoIter<Put>,
        commit: String,
    },
    Commit,
    Pending,
    Delete {
        rest: std::vec::IntoIter<S3Target>,
        uris: Vec<String>,
    },
    Deleted {
        count: u64,
    },
    Release,
    FollowUp,
    Nothing,
}

impl Invocation {
    /// Decides about one request (see [`start`]). `holder` is a random id
    /// for the lease (the executor's `crypto.randomUUID()`); `now_ms` is the
    /// wall clock, Unix milliseconds: retention counts from it.
    pub fn new(
        config: &Config,
        method: &str,
        headers: &BTreeMap<String, String>,
        body: &[u8],
        body_complete: bool,
        holder: &str,
        now_ms: f64,
    ) -> Invocation {
        let respond = |response| Invocation {
            next: Next::Respond(response),
            awaiting: Awaiting::Nothing,
            run: None,
        };
        let (dry_run, bucket, budget, limit, lease_seconds, read_budget_bytes) =
            match start(config, method, headers, body, body_complete) {
                Start::Respond { response } => return respond(response),
                Start::Run {
                    dry_run,
                    bucket,
                    budget,
                    limit,
                    lease_seconds,
                    read_budget_bytes,
                } => (
                    dry_run,
                    bucket,
                    budget,
                    limit,
                    lease_seconds,
                    read_budget_bytes,
                ),
            };
        // A wall clock outside 0000-9999 is a broken platform, not a request
        // to refuse: retry later.
        let Ok(now) = Timestamp::from_unix_micros((now_ms * 1000.0).floor() as i64) else {
            return respond(clock_out_of_range());
        };
        Invocation {
            next: Next::Sql {
                text: ACQUIRE,
                params: vec![
                    Param::Text(holder.to_owned()),
                    Param::Int(i64::from(lease_seconds)),
                ],
            },
            awaiting: Awaiting::Lease,
            run: Some(Plan {
                run: Progress::new(dry_run, &bucket, limit, read_budget_bytes),
                holder: holder.to_owned(),
                now,
                budget,
                limit,
                bounds: FetchBounds::default(),
                failure: None,
            }),
        }
    }

    fn respond(&mut self, response: Response) {
        self.next = Next::Respond(response);
        self.awaiting = Awaiting::Nothing;
    }

    fn sql(&mut self, text: &'static str, params: Vec<Param>, awaiting: Awaiting) {
        self.next = Next::Sql { text, params };
        self.awaiting = awaiting;
    }

    /// A stage failed after the lease was taken: release it, then answer.
    fn fail(&mut self, stage: Stage) {
        if let Some(plan) = &mut self.run {
            let response = plan.run.failed(stage);
            plan.failure = Some(response);
        }
        self.release();
    }

    /// Gives the lease back; the answer (or the follow-up) comes after.
    fn release(&mut self) {
        let Some(plan) = &self.run else { return };
        let holder = plan.holder.clone();
        self.sql(RELEASE, vec![Param::Text(holder)], Awaiting::Release);
    }

    fn read(&mut self, rereads: u32) {
        let Some(plan) = &self.run else { return };
        let bound = |at: Option<Timestamp>| Param::text_or_null(at.map(|at| at.to_string()));
        let params = vec![
            Param::Text(plan.budget.clone()),
            Param::Int(i64::from(plan.limit)),
            Param::Text(plan.now.to_string()),
            bound(plan.bounds.runs_finished_before),
            bound(plan.bounds.artifacts_created_before),
            bound(plan.bounds.run_events_before),
            bound(plan.bounds.ingest_deliveries_received_before),
        ];
        self.sql(READ, params, Awaiting::Read { rereads });
    }

    /// The next archive to put, or the commit once all are verified.
    fn archive(&mut self, mut rest: std::vec::IntoIter<Put>, commit: String) {
        match rest.next() {
            Some(put) => {
                self.next = Next::Put(put);
                self.awaiting = Awaiting::Archive { rest, commit };
            }
            None => {
                let Some(plan) = &self.run else { return };
                let params = vec![Param::Text(plan.holder.clone()), Param::Text(commit)];
                self.sql(COMMIT, params, Awaiting::Commit);
            }
        }
    }

    fn pending(&mut self) {
        let Some(plan) = &self.run else { return };
        let page = i64::from(plan.run.s3_page());
        self.sql(PENDING, vec![Param::Int(page)], Awaiting::Pending);
    }

    /// The next queued object to delete, or forgetting those deleted.
    fn delete(&mut self, mut rest: std::vec::IntoIter<S3Target>, uris: Vec<String>) {
        match rest.next() {
            Some(target) => {
                self.next = Next::Delete(target);
                self.awaiting = Awaiting::Delete { rest, uris };
            }
            None => {
                let count = uris.len() as u64;
                self.sql(
                    DELETED,
                    vec![Param::TextArray(uris)],
                    Awaiting::Deleted { count },
                );
            }
        }
    }

    fn finish(&mut self) {
        let response = match &self.run {
            Some(plan) => plan.run.finish(),
            None => clock_out_of_range(),
        };
        self.respond(response);
    }

    fn on_read(&mut self, read: &str, rereads: u32) {
        let Some(plan) = &mut self.run else { return };
        let parsed = match plan.run.parse_read(read) {
            Ok(parsed) => parsed,
            Err(response) => {
                plan.failure = Some(response);
                return self.release();
            }
        };
        // Policies the planner refuses are its to report, below.
        if let Ok(bounds) = fetch_bounds(&parsed.input.policies, parsed.input.now) {
            if bounds != plan.bounds {
                if rereads >= MAX_REREADS {
                    return self.fail(Stage::Read);
                }
                plan.bounds = bounds;
                return self.read(rereads + 1);
            }
        }
        match plan.run.plan_read(parsed) {
            Err(response) => {
                plan.failure = Some(response);
                self.release();
            }
            // A dry run answers the plan and changes nothing.
            Ok(_) if plan.run.is_dry_run() => self.release(),
            Ok(step) => self.archive(step.puts.into_iter(), step.commit),
        }
    }

    fn on_policies(&mut self, policies: &str) {
        let Some(plan) = &mut self.run else { return };
        let policies: Vec<RetentionPolicy> = match serde_json::from_str(policies) {
            Ok(policies) => policies,
            Err(err) => {
                plan.failure = Some(problem(
                    503,
                    "unexpected-input",
                    "Temporarily unavailable",
                    &format!("the database answered in an unexpected form: {err}"),
                ));
                return self.release();
            }
        };
        match fetch_bounds(&policies, plan.now) {
            Ok(bounds) => {
                plan.bounds = bounds;
                self.read(0);
            }
            Err(err) => {
                plan.failure = Some(problem(
                    503,
                    "unplannable",
                    "Temporarily unavailable",
                    &format!("the planner refused its input: {err}"),
                ));
                self.release();
            }
        }
    }

    /// After a page of deletes: another page, another batch, or the end.
    fn on_deleted(&mut self, count: u64, elapsed_ms: f64) {
        let Some(plan) = &mut self.run else { return };
        plan.run.s3_deleted(count);
        if plan.run.should_drain(elapsed_ms) {
            self.pending();
        } else if plan.run.should_continue(elapsed_ms) {
            self.read(0);
        } else {
            self.release();
        }
    }

    fn on_release(&mut self) {
        let Some(plan) = &mut self.run else { return };
        if let Some(response) = plan.failure.take() {
            self.respond(response);
        } else if plan.run.wants_follow_up() {
            self.sql(INVOKE, Vec::new(), Awaiting::FollowUp);
        } else {
            self.finish();
        }
    }
}

impl Machine for Invocation {
    type Response = Response;

    fn poll(&self) -> Io<'_, Response> {
        match &self.next {
            Next::Sql { text, params } => Io::Sql { text, params },
            Next::Put(put) => Io::S3Put {
                bucket: &put.bucket,
                key: &put.key,
                content_type: &put.content_type,
                sha256_base64: &put.sha256_base64,
            },
            Next::Delete(target) => Io::S3Delete {
                bucket: &target.bucket,
                key: &target.key,
            },
            Next::Respond(response) => Io::Respond { response },
        }
    }

    fn content(&self) -> &[u8] {
        match &self.next {
            Next::Put(put) => &put.content,
            _ => &[],
        }
    }

    fn handle(&mut self, answer: Answer<'_>, elapsed_ms: f64) {
        let awaiting = std::mem::replace(&mut self.awaiting, Awaiting::Nothing);
        match (awaiting, answer) {
            // An answer after the response changes nothing.
            (Awaiting::Nothing, _) => {}
            (Awaiting::Lease, Answer::Sql(Some("true"))) => {
                self.sql(POLICIES, Vec::new(), Awaiting::Policies)
            }
            (Awaiting::Lease, Answer::Sql(_)) => self.respond(busy()),
            // The lease was not taken: nothing to release.
            (Awaiting::Lease, _) => {
                let response = match &self.run {
                    Some(plan) => plan.run.failed(Stage::Read),
                    None => clock_out_of_range(),
                };
                self.respond(response);
            }
            (Awaiting::Policies, Answer::Sql(policies)) => self.on_policies(policies.unwrap_or("")),
            (Awaiting::Policies, _) => self.fail(Stage::Read),
            (Awaiting::Read { rereads }, Answer::Sql(read)) => {
                self.on_read(read.unwrap_or(""), rereads)
            }
            (Awaiting::Read { .. }, _) => self.fail(Stage::Read),
            (Awaiting::Archive { rest, commit }, Answer::Stored(stored)) => {
                let verified = match &self.next {
                    Next::Put(put) => Progress::verifies(&put.sha256_hex, stored),
                    _ => false,
                };
                if verified {
                    self.archive(rest, commit);
                } else {
                    self.fail(Stage::Archive);
                }
            }
            (Awaiting::Archive { .. }, _) => self.fail(Stage::Archive),
            (Awaiting::Commit, Answer::Sql(done)) => {
                if let Some(plan) = &mut self.run {
                    plan.run.committed(done.unwrap_or(""));
                }
                self.pending();
            }
            (Awaiting::Commit, _) => self.fail(Stage::Commit),
            (Awaiting::Pending, Answer::Sql(pending)) => {
                let Some(plan) = &mut self.run else { return };
                let targets = plan.run.s3_targets(pending.unwrap_or("[]"));
                self.delete(targets.into_iter(), Vec::new());
            }
            (Awaiting::Pending, _) => self.fail(Stage::S3Delete),
            (Awaiting::Delete { rest, mut uris }, Answer::Deleted) => {
                if let Next::Delete(target) = &mut self.next {
                    uris.push(std::mem::take(&mut target.uri));
                }
                self.delete(rest, uris);
            }
            (Awaiting::Delete { .. }, _) => self.fail(Stage::S3Delete),
            (Awaiting::Deleted { count }, Answer::Sql(_)) => self.on_deleted(count, elapsed_ms),
            (Awaiting::Deleted { .. }, _) => self.fail(Stage::S3Delete),
            // Released or not, the answer is the same.
            (Awaiting::Release, _) => self.on_release(),
            (Awaiting::FollowUp, answer) => {
                if let Some(plan) = &mut self.run {
                    plan.run.follow_up(matches!(answer, Answer::Sql(Some(_))));
                }
                self.finish();
            }
        }
    }
}

fn clock_out_of_range() -> Response {
    problem(
        503,
        "unavailable",
        "Temporarily unavailable",
        "the function's clock is out of range; nothing was changed",
    )
}
