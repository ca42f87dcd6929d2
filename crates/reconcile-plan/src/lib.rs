//! Every decision of the reconcile, as one pure function: which project
//! events make the control plane's `ops.projects` what Odoo holds.
//!
//! Webhook deliveries are best effort, so the control plane drifts; only
//! reading Odoo itself repairs it (Pattern 2 of the data boundaries: hourly,
//! Odoo wins). [`plan`] takes one page of Odoo's `project_project` (as the
//! foreign table gives it), the control plane's rows for the same id range,
//! `base`'s `latest_version`, the configured language, the mode and `now`,
//! and returns the changes to make as the very events ops-ingest would have
//! applied ([`ops_events::Event`], built and checked by ops-ingest's own
//! parser), each with the id and time the ordering rule orders it by; what it
//! left alone and why; a count per outcome; and the next page's cursor, or
//! the watermark for the next pass. It reads no clock, no environment and no
//! network, uses no randomness, and the same input in any order gives the
//! same plan.
//!
//! ```
//! use ops_events::Event;
//! use reconcile_plan::{plan, Input, Next, SkipReason};
//! use serde_json::json;
//!
//! let input: Input = serde_json::from_value(json!({
//!     "mode": "full",
//!     "watermark": null,
//!     "now": "2026-11-26T12:00:00Z",
//!     "language": "fr_FR",
//!     "base_latest_version": "19.0.1.3",
//!     "range": { "after_id": 0, "through_id": null },
//!     "pass": null,
//!     "odoo_projects": [
//!         { "id": 42, "name": { "en_US": "Office", "fr_FR": "Bureau" }, "active": false,
//!           "write_date": "2026-11-26 10:00:00.123456", "is_template": false },
//!         { "id": 43, "name": { "en_US": "Template" }, "active": true,
//!           "write_date": "2026-11-26 09:00:00", "is_template": true }
//!     ],
//!     "projects": [
//!         { "project_id": "odoo-7", "name": "Gone", "odoo_version": "19.0", "active": true,
//!           "deleted_at": null, "described_at": "2026-11-01T08:00:00Z", "described_by": "msg_1",
//!           "activity_at": null, "activity_by": null }
//!     ]
//! })).unwrap();
//!
//! let plan = plan(&input).unwrap();
//! // odoo-7 is gone from Odoo: marked deleted, now.
//! let Event::ProjectDeleted(deleted) = &plan.changes[0].event else { panic!() };
//! assert_eq!(deleted.project_id.as_str(), "odoo-7");
//! assert_eq!(plan.changes[0].occurred_at.to_string(), "2026-11-26T12:00:00.000000Z");
//! // odoo-42 is new: created with its French name, dated by its write_date, then archived.
//! let Event::ProjectCreated(created) = &plan.changes[1].event else { panic!() };
//! assert_eq!((created.name.as_str(), created.odoo_version.as_str()), ("Bureau", "19.0"));
//! assert_eq!(plan.changes[1].occurred_at.to_string(), "2026-11-26T10:00:00.123456Z");
//! assert_eq!(
//!     plan.changes[1].change_id,
//!     "~reconcile:2026-11-26T12:00:00.000000Z:project_created:odoo-42"
//! );
//! assert!(matches!(plan.changes[2].event, Event::ProjectArchived(_)));
//! // The template is not mirrored.
//! assert_eq!(plan.skipped[0].reason, SkipReason::Template);
//! assert_eq!((plan.summary.created, plan.summary.archived, plan.summary.deleted), (1, 1, 1));
//! // The last page: the pass is over, and leaves the latest write_date it saw.
//! assert_eq!(
//!     plan.next,
//!     Next::Done { watermark: Some("2026-11-26T10:00:00.123456Z".parse().unwrap()) }
//! );
//! ```
//!
//! # How a pass runs
//!
//! 1. Incremental: read Odoo's projects with `write_date >`
//!    [`window_start`]`(watermark)`, compared as naive UTC (`write_date >
//!    $1::timestamptz at time zone 'UTC'`, whatever the session's time
//!    zone); full: all of them, archived ones and templates included. Either
//!    way by keyset, `id > after_id order by id limit n`, starting at
//!    `after_id = 0`.
//! 2. Read the control plane's `ops.projects` of the same id range: above
//!    `after_id`, up to the page's last id when the page was full
//!    ([`PageRange`]).
//! 3. [`plan`], with `pass: null` on the first page and [`Next::Page`]'s
//!    `pass` after.
//! 4. Apply [`Plan::changes`] in order, each through the ordering rule of
//!    `ops.apply_project_event` with [`Change::change_id`] as its webhook id
//!    and [`Change::occurred_at`] as its time; after a creation, apply the
//!    deferred events it made applicable, as `ops.ingest_event` does.
//! 5. On [`Next::Page`], read the next page after its `after_id`. On
//!    [`Next::Done`], store its watermark for the next incremental pass.
//!
//! Planning the same page twice gives the same plan, and applying a plan
//! and planning the page again gives no change: a pass that crashed is
//! simply run again.
//!
//! # The rules
//!
//! 1. **Changes are ops-ingest's events, under its ordering rule.** A new
//!    project is `project_created`; a different name or series,
//!    `project_updated`; a different `active`, `project_archived` or
//!    `project_unarchived`; a project gone from Odoo, `project_deleted`.
//!    Each is dated by Odoo's `write_date` (read as UTC, which is how Odoo
//!    writes it), the same date a delivery of that change carries, so a
//!    reconcile never undoes a newer delivery and a late delivery never
//!    undoes a newer reconcile: both are ordered, per part (description,
//!    activity, existence), by (`occurred_at`, webhook id).
//! 2. **No change the rule would call stale.** A change is left out, and
//!    reported as [`SkipReason::StaleDescription`] or
//!    [`SkipReason::StaleActivity`], when the control plane's version of its
//!    part (`described_at`/`described_by` for name and series,
//!    `activity_at`/`activity_by` for `active`) is at or after it: a
//!    `write_date` older than the recorded change, or the same with an id
//!    that does not sort after the recorded one. It is exactly the SQL
//!    rule's comparison, with ids by bytes (the `C` collation). A part Odoo
//!    and the control plane agree on needs no change, whatever its
//!    versions. A limit that follows: an Odoo database restored to an
//!    earlier point does not win over what the control plane recorded
//!    after that point, because its dates went back and look older.
//! 3. **Ties go to the reconcile, and to the later one.** Change ids are
//!    `~reconcile:<now>:<event type>:<project id>` ([`CHANGE_ID_PREFIX`]):
//!    deterministic, unique per plan, and at a tie they sort after every
//!    delivery's printable-ASCII id and after an earlier reconcile's. That
//!    is the right winner: Odoo runs `REPEATABLE READ`, so a transaction
//!    that writes a row after another has a later `write_date`, and a
//!    delivery dated the same as the row the reconcile read can only come
//!    from inside that transaction, before its last write (Odoo's webhooks
//!    are sent from within it).
//! 4. **The name** is the translation in the configured language, else
//!    `en_US`'s, else that of the first language code in byte order; only
//!    strings count, and `_`-prefixed keys (Odoo's edit variants) never do
//!    ([`name_in`]). A name that breaks the name rule (of `ops-events`: 1
//!    to 255 characters, not only whitespace, no control characters or line
//!    separators) is not written: that part is skipped,
//!    [`SkipReason::InvalidName`], with the rule it broke, and the control
//!    plane keeps the name it had. Not truncated or cleaned: a changed name
//!    would claim to be Odoo's while being no one's, two projects could
//!    end with one name, and the mirror would never converge to Odoo; a
//!    skip loses nothing, tells an operator exactly what to fix in Odoo, and
//!    the fix, which dates the row anew, is picked up by the next pass. Nor
//!    is another language's name taken instead: Odoo shows this one.
//! 5. **The series** is `odoo_version`, from `base`'s `latest_version`,
//!    `19.0.1.3` → `19.0`, `saas~18.3.1.3` → `saas~18.3` ([`series_of`]),
//!    then checked by `ops-events`' series rule. One series for all the
//!    instance's projects, dated by each project's `write_date`. An upgrade
//!    does not date the projects anew, so the new series comes dated the
//!    same as the recorded description and wins through rule 3's tie. When it
//!    is missing or not `<series>.<module version>`, no name or series is
//!    written, [`SkipReason::UnknownSeries`] (a description event carries
//!    both, and a guessed or kept series would be stated as Odoo's), and new
//!    projects are not created; archive, unarchive and deletion, which do
//!    not depend on it, are still planned.
//! 6. **Templates** (`is_template`, new in Odoo 19.0) are not mirrored:
//!    [`SkipReason::Template`]. A template is a model for projects, not a
//!    project anything runs for; the control plane mirrors what runs,
//!    backups and approvals refer to. A project already mirrored that
//!    became a template is left as it is, and a template is still in Odoo,
//!    so it is never marked deleted.
//! 7. **`active` and `is_template` read null as false**, as Odoo reads a
//!    Boolean column (it writes no SQL default).
//! 8. **A row that cannot be dated is skipped whole**: a null or malformed
//!    `write_date`, one more than five minutes after `now` (ops-ingest's
//!    clock rule; a change dated in the future would make every real change
//!    after it stale), and one before the year 2000 (its rule too,
//!    [`SkipReason::Refused`]). It still counts as present: it is never
//!    marked deleted.
//! 9. **Incremental mode** judges only rows written after the window's
//!    start, [`OVERLAP_SECONDS`] (15 minutes) before the watermark, and
//!    finds no deletions. The overlap is there because `write_date` is the
//!    *start* of Odoo's transaction: a transaction still running when the
//!    pass reads commits rows dated before the read, possibly before the
//!    watermark the pass leaves. The next pass's window reaches 15 minutes
//!    further back, so it finds those rows as long as no Odoo transaction
//!    runs longer (Odoo stops a worker after `limit_time_real`, 120 s by
//!    default).
//! 10. **The next watermark** is the latest `write_date` the pass saw,
//!     moved back by the time the pass took, and never behind the one it
//!     started from; dates in the future (rule 8) do not count. A row a page
//!     missed belonged to a transaction not committed at that page's read,
//!     so it is dated at most the overlap before that read, and no page was
//!     read before the first: the watermark must be no later than the first
//!     page's read. The latest `write_date` seen is no later than the last
//!     page's read (it had committed), and the pass's duration takes it back
//!     to the first's. The duration is measured on the control plane's clock
//!     and the dates are Odoo's, but a duration does not depend on how
//!     either clock is set. A full pass leaves a watermark too.
//! 11. **Full mode also finds deletions**: a control-plane project of the
//!     page's range that Odoo's page does not have is marked deleted,
//!     `project_deleted` dated `now`, the moment the reconcile saw it gone
//!     (Odoo's hard `DELETE` leaves no date). It cannot undo a newer event:
//!     the existence part has no version to lose, deletion is final in the
//!     rule, and there is nothing newer to undo, since a deleted row is
//!     never written again and Odoo never reuses an id. The row itself stays
//!     (`deleted_at` is a mark; runs, backups and approvals refer to it).
//!     Because deletion is final, two guards: a project changed less than
//!     the overlap before `now` is not marked yet
//!     ([`SkipReason::MaybeUncommitted`]: a delivery sent from inside an
//!     Odoo transaction that has not committed names a row the read cannot
//!     see), and when Odoo's very first page is empty nothing is marked
//!     ([`SkipReason::OdooReturnedNothing`]: a whole table gone is far
//!     likelier a wrong connection than every project deleted). A project
//!     Odoo has but the control plane marked deleted stays deleted and is
//!     reported ([`SkipReason::DeletedInControlPlane`]).
//! 12. **Deterministic, and linear after sorting.** Both sides are sorted by
//!     id and merged, so a page of 100,000 projects costs O(n log n); changes
//!     and skips come in id order, each project's in the order to apply
//!     them (created before archived). Errors name rows by id, never by
//!     position. A page read wrongly (a row outside its range, an id twice)
//!     is an error and plans nothing; what Odoo holds never is.
#![deny(missing_docs)]

mod error;
mod model;
mod odoo;
mod plan;
mod timestamp;
pub mod users;

pub use error::{Error, ErrorKind};
pub use model::{
    Agreed, Agreement, Change, ControlProject, Input, Mode, Next, OdooProject, PageRange, Pass,
    Plan, SkipReason, Skipped, Summary,
};
pub use odoo::{name_in, series_of, FALLBACK_LANGUAGE};
pub use plan::{
    agreement, plan, plan_with_agreed, window_start, CHANGE_ID_PREFIX, OVERLAP_SECONDS,
};
pub use timestamp::Timestamp;
pub use users::{
    plan_users, ControlUser, OdooUser, UserChange, UserSkipReason, UserSkipped, UsersInput,
    UsersPlan, UsersSummary,
};
