//! The value rules of the control plane's external ids and names.
//!
//! The same rules are CHECK constraints in the `ops` schema; the SQL is the
//! last line of defence, this is the first, and it is the one that can explain
//! itself to the sender.

use serde::Serialize;

/// A rule failure: the JSON Schema name of the rule and a sentence.
pub(crate) type RuleError = (&'static str, String);

/// The external id of an Odoo project: `odoo-` and the positive integer id of
/// `project.project` in Odoo, without leading zeros.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct ProjectId(String);

/// The most digits an Odoo id may have: ids are PostgreSQL `integer`s there,
/// but 18 digits still fits a `bigint` should Odoo ever widen them.
const MAX_ID_DIGITS: usize = 18;

impl ProjectId {
    pub(crate) fn parse(text: &str) -> Result<ProjectId, RuleError> {
        let valid = text.strip_prefix("odoo-").is_some_and(|digits| {
            !digits.is_empty()
                && digits.len() <= MAX_ID_DIGITS
                && digits.bytes().all(|b| b.is_ascii_digit())
                && !digits.starts_with('0')
        });
        if valid {
            Ok(ProjectId(text.to_owned()))
        } else {
            Err((
                "pattern",
                format!("expected \"odoo-<digits>\", got {}", quoted(text)),
            ))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A project's display name: 1 to 255 characters, not only spaces, without
/// control characters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ProjectName(String);

/// Longest accepted name, in characters. Odoo does not bound `name`, but a
/// control-plane label longer than this is a mistake, not a name.
pub(crate) const MAX_NAME_CHARS: usize = 255;

impl ProjectName {
    pub(crate) fn parse(text: &str) -> Result<ProjectName, RuleError> {
        if text.trim().is_empty() {
            return Err(("minLength", "must not be empty or only spaces".to_owned()));
        }
        let chars = text.chars().count();
        if chars > MAX_NAME_CHARS {
            return Err((
                "maxLength",
                format!("must be at most {MAX_NAME_CHARS} characters, got {chars}"),
            ));
        }
        if text.chars().any(char::is_control) {
            return Err(("pattern", "must not contain control characters".to_owned()));
        }
        Ok(ProjectName(text.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An Odoo series: `<major>.<minor>` such as `19.0`, or an Odoo Online series
/// such as `saas~18.3`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct OdooVersion(String);

impl OdooVersion {
    pub(crate) fn parse(text: &str) -> Result<OdooVersion, RuleError> {
        let series = text.strip_prefix("saas~").unwrap_or(text);
        let valid = series
            .split_once('.')
            .is_some_and(|(major, minor)| digits(major, 1..=3) && digits(minor, 1..=2));
        if valid {
            Ok(OdooVersion(text.to_owned()))
        } else {
            Err((
                "pattern",
                format!(
                    "expected an Odoo series such as \"19.0\" or \"saas~18.3\", got {}",
                    quoted(text)
                ),
            ))
        }
    }

    /// The version as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn digits(text: &str, len: std::ops::RangeInclusive<usize>) -> bool {
    len.contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit())
}

/// Quotes a sender's value for an error message, cut short so a huge value
/// cannot blow up the response.
fn quoted(text: &str) -> String {
    const SHOWN: usize = 64;
    if text.chars().count() <= SHOWN {
        format!("{text:?}")
    } else {
        let head: String = text.chars().take(SHOWN).collect();
        format!("{head:?}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_ids() {
        for ok in ["odoo-1", "odoo-42", "odoo-123456789012345678"] {
            assert!(ProjectId::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "odoo-",
            "odoo-0",
            "odoo-042",
            "odoo-1a",
            "ODOO-1",
            "odoo_1",
            " odoo-1",
            "odoo-1 ",
            "odoo--1",
            "odoo-1234567890123456789",
            "42",
            "abc",
        ] {
            assert_eq!(ProjectId::parse(bad).unwrap_err().0, "pattern", "{bad:?}");
        }
    }

    #[test]
    fn project_names() {
        assert!(ProjectName::parse("Alpha").is_ok());
        assert!(ProjectName::parse("Ünïcödé 項目").is_ok());
        assert!(ProjectName::parse(&"é".repeat(255)).is_ok());
        assert_eq!(
            ProjectName::parse(&"é".repeat(256)).unwrap_err().0,
            "maxLength"
        );
        assert_eq!(ProjectName::parse("").unwrap_err().0, "minLength");
        assert_eq!(ProjectName::parse("   ").unwrap_err().0, "minLength");
        assert_eq!(ProjectName::parse("a\nb").unwrap_err().0, "pattern");
        assert_eq!(ProjectName::parse("a\u{0}b").unwrap_err().0, "pattern");
    }

    #[test]
    fn odoo_versions() {
        for ok in ["19.0", "8.0", "17.0", "saas~18.3", "100.10"] {
            assert!(OdooVersion::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "19",
            "19.",
            ".0",
            "v19.0",
            "19.0.1",
            "1000.0",
            "19.000",
            "saas~",
            "saas-18.3",
            "19.0 ",
        ] {
            assert_eq!(OdooVersion::parse(bad).unwrap_err().0, "pattern", "{bad:?}");
        }
    }

    #[test]
    fn long_values_are_cut_in_messages() {
        let long = "x".repeat(10_000);
        let (_, message) = ProjectId::parse(&long).unwrap_err();
        assert!(message.len() < 200, "{}", message.len());
    }
}
