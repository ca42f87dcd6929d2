//! Row builders shared by the integration tests.
#![allow(dead_code)]

use cleanup_plan::{
    Approval, ApprovalStatus, Artifact, ArtifactType, Backup, BackupKind, Budget, EventBatch,
    IngestDelivery, LifecycleConfig, PlanInput, RetentionPolicy, Run, RunCandidate, RunEvent,
    RunStatus, Timestamp,
};
use flate2::read::GzDecoder;
use serde_json::json;
use std::io::Read;

pub const DAY: i64 = 86_400_000_000;

pub fn at(text: &str) -> Timestamp {
    Timestamp::parse(text).unwrap()
}

pub fn micros(ts: Timestamp, delta: i64) -> Timestamp {
    Timestamp::from_unix_micros(ts.unix_micros() + delta).unwrap()
}

pub fn input(now: Timestamp) -> PlanInput {
    PlanInput {
        now,
        policies: RetentionPolicy::seed_defaults(),
        budget: Budget {
            max_rows: u64::MAX,
            max_bytes: u64::MAX,
        },
        lifecycle: LifecycleConfig::default(),
        runs: Vec::new(),
        approvals: Vec::new(),
        artifacts: Vec::new(),
        backups: Vec::new(),
        run_events: EventBatch::default(),
        ingest_deliveries: Vec::new(),
    }
}

pub fn run(
    id: &str,
    project: &str,
    status: RunStatus,
    finished_at: Option<Timestamp>,
) -> RunCandidate {
    let created_at = finished_at.map_or(at("2026-01-01T00:00:00Z"), |f| micros(f, -3_600_000_000));
    RunCandidate {
        run: Run {
            run_id: id.to_owned(),
            project_id: project.to_owned(),
            kind: "deploy".to_owned(),
            environment: Some("prod".to_owned()),
            status,
            git_ref: Some("refs/heads/main".to_owned()),
            commit_sha: Some("0123456789abcdef0123456789abcdef01234567".to_owned()),
            created_by: "dev@example.com".to_owned(),
            metadata: json!({"trigger": "push", "n": 1.5, "nested": {"b": [1, 2], "a": null}}),
            created_at,
            started_at: Some(created_at),
            finished_at,
            updated_at: finished_at.unwrap_or(created_at),
        },
        events: Vec::new(),
    }
}

pub fn finished(id: &str, project: &str, finished_at: Timestamp) -> RunCandidate {
    run(id, project, RunStatus::Success, Some(finished_at))
}

pub fn event(event_id: i64, run: &RunCandidate, created_at: Timestamp) -> RunEvent {
    RunEvent {
        event_id,
        run_id: run.run.run_id.clone(),
        project_id: run.run.project_id.clone(),
        created_at,
        level: "info".to_owned(),
        event_type: "step.finished".to_owned(),
        message: format!("step {event_id} \"quoted\"\nnew line ünïcödé"),
        data: json!({"step": event_id}),
    }
}

pub fn artifact(
    id: &str,
    project: &str,
    kind: ArtifactType,
    path: &str,
    created_at: Timestamp,
) -> Artifact {
    Artifact {
        artifact_id: id.to_owned(),
        project_id: project.to_owned(),
        run_id: Some("run-1".to_owned()),
        artifact_type: kind,
        storage_path: path.to_owned(),
        size_bytes: 1234,
        digest: format!("sha256:{}", "ab".repeat(32)),
        created_at,
    }
}

pub fn backup(id: &str, project: &str, environment: &str, created_at: Timestamp) -> Backup {
    Backup {
        backup_id: id.to_owned(),
        project_id: project.to_owned(),
        run_id: None,
        kind: BackupKind::Daily,
        environment: environment.to_owned(),
        storage_path: format!("s3://odooops-backups/{project}/{environment}/{id}.dump"),
        size_bytes: 42,
        digest: format!("sha256:{}", "cd".repeat(32)),
        created_at,
    }
}

pub fn approval(id: &str, run: &RunCandidate) -> Approval {
    Approval {
        approval_id: id.to_owned(),
        project_id: run.run.project_id.clone(),
        run_id: run.run.run_id.clone(),
        status: ApprovalStatus::Approved,
        requested_by: "dev@example.com".to_owned(),
        requested_at: run.run.created_at,
        request_note: None,
        decided_by: Some("lead@example.com".to_owned()),
        decided_at: Some(run.run.created_at),
        decision_note: Some("ok".to_owned()),
    }
}

/// A ledger row of an applied `project_updated`, received at `received_at`.
pub fn delivery(id: &str, project: &str, received_at: Timestamp) -> IngestDelivery {
    IngestDelivery {
        webhook_id: id.to_owned(),
        body_sha256: "ef".repeat(32),
        event_type: "project_updated".to_owned(),
        project_id: project.to_owned(),
        outcome: json!({"result": "applied", "effect": "updated"}),
        received_at,
        occurred_at: Some(micros(received_at, -1_000_000)),
        deferred_event: None,
        resolved_at: None,
    }
}

/// A ledger row of a `project_archived` that arrived before its project:
/// still waiting for it, or applied at `resolved_at`.
pub fn deferred(
    id: &str,
    project: &str,
    received_at: Timestamp,
    resolved_at: Option<Timestamp>,
) -> IngestDelivery {
    let occurred_at = micros(received_at, -1_000_000);
    IngestDelivery {
        event_type: "project_archived".to_owned(),
        outcome: json!({"result": "deferred"}),
        deferred_event: Some(json!({
            "event_type": "project_archived",
            "project_id": project,
            "occurred_at": occurred_at.to_string(),
        })),
        resolved_at,
        ..delivery(id, project, received_at)
    }
}

pub fn gunzip(bytes: &[u8]) -> String {
    let mut text = String::new();
    GzDecoder::new(bytes).read_to_string(&mut text).unwrap();
    text
}
