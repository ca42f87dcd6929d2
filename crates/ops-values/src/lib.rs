//! The values of the `ops` schema: what a column of the control-plane
//! records may hold.
//!
//! This crate is the room for values. Closed sets (run status, artifact type,
//! backup kind, approval status, roles and permissions, retention targets),
//! checked text (digests, image references, S3 URIs, run ids, `created_by`),
//! the rules that relate them (run transitions, where an artifact of a type
//! lives, which role grants what, which retention rules are allowed) and the
//! retention defaults. It holds no events (`ops-events` does) and makes no
//! decisions about rows (`cleanup-plan` does); both take their values from
//! here, so each set and rule is written once.
//!
//! Each rule is also a SQL function in the `ops` schema
//! (`ops.is_valid_<rule>`, used by the tables' CHECK constraints). Both sides
//! are checked against the same test vectors,
//! `supabase/tests/vectors/records.json`, by `cargo test` and by pgTAP, so the
//! two definitions cannot drift apart. Rust is the first line (it can explain
//! itself to the sender); the constraints are the last. The retention
//! defaults are likewise one file, `supabase/tests/vectors/retention_defaults.json`,
//! that [`retention_defaults`] reads and pgTAP compares with the rows the
//! migrations seed.
//!
//! A failure is a [`RuleError`]: the [`Rule`] broken, named as in JSON Schema
//! (`pattern`, `enum`, `maxLength`, `minimum`, `maximum`, `const`,
//! `contains`), and a sentence saying what was wrong.
//!
//! ```
//! use ops_values::{artifact, created_by, retention, Actor, ArtifactType, Rule, RunStatus};
//!
//! let digest = format!("sha256:{}", "ab".repeat(32));
//! let image = artifact("image", "ghcr.io/insightpulseai/odoo-ce:v1.2.3", &digest).unwrap();
//! assert_eq!(image.artifact_type, ArtifactType::Image);
//!
//! // An image belongs in a registry, not in S3.
//! let err = artifact("image", "s3://odooops-artifacts/x.tar", &digest).unwrap_err();
//! assert_eq!(err.rule, Rule::Pattern);
//! assert_eq!(err.rule.as_str(), "pattern");
//!
//! // created_by is an auth user id or an Odoo login, as Odoo stores it.
//! assert!(matches!(created_by("550e8400-e29b-41d4-a716-446655440000"), Ok(Actor::AuthUser(_))));
//! assert!(matches!(created_by("admin@insightpulseai.com"), Ok(Actor::OdooLogin(_))));
//! assert_eq!(created_by("Admin").unwrap().as_str(), "Admin");
//! assert_eq!(created_by("").unwrap_err().rule, Rule::MinLength);
//!
//! assert!(RunStatus::Queued.can_become(RunStatus::Running));
//! assert!(!RunStatus::Success.can_become(RunStatus::Running));
//!
//! // Approvals are audit records: no rule may expire them.
//! assert_eq!(retention("approvals", None, Some(30)).unwrap_err().rule, Rule::Const);
//! ```
#![deny(missing_docs)]

/// Defines a closed set of text values: the enum, its `ALL`, `as_str`,
/// `parse` (failing with `enum`), `Display`, and `Serialize` and
/// `Deserialize` as the text.
macro_rules! closed_set {
    (
        $(#[$meta:meta])*
        $name:ident, $what:literal {
            $( $(#[$variant_meta:meta])* $variant:ident = $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        // Deserialize is derived rather than written with `parse`: a row read
        // from SQL is refused with serde's own message ("unknown variant ...,
        // expected one of ..."), the same one the readers gave before these
        // sets were shared.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Deserialize)]
        pub enum $name {
            $( $(#[$variant_meta])* #[serde(rename = $text)] $variant, )+
        }

        impl $name {
            /// Every value, in the order the schema lists them.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The value as the database stores it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            /// Parses the stored text; anything else breaks the `enum` rule.
            pub fn parse(text: &str) -> Result<$name, $crate::RuleError> {
                match text {
                    $($text => Ok($name::$variant),)+
                    _ => Err($crate::RuleError::new(
                        $crate::Rule::Enum,
                        format!(
                            "expected {} ({}), got {}",
                            $what,
                            [$($text),+].join(", "),
                            $crate::quoted(text)
                        ),
                    )),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }
    };
}

/// Defines a text newtype that can only hold a value passing `$check`.
macro_rules! checked_text {
    ($(#[$meta:meta])* $name:ident, $check:path) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Checks `text` against the rule and keeps it.
            pub fn parse(text: &str) -> Result<$name, $crate::RuleError> {
                $check(text)?;
                Ok($name(text.to_owned()))
            }

            /// The value as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

mod records;
mod retention;
mod rule;

pub use records::{
    artifact, artifact_location, auth_user_id, created_by, digest, image_reference,
    role_permission, run_transition, s3_uri, Actor, ApprovalStatus, Artifact, ArtifactType,
    BackupKind, CommitSha, Digest, Environment, EventLevel, ImageReference, Location, OdooLogin,
    Permission, RepoSlug, Role, RunEventType, RunId, RunKind, RunStatus, S3Uri,
    MAX_IMAGE_REFERENCE_CHARS, MAX_LOGIN_CHARS, MAX_S3_KEY_BYTES,
};
pub use retention::{
    retention, retention_defaults, RetentionClass, RetentionRule, RetentionTarget, MAX_RETAIN_DAYS,
    MIN_INGEST_DELIVERIES_RETAIN_DAYS,
};
pub use rule::{Rule, RuleError};

fn is_lower_hex(b: u8) -> bool {
    b.is_ascii_digit() || (b'a'..=b'f').contains(&b)
}

/// A DNS label as the rules use it: 1 to `max` lowercase letters, digits and
/// hyphens, not starting or ending with a hyphen.
fn dns_label(label: &str, max: usize) -> bool {
    !label.is_empty()
        && label.len() <= max
        && label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !label.starts_with('-')
        && !label.ends_with('-')
}

/// Quotes a sender's value for an error message, cut short so a huge value
/// cannot blow up the response. Every rule message of this crate and of
/// `ops-events` quotes values this way.
///
/// ```
/// assert_eq!(ops_values::quoted("odoo-1"), "\"odoo-1\"");
/// assert!(ops_values::quoted(&"x".repeat(100)).ends_with('…'));
/// ```
pub fn quoted(text: &str) -> String {
    const SHOWN: usize = 64;
    if text.chars().count() <= SHOWN {
        format!("{text:?}")
    } else {
        let head: String = text.chars().take(SHOWN).collect();
        format!("{head:?}…")
    }
}

#[cfg(test)]
mod tests;
