//! Chaos tests (research/reliability.md F1–F3, F9, F15 and its tests T2, T3, T4, T15): random
//! `kill -9`s of components mixed with the per-component CLI verbs, `reload` and SIGHUP; orphaned
//! grandchildren reaped round after round; a `kill -9`ed daemon taking its components along, and
//! what a daemon started after it kills and reports. All on the real binary with real processes,
//! each test in its own temporary directory, bounded in time. These four tests take turns (one
//! lock), so that none skews another's timing; a fifth checks the log checker of the first on
//! made-up logs.
//!
//! # CI sizes and the soak
//!
//! Without any variable (what `cargo test` and CI run), about 30 s in all on 2 cores:
//! `chaos_kills_mixed_with_cli_and_reloads` makes 2,000 kills at about 100/s,
//! `orphaned_grandchildren_are_reaped_every_round` runs 3 rounds of 100 orphans and
//! `a_killed_daemon_takes_its_20_components_along` 5 trials (each followed by a successor daemon
//! on the same run directory, stopped in order, which removes the killed one's journal and
//! cgroups).
//!
//! The soak runs the same tests longer: set `SUPERVISOR_SOAK_SECS` to a number of seconds.
//!
//! ```sh
//! SUPERVISOR_SOAK_SECS=1800 cargo test --release --test integration -- chaos::
//! ```
//!
//! Then the kill loop runs for that many seconds (at the same 100 kills/s, with the same CLI
//! verbs, reloads and SIGHUPs) instead of stopping after 2,000 kills, the orphan test runs 20
//! rounds and the killed-daemon test 100 trials. The assertions are the same. During the kill
//! loop, once a second, the test also checks that no zombie of the daemon's stays a zombie for
//! three samples in a row (2 s) and that no component runs twice at once, and samples the daemon's
//! RSS (its trend is printed).
//! The measurements (fd and RSS baselines and final values, kill rate, restart latency, timings)
//! are printed as the tests run: the runner captures no output. Only the daemon needs `--release` to be representative; the
//! tests themselves do little work.
//!
//! Other knobs: `CHAOS_KILLS=N` changes the number of kills of the CI run; `CHAOS_SEED=N` replays
//! the random choices of an earlier run (every run prints its seed).
//!
//! Components are found in `/proc` by the `SUPERVISOR_COMPONENT` variable every component gets;
//! their ids carry this test process's pid, so concurrent runs on one machine do not mix, and a
//! failing test SIGKILLs whatever it left behind.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::path::Path;
use std::process::Output;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::sys::signal::Signal;
use serde_json::Value;
use testkit::*;

/// Nothing gives up: at 100 kills/s, at most ~100 restarts fall in any 1 s window.
const STRATEGY: &str = r#"<restartStrategy type="one_for_one" intensity="10000" period="1"/>"#;
/// Components of the chaos test.
const COMPONENTS: usize = 20;
/// Kills of the CI run.
const CI_KILLS: usize = 2_000;
/// Time between two kills: 100/s.
const KILL_EVERY: Duration = Duration::from_millis(10);
/// A CLI `stop`/`start`/`restart` every this many kills.
const CLI_EVERY: usize = 50;
/// A `reload` (of a changed registry) every this many kills.
const RELOAD_EVERY: usize = 200;
/// A SIGHUP every this many kills.
const SIGHUP_EVERY: usize = 300;
/// The daemon's RSS may grow this much over the chaos (after warm-up).
const RSS_GROWTH_LIMIT_KIB: u64 = 2 * 1024;
/// The CI run of the chaos test must be over within this.
const CI_TIME_LIMIT: Duration = Duration::from_secs(90);
/// A killed daemon's components must be gone within this.
const PDEATH_LIMIT: Duration = Duration::from_secs(1);
/// Adopted orphans, once killed, must be reaped within this.
const REAP_LIMIT: Duration = Duration::from_secs(2);
/// How long a CLI call may take before the test fails.
const CLI_LIMIT: Duration = Duration::from_secs(15);

// ---------------------------------------------------------------------------------------------
// Sizes, randomness, serialization, cleanup
// ---------------------------------------------------------------------------------------------

/// The tests take turns: each loads the machine, and two at once would skew the timings.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `SUPERVISOR_SOAK_SECS`, when set to a positive number.
fn soak() -> Option<Duration> {
    let secs: u64 = std::env::var("SUPERVISOR_SOAK_SECS")
        .ok()?
        .trim()
        .parse()
        .ok()?;
    (secs > 0).then(|| Duration::from_secs(secs))
}

/// A number from the environment, or `default`.
fn env_number(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(text) => text
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={text} is not a number")),
        Err(_) => default,
    }
}

/// xorshift64*: small, deterministic per seed, no dependency.
struct Rng(u64);

impl Rng {
    /// Seeded from `CHAOS_SEED`, else from the clock; prints the seed to replay a run.
    fn new(test: &str) -> Rng {
        let clock = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        let seed = env_number("CHAOS_SEED", clock ^ u64::from(std::process::id())).max(1);
        println!("{test}: CHAOS_SEED={seed}");
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (`n` > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Component ids of one test: `TAG<test pid>x<NN>`, unique on the machine while this runs.
fn component_ids(tag: &str, count: usize) -> (String, Vec<String>) {
    let prefix = format!("{tag}{}x", std::process::id());
    let ids = (0..count).map(|i| format!("{prefix}{i:02}")).collect();
    (prefix, ids)
}

/// The value of `SUPERVISOR_COMPONENT` in a process's environment.
fn component_of(pid: u32) -> Option<String> {
    proc_variable(pid, "SUPERVISOR_COMPONENT")
}

/// Every live (not zombie) process whose `SUPERVISOR_COMPONENT` starts with `prefix`, by pid.
fn tagged_processes(prefix: &str) -> BTreeMap<u32, String> {
    processes()
        .into_iter()
        .filter(|p| p.state != 'Z')
        .filter_map(|p| Some((p.pid, component_of(p.pid)?)))
        .filter(|(_, id)| id.starts_with(prefix))
        .collect()
}

/// Components (with `prefix`) that have two or more live processes at once: those found in one
/// scan of `/proc` that are all still there after it (a scan takes a while, and a process that
/// died during it may have been replaced by then).
fn live_duplicates(prefix: &str) -> Vec<(String, Vec<u32>)> {
    let mut by_id: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for (pid, id) in tagged_processes(prefix) {
        by_id.entry(id).or_default().push(pid);
    }
    by_id
        .into_iter()
        .filter(|(_, pids)| {
            pids.len() > 1
                && pids
                    .iter()
                    .all(|&pid| alive(pid) && component_of(pid).is_some())
        })
        .collect()
}

/// SIGKILLs, when dropped, every process still carrying one of this test's component ids; it
/// is declared before the daemon, so it runs after the daemon (killed when dropped) is gone.
struct Sweep(String);

impl Drop for Sweep {
    fn drop(&mut self) {
        for pid in tagged_processes(&self.0).into_keys() {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// /proc probes of the daemon
// ---------------------------------------------------------------------------------------------

/// The daemon's open descriptors: number → what it points to.
fn fds(pid: u32) -> BTreeMap<u32, String> {
    let Ok(entries) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return BTreeMap::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let fd = entry.file_name().to_str()?.parse().ok()?;
            let target = std::fs::read_link(entry.path()).ok()?;
            Some((fd, target.display().to_string()))
        })
        .collect()
}

/// `VmRSS` of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// `Threads` of a process.
fn threads(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("Threads:"))
        .and_then(|rest| rest.trim().parse().ok())
        .expect("Threads")
}

/// What differs between two descriptor tables, for a failure message.
fn fd_diff(before: &BTreeMap<u32, String>, after: &BTreeMap<u32, String>) -> String {
    let mut lines = Vec::new();
    for (fd, target) in before {
        if after.get(fd) != Some(target) {
            lines.push(format!("  - {fd} -> {target}"));
        }
    }
    for (fd, target) in after {
        if before.get(fd) != Some(target) {
            lines.push(format!("  + {fd} -> {target}"));
        }
    }
    lines.join("\n")
}

// ---------------------------------------------------------------------------------------------
// The CLI
// ---------------------------------------------------------------------------------------------

/// `supervisor --registry R --run-dir RUN ARGS…` against the harness daemon, bounded in time.
fn cli(daemon: &Daemon, args: &[&str]) -> Output {
    daemon.cli(args, CLI_LIMIT)
}

/// As [`cli`], and the CLI must exit 0.
fn cli_ok(daemon: &Daemon, args: &[&str]) -> Output {
    let output = cli(daemon, args);
    assert_ok(args, &output);
    output
}

/// The CLI run with `args` exited 0.
fn assert_ok(args: &[&str], output: &Output) {
    assert_eq!(
        output.status.code(),
        Some(0),
        "`supervisor {}`: {:?}\nstdout:\n{}\nstderr:\n{}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The pid of every component that `status --json` shows `running`.
fn running(rows: &[Value]) -> BTreeMap<String, u32> {
    rows.iter()
        .filter(|row| row["state"] == "running")
        .filter_map(|row| Some((row["id"].as_str()?.to_string(), row["pid"].as_u64()? as u32)))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// 1. kill -9 chaos
// ---------------------------------------------------------------------------------------------

/// The chaos registry: `variant[i]` adds a harmless argument to component `i`.
fn chaos_registry(ids: &[String], variant: &[bool]) -> String {
    let servers: String = ids
        .iter()
        .zip(variant)
        .map(|(id, &on)| {
            let args: &[&str] = if on { &["--exit-code", "7"] } else { &[] };
            standin_server(id, args, NO_BACKOFF)
        })
        .collect();
    registry(STRATEGY, &servers)
}

/// Replaces the registry file at once (write, then rename), so no reload sees half of it.
fn write_registry(path: &Path, xml: &str) {
    let temporary = path.with_extension("xml.new");
    std::fs::write(&temporary, xml).expect("write registry");
    std::fs::rename(&temporary, path).expect("rename registry");
}

/// Seconds since the Unix epoch, as log timestamps count them.
fn wall_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64()
}

/// Follows the daemon's log event by event and checks, as it goes, that every process of every
/// component is started while no other process of it runs, and ends with exactly one
/// `component_exited` or `component_stopped`; that every kill of ours ends in exactly one exit
/// (by SIGKILL), or in `component_stopped` when it raced a stop; and that no component exits
/// unless we killed or stopped it.
#[derive(Default)]
struct Tracker {
    /// Per component, the pid that runs according to the log (started, no exit yet).
    current: BTreeMap<String, u32>,
    /// Pids with `component_stopping` logged and no exit yet.
    stopping: HashSet<u32>,
    /// Pids we SIGKILLed whose exit is not logged yet: the component and when (wall clock).
    kills: HashMap<u32, (String, f64)>,
    /// Per component, when we killed its last process, until its next start.
    awaiting_restart: HashMap<String, f64>,
    /// Seconds from a kill to the next `component_started`.
    restart_latencies: Vec<f64>,
    starts: usize,
    exited: usize,
    stopped: usize,
    kills_exited: usize,
    kills_raced_stop: usize,
    reloads: usize,
    violations: Vec<String>,
    /// The last non-output log lines, for failure messages.
    recent: VecDeque<String>,
}

impl Tracker {
    const RECENT: usize = 400;

    fn absorb(&mut self, events: Vec<Value>) {
        for event in events {
            self.absorb_one(&event);
        }
    }

    fn violation(&mut self, text: String) {
        if self.violations.len() < 1_000 {
            self.violations.push(text);
        }
    }

    fn absorb_one(&mut self, e: &Value) {
        let event = e["event"].as_str().unwrap_or("");
        if event == "component_output" {
            return;
        }
        if self.recent.len() == Self::RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back(e.to_string());
        let id = e["component"].as_str().unwrap_or("").to_string();
        let pid = e["pid"].as_u64().map(|pid| pid as u32);
        match (event, pid) {
            ("component_started", Some(pid)) => {
                self.starts += 1;
                if let Some(killed_at) = self.awaiting_restart.remove(&id) {
                    self.restart_latencies.push(timestamp_secs(e) - killed_at);
                }
                if let Some(old) = self.current.insert(id.clone(), pid) {
                    self.violation(format!(
                        "duplicate start: {id} started pid {pid} while pid {old} of it has no \
                         exit logged: {e}"
                    ));
                }
            }
            ("component_exited" | "component_stopped", Some(pid)) => {
                self.ended(event, &id, pid, e);
            }
            ("component_stopping", Some(pid)) => {
                self.stopping.insert(pid);
                self.awaiting_restart.remove(&id);
            }
            ("config_reloaded", _) => self.reloads += 1,
            ("control_request" | "component_starting" | "restart_scheduled", _) => {}
            ("supervisor_started" | "spawn_mode" | "guardian_started", _) => {}
            _ => self.violation(format!("unexpected log line: {e}")),
        }
    }

    /// `component_exited` or `component_stopped` of `id`'s `pid`.
    fn ended(&mut self, event: &str, id: &str, pid: u32, e: &Value) {
        if event == "component_exited" {
            self.exited += 1;
        } else {
            self.stopped += 1;
        }
        match self.current.get(id) {
            Some(&running) if running == pid => {
                self.current.remove(id);
            }
            running => {
                let text = format!(
                    "{event} of {id} pid {pid}, but the pid running per the log is {running:?} \
                     (a second exit, or the exit of a process never started): {e}"
                );
                self.violation(text);
            }
        }
        let was_stopping = self.stopping.remove(&pid);
        match (self.kills.remove(&pid), event) {
            // A SIGKILL from outside is an unexpected exit (WARN, `expected: false`).
            (Some((killed, at)), "component_exited")
                if killed == id && e["signal"] == 9 && e["expected"] == false =>
            {
                self.kills_exited += 1;
                if !was_stopping {
                    self.awaiting_restart.insert(id.to_string(), at);
                }
            }
            (Some((killed, _)), "component_stopped") if killed == id && was_stopping => {
                self.kills_raced_stop += 1;
            }
            (Some((killed, _)), _) => self.violation(format!(
                "we SIGKILLed {killed} pid {pid}; its end was logged as: {e}"
            )),
            (None, "component_stopped") if was_stopping => {}
            (None, _) => self.violation(format!(
                "an end we did not cause (no kill of ours, no stop): {e}"
            )),
        }
    }

    /// Running components (per the log) that may be killed: not stopping, not killed already.
    fn victims(&self) -> Vec<(String, u32)> {
        self.current
            .iter()
            .filter(|(_, pid)| !self.stopping.contains(pid) && !self.kills.contains_key(pid))
            .map(|(id, &pid)| (id.clone(), pid))
            .collect()
    }

    /// Panics with every violation and the end of the log, if there is any violation.
    fn assert_clean(&self, phase: &str) {
        if self.violations.is_empty() {
            return;
        }
        let shown: Vec<&String> = self.violations.iter().take(30).collect();
        let tail: Vec<&String> = self.recent.iter().rev().take(80).rev().collect();
        panic!(
            "{phase}: {} violation(s):\n{}\n\nlast log lines (without output):\n{}",
            self.violations.len(),
            shown
                .iter()
                .map(|v| v.as_str())
                .collect::<Vec<_>>()
                .join("\n"),
            tail.iter()
                .map(|v| v.as_str())
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

/// One run of the chaos loop.
struct Chaos<'a> {
    daemon: &'a mut Daemon,
    prefix: String,
    ids: Vec<String>,
    variant: Vec<bool>,
    tracker: Tracker,
    rng: Rng,
    /// Components we stopped through the CLI (and have not started since).
    stopped: BTreeSet<String>,
    /// The CLI verb running in the background.
    pending_cli: Option<std::thread::JoinHandle<()>>,
    kills: usize,
    cli_calls: usize,
    cli_reloads: usize,
    sighups: usize,
    /// Zombies of the daemon at the previous once-a-second sample, and at the two previous ones.
    zombies_seen: BTreeSet<u32>,
    zombies_seen_twice: BTreeSet<u32>,
    zombie_samples: usize,
    max_zombies: usize,
    /// The daemon's VmRSS (KiB) once a second during the chaos.
    rss_samples: Vec<u64>,
}

impl Chaos<'_> {
    fn absorb(&mut self) {
        let events = self.daemon.take_events();
        self.tracker.absorb(events);
    }

    /// SIGKILLs a random running component; false when none could be killed right now.
    fn kill_one(&mut self) -> bool {
        self.absorb();
        let victims = self.tracker.victims();
        if victims.is_empty() {
            return false;
        }
        let (id, pid) = self.rng.pick(&victims).clone();
        // Only a live child of the daemon: a zombie's exit is on its way and is not ours.
        match proc_stat(pid) {
            Some(stat) if stat.state != 'Z' && stat.ppid == self.daemon.pid() => {}
            _ => return false,
        }
        let at = wall_secs();
        if nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), Signal::SIGKILL).is_err()
        {
            return false;
        }
        self.tracker.kills.insert(pid, (id, at));
        self.kills += 1;
        true
    }

    /// A random `stop`, `start` or `restart` of a random component (at most 3 stay stopped), run
    /// in the background: the kills go on meanwhile and race it.
    fn cli_verb(&mut self) {
        self.finish_cli();
        let stopped: Vec<String> = self.stopped.iter().cloned().collect();
        let (verb, id) = if !stopped.is_empty() && self.rng.below(2) == 0 {
            ("start", self.rng.pick(&stopped).clone())
        } else {
            let id = self.rng.pick(&self.ids).clone();
            match self.rng.below(3) {
                0 if self.stopped.len() < 3 => ("stop", id),
                1 => ("start", id),
                _ => ("restart", id),
            }
        };
        let registry = self.daemon.registry.clone();
        let run_dir = self.daemon.path().join("run");
        let args = [verb, id.as_str()].map(String::from);
        self.pending_cli = Some(std::thread::spawn(move || {
            let args = args.each_ref().map(String::as_str);
            assert_ok(
                &args,
                &run_bounded(cli_command(&registry, &run_dir, &args), CLI_LIMIT),
            );
        }));
        if verb == "stop" {
            self.stopped.insert(id);
        } else {
            self.stopped.remove(&id);
        }
        self.cli_calls += 1;
    }

    /// Waits for the CLI verb in flight, if any (it must have exited 0).
    fn finish_cli(&mut self) {
        if let Some(verb) = self.pending_cli.take() {
            if let Err(panic) = verb.join() {
                std::panic::resume_unwind(panic);
            }
        }
    }

    /// Toggles one component's harmless argument in the registry and reloads it.
    fn reload(&mut self) {
        let index = self.rng.below(self.ids.len());
        self.variant[index] = !self.variant[index];
        write_registry(
            &self.daemon.registry,
            &chaos_registry(&self.ids, &self.variant),
        );
        let output = cli_ok(self.daemon, &["reload"]);
        let diff = String::from_utf8_lossy(&output.stdout);
        let id = &self.ids[index];
        assert!(
            diff.lines()
                .any(|line| line.trim() == format!("changed: {id}")),
            "reload applies the one change, to {id}:\n{diff}"
        );
        self.cli_reloads += 1;
    }

    fn sighup(&mut self) {
        self.daemon.signal(Signal::SIGHUP);
        self.sighups += 1;
    }

    /// Once a second: a zombie of the daemon seen in three samples in a row (2 s) is one it does
    /// not reap; two live processes of one component at once are a duplicate start.
    fn sample(&mut self) {
        for (id, pids) in live_duplicates(&self.prefix) {
            let text = format!("{id} runs twice at once: pids {pids:?}");
            self.tracker.violation(text);
        }
        let now: BTreeSet<u32> = zombie_children(self.daemon.pid()).into_iter().collect();
        self.max_zombies = self.max_zombies.max(now.len());
        let stuck: Vec<u32> = now
            .intersection(&self.zombies_seen_twice)
            .copied()
            .collect();
        if !stuck.is_empty() {
            let text = format!("zombies of the daemon not reaped for 2 s: {stuck:?}");
            self.tracker.violation(text);
        }
        self.zombies_seen_twice = now.intersection(&self.zombies_seen).copied().collect();
        self.zombies_seen = now;
        self.zombie_samples += 1;
        self.rss_samples.push(rss_kib(self.daemon.pid()));
    }

    /// Kills at 100/s, with a CLI verb every 50 kills, a reload every 200 and a SIGHUP every
    /// 300, until `kills` kills were made or (when given) `until` has passed.
    fn run(&mut self, kills: usize, until: Option<Duration>, limit: Duration) {
        let started = Instant::now();
        let mut next = Instant::now();
        let mut next_sample = Instant::now() + Duration::from_secs(1);
        let first = self.kills;
        loop {
            let made = self.kills - first;
            match until {
                Some(duration) if started.elapsed() >= duration => break,
                None if made >= kills => break,
                _ => {}
            }
            assert!(
                started.elapsed() < limit,
                "only {made} of {kills} kills within {limit:?} (no running component to kill?)"
            );
            let now = Instant::now();
            if next > now {
                std::thread::sleep(next - now);
            }
            next = next.max(Instant::now() - KILL_EVERY) + KILL_EVERY;
            if !self.kill_one() {
                continue;
            }
            let made = self.kills - first;
            // The reload first: a SIGHUP then re-reads the same file and finds nothing to do.
            if made.is_multiple_of(RELOAD_EVERY) {
                self.reload();
            }
            if made.is_multiple_of(SIGHUP_EVERY) {
                self.sighup();
            }
            if made.is_multiple_of(CLI_EVERY) {
                self.cli_verb();
            }
            if Instant::now() >= next_sample {
                self.sample();
                next_sample = Instant::now() + Duration::from_secs(1);
            }
        }
        self.finish_cli();
    }

    /// Checks that what we stopped stayed stopped, starts it, then waits until `status --json` shows every component running,
    /// with the pid the log says, and every kill of ours has its exit logged. Returns the pids.
    fn settle(&mut self) -> BTreeMap<String, u32> {
        self.finish_cli();
        let rows = self.daemon.status_rows();
        for id in &self.stopped {
            let row = rows.iter().find(|row| row["id"] == id.as_str());
            assert!(
                row.is_some_and(|row| row["state"] == "stopped" && row["pid"].is_null()),
                "{id}, stopped by the CLI (kills racing the stop or not), stays stopped: {row:?}"
            );
        }
        if !self.stopped.is_empty() {
            let mut args = vec!["start"];
            args.extend(self.stopped.iter().map(String::as_str));
            cli_ok(self.daemon, &args);
            self.stopped.clear();
        }
        let deadline = Instant::now() + DEADLINE;
        loop {
            let rows = self.daemon.status_rows();
            self.absorb();
            let pids = running(&rows);
            let all_running = self.ids.iter().all(|id| pids.contains_key(id));
            if all_running && self.tracker.current == pids && self.tracker.kills.is_empty() {
                return pids;
            }
            if Instant::now() > deadline {
                self.tracker.assert_clean("settling");
                panic!(
                    "the tree did not settle within {DEADLINE:?}: status {rows:?}\nrunning per \
                     the log: {:?}\nkills without a logged exit: {:?}\nlast log lines:\n{}",
                    self.tracker.current,
                    self.tracker.kills,
                    self.tracker
                        .recent
                        .iter()
                        .rev()
                        .take(60)
                        .rev()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The daemon's descriptors once idle: sampled every 50 ms until two samples in a row agree
/// (a control connection of the CLI may still be closing) and, when given, equal `baseline`
/// in number; at most 3 s. Returns the last sample.
fn idle_fds(pid: u32, baseline: Option<&BTreeMap<u32, String>>) -> BTreeMap<u32, String> {
    let until = Instant::now() + Duration::from_secs(3);
    let mut previous = fds(pid);
    loop {
        std::thread::sleep(Duration::from_millis(50));
        let now = fds(pid);
        let stable = now == previous;
        let at_baseline = baseline.is_none_or(|baseline| baseline.len() == now.len());
        if (stable && at_baseline) || Instant::now() > until {
            return now;
        }
        previous = now;
    }
}

/// Eleven samples spread evenly over `samples` (first, each tenth, last), to show a trend.
fn trend(samples: &[u64]) -> String {
    if samples.is_empty() {
        return "no samples".to_string();
    }
    let last = samples.len() - 1;
    (0..=10)
        .map(|tenth| samples[last * tenth / 10].to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The percentile `p` (0..=100) of sorted seconds, in ms.
fn percentile_ms(sorted: &[f64], p: usize) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = (sorted.len() * p / 100).min(sorted.len() - 1);
    sorted[index] * 1000.0
}

/// T2 + T3 + T15: 20 components, 2,000 random `kill -9`s at about 100/s mixed with CLI
/// `stop`/`start`/`restart`, `reload`s of a changed registry and SIGHUPs. Afterwards: no zombie,
/// the daemon's descriptors as at the baseline, RSS grown by at most 2 MiB, every component
/// running exactly once, every process's end logged exactly once, every kill of ours matched by
/// its exit, the reloads applied, the daemon alive (and then stopping cleanly).
fn chaos_kills_mixed_with_cli_and_reloads() {
    let _serial = serial();
    let test_started = Instant::now();
    let soak = soak();
    let kills = env_number("CHAOS_KILLS", CI_KILLS as u64) as usize;
    let (prefix, ids) = component_ids("k", COMPONENTS);
    let _sweep = Sweep(prefix.clone());
    let variant = vec![false; COMPONENTS];
    let mut daemon = Daemon::start(&chaos_registry(&ids, &variant));
    let daemon_pid = daemon.pid();
    let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    daemon.started_pids(&id_refs);
    let mut chaos = Chaos {
        daemon: &mut daemon,
        prefix: prefix.clone(),
        ids: ids.clone(),
        variant,
        tracker: Tracker::default(),
        rng: Rng::new("chaos_kills_mixed_with_cli_and_reloads"),
        stopped: BTreeSet::new(),
        pending_cli: None,
        kills: 0,
        cli_calls: 0,
        cli_reloads: 0,
        sighups: 0,
        zombies_seen: BTreeSet::new(),
        zombies_seen_twice: BTreeSet::new(),
        zombie_samples: 0,
        max_zombies: 0,
        rss_samples: Vec::new(),
    };

    // Warm-up: every kind of action once or more, then the baselines, taken idle.
    chaos.run(RELOAD_EVERY, None, Duration::from_secs(30));
    for verb in ["stop", "start", "restart"] {
        cli_ok(chaos.daemon, &[verb, &ids[0]]);
    }
    chaos.stopped.remove(&ids[0]);
    chaos.sighup();
    chaos.settle();
    std::thread::sleep(Duration::from_millis(300));
    let baseline_fds = idle_fds(daemon_pid, None);
    let baseline_rss = rss_kib(daemon_pid);
    let baseline_threads = threads(daemon_pid);
    let warm_kills = chaos.kills;
    chaos.rss_samples.clear();
    let warm_up = test_started.elapsed();

    // The chaos.
    let chaos_started = Instant::now();
    let limit = match soak {
        Some(duration) => duration + Duration::from_secs(60),
        None => Duration::from_secs(60),
    };
    chaos.run(kills, soak, limit);
    let chaos_took = chaos_started.elapsed();
    let made = chaos.kills - warm_kills;

    // Afterwards.
    let pids = chaos.settle();
    chaos.tracker.assert_clean("after the chaos");
    assert!(alive(daemon_pid), "the daemon is alive");
    let zombies_took = eventually_within(
        "no zombie among the daemon's children",
        Duration::from_secs(2),
        || zombie_children(daemon_pid).is_empty(),
    );

    // Every component runs exactly once: one live process per id, the one status shows.
    let live = tagged_processes(&prefix);
    let mut by_id: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
    for (pid, id) in &live {
        by_id.entry(id.as_str()).or_default().push(*pid);
    }
    for id in &ids {
        let processes = by_id.get(id.as_str()).cloned().unwrap_or_default();
        assert_eq!(
            processes,
            vec![pids[id]],
            "{id}: the processes carrying SUPERVISOR_COMPONENT={id} vs its status pid"
        );
        let argv = proc_cmdline(pids[id]);
        let index = ids.iter().position(|i| i == id).expect("index");
        assert_eq!(
            argv.contains("--exit-code 7"),
            chaos.variant[index],
            "{id} runs with the registry's last arguments (reloads applied): {argv}"
        );
    }
    assert_eq!(live.len(), ids.len(), "no stray process: {live:?}");

    // Every reload, by CLI or SIGHUP, was applied once.
    let expected_reloads = chaos.cli_reloads + chaos.sighups;
    let deadline = Instant::now() + DEADLINE;
    while chaos.tracker.reloads < expected_reloads && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        chaos.absorb();
    }
    std::thread::sleep(Duration::from_millis(100));
    chaos.absorb();
    chaos.tracker.assert_clean("after the reloads");
    assert_eq!(
        chaos.tracker.reloads, expected_reloads,
        "config_reloaded events"
    );

    // The daemon's resources.
    std::thread::sleep(Duration::from_millis(300));
    let final_fds = idle_fds(daemon_pid, Some(&baseline_fds));
    let final_rss = rss_kib(daemon_pid);
    let final_threads = threads(daemon_pid);
    let mut latencies = std::mem::take(&mut chaos.tracker.restart_latencies);
    latencies.sort_by(f64::total_cmp);
    let tracker = &chaos.tracker;
    println!(
        "chaos: {made} kills in {chaos_took:.1?} ({:.0}/s) after {warm_kills} warm-up kills \
         ({warm_up:.1?}); {} CLI verbs, {} CLI reloads, {} SIGHUPs\n\
         chaos: log: {} starts, {} exited, {} stopped; kills matched by their exit: {}, \
         raced a stop: {}\n\
         chaos: restart latency kill -> component_started: p50 {:.1} ms, p99 {:.1} ms, max {:.1} \
         ms ({} samples)\n\
         chaos: daemon fds {} -> {}, VmRSS {} KiB -> {} KiB ({:+} KiB), threads {} -> {}; \
         zombies gone after {zombies_took:?} (during the chaos: at most {} zombies in {} samples)\n\
         chaos: daemon VmRSS (KiB) over the chaos, by tenths: {}\n\
         chaos: whole test so far {:.1?}",
        made as f64 / chaos_took.as_secs_f64(),
        chaos.cli_calls,
        chaos.cli_reloads,
        chaos.sighups,
        tracker.starts,
        tracker.exited,
        tracker.stopped,
        tracker.kills_exited,
        tracker.kills_raced_stop,
        percentile_ms(&latencies, 50),
        percentile_ms(&latencies, 99),
        latencies.last().map_or(f64::NAN, |max| max * 1000.0),
        latencies.len(),
        baseline_fds.len(),
        final_fds.len(),
        baseline_rss,
        final_rss,
        final_rss as i64 - baseline_rss as i64,
        baseline_threads,
        final_threads,
        chaos.max_zombies,
        chaos.zombie_samples,
        trend(&chaos.rss_samples),
        test_started.elapsed(),
    );
    assert_eq!(
        tracker.kills_exited + tracker.kills_raced_stop,
        chaos.kills,
        "every kill is matched by exactly one end"
    );
    assert_eq!(
        final_fds.len(),
        baseline_fds.len(),
        "the daemon's descriptors are back at the baseline:\n{}",
        fd_diff(&baseline_fds, &final_fds)
    );
    assert!(
        final_rss <= baseline_rss + RSS_GROWTH_LIMIT_KIB,
        "the daemon's RSS grew by {} KiB (limit {RSS_GROWTH_LIMIT_KIB} KiB)",
        final_rss - baseline_rss
    );
    assert_eq!(
        chaos.daemon.stop(),
        Some(0),
        "the daemon still shuts down in order"
    );
    eventually("nothing of the chaos components is left", || {
        tagged_processes(&prefix).is_empty()
    });
    if soak.is_none() {
        let took = test_started.elapsed();
        assert!(took < CI_TIME_LIMIT, "the chaos test took {took:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Orphaned grandchildren
// ---------------------------------------------------------------------------------------------

/// A component whose subshell starts 10 `sleep`s in sessions of their own and exits at once, so
/// they are orphaned (and adopted by the daemon, a child subreaper); the component itself then
/// idles as `sleep 7200`.
const ORPHANS_SCRIPT: &str =
    "( for i in 1 2 3 4 5 6 7 8 9 10; do setsid sleep 3600 & done ); exec sleep 7200";
/// Components of the orphan test: 10 orphans each, 100 a round.
const ORPHAN_PARENTS: usize = 10;
const ORPHANS_PER_ROUND: usize = ORPHAN_PARENTS * 10;

fn orphan_parent(id: &str) -> String {
    format!(
        "<server id=\"{id}\"><executable>/bin/sh</executable><arguments><argument>-c</argument>\
         <argument>{}</argument></arguments>{NO_BACKOFF}</server>\n",
        xml_escape(ORPHANS_SCRIPT)
    )
}

/// T1 (F1): every round, 10 components each leave 10 grandchildren that escaped into sessions
/// of their own and were orphaned: all 100 are adopted by the daemon; the test SIGKILLs them, and
/// the daemon reaps every one of them (no zombie left) within 2 s. 3 rounds (20 in the soak), a
/// CLI `restart` of the components between rounds.
fn orphaned_grandchildren_are_reaped_every_round() {
    let _serial = serial();
    let rounds = if soak().is_some() { 20 } else { 3 };
    let (prefix, ids) = component_ids("o", ORPHAN_PARENTS);
    let _sweep = Sweep(prefix.clone());
    let servers: String = ids.iter().map(|id| orphan_parent(id)).collect();
    let mut daemon = Daemon::start(&registry(STRATEGY, &servers));
    let daemon_pid = daemon.pid();
    let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    for round in 1..=rounds {
        if round > 1 {
            let mut args = vec!["restart"];
            args.extend(&id_refs);
            cli_ok(&daemon, &args);
        }
        let mains: HashSet<u32> = daemon.started_pids(&id_refs).into_iter().collect();
        let orphans = || -> Vec<u32> {
            tagged_processes(&prefix)
                .into_keys()
                .filter(|pid| !mains.contains(pid))
                .filter(|&pid| proc_cmdline(pid) == "sleep 3600")
                .collect()
        };
        eventually(
            &format!("round {round}: {ORPHANS_PER_ROUND} orphans run"),
            || orphans().len() == ORPHANS_PER_ROUND,
        );
        let orphans = orphans();
        for &pid in &orphans {
            let stat = proc_stat(pid).expect("orphan");
            assert_eq!(
                stat.ppid, daemon_pid,
                "round {round}: orphan {pid} is adopted by the daemon (a child subreaper)"
            );
            assert_eq!(
                stat.sid, pid,
                "round {round}: orphan {pid} leads its session"
            );
        }
        for &pid in &orphans {
            kill(pid, Signal::SIGKILL);
        }
        let took = eventually_within(
            &format!("round {round}: the {ORPHANS_PER_ROUND} killed orphans are reaped"),
            REAP_LIMIT,
            || {
                orphans.iter().all(|&pid| !in_proc_table(pid))
                    && zombie_children(daemon_pid).is_empty()
            },
        );
        println!("orphans: round {round}: {ORPHANS_PER_ROUND} orphans killed, reaped in {took:?}");
        assert!(
            mains.iter().all(|&pid| alive(pid)),
            "round {round}: the components themselves still run"
        );
    }
    assert_eq!(daemon.stop(), Some(0), "the daemon shuts down in order");
    assert!(
        tagged_processes(&prefix).is_empty(),
        "nothing of the orphan test is left"
    );
}

// ---------------------------------------------------------------------------------------------
// 3. A kill -9ed daemon
// ---------------------------------------------------------------------------------------------

/// T4 (F3): the daemon `kill -9`ed with 20 running components leaves none of them alive after
/// 1 s. 5 trials (100 in the soak).
fn a_killed_daemon_takes_its_20_components_along() {
    let _serial = serial();
    let trials = if soak().is_some() { 100 } else { 5 };
    let (prefix, ids) = component_ids("d", COMPONENTS);
    let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let servers: String = ids
        .iter()
        .map(|id| standin_server(id, &[], NO_BACKOFF))
        .collect();
    let xml = registry(STRATEGY, &servers);
    let mut times = Vec::with_capacity(trials);
    for trial in 1..=trials {
        let _sweep = Sweep(prefix.clone());
        let mut daemon = Daemon::start(&xml);
        let pids = daemon.started_pids(&id_refs);
        // `component_started` can come just before the kernel has put the new program's
        // environment in place: wait until /proc shows all 20, with the harness's deadline.
        eventually(&format!("trial {trial}: 20 components run"), || {
            tagged_processes(&prefix).len() == COMPONENTS
        });
        assert!(pids.iter().all(|&pid| alive(pid)), "trial {trial}");
        kill(daemon.pid(), Signal::SIGKILL);
        let killed_at = Instant::now();
        loop {
            let survivors: Vec<u32> = pids.iter().copied().filter(|&pid| alive(pid)).collect();
            if survivors.is_empty() {
                break;
            }
            let took = killed_at.elapsed();
            assert!(
                took < PDEATH_LIMIT,
                "trial {trial}: {} of 20 components outlived the killed daemon by {took:?}: {:?}",
                survivors.len(),
                survivors
                    .iter()
                    .map(|&pid| (pid, proc_stat(pid), proc_cmdline(pid)))
                    .collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        times.push(killed_at.elapsed());
        assert_eq!(
            daemon.wait_exit(),
            None,
            "trial {trial}: the daemon died by a signal"
        );
        assert!(
            tagged_processes(&prefix).is_empty(),
            "trial {trial}: no process of any component is left"
        );
        // Clean-up: a successor on the same run directory, stopped in order, removes what the
        // killed daemon could not (its journal, its cgroups). What it reports is the business
        // of `a_successor_kills_only_what_a_killed_daemon_left_running`.
        let mut successor = daemon.successor();
        successor.started_pids(&id_refs);
        assert_eq!(
            successor.stop(),
            Some(0),
            "trial {trial}: the successor stops"
        );
    }
    times.sort();
    println!(
        "killed daemon: {trials} trials, all 20 components gone after: median {:?}, max {:?}",
        times[times.len() / 2],
        times[times.len() - 1]
    );
}

/// While alive, this test process is a child subreaper: what a killed daemon leaves is
/// re-parented to it, and stays a zombie until reaped here. When dropped: no longer a
/// subreaper, and every zombie child reaped (the harness has reaped its daemons by then).
struct Subreaper;

impl Subreaper {
    fn become_one() -> Subreaper {
        nix::sys::prctl::set_child_subreaper(true).expect("become a child subreaper");
        Subreaper
    }
}

impl Drop for Subreaper {
    /// Reaps without blocking, round after round: a zombie leader whose other threads still
    /// run cannot be reaped yet, and one of them (a guardian that is the init of a PID
    /// namespace, in `zap_pid_ns_processes`) waits until its namespace's other processes,
    /// zombies of this process too, are reaped. A blocking wait on it, first in pid order,
    /// hung the test run (chaos and guardian tests together).
    fn drop(&mut self) {
        use nix::sys::wait::{WaitPidFlag, waitpid};
        let _ = nix::sys::prctl::set_child_subreaper(false);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let zombies = zombie_children(std::process::id());
            if zombies.is_empty() || Instant::now() > deadline {
                return;
            }
            for pid in zombies {
                let pid = nix::unistd::Pid::from_raw(pid as i32);
                let _ = waitpid(pid, Some(WaitPidFlag::WNOHANG));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// F3 + F9: a daemon started on the run directory of a `kill -9`ed one whose guardian was killed
/// first (so nothing took the tree down) kills what that one left running — its components and
/// their grandchildren, in the components' process groups — and reports exactly those as
/// `leftover_killed`. The test process is their new parent (a child subreaper for the while)
/// and reaps them only afterwards, as a slow init would.
///
/// The components run a second generation first: by then the journal has checked the start
/// times the daemon computes from the clock against `/proc` (eight must agree), so the records
/// of the generation left behind are computed ones.
fn a_successor_kills_only_what_a_killed_daemon_left_running() {
    let _serial = serial();
    let (prefix, ids) = component_ids("s", 12);
    let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let _subreaper = Subreaper::become_one();
    let _sweep = Sweep(prefix.clone());
    let servers: String = ids
        .iter()
        .map(|id| standin_server(id, &["--grandchild"], NO_BACKOFF))
        .collect();
    let mut daemon = Daemon::start(&registry(STRATEGY, &servers));
    let first = daemon.started_pids(&id_refs);
    let journal = daemon.dir.path().join("run").join("children");
    eventually("the journal records the first generation", || {
        let text = std::fs::read_to_string(&journal).unwrap_or_default();
        first
            .iter()
            .all(|pid| text.lines().any(|l| l.starts_with(&format!("{pid} "))))
    });
    for &pid in &first {
        kill(pid, Signal::SIGKILL);
    }
    let pids = daemon.started_pids(&id_refs);
    let grandchild_of = |id: &str, parent: u32| {
        let name = format!("--name {id}-grandchild");
        processes()
            .into_iter()
            .find(|p| p.ppid == parent && p.state != 'Z' && proc_cmdline(p.pid).contains(&name))
            .map(|p| p.pid)
    };
    eventually("every component has its grandchild", || {
        ids.iter()
            .zip(&pids)
            .all(|(id, &pid)| grandchild_of(id, pid).is_some())
    });
    let grandchildren: BTreeSet<u32> = ids
        .iter()
        .zip(&pids)
        .filter_map(|(id, &pid)| grandchild_of(id, pid))
        .collect();

    daemon.kill_with_its_guardian();
    let left: BTreeSet<u32> = grandchildren.iter().chain(&pids).copied().collect();
    assert!(
        left.iter().all(|&pid| alive(pid)),
        "the components and grandchildren outlive the daemon (nothing killed them yet)"
    );

    let mut successor = daemon.successor();
    successor.started_pids(&id_refs);
    eventually("the successor kills what was left behind", || {
        left.iter().all(|&pid| !alive(pid))
    });
    let reported: BTreeSet<u32> = successor
        .events()
        .iter()
        .filter(|e| e["event"] == "leftover_killed")
        .filter_map(|e| e["pid"].as_u64().map(|pid| pid as u32))
        .collect();
    assert_eq!(
        reported, left,
        "leftover_killed names exactly what was left running: the components and grandchildren"
    );
    assert_eq!(successor.stop(), Some(0), "the successor stops in order");
}

// ---------------------------------------------------------------------------------------------
// The checker itself
// ---------------------------------------------------------------------------------------------

/// A log line about `id`'s `pid`.
fn line(event: &str, id: &str, pid: u32) -> Value {
    let mut line = serde_json::json!({
        "timestamp": "2026-01-01T00:00:00.000000Z",
        "event": event,
        "component": id,
        "pid": pid,
    });
    if event == "component_exited" {
        line["signal"] = 9.into();
        line["expected"] = false.into();
    }
    line
}

/// A log history: (event, component, pid) lines.
type History<'a> = &'a [(&'a str, &'a str, u32)];
/// Kills made: (pid, component).
type Kills<'a> = &'a [(u32, &'a str)];

/// The log history `lines`, checked with `kills` made before it.
fn checked(lines: History, kills: Kills) -> Tracker {
    let mut tracker = Tracker::default();
    for &(pid, id) in kills {
        tracker.kills.insert(pid, (id.to_string(), 0.0));
    }
    tracker.absorb(
        lines
            .iter()
            .map(|&(event, id, pid)| line(event, id, pid))
            .collect(),
    );
    tracker
}

/// The chaos test's log checker passes a sound history and flags each fault it exists to find:
/// a duplicate start, a second exit, an exit nobody caused, a kill logged as something else, and
/// a kill whose exit never comes.
fn the_chaos_log_checker_flags_duplicates_and_unmatched_exits() {
    const STARTED: &str = "component_started";
    const EXITED: &str = "component_exited";
    const STOPPING: &str = "component_stopping";
    const STOPPED: &str = "component_stopped";
    let sound = checked(
        &[
            (STARTED, "a", 1),
            (STARTED, "b", 2),
            (EXITED, "a", 1),
            (STARTED, "a", 3),
            (STOPPING, "a", 3),
            (STOPPED, "a", 3),
            (STARTED, "a", 4),
            (STOPPING, "b", 2),
            (STOPPED, "b", 2),
        ],
        &[(1, "a"), (2, "b")],
    );
    assert!(sound.violations.is_empty(), "{:?}", sound.violations);
    assert_eq!((sound.kills_exited, sound.kills_raced_stop), (1, 1));
    assert!(sound.kills.is_empty());
    let expected = BTreeMap::from([("a".to_string(), 4)]);
    assert_eq!(sound.current, expected);

    let faults: [(History, Kills, &str); 4] = [
        (
            &[(STARTED, "a", 1), (STARTED, "a", 2)],
            &[],
            "duplicate start",
        ),
        (
            &[(STARTED, "a", 1), (EXITED, "a", 1), (EXITED, "a", 1)],
            &[(1, "a")],
            "a second exit",
        ),
        (&[(STARTED, "a", 1), (EXITED, "a", 1)], &[], "did not cause"),
        (
            &[(STARTED, "a", 1), (STOPPED, "a", 1)],
            &[(1, "a")],
            "we SIGKILLed",
        ),
    ];
    for (lines, kills, flagged) in faults {
        let tracker = checked(lines, kills);
        assert!(
            tracker.violations.iter().any(|v| v.contains(flagged)),
            "{lines:?} with kills {kills:?} is flagged ({flagged}): {:?}",
            tracker.violations
        );
    }
    let lost = checked(&[(STARTED, "a", 1)], &[(1, "a")]);
    assert_eq!(lost.kills.len(), 1, "a kill without its exit stays pending");
}

/// The tests of this module, in file order, for the harness of main.rs.
pub const TESTS: &[testkit::harness::Test] = testkit::tests![
    chaos_kills_mixed_with_cli_and_reloads,
    orphaned_grandchildren_are_reaped_every_round,
    a_killed_daemon_takes_its_20_components_along,
    a_successor_kills_only_what_a_killed_daemon_left_running,
    the_chaos_log_checker_flags_duplicates_and_unmatched_exits,
];
