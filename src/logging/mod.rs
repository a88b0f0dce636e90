//! The daemon's structured log: `tracing` events as JSON lines (or readable text) on stderr or
//! in the daily log file, filtered by the registry's `tracelevel` (changed live by a reload).
//!
//! On stderr, the text format colours the level on a terminal unless `NO_COLOR` is set; when
//! stderr is the systemd journal (`JOURNAL_STREAM` names its device and inode), each line starts
//! with its syslog priority (`<3>` error … `<7>` debug), so `journalctl -p warning` filters.

mod journal;
mod json;
mod queue;
pub mod text;

use std::io::{self, IsTerminal};
use std::sync::OnceLock;

use tracing::level_filters::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Registry, reload};

use crate::cli::LogFormat;
use crate::logfile::DailyLog;

pub use journal::stderr_is_journal;

/// The format to use when none was asked for: text on a terminal, JSON otherwise.
pub fn default_format() -> LogFormat {
    if std::io::stderr().is_terminal() {
        LogFormat::Text
    } else {
        LogFormat::Json
    }
}

/// Maps `<tracelevel>` (1 warn, 2 info, 3 debug, 4 trace) to a filter.
pub fn level(trace_level: u8) -> LevelFilter {
    match trace_level {
        0 | 1 => LevelFilter::WARN,
        2 => LevelFilter::INFO,
        3 => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    }
}

/// Whether text on stderr may be coloured: a terminal, `NO_COLOR` unset or empty, `TERM` not
/// `dumb`.
fn colour_wanted() -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
    let dumb = std::env::var_os("TERM").is_some_and(|term| term == "dumb");
    io::stderr().is_terminal() && !no_color && !dumb
}

/// The syslog priority prefix of a level (`ERROR` → `<3>`), as journald reads it.
fn priority_prefix(level: &str) -> &'static str {
    match level {
        "ERROR" => "<3>",
        "WARN" => "<4>",
        "INFO" => "<6>",
        _ => "<7>",
    }
}

/// Where a reload sends the new level.
static LEVEL: OnceLock<reload::Handle<LevelFilter, Registry>> = OnceLock::new();

/// Applies a new `<tracelevel>` to the running subscriber (a reload).
pub fn set_level(trace_level: u8) {
    if let Some(handle) = LEVEL.get() {
        let _ = handle.modify(|filter| *filter = level(trace_level));
    }
}

/// The format the log was started with (the daemon's helpers write theirs alike).
static FORMAT: OnceLock<LogFormat> = OnceLock::new();

/// The format [`init`] installed, if it ran.
pub fn format_in_use() -> Option<LogFormat> {
    FORMAT.get().copied()
}

/// The writer [`init`] installed, for [`flush`].
static QUEUE: OnceLock<queue::LogQueue> = OnceLock::new();

/// Waits (briefly) until every log line so far is written: before an `execve`. The lines that
/// were not (a stuck stderr or disk), dropped ones not yet reported included.
pub fn flush() -> u64 {
    QUEUE
        .get()
        .map_or(0, |queue| queue.flush(std::time::Duration::from_secs(1)))
}

/// Installs the global subscriber, writing to `file` or else to stderr through a writer thread
/// (see [`queue`]). Keep the guard until the process exits: dropping it writes what is queued.
pub fn init(
    format: LogFormat,
    level: LevelFilter,
    file: Option<DailyLog>,
) -> io::Result<queue::FlushOnDrop> {
    let on_stderr = file.is_none();
    let colour = on_stderr && colour_wanted();
    let priority = on_stderr && stderr_is_journal();
    let _ = FORMAT.set(format);
    let (writer, guard) = match file {
        Some(file) => queue::start(file)?,
        None => queue::start(io::stderr())?,
    };
    let _ = QUEUE.set(writer.clone());
    let (filter, handle) = reload::Layer::new(level);
    let _ = LEVEL.set(handle);
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_ansi(false);
    let registry = tracing_subscriber::registry().with(filter);
    match format {
        LogFormat::Json => registry
            .with(layer.event_format(json::JsonLines { priority }))
            .init(),
        LogFormat::Text => registry
            .with(layer.event_format(text::TextLines { colour, priority }))
            .init(),
    }
    Ok(guard)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_levels_map_to_filters() {
        assert_eq!(level(1), LevelFilter::WARN);
        assert_eq!(level(2), LevelFilter::INFO);
        assert_eq!(level(3), LevelFilter::DEBUG);
        assert_eq!(level(4), LevelFilter::TRACE);
    }

    #[test]
    fn priorities_are_syslog_numbers() {
        assert_eq!(priority_prefix("ERROR"), "<3>");
        assert_eq!(priority_prefix("WARN"), "<4>");
        assert_eq!(priority_prefix("INFO"), "<6>");
        assert_eq!(priority_prefix("DEBUG"), "<7>");
        assert_eq!(priority_prefix("TRACE"), "<7>");
    }
}
