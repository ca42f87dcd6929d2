//! Every decision of the `ops-cleanup` Edge Function around the planner.
//!
//! [`cleanup_plan`] decides what retention removes; this crate decides the
//! rest of an invocation: who may call it ([`start`]), what one batch writes
//! and deletes ([`Progress::step`]: archive objects to put and verify, then the
//! one transactional SQL commit), whether another batch fits the invocation's
//! time and CPU ([`Progress::should_continue`]), whether to ask for another
//! invocation ([`Progress::wants_follow_up`]), and what to answer ([`Progress::finish`]).
//!
//! [`Invocation`] puts it together as a [`function_io::Machine`]: the
//! request, `now` and the lease holder (random, made by the executor) go
//! in, and the executor polls it for every statement and S3 call in the
//! order that loses nothing — take the lease, read the policies and compute
//! the candidate bounds, then per batch read, put each archive
//! (conditional, with its SHA-256) and verify it, commit (delete exactly the
//! archived rows that did not change), delete the S3 objects the commit
//! queued; release the lease, ask for the next invocation, answer.
//!
//! ```
//! use cleanup_core::{start, Config, Start};
//! use std::collections::BTreeMap;
//!
//! let config = Config::new(Some("s3cret-token-of-at-least-16"), Some("odooops-archives"));
//! let headers = BTreeMap::from([("authorization".to_owned(), "Bearer wrong".to_owned())]);
//! let Start::Respond { response } = start(&config, "POST", &headers, b"{}", true) else { panic!() };
//! assert_eq!(response.status, 401);
//!
//! // As a machine, the refusal is its only I/O.
//! use function_io::{Io, Machine};
//! let invocation = cleanup_core::Invocation::new(&config, "POST", &headers, b"{}", true, "holder", 0.0);
//! let Io::Respond { response } = invocation.poll() else { panic!() };
//! assert_eq!(response.status, 401);
//! ```
#![deny(missing_docs)]

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use cleanup_plan::{
    ArchiveTable, Budget, Plan, PlanInput, Summary, TableSummary, ARCHIVE_CONTENT_TYPE,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use subtle::ConstantTimeEq;

/// Rows read per table per batch.
pub const READ_LIMIT: u32 = 2_000;

/// What the planner may put in one batch's archives. A run's line counts
/// one row per event too, so the row budget leaves room for a full page of
/// runs with a few dozen events each; the byte budget bounds the memory a
/// batch holds (its NDJSON before compression).
pub const BUDGET: Budget = Budget {
    max_rows: 50_000,
    max_bytes: 32 << 20,
};

/// How long the lease of one invocation lasts. Longer than Supabase's 150 s
/// wall-clock limit, so a live invocation never loses it; short enough that a
/// crashed one blocks the next daily run for minutes, not a day.
pub const LEASE_SECONDS: u32 = 300;

/// No new batch starts after this much of the invocation's time: a batch
/// takes seconds, and Supabase stops a function at 150 s.
pub const TIME_BUDGET_MS: f64 = 90_000.0;

/// No new batch starts once this many bytes of `ops.cleanup_read` answers
/// were planned in one invocation: the stand-in for CPU time, which the
/// function cannot measure for itself. Supabase stops a function after 2 s
/// of CPU. Measured on the local stack (BENCHMARKS.md), the functions server
/// spends 23-31 ms of CPU per MiB read once warm (parsing it twice,
/// planning, compressing, hashing, the S3 and SQL calls) and about 0.55 s
/// more in a cold isolate (compiling the wasm and the JavaScript), so 32 MiB
/// is about 1.4 s cold and 0.9 s warm: under the 1.5 s the function aims for.
/// What is left is done by the next invocation, which the function asks for
/// ([`Progress::wants_follow_up`]).
pub const READ_BUDGET_BYTES: u64 = 32 << 20;

/// Queued S3 deletes listed per page (`ops.cleanup_s3_pending`'s limit).
/// The queue is shared by every project, so an invocation deletes page after
/// page until it is empty or a budget is spent ([`Progress::should_drain`]). The
/// budgets are checked between pages, so a page is what an invocation may
/// overrun them by: 250 deletes are about 0.2 s of CPU
/// ([`S3_DELETE_COST_BYTES`]) and, at S3's 20-30 ms a request, under 10 s,
/// so a page begun just before [`TIME_BUDGET_MS`] still ends long before
/// the platform's 150 s.
pub const S3_DELETE_PAGE: u32 = 250;

/// What one S3 delete counts against the read budget, the CPU stand-in:
/// signing a request, sending it and reading the answer. Measured on the
/// local stack, one `DeleteObject` through the AWS SDK costs the Deno
/// process 0.71-0.80 ms of CPU, which is what planning about 30 KiB of
/// `ops.cleanup_read`'s answer costs (23-31 ms per MiB, see
/// [`READ_BUDGET_BYTES`]): a full read budget is about 1,000 deletes.
pub const S3_DELETE_COST_BYTES: u64 = 32 << 10;

/// The function's configuration, from its secrets.
#[derive(Clone, Debug)]
pub struct Config {
    cron_secret: Option<String>,
    bucket: Option<String>,
    /// [`READ_BUDGET_BYTES`] unless set; the text when it is not a number.
    read_budget_bytes: Result<u64, String>,
}

impl Config {
    /// `OPS_CRON_SECRET` and `S3_BUCKET`, as set.
    pub fn new(cron_secret: Option<&str>, bucket: Option<&str>) -> Config {
        Config {
            cron_secret: cron_secret.filter(|s| !s.is_empty()).map(str::to_owned),
            bucket: bucket.filter(|s| !s.is_empty()).map(str::to_owned),
            read_budget_bytes: Ok(READ_BUDGET_BYTES),
        }
    }

    /// `OPS_CLEANUP_READ_BUDGET_BYTES`, as set: a smaller (or larger) CPU
    /// stand-in than [`READ_BUDGET_BYTES`]. Anything but a positive whole
    /// number leaves the function unconfigured (503).
    pub fn read_budget(mut self, text: Option<&str>) -> Config {
        self.read_budget_bytes = match text.map(str::trim).filter(|t| !t.is_empty()) {
            None => Ok(READ_BUDGET_BYTES),
            Some(text) => match text.parse::<u64>() {
                Ok(bytes) if bytes > 0 => Ok(bytes),
                _ => Err(text.to_owned()),
            },
        };
        self
    }
}

/// An HTTP response, ready to send, with this function's log fields.
pub type Response = function_io::Response<LogFields>;

/// What the log line of one invocation says, besides its duration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LogFields {
    /// A short word for what happened.
    pub outcome: String,
    /// The status code sent.
    pub status: u16,
    /// The stage that failed, if one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<Stage>,
    /// Batches run.
    pub batches: u32,
    /// Rows deleted per table.
    pub deleted: BTreeMap<String, i64>,
}

fn problem(status: u16, slug: &str, title: &str, detail: &str) -> Response {
    let (headers, body) = function_io::problem_parts(status, slug, title, detail);
    Response {
        status,
        headers,
        body,
        log: LogFields {
            outcome: function_io::outcome_of(slug),
            status,
            ..LogFields::default()
        },
    }
}

/// What to do with a request.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Start {
    /// Answer this and do nothing else.
    Respond {
        /// The response.
        response: Response,
    },
    /// Take the lease and run batches.
    Run {
        /// Plan and answer without writing or deleting anything.
        dry_run: bool,
        /// The bucket archives go to.
        bucket: String,
        /// `ops.cleanup_read`'s arguments: the planner's budget, as JSON text.
        budget: String,
        /// Rows read per table per batch.
        limit: u32,
        /// The lease's length.
        lease_seconds: u32,
        /// [`Progress::new`]'s CPU stand-in.
        read_budget_bytes: u64,
    },
}

/// The body a caller may send: `{}` or `{"dry_run": true}`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Options {
    #[serde(default)]
    dry_run: bool,
}

/// The longest body accepted: `{"dry_run": true}` and room to spare.
pub const MAX_BODY_BYTES: usize = 4096;

/// Decides whether a request may run a cleanup. `body_complete` is false
/// when the shim stopped reading at [`MAX_BODY_BYTES`].
///
/// The caller proves itself with `Authorization: Bearer <OPS_CRON_SECRET>`,
/// the secret the pg_cron job reads from Vault.
pub fn start(
    config: &Config,
    method: &str,
    headers: &BTreeMap<String, String>,
    body: &[u8],
    body_complete: bool,
) -> Start {
    let respond = |response| Start::Respond { response };
    if method != "POST" {
        return respond(problem(
            405,
            "method-not-allowed",
            "Method not allowed",
            "send POST",
        ));
    }
    if !body_complete || body.len() > MAX_BODY_BYTES {
        return respond(problem(
            413,
            "body-too-large",
            "Body too large",
            &format!("the body is longer than {MAX_BODY_BYTES} bytes"),
        ));
    }
    let (Some(secret), Some(bucket)) = (&config.cron_secret, &config.bucket) else {
        return respond(problem(
            503,
            "unavailable",
            "Temporarily unavailable",
            "the function is not configured: OPS_CRON_SECRET and S3_BUCKET must be set",
        ));
    };
    let presented = headers
        .get("authorization")
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or("");
    // Constant-time, so the answer's timing does not reveal a prefix.
    let matches: bool = presented.as_bytes().ct_eq(secret.as_bytes()).into();
    if !matches {
        return respond(problem(
            401,
            "unauthorized",
            "Unauthorized",
            "authorization: expected \"Bearer <OPS_CRON_SECRET>\"",
        ));
    }
    // After the secret: only the caller that may run it learns the rest.
    let read_budget_bytes = match &config.read_budget_bytes {
        Ok(bytes) => *bytes,
        Err(text) => {
            return respond(problem(
                503,
                "unavailable",
                "Temporarily unavailable",
                &format!(
                    "the function is misconfigured: OPS_CLEANUP_READ_BUDGET_BYTES must be a \
                     positive whole number of bytes, not {text:?}"
                ),
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
    let options = match options {
        Ok(options) => options,
        Err(err) => {
            return respond(problem(
                422,
                "invalid-request",
                "Invalid request body",
                &format!("body: expected {{}} or {{\"dry_run\": true}}: {err}"),
            ))
        }
    };
    Start::Run {
        dry_run: options.dry_run,
        bucket: bucket.clone(),
        budget: json!(BUDGET).to_string(),
        limit: READ_LIMIT,
        lease_seconds: LEASE_SECONDS,
        read_budget_bytes,
    }
}

/// The answer when another invocation holds the lease.
pub fn busy() -> Response {
    problem(
        409,
        "cleanup-running",
        "Another cleanup is running",
        "another invocation holds the cleanup lease; this one did nothing",
    )
}

/// What `ops.cleanup_read` returns.
#[derive(Deserialize)]
struct Read {
    input: PlanInput,
    guards: Guards,
}

#[derive(Deserialize)]
struct Guards {
    runs: HashMap<String, String>,
    run_events: HashMap<String, String>,
    artifacts: HashMap<String, String>,
    backups: HashMap<String, String>,
    /// By webhook id; absent from a database without the ledger's retention.
    #[serde(default)]
    ingest_deliveries: HashMap<String, String>,
}

/// One archive object to put, verify and record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Put {
    /// The bucket.
    pub bucket: String,
    /// The key.
    pub key: String,
    /// The gzip bytes.
    #[serde(with = "serde_bytes_as_array")]
    pub content: Vec<u8>,
    /// The `Content-Type` to store the object with:
    /// [`ARCHIVE_CONTENT_TYPE`]. There is deliberately no content encoding:
    /// the object *is* a gzip file, and a client that honoured
    /// `Content-Encoding: gzip` would hand over the decompressed lines, whose
    /// digest is not the recorded one.
    pub content_type: String,
    /// SHA-256 of the content, lowercase hex.
    pub sha256_hex: String,
    /// The same digest in base64, as S3's `ChecksumSHA256` header wants it.
    pub sha256_base64: String,
}

mod serde_bytes_as_array {
    use serde::Serializer;

    // The bindings turn this into a Uint8Array; plain serde would make a
    // JSON array of numbers, which is right for tests and dry runs.
    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(bytes)
    }
}

/// An S3 object to delete.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct S3Target {
    /// The `s3://` URI, as queued.
    pub uri: String,
    /// The bucket.
    pub bucket: String,
    /// The key.
    pub key: String,
}

/// One batch: what to put, then the commit.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Step {
    /// Archive objects to put and verify before the commit.
    pub puts: Vec<Put>,
    /// `ops.cleanup_commit`'s argument, as JSON text.
    pub commit: String,
    /// Whether the planner found anything to do at all.
    pub empty: bool,
}

/// A database or S3 failure, by stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Reading the planner's input.
    Read,
    /// Putting or verifying an archive object.
    Archive,
    /// The commit transaction.
    Commit,
    /// Deleting queued S3 objects (after the commit: nothing is lost).
    S3Delete,
}

/// Whether the next invocation was asked for (see [`Progress::wants_follow_up`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FollowUp {
    /// `ops.invoke_cleanup()` queued a call of this function.
    Requested,
    /// It could not (no pg_net or Vault, as on the local stack, or it
    /// failed): the next scheduled run goes on where this one stopped.
    Unavailable,
}

/// One invocation: its batches, totals and answer.
#[derive(Debug)]
pub struct Progress {
    dry_run: bool,
    bucket: String,
    limit: u32,
    read_budget_bytes: u64,
    bytes_read: u64,
    follow_up: Option<FollowUp>,
    batches: u32,
    more: bool,
    last_plan: Option<Value>,
    summary: Summary,
    archives: Vec<Value>,
    committed: BTreeMap<String, i64>,
    dropped: Vec<String>,
    s3_deleted: u64,
    s3_page: u32,
    /// Whether the last page of S3 deletes was full: more may be queued.
    s3_queued: bool,
}

impl Progress {
    /// A new invocation: `limit` and `read_budget_bytes` as [`Start::Run`]
    /// gives them.
    pub fn new(dry_run: bool, bucket: &str, limit: u32, read_budget_bytes: u64) -> Progress {
        Progress {
            dry_run,
            bucket: bucket.to_owned(),
            limit,
            read_budget_bytes,
            bytes_read: 0,
            follow_up: None,
            batches: 0,
            more: true,
            last_plan: None,
            summary: Summary::default(),
            archives: Vec::new(),
            committed: BTreeMap::new(),
            dropped: Vec::new(),
            s3_deleted: 0,
            s3_page: S3_DELETE_PAGE,
            s3_queued: false,
        }
    }

    /// Whether this is a dry run: plan and answer, change nothing.
    pub fn is_dry_run(&self) -> bool {
        self.dry_run
    }

    /// What the invocation has spent of its CPU stand-in: the bytes read and
    /// planned, and the S3 deletes done.
    fn spent(&self) -> u64 {
        self.bytes_read
            .saturating_add(self.s3_deleted.saturating_mul(S3_DELETE_COST_BYTES))
    }

    fn within_budget(&self, elapsed_ms: f64) -> bool {
        elapsed_ms < TIME_BUDGET_MS && self.spent() < self.read_budget_bytes
    }

    /// Plans one batch from `ops.cleanup_read`'s answer.
    pub fn step(&mut self, read: &str) -> Result<Step, Response> {
        let read = self.parse_read(read)?;
        self.plan_read(read)
    }

    /// Reads `ops.cleanup_read`'s answer; what it cost counts against the
    /// CPU stand-in whether or not it is planned.
    fn parse_read(&mut self, read: &str) -> Result<Read, Response> {
        self.bytes_read += read.len() as u64;
        serde_json::from_str(read).map_err(|err| {
            problem(
                503,
                "unexpected-input",
                "Temporarily unavailable",
                &format!("the database answered in an unexpected form: {err}"),
            )
        })
    }

    /// Plans one batch from a parsed read.
    fn plan_read(&mut self, read: Read) -> Result<Step, Response> {
        let plan = cleanup_plan::plan(&read.input).map_err(|err| {
            problem(
                503,
                "unplannable",
                "Temporarily unavailable",
                &format!("the planner refused its input: {err}"),
            )
        })?;
        self.batches += 1;
        let limit = self.limit as usize;
        // Another batch may find more if this one read a full page of a
        // table, or its budget left rows of the page for later.
        let deferred = &plan.summary;
        let full = read.input.runs.len() >= limit
            || read.input.artifacts.len() >= limit
            || !read.input.run_events.complete
            || deferred.runs.deferred > 0
            || deferred.artifacts.deferred > 0
            || deferred.backups.deferred > 0
            || deferred.run_events.deferred > 0
            || read.input.ingest_deliveries.len() >= limit
            || deferred.ingest_deliveries.deferred > 0;
        let commit = commit(&plan, &read, &self.bucket, limit);
        add(&mut self.summary, &plan.summary);
        for archive in &plan.archives {
            self.archives.push(json!({
                "key": archive.key, "table": archive.table, "rows": archive.ids.len(),
                "sha256": archive.sha256_hex, "size_bytes": archive.size_bytes,
            }));
        }
        let empty = plan.archives.is_empty()
            && plan.delete.runs.is_empty()
            && plan.delete.artifacts.is_empty()
            && plan.delete.backups.is_empty()
            && plan.delete.ingest_deliveries.is_empty()
            && !plan.run_event_partitions.drop_now;
        // A batch that decided nothing new cannot be followed by one that
        // does: stop rather than spin.
        self.more = full && !empty && !self.dry_run;
        if self.dry_run {
            self.last_plan = serde_json::to_value(&plan).ok();
        }
        let puts = plan
            .archives
            .into_iter()
            .map(|archive| Put {
                bucket: self.bucket.clone(),
                sha256_base64: base64_of_hex(&archive.sha256_hex),
                key: archive.key,
                sha256_hex: archive.sha256_hex,
                content: archive.content,
                content_type: ARCHIVE_CONTENT_TYPE.to_owned(),
            })
            .collect();
        Ok(Step {
            puts,
            commit,
            empty,
        })
    }

    /// Whether to read another batch, `elapsed_ms` into the invocation: there
    /// is more to do, and both the time ([`TIME_BUDGET_MS`]) and the CPU
    /// stand-in (the read budget, which the S3 deletes done count against
    /// too, [`S3_DELETE_COST_BYTES`]) have room.
    pub fn should_continue(&self, elapsed_ms: f64) -> bool {
        self.more && self.within_budget(elapsed_ms)
    }

    /// After the last batch: whether this invocation stopped at a budget with
    /// work left — rows to plan, or S3 deletes still queued — so the shim
    /// should ask for the next one (`ops.invoke_cleanup()`, after releasing
    /// the lease) rather than leave the rest for tomorrow's run. A batch that
    /// found nothing new ends the chain, and every invocation deletes at
    /// least one page of the queue, so it cannot spin.
    pub fn wants_follow_up(&self) -> bool {
        (self.more || self.s3_queued) && !self.dry_run
    }

    /// Records whether the next invocation was asked for.
    pub fn follow_up(&mut self, requested: bool) {
        self.follow_up = Some(if requested {
            FollowUp::Requested
        } else {
            FollowUp::Unavailable
        });
    }

    /// Records `ops.cleanup_commit`'s answer.
    pub fn committed(&mut self, answer: &str) {
        if let Ok(Value::Object(counts)) = serde_json::from_str::<Value>(answer) {
            for (name, value) in counts {
                if let Some(n) = value.as_i64() {
                    *self.committed.entry(name).or_default() += n;
                } else if let Value::Array(names) = value {
                    self.dropped
                        .extend(names.iter().filter_map(|n| n.as_str().map(str::to_owned)));
                }
            }
        }
    }

    /// Whether the bytes read back from the store are the archive that was
    /// put: its SHA-256 must match. Only then may the commit delete rows.
    pub fn verifies(put_sha256_hex: &str, stored: &[u8]) -> bool {
        let digest = cleanup_plan::sha256_hex(stored);
        digest.as_bytes().ct_eq(put_sha256_hex.as_bytes()).into()
    }

    /// The page size to ask `ops.cleanup_s3_pending` for.
    pub fn s3_page(&self) -> u32 {
        self.s3_page
    }

    /// The S3 objects of one page of `ops.cleanup_s3_pending` (asked for
    /// [`Progress::s3_page`] of them), split into bucket and key, and whether the
    /// queue may hold more once they are deleted: a full page may have left
    /// some behind, a shorter one was the rest of the queue. Entries that are
    /// not `s3://bucket/key` are skipped (the schema's constraints make them
    /// impossible); a page with nothing deletable in it ends the draining
    /// rather than list the same entries again and again.
    pub fn s3_targets(&mut self, pending: &str) -> Vec<S3Target> {
        let rows: Vec<Value> = serde_json::from_str(pending).unwrap_or_default();
        let targets = Self::parse_targets(&rows);
        self.s3_queued = rows.len() >= self.s3_page as usize && !targets.is_empty();
        targets
    }

    fn parse_targets(rows: &[Value]) -> Vec<S3Target> {
        rows.iter()
            .filter_map(|row| row.get("uri").and_then(Value::as_str))
            .filter_map(|uri| {
                let (bucket, key) = uri.strip_prefix("s3://")?.split_once('/')?;
                (!bucket.is_empty() && !key.is_empty()).then(|| S3Target {
                    uri: uri.to_owned(),
                    bucket: bucket.to_owned(),
                    key: key.to_owned(),
                })
            })
            .collect()
    }

    /// Records S3 objects deleted (and forgotten by `ops.cleanup_s3_deleted`)
    /// after a commit.
    pub fn s3_deleted(&mut self, count: u64) {
        self.s3_deleted += count;
    }

    /// After a page of S3 deletes: whether to list and delete another,
    /// `elapsed_ms` into the invocation. The queue may hold more (the last
    /// page was full), and the time and the CPU stand-in have room; what is
    /// left is for the next invocation ([`Progress::wants_follow_up`]).
    pub fn should_drain(&self, elapsed_ms: f64) -> bool {
        self.s3_queued && self.within_budget(elapsed_ms)
    }

    /// The answer when a stage failed: nothing unverified was deleted, and
    /// what was committed stays committed, so a retry is safe.
    pub fn failed(&self, stage: Stage) -> Response {
        let detail = match stage {
            Stage::Read => "the database is unavailable; nothing was changed",
            Stage::Archive => "the archive store is unavailable or an archive did not verify; nothing was deleted",
            Stage::Commit => "the database failed during the commit; it rolled back, the archives stay for the retry",
            Stage::S3Delete => "the archive store failed while deleting expired objects; they stay queued for the next run",
        };
        let mut response = problem(503, "unavailable", "Temporarily unavailable", detail);
        response.log = LogFields {
            outcome: "failed".to_owned(),
            status: 503,
            stage: Some(stage),
            batches: self.batches,
            deleted: self.committed.clone(),
        };
        response
    }

    /// The summary answer.
    pub fn finish(&self) -> Response {
        let body = json!({
            "dry_run": self.dry_run,
            "batches": self.batches,
            // Nothing is left to plan and no S3 delete is left queued.
            "complete": !self.more && !self.s3_queued,
            "summary": self.summary,
            "archives": self.archives,
            "deleted": self.committed,
            "partitions_dropped": self.dropped,
            "s3_objects_deleted": self.s3_deleted,
            "follow_up": self.follow_up,
            "plan": self.last_plan,
        });
        Response {
            status: 200,
            headers: vec![("content-type".to_owned(), "application/json".to_owned())],
            body: body.to_string(),
            log: LogFields {
                outcome: if self.dry_run { "dry_run" } else { "cleaned" }.to_owned(),
                status: 200,
                stage: None,
                batches: self.batches,
                deleted: self.committed.clone(),
            },
        }
    }
}

fn add(total: &mut Summary, batch: &Summary) {
    for (t, b) in [
        (&mut total.runs, &batch.runs),
        (&mut total.run_events, &batch.run_events),
        (&mut total.artifacts, &batch.artifacts),
        (&mut total.backups, &batch.backups),
        (&mut total.approvals, &batch.approvals),
        (&mut total.ingest_deliveries, &batch.ingest_deliveries),
    ] {
        *t = TableSummary {
            archived: t.archived + b.archived,
            deleted: t.deleted + b.deleted,
            kept: t.kept + b.kept,
            deferred: t.deferred + b.deferred,
        };
    }
}

/// The argument of `ops.cleanup_commit` for a plan.
fn commit(plan: &Plan, read: &Read, bucket: &str, limit: usize) -> String {
    let key_of: HashMap<&str, &str> = plan
        .archives
        .iter()
        .filter(|a| a.table == ArchiveTable::Runs)
        .flat_map(|a| a.ids.iter().map(move |id| (id.as_str(), a.key.as_str())))
        .collect();
    let guarded = |ids: &[String], guards: &HashMap<String, String>| -> Vec<Value> {
        ids.iter()
            .map(|id| json!({ "id": id, "guard": guards.get(id), "key": key_of.get(id.as_str()) }))
            .collect()
    };
    // Archived run events are deleted with the batch, as runs are; a month
    // is dropped once nothing is left in it.
    let archived_events: Vec<Value> = plan
        .archives
        .iter()
        .filter(|a| a.table == ArchiveTable::RunEvents)
        .flat_map(|a| a.ids.iter())
        .map(|id| json!({ "id": id, "guard": read.guards.run_events.get(id) }))
        .collect();
    let partitions = &plan.run_event_partitions;
    let drop_before = partitions.drop_before.filter(|_| partitions.drop_now);
    // A table read to its end starts over next time: rows kept now (a
    // project with a longer retention) must be judged again when they age.
    let mut resume = serde_json::to_value(&plan.resume_after).unwrap_or(Value::Null);
    if let Value::Object(cursors) = &mut resume {
        if read.input.runs.len() < limit && plan.summary.runs.deferred == 0 {
            cursors.insert("runs".to_owned(), json!("reset"));
        }
        if read.input.artifacts.len() < limit && plan.summary.artifacts.deferred == 0 {
            cursors.insert("artifacts".to_owned(), json!("reset"));
        }
        if read.input.ingest_deliveries.len() < limit
            && plan.summary.ingest_deliveries.deferred == 0
        {
            cursors.insert("ingest_deliveries".to_owned(), json!("reset"));
        }
    }
    json!({
        "archives": plan.archives.iter().map(|a| json!({
            "key": a.key, "bucket": bucket, "sha256": a.sha256_hex, "table": a.table,
            "rows": a.ids.len(), "size_bytes": a.size_bytes, "ids": a.ids, "project_ids": a.project_ids,
            "run_ids": a.run_ids,
        })).collect::<Vec<_>>(),
        "runs": guarded(&plan.delete.runs, &read.guards.runs),
        "artifacts": guarded(&plan.delete.artifacts, &read.guards.artifacts),
        "backups": guarded(&plan.delete.backups, &read.guards.backups),
        "ingest_deliveries": guarded(&plan.delete.ingest_deliveries, &read.guards.ingest_deliveries),
        "s3_deletes": plan.s3_deletes,
        "resume_after": resume,
        "run_events": archived_events,
        "events_before": partitions.drop_before,
        "drop_events_before": drop_before,
    })
    .to_string()
}

fn base64_of_hex(hex: &str) -> String {
    let bytes: Vec<u8> = (0..hex.len() / 2)
        .filter_map(|i| hex.get(2 * i..2 * i + 2))
        .filter_map(|pair| u8::from_str_radix(pair, 16).ok())
        .collect();
    STANDARD.encode(bytes)
}

mod machine;
pub mod restore;

pub use machine::Invocation;

#[cfg(test)]
mod tests;
