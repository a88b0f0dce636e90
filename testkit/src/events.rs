//! Reading the daemon's JSON events: their timestamps, and waits on conditions with a deadline.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::DEADLINE;

/// Waits until `condition` holds, polling /proc-style state every few ms, up to the deadline.
pub fn eventually(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Waits until a file exists and parses it as JSON.
pub fn read_json_when_ready(path: &Path) -> Value {
    eventually(&format!("{} exists", path.display()), || path.exists());
    serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("json")
}

/// As [`eventually`], but the condition must hold within `limit` (shorter than the deadline);
/// returns how long it took.
pub fn eventually_within(what: &str, limit: Duration, condition: impl Fn() -> bool) -> Duration {
    let start = Instant::now();
    while !condition() {
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting until {what}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    start.elapsed()
}

/// The `timestamp` of an event (RFC 3339, UTC, `2024-05-06T07:08:09.123456Z`) in seconds since
/// the Unix epoch.
pub fn timestamp_secs(event: &Value) -> f64 {
    let text = event["timestamp"].as_str().expect("event has a timestamp");
    let parsed = text
        .strip_suffix('Z')
        .and_then(|text| text.split_once('T'))
        .and_then(|(date, time)| {
            let numbers = |part: &str, separator: char| -> Option<Vec<f64>> {
                part.split(separator).map(|n| n.parse().ok()).collect()
            };
            Some((numbers(date, '-')?, numbers(time, ':')?))
        });
    let (ymd, hms) = parsed.unwrap_or_else(|| panic!("not an RFC 3339 UTC timestamp: {text}"));
    assert!(ymd.len() == 3 && hms.len() == 3, "timestamp {text}");
    // Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
    let (month, day) = (ymd[1] as i64, ymd[2] as i64);
    let year = ymd[0] as i64 - i64::from(month <= 2);
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    days as f64 * 86_400.0 + hms[0] * 3_600.0 + hms[1] * 60.0 + hms[2]
}

/// Seconds from event `earlier` to event `later`, by their timestamps.
pub fn seconds_between(earlier: &Value, later: &Value) -> f64 {
    timestamp_secs(later) - timestamp_secs(earlier)
}
