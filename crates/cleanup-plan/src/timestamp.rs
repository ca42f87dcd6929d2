//! Instants as PostgreSQL's `timestamptz` holds them: UTC, microseconds.

use crate::error::{Error, ErrorKind};
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

pub(crate) const MICROS_PER_SECOND: i64 = 1_000_000;
pub(crate) const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;

// The range RFC 3339 can write (four-digit years), which is also inside
// PostgreSQL's: 0000-01-01T00:00:00Z up to 9999-12-31T23:59:59.999999Z.
const MIN_MICROS: i64 = -62_167_219_200 * MICROS_PER_SECOND;
const MAX_MICROS: i64 = 253_402_300_800 * MICROS_PER_SECOND - 1;

/// An instant in UTC with microsecond precision: a `timestamptz` value.
///
/// On the wire (serde) it is an RFC 3339 string. Any offset is accepted and
/// converted to UTC; output is always `YYYY-MM-DDTHH:MM:SS.ffffffZ`, six
/// fraction digits, so the same instant always gives the same archive bytes
/// whatever format the database layer handed in. Microseconds, not seconds:
/// an archived row must restore to exactly the row that was deleted, and
/// `ops.run_events`' primary key includes `created_at`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    micros: i64,
}

impl Timestamp {
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

    /// The instant `seconds` seconds after 1970-01-01T00:00:00Z.
    pub fn from_unix_seconds(seconds: i64) -> Result<Timestamp, Error> {
        match seconds.checked_mul(MICROS_PER_SECOND) {
            Some(micros) => Timestamp::from_unix_micros(micros),
            None => Err(Error::new(
                ErrorKind::Timestamp,
                "",
                format!("{seconds} s since the epoch is outside the years 0000 to 9999"),
            )),
        }
    }

    /// Parses an RFC 3339 timestamp, e.g. `2026-02-29T03:00:00.5+01:00`.
    ///
    /// More than six fraction digits that are not zeros are refused rather
    /// than rounded: PostgreSQL could not have produced them, and rounding
    /// would archive a value that differs from the row.
    pub fn parse(text: &str) -> Result<Timestamp, Error> {
        let parsed = OffsetDateTime::parse(text, &Rfc3339).map_err(|err| {
            Error::new(
                ErrorKind::Timestamp,
                "",
                format!("expected an RFC 3339 timestamp, got {text:?} ({err})"),
            )
        })?;
        let nanos = parsed.unix_timestamp_nanos();
        if nanos % 1_000 != 0 {
            return Err(Error::new(
                ErrorKind::Timestamp,
                "",
                format!(
                    "{text:?} is more precise than a microsecond, which timestamptz cannot hold"
                ),
            ));
        }
        // The Rfc3339 parser only accepts four-digit years, so this fits.
        let micros = i64::try_from(nanos / 1_000).map_err(|_| {
            Error::new(
                ErrorKind::Timestamp,
                "",
                format!("{text:?} is out of range"),
            )
        })?;
        Timestamp::from_unix_micros(micros)
    }

    /// Microseconds since 1970-01-01T00:00:00Z.
    pub fn unix_micros(self) -> i64 {
        self.micros
    }

    /// The instant `days` whole days (of 86,400 s: UTC has no DST) before
    /// this one, as raw microseconds. Raw because the result is only
    /// compared, and a cut-off before the year 0000 must still compare.
    pub(crate) fn micros_days_before(self, days: u32) -> i64 {
        self.micros - i64::from(days) * MICROS_PER_DAY
    }

    /// Days since 1970-01-01 (negative before), UTC.
    pub(crate) fn day_index(self) -> i64 {
        self.micros.div_euclid(MICROS_PER_DAY)
    }

    /// The calendar month, as `year * 12 + (month - 1)`.
    pub(crate) fn month_index(self) -> i64 {
        let (year, month, _) = civil_from_days(self.day_index());
        year * 12 + i64::from(month) - 1
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (year, month, day) = civil_from_days(self.day_index());
        let in_day = self.micros.rem_euclid(MICROS_PER_DAY);
        let seconds = in_day / MICROS_PER_SECOND;
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
            seconds / 3600,
            seconds / 60 % 60,
            seconds % 60,
            in_day % MICROS_PER_SECOND
        )
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
                Timestamp::parse(text).map_err(|err| E::custom(err.message()))
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

/// The proleptic Gregorian date of a day count since 1970-01-01:
/// `(year, month 1-12, day 1-31)`. Integer arithmetic only (Howard
/// Hinnant's `civil_from_days`): it runs once per row on million-row
/// inputs, and it keeps month buckets independent of any calendar library,
/// which the tests use as the reference instead.
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    // Months counted from March, so that the leap day is the year's last.
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    // Both are in 1..=31 and 1..=12 by construction.
    (year, month as u32, day as u32)
}

/// The inverse of [`civil_from_days`].
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month = i64::from(month);
    let month_from_march = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The first instant of a month index (see [`Timestamp::month_index`]), as
/// raw microseconds.
pub(crate) fn month_start_micros(month_index: i64) -> i64 {
    let year = month_index.div_euclid(12);
    // rem_euclid(12) is in 0..12.
    let month = month_index.rem_euclid(12) as u32 + 1;
    days_from_civil(year, month, 1) * MICROS_PER_DAY
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::{Date, Month};

    #[test]
    fn civil_conversions_agree_with_the_time_crate_over_800_years() {
        // Every day from 1800 to 2600 (leap centuries included), both ways.
        let unix_epoch_julian = Date::from_calendar_date(1970, Month::January, 1)
            .unwrap()
            .to_julian_day();
        for days in -62_000..230_000 {
            let date = Date::from_julian_day(unix_epoch_julian + days as i32).unwrap();
            let (year, month, day) = civil_from_days(days);
            assert_eq!(
                (year, month, day),
                (
                    i64::from(date.year()),
                    u8::from(date.month()) as u32,
                    u32::from(date.day())
                )
            );
            assert_eq!(days_from_civil(year, month, day), days);
        }
    }

    #[test]
    fn display_is_fixed_width_utc_and_round_trips() {
        let ts = Timestamp::parse("2024-02-29T23:59:59.123456+00:00").unwrap();
        assert_eq!(ts.to_string(), "2024-02-29T23:59:59.123456Z");
        // Another offset is the same instant, written in UTC.
        let shifted = Timestamp::parse("2024-03-01T01:59:59.123456+02:00").unwrap();
        assert_eq!(shifted, ts);
        assert_eq!(shifted.to_string(), "2024-02-29T23:59:59.123456Z");
        assert_eq!(Timestamp::parse(&ts.to_string()).unwrap(), ts);
        let before_epoch = Timestamp::from_unix_micros(-1).unwrap();
        assert_eq!(before_epoch.to_string(), "1969-12-31T23:59:59.999999Z");
        assert_eq!(
            Timestamp::from_unix_seconds(0).unwrap().to_string(),
            "1970-01-01T00:00:00.000000Z"
        );
    }

    #[test]
    fn refuses_what_timestamptz_cannot_hold() {
        let err = Timestamp::parse("2024-02-29T00:00:00.1234567Z").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timestamp);
        assert!(err.to_string().contains("more precise than a microsecond"));
        // Trailing zeros beyond six digits are the same value and fine.
        assert!(Timestamp::parse("2024-02-29T00:00:00.123456000Z").is_ok());
        assert!(Timestamp::parse("2024-02-30T00:00:00Z").is_err());
        assert!(Timestamp::parse("yesterday").is_err());
        assert!(Timestamp::from_unix_seconds(i64::MAX).is_err());
        assert!(Timestamp::from_unix_micros(MAX_MICROS + 1).is_err());
    }

    #[test]
    fn month_index_and_month_start() {
        let ts = Timestamp::parse("2024-02-29T12:00:00Z").unwrap();
        assert_eq!(ts.month_index(), 2024 * 12 + 1);
        assert_eq!(
            month_start_micros(ts.month_index()),
            Timestamp::parse("2024-02-01T00:00:00Z")
                .unwrap()
                .unix_micros()
        );
        assert_eq!(
            month_start_micros(ts.month_index() + 1),
            Timestamp::parse("2024-03-01T00:00:00Z")
                .unwrap()
                .unix_micros()
        );
    }
}
