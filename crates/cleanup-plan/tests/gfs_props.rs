//! The backup plan against grandfather-father-son, on random histories.
//!
//! The reference below is written to be obviously right rather than fast:
//! buckets come from the `time` crate's calendar (the planner uses its own
//! integer arithmetic), and "newest in its bucket" is checked against every
//! other backup. Histories gather around clock edges: leap days (2000, 2024,
//! and 2100, which is not one), month and year ends, ISO week 53, backups
//! exactly at and one microsecond around each window edge, several in one
//! bucket, identical timestamps, and backups after `now`. All arithmetic is
//! UTC; there is no local time, hence no DST.

// Test code: a panic is a failing test (clippy.toml allows it in #[test]
// functions; this covers the helpers too).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use cleanup_plan::{
    gfs_keep, plan, Backup, Budget, GfsWindows, Retention, RetentionPolicy, Target, Timestamp,
};
use common::*;
use proptest::prelude::*;
use std::collections::BTreeSet;
use time::OffsetDateTime;

const EDGES: &[&str] = &[
    "2024-02-29T00:00:00Z",
    "2024-03-01T00:00:00Z",
    "2000-02-29T23:59:59.999999Z",
    "2100-03-01T00:00:00Z",
    "2023-12-31T23:59:59.999999Z",
    "2021-01-03T23:59:59Z",
    "2020-12-28T00:00:00Z",
    "2026-01-31T23:59:59.999999Z",
    "2026-11-30T12:00:00Z",
];

fn date(ts: Timestamp) -> time::Date {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ts.unix_micros()) * 1_000)
        .unwrap()
        .date()
}

/// The bucket of a backup in tier 0 (day), 1 (ISO week) or 2 (month).
fn bucket(tier: usize, ts: Timestamp) -> (i32, u32) {
    let date = date(ts);
    match tier {
        0 => (date.year(), u32::from(date.ordinal())),
        1 => {
            let (year, week, _) = date.to_iso_week_date();
            (year, u32::from(week))
        }
        _ => (date.year(), u32::from(u8::from(date.month()))),
    }
}

/// Restic's keep-within rule, by brute force.
fn reference(
    series: &[(Timestamp, String)],
    windows: [Option<Retention>; 3],
    now: Timestamp,
) -> Vec<bool> {
    if windows.iter().all(Option::is_none) {
        return vec![true; series.len()];
    }
    let past: Vec<usize> = (0..series.len()).filter(|&i| series[i].0 <= now).collect();
    let Some(anchor) = past.iter().map(|&i| series[i].0).max() else {
        return vec![true; series.len()];
    };
    let inside = |i: usize, window: Option<Retention>| match window {
        None => false,
        Some(Retention::Forever) => true,
        Some(Retention::Days(days)) => {
            series[i].0.unix_micros() >= anchor.unix_micros() - i64::from(days) * DAY
        }
    };
    let newer = |a: usize, b: usize| (series[a].0, &series[a].1) > (series[b].0, &series[b].1);
    let oldest = past
        .iter()
        .copied()
        .min_by(|&a, &b| (series[a].0, &series[a].1).cmp(&(series[b].0, &series[b].1)));
    (0..series.len())
        .map(|i| {
            if series[i].0 > now {
                return true;
            }
            let newest_of_a_bucket = (0..3).any(|tier| {
                inside(i, windows[tier])
                    && !past.iter().any(|&j| {
                        inside(j, windows[tier])
                            && bucket(tier, series[j].0) == bucket(tier, series[i].0)
                            && newer(j, i)
                    })
            });
            let oldest_inside = Some(i) == oldest && windows.iter().any(|&w| inside(i, w));
            newest_of_a_bucket || oldest_inside
        })
        .collect()
}

fn window() -> impl Strategy<Value = Option<Retention>> {
    prop_oneof![
        2 => Just(None),
        1 => Just(Some(Retention::Forever)),
        3 => prop_oneof![Just(30u32), Just(90), Just(365), 1u32..8, 1u32..400].prop_map(|d| Some(Retention::Days(d))),
    ]
}

/// Offsets from the edge instant, in microseconds: spread over ~14 months,
/// bunched in a few days, or within a second of midnight.
fn offset() -> impl Strategy<Value = i64> {
    prop_oneof![
        -420 * DAY..2 * DAY,
        -3 * DAY..3 * DAY,
        (-40i64..2, -1_000_000i64..1_000_000).prop_map(|(days, jitter)| days * DAY + jitter),
    ]
}

prop_compose! {
    fn history()(
        edge in 0..EDGES.len(),
        offsets in prop::collection::vec(offset(), 0..60),
        ties in prop::collection::vec(any::<prop::sample::Index>(), 0..4),
        now_offset in -DAY..DAY,
        windows in [window(), window(), window()],
        edge_copies in any::<bool>(),
        around_edge in [any::<bool>(), any::<bool>()],
    ) -> (Vec<(Timestamp, String)>, [Option<Retention>; 3], Timestamp) {
        let base = at(EDGES[edge]);
        let now = micros(base, now_offset);
        let mut times: Vec<Timestamp> = offsets.iter().map(|&o| micros(base, o)).collect();
        // Identical timestamps: the id decides which is newer.
        for index in &ties {
            if !times.is_empty() {
                times.push(times[index.index(times.len())]);
            }
        }
        // Backups exactly at each window's edge, and a microsecond either side.
        if edge_copies {
            if let Some(anchor) = times.iter().copied().filter(|&t| t <= now).max() {
                for window in windows.iter().flatten() {
                    if let Retention::Days(days) = window {
                        let edge = anchor.unix_micros() - i64::from(*days) * DAY;
                        // The one exactly at the edge decides only when no
                        // backup just after it shares its bucket: add those
                        // neighbours only sometimes.
                        times.push(Timestamp::from_unix_micros(edge).unwrap());
                        for (delta, add) in [-1, 1].into_iter().zip(around_edge) {
                            if add {
                                times.push(Timestamp::from_unix_micros(edge + delta).unwrap());
                            }
                        }
                    }
                }
            }
        }
        let series = times.into_iter().enumerate().map(|(i, t)| (t, format!("b{i:03}"))).collect();
        (series, windows, now)
    }
}

fn windows_of(w: [Option<Retention>; 3]) -> GfsWindows {
    GfsWindows {
        daily: w[0],
        weekly: w[1],
        monthly: w[2],
    }
}

fn policies_for(project: &str, w: [Option<Retention>; 3]) -> Vec<RetentionPolicy> {
    // The defaults keep forever; the project's own rows set the windows, and
    // a tier without a row has no rule at all.
    let mut rows = RetentionPolicy::seed_defaults();
    rows.retain(|p| p.target != Target::Backups);
    for (class, window) in ["daily", "weekly", "monthly"].into_iter().zip(w) {
        if let Some(retention) = window {
            rows.push(RetentionPolicy {
                project_id: Some(project.to_owned()),
                target: Target::Backups,
                class: Some(class.to_owned()),
                retain_days: match retention {
                    Retention::Days(days) => Some(days),
                    Retention::Forever => None,
                },
            });
        }
    }
    rows
}

fn backups_of(series: &[(Timestamp, String)], environment: &str) -> Vec<Backup> {
    series
        .iter()
        .map(|(t, id)| backup(&format!("{environment}-{id}"), "odoo-1", environment, *t))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn gfs_keep_matches_the_reference((series, windows, now) in history()) {
        let pairs: Vec<(Timestamp, &str)> = series.iter().map(|(t, id)| (*t, id.as_str())).collect();
        let keep = gfs_keep(&pairs, windows_of(windows), now);
        prop_assert_eq!(keep, reference(&series, windows, now));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Through `plan`: two environments are two series, each pruned by the
    /// reference; pruning is idempotent; a budget that cuts the prune list
    /// short never makes the next plan prune something it had kept.
    #[test]
    fn the_plan_prunes_what_the_reference_prunes(
        (prod, windows, now) in history(),
        (staging, _, _) in history(),
        max_rows in 1u64..20,
    ) {
        let mut input = input(now);
        input.policies = policies_for("odoo-1", windows);
        input.backups = backups_of(&prod, "prod");
        input.backups.extend(backups_of(&staging, "staging"));
        let full = plan(&input).unwrap();

        let mut expected = BTreeSet::new();
        for (series, environment) in [(&prod, "prod"), (&staging, "staging")] {
            for ((_, id), keep) in series.iter().zip(reference(series, windows, now)) {
                if !keep {
                    expected.insert(format!("{environment}-{id}"));
                }
            }
        }
        let pruned: BTreeSet<String> = full.delete.backups.iter().cloned().collect();
        prop_assert_eq!(&pruned, &expected);
        prop_assert_eq!(full.summary.backups.kept as usize, input.backups.len() - pruned.len());
        prop_assert_eq!(full.s3_deletes.len(), pruned.len());

        // Idempotent: once the pruned backups are gone, nothing more goes.
        let mut after = input.clone();
        after.backups.retain(|b| !pruned.contains(&b.backup_id));
        prop_assert!(plan(&after).unwrap().delete.backups.is_empty());

        // Batched: a budget takes the oldest prunable first, and the next
        // plan prunes a subset of what was left.
        let mut batched = input.clone();
        batched.budget = Budget { max_rows, max_bytes: u64::MAX };
        let first = plan(&batched).unwrap();
        prop_assert_eq!(first.delete.backups.len(), pruned.len().min(max_rows as usize));
        let first_ids: BTreeSet<String> = first.delete.backups.iter().cloned().collect();
        prop_assert!(first_ids.is_subset(&pruned));
        let mut by_age: Vec<&Backup> = input.backups.iter().filter(|b| pruned.contains(&b.backup_id)).collect();
        by_age.sort_by(|a, b| (a.created_at, &a.backup_id).cmp(&(b.created_at, &b.backup_id)));
        let oldest: Vec<&String> = by_age.iter().take(first.delete.backups.len()).map(|b| &b.backup_id).collect();
        prop_assert_eq!(first.delete.backups.iter().collect::<Vec<_>>(), oldest);
        batched.backups.retain(|b| !first_ids.contains(&b.backup_id));
        batched.budget = Budget { max_rows: u64::MAX, max_bytes: u64::MAX };
        let rest: BTreeSet<String> = plan(&batched).unwrap().delete.backups.into_iter().collect();
        prop_assert!(rest.is_subset(&pruned));
    }
}

#[test]
fn the_seed_policy_on_three_years_of_daily_backups() {
    // 2023-01-01 .. 2025-12-31, one backup a day at 02:00 UTC; cleanup runs
    // on 2026-01-01. Daily within 30 days of the newest (31 days, the edge
    // being inside), then the newest of each ISO week within 90 days, then of
    // each month within 365 days.
    let now = at("2026-01-01T03:00:00Z");
    let start = at("2023-01-01T02:00:00Z");
    let series: Vec<(Timestamp, String)> = (0..1096)
        .map(|d| (micros(start, d * DAY), format!("d{d:04}")))
        .collect();
    let windows = [
        Some(Retention::Days(30)),
        Some(Retention::Days(90)),
        Some(Retention::Days(365)),
    ];
    let pairs: Vec<(Timestamp, &str)> = series.iter().map(|(t, id)| (*t, id.as_str())).collect();
    let keep = gfs_keep(&pairs, windows_of(windows), now);
    assert_eq!(keep, reference(&series, windows, now));
    let kept: Vec<String> = series
        .iter()
        .zip(&keep)
        .filter(|(_, &k)| k)
        .map(|((t, _), _)| t.to_string())
        .collect();
    // The newest is 2025-12-31; the daily window reaches 2025-12-01T02:00.
    assert_eq!(
        kept.last().map(String::as_str),
        Some("2025-12-31T02:00:00.000000Z")
    );
    assert!(kept.contains(&"2025-12-01T02:00:00.000000Z".to_owned()));
    assert!(!kept.contains(&"2025-11-29T02:00:00.000000Z".to_owned()));
    // The monthly window reaches back exactly to 2024-12-31T02:00, the
    // newest backup of December 2024: the edge is inside, so it is kept.
    assert_eq!(
        kept.first().map(String::as_str),
        Some("2024-12-31T02:00:00.000000Z")
    );
    // 31 daily (December 2025); 9 weekly, the Sundays 2025-10-05 to
    // 2025-11-30; 11 monthly, the month-ends of December 2024 to October 2025.
    assert_eq!(kept.len(), 31 + 9 + 11, "{kept:?}");
}
