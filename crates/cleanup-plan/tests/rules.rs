//! One test per rule of the planner, through the public `plan` call.

// Test code: a panic is a failing test (clippy.toml allows it in #[test]
// functions; this covers the helpers too).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use cleanup_plan::{
    fetch_bounds, plan, ArchiveTable, ArtifactType, Budget, ErrorKind, LifecycleConfig, PlanInput,
    RetentionPolicy, RunCandidate, RunStatus, S3DeleteReason, Target,
};
use common::*;

const NOW: &str = "2026-11-26T03:00:00Z";

fn policy(
    project: Option<&str>,
    target: Target,
    class: Option<&str>,
    days: Option<u32>,
) -> RetentionPolicy {
    RetentionPolicy {
        project_id: project.map(str::to_owned),
        target,
        class: class.map(str::to_owned),
        retain_days: days,
    }
}

/// Every id any part of the plan acts on.
fn touched(plan: &cleanup_plan::Plan) -> Vec<String> {
    let mut ids: Vec<String> = plan.archives.iter().flat_map(|a| a.ids.clone()).collect();
    ids.extend(plan.delete.runs.iter().cloned());
    ids.extend(plan.delete.artifacts.iter().cloned());
    ids.extend(plan.delete.backups.iter().cloned());
    ids.extend(plan.s3_deletes.iter().map(|o| o.row_id.clone()));
    ids
}

#[test]
fn unfinished_runs_are_never_touched_however_old() {
    let now = at(NOW);
    let mut input = input(now);
    let ancient = at("2001-01-01T00:00:00Z");
    let mut queued = run("run-queued", "odoo-1", RunStatus::Queued, None);
    queued.run.created_at = ancient;
    queued.events.push(event(1, &queued, ancient));
    let mut running = run("run-running", "odoo-1", RunStatus::Running, None);
    running.run.created_at = ancient;
    // Rows the database would refuse: a final status without finished_at,
    // and a finished_at on a running run. Neither counts as finished.
    let final_without_time = run("run-odd-1", "odoo-1", RunStatus::Failed, None);
    let time_without_final = run("run-odd-2", "odoo-1", RunStatus::Running, Some(ancient));
    input.runs = vec![queued, running, final_without_time, time_without_final];
    // Even a project that keeps runs for one day.
    input
        .policies
        .push(policy(Some("odoo-1"), Target::Runs, None, Some(1)));

    let plan = plan(&input).unwrap();
    assert!(touched(&plan).is_empty(), "{:?}", touched(&plan));
    assert!(plan.archives.is_empty());
    assert_eq!(plan.summary.runs.kept, 4);
    assert_eq!(plan.summary.run_events.kept, 1);
    assert_eq!(plan.resume_after.runs, None);
}

#[test]
fn a_run_is_archived_one_microsecond_after_its_retention_and_not_at_it() {
    let now = at(NOW);
    let cutoff = micros(now, -90 * DAY);
    let mut input = input(now);
    input.runs = vec![
        finished("run-at-cutoff", "odoo-1", cutoff),
        finished("run-past-cutoff", "odoo-1", micros(cutoff, -1)),
        run(
            "run-failed",
            "odoo-1",
            RunStatus::Failed,
            Some(micros(cutoff, -DAY)),
        ),
        run(
            "run-cancelled",
            "odoo-1",
            RunStatus::Cancelled,
            Some(micros(cutoff, -DAY)),
        ),
    ];
    let plan = plan(&input).unwrap();
    // Key order: (finished_at, run_id).
    assert_eq!(
        plan.delete.runs,
        ["run-cancelled", "run-failed", "run-past-cutoff"]
    );
    assert_eq!(plan.summary.runs.kept, 1);
    assert_eq!(plan.summary.runs.archived, 3);
    assert_eq!(plan.summary.runs.deleted, 3);
}

#[test]
fn project_overrides_decide_a_run_s_retention() {
    let now = at(NOW);
    let mut input = input(now);
    let ten_days_ago = micros(now, -10 * DAY);
    let year_ago = micros(now, -365 * DAY);
    input.runs = vec![
        finished("run-short", "odoo-1", ten_days_ago),
        finished("run-forever", "odoo-2", year_ago),
        finished("run-default", "odoo-3", year_ago),
        finished("run-default-young", "odoo-3", ten_days_ago),
    ];
    input
        .policies
        .push(policy(Some("odoo-1"), Target::Runs, None, Some(7)));
    input
        .policies
        .push(policy(Some("odoo-2"), Target::Runs, None, None));
    let plan = plan(&input).unwrap();
    let mut deleted = plan.delete.runs.clone();
    deleted.sort();
    assert_eq!(deleted, ["run-default", "run-short"]);
    // With no runs rule at all, nothing expires.
    let mut no_rule = input.clone();
    no_rule.policies.retain(|p| p.target != Target::Runs);
    assert!(cleanup_plan::plan(&no_rule).unwrap().delete.runs.is_empty());
}

#[test]
fn runs_that_approvals_refer_to_are_kept_and_approvals_are_never_touched() {
    let now = at(NOW);
    let mut input = input(now);
    let old = micros(now, -400 * DAY);
    let approved = finished("run-approved", "odoo-1", old);
    let other = finished("run-other", "odoo-1", old);
    input.approvals = vec![approval("a1a1a1a1-0000-4000-8000-000000000001", &approved)];
    input.runs = vec![approved, other];
    let plan = plan(&input).unwrap();
    assert_eq!(plan.delete.runs, ["run-other"]);
    assert_eq!(plan.summary.approvals.kept, 1);
    assert_eq!(plan.summary.approvals.deleted, 0);
    assert_eq!(plan.summary.approvals.archived, 0);
    assert!(!touched(&plan).iter().any(|id| id.starts_with("a1a1a1a1")));
    assert!(!plan
        .archives
        .iter()
        .any(|a| gunzip(&a.content).contains("a1a1a1a1")));

    // And no policy can make approvals expire.
    let mut expiring = input.clone();
    expiring.policies.retain(|p| p.target != Target::Approvals);
    expiring
        .policies
        .push(policy(None, Target::Approvals, None, Some(1)));
    let err = cleanup_plan::plan(&expiring).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Policy);
    assert!(err.to_string().contains("approvals are kept forever"));
}

#[test]
fn a_run_line_embeds_all_of_its_events_in_order() {
    let now = at(NOW);
    let mut input = input(now);
    let old = micros(now, -100 * DAY);
    let mut candidate = finished("run-a", "odoo-1", old);
    candidate.events = vec![
        event(3, &candidate, micros(old, -10)),
        event(1, &candidate, micros(old, -30)),
        event(2, &candidate, micros(old, -10)),
    ];
    input.runs = vec![candidate.clone()];
    let plan = plan(&input).unwrap();
    assert_eq!(plan.archives.len(), 1);
    let archive = &plan.archives[0];
    assert_eq!(archive.table, ArchiveTable::Runs);
    assert_eq!((archive.rows.runs, archive.rows.run_events), (1, 3));
    assert_eq!(plan.summary.run_events.archived, 3);
    assert_eq!(plan.summary.run_events.deleted, 3);
    let text = gunzip(&archive.content);
    assert_eq!(text.lines().count(), 1);
    let line: RunCandidate = serde_json::from_str(text.trim_end()).unwrap();
    let ids: Vec<i64> = line.events.iter().map(|e| e.event_id).collect();
    assert_eq!(ids, [1, 2, 3]);
    assert_eq!(line.run, candidate.run);
}

#[test]
fn an_event_filed_under_the_wrong_run_is_refused() {
    let now = at(NOW);
    let mut input = input(now);
    let old = micros(now, -100 * DAY);
    let a = finished("run-a", "odoo-1", old);
    let mut b = finished("run-b", "odoo-1", old);
    b.events.push(event(1, &a, old));
    input.runs = vec![a, b];
    let err = plan(&input).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Candidate);
    assert_eq!(
        err.to_string(),
        "runs[1].events[0].run_id: expected \"run-b\", the run it is filed under, got \"run-a\""
    );
    let mut twice = input.clone();
    twice.runs = vec![
        finished("run-a", "odoo-1", old),
        finished("run-a", "odoo-1", old),
    ];
    assert!(plan(&twice)
        .unwrap_err()
        .to_string()
        .contains("listed twice"));
    let mut slash = input.clone();
    slash.runs = vec![finished("run-a/../b", "odoo-1", old)];
    assert!(plan(&slash)
        .unwrap_err()
        .to_string()
        .contains("part of an object key"));
}

#[test]
fn artifacts_expire_by_type_and_images_never_reach_the_s3_list() {
    let now = at(NOW);
    let mut input = input(now);
    let days_ago = |days: i64| micros(now, -days * DAY);
    let s3 = |name: &str| format!("s3://odooops-artifacts/odoo-1/run-1/{name}");
    input.artifacts = vec![
        artifact(
            "img-old",
            "odoo-1",
            ArtifactType::Image,
            "ghcr.io/org/odoo-ce:v1",
            days_ago(31),
        ),
        artifact(
            "img-young",
            "odoo-1",
            ArtifactType::Image,
            "ghcr.io/org/odoo-ce:v2",
            days_ago(29),
        ),
        artifact(
            "sbom-old",
            "odoo-1",
            ArtifactType::Sbom,
            &s3("sbom.json"),
            days_ago(91),
        ),
        artifact(
            "sbom-young",
            "odoo-1",
            ArtifactType::Sbom,
            &s3("sbom2.json"),
            days_ago(60),
        ),
        artifact(
            "logs-old",
            "odoo-1",
            ArtifactType::Logs,
            &s3("build.log.gz"),
            days_ago(31),
        ),
        artifact(
            "manifest-mid",
            "odoo-1",
            ArtifactType::Manifest,
            &s3("m.yaml"),
            days_ago(60),
        ),
        artifact(
            "evidence-mid",
            "odoo-1",
            ArtifactType::Evidence,
            &s3("e.json"),
            days_ago(200),
        ),
        artifact(
            "evidence-old",
            "odoo-1",
            ArtifactType::Evidence,
            &s3("e2.json"),
            days_ago(366),
        ),
    ];
    // The young image has another digest: the old one is not in use.
    input.artifacts[1].digest = format!("sha256:{}", "ef".repeat(32));
    let plan = plan(&input).unwrap();
    let mut deleted = plan.delete.artifacts.clone();
    deleted.sort();
    assert_eq!(deleted, ["evidence-old", "img-old", "logs-old", "sbom-old"]);
    assert_eq!(plan.summary.artifacts.kept, 4);
    let uris: Vec<&str> = plan.s3_deletes.iter().map(|o| o.uri.as_str()).collect();
    assert_eq!(uris.len(), 3);
    assert!(uris
        .iter()
        .all(|uri| uri.starts_with("s3://odooops-artifacts/")));
    assert!(plan
        .s3_deletes
        .iter()
        .all(|o| o.reason == S3DeleteReason::ArtifactBlob));
    assert_eq!(plan.s3_deletes[0].bucket, "odooops-artifacts");
    assert!(!plan.s3_deletes.iter().any(|o| o.uri.contains("ghcr.io")));
    assert_eq!(plan.registry_deletes.len(), 1);
    assert_eq!(plan.registry_deletes[0].repository, "ghcr.io/org/odoo-ce");
    assert_eq!(
        plan.registry_deletes[0].digest,
        format!("sha256:{}", "ab".repeat(32))
    );
    // Every deleted artifact row is in an archive.
    let archived: Vec<&String> = plan
        .archives
        .iter()
        .filter(|a| a.table == ArchiveTable::Artifacts)
        .flat_map(|a| &a.ids)
        .collect();
    assert_eq!(archived.len(), 4);
}

#[test]
fn a_blob_or_image_still_referenced_by_a_kept_row_is_not_deleted() {
    let now = at(NOW);
    let mut input = input(now);
    let shared = "s3://odooops-artifacts/odoo-1/shared/sbom.json";
    input.artifacts = vec![
        artifact(
            "old",
            "odoo-1",
            ArtifactType::Sbom,
            shared,
            micros(now, -100 * DAY),
        ),
        artifact(
            "young",
            "odoo-1",
            ArtifactType::Sbom,
            shared,
            micros(now, -10 * DAY),
        ),
        artifact(
            "img-old",
            "odoo-1",
            ArtifactType::Image,
            "ghcr.io/org/x:v1",
            micros(now, -100 * DAY),
        ),
        artifact(
            "img-retagged",
            "odoo-1",
            ArtifactType::Image,
            "ghcr.io/org/x:prod",
            micros(now, -DAY),
        ),
    ];
    let plan = plan(&input).unwrap();
    assert_eq!(plan.delete.artifacts, ["img-old", "old"]);
    assert!(plan.s3_deletes.is_empty());
    assert!(plan.registry_deletes.is_empty());
}

#[test]
fn a_non_image_artifact_outside_s3_or_an_image_in_s3_is_refused() {
    let now = at(NOW);
    let mut input = input(now);
    input.artifacts = vec![artifact(
        "a",
        "odoo-1",
        ArtifactType::Logs,
        "ghcr.io/org/x:v1",
        now,
    )];
    let err = plan(&input).unwrap_err();
    assert_eq!(
        err.to_string(),
        "artifacts[0].storage_path: expected an s3://<bucket>/<key> URI for a logs artifact, got \"ghcr.io/org/x:v1\""
    );
    input.artifacts = vec![artifact(
        "a",
        "odoo-1",
        ArtifactType::Image,
        "s3://b/x.tar",
        now,
    )];
    assert!(plan(&input)
        .unwrap_err()
        .to_string()
        .contains("expected an image reference"));
}

#[test]
fn pruned_backups_are_archived_and_their_dumps_deleted() {
    let now = at("2026-03-01T12:00:00Z");
    let mut input = input(now);
    input.lifecycle = LifecycleConfig {
        backup_locations: vec!["s3://odooops-backups/dumps/".to_owned()],
    };
    // Two backups a day for 400 days, in prod; one in staging.
    for day in 0..400 {
        for (hour, suffix) in [(1, "a"), (13, "b")] {
            let created = micros(now, -day * DAY - hour * 3_600_000_000);
            input.backups.push(backup(
                &format!("p{day}{suffix}"),
                "odoo-1",
                "prod",
                created,
            ));
        }
    }
    input
        .backups
        .push(backup("s0", "odoo-1", "staging", micros(now, -500 * DAY)));
    let plan = plan(&input).unwrap();
    let kept = input.backups.len() as u64 - plan.delete.backups.len() as u64;
    assert_eq!(plan.summary.backups.kept, kept);
    // Daily for 30 days (31 days touch the window), weekly and monthly beyond;
    // the lone staging backup is its series' newest and stays.
    assert!(plan.delete.backups.iter().all(|id| id.starts_with('p')));
    assert!((31 + 8 + 9..=31 + 12 + 14).contains(&kept), "kept {kept}");
    assert_eq!(plan.s3_deletes.len(), plan.delete.backups.len());
    assert!(plan
        .s3_deletes
        .iter()
        .all(|o| o.reason == S3DeleteReason::BackupDump));
    let archived: usize = plan
        .archives
        .iter()
        .filter(|a| a.table == ArchiveTable::Backups)
        .map(|a| a.ids.len())
        .sum();
    assert_eq!(archived, plan.delete.backups.len());
    // Pruned oldest first.
    assert_eq!(plan.delete.backups[0], "p399b");
    assert_eq!(plan.lifecycle_rules.len(), 1);
    let rule = &plan.lifecycle_rules[0];
    assert_eq!(
        (
            rule.bucket.as_str(),
            rule.prefix.as_str(),
            rule.transition_after_days,
            rule.storage_class.as_str()
        ),
        ("odooops-backups", "dumps/", 90, "GLACIER_IR")
    );
}

#[test]
fn lifecycle_rules_only_when_the_monthly_window_outlasts_the_glacier_minimum() {
    let now = at(NOW);
    let mut input = input(now);
    input.lifecycle.backup_locations = vec!["s3://b".to_owned(), "s3://c/x".to_owned()];
    let rules = plan(&input).unwrap().lifecycle_rules;
    assert_eq!(rules.len(), 2);
    assert_eq!(
        (rules[0].bucket.as_str(), rules[0].prefix.as_str()),
        ("b", "")
    );
    assert_ne!(rules[0].id, rules[1].id);
    input
        .policies
        .retain(|p| p.class.as_deref() != Some("monthly"));
    input
        .policies
        .push(policy(None, Target::Backups, Some("monthly"), Some(120)));
    assert!(plan(&input).unwrap().lifecycle_rules.is_empty());
    input.lifecycle.backup_locations = vec!["https://b/x".to_owned()];
    assert_eq!(plan(&input).unwrap_err().kind(), ErrorKind::Config);
}

#[test]
fn partitions_drop_only_whole_months_past_thirty_days_and_only_when_all_archived() {
    let names: Vec<String> = [
        "run_events_p202601",
        "run_events_p202602",
        "run_events_p202603",
        "run_events_default",
    ]
    .map(str::to_owned)
    .to_vec();
    // 2026-03-31T00:00Z minus 30 days is 2026-03-01T00:00Z: February has
    // just become wholly older than 30 days.
    let mut input = input(at("2026-03-31T00:00:00Z"));
    input.run_events.partitions = names.clone();
    input.run_events.complete = true;
    let plan = plan(&input).unwrap();
    let partitions = &plan.run_event_partitions;
    assert_eq!(partitions.drop_before, Some(at("2026-03-01T00:00:00Z")));
    assert_eq!(
        partitions.expired,
        ["run_events_p202601", "run_events_p202602"]
    );
    assert!(partitions.drop_now);

    // One microsecond earlier, February still has events younger than 30 days.
    let mut earlier = input.clone();
    earlier.now = at("2026-03-30T23:59:59.999999Z");
    let partitions = cleanup_plan::plan(&earlier).unwrap().run_event_partitions;
    assert_eq!(partitions.drop_before, Some(at("2026-02-01T00:00:00Z")));
    assert_eq!(partitions.expired, ["run_events_p202601"]);

    // Events are archived per month; the drop waits for the last of them.
    let owner = finished("run-a", "odoo-1", at("2026-01-01T00:00:00Z"));
    input.run_events.events = vec![
        event(7, &owner, at("2026-02-28T23:59:59.999999Z")),
        event(5, &owner, at("2026-01-31T23:00:00Z")),
        event(6, &owner, at("2026-02-01T00:00:00Z")),
    ];
    input.run_events.complete = false;
    let plan = cleanup_plan::plan(&input).unwrap();
    assert!(!plan.run_event_partitions.drop_now);
    let keys: Vec<&str> = plan.archives.iter().map(|a| a.key.as_str()).collect();
    assert_eq!(keys.len(), 2);
    assert!(keys[0].starts_with("run_events/2026/01/"));
    assert!(keys[1].starts_with("run_events/2026/02/"));
    assert_eq!(plan.archives[0].ids, ["5"]);
    assert_eq!(plan.archives[1].ids, ["6", "7"]);
    assert_eq!(plan.summary.run_events.archived, 3);
    // Archived events are deleted by the batch's commit; their months wait.
    assert_eq!(plan.summary.run_events.deleted, 3);
    let cursor = plan.resume_after.run_events.clone().unwrap();
    assert_eq!(
        (cursor.event_id, cursor.created_at),
        (7, at("2026-02-28T23:59:59.999999Z"))
    );

    input.run_events.complete = true;
    input.budget = Budget {
        max_rows: 2,
        max_bytes: u64::MAX,
    };
    let plan = cleanup_plan::plan(&input).unwrap();
    assert!(!plan.run_event_partitions.drop_now, "one event did not fit");
    assert_eq!(plan.summary.run_events.deferred, 1);
    assert_eq!(plan.resume_after.run_events.unwrap().event_id, 6);

    // An event at or after the cut-off is an executor bug, not a candidate.
    input
        .run_events
        .events
        .push(event(8, &owner, at("2026-03-01T00:00:00Z")));
    let err = cleanup_plan::plan(&input).unwrap_err();
    assert!(err.to_string().starts_with(
        "run_events.events[3].created_at: 2026-03-01T00:00:00.000000Z is not before the cut-off"
    ));
}

#[test]
fn the_budget_defers_in_key_order_and_the_cursor_resumes() {
    let now = at(NOW);
    let mut all = input(now);
    let base = micros(now, -200 * DAY);
    for i in 0..10 {
        let mut candidate = finished(&format!("run-{i:02}"), "odoo-1", micros(base, i * 1_000));
        candidate.events = (0..2)
            .map(|k| event(i * 10 + k, &candidate, base))
            .collect();
        all.runs.push(candidate);
    }
    // A young run in the middle of the key order is decided (kept) too.
    all.runs
        .push(finished("run-young", "odoo-1", micros(now, -DAY)));
    let mut input = all.clone();
    input.budget = Budget {
        max_rows: 10,
        max_bytes: u64::MAX,
    };
    let first = plan(&input).unwrap();
    // Three rows per run: three runs fit in ten rows.
    assert_eq!(first.delete.runs, ["run-00", "run-01", "run-02"]);
    assert_eq!(first.summary.runs.deferred, 8);
    let cursor = first.resume_after.runs.clone().unwrap();
    assert_eq!(cursor.run_id, "run-02");

    // The executor reads after the cursor; the rows it deleted are gone.
    input.runs.retain(|c| {
        (c.run.finished_at.unwrap(), &c.run.run_id) > (cursor.finished_at, &cursor.run_id)
    });
    let second = plan(&input).unwrap();
    assert_eq!(second.delete.runs, ["run-03", "run-04", "run-05"]);

    // A run alone bigger than the whole budget still goes, alone.
    input.budget = Budget {
        max_rows: 1,
        max_bytes: 1,
    };
    let third = plan(&input).unwrap();
    assert_eq!(third.delete.runs, ["run-03"]);

    input.budget.max_rows = 0;
    assert_eq!(plan(&input).unwrap_err().kind(), ErrorKind::Budget);

    // With room for everything, the young run is kept and the cursor passes it.
    let everything = plan(&all).unwrap();
    assert_eq!(everything.delete.runs.len(), 10);
    assert_eq!(everything.summary.runs.kept, 1);
    assert_eq!(everything.resume_after.runs.unwrap().run_id, "run-young");
}

#[test]
fn the_byte_budget_counts_uncompressed_lines() {
    let now = at(NOW);
    let mut input = input(now);
    let old = micros(now, -100 * DAY);
    input.runs = (0..5)
        .map(|i| finished(&format!("run-{i}"), "odoo-1", micros(old, i)))
        .collect();
    let one = plan(&input).unwrap().archives[0].ndjson_bytes / 5;
    input.budget = Budget {
        max_rows: u64::MAX,
        max_bytes: one * 2 + one / 2,
    };
    let plan = plan(&input).unwrap();
    assert_eq!(plan.delete.runs.len(), 2);
    assert!(plan.archives[0].ndjson_bytes <= input.budget.max_bytes);
}

#[test]
fn objects_are_split_by_month_with_readable_keys() {
    let now = at(NOW);
    let mut input = input(now);
    input.runs = vec![
        finished("run-b", "odoo-2", at("2026-07-31T23:59:59.999999Z")),
        finished("run-a", "odoo-1", at("2026-07-15T00:00:00Z")),
        finished("run-c", "odoo-1", at("2026-08-01T00:00:00Z")),
        finished("run-d", "odoo-1", at("2026-07-01T00:00:00Z")),
    ];
    let plan = plan(&input).unwrap();
    let keys: Vec<&str> = plan.archives.iter().map(|a| a.key.as_str()).collect();
    assert_eq!(keys.len(), 2);
    assert!(keys[0].starts_with("runs/2026/07/"), "{}", keys[0]);
    assert!(keys[1].starts_with("runs/2026/08/"), "{}", keys[1]);
    assert_eq!(plan.archives[0].ids, ["run-d", "run-a", "run-b"]);
    assert_eq!(plan.archives[1].ids, ["run-c"]);
    for archive in &plan.archives {
        assert!(archive
            .key
            .ends_with(&format!("/{}.ndjson.gz", archive.sha256_hex)));
        assert_eq!(
            archive.sha256_hex,
            cleanup_plan::sha256_hex(&archive.content)
        );
        assert_eq!(archive.size_bytes, archive.content.len() as u64);
    }
    assert_eq!(plan.archives[0].ids, ["run-d", "run-a", "run-b"]);
    assert_eq!(plan.archives[0].month, "2026-07");
    assert_eq!(plan.archives[0].project_ids, ["odoo-1", "odoo-2"]);
    assert_eq!(plan.archives[1].project_ids, ["odoo-1"]);
}

#[test]
fn input_order_does_not_change_the_plan() {
    let now = at(NOW);
    let mut input = input(now);
    for i in 0..20 {
        let mut candidate = finished(
            &format!("run-{i}"),
            &format!("odoo-{}", i % 3 + 1),
            micros(now, -(100 + i) * DAY),
        );
        candidate.events = (0..3)
            .map(|k| event(i * 10 + k, &candidate, micros(now, -(100 + i) * DAY + k)))
            .collect();
        input.runs.push(candidate);
        input.backups.push(backup(
            &format!("b{i}"),
            "odoo-1",
            "prod",
            micros(now, -i * 7 * DAY),
        ));
        input.artifacts.push(artifact(
            &format!("a{i}"),
            "odoo-1",
            ArtifactType::Logs,
            &format!("s3://x/{i}"),
            micros(now, -i * 5 * DAY),
        ));
    }
    let forward = plan(&input).unwrap();
    let mut reversed = input.clone();
    reversed.runs.reverse();
    reversed.backups.reverse();
    reversed.artifacts.reverse();
    for candidate in &mut reversed.runs {
        candidate.events.reverse();
    }
    assert_eq!(plan(&reversed).unwrap(), forward);
}

#[test]
fn rows_are_taken_whole_from_json() {
    let now = at(NOW);
    let candidate = finished("run-a", "odoo-1", micros(now, -100 * DAY));
    let mut value = serde_json::to_value(&candidate).unwrap();
    // A column the database layer forgot to select.
    value["run"].as_object_mut().unwrap().remove("git_ref");
    let err = serde_json::from_value::<RunCandidate>(value.clone()).unwrap_err();
    assert!(err.to_string().contains("missing field `git_ref`"), "{err}");
    // A column a later migration added.
    value["run"]["git_ref"] = serde_json::Value::Null;
    value["run"]["priority"] = serde_json::json!(3);
    let err = serde_json::from_value::<RunCandidate>(value).unwrap_err();
    assert!(
        err.to_string().contains("unknown field `priority`"),
        "{err}"
    );

    let err = serde_json::from_value::<PlanInput>(serde_json::json!({
        "now": "2026-11-26T03:00:00.0000001Z",
        "policies": [],
    }))
    .unwrap_err();
    assert!(
        err.to_string().contains("more precise than a microsecond"),
        "{err}"
    );
}

#[test]
fn fetch_bounds_are_the_shortest_rules() {
    let now = at(NOW);
    let mut policies = RetentionPolicy::seed_defaults();
    let bounds = fetch_bounds(&policies, now).unwrap();
    assert_eq!(bounds.runs_finished_before, Some(micros(now, -90 * DAY)));
    assert_eq!(
        bounds.artifacts_created_before,
        Some(micros(now, -30 * DAY))
    );
    assert_eq!(bounds.run_events_before, Some(at("2026-10-01T00:00:00Z")));
    policies.push(policy(Some("odoo-9"), Target::Runs, None, Some(3)));
    let bounds = fetch_bounds(&policies, now).unwrap();
    assert_eq!(bounds.runs_finished_before, Some(micros(now, -3 * DAY)));
    policies.retain(|p| p.target != Target::RunEvents);
    assert_eq!(
        fetch_bounds(&policies, now).unwrap().run_events_before,
        None
    );
}

#[test]
fn events_of_a_run_archived_in_the_same_plan_are_not_archived_twice() {
    // Now 2026-11-26: runs finished before 2026-08-28 go (90 days), events
    // before 2026-10-01 go (whole months older than 30 days).
    let mut input = input(at("2026-11-26T03:00:00Z"));
    let mut gone = finished("run-gone", "odoo-1", at("2026-05-01T00:00:00Z"));
    let kept = finished("run-kept", "odoo-1", at("2026-10-20T00:00:00Z"));
    let gone_event = event(1, &gone, at("2026-04-30T23:00:00Z"));
    let kept_event = event(2, &kept, at("2026-09-15T00:00:00Z"));
    gone.events = vec![gone_event.clone()];
    input.runs = vec![gone, kept];
    input.run_events.partitions = vec!["run_events_p202604".into(), "run_events_p202609".into()];
    input.run_events.events = vec![gone_event, kept_event];
    input.run_events.complete = true;
    let plan = plan(&input).unwrap();
    assert_eq!(plan.delete.runs, ["run-gone"]);
    let event_ids: Vec<&str> = plan
        .archives
        .iter()
        .filter(|a| a.table == cleanup_plan::ArchiveTable::RunEvents)
        .flat_map(|a| a.ids.iter().map(String::as_str))
        .collect();
    assert_eq!(
        event_ids,
        ["2"],
        "only the kept run's event is archived for its month"
    );
    let run_line = plan
        .archives
        .iter()
        .find(|a| a.table == cleanup_plan::ArchiveTable::Runs)
        .map(|a| common::gunzip(&a.content))
        .unwrap();
    assert!(run_line.contains("\"event_id\":1"), "{run_line}");
    assert!(plan.run_event_partitions.drop_now);
    assert_eq!(plan.summary.run_events.archived, 2);
    // Each object names the runs it holds rows of, so a restore of the kept
    // run, once it goes too, finds its month-archived event.
    let run_ids = |table| -> Vec<Vec<String>> {
        plan.archives
            .iter()
            .filter(|a| a.table == table)
            .map(|a| a.run_ids.clone())
            .collect()
    };
    assert_eq!(run_ids(cleanup_plan::ArchiveTable::Runs), [["run-gone"]]);
    assert_eq!(
        run_ids(cleanup_plan::ArchiveTable::RunEvents),
        [["run-kept"]]
    );
}
