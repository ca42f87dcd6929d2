//! Retention policies: the rows of `ops.retention_policies`, checked, and
//! resolved to the rule that applies to one project's rows.

use crate::error::{Error, ErrorKind};
use crate::rows::{nullable, ArtifactType, BackupKind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The longest retention the schema allows (`ops.is_valid_retention`).
pub const MAX_RETAIN_DAYS: u32 = 3650;

/// The shortest retention the schema allows for the ingest ledger
/// (`ops.is_valid_retention`): a week. A ledger row that goes while its
/// sender may still retry turns the retry into a second delivery, so the
/// rule must outlast every Standard Webhooks retry schedule: Svix's ends
/// about 28 hours after the first attempt, Stripe's after 3 days.
pub const MIN_INGEST_DELIVERIES_RETAIN_DAYS: u32 = 7;

/// What a policy row is about: `ops.retention_policies.target`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// `ops.runs`; days count from `finished_at`.
    Runs,
    /// `ops.run_events`; one rule for all projects, applied a month at a time.
    RunEvents,
    /// `ops.artifacts`, per artifact type; days count from `created_at`.
    Artifacts,
    /// `ops.backups`, per tier (`daily`, `weekly`, `monthly`): the
    /// keep-within windows of the grandfather-father-son rule.
    Backups,
    /// `ops.approvals`: kept forever, always.
    Approvals,
    /// `ops.ingest_deliveries`, the idempotency ledger of `ops-ingest`; one
    /// rule for all projects, at least [`MIN_INGEST_DELIVERIES_RETAIN_DAYS`];
    /// days count from `received_at`. A deferred event not applied yet is
    /// kept whatever its age.
    IngestDeliveries,
}

impl Target {
    fn as_str(self) -> &'static str {
        match self {
            Target::Runs => "runs",
            Target::RunEvents => "run_events",
            Target::Artifacts => "artifacts",
            Target::Backups => "backups",
            Target::Approvals => "approvals",
            Target::IngestDeliveries => "ingest_deliveries",
        }
    }
}

/// A row of `ops.retention_policies` (other columns, like `policy_id`, may
/// be present and are ignored). The nullable columns must be present: a
/// missing `project_id` would silently turn a project's override into
/// everyone's default.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionPolicy {
    /// The project the rule is for, or null for every project's default.
    #[serde(deserialize_with = "nullable")]
    pub project_id: Option<String>,
    /// The table.
    pub target: Target,
    /// An artifact type or backup tier, or null for the whole target.
    #[serde(deserialize_with = "nullable")]
    pub class: Option<String>,
    /// Days kept, 1 to 3650 (ingest deliveries: 7 to 3650); null keeps forever.
    #[serde(deserialize_with = "nullable")]
    pub retain_days: Option<u32>,
}

impl RetentionPolicy {
    /// The defaults that `20261126000500_ops_retention.sql` inserts, row for
    /// row: runs 90 days; run events 30; artifacts: images 30, SBOMs 90, logs
    /// 30 (they extend the run events), manifests 90 (like the SBOM of the
    /// same build), deploy evidence 365 (audit material, kept as long as the
    /// longest-lived backup); backups daily 30, weekly 90, monthly 365;
    /// approvals forever; and, from
    /// `20261202010000_ingest_deliveries_retention.sql`, ingest deliveries 30
    /// (ten times the longest automatic retry schedule, Stripe's 3 days, and
    /// room for a sender's operator to replay a failed delivery by hand).
    pub fn seed_defaults() -> Vec<RetentionPolicy> {
        let row = |target, class: Option<&str>, days| RetentionPolicy {
            project_id: None,
            target,
            class: class.map(str::to_owned),
            retain_days: days,
        };
        vec![
            row(Target::Runs, None, Some(90)),
            row(Target::RunEvents, None, Some(30)),
            row(Target::Artifacts, Some("image"), Some(30)),
            row(Target::Artifacts, Some("sbom"), Some(90)),
            row(Target::Artifacts, Some("logs"), Some(30)),
            row(Target::Artifacts, Some("manifest"), Some(90)),
            row(Target::Artifacts, Some("evidence"), Some(365)),
            row(Target::Backups, Some("daily"), Some(30)),
            row(Target::Backups, Some("weekly"), Some(90)),
            row(Target::Backups, Some("monthly"), Some(365)),
            row(Target::Approvals, None, None),
            row(Target::IngestDeliveries, None, Some(30)),
        ]
    }
}

/// How long a rule keeps rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Retention {
    /// Kept this many days; a row exactly this old is still kept.
    Days(u32),
    /// Kept forever (`retain_days` null).
    Forever,
}

/// The class column, checked against its target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Class {
    Artifact(ArtifactType),
    Backup(BackupKind),
}

type ScopeKey = (Target, Option<Class>);

/// The policy rows, checked and indexed for resolution.
#[derive(Clone, Debug, Default)]
pub struct Policies {
    // BTreeMaps, not HashMaps: the crate uses no randomness, and std's
    // HashMap seeds its hasher randomly.
    defaults: BTreeMap<ScopeKey, Retention>,
    projects: BTreeMap<String, BTreeMap<ScopeKey, Retention>>,
}

impl Policies {
    /// Checks the rows as `ops.retention_policies`' constraints do and
    /// indexes them. Errors name the row: `policies[4].class: ...`.
    pub fn new(rows: &[RetentionPolicy]) -> Result<Policies, Error> {
        let mut policies = Policies::default();
        for (index, row) in rows.iter().enumerate() {
            let at = |field: &str| format!("policies[{index}].{field}");
            let class =
                parse_class(row.target, row.class.as_deref()).map_err(|e| e.at(at("class")))?;
            let retention = match row.retain_days {
                None => Retention::Forever,
                Some(days) if (1..=MAX_RETAIN_DAYS).contains(&days) => Retention::Days(days),
                Some(days) => {
                    return Err(Error::new(
                        ErrorKind::Policy,
                        at("retain_days"),
                        format!(
                            "expected 1 to {MAX_RETAIN_DAYS} days or null (forever), got {days}"
                        ),
                    ))
                }
            };
            if row.target == Target::Approvals && retention != Retention::Forever {
                return Err(Error::new(
                    ErrorKind::Policy,
                    at("retain_days"),
                    "approvals are kept forever (audit requirement); expected null",
                ));
            }
            if row.target == Target::RunEvents && row.project_id.is_some() {
                return Err(Error::new(
                    ErrorKind::Policy,
                    at("project_id"),
                    "run events are dropped a monthly partition at a time for every project at once; \
                     expected null",
                ));
            }
            if row.target == Target::IngestDeliveries {
                if row.project_id.is_some() {
                    return Err(Error::new(
                        ErrorKind::Policy,
                        at("project_id"),
                        "the ingest ledger answers the sender's retries, which follow one schedule \
                         for every project; expected null",
                    ));
                }
                if let Retention::Days(days) = retention {
                    if days < MIN_INGEST_DELIVERIES_RETAIN_DAYS {
                        return Err(Error::new(
                            ErrorKind::Policy,
                            at("retain_days"),
                            format!(
                                "ingest deliveries must outlast every sender's retries; expected \
                                 {MIN_INGEST_DELIVERIES_RETAIN_DAYS} to {MAX_RETAIN_DAYS} days or null \
                                 (forever), got {days}"
                            ),
                        ));
                    }
                }
            }
            let scope = match &row.project_id {
                None => &mut policies.defaults,
                Some(project) => policies.projects.entry(project.clone()).or_default(),
            };
            if scope.insert((row.target, class), retention).is_some() {
                return Err(Error::new(
                    ErrorKind::Policy,
                    at("class"),
                    format!(
                        "a second rule for ({}, {}, {}); one rule per scope",
                        row.project_id.as_deref().unwrap_or("every project"),
                        row.target.as_str(),
                        row.class.as_deref().unwrap_or("all"),
                    ),
                ));
            }
        }
        Ok(policies)
    }

    /// The rule for a project's rows of `target` (and `class`), the most
    /// specific that exists: the project's own (target, class), the project's
    /// (target, all), the default (target, class), the default (target,
    /// all). `None` when no row matches, which the planner reads as "keep".
    pub(crate) fn resolve(
        &self,
        project_id: &str,
        target: Target,
        class: Option<Class>,
    ) -> Option<Retention> {
        let project = self.projects.get(project_id);
        let own = |key: ScopeKey| project.and_then(|rules| rules.get(&key)).copied();
        let default = |key: ScopeKey| self.defaults.get(&key).copied();
        let specific = class.map(|class| (target, Some(class)));
        specific
            .and_then(own)
            .or_else(|| own((target, None)))
            .or_else(|| specific.and_then(default))
            .or_else(|| default((target, None)))
    }

    /// The default (every-project) rule for `target` and `class`.
    pub(crate) fn resolve_default(
        &self,
        target: Target,
        class: Option<Class>,
    ) -> Option<Retention> {
        class
            .and_then(|class| self.defaults.get(&(target, Some(class))))
            .or_else(|| self.defaults.get(&(target, None)))
            .copied()
    }

    /// The shortest retention in days of any rule (any scope, any class) for
    /// `target`; `None` if every rule keeps forever.
    pub(crate) fn shortest_days(&self, target: Target) -> Option<u32> {
        self.defaults
            .iter()
            .chain(self.projects.values().flat_map(|rules| rules.iter()))
            .filter(|((rule_target, _), _)| *rule_target == target)
            .filter_map(|(_, retention)| match retention {
                Retention::Days(days) => Some(*days),
                Retention::Forever => None,
            })
            .min()
    }
}

fn parse_class(target: Target, class: Option<&str>) -> Result<Option<Class>, Error> {
    let Some(text) = class else {
        return Ok(None);
    };
    let parsed = match target {
        Target::Artifacts => match text {
            "image" => Some(Class::Artifact(ArtifactType::Image)),
            "sbom" => Some(Class::Artifact(ArtifactType::Sbom)),
            "logs" => Some(Class::Artifact(ArtifactType::Logs)),
            "evidence" => Some(Class::Artifact(ArtifactType::Evidence)),
            "manifest" => Some(Class::Artifact(ArtifactType::Manifest)),
            _ => None,
        },
        Target::Backups => match text {
            "daily" => Some(Class::Backup(BackupKind::Daily)),
            "weekly" => Some(Class::Backup(BackupKind::Weekly)),
            "monthly" => Some(Class::Backup(BackupKind::Monthly)),
            _ => None,
        },
        Target::Runs | Target::RunEvents | Target::Approvals | Target::IngestDeliveries => {
            return Err(Error::new(
                ErrorKind::Policy,
                "",
                format!(
                    "{} rules have no class; expected null, got {text:?}",
                    target.as_str()
                ),
            ))
        }
    };
    parsed.map(Some).ok_or_else(|| {
        let expected = if target == Target::Artifacts {
            "image, sbom, logs, evidence, manifest or null"
        } else {
            "daily, weekly, monthly or null"
        };
        Error::new(
            ErrorKind::Policy,
            "",
            format!(
                "expected {expected} for {} rules, got {text:?}",
                target.as_str()
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(
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

    #[test]
    fn the_most_specific_rule_wins() {
        let mut rows = RetentionPolicy::seed_defaults();
        rows.push(rule(Some("odoo-1"), Target::Artifacts, None, Some(7)));
        rows.push(rule(
            Some("odoo-1"),
            Target::Artifacts,
            Some("sbom"),
            Some(400),
        ));
        rows.push(rule(Some("odoo-2"), Target::Runs, None, None));
        let policies = Policies::new(&rows).unwrap();
        let sbom = Some(Class::Artifact(ArtifactType::Sbom));
        let logs = Some(Class::Artifact(ArtifactType::Logs));
        assert_eq!(
            policies.resolve("odoo-1", Target::Artifacts, sbom),
            Some(Retention::Days(400))
        );
        // The project's (artifacts, all) beats the default (artifacts, logs).
        assert_eq!(
            policies.resolve("odoo-1", Target::Artifacts, logs),
            Some(Retention::Days(7))
        );
        assert_eq!(
            policies.resolve("odoo-3", Target::Artifacts, logs),
            Some(Retention::Days(30))
        );
        assert_eq!(
            policies.resolve("odoo-2", Target::Runs, None),
            Some(Retention::Forever)
        );
        assert_eq!(
            policies.resolve("odoo-3", Target::Runs, None),
            Some(Retention::Days(90))
        );
        assert_eq!(policies.shortest_days(Target::Artifacts), Some(7));
        assert_eq!(policies.shortest_days(Target::Approvals), None);
        assert_eq!(
            Policies::new(&[])
                .unwrap()
                .resolve("odoo-1", Target::Runs, None),
            None
        );
    }

    #[test]
    fn a_policy_row_must_name_its_scope() {
        let row =
            serde_json::json!({"policy_id": 7, "target": "runs", "class": null, "retain_days": 9});
        let err = serde_json::from_value::<RetentionPolicy>(row).unwrap_err();
        assert!(
            err.to_string().contains("missing field `project_id`"),
            "{err}"
        );
        let row = serde_json::json!({"policy_id": 7, "project_id": null, "target": "runs", "class": null, "retain_days": null});
        let parsed: RetentionPolicy = serde_json::from_value(row).unwrap();
        assert_eq!(parsed.retain_days, None);
    }

    #[test]
    fn refuses_rows_the_schema_refuses() {
        let cases = [
            (
                rule(None, Target::Approvals, None, Some(30)),
                "policies[0].retain_days: approvals are kept forever",
            ),
            (
                rule(None, Target::Runs, None, Some(0)),
                "policies[0].retain_days: expected 1 to 3650",
            ),
            (
                rule(None, Target::Runs, None, Some(3651)),
                "policies[0].retain_days: expected 1 to 3650",
            ),
            (
                rule(None, Target::Runs, Some("sbom"), Some(3)),
                "policies[0].class: runs rules have no class",
            ),
            (
                rule(None, Target::Artifacts, Some("daily"), Some(3)),
                "policies[0].class: expected image, sbom",
            ),
            (
                rule(None, Target::Backups, Some("hourly"), Some(3)),
                "policies[0].class: expected daily, weekly",
            ),
            (
                rule(Some("odoo-1"), Target::RunEvents, None, Some(3)),
                "policies[0].project_id: run events",
            ),
            (
                rule(Some("odoo-1"), Target::IngestDeliveries, None, Some(30)),
                "policies[0].project_id: the ingest ledger",
            ),
            (
                rule(None, Target::IngestDeliveries, None, Some(6)),
                "policies[0].retain_days: ingest deliveries must outlast",
            ),
            (
                rule(None, Target::IngestDeliveries, Some("daily"), Some(30)),
                "policies[0].class: ingest_deliveries rules have no class",
            ),
        ];
        for (row, expected) in cases {
            let err = Policies::new(&[row]).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Policy);
            assert!(err.to_string().starts_with(expected), "{err}");
        }
        for days in [
            Some(MIN_INGEST_DELIVERIES_RETAIN_DAYS),
            Some(MAX_RETAIN_DAYS),
            None,
        ] {
            let row = rule(None, Target::IngestDeliveries, None, days);
            assert!(Policies::new(&[row]).is_ok(), "{days:?}");
        }
        let twice = [
            rule(None, Target::Runs, None, Some(3)),
            rule(None, Target::Runs, None, Some(4)),
        ];
        assert!(Policies::new(&twice)
            .unwrap_err()
            .to_string()
            .contains("a second rule"));
    }
}
