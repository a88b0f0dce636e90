//! Strict reading of one XML element: its attributes, its element children, its text.
//!
//! Knows nothing of the schema except what the caller passes in (allowed names, a value parser),
//! and reports every deviation — unknown attribute, stray text, child elements in a text-only
//! element, nesting past [`MAX_DEPTH`] — to [`Problems`]. Never panics on any document.

use roxmltree::{Node, NodeType};

use super::MAX_DEPTH;
use super::error::Problems;
use super::raw::Spanned;

/// XML's whitespace characters (Rust's `trim` would also strip Unicode spaces).
const XML_SPACE: [char; 4] = [' ', '\t', '\r', '\n'];

/// An element's name for messages: `` `<name>` ``, with its namespace if it has one.
pub fn tag(node: Node) -> String {
    let name = node.tag_name();
    match name.namespace() {
        None => format!("`<{}>`", name.name()),
        Some(namespace) => format!("`<{}>` (namespace `{namespace}`)", name.name()),
    }
}

/// The element's name for matching against the schema: `None` for a namespaced element,
/// which the schema never has.
pub fn local_name<'a>(node: Node<'a, '_>) -> Option<&'a str> {
    let name = node.tag_name();
    name.namespace().is_none().then(|| name.name())
}

/// `` `<a>`, `<b>` `` for messages.
pub fn list(names: &[&str]) -> String {
    let tags: Vec<String> = names.iter().map(|n| format!("`<{n}>`")).collect();
    tags.join(", ")
}

/// How deep `node` sits: the root element is 1. Costs O(depth), which the walker keeps ≤ 33.
fn depth(node: Node) -> usize {
    node.ancestors().count() - 1
}

/// Reports an element that is not allowed inside `parent`, listing what is.
pub fn unknown(p: &mut Problems, node: Node, parent: Node, allowed: &[&str]) {
    let name = node.tag_name().name();
    let within = match local_name(parent) {
        Some(super::walk::BARE_ROOT) => "the included file".to_string(),
        _ => tag(parent),
    };
    let mut message = format!("unknown element {} in {within}", tag(node));
    if node.tag_name().namespace().is_some() {
        message.push_str("; the registry uses no XML namespaces");
    } else if let Some(near) = allowed.iter().find(|a| a.eq_ignore_ascii_case(name)) {
        message.push_str(&format!(
            "; names are case-sensitive: did you mean `<{near}>`?"
        ));
    } else if allowed.is_empty() {
        message.push_str("; nothing may appear there");
    } else {
        message.push_str(&format!("; allowed here: {}", list(allowed)));
    }
    p.report(node.range().start, message);
}

/// Reports every attribute of `node` that is not in `allowed`.
pub fn check_attributes(p: &mut Problems, node: Node, allowed: &[&str]) {
    check_attributes_but(p, node, allowed, &[]);
}

/// Like [`check_attributes`], but leaves the attributes in `handled` to the caller, which
/// reports them with a message of its own (they are not listed as allowed either).
pub fn check_attributes_but(p: &mut Problems, node: Node, allowed: &[&str], handled: &[&str]) {
    for attribute in node.attributes() {
        let name = attribute.name();
        let known =
            attribute.namespace().is_none() && (allowed.contains(&name) || handled.contains(&name));
        if known {
            continue;
        }
        let names: Vec<String> = allowed.iter().map(|a| format!("`{a}`")).collect();
        let help = if names.is_empty() {
            "it takes no attributes".to_string()
        } else {
            format!("allowed: {}", names.join(", "))
        };
        let message = format!(
            "unknown attribute `{}` on {}; {help}",
            attribute.name(),
            tag(node)
        );
        p.report(attribute.range().start, message);
    }
}

/// The attribute `name` of `node` parsed by `parse` (trimmed first); `None` when absent or bad
/// (a bad value is reported at the value).
pub fn attribute<T>(
    p: &mut Problems,
    node: Node,
    name: &str,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Option<T> {
    let attribute = node
        .attributes()
        .find(|a| a.name() == name && a.namespace().is_none())?;
    let raw = attribute.value();
    let value = raw.trim_matches(XML_SPACE);
    let at = attribute.range_value().start + (raw.len() - raw.trim_start_matches(XML_SPACE).len());
    let parsed = if value.contains('\0') {
        Err("the value contains a NUL character".to_string())
    } else {
        parse(value)
    };
    parsed
        .map_err(|message| p.report(at, format!("{} attribute `{name}`: {message}", tag(node))))
        .ok()
}

/// Where attribute `name` (its name) starts; `None` when `node` has no such attribute.
pub fn attribute_at(node: Node, name: &str) -> Option<usize> {
    node.attributes()
        .find(|a| a.name() == name && a.namespace().is_none())
        .map(|a| a.range().start)
}

/// Where the value of attribute `name` starts (the element's start when there is none).
pub fn value_at(node: Node, name: &str) -> usize {
    node.attributes()
        .find(|a| a.name() == name && a.namespace().is_none())
        .map_or(node.range().start, |a| a.range_value().start)
}

/// Like [`attribute`], but a missing attribute is reported at the element.
pub fn required<T>(
    p: &mut Problems,
    node: Node,
    name: &str,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Option<T> {
    if !node.has_attribute(name) {
        p.report(
            node.range().start,
            format!("{} needs the attribute `{name}`", tag(node)),
        );
        return None;
    }
    attribute(p, node, name, parse)
}

/// The element children of `node`, comments and processing instructions skipped. Non-blank
/// text between them is reported, and so is the first child past [`MAX_DEPTH`] (then none are
/// returned, so nothing walks deeper).
pub fn children<'a, 'i>(p: &mut Problems, node: Node<'a, 'i>) -> Vec<Node<'a, 'i>> {
    let mut elements = Vec::new();
    for child in node.children() {
        match child.node_type() {
            NodeType::Element => elements.push(child),
            NodeType::Text => stray_text(p, node, child),
            NodeType::Root | NodeType::Comment | NodeType::PI => {}
        }
    }
    if let Some(first) = elements.first() {
        if depth(node) >= MAX_DEPTH {
            let message = format!(
                "{} is nested more than {MAX_DEPTH} elements deep, the most the registry allows",
                tag(*first)
            );
            p.report(first.range().start, message);
            return Vec::new();
        }
    }
    elements
}

/// Reports non-blank text inside an element that holds elements only.
fn stray_text(p: &mut Problems, parent: Node, text: Node) {
    let Some(content) = text.text() else { return };
    let content = content.trim_matches(XML_SPACE);
    if content.is_empty() {
        return;
    }
    let mut shown: String = content.chars().take(24).collect();
    if shown.len() < content.len() {
        shown.push('…');
    }
    let message = format!(
        "unexpected text `{shown}` in {}; it holds elements only",
        tag(parent)
    );
    p.report(text_start(text).unwrap_or(text.range().start), message);
}

/// Byte offset of the first non-blank character of a text node, if it has one.
fn text_start(text: Node) -> Option<usize> {
    let range = text.range();
    let raw = text.document().input_text().get(range.clone())?;
    let blank = raw.len() - raw.trim_start_matches(XML_SPACE).len();
    (blank < raw.len()).then_some(range.start + blank)
}

/// The text of a text-only element (all its text nodes joined; child elements are reported),
/// trimmed of surrounding whitespace unless `verbatim`. It is placed at its first non-blank
/// character, or at the element when blank.
pub fn text(p: &mut Problems, node: Node, verbatim: bool) -> Spanned<String> {
    let mut value = String::new();
    let mut at = None;
    for child in node.children() {
        match child.node_type() {
            NodeType::Element => p.report(
                child.range().start,
                format!(
                    "{} holds text only; {} is not allowed inside it",
                    tag(node),
                    tag(child)
                ),
            ),
            NodeType::Text => {
                at = at.or_else(|| text_start(child));
                value.push_str(child.text().unwrap_or_default());
            }
            NodeType::Root | NodeType::Comment | NodeType::PI => {}
        }
    }
    let at = at.unwrap_or(node.range().start);
    if value.contains('\0') {
        p.report(at, format!("{} contains a NUL character", tag(node)));
    }
    if !verbatim {
        value = value.trim_matches(XML_SPACE).to_string();
    }
    Spanned { value, at }
}

/// A text-only element without attributes, its trimmed text parsed by `parse`; `None` when the
/// value is bad (reported at the value).
pub fn value<T>(
    p: &mut Problems,
    node: Node,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Option<T> {
    check_attributes(p, node, &[]);
    let text = text(p, node, false);
    parse(&text.value)
        .map_err(|message| p.report(text.at, format!("{}: {message}", tag(node))))
        .ok()
}

/// Reports any content of an element that must be empty (`<backoff/>`, `<profile ref/>`).
pub fn empty(p: &mut Problems, node: Node) {
    for child in node.children() {
        let offending = match child.node_type() {
            NodeType::Element => Some(child.range().start),
            NodeType::Text => text_start(child),
            NodeType::Root | NodeType::Comment | NodeType::PI => None,
        };
        if let Some(at) = offending {
            p.report(
                at,
                format!("{} must be empty: it has only attributes", tag(node)),
            );
            return;
        }
    }
}

/// Which children a container already had, for "at most once".
#[derive(Default)]
pub struct Seen(Vec<(String, usize)>);

impl Seen {
    /// Whether `node` is the first of its name here; a repeat is reported.
    pub fn first(&mut self, p: &mut Problems, node: Node, parent: Node) -> bool {
        let name = node.tag_name().name();
        if let Some(&(_, at)) = self.0.iter().find(|(seen, _)| seen == name) {
            let message = format!(
                "second {} in {} (the first is on line {}); it may appear only once",
                tag(node),
                tag(parent),
                p.line(at)
            );
            p.report(node.range().start, message);
            return false;
        }
        self.0.push((name.to_string(), node.range().start));
        true
    }
}
