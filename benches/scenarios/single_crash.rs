//! Scenario 1, restart latency after a single crash: the floor (`minimal`), the supervisor with
//! 0 and 100 idle siblings (cgroup2 in use where the host has it), and the peers that are
//! installed, one after the other in the same run, each keeping `stamp` running. The target
//! row (100 siblings) runs beside a floor of its own, the kills alternating between the two,
//! so that the host's ups and downs weigh on both alike.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::sys::signal::Signal;
use testkit::lean::signal;
use testkit::standin;

use crate::latency::{Latencies, measure, measure_alternating};
use crate::peers::{self, Running};
use crate::stamps::Stamps;
use crate::stats::ratio;
use crate::{Bench, NEVER_GIVE_UP, registry, start_all};

const SCENARIO: &str = "1 restart latency (single crash)";

/// Runs every target; the floor first, as the others' ratios refer to it.
pub fn run(bench: &mut Bench) {
    let floor = match &bench.floor {
        Ok(floor) => (floor.minimal.clone(), floor.stamp.clone()),
        Err(why) => {
            let why = format!("not run: {why}");
            return bench.report.row(SCENARIO, "-", why, "", None);
        }
    };
    let (minimal, stamp) = floor;
    let floor = the_floor(bench, &minimal, &stamp);
    for siblings in bench.config.siblings.clone() {
        let baseline = match siblings {
            100 => Baseline::Alongside(&minimal),
            _ => Baseline::Earlier(floor.as_ref()),
        };
        the_supervisor(bench, &stamp, siblings, baseline);
    }
    // SCENARIO_PEER_KILLS=0 leaves the peers out (a row of 0 kills would read as 0 ms).
    if bench.config.peer_kills == 0 {
        return;
    }
    for peer in peers::ALL {
        the_peer(bench, peer, &stamp, floor.as_ref());
    }
}

/// What the supervisor's latencies are compared with.
enum Baseline<'a> {
    /// The floor measured before (if it could be).
    Earlier(Option<&'a Latencies>),
    /// A floor of its own (this `minimal`), its kills alternating with the supervisor's.
    Alongside(&'a Path),
}

/// `minimal stamp STAMPS`, running.
fn start_floor(minimal: &Path, stamp: &Path, stamps: &Path) -> Result<Running, String> {
    Command::new(minimal)
        .arg(stamp)
        .arg(stamps)
        .stdin(Stdio::null())
        .process_group(0)
        .spawn()
        .map(Running)
        .map_err(|e| format!("cannot start minimal: {e}"))
}

/// The floor: `minimal stamp FILE`.
fn the_floor(bench: &mut Bench, minimal: &Path, stamp: &Path) -> Option<Latencies> {
    let dir = bench.run_dir("floor");
    let stamps = dir.join("stamps");
    let measured = start_floor(minimal, stamp, &stamps)
        .and_then(|running| measure_running(running, &stamps, bench.config.kills, bench));
    let result = match &measured {
        Ok(latencies) => format!(
            "floor (C `waitpid` + `posix_spawn`, benches/floor/minimal.c): {}",
            latencies.summary()
        ),
        Err(why) => format!("floor: **FAILED**: {why}"),
    };
    bench.report.row(SCENARIO, 1, result, "", None);
    measured.ok()
}

/// The supervisor: `stamp` as component `crash` (no backoff), beside `siblings` idle stand-ins,
/// compared with `baseline`.
fn the_supervisor(bench: &mut Bench, stamp: &Path, siblings: usize, baseline: Baseline<'_>) {
    let target = if siblings == 100 {
        "p50 ≤ 1.2× floor, p99 ≤ 2× floor"
    } else {
        ""
    };
    let dir = bench.run_dir(&format!("single-crash-{siblings}"));
    let stamps = dir.join("stamps");
    let stamps_arg = stamps.to_string_lossy().into_owned();
    let text = format!(
        "<supervisor>\n{NEVER_GIVE_UP}\n<servers>\n<server id=\"crash\"><executable>{}</executable>\
         <arguments><argument>{}</argument></arguments><backoff initial=\"0\"/></server>\n{}</servers>\n</supervisor>\n",
        testkit::xml_escape(&stamp.to_string_lossy()),
        testkit::xml_escape(&stamps_arg),
        registry::servers("s", siblings, standin(), &[], ""),
    );
    let (mut daemon, pids) = match start_all(&dir, &text, siblings + 1) {
        Ok(started) => started,
        Err(why) => return bench.report.row(SCENARIO, siblings + 1, why, target, None),
    };
    let cgroup = pids
        .get("crash")
        .map_or_else(String::new, |&pid| cgroup_of(pid));
    let (kills, gap, patience) = (
        bench.config.kills,
        bench.config.gap,
        Duration::from_secs(10),
    );
    let measured = match baseline {
        Baseline::Earlier(floor) => {
            measure(&stamps, kills, gap, patience).map(|ours| (ours, floor.cloned()))
        }
        Baseline::Alongside(minimal) => {
            let floor_stamps = dir.join("floor-stamps");
            start_floor(minimal, stamp, &floor_stamps).and_then(|running| {
                let both = measure_alternating(&[&stamps, &floor_stamps], kills, gap, patience);
                drop(running);
                kill_last(&floor_stamps);
                let [ours, floor]: [Latencies; 2] = both?
                    .try_into()
                    .map_err(|_| "two targets measured, not two results".to_string())?;
                Ok((ours, Some(floor)))
            })
        }
    };
    let stop = daemon.terminate(Duration::from_secs(30));
    drop(daemon);
    let mut result = format!("supervisor, {siblings} idle siblings, cgroup {cgroup}: ");
    let met = match &measured {
        Ok((latencies, floor)) => {
            result.push_str(&latencies.summary());
            if siblings == 100 {
                if let Some(floor) = floor {
                    result.push_str(&format!(
                        "; kills alternating with a floor of its own ({})",
                        floor.summary()
                    ));
                }
            }
            result.push_str(&ratios(latencies, floor.as_ref()));
            floor.as_ref().filter(|_| siblings == 100).map(|floor| {
                latencies.p50() as f64 <= 1.2 * floor.p50() as f64
                    && latencies.p99() as f64 <= 2.0 * floor.p99() as f64
            })
        }
        Err(why) => {
            result.push_str(&format!("**FAILED**: {why}"));
            Some(false)
        }
    };
    if let Err(why) = stop {
        result.push_str(&format!("; shutdown failed: {why}"));
    }
    // Where the host has cgroup2, a figure without the component's cgroup is not what a user
    // pays (joining a cgroup was once most of a restart): it cannot meet the target.
    let uncounted = testkit::skip::writable_cgroup2().is_some() && !cgroup.ends_with("/crash`");
    let met = if uncounted {
        result.push_str("; **not in its own cgroup** on a host with cgroup2");
        Some(false)
    } else {
        met
    };
    bench
        .report
        .row(SCENARIO, siblings + 1, result, target, met);
}

/// A peer, when it is installed.
fn the_peer(bench: &mut Bench, peer: peers::Peer, stamp: &Path, floor: Option<&Latencies>) {
    let Some(program) = peer.installed() else {
        let why = format!("{}: not installed here, not measured", peer.name());
        return bench.report.row(SCENARIO, 1, why, "", None);
    };
    let dir = bench.run_dir(&format!("peer-{}", peer.program_name()));
    let stamps = dir.join("stamps");
    let measured = peer
        .start(&program, &dir, stamp, &stamps)
        .and_then(|running| measure_running(running, &stamps, bench.config.peer_kills, bench));
    let result = match measured {
        Ok(latencies) => format!(
            "{}: {}{}",
            peer.name(),
            latencies.summary(),
            ratios(&latencies, floor)
        ),
        Err(why) => format!("{}: **FAILED**: {why}", peer.name()),
    };
    bench.report.row(SCENARIO, 1, result, "", None);
}

/// Measures `kills` restarts of what `running` keeps going, then stops it (and the last `stamp`
/// it left).
fn measure_running(
    running: Running,
    stamps: &Path,
    kills: usize,
    bench: &Bench,
) -> Result<Latencies, String> {
    let measured = measure(stamps, kills, bench.config.gap, Duration::from_secs(10));
    drop(running);
    kill_last(stamps);
    measured
}

/// `; p50 1.10× · p99 1.50× the floor`.
fn ratios(latencies: &Latencies, floor: Option<&Latencies>) -> String {
    floor.map_or_else(String::new, |floor| {
        format!(
            "; p50 {} · p99 {} the floor",
            ratio(latencies.p50() as f64, floor.p50() as f64),
            ratio(latencies.p99() as f64, floor.p99() as f64)
        )
    })
}

/// The cgroup2 path of `pid`, or `none`.
fn cgroup_of(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("0::"))
                .map(str::to_string)
        })
        .filter(|path| path != "/")
        .map_or_else(|| "none".into(), |path| format!("`{path}`"))
}

/// Kills the last `stamp` a target left running (supervisors that give their child a session
/// of its own leave it behind when they are killed).
fn kill_last(stamps: &Path) {
    let mut stamps = Stamps::new(stamps.to_path_buf());
    if let Some((pid, _)) = stamps.next_after(None, Duration::ZERO) {
        signal(pid, Signal::SIGKILL);
    }
}
