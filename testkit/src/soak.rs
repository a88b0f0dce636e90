//! The soak (issue 12): 50 components for a while under random SIGKILLs, operator commands
//! (`stop`, `start`, `restart`), reloads of a changing registry, SIGHUPs and output floods, then
//! an orderly stop; checked from the JSON log and `/proc`: every process started is logged as
//! ended exactly once, no zombie of the daemon's lasts, the descriptor count and the RSS are
//! flat, no component ever runs twice at once, and a process outside the tree (a sentinel in a
//! session of its own) is never killed. [`run`] does it for a given time and returns the figures;
//! the integration test runs it for 30 s, `cargo bench --bench soak` for minutes.

use std::collections::{BTreeMap, HashMap};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::sys::signal::Signal;
use serde_json::Value;

use crate::{Daemon, alive, kill, processes, registry, standin_server, zombie_children};

/// Components in the soak.
pub const COMPONENTS: usize = 50;
/// Of them, the ones that flood their output (into files, then the log).
const FLOODERS: usize = 5;
/// Time between two random actions.
const ACT_EVERY: Duration = Duration::from_millis(50);
/// Time between two `/proc` samples.
const SAMPLE_EVERY: Duration = Duration::from_secs(1);
/// Samples a zombie may last before it counts as never reaped.
const ZOMBIE_SAMPLES: u32 = 3;
/// How long a CLI call may take on a loaded host (a `start` waits until the components run).
const CLI_LIMIT: Duration = Duration::from_secs(30);
/// How much the daemon's RSS may grow over a soak (its queues are bounded at 4 MiB each).
const RSS_GROWTH_KIB: u64 = 16 * 1024;

/// What a soak measured.
#[derive(Debug, Default)]
pub struct Figures {
    /// SIGKILLs sent to components.
    pub kills: u64,
    /// Operator commands sent.
    pub commands: u64,
    /// Reloads and SIGHUPs sent.
    pub reloads: u64,
    /// Processes the daemon started.
    pub started: u64,
    /// The daemon's descriptors at the first and the last quiet point.
    pub fds: (usize, usize),
    /// The daemon's RSS (KiB) after the warm-up and at the end.
    pub rss_kib: (u64, u64),
    /// The daemon's peak RSS (KiB).
    pub peak_rss_kib: u64,
    /// Log lines read.
    pub events: u64,
}

/// A process outside the daemon's tree, in a session of its own, that nothing may kill.
struct Sentinel(Child);

impl Sentinel {
    fn start() -> Sentinel {
        let child = Command::new("setsid")
            .args(["sleep", "100000"])
            .stdin(Stdio::null())
            .spawn()
            .expect("setsid sleep");
        Sentinel(child)
    }

    fn alive(&mut self) -> bool {
        matches!(self.0.try_wait(), Ok(None))
    }
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The registry: idle stand-ins, and flooders writing files; `variant` changes one idle
/// component's arguments (a reload restarts it).
fn soak_registry(ids: &[String], variant: usize) -> String {
    let servers: String = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            if i < FLOODERS {
                let output = r#"<output file="logs/{id}.log" maxSize="1MB" keep="2" log="false"/><backoff initial="0.2"/>"#;
                standin_server(id, &["--flood", "20000000", "--line-bytes", "200"], output)
            } else if i == FLOODERS + variant % (COMPONENTS - FLOODERS) {
                standin_server(id, &["--tick-ms", "100000"], r#"<backoff initial="0"/>"#)
            } else {
                standin_server(id, &[], r#"<backoff initial="0"/>"#)
            }
        })
        .collect();
    let strategy = r#"<restartStrategy type="one_for_one" intensity="100000" period="1"/>"#;
    registry(strategy, &servers)
}

/// xorshift64*, seeded from the clock (the seed is printed).
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
            | 1;
        println!("soak: seed {seed}");
        Rng(seed)
    }

    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n as u64) as usize
    }
}

/// What the log says of each process the daemon started: the component, and its ends.
#[derive(Default)]
struct Ledger {
    /// pid → (component, how many times it was logged as ended).
    ends: HashMap<u32, (String, u32)>,
    /// component → its running pid, as the log last said.
    running: BTreeMap<String, u32>,
    events: u64,
}

impl Ledger {
    /// Reads `events` in order; panics at an end logged twice or for a pid never started.
    fn read(&mut self, events: Vec<Value>) {
        for event in events {
            self.events += 1;
            let (Some(name), Some(id)) = (event["event"].as_str(), event["component"].as_str())
            else {
                continue;
            };
            let Some(pid) = event["pid"].as_u64().map(|p| p as u32) else {
                continue;
            };
            match name {
                "component_started" => {
                    let previous = self.ends.insert(pid, (id.to_string(), 0));
                    assert!(
                        previous.is_none_or(|(_, ends)| ends > 0),
                        "pid {pid} started while it still ran: {event}"
                    );
                    self.running.insert(id.to_string(), pid);
                }
                "component_exited" | "component_stopped" => {
                    let entry = self.ends.get_mut(&pid);
                    let (owner, ends) =
                        entry.unwrap_or_else(|| panic!("end of an unknown pid: {event}"));
                    assert_eq!(owner, id, "{event}");
                    *ends += 1;
                    assert_eq!(*ends, 1, "an exit logged twice: {event}");
                    if self.running.get(id) == Some(&pid) {
                        self.running.remove(id);
                    }
                }
                _ => {}
            }
        }
    }
}

/// A `/proc/PID/status` field in KiB.
fn status_kib(pid: u32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(key))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The daemon's children per component (by `SUPERVISOR_COMPONENT`), live ones only.
fn running_twice(daemon: u32) -> Vec<(String, Vec<u32>)> {
    let mut by_id: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for process in processes()
        .into_iter()
        .filter(|p| p.ppid == daemon && p.state != 'Z')
    {
        if let Some(id) = crate::proc_variable(process.pid, "SUPERVISOR_COMPONENT") {
            by_id.entry(id).or_default().push(process.pid);
        }
    }
    by_id
        .into_iter()
        .filter(|(_, pids)| pids.len() > 1 && pids.iter().all(|&pid| alive(pid)))
        .collect()
}

/// Waits until every component runs (the log says so and no action is in flight): a quiet
/// point where descriptor counts compare.
fn quiet(daemon: &mut Daemon, ledger: &mut Ledger, ids: &[String]) -> usize {
    let deadline = Instant::now() + CLI_LIMIT;
    loop {
        ledger.read(daemon.take_events());
        if ids.iter().all(|id| ledger.running.contains_key(id)) {
            return crate::fd_count(daemon.pid());
        }
        assert!(Instant::now() < deadline, "not every component runs again");
        // Those the operator commands left stopped start again.
        let mut start = vec!["start"];
        start.extend(
            ids.iter()
                .filter(|id| !ledger.running.contains_key(*id))
                .map(String::as_str),
        );
        let _ = daemon.cli(&start, CLI_LIMIT);
    }
}

/// Runs the soak for `length` and checks it; the figures.
pub fn run(length: Duration) -> Figures {
    let mut rng = Rng::new();
    let prefix = format!("k{}x", std::process::id());
    let ids: Vec<String> = (0..COMPONENTS).map(|i| format!("{prefix}{i:02}")).collect();
    let mut sentinel = Sentinel::start();
    let mut daemon = Daemon::start(&soak_registry(&ids, 0));
    let mut ledger = Ledger::default();
    let mut figures = Figures::default();
    let pid = daemon.pid();
    let baseline_fds = quiet(&mut daemon, &mut ledger, &ids);
    let baseline_rss = status_kib(pid, "VmRSS:");
    let mut zombies: HashMap<u32, u32> = HashMap::new();
    let started = Instant::now();
    let mut sampled = Instant::now();
    let mut variant = 0;
    while started.elapsed() < length {
        act(
            &mut daemon,
            &mut rng,
            &ids,
            &ledger,
            &mut figures,
            &mut variant,
        );
        ledger.read(daemon.take_events());
        if sampled.elapsed() >= SAMPLE_EVERY {
            sampled = Instant::now();
            sample(pid, &mut zombies);
        }
        std::thread::sleep(ACT_EVERY);
    }
    let end_fds = quiet(&mut daemon, &mut ledger, &ids);
    figures.fds = (baseline_fds, end_fds);
    figures.rss_kib = (baseline_rss, status_kib(pid, "VmRSS:"));
    figures.peak_rss_kib = status_kib(pid, "VmHWM:");
    assert_eq!(daemon.stop(), Some(0), "the daemon stops in order");
    ledger.read(daemon.take_events());
    figures.events = ledger.events;
    figures.started = ledger.ends.len() as u64;
    let unended: Vec<&u32> = ledger
        .ends
        .iter()
        .filter(|(_, (_, n))| *n != 1)
        .map(|(p, _)| p)
        .collect();
    assert!(
        unended.is_empty(),
        "processes not logged as ended exactly once: {unended:?}"
    );
    assert!(sentinel.alive(), "the sentinel outside the tree was killed");
    assert!(
        end_fds <= baseline_fds,
        "the daemon's descriptors grew: {baseline_fds} → {end_fds}"
    );
    let (before, after) = figures.rss_kib;
    assert!(
        after <= before + RSS_GROWTH_KIB,
        "the daemon's RSS grew from {before} KiB to {after} KiB"
    );
    figures
}

/// One random action: mostly a SIGKILL, sometimes an operator command, a reload or a SIGHUP.
fn act(
    daemon: &mut Daemon,
    rng: &mut Rng,
    ids: &[String],
    ledger: &Ledger,
    figures: &mut Figures,
    variant: &mut usize,
) {
    let id = &ids[rng.below(ids.len())];
    match rng.below(100) {
        0..=84 => {
            if let Some(&pid) = ledger.running.get(id) {
                kill_child(daemon.pid(), pid);
                figures.kills += 1;
            }
        }
        85..=94 => {
            let verb = ["stop", "start", "restart"][rng.below(3)];
            let _ = daemon.cli(&[verb, id], CLI_LIMIT);
            figures.commands += 1;
        }
        95..=97 => {
            *variant += 1;
            std::fs::write(&daemon.registry, soak_registry(ids, *variant)).expect("registry");
            let _ = daemon.cli(&["reload"], CLI_LIMIT);
            figures.reloads += 1;
        }
        _ => {
            daemon.signal(Signal::SIGHUP);
            figures.reloads += 1;
        }
    }
}

/// SIGKILLs `pid` if it is still a live child of the daemon (it may have ended since the log
/// said it ran, and its pid gone to someone else).
fn kill_child(daemon: u32, pid: u32) {
    if crate::proc_stat(pid).is_some_and(|p| p.ppid == daemon && p.state != 'Z') {
        kill(pid, Signal::SIGKILL);
    }
}

/// One `/proc` sample: no component runs twice; no zombie of the daemon's lasts three samples.
fn sample(daemon: u32, zombies: &mut HashMap<u32, u32>) {
    let twice = running_twice(daemon);
    assert!(twice.is_empty(), "components running twice: {twice:?}");
    let now: Vec<u32> = zombie_children(daemon);
    zombies.retain(|pid, _| now.contains(pid));
    for pid in now {
        let seen = zombies.entry(pid).or_insert(0);
        *seen += 1;
        assert!(
            *seen < ZOMBIE_SAMPLES,
            "zombie {pid} of the daemon is never reaped"
        );
    }
}
