//! Scenario benchmarks: drive the real `supervisor` binary, the machine's floor (small C programs
//! in `benches/floor/`, built with `cc`) and, where installed, peer supervisors on the same
//! scenarios in one run, and print one markdown table with the ratios to the floor.
//!
//! Run with `cargo bench --bench scenarios` (cargo builds `supervisor` and `standin` with the
//! bench profile and hands their paths to this program); `benches/README.md` lists the scenarios
//! and the knobs. Under `cargo test --benches` (no `--bench` argument) it does nothing.

#[path = "scenarios/config.rs"]
mod config;
#[path = "scenarios/crashloop.rs"]
mod crashloop;
#[path = "scenarios/floor.rs"]
mod floor;
#[path = "scenarios/host.rs"]
mod host;
#[path = "scenarios/latency.rs"]
mod latency;
#[path = "scenarios/lifecycle.rs"]
mod lifecycle;
#[path = "scenarios/peers.rs"]
mod peers;
#[path = "scenarios/registry.rs"]
mod registry;
#[path = "scenarios/report.rs"]
mod report;
#[path = "scenarios/single_crash.rs"]
mod single_crash;
#[path = "scenarios/stamps.rs"]
mod stamps;
#[path = "scenarios/stats.rs"]
mod stats;
#[path = "scenarios/status.rs"]
mod status;
#[path = "scenarios/upgrade.rs"]
mod upgrade;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use testkit::lean::LeanDaemon;
use testkit::{standin, supervisor_bin};

use config::Config;
use floor::Floor;
use host::{DEATH_GRACE, filesystem, loadavg, machine, reap_leftovers};
use report::Report;

/// The restart strategy of scenarios that must never give up: an intensity of 10,000 in a short
/// window, i.e. up to 100,000 restarts/s, far above any scenario's restart rate.
const NEVER_GIVE_UP: &str =
    r#"<restartStrategy type="one_for_one" intensity="10000" period="0.1"/>"#;

/// One run: its settings, its work directory, the floor programs and what was found.
pub struct Bench {
    config: Config,
    work: PathBuf,
    runs: usize,
    floor: Result<Floor, String>,
    report: Report,
}

impl Bench {
    /// A fresh numbered directory for one daemon (or floor, or peer) under the work directory.
    fn run_dir(&mut self, name: &str) -> PathBuf {
        self.runs += 1;
        let dir = self.work.join(format!("{:02}-{name}", self.runs));
        std::fs::create_dir_all(&dir).expect("create a run directory");
        dir
    }
}

fn main() {
    // SCENARIO_SUPERVISOR: another build of the daemon (an A/B of two commits, each run with
    // its own floor row).
    match std::env::var("SCENARIO_SUPERVISOR") {
        Ok(other) if !other.is_empty() => testkit::use_supervisor(&other),
        _ => testkit::use_supervisor(env!("CARGO_BIN_EXE_supervisor")),
    }
    if !std::env::args().any(|arg| arg == "--bench") {
        println!(
            "scenarios: skipped (not run by `cargo test`; run `cargo bench --bench scenarios`)"
        );
        return;
    }
    let work = std::env::temp_dir().join(format!("supervisor-scenarios-{}", std::process::id()));
    std::fs::create_dir_all(&work).expect("create the work directory");
    eprintln!(
        "scenarios: supervisor {}\nscenarios: standin {}\nscenarios: work directory {}",
        supervisor_bin(),
        standin(),
        work.display()
    );
    let load_at_start = loadavg();
    let mut bench = Bench {
        config: Config::from_env(),
        floor: Floor::build(&work),
        work: work.clone(),
        runs: 0,
        report: Report::default(),
    };
    if bench.config.wants("latency") {
        single_crash::run(&mut bench);
    }
    if bench.config.wants("crashloop") {
        crashloop::run(&mut bench);
    }
    if bench.config.wants("lifecycle") {
        for n in bench.config.lifecycle_sizes.clone() {
            lifecycle::run(&mut bench, n);
        }
    }
    if bench.config.wants("upgrade") {
        for n in [100, 1000] {
            upgrade::run(&mut bench, n);
        }
    }
    println!("\n## Supervisor scenario benchmarks\n\n{}\n", machine());
    println!(
        "Load average (1/5/15 min) at the start: {load_at_start}; at the end: {}. Work and run \
         directories: {} ({}). Mode: {}.\n",
        loadavg(),
        work.display(),
        filesystem(&work),
        if bench.config.quick { "quick" } else { "full" },
    );
    print!("{}", bench.report.markdown());
    if std::env::var_os("SCENARIO_KEEP").is_some() {
        eprintln!("scenarios: kept {}", work.display());
    } else {
        let _ = std::fs::remove_dir_all(&work);
    }
}

/// Runs a daemon in `dir` on `registry_text` and waits until its `n` components have all
/// started; it and their pids by id. When they do not all start, the daemon is killed and the
/// error says so (and whether any component outlived it).
fn start_all(
    dir: &Path,
    registry_text: &str,
    n: usize,
) -> Result<(LeanDaemon, HashMap<String, i32>), String> {
    let mut daemon = LeanDaemon::spawn(dir, registry_text)?;
    let mut pids = HashMap::new();
    if let Err(why) = daemon.wait_all_started(n, &mut pids) {
        drop(daemon);
        let pids: Vec<i32> = pids.values().copied().collect();
        let leftovers = reap_leftovers(&pids, DEATH_GRACE);
        return Err(format!(
            "**FAILED** start-up: {why}; the benchmark killed the daemon; {leftovers} components \
             outlived it"
        ));
    }
    Ok((daemon, pids))
}
