//! Every decision of the `ops-cleanup` Edge Function, as pure functions.
//!
//! Given the retention policies (`ops.retention_policies`), `now` and a
//! batch of candidate rows, [`plan`] decides which rows to archive and then
//! delete, builds the archive objects (key, gzip-compressed NDJSON, SHA-256),
//! lists the S3 objects to delete, says which run-event partitions may be
//! dropped and which lifecycle rules the buckets should carry, and totals it
//! all per table. It reads no clock, no environment and no network, uses no
//! randomness, and the same input always gives the same plan, byte for byte.
//! The executor does the I/O: put and verify each archive, delete the rows,
//! delete the S3 objects, drop the partitions, checkpoint.
//!
//! This crate is the room for the cleanup's decisions about rows. The values
//! those rows hold — run status, artifact type, backup kind, approval status,
//! the retention targets and classes, the limits of a retention rule and the
//! defaults — are `ops-values`' (re-exported here where a caller needs them),
//! so the planner and the rest of the control plane agree on one set of each.
//!
//! ```
//! use cleanup_plan::{plan, PlanInput};
//! use serde_json::json;
//!
//! let run = |id: &str, status: &str, finished_at: Option<&str>| json!({
//!     "run": {
//!         "run_id": id, "project_id": "odoo-42", "kind": "build", "environment": null,
//!         "status": status, "git_ref": "main", "commit_sha": null,
//!         "created_by": "dev@example.com", "metadata": {},
//!         "created_at": "2026-08-01T10:00:00Z", "started_at": "2026-08-01T10:00:01Z",
//!         "finished_at": finished_at, "updated_at": "2026-08-01T10:05:00Z"
//!     },
//!     "events": []
//! });
//! let input: PlanInput = serde_json::from_value(json!({
//!     "now": "2026-11-26T03:00:00Z",
//!     "policies": serde_json::to_value(cleanup_plan::RetentionPolicy::seed_defaults()).unwrap(),
//!     "runs": [
//!         run("run-old", "success", Some("2026-08-01T10:05:00Z")), // 117 days ago
//!         run("run-stuck", "running", None),                      // never touched
//!     ],
//! })).unwrap();
//!
//! let plan = plan(&input).unwrap();
//! assert_eq!(plan.delete.runs, ["run-old"]);
//! assert_eq!(plan.archives.len(), 1);
//! assert_eq!(plan.archives[0].key, format!("runs/2026/08/{}.ndjson.gz", plan.archives[0].sha256_hex));
//! assert_eq!(plan.summary.runs.archived, 1);
//! assert_eq!(plan.summary.runs.kept, 1);
//! // Planning again gives the same object, byte for byte.
//! assert_eq!(cleanup_plan::plan(&input).unwrap().archives[0].content, plan.archives[0].content);
//! ```
//!
//! # What the executor does with it
//!
//! 1. [`fetch_bounds`] gives the query bounds: finished runs before
//!    `runs_finished_before` after the runs checkpoint, ordered by
//!    `(finished_at, run_id)`, each with all its events, plus the approvals
//!    of those runs; artifacts before `artifacts_created_before` by
//!    `(created_at, artifact_id)`; whole backup series; run events before
//!    `run_events_before` by `(created_at, event_id)` and the partition names;
//!    ledger rows before `ingest_deliveries_received_before` after the
//!    ingest-deliveries checkpoint, by `(received_at, webhook_id)`.
//! 2. [`plan`] on that batch.
//! 3. Put every [`ArchiveObject`] with `If-None-Match: *` and its SHA-256;
//!    an existing object under the same key has the same bytes (the digest
//!    is in the key), so "already there" counts as done. Verify.
//! 4. In one transaction: delete [`Plan::delete`], only rows unchanged since
//!    they were read and, for runs, still without an approval; record every
//!    archive (key, digest, rows, ids); store [`Plan::resume_after`].
//! 5. Delete [`Plan::s3_deletes`] (after the commit: an orphaned object costs
//!    a little, a row pointing to a deleted dump breaks a restore).
//! 6. If [`PartitionPlan::drop_now`], call
//!    `ops.drop_run_event_partitions(drop_before)` and check it dropped
//!    exactly [`PartitionPlan::expired`].
//!
//! # Decisions
//!
//! * **Timestamps** are RFC 3339 strings on the wire and [`Timestamp`]
//!   (UTC microseconds) inside: a restored row must equal the deleted one, and
//!   `timestamptz` has microseconds. Archives always write
//!   `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
//! * **Cut-offs keep the row exactly at them.** A run finished exactly
//!   `retain_days` ago is kept; one microsecond older is archived. The same
//!   holds for artifacts, for backup windows and for partitions (a month is
//!   dropped when its end is at or before `now - 30 days`, i.e. every event in
//!   it is strictly older), matching `ops.drop_run_event_partitions`.
//! * **Runs**: only finished runs (final status *and* `finished_at`) older
//!   than their project's retention, counted from `finished_at`. A run an
//!   approval refers to is kept: the schema deliberately has no foreign key
//!   from approvals to runs (so deleting would succeed), but an approval is
//!   an audit record kept forever and the run is what it approved. Approvals
//!   themselves are only read, never archived or deleted, and a policy that
//!   would expire them is refused.
//! * **Runs archive lines** embed their events, `{"run":{..},"events":[..]}`:
//!   deleting a run cascades to its events, so one line is exactly what one
//!   delete removes. Events are sorted by `(created_at, event_id)`.
//! * **Run events** are also dropped by month: the run-events rule (one for
//!   all projects) gives `drop_before`, the start of the month that holds
//!   `now - 30 days`. Events before it are archived one line per event into
//!   `run_events/<yyyy>/<mm>/...` objects, and once every one of them is
//!   archived the plan says `drop_now`.
//! * **Artifacts** expire per type (the defaults, one rule per type, are in
//!   `supabase/tests/vectors/retention_defaults.json`). The row
//!   is archived and deleted and its S3 blob deleted. Images live in a
//!   registry: their blobs are never in the S3 delete list; they go to a
//!   separate [`Plan::registry_deletes`] list, by digest, for a registry
//!   step. S3 lifecycle expiration is not used: it cannot archive the row first
//!   and does not know per-project rules.
//! * **Backups** follow grandfather-father-son as restic's
//!   `--keep-within-daily/-weekly/-monthly` define it (see [`gfs_keep`]),
//!   per (project, environment) series, with the policy rows
//!   `backups/daily|weekly|monthly` as the three windows. The `kind` column
//!   (which schedule made the backup) does not change a backup's fate: the
//!   rule picks the newest backup of each day, week and month, whichever
//!   schedule made it. A pruned backup's row is archived and deleted and its
//!   dump deleted.
//! * **Ingest deliveries** (`ops.ingest_deliveries`, the idempotency ledger
//!   of `ops-ingest`) expire by one rule for all projects, counted from
//!   `received_at`, of at least a week: a row must
//!   outlive every retry of its delivery, or the retry would take effect a
//!   second time. A deferred event that has not been applied yet (its
//!   project has not arrived) is kept whatever its age: it is the only copy
//!   of that change. Archived one line per row.
//! * **Lifecycle**: backup locations transition to `GLACIER_IR` after the
//!   weekly window (see [`LifecycleRule`]); nothing is ever expired by a rule.
//! * **Archive objects** are keyed
//!   `<table>/<yyyy>/<mm>/<sha256>.ndjson.gz`, one per
//!   table and month of a plan (not per project: see [`ArchiveObject`]),
//!   compressed with a fixed gzip header (no name, mtime 0) and level.
//! * **Batches**: a [`Budget`] of rows and bytes; runs and artifacts are
//!   decided in key order and [`ResumeAfter`] is the last key decided, so the
//!   next invocation reads after it; backups are read as whole series and
//!   pruned oldest first.
//! * **Rows are taken whole**: unknown fields and missing nullable columns
//!   are refused, so that a column the database layer forgot, or one a later
//!   migration adds, can never be silently left out of an archive.
#![deny(missing_docs)]

mod archive;
mod error;
mod gfs;
mod plan;
mod policy;
mod rows;
mod timestamp;

pub use archive::{
    gzip_deterministic, sha256_hex, ArchiveObject, ArchiveTable, RowCounts, ARCHIVE_CONTENT_TYPE,
    GZIP_LEVEL,
};
pub use error::{Error, ErrorKind};
pub use gfs::{gfs_keep, GfsWindows};
pub use plan::{
    fetch_bounds, plan, ArtifactCursor, Budget, DeliveryCursor, EventBatch, EventCursor,
    FetchBounds, LifecycleConfig, LifecycleRule, PartitionPlan, Plan, PlanInput, RegistryImage,
    ResumeAfter, RowDeletes, RunCursor, S3DeleteReason, S3Object, Summary, TableSummary,
};
pub use policy::{
    Policies, Retention, RetentionPolicy, Target, MAX_RETAIN_DAYS,
    MIN_INGEST_DELIVERIES_RETAIN_DAYS,
};
pub use rows::{Approval, Artifact, Backup, IngestDelivery, Run, RunCandidate, RunEvent};
// The closed sets of the rows' columns are ops-values' own, re-exported so
// that a caller building rows needs only this crate.
pub use ops_values::{ApprovalStatus, ArtifactType, BackupKind, RunStatus};
pub use timestamp::Timestamp;
