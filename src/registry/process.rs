//! The per-process settings of a server or profile, as the walker reads them: `<limits>` (one
//! child per resource, `soft` and `hard`), `<nice>`, `<umask>` and `<oomScoreAdjust>`.
//!
//! Values are checked for syntax and range here; whether the kernel grants them (a hard limit
//! above the daemon's, a negative OOM score without `CAP_SYS_RESOURCE`) shows only when a child
//! starts, as a failed start naming the step.

use actors::spec::{Resource, UNLIMITED};
use roxmltree::Node;

use super::raw::{RawLimit, RawSettings};
use super::walk::Walker;
use super::xml::{self, Seen};

/// `<limits>`: `<nofile soft hard/>`, `<core …/>`, `<nproc …/>`, `<memlock …/>`, `<stack …/>`,
/// each at most once, each with `soft`, `hard` or both.
pub fn limits(w: &mut Walker, node: Node, settings: &mut RawSettings) {
    xml::check_attributes(w.p, node, &[]);
    let names: Vec<&str> = Resource::ALL.iter().map(|r| r.name()).collect();
    let mut seen = Seen::default();
    for child in xml::children(w.p, node) {
        let name = xml::local_name(child).unwrap_or_default();
        let Some(resource) = Resource::ALL.into_iter().find(|r| r.name() == name) else {
            xml::unknown(w.p, child, node, &names);
            continue;
        };
        if seen.first(w.p, child, node) {
            if let Some(limit) = limit(w, child, resource) {
                settings.limits.push(limit);
            }
        }
    }
}

fn limit(w: &mut Walker, node: Node, resource: Resource) -> Option<RawLimit> {
    xml::check_attributes(w.p, node, &["soft", "hard"]);
    xml::empty(w.p, node);
    let parse = |text: &str| limit_value(resource, text);
    let soft = xml::attribute(w.p, node, "soft", parse);
    let hard = xml::attribute(w.p, node, "hard", parse);
    if !node.has_attribute("soft") && !node.has_attribute("hard") {
        let message = format!("{} needs `soft`, `hard` or both", xml::tag(node));
        w.p.report(node.range().start, message);
        return None;
    }
    if let (Some(soft), Some(hard)) = (soft, hard) {
        if soft > hard {
            let message = format!(
                "{}: the soft limit is above the hard one; the soft limit can be at most the hard",
                xml::tag(node)
            );
            w.p.report(node.range().start, message);
            return None;
        }
    }
    Some(RawLimit {
        resource,
        soft,
        hard,
        at: w.p.global(node.range().start),
    })
}

/// A limit: `unlimited` (or `infinity`), else a whole number; sizes may have a unit.
pub fn limit_value(resource: Resource, text: &str) -> Result<u64, String> {
    if text == "unlimited" || text == "infinity" {
        return Ok(UNLIMITED);
    }
    let units: [(&str, u64); 4] = [("KB", 1 << 10), ("MB", 1 << 20), ("GB", 1 << 30), ("B", 1)];
    let (number, unit) = match resource.in_bytes() {
        true => units
            .iter()
            .find_map(|&(suffix, unit)| text.strip_suffix(suffix).map(|n| (n, unit)))
            .unwrap_or((text, 1)),
        false => (text, 1),
    };
    let help = match resource.in_bytes() {
        true => "a number of bytes (optionally with `B`, `KB`, `MB` or `GB`) or `unlimited`",
        false => "a whole number or `unlimited`",
    };
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("`{text}` is not a limit; write {help}"));
    }
    (number.parse::<u64>().ok())
        .and_then(|n| n.checked_mul(unit))
        .filter(|&n| n != UNLIMITED)
        .ok_or_else(|| format!("`{text}` is too large; write `unlimited` for no limit"))
}

/// `<nice>`: -20 (most favoured) to 19.
pub fn nice(text: &str) -> Result<i32, String> {
    signed(text, -20, 19)
}

/// `<oomScoreAdjust>`: -1000 (never killed for lack of memory) to 1000 (killed first).
pub fn oom_score_adjust(text: &str) -> Result<i32, String> {
    signed(text, -1000, 1000)
}

/// `<umask>`: octal, 3 or 4 digits (`022`, `0027`).
pub fn umask(text: &str) -> Result<u32, String> {
    let octal = (3..=4).contains(&text.len()) && text.bytes().all(|b| (b'0'..=b'7').contains(&b));
    match octal.then(|| u32::from_str_radix(text, 8)) {
        Some(Ok(mask)) if mask <= 0o777 => Ok(mask),
        _ => Err(format!(
            "`{text}` is not a umask; write 3 or 4 octal digits, such as `022` or `0027`"
        )),
    }
}

/// A whole number with an optional `-` or `+`, in `min..=max`.
fn signed(text: &str, min: i32, max: i32) -> Result<i32, String> {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    let valid = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    match valid.then(|| text.parse::<i32>()) {
        Some(Ok(n)) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!("`{text}` is not a whole number in {min}..={max}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_take_numbers_units_and_unlimited() {
        assert_eq!(limit_value(Resource::Nofile, "4096"), Ok(4096));
        assert_eq!(limit_value(Resource::Core, "unlimited"), Ok(UNLIMITED));
        assert_eq!(limit_value(Resource::Nproc, "infinity"), Ok(UNLIMITED));
        assert_eq!(limit_value(Resource::Core, "0"), Ok(0));
        assert_eq!(limit_value(Resource::Stack, "8MB"), Ok(8 << 20));
        assert!(limit_value(Resource::Nofile, "8KB").is_err());
        assert!(limit_value(Resource::Nofile, "-1").is_err());
        assert!(limit_value(Resource::Nofile, "18446744073709551615").is_err());
        assert!(limit_value(Resource::Memlock, "99999999999GB").is_err());
    }

    #[test]
    fn nice_oom_and_umask_ranges() {
        assert_eq!(nice("-20"), Ok(-20));
        assert_eq!(nice("+19"), Ok(19));
        assert!(nice("20").is_err());
        assert!(nice("-").is_err());
        assert_eq!(oom_score_adjust("-1000"), Ok(-1000));
        assert!(oom_score_adjust("1001").is_err());
        assert_eq!(umask("022"), Ok(0o022));
        assert_eq!(umask("0027"), Ok(0o027));
        assert!(umask("22").is_err());
        assert!(umask("0888").is_err());
        assert!(umask("1777").is_err());
    }
}
