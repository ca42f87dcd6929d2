//! The value rules of the control plane's external ids and names, and of
//! the Odoo users' facts the events carry.
//!
//! The same rules are CHECK constraints in the `ops` schema; the SQL is the
//! last line of defence, this is the first, and it is the one that can explain
//! itself to the sender. Two values are `ops-values`' rather than this
//! crate's, because the records hold them too: the Odoo login
//! ([`ops_values::OdooLogin`]) and the instance ([`ops_values::Environment`]);
//! here they only get their JSON Schema.

use ops_values::{quoted, Environment, Rule, RuleError, MAX_LOGIN_CHARS};
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::Serialize;
use serde_json::Value;
use std::borrow::Cow;
use time::format_description::well_known::Rfc3339;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

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
            Err(RuleError::new(
                Rule::Pattern,
                format!("expected \"odoo-<digits>\", got {}", quoted(text)),
            ))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A project's display name: 1 to 255 characters, not only whitespace,
/// without control characters or line breaks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ProjectName(String);

/// Longest accepted name, in characters. Odoo does not bound `name`, but a
/// control-plane label longer than this is a mistake, not a name.
pub(crate) const MAX_NAME_CHARS: usize = 255;

/// The characters a name may not hold, as inclusive ranges: the control
/// characters (Unicode `Cc`: C0, DEL, C1) and the line and paragraph
/// separators. The separators are not `Cc`, but PostgreSQL's `[[:cntrl:]]`
/// (the `projects_name_printable` CHECK, glibc's classes under the UTF-8
/// locales) counts them, so a name with one would pass here and be refused
/// by the database.
const NAME_FORBIDDEN: &[(char, char)] = &[
    ('\u{0}', '\u{1f}'),
    ('\u{7f}', '\u{9f}'),
    ('\u{2028}', '\u{2029}'),
];

/// The characters that do not make a name non-blank: the forbidden ones and
/// the rest of Unicode's `White_Space` (what `char::is_whitespace` tests).
/// Spelled out rather than `\s` in the schema's pattern, because `\s` means
/// different sets in different regex dialects (ECMA-262 counts U+FEFF,
/// Python does not) and because `\S` would let a control character through.
const NAME_BLANK: &[(char, char)] = &[
    ('\u{0}', '\u{20}'),
    ('\u{7f}', '\u{a0}'),
    ('\u{1680}', '\u{1680}'),
    ('\u{2000}', '\u{200a}'),
    ('\u{2028}', '\u{2029}'),
    ('\u{202f}', '\u{202f}'),
    ('\u{205f}', '\u{205f}'),
    ('\u{3000}', '\u{3000}'),
];

fn in_ranges(ranges: &[(char, char)], c: char) -> bool {
    ranges.iter().any(|&(low, high)| (low..=high).contains(&c))
}

/// A regex character class of everything outside `ranges`, in `\uXXXX`
/// escapes, which ECMA-262, Python and Rust read alike.
fn class_without(ranges: &[(char, char)]) -> String {
    let mut class = String::from("[^");
    for &(low, high) in ranges {
        class.push_str(&format!("\\u{:04x}", u32::from(low)));
        if high != low {
            class.push_str(&format!("-\\u{:04x}", u32::from(high)));
        }
    }
    class.push(']');
    class
}

/// The name rule as a JSON Schema pattern: allowed characters around at
/// least one that is not blank.
pub(crate) fn name_pattern() -> String {
    let allowed = class_without(NAME_FORBIDDEN);
    let visible = class_without(NAME_BLANK);
    format!("^{allowed}*{visible}{allowed}*$")
}

impl ProjectName {
    pub(crate) fn parse(text: &str) -> Result<ProjectName, RuleError> {
        if text.is_empty() {
            return Err(RuleError::new(Rule::MinLength, "must not be empty"));
        }
        let chars = text.chars().count();
        if chars > MAX_NAME_CHARS {
            return Err(RuleError::new(
                Rule::MaxLength,
                format!("must be at most {MAX_NAME_CHARS} characters, got {chars}"),
            ));
        }
        if let Some(c) = text.chars().find(|&c| in_ranges(NAME_FORBIDDEN, c)) {
            return Err(RuleError::new(
                Rule::Pattern,
                format!(
                    "must not contain control characters or line breaks, got U+{:04X}",
                    u32::from(c)
                ),
            ));
        }
        if text.chars().all(|c| in_ranges(NAME_BLANK, c)) {
            return Err(RuleError::new(Rule::Pattern, "must not be only whitespace"));
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
            Err(RuleError::new(
                Rule::Pattern,
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

/// The id of an Odoo user in its instance: `res_users.id`, a positive
/// PostgreSQL `integer` in Odoo and in `ops.odoo_users`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct OdooUserId(i32);

/// The largest `res_users.id`: PostgreSQL's `integer`. A larger id would be
/// refused by the database with an error no retry can fix.
const MAX_ODOO_USER_ID: i32 = i32::MAX;

impl OdooUserId {
    pub(crate) fn parse(value: &Value) -> Result<OdooUserId, RuleError> {
        let Value::Number(number) = value else {
            return Err(RuleError::new(
                Rule::Type,
                format!(
                    "expected a positive integer (res_users.id), got {}",
                    crate::type_name(value)
                ),
            ));
        };
        // JSON has one kind of number, and JSON Schema counts 7.0 as the
        // integer 7; so does this rule, so that it agrees with the schema.
        // A float out of i128's range saturates, which is still out of range.
        let integer = number
            .as_i64()
            .map(i128::from)
            .or_else(|| number.as_u64().map(i128::from))
            .or_else(|| {
                number
                    .as_f64()
                    .filter(|f| f.fract() == 0.0)
                    .map(|f| f as i128)
            });
        let Some(integer) = integer else {
            return Err(RuleError::new(
                Rule::Type,
                format!("expected an integer (res_users.id), got {number}"),
            ));
        };
        if integer < 1 {
            return Err(RuleError::new(
                Rule::Minimum,
                format!("must be at least 1, got {number}"),
            ));
        }
        i32::try_from(integer).map(OdooUserId).map_err(|_| {
            RuleError::new(
                Rule::Maximum,
                format!("must be at most {MAX_ODOO_USER_ID} (a PostgreSQL integer), got {number}"),
            )
        })
    }

    /// The id as a number.
    pub fn get(self) -> i32 {
        self.0
    }
}

impl JsonSchema for OdooUserId {
    fn schema_name() -> Cow<'static, str> {
        "OdooUserId".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_ODOO_USER_ID,
            "description": "The Odoo user's id in its instance (res_users.id): a positive PostgreSQL integer.",
            "examples": [7]
        })
    }
}

/// The control characters (Unicode `Cc`: C0, DEL, C1), as inclusive ranges:
/// what neither a login nor an email may hold.
const CONTROL: &[(char, char)] = &[('\u{0}', '\u{1f}'), ('\u{7f}', '\u{9f}')];

/// The JSON Schema pattern of a text without control characters.
pub(crate) fn no_control_pattern() -> String {
    format!("^{}*$", class_without(CONTROL))
}

/// A lowercase uuid, which [`ops_values::OdooLogin`] refuses (it is an auth
/// user id). A JSON Schema `not`, because a pattern that excludes one shape
/// needs a lookahead, which not every regex dialect has.
const LOWERCASE_UUID_PATTERN: &str =
    "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$";

/// The JSON Schema of [`ops_values::OdooLogin`], whose rule `ops-values`
/// owns (the parse is its, this only states it for the schema; a test holds
/// the two together, and to the shared vectors).
pub(crate) struct OdooLoginSchema;

impl JsonSchema for OdooLoginSchema {
    fn schema_name() -> Cow<'static, str> {
        "OdooLogin".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_LOGIN_CHARS,
            "pattern": no_control_pattern(),
            "not": { "pattern": LOWERCASE_UUID_PATTERN },
            "description": "res_users.login exactly as Odoo stores it (Odoo neither lowercases nor trims it): 1 to 254 characters, no control characters (U+0000-U+001F, U+007F-U+009F), and not a lowercase uuid (that is an auth user id).",
            "examples": ["admin", "Ana@Example.com"]
        })
    }
}

/// The JSON Schema of [`ops_values::Environment`], the Odoo instance a user
/// belongs to.
pub(crate) struct OdooInstanceSchema;

impl JsonSchema for OdooInstanceSchema {
    fn schema_name() -> Cow<'static, str> {
        "OdooInstance".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let values: Vec<&str> = Environment::ALL.iter().map(|e| e.as_str()).collect();
        json_schema!({
            "type": "string",
            "enum": values,
            "description": "The Odoo instance (database) the user belongs to.",
            "examples": ["prod"]
        })
    }
}

/// The JSON Schema of a required field that may be null: the partner's
/// email. (schemars makes an `Option` optional, and drops the null when told
/// it is required.)
pub(crate) struct NullableEmailSchema;

impl JsonSchema for NullableEmailSchema {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "NullableOdooEmail".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        generator.subschema_for::<Option<OdooEmail>>()
    }
}

/// The email of an Odoo user's partner (`res_partner.email`), as Odoo stores
/// it: 1 to 254 characters without control characters. It is not checked
/// for an email's shape: Odoo does not check it either, and it is compared
/// (by `identity-map`), never sent to.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct OdooEmail(String);

/// Longest email accepted, in characters: the longest address SMTP carries,
/// and what `ops.odoo_users.odoo_email` holds.
pub const MAX_EMAIL_CHARS: usize = 254;

impl OdooEmail {
    pub(crate) fn parse(text: &str) -> Result<OdooEmail, RuleError> {
        let chars = text.chars().count();
        if chars == 0 {
            return Err(RuleError::new(
                Rule::MinLength,
                "must not be empty; send null for a partner without an email",
            ));
        }
        if chars > MAX_EMAIL_CHARS {
            return Err(RuleError::new(
                Rule::MaxLength,
                format!("must be at most {MAX_EMAIL_CHARS} characters, got {chars}"),
            ));
        }
        if let Some(c) = text.chars().find(|&c| in_ranges(CONTROL, c)) {
            return Err(RuleError::new(
                Rule::Pattern,
                format!(
                    "must not contain control characters, got U+{:04X} in {}",
                    u32::from(c),
                    quoted(text)
                ),
            ));
        }
        Ok(OdooEmail(text.to_owned()))
    }

    /// The email as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl JsonSchema for OdooEmail {
    fn schema_name() -> Cow<'static, str> {
        "OdooEmail".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_EMAIL_CHARS,
            "pattern": no_control_pattern(),
            "description": "The partner's email (res_partner.email) as Odoo stores it: 1 to 254 characters, no control characters (U+0000-U+001F, U+007F-U+009F).",
            "examples": ["ana@example.com"]
        })
    }
}

/// When Odoo made the change an event reports (Odoo's `write_date`), as an
/// RFC 3339 timestamp. It orders the events about one project or one user:
/// the latest change wins, whatever order the deliveries arrive in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OccurredAt(OffsetDateTime);

/// How far past the receiver's clock an `occurred_at` may be, in seconds: the
/// same tolerance as the delivery's own timestamp. A change dated further in
/// the future would win against every real change that follows it.
pub const FUTURE_TOLERANCE_SECONDS: i64 = 5 * 60;

/// The earliest accepted year, as written: older dates are clock errors (a
/// sender whose clock restarted at 1970). The year as written rather than in
/// UTC, so that the JSON Schema's pattern can state the rule exactly.
const EARLIEST_YEAR: i32 = 2000;

/// The most fractional digits of a second: nanoseconds, what the receiver
/// keeps. It also bounds the string, so that no event the schema accepts is
/// too large for the receiver.
const MAX_FRACTION_DIGITS: usize = 9;

/// The `occurred_at` rule as a JSON Schema pattern: an RFC 3339 `date-time`
/// (`T` and `Z` in either case, as §5.6 allows) from the year 2000, with real
/// calendar dates (29 February only in leap years), seconds 00 to 59 and at
/// most nine fractional digits. The pattern states every rule but the one
/// about the receiver's clock, because the `date-time` format alone is only
/// an annotation in JSON Schema 2020-12 unless a validator opts in.
pub(crate) const OCCURRED_AT_PATTERN: &str = concat!(
    "^(",
    // years 2000-9999, every month with its days; 29 February below
    "[2-9][0-9]{3}-((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])|(0[469]|11)-(0[1-9]|[12][0-9]|30)|02-(0[1-9]|1[0-9]|2[0-8]))",
    // leap years: divisible by 4 but not by 100, or by 400
    "|([2-9][0-9](0[48]|[2468][048]|[13579][26])|([2468][048]|[3579][26])00)-02-29",
    ")[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?",
    "([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$",
);

/// The fields of an RFC 3339 `date-time` (§5.6) as written, before the
/// calendar is consulted.
struct DateTimeFields {
    year: i32,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
    nanosecond: u32,
    fraction_digits: usize,
    /// Signed hours and minutes east of UTC.
    offset: (i8, i8),
}

/// A cursor over the bytes of a date-time being read.
struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    /// Exactly `len` ASCII digits, as a number.
    fn digits(&mut self, len: usize) -> Option<u32> {
        let (digits, rest) = self.0.split_at_checked(len)?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.0 = rest;
        Some(
            digits
                .iter()
                .fold(0, |n, digit| n * 10 + u32::from(digit - b'0')),
        )
    }

    /// Exactly `len` digits, at most `max`.
    fn number(&mut self, len: usize, max: u32) -> Option<u8> {
        self.digits(len)
            .filter(|&n| n <= max)
            .and_then(|n| u8::try_from(n).ok())
    }

    /// The next byte, if it is one of `bytes`.
    fn one_of(&mut self, bytes: &[u8]) -> Option<u8> {
        let (&first, rest) = self.0.split_first()?;
        if !bytes.contains(&first) {
            return None;
        }
        self.0 = rest;
        Some(first)
    }
}

/// Reads exactly RFC 3339's `date-time` grammar (§5.6), nothing more: `T`
/// and no other separator, an offset always. The grammar allows leap
/// seconds and any number of fractional digits; those are returned for the
/// caller to judge.
fn rfc3339_fields(text: &str) -> Option<DateTimeFields> {
    let mut at = Cursor(text.as_bytes());
    let year = i32::try_from(at.digits(4)?).ok()?;
    at.one_of(b"-")?;
    let month = at.number(2, 12)?;
    at.one_of(b"-")?;
    let day = at.number(2, 31)?;
    at.one_of(b"Tt")?;
    let hour = at.number(2, 23)?;
    at.one_of(b":")?;
    let minute = at.number(2, 59)?;
    at.one_of(b":")?;
    let second = at.number(2, 60)?;
    let mut nanosecond = 0;
    let mut fraction_digits = 0;
    if at.one_of(b".").is_some() {
        let mut scale = 100_000_000;
        while let Some(digit) = at.one_of(b"0123456789") {
            // Digits past the ninth are read (the grammar allows them) and
            // counted, but below a nanosecond they change nothing.
            nanosecond += u32::from(digit - b'0') * scale;
            scale /= 10;
            fraction_digits += 1;
        }
        if fraction_digits == 0 {
            return None;
        }
    }
    let offset = match at.one_of(b"Zz+-")? {
        b'Z' | b'z' => (0, 0),
        sign => {
            let hours = i8::try_from(at.number(2, 23)?).ok()?;
            at.one_of(b":")?;
            let minutes = i8::try_from(at.number(2, 59)?).ok()?;
            if sign == b'-' {
                (-hours, -minutes)
            } else {
                (hours, minutes)
            }
        }
    };
    if !at.0.is_empty() {
        return None;
    }
    Some(DateTimeFields {
        year,
        month,
        day,
        hour,
        minute,
        second,
        nanosecond,
        fraction_digits,
        offset,
    })
}

impl OccurredAt {
    pub(crate) fn parse(text: &str, now: i64) -> Result<OccurredAt, RuleError> {
        let not_rfc3339 = || {
            RuleError::new(
                Rule::Format,
                format!(
                    "expected an RFC 3339 date-time such as \"2026-11-26T10:00:00.123456Z\", got {}",
                    quoted(text)
                ),
            )
        };
        let fields = rfc3339_fields(text).ok_or_else(not_rfc3339)?;
        let month = Month::try_from(fields.month).map_err(|_| not_rfc3339())?;
        // 30 February and 31 April are grammatical but not dates.
        let date =
            Date::from_calendar_date(fields.year, month, fields.day).map_err(|_| not_rfc3339())?;
        if fields.year < EARLIEST_YEAR {
            return Err(RuleError::new(
                Rule::Pattern,
                format!(
                    "must be in the year {EARLIEST_YEAR} or later, got {}",
                    quoted(text)
                ),
            ));
        }
        if fields.second == 60 {
            // RFC 3339 allows a leap second, but Odoo's dates (Python's
            // datetime) never hold one and the receiver could not order it.
            return Err(RuleError::new(
                Rule::Pattern,
                format!("must not be a leap second (:60), got {}", quoted(text)),
            ));
        }
        if fields.fraction_digits > MAX_FRACTION_DIGITS {
            return Err(RuleError::new(
                Rule::Pattern,
                format!(
                    "must have at most {MAX_FRACTION_DIGITS} fractional digits, got {}",
                    fields.fraction_digits
                ),
            ));
        }
        let at = Time::from_hms_nano(fields.hour, fields.minute, fields.second, fields.nanosecond)
            .ok()
            .zip(UtcOffset::from_hms(fields.offset.0, fields.offset.1, 0).ok())
            .map(|(time, offset)| PrimitiveDateTime::new(date, time).assume_offset(offset))
            .ok_or_else(not_rfc3339)?;
        let too_late = RuleError::new(
            Rule::Maximum,
            format!(
                "is more than {FUTURE_TOLERANCE_SECONDS} seconds in the future; check the sender's clock"
            ),
        );
        if at.unix_timestamp() > now.saturating_add(FUTURE_TOLERANCE_SECONDS) {
            return Err(too_late);
        }
        // Only a date past the end of 9999 in UTC has no UTC form, and that
        // is in the future of any clock this runs on.
        at.checked_to_offset(UtcOffset::UTC)
            .map(OccurredAt)
            .ok_or(too_late)
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
        // Formatting a UTC date between the years 1999 (2000 as written,
        // east of UTC) and 9999 cannot fail; the fallback is never reached
        // but keeps this free of panics.
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
            "pattern": OCCURRED_AT_PATTERN,
            "description": "When Odoo made the change (its write_date): an RFC 3339 date-time from the year 2000 (as written), T and Z in either case, Z or a +hh:mm/-hh:mm offset, seconds 00-59 (no leap second), at most 9 fractional digits. Orders the events about one project or one user: the latest change wins. One rule JSON Schema cannot state: at most 5 minutes (300 s) ahead of the receiver's clock; a later date is refused with 422, rule \"maximum\".",
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
            "pattern": name_pattern(),
            "description": "The project's name in Odoo: 1 to 255 characters, at least one not whitespace, no control characters (U+0000-U+001F, U+007F-U+009F) and no line or paragraph separator (U+2028, U+2029).",
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
            assert_eq!(
                ProjectId::parse(bad).unwrap_err().rule.as_str(),
                "pattern",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn project_names() {
        for ok in [
            "Alpha",
            "Ünïcödé 項目",
            "  padded  ",
            "\u{feff}",
            "a\u{a0}b",
            "emoji 🚀",
            "\u{10ffff}",
        ] {
            assert!(ProjectName::parse(ok).is_ok(), "{ok:?}");
        }
        assert!(ProjectName::parse(&"é".repeat(255)).is_ok());
        assert!(ProjectName::parse(&"🚀".repeat(255)).is_ok());
        assert_eq!(
            ProjectName::parse(&"é".repeat(256))
                .unwrap_err()
                .rule
                .as_str(),
            "maxLength"
        );
        assert_eq!(
            ProjectName::parse("").unwrap_err().rule.as_str(),
            "minLength"
        );
        for bad in [
            "   ",
            "\u{a0}",
            "\u{3000}\u{2003}",
            "a\nb",
            "a\u{0}b",
            "x\u{1}",
            "tab\there",
            "\u{7f}",
            "a\u{85}b",
            "a\u{9f}",
            "line\u{2028}separator",
            "paragraph\u{2029}",
            "trailing newline\n",
        ] {
            assert_eq!(
                ProjectName::parse(bad).unwrap_err().rule.as_str(),
                "pattern",
                "{bad:?}"
            );
        }
    }

    /// The schema's character classes are the Rust rule, for every character
    /// there is.
    #[test]
    fn name_classes_are_the_rule() {
        for c in (0..=0x10_ffff).filter_map(char::from_u32) {
            let forbidden = c.is_control() || c == '\u{2028}' || c == '\u{2029}';
            assert_eq!(in_ranges(NAME_FORBIDDEN, c), forbidden, "{c:?}");
            assert_eq!(
                in_ranges(NAME_BLANK, c),
                forbidden || c.is_whitespace(),
                "{c:?}"
            );
        }
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
            assert_eq!(
                OdooVersion::parse(bad).unwrap_err().rule.as_str(),
                "pattern",
                "{bad:?}"
            );
        }
    }

    const NOW: i64 = 1_795_000_000; // 2026-11-18

    #[test]
    fn occurred_at() {
        for ok in [
            "2026-11-18T08:00:00Z",
            "2026-11-18T08:00:00.123456Z",
            "2026-11-18T08:00:00.1Z",
            "2026-11-18T08:00:00.123456789Z",
            "2026-11-18T10:00:00+02:00",
            "2026-11-18T08:00:00-00:00",
            "2026-11-17T08:01:00-23:59",
            "2026-11-18t08:00:00z",
            "2000-01-01T00:00:00Z",
            // 1999-12-31T00:01:00Z: the year as written counts.
            "2000-01-01T00:00:00+23:59",
            "2024-02-29T12:00:00Z",
            "2000-02-29T12:00:00Z",
            "2026-01-31T23:59:59.999999999Z",
        ] {
            assert!(OccurredAt::parse(ok, NOW).is_ok(), "{ok}");
        }
        for (bad, rule) in [
            ("", "format"),
            ("2026-11-18", "format"),
            ("2026-11-18 08:00:00", "format"),
            ("2026-11-18 08:00:00Z", "format"),
            ("2026-11-18_08:00:00Z", "format"),
            ("2026-11-18T08:00:00", "format"),
            ("2026-11-18T08:00Z", "format"),
            ("2026-11-18T08:00:00.Z", "format"),
            ("2026-11-18T08:00:00+0200", "format"),
            ("2026-11-18T08:00:00+24:00", "format"),
            ("2026-11-18T08:00:00+02:60", "format"),
            ("2026-11-18T24:00:00Z", "format"),
            ("2026-11-18T08:60:00Z", "format"),
            ("2026-11-18T08:00:61Z", "format"),
            ("2026-13-01T08:00:00Z", "format"),
            ("2026-02-29T08:00:00Z", "format"),
            ("2100-02-29T08:00:00Z", "format"),
            ("2026-04-31T08:00:00Z", "format"),
            ("2026-11-18T08:00:00Z ", "format"),
            ("2026-11-18T08:00:00Z\n", "format"),
            (" 2026-11-18T08:00:00Z", "format"),
            ("+2026-11-18T08:00:00Z", "format"),
            ("２０２６-11-18T08:00:00Z", "format"),
            ("yesterday", "format"),
            ("1999-12-31T23:59:59Z", "pattern"),
            ("0000-01-01T00:00:00Z", "pattern"),
            ("1970-01-01T00:00:00Z", "pattern"),
            ("2016-12-31T23:59:60Z", "pattern"),
            ("2026-11-18T08:00:00.1234567890Z", "pattern"),
            ("2030-01-01T00:00:00Z", "maximum"),
            ("9999-12-31T23:59:59-23:59", "maximum"),
        ] {
            assert_eq!(
                OccurredAt::parse(bad, NOW).unwrap_err().rule.as_str(),
                rule,
                "{bad:?}"
            );
        }
        let edge = OccurredAt::from_unix(NOW + FUTURE_TOLERANCE_SECONDS)
            .unwrap()
            .to_rfc3339();
        assert!(OccurredAt::parse(&edge, NOW).is_ok(), "{edge}");
        let long = format!("2026-11-18T08:00:00.{}Z", "1".repeat(60_000));
        assert_eq!(
            OccurredAt::parse(&long, NOW).unwrap_err().rule.as_str(),
            "pattern"
        );
    }

    #[test]
    fn occurred_at_never_panics_on_any_clock() {
        for now in [i64::MIN, -1, 0, NOW, i64::MAX] {
            for text in [
                "9999-12-31T23:59:59.999999999-23:59",
                "2000-01-01T00:00:00+23:59",
                "2026-11-18T08:00:00Z",
            ] {
                if let Ok(at) = OccurredAt::parse(text, now) {
                    assert!(at.to_rfc3339().ends_with('Z'), "{text} at {now}");
                }
            }
        }
    }

    #[test]
    fn occurred_at_keeps_nanoseconds_and_utc() {
        let at = OccurredAt::parse("2000-01-01T00:00:00.123456789+23:59", NOW).unwrap();
        assert_eq!(at.to_rfc3339(), "1999-12-31T00:01:00.123456789Z");
        let lower = OccurredAt::parse("2026-11-18t08:00:00z", NOW).unwrap();
        assert_eq!(lower.to_rfc3339(), "2026-11-18T08:00:00Z");
    }

    #[test]
    fn occurred_at_is_normalised_to_utc() {
        let a = OccurredAt::parse("2026-11-18T10:00:00+02:00", NOW).unwrap();
        let b = OccurredAt::parse("2026-11-18T08:00:00Z", NOW).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_rfc3339(), "2026-11-18T08:00:00Z");
    }

    /// The JSON Schema's patterns, run by a regex engine whose `$` and
    /// classes mean what ECMA-262's do, against the rules they describe.
    mod schema_patterns {
        use super::*;
        use proptest::prelude::*;
        use regex::Regex;

        /// Far enough ahead that no date is in the future: this is about
        /// the rules JSON Schema can state.
        const LATE: i64 = i64::MAX;

        fn name_regex() -> Regex {
            Regex::new(&name_pattern()).unwrap()
        }

        fn date_regex() -> Regex {
            Regex::new(OCCURRED_AT_PATTERN).unwrap()
        }

        fn schema_accepts_name(re: &Regex, text: &str) -> bool {
            (1..=MAX_NAME_CHARS).contains(&text.chars().count()) && re.is_match(text)
        }

        /// What the receiver says, or `None` for the one rule the schema
        /// cannot state.
        fn receiver_accepts_date(text: &str) -> Option<bool> {
            match OccurredAt::parse(text, LATE) {
                Ok(_) => Some(true),
                Err(RuleError {
                    rule: Rule::Maximum,
                    ..
                }) => None,
                Err(_) => Some(false),
            }
        }

        fn name_char() -> impl Strategy<Value = char> {
            prop_oneof![
                any::<char>(),
                prop::sample::select(vec![
                    ' ', '\t', '\n', '\r', '\u{0}', '\u{1f}', '\u{20}', '\u{7f}', '\u{85}',
                    '\u{9f}', '\u{a0}', '\u{1680}', '\u{180e}', '\u{2000}', '\u{200a}', '\u{200b}',
                    '\u{2028}', '\u{2029}', '\u{202f}', '\u{205f}', '\u{3000}', '\u{feff}',
                    '\u{ffff}', 'a', 'é', '項',
                ]),
            ]
        }

        fn two(range: std::ops::RangeInclusive<u32>) -> impl Strategy<Value = String> {
            range.prop_map(|n| format!("{n:02}"))
        }

        /// Strings shaped like date-times, each part sometimes out of range
        /// or malformed.
        fn date_like() -> impl Strategy<Value = String> {
            let year = prop_oneof![
                (1990u32..=2030).prop_map(|y| y.to_string()),
                (0u32..=9999).prop_map(|y| format!("{y:04}")),
                Just("199".to_owned()),
                Just("20260".to_owned()),
            ];
            let fraction =
                prop_oneof![Just(String::new()), Just(".".to_owned()), "\\.[0-9]{1,12}",];
            let offset = prop_oneof![
                Just("Z".to_owned()),
                Just("z".to_owned()),
                Just(String::new()),
                (
                    prop::sample::select(vec!["+", "-"]),
                    two(0..=25),
                    two(0..=61)
                )
                    .prop_map(|(sign, h, m)| format!("{sign}{h}:{m}")),
                Just("+0200".to_owned()),
            ];
            let separator = prop::sample::select(vec!["T", "t", " ", "_", "x"]);
            let date = (year, two(0..=13), two(0..=32));
            let time = (two(0..=25), two(0..=61), two(0..=61));
            let edge = prop::sample::select(vec!["", "", "", " ", "\n", "0"]);
            (date, separator, time, fraction, offset, edge).prop_map(
                |((y, mo, d), sep, (h, mi, s), fraction, offset, edge)| {
                    format!("{y}-{mo}-{d}{sep}{h}:{mi}:{s}{fraction}{offset}{edge}")
                },
            )
        }

        proptest! {
            #[test]
            fn the_name_pattern_is_the_name_rule(
                chars in prop::collection::vec(name_char(), 0..6),
                repeat in prop::sample::select(vec![1usize, 1, 1, 51, 52]),
            ) {
                let text: String = chars.iter().collect::<String>().repeat(repeat);
                prop_assert_eq!(
                    schema_accepts_name(&name_regex(), &text),
                    ProjectName::parse(&text).is_ok(),
                    "{:?}", text
                );
            }

            #[test]
            fn the_date_pattern_is_the_date_rule(text in date_like()) {
                if let Some(accepted) = receiver_accepts_date(&text) {
                    prop_assert_eq!(date_regex().is_match(&text), accepted, "{:?}", text);
                }
            }

            #[test]
            fn every_date_the_pattern_makes_is_accepted(
                text in proptest::string::string_regex(
                    OCCURRED_AT_PATTERN.trim_start_matches('^').trim_end_matches('$')
                ).unwrap()
            ) {
                prop_assert_eq!(receiver_accepts_date(&text), Some(true), "{:?}", text);
            }

            #[test]
            fn every_name_the_pattern_makes_is_accepted(
                text in proptest::string::string_regex(
                    name_pattern().trim_start_matches('^').trim_end_matches('$')
                ).unwrap()
            ) {
                prop_assume!(text.chars().count() <= MAX_NAME_CHARS);
                prop_assert!(ProjectName::parse(&text).is_ok(), "{:?}", text);
            }

            #[test]
            fn the_login_schema_is_the_login_rule(
                chars in prop::collection::vec(login_char(), 0..6),
                repeat in prop::sample::select(vec![1usize, 1, 1, 50, 51, 127]),
            ) {
                let text: String = chars.iter().collect::<String>().repeat(repeat);
                prop_assert_eq!(
                    schema_accepts_login(&text),
                    ops_values::OdooLogin::parse(&text).is_ok(),
                    "{:?}", text
                );
            }

            #[test]
            fn the_login_schema_and_rule_agree_on_uuids(
                uuid in "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
            ) {
                prop_assert_eq!(
                    schema_accepts_login(&uuid),
                    ops_values::OdooLogin::parse(&uuid).is_ok(),
                    "{:?}", uuid
                );
            }

            #[test]
            fn the_email_schema_is_the_email_rule(
                chars in prop::collection::vec(login_char(), 0..6),
                repeat in prop::sample::select(vec![1usize, 1, 1, 50, 51, 127]),
            ) {
                let text: String = chars.iter().collect::<String>().repeat(repeat);
                let schema = (1..=MAX_EMAIL_CHARS).contains(&text.chars().count())
                    && Regex::new(&no_control_pattern()).unwrap().is_match(&text);
                prop_assert_eq!(schema, OdooEmail::parse(&text).is_ok(), "{:?}", text);
            }
        }

        /// What the schema of a login accepts: its lengths, its pattern and
        /// its `not`.
        fn schema_accepts_login(text: &str) -> bool {
            let lengths = (1..=MAX_LOGIN_CHARS).contains(&text.chars().count());
            let pattern = Regex::new(&no_control_pattern()).unwrap().is_match(text);
            let uuid = Regex::new(LOWERCASE_UUID_PATTERN).unwrap().is_match(text);
            lengths && pattern && !uuid
        }

        fn login_char() -> impl Strategy<Value = char> {
            prop_oneof![
                any::<char>(),
                prop::sample::select(vec![
                    '\u{0}', '\t', '\n', '\r', '\u{1f}', ' ', '~', '\u{7f}', '\u{85}', '\u{9f}',
                    '\u{a0}', '\u{2028}', '\u{feff}', 'a', 'A', '@', '.', '-', '0', 'f', 'é', 'İ',
                ]),
            ]
        }

        /// The login schema against the vectors that `ops-values` and the
        /// database's CHECK are held to: all three say the same of each.
        #[test]
        fn the_login_schema_holds_the_shared_vectors() {
            let path = concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../supabase/tests/vectors/records.json"
            );
            let document: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
            let mut seen = (0, 0);
            for vector in document["vectors"].as_array().unwrap() {
                if vector["rule"] != "odoo_login" {
                    continue;
                }
                let value = vector["value"].as_str().unwrap();
                let valid = vector["valid"].as_bool().unwrap();
                assert_eq!(schema_accepts_login(value), valid, "{vector}");
                if valid {
                    seen.0 += 1;
                } else {
                    seen.1 += 1;
                }
            }
            assert!(
                seen.0 >= 3 && seen.1 >= 3,
                "too few login vectors: {seen:?}"
            );
        }
    }

    #[test]
    fn odoo_user_ids() {
        let id = |json: &str| OdooUserId::parse(&serde_json::from_str(json).unwrap());
        for (ok, expect) in [
            ("1", 1),
            ("7", 7),
            ("2147483647", i32::MAX),
            // JSON Schema's integer: a number with no fraction.
            ("7.0", 7),
            ("1e2", 100),
        ] {
            assert_eq!(id(ok).unwrap().get(), expect, "{ok}");
        }
        for (bad, rule) in [
            ("0", "minimum"),
            ("-1", "minimum"),
            ("-0.0", "minimum"),
            ("-9223372036854775808", "minimum"),
            ("2147483648", "maximum"),
            ("18446744073709551615", "maximum"),
            ("1e300", "maximum"),
            ("1.5", "type"),
            ("\"7\"", "type"),
            ("null", "type"),
            ("true", "type"),
            ("[7]", "type"),
        ] {
            assert_eq!(id(bad).unwrap_err().rule.as_str(), rule, "{bad}");
        }
    }

    #[test]
    fn odoo_emails() {
        for ok in [
            "ana@example.com",
            "Ana@Example.COM",
            " ana@example.com ",
            "not an address",
            "josé@ejemplo.es",
            "a\u{2028}b",
        ] {
            assert_eq!(OdooEmail::parse(ok).unwrap().as_str(), ok);
        }
        assert!(OdooEmail::parse(&"é".repeat(254)).is_ok());
        for (bad, rule) in [
            ("", "minLength"),
            ("a\tb@example.com", "pattern"),
            ("ana@example.com\n", "pattern"),
            ("\u{0}", "pattern"),
            ("a\u{7f}", "pattern"),
            ("a\u{85}", "pattern"),
        ] {
            assert_eq!(
                OdooEmail::parse(bad).unwrap_err().rule.as_str(),
                rule,
                "{bad:?}"
            );
        }
        assert_eq!(
            OdooEmail::parse(&"é".repeat(255))
                .unwrap_err()
                .rule
                .as_str(),
            "maxLength"
        );
    }

    #[test]
    fn long_values_are_cut_in_messages() {
        let long = "x".repeat(10_000);
        let RuleError { message, .. } = ProjectId::parse(&long).unwrap_err();
        assert!(message.len() < 200, "{}", message.len());
    }
}
