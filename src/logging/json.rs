//! The JSON-lines event format of SPEC section 5: one object a line, `timestamp` (RFC 3339,
//! UTC), `level`, `event`, `message`, then the event's own fields, flat and in the order they
//! were written. Fields holding lists (`added`, `removed`, `changed`, `updated`, `needs_restart`,
//! `applied`) are JSON arrays.

use std::fmt;

use actors::output::dates;
use serde_json::Value;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// Fields recorded with `?list` whose Debug form (`["a", "b"]`) is written as a JSON array.
const ARRAY_FIELDS: &[&str] = &[
    "added",
    "removed",
    "changed",
    "updated",
    "needs_restart",
    "applied",
];

/// Formats events as JSON lines.
pub struct JsonLines;

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
        let mut line = Line(Vec::with_capacity(256));
        line.0.push(b'{');
        line.field("timestamp", &dates::rfc3339(std::time::SystemTime::now()));
        line.field("level", event.metadata().level().as_str());
        event.record(&mut line);
        line.0.push(b'}');
        let line = String::from_utf8(line.0).map_err(|_| fmt::Error)?;
        writeln!(writer, "{line}")
    }
}

/// One event's JSON object as it is written.
struct Line(Vec<u8>);

impl Line {
    /// Appends `"name":value`, `value` being anything serde can write.
    fn field(&mut self, name: &str, value: &(impl serde::Serialize + ?Sized)) {
        if self.0.len() > 1 {
            self.0.push(b',');
        }
        // Writing into a Vec cannot fail, and strings, numbers and booleans always serialize.
        let _ = serde_json::to_writer(&mut self.0, name);
        self.0.push(b':');
        let _ = serde_json::to_writer(&mut self.0, value);
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
        self.field(field.name(), value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let text = format!("{value:?}");
        let array = ARRAY_FIELDS
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
            .event_format(JsonLines)
            .with_writer(move || sink.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let added = vec!["a".to_string(), "b".to_string()];
            let removed: Vec<String> = vec![];
            let needs_restart = vec!["tracelevel"];
            tracing::warn!(event = "config_reloaded", added = ?added, removed = ?removed, needs_restart = ?needs_restart, unchanged = 3u64, ok = true, "reloaded \"x\"");
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        let value: Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(value["level"], "WARN");
        assert_eq!(value["event"], "config_reloaded");
        assert_eq!(value["message"], "reloaded \"x\"");
        assert_eq!(value["added"], serde_json::json!(["a", "b"]));
        assert_eq!(value["removed"], serde_json::json!([]));
        assert_eq!(value["needs_restart"], serde_json::json!(["tracelevel"]));
        assert_eq!(value["unchanged"], 3);
        assert_eq!(value["ok"], true);
        assert!(value["timestamp"].as_str().unwrap().ends_with('Z'));
        assert!(text.starts_with("{\"timestamp\":"));
    }
}
