//! Scenarios 3–6 for N idle components (`<output stderr="merge"/>`, one pipe each): bringing
//! them up and down against the floor (`spawn_many`, same run; both start the same program,
//! `/bin/sleep 100000`, so that what differs is the supervisor), the idle daemon's wake-ups and
//! memory, and `status` while they start. `status` is asked in a second start of the same tree:
//! asked every 5 ms, a report of 10,000 rows a time, it takes a CPU of the two from the start
//! (and leaves heap behind), which is not what bringing a tree up costs a user.

use std::collections::HashMap;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use testkit::lean::LeanDaemon;

use crate::host::{DEATH_GRACE, ProcSample, reap_leftovers, room_for};
use crate::registry::servers;
use crate::stats::{mib, ms, ratio, secs};
use crate::status::{StatusProbe, status_for};
use crate::{Bench, start_all};

const UP: &str = "3 up (`run` → N-th `component_started`)";
const DOWN: &str = "4 down (SIGTERM → daemon exited)";
const STATUS: &str = "5 `status` round trip";
const IDLE: &str = "6 idle";

/// The program of these components: the one `spawn_many` starts (a stand-in, larger and
/// printing a line at start, cost 16 % more to start than `sleep` in `spawn_many` itself).
const FLOOR_PROGRAM: &str = "/bin/sleep";

/// The output settings of these components: stderr merged into stdout, one pipe each, so that
/// 10,000 fit an RLIMIT_NOFILE of 20,000.
const OUTPUT: &str = r#"<output stderr="merge"/>"#;

pub fn run(bench: &mut Bench, n: usize) {
    match room_for(n, 1) {
        Ok(warning) => bench.report.notes.extend(warning),
        Err(why) => return bench.report.row(UP, n, why, "", None),
    }
    let floor = match &bench.floor {
        Ok(floor) => floor.spawn_many(n),
        Err(why) => Err(why.clone()),
    };
    let dir = bench.run_dir(&format!("lifecycle-{n}"));
    let text = format!(
        "<supervisor>\n<restartStrategy type=\"one_for_one\" intensity=\"5\" period=\"30\"/>\n<servers>\n{}</servers>\n</supervisor>\n",
        servers("c", n, FLOOR_PROGRAM, &["100000"], OUTPUT)
    );
    let started = start_all(&dir, &text, n);
    let (daemon, pids) = match started {
        Ok(started) => started,
        Err(why) => return bench.report.row(UP, n, why, "", Some(false)),
    };
    let up = daemon
        .seen
        .lock()
        .unwrap()
        .last_started
        .map_or(Duration::ZERO, |at| at.duration_since(daemon.spawned));
    let idle = idle_window(daemon.pid, bench.config.idle);
    let (term, leftovers) = stop(daemon, &pids, n);
    let floor = floor
        .map_err(|why| bench.report.note(format!("floor for N = {n}: {why}")))
        .ok();
    let (up_ratio, down_ratio) = match (&floor, &term) {
        (Some((floor_up, floor_down)), Ok((down, _))) => (
            up.as_secs_f64() / floor_up.as_secs_f64(),
            down.as_secs_f64() / floor_down.as_secs_f64(),
        ),
        _ => (f64::NAN, f64::NAN),
    };
    let floor_text = |which: fn(&(Duration, Duration)) -> Duration| {
        floor.as_ref().map_or("-".into(), |f| secs(which(f)))
    };
    let up_text = format!(
        "{} (floor `spawn_many` {}: {})",
        secs(up),
        floor_text(|f| f.0),
        ratio(
            up.as_secs_f64(),
            floor.as_ref().map_or(0.0, |f| f.0.as_secs_f64())
        )
    );
    bench
        .report
        .row(UP, n, up_text, "≤ 1.2× floor", Some(up_ratio <= 1.2));
    let down_text = match &term {
        Ok((down, status)) => format!(
            "{} (floor {}: {}); {status}; {leftovers} components left behind",
            secs(*down),
            floor_text(|f| f.1),
            ratio(
                down.as_secs_f64(),
                floor.as_ref().map_or(0.0, |f| f.1.as_secs_f64())
            )
        ),
        Err(why) => format!("**FAILED**: {why}"),
    };
    bench.report.row(
        DOWN,
        n,
        down_text,
        "≤ 1.5× floor",
        Some(down_ratio <= 1.5 && leftovers == 0),
    );
    let budget = 16 * 1024 + 6 * n as u64;
    match idle {
        Some((wakeups, rss, elapsed)) => {
            let text = format!(
                "over {}: {wakeups} context switches (wake-ups) · RSS {} (budget {})",
                secs(elapsed),
                mib(rss),
                mib(budget)
            );
            bench.report.row(
                IDLE,
                n,
                text,
                "0 wake-ups in 10 s; RSS ≤ 16 MiB + 6 KiB × N",
                Some(wakeups == 0 && rss <= budget),
            );
        }
        None => bench
            .report
            .row(IDLE, n, "the daemon was gone".into(), "", Some(false)),
    }
    status_while_starting(bench, n, &text);
}

/// Scenario 5: `status` round trips while the tree `text` of `n` components starts (a start of
/// its own), and idle afterwards.
fn status_while_starting(bench: &mut Bench, n: usize, text: &str) {
    let dir = bench.run_dir(&format!("lifecycle-{n}-status"));
    let socket = dir.join("run/control.sock");
    let starting = StatusProbe::start(socket.clone());
    let started = start_all(&dir, text, n);
    let during_start = starting.finish();
    let (daemon, pids) = match started {
        Ok(started) => started,
        Err(why) => return bench.report.row(STATUS, n, why, "", Some(false)),
    };
    let idle_status = status_for(&socket, Duration::from_secs(1));
    let (term, leftovers) = stop(daemon, &pids, n);
    if let Err(why) = term {
        bench
            .report
            .note(format!("`status` run, N = {n}: the stop failed: {why}"));
    }
    if leftovers > 0 {
        let note = format!("`status` run, N = {n}: {leftovers} components outlived the daemon");
        bench.report.note(note);
    }
    let status_met = during_start.p99() <= idle_status.p99() + 5_000_000;
    let status_text = format!(
        "while starting: {}; idle afterwards: {}",
        during_start.summary(),
        idle_status.summary()
    );
    bench.report.row(
        STATUS,
        n,
        status_text,
        "p99 ≤ idle p99 + 5 ms",
        Some(status_met),
    );
    eprintln!(
        "scenarios:   status p99 while starting {}",
        ms(during_start.p99())
    );
}

/// Stops `daemon` (SIGTERM, a timeout growing with its `n` components) and kills what of `pids`
/// outlived it: how the stop went, and how many outlived it.
fn stop(
    mut daemon: LeanDaemon,
    pids: &HashMap<String, i32>,
    n: usize,
) -> (Result<(Duration, ExitStatus), String>, usize) {
    let term = daemon.terminate(Duration::from_secs(60) + Duration::from_millis(n as u64 * 10));
    drop(daemon);
    let pids: Vec<i32> = pids.values().copied().collect();
    let grace = if term.is_ok() {
        Duration::ZERO
    } else {
        DEATH_GRACE
    };
    (term, reap_leftovers(&pids, grace))
}

/// The daemon's context switches over `window` (after a settling second), its RSS at the end,
/// and the window's length.
fn idle_window(pid: i32, window: Duration) -> Option<(u64, u64, Duration)> {
    std::thread::sleep(Duration::from_secs(1));
    let before = ProcSample::read(pid)?;
    let t0 = Instant::now();
    std::thread::sleep(window);
    let after = ProcSample::read(pid)?;
    let switches =
        (after.voluntary + after.involuntary).saturating_sub(before.voluntary + before.involuntary);
    Some((switches, after.rss_kib, t0.elapsed()))
}
