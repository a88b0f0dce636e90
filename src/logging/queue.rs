//! The daemon's log lines go through a queue bounded in bytes to a writer thread of their own,
//! so that a slow or stuck stderr (or disk) never blocks an actor and never grows the daemon:
//! when the queue holds [`BUDGET`] bytes, lines are dropped and counted, and the count (lines and
//! bytes) is logged (`log_lines_dropped`) once the writer has caught up. The writer holds at most
//! one drained batch (at most [`BUDGET`] bytes too) while it writes.
//!
//! The writer thread pauses [`LINGER`] after the first line of a batch, then writes what it
//! drains, so that under a stream of events it wakes once per pause instead of once per line.
//! When no line comes it sleeps on a condition variable, with no timer. At exit it gets
//! [`FLUSH_LIMIT`] to write what is queued: a stuck stderr must not keep the daemon from exiting.

use std::collections::VecDeque;
use std::io::{self, BufWriter, Write};
use std::mem;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::Duration;

use actors::deferred;
use tracing_subscriber::fmt::MakeWriter;

/// How long the writer thread pauses after a batch's first line before it drains the queue:
/// a line waits this long (plus the write of the batch before it).
const LINGER: Duration = Duration::from_millis(2);

/// The bytes (of line buffers) the queue holds; past that, lines are dropped rather than
/// blocking an actor or growing the daemon.
pub const BUDGET: usize = 4 * 1024 * 1024;

/// How long an exiting daemon waits for its log to be written.
const FLUSH_LIMIT: Duration = Duration::from_secs(5);

/// What the queue holds, under one lock.
#[derive(Default)]
struct Pending {
    lines: VecDeque<Vec<u8>>,
    /// The capacity of the buffers in `lines`: what they cost.
    bytes: usize,
    dropped_lines: u64,
    dropped_bytes: u64,
    /// Lines queued so far, and lines written so far (for [`LogQueue::flush`]).
    queued: u64,
    written: u64,
    /// No more lines are coming: write what is queued and end.
    stopping: bool,
    /// The writer has ended.
    finished: bool,
}

/// The queue shared by the subscriber and the writer thread.
struct Shared {
    pending: Mutex<Pending>,
    changed: Condvar,
    budget: usize,
}

impl Shared {
    fn new(budget: usize) -> Arc<Shared> {
        Arc::new(Shared {
            pending: Mutex::new(Pending::default()),
            changed: Condvar::new(),
            budget,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `line`, or counts it dropped when the budget is spent; `true` when the writer is
    /// to be woken (the line is the first of a batch).
    fn push(&self, line: Vec<u8>) -> bool {
        let cost = line.capacity();
        let mut pending = self.lock();
        if pending.bytes + cost > self.budget {
            pending.dropped_lines += 1;
            pending.dropped_bytes += line.len() as u64;
            return false;
        }
        pending.bytes += cost;
        pending.queued += 1;
        pending.lines.push_back(line);
        pending.lines.len() == 1
    }

    /// Waits for lines (or the stop) and takes them all, with the drops counted since the last
    /// batch; `None` once stopped with nothing left.
    fn next_batch(&self) -> Option<Batch> {
        let mut pending = self.lock();
        while pending.lines.is_empty() && !pending.stopping {
            pending = self
                .changed
                .wait(pending)
                .unwrap_or_else(PoisonError::into_inner);
        }
        // The lines of a burst come together (an exit, its restart and the new start are
        // logged around a spawn): it lingers before it writes, so that the write, and whoever
        // reads it, keep off the CPUs while the spawn runs.
        if !pending.stopping {
            drop(pending);
            thread::sleep(LINGER);
            pending = self.lock();
        }
        if pending.lines.is_empty() && pending.dropped_lines == 0 {
            return None;
        }
        pending.bytes = 0;
        Some(Batch {
            lines: mem::take(&mut pending.lines),
            dropped: (
                mem::take(&mut pending.dropped_lines),
                mem::take(&mut pending.dropped_bytes),
            ),
        })
    }
}

/// What the writer drained at once.
struct Batch {
    lines: VecDeque<Vec<u8>>,
    /// Lines and bytes dropped since the last batch.
    dropped: (u64, u64),
}

/// Where the subscriber writes: each event becomes one line on the queue.
#[derive(Clone)]
pub struct LogQueue {
    shared: Arc<Shared>,
    /// Wakes the writer; on the actors' thread, once its burst of work is done (a restart's
    /// lines are written after the spawn, not in its way).
    wake: deferred::Wake,
}

impl LogQueue {
    fn new(shared: &Arc<Shared>) -> LogQueue {
        let woken = Arc::clone(shared);
        LogQueue {
            shared: Arc::clone(shared),
            wake: Arc::new(move || woken.changed.notify_all()),
        }
    }
}

impl LogQueue {
    /// Waits (at most `deadline`) until every line queued so far is written: before an
    /// `execve`, which would lose them. The lines it would lose: not written by then, or
    /// dropped and not yet reported.
    pub fn flush(&self, deadline: Duration) -> u64 {
        // A wake-up the calling thread put off would come only after this wait.
        self.shared.changed.notify_all();
        let pending = self.shared.lock();
        let target = pending.queued;
        let (pending, _) = self
            .shared
            .changed
            .wait_timeout_while(pending, deadline, |p| p.written < target && !p.finished)
            .unwrap_or_else(PoisonError::into_inner);
        target.saturating_sub(pending.written) + pending.dropped_lines
    }
}

/// Stops the writer thread once it has written every queued line (on drop), waiting at most
/// [`FLUSH_LIMIT`].
pub struct FlushOnDrop {
    shared: Arc<Shared>,
}

/// Starts the writer thread on `out`.
pub fn start(out: impl Write + Send + 'static) -> io::Result<(LogQueue, FlushOnDrop)> {
    let shared = Shared::new(BUDGET);
    let writer = Arc::clone(&shared);
    thread::Builder::new()
        .name("log-writer".into())
        .spawn(move || {
            let out = BufWriter::with_capacity(64 * 1024, out);
            write_batches(&writer, out, report_dropped);
            writer.lock().finished = true;
            writer.changed.notify_all();
        })?;
    Ok((LogQueue::new(&shared), FlushOnDrop { shared }))
}

fn report_dropped((lines, bytes): (u64, u64)) {
    tracing::warn!(
        event = actors::events::LOG_LINES_DROPPED,
        dropped = lines,
        bytes,
        "{lines} log lines ({bytes} bytes) were dropped: the log could not keep up"
    );
}

/// Writes what the queue brings, a batch at a time, until it stops; `report` is told how many
/// lines (and bytes) were dropped since the last batch.
fn write_batches(shared: &Shared, mut out: impl Write, report: impl Fn((u64, u64))) {
    while let Some(batch) = shared.next_batch() {
        let count = batch.lines.len() as u64;
        for line in batch.lines {
            let _ = out.write_all(&line);
        }
        let _ = out.flush();
        shared.lock().written += count;
        shared.changed.notify_all();
        if batch.dropped.0 > 0 {
            report(batch.dropped);
        }
    }
}

impl Drop for FlushOnDrop {
    fn drop(&mut self) {
        let mut pending = self.shared.lock();
        pending.stopping = true;
        self.shared.changed.notify_all();
        let _ = self
            .shared
            .changed
            .wait_timeout_while(pending, FLUSH_LIMIT, |p| !p.finished);
    }
}

/// One event's line, queued when the subscriber is done writing it.
pub struct QueuedLine<'a> {
    queue: &'a LogQueue,
    line: Vec<u8>,
}

impl Write for QueuedLine<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.line.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for QueuedLine<'_> {
    fn drop(&mut self) {
        if !self.line.is_empty() && self.queue.shared.push(mem::take(&mut self.line)) {
            deferred::wake(&self.queue.wake);
        }
    }
}

impl<'a> MakeWriter<'a> for LogQueue {
    type Writer = QueuedLine<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        QueuedLine {
            queue: self,
            line: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// A writer that never finishes a write (a stuck stderr).
    struct Stuck;

    impl Write for Stuck {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            thread::sleep(Duration::from_secs(3600));
            Ok(0)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_line_queued_before_the_guard_drops_is_written_in_order() {
        let sink = Sink::default();
        let (queue, guard) = start(sink.clone()).unwrap();
        for n in 0..1000 {
            let mut line = queue.make_writer();
            writeln!(line, "line {n}").unwrap();
        }
        drop(guard);
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        let expected: String = (0..1000).map(|n| format!("line {n}\n")).collect();
        assert_eq!(text, expected);
    }

    #[test]
    fn a_full_queue_drops_lines_and_says_how_many_and_how_many_bytes() {
        let shared = Shared::new(64);
        let queue = LogQueue::new(&shared);
        for n in 0..5 {
            let mut line = queue.make_writer();
            line.line = Vec::with_capacity(30);
            writeln!(line, "line {n}").unwrap();
        }
        let (kept, cost) = {
            let pending = shared.lock();
            (pending.lines.len(), pending.bytes)
        };
        assert_eq!((kept, cost), (2, 60), "two 30-byte buffers fit in 64 bytes");
        shared.lock().stopping = true;
        let sink = Sink::default();
        let reported = Mutex::new(Vec::new());
        write_batches(&shared, sink.clone(), |lost| {
            reported.lock().unwrap().push(lost)
        });
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text, "line 0\nline 1\n");
        assert_eq!(*reported.lock().unwrap(), [(3, 21)]);
    }

    #[test]
    fn a_flush_on_a_thread_that_puts_off_wake_ups_still_writes_every_line() {
        std::thread::spawn(|| {
            let sink = Sink::default();
            let (queue, _guard) = start(sink.clone()).unwrap();
            // The actors' thread: the writer's wake-up waits for a park that a flush never
            // reaches (an upgrade flushes right before its exec).
            deferred::defer_here();
            writeln!(queue.make_writer(), "before the exec").unwrap();
            let started = std::time::Instant::now();
            let lost = queue.flush(Duration::from_secs(5));
            assert_eq!(lost, 0);
            assert!(
                started.elapsed() < Duration::from_secs(1),
                "{:?}",
                started.elapsed()
            );
            assert_eq!(sink.0.lock().unwrap().as_slice(), b"before the exec\n");
            deferred::stop_deferring();
        })
        .join()
        .unwrap();
    }

    #[test]
    fn a_flush_counts_the_lines_a_stuck_writer_did_not_write() {
        let (queue, guard) = start(Stuck).unwrap();
        writeln!(queue.make_writer(), "first").unwrap();
        writeln!(queue.make_writer(), "second").unwrap();
        assert_eq!(queue.flush(Duration::from_millis(200)), 2);
        std::mem::forget(guard);
    }

    #[test]
    fn a_stuck_writer_does_not_keep_the_daemon_from_exiting() {
        let (queue, guard) = start(Stuck).unwrap();
        writeln!(queue.make_writer(), "never written").unwrap();
        let started = std::time::Instant::now();
        drop(guard);
        let waited = started.elapsed();
        assert!(
            waited >= FLUSH_LIMIT && waited < FLUSH_LIMIT * 2,
            "{waited:?}"
        );
    }
}
