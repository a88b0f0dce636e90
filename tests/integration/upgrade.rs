//! `supervisor upgrade` end to end: the daemon re-executes a copy of its binary with the tree
//! handed over (same daemon pid, every component's pid kept, an operator stop kept, adopted
//! children reaped and restarted by the new daemon), refuses what it cannot run (nothing
//! changes), and rolls back to the old binary when the new one cannot restore.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use nix::sys::signal::Signal;
use serde_json::Value;
use testkit::*;

/// A copy of the supervisor binary in `dir` (the file a real upgrade installs), or a script
/// named `name` with `body`, executable.
fn executable(dir: &Path, name: &str, body: Option<&str>) -> PathBuf {
    let path = dir.join(name);
    match body {
        Some(body) => std::fs::write(&path, body).expect("write the script"),
        None => {
            std::fs::copy(env!("CARGO_BIN_EXE_supervisor"), &path).expect("copy the binary");
        }
    }
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// `status --json` as (id → (state, pid, restarts)).
fn rows(daemon: &Daemon) -> Vec<(String, String, Option<u64>, u64)> {
    let out = daemon.cli(&["status", "--json"], DEADLINE);
    assert!(out.status.success(), "status answers: {out:?}");
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).expect("status JSON");
    rows.iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_string(),
                r["state"].as_str().unwrap().to_string(),
                r["pid"].as_u64(),
                r["restarts"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn upgrade(daemon: &Daemon, binary: &Path) -> std::process::Output {
    daemon.cli(
        &["upgrade", "--binary", binary.to_str().unwrap()],
        DEADLINE * 3,
    )
}

fn tree() -> String {
    let crashing = standin_server("crashing", &["--crash-after", "0.2"], "");
    registry(
        FAST,
        &[idle("a"), idle("b"), idle("held"), crashing].concat(),
    )
}

fn upgrade_keeps_every_component_and_the_daemon_pid() {
    let mut daemon = Daemon::start(&tree());
    let pids = daemon.started_pids(&["a", "b", "held"]);
    assert!(daemon.cli(&["stop", "held"], DEADLINE).status.success());
    daemon.wait_event("restart_scheduled", "crashing");
    let before = rows(&daemon);
    let copy = executable(daemon.path(), "supervisor-new", None);
    let out = upgrade(&daemon, &copy);
    assert!(out.status.success(), "upgrade succeeds: {out:?}");
    let completed = daemon.wait_any("upgrade_completed");
    assert_eq!(completed["pid"].as_u64(), Some(u64::from(daemon.pid())));
    let after = rows(&daemon);
    for id in ["a", "b"] {
        let find = |rows: &[(String, String, Option<u64>, u64)]| {
            rows.iter().find(|r| r.0 == id).cloned().unwrap()
        };
        assert_eq!(find(&before), find(&after), "{id} kept its row");
    }
    let held = after.iter().find(|r| r.0 == "held").unwrap();
    assert_eq!(
        (held.1.as_str(), held.2),
        ("stopped", None),
        "held stays stopped"
    );
    // Nothing was started twice: a and b were started once, before the upgrade.
    assert_eq!(events_of(&daemon, "component_started", "a").len(), 1);
    // The new daemon reaps and restarts an adopted child (the positive control).
    kill(pids[0], Signal::SIGKILL);
    let restarted = daemon.started_pid("a");
    assert_ne!(restarted, pids[0]);
    // The crash loop went on under the new daemon.
    let crashes = daemon.count("component_exited");
    daemon.wait_for("another crash after the upgrade", |e| {
        e["event"] == "component_exited" && e["component"] == "crashing"
    });
    assert!(daemon.count("component_exited") > crashes);
    assert_eq!(events_of(&daemon, "component_started", "held").len(), 1);
    assert_eq!(daemon.stop(), Some(0));
}

fn upgrade_refuses_what_it_cannot_run_and_changes_nothing() {
    let mut daemon = Daemon::start(&registry(FAST, &[idle("a"), idle("b")].concat()));
    let pids = daemon.started_pids(&["a", "b"]);
    let not_executable = daemon.path().join("plain-file");
    std::fs::write(&not_executable, "not a program").unwrap();
    let other_version = executable(
        daemon.path(),
        "other-version",
        Some("#!/bin/sh\necho 999 9.9.9\n"),
    );
    for (binary, why) in [
        (&not_executable, "not an executable file"),
        (&other_version, "hand-over version 999"),
    ] {
        let out = upgrade(&daemon, binary);
        assert_eq!(out.status.code(), Some(1), "refused: {out:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(why),
            "{out:?}"
        );
        let refused = daemon.wait_any("upgrade_refused");
        assert!(refused["reason"].as_str().unwrap().contains(why));
        daemon.take_events();
    }
    assert_eq!(daemon.count("upgrade_started"), 0);
    let now: Vec<Option<u64>> = rows(&daemon).iter().map(|r| r.2).collect();
    assert_eq!(
        now,
        pids.iter().map(|&p| Some(u64::from(p))).collect::<Vec<_>>()
    );
    // The positive control: the same daemon upgrades to a binary it can run.
    let copy = executable(daemon.path(), "supervisor-new", None);
    assert!(upgrade(&daemon, &copy).status.success());
    daemon.wait_any("upgrade_completed");
    assert_eq!(daemon.stop(), Some(0));
}

fn a_binary_that_cannot_restore_rolls_back_to_the_old_one() {
    let mut daemon = Daemon::start(&tree());
    let pids = daemon.started_pids(&["a", "b"]);
    let copy = executable(daemon.path(), "supervisor-new", None);
    let script = format!(
        "#!/bin/sh\nSUPERVISOR_UPGRADE_FAIL_RESTORE=1 exec {} \"$@\"\n",
        copy.display()
    );
    let broken = executable(daemon.path(), "cannot-restore", Some(&script));
    let out = upgrade(&daemon, &broken);
    let rolled = daemon.wait_any("upgrade_rolled_back");
    assert!(rolled["reason"]
        .as_str()
        .unwrap()
        .contains("SUPERVISOR_UPGRADE_FAIL_RESTORE"));
    assert_eq!(daemon.count("upgrade_completed"), 0, "{out:?}");
    let now: Vec<Option<u64>> = rows(&daemon).iter().take(2).map(|r| r.2).collect();
    assert_eq!(
        now,
        pids.iter().map(|&p| Some(u64::from(p))).collect::<Vec<_>>()
    );
    // The old binary runs the tree on: an adopted child is still restarted.
    kill(pids[1], Signal::SIGKILL);
    assert_ne!(daemon.started_pid("b"), pids[1]);
    assert_eq!(daemon.stop(), Some(0));
}

pub const TESTS: &[testkit::harness::Test] = testkit::tests![
    upgrade_keeps_every_component_and_the_daemon_pid,
    upgrade_refuses_what_it_cannot_run_and_changes_nothing,
    a_binary_that_cannot_restore_rolls_back_to_the_old_one,
];
