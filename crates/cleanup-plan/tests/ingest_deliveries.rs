//! The ingest ledger's retention: rows go once no sender can retry them,
//! archived first; a deferred event waits for its project, whatever its age.

// Test code: a panic is a failing test (clippy.toml allows it in #[test]
// functions; this covers the helpers too).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use cleanup_plan::{
    fetch_bounds, plan, ArchiveTable, Budget, ErrorKind, IngestDelivery, Plan, RetentionPolicy,
    Target, MIN_INGEST_DELIVERIES_RETAIN_DAYS,
};
use common::*;
use proptest::prelude::*;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

const NOW: &str = "2026-11-26T03:00:00Z";

fn ledger_lines(plan: &Plan) -> Vec<IngestDelivery> {
    plan.archives
        .iter()
        .filter(|a| a.table == ArchiveTable::IngestDeliveries)
        .flat_map(|a| {
            let text = gunzip(&a.content);
            assert_eq!(text.lines().count(), a.ids.len());
            text.lines()
                .map(|line| serde_json::from_str(line).unwrap())
                .collect::<Vec<IngestDelivery>>()
        })
        .collect()
}

fn rule(project: Option<&str>, days: Option<u32>) -> RetentionPolicy {
    RetentionPolicy {
        project_id: project.map(str::to_owned),
        target: Target::IngestDeliveries,
        class: None,
        retain_days: days,
    }
}

/// The seed's defaults with the ledger's rule replaced by `days`.
fn with_ledger_rule(days: Option<u32>) -> Vec<RetentionPolicy> {
    let mut policies = RetentionPolicy::seed_defaults();
    policies.retain(|p| p.target != Target::IngestDeliveries);
    policies.push(rule(None, days));
    policies
}

#[test]
fn the_default_keeps_the_ledger_thirty_days() {
    let defaults = RetentionPolicy::seed_defaults();
    let ledger: Vec<_> = defaults
        .iter()
        .filter(|p| p.target == Target::IngestDeliveries)
        .collect();
    assert_eq!(ledger, [&rule(None, Some(30))]);
}

#[test]
fn a_ledger_row_goes_one_microsecond_after_its_retention_and_not_at_it() {
    let now = at(NOW);
    let cutoff = micros(now, -30 * DAY);
    let mut input = input(now);
    input.ingest_deliveries = vec![
        delivery("msg_at_cutoff", "odoo-1", cutoff),
        delivery("msg_past_cutoff", "odoo-1", micros(cutoff, -1)),
        // Inside the window: a sender may still retry it, so it stays.
        delivery("msg_recent", "odoo-2", micros(now, -2 * DAY)),
    ];
    let plan = plan(&input).unwrap();
    assert_eq!(plan.delete.ingest_deliveries, ["msg_past_cutoff"]);
    let summary = plan.summary.ingest_deliveries;
    assert_eq!(
        (
            summary.archived,
            summary.deleted,
            summary.kept,
            summary.deferred
        ),
        (1, 1, 2, 0)
    );
    // Nothing else is touched by a ledger rule.
    assert!(plan.delete.runs.is_empty() && plan.s3_deletes.is_empty());
}

#[test]
fn a_deferred_event_waiting_for_its_project_stays_whatever_its_age() {
    let now = at(NOW);
    let ancient = at("2020-01-01T00:00:00Z");
    let mut input = input(now);
    input.ingest_deliveries = vec![
        deferred("msg_waiting", "odoo-7", ancient, None),
        // Applied once its project came: an ordinary old row now.
        deferred("msg_applied", "odoo-8", ancient, Some(micros(now, -DAY))),
    ];
    // Even under the shortest rule allowed.
    input.policies = with_ledger_rule(Some(MIN_INGEST_DELIVERIES_RETAIN_DAYS));
    let plan = plan(&input).unwrap();
    assert_eq!(plan.delete.ingest_deliveries, ["msg_applied"]);
    assert_eq!(plan.summary.ingest_deliveries.kept, 1);
    let archived: Vec<String> = plan.archives.iter().flat_map(|a| a.ids.clone()).collect();
    assert_eq!(archived, ["msg_applied"]);
}

#[test]
fn the_archive_holds_the_rows_exactly_under_their_month() {
    let now = at(NOW);
    let mut input = input(now);
    let august = at("2026-08-14T09:30:00.123456Z");
    let mut odd = deferred("msg_\"odd\" id/with..slashes", "odoo-3", august, Some(now));
    odd.outcome = json!({"result": "deferred", "big": 9007199254740993u64, "f": 0.1});
    input.ingest_deliveries = vec![
        delivery("msg_b", "odoo-2", august),
        odd.clone(),
        delivery("msg_a", "odoo-1", at("2026-09-01T00:00:00Z")),
    ];
    let plan = plan(&input).unwrap();
    let objects: Vec<_> = plan
        .archives
        .iter()
        .map(|a| (a.key.clone(), a.ids.clone(), a.project_ids.clone()))
        .collect();
    assert_eq!(objects.len(), 2, "one object per month: {objects:?}");
    let august_object = &plan.archives[0];
    assert_eq!(
        august_object.key,
        format!(
            "ingest_deliveries/2026/08/{}.ndjson.gz",
            august_object.sha256_hex
        )
    );
    // Line order is key order, the id compared byte by byte.
    assert_eq!(august_object.ids, ["msg_\"odd\" id/with..slashes", "msg_b"]);
    assert_eq!(august_object.project_ids, ["odoo-2", "odoo-3"]);
    assert!(august_object.run_ids.is_empty());
    assert_eq!(august_object.rows.ingest_deliveries, 2);
    assert_eq!(plan.archives[1].ids, ["msg_a"]);
    let lines = ledger_lines(&plan);
    let by_id: BTreeMap<&str, &IngestDelivery> = input
        .ingest_deliveries
        .iter()
        .map(|d| (d.webhook_id.as_str(), d))
        .collect();
    for line in &lines {
        assert_eq!(line, by_id[line.webhook_id.as_str()]);
    }
    // Numbers keep their exact text.
    let text = gunzip(&august_object.content);
    assert!(text.contains("9007199254740993"), "{text}");
    assert!(text.starts_with("{\"webhook_id\":"), "column order: {text}");
}

#[test]
fn the_budget_stops_the_ledger_and_the_cursor_is_the_last_row_decided() {
    let now = at(NOW);
    let old = micros(now, -100 * DAY);
    let mut input = input(now);
    input.budget = Budget {
        max_rows: 2,
        max_bytes: u64::MAX,
    };
    input.ingest_deliveries = vec![
        delivery("msg_3", "odoo-1", micros(old, 3)),
        deferred("msg_1", "odoo-1", micros(old, 1), None),
        delivery("msg_2", "odoo-1", micros(old, 2)),
        delivery("msg_4", "odoo-1", micros(old, 4)),
        delivery("msg_5", "odoo-1", micros(old, 5)),
    ];
    let plan = plan(&input).unwrap();
    assert_eq!(plan.delete.ingest_deliveries, ["msg_2", "msg_3"]);
    let summary = plan.summary.ingest_deliveries;
    assert_eq!((summary.kept, summary.deferred), (1, 2));
    let cursor = plan.resume_after.ingest_deliveries.unwrap();
    assert_eq!(
        (cursor.received_at, cursor.webhook_id.as_str()),
        (micros(old, 3), "msg_3")
    );
}

#[test]
fn the_ledger_rule_is_global_and_outlasts_every_retry() {
    let now = at(NOW);
    let mut input = input(now);
    input.ingest_deliveries = vec![delivery("msg_1", "odoo-1", micros(now, -400 * DAY))];

    let mut per_project = input.clone();
    per_project.policies.push(rule(Some("odoo-1"), Some(60)));
    let err = plan(&per_project).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Policy);
    assert!(
        err.to_string().contains(".project_id: the ingest ledger"),
        "{err}"
    );

    let mut too_short = input.clone();
    too_short.policies = with_ledger_rule(Some(MIN_INGEST_DELIVERIES_RETAIN_DAYS - 1));
    let err = plan(&too_short).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Policy);
    assert!(err.to_string().contains("must outlast"), "{err}");

    // Forever, or no rule at all: nothing goes.
    for policies in [
        with_ledger_rule(None),
        RetentionPolicy::seed_defaults()
            .into_iter()
            .filter(|p| p.target != Target::IngestDeliveries)
            .collect(),
    ] {
        let mut keep = input.clone();
        keep.policies = policies;
        let plan = plan(&keep).unwrap();
        assert!(plan.delete.ingest_deliveries.is_empty());
        assert!(plan.archives.is_empty());
        assert_eq!(plan.summary.ingest_deliveries.kept, 1);
    }
}

#[test]
fn a_webhook_id_listed_twice_is_refused() {
    let now = at(NOW);
    let mut input = input(now);
    let old = micros(now, -100 * DAY);
    input.ingest_deliveries = vec![
        delivery("msg_1", "odoo-1", old),
        delivery("msg_1", "odoo-1", micros(old, 1)),
    ];
    let err = plan(&input).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Candidate);
    assert!(
        err.to_string()
            .starts_with("ingest_deliveries[1].webhook_id:"),
        "{err}"
    );
}

#[test]
fn a_ledger_row_must_bring_every_column() {
    let row = json!({
        "webhook_id": "msg_1", "body_sha256": "ab", "event_type": "project_created",
        "project_id": "odoo-1", "outcome": {}, "received_at": "2026-01-01T00:00:00Z",
        "occurred_at": null, "deferred_event": null
    });
    let err = serde_json::from_value::<IngestDelivery>(row.clone()).unwrap_err();
    assert!(err.to_string().contains("resolved_at"), "{err}");
    let mut extra = row;
    extra["resolved_at"] = json!(null);
    extra["added_later"] = json!(1);
    let err = serde_json::from_value::<IngestDelivery>(extra).unwrap_err();
    assert!(err.to_string().contains("added_later"), "{err}");
}

#[test]
fn fetch_bounds_cover_the_ledger() {
    let now = at(NOW);
    let bounds = fetch_bounds(&RetentionPolicy::seed_defaults(), now).unwrap();
    assert_eq!(
        bounds.ingest_deliveries_received_before,
        Some(micros(now, -30 * DAY))
    );
    let forever = fetch_bounds(&with_ledger_rule(None), now).unwrap();
    assert_eq!(forever.ingest_deliveries_received_before, None);
}

prop_compose! {
    /// A ledger row up to a year old, of one of three projects: an applied
    /// event, or a deferred one still waiting or applied since.
    fn ledger_row(index: usize)(
        project in 1u8..4,
        age in 0i64..365 * DAY,
        kind in 0u8..3,
        id_tail in "[ -~]{0,12}",
    ) -> IngestDelivery {
        let now = at(NOW);
        let received_at = micros(now, -age);
        let id = format!("msg_{index}_{id_tail}");
        let project = format!("odoo-{project}");
        match kind {
            0 => delivery(&id, &project, received_at),
            1 => deferred(&id, &project, received_at, None),
            _ => deferred(&id, &project, received_at, Some(now)),
        }
    }
}

fn ledger() -> impl Strategy<Value = Vec<IngestDelivery>> {
    (0usize..40).prop_flat_map(|n| (0..n).map(ledger_row).collect::<Vec<_>>())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Whatever the rows, the rule and the budget: exactly the expired rows
    /// that wait for nothing are deleted, each in one archive line equal to
    /// the row; no waiting deferred event is ever touched; every row is
    /// counted once; another order of the same rows gives the same bytes.
    #[test]
    fn only_expired_rows_that_wait_for_nothing_go_and_each_is_archived(
        rows in ledger(),
        days in MIN_INGEST_DELIVERIES_RETAIN_DAYS..400,
        max_rows in 1u64..50,
        seed in any::<u64>(),
    ) {
        let now = at(NOW);
        let mut input = input(now);
        input.policies = with_ledger_rule(Some(days));
        input.budget = Budget { max_rows, max_bytes: u64::MAX };
        input.ingest_deliveries = rows.clone();
        let first = plan(&input).unwrap();

        let cutoff = now.unix_micros() - i64::from(days) * DAY;
        let deleted: BTreeSet<&str> = first.delete.ingest_deliveries.iter().map(String::as_str).collect();
        prop_assert_eq!(deleted.len(), first.delete.ingest_deliveries.len(), "no id deleted twice");
        let mut eligible: Vec<&IngestDelivery> = rows
            .iter()
            .filter(|r| r.received_at.unix_micros() < cutoff && !r.awaits_its_project())
            .collect();
        eligible.sort_by(|a, b| (a.received_at, a.webhook_id.as_bytes()).cmp(&(b.received_at, b.webhook_id.as_bytes())));
        // Oldest first, as far as the budget goes.
        let expected: Vec<&str> = eligible.iter().take(max_rows as usize).map(|r| r.webhook_id.as_str()).collect();
        prop_assert_eq!(first.delete.ingest_deliveries.iter().map(String::as_str).collect::<Vec<_>>(), expected);
        for row in rows.iter().filter(|r| r.awaits_its_project()) {
            prop_assert!(!deleted.contains(row.webhook_id.as_str()));
        }

        let lines = ledger_lines(&first);
        prop_assert_eq!(lines.len(), deleted.len());
        let by_id: BTreeMap<&str, &IngestDelivery> = rows.iter().map(|r| (r.webhook_id.as_str(), r)).collect();
        for line in &lines {
            prop_assert!(deleted.contains(line.webhook_id.as_str()));
            prop_assert_eq!(line, by_id[line.webhook_id.as_str()]);
        }

        let s = first.summary.ingest_deliveries;
        prop_assert_eq!(s.archived, s.deleted);
        prop_assert_eq!(s.archived + s.kept + s.deferred, rows.len() as u64);

        let mut shuffled = rows.clone();
        let len = shuffled.len();
        for i in 0..len {
            let j = (seed as usize).wrapping_mul(i + 7) % len;
            shuffled.swap(i, j);
        }
        input.ingest_deliveries = shuffled;
        let again = plan(&input).unwrap();
        let bytes = |p: &Plan| p.archives.iter().map(|a| (a.key.clone(), a.content.clone())).collect::<Vec<_>>();
        prop_assert_eq!(bytes(&again), bytes(&first));
        prop_assert_eq!(again.resume_after, first.resume_after);
    }
}
