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
    let ns = timestamp_ns(text).unwrap_or_else(|| panic!("not an RFC 3339 UTC timestamp: {text}"));
    ns as f64 / 1e9
}

/// `2026-11-25T19:45:27.389600Z` (UTC, as the daemon logs it) in ns since the epoch.
pub fn timestamp_ns(text: &str) -> Option<u64> {
    let (date, time) = text.strip_suffix('Z')?.split_once('T')?;
    let mut date = date.splitn(3, '-').map(str::parse::<i64>);
    let (year, month, day) = (date.next()?.ok()?, date.next()?.ok()?, date.next()?.ok()?);
    let (hms, fraction) = time.split_once('.').unwrap_or((time, ""));
    let mut hms = hms.splitn(3, ':').map(str::parse::<i64>);
    let (hour, minute, second) = (hms.next()?.ok()?, hms.next()?.ok()?, hms.next()?.ok()?);
    // Days from 1970-01-01 to the civil date (H. Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second;
    let digits = &fraction[..fraction.len().min(9)];
    let nanos = if digits.is_empty() {
        0
    } else {
        digits.parse::<i64>().ok()? * 10i64.pow(9 - digits.len() as u32)
    };
    u64::try_from(seconds * 1_000_000_000 + nanos).ok()
}

/// CLOCK_MONOTONIC now, in ns (the clock of `Instant` and of the stand-in's `--stamp`).
pub fn monotonic_ns() -> u64 {
    clock_ns(nix::time::ClockId::CLOCK_MONOTONIC)
}

/// CLOCK_REALTIME now, in ns since the epoch (the clock of the daemon's timestamps).
pub fn realtime_ns() -> u64 {
    clock_ns(nix::time::ClockId::CLOCK_REALTIME)
}

fn clock_ns(clock: nix::time::ClockId) -> u64 {
    let now = nix::time::clock_gettime(clock).expect("clock_gettime");
    now.tv_sec() as u64 * 1_000_000_000 + now.tv_nsec() as u64
}

/// Seconds from event `earlier` to event `later`, by their timestamps.
pub fn seconds_between(earlier: &Value, later: &Value) -> f64 {
    timestamp_secs(later) - timestamp_secs(earlier)
}
