//! Readiness and health checks end to end (SPEC section 2 "Probes", section 3 start levels,
//! section 5 events): tcp, http, exec and notify readiness, the watchdog, health checks, and
//! probes that neither pile up nor leave processes behind — on the real binary with real
//! processes.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::Value;
use testkit::*;

/// The position in the log of the first event matching `matches`.
fn position(daemon: &Daemon, what: &str, matches: impl Fn(&Value) -> bool) -> usize {
    daemon
        .events()
        .iter()
        .position(matches)
        .unwrap_or_else(|| panic!("no {what} in the log"))
}

/// A `GET path` against 127.0.0.1:`port`; the status code.
fn http_status(port: u16, path: &str) -> u16 {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("read timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .expect("send request");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer:?}"))
}

/// The daemon's children whose command line contains `needle` and that have not exited.
///
/// Only processes younger than the daemon can be its children: reading the `stat` of those
/// alone (pids above the daemon's) keeps a sample fast on a machine running thousands of
/// processes. A pid wrap-around during a test would hide children (the assertions on "at
/// most one" would then pass vacuously, the ones on "at least one" fail).
fn live_children_running(daemon_pid: u32, needle: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid > daemon_pid)
        .filter_map(proc_stat)
        .filter(|p| p.ppid == daemon_pid && p.state != 'Z')
        .filter(|p| proc_cmdline(p.pid).contains(needle))
        .map(|p| p.pid)
        .collect()
}

/// Asserts the daemon has no zombie children, allowing a moment for a reap in progress.
fn assert_no_zombie_children(daemon: &Daemon) {
    let pid = daemon.pid();
    let start = Instant::now();
    while !zombie_children(pid).is_empty() {
        let zombies: Vec<String> = zombie_children(pid)
            .into_iter()
            .map(|z| format!("{z} ({})", proc_stat(z).map_or('?', |s| s.state)))
            .collect();
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "the daemon (pid {pid}) leaves zombie children unreaped: {zombies:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The absolute path of `name` in the daemon's directory-to-be.
fn file_in(dir: &tempfile::TempDir, name: &str) -> std::path::PathBuf {
    dir.path().join(name)
}

/// Case 1: A tcp readiness check passes once the component listens (0.3 s after its start, so
/// `after_ms` ≥ 300), and the next start level waits for it: the priority-2 component is
/// only started after the priority-1 component is ready.
fn tcp_readiness_passes_once_the_port_listens_and_gates_the_next_level() {
    let port = free_port();
    let late = standin_server(
        "late",
        &["--port", &port.to_string(), "--listen-after", "0.3"],
        &format!(
            r#"<startPriority>1</startPriority><readiness tcp="127.0.0.1:{port}" interval="0.05" timeout="5"/>"#
        ),
    );
    let next = standin_server("next", &[], "<startPriority>2</startPriority>");
    let mut daemon = Daemon::start(&registry(FAST, &format!("{late}{next}")));
    let pid = daemon.started_pid("late");
    let ready = daemon.wait_event("component_ready", "late");
    assert_eq!(pid_of(&ready), pid);
    // `after_ms` counts from the spawn returning, the delays of these tests from the child's
    // `main`: allow a few ms either way.
    let after_ms = ready["after_ms"].as_u64().expect("after_ms is a number");
    assert!(
        after_ms >= 280,
        "ready after {after_ms} ms, but nothing listened before 300 ms: {ready}"
    );
    assert!(after_ms < 5_000, "ready only after {after_ms} ms: {ready}");
    let starting_next = daemon.wait_event("component_starting", "next");
    let ready_at = position(&daemon, "component_ready of late", |e| {
        e["event"] == "component_ready" && e["component"] == "late"
    });
    let next_at = position(&daemon, "component_starting of next", |e| {
        e["event"] == "component_starting" && e["component"] == "next"
    });
    assert!(
        ready_at < next_at,
        "level 2 started (log line {next_at}) before level 1 was ready (log line {ready_at})"
    );
    assert!(seconds_between(&ready, &starting_next) >= 0.0);
    let started = events_of(&daemon, "component_started", "late");
    let starting_gap = seconds_between(&started[0], &starting_next);
    assert!(
        starting_gap >= 0.29,
        "next started {starting_gap:.3} s after late, before late could be ready (0.3 s)"
    );
    daemon.started_pid("next");
    assert_eq!(daemon.stop(), Some(0));
}

/// Case 2a: An http readiness check passes on a 2xx answer (standin answers `/ping` with 200).
fn http_readiness_passes_on_a_2xx_answer() {
    let port = free_port();
    let web = standin_server(
        "web",
        &["--port", &port.to_string(), "--listen-after", "0.2"],
        &format!(r#"<readiness http="http://127.0.0.1:{port}/ping" interval="0.05" timeout="5"/>"#),
    );
    // The control: a sibling that is never ready, whose component_not_ready the log does show.
    let never = standin_server(
        "never",
        &[],
        r#"<backoff initial="5"/><readiness exec="/bin/false" interval="0.05" timeout="0.3"/>"#,
    );
    let mut daemon = Daemon::start(&registry(FAST, &format!("{web}{never}")));
    let pid = daemon.started_pid("web");
    let ready = daemon.wait_event("component_ready", "web");
    assert_eq!(pid_of(&ready), pid);
    assert!(
        ready["after_ms"].as_u64().expect("after_ms") >= 180,
        "{ready}"
    );
    assert_eq!(http_status(port, "/ping"), 200);
    daemon.wait_event("component_not_ready", "never");
    assert!(events_of(&daemon, "component_not_ready", "web").is_empty());
    assert_eq!(daemon.stop(), Some(0));
}

/// Case 2b: An http readiness check against a path that answers 404 never passes: after the
/// timeout `component_not_ready`, the process is stopped, a restart is scheduled (reason
/// `exit`) after the backoff delay, and the failed start counts toward the intensity: with
/// intensity 1 the second failed start makes the root give up and the daemon exit 4.
fn http_readiness_on_a_404_times_out_as_a_failed_start() {
    let port = free_port();
    let head = r#"<restartStrategy type="one_for_one" intensity="1" period="60"/>"#;
    let web = standin_server(
        "web",
        &["--port", &port.to_string()],
        &format!(
            r#"<backoff initial="0.2"/><readiness http="http://127.0.0.1:{port}/missing" interval="0.05" timeout="0.5"/>"#
        ),
    );
    // The control: a sibling on /ping, whose component_ready the log does show.
    let ok_port = free_port();
    let ok = standin_server(
        "ok",
        &["--port", &ok_port.to_string()],
        &format!(
            r#"<readiness http="http://127.0.0.1:{ok_port}/ping" interval="0.05" timeout="5"/>"#
        ),
    );
    let mut daemon = Daemon::start(&registry(head, &format!("{web}{ok}")));
    let first = daemon.wait_event("component_started", "web");
    let pid1 = pid_of(&first);
    // It does listen and answer: what fails is the path.
    eventually("web listens", || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    assert_eq!(http_status(port, "/missing"), 404);
    assert!(alive(pid1));

    let not_ready = daemon.wait_event("component_not_ready", "web");
    assert_eq!(pid_of(&not_ready), pid1);
    assert_eq!(not_ready["level"], "WARN");
    let waited = seconds_between(&first, &not_ready);
    assert!(
        (0.49..3.0).contains(&waited),
        "not ready {waited:.3} s after the start; the readiness timeout is 0.5 s"
    );
    let stopping = daemon.wait_event("component_stopping", "web");
    assert_eq!(pid_of(&stopping), pid1);
    let stopped = daemon.wait_event("component_stopped", "web");
    assert_eq!(pid_of(&stopped), pid1);
    let restart = daemon.wait_event("restart_scheduled", "web");
    assert_eq!(restart["reason"], "exit", "{restart}");
    assert_eq!(restart["delay_ms"], 200, "backoff initial 0.2 s: {restart}");
    eventually("the first process is gone", || !alive(pid1));

    let second = daemon.wait_event("component_started", "web");
    let pid2 = pid_of(&second);
    assert_ne!(pid1, pid2);
    let delayed = seconds_between(&restart, &second);
    assert!(
        delayed >= 0.19,
        "restarted {delayed:.3} s after restart_scheduled, before its 0.2 s backoff"
    );
    let not_ready = daemon.wait_event("component_not_ready", "web");
    assert_eq!(pid_of(&not_ready), pid2);
    let exceeded = daemon.wait_any("intensity_exceeded");
    assert_eq!(exceeded["group"], "", "{exceeded}");
    assert_eq!(daemon.wait_exit(), Some(4));
    assert!(!alive(pid2), "{pid2} outlived the daemon");
    assert_eq!(events_of(&daemon, "component_ready", "ok").len(), 1);
    assert!(events_of(&daemon, "component_ready", "web").is_empty());
    assert_eq!(
        events_of(&daemon, "restart_scheduled", "web").len(),
        1,
        "the second failed start must exceed intensity 1, not schedule a restart"
    );
}

/// Case 3: An exec readiness check (`/bin/sh -c "test -e FILE"`, exit 0 passes) passes once the
/// file exists, not before; the probe processes it ran are all reaped (no zombie children).
fn exec_readiness_passes_once_the_program_exits_0_and_leaves_no_zombies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let flag = file_in(&dir, "ready.flag");
    let server = standin_server(
        "worker",
        &[],
        &format!(
            r#"<readiness exec="/bin/sh" interval="0.05" timeout="5"><argument>-c</argument><argument>test -e {}</argument></readiness>"#,
            xml_escape(&flag.display().to_string())
        ),
    );
    let mut daemon = Daemon::start_in(dir, &registry(FAST, &server));
    let pid = daemon.started_pid("worker");
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        events_of(&daemon, "component_ready", "worker").is_empty(),
        "ready before the file exists"
    );
    std::fs::write(&flag, b"").expect("create the flag file");
    let created = Instant::now();
    let ready = daemon.wait_event("component_ready", "worker");
    assert!(
        created.elapsed() < Duration::from_secs(3),
        "ready {:?} after the file appeared (interval 0.05 s)",
        created.elapsed()
    );
    assert_eq!(pid_of(&ready), pid);
    let after_ms = ready["after_ms"].as_u64().expect("after_ms");
    assert!(
        after_ms >= 300,
        "ready after {after_ms} ms, file made at ≥ 300 ms"
    );
    assert_no_zombie_children(&daemon);
    assert_eq!(live_children_running(daemon.pid(), "--name worker"), [pid]);
    assert!(
        live_children_running(daemon.pid(), "test -e").is_empty(),
        "a readiness probe still runs after the component became ready"
    );
    assert_eq!(daemon.stop(), Some(0));
}

/// Case 4a: Readiness by notification: the component gets `NOTIFY_SOCKET` (an abstract socket,
/// `@name`) and is ready once it sends `READY=1`.
fn notify_readiness_passes_on_ready_1_through_notify_socket() {
    let dir = tempfile::tempdir().expect("tempdir");
    let report = file_in(&dir, "report.json");
    let server = standin_server(
        "notifier",
        &[
            "--notify-ready-after",
            "0.2",
            "--report",
            &report.display().to_string(),
        ],
        r#"<readiness notify="true" timeout="5"/>"#,
    );
    let mut daemon = Daemon::start_in(dir, &registry(FAST, &server));
    let pid = daemon.started_pid("notifier");
    let ready = daemon.wait_event("component_ready", "notifier");
    assert_eq!(pid_of(&ready), pid);
    let after_ms = ready["after_ms"].as_u64().expect("after_ms");
    assert!(
        after_ms >= 180,
        "ready after {after_ms} ms, READY=1 sent at 200 ms"
    );
    let report = read_json_when_ready(&report);
    let socket = report["env"]["NOTIFY_SOCKET"]
        .as_str()
        .unwrap_or_else(|| panic!("no NOTIFY_SOCKET in the environment: {}", report["env"]));
    assert!(
        socket.starts_with('@') && socket.len() > 1,
        "NOTIFY_SOCKET {socket:?} is not an abstract socket name"
    );
    assert_eq!(daemon.stop(), Some(0));
}

/// Case 4b: A component that never sends `READY=1` is not ready after the timeout: it is stopped
/// and its restart is scheduled as for a failed start. A component without `notify` gets no
/// `NOTIFY_SOCKET`.
fn notify_readiness_times_out_without_ready_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let report = file_in(&dir, "plain.json");
    let silent = standin_server("silent", &[], r#"<readiness notify="true" timeout="0.5"/>"#);
    let plain = standin_server("plain", &["--report", &report.display().to_string()], "");
    // The control: a sibling that does send READY=1, whose component_ready the log shows.
    let prompt = standin_server(
        "prompt",
        &["--notify-ready-after", "0"],
        r#"<readiness notify="true" timeout="5"/>"#,
    );
    let servers = format!("{silent}{plain}{prompt}");
    let mut daemon = Daemon::start_in(dir, &registry(FAST, &servers));
    let started = daemon.wait_event("component_started", "silent");
    let not_ready = daemon.wait_event("component_not_ready", "silent");
    assert_eq!(pid_of(&not_ready), pid_of(&started));
    let waited = seconds_between(&started, &not_ready);
    assert!(
        (0.49..3.0).contains(&waited),
        "not ready {waited:.3} s after the start; the timeout is 0.5 s"
    );
    let stopped = daemon.wait_event("component_stopped", "silent");
    assert_eq!(pid_of(&stopped), pid_of(&started));
    let restart = daemon.wait_event("restart_scheduled", "silent");
    assert_eq!(restart["reason"], "exit", "{restart}");
    let again = daemon.wait_event("component_started", "silent");
    assert_ne!(pid_of(&again), pid_of(&started));
    assert_eq!(events_of(&daemon, "component_ready", "prompt").len(), 1);
    assert!(events_of(&daemon, "component_ready", "silent").is_empty());
    if std::env::var_os("NOTIFY_SOCKET").is_none() {
        let report = read_json_when_ready(&report);
        assert_eq!(report["env"]["SUPERVISOR_COMPONENT"], "plain", "{report}");
        assert!(
            report["env"].get("NOTIFY_SOCKET").is_none(),
            "a component without notify readiness got NOTIFY_SOCKET: {}",
            report["env"]
        );
    }
    assert_eq!(daemon.stop(), Some(0));
}

/// Case 5: The watchdog: a component that promised `WATCHDOG=1` every 0.3 s and stops sending it
/// after 1 s is unhealthy (check `watchdog`) shortly after, stopped and restarted (reason
/// `health`) as a new process.
fn a_missed_watchdog_keepalive_restarts_the_component() {
    let server = standin_server(
        "dog",
        &[
            "--notify-ready-after",
            "0",
            "--watchdog-every",
            "0.1",
            "--watchdog-stop-after",
            "1",
        ],
        r#"<readiness notify="true" watchdog="0.3" timeout="5"/>"#,
    );
    let mut daemon = Daemon::start(&registry(FAST, &server));
    let started = daemon.wait_event("component_started", "dog");
    let pid1 = pid_of(&started);
    daemon.wait_event("component_ready", "dog");
    assert!(alive(pid1));
    // As systemd tells a service its `WatchdogSec=` (what `sd_watchdog_enabled()` reads).
    let environment = proc_environment(pid1);
    assert!(
        environment.iter().any(|v| v == "WATCHDOG_USEC=300000"),
        "{environment:?}"
    );
    let unhealthy = daemon.wait_event("component_unhealthy", "dog");
    assert_eq!(unhealthy["check"], "watchdog", "{unhealthy}");
    assert_eq!(pid_of(&unhealthy), pid1);
    let after = seconds_between(&started, &unhealthy);
    assert!(
        (0.95..2.5).contains(&after),
        "unhealthy {after:.3} s after the start; keepalives stop at 1 s, the period is 0.3 s"
    );
    let stopped = daemon.wait_event("component_stopped", "dog");
    assert_eq!(pid_of(&stopped), pid1);
    let restart = daemon.wait_event("restart_scheduled", "dog");
    assert_eq!(restart["reason"], "health", "{restart}");
    let pid2 = daemon.started_pid("dog");
    assert_ne!(pid1, pid2);
    eventually("the old process is gone", || !alive(pid1));
    let ready = daemon.wait_event("component_ready", "dog");
    assert_eq!(pid_of(&ready), pid2);
    assert_eq!(daemon.stop(), Some(0));
}

/// A notify watchdog's period is in the process's environment (`WATCHDOG_USEC`): a reload that
/// changes it restarts the component, which gets the new one; a reload that changes only what
/// the process does not see (`stopTimeout`) updates it in place (the control).
fn a_reload_that_changes_the_watchdog_restarts_the_component() {
    let dog = |watchdog: &str, stop: &str| {
        let settings = format!(
            r#"<readiness notify="true" watchdog="{watchdog}" timeout="5"/><stopTimeout>{stop}</stopTimeout>"#
        );
        let args = ["--notify-ready-after", "0", "--watchdog-every", "0.1"];
        registry(FAST, &standin_server("dog", &args, &settings))
    };
    let mut daemon = Daemon::start(&dog("5", "10"));
    let first = daemon.started_pid("dog");
    let usec =
        |pid: u32| (proc_environment(pid).into_iter()).find(|v| v.starts_with("WATCHDOG_USEC="));
    assert_eq!(usec(first).as_deref(), Some("WATCHDOG_USEC=5000000"));
    let reload = |daemon: &mut Daemon, xml: String| {
        std::fs::write(&daemon.registry, xml).expect("rewrite the registry");
        let out = daemon.cli(&["reload"], DEADLINE);
        assert!(out.status.success(), "{out:?}");
        daemon.wait_any("config_reloaded")
    };
    let updated = reload(&mut daemon, dog("5", "20"));
    assert_eq!(updated["updated"], serde_json::json!(["dog"]), "{updated}");
    assert!(alive(first), "the same process");
    let changed = reload(&mut daemon, dog("3", "20"));
    assert_eq!(changed["changed"], serde_json::json!(["dog"]), "{changed}");
    let second = daemon.started_pid("dog");
    assert_ne!(second, first);
    assert_eq!(usec(second).as_deref(), Some("WATCHDOG_USEC=3000000"));
    assert_eq!(daemon.stop(), Some(0));
}

/// Case 6: A health check that fails `failures` times in a row (the component stops answering
/// after 0.5 s) makes the component unhealthy (check `health check`): stopped, restarted
/// (reason `health`) as a new process. A healthy component beside it is never touched.
fn a_failing_health_check_restarts_only_the_unhealthy_component() {
    let (sick_port, fine_port) = (free_port(), free_port());
    let checks = |port: u16| {
        format!(
            r#"<readiness tcp="127.0.0.1:{port}" interval="0.05" timeout="5"/><healthCheck tcp="127.0.0.1:{port}" interval="0.1" timeout="0.2" failures="2" startAfter="0"/>"#
        )
    };
    let sick = standin_server(
        "sick",
        &[
            "--port",
            &sick_port.to_string(),
            "--stop-answering-after",
            "0.5",
        ],
        &checks(sick_port),
    );
    let fine = standin_server(
        "fine",
        &["--port", &fine_port.to_string()],
        &checks(fine_port),
    );
    let mut daemon = Daemon::start(&registry(FAST, &format!("{sick}{fine}")));
    let [sick1, fine_pid] = daemon.started_pids(&["sick", "fine"])[..] else {
        unreachable!()
    };
    let unhealthy = daemon.wait_event("component_unhealthy", "sick");
    assert_eq!(unhealthy["check"], "health check", "{unhealthy}");
    assert_eq!(unhealthy["level"], "WARN");
    assert_eq!(pid_of(&unhealthy), sick1);
    let stopped = daemon.wait_event("component_stopped", "sick");
    assert_eq!(pid_of(&stopped), sick1);
    let restart = daemon.wait_event("restart_scheduled", "sick");
    assert_eq!(restart["reason"], "health", "{restart}");
    let sick2 = daemon.started_pid("sick");
    assert_ne!(sick1, sick2);
    // The new process also stops answering: restarted a second time.
    let unhealthy = daemon.wait_event("component_unhealthy", "sick");
    assert_eq!(pid_of(&unhealthy), sick2);
    let restart = daemon.wait_event("restart_scheduled", "sick");
    assert_eq!(restart["reason"], "health", "{restart}");
    let sick3 = daemon.started_pid("sick");
    assert!(![sick1, sick2].contains(&sick3));

    // Meanwhile (well over a second) the healthy one passed every check.
    let first = &events_of(&daemon, "component_started", "sick")[0];
    let now = &events_of(&daemon, "component_started", "sick")[2];
    assert!(seconds_between(first, now) >= 1.0);
    assert_eq!(
        events_of(&daemon, "component_started", "fine").len(),
        1,
        "the healthy component was restarted"
    );
    for event in [
        "component_unhealthy",
        "component_stopping",
        "restart_scheduled",
    ] {
        assert!(
            !events_of(&daemon, event, "sick").is_empty(),
            "{event} of sick"
        );
        assert!(
            events_of(&daemon, event, "fine").is_empty(),
            "{event} of the healthy component: {:?}",
            events_of(&daemon, event, "fine")
        );
    }
    assert!(alive(fine_pid));
    assert_eq!(http_status(fine_port, "/ping"), 200);
    assert_eq!(daemon.stop(), Some(0));
}

/// Case 7: Probes never pile up: a health check whose exec probe hangs (`sleep 5`, timeout 0.2 s,
/// interval 0.05 s) has at most one probe process at any moment — each is killed at its
/// timeout before the next starts — and the component is restarted for health.
fn hanging_exec_health_probes_never_pile_up() {
    let server = standin_server(
        "hangs",
        &[],
        r#"<healthCheck exec="/bin/sh" interval="0.05" timeout="0.2" failures="3" startAfter="0"><argument>-c</argument><argument>sleep 5</argument></healthCheck>"#,
    );
    let mut daemon = Daemon::start(&registry(FAST, &server));
    let pid1 = daemon.started_pid("hangs");
    let daemon_pid = daemon.pid();
    let mut most = 0;
    let mut samples = 0;
    let mut seen = std::collections::BTreeSet::new();
    let sampling = Instant::now();
    while sampling.elapsed() < Duration::from_millis(1500) {
        let probes = live_children_running(daemon_pid, "sleep 5");
        seen.extend(probes.iter().copied());
        if probes.len() > most {
            most = probes.len();
        }
        assert!(
            probes.len() <= 1,
            "{} probe processes at once after {:?}: {probes:?}",
            probes.len(),
            sampling.elapsed()
        );
        samples += 1;
        std::thread::sleep(Duration::from_millis(20));
    }
    // About 70 on an idle machine; far fewer on a busy one.
    assert!(samples >= 10, "only {samples} samples in 1.5 s");
    assert_eq!(most, 1, "no probe process was ever seen");
    assert!(
        seen.len() >= 3,
        "expected several probes in 1.5 s (each cut at 0.2 s), saw {seen:?}"
    );
    let unhealthy = daemon.wait_event("component_unhealthy", "hangs");
    assert_eq!(unhealthy["check"], "health check", "{unhealthy}");
    assert_eq!(pid_of(&unhealthy), pid1);
    let restart = daemon.wait_event("restart_scheduled", "hangs");
    assert_eq!(restart["reason"], "health", "{restart}");
    let pid2 = daemon.started_pid("hangs");
    assert_ne!(pid1, pid2);
    // Every probe cut at its timeout is gone (killed with its process group), not left to
    // run its 5 s.
    for probe in &seen {
        eventually_within(
            &format!("probe {probe} is gone"),
            Duration::from_secs(2),
            || !alive(*probe) || !proc_cmdline(*probe).contains("sleep 5"),
        );
    }
    assert_eq!(daemon.stop(), Some(0));
}

/// Case 8: A readiness exec probe still running when the readiness timeout ends the start is not
/// left behind: the component is stopped, and so is its probe.
fn a_readiness_probe_in_flight_at_the_timeout_is_not_left_running() {
    // Each attempt is cut at max(interval, 0.5 s): the 0.3 s timeout comes first.
    let server = standin_server(
        "slowprobe",
        &[],
        r#"<backoff initial="5"/><readiness exec="/bin/sh" interval="0.05" timeout="0.3"><argument>-c</argument><argument>sleep 5</argument></readiness>"#,
    );
    let mut daemon = Daemon::start(&registry(FAST, &server));
    daemon.started_pid("slowprobe");
    let daemon_pid = daemon.pid();
    eventually("the readiness probe runs", || {
        !live_children_running(daemon_pid, "sleep 5").is_empty()
    });
    let probes = live_children_running(daemon_pid, "sleep 5");
    daemon.wait_event("component_not_ready", "slowprobe");
    daemon.wait_event("component_stopped", "slowprobe");
    // The restart waits out a 5 s backoff: no new probe in the meantime.
    let leftover = || {
        probes
            .iter()
            .copied()
            .filter(|&p| alive(p) && proc_cmdline(p).contains("sleep 5"))
            .collect::<Vec<u32>>()
    };
    let start = Instant::now();
    while !leftover().is_empty() && start.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        leftover().is_empty(),
        "readiness probe(s) {:?} (`/bin/sh -c 'sleep 5'`) still run {:?} after the component \
         was stopped for not being ready",
        leftover(),
        start.elapsed()
    );
    assert_eq!(daemon.stop(), Some(0));
}

/// The tests of this module, in file order, for the harness of main.rs.
pub const TESTS: &[testkit::harness::Test] = testkit::tests![
    tcp_readiness_passes_once_the_port_listens_and_gates_the_next_level,
    http_readiness_passes_on_a_2xx_answer,
    http_readiness_on_a_404_times_out_as_a_failed_start,
    exec_readiness_passes_once_the_program_exits_0_and_leaves_no_zombies,
    notify_readiness_passes_on_ready_1_through_notify_socket,
    notify_readiness_times_out_without_ready_1,
    a_missed_watchdog_keepalive_restarts_the_component,
    a_reload_that_changes_the_watchdog_restarts_the_component,
    a_failing_health_check_restarts_only_the_unhealthy_component,
    hanging_exec_health_probes_never_pile_up,
    a_readiness_probe_in_flight_at_the_timeout_is_not_left_running,
];
