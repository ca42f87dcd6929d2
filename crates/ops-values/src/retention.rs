//! Retention: what a policy applies to, the rules a policy must keep, and the
//! defaults every project starts with.

use crate::{quoted, ArtifactType, BackupKind, Rule, RuleError};
use serde::{Deserialize, Deserializer};

closed_set!(
    /// What a retention policy applies to: `ops.retention_policies.target`.
    RetentionTarget, "a retention target" {
        /// `ops.runs`; days count from `finished_at`.
        Runs = "runs",
        /// `ops.run_events`; one rule for all projects, applied by dropping
        /// whole monthly partitions.
        RunEvents = "run_events",
        /// `ops.artifacts`, per artifact type; days count from `created_at`.
        Artifacts = "artifacts",
        /// `ops.backups`, per kind (`daily`, `weekly`, `monthly`): the
        /// keep-within windows of the grandfather-father-son rule.
        Backups = "backups",
        /// `ops.approvals`: kept forever, always (an audit requirement).
        Approvals = "approvals",
        /// The ingest ledger (`ops.ingest_deliveries`): one rule for all
        /// projects, at least [`MIN_INGEST_DELIVERIES_RETAIN_DAYS`], so a row
        /// outlives every retry of its delivery; days count from
        /// `received_at`.
        IngestDeliveries = "ingest_deliveries",
    }
);

/// The part of a target a policy is about: `ops.retention_policies.class`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RetentionClass {
    /// Artifacts of one type.
    Artifact(ArtifactType),
    /// Backups of one kind.
    Backup(BackupKind),
}

impl RetentionClass {
    /// Parses the class of a `target` rule: an artifact type for artifacts,
    /// a backup kind for backups; the other targets have no classes. Any
    /// other text breaks the `enum` rule.
    pub fn parse(target: RetentionTarget, class: &str) -> Result<RetentionClass, RuleError> {
        match target {
            RetentionTarget::Artifacts => ArtifactType::parse(class).map(RetentionClass::Artifact),
            RetentionTarget::Backups => BackupKind::parse(class).map(RetentionClass::Backup),
            RetentionTarget::Runs
            | RetentionTarget::RunEvents
            | RetentionTarget::Approvals
            | RetentionTarget::IngestDeliveries => Err(RuleError::new(
                Rule::Enum,
                format!(
                    "{target} have no classes; expected no class, got {}",
                    quoted(class)
                ),
            )),
        }
    }

    /// The class as the database stores it.
    pub fn as_str(self) -> &'static str {
        match self {
            RetentionClass::Artifact(artifact_type) => artifact_type.as_str(),
            RetentionClass::Backup(kind) => kind.as_str(),
        }
    }
}

/// Longest retention accepted, in days (ten years).
pub const MAX_RETAIN_DAYS: u16 = 3650;

/// Shortest retention accepted for the ingest ledger, in days (a week): a
/// ledger row that goes while its sender may still retry turns the retry
/// into a second delivery, and Standard Webhooks senders retry for days
/// (Svix's schedule ends about 28 hours after the first attempt, Stripe's
/// after 3 days).
pub const MIN_INGEST_DELIVERIES_RETAIN_DAYS: u16 = 7;

/// A retention policy's rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RetentionRule {
    /// What it applies to.
    pub target: RetentionTarget,
    /// Which class of the target, or all of it.
    pub class: Option<RetentionClass>,
    /// Days kept; `None` keeps forever.
    pub retain_days: Option<u16>,
}

/// Checks a retention rule: a class only where the target has classes (an
/// artifact type, a backup kind), 1 to 3650 days or forever, approvals kept
/// forever (an audit requirement), and the ingest ledger at least a week.
pub fn retention(
    target: &str,
    class: Option<&str>,
    retain_days: Option<i64>,
) -> Result<RetentionRule, RuleError> {
    let target = RetentionTarget::parse(target)?;
    let class = class
        .map(|class| RetentionClass::parse(target, class))
        .transpose()?;
    if target == RetentionTarget::Approvals && retain_days.is_some() {
        return Err(RuleError::new(
            Rule::Const,
            "approvals are kept forever; retain_days must be null",
        ));
    }
    let retain_days = match retain_days {
        None => None,
        Some(days) if days < 1 => {
            return Err(RuleError::new(
                Rule::Minimum,
                format!("must be at least 1 day, got {days}"),
            ))
        }
        Some(days)
            if target == RetentionTarget::IngestDeliveries
                && days < i64::from(MIN_INGEST_DELIVERIES_RETAIN_DAYS) =>
        {
            return Err(RuleError::new(
                Rule::Minimum,
                format!(
                    "ingest deliveries must outlast every sender's retries: at least \
                     {MIN_INGEST_DELIVERIES_RETAIN_DAYS} days, got {days}"
                ),
            ))
        }
        Some(days) => match u16::try_from(days) {
            Ok(days) if days <= MAX_RETAIN_DAYS => Some(days),
            _ => {
                return Err(RuleError::new(
                    Rule::Maximum,
                    format!("must be at most {MAX_RETAIN_DAYS} days, got {days}"),
                ))
            }
        },
    };
    Ok(RetentionRule {
        target,
        class,
        retain_days,
    })
}

/// The retention defaults: the rows of `ops.retention_policies` with a null
/// `project_id`, as the migrations seed them. The file is shared with pgTAP
/// (`supabase/tests/database/ops_retention_defaults.test.sql`), which checks
/// that the seeded rows are exactly these; SQL cannot read it at deploy time,
/// so the migrations insert the same rows themselves.
const DEFAULTS_JSON: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../supabase/tests/vectors/retention_defaults.json"
));

/// The defaults file: a description for people and the rows.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DefaultsFile {
    #[serde(rename = "description")]
    _description: String,
    defaults: Vec<DefaultRow>,
}

/// One default rule. Every column is present, `null` when empty: a missing
/// `retain_days` must not quietly mean "forever".
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DefaultRow {
    target: String,
    #[serde(deserialize_with = "present")]
    class: Option<String>,
    #[serde(deserialize_with = "present")]
    retain_days: Option<i64>,
    /// Why the rule keeps what it keeps; for people only.
    #[serde(rename = "note", default)]
    _note: Option<String>,
}

/// Deserializes a nullable field that must still be present. (Serde reads a
/// missing `Option` as `None` unless the field has its own
/// `deserialize_with`.)
fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer)
}

/// The retention defaults every project starts with, in the order the
/// migrations insert them: one rule per target, or per class where the
/// target has classes. Each row is checked with [`retention`].
///
/// The rules come from `supabase/tests/vectors/retention_defaults.json`,
/// built into the crate; pgTAP checks the same file against the seeded rows.
/// The file is part of the source, so the error (a row that breaks a rule,
/// or a file that is not the expected JSON, with `defaults[i]` in front) is
/// one the crate's tests would already have shown.
pub fn retention_defaults() -> Result<Vec<RetentionRule>, RuleError> {
    read_defaults(DEFAULTS_JSON)
}

fn read_defaults(text: &str) -> Result<Vec<RetentionRule>, RuleError> {
    let file: DefaultsFile = serde_json::from_str(text).map_err(|err| {
        RuleError::new(
            Rule::Type,
            format!("retention_defaults.json is not the expected JSON: {err}"),
        )
    })?;
    let mut rules: Vec<RetentionRule> = Vec::with_capacity(file.defaults.len());
    for (index, row) in file.defaults.iter().enumerate() {
        let rule =
            retention(&row.target, row.class.as_deref(), row.retain_days).map_err(|err| {
                RuleError::new(err.rule, format!("defaults[{index}]: {}", err.message))
            })?;
        // ops.retention_policies allows one rule per scope, and the defaults
        // are one scope.
        if rules
            .iter()
            .any(|other| (other.target, other.class) == (rule.target, rule.class))
        {
            return Err(RuleError::new(
                Rule::UniqueItems,
                format!("defaults[{index}]: a second default for the same target and class"),
            ));
        }
        rules.push(rule);
    }
    Ok(rules)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_file_is_read() {
        let defaults = retention_defaults().unwrap();
        let rows: serde_json::Value = serde_json::from_str(DEFAULTS_JSON).unwrap();
        assert_eq!(
            defaults.len(),
            rows["defaults"].as_array().unwrap().len(),
            "every row of the file is a rule"
        );
        for (rule, row) in defaults.iter().zip(rows["defaults"].as_array().unwrap()) {
            assert_eq!(rule.target.as_str(), row["target"]);
            assert_eq!(
                rule.class.map(RetentionClass::as_str),
                row["class"].as_str()
            );
            assert_eq!(rule.retain_days.map(i64::from), row["retain_days"].as_i64());
        }
    }

    /// The defaults leave nothing unruled: every target has a rule for all
    /// of it or one per class, so no row of any table is kept by accident.
    #[test]
    fn the_defaults_cover_every_target_and_class() {
        let defaults = retention_defaults().unwrap();
        let has = |target, class| {
            defaults
                .iter()
                .any(|rule| rule.target == target && rule.class == class)
        };
        for &target in RetentionTarget::ALL {
            let classes: Vec<RetentionClass> = match target {
                RetentionTarget::Artifacts => ArtifactType::ALL
                    .iter()
                    .map(|&t| RetentionClass::Artifact(t))
                    .collect(),
                RetentionTarget::Backups => BackupKind::ALL
                    .iter()
                    .map(|&k| RetentionClass::Backup(k))
                    .collect(),
                _ => Vec::new(),
            };
            assert!(
                has(target, None)
                    || (!classes.is_empty() && classes.iter().all(|&c| has(target, Some(c)))),
                "no default for {target}"
            );
        }
        let approvals = defaults
            .iter()
            .find(|rule| rule.target == RetentionTarget::Approvals)
            .unwrap();
        assert_eq!(approvals.retain_days, None);
    }

    #[test]
    fn a_broken_defaults_file_is_refused() {
        let file = |rows: &str| format!(r#"{{"description": "test", "defaults": [{rows}]}}"#);
        let cases = [
            (
                file(r#"{"target": "approvals", "class": null, "retain_days": 30}"#),
                Rule::Const,
                "defaults[0]: approvals are kept forever",
            ),
            (
                file(
                    r#"{"target": "runs", "class": null, "retain_days": 9}, {"target": "runs", "class": null, "retain_days": 10}"#,
                ),
                Rule::UniqueItems,
                "defaults[1]: a second default",
            ),
            (
                file(r#"{"target": "artifacts", "class": "daily", "retain_days": 9}"#),
                Rule::Enum,
                "defaults[0]: expected an artifact type",
            ),
            (
                file(r#"{"target": "runs", "class": null}"#),
                Rule::Type,
                "retention_defaults.json is not the expected JSON: missing field `retain_days`",
            ),
            (
                file(
                    r#"{"target": "runs", "class": null, "retain_days": 9, "project_id": "odoo-1"}"#,
                ),
                Rule::Type,
                "retention_defaults.json is not the expected JSON: unknown field `project_id`",
            ),
        ];
        for (text, rule, message) in cases {
            let err = read_defaults(&text).unwrap_err();
            assert_eq!(err.rule, rule, "{text}");
            assert!(err.message.starts_with(message), "{text}: {err}");
        }
        let noted = file(r#"{"target": "runs", "class": null, "retain_days": 9, "note": "why"}"#);
        assert_eq!(read_defaults(&noted).unwrap()[0].retain_days, Some(9));
    }

    #[test]
    fn classes_belong_to_their_targets() {
        assert_eq!(
            RetentionClass::parse(RetentionTarget::Artifacts, "sbom"),
            Ok(RetentionClass::Artifact(ArtifactType::Sbom))
        );
        assert_eq!(
            RetentionClass::parse(RetentionTarget::Backups, "weekly").map(RetentionClass::as_str),
            Ok("weekly")
        );
        for target in [RetentionTarget::Backups, RetentionTarget::Runs] {
            assert_eq!(
                RetentionClass::parse(target, "sbom").unwrap_err().rule,
                Rule::Enum,
                "{target}"
            );
        }
    }
}
