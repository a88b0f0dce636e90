//! Scenario 7, upgrade: with N idle components (`<output stderr="merge"/>`, one pipe each), the
//! time from SIGUSR2 to the `upgrade_completed` line the re-executed daemon logs (read on its
//! stderr), and that event's own `duration_ms` (from the moment the old daemon began to the
//! moment the new one resumed), over [`UPGRADES`] upgrades in a row, each to the binary on disk.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde_json::Value;
use testkit::daemon_command;
use testkit::lean::signal;
use testkit::standin;

use crate::Bench;
use crate::host::{DEATH_GRACE, reap_leftovers, room_for};
use crate::registry::servers;
use crate::stats::{ms, percentile};

const ROW: &str = "7 upgrade (SIGUSR2 → `upgrade_completed`; its `duration_ms`)";
/// Upgrades measured per size.
const UPGRADES: usize = 10;
/// How long one upgrade (or the start-up) may take before the run counts as failed.
const LIMIT: Duration = Duration::from_secs(120);

/// What the stderr reader passes on.
enum Seen {
    /// A `component_started` line: its pid.
    Started(i32),
    /// An `upgrade_completed` line, when it was read, and its `duration_ms`.
    Upgraded(Instant, u64),
    /// An `upgrade_refused` or `upgrade_rolled_back` line.
    Failed(String),
}

pub fn run(bench: &mut Bench, n: usize) {
    match room_for(n, 1) {
        Ok(warning) => bench.report.notes.extend(warning),
        Err(why) => return bench.report.row(ROW, n, why, "", None),
    }
    let dir = bench.run_dir(&format!("upgrade-{n}"));
    let text = format!(
        "<supervisor>\n<restartStrategy type=\"one_for_one\" intensity=\"5\" period=\"30\"/>\n<servers>\n{}</servers>\n</supervisor>\n",
        servers("c", n, standin(), &[], r#"<output stderr="merge"/>"#)
    );
    let registry = dir.join("SupervisorRegistry.xml");
    std::fs::write(&registry, text).expect("write the registry");
    let mut child = daemon_command(None, &registry, &dir.join("run"))
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the supervisor");
    let seen = read(&mut child);
    let mut pids = Vec::new();
    let result = measure(child.id() as i32, n, &seen, &mut pids);
    signal(child.id() as i32, Signal::SIGTERM);
    let ended = Instant::now();
    while child.try_wait().ok().flatten().is_none() && ended.elapsed() < LIMIT {
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
    pids.extend(seen.try_iter().filter_map(started));
    reap_leftovers(&pids, DEATH_GRACE);
    match result {
        Ok((signal_to_event, durations)) => {
            let p50 = percentile(&durations, 50.0);
            let text = format!(
                "SIGUSR2 → event p50 {} max {}; `duration_ms` p50 {} max {} ({UPGRADES} upgrades)",
                ms(percentile(&signal_to_event, 50.0)),
                ms(percentile(&signal_to_event, 100.0)),
                ms(p50),
                ms(percentile(&durations, 100.0)),
            );
            // A user pays for one upgrade: the slowest of the ten is judged, not the median.
            let worst = percentile(&signal_to_event, 100.0);
            let target = (n <= 100).then_some(worst <= 50_000_000);
            bench.report.row(ROW, n, text, "≤ 50 ms at N = 100", target);
        }
        Err(why) => bench.report.row(ROW, n, why, "", Some(false)),
    }
}

/// The pid of a `component_started`.
fn started(seen: Seen) -> Option<i32> {
    match seen {
        Seen::Started(pid) => Some(pid),
        Seen::Upgraded(..) | Seen::Failed(_) => None,
    }
}

/// Waits for the `n` components (their pids into `pids`, for the leftover check), then
/// upgrades [`UPGRADES`] times: each SIGUSR2 → event (ns) and each `duration_ms` (in ns),
/// sorted.
fn measure(
    pid: i32,
    n: usize,
    seen: &Receiver<Seen>,
    pids: &mut Vec<i32>,
) -> Result<(Vec<u64>, Vec<u64>), String> {
    let mut up = 0;
    while up < n {
        match seen.recv_timeout(LIMIT) {
            Ok(Seen::Started(started)) => {
                pids.push(started);
                up += 1;
            }
            Ok(_) => {}
            Err(_) => return Err(format!("**FAILED** start-up: {up} of {n} started")),
        }
    }
    let (mut signal_to_event, mut durations) = (Vec::new(), Vec::new());
    for _ in 0..UPGRADES {
        let sent = Instant::now();
        signal(pid, Signal::SIGUSR2);
        loop {
            match seen.recv_timeout(LIMIT) {
                Ok(Seen::Upgraded(at, duration_ms)) => {
                    signal_to_event.push(at.duration_since(sent).as_nanos() as u64);
                    durations.push(duration_ms * 1_000_000);
                    break;
                }
                Ok(Seen::Failed(line)) => return Err(format!("**FAILED**: {line}")),
                Ok(Seen::Started(started)) => pids.push(started),
                Err(_) => return Err("**FAILED**: no `upgrade_completed`".into()),
            }
        }
    }
    signal_to_event.sort_unstable();
    durations.sort_unstable();
    Ok((signal_to_event, durations))
}

/// Reads the daemon's stderr on a thread of its own, passing on the lines that matter.
fn read(child: &mut Child) -> Receiver<Seen> {
    let stderr = child.stderr.take().expect("piped stderr");
    let (sender, seen) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            let at = Instant::now();
            let event = |name: &str| line.contains(&format!("\"event\":\"{name}\""));
            let parsed = || serde_json::from_str::<Value>(&line).unwrap_or_default();
            let found = if event("component_started") {
                Seen::Started(parsed()["pid"].as_i64().unwrap_or(-1) as i32)
            } else if event("upgrade_completed") {
                Seen::Upgraded(at, parsed()["duration_ms"].as_u64().unwrap_or(0))
            } else if event("upgrade_refused") || event("upgrade_rolled_back") {
                Seen::Failed(line.clone())
            } else {
                continue;
            };
            if sender.send(found).is_err() {
                break;
            }
        }
    });
    seen
}
