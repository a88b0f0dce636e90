//! `status` round trips, as `supervisor status` makes them (one request line on the control
//! socket, one reply line), asked again and again from a thread while something else goes on.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::stats::{ms, percentile};

/// A thread asking for `status` every few milliseconds until [`StatusProbe::finish`].
pub struct StatusProbe {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Vec<u64>>,
}

/// The pause between two requests: a user's `watch supervisor status` is far rarer; this keeps
/// one request in flight most of the time without taking a CPU from the daemon.
const PAUSE: Duration = Duration::from_millis(5);

impl StatusProbe {
    /// Starts asking the daemon whose control socket is (or will be) `socket`.
    pub fn start(socket: PathBuf) -> StatusProbe {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut rounds = Vec::new();
            while !stopped.load(Ordering::Relaxed) {
                if let Some(took) = round_trip(&socket) {
                    rounds.push(took.as_nanos() as u64);
                }
                std::thread::sleep(PAUSE);
            }
            rounds
        });
        StatusProbe { stop, thread }
    }

    /// Stops asking; the round trips, sorted.
    pub fn finish(self) -> Rounds {
        self.stop.store(true, Ordering::Relaxed);
        let mut rounds = self.thread.join().unwrap_or_default();
        rounds.sort_unstable();
        Rounds(rounds)
    }
}

/// `status` round trips for `window` on the control socket `socket`, nothing else asked meanwhile.
pub fn status_for(socket: &Path, window: Duration) -> Rounds {
    let probe = StatusProbe::start(socket.to_path_buf());
    std::thread::sleep(window);
    probe.finish()
}

/// Sorted round-trip times, in ns.
pub struct Rounds(pub Vec<u64>);

impl Rounds {
    pub fn p99(&self) -> u64 {
        percentile(&self.0, 99.0)
    }

    /// `p50 · p99 · max (N requests)`.
    pub fn summary(&self) -> String {
        format!(
            "p50 {} · p99 {} · max {} ({} requests)",
            ms(percentile(&self.0, 50.0)),
            ms(self.p99()),
            ms(self.0.last().copied().unwrap_or(0)),
            self.0.len()
        )
    }
}

/// One `status` request and its reply; `None` when the socket is not there (yet) or the reply
/// is not a status.
fn round_trip(socket: &PathBuf) -> Option<Duration> {
    let started = Instant::now();
    let mut stream = UnixStream::connect(socket).ok()?;
    stream.write_all(b"{\"command\":\"status\"}\n").ok()?;
    let mut reply = String::new();
    BufReader::new(stream).read_line(&mut reply).ok()?;
    let took = started.elapsed();
    reply.contains("status").then_some(took)
}
