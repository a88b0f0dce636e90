//! Fault injection end to end: spawns that fail because the host is out of something (process
//! slots, file descriptors) are failed starts with backoff — logged, paced, never a panic — and
//! children that flood, ignore SIGTERM or are stopped still stop within `stopTimeout` + 0.2 s.

use std::os::unix::fs::PermissionsExt;

use nix::sys::signal::Signal;
use testkit::*;

const PACED: &str = r#"<backoff initial="0.05" max="0.2"/>"#;

/// Skips the running test unless it runs as root with every one of `tools` installed.
fn require_root_with(tools: &[&str]) {
    testkit::skip::require_root(&format!("and {tools:?}"));
    for tool in tools {
        testkit::skip::require_tool(tool);
    }
}

/// Starts `count` idle stand-ins through `wrapper` and checks that some spawns fail with
/// `error` (an errno text), each followed by a paced retry, while the daemon carries on.
fn spawn_failures_are_paced(wrapper: &[&str], count: usize, error: &str, for_nobody: bool) {
    let dir = tempfile::tempdir().expect("tempdir");
    if for_nobody {
        nix::unistd::chown(dir.path(), Some(65534.into()), Some(65534.into())).expect("chown");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let servers: String = (0..count)
        .map(|i| standin_server(&format!("c{i}"), &[], PACED))
        .collect();
    let head = r#"<restartStrategy type="one_for_one" intensity="1000" period="1"/>"#;
    let registry_path = dir.path().join("SupervisorRegistry.xml");
    std::fs::write(&registry_path, registry(head, &servers)).unwrap();
    let mut daemon = Daemon::start_wrapped(dir, registry_path, wrapper);
    let failed = daemon.wait_for(&format!("a spawn failing with {error}"), |e| {
        e["event"] == "component_spawn_failed"
            && e["error"].as_str().is_some_and(|m| m.contains(error))
    });
    let component = failed["component"].as_str().unwrap().to_string();
    let retry = daemon.wait_event("restart_scheduled", &component);
    assert!(retry["delay_ms"].as_u64().unwrap() >= 50, "paced: {retry}");
    // A second failure of the same component comes after the backoff, not in a tight loop.
    let again = daemon.wait_for("the retry", |e| {
        e["component"] == component.as_str()
            && (e["event"] == "component_spawn_failed" || e["event"] == "component_started")
    });
    assert!(
        seconds_between(&failed, &again) >= 0.045,
        "{failed}\n{again}"
    );
    assert_eq!(
        daemon.stop(),
        Some(0),
        "the daemon carries on and stops cleanly"
    );
    let failures = daemon.count("component_spawn_failed");
    let started = daemon.count("component_started");
    assert!(
        started > 0 && failures > 0,
        "some spawns worked, some failed"
    );
}

/// F10: `fork` failing with EAGAIN (RLIMIT_NPROC reached) is a failed start with backoff.
fn a_full_process_table_is_a_paced_failed_start() {
    require_root_with(&["prlimit", "setpriv"]);
    // The limit counts every process and thread of `nobody`: the daemon's few threads fit,
    // a few components too, the rest of the spawns fail.
    let wrapper = [
        "prlimit",
        "--nproc=9",
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
    ];
    spawn_failures_are_paced(&wrapper, 8, "Resource temporarily unavailable", true);
}

/// F10: running out of file descriptors (EMFILE, for the output pipes) is a failed start with
/// backoff, not a panic.
fn running_out_of_descriptors_is_a_paced_failed_start() {
    require_root_with(&["prlimit"]);
    spawn_failures_are_paced(
        &["prlimit", "--nofile=40"],
        16,
        "Too many open files",
        false,
    );
}

/// Stops `server` by a daemon shutdown and returns the seconds from `component_stopping` to
/// `component_stopped`, and whether it had to be killed. A sibling that ignores SIGTERM, stopped
/// with it, is the control: its `component_killed` shows the log would hold one for `id` too.
fn time_to_stop(server: &str, id: &str, before_stop: impl FnOnce(u32)) -> (f64, bool) {
    let control = killed_on_stop("control", "");
    let mut daemon = Daemon::start(&registry("", &format!("{control}{server}")));
    let pids = daemon.started_pids(&["control", id]);
    let pid = pids[1];
    eventually("the control catches SIGTERM", || catches_sigterm(pids[0]));
    assert!(alive(pid));
    before_stop(pid);
    daemon.signal(Signal::SIGTERM);
    let stopping = daemon.wait_event("component_stopping", id);
    let stopped = daemon.wait_event("component_stopped", id);
    assert_eq!(daemon.wait_exit(), Some(0));
    assert!(!alive(pid));
    assert_eq!(events_of(&daemon, "component_killed", "control").len(), 1);
    let killed = !events_of(&daemon, "component_killed", id).is_empty();
    (seconds_between(&stopping, &stopped), killed)
}

/// A child flooding its output is stopped promptly: the flood does not stall the stop.
fn a_flooding_child_stops_within_its_timeout() {
    let server = r#"<server id="flood"><executable>yes</executable><stopTimeout>1</stopTimeout><output log="false"/></server>"#;
    let (took, killed) = time_to_stop(server, "flood", |_| {});
    assert!(took < 0.2, "stopped in {took} s");
    assert!(!killed);
}

/// A child ignoring SIGTERM is SIGKILLed at `stopTimeout`, and gone by `stopTimeout` + 0.2 s.
fn a_child_ignoring_sigterm_stops_within_its_timeout_plus_200ms() {
    let server = standin_server(
        "stubborn",
        &["--ignore-term"],
        "<stopTimeout>0.5</stopTimeout>",
    );
    // Stop only once the handler is in place, or SIGTERM would simply end it.
    let (took, killed) = time_to_stop(&server, "stubborn", |pid| {
        eventually("standin catches SIGTERM", || catches_sigterm(pid))
    });
    assert!(killed, "it had to be killed");
    assert!((0.45..0.7).contains(&took), "stopped in {took} s");
}

/// A SIGSTOPped child gets SIGCONT with its stop signal, so it stops at once.
fn a_stopped_child_stops_within_its_timeout() {
    let server = standin_server("frozen", &[], "<stopTimeout>2</stopTimeout>");
    let (took, killed) = time_to_stop(&server, "frozen", |pid| kill(pid, Signal::SIGSTOP));
    assert!(!killed, "SIGCONT let SIGTERM through");
    assert!(took < 0.2, "stopped in {took} s");
}

/// The tests of this module, in file order, for the harness of main.rs.
pub const TESTS: &[testkit::harness::Test] = testkit::tests![
    a_full_process_table_is_a_paced_failed_start,
    running_out_of_descriptors_is_a_paced_failed_start,
    a_flooding_child_stops_within_its_timeout,
    a_child_ignoring_sigterm_stops_within_its_timeout_plus_200ms,
    a_stopped_child_stops_within_its_timeout,
];
