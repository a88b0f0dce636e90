//! Parsing of the registry's scalar values: durations, whole numbers, sizes, booleans, enums,
//! signal names, exit-code lists, ids, probe addresses and URLs, output file names.
//!
//! Each parser takes the (already trimmed) text and returns the value or a message saying what is
//! wrong with it; the caller adds where and in which element. No XML, no I/O.

use std::fmt::Display;
use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;
use std::time::Duration;

use actors::output::dates::Zone;
use actors::spec::{Overflow, RestartType, StderrMode, StdoutMode, Strategy};

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

/// A duration longer than 0 (probe intervals and timeouts, the watchdog).
pub fn positive_duration(text: &str) -> Result<Duration, String> {
    let duration = duration(text)?;
    if duration.is_zero() {
        return Err(format!("`{text}`: the duration must be longer than 0"));
    }
    Ok(duration)
}

/// The smallest `<output maxSize>`: 1 KB.
pub const MIN_SIZE: u64 = 1 << 10;
/// The largest `<output maxSize>`: 1 TB (1024 GB).
pub const MAX_SIZE: u64 = 1 << 40;

const SIZE_HELP: &str = "write a whole number of bytes, or one with a unit `B`, `KB`, `MB` or `GB` \
                         (powers of 1024: `10MB` is 10485760 bytes)";

/// A size in bytes: a whole number with an optional unit `B`, `KB`, `MB`, `GB` (powers of 1024,
/// case-sensitive, no space before the unit); 1 KB..=1 TB.
pub fn size(text: &str) -> Result<u64, String> {
    let units: [(&str, u64); 4] = [("KB", 1 << 10), ("MB", 1 << 20), ("GB", 1 << 30), ("B", 1)];
    let (number, unit) = units
        .iter()
        .find_map(|&(suffix, unit)| text.strip_suffix(suffix).map(|n| (n, unit)))
        .unwrap_or((text, 1));
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("`{text}` is not a size; {SIZE_HELP}"));
    }
    let range = || format!("`{text}` is out of range: a size is at least 1KB and at most 1024GB");
    let bytes = (number.parse::<u64>().ok())
        .and_then(|n| n.checked_mul(unit))
        .ok_or_else(range)?;
    if !(MIN_SIZE..=MAX_SIZE).contains(&bytes) {
        return Err(range());
    }
    Ok(bytes)
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

/// `<logTime>`: `local` or `utc`.
pub fn log_time(text: &str) -> Result<Zone, String> {
    one_of(text, &[("local", Zone::Local), ("utc", Zone::Utc)])
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

/// An `<output stdout>` mode.
pub fn stdout_mode(text: &str) -> Result<StdoutMode, String> {
    one_of(
        text,
        &[
            ("capture", StdoutMode::Capture),
            ("inherit", StdoutMode::Inherit),
            ("null", StdoutMode::Null),
        ],
    )
}

/// An `<output stderr>` mode.
pub fn stderr_mode(text: &str) -> Result<StderrMode, String> {
    one_of(
        text,
        &[
            ("separate", StderrMode::Separate),
            ("merge", StderrMode::Merge),
            ("inherit", StderrMode::Inherit),
            ("null", StderrMode::Null),
        ],
    )
}

/// An `<output overflow>` policy.
pub fn overflow(text: &str) -> Result<Overflow, String> {
    one_of(
        text,
        &[("block", Overflow::Block), ("drop", Overflow::Drop)],
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

/// The most characters a host name may have.
const MAX_HOST_LEN: usize = 253;

/// A probe's `HOST:PORT`: the host a name (letters, digits, `.`, `-`, `_`), an IPv4 address or
/// an IPv6 address in brackets; the port 1..=65535. Returned as written.
pub fn host_port(text: &str) -> Result<String, String> {
    if text.contains("://") {
        return Err(format!(
            "`{text}` is not `HOST:PORT`; write it without a scheme, like `127.0.0.1:8080`"
        ));
    }
    let split = match text.find(']') {
        Some(bracket) if text.starts_with('[') => text[bracket..]
            .strip_prefix("]:")
            .map(|port| (&text[..=bracket], port)),
        _ => text.rsplit_once(':'),
    };
    let Some((host, port)) = split else {
        return Err(format!(
            "`{text}` has no port; write `HOST:PORT`, like `127.0.0.1:8080`"
        ));
    };
    host_name(host).map_err(|e| format!("`{text}`: {e}"))?;
    port_number(port).map_err(|e| format!("`{text}`: {e}"))?;
    Ok(text.to_string())
}

/// The host part of `HOST:PORT` or of a URL's authority.
fn host_name(host: &str) -> Result<(), String> {
    if host.is_empty() {
        return Err("the host is empty".into());
    }
    if let Some(inner) = host.strip_prefix('[') {
        let address = inner.strip_suffix(']').unwrap_or_default();
        return address
            .parse::<Ipv6Addr>()
            .map(|_| ())
            .map_err(|_| format!("`{host}` is not an IPv6 address in brackets"));
    }
    if host.contains(':') {
        return Err(format!(
            "an IPv6 host goes in brackets, like `[::1]:8080` (found `{host}`)"
        ));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || "-._".contains(c);
    if host.len() > MAX_HOST_LEN || !host.chars().all(allowed) {
        return Err(format!(
            "`{host}` is not a host: use a name (letters, digits, `.`, `-`, `_`), an IPv4 \
             address or an IPv6 address in brackets"
        ));
    }
    Ok(())
}

fn port_number(port: &str) -> Result<u16, String> {
    integer(port, 1u16, 65535).map_err(|e| format!("port {e}"))
}

/// An `http://` probe URL, taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl {
    /// `HOST:PORT` to connect to (port 80 when the URL names none).
    pub address: String,
    /// The authority as written: the `Host` header.
    pub host: String,
    /// The path (`/` when the URL has none) with any query.
    pub path: String,
}

/// An `http://HOST[:PORT][/PATH][?QUERY]` URL. Only `http` (no TLS); no user info, no fragment;
/// the path and query must be printable ASCII (percent-encode anything else).
pub fn http_url(text: &str) -> Result<HttpUrl, String> {
    let scheme_end = text.find("://");
    let scheme = scheme_end.map(|end| &text[..end]);
    let rest = match scheme {
        Some(scheme) if scheme.eq_ignore_ascii_case("http") => &text[scheme.len() + 3..],
        Some(scheme) if scheme.eq_ignore_ascii_case("https") => {
            return Err(format!(
                "`{text}`: only `http://` URLs are probed (no TLS); use `http://` or a `tcp` probe"
            ));
        }
        _ => {
            return Err(format!(
                "`{text}` is not an `http://` URL; write it like `http://127.0.0.1:8080/health`"
            ));
        }
    };
    let split = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(split);
    if authority.contains('@') {
        return Err(format!(
            "`{text}`: user info (`…@`) is not allowed in the URL"
        ));
    }
    if path.contains('#') {
        return Err(format!(
            "`{text}`: a fragment (`#…`) is never sent; leave it out"
        ));
    }
    if let Some(bad) = path.chars().find(|c| !c.is_ascii_graphic()) {
        return Err(format!(
            "`{text}`: the path holds {bad:?}; percent-encode spaces, controls and non-ASCII"
        ));
    }
    // A bracketed IPv6 host may hold colons; the port is after the last `]`.
    let port_at = authority
        .rfind(':')
        .filter(|&colon| authority.rfind(']').is_none_or(|bracket| colon > bracket));
    let (host, port) = match port_at {
        Some(colon) => (&authority[..colon], Some(&authority[colon + 1..])),
        None => (authority, None),
    };
    host_name(host).map_err(|e| format!("`{text}`: {e}"))?;
    let port = match port {
        Some(port) => port_number(port).map_err(|e| format!("`{text}`: {e}"))?,
        None => 80,
    };
    let path = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    };
    Ok(HttpUrl {
        address: format!("{host}:{port}"),
        host: authority.to_string(),
        path,
    })
}

/// An `<output file>` name: not empty; `{id}` and `{date}` are its only placeholders, and
/// braces appear nowhere else.
pub fn output_file(text: &str) -> Result<String, String> {
    if text.is_empty() {
        return Err("the value is empty".into());
    }
    let mut rest = text;
    while let Some(at) = rest.find(['{', '}']) {
        let tail = &rest[at..];
        if let Some(after) = ["{id}", "{date}"]
            .iter()
            .find_map(|placeholder| tail.strip_prefix(placeholder))
        {
            rest = after;
            continue;
        }
        let help = "the only placeholders are `{id}` (the server id) and `{date}` (the day)";
        return match tail.strip_prefix('{').and_then(|t| t.split_once('}')) {
            Some((name, _)) if !name.contains('{') => {
                Err(format!("unknown placeholder `{{{name}}}`; {help}"))
            }
            _ => Err(format!("`{text}` has a stray `{}`; {help}", &tail[..1])),
        };
    }
    Ok(text.to_string())
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
        assert!(
            integer("0", 1u16, 65535)
                .unwrap_err()
                .contains("out of range 1..=65535")
        );
        assert!(
            integer("65536", 1u16, 65535)
                .unwrap_err()
                .contains("out of range")
        );
        let huge = "9".repeat(40);
        assert!(
            integer(&huge, 1u16, 65535)
                .unwrap_err()
                .contains("out of range")
        );
        for bad in ["", "-1", "+1", "1.0", "1 2", "x", "0x10"] {
            assert!(
                integer(bad, 0u8, 4)
                    .unwrap_err()
                    .contains("not a whole number")
            );
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
        assert!(
            exit_codes("256")
                .unwrap_err()
                .contains("out of range 0..=255")
        );
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
    fn positive_durations() {
        assert_eq!(positive_duration("1ms"), Ok(ms(1)));
        assert_eq!(positive_duration("0.1"), Ok(ms(100)));
        assert!(
            positive_duration("0")
                .unwrap_err()
                .contains("longer than 0")
        );
        assert!(
            positive_duration("0ms")
                .unwrap_err()
                .contains("longer than 0")
        );
        assert!(
            positive_duration("x")
                .unwrap_err()
                .contains("not a duration")
        );
    }

    #[test]
    fn sizes_are_powers_of_1024() {
        assert_eq!(size("1024"), Ok(1024));
        assert_eq!(size("1024B"), Ok(1024));
        assert_eq!(size("1KB"), Ok(1024));
        assert_eq!(size("10MB"), Ok(10 * 1024 * 1024));
        assert_eq!(size("1GB"), Ok(1 << 30));
        assert_eq!(size("1024GB"), Ok(MAX_SIZE));
        assert_eq!(size("0010KB"), Ok(10 << 10));
        for (text, fragment) in [
            ("1023", "out of range"),
            ("0KB", "out of range"),
            ("1025GB", "out of range"),
            ("99999999999999999999GB", "out of range"),
            ("1TB", "not a size"),
            ("10mb", "not a size"),
            ("10 MB", "not a size"),
            ("1.5GB", "not a size"),
            ("-1KB", "not a size"),
            ("MB", "not a size"),
            ("", "not a size"),
        ] {
            let error = size(text).unwrap_err();
            assert!(error.contains(fragment), "{text}: {error}");
        }
    }

    #[test]
    fn output_modes() {
        assert_eq!(stdout_mode("capture"), Ok(StdoutMode::Capture));
        assert_eq!(stdout_mode("inherit"), Ok(StdoutMode::Inherit));
        assert_eq!(stdout_mode("null"), Ok(StdoutMode::Null));
        assert_eq!(stderr_mode("separate"), Ok(StderrMode::Separate));
        assert_eq!(stderr_mode("merge"), Ok(StderrMode::Merge));
        assert_eq!(stderr_mode("inherit"), Ok(StderrMode::Inherit));
        assert_eq!(stderr_mode("null"), Ok(StderrMode::Null));
        assert_eq!(overflow("block"), Ok(Overflow::Block));
        assert_eq!(overflow("drop"), Ok(Overflow::Drop));
        assert!(stdout_mode("merge").is_err());
        assert!(stderr_mode("capture").is_err());
        assert!(overflow("Drop").is_err());
    }

    #[test]
    fn host_ports() {
        for good in [
            "127.0.0.1:8080",
            "localhost:1",
            "db-1.internal_x:65535",
            "[::1]:80",
            "[fe80::1]:9000",
        ] {
            assert_eq!(host_port(good), Ok(good.to_string()));
        }
        for (text, fragment) in [
            ("localhost", "has no port"),
            ("[::1]", "has no port"),
            (":80", "the host is empty"),
            ("::1:80", "IPv6 host goes in brackets"),
            ("[::g]:80", "not an IPv6 address in brackets"),
            ("my host:80", "is not a host"),
            ("h/x:80", "is not a host"),
            ("h:0", "port `0` is out of range 1..=65535"),
            ("h:65536", "out of range"),
            ("h:", "not a whole number"),
            ("h:http", "not a whole number"),
            ("http://h:80", "without a scheme"),
        ] {
            let error = host_port(text).unwrap_err();
            assert!(error.contains(fragment), "{text}: {error}");
        }
    }

    #[test]
    fn http_urls() {
        let url = |a: &str, h: &str, p: &str| HttpUrl {
            address: a.into(),
            host: h.into(),
            path: p.into(),
        };
        assert_eq!(http_url("http://h"), Ok(url("h:80", "h", "/")));
        assert_eq!(
            http_url("http://127.0.0.1:8080/health/live"),
            Ok(url("127.0.0.1:8080", "127.0.0.1:8080", "/health/live"))
        );
        assert_eq!(
            http_url("HTTP://h/?a=1&b=%20"),
            Ok(url("h:80", "h", "/?a=1&b=%20"))
        );
        assert_eq!(http_url("http://h?x"), Ok(url("h:80", "h", "/?x")));
        assert_eq!(http_url("http://[::1]"), Ok(url("[::1]:80", "[::1]", "/")));
        assert_eq!(
            http_url("http://[::1]:81/x"),
            Ok(url("[::1]:81", "[::1]:81", "/x"))
        );
        for (text, fragment) in [
            ("https://h/", "only `http://`"),
            ("HTTPS://h/", "only `http://`"),
            ("ftp://h/", "not an `http://` URL"),
            ("h:80/x", "not an `http://` URL"),
            ("http:/h", "not an `http://` URL"),
            ("http://", "the host is empty"),
            ("http:///x", "the host is empty"),
            ("http://:80/", "the host is empty"),
            ("http://u:p@h/", "user info"),
            ("http://h/#top", "fragment"),
            ("http://h/a b", "percent-encode"),
            ("http://h/é", "percent-encode"),
            ("http://h:0/", "port `0` is out of range"),
            ("http://h:x/", "not a whole number"),
            ("http://::1/", "brackets"),
        ] {
            let error = http_url(text).unwrap_err();
            assert!(error.contains(fragment), "{text}: {error}");
        }
    }

    #[test]
    fn output_files() {
        for good in [
            "a.log",
            "logs/{id}.log",
            "/var/log/{id}/{date}-{id}.log",
            "{date}",
        ] {
            assert_eq!(output_file(good), Ok(good.to_string()));
        }
        for (text, fragment) in [
            ("", "empty"),
            ("{x}.log", "unknown placeholder `{x}`"),
            ("{ID}.log", "unknown placeholder `{ID}`"),
            ("{}", "unknown placeholder `{}`"),
            ("a{id", "stray `{`"),
            ("a}b", "stray `}`"),
            ("{{id}}", "stray `{`"),
            ("{id}}", "stray `}`"),
        ] {
            let error = output_file(text).unwrap_err();
            assert!(error.contains(fragment), "{text}: {error}");
        }
    }

    #[test]
    fn ip_addresses() {
        assert!(ip_address("127.0.0.1").is_ok());
        assert!(ip_address("::1").is_ok());
        assert!(ip_address("localhost").is_err());
    }
}
