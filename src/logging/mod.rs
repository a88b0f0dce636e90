//! The daemon's structured log: `tracing` events as JSON lines (or readable text) on stderr or
//! in the daily log file, filtered by the registry's `tracelevel`.

mod json;
mod queue;

use std::io::{self, IsTerminal};
use std::sync::OnceLock;

use tracing::level_filters::LevelFilter;

use crate::cli::LogFormat;
use crate::logfile::DailyLog;

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

/// The format the log was started with (the daemon's helpers write theirs alike).
static FORMAT: OnceLock<LogFormat> = OnceLock::new();

/// The format [`init`] installed, if it ran.
pub fn format_in_use() -> Option<LogFormat> {
    FORMAT.get().copied()
}

/// Installs the global subscriber, writing to `file` or else to stderr through a writer thread
/// (see [`queue`]). Keep the guard until the process exits: dropping it writes what is queued.
pub fn init(
    format: LogFormat,
    level: LevelFilter,
    file: Option<DailyLog>,
) -> io::Result<queue::FlushOnDrop> {
    let _ = FORMAT.set(format);
    let ansi = file.is_none() && format == LogFormat::Text && io::stderr().is_terminal();
    let (writer, guard) = match file {
        Some(file) => queue::start(file)?,
        None => queue::start(io::stderr())?,
    };
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(writer)
        .with_ansi(ansi)
        .with_target(false);
    match format {
        LogFormat::Json => builder.event_format(json::JsonLines).init(),
        LogFormat::Text => builder.init(),
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
}
