//! The record rules against the shared vectors, and their own properties.

use super::*;
use proptest::prelude::*;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

const VECTORS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../supabase/tests/vectors/records.json"
));

fn text<'a>(value: &'a Value, field: &str) -> &'a str {
    value[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} must be a string in {value}"))
}

/// Checks one vector's value against the rule it names; `None` for a rule
/// this crate does not know.
fn check(rule: &str, value: &Value) -> Option<Result<(), RuleError>> {
    let s = || {
        value
            .as_str()
            .unwrap_or_else(|| panic!("{rule}: the value must be a string"))
    };
    let result = match rule {
        "created_by" => created_by(s()).map(drop),
        "auth_user_id" => auth_user_id(s()),
        "odoo_login" => OdooLogin::parse(s()).map(drop),
        "digest" => digest(s()).map(drop),
        "image_reference" => image_reference(s()).map(drop),
        "s3_uri" => s3_uri(s()).map(drop),
        "artifact_type" => ArtifactType::parse(s()).map(drop),
        "artifact" => artifact(
            text(value, "artifact_type"),
            text(value, "storage_path"),
            text(value, "digest"),
        )
        .map(drop),
        "run_id" => RunId::parse(s()).map(drop),
        "run_kind" => RunKind::parse(s()).map(drop),
        "environment" => Environment::parse(s()).map(drop),
        "run_status" => RunStatus::parse(s()).map(drop),
        "run_transition" => run_transition(text(value, "from"), text(value, "to")).map(drop),
        "event_level" => EventLevel::parse(s()).map(drop),
        "run_event_type" => RunEventType::parse(s()).map(drop),
        "backup_kind" => BackupKind::parse(s()).map(drop),
        "approval_status" => ApprovalStatus::parse(s()).map(drop),
        "member_role" => Role::parse(s()).map(drop),
        "commit_sha" => CommitSha::parse(s()).map(drop),
        "repo_slug" => RepoSlug::parse(s()).map(drop),
        "role_permission" => {
            role_permission(text(value, "role"), text(value, "permission")).map(drop)
        }
        "retention" => retention(
            text(value, "target"),
            value["class"].as_str(),
            value["retain_days"].as_i64(),
        )
        .map(drop),
        _ => return None,
    };
    Some(result)
}

#[test]
fn the_shared_vectors_hold() {
    let document: Value = serde_json::from_str(VECTORS).expect("records.json is JSON");
    let vectors = document["vectors"].as_array().expect("a \"vectors\" array");
    let mut seen: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut failures = Vec::new();
    for vector in vectors {
        let rule = text(vector, "rule");
        let valid = vector["valid"].as_bool().expect("\"valid\" is a boolean");
        let value = &vector["value"];
        let Some(result) = check(rule, value) else {
            failures.push(format!("unknown rule {rule:?}"));
            continue;
        };
        let counts = seen.entry(rule.to_owned()).or_default();
        if valid {
            counts.0 += 1;
        } else {
            counts.1 += 1;
        }
        match (&result, valid) {
            (Ok(()), true) => {}
            (Err(err), false) => {
                let got = err.rule.as_str();
                let expected = vector["error"]
                    .as_str()
                    .expect("an invalid vector names its \"error\"");
                if got != expected {
                    failures.push(format!(
                        "{rule} {value}: expected error {expected}, got {got}"
                    ));
                }
            }
            (Ok(()), false) => failures.push(format!("{rule} {value}: accepted, expected invalid")),
            (Err(err), true) => failures.push(format!(
                "{rule} {value}: refused with {err:?}, expected valid"
            )),
        }
    }
    for (rule, (valid, invalid)) in &seen {
        if *valid == 0 || *invalid == 0 {
            failures.push(format!(
                "{rule}: needs valid and invalid vectors, has {valid} and {invalid}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} vector failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(seen.len() >= 22, "only {} rules have vectors", seen.len());
}

#[test]
fn every_role_permission_pair_has_a_vector() {
    // The vectors pin the whole role table, so ops.roles and Role cannot
    // drift apart.
    let document: Value = serde_json::from_str(VECTORS).expect("records.json is JSON");
    let pairs: Vec<(String, String)> = document["vectors"]
        .as_array()
        .expect("a \"vectors\" array")
        .iter()
        .filter(|v| v["rule"] == "role_permission")
        .map(|v| {
            (
                text(&v["value"], "role").to_owned(),
                text(&v["value"], "permission").to_owned(),
            )
        })
        .collect();
    for role in Role::ALL {
        for permission in Permission::ALL {
            assert!(
                pairs.contains(&(role.to_string(), permission.to_string())),
                "no vector for {role} × {permission}"
            );
        }
    }
}

#[test]
fn created_by_tells_the_two_apart() {
    let id = "550e8400-e29b-41d4-a716-446655440000";
    assert_eq!(created_by(id), Ok(Actor::AuthUser(id.to_owned())));
    let Ok(Actor::OdooLogin(login)) = created_by("jane.doe@example.com") else {
        panic!("a login is an Odoo login");
    };
    assert_eq!(login.as_str(), "jane.doe@example.com");
    assert_eq!(
        serde_json::to_value(created_by(id).unwrap()).unwrap(),
        Value::from(id)
    );
}

#[test]
fn logins_are_kept_as_odoo_stores_them() {
    for login in [
        "admin",
        "Admin",
        "Ana@Example.com",
        " ana ",
        "ana maria",
        "jos\u{e9}",
    ] {
        assert_eq!(
            created_by(login),
            Ok(Actor::OdooLogin(OdooLogin::parse(login).unwrap())),
            "{login:?}"
        );
        assert_eq!(created_by(login).unwrap().as_str(), login);
    }
    // Not canonical, so not an auth user id: a login.
    let upper = "550E8400-E29B-41D4-A716-446655440000";
    assert!(matches!(created_by(upper), Ok(Actor::OdooLogin(_))));
}

#[test]
fn login_refusals_name_their_rule() {
    // NUL cannot be a vector: PostgreSQL text cannot hold it.
    for (login, rule, says) in [
        ("", Rule::MinLength, "at least 1 character"),
        ("ana\0", Rule::Pattern, "U+0000"),
        ("ana\tmaria", Rule::Pattern, "U+0009"),
        ("ana\u{85}", Rule::Pattern, "U+0085"),
        (
            "550e8400-e29b-41d4-a716-446655440000",
            Rule::Pattern,
            "auth user id",
        ),
    ] {
        let err = OdooLogin::parse(login).unwrap_err();
        assert_eq!(err.rule, rule, "{login:?}");
        assert!(err.message.contains(says), "{login:?}: {}", err.message);
    }
    let long = "\u{e9}".repeat(MAX_LOGIN_CHARS + 1);
    let err = OdooLogin::parse(&long).unwrap_err();
    assert_eq!(err.rule, Rule::MaxLength);
    assert!(
        err.message.contains("at most 254 characters, got 255"),
        "{}",
        err.message
    );
    // created_by says both what it expected and which login rule failed.
    let err = created_by("ana\nmaria").unwrap_err();
    assert_eq!(err.rule, Rule::Pattern);
    assert!(err
        .message
        .starts_with("expected an auth user id (lowercase uuid) or an Odoo login: "));
    assert!(
        err.message.contains("control characters"),
        "{}",
        err.message
    );
}

#[test]
fn image_references_are_taken_apart() {
    let hex = "ab".repeat(32);
    let reference =
        image_reference(&format!("localhost:5000/team/odoo:19.0@sha256:{hex}")).unwrap();
    assert_eq!(reference.registry, "localhost:5000");
    assert_eq!(reference.repository, "team/odoo");
    assert_eq!(reference.tag.as_deref(), Some("19.0"));
    assert_eq!(
        reference.digest.map(|d| d.to_string()),
        Some(format!("sha256:{hex}"))
    );
    let untagged = image_reference(&format!("ghcr.io/odoo@sha256:{hex}")).unwrap();
    assert_eq!((untagged.repository.as_str(), untagged.tag), ("odoo", None));
}

#[test]
fn s3_uris_are_taken_apart() {
    let uri = s3_uri("s3://odooops-artifacts/proj-123/run-abc/sbom.json").unwrap();
    assert_eq!(uri.bucket, "odooops-artifacts");
    assert_eq!(uri.key, "proj-123/run-abc/sbom.json");
}

#[test]
fn artifact_types_have_their_locations() {
    let digest = format!("sha256:{}", "0".repeat(64));
    for ty in ArtifactType::ALL {
        let path = match ty {
            ArtifactType::Image => "ghcr.io/org/odoo:1",
            _ => "s3://bucket/key",
        };
        assert!(artifact(ty.as_str(), path, &digest).is_ok(), "{ty}");
    }
}

#[test]
fn run_status_moves_only_forward() {
    for from in RunStatus::ALL {
        for to in RunStatus::ALL {
            if from.is_finished() || from == to {
                assert!(!from.can_become(*to), "{from} -> {to}");
            }
        }
    }
    assert_eq!(
        run_transition("success", "running")
            .unwrap_err()
            .rule
            .as_str(),
        "enum"
    );
}

#[test]
fn closed_sets_round_trip() {
    for status in RunStatus::ALL {
        assert_eq!(RunStatus::parse(status.as_str()), Ok(*status));
    }
    assert_eq!(
        serde_json::to_value(BackupKind::Weekly).unwrap(),
        Value::from("weekly")
    );
    let RuleError { rule, message } = RunStatus::parse("canceled").unwrap_err();
    assert_eq!(rule.as_str(), "enum");
    assert!(message.contains("cancelled"), "{message}");
}

#[test]
fn admin_has_every_permission() {
    for permission in Permission::ALL {
        assert!(Role::Admin.has(*permission), "{permission}");
    }
    assert!(!Role::Approver.has(Permission::RunCreate));
    assert!(!Role::Developer.has(Permission::ApprovalDecide));
}

#[test]
fn messages_are_short_for_long_values() {
    let long = "x".repeat(100_000);
    for RuleError { message, .. } in [
        image_reference(&long).unwrap_err(),
        s3_uri(&long).unwrap_err(),
        created_by(&long).unwrap_err(),
    ] {
        assert!(message.len() < 300, "{}", message.len());
    }
}

proptest! {
    #[test]
    fn rules_never_panic(text in "\\PC{0,80}", other in "\\PC{0,20}", days in any::<i64>()) {
        let _ = created_by(&text);
        let _ = image_reference(&text);
        let _ = s3_uri(&text);
        let _ = artifact(&other, &text, &other);
        let _ = RunId::parse(&text);
        let _ = RepoSlug::parse(&text);
        let _ = RunEventType::parse(&text);
        let _ = retention(&other, Some(&text), Some(days));
    }

    #[test]
    fn logins_without_control_characters_are_kept(login in "[^\\p{Cc}]{1,254}") {
        let actor = created_by(&login);
        prop_assert!(actor.is_ok(), "{login:?}: {actor:?}");
        // Kept as given, whichever of the two it is.
        let actor = actor.unwrap();
        prop_assert_eq!(actor.as_str(), login.as_str());
    }

    #[test]
    fn a_control_character_anywhere_is_refused(
        head in "\\PC{0,20}",
        control in "\\p{Cc}",
        tail in "\\PC{0,20}",
    ) {
        let login = format!("{head}{control}{tail}");
        prop_assert_eq!(OdooLogin::parse(&login).unwrap_err().rule, Rule::Pattern);
        prop_assert_eq!(created_by(&login).unwrap_err().rule, Rule::Pattern);
    }

    #[test]
    fn uuids_are_auth_users_only_in_lowercase(
        uuid in "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
    ) {
        prop_assert_eq!(created_by(&uuid), Ok(Actor::AuthUser(uuid.clone())));
        prop_assert!(OdooLogin::parse(&uuid).is_err());
        let upper = uuid.to_uppercase();
        if upper != uuid {
            prop_assert!(matches!(created_by(&upper), Ok(Actor::OdooLogin(_))));
        }
    }

    #[test]
    fn generated_image_references_are_accepted(
        host in "[a-z0-9]{1,10}(\\.[a-z0-9]{1,10}){1,3}",
        path in "[a-z0-9]{1,8}((\\.|_|__|-{1,3})[a-z0-9]{1,8}){0,2}(/[a-z0-9]{1,8}){0,3}",
        tag in "[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}",
    ) {
        let reference = format!("{host}/{path}:{tag}");
        let parsed = image_reference(&reference);
        prop_assert!(parsed.is_ok(), "{reference}: {parsed:?}");
    }

    #[test]
    fn generated_digests_are_accepted(hex in "[0-9a-f]{64}") {
        let lower = format!("sha256:{hex}");
        let upper = format!("sha256:{}", hex.to_uppercase());
        prop_assert!(digest(&lower).is_ok());
        // Uppercase hex is refused, unless there was no letter to raise.
        prop_assert_eq!(digest(&upper).is_ok(), lower == upper);
    }
}

/// Reads each value back from its JSON text, as the readers of SQL rows do.
fn reads_back<T>(all: &[T])
where
    T: Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    for value in all {
        let json = serde_json::to_string(value).unwrap();
        assert_eq!(&serde_json::from_str::<T>(&json).unwrap(), value, "{json}");
    }
}

#[test]
fn closed_sets_read_their_text_as_json() {
    reads_back(RunStatus::ALL);
    reads_back(ArtifactType::ALL);
    reads_back(BackupKind::ALL);
    reads_back(ApprovalStatus::ALL);
    reads_back(RetentionTarget::ALL);
    assert_eq!(
        serde_json::to_string(&RetentionTarget::IngestDeliveries).unwrap(),
        r#""ingest_deliveries""#
    );
    // serde's own refusal, naming every value the set has.
    let err = serde_json::from_str::<RunStatus>(r#""canceled""#).unwrap_err();
    assert!(
        err.to_string().starts_with(
            "unknown variant `canceled`, expected one of `queued`, `running`, `success`, `failed`, `cancelled`"
        ),
        "{err}"
    );
    assert!(serde_json::from_str::<BackupKind>("7").is_err());
}
