//! An upgrade in each way the daemon runs (issue 18): in the foreground under a test (the other
//! upgrade modules), in the background after `start`, and as PID 1 of a container. Under
//! systemd: `upgrade_descriptors::systemd_hears_reloading_then_ready_from_the_same_pid_around_an_upgrade`.

use serde_json::Value;
use testkit::skip::{require_root, require_tool};
use testkit::*;

use crate::control::{Background, assert_code, stdout};
use crate::upgrade::{executable, upgrade};

/// Each component's pid, from `status --json` (as the daemon sees them).
fn pids(status: &[u8]) -> Vec<(String, Option<u64>)> {
    let rows: Vec<Value> = serde_json::from_slice(status).expect("status JSON");
    (rows.iter())
        .map(|row| (row["id"].as_str().unwrap().to_string(), row["pid"].as_u64()))
        .collect()
}

/// `start` puts the daemon in the background; `upgrade` replaces its binary and keeps its pid,
/// its pid file and every component's process; `stop` then stops it as usual.
fn an_upgrade_of_a_background_daemon_keeps_its_pid_and_every_component() {
    let bg = Background::new(&registry("", &[idle("a"), idle("b")].concat()));
    assert_code(&bg.cli(&["start"]), 0, "start");
    let daemon = bg.daemon_pid().expect("a pid file");
    let before = pids(stdout(&bg.cli(&["status", "--json"])).as_bytes());
    assert!(before.iter().all(|(_, pid)| pid.is_some()), "{before:?}");
    let copy = executable(bg.dir.path(), "supervisor-new", None);
    let upgraded = bg.cli(&["upgrade", "--binary", copy.to_str().unwrap()]);
    assert_code(&upgraded, 0, "upgrade");
    assert_eq!(
        bg.daemon_pid(),
        Some(daemon),
        "the pid file names the same daemon"
    );
    let exe = std::fs::read_link(format!("/proc/{daemon}/exe")).expect("the daemon runs");
    assert_eq!(exe, copy, "it runs the new binary");
    let after = pids(stdout(&bg.cli(&["status", "--json"])).as_bytes());
    assert_eq!(after, before, "every component kept its process");
    assert_code(&bg.cli(&["stop"]), 0, "stop");
    assert!(!alive(daemon), "stopped");
}

/// As PID 1 of a PID namespace (`unshare --pid --fork --mount-proc`, as a container runs it):
/// the upgraded daemon is still PID 1 there (no component is orphaned to another init) and
/// every component keeps its process.
fn an_upgrade_as_pid_1_of_a_container_keeps_pid_1_and_every_component() {
    require_root("to make a PID namespace");
    let unshare = require_tool("unshare");
    let dir = tempfile::tempdir().expect("tempdir");
    let registry_path = dir.path().join("SupervisorRegistry.xml");
    std::fs::write(
        &registry_path,
        registry("", &[idle("a"), idle("b")].concat()),
    )
    .unwrap();
    let wrapper = [
        unshare.to_str().unwrap(),
        "--pid",
        "--fork",
        "--mount-proc",
        "--kill-child",
    ];
    let mut daemon = Daemon::start_wrapped(dir, registry_path, &wrapper);
    let started = daemon.wait_any("supervisor_started");
    assert_eq!(started["pid"], 1, "PID 1 of its namespace: {started}");
    let before = daemon.started_pids(&["a", "b"]);
    let copy = executable(daemon.path(), "supervisor-new", None);
    let out = upgrade(&daemon, &copy);
    assert!(out.status.success(), "upgrade: {out:?}");
    let completed = daemon.wait_any("upgrade_completed");
    assert_eq!(completed["pid"], 1, "still PID 1: {completed}");
    let status = daemon.cli(&["status", "--json"], DEADLINE);
    let after: Vec<u32> = (pids(&status.stdout).into_iter())
        .map(|(_, pid)| pid.expect("running") as u32)
        .collect();
    assert_eq!(after, before, "every component kept its process");
    assert!(daemon.cli(&["stop"], DEADLINE).status.success(), "stop");
    assert_eq!(daemon.wait_exit(), Some(0));
}

pub const TESTS: &[testkit::harness::Test] = testkit::tests![
    an_upgrade_of_a_background_daemon_keeps_its_pid_and_every_component,
    an_upgrade_as_pid_1_of_a_container_keeps_pid_1_and_every_component,
];
