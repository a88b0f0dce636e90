//! Calendar arithmetic for log files without libc's `localtime`: the date in a daily file's
//! name (in the daemon's [`Zone`]: local time unless `<config><logTime>utc</logTime>`), the
//! RFC 3339 UTC stamp of JSON lines and output lines, and the zoned stamp of text lines.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use jiff::Timestamp;
use jiff::tz::TimeZone;

const SECONDS_PER_DAY: u64 = 86_400;

/// The calendar that dates file names and stamps text lines (`<config><logTime>`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Zone {
    /// The system's time zone (`TZ`, else `/etc/localtime`), like the original's
    /// `Supervisor-yyyy-mm-dd.log`.
    #[default]
    Local,
    /// UTC.
    Utc,
}

/// Set once at start-up: the process has one calendar, as it has one `TZ`.
static UTC: AtomicBool = AtomicBool::new(false);

/// Makes `zone` the calendar of every later date and text stamp in this process.
pub fn use_zone(zone: Zone) {
    UTC.store(zone == Zone::Utc, Ordering::Relaxed);
}

/// The calendar in use.
pub fn zone() -> Zone {
    if UTC.load(Ordering::Relaxed) {
        Zone::Utc
    } else {
        Zone::Local
    }
}

/// Seconds east of UTC of the calendar in use at `time`.
fn offset(time: SystemTime) -> i64 {
    match zone() {
        Zone::Utc => 0,
        Zone::Local => Timestamp::try_from(time).map_or(0, |timestamp| {
            i64::from(TimeZone::system().to_offset(timestamp).seconds())
        }),
    }
}

/// Seconds since the epoch of `time` (negative before it).
fn epoch_seconds(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(since) => since.as_secs() as i64,
        Err(before) => -(before.duration().as_secs() as i64) - 1,
    }
}

/// The day number of `time` on a clock `offset` seconds east of UTC (0 before the epoch).
fn day_at(time: SystemTime, offset: i64) -> u64 {
    u64::try_from((epoch_seconds(time) + offset).div_euclid(SECONDS_PER_DAY as i64)).unwrap_or(0)
}

/// Days since the Unix epoch of `time`, in the calendar in use.
pub fn day_of(time: SystemTime) -> u64 {
    day_at(time, offset(time))
}

/// Today, in days since the Unix epoch, in the calendar in use.
pub fn today() -> u64 {
    day_of(SystemTime::now())
}

/// `YYYY-MM-DD` of a day number (Howard Hinnant's civil_from_days).
pub fn date(day: u64) -> String {
    let (y, m, d) = civil(day);
    format!("{y:04}-{m:02}-{d:02}")
}

fn civil(day: u64) -> (i64, i64, i64) {
    let z = day as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// The day number of a `YYYY-MM-DD` date (Howard Hinnant's days_from_civil).
pub fn parse_date(text: &str) -> Option<u64> {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| text.get(range)?.parse::<i64>().ok();
    let (y, m, d) = (number(0..4)?, number(5..7)?, number(8..10)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let y = y - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    u64::try_from(era * 146_097 + doe - 719_468).ok()
}

/// `time` as RFC 3339 in UTC with microseconds: `2026-11-25T19:40:00.123456Z`. Every log line
/// and file line is stamped so: written digit by digit (`format!` took a few microseconds, on
/// the path of every restart's log lines).
pub fn rfc3339(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = since.as_secs() % SECONDS_PER_DAY;
    let (year, month, day) = civil(since.as_secs() / SECONDS_PER_DAY);
    let mut text = *b"0000-00-00T00:00:00.000000Z";
    let parts: [(std::ops::Range<usize>, u64); 7] = [
        (0..4, year.unsigned_abs()),
        (5..7, month.unsigned_abs()),
        (8..10, day.unsigned_abs()),
        (11..13, seconds / 3600),
        (14..16, seconds % 3600 / 60),
        (17..19, seconds % 60),
        (20..26, u64::from(since.subsec_micros())),
    ];
    for (range, mut value) in parts {
        for digit in text[range].iter_mut().rev() {
            *digit = b'0' + (value % 10) as u8;
            value /= 10;
        }
    }
    text.iter().map(|&byte| char::from(byte)).collect()
}

/// The time an RFC 3339 stamp names (`2026-11-25T19:40:00.123456Z`, any offset).
pub fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    text.parse::<Timestamp>().ok().map(SystemTime::from)
}

/// The first instant of `day` in the calendar in use.
pub fn midnight(day: u64) -> SystemTime {
    let utc = UNIX_EPOCH + std::time::Duration::from_secs(day * SECONDS_PER_DAY);
    let shift = |time: SystemTime, offset: i64| match offset {
        east if east >= 0 => time - std::time::Duration::from_secs(east as u64),
        west => time + std::time::Duration::from_secs(west.unsigned_abs()),
    };
    // The offset in force at local midnight, which a DST change may make differ from UTC's.
    let guess = shift(utc, offset(utc));
    shift(utc, offset(guess))
}

/// `time` as RFC 3339 with milliseconds in the calendar in use, for people:
/// `2026-11-25T20:40:00.123+01:00` (`Z` in UTC).
pub fn stamp(time: SystemTime) -> String {
    stamp_at(time, offset(time))
}

fn stamp_at(time: SystemTime, offset: i64) -> String {
    let millis = time
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.subsec_millis());
    let seconds = (epoch_seconds(time) + offset).rem_euclid(SECONDS_PER_DAY as i64);
    let zone = match offset {
        0 => "Z".to_string(),
        _ => {
            let sign = if offset < 0 { '-' } else { '+' };
            let minutes = offset.abs() / 60;
            format!("{sign}{:02}:{:02}", minutes / 60, minutes % 60)
        }
    };
    format!(
        "{}T{:02}:{:02}:{:02}.{millis:03}{zone}",
        date(day_at(time, offset)),
        seconds / 3600,
        seconds % 3600 / 60,
        seconds % 60,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn dates_round_trip() {
        for day in [0, 11_016, 20_417, 30_000] {
            assert_eq!(parse_date(&date(day)), Some(day));
        }
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(11_016), "2000-02-29");
        for bad in ["2025-13-01", "2025-1-01", "20251101xx", "abcd-ef-gh"] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn stamps_are_rfc3339_utc() {
        let time = UNIX_EPOCH + Duration::new(20_417 * 86_400 + 3_723, 4_000);
        assert_eq!(rfc3339(time), "2025-11-25T01:02:03.000004Z");
        // Day by day over four centuries (leap years, 2100 not one), against the civil date.
        for day in (0..146_097).step_by(7) {
            let time = UNIX_EPOCH + Duration::from_secs(day * SECONDS_PER_DAY + 86_399);
            let expected = format!("{}T23:59:59.000000Z", date(day));
            assert_eq!(rfc3339(time), expected);
        }
    }

    #[test]
    fn days_and_stamps_follow_the_offset() {
        // 2025-11-25 23:30:00.250 UTC.
        let time = UNIX_EPOCH + Duration::from_millis((20_417 * 86_400 + 84_600) * 1000 + 250);
        assert_eq!(day_at(time, 0), 20_417);
        assert_eq!(day_at(time, 3600), 20_418, "an hour east it is tomorrow");
        assert_eq!(day_at(time, -12 * 3600), 20_417);
        assert_eq!(stamp_at(time, 0), "2025-11-25T23:30:00.250Z");
        assert_eq!(stamp_at(time, 3600), "2025-11-26T00:30:00.250+01:00");
        assert_eq!(
            stamp_at(time, -(9 * 3600 + 1800)),
            "2025-11-25T14:00:00.250-09:30"
        );
    }
}
