//! The rows the planner reads, one struct per `ops` table, field for column.
//!
//! Field order is column order, and it is the order of the keys in an
//! archive line. Every struct refuses unknown fields and every nullable
//! column must be present (as `null` if empty): a column the database layer
//! forgot to select, or one a later migration added, would otherwise be
//! silently missing from the archive and lost when the row is deleted.
//!
//! The closed sets among the columns (run status, artifact type, backup
//! kind, approval status) are `ops-values`' types, read and written as the
//! text the database stores.

use crate::timestamp::Timestamp;
use ops_values::{ApprovalStatus, ArtifactType, BackupKind, RunStatus};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// Deserializes a nullable column that must still be present. (Serde treats
/// a missing `Option` field as `None` unless the field has its own
/// `deserialize_with`.)
pub(crate) fn nullable<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer)
}

/// A row of `ops.runs`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Run {
    /// `run-<...>`; the primary key.
    pub run_id: String,
    /// The project, `odoo-<digits>`.
    pub project_id: String,
    /// `build`, `test`, `deploy`, `backup` or `restore`.
    pub kind: String,
    /// The environment acted on; null for builds.
    #[serde(deserialize_with = "nullable")]
    pub environment: Option<String>,
    /// Where the run is in its life.
    pub status: RunStatus,
    /// The git ref built or deployed.
    #[serde(deserialize_with = "nullable")]
    pub git_ref: Option<String>,
    /// The commit built or deployed.
    #[serde(deserialize_with = "nullable")]
    pub commit_sha: Option<String>,
    /// Who asked for the run.
    pub created_by: String,
    /// Free-form JSON object.
    pub metadata: Value,
    /// When the run was queued.
    pub created_at: Timestamp,
    /// When a worker started it.
    #[serde(deserialize_with = "nullable")]
    pub started_at: Option<Timestamp>,
    /// When it reached a final status; set exactly when the status is final.
    #[serde(deserialize_with = "nullable")]
    pub finished_at: Option<Timestamp>,
    /// Last change of the row.
    pub updated_at: Timestamp,
}

impl Run {
    /// When the run finished, if it has: its status is final *and* it has a
    /// `finished_at`. The database guarantees the two agree; if a row ever
    /// arrives where they do not, the run counts as unfinished and is kept.
    pub fn finished_at(&self) -> Option<Timestamp> {
        if self.status.is_finished() {
            self.finished_at
        } else {
            None
        }
    }
}

/// A row of `ops.run_events` (any partition).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunEvent {
    /// From `ops.run_events_event_id_seq`.
    pub event_id: i64,
    /// The run the event belongs to.
    pub run_id: String,
    /// The run's project.
    pub project_id: String,
    /// When it happened; selects the monthly partition.
    pub created_at: Timestamp,
    /// `debug`, `info`, `warning` or `error`.
    pub level: String,
    /// Dotted lowercase words, e.g. `step.started`.
    pub event_type: String,
    /// Up to 10,000 characters.
    pub message: String,
    /// Free-form JSON object.
    pub data: Value,
}

/// A run with all of its events: a runs candidate, and exactly one line of a
/// runs archive (`{"run":{...},"events":[...]}`).
///
/// Events are embedded rather than written as lines of their own because
/// deleting a run deletes its events (`on delete cascade`): one line is then
/// everything that one delete removed, and restoring a run is restoring a line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunCandidate {
    /// The run.
    pub run: Run,
    /// All of its events still in the database, in any order; the archive
    /// lists them by `(created_at, event_id)`.
    pub events: Vec<RunEvent>,
}

/// A row of `ops.artifacts`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Artifact {
    /// A uuid; the primary key.
    pub artifact_id: String,
    /// The project.
    pub project_id: String,
    /// The run that made it; null once that run was deleted.
    #[serde(deserialize_with = "nullable")]
    pub run_id: Option<String>,
    /// What it is; decides its retention and where it lives.
    pub artifact_type: ArtifactType,
    /// An image reference for images, an `s3://` URI for the rest.
    pub storage_path: String,
    /// Size of the blob.
    pub size_bytes: i64,
    /// `sha256:<hex>`.
    pub digest: String,
    /// When it was recorded; its retention counts from here.
    pub created_at: Timestamp,
}

/// A row of `ops.backups`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Backup {
    /// A uuid; the primary key.
    pub backup_id: String,
    /// The project.
    pub project_id: String,
    /// The run that made it; null once that run was deleted.
    #[serde(deserialize_with = "nullable")]
    pub run_id: Option<String>,
    /// The schedule that made it. It does not change the backup's fate: see
    /// the crate documentation.
    pub kind: BackupKind,
    /// `dev`, `staging` or `prod`; a project's environments are separate
    /// backup series.
    pub environment: String,
    /// `s3://<bucket>/<key>` of the dump.
    pub storage_path: String,
    /// Size of the dump.
    pub size_bytes: i64,
    /// `sha256:<hex>`.
    pub digest: String,
    /// When the backup was taken.
    pub created_at: Timestamp,
}

/// A row of `ops.approvals`. Never archived, never deleted: the planner only
/// reads `run_id`, to keep the runs that approvals refer to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    /// A uuid; the primary key.
    pub approval_id: String,
    /// The project.
    pub project_id: String,
    /// The run this approval is about (not a foreign key: see the schema).
    pub run_id: String,
    /// Pending, approved or rejected.
    pub status: ApprovalStatus,
    /// Who asked.
    pub requested_by: String,
    /// When they asked.
    pub requested_at: Timestamp,
    /// Why they asked.
    #[serde(deserialize_with = "nullable")]
    pub request_note: Option<String>,
    /// Who decided.
    #[serde(deserialize_with = "nullable")]
    pub decided_by: Option<String>,
    /// When they decided.
    #[serde(deserialize_with = "nullable")]
    pub decided_at: Option<Timestamp>,
    /// Why they decided so.
    #[serde(deserialize_with = "nullable")]
    pub decision_note: Option<String>,
}

/// A row of `ops.ingest_deliveries`: the ledger of `ops-ingest` deliveries.
///
/// The row is what makes a redelivery of the same `webhook-id` a replay
/// rather than a second effect, so it must outlive every retry of its sender.
/// A deferred event (an archive, unarchive or delete that arrived before its
/// project) also keeps its body here until the project arrives and it is
/// applied: until then it is never archived, however old.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestDelivery {
    /// The Standard Webhooks `webhook-id`; the primary key.
    pub webhook_id: String,
    /// SHA-256 of the delivered body, lowercase hex.
    pub body_sha256: String,
    /// The event's type.
    pub event_type: String,
    /// The project the event is about.
    pub project_id: String,
    /// What the delivery did, as answered.
    pub outcome: Value,
    /// When it was first received; its retention counts from here.
    pub received_at: Timestamp,
    /// When the change happened in Odoo.
    #[serde(deserialize_with = "nullable")]
    pub occurred_at: Option<Timestamp>,
    /// The body of a deferred event, kept to be applied later.
    #[serde(deserialize_with = "nullable")]
    pub deferred_event: Option<Value>,
    /// When a deferred event was applied.
    #[serde(deserialize_with = "nullable")]
    pub resolved_at: Option<Timestamp>,
}

impl IngestDelivery {
    /// Whether this is a deferred event still waiting for its project: its
    /// body is the only copy of a change Odoo made, so it stays until applied.
    pub fn awaits_its_project(&self) -> bool {
        self.deferred_event.is_some() && self.resolved_at.is_none()
    }
}
