//! [`LeanDaemon`]: the daemon run for the benchmarks, which read its stderr without parsing more
//! than the few events they need (a full parse of every line, as [`Daemon`](crate::Daemon) does,
//! would take CPU from the daemon under measurement with 10,000 components or a crash loop), and
//! which report a failure as text for the benchmark's table instead of panicking.

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;

use crate::daemon::daemon_command;

/// A start-up with no `component_started` for this long is hung.
pub const START_STALL: Duration = Duration::from_secs(30);

/// The longest a start-up may take, however steadily it goes.
pub const START_CAP: Duration = Duration::from_secs(600);

/// Lines of the daemon's stderr kept for failure reports.
pub const TAIL_LINES: usize = 30;

/// What the stderr reader saw, shared with the benchmark thread.
#[derive(Default)]
pub struct Seen {
    pub started: u64,
    pub exited: u64,
    pub stopped: u64,
    pub last_started: Option<Instant>,
    pub last_stopped: Option<Instant>,
    pub spawn_failed: u64,
    pub last_spawn_error: Option<String>,
    pub errors: Vec<String>,
    pub tail: VecDeque<String>,
    /// Whether started and exited events are parsed and queued (off during the crash loop's
    /// window, where only counts matter and parsing would take CPU from the daemon).
    pub detailed: bool,
}

/// Which component event a [`Logged`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Started,
    Exited,
}

/// A `component_started` or `component_exited` event, when its line was read and the time the
/// daemon wrote in it.
pub struct Logged {
    pub kind: Kind,
    pub component: String,
    pub pid: i32,
    /// When the benchmark read the line.
    pub at: Instant,
    /// The line's `timestamp` (CLOCK_REALTIME, µs precision), in ns since the epoch.
    pub logged_ns: Option<u64>,
}

/// `supervisor --registry R --run-dir D --log-format json run`, its stderr read by a thread.
pub struct LeanDaemon {
    pub child: Child,
    pub pid: i32,
    pub spawned: Instant,
    pub seen: Arc<Mutex<Seen>>,
    pub events: Receiver<Logged>,
    pub exit: Option<ExitStatus>,
}

impl LeanDaemon {
    pub fn spawn(dir: &Path, registry_text: &str) -> Result<LeanDaemon, String> {
        let registry = dir.join("SupervisorRegistry.xml");
        std::fs::write(&registry, registry_text)
            .map_err(|e| format!("cannot write the registry: {e}"))?;
        let spawned = Instant::now();
        let mut child = daemon_command(None, &registry, &dir.join("run"))
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot spawn {}: {e}", crate::supervisor_bin()))?;
        let stderr = child.stderr.take().expect("piped stderr");
        let seen = Arc::new(Mutex::new(Seen {
            detailed: true,
            ..Seen::default()
        }));
        let (sender, events) = mpsc::channel();
        let sink = Arc::clone(&seen);
        std::thread::Builder::new()
            .name("daemon-stderr".into())
            .spawn(move || read_stderr(stderr, &sink, &sender))
            .expect("spawn the stderr reader");
        Ok(LeanDaemon {
            pid: child.id() as i32,
            child,
            spawned,
            seen,
            events,
            exit: None,
        })
    }

    /// Whether the daemon has exited (and its status, once).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none() {
            self.exit = self.child.try_wait().ok().flatten();
        }
        self.exit
    }

    /// The failure text for a wait that did not end well: exit status or hang, the daemon's last
    /// error lines and the tail of its stderr.
    pub fn failure(&mut self, what: String) -> String {
        let mut text = what;
        match self.exited() {
            Some(status) => {
                let _ = write!(text, "; the daemon exited ({status})");
            }
            None => text.push_str("; the daemon is still running"),
        }
        let seen = self.seen.lock().unwrap();
        if seen.spawn_failed > 0 {
            let _ = write!(
                text,
                "; it logged {} `component_spawn_failed`, the last: {}",
                seen.spawn_failed,
                seen.last_spawn_error.as_deref().unwrap_or("?")
            );
        }
        if !seen.errors.is_empty() {
            let _ = write!(text, "; its errors: {}", seen.errors.join(" | "));
        }
        eprintln!("scenarios: FAILURE: {text}\nscenarios: last lines of the daemon's stderr:");
        for line in &seen.tail {
            eprintln!("    {line}");
        }
        text
    }

    /// Waits until `n` components have started, collecting their pids by id into `pids` (also
    /// on failure, so that the caller can check them). Fails when the daemon exits, when no
    /// component has started for [`START_STALL`] (a hang), or after [`START_CAP`] in all.
    pub fn wait_all_started(
        &mut self,
        n: usize,
        pids: &mut HashMap<String, i32>,
    ) -> Result<(), String> {
        let mut progress = Instant::now();
        while pids.len() < n {
            match self.events.recv_timeout(Duration::from_millis(100)) {
                Ok(started) if started.kind == Kind::Started => {
                    pids.insert(started.component, started.pid);
                    progress = Instant::now();
                }
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    let what = format!(
                        "stderr closed after {} of {n} components started",
                        pids.len()
                    );
                    return Err(self.failure(what));
                }
            }
            let stalled = progress.elapsed() >= START_STALL;
            if self.exited().is_some() || stalled || self.spawned.elapsed() >= START_CAP {
                let mut what = format!(
                    "{} of {n} components started after {:.1} s",
                    pids.len(),
                    self.spawned.elapsed().as_secs_f64()
                );
                if stalled {
                    let _ = write!(what, ", none in the last {} s", START_STALL.as_secs());
                } else if self.exit.is_none() {
                    let _ = write!(
                        what,
                        " (still starting: the last {:.2} s ago; gave up at the {} s cap)",
                        progress.elapsed().as_secs_f64(),
                        START_CAP.as_secs()
                    );
                }
                return Err(self.failure(what));
            }
        }
        Ok(())
    }

    /// Waits for the next `component_started` of `component` with a pid other than `old`; also
    /// the `component_exited` of `old`, if it was seen on the way.
    pub fn wait_restarted(
        &mut self,
        component: &str,
        old: i32,
        timeout: Duration,
    ) -> Result<(Logged, Option<Logged>), String> {
        let deadline = Instant::now() + timeout;
        let mut exited = None;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self
                .events
                .recv_timeout(left.min(Duration::from_millis(100)))
            {
                Ok(event) if event.component == component => match event.kind {
                    Kind::Exited if event.pid == old => exited = Some(event),
                    Kind::Started if event.pid != old => return Ok((event, exited)),
                    _ => {}
                },
                Ok(_) | Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(self.failure(format!(
                        "stderr closed while waiting for {component} to restart"
                    )));
                }
            }
            if self.exited().is_some() || left.is_zero() {
                let what = format!(
                    "{component} was not restarted within {} s of kill -9",
                    timeout.as_secs()
                );
                return Err(self.failure(what));
            }
        }
    }

    /// Sends SIGTERM and waits for the exit; the time from the signal to the exit.
    pub fn terminate(&mut self, timeout: Duration) -> Result<(Duration, ExitStatus), String> {
        let sent = Instant::now();
        signal(self.pid, Signal::SIGTERM);
        let deadline = sent + timeout;
        loop {
            if let Some(status) = self.exited() {
                return Ok((sent.elapsed(), status));
            }
            if Instant::now() >= deadline {
                let stopped = self.seen.lock().unwrap().stopped;
                let what = format!(
                    "no exit within {} s of SIGTERM ({stopped} component_stopped logged)",
                    timeout.as_secs()
                );
                return Err(self.failure(what));
            }
            std::thread::sleep(Duration::from_micros(500));
        }
    }
}

impl Drop for LeanDaemon {
    fn drop(&mut self) {
        if self.exited().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub fn signal(pid: i32, signal: Signal) {
    let _ = kill(Pid::from_raw(pid), signal);
}

/// Reads the daemon's stderr (its JSON log lines and the stand-ins' own lines, which share it)
/// without parsing more than the few events the scenarios need.
pub fn read_stderr(stderr: impl Read, seen: &Mutex<Seen>, events: &mpsc::Sender<Logged>) {
    let mut reader = BufReader::with_capacity(1 << 16, stderr);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let at = Instant::now();
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end();
        let mut seen = seen.lock().unwrap();
        if seen.tail.len() == TAIL_LINES {
            seen.tail.pop_front();
        }
        seen.tail.push_back(text.to_string());
        let kind = if text.contains("\"event\":\"component_started\"") {
            seen.started += 1;
            seen.last_started = Some(at);
            Some(Kind::Started)
        } else if text.contains("\"event\":\"component_exited\"") {
            seen.exited += 1;
            Some(Kind::Exited)
        } else {
            None
        };
        let detailed = seen.detailed;
        if let (Some(kind), true) = (kind, detailed) {
            drop(seen);
            if let Ok(event) = serde_json::from_str::<Value>(text) {
                let _ = events.send(Logged {
                    kind,
                    component: event["component"].as_str().unwrap_or_default().to_string(),
                    pid: event["pid"].as_i64().unwrap_or(-1) as i32,
                    at,
                    logged_ns: event["timestamp"]
                        .as_str()
                        .and_then(crate::events::timestamp_ns),
                });
            }
        } else if text.contains("\"event\":\"component_stopped\"") {
            seen.stopped += 1;
            seen.last_stopped = Some(at);
        } else if text.contains("\"event\":\"component_spawn_failed\"") {
            seen.spawn_failed += 1;
            seen.last_spawn_error = serde_json::from_str::<Value>(text)
                .ok()
                .and_then(|event| event["error"].as_str().map(str::to_string));
        } else if text.contains("\"level\":\"ERROR\"") && seen.errors.len() < 10 {
            seen.errors.push(text.to_string());
        }
    }
}
