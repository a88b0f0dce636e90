//! The daemon's log lines go through a bounded queue to a writer thread of their own, so that a
//! slow or stuck stderr (or disk) never blocks an actor: when the queue is full, lines are
//! dropped and counted, and the count is logged (`log_lines_dropped`) once the writer has caught
//! up.
//!
//! The writer thread writes what it has drained in one `write`, then pauses [`LINGER`], so that
//! under a stream of events it wakes once per pause instead of once per line. When no line comes
//! it sleeps in the queue, with no timer.

use std::io::{self, BufWriter, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// How long the writer thread pauses after writing a batch: a line waits at most this long.
const LINGER: Duration = Duration::from_millis(2);

/// Lines the queue holds; past that, lines are dropped rather than blocking an actor.
const CAPACITY: usize = 64 * 1024;

enum Message {
    Line(Vec<u8>),
    Stop,
    /// Answered once every line before it is written.
    Flush(SyncSender<()>),
}

/// Where the subscriber writes: each event becomes one line on the queue.
#[derive(Clone)]
pub struct LogQueue {
    sender: SyncSender<Message>,
    dropped: Arc<AtomicU64>,
}

impl LogQueue {
    /// Waits (at most `deadline`) until every line queued so far is written: before an
    /// `execve`, which would lose them.
    pub fn flush(&self, deadline: Duration) {
        let (done, written) = mpsc::sync_channel(1);
        if self.sender.send(Message::Flush(done)).is_ok() {
            let _ = written.recv_timeout(deadline);
        }
    }
}

/// Stops the writer thread once it has written every queued line (on drop).
pub struct FlushOnDrop {
    sender: SyncSender<Message>,
    writer: Option<JoinHandle<()>>,
}

/// Starts the writer thread on `out`.
pub fn start(out: impl Write + Send + 'static) -> io::Result<(LogQueue, FlushOnDrop)> {
    let (sender, receiver) = mpsc::sync_channel(CAPACITY);
    let dropped = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&dropped);
    let writer = thread::Builder::new()
        .name("log-writer".into())
        .spawn(move || {
            let out = BufWriter::with_capacity(64 * 1024, out);
            write_batches(&receiver, &counted, out, report_dropped);
        })?;
    let queue = LogQueue {
        sender: sender.clone(),
        dropped,
    };
    Ok((
        queue,
        FlushOnDrop {
            sender,
            writer: Some(writer),
        },
    ))
}

fn report_dropped(lost: u64) {
    tracing::warn!(
        event = actors::events::LOG_LINES_DROPPED,
        dropped = lost,
        "{lost} log lines were dropped: the log could not keep up"
    );
}

/// Writes what `receiver` brings, a batch at a time, until it stops; `report` is told how many
/// lines were dropped since the last batch.
fn write_batches(
    receiver: &Receiver<Message>,
    dropped: &AtomicU64,
    mut out: impl Write,
    report: impl Fn(u64),
) {
    while let Ok(first) = receiver.recv() {
        let mut message = Some(first);
        while let Some(Message::Line(line)) = message {
            let _ = out.write_all(&line);
            message = receiver.try_recv().ok();
        }
        let _ = out.flush();
        let lost = dropped.swap(0, Ordering::Relaxed);
        if lost > 0 {
            report(lost);
        }
        match message {
            Some(Message::Stop) => return,
            Some(Message::Flush(done)) => {
                let _ = done.send(());
                continue;
            }
            Some(Message::Line(_)) | None => {}
        }
        thread::sleep(LINGER);
    }
}

impl Drop for FlushOnDrop {
    fn drop(&mut self) {
        // A blocking send: the queue may be full, and every line before the stop is written.
        let _ = self.sender.send(Message::Stop);
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
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
        if self.line.is_empty() {
            return;
        }
        let line = std::mem::take(&mut self.line);
        if let Err(TrySendError::Full(_)) = self.queue.sender.try_send(Message::Line(line)) {
            self.queue.dropped.fetch_add(1, Ordering::Relaxed);
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
    use std::sync::Mutex;

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
    fn a_full_queue_drops_lines_and_says_how_many() {
        let (sender, receiver) = mpsc::sync_channel(2);
        let queue = LogQueue {
            sender,
            dropped: Arc::new(AtomicU64::new(0)),
        };
        for n in 0..5 {
            writeln!(queue.make_writer(), "line {n}").unwrap();
        }
        let dropped = Arc::clone(&queue.dropped);
        assert_eq!(dropped.load(Ordering::Relaxed), 3);
        drop(queue);
        let sink = Sink::default();
        let reported = Mutex::new(Vec::new());
        write_batches(&receiver, &dropped, sink.clone(), |lost| {
            reported.lock().unwrap().push(lost)
        });
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text, "line 0\nline 1\n");
        assert_eq!(*reported.lock().unwrap(), [3]);
    }
}
