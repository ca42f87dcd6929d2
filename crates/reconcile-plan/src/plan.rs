//! The planner: one page of Odoo's projects against the control plane's.

use crate::error::{Error, ErrorKind};
use crate::model::{
    Agreed, Agreement, Change, ControlProject, Input, Mode, Next, OdooProject, PageRange, Pass,
    Plan, SkipReason, Skipped, Summary,
};
use crate::odoo::{name_in, series_of};
use crate::timestamp::{Timestamp, MICROS_PER_SECOND};
use ops_events::{parse_event, FUTURE_TOLERANCE_SECONDS};
use ops_values::quoted;
use serde_json::{json, Map, Value};

/// How far before the watermark an incremental pass starts reading, in
/// seconds: 15 minutes.
///
/// Odoo's `write_date` is its transaction's *start*, so a transaction still
/// running when a pass reads commits rows dated before that read, possibly
/// before the watermark the pass leaves. Re-reading this far back finds them,
/// as long as no Odoo transaction runs longer. Odoo's workers are stopped
/// after `limit_time_real`, 120 s by default (and cron jobs after
/// `limit_time_real_cron`, the same unless set); 15 minutes leaves a wide
/// margin for a raised limit, for the pages of one pass being read moments
/// apart, and, in the deletion check, for a few minutes between the two
/// databases' clocks. What it costs is re-reading 15 minutes of writes each
/// pass, which plan as unchanged.
pub const OVERLAP_SECONDS: i64 = 15 * 60;

/// The prefix of every change id. `~` is the greatest printable ASCII
/// character, and webhook ids are printable ASCII (Standard Webhooks senders
/// write `msg_…`), so at a tie with a delivery (the same `occurred_at`) the
/// reconcile's change wins: it read the committed row, while a delivery
/// dated the same instant can only come from inside that same Odoo
/// transaction, sent before its last write. After the prefix comes `now`,
/// fixed-width, so at a tie between two reconciles the later one wins.
pub const CHANGE_ID_PREFIX: &str = "~reconcile:";

/// Where an incremental pass starts reading: rows with `write_date` after
/// this instant, [`OVERLAP_SECONDS`] before the watermark (no earlier than
/// the year 0000).
pub fn window_start(watermark: Timestamp) -> Timestamp {
    watermark.saturating_sub_micros(OVERLAP_SECONDS * MICROS_PER_SECOND)
}

/// Plans one page: the changes that make the control plane's projects of the
/// page's range what Odoo holds, what was left alone and why, and what comes
/// next. See the crate documentation for the rules.
pub fn plan(input: &Input) -> Result<Plan, Error> {
    plan_with_agreed(input, &Agreed::default())
}

/// The premises under which the read may leave out the pairs that already
/// agree, or none when the series cannot be derived (then every pair must
/// reach the planner, which skips them with the reason).
pub fn agreement(
    language: &str,
    base_latest_version: Option<&str>,
    now: Timestamp,
) -> Option<Agreement> {
    let series = series(base_latest_version).ok()?;
    Some(Agreement {
        language: language.to_owned(),
        series,
        base_latest_version: base_latest_version?.to_owned(),
        now,
    })
}

/// [`plan`] for a page the read left `agreed` pairs out of: they count as
/// unchanged, their latest `write_date` counts in the pass's high water,
/// and Odoo is not empty if any was left out.
pub fn plan_with_agreed(input: &Input, agreed: &Agreed) -> Result<Plan, Error> {
    check_language(&input.language)?;
    let agreed_high_water = agreed
        .latest_write_date
        .as_deref()
        .map(Timestamp::parse_odoo)
        .transpose()
        .map_err(|err| {
            Error::new(
                ErrorKind::Invalid,
                "agreed.latest_write_date",
                err.message(),
            )
        })?;
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
    let odoo = odoo_by_id(&input.odoo_projects, input.range)?;
    let control = control_by_id(&input.projects, input.range)?;
    let now_seconds = input.now.unix_seconds();
    let mut planner = Planner {
        input,
        since,
        now_seconds,
        series: series(input.base_latest_version.as_deref()),
        // Only the pass's very first page can show that Odoo has nothing.
        odoo_empty: input.mode == Mode::Full
            && input.range.after_id == 0
            && odoo.is_empty()
            && agreed.count == 0,
        high_water: input
            .pass
            .and_then(|pass| pass.high_water)
            .max(agreed_high_water),
        changes: Vec::new(),
        skipped: Vec::new(),
        summary: Summary {
            unchanged: agreed.count,
            ..Summary::default()
        },
    };

    // A merge of two id-sorted lists: each id is judged once, in order.
    let (mut o, mut c) = (0, 0);
    while o < odoo.len() || c < control.len() {
        let odoo_id = odoo.get(o).map(|row| row.id);
        let control_id = control.get(c).map(|(id, _)| *id);
        match (odoo_id, control_id) {
            (Some(odoo_id), Some(control_id)) if odoo_id == control_id => {
                planner.judge_present(odoo[o], Some(control[c].1));
                o += 1;
                c += 1;
            }
            (Some(odoo_id), control_id) if control_id.is_none_or(|id| odoo_id < id) => {
                planner.judge_present(odoo[o], None);
                o += 1;
            }
            _ => {
                if input.mode == Mode::Full {
                    planner.judge_absent(control[c].1);
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
    Ok(Plan {
        changes: planner.changes,
        skipped: planner.skipped,
        summary: planner.summary,
        next,
    })
}

/// The watermark a finished pass leaves: the latest `write_date` it saw,
/// moved back by the time the pass took, and never behind the watermark it
/// started from.
///
/// The next pass reads from this minus the overlap, and must find every row
/// this pass could not see. A row this pass missed belonged to a
/// transaction not committed when its page was read, which started at most
/// the overlap before that read, and no page was read before the first. So
/// the watermark must not be later than the first page's read. The latest
/// `write_date` seen is not later than the last page's read (it was
/// committed by then); taking off the pass's duration brings it back to the
/// first's. The duration is measured on the control plane's clock and the
/// dates are Odoo's, but a duration does not depend on where the clock is
/// set, only on its rate. The previous watermark was itself no later than an
/// earlier pass's first read, so keeping it is safe too.
pub(crate) fn next_watermark(
    watermark: Option<Timestamp>,
    high_water: Option<Timestamp>,
    started_at: Timestamp,
    now: Timestamp,
) -> Option<Timestamp> {
    let elapsed = now
        .unix_micros()
        .saturating_sub(started_at.unix_micros())
        .max(0);
    let reached = high_water.map(|high| high.saturating_sub_micros(elapsed));
    watermark.max(reached)
}

fn check_language(language: &str) -> Result<(), Error> {
    if language.is_empty() || language.starts_with('_') {
        return Err(Error::new(
            ErrorKind::Invalid,
            "language",
            format!(
                "expected a language code such as \"fr_FR\", got {}",
                quoted(language)
            ),
        ));
    }
    Ok(())
}

pub(crate) fn check_range(range: PageRange) -> Result<(), Error> {
    if range.after_id < 0 {
        return Err(Error::new(
            ErrorKind::Invalid,
            "range.after_id",
            format!("must be 0 or an Odoo id, got {}", range.after_id),
        ));
    }
    if let Some(through_id) = range.through_id.filter(|&id| id <= range.after_id) {
        return Err(Error::new(
            ErrorKind::Invalid,
            "range.through_id",
            format!(
                "must be after after_id {}, got {through_id}: the pass would not move",
                range.after_id
            ),
        ));
    }
    Ok(())
}

fn in_range(id: i64, range: PageRange) -> bool {
    id > range.after_id && range.through_id.is_none_or(|through| id <= through)
}

fn range_text(range: PageRange) -> String {
    match range.through_id {
        Some(through) => format!("({}, {through}]", range.after_id),
        None => format!("({}, ∞)", range.after_id),
    }
}

/// Odoo's rows sorted by id, each once and inside the range.
fn odoo_by_id(rows: &[OdooProject], range: PageRange) -> Result<Vec<&OdooProject>, Error> {
    let mut sorted: Vec<&OdooProject> = rows.iter().collect();
    sorted.sort_by_key(|row| row.id);
    for (i, row) in sorted.iter().enumerate() {
        let at = || format!("odoo_projects id {}", row.id);
        if !in_range(row.id, range) {
            return Err(Error::new(
                ErrorKind::OutOfRange,
                at(),
                format!("outside the page's range {}", range_text(range)),
            ));
        }
        if i > 0 && sorted[i - 1].id == row.id {
            return Err(Error::new(ErrorKind::Duplicate, at(), "listed twice"));
        }
    }
    Ok(sorted)
}

/// The control plane's rows by their Odoo id, sorted, each once and inside
/// the range. Errors are looked for in id order (malformed ids first, the
/// least of them), so the same rows in any order give the same error.
fn control_by_id(
    rows: &[ControlProject],
    range: PageRange,
) -> Result<Vec<(i64, &ControlProject)>, Error> {
    // The id's own rule is ops.projects' CHECK; this only reads it back, and
    // refuses any text that is not what `odoo-<id>` would print (a sign, a
    // leading zero).
    let odoo_id = |row: &ControlProject| {
        row.project_id
            .strip_prefix("odoo-")
            .and_then(|digits| digits.parse::<i64>().ok())
            .filter(|id| format!("odoo-{id}") == row.project_id)
    };
    let at = |row: &ControlProject| format!("projects {}", quoted(&row.project_id));
    let parsed: Vec<(Option<i64>, &ControlProject)> =
        rows.iter().map(|row| (odoo_id(row), row)).collect();
    if let Some((_, malformed)) = parsed
        .iter()
        .filter(|(id, _)| id.is_none())
        .min_by(|a, b| a.1.project_id.cmp(&b.1.project_id))
    {
        return Err(Error::new(
            ErrorKind::Invalid,
            at(malformed),
            "expected \"odoo-<id>\"",
        ));
    }
    let mut sorted: Vec<(i64, &ControlProject)> = parsed
        .into_iter()
        .filter_map(|(id, row)| id.map(|id| (id, row)))
        .collect();
    sorted.sort_by_key(|(id, _)| *id);
    for (i, (id, row)) in sorted.iter().enumerate() {
        if !in_range(*id, range) {
            return Err(Error::new(
                ErrorKind::OutOfRange,
                at(row),
                format!("outside the page's range {}", range_text(range)),
            ));
        }
        if i > 0 && sorted[i - 1].0 == *id {
            return Err(Error::new(ErrorKind::Duplicate, at(row), "listed twice"));
        }
    }
    Ok(sorted)
}

/// The Odoo series from `base`'s `latest_version`, or why there is none.
fn series(latest_version: Option<&str>) -> Result<String, String> {
    let Some(latest_version) = latest_version else {
        return Err("base's latest_version is missing".to_owned());
    };
    let Some(series) = series_of(latest_version) else {
        return Err(format!(
            "base's latest_version {} is not <series>.<module version>",
            quoted(latest_version)
        ));
    };
    // Whether it is a series is ops-events' rule: asked of its parser with
    // an event that is otherwise valid, under a clock no date is ahead of.
    let probe = json!({
        "event_type": "project_updated",
        "project_id": "odoo-1",
        "name": "probe",
        "odoo_version": series,
        "occurred_at": "2000-01-01T00:00:00Z",
    });
    match parse_event(probe.to_string().as_bytes(), i64::MAX) {
        Ok(_) => Ok(series),
        Err(err) => Err(format!(
            "base's latest_version {} gives the series {}, which is not one: {}",
            quoted(latest_version),
            quoted(&series),
            err
        )),
    }
}

/// Whether the ordering rule would find a change stale against a part's
/// recorded version: `(at, id) <= (stored_at, stored_by)` as PostgreSQL
/// compares rows, where a null makes the comparison null, which is not true.
/// Ids compare by bytes, as under the `C` collation (the database's default,
/// `C.UTF-8`, orders text so too).
fn known_stale(
    at: Timestamp,
    change_id: &str,
    stored_at: Option<Timestamp>,
    stored_by: Option<&str>,
) -> bool {
    match stored_at {
        None => false,
        Some(stored_at) if at != stored_at => at < stored_at,
        Some(_) => stored_by.is_some_and(|by| change_id.as_bytes() <= by.as_bytes()),
    }
}

fn version_text(at: Option<Timestamp>, by: Option<&str>) -> String {
    let at = at.map_or_else(|| "null".to_owned(), |at| at.to_string());
    let by = by.map_or_else(|| "null".to_owned(), quoted);
    format!("({at}, {by})")
}

struct Planner<'a> {
    input: &'a Input,
    /// Incremental mode: rows must be written after this.
    since: Option<Timestamp>,
    now_seconds: i64,
    series: Result<String, String>,
    odoo_empty: bool,
    high_water: Option<Timestamp>,
    changes: Vec<Change>,
    skipped: Vec<Skipped>,
    summary: Summary,
}

impl Planner<'_> {
    fn skip(&mut self, project_id: &str, reason: SkipReason, detail: String) {
        *self.summary.skipped.entry(reason).or_insert(0) += 1;
        self.skipped.push(Skipped {
            project_id: project_id.to_owned(),
            reason,
            detail,
        });
    }

    fn change_id(&self, event_type: &str, project_id: &str) -> String {
        format!(
            "{CHANGE_ID_PREFIX}{}:{event_type}:{project_id}",
            self.input.now
        )
    }

    /// Builds the event as a body and has ops-events parse it, exactly as
    /// ops-ingest would, so the plan holds nothing a delivery could not.
    /// A refusal is skipped with the rules' words.
    fn emit(
        &mut self,
        event_type: &'static str,
        project_id: &str,
        occurred_at: Timestamp,
        description: Option<(&str, &str)>,
    ) -> bool {
        let mut body = Map::new();
        body.insert("event_type".to_owned(), Value::from(event_type));
        body.insert("project_id".to_owned(), Value::from(project_id));
        if let Some((name, odoo_version)) = description {
            body.insert("name".to_owned(), Value::from(name));
            body.insert("odoo_version".to_owned(), Value::from(odoo_version));
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
                    Some("name") => SkipReason::InvalidName,
                    Some("odoo_version") => SkipReason::UnknownSeries,
                    _ => SkipReason::Refused,
                };
                let detail = violations
                    .iter()
                    .map(|v| format!("{}: {}", v.field, v.detail))
                    .collect::<Vec<_>>()
                    .join("; ");
                self.skip(project_id, reason, format!("{event_type}: {detail}"));
                return false;
            }
        };
        let count = match event_type {
            "project_created" => &mut self.summary.created,
            "project_updated" => &mut self.summary.updated,
            "project_archived" => &mut self.summary.archived,
            "project_unarchived" => &mut self.summary.unarchived,
            _ => &mut self.summary.deleted,
        };
        *count += 1;
        let change_id = self.change_id(event_type, project_id);
        self.changes.push(Change {
            change_id,
            occurred_at,
            event,
        });
        true
    }

    /// A project Odoo has: create it, or bring its description and its
    /// activity up to Odoo's.
    fn judge_present(&mut self, row: &OdooProject, stored: Option<&ControlProject>) {
        let project_id = format!("odoo-{}", row.id);
        let Some(text) = row.write_date.as_deref() else {
            self.skip(
                &project_id,
                SkipReason::NoWriteDate,
                "write_date is null".to_owned(),
            );
            return;
        };
        let at = match Timestamp::parse_odoo(text) {
            Ok(at) => at,
            Err(err) => {
                self.skip(
                    &project_id,
                    SkipReason::InvalidWriteDate,
                    err.message().to_owned(),
                );
                return;
            }
        };
        if let Some(since) = self.since.filter(|&since| at <= since) {
            self.skip(
                &project_id,
                SkipReason::OutsideWindow,
                format!("write_date {at} is not after the window's start {since}"),
            );
            return;
        }
        // The same comparison as ops-events' clock rule, in whole seconds.
        if at.unix_seconds() > self.now_seconds.saturating_add(FUTURE_TOLERANCE_SECONDS) {
            self.skip(
                &project_id,
                SkipReason::WriteDateInFuture,
                format!(
                    "write_date {at} is more than {FUTURE_TOLERANCE_SECONDS} s after now {}",
                    self.input.now
                ),
            );
            return;
        }
        // Counted before the skips below: those rows were read and judged,
        // and only a change in Odoo, which dates them anew, can alter that.
        self.high_water = self.high_water.max(Some(at));
        if row.is_template == Some(true) {
            self.skip(
                &project_id,
                SkipReason::Template,
                "is_template: project templates are not mirrored".to_owned(),
            );
            return;
        }
        if let Some(deleted_at) = stored.and_then(|stored| stored.deleted_at) {
            self.skip(
                &project_id,
                SkipReason::DeletedInControlPlane,
                format!("marked deleted at {deleted_at}, but Odoo has it (write_date {at})"),
            );
            return;
        }
        let active = row.active == Some(true);
        let name = name_in(&row.name, &self.input.language);
        let before = (self.changes.len(), self.skipped.len());
        match stored {
            None => self.create(&project_id, at, name, active),
            Some(stored) => {
                self.describe(&project_id, at, name, stored);
                self.activate(&project_id, at, active, stored);
            }
        }
        if (self.changes.len(), self.skipped.len()) == before {
            self.summary.unchanged += 1;
        }
    }

    /// The description of a project the control plane does not have, and
    /// its archive if Odoo has it archived. Without a name or a series
    /// nothing is planned: there is nothing to archive until it exists.
    fn create(&mut self, project_id: &str, at: Timestamp, name: Option<&str>, active: bool) {
        let Some(name) = name else {
            self.skip(
                project_id,
                SkipReason::NoName,
                "no translation of name is a string".to_owned(),
            );
            return;
        };
        let series = match &self.series {
            Ok(series) => series.clone(),
            Err(detail) => {
                let detail = detail.clone();
                self.skip(project_id, SkipReason::UnknownSeries, detail);
                return;
            }
        };
        if self.emit("project_created", project_id, at, Some((name, &series))) && !active {
            self.emit("project_archived", project_id, at, None);
        }
    }

    fn describe(
        &mut self,
        project_id: &str,
        at: Timestamp,
        name: Option<&str>,
        stored: &ControlProject,
    ) {
        let Some(name) = name else {
            self.skip(
                project_id,
                SkipReason::NoName,
                "no translation of name is a string".to_owned(),
            );
            return;
        };
        let series = match &self.series {
            Ok(series) => series.clone(),
            Err(detail) => {
                let detail = detail.clone();
                self.skip(project_id, SkipReason::UnknownSeries, detail);
                return;
            }
        };
        if name == stored.name && series == stored.odoo_version {
            return;
        }
        let change_id = self.change_id("project_updated", project_id);
        let described_by = stored.described_by.as_deref();
        if known_stale(at, &change_id, stored.described_at, described_by) {
            self.skip(
                project_id,
                SkipReason::StaleDescription,
                format!(
                    "write_date {at} is not after the recorded description {}",
                    version_text(stored.described_at, described_by)
                ),
            );
            return;
        }
        self.emit("project_updated", project_id, at, Some((name, &series)));
    }

    fn activate(&mut self, project_id: &str, at: Timestamp, active: bool, stored: &ControlProject) {
        if active == stored.active {
            return;
        }
        let event_type = if active {
            "project_unarchived"
        } else {
            "project_archived"
        };
        let change_id = self.change_id(event_type, project_id);
        let activity_by = stored.activity_by.as_deref();
        if known_stale(at, &change_id, stored.activity_at, activity_by) {
            self.skip(
                project_id,
                SkipReason::StaleActivity,
                format!(
                    "write_date {at} is not after the recorded activity {}",
                    version_text(stored.activity_at, activity_by)
                ),
            );
            return;
        }
        self.emit(event_type, project_id, at, None);
    }

    /// A project of the range that Odoo does not have (full mode).
    fn judge_absent(&mut self, stored: &ControlProject) {
        let project_id = stored.project_id.as_str();
        if stored.deleted_at.is_some() {
            self.summary.unchanged += 1;
            return;
        }
        if self.odoo_empty {
            self.skip(
                project_id,
                SkipReason::OdooReturnedNothing,
                "Odoo's first page is empty: nothing is marked deleted on it".to_owned(),
            );
            return;
        }
        let latest = stored.described_at.max(stored.activity_at);
        let settled = self
            .input
            .now
            .saturating_sub_micros(OVERLAP_SECONDS * MICROS_PER_SECOND);
        if let Some(latest) = latest.filter(|&latest| latest > settled) {
            self.skip(
                project_id,
                SkipReason::MaybeUncommitted,
                format!(
                    "last changed at {latest}, less than {OVERLAP_SECONDS} s before now {}: its Odoo transaction may not have committed",
                    self.input.now
                ),
            );
            return;
        }
        self.emit("project_deleted", project_id, self.input.now, None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        Timestamp::parse_rfc3339(text).unwrap()
    }

    #[test]
    fn stale_as_postgresql_compares_rows() {
        let t = at("2026-11-26T10:00:00Z");
        let later = at("2026-11-26T10:00:00.000001Z");
        assert!(!known_stale(t, "~r", None, None));
        assert!(!known_stale(t, "~r", None, Some("~s")));
        assert!(known_stale(t, "~r", Some(later), None));
        assert!(!known_stale(later, "~r", Some(t), Some("~z")));
        // A tie: the ids decide, and a null id decides nothing.
        assert!(!known_stale(t, "~r", Some(t), None));
        assert!(known_stale(t, "~r", Some(t), Some("~r")));
        assert!(known_stale(t, "~r", Some(t), Some("~s")));
        assert!(!known_stale(t, "~s", Some(t), Some("~r")));
        assert!(!known_stale(t, "~reconcile:", Some(t), Some("msg_2Z")));
    }

    #[test]
    fn the_watermark_goes_back_by_the_pass_and_never_backwards() {
        let start = at("2026-11-26T10:00:00Z");
        let high = at("2026-11-26T10:30:00Z");
        let old = at("2026-11-26T09:00:00Z");
        assert_eq!(
            next_watermark(Some(old), Some(high), start, start),
            Some(high)
        );
        assert_eq!(
            next_watermark(Some(old), Some(high), start, at("2026-11-26T10:10:00Z")),
            Some(at("2026-11-26T10:20:00Z"))
        );
        assert_eq!(
            next_watermark(Some(old), Some(high), start, at("2026-11-26T12:00:00Z")),
            Some(old)
        );
        assert_eq!(next_watermark(Some(old), None, start, start), Some(old));
        assert_eq!(next_watermark(None, None, start, start), None);
        // A clock that went back does not move the watermark forward.
        assert_eq!(
            next_watermark(None, Some(high), start, at("2026-11-26T09:00:00Z")),
            Some(high)
        );
    }

    #[test]
    fn series_is_checked_by_the_event_rules() {
        assert_eq!(series(Some("19.0.1.3")), Ok("19.0".to_owned()));
        assert_eq!(series(Some("saas~18.3.1.3")), Ok("saas~18.3".to_owned()));
        assert!(series(Some("1234.0.1")).unwrap_err().contains("not one"));
        assert!(series(Some("19.100.1")).is_err());
        assert!(series(Some("19.0")).is_err());
        assert!(series(None).unwrap_err().contains("missing"));
    }
}
