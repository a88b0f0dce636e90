//! The settings a `<server>` or a `<profile>` may hold, as one table: element name → how its
//! value is read into [`RawSettings`].
//!
//! Each setting is read strictly (syntax and range) but not defaulted or merged; that is
//! `resolve.rs`'s job. `<profile ref>` is a server's only repeatable setting.

use roxmltree::Node;

use super::raw::{RawSettings, Spanned};
use super::values;
use super::walk::{non_empty, start_priority, Handler, Schema, Walker};
use super::xml;

/// The settings both a server and a profile may hold.
const SETTINGS: &[(&str, Handler<RawSettings>)] = &[
    ("description", |w, n, s| {
        s.description = xml::value(w.p, n, |t| Ok(t.to_string()));
    }),
    ("executable", executable),
    ("arguments", arguments),
    ("environment", environment),
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
];

/// Settings SPEC §2 names that a later version implements.
const LATER: &[&str] = &["readiness", "healthCheck", "output"];

/// What a `<server>` may hold.
pub const SERVER: Schema<RawSettings> = Schema {
    attributes: &["id"],
    once: SETTINGS,
    many: &[("profile", profile_ref)],
    later: LATER,
};

/// What a `<profile>` may hold: a server's settings except `<profile ref>`.
pub const PROFILE: Schema<RawSettings> = Schema {
    attributes: &["id"],
    once: SETTINGS,
    many: &[],
    later: LATER,
};

fn profile_ref(w: &mut Walker, node: Node, settings: &mut RawSettings) {
    xml::check_attributes(w.p, node, &["ref"]);
    xml::empty(w.p, node);
    if let Some(value) = xml::required(w.p, node, "ref", non_empty) {
        let at = xml::value_at(node, "ref");
        settings.profiles.push(Spanned { value, at });
    }
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
        settings.user = Some(text);
    }
}

/// `<arguments>` holding `<argument>`s, each taken verbatim ("" when it has no text).
fn arguments(w: &mut Walker, node: Node, settings: &mut RawSettings) {
    xml::check_attributes(w.p, node, &[]);
    for child in xml::children(w.p, node) {
        if xml::local_name(child) != Some("argument") {
            xml::unknown(w.p, child, node, &["argument"]);
            continue;
        }
        xml::check_attributes(w.p, child, &[]);
        settings.arguments.push(xml::text(w.p, child, true).value);
    }
}

/// `<environment inherit>` holding `<variable name>VALUE</variable>`s, values verbatim.
fn environment(w: &mut Walker, node: Node, settings: &mut RawSettings) {
    xml::check_attributes(w.p, node, &["inherit"]);
    settings.inherit_environment = xml::attribute(w.p, node, "inherit", values::boolean);
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
