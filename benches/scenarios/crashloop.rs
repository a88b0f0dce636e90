//! Scenario 2, crash-loop throughput: 100 components of `/bin/false`, `<backoff initial="0"/>`,
//! restarted as fast as the daemon can; `status` is asked meanwhile, and beforehand of a daemon
//! whose 100 components are idle stand-ins (the baseline of the same reply size). The floor's
//! `crash_loop` runs the same programs for the same window in the same run.

use std::time::{Duration, Instant};

use crate::host::{HostCpu, ProcSample, clock_ticks_per_second};
use crate::registry::registry;
use crate::stats::{ms, secs};
use crate::status::{Rounds, StatusProbe, status_for};
use crate::{Bench, NEVER_GIVE_UP, start_all};

const SCENARIO: &str = "2 crash loop (`/bin/false`, backoff 0)";
const TARGET: &str = "≥ 3,000 restarts/s, no exit lost";
const STATUS: &str = "2 `status` round trip during the crash loop";
const STATUS_TARGET: &str = "p99 ≤ idle p99 + 5 ms";

pub fn run(bench: &mut Bench) {
    let n = bench.config.crash_components;
    let window = bench.config.crash_window;
    let idle = idle_status(bench, n);
    let floor = match &bench.floor {
        Ok(floor) => floor.crash_loop("/bin/false", n, window),
        Err(why) => Err(why.clone()),
    };
    let dir = bench.run_dir("crashloop");
    let text = registry(
        n,
        NEVER_GIVE_UP,
        "/bin/false",
        &[],
        r#"<backoff initial="0"/>"#,
    );
    let mut daemon = match start_all(&dir, &text, n) {
        Ok((daemon, _pids)) => daemon,
        Err(why) => return bench.report.row(SCENARIO, n, why, TARGET, None),
    };
    // Warm up: the loop is going.
    std::thread::sleep(Duration::from_secs(1));
    daemon.seen.lock().unwrap().detailed = false;
    while daemon.events.try_recv().is_ok() {}
    let host_before = HostCpu::read();
    let before = ProcSample::read(daemon.pid);
    let started_before = daemon.seen.lock().unwrap().started;
    let t0 = Instant::now();
    let probe = StatusProbe::start(dir.join("run/control.sock"));
    std::thread::sleep(window);
    let rounds = probe.finish();
    let (after, elapsed) = (ProcSample::read(daemon.pid), t0.elapsed());
    let started_after = daemon.seen.lock().unwrap().started;
    let host = HostCpu::read().zip(host_before).map(|(a, b)| a.since(&b));
    let (Some(before), Some(after)) = (before, after) else {
        let why = daemon.failure("the daemon died during the window".into());
        return bench.report.row(SCENARIO, n, why, TARGET, Some(false));
    };
    while daemon.events.try_recv().is_ok() {}
    let stop = daemon.terminate(Duration::from_secs(60));
    let (runs, ends) = {
        let seen = daemon.seen.lock().unwrap();
        (seen.started, seen.exited + seen.stopped)
    };
    drop(daemon);
    let restarts = started_after.saturating_sub(started_before);
    let rate = restarts as f64 / elapsed.as_secs_f64();
    let cpu_ns =
        after.cpu_ticks.saturating_sub(before.cpu_ticks) * 1_000_000_000 / clock_ticks_per_second();
    let per_restart = cpu_ns.checked_div(restarts).unwrap_or(0);
    let lost = runs.saturating_sub(ends);
    let mut result = format!(
        "{rate:.0} restarts/s ({restarts} in {}) · daemon CPU {} a restart · {} · `status` meanwhile {}",
        secs(elapsed),
        ms(per_restart),
        if lost == 0 {
            format!("no exit lost ({runs} runs)")
        } else {
            format!("**{lost} exits lost** ({runs} runs, {ends} ends)")
        },
        rounds.summary(),
    );
    if let Some(host) = host {
        result.push_str(&format!(". {host}"));
    }
    match floor {
        Ok(floor) => result.push_str(&format!(
            ". Floor `crash_loop`: {floor:.0} restarts/s ({:.2}× of it)",
            rate / floor
        )),
        Err(why) => result.push_str(&format!(". Floor: {why}")),
    }
    if let Err(why) = stop {
        result.push_str(&format!("; shutdown failed: {why}"));
    }
    bench.report.row(
        SCENARIO,
        n,
        result,
        TARGET,
        Some(rate >= 3000.0 && lost == 0),
    );
    match idle {
        Ok(idle) => bench.report.row(
            STATUS,
            n,
            format!(
                "during: {}; idle ({n} idle stand-ins): {}",
                rounds.summary(),
                idle.summary()
            ),
            STATUS_TARGET,
            Some(rounds.p99() <= idle.p99() + 5_000_000),
        ),
        Err(why) => bench.report.row(STATUS, n, why, STATUS_TARGET, None),
    }
}

/// `status` round trips for a second of a daemon with `n` idle stand-ins.
fn idle_status(bench: &mut Bench, n: usize) -> Result<Rounds, String> {
    let dir = bench.run_dir("crashloop-idle");
    let text = registry(n, NEVER_GIVE_UP, testkit::standin(), &[], "");
    let (mut daemon, _pids) = start_all(&dir, &text, n)?;
    let rounds = status_for(&dir.join("run/control.sock"), Duration::from_secs(1));
    daemon.terminate(Duration::from_secs(60))?;
    Ok(rounds)
}
