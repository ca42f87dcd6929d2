//! Each rule of the crate documentation, on small pages.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use ops_events::Event;
use reconcile_plan::{
    plan, window_start, ControlProject, ErrorKind, Input, Mode, Next, PageRange, Pass, Plan,
    SkipReason, Timestamp, CHANGE_ID_PREFIX, OVERLAP_SECONDS,
};
use serde_json::{json, Value};

const NOW: &str = "2026-11-26T12:00:00Z";

fn stored(id: i64, name: &str, active: bool, described_at: &str, by: &str) -> ControlProject {
    ControlProject {
        project_id: format!("odoo-{id}"),
        name: name.to_owned(),
        odoo_version: "19.0".to_owned(),
        active,
        deleted_at: None,
        described_at: Some(at(described_at)),
        described_by: Some(by.to_owned()),
        activity_at: None,
        activity_by: None,
    }
}

fn types(plan: &Plan) -> Vec<(String, &'static str)> {
    plan.changes
        .iter()
        .map(|c| {
            let (id, kind) = match &c.event {
                Event::ProjectCreated(e) => (e.project_id.as_str(), "created"),
                Event::ProjectUpdated(e) => (e.project_id.as_str(), "updated"),
                Event::ProjectArchived(e) => (e.project_id.as_str(), "archived"),
                Event::ProjectUnarchived(e) => (e.project_id.as_str(), "unarchived"),
                Event::ProjectDeleted(e) => (e.project_id.as_str(), "deleted"),
                other => panic!("{other:?}"),
            };
            (id.to_owned(), kind)
        })
        .collect()
}

fn reasons(plan: &Plan) -> Vec<(String, SkipReason)> {
    plan.skipped
        .iter()
        .map(|s| (s.project_id.clone(), s.reason))
        .collect()
}

fn name_of(plan: &Plan, i: usize) -> (&str, &str) {
    match &plan.changes[i].event {
        Event::ProjectCreated(e) => (e.name.as_str(), e.odoo_version.as_str()),
        Event::ProjectUpdated(e) => (e.name.as_str(), e.odoo_version.as_str()),
        other => panic!("{other:?}"),
    }
}

fn one(id: i64, name: Value, active: bool, write_date: &str) -> Input {
    input(vec![odoo_row(id, name, active, write_date)], vec![])
}

// Rule 1: the events, dated by write_date.

#[test]
fn a_new_project_is_created_dated_by_its_write_date() {
    let plan = plan(&one(
        42,
        json!({"en_US": "Alpha"}),
        true,
        "2026-11-26 10:00:00.5",
    ))
    .unwrap();
    assert_eq!(types(&plan), [("odoo-42".to_owned(), "created")]);
    assert_eq!(name_of(&plan, 0), ("Alpha", "19.0"));
    let change = &plan.changes[0];
    assert_eq!(change.occurred_at, at("2026-11-26T10:00:00.5Z"));
    assert_eq!(
        change.event.occurred_at().unwrap().to_rfc3339(),
        "2026-11-26T10:00:00.5Z"
    );
    assert_eq!(plan.summary.created, 1);
    assert_eq!(plan.summary.unchanged, 0);
}

#[test]
fn an_archived_new_project_is_created_then_archived() {
    let plan = plan(&one(42, json!("Alpha"), false, "2026-11-26 10:00:00")).unwrap();
    assert_eq!(
        types(&plan),
        [
            ("odoo-42".to_owned(), "created"),
            ("odoo-42".to_owned(), "archived")
        ]
    );
    let mut store = Store::default();
    assert_eq!(
        store.apply_plan(&plan),
        [Outcome::Created, Outcome::Archived]
    );
    assert!(!store.rows["odoo-42"].active);
}

#[test]
fn the_events_are_the_bodies_ops_ingest_accepts() {
    let mut projects = vec![stored(1, "Old", true, "2026-11-01T00:00:00Z", "msg_1")];
    projects.push(stored(3, "Gone", true, "2026-11-01T00:00:00Z", "msg_3"));
    let mut page = input(
        vec![
            odoo_row(1, json!({"en_US": "New"}), false, "2026-11-26 10:00:00"),
            odoo_row(2, json!({"en_US": "Fresh"}), true, "2026-11-26 10:00:00"),
        ],
        projects,
    );
    page.now = at(NOW);
    let plan = plan(&page).unwrap();
    assert_eq!(
        types(&plan),
        [
            ("odoo-1".to_owned(), "updated"),
            ("odoo-1".to_owned(), "archived"),
            ("odoo-2".to_owned(), "created"),
            ("odoo-3".to_owned(), "deleted"),
        ]
    );
    for change in &plan.changes {
        let body = serde_json::to_vec(&change.event).unwrap();
        let again = ops_events::parse_event(&body, at(NOW).unix_micros() / 1_000_000).unwrap();
        assert_eq!(again, change.event);
    }
    let body = serde_json::to_value(&plan.changes[0].event).unwrap();
    assert_eq!(
        body,
        json!({"event_type": "project_updated", "project_id": "odoo-1", "name": "New",
               "odoo_version": "19.0", "occurred_at": "2026-11-26T10:00:00Z"})
    );
}

#[test]
fn an_agreeing_project_is_unchanged_whatever_its_versions() {
    let projects = vec![
        stored(1, "Alpha", true, "2026-11-20T00:00:00Z", "msg_1"),
        stored(2, "Beta", false, "2026-11-27T00:00:00Z", "msg_2"),
    ];
    let plan = plan(&input(
        vec![
            odoo_row(1, json!({"en_US": "Alpha"}), true, "2026-11-26 10:00:00"),
            odoo_row(2, json!({"fr_FR": "Beta"}), false, "2026-11-26 10:00:00"),
        ],
        projects,
    ))
    .unwrap();
    assert!(plan.changes.is_empty());
    assert!(plan.skipped.is_empty());
    assert_eq!(plan.summary.unchanged, 2);
}

// Rule 2: nothing the rule would call stale.

#[test]
fn an_older_write_date_than_the_recorded_change_is_left_out() {
    // A delivery newer than this read already set the name and the activity.
    let mut newer = stored(1, "Newer", true, "2026-11-26T11:00:00Z", "msg_9");
    newer.activity_at = Some(at("2026-11-26T11:00:00Z"));
    newer.activity_by = Some("msg_9".to_owned());
    let plan = plan(&input(
        vec![odoo_row(1, json!("Older"), false, "2026-11-26 10:00:00")],
        vec![newer],
    ))
    .unwrap();
    assert!(plan.changes.is_empty());
    assert_eq!(
        reasons(&plan),
        [
            ("odoo-1".to_owned(), SkipReason::StaleDescription),
            ("odoo-1".to_owned(), SkipReason::StaleActivity)
        ]
    );
    assert!(plan.skipped[0]
        .detail
        .contains("(2026-11-26T11:00:00.000000Z, \"msg_9\")"));
    assert_eq!(plan.summary.unchanged, 0);
}

#[test]
fn one_part_stale_the_other_planned() {
    // The name was set by a newer delivery; the archive is news.
    let row = stored(1, "Newer", true, "2026-11-26T11:00:00Z", "msg_9");
    let plan = plan(&input(
        vec![odoo_row(1, json!("Older"), false, "2026-11-26 10:00:00")],
        vec![row],
    ))
    .unwrap();
    assert_eq!(types(&plan), [("odoo-1".to_owned(), "archived")]);
    assert_eq!(
        reasons(&plan),
        [("odoo-1".to_owned(), SkipReason::StaleDescription)]
    );
}

#[test]
fn one_microsecond_later_is_newer() {
    let row = stored(1, "Old", true, "2026-11-26T10:00:00Z", "~~~~");
    let plan = plan(&input(
        vec![odoo_row(
            1,
            json!("New"),
            true,
            "2026-11-26 10:00:00.000001",
        )],
        vec![row],
    ))
    .unwrap();
    assert_eq!(types(&plan), [("odoo-1".to_owned(), "updated")]);
}

// Rule 3: ties.

#[test]
fn at_a_tie_the_reconcile_wins_over_a_delivery() {
    // A delivery sent from inside the Odoo transaction, before its last write.
    let mut store = Store::default();
    store.webhook(
        "msg_2ZyCUS0qP0Ba3fDeLTrAgoDY6Az",
        json!({"event_type": "project_created", "project_id": "odoo-1", "name": "Draft",
               "odoo_version": "19.0", "occurred_at": "2026-11-26T10:00:00Z"}),
    );
    let page = input(
        vec![odoo_row(1, json!("Final"), true, "2026-11-26 10:00:00")],
        vec![],
    );
    let plan = plan_against(&page, &store);
    assert_eq!(types(&plan), [("odoo-1".to_owned(), "updated")]);
    assert!(plan.changes[0].change_id.starts_with(CHANGE_ID_PREFIX));
    assert_eq!(store.apply_plan(&plan), [Outcome::Updated]);
    assert_eq!(store.rows["odoo-1"].name, "Final");
    assert!(plan_against(&page, &store).changes.is_empty());
}

#[test]
fn at_a_tie_the_later_reconcile_wins_and_the_earlier_one_is_stale() {
    let mut store = Store::default();
    let early = one(
        1,
        json!({"en_US": "Office", "fr_FR": "Bureau"}),
        true,
        "2026-11-26 10:00:00",
    );
    let mut early_en = early.clone();
    early_en.language = "en_US".to_owned();
    store.apply_plan(&plan(&early_en).unwrap());
    assert_eq!(store.rows["odoo-1"].name, "Office");
    // The language setting changed; the row did not.
    let mut later = early.clone();
    later.now = at("2026-11-26T13:00:00Z");
    let plan_later = plan_against(&later, &store);
    assert_eq!(types(&plan_later), [("odoo-1".to_owned(), "updated")]);
    assert_eq!(store.apply_plan(&plan_later), [Outcome::Updated]);
    assert_eq!(store.rows["odoo-1"].name, "Bureau");
    // Replanning with the earlier clock knows it would lose the tie.
    let mut earlier = early_en.clone();
    earlier.now = at("2026-11-26T11:00:00Z");
    let stale = plan_against(&earlier, &store);
    assert!(stale.changes.is_empty());
    assert_eq!(
        reasons(&stale),
        [("odoo-1".to_owned(), SkipReason::StaleDescription)]
    );
}

#[test]
fn change_ids_are_unique_and_fixed_width_in_now() {
    let plan = plan(&one(42, json!("A"), false, "2026-11-26 10:00:00")).unwrap();
    let ids: Vec<&str> = plan.changes.iter().map(|c| c.change_id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "~reconcile:2026-11-26T12:00:00.000000Z:project_created:odoo-42",
            "~reconcile:2026-11-26T12:00:00.000000Z:project_archived:odoo-42"
        ]
    );
    assert!(ids.iter().all(|id| id.len() <= 255 && id.is_ascii()));
}

// Rule 4: the name.

#[test]
fn the_name_in_the_configured_language_with_its_fallbacks() {
    for (name, expect) in [
        (json!({"en_US": "Office", "fr_FR": "Bureau"}), "Bureau"),
        (json!({"en_US": "Office", "de_DE": "Büro"}), "Office"),
        (json!({"nl_NL": "Kantoor", "de_DE": "Büro"}), "Büro"),
        (
            json!({"fr_FR": null, "_fr_FR": "x", "it_IT": "Ufficio"}),
            "Ufficio",
        ),
        (json!("Plain"), "Plain"),
    ] {
        let plan = plan(&one(1, name.clone(), true, "2026-11-26 10:00:00")).unwrap();
        assert_eq!(name_of(&plan, 0).0, expect, "{name}");
    }
}

#[test]
fn a_name_without_a_string_is_skipped() {
    for name in [
        json!(null),
        json!({}),
        json!({"en_US": null}),
        json!(7),
        json!(["A"]),
    ] {
        let plan = plan(&one(1, name.clone(), true, "2026-11-26 10:00:00")).unwrap();
        assert!(plan.changes.is_empty(), "{name}");
        assert_eq!(reasons(&plan), [("odoo-1".to_owned(), SkipReason::NoName)]);
    }
}

#[test]
fn a_name_that_breaks_the_rule_is_skipped_not_cut_and_the_old_name_stays() {
    let long = "é".repeat(256);
    for bad in [
        "",
        "   ",
        "a\u{0}b",
        "line\nbreak",
        "a\u{2028}b",
        long.as_str(),
    ] {
        let row = stored(1, "Kept", true, "2026-11-01T00:00:00Z", "msg_1");
        // Odoo also archived it: that part is independent of the name.
        let page = input(
            vec![odoo_row(
                1,
                json!({"fr_FR": bad, "en_US": "Fine"}),
                false,
                "2026-11-26 10:00:00",
            )],
            vec![row.clone()],
        );
        let plan = plan(&page).unwrap();
        assert_eq!(types(&plan), [("odoo-1".to_owned(), "archived")], "{bad:?}");
        assert_eq!(
            reasons(&plan),
            [("odoo-1".to_owned(), SkipReason::InvalidName)]
        );
        assert!(
            plan.skipped[0].detail.contains("name: "),
            "{}",
            plan.skipped[0].detail
        );
        let mut store = Store::from_rows(&[row]);
        store.apply_plan(&plan);
        assert_eq!(store.rows["odoo-1"].name, "Kept");
        // Not created either when the project is new.
        let new = plan_against(&page, &Store::default());
        assert!(new.changes.is_empty());
        assert_eq!(
            reasons(&new),
            [("odoo-1".to_owned(), SkipReason::InvalidName)]
        );
    }
    // 255 characters is a name.
    let plan = plan(&one(1, json!("é".repeat(255)), true, "2026-11-26 10:00:00")).unwrap();
    assert_eq!(plan.summary.created, 1);
}

// Rule 5: the series.

#[test]
fn the_series_from_base_and_what_a_missing_one_does() {
    let row = stored(1, "Old", true, "2026-11-01T00:00:00Z", "msg_1");
    let page = input(
        vec![
            odoo_row(1, json!("New"), false, "2026-11-26 10:00:00"),
            odoo_row(2, json!("Fresh"), true, "2026-11-26 10:00:00"),
        ],
        vec![row],
    );
    let mut saas = page.clone();
    saas.base_latest_version = Some("saas~18.3.1.3".to_owned());
    assert_eq!(name_of(&plan(&saas).unwrap(), 0), ("New", "saas~18.3"));
    for bad in [
        None,
        Some("19.0"),
        Some("junk"),
        Some("1234.0.1"),
        Some("19.100.1"),
    ] {
        let mut unknown = page.clone();
        unknown.base_latest_version = bad.map(str::to_owned);
        let plan = plan(&unknown).unwrap();
        // The archive still goes; no name, no series, no creation.
        assert_eq!(types(&plan), [("odoo-1".to_owned(), "archived")], "{bad:?}");
        assert_eq!(
            reasons(&plan),
            [
                ("odoo-1".to_owned(), SkipReason::UnknownSeries),
                ("odoo-2".to_owned(), SkipReason::UnknownSeries)
            ],
            "{bad:?}"
        );
    }
}

#[test]
fn an_upgrade_reaches_every_project_through_the_tie() {
    // Mirrored on 18.0, by a delivery and by an earlier reconcile, both
    // dated by the row's write_date, which the upgrade does not change.
    let mut by_delivery = stored(1, "A", true, "2026-11-26T10:00:00Z", "msg_1");
    by_delivery.odoo_version = "18.0".to_owned();
    let mut by_reconcile = stored(
        2,
        "B",
        true,
        "2026-11-26T10:00:00Z",
        "~reconcile:2026-11-26T11:00:00.000000Z:project_created:odoo-2",
    );
    by_reconcile.odoo_version = "18.0".to_owned();
    let page = input(
        vec![
            odoo_row(1, json!("A"), true, "2026-11-26 10:00:00"),
            odoo_row(2, json!("B"), true, "2026-11-26 10:00:00"),
        ],
        vec![by_delivery.clone(), by_reconcile.clone()],
    );
    let plan = plan(&page).unwrap();
    assert_eq!(plan.summary.updated, 2);
    let mut store = Store::from_rows(&[by_delivery, by_reconcile]);
    assert_eq!(
        store.apply_plan(&plan),
        [Outcome::Updated, Outcome::Updated]
    );
    assert!(store.rows.values().all(|r| r.odoo_version == "19.0"));
}

// Rules 6 to 8: templates, nulls, dates.

#[test]
fn templates_are_not_mirrored_and_not_deleted() {
    let mut row = odoo_row(1, json!("Template"), true, "2026-11-26 10:00:00");
    row["is_template"] = json!(true);
    let existing = stored(1, "Was a project", true, "2026-11-01T00:00:00Z", "msg_1");
    for projects in [vec![], vec![existing]] {
        let plan = plan(&input(vec![row.clone()], projects)).unwrap();
        assert!(plan.changes.is_empty());
        assert_eq!(
            reasons(&plan),
            [("odoo-1".to_owned(), SkipReason::Template)]
        );
    }
}

#[test]
fn null_active_and_is_template_read_as_false() {
    let mut row = odoo_row(1, json!("A"), true, "2026-11-26 10:00:00");
    row["active"] = Value::Null;
    row["is_template"] = Value::Null;
    let plan = plan(&input(vec![row], vec![])).unwrap();
    assert_eq!(
        types(&plan),
        [
            ("odoo-1".to_owned(), "created"),
            ("odoo-1".to_owned(), "archived")
        ]
    );
}

#[test]
fn a_row_that_cannot_be_dated_is_skipped_and_still_present() {
    let existing = stored(1, "A", true, "2026-11-01T00:00:00Z", "msg_1");
    use SkipReason::*;
    for (write_date, expect) in [
        (Value::Null, vec![NoWriteDate]),
        (json!("yesterday"), vec![InvalidWriteDate]),
        (json!("2026-11-26T10:00:00Z"), vec![InvalidWriteDate]),
        (json!("2026-11-26 10:00:00+01"), vec![InvalidWriteDate]),
        (json!("infinity"), vec![InvalidWriteDate]),
        (json!("2026-02-30 10:00:00"), vec![InvalidWriteDate]),
        (json!("2026-11-26 12:05:01"), vec![WriteDateInFuture]),
        (json!("9999-12-31 23:59:59"), vec![WriteDateInFuture]),
        // Older than the recorded name; the archive is refused by the
        // date rule of ops-ingest.
        (
            json!("1999-12-31 23:59:59"),
            vec![StaleDescription, Refused],
        ),
    ] {
        let mut row = odoo_row(1, json!("B"), false, "");
        row["write_date"] = write_date.clone();
        let plan = plan(&input(vec![row], vec![existing.clone()])).unwrap();
        assert!(plan.changes.is_empty(), "{write_date}");
        assert_eq!(
            reasons(&plan).iter().map(|r| r.1).collect::<Vec<_>>(),
            expect,
            "{write_date}"
        );
        // Present: not marked deleted, and a future date moves no watermark.
        assert_eq!(
            plan.next,
            Next::Done {
                watermark: watermark_for(&write_date)
            }
        );
    }
    let refused = plan(&one(1, json!("A"), true, "1999-12-31 23:59:59")).unwrap();
    assert_eq!(refused.skipped[0].reason, Refused);
    assert!(refused.skipped[0].detail.contains("occurred_at"));
    // Five minutes ahead is still now, to ops-ingest.
    let plan = plan(&one(1, json!("A"), true, "2026-11-26 12:05:00.999999")).unwrap();
    assert_eq!(plan.summary.created, 1);
}

fn watermark_for(write_date: &Value) -> Option<Timestamp> {
    match write_date.as_str() {
        Some("1999-12-31 23:59:59") => Some(at("1999-12-31T23:59:59Z")),
        _ => None,
    }
}

// Rule 9: the incremental window.

#[test]
fn incremental_judges_only_rows_written_after_the_window_start() {
    let watermark = "2026-11-26T11:00:00Z";
    let start = window_start(at(watermark));
    assert_eq!(start, at("2026-11-26T10:45:00Z"));
    assert_eq!(OVERLAP_SECONDS, 900);
    let page = incremental(
        input(
            vec![
                odoo_row(1, json!("At the start"), true, "2026-11-26 10:45:00"),
                odoo_row(2, json!("Just after"), true, "2026-11-26 10:45:00.000001"),
            ],
            vec![
                stored(1, "x", true, "2026-11-01T00:00:00Z", "msg"),
                stored(2, "x", true, "2026-11-01T00:00:00Z", "msg"),
                // Absent from Odoo's page: not judged, never deleted.
                stored(3, "x", true, "2026-11-01T00:00:00Z", "msg"),
            ],
        ),
        watermark,
    );
    let plan = plan(&page).unwrap();
    assert_eq!(types(&plan), [("odoo-2".to_owned(), "updated")]);
    assert_eq!(
        reasons(&plan),
        [("odoo-1".to_owned(), SkipReason::OutsideWindow)]
    );
    // The watermark never goes back.
    assert_eq!(
        plan.next,
        Next::Done {
            watermark: Some(at(watermark))
        }
    );
}

#[test]
fn incremental_needs_a_watermark() {
    let mut page = one(1, json!("A"), true, "2026-11-26 10:00:00");
    page.mode = Mode::Incremental;
    assert_eq!(plan(&page).unwrap_err().location(), "watermark");
}

#[test]
fn a_long_transaction_that_commits_after_the_pass_is_in_the_next_window() {
    // Pass 1 reads at 12:00 and sees a row written at 11:59.
    let mut store = Store::default();
    let pass1 = one(1, json!("Seen"), true, "2026-11-26 11:59:00");
    let plan1 = plan(&pass1).unwrap();
    store.apply_plan(&plan1);
    let Next::Done {
        watermark: Some(watermark),
    } = plan1.next
    else {
        panic!("{:?}", plan1.next)
    };
    assert_eq!(watermark, at("2026-11-26T11:59:00Z"));
    // A transaction that started at 11:50 (older than the watermark) and
    // was still running at 12:00 commits at 12:01.
    let mut pass2 = incremental(
        input(
            vec![
                odoo_row(1, json!("Seen"), true, "2026-11-26 11:59:00"),
                odoo_row(2, json!("Long"), true, "2026-11-26 11:50:00"),
            ],
            vec![],
        ),
        "2026-11-26T11:59:00Z",
    );
    pass2.now = at("2026-11-26T13:00:00Z");
    let plan2 = plan_against(&pass2, &store);
    assert_eq!(types(&plan2), [("odoo-2".to_owned(), "created")]);
    assert_eq!(plan2.summary.unchanged, 1);
}

// Rule 10: the watermark across pages.

#[test]
fn pages_carry_the_pass_and_the_watermark_goes_back_by_its_duration() {
    let first = Input {
        range: PageRange {
            after_id: 0,
            through_id: Some(2),
        },
        ..input(
            vec![
                odoo_row(1, json!("A"), true, "2026-11-26 11:58:00"),
                odoo_row(2, json!("B"), true, "2026-11-26 09:00:00"),
            ],
            vec![],
        )
    };
    let plan1 = plan(&first).unwrap();
    let Next::Page { after_id, pass } = plan1.next else {
        panic!()
    };
    assert_eq!(after_id, 2);
    assert_eq!(
        pass,
        Pass {
            started_at: at(NOW),
            high_water: Some(at("2026-11-26T11:58:00Z"))
        }
    );
    // The second page is read ten minutes later.
    let second = Input {
        range: PageRange {
            after_id,
            through_id: None,
        },
        pass: Some(pass),
        now: at("2026-11-26T12:10:00Z"),
        ..input(
            vec![odoo_row(3, json!("C"), true, "2026-11-26 12:09:00")],
            vec![],
        )
    };
    let plan2 = plan(&second).unwrap();
    assert_eq!(
        plan2.next,
        Next::Done {
            watermark: Some(at("2026-11-26T11:59:00Z"))
        }
    );
}

// Rule 11: deletions.

#[test]
fn full_mode_marks_deleted_what_odoo_no_longer_has() {
    let mut gone_already = stored(4, "D", true, "2026-11-01T00:00:00Z", "msg");
    gone_already.deleted_at = Some(at("2026-11-02T00:00:00Z"));
    let recent = stored(5, "E", true, "2026-11-26T11:50:00Z", "msg");
    let mut recently_archived = stored(6, "F", true, "2026-11-01T00:00:00Z", "msg");
    recently_archived.activity_at = Some(at("2026-11-26T11:46:00Z"));
    let settled = stored(7, "G", true, "2026-11-26T11:45:00Z", "msg");
    let page = input(
        vec![odoo_row(1, json!("A"), true, "2026-11-26 10:00:00")],
        vec![
            stored(1, "A", true, "2026-11-26T10:00:00Z", "msg"),
            stored(3, "C", false, "2026-11-01T00:00:00Z", "msg"),
            gone_already,
            recent,
            recently_archived,
            settled,
        ],
    );
    let plan = plan(&page).unwrap();
    assert_eq!(
        types(&plan),
        [
            ("odoo-3".to_owned(), "deleted"),
            ("odoo-7".to_owned(), "deleted")
        ]
    );
    assert!(plan.changes.iter().all(|c| c.occurred_at == at(NOW)));
    assert_eq!(
        reasons(&plan),
        [
            ("odoo-5".to_owned(), SkipReason::MaybeUncommitted),
            ("odoo-6".to_owned(), SkipReason::MaybeUncommitted)
        ]
    );
    assert_eq!(plan.summary.unchanged, 2);
    // An hour later the uncommitted ones are judged gone.
    let mut later = page.clone();
    later.now = at("2026-11-26T13:00:00Z");
    let mut store = Store::from_rows(&page.projects);
    store.apply_plan(&plan);
    let plan_later = plan_against(&later, &store);
    assert_eq!(
        types(&plan_later),
        [
            ("odoo-5".to_owned(), "deleted"),
            ("odoo-6".to_owned(), "deleted")
        ]
    );
    store.apply_plan(&plan_later);
    // Rows stay, marked.
    assert_eq!(store.rows.len(), 6);
    assert!(plan_against(&later, &store).changes.is_empty());
}

#[test]
fn a_deletion_is_not_undone_by_a_late_delivery() {
    let mut store = Store::from_rows(&[stored(3, "C", true, "2026-11-01T00:00:00Z", "msg_1")]);
    let plan = plan_against(&input(vec![], vec![]), &store);
    // Odoo's first page empty: nothing is marked.
    assert!(plan.changes.is_empty());
    assert_eq!(
        reasons(&plan),
        [("odoo-3".to_owned(), SkipReason::OdooReturnedNothing)]
    );
    // On a later page, it is.
    let page = Input {
        range: PageRange {
            after_id: 2,
            through_id: None,
        },
        ..input(vec![], vec![])
    };
    let plan = plan_against(&page, &store);
    assert_eq!(types(&plan), [("odoo-3".to_owned(), "deleted")]);
    store.apply_plan(&plan);
    // A rename sent before the deletion, delivered after it.
    let late = store.webhook(
        "msg_late",
        json!({"event_type": "project_updated", "project_id": "odoo-3", "name": "C2",
               "odoo_version": "19.0", "occurred_at": "2026-11-26T11:59:00Z"}),
    );
    assert_eq!(late, Outcome::Stale);
    assert_eq!(store.rows["odoo-3"].name, "C");
}

#[test]
fn a_project_odoo_has_but_the_control_plane_deleted_is_reported() {
    let mut row = stored(1, "A", true, "2026-11-01T00:00:00Z", "msg");
    row.deleted_at = Some(at("2026-11-02T00:00:00Z"));
    let plan = plan(&input(
        vec![odoo_row(1, json!("B"), true, "2026-11-26 10:00:00")],
        vec![row],
    ))
    .unwrap();
    assert!(plan.changes.is_empty());
    assert_eq!(
        reasons(&plan),
        [("odoo-1".to_owned(), SkipReason::DeletedInControlPlane)]
    );
}

// Rule 12 and the errors.

#[test]
fn a_page_read_wrongly_is_an_error() {
    let a = odoo_row(1, json!("A"), true, "2026-11-26 10:00:00");
    let cases: Vec<(Input, ErrorKind, &str)> = vec![
        (
            input(vec![a.clone(), a.clone()], vec![]),
            ErrorKind::Duplicate,
            "odoo_projects id 1",
        ),
        (
            input(
                vec![],
                vec![
                    stored(1, "A", true, NOW, "m"),
                    stored(1, "B", true, NOW, "m"),
                ],
            ),
            ErrorKind::Duplicate,
            "projects \"odoo-1\"",
        ),
        (
            Input {
                range: PageRange {
                    after_id: 1,
                    through_id: None,
                },
                ..input(vec![a.clone()], vec![])
            },
            ErrorKind::OutOfRange,
            "odoo_projects id 1",
        ),
        (
            Input {
                range: PageRange {
                    after_id: 0,
                    through_id: Some(1),
                },
                ..input(vec![], vec![stored(2, "B", true, NOW, "m")])
            },
            ErrorKind::OutOfRange,
            "projects \"odoo-2\"",
        ),
        (
            Input {
                range: PageRange {
                    after_id: 5,
                    through_id: Some(5),
                },
                ..input(vec![], vec![])
            },
            ErrorKind::Invalid,
            "range.through_id",
        ),
        (
            Input {
                range: PageRange {
                    after_id: -1,
                    through_id: None,
                },
                ..input(vec![], vec![])
            },
            ErrorKind::Invalid,
            "range.after_id",
        ),
        (
            input(
                vec![odoo_row(0, json!("A"), true, "2026-11-26 10:00:00")],
                vec![],
            ),
            ErrorKind::OutOfRange,
            "odoo_projects id 0",
        ),
        (
            Input {
                language: String::new(),
                ..input(vec![], vec![])
            },
            ErrorKind::Invalid,
            "language",
        ),
        (
            Input {
                language: "_fr_FR".to_owned(),
                ..input(vec![], vec![])
            },
            ErrorKind::Invalid,
            "language",
        ),
    ];
    for (case, kind, location) in cases {
        let err = plan(&case).unwrap_err();
        assert_eq!((err.kind(), err.location()), (kind, location), "{err}");
    }
    for bad in [
        "odoo-01",
        "odoo-+1",
        "odoo-",
        "1",
        "odoo-1 ",
        "odoo-99999999999999999999",
    ] {
        let mut row = stored(1, "A", true, NOW, "m");
        row.project_id = bad.to_owned();
        let err = plan(&input(vec![], vec![row])).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid, "{bad}");
    }
}

#[test]
fn an_id_the_event_rules_refuse_is_skipped() {
    let huge = 1_000_000_000_000_000_000; // 19 digits
    let plan = plan(&one(huge, json!("A"), true, "2026-11-26 10:00:00")).unwrap();
    assert!(plan.changes.is_empty());
    assert_eq!(plan.skipped[0].reason, SkipReason::Refused);
    assert!(plan.skipped[0].detail.contains("project_id"));
}

#[test]
fn every_field_is_required_and_no_other_is_accepted() {
    let good = serde_json::to_value(input(vec![], vec![stored(1, "A", true, NOW, "m")])).unwrap();
    assert!(serde_json::from_value::<Input>(good.clone()).is_ok());
    for field in ["watermark", "pass", "base_latest_version"] {
        let mut missing = good.clone();
        missing.as_object_mut().unwrap().remove(field);
        assert!(serde_json::from_value::<Input>(missing).is_err(), "{field}");
    }
    for field in ["deleted_at", "described_by", "activity_at"] {
        let mut missing = good.clone();
        missing["projects"][0]
            .as_object_mut()
            .unwrap()
            .remove(field);
        assert!(serde_json::from_value::<Input>(missing).is_err(), "{field}");
    }
    let mut row = odoo_row(1, json!("A"), true, "2026-11-26 10:00:00");
    row.as_object_mut().unwrap().remove("is_template");
    let mut missing = good.clone();
    missing["odoo_projects"] = json!([row]);
    assert!(serde_json::from_value::<Input>(missing).is_err());
    let mut extra = good.clone();
    extra["projects"][0]["repo_slug"] = json!("x");
    assert!(serde_json::from_value::<Input>(extra).is_err());
    let mut bad_time = good;
    bad_time["now"] = json!("2026-11-26 12:00:00");
    assert!(serde_json::from_value::<Input>(bad_time).is_err());
}

#[test]
fn the_plan_serializes_for_the_caller() {
    let plan = plan(&one(42, json!("A"), true, "2026-11-26 10:00:00")).unwrap();
    let value = serde_json::to_value(&plan).unwrap();
    assert_eq!(value["summary"]["created"], 1);
    assert_eq!(value["summary"]["skipped"], json!({}));
    assert_eq!(
        value["next"],
        json!({"kind": "done", "watermark": "2026-11-26T10:00:00.000000Z"})
    );
    assert_eq!(
        value["changes"][0]["occurred_at"],
        "2026-11-26T10:00:00.000000Z"
    );
    assert_eq!(
        value["changes"][0]["event"]["event_type"],
        "project_created"
    );
    let mut template = odoo_row(1, json!("T"), true, "2026-11-26 10:00:00");
    template["is_template"] = json!(true);
    let value = serde_json::to_value(plan_of(vec![template])).unwrap();
    assert_eq!(value["summary"]["skipped"], json!({"template": 1}));
    assert_eq!(value["skipped"][0]["reason"], "template");
}

fn plan_of(odoo: Vec<Value>) -> Plan {
    plan(&input(odoo, vec![])).unwrap()
}

#[test]
fn a_page_of_100_000_projects_with_one_percent_drift() {
    // Not a benchmark: a quadratic join would take minutes here, not a second.
    let n = 100_000;
    let mut odoo = Vec::with_capacity(n);
    let mut projects = Vec::with_capacity(n);
    for id in 1..=n as i64 {
        let drifted = id % 100 == 0;
        odoo.push(odoo_row(
            id,
            json!({"en_US": format!("P{id}")}),
            true,
            "2026-11-26 10:00:00",
        ));
        let name = if drifted {
            format!("Old{id}")
        } else {
            format!("P{id}")
        };
        projects.push(stored(id, &name, true, "2026-11-01T00:00:00Z", "msg"));
    }
    // Odoo gives its rows in any order; so may the control plane.
    odoo.reverse();
    let page = input(odoo, projects);
    let started = std::time::Instant::now();
    let plan = plan(&page).unwrap();
    let took = started.elapsed();
    assert_eq!(plan.summary.updated, 1_000);
    assert_eq!(plan.summary.unchanged, 99_000);
    assert!(plan.changes.windows(2).all(|w| {
        let id = |c: &reconcile_plan::Change| project_id_number(&c.change_id);
        id(&w[0]) < id(&w[1])
    }));
    eprintln!("100,000 projects planned in {took:?}");
}

fn project_id_number(change_id: &str) -> i64 {
    change_id.rsplit_once("odoo-").unwrap().1.parse().unwrap()
}

// The read's agreement: what it may leave out, and how what it left out counts.

#[test]
fn the_agreement_is_the_series_of_this_base_version_or_none() {
    let now = at(NOW);
    let agreement = reconcile_plan::agreement("fr_FR", Some("19.0.1.3"), now).unwrap();
    assert_eq!(
        serde_json::to_value(&agreement).unwrap(),
        json!({"language": "fr_FR", "series": "19.0", "base_latest_version": "19.0.1.3",
               "now": "2026-11-26T12:00:00.000000Z"})
    );
    // Without a series every pair goes to the planner, which skips them.
    for base in [None, Some("19.0"), Some("nineteen")] {
        assert_eq!(
            reconcile_plan::agreement("fr_FR", base, now),
            None,
            "{base:?}"
        );
    }
}

#[test]
fn pairs_left_out_count_unchanged_and_in_the_high_water() {
    let page = input(vec![], vec![]);
    let agreed = reconcile_plan::Agreed {
        count: 3,
        latest_write_date: Some("2026-11-26 11:00:00.5".to_owned()),
    };
    let planned = reconcile_plan::plan_with_agreed(&page, &agreed).unwrap();
    assert_eq!(planned.summary.unchanged, 3);
    assert!(planned.changes.is_empty());
    match planned.next {
        Next::Done { watermark } => assert_eq!(watermark, Some(at("2026-11-26T11:00:00.5Z"))),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_first_page_whose_pairs_all_agree_is_not_an_empty_odoo() {
    // Odoo's first page came back with every row agreeing: what the control
    // plane has beyond it is gone from Odoo and marked deleted, as when the
    // rows are read; an empty Odoo would have been refused instead.
    let gone = stored(9, "Gone", true, "2026-11-20T10:00:00Z", "msg_a");
    let page = input(vec![], vec![gone]);
    assert!(types(&plan(&page).unwrap()).is_empty());
    let agreed = reconcile_plan::Agreed {
        count: 1,
        latest_write_date: None,
    };
    let planned = reconcile_plan::plan_with_agreed(&page, &agreed).unwrap();
    assert_eq!(types(&planned), [("odoo-9".to_owned(), "deleted")]);
}

#[test]
fn an_unreadable_latest_write_date_is_refused_by_name() {
    let agreed = reconcile_plan::Agreed {
        count: 1,
        latest_write_date: Some("yesterday".to_owned()),
    };
    let err = reconcile_plan::plan_with_agreed(&input(vec![], vec![]), &agreed).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert!(
        err.to_string().contains("agreed.latest_write_date"),
        "{err}"
    );
}
