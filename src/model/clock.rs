//! The one clock of the dashboard, and the one way a time is written for a
//! person. Reads the system clock (the `System` clock) and nothing else: the
//! time zone a time is shown in is given, never looked up here.
//!
//! Tests and screenshots pin the clock to an instant and show times in UTC,
//! so what they draw does not depend on when or where they run.

use std::time::SystemTime;

use jiff::Timestamp;
use jiff::tz::TimeZone;

/// Where "now" comes from. `Copy`, so every task and command holds its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Clock {
    /// The machine's wall clock.
    #[default]
    System,
    /// Always this instant.
    Pinned(Timestamp),
}

impl Clock {
    pub fn pinned_at_unix(seconds: f64) -> Clock {
        Clock::Pinned(timestamp_of_unix(seconds))
    }

    pub fn now(self) -> Timestamp {
        match self {
            Clock::System => Timestamp::now(),
            Clock::Pinned(at) => at,
        }
    }

    /// Now as fractional Unix seconds, the unit the model computes ages in.
    pub fn unix_seconds(self) -> f64 {
        unix_seconds(self.now())
    }

    /// Now as Unix nanoseconds, the unit Loki's API takes.
    pub fn unix_nanos(self) -> i64 {
        // jiff's years (±9999) overflow i64 nanoseconds only far from now.
        i64::try_from(self.now().as_nanosecond()).unwrap_or(0)
    }

    /// Now as the standard library's time, the type the app and the poller
    /// keep.
    pub fn system_time(self) -> SystemTime {
        SystemTime::from(self.now())
    }
}

pub fn unix_seconds(at: Timestamp) -> f64 {
    at.as_duration().as_secs_f64()
}

/// An instant from fractional Unix seconds; values beyond jiff's years
/// (±9999), or not numbers, are held at the nearest end (NaN at the epoch).
pub fn timestamp_of_unix(seconds: f64) -> Timestamp {
    if seconds.is_nan() {
        return Timestamp::UNIX_EPOCH;
    }
    let min = unix_seconds(Timestamp::MIN);
    let max = unix_seconds(Timestamp::MAX);
    let seconds = seconds.clamp(min, max);
    let nanos = (seconds * 1e9) as i128;
    Timestamp::from_nanosecond(nanos).unwrap_or(if seconds < 0.0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

pub fn timestamp_of_system_time(at: SystemTime) -> Timestamp {
    Timestamp::try_from(at).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// How much of a time a place on screen or in a text has room for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeFormat {
    /// Time of day to the second.
    Clock,
    /// Date and time of day to the second.
    DateTime,
}

/// A time for a person, in `zone`. In UTC it reads as it always has, with
/// the `Z` that says so (`21:04:13Z`, `2026-11-23T21:04:13Z`); in another
/// zone it carries no suffix (`22:04:13`, `2026-11-23 22:04:13`), because
/// the header names the zone once, and a suffix on every time would crowd
/// the columns.
pub fn format_time(at: Timestamp, zone: &TimeZone, format: TimeFormat) -> String {
    let utc = *zone == TimeZone::UTC;
    let pattern = match (format, utc) {
        (TimeFormat::Clock, true) => "%H:%M:%SZ",
        (TimeFormat::Clock, false) => "%H:%M:%S",
        (TimeFormat::DateTime, true) => "%Y-%m-%dT%H:%M:%SZ",
        (TimeFormat::DateTime, false) => "%Y-%m-%d %H:%M:%S",
    };
    zone.to_datetime(at).strftime(pattern).to_string()
}

/// The zone's short name at an instant: `CET` in a Copenhagen winter,
/// `CEST` in its summer, `UTC`. Zones without an abbreviation give their
/// offset (`+0530`), as the time-zone database writes them.
pub fn zone_abbreviation(at: Timestamp, zone: &TimeZone) -> String {
    zone.to_offset_info(at).abbreviation().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-23T20:46:09Z
    const T: i64 = 1_795_466_769;

    fn at() -> Timestamp {
        Timestamp::from_second(T).unwrap()
    }

    #[test]
    fn a_pinned_clock_stays_put() {
        let clock = Clock::pinned_at_unix(T as f64 + 0.5);
        assert_eq!(clock.unix_seconds(), T as f64 + 0.5);
        assert_eq!(clock.unix_nanos(), T * 1_000_000_000 + 500_000_000);
        assert_eq!(clock.now(), clock.now());
        assert_eq!(
            timestamp_of_system_time(clock.system_time()),
            clock.now(),
            "round trip through SystemTime"
        );
    }

    #[test]
    fn the_system_clock_moves_forward_from_the_present() {
        let before = Clock::System.unix_seconds();
        assert!(before > 1_750_000_000.0, "after mid-2025: {before}");
        assert!(Clock::System.unix_seconds() >= before);
    }

    #[test]
    fn unix_seconds_beyond_the_calendar_are_held_at_its_ends() {
        assert_eq!(timestamp_of_unix(f64::NAN), Timestamp::UNIX_EPOCH);
        // To the second: a float that far out has no nanoseconds to spare.
        let max = Timestamp::MAX.as_second();
        assert_eq!(timestamp_of_unix(f64::MAX).as_second(), max);
        assert_eq!(
            timestamp_of_unix(f64::MIN).as_second(),
            Timestamp::MIN.as_second()
        );
        assert_eq!(timestamp_of_unix(-1.5).as_millisecond(), -1500);
    }

    #[test]
    fn utc_reads_as_before_and_a_zone_without_a_suffix() {
        let utc = TimeZone::UTC;
        assert_eq!(format_time(at(), &utc, TimeFormat::Clock), "20:46:09Z");
        assert_eq!(
            format_time(at(), &utc, TimeFormat::DateTime),
            "2026-11-23T20:46:09Z"
        );
        assert_eq!(zone_abbreviation(at(), &utc), "UTC");
        let plus_one = TimeZone::fixed(jiff::tz::offset(1));
        assert_eq!(format_time(at(), &plus_one, TimeFormat::Clock), "21:46:09");
        assert_eq!(
            format_time(at(), &plus_one, TimeFormat::DateTime),
            "2026-11-23 21:46:09"
        );
    }

    #[test]
    fn a_named_zone_gives_its_abbreviation_for_the_season() {
        // The test reads the machine's time-zone database; skip where there
        // is none rather than fail on the machine's account.
        let Ok(copenhagen) = TimeZone::get("Europe/Copenhagen") else {
            return;
        };
        assert_eq!(zone_abbreviation(at(), &copenhagen), "CET");
        let july = Timestamp::from_second(1_783_000_000).unwrap();
        assert_eq!(zone_abbreviation(july, &copenhagen), "CEST");
        assert_eq!(
            format_time(at(), &copenhagen, TimeFormat::Clock),
            "21:46:09"
        );
    }
}
