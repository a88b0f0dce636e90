//! Calendar arithmetic for log files, in UTC without a time-zone database: the date in a file's
//! name and the RFC 3339 stamp before each line.

use std::time::{SystemTime, UNIX_EPOCH};

const SECONDS_PER_DAY: u64 = 86_400;

/// Days since the Unix epoch (UTC) of `time`.
pub fn day_of(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / SECONDS_PER_DAY)
}

/// Today, in days since the Unix epoch (UTC).
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

/// `time` as RFC 3339 in UTC with microseconds: `2026-11-25T19:40:00.123456Z`.
pub fn rfc3339(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = since.as_secs() % SECONDS_PER_DAY;
    format!(
        "{}T{:02}:{:02}:{:02}.{:06}Z",
        date(day_of(time)),
        seconds / 3600,
        seconds % 3600 / 60,
        seconds % 60,
        since.subsec_micros()
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
    }
}
