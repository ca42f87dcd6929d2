//! The users half of the reconcile: which user events make the control
//! plane's `ops.odoo_users` of one Odoo instance what Odoo's `res_users`,
//! joined to `res_partner`, holds.
//!
//! [`plan_users`] takes one page of Odoo's users as the read gives them
//! (`res_users` left-joined to the user's partner, for the partner's
//! `email` and `write_date`), the control plane's `ops.odoo_users` rows of
//! the same instance and id range, the instance, the mode, `now`, the range
//! and the pass, and returns the user events ops-ingest would have applied
//! ([`UserChange`], each built and checked by ops-ingest's own parser), what
//! it left alone and why, a count per outcome and what comes next. The
//! paging, the window, the watermark, the change ids and the rules for odd
//! `write_date`s are the projects planner's ([`plan`](crate::plan)); what
//! differs is said here.
//!
//! ```
//! use ops_events::Event;
//! use reconcile_plan::{plan_users, UsersInput, UserSkipReason};
//! use serde_json::json;
//!
//! let input: UsersInput = serde_json::from_value(json!({
//!     "instance": "prod",
//!     "mode": "full",
//!     "watermark": null,
//!     "now": "2026-11-26T12:00:00Z",
//!     "range": { "after_id": 0, "through_id": null },
//!     "pass": null,
//!     "odoo_users": [
//!         { "id": 7, "login": "Ana@Example.com", "active": true, "share": false,
//!           "write_date": "2026-11-18 11:00:00", "partner_id": 8,
//!           "email": "ANA@example.com", "partner_write_date": "2026-11-20 09:30:00.5" }
//!     ],
//!     "users": [
//!         { "odoo_user_id": 7, "odoo_login": "Ana@Example.com", "odoo_email": "old@example.com",
//!           "share": false, "active": true, "deleted_at": null,
//!           "odoo_changed_at": "2026-11-18T11:00:00Z", "facts_at": null, "facts_by": null,
//!           "activity_at": null, "activity_by": null }
//!     ]
//! })).unwrap();
//!
//! let plan = plan_users(&input).unwrap();
//! // Only the partner's email changed: the update is dated by the partner's write_date.
//! let Event::UserUpdated(updated) = &plan.changes[0].event else { panic!() };
//! assert_eq!(updated.email.as_ref().map(|e| e.as_str()), Some("ANA@example.com"));
//! assert_eq!(plan.changes[0].occurred_at.to_string(), "2026-11-20T09:30:00.500000Z");
//! assert_eq!(
//!     plan.changes[0].change_id,
//!     "~reconcile:2026-11-26T12:00:00.000000Z:user_updated:prod:7"
//! );
//! // As the SQL apply reads it: the event with its match keys, as ops-ingest sends it.
//! let sent = serde_json::to_value(&plan.changes[0]).unwrap();
//! assert_eq!(sent["event"]["login_key"], "ana@example.com");
//! assert_eq!(sent["event"]["email_key"], "ana@example.com");
//! assert_eq!(plan.summary.updated, 1);
//! ```
//!
//! # How a pass runs
//!
//! As the projects' pass, with `ops.reconcile_read_users` and
//! `ops.reconcile_apply_users`: the read takes the instance, `after_id`, the
//! page size and, in incremental mode, [`window_start`]
//! of the watermark, and returns `odoo_users`, `users` and `range`; the
//! caller adds `instance`, `mode`, `watermark`, `now` and `pass` to make a
//! [`UsersInput`]. The apply takes the instance and [`UsersPlan::changes`]
//! as serialized (each event carries its `login_key` and `email_key`).
//!
//! # The rules
//!
//! 1. **Changes are ops-ingest's user events, under its ordering rule.** A
//!    new user is `user_created` (with its `active`, so a user created
//!    archived needs no second event); different facts (login, email,
//!    share), `user_updated`; a different `active`, `user_archived` or
//!    `user_unarchived`; a user gone from Odoo, `user_deleted`. Each is
//!    ordered per part (facts, activity, existence) by (`occurred_at`,
//!    change id) against the part's version, exactly as
//!    `ops.apply_user_event` orders it: a part no event has set
//!    (`facts_at`/`activity_at` null) has `odoo_changed_at` as its version
//!    and an empty id. A change the rule would call stale is left out,
//!    [`UserSkipReason::StaleFacts`] or [`UserSkipReason::StaleActivity`].
//!    Change ids are `~reconcile:<now>:<event type>:<instance>:<id>`
//!    ([`CHANGE_ID_PREFIX`]), which win ties as
//!    the projects' do.
//! 2. **The facts are dated by the later of the user's and the partner's
//!    `write_date`.** The email lives in `res_partner`, so an email change
//!    writes only the partner's row and its `write_date`; the facts the
//!    read joined were Odoo's at the later of the two dates. **The activity
//!    is dated by the user's own `write_date`**, because only `res_users`
//!    holds `active`: dating it by a later partner write could make a
//!    delivered archive of a transaction that had not committed at the read
//!    look older than the reconcile, and the user would stay active. A new
//!    user is therefore `user_created` at the user's `write_date` and, when
//!    the partner was written later, `user_updated` with the same facts at
//!    the partner's, so that each part carries its own date from the start.
//! 3. **The window of an incremental pass includes users whose partner
//!    changed.** The read returns the users whose own *or* partner's
//!    `write_date` is at or after the window's start; the planner judges a
//!    user when the later of the two is after it, and the later of the two
//!    counts toward the watermark.
//! 4. **The partner's email as Odoo stores it**, and an empty one as none:
//!    Odoo reads an empty Char as no value, and the event rule has no empty
//!    email. A user whose partner the read did not find
//!    (`partner_id` null; Odoo's `partner_id` is required and restricted, so
//!    only a torn read gives it) has unknown facts: no facts are written
//!    ([`UserSkipReason::NoPartner`]), since a null email would erase the
//!    one recorded, and no user is created; its activity is still judged.
//!    A login or an email that breaks the event rules is skipped the same
//!    way ([`UserSkipReason::InvalidLogin`], [`UserSkipReason::InvalidEmail`]),
//!    not cleaned: a cleaned value would be no one's.
//! 5. **Portal and public users are mirrored** with their `share`; what
//!    `share` means for a link is identity-map's rule (only an admin links
//!    them). **So are `__system__` and the public user.** They are rows of
//!    `res_users` like any other: their logins are Odoo's and are unique
//!    with the rest (`ops.odoo_users` keeps Odoo's login rule per
//!    instance, which it can only do knowing every login), Odoo's webhook
//!    automations on `res.users` send events about them too (skipping them
//!    here would make the reconcile and the deliveries disagree), and
//!    nothing is lost: `__system__` is archived in every database and Odoo
//!    refuses to activate it, so its link could only be inactive, and the
//!    public user is `share` and archived. Odoo refuses to delete either
//!    (`_unlink_except_master_data`), so neither is ever marked deleted
//!    while Odoo has it. A portal user's self-deletion (archived, login
//!    rewritten to `__deleted_user_<id>_<ts>`) is mirrored as it is: an
//!    update and an archive, and identity-map counts that login as deleted.
//! 6. **`active` and `share` read null as false**, as Odoo reads a Boolean.
//! 7. **A row that cannot be dated is skipped whole**, as a project: a null
//!    or malformed user `write_date`, a malformed partner `write_date`, or
//!    either more than five minutes after `now`
//!    ([`UserSkipReason::WriteDateInFuture`]); before the year 2000 the
//!    event rules refuse it ([`UserSkipReason::Refused`]). A partner whose
//!    `write_date` is null dates nothing: the user's own dates the facts.
//! 8. **Deletion only in full mode, with the projects' guards**: a control
//!    plane user of the range that Odoo's page does not have is marked
//!    deleted (`user_deleted` dated `now`), unless it changed less than the
//!    overlap before `now` ([`UserSkipReason::MaybeUncommitted`], its latest
//!    of `odoo_changed_at`, `facts_at` and `activity_at`) or Odoo's very
//!    first page is empty ([`UserSkipReason::OdooReturnedNothing`]). A user
//!    Odoo has but the control plane marked deleted stays deleted and is
//!    reported ([`UserSkipReason::DeletedInControlPlane`]).
//! 9. **A login another user still holds** in the control plane is not the
//!    planner's to judge: Odoo's logins are unique, so the holder's own row
//!    is behind and its change is in this plan or a later page. The apply
//!    defers such a change (as a delivery is), applies the rest, and tries
//!    the deferred ones again after them, so a chain of renames on one page
//!    lands in any order. A swap (two users trading logins, which Odoo does
//!    through a third) cannot land by events alone and is reported as
//!    deferred on every pass, as is a rename whose holder is on a later
//!    page, until that page's pass has run: the next full pass completes it.

use crate::error::{Error, ErrorKind};
use crate::model::{Mode, Next, PageRange, Pass};
use crate::plan::{check_range, next_watermark, window_start, CHANGE_ID_PREFIX, OVERLAP_SECONDS};
use crate::timestamp::{Timestamp, MICROS_PER_SECOND};
use ops_events::{parse_event, Event, FUTURE_TOLERANCE_SECONDS};
use ops_values::{quoted, Environment};
use serde::ser::{Error as _, SerializeStruct};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Everything [`plan_users`] looks at: one page of a pass over one
/// instance's users. Every field is required, `null` where it may be null,
/// as in [`Input`](crate::Input).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsersInput {
    /// The Odoo instance whose users these are.
    pub instance: Environment,
    /// Incremental or full.
    pub mode: Mode,
    /// The watermark the last finished pass over the users left; required
    /// in incremental mode.
    #[serde(deserialize_with = "Option::deserialize")]
    pub watermark: Option<Timestamp>,
    /// The control plane's clock, passed in.
    pub now: Timestamp,
    /// The id range both sides were read for (`res_users.id`).
    pub range: PageRange,
    /// What the previous page handed on, or null on a pass's first page.
    #[serde(deserialize_with = "Option::deserialize")]
    pub pass: Option<Pass>,
    /// Odoo's users of the range, in any order.
    pub odoo_users: Vec<OdooUser>,
    /// The control plane's `ops.odoo_users` of the instance and range, in
    /// any order.
    pub users: Vec<ControlUser>,
}

/// One row of Odoo's `res_users`, left-joined to its partner.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OdooUser {
    /// `res_users.id`.
    pub id: i64,
    /// `res_users.login`, as Odoo stores it (not null in Odoo).
    pub login: String,
    /// `res_users.active`; null reads as false.
    #[serde(deserialize_with = "Option::deserialize")]
    pub active: Option<bool>,
    /// `res_users.share`; null reads as false.
    #[serde(deserialize_with = "Option::deserialize")]
    pub share: Option<bool>,
    /// `res_users.write_date`, as PostgreSQL prints a timestamp without time
    /// zone, in UTC.
    #[serde(deserialize_with = "Option::deserialize")]
    pub write_date: Option<String>,
    /// `res_partner.id` of the joined partner: null when the join found no
    /// partner, which makes the email unknown rather than none.
    #[serde(deserialize_with = "Option::deserialize")]
    pub partner_id: Option<i64>,
    /// `res_partner.email`.
    #[serde(deserialize_with = "Option::deserialize")]
    pub email: Option<String>,
    /// `res_partner.write_date`, printed as `write_date` is.
    #[serde(deserialize_with = "Option::deserialize")]
    pub partner_write_date: Option<String>,
}

/// One row of `ops.odoo_users`, the control plane's mirror of a user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlUser {
    /// `res_users.id` in the instance.
    pub odoo_user_id: i64,
    /// The mirrored login.
    pub odoo_login: String,
    /// The mirrored email, if any.
    #[serde(deserialize_with = "Option::deserialize")]
    pub odoo_email: Option<String>,
    /// The mirrored `share`.
    pub share: bool,
    /// The mirrored `active`.
    pub active: bool,
    /// When the user was marked deleted, if it was.
    #[serde(deserialize_with = "Option::deserialize")]
    pub deleted_at: Option<Timestamp>,
    /// When the row was last taken from Odoo: the version of a part no
    /// event has set.
    pub odoo_changed_at: Timestamp,
    /// The version of the facts: the `occurred_at` …
    #[serde(deserialize_with = "Option::deserialize")]
    pub facts_at: Option<Timestamp>,
    /// … and the id of the change that set them.
    #[serde(deserialize_with = "Option::deserialize")]
    pub facts_by: Option<String>,
    /// The version of `active`: the `occurred_at` …
    #[serde(deserialize_with = "Option::deserialize")]
    pub activity_at: Option<Timestamp>,
    /// … and the id of the change that set it.
    #[serde(deserialize_with = "Option::deserialize")]
    pub activity_by: Option<String>,
}

/// One change to apply: a user event as ops-ingest would have applied it.
///
/// Serialized as `{"change_id", "occurred_at", "event"}`, where `event` is
/// the event as ops-ingest hands it to `ops.ingest_event`: for
/// `user_created` and `user_updated`, with `login_key` and `email_key`
/// (`identity_map::match_key` of the login and of the email, null for no
/// email) beside its fields ([`UserChange::database_event`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserChange {
    /// `~reconcile:<now>:<event type>:<instance>:<id>`, applied and recorded
    /// in the webhook id's place.
    pub change_id: String,
    /// When the change happened (the dates of rule 2, or `now` for a
    /// deletion); the event's own `occurred_at`.
    pub occurred_at: Timestamp,
    /// The event, which serializes to exactly the body ops-ingest accepts.
    pub event: Event,
}

impl UserChange {
    /// The event as the SQL apply reads it, with the match keys of the
    /// login and email of the events that carry them, exactly as ops-ingest
    /// sends a delivered event to the database.
    pub fn database_event(&self) -> Result<Value, serde_json::Error> {
        let mut value = serde_json::to_value(&self.event)?;
        if let (Some((login, email)), Value::Object(object)) = (self.event.user_facts(), &mut value)
        {
            object.insert(
                "login_key".to_owned(),
                identity_map::match_key(login.as_str()).into(),
            );
            object.insert(
                "email_key".to_owned(),
                email
                    .and_then(|e| identity_map::match_key(e.as_str()))
                    .into(),
            );
        }
        Ok(value)
    }
}

impl Serialize for UserChange {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let event = self.database_event().map_err(S::Error::custom)?;
        let mut change = serializer.serialize_struct("UserChange", 3)?;
        change.serialize_field("change_id", &self.change_id)?;
        change.serialize_field("occurred_at", &self.occurred_at)?;
        change.serialize_field("event", &event)?;
        change.end()
    }
}

/// Why a user, or one part of it, was left alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserSkipReason {
    /// The user's `write_date` is null.
    NoWriteDate,
    /// The user's or the partner's `write_date` is not a timestamp without
    /// time zone.
    InvalidWriteDate,
    /// The user's or the partner's `write_date` is more than five minutes
    /// ahead of `now`.
    WriteDateInFuture,
    /// Incremental mode: neither the user nor its partner was written after
    /// the window's start.
    OutsideWindow,
    /// The read found no partner for the user: its email is unknown, so its
    /// facts are not written and it is not created.
    NoPartner,
    /// The control plane has the user marked deleted, but Odoo has it.
    DeletedInControlPlane,
    /// The login breaks the event rules (over 254 characters, control
    /// characters, a lowercase uuid).
    InvalidLogin,
    /// The email breaks the event rules (over 254 characters, control
    /// characters).
    InvalidEmail,
    /// The facts differ, but the control plane's are newer.
    StaleFacts,
    /// `active` differs, but the control plane's is newer.
    StaleActivity,
    /// Absent from Odoo, but changed too recently to be judged deleted.
    MaybeUncommitted,
    /// Absent from Odoo, but Odoo's first page was empty.
    OdooReturnedNothing,
    /// The event rules refused the change for another reason (an id over
    /// 2147483647, a date before the year 2000).
    Refused,
}

/// One user or part left alone, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSkipped {
    /// `res_users.id`.
    pub odoo_user_id: i64,
    /// Why.
    pub reason: UserSkipReason,
    /// The particulars, for a person.
    pub detail: String,
}

/// How many of each outcome the page had, as [`Summary`](crate::Summary)
/// counts them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsersSummary {
    /// `user_created` changes.
    pub created: u64,
    /// `user_updated` changes.
    pub updated: u64,
    /// `user_archived` changes.
    pub archived: u64,
    /// `user_unarchived` changes.
    pub unarchived: u64,
    /// `user_deleted` changes.
    pub deleted: u64,
    /// Users judged that need nothing.
    pub unchanged: u64,
    /// Skips, by reason.
    pub skipped: BTreeMap<UserSkipReason, u64>,
}

/// The plan of one page of users.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UsersPlan {
    /// The changes, by user id, each user's in the order to apply.
    pub changes: Vec<UserChange>,
    /// What was left alone, by user id.
    pub skipped: Vec<UserSkipped>,
    /// The counts.
    pub summary: UsersSummary,
    /// The next page, or the end of the pass.
    pub next: Next,
}

/// Plans one page of an instance's users. See the module documentation
/// for the rules.
pub fn plan_users(input: &UsersInput) -> Result<UsersPlan, Error> {
    check_range(input.range)?;
    let since = match input.mode {
        Mode::Full => None,
        Mode::Incremental => Some(window_start(input.watermark.ok_or_else(|| {
            Error::new(
                ErrorKind::Invalid,
                "watermark",
                "an incremental pass needs the watermark of a finished pass; run a full pass first",
            )
        })?)),
    };
    let odoo = sorted_by_id(&input.odoo_users, |u| u.id, "odoo_users", input.range)?;
    let control = sorted_by_id(&input.users, |u| u.odoo_user_id, "users", input.range)?;
    let mut planner = Planner {
        input,
        since,
        now_seconds: input.now.unix_seconds(),
        odoo_empty: input.mode == Mode::Full && input.range.after_id == 0 && odoo.is_empty(),
        high_water: input.pass.and_then(|pass| pass.high_water),
        changes: Vec::new(),
        skipped: Vec::new(),
        summary: UsersSummary::default(),
    };

    let (mut o, mut c) = (0, 0);
    while o < odoo.len() || c < control.len() {
        let odoo_id = odoo.get(o).map(|row| row.id);
        let control_id = control.get(c).map(|row| row.odoo_user_id);
        match (odoo_id, control_id) {
            (Some(odoo_id), Some(control_id)) if odoo_id == control_id => {
                planner.judge_present(odoo[o], Some(control[c]));
                o += 1;
                c += 1;
            }
            (Some(odoo_id), control_id) if control_id.is_none_or(|id| odoo_id < id) => {
                planner.judge_present(odoo[o], None);
                o += 1;
            }
            _ => {
                if input.mode == Mode::Full {
                    planner.judge_absent(control[c]);
                }
                c += 1;
            }
        }
    }

    let started_at = input.pass.map_or(input.now, |pass| pass.started_at);
    let next = match input.range.through_id {
        Some(through_id) => Next::Page {
            after_id: through_id,
            pass: Pass {
                started_at,
                high_water: planner.high_water,
            },
        },
        None => Next::Done {
            watermark: next_watermark(input.watermark, planner.high_water, started_at, input.now),
        },
    };
    Ok(UsersPlan {
        changes: planner.changes,
        skipped: planner.skipped,
        summary: planner.summary,
        next,
    })
}

/// The rows of one side sorted by id, each once and inside the range; the
/// first offence in id order is the error, so any order gives the same.
fn sorted_by_id<'a, T>(
    rows: &'a [T],
    id_of: impl Fn(&T) -> i64,
    side: &str,
    range: PageRange,
) -> Result<Vec<&'a T>, Error> {
    let mut sorted: Vec<&T> = rows.iter().collect();
    sorted.sort_by_key(|row| id_of(row));
    for (i, row) in sorted.iter().enumerate() {
        let id = id_of(row);
        let in_range = id > range.after_id && range.through_id.is_none_or(|through| id <= through);
        if !in_range {
            let range_text = match range.through_id {
                Some(through) => format!("({}, {through}]", range.after_id),
                None => format!("({}, ∞)", range.after_id),
            };
            return Err(Error::new(
                ErrorKind::OutOfRange,
                format!("{side} id {id}"),
                format!("outside the page's range {range_text}"),
            ));
        }
        if i > 0 && id_of(sorted[i - 1]) == id {
            return Err(Error::new(
                ErrorKind::Duplicate,
                format!("{side} id {id}"),
                "listed twice",
            ));
        }
    }
    Ok(sorted)
}

/// Whether `ops.apply_user_event` would take a change of a part:
/// `(at, change_id) > (coalesce(part_at, odoo_changed_at), coalesce(part_by,
/// ''))`, ids compared by bytes, as under the `C` collation.
fn is_newer(
    at: Timestamp,
    change_id: &str,
    part_at: Option<Timestamp>,
    part_by: Option<&str>,
    changed_at: Timestamp,
) -> bool {
    let version_at = part_at.unwrap_or(changed_at);
    if at != version_at {
        return at > version_at;
    }
    change_id.as_bytes() > part_by.unwrap_or("").as_bytes()
}

fn version_text(at: Option<Timestamp>, by: Option<&str>, changed_at: Timestamp) -> String {
    let at = at.unwrap_or(changed_at);
    let by = by.map_or_else(|| "''".to_owned(), quoted);
    format!("({at}, {by})")
}

/// The user's facts as Odoo holds them.
struct Facts<'a> {
    login: &'a str,
    email: Option<&'a str>,
    share: bool,
}

struct Planner<'a> {
    input: &'a UsersInput,
    since: Option<Timestamp>,
    now_seconds: i64,
    odoo_empty: bool,
    high_water: Option<Timestamp>,
    changes: Vec<UserChange>,
    skipped: Vec<UserSkipped>,
    summary: UsersSummary,
}

impl Planner<'_> {
    fn skip(&mut self, odoo_user_id: i64, reason: UserSkipReason, detail: String) {
        *self.summary.skipped.entry(reason).or_insert(0) += 1;
        self.skipped.push(UserSkipped {
            odoo_user_id,
            reason,
            detail,
        });
    }

    fn change_id(&self, event_type: &str, odoo_user_id: i64) -> String {
        format!(
            "{CHANGE_ID_PREFIX}{}:{event_type}:{}:{odoo_user_id}",
            self.input.now,
            self.input.instance.as_str()
        )
    }

    /// Parses a `write_date`, or says why the row cannot be dated by it.
    fn dated(&self, text: &str, which: &str) -> Result<Timestamp, (UserSkipReason, String)> {
        let at = Timestamp::parse_odoo(text).map_err(|err| {
            (
                UserSkipReason::InvalidWriteDate,
                format!("{which}: {}", err.message()),
            )
        })?;
        // The same comparison as ops-events' clock rule, in whole seconds.
        if at.unix_seconds() > self.now_seconds.saturating_add(FUTURE_TOLERANCE_SECONDS) {
            return Err((
                UserSkipReason::WriteDateInFuture,
                format!(
                    "{which} {at} is more than {FUTURE_TOLERANCE_SECONDS} s after now {}",
                    self.input.now
                ),
            ));
        }
        Ok(at)
    }

    /// Builds the event as a body and has ops-events parse it, exactly as
    /// ops-ingest would; a refusal is skipped with the rules' words.
    fn emit(
        &mut self,
        event_type: &'static str,
        odoo_user_id: i64,
        occurred_at: Timestamp,
        fields: &[(&str, Value)],
    ) -> bool {
        let mut body = Map::new();
        body.insert("event_type".to_owned(), Value::from(event_type));
        body.insert(
            "odoo_instance".to_owned(),
            Value::from(self.input.instance.as_str()),
        );
        body.insert("odoo_user_id".to_owned(), Value::from(odoo_user_id));
        for (name, value) in fields {
            body.insert((*name).to_owned(), value.clone());
        }
        body.insert(
            "occurred_at".to_owned(),
            Value::from(occurred_at.to_string()),
        );
        let event = match parse_event(Value::Object(body).to_string().as_bytes(), self.now_seconds)
        {
            Ok(event) => event,
            Err(err) => {
                let violations = err.violations();
                let reason = match violations.first().map(|v| v.field.as_str()) {
                    Some("login") => UserSkipReason::InvalidLogin,
                    Some("email") => UserSkipReason::InvalidEmail,
                    _ => UserSkipReason::Refused,
                };
                let detail = violations
                    .iter()
                    .map(|v| format!("{}: {}", v.field, v.detail))
                    .collect::<Vec<_>>()
                    .join("; ");
                self.skip(odoo_user_id, reason, format!("{event_type}: {detail}"));
                return false;
            }
        };
        let count = match event_type {
            "user_created" => &mut self.summary.created,
            "user_updated" => &mut self.summary.updated,
            "user_archived" => &mut self.summary.archived,
            "user_unarchived" => &mut self.summary.unarchived,
            _ => &mut self.summary.deleted,
        };
        *count += 1;
        let change_id = self.change_id(event_type, odoo_user_id);
        self.changes.push(UserChange {
            change_id,
            occurred_at,
            event,
        });
        true
    }

    fn facts_fields(facts: &Facts<'_>) -> Vec<(&'static str, Value)> {
        vec![
            ("login", Value::from(facts.login)),
            ("email", facts.email.map_or(Value::Null, Value::from)),
            ("share", Value::from(facts.share)),
        ]
    }

    /// A user Odoo has: create it, or bring its facts and its activity up
    /// to Odoo's.
    fn judge_present(&mut self, row: &OdooUser, stored: Option<&ControlUser>) {
        let id = row.id;
        let Some(text) = row.write_date.as_deref() else {
            self.skip(
                id,
                UserSkipReason::NoWriteDate,
                "write_date is null".to_owned(),
            );
            return;
        };
        let user_at = match self.dated(text, "write_date") {
            Ok(at) => at,
            Err((reason, detail)) => return self.skip(id, reason, detail),
        };
        let partner_at = match row.partner_write_date.as_deref() {
            None => None,
            Some(text) => match self.dated(text, "partner_write_date") {
                Ok(at) => Some(at),
                Err((reason, detail)) => return self.skip(id, reason, detail),
            },
        };
        // Rule 2: the facts are as of the later write.
        let facts_at = user_at.max(partner_at.unwrap_or(user_at));
        if let Some(since) = self.since.filter(|&since| facts_at <= since) {
            self.skip(
                id,
                UserSkipReason::OutsideWindow,
                format!(
                    "neither the user nor its partner was written after the window's start {since} (latest {facts_at})"
                ),
            );
            return;
        }
        self.high_water = self.high_water.max(Some(facts_at));
        if let Some(deleted_at) = stored.and_then(|stored| stored.deleted_at) {
            self.skip(
                id,
                UserSkipReason::DeletedInControlPlane,
                format!("marked deleted at {deleted_at}, but Odoo has it (write_date {user_at})"),
            );
            return;
        }
        let active = row.active == Some(true);
        let facts = row.partner_id.map(|_| Facts {
            login: &row.login,
            // Rule 4: an empty email is none.
            email: row.email.as_deref().filter(|email| !email.is_empty()),
            share: row.share == Some(true),
        });
        let before = (self.changes.len(), self.skipped.len());
        match (stored, facts) {
            (None, None) => self.no_partner(id),
            (None, Some(facts)) => {
                let fields = Self::facts_fields(&facts);
                let mut created_fields = fields.clone();
                created_fields.push(("active", Value::from(active)));
                if self.emit("user_created", id, user_at, &created_fields) && facts_at > user_at {
                    self.emit("user_updated", id, facts_at, &fields);
                }
            }
            (Some(stored), facts) => {
                match facts {
                    None => self.no_partner(id),
                    Some(facts) => self.update_facts(id, facts_at, &facts, stored),
                }
                self.activate(id, user_at, active, stored);
            }
        }
        if (self.changes.len(), self.skipped.len()) == before {
            self.summary.unchanged += 1;
        }
    }

    fn no_partner(&mut self, id: i64) {
        self.skip(
            id,
            UserSkipReason::NoPartner,
            "the read found no partner for the user: its email is unknown".to_owned(),
        );
    }

    fn update_facts(&mut self, id: i64, at: Timestamp, facts: &Facts<'_>, stored: &ControlUser) {
        if facts.login == stored.odoo_login
            && facts.email == stored.odoo_email.as_deref()
            && facts.share == stored.share
        {
            return;
        }
        let change_id = self.change_id("user_updated", id);
        let (part_at, part_by) = (stored.facts_at, stored.facts_by.as_deref());
        if !is_newer(at, &change_id, part_at, part_by, stored.odoo_changed_at) {
            self.skip(
                id,
                UserSkipReason::StaleFacts,
                format!(
                    "dated {at}, not after the recorded facts {}",
                    version_text(part_at, part_by, stored.odoo_changed_at)
                ),
            );
            return;
        }
        self.emit("user_updated", id, at, &Self::facts_fields(facts));
    }

    fn activate(&mut self, id: i64, at: Timestamp, active: bool, stored: &ControlUser) {
        if active == stored.active {
            return;
        }
        let event_type = if active {
            "user_unarchived"
        } else {
            "user_archived"
        };
        let change_id = self.change_id(event_type, id);
        let (part_at, part_by) = (stored.activity_at, stored.activity_by.as_deref());
        if !is_newer(at, &change_id, part_at, part_by, stored.odoo_changed_at) {
            self.skip(
                id,
                UserSkipReason::StaleActivity,
                format!(
                    "write_date {at} is not after the recorded activity {}",
                    version_text(part_at, part_by, stored.odoo_changed_at)
                ),
            );
            return;
        }
        self.emit(event_type, id, at, &[]);
    }

    /// A user of the range that Odoo does not have (full mode).
    fn judge_absent(&mut self, stored: &ControlUser) {
        let id = stored.odoo_user_id;
        if stored.deleted_at.is_some() {
            self.summary.unchanged += 1;
            return;
        }
        if self.odoo_empty {
            self.skip(
                id,
                UserSkipReason::OdooReturnedNothing,
                "Odoo's first page is empty: nothing is marked deleted on it".to_owned(),
            );
            return;
        }
        let latest = Some(stored.odoo_changed_at)
            .max(stored.facts_at)
            .max(stored.activity_at)
            .unwrap_or(stored.odoo_changed_at);
        let settled = self
            .input
            .now
            .saturating_sub_micros(OVERLAP_SECONDS * MICROS_PER_SECOND);
        if latest > settled {
            self.skip(
                id,
                UserSkipReason::MaybeUncommitted,
                format!(
                    "last changed at {latest}, less than {OVERLAP_SECONDS} s before now {}: its Odoo transaction may not have committed",
                    self.input.now
                ),
            );
            return;
        }
        self.emit("user_deleted", id, self.input.now, &[]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        Timestamp::parse_rfc3339(text).unwrap()
    }

    #[test]
    fn newer_as_the_sql_rule_compares() {
        let t = at("2026-11-26T10:00:00Z");
        let later = at("2026-11-26T10:00:00.000001Z");
        // No event set the part: odoo_changed_at and an empty id.
        assert!(is_newer(t, "~r", None, None, t));
        assert!(!is_newer(t, "~r", None, None, later));
        assert!(is_newer(later, "~r", None, None, t));
        // The part's own version wins over odoo_changed_at.
        assert!(is_newer(later, "~r", Some(t), Some("~z"), later));
        assert!(!is_newer(t, "~r", Some(later), None, t));
        // Ties: the ids, by bytes.
        assert!(!is_newer(t, "~r", Some(t), Some("~r"), t));
        assert!(!is_newer(t, "~r", Some(t), Some("~s"), t));
        assert!(is_newer(t, "~s", Some(t), Some("~r"), t));
        assert!(is_newer(t, "~reconcile:", Some(t), Some("msg_2Z"), t));
    }
}
