//! Grandfather-father-son backup retention, as restic's
//! `forget --keep-within-daily/-weekly/-monthly` defines it.
//!
//! For one series (one project environment), with the newest backup that is
//! not in the future as the anchor:
//!
//! * a backup is *inside* a tier's window when it is at most that many days
//!   older than the anchor (a window of "forever" holds every backup);
//! * in each tier, every bucket (UTC calendar day; ISO 8601 week, Monday to
//!   Sunday; calendar month) that has a backup inside the window keeps its
//!   newest backup;
//! * the oldest backup of the series is kept too when it is inside any window
//!   (restic ≥ 0.17: while a series is younger than its windows, its whole
//!   history length is kept);
//! * backups timestamped after `now` are ignored by the rule and kept
//!   (restic: "duration related options ignore snapshots with a timestamp in
//!   the future"); they do not become the anchor either, so one bad clock
//!   cannot expire a whole series;
//! * a series for which no tier has a rule at all is kept whole (restic
//!   refuses an empty policy).
//!
//! One deliberate difference: restic keeps a snapshot only when it is
//! strictly newer than `anchor - window`; here a backup exactly at
//! `anchor - window` is inside. Every cut-off in this crate keeps the row
//! that is exactly at it, so "kept N days" means the same thing everywhere,
//! and an edge case errs on the side of keeping.
//!
//! Days are 86,400 s: all arithmetic is on UTC microseconds, so there is no
//! DST and no local time; leap days and 53-week years come from the calendar.

use crate::policy::Retention;
use crate::timestamp::{civil_from_days, Timestamp, MICROS_PER_DAY};

/// The keep-within windows of one backup series; `None` means the tier has
/// no rule and keeps nothing by itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GfsWindows {
    /// Keep the newest backup of each UTC day within this window.
    pub daily: Option<Retention>,
    /// Keep the newest backup of each ISO week within this window.
    pub weekly: Option<Retention>,
    /// Keep the newest backup of each calendar month within this window.
    pub monthly: Option<Retention>,
}

impl GfsWindows {
    fn tiers(&self) -> [(Option<Retention>, BucketOf); 3] {
        [
            (self.daily, day_bucket),
            (self.weekly, iso_week_bucket),
            (self.monthly, month_bucket),
        ]
    }
}

/// Maps a day index (days since 1970-01-01) to its bucket in one tier.
type BucketOf = fn(i64) -> i64;

fn day_bucket(day: i64) -> i64 {
    day
}

/// ISO weeks start on Monday. 1970-01-01 (day 0) was a Thursday, so Monday
/// 1969-12-29 is day -3 and `(day + 3) / 7` (floored) numbers whole weeks.
/// ISO week-years differ from calendar years only in how such a week is
/// *named*; each week is still one Monday-to-Sunday bucket.
fn iso_week_bucket(day: i64) -> i64 {
    (day + 3).div_euclid(7)
}

fn month_bucket(day: i64) -> i64 {
    let (year, month, _) = civil_from_days(day);
    year * 12 + i64::from(month)
}

/// Decides which backups of one series to keep.
///
/// `series` holds each backup's `(created_at, backup_id)`; the id breaks ties
/// between backups taken at the same microsecond (the greater id counts as
/// newer), so the decision never depends on input order. Returns one flag
/// per input, `true` for keep.
///
/// ```
/// use cleanup_plan::{gfs_keep, GfsWindows, Retention, Timestamp};
///
/// let at = |text| Timestamp::parse(text).unwrap();
/// let series = [
///     (at("2026-01-10T01:00:00Z"), "a"),
///     (at("2026-01-10T02:00:00Z"), "b"), // newest of its day
///     (at("2026-01-11T02:00:00Z"), "c"),
/// ];
/// let windows = GfsWindows { daily: Some(Retention::Days(30)), weekly: None, monthly: None };
/// let keep = gfs_keep(&series, windows, at("2026-01-12T00:00:00Z"));
/// // "a" is not the newest of its day, but it is the oldest backup and
/// // still inside the window, so it is kept as well.
/// assert_eq!(keep, [true, true, true]);
/// ```
pub fn gfs_keep(series: &[(Timestamp, &str)], windows: GfsWindows, now: Timestamp) -> Vec<bool> {
    let mut keep = vec![true; series.len()];
    let tiers = windows.tiers();
    if tiers.iter().all(|(window, _)| window.is_none()) {
        return keep;
    }
    let mut newest_first: Vec<usize> = (0..series.len()).filter(|&i| series[i].0 <= now).collect();
    newest_first.sort_unstable_by(|&a, &b| series[b].cmp(&series[a]));
    let (Some(&newest), Some(&oldest)) = (newest_first.first(), newest_first.last()) else {
        return keep;
    };
    let anchor = series[newest].0;
    let mut last_bucket: [Option<i64>; 3] = [None; 3];
    for &index in &newest_first {
        let created_at = series[index].0;
        let day = created_at.day_index();
        let mut kept = false;
        for (tier, (window, bucket_of)) in tiers.iter().enumerate() {
            if !inside(created_at, anchor, *window) {
                continue;
            }
            let bucket = bucket_of(day);
            // Newest first, so the first backup seen in a bucket is its newest.
            if last_bucket[tier] != Some(bucket) {
                last_bucket[tier] = Some(bucket);
                kept = true;
            } else if index == oldest {
                kept = true;
            }
        }
        keep[index] = kept;
    }
    keep
}

fn inside(created_at: Timestamp, anchor: Timestamp, window: Option<Retention>) -> bool {
    match window {
        None => false,
        Some(Retention::Forever) => true,
        Some(Retention::Days(days)) => {
            created_at.unix_micros() >= anchor.unix_micros() - i64::from(days) * MICROS_PER_DAY
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        Timestamp::parse(text).unwrap()
    }

    const DAILY_7: GfsWindows = GfsWindows {
        daily: Some(Retention::Days(7)),
        weekly: None,
        monthly: None,
    };

    #[test]
    fn the_window_edge_is_inside() {
        let anchor = at("2024-03-08T00:00:00Z");
        let series = [
            (at("2024-02-29T23:59:59.999999Z"), "edge-1us"),
            (at("2024-03-01T00:00:00Z"), "edge"),
            (at("2024-03-02T00:00:00Z"), "mid"),
            (anchor, "anchor"),
        ];
        // "edge" is exactly 7 days before the anchor: inside, and the newest
        // of its day; one microsecond earlier is outside.
        assert_eq!(
            gfs_keep(&series, DAILY_7, anchor),
            [false, true, true, true]
        );
    }

    #[test]
    fn several_backups_in_a_day_keep_the_newest_and_ties_go_to_the_greater_id() {
        let now = at("2024-03-10T00:00:00Z");
        let series = [
            (at("2024-03-05T10:00:00Z"), "x"),
            (at("2024-03-05T10:00:00Z"), "y"),
            (at("2024-03-05T09:00:00Z"), "w"),
            (at("2024-03-04T09:00:00Z"), "v"),
            (at("2024-02-20T09:00:00Z"), "old"),
        ];
        assert_eq!(
            gfs_keep(&series, DAILY_7, now),
            [false, true, false, true, false]
        );
    }

    #[test]
    fn future_backups_are_kept_and_do_not_anchor() {
        let now = at("2024-03-10T00:00:00Z");
        let series = [
            (at("2030-01-01T00:00:00Z"), "future"),
            (at("2024-03-09T00:00:00Z"), "latest"),
            (at("2024-03-02T00:00:00Z"), "in"),
            (at("2024-03-01T00:00:00Z"), "out"),
        ];
        assert_eq!(gfs_keep(&series, DAILY_7, now), [true, true, true, false]);
    }

    #[test]
    fn weeks_cross_years_and_months_end_on_leap_days() {
        // 2020-12-31 (Thu) and 2021-01-03 (Sun) are both in ISO week 2020-W53.
        let weekly = GfsWindows {
            daily: None,
            weekly: Some(Retention::Days(90)),
            monthly: None,
        };
        let now = at("2021-01-04T00:00:00Z");
        let series = [
            (at("2020-12-31T12:00:00Z"), "thu"),
            (at("2021-01-03T12:00:00Z"), "sun"),
            (at("2020-12-27T12:00:00Z"), "prev-sun"),
            (at("2020-12-20T12:00:00Z"), "oldest"),
        ];
        assert_eq!(gfs_keep(&series, weekly, now), [false, true, true, true]);

        let monthly = GfsWindows {
            daily: None,
            weekly: None,
            monthly: Some(Retention::Days(365)),
        };
        let now = at("2024-03-02T00:00:00Z");
        let series = [
            (at("2024-02-28T23:00:00Z"), "feb-28"),
            (at("2024-02-29T23:59:59.999999Z"), "feb-29"),
            (at("2024-03-01T00:00:00Z"), "mar-1"),
            (at("2024-01-31T00:00:00Z"), "jan"),
            (at("2024-01-01T00:00:00Z"), "oldest"),
        ];
        assert_eq!(
            gfs_keep(&series, monthly, now),
            [false, true, true, true, true]
        );
    }

    #[test]
    fn no_rule_keeps_everything_and_forever_is_unbounded() {
        let now = at("2024-03-10T00:00:00Z");
        let series = [
            (at("2000-01-01T00:00:00Z"), "a"),
            (at("2000-01-01T01:00:00Z"), "b"),
            (at("2000-01-02T00:00:00Z"), "c"),
            (at("2024-03-09T00:00:00Z"), "d"),
        ];
        let none = GfsWindows {
            daily: None,
            weekly: None,
            monthly: None,
        };
        assert_eq!(gfs_keep(&series, none, now), [true; 4]);
        let forever = GfsWindows {
            daily: Some(Retention::Forever),
            weekly: None,
            monthly: None,
        };
        // One per day, forever, plus the oldest.
        assert_eq!(gfs_keep(&series, forever, now), [true, true, true, true]);
        let series = [
            (at("2000-01-01T00:00:00Z"), "a"),
            (at("2000-01-02T00:00:00Z"), "b"),
            (at("2000-01-02T01:00:00Z"), "c"),
        ];
        assert_eq!(gfs_keep(&series, forever, now), [true, false, true]);
    }
}
