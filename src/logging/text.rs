//! The text format, for people: `TIME LEVEL subject: message` and then the other fields as
//! logfmt (`key=value`, a value quoted when it holds a space, `=`, `"` or a control character).
//! The subject is the component (else `supervisor`); a message that could be read as a field is
//! quoted; empty fields are left out, and so is a field that only repeats the message. The level
//! is coloured when asked (a terminal without `NO_COLOR`), nothing else is.
//!
//! [`render`] also turns the daemon's JSON lines back into this format (`logs --daemon`).

use std::fmt::{self, Write as _};

use actors::events::STRUCTURED_FIELDS;
use actors::output::dates;
use serde_json::Value;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use super::priority_prefix;

/// Formats events as text lines.
pub struct TextLines {
    /// Colour the level (ANSI).
    pub colour: bool,
    /// Start each line with its syslog priority (`<4>`), for the journal.
    pub priority: bool,
}

impl<S, N> FormatEvent<S, N> for TextLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let level = event.metadata().level();
        let mut fields = Fields(Vec::with_capacity(8));
        event.record(&mut fields);
        let stamp = dates::stamp(std::time::SystemTime::now());
        let mut line = String::with_capacity(160);
        if self.priority {
            line.push_str(priority_prefix(level.as_str()));
        }
        render(&mut line, &stamp, level.as_str(), &fields.0, self.colour);
        writeln!(writer, "{line}")
    }
}

/// An event's fields in the order they were written.
struct Fields(Vec<(&'static str, Value)>);

impl Fields {
    fn push(&mut self, field: &Field, value: Value) {
        self.0.push((field.name(), value));
    }
}

impl Visit for Fields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field, value.into());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field, value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, value.into());
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, value.into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let text = format!("{value:?}");
        let value = STRUCTURED_FIELDS
            .contains(&field.name())
            .then(|| serde_json::from_str(&text).ok())
            .flatten()
            .unwrap_or(Value::String(text));
        self.push(field, value);
    }
}

/// Appends one line (without its newline): `stamp level subject: message key=value…`.
pub fn render<K: AsRef<str>>(
    out: &mut String,
    stamp: &str,
    level: &str,
    fields: &[(K, Value)],
    colour: bool,
) {
    let get = |name: &str| {
        fields
            .iter()
            .find(|(key, _)| key.as_ref() == name)
            .map(|(_, value)| value)
    };
    let text = |name: &str| get(name).and_then(Value::as_str).filter(|s| !s.is_empty());
    let subject = text("component").unwrap_or("supervisor");
    let message = text("message").or(text("event")).unwrap_or("-");
    let _ = write!(out, "{stamp} ");
    match colour {
        true => {
            let _ = write!(out, "{}{level:<5}\x1b[0m ", colour_of(level));
        }
        false => {
            let _ = write!(out, "{level:<5} ");
        }
    }
    let _ = write!(out, "{subject}: ");
    if looks_like_fields(message) {
        quote(out, message);
    } else {
        out.push_str(message);
    }
    // `event` first, then the rest as written.
    let event = fields.iter().filter(|(key, _)| key.as_ref() == "event");
    let rest = fields.iter().filter(|(key, _)| key.as_ref() != "event");
    for (key, value) in event.chain(rest) {
        let key = key.as_ref();
        if matches!(key, "component" | "message") || value.as_str() == Some(message) {
            continue;
        }
        let mut rendered = String::new();
        if write_value(&mut rendered, value) {
            let _ = write!(out, " {key}={rendered}");
        }
    }
}

/// ANSI colour of a level.
fn colour_of(level: &str) -> &'static str {
    match level {
        "ERROR" => "\x1b[31m",
        "WARN" => "\x1b[33m",
        "INFO" => "\x1b[32m",
        "DEBUG" => "\x1b[34m",
        _ => "\x1b[2m",
    }
}

/// Would a reader take `message` (or part of it) for fields, or lose part of it?
fn looks_like_fields(message: &str) -> bool {
    message.is_empty()
        || message.contains(['=', '"'])
        || message.trim() != message
        || message.chars().any(char::is_control)
}

/// Appends a value as logfmt; `false` (and nothing appended) for an empty one.
fn write_value(out: &mut String, value: &Value) -> bool {
    match value {
        Value::Null => return false,
        Value::String(text) if text.is_empty() => return false,
        Value::String(text) => bare_or_quoted(out, text),
        Value::Bool(_) | Value::Number(_) => {
            let _ = write!(out, "{value}");
        }
        Value::Array(items) if items.is_empty() => return false,
        Value::Array(items) => {
            // A list of plain words reads as `a,b,c`; anything else as quoted JSON.
            let words: Option<Vec<String>> = items.iter().map(plain_word).collect();
            match words {
                Some(words) => out.push_str(&words.join(",")),
                None => quote(out, &value.to_string()),
            }
        }
        Value::Object(_) => quote(out, &value.to_string()),
    }
    true
}

/// A scalar that needs no quoting and holds no comma, as text.
fn plain_word(value: &Value) -> Option<String> {
    let text = match value {
        Value::String(text) => text.clone(),
        Value::Number(_) | Value::Bool(_) => value.to_string(),
        Value::Null | Value::Array(_) | Value::Object(_) => return None,
    };
    (!text.is_empty() && !needs_quotes(&text) && !text.contains(',')).then_some(text)
}

fn needs_quotes(text: &str) -> bool {
    text.is_empty()
        || text
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '=' || c == '"')
}

fn bare_or_quoted(out: &mut String, text: &str) {
    if needs_quotes(text) {
        quote(out, text);
    } else {
        out.push_str(text);
    }
}

/// `"text"` with JSON's escapes.
fn quote(out: &mut String, text: &str) {
    out.push_str(&Value::String(text.to_string()).to_string());
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn line(fields: &[(&str, Value)]) -> String {
        let mut out = String::new();
        render(&mut out, "T", "WARN", fields, false);
        out
    }

    #[test]
    fn subject_message_then_logfmt_fields() {
        let text = line(&[
            ("event", json!("component_exited")),
            ("component", json!("svg")),
            ("group", json!("")),
            ("pid", json!(42)),
            ("code", json!(1)),
            ("expected", json!(false)),
            ("command", json!("/bin/sleep 300")),
            ("message", json!("exited with code 1 after 5 ms")),
        ]);
        assert_eq!(
            text,
            "T WARN  svg: exited with code 1 after 5 ms event=component_exited pid=42 code=1 \
             expected=false command=\"/bin/sleep 300\""
        );
    }

    #[test]
    fn lists_read_as_words_and_odd_values_are_quoted() {
        let text = line(&[
            ("message", json!("registry reloaded")),
            ("event", json!("config_reloaded")),
            ("added", json!(["a", "b"])),
            ("removed", json!([])),
            ("changed", json!(["x y"])),
            ("request", json!({"restart": {"ids": ["svg"]}})),
            ("line", json!("a=\"b\"\n")),
        ]);
        assert_eq!(
            text,
            "T WARN  supervisor: registry reloaded event=config_reloaded added=a,b \
             changed=\"[\\\"x y\\\"]\" request=\"{\\\"restart\\\":{\\\"ids\\\":[\\\"svg\\\"]}}\" \
             line=\"a=\\\"b\\\"\\n\""
        );
    }

    #[test]
    fn a_message_that_looks_like_fields_is_quoted_and_a_repeated_line_left_out() {
        let text = line(&[
            ("event", json!("component_output")),
            ("component", json!("is")),
            ("line", json!("listening on port=80")),
            ("message", json!("listening on port=80")),
        ]);
        assert_eq!(
            text,
            "T WARN  is: \"listening on port=80\" event=component_output"
        );
    }

    #[test]
    fn colour_marks_the_level_only() {
        let mut out = String::new();
        render(&mut out, "T", "ERROR", &[("message", json!("boom"))], true);
        assert_eq!(out, "T \x1b[31mERROR\x1b[0m supervisor: boom");
    }
}
