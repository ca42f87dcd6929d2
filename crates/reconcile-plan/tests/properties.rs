//! The rules as properties, on random pages.
//!
//! Ids come from a small pool so that the two sides overlap, and dates from
//! a few instants around `now` (ties, the overlap's edge, five minutes
//! ahead), so that stale, tied, recent and future rows are common. The
//! expected results are restated here with plain loops, and plans are
//! applied to the in-memory `ops.projects` of `common`, which follows the
//! SQL rule and not the planner's code.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use ops_events::{parse_event, Event};
use proptest::prelude::*;
use reconcile_plan::{
    plan, window_start, ControlProject, Input, Mode, Next, OdooProject, PageRange, SkipReason,
    Timestamp,
};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};

const NOW_MICROS: i64 = 1_795_000_000_000_000; // 2026-11-18T...
const MINUTE: i64 = 60_000_000;

/// Instants around now: long ago, inside and at the overlap's edge, now,
/// up to and past five minutes ahead, and one microsecond apart.
fn instant() -> impl Strategy<Value = Timestamp> {
    prop::sample::select(vec![
        -600 * MINUTE,
        -120 * MINUTE,
        -16 * MINUTE,
        -15 * MINUTE,
        -15 * MINUTE + 1,
        -10 * MINUTE,
        -MINUTE,
        -1,
        0,
        1,
        MINUTE,
        5 * MINUTE,
        5 * MINUTE + 999_999,
        5 * MINUTE + 1_000_000,
        60 * MINUTE,
    ])
    .prop_map(|offset| Timestamp::from_unix_micros(NOW_MICROS + offset).unwrap())
}

const NAMES: &[&str] = &["Alpha", "Bureau", "Büro", "Kept", "Ω"];
const BROKEN_NAMES: &[&str] = &["", "  ", "a\u{0}b", "x\u{2028}"];
const LANGUAGES: &[&str] = &["en_US", "fr_FR", "de_DE", "_en_US", "nl_NL"];
const IDS: &[&str] = &[
    "msg_a",
    "msg_b",
    "~reconcile:2026-01-01T00:00:00.000000Z:project_updated:odoo-1",
    "~reconcile:2099-01-01T00:00:00.000000Z:project_updated:odoo-1",
    "~~",
];

fn name_text() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => prop::sample::select(NAMES).prop_map(str::to_owned),
        2 => prop::sample::select(BROKEN_NAMES).prop_map(str::to_owned),
        1 => Just("é".repeat(256)),
        1 => any::<String>(),
    ]
}

fn odoo_name() -> impl Strategy<Value = Value> {
    let value = prop_oneof![
        6 => name_text().prop_map(Value::from),
        1 => Just(Value::Null),
        1 => Just(json!(7)),
    ];
    prop_oneof![
        6 => prop::collection::btree_map(prop::sample::select(LANGUAGES), value, 0..4).prop_map(
            |m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect::<Map<_, _>>())
        ),
        1 => name_text().prop_map(Value::from),
        1 => Just(Value::Null),
    ]
}

fn write_date() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        8 => instant().prop_map(|t| Some(odoo_text(t))),
        1 => Just(None),
        1 => prop::sample::select(vec!["junk", "1999-12-31 23:59:59", "2026-11-18T00:00:00Z"])
            .prop_map(|s| Some(s.to_owned())),
    ]
}

fn odoo_project() -> impl Strategy<Value = OdooProject> {
    (
        1i64..=10,
        odoo_name(),
        prop::option::weighted(0.9, any::<bool>()),
        write_date(),
        prop::option::weighted(0.5, prop::bool::weighted(0.1)),
    )
        .prop_map(|(id, name, active, write_date, is_template)| OdooProject {
            id,
            name,
            active,
            write_date,
            is_template,
        })
}

fn control_project() -> impl Strategy<Value = ControlProject> {
    let version = || {
        (
            prop::option::weighted(0.8, instant()),
            prop::option::weighted(0.9, prop::sample::select(IDS).prop_map(str::to_owned)),
        )
    };
    (
        1i64..=10,
        prop::sample::select(&["Alpha", "Bureau", "Büro", "Kept"][..]),
        prop::sample::select(&["19.0", "18.0"][..]),
        any::<bool>(),
        prop::option::weighted(0.15, instant()),
        version(),
        version(),
    )
        .prop_map(
            |(id, name, version, active, deleted_at, described, activity)| ControlProject {
                project_id: format!("odoo-{id}"),
                name: name.to_owned(),
                odoo_version: version.to_owned(),
                active,
                deleted_at,
                described_at: described.0,
                described_by: described.1,
                activity_at: activity.0,
                activity_by: activity.1,
            },
        )
}

/// A page as a correct reader gives it: ids once per side, inside the range.
fn page() -> impl Strategy<Value = Input> {
    (
        prop::collection::vec(odoo_project(), 0..10),
        prop::collection::vec(control_project(), 0..10),
        prop_oneof![Just(Mode::Full), Just(Mode::Incremental)],
        prop::option::weighted(0.8, instant()),
        prop::sample::select(&["fr_FR", "en_US", "de_DE"][..]),
        prop::sample::select(vec![
            Some("19.0.1.3"),
            Some("19.0.1.3"),
            Some("18.0.1.0"),
            None,
            Some("junk"),
        ]),
        prop::sample::select(vec![
            (0, None),
            (0, None),
            (0, Some(6)),
            (3, None),
            (3, Some(8)),
        ]),
    )
        .prop_map(
            |(odoo, control, mode, watermark, language, base, (after_id, through_id))| {
                let range = PageRange {
                    after_id,
                    through_id,
                };
                let inside = |id: i64| id > after_id && through_id.is_none_or(|t| id <= t);
                let mut seen = BTreeSet::new();
                let odoo_projects = odoo
                    .into_iter()
                    .filter(|p| inside(p.id) && seen.insert(p.id))
                    .collect();
                let mut seen = BTreeSet::new();
                let projects = control
                    .into_iter()
                    .filter(|p| {
                        let id: i64 = p.project_id[5..].parse().unwrap();
                        inside(id) && seen.insert(id)
                    })
                    .collect();
                Input {
                    mode,
                    // Incremental mode needs one; a full pass may have none.
                    watermark: if mode == Mode::Incremental {
                        Some(watermark.unwrap_or(Timestamp::MIN))
                    } else {
                        watermark
                    },
                    now: Timestamp::from_unix_micros(NOW_MICROS).unwrap(),
                    language: language.to_owned(),
                    base_latest_version: base.map(str::to_owned),
                    range,
                    pass: None,
                    odoo_projects,
                    projects,
                }
            },
        )
}

/// Anything serde lets through: any ids, ranges, clocks, strings and names.
fn anything() -> impl Strategy<Value = Input> {
    let any_instant = (-62_167_219_200_000_000i64..=253_402_300_799_999_999)
        .prop_map(|micros| Timestamp::from_unix_micros(micros).unwrap());
    let instant = prop_oneof![3 => instant(), 1 => any_instant].boxed();
    let id = prop_oneof![3 => 1i64..=6, 1 => any::<i64>()];
    let json_leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<String>().prop_map(Value::from),
    ];
    let json = json_leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(any::<String>(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    });
    let odoo = (
        id.clone(),
        prop_oneof![odoo_name(), json],
        any::<Option<bool>>(),
        prop_oneof![write_date(), any::<Option<String>>()],
        any::<Option<bool>>(),
    )
        .prop_map(|(id, name, active, write_date, is_template)| OdooProject {
            id,
            name,
            active,
            write_date,
            is_template,
        });
    let control = (
        prop_oneof![
            3 => id.clone().prop_map(|id| format!("odoo-{id}")),
            1 => any::<String>(),
        ],
        any::<String>(),
        any::<String>(),
        any::<bool>(),
        prop::option::of(instant.clone()),
        (prop::option::of(instant.clone()), any::<Option<String>>()),
        (prop::option::of(instant.clone()), any::<Option<String>>()),
    )
        .prop_map(
            |(project_id, name, odoo_version, active, deleted_at, d, a)| ControlProject {
                project_id,
                name,
                odoo_version,
                active,
                deleted_at,
                described_at: d.0,
                described_by: d.1,
                activity_at: a.0,
                activity_by: a.1,
            },
        );
    (
        prop::collection::vec(odoo, 0..8),
        prop::collection::vec(control, 0..8),
        prop_oneof![Just(Mode::Full), Just(Mode::Incremental)],
        prop::option::of(instant.clone()),
        instant.clone(),
        any::<String>(),
        any::<Option<String>>(),
        (any::<i64>(), any::<Option<i64>>()),
        prop::option::of((instant.clone(), prop::option::of(instant))),
    )
        .prop_map(
            |(odoo, control, mode, watermark, now, language, base, range, pass)| Input {
                mode,
                watermark,
                now,
                language,
                base_latest_version: base,
                range: PageRange {
                    after_id: range.0,
                    through_id: range.1,
                },
                pass: pass.map(|(started_at, high_water)| reconcile_plan::Pass {
                    started_at,
                    high_water,
                }),
                odoo_projects: odoo,
                projects: control,
            },
        )
}

fn shuffled(strategy: impl Strategy<Value = Input>) -> impl Strategy<Value = (Input, Input)> {
    strategy.prop_flat_map(|input| {
        let other = (
            Just(input.odoo_projects.clone()).prop_shuffle(),
            Just(input.projects.clone()).prop_shuffle(),
        )
            .prop_map({
                let input = input.clone();
                move |(odoo_projects, projects)| Input {
                    odoo_projects,
                    projects,
                    ..input.clone()
                }
            });
        (Just(input), other)
    })
}

// The rules, restated.

fn project_id(event: &Event) -> &str {
    match event {
        Event::ProjectCreated(e) => e.project_id.as_str(),
        Event::ProjectUpdated(e) => e.project_id.as_str(),
        Event::ProjectArchived(e) | Event::ProjectUnarchived(e) | Event::ProjectDeleted(e) => {
            e.project_id.as_str()
        }
        other => panic!("{other:?}"),
    }
}

fn now_seconds(input: &Input) -> i64 {
    input.now.unix_micros().div_euclid(1_000_000)
}

/// The name rule's chooser, spelt out: the language, en_US, then the least
/// code (not `_`-prefixed) whose value is a string.
fn expected_name<'a>(name: &'a Value, language: &str) -> Option<&'a str> {
    if let Some(text) = name.as_str() {
        return Some(text);
    }
    let object = name.as_object()?;
    for code in [language, "en_US"] {
        if let Some(text) = object.get(code).and_then(Value::as_str) {
            return Some(text);
        }
    }
    let mut best: Option<(&str, &str)> = None;
    for (code, value) in object {
        if code.starts_with('_') {
            continue;
        }
        if let Some(text) = value.as_str() {
            if best.is_none_or(|(b, _)| code.as_str() < b) {
                best = Some((code, text));
            }
        }
    }
    best.map(|(_, text)| text)
}

/// The write_date of a row, when it is one ops-ingest would date a change by.
fn dated(row: &OdooProject, input: &Input) -> Option<Timestamp> {
    let text = row.write_date.as_deref()?;
    // The fixture's dates are all PostgreSQL text of an instant (or junk).
    let rfc = format!("{}Z", text.replacen(' ', "T", 1));
    let t: Timestamp = rfc.parse().ok()?;
    let future = t.unix_micros().div_euclid(1_000_000) > now_seconds(input) + 300;
    let before_2000 = t < "2000-01-01T00:00:00Z".parse().unwrap();
    (!future && !before_2000).then_some(t)
}

fn in_window(t: Timestamp, input: &Input) -> bool {
    match input.mode {
        Mode::Full => true,
        Mode::Incremental => t > window_start(input.watermark.unwrap()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn deterministic_and_order_free((input, other) in shuffled(page())) {
        let first = plan(&input);
        prop_assert_eq!(&first, &plan(&input));
        prop_assert_eq!(&first, &plan(&other));
    }

    #[test]
    fn never_panics_and_every_change_is_one_ops_ingest_accepts((input, other) in shuffled(anything())) {
        let result = plan(&input);
        match (&result, &plan(&other)) {
            (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
            (Err(a), Err(b)) => prop_assert_eq!(a.kind(), b.kind()),
            (a, b) => prop_assert!(false, "{:?} vs {:?}", a, b),
        }
        if let Ok(plan) = result {
            let mut ids = BTreeSet::new();
            for change in &plan.changes {
                let body = serde_json::to_vec(&change.event).unwrap();
                let again = parse_event(&body, now_seconds(&input));
                prop_assert_eq!(again.as_ref().ok(), Some(&change.event), "{:?}", again);
                let at: Timestamp =
                    change.event.occurred_at().unwrap().to_rfc3339().parse().unwrap();
                prop_assert_eq!(at, change.occurred_at);
                prop_assert!(change.change_id.len() <= 255);
                prop_assert!(ids.insert(change.change_id.clone()), "{}", change.change_id);
            }
            let _ = serde_json::to_string(&plan).unwrap();
        }
    }

    #[test]
    fn every_change_applies_and_none_is_older_than_what_is_stored(input in page()) {
        let plan = plan(&input).unwrap();
        let stored: BTreeMap<&str, &ControlProject> =
            input.projects.iter().map(|p| (p.project_id.as_str(), p)).collect();
        let mut store = Store::from_rows(&input.projects);
        for (change, outcome) in plan.changes.iter().zip(store.apply_plan(&plan)) {
            // The rule takes every change: none is stale, none deferred.
            prop_assert!(
                !matches!(outcome, Outcome::Stale | Outcome::Deferred),
                "{:?} {:?}", change, outcome
            );
            let id = project_id(&change.event);
            let newer = |at: Option<Timestamp>, by: &Option<String>| match at {
                None => true,
                Some(at) => (change.occurred_at, change.change_id.as_bytes())
                    > (at, by.as_deref().unwrap_or("").as_bytes()),
            };
            match (&change.event, stored.get(id)) {
                (Event::ProjectCreated(_), row) => prop_assert!(row.is_none()),
                (Event::ProjectUpdated(_), Some(row)) => {
                    prop_assert!(row.deleted_at.is_none());
                    prop_assert!(newer(row.described_at, &row.described_by));
                }
                (Event::ProjectArchived(_) | Event::ProjectUnarchived(_), Some(row)) => {
                    prop_assert!(row.deleted_at.is_none());
                    prop_assert!(newer(row.activity_at, &row.activity_by));
                }
                // Archived right after its creation in this plan.
                (Event::ProjectArchived(_), None) => {}
                (Event::ProjectDeleted(_), Some(row)) => {
                    prop_assert!(row.deleted_at.is_none());
                    prop_assert_eq!(change.occurred_at, input.now);
                }
                (event, row) => prop_assert!(false, "{:?} against {:?}", event, row),
            }
        }
    }

    #[test]
    fn converges_plan_apply_plan_is_empty(input in page()) {
        let first = plan(&input).unwrap();
        let mut store = Store::from_rows(&input.projects);
        store.apply_plan(&first);
        let again = plan_against(&input, &store);
        prop_assert!(again.changes.is_empty(), "{:?}", again.changes);
        // Nothing new is reported either: the skips are the same facts.
        let reasons = |p: &reconcile_plan::Plan| {
            p.skipped.iter().map(|s| (s.project_id.clone(), s.reason)).collect::<Vec<_>>()
        };
        let first_reasons: BTreeSet<_> = reasons(&first).into_iter().collect();
        for reason in reasons(&again) {
            prop_assert!(first_reasons.contains(&reason), "{:?}", reason);
        }
    }

    #[test]
    fn ends_in_odoo_state_unless_a_newer_change_is_recorded(input in page()) {
        let plan = plan(&input).unwrap();
        let mut store = Store::from_rows(&input.projects);
        store.apply_plan(&plan);
        let skipped: BTreeSet<&str> = plan.skipped.iter().map(|s| s.project_id.as_str()).collect();
        let series = match input.base_latest_version.as_deref() {
            Some("19.0.1.3") => "19.0",
            Some("18.0.1.0") => "18.0",
            _ => return Ok(()),
        };
        for row in &input.odoo_projects {
            let id = format!("odoo-{}", row.id);
            let Some(at) = dated(row, &input) else { continue };
            if !in_window(at, &input) || skipped.contains(id.as_str()) {
                continue;
            }
            let mirrored = &store.rows[&id];
            prop_assert_eq!(
                Some(mirrored.name.as_str()),
                expected_name(&row.name, &input.language)
            );
            prop_assert_eq!(mirrored.odoo_version.as_str(), series);
            prop_assert_eq!(mirrored.active, row.active == Some(true));
        }
    }

    #[test]
    fn full_mode_marks_deleted_exactly_the_absent_ids(input in page()) {
        let plan = plan(&input).unwrap();
        let deleted: BTreeSet<&str> = plan
            .changes
            .iter()
            .filter(|c| matches!(c.event, Event::ProjectDeleted(_)))
            .map(|c| project_id(&c.event))
            .collect();
        let odoo: BTreeSet<String> =
            input.odoo_projects.iter().map(|p| format!("odoo-{}", p.id)).collect();
        let first_page_empty = input.range.after_id == 0 && input.odoo_projects.is_empty();
        let settled = input.now.unix_micros() - 15 * MINUTE;
        let expected: BTreeSet<&str> = input
            .projects
            .iter()
            .filter(|_| input.mode == Mode::Full && !first_page_empty)
            .filter(|p| !odoo.contains(&p.project_id) && p.deleted_at.is_none())
            .filter(|p| {
                [p.described_at, p.activity_at]
                    .iter()
                    .flatten()
                    .all(|at| at.unix_micros() <= settled)
            })
            .map(|p| p.project_id.as_str())
            .collect();
        prop_assert_eq!(deleted, expected);
        // And what is absent but not deleted says why.
        for p in &input.projects {
            if input.mode == Mode::Full && !odoo.contains(&p.project_id) && p.deleted_at.is_none()
                && !plan.changes.iter().any(|c| project_id(&c.event) == p.project_id)
            {
                let reason = plan.skipped.iter().find(|s| s.project_id == p.project_id).map(|s| s.reason);
                prop_assert!(
                    matches!(reason, Some(SkipReason::MaybeUncommitted | SkipReason::OdooReturnedNothing)),
                    "{:?}", reason
                );
            }
        }
    }

    #[test]
    fn the_watermark_never_goes_back_nor_past_what_was_seen(input in page()) {
        let plan = plan(&input).unwrap();
        let seen = input
            .odoo_projects
            .iter()
            .filter_map(|row| {
                let text = row.write_date.as_deref()?;
                let t: Timestamp = format!("{}Z", text.replacen(' ', "T", 1)).parse().ok()?;
                let future = t.unix_micros().div_euclid(1_000_000) > now_seconds(&input) + 300;
                (!future && in_window(t, &input)).then_some(t)
            })
            .max();
        let bound = input.watermark.max(seen);
        match plan.next {
            Next::Done { watermark } => {
                prop_assert!(watermark >= input.watermark);
                prop_assert_eq!(watermark, bound);
            }
            Next::Page { after_id, pass } => {
                prop_assert_eq!(Some(after_id), input.range.through_id);
                prop_assert_eq!(pass.started_at, input.now);
                prop_assert_eq!(pass.high_water, seen);
            }
        }
    }
}

/// `ops.reconcile_read`'s agreement, restated from its SQL: the pairs it
/// leaves out of a page under `agreement`. Its name is the language's, else
/// en_US's, and never the fallback to any language the planner has: where
/// they differ the pair is sent.
fn agrees(
    odoo: &OdooProject,
    control: &ControlProject,
    input: &Input,
    agreement: &reconcile_plan::Agreement,
) -> bool {
    let Some(at) = odoo
        .write_date
        .as_deref()
        .and_then(|text| Timestamp::parse_odoo(text).ok())
    else {
        return false;
    };
    let name = match &odoo.name {
        Value::String(text) => Some(text.as_str()),
        Value::Object(map) => [agreement.language.as_str(), "en_US"]
            .into_iter()
            .find_map(|code| map.get(code).and_then(Value::as_str)),
        _ => None,
    };
    control.deleted_at.is_none()
        && odoo.is_template != Some(true)
        && in_window(at, input)
        && at <= agreement.now
        && control.active == (odoo.active == Some(true))
        && control.odoo_version == agreement.series
        && name == Some(control.name.as_str())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// Leaving out the pairs that agree, counted, plans the same page: the
    /// same changes, skips, counts and next page (so the same high water).
    #[test]
    fn pairs_left_out_by_the_agreement_plan_as_if_read(input in page()) {
        let Some(agreement) = reconcile_plan::agreement(
            &input.language,
            input.base_latest_version.as_deref(),
            input.now,
        ) else {
            return Ok(());
        };
        let control_of = |id: i64| {
            input.projects.iter().find(|row| row.project_id == format!("odoo-{id}"))
        };
        let left_out: Vec<&OdooProject> = input
            .odoo_projects
            .iter()
            .filter(|row| control_of(row.id).is_some_and(|c| agrees(row, c, &input, &agreement)))
            .collect();
        let ids: BTreeSet<i64> = left_out.iter().map(|row| row.id).collect();
        let latest = left_out
            .iter()
            .filter_map(|row| row.write_date.clone())
            .max_by_key(|text| Timestamp::parse_odoo(text).unwrap());
        let reduced = Input {
            odoo_projects: input.odoo_projects.iter().filter(|r| !ids.contains(&r.id)).cloned().collect(),
            projects: input
                .projects
                .iter()
                .filter(|r| !ids.iter().any(|id| r.project_id == format!("odoo-{id}")))
                .cloned()
                .collect(),
            ..input.clone()
        };
        let agreed = reconcile_plan::Agreed { count: ids.len() as u64, latest_write_date: latest };
        let whole = plan(&input);
        let parted = reconcile_plan::plan_with_agreed(&reduced, &agreed);
        prop_assert_eq!(whole, parted);
    }
}
