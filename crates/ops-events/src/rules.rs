//! The value rules of the control plane's external ids and names.
//!
//! The same rules are CHECK constraints in the `ops` schema; the SQL is the
//! last line of defence, this is the first, and it is the one that can explain
//! itself to the sender.

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::Serialize;
use std::borrow::Cow;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

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

/// When Odoo made the change an event reports (Odoo's `write_date`), as an
/// RFC 3339 timestamp. It orders a project's events: the latest change wins,
/// whatever order the deliveries arrive in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OccurredAt(OffsetDateTime);

/// How far past the receiver's clock an `occurred_at` may be, in seconds: the
/// same tolerance as the delivery's own timestamp. A change dated further in
/// the future would win against every real change that follows it.
pub const FUTURE_TOLERANCE_SECONDS: i64 = 5 * 60;

/// The earliest accepted `occurred_at`: older dates are clock errors.
const EARLIEST_UNIX: i64 = 946_684_800; // 2000-01-01T00:00:00Z

impl OccurredAt {
    pub(crate) fn parse(text: &str, now: i64) -> Result<OccurredAt, RuleError> {
        let at = OffsetDateTime::parse(text, &Rfc3339).map_err(|_| {
            (
                "format",
                format!(
                    "expected an RFC 3339 date-time such as \"2026-11-26T10:00:00.123456Z\", got {}",
                    quoted(text)
                ),
            )
        })?;
        let unix = at.unix_timestamp();
        if unix < EARLIEST_UNIX {
            return Err((
                "minimum",
                format!("must not be before 2000-01-01, got {}", quoted(text)),
            ));
        }
        if unix > now.saturating_add(FUTURE_TOLERANCE_SECONDS) {
            return Err((
                "maximum",
                format!(
                    "is more than {FUTURE_TOLERANCE_SECONDS} seconds in the future; check the sender's clock"
                ),
            ));
        }
        Ok(OccurredAt(at.to_offset(time::UtcOffset::UTC)))
    }

    /// The moment given as Unix seconds, for events that carry no date of
    /// their own (the seed's `project_created`): the delivery's timestamp.
    pub fn from_unix(seconds: i64) -> Option<OccurredAt> {
        OffsetDateTime::from_unix_timestamp(seconds)
            .ok()
            .map(OccurredAt)
    }

    /// The moment in RFC 3339, in UTC, with its sub-second digits.
    pub fn to_rfc3339(&self) -> String {
        // Formatting a UTC date between the years 2000 and 9999 cannot fail;
        // the fallback is never reached but keeps this free of panics.
        self.0
            .format(&Rfc3339)
            .unwrap_or_else(|_| self.0.unix_timestamp().to_string())
    }
}

impl Serialize for OccurredAt {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_rfc3339())
    }
}

impl JsonSchema for OccurredAt {
    fn schema_name() -> Cow<'static, str> {
        "OccurredAt".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "format": "date-time",
            "description": "When Odoo made the change (its write_date), RFC 3339. Orders a project's events: the latest change wins. At most 5 minutes ahead of the receiver's clock.",
            "examples": ["2026-11-26T10:00:00.123456Z"]
        })
    }
}

impl JsonSchema for ProjectId {
    fn schema_name() -> Cow<'static, str> {
        "ProjectId".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^odoo-[1-9][0-9]{0,17}$",
            "description": "External id of the Odoo project: odoo-<id of project.project>.",
            "examples": ["odoo-42"]
        })
    }
}

impl JsonSchema for ProjectName {
    fn schema_name() -> Cow<'static, str> {
        "ProjectName".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_NAME_CHARS,
            "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*\\S[^\\u0000-\\u001f\\u007f-\\u009f]*$",
            "description": "The project's name in Odoo: not blank, no control characters.",
            "examples": ["Alpha"]
        })
    }
}

impl JsonSchema for OdooVersion {
    fn schema_name() -> Cow<'static, str> {
        "OdooVersion".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^(saas~)?[0-9]{1,3}\\.[0-9]{1,2}$",
            "description": "The Odoo series the project runs.",
            "examples": ["19.0", "saas~18.3"]
        })
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

    const NOW: i64 = 1_795_000_000; // 2026-11-18

    #[test]
    fn occurred_at() {
        for ok in [
            "2026-11-18T08:00:00Z",
            "2026-11-18T08:00:00.123456Z",
            "2026-11-18T10:00:00+02:00",
            "2000-01-01T00:00:00Z",
        ] {
            assert!(OccurredAt::parse(ok, NOW).is_ok(), "{ok}");
        }
        for (bad, rule) in [
            ("", "format"),
            ("2026-11-18", "format"),
            ("2026-11-18 08:00:00", "format"),
            ("2026-11-18T08:00:00", "format"),
            ("yesterday", "format"),
            ("1999-12-31T23:59:59Z", "minimum"),
            ("2030-01-01T00:00:00Z", "maximum"),
        ] {
            assert_eq!(OccurredAt::parse(bad, NOW).unwrap_err().0, rule, "{bad:?}");
        }
        let edge = OccurredAt::from_unix(NOW + FUTURE_TOLERANCE_SECONDS)
            .unwrap()
            .to_rfc3339();
        assert!(OccurredAt::parse(&edge, NOW).is_ok(), "{edge}");
    }

    #[test]
    fn occurred_at_is_normalised_to_utc() {
        let a = OccurredAt::parse("2026-11-18T10:00:00+02:00", NOW).unwrap();
        let b = OccurredAt::parse("2026-11-18T08:00:00Z", NOW).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_rfc3339(), "2026-11-18T08:00:00Z");
    }

    #[test]
    fn long_values_are_cut_in_messages() {
        let long = "x".repeat(10_000);
        let (_, message) = ProjectId::parse(&long).unwrap_err();
        assert!(message.len() < 200, "{}", message.len());
    }
}
