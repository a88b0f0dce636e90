//! The strict schema walker: a parsed XML document → [`RawRegistry`].
//!
//! Owns the shape of SPEC §2 — which element may hold which, at most once or repeatable — as
//! tables, the syntax and range of every value, and the uniqueness of ids. It reports every
//! problem and keeps going. It applies no defaults and merges nothing (`resolve.rs` does), and
//! walks no deeper than [`MAX_DEPTH`](super::MAX_DEPTH), so it never recurses unboundedly.

use std::collections::HashMap;
use std::net::IpAddr;

use roxmltree::{Document, Node};

use super::error::Problems;
use super::raw::{RawChild, RawConfig, RawGroup, RawProfile, RawRegistry, RawServer, RawStrategy};
use super::raw::{RawSettings, Spanned};
use super::settings::{PROFILE, SERVER};
use super::values;
use super::xml::{self, Seen};

/// Handles one child element, storing what it read into the container's raw value `S`.
pub type Handler<S> = fn(&mut Walker, Node, &mut S);

/// What one container element may hold.
pub struct Schema<S: 'static> {
    /// Its attributes.
    pub attributes: &'static [&'static str],
    /// Children allowed at most once.
    pub once: &'static [(&'static str, Handler<S>)],
    /// Children allowed any number of times.
    pub many: &'static [(&'static str, Handler<S>)],
    /// Children a later version will support: rejected with a message that says so.
    pub later: &'static [&'static str],
}

const SUPERVISOR: Schema<RawRegistry> = Schema {
    attributes: &[],
    once: &[
        ("config", |w, n, r| w.dispatch(n, &CONFIG, &mut r.config)),
        ("restartStrategy", |w, n, r| {
            r.strategy = Some(w.strategy(n))
        }),
        ("profiles", |w, n, r| {
            w.dispatch(n, &PROFILES, &mut r.profiles)
        }),
        ("servers", |w, n, r| w.dispatch(n, &SERVERS, &mut r.servers)),
    ],
    many: &[("include", include)],
    later: &[],
};

/// The root of an included file: `<supervisor>` with profiles, servers and groups, and more
/// includes; the daemon's own settings stay in the main file.
const FRAGMENT: Schema<RawRegistry> = Schema {
    attributes: &[],
    once: &[
        ("profiles", |w, n, r| {
            w.dispatch(n, &PROFILES, &mut r.profiles)
        }),
        ("servers", |w, n, r| w.dispatch(n, &SERVERS, &mut r.servers)),
    ],
    many: &[("include", include)],
    later: &[],
};

/// The root of an included file written as SPEC has it: `<server>`, `<group>` and `<profile>`
/// elements (and more `<include>`s) one after the other, which the include reader wraps in an
/// element of its own ([`BARE_ROOT`]) to parse them.
const BARE: Schema<RawRegistry> = Schema {
    attributes: &[],
    once: &[],
    many: &[
        ("server", |w, n, r| r.servers.push(w.server(n))),
        ("group", |w, n, r| r.servers.push(w.group(n))),
        ("profile", |w, n, r| w.profile(n, &mut r.profiles)),
        ("include", include),
    ],
    later: &[],
};

/// The element the include reader wraps a file of bare elements in (see [`BARE`]).
pub const BARE_ROOT: &str = "included";

/// `<include path="conf.d/*.xml"/>`: kept, at its value, for the include reader.
fn include(w: &mut Walker, node: Node, raw: &mut RawRegistry) {
    raw.includes.extend(sole_attribute(w, node, "path"));
}

/// The one attribute `name` of an empty element that takes no other (`<profile ref/>`,
/// `<include path/>`): required, not empty, placed (globally) at its value.
pub fn sole_attribute(w: &mut Walker, node: Node, name: &str) -> Option<Spanned<String>> {
    xml::check_attributes(w.p, node, &[name]);
    xml::empty(w.p, node);
    let value = xml::required(w.p, node, name, non_empty)?;
    let at = w.p.global(xml::value_at(node, name));
    Some(Spanned { value, at })
}

const CONFIG: Schema<RawConfig> = Schema {
    attributes: &[],
    once: &[
        ("tcpport", |w, n, c| {
            (c.tcp_port, c.tcp_bind) = w.tcp_port(n)
        }),
        ("log", |w, n, c| c.log = xml::value(w.p, n, non_empty)),
        ("temp", |w, n, c| c.temp = xml::value(w.p, n, non_empty)),
        ("tracelevel", |w, n, c| {
            c.trace_level = xml::value(w.p, n, |t| values::integer(t, 1u8, 4));
        }),
        ("tracestatsinterval", |w, n, c| {
            c.stats_interval = xml::value(w.p, n, stats_interval);
        }),
        ("logRetentionDays", |w, n, c| {
            c.log_retention_days = xml::value(w.p, n, |t| values::integer(t, 0u32, 36_500));
        }),
        ("logTime", |w, n, c| {
            c.log_time = xml::value(w.p, n, values::log_time)
        }),
        ("home", |w, n, c| c.home = xml::value(w.p, n, non_empty)),
    ],
    many: &[],
    later: &[],
};

const PROFILES: Schema<Vec<RawProfile>> = Schema {
    attributes: &[],
    once: &[],
    many: &[("profile", |w, n, profiles| w.profile(n, profiles))],
    later: &[],
};

const SERVERS: Schema<Vec<RawChild>> = Schema {
    attributes: &[],
    once: &[],
    many: &[
        ("server", |w, n, children| children.push(w.server(n))),
        ("group", |w, n, children| children.push(w.group(n))),
    ],
    later: &[],
};

const GROUP: Schema<RawGroup> = Schema {
    attributes: &["id"],
    once: &[
        ("restartStrategy", |w, n, g| {
            g.strategy = Some(w.strategy(n))
        }),
        ("startPriority", |w, n, g| {
            g.start_priority = start_priority(w, n)
        }),
    ],
    many: &[
        ("server", |w, n, g| g.children.push(w.server(n))),
        ("group", |w, n, g| g.children.push(w.group(n))),
    ],
    later: &[],
};

fn handler<S>(table: &[(&str, Handler<S>)], name: &str) -> Option<Handler<S>> {
    table
        .iter()
        .find(|(n, _)| *n == name)
        .map(|&(_, handle)| handle)
}

/// The walk's state: the problems found and the ids seen so far, across the main file and the
/// files it includes (ids are unique in all of them together).
pub struct Walker<'p> {
    /// Where problems go.
    pub p: &'p mut Problems,
    /// Server and group ids (one namespace) → where each was defined (global offsets).
    ids: HashMap<String, usize>,
    /// Profile ids → where each was defined (global offsets).
    profile_ids: HashMap<String, usize>,
}

impl<'p> Walker<'p> {
    /// A walker reporting into `p`, no id seen yet.
    pub fn new(p: &'p mut Problems) -> Self {
        Walker {
            p,
            ids: HashMap::new(),
            profile_ids: HashMap::new(),
        }
    }

    /// Walks the main file's `doc` against the schema.
    pub fn registry(&mut self, doc: &Document) -> RawRegistry {
        let mut raw = RawRegistry::default();
        self.supervisor(doc.root_element(), &mut raw);
        raw
    }

    /// Walks an included file's `doc` into `raw`, after what is there already: a `<supervisor>`
    /// with profiles and servers, or bare elements the reader wrapped in [`BARE_ROOT`].
    pub fn fragment(&mut self, doc: &Document, raw: &mut RawRegistry) {
        let root = doc.root_element();
        if xml::local_name(root) == Some(BARE_ROOT) {
            self.dispatch(root, &BARE, raw);
        } else if self.root_is_supervisor(root) {
            self.dispatch(root, &FRAGMENT, raw);
        }
    }

    /// Checks the attributes of `node` and walks its children against `schema`, into `target`.
    pub fn dispatch<S>(&mut self, node: Node, schema: &Schema<S>, target: &mut S) {
        xml::check_attributes(self.p, node, schema.attributes);
        let mut seen = Seen::default();
        for child in xml::children(self.p, node) {
            let name = xml::local_name(child).unwrap_or_default();
            if let Some(handle) = handler(schema.once, name) {
                if seen.first(self.p, child, node) {
                    handle(self, child, target);
                }
            } else if let Some(handle) = handler(schema.many, name) {
                handle(self, child, target);
            } else if schema.later.contains(&name) {
                let message = format!("{} is not supported yet", xml::tag(child));
                self.p.report(child.range().start, message);
            } else {
                let names = schema.once.iter().chain(schema.many).map(|(n, _)| *n);
                xml::unknown(self.p, child, node, &names.collect::<Vec<_>>());
            }
        }
    }

    fn supervisor(&mut self, root: Node, raw: &mut RawRegistry) {
        if !self.root_is_supervisor(root) {
            return;
        }
        self.dispatch(root, &SUPERVISOR, raw);
        let has_servers = root
            .children()
            .any(|c| xml::local_name(c) == Some("servers"));
        if !has_servers {
            let message = "`<supervisor>` needs a `<servers>` element (it may be empty)";
            self.p.report(root.range().start, message);
        }
    }

    /// Whether the root element is `<supervisor>`; reported when not.
    fn root_is_supervisor(&mut self, root: Node) -> bool {
        if xml::local_name(root) == Some("supervisor") {
            return true;
        }
        let mut message = format!(
            "the root element is {}; expected `<supervisor>`",
            xml::tag(root)
        );
        if root.tag_name().namespace().is_some() {
            message.push_str(", in no XML namespace");
        }
        self.p.report(root.range().start, message);
        false
    }

    /// `<tcpport bind="ADDR">PORT</tcpport>`: the port and the address to bind, if given.
    fn tcp_port(&mut self, node: Node) -> (Option<u16>, Option<IpAddr>) {
        xml::check_attributes(self.p, node, &["bind"]);
        let bind = xml::attribute(self.p, node, "bind", values::ip_address);
        let text = xml::text(self.p, node, false);
        let port = values::integer(&text.value, 1u16, 65535)
            .map_err(|e| self.p.report(text.at, format!("`<tcpport>`: {e}")))
            .ok();
        (port, bind)
    }

    /// `<restartStrategy type intensity period/>`.
    fn strategy(&mut self, node: Node) -> RawStrategy {
        xml::check_attributes(self.p, node, &["type", "intensity", "period"]);
        xml::empty(self.p, node);
        RawStrategy {
            kind: xml::attribute(self.p, node, "type", values::strategy),
            intensity: xml::attribute(self.p, node, "intensity", |t| {
                values::integer(t, 0u32, u32::MAX)
            }),
            period: xml::attribute(self.p, node, "period", period),
        }
    }

    fn profile(&mut self, node: Node, profiles: &mut Vec<RawProfile>) {
        let id = self.id(node, IdSpace::Profiles);
        let mut settings = RawSettings::default();
        self.dispatch(node, &PROFILE, &mut settings);
        if let Some(id) = id {
            profiles.push(RawProfile {
                id: id.value,
                settings,
            });
        }
    }

    fn server(&mut self, node: Node) -> RawChild {
        let id = self.id(node, IdSpace::Children);
        let mut settings = RawSettings::default();
        self.dispatch(node, &SERVER, &mut settings);
        RawChild::Server(Box::new(RawServer {
            id: id.map(|id| id.value).unwrap_or_default(),
            at: self.p.global(node.range().start),
            settings,
        }))
    }

    fn group(&mut self, node: Node) -> RawChild {
        let id = self.id(node, IdSpace::Children);
        let mut group = RawGroup {
            id: id.map(|id| id.value).unwrap_or_default(),
            strategy: None,
            start_priority: None,
            children: Vec::new(),
        };
        self.dispatch(node, &GROUP, &mut group);
        RawChild::Group(group)
    }

    /// The element's `id`: present, well-formed and not taken yet in its namespace.
    fn id(&mut self, node: Node, space: IdSpace) -> Option<Spanned<String>> {
        let value = xml::required(self.p, node, "id", |t| {
            values::id(t).map(|()| t.to_string())
        })?;
        let at = xml::value_at(node, "id");
        let seen = match space {
            IdSpace::Children => &mut self.ids,
            IdSpace::Profiles => &mut self.profile_ids,
        };
        if let Some(&first) = seen.get(&value) {
            let message = format!(
                "duplicate id `{value}`: {} on {} has it already{}",
                space.what(),
                self.p.place(first),
                space.note()
            );
            self.p.report(at, message);
            return None;
        }
        seen.insert(value.clone(), self.p.global(node.range().start));
        Some(Spanned { value, at })
    }
}

/// The two id namespaces of the registry.
#[derive(Clone, Copy)]
enum IdSpace {
    /// Servers and groups, across the whole tree.
    Children,
    /// Profiles.
    Profiles,
}

impl IdSpace {
    fn what(self) -> &'static str {
        match self {
            IdSpace::Children => "a server or group",
            IdSpace::Profiles => "a profile",
        }
    }

    fn note(self) -> &'static str {
        match self {
            IdSpace::Children => " (servers and groups share one set of ids)",
            IdSpace::Profiles => "",
        }
    }
}

/// `<startPriority>` of a server, profile or group.
pub fn start_priority(w: &mut Walker, node: Node) -> Option<u32> {
    xml::value(w.p, node, |t| values::integer(t, 0u32, 1000))
}

/// A text that must not be empty (paths, names).
pub fn non_empty(text: &str) -> Result<String, String> {
    if text.is_empty() {
        Err("the value is empty".into())
    } else {
        Ok(text.to_string())
    }
}

/// `<tracestatsinterval>`: 0 (off) or at least a second.
fn stats_interval(text: &str) -> Result<std::time::Duration, String> {
    let interval = values::duration(text)?;
    if !interval.is_zero() && interval.as_secs() < 1 {
        return Err(format!("`{text}` is too short: use 0 (off) or at least 1s"));
    }
    Ok(interval)
}

/// A restart-intensity `period`: more than 0.
fn period(text: &str) -> Result<std::time::Duration, String> {
    let period = values::duration(text)?;
    if period.is_zero() {
        return Err("the period must be longer than 0".into());
    }
    Ok(period)
}
