//! The planner: one call that makes every decision of a cleanup step.

use crate::archive::{
    build_object, write_line, ArchiveObject, ArchiveTable, ObjectSpec, RowCounts,
};
use crate::error::{Error, ErrorKind};
use crate::gfs::{gfs_keep, GfsWindows};
use crate::policy::{Class, Policies, Retention, RetentionPolicy, Target};
use crate::rows::{Approval, Artifact, Backup, IngestDelivery, RunCandidate, RunEvent};
use crate::timestamp::{civil_from_days, month_start_micros, Timestamp, MICROS_PER_DAY};
use ops_values::{ArtifactType, BackupKind};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// How much one plan may archive.
///
/// Rows count every row that leaves the database through an archive (a run
/// and each of its events, an artifact, a backup, a partition's event);
/// bytes count the NDJSON before compression, which bounds the memory the
/// plan holds. The planner stops a table at the first row that does not fit
/// and reports where to resume. A single row larger than the whole budget is
/// still planned when it comes first, alone: otherwise it would block its
/// table forever.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// At most this many rows.
    pub max_rows: u64,
    /// At most this many uncompressed NDJSON bytes.
    pub max_bytes: u64,
}

impl Budget {
    /// A starting point sized for one Edge Function invocation (2 s CPU,
    /// 256 MB): 10,000 rows and 16 MiB of NDJSON, which the benchmark plans
    /// in well under the CPU limit natively. The executor should tune it from
    /// its own measurements.
    pub const DEFAULT: Budget = Budget {
        max_rows: 10_000,
        max_bytes: 16 << 20,
    };
}

impl Default for Budget {
    fn default() -> Budget {
        Budget::DEFAULT
    }
}

/// Where things live in S3, for the lifecycle rules.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LifecycleConfig {
    /// Where backup dumps are written, as `s3://<bucket>/<prefix>` (the
    /// prefix may be empty). One transition rule is planned per location.
    pub backup_locations: Vec<String>,
}

/// The run events the executor read for the partitions past retention.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventBatch {
    /// The names of all partitions of `ops.run_events`
    /// (`run_events_pYYYYMM`, `run_events_default`); other names are ignored,
    /// as `ops.drop_run_event_partitions` ignores them.
    pub partitions: Vec<String>,
    /// Events created before [`FetchBounds::run_events_before`], in any
    /// order: the oldest page of them. (An executor that deletes archived
    /// events as it goes, as ours does, needs no cursor; one that does not
    /// reads after [`ResumeAfter::run_events`].)
    pub events: Vec<RunEvent>,
    /// True when `events` holds every such event (the query returned fewer
    /// than it asked for). Only then can the partitions be dropped. An
    /// executor that did not read events at all says false.
    pub complete: bool,
}

/// Everything one plan is computed from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanInput {
    /// The executor's clock. The planner reads no clock of its own.
    pub now: Timestamp,
    /// The rows of `ops.retention_policies`.
    pub policies: Vec<RetentionPolicy>,
    /// How much this plan may archive.
    #[serde(default)]
    pub budget: Budget,
    /// Where backups live, for lifecycle rules.
    #[serde(default)]
    pub lifecycle: LifecycleConfig,
    /// Runs that may be past retention, each with all of its events,
    /// after the runs checkpoint.
    #[serde(default)]
    pub runs: Vec<RunCandidate>,
    /// The approvals of those runs (at least those; more do no harm).
    #[serde(default)]
    pub approvals: Vec<Approval>,
    /// Artifacts that may be past retention, after the artifacts checkpoint.
    #[serde(default)]
    pub artifacts: Vec<Artifact>,
    /// Complete backup series: for each (project, environment) present,
    /// *all* of its backups, because which ones to keep depends on the
    /// newest ones.
    #[serde(default)]
    pub backups: Vec<Backup>,
    /// Events of the partitions past retention.
    #[serde(default)]
    pub run_events: EventBatch,
    /// Rows of the ingest ledger that may be past retention, after the
    /// ingest-deliveries checkpoint.
    #[serde(default)]
    pub ingest_deliveries: Vec<IngestDelivery>,
}

/// The rows a plan deletes from the database, by primary key, each already
/// in one of the plan's archive objects.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RowDeletes {
    /// `ops.runs` (their events go with them, by cascade).
    pub runs: Vec<String>,
    /// `ops.artifacts`.
    pub artifacts: Vec<String>,
    /// `ops.backups`.
    pub backups: Vec<String>,
    /// `ops.ingest_deliveries`, by webhook id.
    pub ingest_deliveries: Vec<String>,
}

/// Why an S3 object is deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum S3DeleteReason {
    /// The dump of a pruned backup.
    BackupDump,
    /// The blob of an expired artifact.
    ArtifactBlob,
}

/// An S3 object to delete once the rows that point to it are deleted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct S3Object {
    /// `s3://<bucket>/<key>`, as stored in the row.
    pub uri: String,
    /// The bucket.
    pub bucket: String,
    /// The key.
    pub key: String,
    /// Why.
    pub reason: S3DeleteReason,
    /// The backup or artifact row it belonged to.
    pub row_id: String,
}

/// A container image whose artifact row expired. Images live in a registry,
/// not in S3: nothing in the S3 part of a plan touches them. This list is
/// for a registry clean-up step, by digest (a tag may since point elsewhere).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RegistryImage {
    /// The expired artifact row.
    pub artifact_id: String,
    /// The reference as stored, e.g. `ghcr.io/org/odoo-ce:v1.2.3`.
    pub reference: String,
    /// The repository, e.g. `ghcr.io/org/odoo-ce`.
    pub repository: String,
    /// The manifest digest to delete, `sha256:<hex>`.
    pub digest: String,
}

/// What happens to the monthly partitions of `ops.run_events`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PartitionPlan {
    /// The start of the oldest month that is kept. Every month that ends at
    /// or before it is wholly older than the run-events retention. `None`
    /// when run events are kept forever.
    pub drop_before: Option<Timestamp>,
    /// The existing monthly partitions that end at or before `drop_before`,
    /// oldest first.
    pub expired: Vec<String>,
    /// True when this plan archives every event still before `drop_before`
    /// (the batch is complete and nothing was deferred). The executor
    /// deletes archived events in the commit that records their archives, so
    /// once this plan's commit is done the months are empty and it may call
    /// `ops.drop_run_event_partitions(drop_before)`, which drops exactly
    /// `expired` and deletes the default partition's rows before it.
    pub drop_now: bool,
}

/// An S3 lifecycle rule, as plain data: transition objects under a prefix
/// to another storage class after some days. Never an expiration: deleting
/// is planned row by row, so that every deleted object's row is archived first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LifecycleRule {
    /// The rule's id in the bucket's configuration.
    pub id: String,
    /// The bucket.
    pub bucket: String,
    /// The key prefix it applies to (may be empty).
    pub prefix: String,
    /// Days after an object's creation.
    pub transition_after_days: u32,
    /// The S3 storage class, e.g. `GLACIER_IR`.
    pub storage_class: String,
}

/// Where the runs checkpoint is: the last run this plan decided about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunCursor {
    /// Its `finished_at`.
    pub finished_at: Timestamp,
    /// Its `run_id`.
    pub run_id: String,
}

/// Where the artifacts checkpoint is: the last artifact this plan decided about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactCursor {
    /// Its `created_at`.
    pub created_at: Timestamp,
    /// Its `artifact_id`.
    pub artifact_id: String,
}

/// Where the run-events checkpoint is: the last event this plan archived.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventCursor {
    /// Its `created_at`.
    pub created_at: Timestamp,
    /// Its `event_id`.
    pub event_id: i64,
}

/// Where the ingest-deliveries checkpoint is: the last ledger row this plan
/// decided about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryCursor {
    /// Its `received_at`.
    pub received_at: Timestamp,
    /// Its `webhook_id`.
    pub webhook_id: String,
}

/// Where the next invocation continues, per table: it asks for rows strictly
/// after these keys, in the same order. `None` when the plan saw no row of
/// that table. Backups need no cursor: each plan reads whole series, and
/// what it pruned is gone the next time.
///
/// A cursor is the last row *decided*, kept rows included, so rows that stay
/// (a project with a longer retention, an approved run) are not read again
/// and again within one cleanup cycle. A cycle (the daily run) starts with no
/// cursor and ends when a query returns fewer rows than it asked for and the
/// plan deferred none.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ResumeAfter {
    /// Order `(finished_at, run_id)`.
    pub runs: Option<RunCursor>,
    /// Order `(created_at, artifact_id)`.
    pub artifacts: Option<ArtifactCursor>,
    /// Order `(created_at, event_id)`.
    pub run_events: Option<EventCursor>,
    /// Order `(received_at, webhook_id)`, the id compared byte by byte (SQL's
    /// `collate "C"`).
    pub ingest_deliveries: Option<DeliveryCursor>,
}

/// What a plan does to one table's rows, among the rows it was given.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TableSummary {
    /// Written into this plan's archive objects.
    pub archived: u64,
    /// Removed by this plan's deletes (for run events: by the cascade from
    /// their run, or by the partition drop when it is due now).
    pub deleted: u64,
    /// Decided to stay (not past retention, unfinished, referenced by an
    /// approval, a backup the rule keeps, an approval, or a deferred event
    /// still waiting for its project).
    pub kept: u64,
    /// Not decided, because the budget ran out; the next invocation gets them.
    pub deferred: u64,
}

/// Per-table totals of a plan.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// `ops.runs`.
    pub runs: TableSummary,
    /// `ops.run_events`.
    pub run_events: TableSummary,
    /// `ops.artifacts`.
    pub artifacts: TableSummary,
    /// `ops.backups`.
    pub backups: TableSummary,
    /// `ops.approvals`: always all kept.
    pub approvals: TableSummary,
    /// `ops.ingest_deliveries`.
    pub ingest_deliveries: TableSummary,
}

/// A cleanup step, decided. The executor puts and verifies every archive
/// object, then deletes `delete` in one transaction (only rows unchanged
/// since it read them), then the S3 objects, then drops the partitions if
/// `run_event_partitions.drop_now`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// The objects to put into the archive bucket, each before any delete.
    pub archives: Vec<ArchiveObject>,
    /// Rows to delete, all of them in `archives`.
    pub delete: RowDeletes,
    /// S3 objects of the deleted rows, none still referenced by a kept row
    /// of the input.
    pub s3_deletes: Vec<S3Object>,
    /// Images of expired image artifacts, for a registry step.
    pub registry_deletes: Vec<RegistryImage>,
    /// The run-events partitions.
    pub run_event_partitions: PartitionPlan,
    /// Lifecycle rules the buckets should have.
    pub lifecycle_rules: Vec<LifecycleRule>,
    /// Checkpoints for the next invocation.
    pub resume_after: ResumeAfter,
    /// Per-table totals.
    pub summary: Summary,
}

/// The bounds of the executor's candidate queries: rows newer than these
/// cannot be past retention under any rule, so there is no need to read them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FetchBounds {
    /// Read finished runs with `finished_at < runs_finished_before`.
    /// `None`: no rule expires runs.
    pub runs_finished_before: Option<Timestamp>,
    /// Read artifacts with `created_at < artifacts_created_before`.
    pub artifacts_created_before: Option<Timestamp>,
    /// Read events with `created_at < run_events_before`; equal to
    /// [`PartitionPlan::drop_before`].
    pub run_events_before: Option<Timestamp>,
    /// Read ledger rows with `received_at < ingest_deliveries_received_before`.
    pub ingest_deliveries_received_before: Option<Timestamp>,
}

/// Computes the candidate query bounds from the policies and `now`.
pub fn fetch_bounds(policies: &[RetentionPolicy], now: Timestamp) -> Result<FetchBounds, Error> {
    let policies = Policies::new(policies)?;
    let before = |target| {
        policies
            .shortest_days(target)
            .and_then(|days| Timestamp::from_unix_micros(now.micros_days_before(days)).ok())
    };
    Ok(FetchBounds {
        runs_finished_before: before(Target::Runs),
        artifacts_created_before: before(Target::Artifacts),
        run_events_before: run_events_drop_before(&policies, now),
        ingest_deliveries_received_before: before(Target::IngestDeliveries),
    })
}

/// Makes every decision of one cleanup step. Pure: the same input always
/// gives the same plan, byte for byte.
pub fn plan(input: &PlanInput) -> Result<Plan, Error> {
    let policies = Policies::new(&input.policies)?;
    if input.budget.max_rows == 0 || input.budget.max_bytes == 0 {
        return Err(Error::new(
            ErrorKind::Budget,
            "budget",
            format!(
                "expected at least 1 row and 1 byte, got {} rows and {} bytes",
                input.budget.max_rows, input.budget.max_bytes
            ),
        ));
    }
    let mut planner = Planner {
        input,
        policies,
        meter: Meter {
            rows_left: input.budget.max_rows,
            bytes_left: input.budget.max_bytes,
            admitted_any: false,
        },
        plan: Plan::default(),
    };
    planner.runs()?;
    let planned_artifacts = planner.artifacts()?;
    let planned_backups = planner.backups()?;
    planner.run_events()?;
    planner.ingest_deliveries()?;
    planner.blob_deletes(&planned_artifacts, &planned_backups);
    planner.plan.lifecycle_rules = lifecycle_rules(&planner.policies, &input.lifecycle)?;
    planner.plan.summary.approvals.kept = input.approvals.len() as u64;
    Ok(planner.plan)
}

struct Meter {
    rows_left: u64,
    bytes_left: u64,
    admitted_any: bool,
}

impl Meter {
    fn admit(&mut self, rows: u64, bytes: u64) -> bool {
        if rows <= self.rows_left && bytes <= self.bytes_left {
            self.rows_left -= rows;
            self.bytes_left -= bytes;
        } else if self.admitted_any {
            return false;
        } else {
            // The first row of the plan goes even when it is over budget,
            // so that an oversized run cannot stall its table forever.
            self.rows_left = 0;
            self.bytes_left = 0;
        }
        self.admitted_any = true;
        true
    }
}

/// A line planned into an archive, before objects are built.
struct Line<'a> {
    project_id: &'a str,
    /// The run the row is or belongs to, if any.
    run_id: Option<&'a str>,
    month_index: i64,
    id: String,
    span: (usize, usize),
    rows: RowCounts,
}

struct Planner<'a> {
    input: &'a PlanInput,
    policies: Policies,
    meter: Meter,
    plan: Plan,
}

impl<'a> Planner<'a> {
    fn now(&self) -> Timestamp {
        self.input.now
    }

    /// True when a row created (or finished) at `at` is past `retention`:
    /// strictly older than `now - days`. A row exactly `days` old is kept,
    /// as in `ops.drop_run_event_partitions`' `<` cut-off.
    fn expired(&self, at: Timestamp, retention: Option<Retention>) -> bool {
        match retention {
            Some(Retention::Days(days)) => at.unix_micros() < self.now().micros_days_before(days),
            Some(Retention::Forever) | None => false,
        }
    }

    fn runs(&mut self) -> Result<(), Error> {
        let runs = &self.input.runs;
        let mut ids = BTreeSet::new();
        for (i, candidate) in runs.iter().enumerate() {
            let run = &candidate.run;
            key_part(&run.run_id, || format!("runs[{i}].run.run_id"))?;
            key_part(&run.project_id, || format!("runs[{i}].run.project_id"))?;
            if !ids.insert(run.run_id.as_str()) {
                return Err(Error::new(
                    ErrorKind::Candidate,
                    format!("runs[{i}].run.run_id"),
                    format!("{:?} is listed twice", run.run_id),
                ));
            }
            for (j, event) in candidate.events.iter().enumerate() {
                if event.run_id != run.run_id {
                    return Err(Error::new(
                        ErrorKind::Candidate,
                        format!("runs[{i}].events[{j}].run_id"),
                        format!(
                            "expected {:?}, the run it is filed under, got {:?}",
                            run.run_id, event.run_id
                        ),
                    ));
                }
                if event.project_id != run.project_id {
                    return Err(Error::new(
                        ErrorKind::Candidate,
                        format!("runs[{i}].events[{j}].project_id"),
                        format!(
                            "expected {:?}, its run's project, got {:?}",
                            run.project_id, event.project_id
                        ),
                    ));
                }
            }
        }
        // A run that an approval refers to stays: the approval is an audit
        // record kept forever, and the run is what it approved.
        let approved: BTreeSet<&str> = self
            .input
            .approvals
            .iter()
            .map(|a| a.run_id.as_str())
            .collect();

        let mut finished = Vec::with_capacity(runs.len());
        for candidate in runs {
            match candidate.run.finished_at() {
                Some(finished_at) => finished.push((finished_at, candidate)),
                None => {
                    // Never touched: a run that has not finished may still
                    // be written to by its worker.
                    self.plan.summary.runs.kept += 1;
                    self.plan.summary.run_events.kept += candidate.events.len() as u64;
                }
            }
        }
        finished.sort_unstable_by(|a, b| (a.0, &a.1.run.run_id).cmp(&(b.0, &b.1.run.run_id)));

        let mut buf = Vec::new();
        let mut lines = Vec::new();
        let mut stopped = false;
        for (finished_at, candidate) in finished {
            let run = &candidate.run;
            let events = candidate.events.len() as u64;
            if stopped {
                self.plan.summary.runs.deferred += 1;
                self.plan.summary.run_events.deferred += events;
                continue;
            }
            let retention = self.policies.resolve(&run.project_id, Target::Runs, None);
            if !self.expired(finished_at, retention) || approved.contains(run.run_id.as_str()) {
                self.plan.summary.runs.kept += 1;
                self.plan.summary.run_events.kept += events;
            } else {
                let start = buf.len();
                write_run_line(&mut buf, candidate)?;
                if !self.meter.admit(1 + events, (buf.len() - start) as u64) {
                    buf.truncate(start);
                    stopped = true;
                    self.plan.summary.runs.deferred += 1;
                    self.plan.summary.run_events.deferred += events;
                    continue;
                }
                lines.push(Line {
                    project_id: &run.project_id,
                    run_id: Some(&run.run_id),
                    month_index: finished_at.month_index(),
                    id: run.run_id.clone(),
                    span: (start, buf.len()),
                    rows: RowCounts {
                        runs: 1,
                        run_events: events,
                        ..RowCounts::default()
                    },
                });
                self.plan.delete.runs.push(run.run_id.clone());
                let summary = &mut self.plan.summary;
                summary.runs.archived += 1;
                summary.runs.deleted += 1;
                summary.run_events.archived += events;
                summary.run_events.deleted += events;
            }
            self.plan.resume_after.runs = Some(RunCursor {
                finished_at,
                run_id: run.run_id.clone(),
            });
        }
        self.plan
            .archives
            .extend(build_objects(ArchiveTable::Runs, &buf, &lines)?);
        Ok(())
    }

    /// Returns the artifacts planned for deletion.
    fn artifacts(&mut self) -> Result<Vec<&'a Artifact>, Error> {
        let artifacts = &self.input.artifacts;
        let mut ids = BTreeSet::new();
        for (i, artifact) in artifacts.iter().enumerate() {
            key_part(&artifact.artifact_id, || {
                format!("artifacts[{i}].artifact_id")
            })?;
            key_part(&artifact.project_id, || {
                format!("artifacts[{i}].project_id")
            })?;
            if !ids.insert(artifact.artifact_id.as_str()) {
                return Err(Error::new(
                    ErrorKind::Candidate,
                    format!("artifacts[{i}].artifact_id"),
                    format!("{:?} is listed twice", artifact.artifact_id),
                ));
            }
            let in_s3 = parse_s3_uri(&artifact.storage_path).is_some();
            if (artifact.artifact_type == ArtifactType::Image) == in_s3 {
                let expected = if in_s3 {
                    "an image reference"
                } else {
                    "an s3://<bucket>/<key> URI"
                };
                return Err(Error::new(
                    ErrorKind::Candidate,
                    format!("artifacts[{i}].storage_path"),
                    format!(
                        "expected {expected} for a {} artifact, got {:?}",
                        artifact.artifact_type.as_str(),
                        artifact.storage_path
                    ),
                ));
            }
        }
        let mut order: Vec<&Artifact> = artifacts.iter().collect();
        order.sort_unstable_by(|a, b| {
            (a.created_at, &a.artifact_id).cmp(&(b.created_at, &b.artifact_id))
        });

        let mut buf = Vec::new();
        let mut lines = Vec::new();
        let mut planned = Vec::new();
        let mut stopped = false;
        for artifact in order {
            if stopped {
                self.plan.summary.artifacts.deferred += 1;
                continue;
            }
            let class = Some(Class::Artifact(artifact.artifact_type));
            let retention = self
                .policies
                .resolve(&artifact.project_id, Target::Artifacts, class);
            if !self.expired(artifact.created_at, retention) {
                self.plan.summary.artifacts.kept += 1;
            } else {
                let start = buf.len();
                write_line(&mut buf, artifact)?;
                if !self.meter.admit(1, (buf.len() - start) as u64) {
                    buf.truncate(start);
                    stopped = true;
                    self.plan.summary.artifacts.deferred += 1;
                    continue;
                }
                lines.push(Line {
                    project_id: &artifact.project_id,
                    run_id: artifact.run_id.as_deref(),
                    month_index: artifact.created_at.month_index(),
                    id: artifact.artifact_id.clone(),
                    span: (start, buf.len()),
                    rows: RowCounts {
                        artifacts: 1,
                        ..RowCounts::default()
                    },
                });
                self.plan
                    .delete
                    .artifacts
                    .push(artifact.artifact_id.clone());
                self.plan.summary.artifacts.archived += 1;
                self.plan.summary.artifacts.deleted += 1;
                planned.push(artifact);
            }
            self.plan.resume_after.artifacts = Some(ArtifactCursor {
                created_at: artifact.created_at,
                artifact_id: artifact.artifact_id.clone(),
            });
        }
        self.plan
            .archives
            .extend(build_objects(ArchiveTable::Artifacts, &buf, &lines)?);
        Ok(planned)
    }

    /// Returns the backups planned for deletion.
    fn backups(&mut self) -> Result<Vec<&'a Backup>, Error> {
        let backups = &self.input.backups;
        let mut ids = BTreeSet::new();
        let mut series: BTreeMap<(&str, &str), Vec<usize>> = BTreeMap::new();
        for (i, backup) in backups.iter().enumerate() {
            key_part(&backup.backup_id, || format!("backups[{i}].backup_id"))?;
            key_part(&backup.project_id, || format!("backups[{i}].project_id"))?;
            if !ids.insert(backup.backup_id.as_str()) {
                return Err(Error::new(
                    ErrorKind::Candidate,
                    format!("backups[{i}].backup_id"),
                    format!("{:?} is listed twice", backup.backup_id),
                ));
            }
            if parse_s3_uri(&backup.storage_path).is_none() {
                return Err(Error::new(
                    ErrorKind::Candidate,
                    format!("backups[{i}].storage_path"),
                    format!(
                        "expected an s3://<bucket>/<key> URI, got {:?}",
                        backup.storage_path
                    ),
                ));
            }
            series
                .entry((backup.project_id.as_str(), backup.environment.as_str()))
                .or_default()
                .push(i);
        }

        let mut keep = vec![true; backups.len()];
        let mut times = Vec::new();
        for ((project_id, _environment), members) in &series {
            let tier = |kind| {
                self.policies
                    .resolve(project_id, Target::Backups, Some(Class::Backup(kind)))
            };
            let windows = GfsWindows {
                daily: tier(BackupKind::Daily),
                weekly: tier(BackupKind::Weekly),
                monthly: tier(BackupKind::Monthly),
            };
            times.clear();
            times.extend(
                members
                    .iter()
                    .map(|&i| (backups[i].created_at, backups[i].backup_id.as_str())),
            );
            for (&i, kept) in members.iter().zip(gfs_keep(&times, windows, self.now())) {
                keep[i] = kept;
            }
        }

        // Oldest first: deleting the oldest prunable backups first can only
        // make a later plan keep more (the oldest-backup rule), never less.
        let mut prune: Vec<&Backup> = backups
            .iter()
            .zip(&keep)
            .filter(|(_, &k)| !k)
            .map(|(b, _)| b)
            .collect();
        prune.sort_unstable_by(|a, b| {
            (a.created_at, &a.backup_id).cmp(&(b.created_at, &b.backup_id))
        });
        self.plan.summary.backups.kept += (backups.len() - prune.len()) as u64;

        let mut buf = Vec::new();
        let mut lines = Vec::new();
        let mut planned = Vec::new();
        let mut stopped = false;
        for backup in prune {
            if !stopped {
                let start = buf.len();
                write_line(&mut buf, backup)?;
                if self.meter.admit(1, (buf.len() - start) as u64) {
                    lines.push(Line {
                        project_id: &backup.project_id,
                        run_id: backup.run_id.as_deref(),
                        month_index: backup.created_at.month_index(),
                        id: backup.backup_id.clone(),
                        span: (start, buf.len()),
                        rows: RowCounts {
                            backups: 1,
                            ..RowCounts::default()
                        },
                    });
                    self.plan.delete.backups.push(backup.backup_id.clone());
                    self.plan.summary.backups.archived += 1;
                    self.plan.summary.backups.deleted += 1;
                    planned.push(backup);
                    continue;
                }
                buf.truncate(start);
                stopped = true;
            }
            self.plan.summary.backups.deferred += 1;
        }
        self.plan
            .archives
            .extend(build_objects(ArchiveTable::Backups, &buf, &lines)?);
        Ok(planned)
    }

    fn run_events(&mut self) -> Result<(), Error> {
        let batch = &self.input.run_events;
        let drop_before = run_events_drop_before(&self.policies, self.now());
        let partitions = &mut self.plan.run_event_partitions;
        partitions.drop_before = drop_before;

        let mut expired = Vec::new();
        for (i, name) in batch.partitions.iter().enumerate() {
            if let Some(month_index) = partition_month(name, i)? {
                let month_end = month_start_micros(month_index + 1);
                if drop_before.is_some_and(|cut| month_end <= cut.unix_micros()) {
                    expired.push((month_index, name.clone()));
                }
            }
        }
        expired.sort_unstable();
        expired.dedup();
        partitions.expired = expired.into_iter().map(|(_, name)| name).collect();

        let mut event_ids = BTreeSet::new();
        for (i, event) in batch.events.iter().enumerate() {
            let why = match drop_before {
                Some(cut) if event.created_at < cut => None,
                Some(cut) => Some(format!(
                    "{} is not before the cut-off {cut}",
                    event.created_at
                )),
                None => Some("run events are kept forever; expected no events".to_owned()),
            };
            if let Some(why) = why {
                return Err(Error::new(
                    ErrorKind::Candidate,
                    format!("run_events.events[{i}].created_at"),
                    why,
                ));
            }
            if !event_ids.insert(event.event_id) {
                return Err(Error::new(
                    ErrorKind::Candidate,
                    format!("run_events.events[{i}].event_id"),
                    format!("{} is listed twice", event.event_id),
                ));
            }
        }
        // An event whose run this plan archives and deletes is already in the
        // run's line and goes with the run: archiving it again for its month
        // would only double the work (the first cleanup of a database, where
        // old runs still have old events).
        let with_their_run: BTreeSet<&str> =
            self.plan.delete.runs.iter().map(String::as_str).collect();
        let mut order: Vec<&RunEvent> = batch.events.iter().collect();
        order.sort_unstable_by_key(|event| (event.created_at, event.event_id));

        let mut buf = Vec::new();
        let mut lines = Vec::new();
        let mut deferred = 0;
        for event in order {
            if with_their_run.contains(event.run_id.as_str()) {
                continue;
            }
            if deferred == 0 {
                let start = buf.len();
                write_line(&mut buf, event)?;
                if self.meter.admit(1, (buf.len() - start) as u64) {
                    lines.push(Line {
                        project_id: &event.project_id,
                        run_id: Some(&event.run_id),
                        month_index: event.created_at.month_index(),
                        id: event.event_id.to_string(),
                        span: (start, buf.len()),
                        rows: RowCounts {
                            run_events: 1,
                            ..RowCounts::default()
                        },
                    });
                    self.plan.resume_after.run_events = Some(EventCursor {
                        created_at: event.created_at,
                        event_id: event.event_id,
                    });
                    continue;
                }
                buf.truncate(start);
            }
            deferred += 1;
        }
        let archived = lines.len() as u64;
        let drop_now = drop_before.is_some() && batch.complete && deferred == 0;
        let partitions = &mut self.plan.run_event_partitions;
        partitions.drop_now = drop_now;
        let summary = &mut self.plan.summary.run_events;
        // Events that go with their run are already counted with it. An
        // archived event is deleted by the commit that records its archive.
        summary.archived += archived;
        summary.deferred += deferred;
        summary.deleted += archived;
        self.plan
            .archives
            .extend(build_objects(ArchiveTable::RunEvents, &buf, &lines)?);
        Ok(())
    }

    /// Ledger rows past retention, counted from `received_at`. By then no
    /// sender retries the delivery, so its row has nothing left to answer.
    /// A deferred event still waiting for its project is kept whatever its
    /// age: its body is the only copy of a change Odoo made, and deleting it
    /// would lose that change when the project arrives.
    fn ingest_deliveries(&mut self) -> Result<(), Error> {
        let deliveries = &self.input.ingest_deliveries;
        let mut ids = BTreeSet::new();
        for (i, delivery) in deliveries.iter().enumerate() {
            // The id is not part of an object key (only the archive record
            // holds it), so any id the ledger accepted is fine here.
            if delivery.webhook_id.is_empty() || !ids.insert(delivery.webhook_id.as_str()) {
                return Err(Error::new(
                    ErrorKind::Candidate,
                    format!("ingest_deliveries[{i}].webhook_id"),
                    format!("{:?} is empty or listed twice", delivery.webhook_id),
                ));
            }
        }
        let retention = self
            .policies
            .resolve_default(Target::IngestDeliveries, None);
        let mut order: Vec<&IngestDelivery> = deliveries.iter().collect();
        order.sort_unstable_by(|a, b| {
            (a.received_at, a.webhook_id.as_bytes()).cmp(&(b.received_at, b.webhook_id.as_bytes()))
        });

        let mut buf = Vec::new();
        let mut lines = Vec::new();
        let mut stopped = false;
        for delivery in order {
            if stopped {
                self.plan.summary.ingest_deliveries.deferred += 1;
                continue;
            }
            if delivery.awaits_its_project() || !self.expired(delivery.received_at, retention) {
                self.plan.summary.ingest_deliveries.kept += 1;
            } else {
                let start = buf.len();
                write_line(&mut buf, delivery)?;
                if !self.meter.admit(1, (buf.len() - start) as u64) {
                    buf.truncate(start);
                    stopped = true;
                    self.plan.summary.ingest_deliveries.deferred += 1;
                    continue;
                }
                lines.push(Line {
                    project_id: &delivery.project_id,
                    run_id: None,
                    month_index: delivery.received_at.month_index(),
                    id: delivery.webhook_id.clone(),
                    span: (start, buf.len()),
                    rows: RowCounts {
                        ingest_deliveries: 1,
                        ..RowCounts::default()
                    },
                });
                self.plan
                    .delete
                    .ingest_deliveries
                    .push(delivery.webhook_id.clone());
                let summary = &mut self.plan.summary.ingest_deliveries;
                summary.archived += 1;
                summary.deleted += 1;
            }
            self.plan.resume_after.ingest_deliveries = Some(DeliveryCursor {
                received_at: delivery.received_at,
                webhook_id: delivery.webhook_id.clone(),
            });
        }
        self.plan
            .archives
            .extend(build_objects(ArchiveTable::IngestDeliveries, &buf, &lines)?);
        Ok(())
    }

    /// Plans the S3 and registry deletes of the deleted rows. An object that a
    /// row of the input still points to (a kept, deferred or unexpired
    /// artifact or backup with the same path, or an image artifact with the
    /// same digest) stays.
    fn blob_deletes(&mut self, artifacts: &[&Artifact], backups: &[&Backup]) {
        let deleted_artifacts: BTreeSet<&str> =
            artifacts.iter().map(|a| a.artifact_id.as_str()).collect();
        let deleted_backups: BTreeSet<&str> =
            backups.iter().map(|b| b.backup_id.as_str()).collect();
        let mut paths_in_use: BTreeSet<&str> = BTreeSet::new();
        let mut images_in_use: BTreeSet<&str> = BTreeSet::new();
        for artifact in &self.input.artifacts {
            if !deleted_artifacts.contains(artifact.artifact_id.as_str()) {
                paths_in_use.insert(&artifact.storage_path);
                if artifact.artifact_type == ArtifactType::Image {
                    images_in_use.insert(&artifact.digest);
                }
            }
        }
        for backup in &self.input.backups {
            if !deleted_backups.contains(backup.backup_id.as_str()) {
                paths_in_use.insert(&backup.storage_path);
            }
        }

        let objects = backups
            .iter()
            .map(|b| {
                (
                    b.storage_path.as_str(),
                    S3DeleteReason::BackupDump,
                    b.backup_id.as_str(),
                )
            })
            .chain(
                artifacts
                    .iter()
                    .filter(|a| a.artifact_type != ArtifactType::Image)
                    .map(|a| {
                        (
                            a.storage_path.as_str(),
                            S3DeleteReason::ArtifactBlob,
                            a.artifact_id.as_str(),
                        )
                    }),
            );
        for (uri, reason, row_id) in objects {
            // Two deleted rows may share a path: one delete is enough.
            if !paths_in_use.insert(uri) {
                continue;
            }
            if let Some((bucket, key)) = parse_s3_uri(uri) {
                self.plan.s3_deletes.push(S3Object {
                    uri: uri.to_owned(),
                    bucket: bucket.to_owned(),
                    key: key.to_owned(),
                    reason,
                    row_id: row_id.to_owned(),
                });
            }
        }
        for artifact in artifacts
            .iter()
            .filter(|a| a.artifact_type == ArtifactType::Image)
        {
            // By digest: the same image recorded by a row that stays is still
            // in use, whatever tag it was recorded under.
            if images_in_use.insert(&artifact.digest) {
                self.plan.registry_deletes.push(RegistryImage {
                    artifact_id: artifact.artifact_id.clone(),
                    reference: artifact.storage_path.clone(),
                    repository: image_repository(&artifact.storage_path).to_owned(),
                    digest: artifact.digest.clone(),
                });
            }
        }
    }
}

/// Writes one runs-archive line: the run, then its events by
/// `(created_at, event_id)`, exactly as serde writes a [`RunCandidate`]
/// whose events are in that order.
fn write_run_line(buf: &mut Vec<u8>, candidate: &RunCandidate) -> Result<(), Error> {
    let fail = |err: serde_json::Error| {
        Error::new(
            ErrorKind::Archive,
            "",
            format!("cannot encode run {:?}: {err}", candidate.run.run_id),
        )
    };
    buf.extend_from_slice(b"{\"run\":");
    serde_json::to_writer(&mut *buf, &candidate.run).map_err(fail)?;
    buf.extend_from_slice(b",\"events\":[");
    let mut events: Vec<&RunEvent> = candidate.events.iter().collect();
    events.sort_unstable_by_key(|event| (event.created_at, event.event_id));
    for (k, event) in events.into_iter().enumerate() {
        if k > 0 {
            buf.push(b',');
        }
        serde_json::to_writer(&mut *buf, event).map_err(fail)?;
    }
    buf.extend_from_slice(b"]}\n");
    Ok(())
}

/// Groups lines into one object per month, in month order, each keeping
/// the lines' planning order.
fn build_objects(
    table: ArchiveTable,
    buf: &[u8],
    lines: &[Line<'_>],
) -> Result<Vec<ArchiveObject>, Error> {
    let mut months: BTreeMap<i64, Vec<&Line<'_>>> = BTreeMap::new();
    for line in lines {
        months.entry(line.month_index).or_default().push(line);
    }
    let mut objects = Vec::with_capacity(months.len());
    for (month_index, members) in months {
        let mut rows = RowCounts::default();
        let mut project_ids = BTreeSet::new();
        let mut run_ids = BTreeSet::new();
        for line in &members {
            rows.runs += line.rows.runs;
            rows.run_events += line.rows.run_events;
            rows.artifacts += line.rows.artifacts;
            rows.backups += line.rows.backups;
            rows.ingest_deliveries += line.rows.ingest_deliveries;
            project_ids.insert(line.project_id);
            run_ids.extend(line.run_id);
        }
        let spec = ObjectSpec {
            table,
            project_ids: project_ids.into_iter().map(str::to_owned).collect(),
            run_ids: run_ids.into_iter().map(str::to_owned).collect(),
            month_index,
            rows,
            ids: members.iter().map(|line| line.id.clone()).collect(),
        };
        objects.push(build_object(
            spec,
            members.iter().map(|line| &buf[line.span.0..line.span.1]),
        )?);
    }
    Ok(objects)
}

/// The start of the month holding `now - run-events retention`: months
/// ending at or before it are wholly past retention.
fn run_events_drop_before(policies: &Policies, now: Timestamp) -> Option<Timestamp> {
    let Some(Retention::Days(days)) = policies.resolve_default(Target::RunEvents, None) else {
        return None;
    };
    let cut_day = now.micros_days_before(days).div_euclid(MICROS_PER_DAY);
    let (year, month, _) = civil_from_days(cut_day);
    // Before the year 0000 nothing can be older; no partition is named so.
    Timestamp::from_unix_micros(month_start_micros(year * 12 + i64::from(month) - 1)).ok()
}

/// The month index of a `run_events_pYYYYMM` partition; `None` for any other
/// name (the default partition, or anything the SQL function also ignores).
fn partition_month(name: &str, index: usize) -> Result<Option<i64>, Error> {
    let Some(digits) = name.strip_prefix("run_events_p") else {
        return Ok(None);
    };
    if digits.len() != 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    let number: i64 = digits.parse().unwrap_or(0);
    let (year, month) = (number / 100, number % 100);
    if !(1..=12).contains(&month) {
        return Err(Error::new(
            ErrorKind::Candidate,
            format!("run_events.partitions[{index}]"),
            format!("{name:?} names month {month:02}, which does not exist"),
        ));
    }
    Ok(Some(year * 12 + month - 1))
}

/// The backup lifecycle rules for the configured locations.
///
/// One rule per location: to `GLACIER_IR` after the default weekly window.
/// Past it a backup survives only as a monthly keeper, so what moves is what
/// stays longest. Glacier Instant Retrieval, because a restore then stays a
/// plain GET (no thaw of hours); and only when the monthly window outlasts
/// the weekly one by at least its 90-day minimum storage duration, or an
/// early-deletion charge would eat the saving. Per-project overrides do not
/// change the rule: a bucket has one configuration for every project.
fn lifecycle_rules(
    policies: &Policies,
    config: &LifecycleConfig,
) -> Result<Vec<LifecycleRule>, Error> {
    const GLACIER_IR_MINIMUM_DAYS: u32 = 90;
    let tier = |kind| policies.resolve_default(Target::Backups, Some(Class::Backup(kind)));
    let (daily, weekly, monthly) = (
        tier(BackupKind::Daily),
        tier(BackupKind::Weekly),
        tier(BackupKind::Monthly),
    );
    let transition_after_days = match (daily, weekly, monthly) {
        (daily, Some(Retention::Days(weekly)), Some(monthly)) => {
            let daily_inside_weekly = match daily {
                None => true,
                Some(Retention::Days(daily)) => daily <= weekly,
                Some(Retention::Forever) => false,
            };
            let monthly_outlasts = match monthly {
                Retention::Forever => true,
                Retention::Days(monthly) => monthly >= weekly + GLACIER_IR_MINIMUM_DAYS,
            };
            (daily_inside_weekly && monthly_outlasts).then_some(weekly)
        }
        _ => None,
    };
    let mut rules = Vec::new();
    for (i, location) in config.backup_locations.iter().enumerate() {
        let Some(rest) = location.strip_prefix("s3://") else {
            return Err(bad_location(i, location));
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(bad_location(i, location));
        }
        if let Some(days) = transition_after_days {
            rules.push(LifecycleRule {
                id: format!("ops-backups-{i}-to-glacier-ir"),
                bucket: bucket.to_owned(),
                prefix: prefix.to_owned(),
                transition_after_days: days,
                storage_class: "GLACIER_IR".to_owned(),
            });
        }
    }
    Ok(rules)
}

fn bad_location(index: usize, location: &str) -> Error {
    Error::new(
        ErrorKind::Config,
        format!("lifecycle.backup_locations[{index}]"),
        format!("expected s3://<bucket>/<prefix>, got {location:?}"),
    )
}

/// `s3://<bucket>/<key>` split into bucket and key, both non-empty.
fn parse_s3_uri(uri: &str) -> Option<(&str, &str)> {
    let (bucket, key) = uri.strip_prefix("s3://")?.split_once('/')?;
    (!bucket.is_empty() && !key.is_empty()).then_some((bucket, key))
}

/// The repository part of an image reference: without `@digest` and without
/// a `:tag` after the last `/` (a `:` before it is a registry port).
fn image_repository(reference: &str) -> &str {
    let name = reference
        .split_once('@')
        .map_or(reference, |(name, _)| name);
    let last_part = name.rfind('/').map_or(0, |slash| slash + 1);
    match name[last_part..].find(':') {
        Some(colon) => &name[..last_part + colon],
        None => name,
    }
}

/// Ids and project ids become parts of object keys. Only letters, digits,
/// `-` and `_` are allowed, so that `/` and the `..` between the first and
/// last id cannot appear inside one, and a key always reads back unambiguously.
fn key_part(value: &str, at: impl FnOnce() -> String) -> Result<(), Error> {
    let ok = !value.is_empty()
        && value.len() <= 128
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::Candidate,
            at(),
            format!("expected 1 to 128 letters, digits, '-' or '_' (it becomes part of an object key), got {value:?}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_repositories() {
        assert_eq!(
            image_repository("ghcr.io/org/odoo-ce:v1.2.3"),
            "ghcr.io/org/odoo-ce"
        );
        assert_eq!(
            image_repository("localhost:5000/odoo@sha256:ab"),
            "localhost:5000/odoo"
        );
        assert_eq!(
            image_repository("localhost:5000/odoo:1@sha256:ab"),
            "localhost:5000/odoo"
        );
        assert_eq!(image_repository("ghcr.io/org/odoo"), "ghcr.io/org/odoo");
    }

    #[test]
    fn s3_uris() {
        assert_eq!(parse_s3_uri("s3://b/k/x.gz"), Some(("b", "k/x.gz")));
        assert_eq!(parse_s3_uri("s3://b/"), None);
        assert_eq!(parse_s3_uri("s3:///k"), None);
        assert_eq!(parse_s3_uri("https://b/k"), None);
    }

    #[test]
    fn partition_names() {
        assert_eq!(
            partition_month("run_events_p202402", 0).unwrap(),
            Some(2024 * 12 + 1)
        );
        assert_eq!(partition_month("run_events_default", 0).unwrap(), None);
        assert_eq!(partition_month("run_events_p2024021", 0).unwrap(), None);
        assert!(partition_month("run_events_p202413", 3)
            .unwrap_err()
            .to_string()
            .starts_with("run_events.partitions[3]: \"run_events_p202413\" names month 13"));
    }
}
