//! Scenario benchmarks: drive the real `supervisor` binary on generated registries of stand-in
//! components and print one markdown table.
//!
//! Run with `cargo bench --bench scenarios` (cargo builds the `supervisor` and `standin`
//! binaries with the bench profile, i.e. optimized, and hands their paths to this program).
//! Environment:
//! - `SCENARIO_QUICK=1` shrinks every count for a smoke run (and the idle window to 5 s);
//! - `SCENARIO_IDLE_SECS=N` sets the idle window (default 60 s);
//! - `SCENARIO_KILLS=N` sets the kills per restart-latency size (default 1,000);
//! - `SCENARIO_ONLY=latency,crashloop,lifecycle` runs some of the scenarios;
//! - `SCENARIO_LATENCY_SIZES=1,100,1000` and `SCENARIO_LIFECYCLE_SIZES=100,1000,10000` replace
//!   the sizes of scenario 1 and of scenarios 3–5;
//! - `SCENARIO_KEEP=1` keeps the work directory (registries, stamp files) for inspection.
//!
//! Scenarios:
//! 1. restart latency: `kill -9` of a component to its replacement's exec (the stand-in's
//!    `--stamp` line), with 1, 100, 1,000 components in the group;
//! 2. crash-loop throughput: 100 components that exit at once, `<backoff initial="0"/>`;
//! 3. start-up: `run` to all N components started (one priority level);
//! 4. shutdown: SIGTERM to the daemon until every component is gone (same daemons as 3);
//! 5. idle cost: RSS, CPU time and context switches of the daemon over the idle window (same
//!    daemons as 3, between start-up and shutdown).
//!
//! Under `cargo test --benches` (no `--bench` argument) it does nothing.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::resource::{getrlimit, setrlimit, Resource};
use nix::sys::signal::Signal;
use testkit::lean::{signal, LeanDaemon};
use testkit::{alive, monotonic_ns, realtime_ns, standin, supervisor_bin, xml_escape};

/// The output settings of the start-up, shutdown and idle components: stderr merged into
/// stdout, one pipe (one daemon descriptor) each, so that 10,000 fit an RLIMIT_NOFILE of 20,000.
const LIFECYCLE_OUTPUT: &str = r#"<output stderr="merge"/>"#;

/// The restart strategy of scenarios that must never give up: an intensity of 10,000 in a short
/// window, i.e. up to 100,000 restarts/s, far above any scenario's restart rate.
const NEVER_GIVE_UP: &str =
    r#"<restartStrategy type="one_for_one" intensity="10000" period="0.1"/>"#;

fn main() {
    testkit::use_supervisor(env!("CARGO_BIN_EXE_supervisor"));
    if !std::env::args().any(|arg| arg == "--bench") {
        println!(
            "scenarios: skipped (not run by `cargo test`; run `cargo bench --bench scenarios`)"
        );
        return;
    }
    let config = Config::from_env();
    let work = std::env::temp_dir().join(format!("supervisor-scenarios-{}", std::process::id()));
    std::fs::create_dir_all(&work).expect("create the work directory");
    eprintln!(
        "scenarios: supervisor {}\nscenarios: standin {}\nscenarios: work directory {}",
        supervisor_bin(),
        standin(),
        work.display()
    );
    let mut bench = Bench {
        config,
        work: work.clone(),
        runs: 0,
        rows: Vec::new(),
        notes: Vec::new(),
        load_at_start: loadavg(),
        floor_ns: None,
    };
    if bench.config.wants("latency") {
        bench.floor();
        for n in bench.config.latency_sizes.clone() {
            bench.restart_latency(n);
        }
    }
    if bench.config.wants("crashloop") {
        bench.crash_loop("/bin/false (exits at once, silent)", "/bin/false", &[]);
        let crash = ["--crash-after", "0", "--exit-code", "1"];
        bench.crash_loop("stand-ins (two output lines a run)", standin(), &crash);
    }
    if bench.config.wants("lifecycle") {
        for n in bench.config.lifecycle_sizes.clone() {
            bench.lifecycle(n);
        }
    }
    print!("{}", bench.report());
    if std::env::var_os("SCENARIO_KEEP").is_some() {
        eprintln!("scenarios: kept {}", work.display());
    } else {
        let _ = std::fs::remove_dir_all(&work);
    }
}

// ---------------------------------------------------------------------------------------------
// Configuration

struct Config {
    quick: bool,
    idle: Duration,
    kills: usize,
    latency_sizes: Vec<usize>,
    crash_components: usize,
    crash_window: Duration,
    lifecycle_sizes: Vec<usize>,
    lifecycle_runs: usize,
    only: Option<Vec<String>>,
}

impl Config {
    fn from_env() -> Config {
        let quick = std::env::var("SCENARIO_QUICK").is_ok_and(|v| !v.is_empty() && v != "0");
        let number = |name: &str| -> Option<f64> {
            let value = std::env::var(name).ok()?;
            match value.parse::<f64>() {
                Ok(n) if n.is_finite() && n >= 0.0 => Some(n),
                _ => panic!("{name}={value:?} is not a number"),
            }
        };
        let idle = number("SCENARIO_IDLE_SECS").unwrap_or(if quick { 5.0 } else { 60.0 });
        let kills = number("SCENARIO_KILLS").map_or(if quick { 100 } else { 1000 }, |n| n as usize);
        let only = std::env::var("SCENARIO_ONLY")
            .ok()
            .map(|list| list.split(',').map(|s| s.trim().to_string()).collect());
        Config {
            quick,
            idle: Duration::from_secs_f64(idle),
            kills,
            latency_sizes: sizes("SCENARIO_LATENCY_SIZES").unwrap_or(if quick {
                vec![1, 10, 100]
            } else {
                vec![1, 100, 1000]
            }),
            crash_components: if quick { 20 } else { 100 },
            crash_window: Duration::from_secs(if quick { 2 } else { 10 }),
            lifecycle_sizes: sizes("SCENARIO_LIFECYCLE_SIZES").unwrap_or(if quick {
                vec![10, 100, 1000]
            } else {
                vec![100, 1000, 10_000]
            }),
            lifecycle_runs: number("SCENARIO_LIFECYCLE_RUNS").map_or(3, |n| (n as usize).max(1)),
            only,
        }
    }

    fn wants(&self, scenario: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|only| only.iter().any(|s| s == scenario))
    }
}

/// A comma-separated list of sizes from the environment variable `name`.
fn sizes(name: &str) -> Option<Vec<usize>> {
    let list = std::env::var(name).ok()?;
    Some(
        list.split(',')
            .map(|n| {
                n.trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("{name}={list:?}: not a list of numbers"))
            })
            .collect(),
    )
}

// ---------------------------------------------------------------------------------------------
// Registries

/// A registry of `n` components in the root group, all of the stand-in with `arguments`.
/// `n` components `c00000`… running `executable` with `arguments`; `settings` (raw XML, e.g.
/// `<backoff>`) go into their shared profile.
fn registry(
    n: usize,
    strategy: &str,
    executable: &str,
    arguments: &[&str],
    settings: &str,
) -> String {
    let arguments: String = arguments
        .iter()
        .map(|a| format!("<argument>{}</argument>", xml_escape(a)))
        .collect();
    let mut text = format!(
        "<supervisor>\n\
         {strategy}\n<profiles><profile id=\"standin\"><executable>{}</executable>\
         <arguments>{arguments}</arguments>{settings}</profile></profiles>\n<servers>\n",
        xml_escape(executable)
    );
    for i in 0..n {
        let _ = writeln!(
            text,
            "<server id=\"c{i:05}\"><profile ref=\"standin\"/></server>"
        );
    }
    text.push_str("</servers>\n</supervisor>\n");
    text
}

// ---------------------------------------------------------------------------------------------
// /proc

/// CPU, memory and scheduling counters of a process (all its threads).
#[derive(Debug, Clone, Copy)]
struct ProcSample {
    /// utime + stime from `/proc/PID/stat`, in clock ticks (includes exited threads).
    cpu_ticks: u64,
    /// Sum of the threads' on-CPU time from `/proc/PID/task/*/schedstat`, in ns (live threads).
    cpu_ns: u64,
    voluntary: u64,
    involuntary: u64,
    rss_kib: u64,
    hwm_kib: u64,
    threads: u64,
}

impl ProcSample {
    fn read(pid: i32) -> Option<ProcSample> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // Fields after the command (which may contain spaces): state is field 3.
        let fields: Vec<&str> = stat.rsplit_once(") ")?.1.split_whitespace().collect();
        let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
        let cpu_ticks = field(14)? + field(15)?;
        let threads = field(20)?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let rss_kib = status_kib(&status, "VmRSS")?;
        let hwm_kib = status_kib(&status, "VmHWM").unwrap_or(rss_kib);
        let (mut voluntary, mut involuntary, mut cpu_ns) = (0, 0, 0);
        for task in std::fs::read_dir(format!("/proc/{pid}/task"))
            .ok()?
            .flatten()
        {
            let path = task.path();
            if let Ok(status) = std::fs::read_to_string(path.join("status")) {
                voluntary += status_kib(&status, "voluntary_ctxt_switches").unwrap_or(0);
                involuntary += status_kib(&status, "nonvoluntary_ctxt_switches").unwrap_or(0);
            }
            if let Ok(schedstat) = std::fs::read_to_string(path.join("schedstat")) {
                cpu_ns += schedstat
                    .split_whitespace()
                    .next()
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or(0);
            }
        }
        Some(ProcSample {
            cpu_ticks,
            cpu_ns,
            voluntary,
            involuntary,
            rss_kib,
            hwm_kib,
            threads,
        })
    }
}

/// The number at the start of the `key:` line of a `/proc/PID/status` text.
fn status_kib(status: &str, key: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(key)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

fn clock_ticks_per_second() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .map_or(100, |t| t as u64)
}

/// The host's CPU time by kind, from the first line of `/proc/stat` (clock ticks, all CPUs).
#[derive(Debug, Clone, Copy)]
struct HostCpu {
    busy: u64,
    iowait: u64,
    steal: u64,
    total: u64,
}

impl HostCpu {
    fn read() -> Option<HostCpu> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let values: Vec<u64> = stat
            .lines()
            .next()?
            .strip_prefix("cpu ")?
            .split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect();
        // user nice system idle iowait irq softirq steal (guest time is inside user).
        let field = |i: usize| values.get(i).copied().unwrap_or(0);
        let busy = field(0) + field(1) + field(2) + field(5) + field(6) + field(7);
        Some(HostCpu {
            busy,
            iowait: field(4),
            steal: field(7),
            total: busy + field(3) + field(4),
        })
    }

    fn since(&self, before: &HostCpu) -> HostLoad {
        let total = self.total.saturating_sub(before.total).max(1) as f64;
        let share = |after: u64, before: u64| after.saturating_sub(before) as f64 / total * 100.0;
        HostLoad {
            busy: share(self.busy, before.busy),
            iowait: share(self.iowait, before.iowait),
            steal: share(self.steal, before.steal),
        }
    }
}

/// Shares of the host's CPU time (all CPUs together) over an interval, in %.
struct HostLoad {
    busy: f64,
    iowait: f64,
    steal: f64,
}

impl std::fmt::Display for HostLoad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Host CPUs meanwhile: {:.0} % busy (all processes), {:.1} % iowait, {:.1} % steal",
            self.busy, self.iowait, self.steal
        )
    }
}

/// Waits up to `grace` for every one of `pids` to be gone, then kills (by pid) those that are
/// not; how many.
fn reap_leftovers(pids: &[i32], grace: Duration) -> usize {
    let deadline = Instant::now() + grace;
    let mut left: Vec<i32> = pids
        .iter()
        .copied()
        .filter(|&pid| alive(pid as u32))
        .collect();
    while !left.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        left.retain(|&pid| alive(pid as u32));
    }
    for &pid in &left {
        signal(pid, Signal::SIGKILL);
    }
    left.len()
}

/// How long the components of a daemon killed with SIGKILL get to die of their parent-death
/// signal before the benchmark counts them as left behind.
const DEATH_GRACE: Duration = Duration::from_secs(5);

/// Whether this machine can hold `n` more components: an error (the reason not to run) when
/// there are not enough pids; a warning when the open-file limit looks small and cannot be
/// raised (the daemon then runs anyway, and what it does is the result).
fn room_for(n: usize, pipes: u64) -> Result<Option<String>, String> {
    let pid_max: usize = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(32768);
    let tasks: usize = std::fs::read_dir("/proc")
        .map(|dir| {
            dir.flatten()
                .filter(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .bytes()
                        .all(|b| b.is_ascii_digit())
                })
                .map(|e| std::fs::read_dir(e.path().join("task")).map_or(1, |t| t.count()))
                .sum()
        })
        .unwrap_or(0);
    if tasks + n + 512 > pid_max {
        return Err(format!(
            "not run: {n} components need {n} pids, kernel.pid_max is {pid_max} and {tasks} are in use"
        ));
    }
    // The daemon raises its soft limit to the hard one; make the hard one large enough for the
    // components' pipes and the daemon's headroom (640), if this process may.
    let need = (n as u64) * pipes + 1024;
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return Ok(None);
    };
    if hard >= need {
        return Ok(None);
    }
    Ok(setrlimit(Resource::RLIMIT_NOFILE, soft.max(need), need)
        .err()
        .map(|e| {
            format!(
                "N = {n}: RLIMIT_NOFILE is {soft}/{hard}, below the {need} that {pipes} pipe(s) a \
                 component and some headroom need, and cannot be raised here ({e}); run as it is"
            )
        }))
}

// ---------------------------------------------------------------------------------------------
// Stamp files

/// The stand-ins' `PID MONOTONIC_NS` lines, read as they are appended.
struct Stamps {
    path: PathBuf,
    file: Option<File>,
    partial: Vec<u8>,
    by_pid: HashMap<i32, u64>,
}

impl Stamps {
    fn new(path: PathBuf) -> Stamps {
        Stamps {
            path,
            file: None,
            partial: Vec::new(),
            by_pid: HashMap::new(),
        }
    }

    fn poll(&mut self) {
        if self.file.is_none() {
            self.file = File::open(&self.path).ok();
        }
        let Some(file) = &mut self.file else { return };
        let mut chunk = Vec::new();
        if file.read_to_end(&mut chunk).is_err() {
            return;
        }
        self.partial.extend_from_slice(&chunk);
        let Some(end) = self.partial.iter().rposition(|&b| b == b'\n') else {
            return;
        };
        let complete: Vec<u8> = self.partial.drain(..=end).collect();
        for line in String::from_utf8_lossy(&complete).lines() {
            let mut parts = line.split_whitespace();
            if let (Some(Ok(pid)), Some(Ok(ns))) = (
                parts.next().map(str::parse::<i32>),
                parts.next().map(str::parse::<u64>),
            ) {
                self.by_pid.insert(pid, ns);
            }
        }
    }

    /// The stamp of `pid`, waiting for it (polling the file) at most `timeout`.
    fn wait(&mut self, pid: i32, timeout: Duration) -> Option<u64> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(&ns) = self.by_pid.get(&pid) {
                return Some(ns);
            }
            if Instant::now() >= deadline {
                return None;
            }
            // The stamp holds its own time: reading it late does not change the measurement,
            // and a tight poll would take CPU from the very child being measured.
            std::thread::sleep(Duration::from_millis(1));
            self.poll();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Statistics and formatting

/// The nearest-rank percentile `p` (0–100) of sorted `values`.
fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// As [`percentile`], of signed values.
fn signed_percentile(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn signed_ms(ns: i64) -> String {
    if ns < 0 {
        format!("−{}", ms(ns.unsigned_abs()))
    } else {
        ms(ns as u64)
    }
}

fn ms(ns: u64) -> String {
    let ms = ns as f64 / 1e6;
    if ms >= 100.0 {
        format!("{ms:.0} ms")
    } else if ms >= 10.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.2} ms")
    }
}

fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 10.0 {
        format!("{s:.1} s")
    } else {
        format!("{s:.3} s")
    }
}

/// `0.12 s, 0.13 s, 0.2 s`.
fn list(durations: &[Duration]) -> String {
    if durations.is_empty() {
        return "-".into();
    }
    durations
        .iter()
        .map(|&d| secs(d))
        .collect::<Vec<_>>()
        .join(", ")
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn verdict(ok: bool) -> String {
    if ok { "yes" } else { "**no**" }.to_string()
}

// ---------------------------------------------------------------------------------------------
// The scenarios

/// One daemon of the start-up / idle / shutdown scenarios.
struct Life {
    started_in: Duration,
    rss_after_start: Option<u64>,
    idle: Option<Result<Idle, String>>,
    stop: Result<Stopped, String>,
}

/// The daemon's costs over the idle window.
#[derive(Debug, Clone)]
struct Idle {
    elapsed: Duration,
    cpu_ns: u64,
    ticks: u64,
    voluntary: u64,
    involuntary: u64,
    rss_kib: u64,
    hwm_kib: u64,
    threads: u64,
}

/// How a SIGTERM went.
struct Stopped {
    took: Duration,
    status: ExitStatus,
    /// From the signal to the last `component_stopped` line read.
    last_stopped: Option<Duration>,
    /// `component_stopped` lines.
    stopped: u64,
    /// Components still alive (not zombies) after the daemon's exit.
    still_alive: usize,
}

struct Row {
    scenario: &'static str,
    n: usize,
    result: String,
    target: String,
    met: String,
}

struct Bench {
    config: Config,
    work: PathBuf,
    runs: usize,
    rows: Vec<Row>,
    notes: Vec<String>,
    load_at_start: String,
    /// Row 0's least restart time, once measured.
    floor_ns: Option<u64>,
}

impl Bench {
    fn run_dir(&mut self, name: &str) -> PathBuf {
        self.runs += 1;
        let dir = self.work.join(format!("{:02}-{name}", self.runs));
        std::fs::create_dir_all(&dir).expect("create a run directory");
        dir
    }

    fn row(
        &mut self,
        scenario: &'static str,
        n: usize,
        result: String,
        target: &str,
        met: Option<bool>,
    ) {
        eprintln!("scenarios: {scenario} N={n}: {result}");
        self.rows.push(Row {
            scenario,
            n,
            result,
            target: target.to_string(),
            met: met.map_or(String::new(), verdict),
        });
    }

    /// 1. `kill -9` of a component → its replacement's first instruction in `main`.
    fn restart_latency(&mut self, n: usize) {
        const SCENARIO: &str = "1 restart latency";
        let target = if n == 100 {
            "p50 ≤ 1 ms, p99 ≤ 5 ms"
        } else {
            ""
        };
        eprintln!(
            "scenarios: restart latency, {n} components, {} kills",
            self.config.kills
        );
        // Stdout and stderr captured apart: two pipes a component.
        match room_for(n, 2) {
            Ok(warning) => self.notes.extend(warning),
            Err(why) => return self.row(SCENARIO, n, why, target, None),
        }
        let dir = self.run_dir(&format!("latency-{n}"));
        let stamp_path = dir.join("stamps");
        let stamp_arg = stamp_path.to_string_lossy().into_owned();
        let text = registry(
            n,
            NEVER_GIVE_UP,
            standin(),
            &["--stamp", &stamp_arg],
            r#"<backoff initial="0"/>"#,
        );
        let (mut daemon, mut pids) = match start_all(&dir, &text, n) {
            Ok(started) => started,
            Err(why) => return self.row(SCENARIO, n, why, target, None),
        };
        let mut ids: Vec<String> = pids.keys().cloned().collect();
        ids.sort();
        let mut stamps = Stamps::new(stamp_path);
        std::thread::sleep(Duration::from_millis(300));
        stamps.poll();
        let mut exec_ns = Vec::with_capacity(self.config.kills);
        let mut event_ns = Vec::with_capacity(self.config.kills);
        // The same latency in three legs, from the daemon's log timestamps (µs precision):
        // kill → `component_exited` logged → `component_started` logged → the stamp.
        let (mut reap_leg, mut restart_leg, mut exec_leg) = (Vec::new(), Vec::new(), Vec::new());
        let mut failure = None;
        let host_before = HostCpu::read();
        for kill_number in 0..self.config.kills {
            let id = &ids[kill_number % ids.len()];
            let old = pids[id];
            let killed_at = Instant::now();
            let kill_ns = monotonic_ns();
            let realtime_offset = realtime_ns() as i64 - kill_ns as i64;
            signal(old, Signal::SIGKILL);
            let (started, exited) = match daemon.wait_restarted(id, old, Duration::from_secs(10)) {
                Ok(events) => events,
                Err(why) => {
                    failure = Some(format!("kill #{} of {id}: {why}", kill_number + 1));
                    break;
                }
            };
            let Some(stamp) = stamps.wait(started.pid, Duration::from_secs(5)) else {
                failure = Some(format!(
                    "kill #{}: no stamp line from {id}'s new pid {} within 5 s",
                    kill_number + 1,
                    started.pid
                ));
                break;
            };
            exec_ns.push(stamp.saturating_sub(kill_ns));
            event_ns.push(started.at.duration_since(killed_at).as_nanos() as u64);
            let monotonic = |logged: Option<u64>| logged.map(|ns| ns as i64 - realtime_offset);
            if let (Some(exited_ns), Some(started_ns)) = (
                monotonic(exited.and_then(|e| e.logged_ns)),
                monotonic(started.logged_ns),
            ) {
                reap_leg.push(exited_ns - kill_ns as i64);
                restart_leg.push(started_ns - exited_ns);
                exec_leg.push(stamp as i64 - started_ns);
            }
            pids.insert(id.clone(), started.pid);
        }
        let host = HostCpu::read()
            .zip(host_before)
            .map(|(after, before)| after.since(&before));
        let all_pids: Vec<i32> = pids.values().copied().collect();
        let stop = daemon.terminate(Duration::from_secs(30) + Duration::from_millis(n as u64 * 10));
        drop(daemon);
        // After an orderly exit nothing may be left; after a SIGKILL the parent-death signal
        // needs a moment.
        let grace = if stop.is_ok() {
            Duration::ZERO
        } else {
            DEATH_GRACE
        };
        let leftovers = reap_leftovers(&all_pids, grace);
        exec_ns.sort_unstable();
        event_ns.sort_unstable();
        for leg in [&mut reap_leg, &mut restart_leg, &mut exec_leg] {
            leg.sort_unstable();
        }
        let mut result = format!(
            "p50 {} · p99 {} · max {} ({} kills). Legs, p50/p99: kill → `component_exited` logged {}/{}; \
             → `component_started` logged {}/{}; → replacement's stamp {}/{}. Kill → `component_started` \
             read by the benchmark p50 {}",
            ms(percentile(&exec_ns, 50.0)),
            ms(percentile(&exec_ns, 99.0)),
            ms(exec_ns.last().copied().unwrap_or(0)),
            exec_ns.len(),
            signed_ms(signed_percentile(&reap_leg, 50.0)),
            signed_ms(signed_percentile(&reap_leg, 99.0)),
            signed_ms(signed_percentile(&restart_leg, 50.0)),
            signed_ms(signed_percentile(&restart_leg, 99.0)),
            signed_ms(signed_percentile(&exec_leg, 50.0)),
            signed_ms(signed_percentile(&exec_leg, 99.0)),
            ms(percentile(&event_ns, 50.0)),
        );
        if let (Some(floor), false) = (self.floor_ns, exec_ns.is_empty()) {
            let own = percentile(&exec_ns, 50.0) as i64 - floor as i64;
            let _ = write!(
                result,
                ". The supervisor's share of the p50, over the floor (row 0): {}",
                signed_ms(own)
            );
        }
        if let Some(host) = host {
            let _ = write!(result, ". {host}");
        }
        if let Some(failure) = &failure {
            let _ = write!(result, "; **FAILED** at {failure}");
        }
        if let Err(why) = stop {
            let _ = write!(result, "; shutdown afterwards failed: {why}");
        }
        if leftovers > 0 {
            let _ = write!(result, "; **{leftovers} components outlived the daemon**");
        }
        let met = (n == 100 && failure.is_none() && !exec_ns.is_empty()).then(|| {
            percentile(&exec_ns, 50.0) <= 1_000_000 && percentile(&exec_ns, 99.0) <= 5_000_000
        });
        self.row(SCENARIO, n, result, target, met);
    }

    /// Row 0, what a restart costs here without any supervisor: the benchmark itself starts a
    /// stand-in (std's `Command`, posix_spawn) and measures spawn → its stamp, then `kill -9` →
    /// `waitpid` returns. The sum of the p50s is the least a restart can take on this machine.
    fn floor(&mut self) {
        const SCENARIO: &str = "0 floor (no supervisor)";
        let runs = if self.config.quick { 50 } else { 300 };
        eprintln!("scenarios: floor, {runs} stand-ins started and killed directly");
        let dir = self.run_dir("floor");
        let stamp_path = dir.join("stamps");
        let mut stamps = Stamps::new(stamp_path.clone());
        let (mut exec_ns, mut exit_ns) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            let spawned_ns = monotonic_ns();
            let child = Command::new(standin())
                .arg("--stamp")
                .arg(&stamp_path)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn();
            let mut child = match child {
                Ok(child) => child,
                Err(e) => return self.row(SCENARIO, 1, format!("cannot spawn: {e}"), "", None),
            };
            let pid = child.id() as i32;
            let stamp = stamps.wait(pid, Duration::from_secs(5));
            let killed_ns = monotonic_ns();
            signal(pid, Signal::SIGKILL);
            let _ = child.wait();
            exit_ns.push(monotonic_ns() - killed_ns);
            let Some(stamp) = stamp else {
                let why = format!("no stamp from pid {pid} within 5 s");
                return self.row(SCENARIO, 1, why, "", None);
            };
            exec_ns.push(stamp.saturating_sub(spawned_ns));
        }
        exec_ns.sort_unstable();
        exit_ns.sort_unstable();
        let floor = percentile(&exec_ns, 50.0) + percentile(&exit_ns, 50.0);
        self.floor_ns = Some(floor);
        let result = format!(
            "spawn → stand-in's stamp p50 {} · p99 {}; `kill -9` → `waitpid` p50 {} · p99 {} \
             ({runs} runs); a restart cannot take less than about {} (p50s added)",
            ms(percentile(&exec_ns, 50.0)),
            ms(percentile(&exec_ns, 99.0)),
            ms(percentile(&exit_ns, 50.0)),
            ms(percentile(&exit_ns, 99.0)),
            ms(floor),
        );
        self.row(SCENARIO, 1, result, "", None);
    }

    /// Row 2, components that exit as soon as they start (`program` with `arguments`, described
    /// as `what`), restarted at once, for a while.
    fn crash_loop(&mut self, what: &str, program: &str, arguments: &[&str]) {
        const SCENARIO: &str = "2 crash-loop throughput";
        let n = self.config.crash_components;
        let window = self.config.crash_window;
        let target = "≥ 2,000 restarts/s";
        eprintln!(
            "scenarios: crash loop of {what}, {n} components, {} s",
            window.as_secs()
        );
        let dir = self.run_dir("crashloop");
        let text = registry(
            n,
            NEVER_GIVE_UP,
            program,
            arguments,
            r#"<backoff initial="0"/>"#,
        );
        // Warm up: every component has started at least once and the loop is going.
        let mut daemon = match start_all(&dir, &text, n) {
            Ok((daemon, _pids)) => daemon,
            Err(why) => return self.row(SCENARIO, n, why, target, None),
        };
        std::thread::sleep(Duration::from_secs(1));
        daemon.seen.lock().unwrap().detailed = false;
        let host_before = HostCpu::read();
        let (Some(before), started_before, t0) = (
            ProcSample::read(daemon.pid),
            daemon.seen.lock().unwrap().started,
            Instant::now(),
        ) else {
            let why = daemon.failure("the daemon is gone after the warm-up".into());
            return self.row(SCENARIO, n, why, target, None);
        };
        std::thread::sleep(window);
        let (after, started_after, elapsed) = (
            ProcSample::read(daemon.pid),
            daemon.seen.lock().unwrap().started,
            t0.elapsed(),
        );
        let host = HostCpu::read()
            .zip(host_before)
            .map(|(after, before)| after.since(&before));
        let Some(after) = after else {
            let why = daemon.failure(format!(
                "the daemon died during the {} s window",
                window.as_secs()
            ));
            return self.row(SCENARIO, n, why, target, None);
        };
        // Drain what the reader queued (pids are not needed here).
        while daemon.events.try_recv().is_ok() {}
        let stop = daemon.terminate(Duration::from_secs(60));
        let (errors, runs, ends) = {
            let seen = daemon.seen.lock().unwrap();
            (
                seen.errors.clone(),
                seen.started,
                seen.exited + seen.stopped,
            )
        };
        drop(daemon);
        let restarts = started_after.saturating_sub(started_before);
        let rate = restarts as f64 / elapsed.as_secs_f64();
        let ticks = after.cpu_ticks.saturating_sub(before.cpu_ticks);
        let cpu_ns = ticks * 1_000_000_000 / clock_ticks_per_second();
        let per_restart_us = if restarts > 0 {
            cpu_ns as f64 / restarts as f64 / 1e3
        } else {
            0.0
        };
        let switches = (after.voluntary + after.involuntary)
            .saturating_sub(before.voluntary + before.involuntary);
        let mut result = format!(
            "{what}: {rate:.0} restarts/s ({restarts} in {:.1} s) · daemon CPU {per_restart_us:.0} µs/restart \
             ({:.0} % of one core) · {:.1} context switches/restart · {} threads",
            elapsed.as_secs_f64(),
            cpu_ns as f64 / elapsed.as_nanos() as f64 * 100.0,
            if restarts > 0 { switches as f64 / restarts as f64 } else { 0.0 },
            after.threads,
        );
        if let Some(host) = host {
            let _ = write!(result, ". {host}");
        }
        match stop {
            Ok((took, status)) => {
                let _ = write!(result, "; stopped in {} ({status})", secs(took));
            }
            Err(why) => {
                let _ = write!(result, "; shutdown failed: {why}");
            }
        }
        // Every run ends in `component_exited` or, at shutdown, `component_stopped`.
        let lost = runs.saturating_sub(ends);
        if lost == 0 {
            let _ = write!(result, "; no exit lost ({runs} runs, {ends} ends logged)");
        } else {
            let _ = write!(
                result,
                "; **{lost} exits lost** ({runs} runs, {ends} ends logged)"
            );
        }
        if !errors.is_empty() {
            let _ = write!(result, "; errors logged: {}", errors.len());
            self.notes.push(format!(
                "crash loop: the daemon logged errors: {}",
                errors.join(" | ")
            ));
        }
        let met = (n == 100).then_some(rate >= 2000.0 && lost == 0);
        self.row(SCENARIO, n, result, target, met);
    }

    /// 3, 4, 5: start-up, idle cost and shutdown of `n` idle components, on a few daemons in a
    /// row (the first one also idles for the idle window).
    fn lifecycle(&mut self, n: usize) {
        const START: &str = "3 start-up";
        const IDLE: &str = "5 idle cost";
        const STOP: &str = "4 shutdown";
        let timed_target = if n == 1000 { "≤ 1 s" } else { "" };
        let idle_budget_kib = 16 * 1024 + 8 * n as u64;
        let idle_target = if n == 1000 {
            format!("CPU ≤ 0.1 %, RSS ≤ {}", mib(idle_budget_kib))
        } else {
            String::new()
        };
        let runs = if n > 1000 {
            1
        } else {
            self.config.lifecycle_runs
        };
        eprintln!("scenarios: start-up / idle / shutdown, {n} components, {runs} daemons");
        // LIFECYCLE_OUTPUT merges stderr: one pipe a component.
        match room_for(n, 1) {
            Ok(warning) => self.notes.extend(warning),
            Err(why) => {
                self.row(START, n, why.clone(), timed_target, None);
                self.row(IDLE, n, why.clone(), &idle_target, None);
                return self.row(STOP, n, why, timed_target, None);
            }
        }
        let mut done = Vec::new();
        for run in 0..runs {
            match self.lifecycle_once(n, run == 0) {
                Ok(life) => done.push(life),
                Err(why) => {
                    self.row(START, n, why, timed_target, Some(false));
                    break;
                }
            }
        }
        let Some(first) = done.first() else {
            self.row(
                IDLE,
                n,
                "not run (start-up failed)".into(),
                &idle_target,
                None,
            );
            return self.row(
                STOP,
                n,
                "not run (start-up failed)".into(),
                timed_target,
                None,
            );
        };
        let mut start_times: Vec<Duration> = done.iter().map(|life| life.started_in).collect();
        let rss = first.rss_after_start;
        let idle = first.idle.clone();
        start_times.sort();
        let median = start_times[start_times.len() / 2];
        self.row(
            START,
            n,
            format!(
                "{} median of {} daemons ({}): `run` spawned → the {n}th `component_started` read{}",
                secs(median),
                start_times.len(),
                list(&start_times),
                rss.map_or(String::new(), |kib| format!("; daemon RSS then {}", mib(kib))),
            ),
            timed_target,
            (n == 1000).then_some(median <= Duration::from_secs(1)),
        );
        match idle {
            Some(Ok(idle)) => {
                let cpu_percent = idle.cpu_ns as f64 / idle.elapsed.as_nanos() as f64 * 100.0;
                let result = format!(
                    "over {:.0} s: CPU {cpu_percent:.4} % ({:.1} ms on CPU; utime+stime {} ticks) · RSS {} \
                     (peak {}) · context switches {} voluntary + {} involuntary ({:.2}/s) · {} threads",
                    idle.elapsed.as_secs_f64(),
                    idle.cpu_ns as f64 / 1e6,
                    idle.ticks,
                    mib(idle.rss_kib),
                    mib(idle.hwm_kib),
                    idle.voluntary,
                    idle.involuntary,
                    (idle.voluntary + idle.involuntary) as f64 / idle.elapsed.as_secs_f64(),
                    idle.threads,
                );
                let met =
                    (n == 1000).then_some(cpu_percent <= 0.1 && idle.rss_kib <= idle_budget_kib);
                self.row(IDLE, n, result, &idle_target, met);
            }
            Some(Err(why)) => self.row(IDLE, n, why, &idle_target, None),
            None => self.row(IDLE, n, "not run".into(), &idle_target, None),
        }
        let mut failures = Vec::new();
        let mut stops = Vec::new();
        let mut last_stopped = Vec::new();
        let (mut alive_after, mut unstopped) = (0, 0);
        for life in &done {
            match &life.stop {
                Ok(stop) => {
                    stops.push(stop.took);
                    last_stopped.extend(stop.last_stopped);
                    alive_after += stop.still_alive;
                    unstopped += n.saturating_sub(stop.stopped as usize);
                    if !stop.status.success() {
                        failures.push(format!("the daemon exited with {}", stop.status));
                    }
                }
                Err(why) => failures.push(why.clone()),
            }
        }
        stops.sort();
        last_stopped.sort();
        let mut result = if stops.is_empty() {
            String::from("**FAILED**")
        } else {
            format!(
                "{} median of {} daemons ({}): SIGTERM → daemon exited; → last `component_stopped` read: {}",
                secs(stops[stops.len() / 2]),
                stops.len(),
                list(&stops),
                list(&last_stopped),
            )
        };
        if unstopped > 0 {
            let _ = write!(result, "; {unstopped} `component_stopped` missing");
        }
        if alive_after > 0 {
            let _ = write!(
                result,
                "; **{alive_after} components alive after the daemon exited** (killed by the benchmark)"
            );
        }
        for failure in &failures {
            let _ = write!(result, "; **{failure}**");
        }
        let met = (n == 1000 && !stops.is_empty()).then(|| {
            stops[stops.len() / 2] <= Duration::from_secs(1)
                && alive_after == 0
                && failures.is_empty()
        });
        self.row(STOP, n, result, timed_target, met);
    }

    /// One daemon: start-up of `n` idle components, then (with `idle`) the idle window, then
    /// SIGTERM. An error when it did not start them all.
    fn lifecycle_once(&mut self, n: usize, idle: bool) -> Result<Life, String> {
        let dir = self.run_dir(&format!("lifecycle-{n}"));
        let text = registry(
            n,
            r#"<restartStrategy type="one_for_one" intensity="5" period="30"/>"#,
            standin(),
            &[],
            LIFECYCLE_OUTPUT,
        );
        let (mut daemon, pids) = start_all(&dir, &text, n)?;
        let started_in = {
            let seen = daemon.seen.lock().unwrap();
            seen.last_started
                .map_or(Duration::ZERO, |at| at.duration_since(daemon.spawned))
        };
        eprintln!("scenarios:   {n} started in {}", secs(started_in));
        let rss_after_start = ProcSample::read(daemon.pid).map(|s| s.rss_kib);
        let idle = idle.then(|| {
            // Let the start-up settle, then measure a quiet window.
            std::thread::sleep(Duration::from_secs(2));
            let before = ProcSample::read(daemon.pid);
            let t0 = Instant::now();
            std::thread::sleep(self.config.idle);
            let after = ProcSample::read(daemon.pid);
            let elapsed = t0.elapsed();
            match (before, after) {
                (Some(before), Some(after)) => Ok(Idle {
                    elapsed,
                    cpu_ns: after.cpu_ns.saturating_sub(before.cpu_ns),
                    ticks: after.cpu_ticks.saturating_sub(before.cpu_ticks),
                    voluntary: after.voluntary.saturating_sub(before.voluntary),
                    involuntary: after.involuntary.saturating_sub(before.involuntary),
                    rss_kib: after.rss_kib,
                    hwm_kib: after.hwm_kib,
                    threads: after.threads,
                }),
                _ => Err(daemon.failure("the daemon is gone during the idle window".into())),
            }
        });
        let pid_list: Vec<i32> = pids.values().copied().collect();
        let term_at = Instant::now();
        let stop = daemon.terminate(Duration::from_secs(60) + Duration::from_millis(n as u64 * 10));
        let (stopped, last_stopped) = {
            let seen = daemon.seen.lock().unwrap();
            (seen.stopped, seen.last_stopped)
        };
        drop(daemon);
        let still_alive = pid_list.iter().filter(|&&pid| alive(pid as u32)).count();
        let grace = if stop.is_ok() {
            Duration::ZERO
        } else {
            DEATH_GRACE
        };
        let leftovers = reap_leftovers(&pid_list, grace);
        let stop = match stop {
            Ok((took, status)) => {
                eprintln!("scenarios:   {n} stopped in {}", secs(took));
                Ok(Stopped {
                    took,
                    status,
                    last_stopped: last_stopped.map(|at| at.saturating_duration_since(term_at)),
                    stopped,
                    still_alive: still_alive.max(leftovers),
                })
            }
            Err(why) => Err(format!(
                "{why}; the benchmark killed the daemon; {leftovers} components were still alive {} s later",
                DEATH_GRACE.as_secs()
            )),
        };
        Ok(Life {
            started_in,
            rss_after_start,
            idle,
            stop,
        })
    }

    fn report(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "\n## Supervisor scenario benchmarks\n");
        let _ = writeln!(out, "{}\n", machine());
        let _ = writeln!(
            out,
            "Load average (1/5/15 min) at the start: {}; at the end: {}. Work and run directories: {} ({}).\n",
            self.load_at_start,
            loadavg(),
            self.work.display(),
            filesystem(&self.work),
        );
        let _ = writeln!(
            out,
            "Mode: {}; kills per size: {}; idle window: {} s; binaries: `{}`, `{}`.\n",
            if self.config.quick {
                "quick (SCENARIO_QUICK=1)"
            } else {
                "full"
            },
            self.config.kills,
            self.config.idle.as_secs_f64(),
            supervisor_bin(),
            standin(),
        );
        let _ = writeln!(out, "| scenario | N | result | target | met |");
        let _ = writeln!(out, "|---|---:|---|---|---|");
        for row in &self.rows {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                row.scenario,
                row.n,
                row.result.replace('|', "\\|"),
                row.target,
                row.met
            );
        }
        if !self.notes.is_empty() {
            let _ = writeln!(out);
            for note in &self.notes {
                let _ = writeln!(out, "- {note}");
            }
        }
        let _ = writeln!(
            out,
            "\nHow: floor — the benchmark spawns the stand-in itself (std `Command`, posix_spawn) and \
             kills it, no supervisor involved. Restart latency — N components in one `one_for_one` group \
             (`<backoff initial=\"0\"/>`, intensity 10000 per 0.1 s), kills rotate over them; latency = \
             the replacement's `--stamp` CLOCK_MONOTONIC minus the kill's, taken just before `kill(2)`; \
             the legs come from the daemon's own log timestamps (CLOCK_REALTIME, µs). Crash loop — \
             `/bin/false`, then stand-ins with `--crash-after 0`, same group settings; restarts = \
             `component_started` lines in the window after a 1 s warm-up; daemon CPU = utime+stime of \
             /proc/PID/stat; no exit lost = every run ended in a `component_exited` or, at shutdown, a \
             `component_stopped`. Start-up and shutdown — idle stand-ins, one priority level, \
             `<output stderr=\"merge\"/>` (one pipe each), {} daemons in a row per N (1 for N > 1000); start-up ends when the \
             benchmark reads the N-th `component_started`, shutdown when the daemon has exited (every \
             component is then checked to be gone). Idle — the first of those daemons, 2 s after start-up; \
             CPU is its threads' on-CPU time (schedstat), context switches are summed over its threads. \
             The daemon's run directory (with its children journal) is in the work directory: \
             TMPDIR=/dev/shm puts it on tmpfs, as /run usually is.",
            self.config.lifecycle_runs
        );
        out
    }
}

/// Runs a daemon in `dir` on `registry_text` and waits until its `n` components have all started;
/// it and their pids by id. When they do not all start, the daemon is killed and the error says
/// so ([`start_failure`]).
fn start_all(
    dir: &Path,
    registry_text: &str,
    n: usize,
) -> Result<(LeanDaemon, HashMap<String, i32>), String> {
    let mut daemon = LeanDaemon::spawn(dir, registry_text)?;
    let mut pids = HashMap::new();
    if let Err(why) = daemon.wait_all_started(n, &mut pids) {
        drop(daemon);
        return Err(start_failure(why, &pids));
    }
    Ok((daemon, pids))
}

/// The row text of a failed start-up, after the daemon was killed: also whether any of the
/// components it had started outlived it.
fn start_failure(why: String, pids: &HashMap<String, i32>) -> String {
    let pids: Vec<i32> = pids.values().copied().collect();
    let leftovers = reap_leftovers(&pids, DEATH_GRACE);
    let mut text = format!("**FAILED** start-up: {why}; the benchmark killed the daemon");
    if leftovers > 0 {
        let _ = write!(
            text,
            "; **{leftovers} components were still alive {} s later** (killed by the benchmark)",
            DEATH_GRACE.as_secs()
        );
    }
    text
}

/// `/proc/loadavg`'s first three numbers.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "?".into())
}

/// The type of the filesystem holding `path` (the longest mount point above it).
fn filesystem(path: &Path) -> String {
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let (_, point, kind) = (fields.next()?, fields.next()?, fields.next()?);
            path.starts_with(point)
                .then(|| (point.len(), kind.to_string()))
        })
        .max_by_key(|(length, _)| *length)
        .map_or_else(|| "unknown filesystem".into(), |(_, kind)| kind)
}

/// Processors, model, kernel, memory and limits of this machine.
fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| {
            line.strip_prefix("model name")?
                .split_once(':')
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| status_kib(&m, "MemTotal"))
        .map_or("?".into(), |kib| {
            format!("{:.1} GiB", kib as f64 / 1024.0 / 1024.0)
        });
    let pid_max = std::fs::read_to_string("/proc/sys/kernel/pid_max").unwrap_or_default();
    let nofile = getrlimit(Resource::RLIMIT_NOFILE).map_or("?".into(), |(s, h)| format!("{s}/{h}"));
    format!(
        "Machine: {cpus} CPUs ({model}), kernel {}, {memory} RAM, pid_max {}, RLIMIT_NOFILE {nofile} (soft/hard, \
         after any raise by this program).",
        kernel.trim(),
        pid_max.trim()
    )
}
