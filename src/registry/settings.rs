//! The settings a `<server>` or a `<profile>` may hold, as one table: element name → how its
//! value is read into [`RawSettings`].
//!
//! Each setting is read strictly (syntax and range) but not defaulted or merged; that is
//! `resolve.rs`'s job. `<profile ref>` is a server's only repeatable setting. What can only be
//! judged once the layers are merged (a probe named nowhere, `maxSize` without a `file`) is
//! the resolver's to report too.

use roxmltree::Node;

use super::process;
use super::raw::{RawCheck, RawProbe, RawSettings, Spanned};
use super::sockets;
use super::values;
use super::walk::{Handler, Schema, Walker, non_empty, sole_attribute, start_priority};
use super::xml;

/// The settings both a server and a profile may hold.
const SETTINGS: &[(&str, Handler<RawSettings>)] = &[
    ("description", |w, n, s| {
        s.description = xml::value(w.p, n, |t| Ok(t.to_string()));
    }),
    ("executable", executable),
    ("arguments", |w, n, s| arguments(w, n, &mut s.arguments)),
    ("trailingArguments", |w, n, s| {
        arguments(w, n, &mut s.trailing_arguments)
    }),
    ("workingDirectory", |w, n, s| {
        s.working_directory = xml::value(w.p, n, non_empty);
    }),
    ("user", user),
    ("startPriority", |w, n, s| {
        s.start_priority = start_priority(w, n)
    }),
    ("startDelay", |w, n, s| {
        s.start_delay = xml::value(w.p, n, values::duration);
    }),
    ("stopTimeout", |w, n, s| {
        s.stop_timeout = xml::value(w.p, n, values::duration);
    }),
    ("stopSignal", |w, n, s| {
        s.stop_signal = xml::value(w.p, n, values::signal);
    }),
    ("restart", |w, n, s| {
        s.restart = xml::value(w.p, n, values::restart)
    }),
    ("successExitCodes", |w, n, s| {
        s.success_exit_codes = xml::value(w.p, n, values::exit_codes);
    }),
    ("autostart", |w, n, s| {
        s.autostart = xml::value(w.p, n, values::boolean)
    }),
    ("backoff", backoff),
    ("output", output),
    ("readiness", |w, n, s| {
        s.readiness = Some(check(w, n, Check::Readiness))
    }),
    ("healthCheck", |w, n, s| {
        s.health_check = Some(check(w, n, Check::Health))
    }),
    ("limits", process::limits),
    ("nice", |w, n, s| s.nice = xml::value(w.p, n, process::nice)),
    ("umask", |w, n, s| {
        s.umask = xml::value(w.p, n, process::umask)
    }),
    ("oomScoreAdjust", |w, n, s| {
        s.oom_score_adjust = xml::value(w.p, n, process::oom_score_adjust);
    }),
];

/// Settings SPEC §2 names that a later version implements (none at the moment; the walker
/// still has the mechanism).
const LATER: &[&str] = &[];

/// What a `<server>` may hold.
pub const SERVER: Schema<RawSettings> = Schema {
    attributes: &["id"],
    once: SETTINGS,
    many: &[
        ("profile", profile_ref),
        ("environment", environment),
        ("socket", sockets::socket),
    ],
    later: LATER,
};

/// What a `<profile>` may hold: a server's settings except `<profile ref>`.
pub const PROFILE: Schema<RawSettings> = Schema {
    attributes: &["id"],
    once: SETTINGS,
    many: &[("environment", environment), ("socket", sockets::socket)],
    later: LATER,
};

fn profile_ref(w: &mut Walker, node: Node, settings: &mut RawSettings) {
    settings.profiles.extend(sole_attribute(w, node, "ref"));
}

/// Kept even when empty (after reporting), so the server does not also count as having none.
fn executable(w: &mut Walker, node: Node, settings: &mut RawSettings) {
    xml::check_attributes(w.p, node, &[]);
    let text = xml::text(w.p, node, false);
    if text.value.is_empty() {
        w.p.report(text.at, "`<executable>`: the value is empty");
    }
    settings.executable = Some(text.value);
}

/// Kept with the position of its text: the resolver looks the user up and may report it.
fn user(w: &mut Walker, node: Node, settings: &mut RawSettings) {
    xml::check_attributes(w.p, node, &[]);
    let text = xml::text(w.p, node, false);
    if text.value.is_empty() {
        w.p.report(text.at, "`<user>`: the value is empty");
    } else {
        let at = w.p.global(text.at);
        settings.user = Some(Spanned { at, ..text });
    }
}

/// `<arguments>` or `<trailingArguments>` holding `<argument>`s, each taken verbatim ("" when
/// it has no text), into `list`.
fn arguments(w: &mut Walker, node: Node, list: &mut Vec<String>) {
    xml::check_attributes(w.p, node, &[]);
    for child in xml::children(w.p, node) {
        if xml::local_name(child) != Some("argument") {
            xml::unknown(w.p, child, node, &["argument"]);
            continue;
        }
        xml::check_attributes(w.p, child, &[]);
        list.push(xml::text(w.p, child, true).value);
    }
}

/// `<environment inherit file>` holding `<variable name>VALUE</variable>`s, values verbatim.
/// Repeatable (one `file` each); `inherit` may be given once.
fn environment(w: &mut Walker, node: Node, settings: &mut RawSettings) {
    xml::check_attributes(w.p, node, &["inherit", "file"]);
    let inherit = xml::attribute(w.p, node, "inherit", values::boolean);
    if inherit.is_some() && settings.inherit_environment.is_some() {
        let at = xml::attribute_at(node, "inherit").unwrap_or(node.range().start);
        let message = "a second `<environment inherit>`; give `inherit` on one only";
        w.p.report(at, message);
    }
    if inherit.is_some() {
        settings.inherit_environment = inherit;
    }
    if let Some(file) = xml::attribute(w.p, node, "file", non_empty) {
        settings.environment_files.push(file);
    }
    for child in xml::children(w.p, node) {
        if xml::local_name(child) != Some("variable") {
            xml::unknown(w.p, child, node, &["variable"]);
            continue;
        }
        xml::check_attributes(w.p, child, &["name"]);
        let name = xml::required(w.p, child, "name", |t| {
            values::variable_name(t).map(|()| t.to_string())
        });
        let value = xml::text(w.p, child, true).value;
        if let Some(name) = name {
            settings.variables.push((name, value));
        }
    }
}

/// `<backoff initial max multiplier reset/>`.
fn backoff(w: &mut Walker, node: Node, settings: &mut RawSettings) {
    xml::check_attributes(w.p, node, &["initial", "max", "multiplier", "reset"]);
    xml::empty(w.p, node);
    let backoff = &mut settings.backoff;
    backoff.initial = xml::attribute(w.p, node, "initial", values::duration);
    backoff.max = xml::attribute(w.p, node, "max", values::duration);
    backoff.multiplier = xml::attribute(w.p, node, "multiplier", values::multiplier);
    backoff.reset = xml::attribute(w.p, node, "reset", values::duration);
}

/// The attributes of `<output>`.
const OUTPUT_ATTRIBUTES: &[&str] = &[
    "log",
    "file",
    "maxSize",
    "keep",
    "timestamps",
    "stdout",
    "stderr",
    "overflow",
];

/// The attributes of `<readiness>`.
const READINESS_ATTRIBUTES: &[&str] = &[
    "tcp", "http", "exec", "notify", "socket", "interval", "timeout", "watchdog",
];

/// The attributes of `<healthCheck>`.
const HEALTH_ATTRIBUTES: &[&str] = &[
    "tcp",
    "http",
    "exec",
    "interval",
    "timeout",
    "failures",
    "startAfter",
];

/// `<output log file maxSize keep timestamps stdout stderr overflow/>`.
fn output(w: &mut Walker, node: Node, settings: &mut RawSettings) {
    xml::check_attributes(w.p, node, OUTPUT_ATTRIBUTES);
    xml::empty(w.p, node);
    let output = &mut settings.output;
    output.log = xml::attribute(w.p, node, "log", values::boolean);
    output.file = xml::attribute(w.p, node, "file", values::output_file)
        .or_else(|| xml::attribute_at(node, "file").map(|_| String::new()));
    output.max_size = spanned(w, node, "maxSize", values::size);
    output.keep = spanned(w, node, "keep", |t| values::integer(t, 1u32, 1000));
    output.timestamps = xml::attribute(w.p, node, "timestamps", values::boolean);
    output.stdout = xml::attribute(w.p, node, "stdout", values::stdout_mode);
    output.stderr = xml::attribute(w.p, node, "stderr", values::stderr_mode);
    output.overflow = xml::attribute(w.p, node, "overflow", values::overflow);
}

/// An attribute's value placed at the attribute (its name), for the resolver's reports.
fn spanned<T>(
    w: &mut Walker,
    node: Node,
    name: &str,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Option<Spanned<T>> {
    let at = w.p.global(xml::attribute_at(node, name)?);
    let value = xml::attribute(w.p, node, name, parse)?;
    Some(Spanned { value, at })
}

/// Which of the two checks an element is.
#[derive(Clone, Copy, PartialEq)]
enum Check {
    Readiness,
    Health,
}

/// The probe kinds, in the order messages list them.
const KINDS: [&str; 5] = ["tcp", "http", "exec", "notify", "socket"];

/// `<readiness>` or `<healthCheck>`: at most one probe kind with its arguments, and timing.
fn check(w: &mut Walker, node: Node, which: Check) -> RawCheck {
    let tag = xml::tag(node);
    let (allowed, handled): (&[&str], &[&str]) = match which {
        Check::Readiness => (READINESS_ATTRIBUTES, &[]),
        // `notify` gets a message of its own.
        Check::Health => (HEALTH_ATTRIBUTES, &["notify"]),
    };
    xml::check_attributes_but(w.p, node, allowed, handled);
    if which == Check::Health {
        if let Some(at) = xml::attribute_at(node, "notify") {
            let message = format!(
                "{tag}: `notify` is for `<readiness>` only; a health check probes with `tcp`, \
                 `http` or `exec`"
            );
            w.p.report(at, message);
        }
    }
    let kinds: Vec<&str> = KINDS
        .into_iter()
        .filter(|kind| allowed.contains(kind) && xml::attribute_at(node, kind).is_some())
        .collect();
    let arguments = probe_arguments(w, node, kinds.contains(&"exec"));
    let probe = match kinds[..] {
        // A health check's `notify` was reported above: no second report of "no probe".
        [] if xml::attribute_at(node, "notify").is_some() => Some(RawProbe::Reported),
        [] => None,
        [kind] => Some(probe(w, node, kind, arguments).unwrap_or(RawProbe::Reported)),
        _ => {
            let named: Vec<String> = kinds.iter().map(|k| format!("`{k}`")).collect();
            let choices: Vec<String> = KINDS
                .iter()
                .filter(|kind| allowed.contains(kind))
                .map(|k| format!("`{k}`"))
                .collect();
            let message = format!(
                "{tag} names {} probes ({}); give exactly one of {}",
                kinds.len(),
                named.join(", "),
                choices.join(", ")
            );
            w.p.report(node.range().start, message);
            Some(RawProbe::Reported)
        }
    };
    if let Some(at) = xml::attribute_at(node, "watchdog") {
        if which == Check::Readiness && !kinds.contains(&"notify") {
            let message =
                format!("{tag}: `watchdog` goes only with `notify=\"true\"` on the same element");
            w.p.report(at, message);
        }
    }
    let mut check = RawCheck::at(w.p.global(node.range().start));
    check.probe = probe;
    check.interval = xml::attribute(w.p, node, "interval", values::positive_duration);
    check.timeout = xml::attribute(w.p, node, "timeout", values::positive_duration);
    if which == Check::Health {
        check.failures = xml::attribute(w.p, node, "failures", |t| values::integer(t, 1u32, 1000));
        check.start_after = xml::attribute(w.p, node, "startAfter", values::duration);
    }
    check
}

/// The one probe kind `kind` the element names; `None` when its value is bad (reported).
fn probe(w: &mut Walker, node: Node, kind: &str, arguments: Vec<String>) -> Option<RawProbe> {
    match kind {
        "tcp" => xml::attribute(w.p, node, kind, values::host_port).map(RawProbe::Tcp),
        "http" => xml::attribute(w.p, node, kind, values::http_url).map(|url| RawProbe::Http {
            address: url.address,
            host: url.host,
            path: url.path,
        }),
        "exec" => xml::attribute(w.p, node, kind, non_empty)
            .map(|program| RawProbe::Exec { program, arguments }),
        "socket" => xml::attribute(w.p, node, kind, |t| match t {
            "true" => Ok(RawProbe::Socket),
            _ => Err(format!(
                "`{t}` is not `true`; write `socket=\"true\"` or leave `socket` out"
            )),
        }),
        // `notify`, the only other kind.
        _ => {
            let watchdog = xml::attribute(w.p, node, "watchdog", values::positive_duration);
            xml::attribute(w.p, node, kind, |t| match t {
                "true" => Ok(()),
                _ => Err(format!(
                    "`{t}` is not `true`; write `notify=\"true\"` or leave `notify` out"
                )),
            })?;
            Some(RawProbe::Notify { watchdog })
        }
    }
}

/// The `<argument>` children of a check, verbatim; they belong to an `exec` probe only, named
/// on the same element.
fn probe_arguments(w: &mut Walker, node: Node, exec: bool) -> Vec<String> {
    let mut arguments = Vec::new();
    for child in xml::children(w.p, node) {
        if xml::local_name(child) != Some("argument") {
            xml::unknown(w.p, child, node, &["argument"]);
            continue;
        }
        xml::check_attributes(w.p, child, &[]);
        let text = xml::text(w.p, child, true);
        if !exec {
            let message = format!(
                "`<argument>` in {} goes only with an `exec` probe on the same element",
                xml::tag(node)
            );
            w.p.report(child.range().start, message);
        }
        arguments.push(text.value);
    }
    arguments
}
