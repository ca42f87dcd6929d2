//! Retention policies: the rows of `ops.retention_policies`, checked, and
//! resolved to the rule that applies to one project's rows.

use crate::error::{Error, ErrorKind};
use crate::rows::nullable;
use ops_values::{ArtifactType, BackupKind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a policy row is about: `ops.retention_policies.target`, the closed
/// set of `ops-values`.
pub use ops_values::RetentionTarget as Target;

/// The class column, checked against its target.
pub(crate) use ops_values::RetentionClass as Class;

/// The longest retention the schema allows (`ops.is_valid_retention`):
/// `ops-values`' limit, in this crate's days.
pub const MAX_RETAIN_DAYS: u32 = ops_values::MAX_RETAIN_DAYS as u32;

/// The shortest retention the schema allows for the ingest ledger
/// (`ops.is_valid_retention`): `ops-values`' limit, a week, in this crate's
/// days. A ledger row that goes while its sender may still retry turns the
/// retry into a second delivery.
pub const MIN_INGEST_DELIVERIES_RETAIN_DAYS: u32 =
    ops_values::MIN_INGEST_DELIVERIES_RETAIN_DAYS as u32;

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
    /// The defaults every project starts with, as rows, in the order the
    /// migrations insert them: the rules of
    /// [`ops_values::retention_defaults`], which reads them from
    /// `supabase/tests/vectors/retention_defaults.json`, the file pgTAP
    /// checks the seeded rows against. The file's notes say why a rule keeps
    /// what it keeps.
    pub fn seed_defaults() -> Vec<RetentionPolicy> {
        // The file is built into ops-values, whose tests read it, so the
        // error is never seen at run time. Were it ever, no rule means no
        // row expires: the safe side for a cleanup.
        ops_values::retention_defaults()
            .unwrap_or_default()
            .into_iter()
            .map(|rule| RetentionPolicy {
                project_id: None,
                target: rule.target,
                class: rule.class.map(|class| class.as_str().to_owned()),
                retain_days: rule.retain_days.map(u32::from),
            })
            .collect()
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
                        row.target,
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
    // ops-values decides which classes a target has; the message here speaks
    // of the policy row's columns, like the rest of `Policies::new`.
    Class::parse(target, text).map(Some).map_err(|_| {
        let expected = |names: Vec<&str>| {
            format!(
                "expected {} or null for {target} rules, got {text:?}",
                names.join(", ")
            )
        };
        let message = match target {
            Target::Artifacts => expected(ArtifactType::ALL.iter().map(|t| t.as_str()).collect()),
            Target::Backups => expected(BackupKind::ALL.iter().map(|k| k.as_str()).collect()),
            Target::Runs | Target::RunEvents | Target::Approvals | Target::IngestDeliveries => {
                format!("{target} rules have no class; expected null, got {text:?}")
            }
        };
        Error::new(ErrorKind::Policy, "", message)
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

    /// The defaults are the file's rows, in the file's order, in the JSON
    /// form the executor reads and archives (key for key, as the columns).
    #[test]
    fn the_seed_defaults_are_the_defaults_file() {
        let file: serde_json::Value = serde_json::from_str(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../supabase/tests/vectors/retention_defaults.json"
        )))
        .unwrap();
        let rows = file["defaults"].as_array().unwrap();
        let defaults = RetentionPolicy::seed_defaults();
        assert_eq!(defaults.len(), rows.len());
        for (policy, row) in defaults.iter().zip(rows) {
            assert_eq!(
                serde_json::to_string(policy).unwrap(),
                format!(
                    r#"{{"project_id":null,"target":{},"class":{},"retain_days":{}}}"#,
                    row["target"], row["class"], row["retain_days"]
                )
            );
        }
        assert!(Policies::new(&defaults).is_ok());
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
