//! Twenty upgrades in a row under a busy tree of twenty components (issue 18): a crash loop, a
//! flood of numbered lines into a file with `overflow="block"`, a ticker whose numbered lines go
//! to the daemon's log and to a file with `overflow="drop"`, a component in backoff, one stopped
//! by the operator, a group at its intensity limit, a held socket under a client's steady load,
//! and stable ones. Afterwards every stable component has its pid, the numbered lines have no
//! gap and no duplicate in every sink, the stopped one is stopped, the exhausted group gives up
//! on its next crash and no client connection was refused. A thread asks `status` on a new
//! control connection without pause: every one is answered, and some were made while an upgrade
//! was under way (between its `upgrade_started` and `upgrade_completed`), so the test cannot
//! pass by missing the exec.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde_json::Value;
use testkit::*;

use crate::upgrade::{executable, upgrade};
use crate::upgrade_descriptors::{control_status, during as begun_during, hammer};

/// Upgrades in a row.
const UPGRADES: usize = 20;
/// Idle components beside the seven with a part to play: twenty in all.
const STABLE: usize = 13;
/// The flood: enough numbered 100-byte lines to outlast the upgrades on a loaded host.
const FLOOD_BYTES: u64 = 400_000_000;
/// Restarts may come as fast as the crash loop makes them.
const ROOT: &str = r#"<restartStrategy type="one_for_one" intensity="10000" period="10"/>"#;

/// The registry: the twenty components, their files in `dir`, the held socket on `port`.
fn tree(dir: &Path, port: u16) -> String {
    let file = |name: &str, overflow: &str, log: bool| {
        format!(
            r#"<output log="{log}" file="{}" timestamps="false" overflow="{overflow}"/>"#,
            dir.join(name).display()
        )
    };
    let bytes = FLOOD_BYTES.to_string();
    let mut servers = vec![
        standin_server("crashing", &["--crash-after", "0.2"], NO_BACKOFF),
        standin_server(
            "flood",
            &["--flood", &bytes],
            &file("flood.log", "block", false),
        ),
        standin_server(
            "ticker",
            &["--tick-ms", "2"],
            &file("ticker.log", "drop", true),
        ),
        standin_server(
            "waiting",
            &["--crash-after", "0"],
            r#"<backoff initial="120"/>"#,
        ),
        idle("held"),
        format!(
            r#"<group id="limited"><restartStrategy type="one_for_one" intensity="1" period="600"/>{}</group>"#,
            idle("fragile")
        ),
        standin_server(
            "is",
            &[],
            &format!(
                r#"<socket name="http"><listen>tcp:127.0.0.1:{port}</listen></socket><readiness socket="true"/>{NO_BACKOFF}"#
            ),
        ),
    ];
    servers.extend((0..STABLE).map(|n| idle(&format!("s{n}"))));
    registry(ROOT, &servers.concat())
}

/// What a client thread counted.
#[derive(Default)]
struct Counts {
    answered: AtomicU64,
    refused: AtomicU64,
    other: AtomicU64,
}

impl Counts {
    fn text(&self) -> String {
        format!(
            "{} answered, {} refused, {} failed otherwise (closed unanswered)",
            self.answered.load(Ordering::Relaxed),
            self.refused.load(Ordering::Relaxed),
            self.other.load(Ordering::Relaxed)
        )
    }
}

/// `GET /ping` on a new connection, counted.
fn ping(port: u16, counts: &Counts) {
    let mut stream = match TcpStream::connect(("127.0.0.1", port)) {
        Ok(stream) => stream,
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
            counts.refused.fetch_add(1, Ordering::Relaxed);
            return;
        }
        Err(_) => {
            counts.other.fetch_add(1, Ordering::Relaxed);
            return;
        }
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut answer = String::new();
    let sent = stream.write_all(b"GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    match sent.and_then(|()| stream.read_to_string(&mut answer)) {
        Ok(_) if answer.ends_with("pong\n") => counts.answered.fetch_add(1, Ordering::Relaxed),
        _ => counts.other.fetch_add(1, Ordering::Relaxed),
    };
}

/// Runs `each` without pause on a thread until `done`.
fn load(done: &Arc<AtomicBool>, each: impl Fn() + Send + 'static) -> thread::JoinHandle<()> {
    let done = Arc::clone(done);
    thread::spawn(move || {
        while !done.load(Ordering::Relaxed) {
            each();
        }
    })
}

/// The numbers of a file's numbered lines (`--flood`'s ten digits, or `tick N`), in order, and
/// whether it holds `flooded N lines` (N).
fn numbers(path: &Path, numbered: impl Fn(&str) -> Option<u64>) -> (Vec<u64>, Option<u64>) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let flooded = text.lines().find_map(|line| {
        let rest = line.split_once("flooded ")?.1;
        rest.strip_suffix(" lines")?.parse().ok()
    });
    (text.lines().filter_map(numbered).collect(), flooded)
}

fn flood_number(line: &str) -> Option<u64> {
    line.get(..10)?.parse().ok()
}

fn tick_number(line: &str) -> Option<u64> {
    line.strip_prefix("tick ")?.parse().ok()
}

/// The first place where `numbers` is not 1, 2, 3, …: a gap or a duplicate.
fn first_break(numbers: &[u64]) -> Option<(usize, u64)> {
    (numbers.iter().enumerate())
        .find(|&(i, &n)| n != i as u64 + 1)
        .map(|(i, &n)| (i, n))
}

fn twenty_upgrades_of_a_busy_tree_lose_no_line_and_keep_every_component() {
    let port = free_port();
    let files = tempfile::tempdir().expect("tempdir");
    let mut daemon = Daemon::start(&tree(files.path(), port));
    let stable: Vec<String> = (0..STABLE).map(|n| format!("s{n}")).collect();
    let mut ids: Vec<&str> = stable.iter().map(String::as_str).collect();
    ids.extend(["flood", "ticker", "is", "fragile", "held"]);
    let pids = daemon.started_pids(&ids);
    assert!(daemon.cli(&["stop", "held"], DEADLINE).status.success());
    // The group at its limit: one restart of its one allowed.
    kill(pids[ids.len() - 2], Signal::SIGKILL);
    let fragile = daemon.started_pid("fragile");
    for id in ["waiting", "crashing"] {
        eventually("a restart scheduled", || {
            !events_of(&daemon, "restart_scheduled", id).is_empty()
        });
    }
    let copy = executable(daemon.path(), "supervisor-new", None);

    let done = Arc::new(AtomicBool::new(false));
    let clients = Arc::new(Counts::default());
    let client = {
        let counts = Arc::clone(&clients);
        load(&done, move || ping(port, &counts))
    };
    eventually("the held socket answers", || {
        clients.answered.load(Ordering::Relaxed) > 0
    });
    let poller = {
        let socket = daemon.run_dir().join("control.sock");
        hammer(&done, move || control_status(&socket))
    };
    let flood_path = files.path().join("flood.log");
    let before = numbers(&flood_path, flood_number).0.len();
    let began = Instant::now();
    for n in 1..=UPGRADES {
        let out = upgrade(&daemon, &copy);
        assert!(out.status.success(), "upgrade {n}: {out:?}");
        let completed = daemon.wait_any("upgrade_completed");
        assert_eq!(completed["pid"].as_u64(), Some(u64::from(daemon.pid())));
    }
    let took = began.elapsed();
    let (during, flooded) = numbers(&flood_path, flood_number);
    assert!(
        flooded.is_none() && during.len() > before,
        "the flood ran through the upgrades ({before} lines before, {} after, ended: {flooded:?})",
        during.len()
    );
    // One more tick reaches the log after the last upgrade: the ticker's lines are complete
    // up to it.
    let last = daemon.wait_for("a tick after the upgrades", |e| {
        e["event"] == "component_output" && e["component"] == "ticker"
    });
    // The crash loop, with crashes in the middle of upgrades, goes on under the last image,
    // and no exit was lost across an exec: each start but the last has its exit.
    daemon.wait_event("component_started", "crashing");
    let started: Vec<u32> = events_of(&daemon, "component_started", "crashing")
        .iter()
        .map(pid_of)
        .collect();
    let exits = events_of(&daemon, "component_exited", "crashing");
    let exited: Vec<u32> = exits.iter().map(pid_of).collect();
    let unmatched: Vec<&u32> = (started[..started.len() - 1].iter())
        .filter(|pid| !exited.contains(pid))
        .collect();
    assert!(
        unmatched.is_empty(),
        "crashing: exits missing for {unmatched:?}"
    );
    // The positive control: it did crash while the upgrades went on.
    let at = |e: &Value| timestamp_ns(e["timestamp"].as_str().unwrap()).unwrap();
    let events = daemon.events();
    let first = (events.iter().find(|e| e["event"] == "upgrade_started")).map_or(u64::MAX, at);
    let crashes = (exits.iter())
        .filter(|e| at(e) > first && at(e) < at(&last))
        .count();
    assert!(crashes > 0, "crashing crashed during the upgrades");
    done.store(true, Ordering::Relaxed);
    client.join().unwrap();
    let statuses = poller.join().unwrap();
    let windows: Vec<(u64, u64)> = {
        let at = |e: &Value| timestamp_ns(e["timestamp"].as_str().unwrap()).unwrap();
        let named = |name: &str| -> Vec<Value> {
            (daemon.events().into_iter())
                .filter(|e| e["event"] == name)
                .collect()
        };
        let started = named("upgrade_started");
        let completed = named("upgrade_completed");
        started
            .iter()
            .map(at)
            .zip(completed.iter().map(at))
            .collect()
    };
    let hits: usize = (windows.iter())
        .map(|&(from, to)| begun_during(&statuses, from, to))
        .sum();
    println!(
        "{UPGRADES} upgrades in {took:?}; held socket: {}; status: {} asked, {hits} while an \
         upgrade was under way",
        clients.text(),
        statuses.len()
    );
    let failed: Vec<&String> = (statuses.iter())
        .filter_map(|c| c.answered.as_ref().err())
        .collect();
    assert!(failed.is_empty(), "status failed: {failed:?}");
    assert_eq!(windows.len(), UPGRADES, "one window per upgrade");
    assert!(
        hits > 0,
        "no status was asked while an upgrade was under way"
    );

    let after: Vec<u32> = ids.iter().map(|id| current_pid(&daemon, id)).collect();
    let kept = ids.len() - 2;
    assert_eq!(
        after[..kept],
        pids[..kept],
        "every stable component kept its pid"
    );
    assert_eq!(after[kept], fragile, "fragile kept its pid");
    assert_eq!(state(&daemon, "held"), "stopped", "held stays stopped");
    assert_eq!(state(&daemon, "waiting"), "backoff", "waiting waits on");
    assert_eq!(
        clients.refused.load(Ordering::Relaxed),
        0,
        "no connection refused"
    );
    assert_eq!(events_of(&daemon, "component_started", "held").len(), 1);

    // The flood, once it ended: 1 … N, each once.
    eventually_within("the flood ended", Duration::from_secs(120), || {
        let (lines, flooded) = numbers(&flood_path, flood_number);
        flooded.is_some_and(|n| lines.len() as u64 >= n) || first_break(&lines).is_some()
    });
    let flood = numbers(&flood_path, flood_number);
    assert_eq!(first_break(&flood.0), None, "flood lines in the block file");
    assert_eq!(Some(flood.0.len() as u64), flood.1, "every flooded line");

    // The ticker in the daemon's log: every tick once, in order, up to the last one seen.
    let logged: Vec<u64> = events_of(&daemon, "component_output", "ticker")
        .iter()
        .filter_map(|e| tick_number(e["line"].as_str()?))
        .collect();
    assert_eq!(first_break(&logged), None, "ticks in the log");
    let last_tick = tick_number(last["line"].as_str().unwrap()).unwrap();
    assert!(logged.len() as u64 >= last_tick, "{last_tick} ticks logged");
    // In the file with overflow="drop" (its queue is the flood's: ticks are dropped when it is
    // full): every tick once, in order, and each one missing counted in `output_dropped`.
    assert!(daemon.cli(&["stop", "ticker"], DEADLINE).status.success());
    let ticker_path = files.path().join("ticker.log");
    let seen = std::cell::RefCell::new(String::new());
    eventually("every tick filed or counted dropped", || {
        let ticks = numbers(&ticker_path, tick_number).0;
        let logged = events_of(&daemon, "component_output", "ticker");
        let last = logged
            .iter()
            .filter_map(|e| tick_number(e["line"].as_str()?))
            .max();
        let dropped: u64 = events_of(&daemon, "output_dropped", "ticker")
            .iter()
            .filter_map(|e| e["dropped"].as_u64())
            .sum();
        let ordered = ticks.windows(2).all(|w| w[0] < w[1]);
        assert!(ordered, "ticks in the drop file are in order, each once");
        *seen.borrow_mut() = format!(
            "{} ticks filed, {dropped} dropped, last {last:?}",
            ticks.len()
        );
        last.is_some_and(|last| ticks.len() as u64 + dropped == last)
    });
    println!("ticker: {}", seen.borrow());
    // The exhausted group gives up on its next crash.
    kill(fragile, Signal::SIGKILL);
    daemon.wait_for("the group gives up", |e| {
        e["event"] == "intensity_exceeded" && e["group"] == "limited"
    });
    assert_eq!(daemon.stop(), Some(0));
}

fn current_pid(daemon: &Daemon, id: &str) -> u32 {
    daemon.status_row(id)["pid"].as_u64().unwrap_or(0) as u32
}

fn state(daemon: &Daemon, id: &str) -> String {
    daemon.status_row(id)["state"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

pub const TESTS: &[testkit::harness::Test] =
    testkit::tests![twenty_upgrades_of_a_busy_tree_lose_no_line_and_keep_every_component];
