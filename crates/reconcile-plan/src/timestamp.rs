//! Instants as PostgreSQL holds them: UTC, microseconds.

use crate::error::{Error, ErrorKind};
use ops_values::quoted;
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use time::format_description::well_known::Rfc3339;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

pub(crate) const MICROS_PER_SECOND: i64 = 1_000_000;

// The range RFC 3339 can write (four-digit years), which is also inside
// PostgreSQL's: 0000-01-01T00:00:00Z up to 9999-12-31T23:59:59.999999Z.
const MIN_MICROS: i64 = -62_167_219_200 * MICROS_PER_SECOND;
const MAX_MICROS: i64 = 253_402_300_800 * MICROS_PER_SECOND - 1;

/// An instant in UTC with microsecond precision: what a `timestamptz` holds,
/// and what Odoo's naive UTC `write_date` means.
///
/// On the wire (serde) it is an RFC 3339 string; any offset is accepted and
/// converted to UTC, and output is always `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
/// Microseconds, not seconds: an Odoo `write_date` has them, and the
/// ordering rule compares versions for equality, so a rounded instant would
/// be another version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    micros: i64,
}

impl Timestamp {
    /// The earliest instant: 0000-01-01T00:00:00Z.
    pub const MIN: Timestamp = Timestamp { micros: MIN_MICROS };

    /// The instant `micros` microseconds after 1970-01-01T00:00:00Z.
    pub fn from_unix_micros(micros: i64) -> Result<Timestamp, Error> {
        if (MIN_MICROS..=MAX_MICROS).contains(&micros) {
            Ok(Timestamp { micros })
        } else {
            Err(Error::new(
                ErrorKind::Timestamp,
                "",
                format!("{micros} µs since the epoch is outside the years 0000 to 9999"),
            ))
        }
    }

    /// Microseconds since 1970-01-01T00:00:00Z.
    pub fn unix_micros(self) -> i64 {
        self.micros
    }

    /// Whole seconds since the epoch, rounded down: what `ops-events` compares
    /// with its clock.
    pub(crate) fn unix_seconds(self) -> i64 {
        self.micros.div_euclid(MICROS_PER_SECOND)
    }

    /// This instant moved back by `micros`, no earlier than [`Timestamp::MIN`]:
    /// a cut-off before the year 0000 keeps every row anyway.
    pub(crate) fn saturating_sub_micros(self, micros: i64) -> Timestamp {
        Timestamp {
            micros: self.micros.saturating_sub(micros).max(MIN_MICROS),
        }
    }

    /// Parses an RFC 3339 timestamp, e.g. `2026-11-26T10:00:00.123456+01:00`.
    ///
    /// More than six fraction digits that are not zeros are refused rather
    /// than rounded: PostgreSQL could not have produced them, and a rounded
    /// version could compare equal to another.
    pub fn parse_rfc3339(text: &str) -> Result<Timestamp, Error> {
        let parsed = OffsetDateTime::parse(text, &Rfc3339).map_err(|err| {
            Error::new(
                ErrorKind::Timestamp,
                "",
                format!(
                    "expected an RFC 3339 timestamp, got {} ({err})",
                    quoted(text)
                ),
            )
        })?;
        from_nanos(parsed.unix_timestamp_nanos(), text)
    }

    /// Parses a `timestamp without time zone` as PostgreSQL prints it
    /// (DateStyle ISO: `2026-11-26 10:00:00.123456`, or with a `T` as
    /// `to_json` writes it), as UTC: Odoo writes `write_date` as
    /// `now() at time zone 'UTC'`.
    ///
    /// Exactly a four-digit year, month, day, hours, minutes, seconds and up
    /// to six fraction digits. An offset is refused: it means the value was
    /// cast to `timestamptz` on the way, under a session time zone this
    /// cannot know. So are `infinity`, years before 1 or after 9999 (`BC`,
    /// five digits), a leap second and dates that do not exist.
    pub fn parse_odoo(text: &str) -> Result<Timestamp, Error> {
        let invalid = || {
            Error::new(
                ErrorKind::Timestamp,
                "",
                format!(
                    "expected a timestamp without time zone such as \"2026-11-26 10:00:00.123456\", got {}",
                    quoted(text)
                ),
            )
        };
        let mut at = Cursor(text.as_bytes());
        let year = at.digits(4).ok_or_else(invalid)?;
        at.byte(b"-").ok_or_else(invalid)?;
        let month = at.digits(2).ok_or_else(invalid)?;
        at.byte(b"-").ok_or_else(invalid)?;
        let day = at.digits(2).ok_or_else(invalid)?;
        at.byte(b" T").ok_or_else(invalid)?;
        let hour = at.digits(2).ok_or_else(invalid)?;
        at.byte(b":").ok_or_else(invalid)?;
        let minute = at.digits(2).ok_or_else(invalid)?;
        at.byte(b":").ok_or_else(invalid)?;
        let second = at.digits(2).ok_or_else(invalid)?;
        let mut micros = 0;
        if at.byte(b".").is_some() {
            let mut digits = 0;
            while let Some(digit) = at.byte(b"0123456789") {
                digits += 1;
                if digits > 6 {
                    return Err(invalid());
                }
                micros = micros * 10 + u32::from(digit - b'0');
            }
            if digits == 0 {
                return Err(invalid());
            }
            micros *= 10u32.pow(6 - digits);
        }
        if !at.0.is_empty() || year == 0 {
            return Err(invalid());
        }
        let month = u8::try_from(month)
            .ok()
            .and_then(|m| Month::try_from(m).ok())
            .ok_or_else(invalid)?;
        let date = i32::try_from(year)
            .ok()
            .zip(u8::try_from(day).ok())
            .and_then(|(year, day)| Date::from_calendar_date(year, month, day).ok())
            .ok_or_else(invalid)?;
        let time = u8::try_from(hour)
            .ok()
            .zip(u8::try_from(minute).ok())
            .zip(u8::try_from(second).ok())
            .and_then(|((h, m), s)| Time::from_hms_micro(h, m, s, micros).ok())
            .ok_or_else(invalid)?;
        let instant = PrimitiveDateTime::new(date, time).assume_utc();
        from_nanos(instant.unix_timestamp_nanos(), text)
    }
}

fn from_nanos(nanos: i128, text: &str) -> Result<Timestamp, Error> {
    if nanos % 1_000 != 0 {
        return Err(Error::new(
            ErrorKind::Timestamp,
            "",
            format!(
                "{} is more precise than a microsecond, which PostgreSQL cannot hold",
                quoted(text)
            ),
        ));
    }
    let micros = i64::try_from(nanos / 1_000).map_err(|_| {
        Error::new(
            ErrorKind::Timestamp,
            "",
            format!("{} is out of range", quoted(text)),
        )
    })?;
    Timestamp::from_unix_micros(micros).map_err(|err| {
        Error::new(
            ErrorKind::Timestamp,
            "",
            format!("{}: {}", quoted(text), err.message()),
        )
    })
}

/// A cursor over the bytes of a timestamp being read.
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

    /// The next byte, if it is one of `bytes`.
    fn byte(&mut self, bytes: &[u8]) -> Option<u8> {
        let (&first, rest) = self.0.split_first()?;
        if !bytes.contains(&first) {
            return None;
        }
        self.0 = rest;
        Some(first)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Every Timestamp is inside the years 0000 to 9999, which time
        // represents; the fallback is never reached but keeps this free of
        // panics.
        match OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.micros) * 1_000) {
            Ok(at) => write!(
                f,
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
                at.year(),
                u8::from(at.month()),
                at.day(),
                at.hour(),
                at.minute(),
                at.second(),
                at.microsecond()
            ),
            Err(_) => write!(f, "{}µs", self.micros),
        }
    }
}

impl std::str::FromStr for Timestamp {
    type Err = Error;

    /// [`Timestamp::parse_rfc3339`].
    fn from_str(text: &str) -> Result<Timestamp, Error> {
        Timestamp::parse_rfc3339(text)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Timestamp, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 timestamp")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Timestamp, E> {
                Timestamp::parse_rfc3339(text).map_err(|err| E::custom(err.message()))
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odoo_write_dates_as_postgresql_prints_them() {
        for (text, expect) in [
            ("2026-11-26 10:00:00", "2026-11-26T10:00:00.000000Z"),
            ("2026-11-26 10:00:00.123456", "2026-11-26T10:00:00.123456Z"),
            ("2026-11-26 10:00:00.5", "2026-11-26T10:00:00.500000Z"),
            ("2026-11-26T10:00:00.000001", "2026-11-26T10:00:00.000001Z"),
            ("2024-02-29 23:59:59.999999", "2024-02-29T23:59:59.999999Z"),
            ("0001-01-01 00:00:00", "0001-01-01T00:00:00.000000Z"),
            ("9999-12-31 23:59:59.999999", "9999-12-31T23:59:59.999999Z"),
        ] {
            assert_eq!(Timestamp::parse_odoo(text).unwrap().to_string(), expect);
        }
        for bad in [
            "",
            "2026-11-26",
            "2026-11-26 10:00",
            "2026-11-26 10:00:00.",
            "2026-11-26 10:00:00.1234567",
            "2026-11-26 10:00:00+00",
            "2026-11-26 10:00:00Z",
            "2026-11-26 10:00:00 BC",
            "0000-01-01 00:00:00",
            "10000-01-01 00:00:00",
            "infinity",
            "-infinity",
            "2026-02-29 10:00:00",
            "2026-13-01 10:00:00",
            "2026-11-26 24:00:00",
            "2026-11-26 10:60:00",
            "2026-11-26 10:00:60",
            " 2026-11-26 10:00:00",
            "2026-11-26 10:00:00 ",
            "2026-11-26_10:00:00",
            "２０２６-11-26 10:00:00",
        ] {
            assert_eq!(
                Timestamp::parse_odoo(bad).unwrap_err().kind(),
                ErrorKind::Timestamp,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn rfc3339_is_converted_to_utc_and_keeps_microseconds() {
        let a = Timestamp::parse_rfc3339("2026-11-26T11:00:00.5+01:00").unwrap();
        assert_eq!(a.to_string(), "2026-11-26T10:00:00.500000Z");
        assert_eq!(
            a,
            Timestamp::parse_rfc3339("2026-11-26T10:00:00.5Z").unwrap()
        );
        assert!(Timestamp::parse_rfc3339("2026-11-26T10:00:00.1234567Z").is_err());
        assert!(Timestamp::parse_rfc3339("2026-11-26T10:00:00.1234560Z").is_ok());
        assert!(Timestamp::parse_rfc3339("2026-11-26 10:00:00").is_err());
        assert!(Timestamp::parse_rfc3339("0000-01-01T00:00:00+00:01").is_err());
    }

    #[test]
    fn the_range_is_the_years_0000_to_9999() {
        assert!(Timestamp::from_unix_micros(MIN_MICROS).is_ok());
        assert!(Timestamp::from_unix_micros(MIN_MICROS - 1).is_err());
        assert!(Timestamp::from_unix_micros(MAX_MICROS).is_ok());
        assert!(Timestamp::from_unix_micros(MAX_MICROS + 1).is_err());
        assert_eq!(
            Timestamp::MIN.saturating_sub_micros(i64::MAX),
            Timestamp::MIN
        );
        assert_eq!(
            Timestamp::from_unix_micros(-1).unwrap().unix_seconds(),
            -1,
            "rounded down, as ops-events rounds"
        );
    }
}
