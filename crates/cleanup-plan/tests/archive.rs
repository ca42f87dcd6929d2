//! Archive objects: the same input gives the same bytes and digest, and the
//! bytes decompress to NDJSON that reads back as exactly the input rows.

// Test code: a panic is a failing test (clippy.toml allows it in #[test]
// functions; this covers the helpers too).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use cleanup_plan::{
    plan, sha256_hex, ArchiveTable, Artifact, ArtifactType, Backup, Plan, PlanInput, RunCandidate,
    RunEvent, RunStatus, Timestamp,
};
use common::*;
use proptest::prelude::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;

const NOW: &str = "2026-11-26T03:00:00Z";

fn lines_of<T: serde::de::DeserializeOwned>(plan: &Plan, table: ArchiveTable) -> Vec<T> {
    plan.archives
        .iter()
        .filter(|a| a.table == table)
        .flat_map(|a| {
            let text = gunzip(&a.content);
            assert!(text.ends_with('\n'));
            assert_eq!(text.lines().count(), a.ids.len());
            text.lines()
                .map(|line| serde_json::from_str(line).unwrap())
                .collect::<Vec<T>>()
        })
        .collect()
}

fn sorted_events(mut candidate: RunCandidate) -> RunCandidate {
    candidate.events.sort_by_key(|e| (e.created_at, e.event_id));
    candidate
}

/// Every archive object of every table, by key.
fn objects(plan: &Plan) -> BTreeMap<String, (String, Vec<u8>)> {
    plan.archives
        .iter()
        .map(|a| (a.key.clone(), (a.sha256_hex.clone(), a.content.clone())))
        .collect()
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        proptest::num::f64::NORMAL.prop_map(|f| json!(f)),
        "\\PC{0,12}".prop_map(Value::String),
        "[\"\\\\\n\t\u{0}\u{7f}é😀]{0,6}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,6}", inner, 0..4)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

fn json_object() -> impl Strategy<Value = Value> {
    prop::collection::btree_map("[a-z_]{1,6}", json_value(), 0..4)
        .prop_map(|map| Value::Object(map.into_iter().collect()))
}

prop_compose! {
    /// A finished run of one of three projects, up to a year before NOW, with
    /// up to four events; `index` keeps ids unique.
    fn candidate(index: usize)(
        project in 1u8..4,
        age_micros in 0i64..365 * DAY,
        status in prop_oneof![Just(RunStatus::Success), Just(RunStatus::Failed), Just(RunStatus::Cancelled)],
        metadata in json_object(),
        git_ref in proptest::option::of("[a-z/._-]{1,20}"),
        events in prop::collection::vec((0i64..DAY, "\\PC{0,40}", json_object()), 0..4),
    ) -> RunCandidate {
        let finished_at = micros(at(NOW), -age_micros);
        let mut c = run(&format!("run-{index}"), &format!("odoo-{project}"), status, Some(finished_at));
        c.run.metadata = metadata;
        c.run.git_ref = git_ref;
        c.events = events
            .into_iter()
            .enumerate()
            .map(|(k, (offset, message, data))| RunEvent {
                message,
                data,
                ..event((index * 10 + k) as i64, &c, micros(finished_at, -offset))
            })
            .collect();
        c
    }
}

fn candidates() -> impl Strategy<Value = Vec<RunCandidate>> {
    (0usize..25).prop_flat_map(|n| (0..n).map(candidate).collect::<Vec<_>>())
}

fn input_with(runs: Vec<RunCandidate>) -> PlanInput {
    let mut input = input(at(NOW));
    input.runs = runs;
    input
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn same_runs_same_bytes_and_the_archive_reads_back_as_the_rows(runs in candidates(), seed in any::<u64>()) {
        let input = input_with(runs.clone());
        let first = plan(&input).unwrap();
        let second = plan(&input).unwrap();
        prop_assert_eq!(objects(&first), objects(&second));

        // Another order of the same rows (as a query without ORDER BY may
        // return them) gives the same objects too.
        let mut shuffled = runs.clone();
        let len = shuffled.len();
        for i in 0..len {
            let j = (seed as usize).wrapping_mul(i + 7) % len;
            shuffled.swap(i, j);
        }
        for c in &mut shuffled {
            c.events.reverse();
        }
        prop_assert_eq!(objects(&plan(&input_with(shuffled)).unwrap()), objects(&first));

        for archive in &first.archives {
            prop_assert_eq!(&archive.sha256_hex, &sha256_hex(&archive.content));
        }
        let archived: Vec<RunCandidate> = lines_of(&first, ArchiveTable::Runs);
        let by_id: BTreeMap<&str, &RunCandidate> = runs.iter().map(|c| (c.run.run_id.as_str(), c)).collect();
        prop_assert_eq!(archived.len(), first.delete.runs.len());
        for line in &archived {
            let original = sorted_events((*by_id[line.run.run_id.as_str()]).clone());
            prop_assert_eq!(line, &original);
        }
        let mut archived_ids: Vec<&str> = archived.iter().map(|c| c.run.run_id.as_str()).collect();
        let mut deleted: Vec<&str> = first.delete.runs.iter().map(String::as_str).collect();
        archived_ids.sort_unstable();
        deleted.sort_unstable();
        prop_assert_eq!(archived_ids, deleted);
    }
}

#[test]
fn artifact_backup_and_event_archives_read_back_as_the_rows() {
    let now = at(NOW);
    let mut input = input(now);
    let owner = finished("run-x", "odoo-1", at("2026-01-01T00:00:00Z"));
    input.artifacts = (0..6)
        .map(|i| {
            let mut a = artifact(
                &format!("a{i}"),
                "odoo-1",
                ArtifactType::Sbom,
                &format!("s3://odooops-artifacts/odoo-1/{i}/sbom.json"),
                micros(now, -(91 + i) * DAY),
            );
            a.run_id = (i % 2 == 0).then(|| "run-x".to_owned());
            a
        })
        .collect();
    input.backups = (0..40)
        .map(|i| {
            backup(
                &format!("b{i:02}"),
                "odoo-2",
                "prod",
                micros(now, -i * 3 * DAY - i),
            )
        })
        .collect();
    input.run_events.partitions = vec!["run_events_p202609".to_owned()];
    input.run_events.events = (0..5)
        .map(|i| {
            event(
                100 + i,
                &owner,
                micros(at("2026-09-30T00:00:00Z"), i * 1_000_001),
            )
        })
        .collect();
    input.run_events.complete = true;

    let first = plan(&input).unwrap();
    assert_eq!(objects(&first), objects(&plan(&input).unwrap()));

    let artifacts: Vec<Artifact> = lines_of(&first, ArchiveTable::Artifacts);
    let mut expected = input.artifacts.clone();
    expected.sort_by(|a, b| (a.created_at, &a.artifact_id).cmp(&(b.created_at, &b.artifact_id)));
    assert_eq!(artifacts, expected);

    let backups: Vec<Backup> = lines_of(&first, ArchiveTable::Backups);
    assert!(!backups.is_empty());
    for line in &backups {
        assert!(input.backups.contains(line));
        assert!(first.delete.backups.contains(&line.backup_id));
    }
    assert_eq!(backups.len(), first.delete.backups.len());

    let events: Vec<RunEvent> = lines_of(&first, ArchiveTable::RunEvents);
    assert_eq!(events, input.run_events.events);
    assert!(first.run_event_partitions.drop_now);
    assert_eq!(first.run_event_partitions.expired, ["run_events_p202609"]);
}

#[test]
fn a_known_batch_has_a_known_digest() {
    // Pins the whole encoding (JSON layout, timestamp format, gzip header,
    // level and deflate implementation). If this changes, every rerun after
    // an upgrade writes new keys instead of finding its old objects: harmless
    // (nothing is overwritten), but it should be a decision, not an accident.
    let mut candidate = finished("run-1", "odoo-1", at("2026-01-15T12:00:00.5Z"));
    candidate
        .events
        .push(event(1, &candidate, at("2026-01-15T11:59:00Z")));
    let input = input_with(vec![candidate]);
    let plan = plan(&input).unwrap();
    let text = gunzip(&plan.archives[0].content);
    assert_eq!(
        text,
        concat!(
            r#"{"run":{"run_id":"run-1","project_id":"odoo-1","kind":"deploy","environment":"prod","#,
            r#""status":"success","git_ref":"refs/heads/main","commit_sha":"0123456789abcdef0123456789abcdef01234567","#,
            r#""created_by":"dev@example.com","metadata":{"n":1.5,"nested":{"a":null,"b":[1,2]},"trigger":"push"},"#,
            r#""created_at":"2026-01-15T11:00:00.500000Z","started_at":"2026-01-15T11:00:00.500000Z","#,
            r#""finished_at":"2026-01-15T12:00:00.500000Z","updated_at":"2026-01-15T12:00:00.500000Z"},"#,
            r#""events":[{"event_id":1,"run_id":"run-1","project_id":"odoo-1","created_at":"2026-01-15T11:59:00.000000Z","#,
            r#""level":"info","event_type":"step.finished","message":"step 1 \"quoted\"\nnew line ünïcödé","#,
            r#""data":{"step":1}}]}"#,
            "\n"
        )
    );
    let digest = plan.archives[0].sha256_hex.clone();
    assert_eq!(
        plan.archives[0].key,
        format!("runs/2026/01/{digest}.ndjson.gz")
    );
    assert_eq!(digest, EXPECTED_DIGEST, "the archive encoding changed");
}

const EXPECTED_DIGEST: &str = "d3b4d266e77fe44ddd8481571419f6069d90e16b4778560b27650f28fb8288c3";

#[test]
fn floats_in_metadata_restore_to_the_same_number() {
    // Found by the property test: serde_json's default float parser can be
    // one ulp off; the crate turns on `float_roundtrip`.
    let mut candidate = finished("run-1", "odoo-1", at("2026-01-15T12:00:00Z"));
    candidate.run.metadata = json!({"d": 1.7448978656491663e78, "tiny": 1.2541342544490694e-77});
    let plan = plan(&input_with(vec![candidate.clone()])).unwrap();
    let lines: Vec<RunCandidate> = lines_of(&plan, ArchiveTable::Runs);
    assert_eq!(lines, [candidate]);
}

#[test]
fn timestamps_on_the_wire_are_utc_whatever_came_in() {
    let ts: Timestamp = serde_json::from_value(json!("2026-03-01T01:00:00+02:00")).unwrap();
    assert_eq!(
        serde_json::to_value(ts).unwrap(),
        json!("2026-02-28T23:00:00.000000Z")
    );
}
