//! [`Daemon`]: the real `supervisor` binary run on a registry written into a fresh temporary
//! directory, its JSON log lines read as they come, and waits for events with a deadline (never a
//! bare sleep). It owns the daemon process: dropping it stops the daemon (SIGTERM, then SIGKILL).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{DEADLINE, supervisor_bin};

/// `[WRAPPER…] supervisor --registry REGISTRY --run-dir RUN_DIR --log-format json run`, stdin and
/// stdout to /dev/null: the daemon as every test and bench runs it (the caller pipes stderr).
pub fn daemon_command(wrapper: Option<&[&str]>, registry: &Path, run_dir: &Path) -> Command {
    let mut command = match wrapper.and_then(|words| words.split_first()) {
        Some((program, words)) => {
            let mut command = Command::new(program);
            command.args(words).arg(supervisor_bin());
            command
        }
        None => Command::new(supervisor_bin()),
    };
    command
        .arg("--registry")
        .arg(registry)
        .arg("--run-dir")
        .arg(run_dir)
        .args(["--log-format", "json", "run"])
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    command
}

/// What the daemon has logged so far, and whether its stderr has ended.
#[derive(Default)]
struct Log {
    events: Vec<Value>,
    ended: bool,
}

/// The log, also after a test panicked while it held it (the reader thread reads on).
fn lock(log: &Mutex<Log>) -> MutexGuard<'_, Log> {
    log.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How long [`Daemon::wait_exit`] waits, after the exit, for the last log lines: a descendant
/// that escaped with the daemon's stderr can hold it open for ever.
const LOG_END: Duration = Duration::from_secs(2);

/// A running daemon and what it has logged so far.
pub struct Daemon {
    pub dir: tempfile::TempDir,
    pub registry: PathBuf,
    child: Child,
    log: Arc<(Mutex<Log>, Condvar)>,
    cursor: usize,
    exit: Option<ExitStatus>,
}

impl Daemon {
    /// Writes `xml` as the registry in a new temporary directory and runs the daemon on it.
    pub fn start(xml: &str) -> Daemon {
        let dir = tempfile::tempdir().expect("tempdir");
        let registry = dir.path().join("SupervisorRegistry.xml");
        std::fs::write(&registry, xml).expect("write registry");
        Daemon::start_at(dir, registry)
    }

    fn start_at(dir: tempfile::TempDir, registry: PathBuf) -> Daemon {
        Daemon::start_wrapped(dir, registry, &[])
    }

    /// Runs the daemon through `wrapper` (e.g. `prlimit --nofile=40`, `setpriv …`): the
    /// wrapper's words come first, then the supervisor binary and its arguments.
    pub fn start_wrapped(dir: tempfile::TempDir, registry: PathBuf, wrapper: &[&str]) -> Daemon {
        let mut child = daemon_command(Some(wrapper), &registry, &dir.path().join("run"))
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn supervisor");
        let log = Arc::new((Mutex::new(Log::default()), Condvar::new()));
        let stderr = child.stderr.take().expect("stderr");
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let value = serde_json::from_str(&line)
                    .unwrap_or_else(|_| serde_json::json!({ "event": "unparsed", "line": line }));
                let (log, changed) = &*sink;
                lock(log).events.push(value);
                changed.notify_all();
            }
            let (log, changed) = &*sink;
            lock(log).ended = true;
            changed.notify_all();
        });
        Daemon {
            dir,
            registry,
            child,
            log,
            cursor: 0,
            exit: None,
        }
    }

    /// The daemon's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Every event logged so far.
    pub fn events(&self) -> Vec<Value> {
        lock(&self.log.0).events.clone()
    }

    /// Waits for the next event (after the cursor) matching `matches`, and moves the cursor past it.
    pub fn wait_for(&mut self, what: &str, matches: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + DEADLINE;
        let (log, changed) = &*self.log;
        let mut guard = lock(log);
        loop {
            if let Some(offset) = guard.events[self.cursor..].iter().position(&matches) {
                self.cursor += offset + 1;
                return guard.events[self.cursor - 1].clone();
            }
            let now = Instant::now();
            if now >= deadline {
                let seen: Vec<String> = guard.events.iter().map(|e| e.to_string()).collect();
                panic!(
                    "timed out waiting for {what}; log so far:\n{}",
                    seen.join("\n")
                );
            }
            guard = changed.wait_timeout(guard, deadline - now).unwrap().0;
        }
    }

    /// Waits for `event` about `component`.
    pub fn wait_event(&mut self, event: &str, component: &str) -> Value {
        self.wait_for(&format!("{event} of {component}"), |e| {
            e["event"] == event && e["component"] == component
        })
    }

    /// Waits for `event` (any subject).
    pub fn wait_any(&mut self, event: &str) -> Value {
        self.wait_for(event, |e| e["event"] == event)
    }

    /// Waits until `component` has started and returns its pid.
    pub fn started_pid(&mut self, component: &str) -> u32 {
        pid_of(&self.wait_event("component_started", component))
    }

    /// Sends `signal` to the daemon.
    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid() as i32), signal)
            .expect("signal daemon");
    }

    /// Waits for the daemon to exit (within the deadline) and returns its exit code. The log is
    /// then read to its end (within [`LOG_END`]), so counts taken after the exit are whole.
    pub fn wait_exit(&mut self) -> Option<i32> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                self.exit = Some(status);
                self.read_to_end();
                return status.code();
            }
            assert!(Instant::now() < deadline, "daemon did not exit in time");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Waits (up to [`LOG_END`]) until the log reader has seen the end of the daemon's stderr.
    fn read_to_end(&self) {
        let (log, changed) = &*self.log;
        let guard = lock(log);
        let (_guard, waited) = (changed.wait_timeout_while(guard, LOG_END, |log| !log.ended))
            .unwrap_or_else(PoisonError::into_inner);
        if waited.timed_out() {
            eprintln!("note: the daemon's stderr is still open {LOG_END:?} after its exit");
        }
    }

    /// Sends SIGTERM and waits for the exit code.
    pub fn stop(&mut self) -> Option<i32> {
        self.signal(nix::sys::signal::Signal::SIGTERM);
        self.wait_exit()
    }

    /// How many `event` events (about anything) have been logged so far.
    pub fn count(&self, event: &str) -> usize {
        self.events().iter().filter(|e| e["event"] == event).count()
    }

    /// The events logged so far, named.
    pub fn names(&self) -> Vec<String> {
        self.events()
            .iter()
            .map(|e| e["event"].as_str().unwrap_or("").to_string())
            .collect()
    }

    /// The run directory this daemon was given (`DIR/run`).
    pub fn run_dir(&self) -> PathBuf {
        self.path().join("run")
    }

    /// `supervisor --registry REGISTRY --run-dir RUN_DIR ARGS…` against this daemon, run to
    /// completion from `/` within `limit` (else the test fails).
    pub fn cli(&self, args: &[&str], limit: Duration) -> std::process::Output {
        let mut command = crate::cli_command(&self.registry, &self.run_dir(), args);
        command.current_dir("/");
        crate::registry::run_bounded(command, limit)
    }

    /// The rows of `supervisor status --json` (which must answer 0 within [`DEADLINE`]).
    ///
    /// [`DEADLINE`]: crate::DEADLINE
    pub fn status_rows(&self) -> Vec<serde_json::Value> {
        let output = self.cli(&["status", "--json"], crate::DEADLINE);
        assert_eq!(output.status.code(), Some(0), "status --json: {output:?}");
        match serde_json::from_slice(&output.stdout) {
            Ok(serde_json::Value::Array(rows)) => rows,
            other => panic!("status --json is a JSON array: {other:?}"),
        }
    }

    /// The `status --json` row of component `id` (which must have one).
    pub fn status_row(&self, id: &str) -> serde_json::Value {
        let rows = self.status_rows();
        let row = rows.iter().find(|row| row["id"] == id);
        row.cloned()
            .unwrap_or_else(|| panic!("no row for {id} in {rows:?}"))
    }

    /// The temporary directory of this daemon.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Daemon {
    /// An orderly stop first (so the daemon removes its cgroups and files), SIGKILL if it does
    /// not exit within a few seconds.
    fn drop(&mut self) {
        if self.exit.is_some() {
            return;
        }
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        if nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).is_ok() {
            let deadline = Instant::now() + Duration::from_secs(3);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Daemon {
    /// As [`Daemon::start`], in a temporary directory the test made (and filled) beforehand, so
    /// the registry can name files in it by absolute path.
    pub fn start_in(dir: tempfile::TempDir, xml: &str) -> Daemon {
        let registry = dir.path().join("SupervisorRegistry.xml");
        std::fs::write(&registry, xml).expect("write registry");
        Daemon::start_at(dir, registry)
    }

    /// Waits until every one of `ids` has started, in whatever order they were logged, and
    /// returns their pids (in the order of `ids`); the cursor ends after the last of them.
    pub fn started_pids(&mut self, ids: &[&str]) -> Vec<u32> {
        let from = self.cursor;
        let mut last = from;
        let mut pids = Vec::with_capacity(ids.len());
        for id in ids {
            self.cursor = from;
            pids.push(self.started_pid(id));
            last = last.max(self.cursor);
        }
        self.cursor = last;
        pids
    }
}

impl Daemon {
    /// Runs a new daemon in this one's directory (same registry file, same run directory), after
    /// this one has exited (if it still runs, it is killed first, as when dropped).
    pub fn successor(mut self) -> Daemon {
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("tempdir"));
        let registry = self.registry.clone();
        drop(self);
        Daemon::start_at(dir, registry)
    }
}

impl Daemon {
    /// Takes every event logged so far out of the harness's buffer and returns them in log order;
    /// later calls return only what was logged since. The cursor of [`Daemon::wait_for`] restarts
    /// at the first event not taken. For long runs (chaos, soak) that read the log incrementally
    /// and must not hold every line in memory.
    pub fn take_events(&mut self) -> Vec<Value> {
        let mut log = lock(&self.log.0);
        self.cursor = 0;
        std::mem::take(&mut log.events)
    }
}

/// The events about `component` named `event`, logged so far.
pub fn events_of(daemon: &Daemon, event: &str, component: &str) -> Vec<Value> {
    daemon
        .events()
        .into_iter()
        .filter(|e| e["event"] == event && e["component"] == component)
        .collect()
}

/// The `pid` field of an event.
pub fn pid_of(event: &Value) -> u32 {
    event["pid"].as_u64().expect("event has a pid") as u32
}

impl Daemon {
    /// SIGKILLs the daemon's guardian, then the daemon (stopped with SIGSTOP meanwhile, so that
    /// it cannot start a new guardian): nothing takes the tree down, as when root or the OOM
    /// killer ends both at once. Returns once the daemon is gone.
    pub fn kill_with_its_guardian(&mut self) {
        use nix::sys::signal::Signal;
        let guardian = self
            .events()
            .iter()
            .rev()
            .find(|e| e["event"] == "guardian_started")
            .map(pid_of)
            .expect("a guardian runs");
        self.signal(Signal::SIGSTOP);
        // Stopped for sure before its guardian dies (SIGSTOP takes effect asynchronously).
        let pid = self.pid();
        crate::eventually("the daemon is stopped", || {
            crate::proc_stat(pid).is_some_and(|p| p.state == 'T')
        });
        crate::kill(guardian, Signal::SIGKILL);
        crate::eventually("the guardian is gone", || !crate::alive(guardian));
        self.signal(Signal::SIGKILL);
        assert_eq!(self.wait_exit(), None, "the daemon died by a signal");
    }
}
