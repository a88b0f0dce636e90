//! The daemon's structured log: `tracing` events as JSON lines (or readable text) on stderr or
//! in the daily log file, filtered by the registry's `tracelevel`.

mod json;

use std::io::{self, BufWriter, IsTerminal, Write};
use std::time::Duration;

use tracing::level_filters::LevelFilter;
use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::fmt::writer::BoxMakeWriter;

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

/// Lines buffered for the log writer thread; past that, lines are dropped (and counted by the
/// writer) rather than blocking an actor on a slow or full disk.
const BUFFERED_LINES: usize = 64 * 1024;

/// Installs the global subscriber, writing to `file` or else to stderr through a writer thread.
/// Keep the guard until the process exits: dropping it flushes what is buffered.
pub fn init(format: LogFormat, level: LevelFilter, file: Option<DailyLog>) -> WorkerGuard {
    let ansi = file.is_none() && format == LogFormat::Text && std::io::stderr().is_terminal();
    let builder = NonBlockingBuilder::default()
        .lossy(true)
        .buffered_lines_limit(BUFFERED_LINES);
    let (writer, guard) = match file {
        Some(file) => builder.finish(Batched::new(file)),
        None => builder.finish(Batched::new(std::io::stderr())),
    };
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(BoxMakeWriter::new(writer))
        .with_ansi(ansi)
        .with_target(false);
    match format {
        LogFormat::Json => builder.event_format(json::JsonLines).init(),
        LogFormat::Text => builder.init(),
    }
    guard
}

/// The writer thread's output, written in batches: lines collect in a buffer and go out in one
/// `write` when the thread has drained its queue (it then flushes). The flush also pauses the
/// thread for [`LINGER`], so that under a stream of events it wakes once per pause instead of
/// once per line; an idle daemon's writer thread sleeps in its queue, with no timer.
struct Batched<W: Write> {
    buffer: BufWriter<W>,
}

/// How long the writer thread pauses after writing a batch; a line waits at most this long.
const LINGER: Duration = Duration::from_millis(2);

impl<W: Write> Batched<W> {
    fn new(writer: W) -> Self {
        Batched {
            buffer: BufWriter::with_capacity(64 * 1024, writer),
        }
    }
}

impl<W: Write> Write for Batched<W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buffer.write(bytes)
    }

    fn flush(&mut self) -> io::Result<()> {
        let flushed = self.buffer.flush();
        std::thread::sleep(LINGER);
        flushed
    }
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
