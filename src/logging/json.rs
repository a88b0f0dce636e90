//! The JSON-lines event format of SPEC section 5: one object a line, `timestamp` (RFC 3339,
//! UTC), `level`, `event`, `message`, then the event's own fields, flat and in the order they
//! were written. Structured fields ([`STRUCTURED_FIELDS`]: the id lists of `config_reloaded`, a
//! control `request`) are JSON arrays and objects, never debug strings. A line always has a
//! `message` (the event's name when the call site wrote none).

use std::fmt;

use actors::events::STRUCTURED_FIELDS;
use actors::output::dates;
use serde_json::Value;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use super::priority_prefix;

/// Formats events as JSON lines.
pub struct JsonLines {
    /// Start each line with its syslog priority (`<4>`), for the journal.
    pub priority: bool,
}

impl<S, N> FormatEvent<S, N> for JsonLines
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
        // Written straight into one buffer, field by field: no intermediate JSON values.
        let level = event.metadata().level().as_str();
        let mut bytes = Vec::with_capacity(256);
        if self.priority {
            bytes.extend_from_slice(priority_prefix(level).as_bytes());
        }
        bytes.push(b'{');
        let mut line = Line {
            bytes,
            first: true,
            event: None,
            message: None,
        };
        line.field("timestamp", &dates::rfc3339(std::time::SystemTime::now()));
        line.field("level", level);
        event.record(&mut line);
        // A message with no event (or none at all, the event's name standing in) goes last.
        let message = line.message.take().or_else(|| line.event.take());
        if let Some(message) = message {
            line.field("message", message.as_str());
        }
        line.bytes.push(b'}');
        let line = String::from_utf8(line.bytes).map_err(|_| fmt::Error)?;
        writeln!(writer, "{line}")
    }
}

/// One event's JSON object as it is written.
struct Line {
    bytes: Vec<u8>,
    /// No field written yet (no comma before the next).
    first: bool,
    /// The `event` field, the message of last resort (until a message is written).
    event: Option<String>,
    /// The message, held until `event` is written so that it follows it.
    message: Option<String>,
}

impl Line {
    /// Appends `"name":value`, `value` being anything serde can write.
    fn field(&mut self, name: &str, value: &(impl serde::Serialize + ?Sized)) {
        if !self.first {
            self.bytes.push(b',');
        }
        self.first = false;
        // Writing into a Vec cannot fail, and strings, numbers and booleans always serialize.
        let _ = serde_json::to_writer(&mut self.bytes, name);
        self.bytes.push(b':');
        let _ = serde_json::to_writer(&mut self.bytes, value);
    }
}

impl Visit for Line {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.field(field.name(), &value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.field(field.name(), &value);
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.field(field.name(), &value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.field(field.name(), &value);
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message = Some(value.to_string()),
            "event" => {
                self.field("event", value);
                match self.message.take() {
                    Some(message) => self.field("message", message.as_str()),
                    // No message yet: the name stands in, unless one comes later.
                    None => self.event = Some(value.to_string()),
                }
            }
            name => self.field(name, value),
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let text = format!("{value:?}");
        if field.name() == "message" {
            return self.record_str(field, &text);
        }
        let array = STRUCTURED_FIELDS
            .contains(&field.name())
            .then(|| serde_json::from_str::<Value>(&text).ok())
            .flatten();
        match array {
            Some(array) => self.field(field.name(), &array),
            None => self.field(field.name(), text.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actors::events::Json;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn events_become_flat_json_with_arrays_for_id_lists() {
        let buffer = Buffer::default();
        let sink = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .event_format(JsonLines { priority: false })
            .with_writer(move || sink.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let added = vec!["a".to_string(), "b \"c\"".to_string()];
            let removed: Vec<String> = vec![];
            let needs_restart = vec!["tcpport"];
            let request = serde_json::json!({"restart": {"ids": ["svg"]}});
            tracing::warn!(
                event = "config_reloaded",
                added = ?Json(&added),
                removed = ?Json(&removed),
                needs_restart = ?Json(&needs_restart),
                request = ?Json(&request),
                unchanged = 3u64,
                ok = true,
                "reloaded \"x\""
            );
            tracing::info!(event = "stats", pid = 3);
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        let (first, second) = text.trim().split_once('\n').unwrap();
        let value: Value = serde_json::from_str(first).unwrap();
        assert_eq!(value["level"], "WARN");
        assert_eq!(value["event"], "config_reloaded");
        assert_eq!(value["message"], "reloaded \"x\"");
        assert_eq!(value["added"], serde_json::json!(["a", "b \"c\""]));
        assert_eq!(value["request"]["restart"]["ids"][0], "svg");
        assert_eq!(value["removed"], serde_json::json!([]));
        assert_eq!(value["needs_restart"], serde_json::json!(["tcpport"]));
        assert_eq!(value["unchanged"], 3);
        assert_eq!(value["ok"], true);
        assert!(value["timestamp"].as_str().unwrap().ends_with('Z'));
        assert!(text.starts_with("{\"timestamp\":"));
        let (event, message) = (
            first.find("\"event\"").unwrap(),
            first.find("\"message\"").unwrap(),
        );
        assert!(
            event < message && message < first.find("\"added\"").unwrap(),
            "{first}"
        );
        // No message written: the event's name stands in.
        let value: Value = serde_json::from_str(second).unwrap();
        assert_eq!(value["message"], "stats");
    }
}
