//! Parsing of the registry's scalar values: durations, whole numbers, booleans, enums, signal
//! names, exit-code lists, ids.
//!
//! Each parser takes the (already trimmed) text and returns the value or a message saying what is
//! wrong with it; the caller adds where and in which element. No XML, no I/O.

use std::fmt::Display;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use actors::spec::{RestartType, Strategy};

/// The longest duration the registry accepts anywhere.
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 60 * 60);

const DURATION_HELP: &str =
    "write seconds (`5`, `0.25`) or a number with a unit (`250ms`, `5s`, `2m`)";

/// A duration: seconds as a decimal (`5`, `0.25`) or with a unit (`250ms`, `5s`, `2m`); at most a
/// year. Digits beyond a nanosecond are dropped.
pub fn duration(text: &str) -> Result<Duration, String> {
    if text.starts_with('-') {
        return Err(format!("`{text}`: a duration cannot be negative"));
    }
    let (number, unit_nanos) = if let Some(n) = text.strip_suffix("ms") {
        (n, 1_000_000)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1_000_000_000)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60_000_000_000)
    } else {
        (text, 1_000_000_000)
    };
    let Some((whole, fraction)) = decimal(number) else {
        return Err(format!("`{text}` is not a duration; {DURATION_HELP}"));
    };
    let too_long = || format!("`{text}` is longer than a year, the most a duration may be");
    let whole: u128 = whole.parse().map_err(|_| too_long())?;
    // Digits past the 18th are below a nanosecond even for minutes: drop them.
    let fraction = &fraction[..fraction.len().min(18)];
    let scale = 10u128.pow(fraction.len() as u32);
    let fraction: u128 = fraction.parse().unwrap_or(0);
    let nanos = whole
        .checked_mul(unit_nanos)
        .and_then(|n| n.checked_add(fraction * unit_nanos / scale))
        .ok_or_else(too_long)?;
    if nanos > MAX_DURATION.as_nanos() {
        return Err(too_long());
    }
    let nanos = u64::try_from(nanos).map_err(|_| too_long())?;
    Ok(Duration::from_nanos(nanos))
}

/// Splits `digits[.digits]` into its whole and fractional digits ("" when there is no `.`).
fn decimal(text: &str) -> Option<(&str, &str)> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match text.split_once('.') {
        None => digits(text).then_some((text, "")),
        Some((whole, fraction)) => (digits(whole) && digits(fraction)).then_some((whole, fraction)),
    }
}

/// A whole number in `min..=max` (decimal digits only: no sign, no spaces).
pub fn integer<T>(text: &str, min: T, max: T) -> Result<T, String>
where
    T: TryFrom<u64> + Into<u64> + Copy + Display,
{
    let range = format!("{min}..={max}");
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("`{text}` is not a whole number in {range}"));
    }
    let out_of_range = || format!("`{text}` is out of range {range}");
    let n: u64 = text.parse().map_err(|_| out_of_range())?;
    if n < min.into() || n > max.into() {
        return Err(out_of_range());
    }
    T::try_from(n).map_err(|_| out_of_range())
}

/// `true` or `false`.
pub fn boolean(text: &str) -> Result<bool, String> {
    one_of(text, &[("true", true), ("false", false)])
}

/// A `<restart>` type.
pub fn restart(text: &str) -> Result<RestartType, String> {
    one_of(
        text,
        &[
            ("permanent", RestartType::Permanent),
            ("transient", RestartType::Transient),
            ("temporary", RestartType::Temporary),
        ],
    )
}

/// A `<restartStrategy type>`.
pub fn strategy(text: &str) -> Result<Strategy, String> {
    one_of(
        text,
        &[
            ("one_for_one", Strategy::OneForOne),
            ("one_for_all", Strategy::OneForAll),
            ("rest_for_one", Strategy::RestForOne),
        ],
    )
}

/// One of a closed set of words (case-sensitive).
fn one_of<T: Copy>(text: &str, choices: &[(&str, T)]) -> Result<T, String> {
    if let Some(&(_, value)) = choices.iter().find(|(word, _)| *word == text) {
        return Ok(value);
    }
    let words: Vec<String> = choices.iter().map(|(w, _)| format!("`{w}`")).collect();
    Err(format!("`{text}` is not one of {}", words.join(", ")))
}

/// A signal as a number: `SIGTERM`, `TERM` or `15` (1..=31).
pub fn signal(text: &str) -> Result<i32, String> {
    let help = "write a name like `SIGTERM` or `TERM`, or a number 1..=31";
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return integer(text, 1u8, 31)
            .map(i32::from)
            .map_err(|_| format!("`{text}` is not a signal; {help}"));
    }
    let name = if text.starts_with("SIG") {
        text.to_string()
    } else {
        format!("SIG{text}")
    };
    match nix::sys::signal::Signal::from_str(&name) {
        Ok(signal) if (1..=31).contains(&(signal as i32)) => Ok(signal as i32),
        _ => Err(format!("`{text}` is not a signal; {help}")),
    }
}

/// A list of exit codes 0..=255, separated by commas and/or spaces: `0`, `0,2`, `0 2`.
pub fn exit_codes(text: &str) -> Result<Vec<i32>, String> {
    if text.is_empty() {
        return Err("the list is empty; write at least one exit code (e.g. `0`)".into());
    }
    let mut codes = Vec::new();
    for item in text.split(',') {
        let words: Vec<&str> = item.split_ascii_whitespace().collect();
        if words.is_empty() {
            return Err(format!("`{text}` has an empty item between commas"));
        }
        for word in words {
            let code = integer(word, 0u8, 255).map_err(|e| format!("exit code {e}"))?;
            if !codes.contains(&i32::from(code)) {
                codes.push(i32::from(code));
            }
        }
    }
    Ok(codes)
}

/// A backoff multiplier: a decimal number ≥ 1.
pub fn multiplier(text: &str) -> Result<f64, String> {
    let bad = || format!("`{text}` is not a multiplier; write a decimal number of at least 1");
    decimal(text).ok_or_else(bad)?;
    let value = f64::from_str(text).map_err(|_| bad())?;
    if !value.is_finite() || value < 1.0 {
        return Err(bad());
    }
    Ok(value)
}

/// An IPv4 or IPv6 address.
pub fn ip_address(text: &str) -> Result<IpAddr, String> {
    IpAddr::from_str(text).map_err(|_| format!("`{text}` is not an IP address"))
}

/// The most characters an id may have.
pub const MAX_ID_LEN: usize = 64;

/// A server, group or profile id: 1 to 64 of `A-Z a-z 0-9 _ . -`, starting with a letter or a
/// digit (ids become file names, so `.`, `..` and `-x` are out).
pub fn id(text: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "_.-".contains(c);
    let valid = text.chars().count() <= MAX_ID_LEN
        && text.starts_with(|c: char| c.is_ascii_alphanumeric())
        && text.chars().all(allowed);
    if valid {
        Ok(())
    } else {
        Err(format!(
            "`{text}` is not a valid id: use 1 to {MAX_ID_LEN} letters, digits, `_`, `.` or `-`, \
             starting with a letter or a digit"
        ))
    }
}

/// An environment variable name: not empty, no `=`, no NUL.
pub fn variable_name(text: &str) -> Result<(), String> {
    if text.is_empty() || text.contains(['=', '\0']) {
        Err(format!(
            "`{text}` is not a variable name: it must be non-empty, without `=` or NUL"
        ))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn durations() {
        assert_eq!(duration("5"), Ok(ms(5000)));
        assert_eq!(duration("0"), Ok(Duration::ZERO));
        assert_eq!(duration("0.25"), Ok(ms(250)));
        assert_eq!(duration("250ms"), Ok(ms(250)));
        assert_eq!(duration("1.5ms"), Ok(Duration::from_micros(1500)));
        assert_eq!(duration("5s"), Ok(ms(5000)));
        assert_eq!(duration("2m"), Ok(ms(120_000)));
        assert_eq!(duration("0.5m"), Ok(ms(30_000)));
        assert_eq!(duration("007"), Ok(ms(7000)));
        assert_eq!(duration("0.0000000019"), Ok(Duration::from_nanos(1)));
        assert_eq!(duration("31536000"), Ok(MAX_DURATION));
        assert_eq!(duration("525600m"), Ok(MAX_DURATION));
    }

    #[test]
    fn bad_durations() {
        for (text, fragment) in [
            ("-1", "negative"),
            ("-0.5s", "negative"),
            ("NaN", "not a duration"),
            ("inf", "not a duration"),
            ("", "not a duration"),
            ("s", "not a duration"),
            ("5 s", "not a duration"),
            ("5h", "not a duration"),
            (".5", "not a duration"),
            ("5.", "not a duration"),
            ("1e3", "not a duration"),
            ("+5", "not a duration"),
            ("5sec", "not a duration"),
            ("31536000.001", "longer than a year"),
            ("525601m", "longer than a year"),
            (
                "99999999999999999999999999999999999999999",
                "longer than a year",
            ),
        ] {
            let error = duration(text).unwrap_err();
            assert!(error.contains(fragment), "{text}: {error}");
        }
    }

    #[test]
    fn integers() {
        assert_eq!(integer("9910", 1u16, 65535), Ok(9910));
        assert_eq!(integer("0042", 0u32, 100), Ok(42));
        assert!(integer("0", 1u16, 65535)
            .unwrap_err()
            .contains("out of range 1..=65535"));
        assert!(integer("65536", 1u16, 65535)
            .unwrap_err()
            .contains("out of range"));
        let huge = "9".repeat(40);
        assert!(integer(&huge, 1u16, 65535)
            .unwrap_err()
            .contains("out of range"));
        for bad in ["", "-1", "+1", "1.0", "1 2", "x", "0x10"] {
            assert!(integer(bad, 0u8, 4)
                .unwrap_err()
                .contains("not a whole number"));
        }
    }

    #[test]
    fn words() {
        assert_eq!(boolean("true"), Ok(true));
        assert_eq!(boolean("false"), Ok(false));
        assert!(boolean("True").unwrap_err().contains("`true`, `false`"));
        assert_eq!(restart("transient"), Ok(RestartType::Transient));
        assert!(restart("always").is_err());
        assert_eq!(strategy("rest_for_one"), Ok(Strategy::RestForOne));
        let error = strategy("one_for_rest").unwrap_err();
        assert_eq!(
            error,
            "`one_for_rest` is not one of `one_for_one`, `one_for_all`, `rest_for_one`"
        );
    }

    #[test]
    fn signals() {
        assert_eq!(signal("SIGTERM"), Ok(libc::SIGTERM));
        assert_eq!(signal("TERM"), Ok(libc::SIGTERM));
        assert_eq!(signal("SIGKILL"), Ok(libc::SIGKILL));
        assert_eq!(signal("STOP"), Ok(libc::SIGSTOP));
        assert_eq!(signal("SIGUSR1"), Ok(libc::SIGUSR1));
        assert_eq!(signal("1"), Ok(1));
        assert_eq!(signal("31"), Ok(31));
        for bad in [
            "0",
            "32",
            "64",
            "sigterm",
            "SIG",
            "SIGSIGTERM",
            "",
            "-15",
            "SIGRTMIN",
        ] {
            assert!(signal(bad).unwrap_err().contains("not a signal"), "{bad}");
        }
    }

    #[test]
    fn exit_code_lists() {
        assert_eq!(exit_codes("0"), Ok(vec![0]));
        assert_eq!(exit_codes("0,2"), Ok(vec![0, 2]));
        assert_eq!(exit_codes("0 2"), Ok(vec![0, 2]));
        assert_eq!(exit_codes("0, 2\n 255"), Ok(vec![0, 2, 255]));
        assert_eq!(exit_codes("3,3"), Ok(vec![3]));
        assert!(exit_codes("").unwrap_err().contains("empty"));
        assert!(exit_codes("0,,2").unwrap_err().contains("empty item"));
        assert!(exit_codes("0,").unwrap_err().contains("empty item"));
        assert!(exit_codes("256")
            .unwrap_err()
            .contains("out of range 0..=255"));
        assert!(exit_codes("-1").unwrap_err().contains("not a whole number"));
    }

    #[test]
    fn multipliers() {
        assert_eq!(multiplier("2"), Ok(2.0));
        assert_eq!(multiplier("1.5"), Ok(1.5));
        assert_eq!(multiplier("1"), Ok(1.0));
        let huge = "9".repeat(400);
        for bad in ["0.5", "0", "-2", "NaN", "inf", "1e3", "", &huge] {
            assert!(multiplier(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ids() {
        for good in ["is", "a", "A-1.b_c", "0", &"x".repeat(64)] {
            assert_eq!(id(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            ".",
            "..",
            "-x",
            "_x",
            "a b",
            "a/b",
            "é",
            &"x".repeat(65),
        ] {
            assert!(id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn variable_names() {
        assert_eq!(variable_name("LANG"), Ok(()));
        assert!(variable_name("").is_err());
        assert!(variable_name("A=B").is_err());
        assert!(variable_name("A\0").is_err());
    }

    #[test]
    fn ip_addresses() {
        assert!(ip_address("127.0.0.1").is_ok());
        assert!(ip_address("::1").is_ok());
        assert!(ip_address("localhost").is_err());
    }
}
