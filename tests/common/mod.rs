//! The end-to-end harness: runs the real `supervisor` binary on a registry written into a fresh
//! temporary directory, reads its JSON log lines as they come, and waits for events or states
//! with a deadline (never a bare sleep).

#![allow(dead_code)] // each test binary uses a different part of the harness

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

pub mod placed;

/// How long any single wait may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// A root strategy that lets components restart often (50 restarts in 10 s) before it gives up.
pub const FAST: &str = r#"<restartStrategy type="one_for_one" intensity="50" period="10"/>"#;

/// Restarts without a backoff delay.
pub const NO_BACKOFF: &str = r#"<backoff initial="0"/>"#;

/// The supervisor binary under test.
pub fn supervisor_bin() -> &'static str {
    env!("CARGO_BIN_EXE_supervisor")
}

/// The stand-in component program.
pub fn standin() -> &'static str {
    env!("CARGO_BIN_EXE_standin")
}

/// A registry document with `servers` inside `<servers>` and `head` (config, strategy) before.
pub fn registry(head: &str, servers: &str) -> String {
    format!("<supervisor>\n{head}\n<servers>\n{servers}\n</servers>\n</supervisor>\n")
}

/// A `<server>` running the stand-in with `args` (each a separate argument) and extra settings.
pub fn standin_server(id: &str, args: &[&str], settings: &str) -> String {
    let arguments: String = args
        .iter()
        .map(|a| format!("<argument>{}</argument>", xml_escape(a)))
        .collect();
    format!(
        "<server id=\"{id}\"><executable>{}</executable><arguments><argument>--name</argument><argument>{id}</argument>{arguments}</arguments>{settings}</server>\n",
        standin()
    )
}

/// A `<server>` running the stand-in with no arguments (it idles until stopped), restarted
/// without backoff.
pub fn idle(id: &str) -> String {
    standin_server(id, &[], NO_BACKOFF)
}

/// Escapes text for an XML element body.
pub fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A running daemon and what it has logged so far.
pub struct Daemon {
    pub dir: tempfile::TempDir,
    pub registry: PathBuf,
    child: Child,
    log: Arc<(Mutex<Vec<Value>>, Condvar)>,
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
        let mut command = match wrapper.split_first() {
            Some((program, words)) => {
                let mut command = Command::new(program);
                command.args(words).arg(supervisor_bin());
                command
            }
            None => Command::new(supervisor_bin()),
        };
        let mut child = command
            .arg("--registry")
            .arg(&registry)
            .arg("--run-dir")
            .arg(dir.path().join("run"))
            .args(["--log-format", "json", "run"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn supervisor");
        let log = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
        let stderr = child.stderr.take().expect("stderr");
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let value = serde_json::from_str(&line)
                    .unwrap_or_else(|_| serde_json::json!({ "event": "unparsed", "line": line }));
                let (events, changed) = &*sink;
                events.lock().unwrap().push(value);
                changed.notify_all();
            }
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
        self.log.0.lock().unwrap().clone()
    }

    /// Waits for the next event (after the cursor) matching `matches`, and moves the cursor past it.
    pub fn wait_for(&mut self, what: &str, matches: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + DEADLINE;
        let (events, changed) = &*self.log;
        let mut guard = events.lock().unwrap();
        loop {
            if let Some(offset) = guard[self.cursor..].iter().position(&matches) {
                self.cursor += offset + 1;
                return guard[self.cursor - 1].clone();
            }
            let now = Instant::now();
            if now >= deadline {
                let seen: Vec<String> = guard.iter().map(|e| e.to_string()).collect();
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

    /// Waits for the daemon to exit (within the deadline) and returns its exit code.
    pub fn wait_exit(&mut self) -> Option<i32> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                self.exit = Some(status);
                return status.code();
            }
            assert!(Instant::now() < deadline, "daemon did not exit in time");
            std::thread::sleep(Duration::from_millis(5));
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

/// Whether a process with this pid exists (zombies count as gone).
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => false,
    }
}

/// Waits until `condition` holds, polling /proc-style state every few ms, up to the deadline.
pub fn eventually(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Waits until a file exists and parses it as JSON.
pub fn read_json_when_ready(path: &Path) -> Value {
    eventually(&format!("{} exists", path.display()), || path.exists());
    serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("json")
}

/// `supervisor --registry REGISTRY --run-dir RUN_DIR ARGS…`, not yet run, with
/// `SUPERVISOR_LOG_FORMAT` removed from its environment (the CLI picks its own log format).
pub fn cli_command(registry: &Path, run_dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(supervisor_bin());
    command
        .arg("--registry")
        .arg(registry)
        .arg("--run-dir")
        .arg(run_dir)
        .args(args)
        .env_remove("SUPERVISOR_LOG_FORMAT");
    command
}

/// Runs the supervisor binary with `args` to completion.
pub fn supervisor(args: &[&str]) -> std::process::Output {
    Command::new(supervisor_bin())
        .args(args)
        .output()
        .expect("run supervisor")
}

/// Sends `signal` to a process.
pub fn kill(pid: u32, signal: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), signal).expect("kill");
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

/// The `timestamp` of an event (RFC 3339, UTC, `2024-05-06T07:08:09.123456Z`) in seconds since
/// the Unix epoch.
pub fn timestamp_secs(event: &Value) -> f64 {
    let text = event["timestamp"].as_str().expect("event has a timestamp");
    let parsed = text
        .strip_suffix('Z')
        .and_then(|text| text.split_once('T'))
        .and_then(|(date, time)| {
            let numbers = |part: &str, separator: char| -> Option<Vec<f64>> {
                part.split(separator).map(|n| n.parse().ok()).collect()
            };
            Some((numbers(date, '-')?, numbers(time, ':')?))
        });
    let (ymd, hms) = parsed.unwrap_or_else(|| panic!("not an RFC 3339 UTC timestamp: {text}"));
    assert!(ymd.len() == 3 && hms.len() == 3, "timestamp {text}");
    // Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
    let (month, day) = (ymd[1] as i64, ymd[2] as i64);
    let year = ymd[0] as i64 - i64::from(month <= 2);
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    days as f64 * 86_400.0 + hms[0] * 3_600.0 + hms[1] * 60.0 + hms[2]
}

/// Seconds from event `earlier` to event `later`, by their timestamps.
pub fn seconds_between(earlier: &Value, later: &Value) -> f64 {
    timestamp_secs(later) - timestamp_secs(earlier)
}

/// What `/proc/PID/stat` says about a process's place in the process tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// The process.
    pub pid: u32,
    /// State letter (`R`, `S`, `T` stopped, `Z` zombie, ...).
    pub state: char,
    /// Parent process.
    pub ppid: u32,
    /// Process group.
    pub pgid: u32,
    /// Session.
    pub sid: u32,
}

/// `/proc/PID/stat` of a process (zombies included), or `None` when there is no such entry.
pub fn proc_stat(pid: u32) -> Option<ProcStat> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: fields resume after the last ')'.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let mut number = || fields.next()?.parse::<u32>().ok();
    Some(ProcStat {
        pid,
        state,
        ppid: number()?,
        pgid: number()?,
        sid: number()?,
    })
}

/// Every process in `/proc` right now (zombies included).
pub fn processes() -> Vec<ProcStat> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(proc_stat)
        .collect()
}

/// The live (not zombie) members of process group `pgid`.
pub fn live_group_members(pgid: u32) -> Vec<u32> {
    processes()
        .into_iter()
        .filter(|p| p.pgid == pgid && p.state != 'Z')
        .map(|p| p.pid)
        .collect()
}

/// Whether `/proc/PID` exists at all: unlike [`alive`], a zombie still counts.
pub fn in_proc_table(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// As [`eventually`], but the condition must hold within `limit` (shorter than the deadline);
/// returns how long it took.
pub fn eventually_within(what: &str, limit: Duration, condition: impl Fn() -> bool) -> Duration {
    let start = Instant::now();
    while !condition() {
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting until {what}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    start.elapsed()
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

/// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released), for a
/// component to listen on.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

/// The argv of a process (empty for a zombie or a process that is gone).
pub fn proc_args(pid: u32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .unwrap_or_default()
        .split(|&b| b == 0)
        .filter(|arg| !arg.is_empty())
        .map(|arg| String::from_utf8_lossy(arg).into_owned())
        .collect()
}

/// The argv of a process, joined with spaces (empty for a zombie or a process that is gone).
pub fn proc_cmdline(pid: u32) -> String {
    proc_args(pid).join(" ")
}

/// The direct children of `pid` right now (zombies included).
pub fn children_of(pid: u32) -> Vec<ProcStat> {
    processes().into_iter().filter(|p| p.ppid == pid).collect()
}

/// The zombie children of `pid` right now (exited, not yet reaped).
pub fn zombie_children(pid: u32) -> Vec<u32> {
    children_of(pid)
        .into_iter()
        .filter(|p| p.state == 'Z')
        .map(|p| p.pid)
        .collect()
}

impl Daemon {
    /// Takes every event logged so far out of the harness's buffer and returns them in log order;
    /// later calls return only what was logged since. The cursor of [`Daemon::wait_for`] restarts
    /// at the first event not taken. For long runs (chaos, soak) that read the log incrementally
    /// and must not hold every line in memory.
    pub fn take_events(&mut self) -> Vec<Value> {
        let mut events = self.log.0.lock().unwrap();
        self.cursor = 0;
        std::mem::take(&mut *events)
    }
}

/// A hexadecimal mask line of `/proc/PID/status` (`SigCgt`, `SigIgn`, ...).
pub fn status_mask(pid: u32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        (name == key).then(|| u64::from_str_radix(value.trim(), 16).ok())?
    })
}

/// Whether `pid` has a SIGTERM handler installed (standin `--ignore-term` is ready).
pub fn catches_sigterm(pid: u32) -> bool {
    const SIGTERM_BIT: u64 = 1 << (libc::SIGTERM - 1);
    status_mask(pid, "SigCgt").is_some_and(|mask| mask & SIGTERM_BIT != 0)
}
