//! What goes in and what comes out, as plain serde data.
//!
//! Every field is required, `null` where the column may be null: unknown
//! fields are refused, and so is a missing one, because a column the reader
//! forgot must not read as `null` (a forgotten `deleted_at` would undelete,
//! a forgotten `described_by` would change who wins a tie).

use crate::timestamp::Timestamp;
use ops_events::Event;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// Which projects a pass judges.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Only the Odoo projects written after the window's start,
    /// [`window_start`](crate::window_start) of the watermark. Finds no
    /// deletion: a deleted project has no row to be written.
    Incremental,
    /// Every Odoo project, page by page; a control-plane project of the
    /// page's range that Odoo does not have is marked deleted.
    Full,
}

/// The id range a page covers, on both sides: Odoo ids in
/// `(after_id, through_id]`, or above `after_id` when `through_id` is null.
///
/// The Odoo page must hold *every* `project_project` row of the range,
/// archived ones and templates included (in full mode; in incremental mode,
/// every row of the range written inside the window), and the control
/// plane's rows must be read for the same range: in full mode a project
/// missing from the Odoo page is marked deleted, and deletion is final.
/// With keyset paging (`id > after_id order by id limit n`): `through_id`
/// is the last id of a full page, or null when the page came back short.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageRange {
    /// The last id of the previous page; 0 on the first page.
    pub after_id: i64,
    /// The last id this page covers, or null: no end, the pass's last page.
    #[serde(deserialize_with = "Option::deserialize")]
    pub through_id: Option<i64>,
}

/// What a pass carries from one page to the next.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pass {
    /// `now` of the pass's first page.
    pub started_at: Timestamp,
    /// The latest `write_date` the pass has seen so far (rows skipped for a
    /// `write_date` in the future excepted), or null.
    #[serde(deserialize_with = "Option::deserialize")]
    pub high_water: Option<Timestamp>,
}

/// One row of Odoo's `project_project`, as the foreign table gives it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OdooProject {
    /// `id`.
    pub id: i64,
    /// `name`: translated, so `jsonb` keyed by language, e.g.
    /// `{"en_US": "Office", "fr_FR": "Bureau"}`. A plain string (an
    /// untranslated column) is the name in every language.
    pub name: Value,
    /// `active`; null reads as false, as Odoo reads it.
    #[serde(deserialize_with = "Option::deserialize")]
    pub active: Option<bool>,
    /// `write_date` as PostgreSQL prints a `timestamp without time zone`,
    /// in UTC: `2026-11-26 10:00:00.123456`. Checked by the planner, not by
    /// serde, so that one odd row is skipped rather than refusing the page.
    #[serde(deserialize_with = "Option::deserialize")]
    pub write_date: Option<String>,
    /// `is_template` (new in Odoo 19.0); null reads as false.
    #[serde(deserialize_with = "Option::deserialize")]
    pub is_template: Option<bool>,
}

/// One row of `ops.projects`, the control plane's mirror.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlProject {
    /// `odoo-<id>`.
    pub project_id: String,
    /// The mirrored name.
    pub name: String,
    /// The mirrored series.
    pub odoo_version: String,
    /// Odoo's active flag, as last applied.
    pub active: bool,
    /// When the project was marked deleted, if it was.
    #[serde(deserialize_with = "Option::deserialize")]
    pub deleted_at: Option<Timestamp>,
    /// The version of name and series: the `occurred_at` …
    #[serde(deserialize_with = "Option::deserialize")]
    pub described_at: Option<Timestamp>,
    /// … and the webhook id of the change that set them.
    #[serde(deserialize_with = "Option::deserialize")]
    pub described_by: Option<String>,
    /// The version of `active`: the `occurred_at` …
    #[serde(deserialize_with = "Option::deserialize")]
    pub activity_at: Option<Timestamp>,
    /// … and the webhook id of the change that set it.
    #[serde(deserialize_with = "Option::deserialize")]
    pub activity_by: Option<String>,
}

/// Everything [`plan`](crate::plan) looks at: one page of a pass.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Input {
    /// Incremental or full.
    pub mode: Mode,
    /// The watermark the last finished pass left (the same on every page of
    /// a pass); required in incremental mode, null before the first pass.
    #[serde(deserialize_with = "Option::deserialize")]
    pub watermark: Option<Timestamp>,
    /// The control plane's clock, passed in.
    pub now: Timestamp,
    /// The language whose name is mirrored, as Odoo spells it: `fr_FR`.
    pub language: String,
    /// `ir_module_module.latest_version` of the module `base`, e.g.
    /// `19.0.1.3`, or null if the row or the value is missing.
    #[serde(deserialize_with = "Option::deserialize")]
    pub base_latest_version: Option<String>,
    /// The id range both sides were read for.
    pub range: PageRange,
    /// What the previous page of this pass handed on ([`Next::Page`]), or
    /// null on a pass's first page.
    #[serde(deserialize_with = "Option::deserialize")]
    pub pass: Option<Pass>,
    /// Odoo's projects of the range, in any order.
    pub odoo_projects: Vec<OdooProject>,
    /// The control plane's projects of the range, in any order.
    pub projects: Vec<ControlProject>,
}

/// The premises under which the read may leave out the pairs that already
/// agree (`ops.reconcile_read`'s `p_agreement`), from [`agreement`]: the
/// language names are mirrored in, the series the machine derived from
/// `base_latest_version` (the read leaves nothing out when base's version
/// is another), and `now`, after which no `write_date` is left out.
///
/// [`agreement`]: crate::agreement
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Agreement {
    /// [`Input::language`].
    pub language: String,
    /// The series every project of this `base_latest_version` has.
    pub series: String,
    /// `ir_module_module.latest_version` of `base`, as read.
    pub base_latest_version: String,
    /// The control plane's clock.
    pub now: Timestamp,
}

/// What the read left out of a page because both sides already agreed
/// under an [`Agreement`]: how many pairs, and the latest `write_date`
/// among them (Odoo's text, as `write_date` is), which the pass's high water
/// counts as if they had been read.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agreed {
    /// Pairs left out: each counts as `unchanged`.
    pub count: u64,
    /// Their latest `write_date`, or null when none was left out.
    #[serde(default)]
    pub latest_write_date: Option<String>,
}

/// One change to apply: an event as ops-ingest would have applied it.
///
/// The caller applies each with the ordering rule of `ops.apply_project_event`
/// (`change_id` in the webhook id's place, `occurred_at` as the change time),
/// in the order of [`Plan::changes`], and, as `ops.ingest_event` does after a
/// creation, then applies the deferred events the creation made applicable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    /// The id the change is applied and recorded under (`described_by`,
    /// `activity_by`): `~reconcile:<now>:<event type>:<project id>`.
    pub change_id: String,
    /// When the change happened: the row's `write_date`, or `now` for a
    /// deletion. The same instant as the event's own `occurred_at`.
    pub occurred_at: Timestamp,
    /// The event, which serializes to exactly the body ops-ingest accepts.
    pub event: Event,
}

/// Why a project, or one part of it, was left alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// The row's `write_date` is null: a change without a time cannot be
    /// ordered.
    NoWriteDate,
    /// The row's `write_date` is not a timestamp without time zone.
    InvalidWriteDate,
    /// The row's `write_date` is more than five minutes ahead of `now`: the
    /// clocks disagree, and a change dated in the future would make every
    /// real change after it stale (ops-ingest refuses it too).
    WriteDateInFuture,
    /// Incremental mode: the row was not written after the window's start.
    OutsideWindow,
    /// A project template (`is_template`): templates are not mirrored.
    Template,
    /// The control plane has the project marked deleted; deletion is final,
    /// so every event about it would be stale. Reported because Odoo still
    /// has it, which deserves a look.
    DeletedInControlPlane,
    /// The name has no translation that is a string.
    NoName,
    /// The name, in the language chosen, breaks the name rule (empty, only
    /// whitespace, control characters, over 255 characters).
    InvalidName,
    /// The series is unknown: `base`'s `latest_version` is missing or not
    /// `<series>.<module version>`; names and series are left alone.
    UnknownSeries,
    /// The name or series differs, but the control plane's description is
    /// newer than this row's `write_date`: the change would be stale.
    StaleDescription,
    /// `active` differs, but the control plane's activity is newer than this
    /// row's `write_date`: the change would be stale.
    StaleActivity,
    /// Absent from Odoo, but changed too recently to be judged deleted: it
    /// may belong to an Odoo transaction that has not committed yet.
    MaybeUncommitted,
    /// Absent from Odoo, but Odoo's first page was empty: a whole table
    /// gone is more likely a wrong connection than a deletion of everything,
    /// and deletion is final.
    OdooReturnedNothing,
    /// The event rules refused the change for another reason (an id of
    /// more than 18 digits, a `write_date` before the year 2000).
    Refused,
}

/// One project or part left alone, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    /// `odoo-<id>`.
    pub project_id: String,
    /// Why.
    pub reason: SkipReason,
    /// The particulars, for a person: the rule broken, the two versions.
    pub detail: String,
}

/// How many of each outcome the page had.
///
/// Changes are counted by event type; a project whose row needs no change
/// and had nothing skipped is `unchanged`. One project can count more than
/// once (updated and archived, or a skipped name and an archive).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// `project_created` changes.
    pub created: u64,
    /// `project_updated` changes.
    pub updated: u64,
    /// `project_archived` changes.
    pub archived: u64,
    /// `project_unarchived` changes.
    pub unarchived: u64,
    /// `project_deleted` changes.
    pub deleted: u64,
    /// Projects judged that need nothing.
    pub unchanged: u64,
    /// Skips, by reason.
    pub skipped: BTreeMap<SkipReason, u64>,
}

/// What comes after this page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Next {
    /// Read the next page: ids after `after_id`, and hand `pass` back in.
    Page {
        /// The keyset cursor: the last id this page covered.
        after_id: i64,
        /// The pass so far.
        pass: Pass,
    },
    /// The pass is over: store `watermark` for the next incremental pass.
    Done {
        /// The next watermark; null only when no pass has seen a row yet.
        watermark: Option<Timestamp>,
    },
}

/// The plan of one page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// The changes, by project id, each project's in the order to apply.
    pub changes: Vec<Change>,
    /// What was left alone, by project id.
    pub skipped: Vec<Skipped>,
    /// The counts.
    pub summary: Summary,
    /// The next page, or the end of the pass.
    pub next: Next,
}
