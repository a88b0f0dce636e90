//! The new binary's dry run before the exec (issue 18): `NEW --handover-check REGISTRY` reads
//! the very hand-over and the registry in a child, adopting nothing. A binary that answers the
//! version check and then dies (an exit, a SIGKILL) is refused with the tree untouched, where
//! without the dry run the exec would have taken the daemon, and the tree, down.

use testkit::*;

use crate::upgrade::{executable, refusal, upgrade};

fn a_binary_that_dies_after_the_version_check_is_refused_before_the_exec() {
    let mut daemon = Daemon::start(&registry(FAST, &[idle("a"), idle("b")].concat()));
    let pids = daemon.started_pids(&["a", "b"]);
    let copy = executable(daemon.path(), "supervisor-new", None);
    for (name, death, how) in [
        ("exits", "exit 3", "exit code 3"),
        ("killed", "kill -9 $$", "killed by signal 9"),
    ] {
        // Answers the version check as the real binary does, then dies at anything else.
        let script = format!(
            "#!/bin/sh\ncase \"$1\" in --handover-version) exec {} \"$@\";; esac\n{death}\n",
            copy.display()
        );
        let dying = executable(daemon.path(), name, Some(&script));
        let out = upgrade(&daemon, &dying);
        assert_eq!(out.status.code(), Some(1), "{name}: refused: {out:?}");
        let reason = refusal(&mut daemon);
        assert!(
            reason.contains("--handover-check failed") && reason.contains(how),
            "{name}: {reason}"
        );
        assert!(alive(daemon.pid()), "{name}: the daemon runs on");
        assert!(
            pids.iter().all(|&pid| alive(pid)),
            "{name}: the tree runs on"
        );
    }
    assert_eq!(daemon.count("upgrade_completed"), 0);
    // The positive control: the same daemon upgrades to the binary the scripts wrap, which
    // passes its check.
    assert!(upgrade(&daemon, &copy).status.success());
    daemon.wait_any("upgrade_completed");
    assert!(
        pids.iter().all(|&pid| alive(pid)),
        "the tree was handed over"
    );
    assert_eq!(daemon.stop(), Some(0));
}

/// A shutdown asked while the new binary's dry run goes on wins: the upgrade calls itself off
/// before the exec, and the daemon stops in order (exit 0), its component stopped. Without the
/// check before the exec, the new image took the tree over as it was before the stop and ran on.
fn a_shutdown_during_the_dry_run_calls_the_upgrade_off() {
    let mut daemon = Daemon::start(&registry(FAST, &idle("a")));
    daemon.started_pid("a");
    let copy = executable(daemon.path(), "supervisor-new", None);
    let checking = daemon.path().join("checking");
    // The real binary, whose dry run first says it began and then takes two seconds.
    let script = format!(
        "#!/bin/sh\ncase \"$1\" in --handover-check) touch {}; sleep 2;; esac\nexec {} \"$@\"\n",
        checking.display(),
        copy.display()
    );
    let slow = executable(daemon.path(), "slow-check", Some(&script));
    let upgrading = std::process::Command::new(supervisor_bin())
        .arg("--run-dir")
        .arg(daemon.run_dir())
        .args(["upgrade", "--binary", slow.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("supervisor upgrade");
    eventually("the dry run began", || checking.exists());
    daemon.signal(nix::sys::signal::Signal::SIGTERM);
    assert_eq!(daemon.wait_exit(), Some(0), "the shutdown went on");
    let out = upgrading.wait_with_output().expect("upgrade's exit");
    assert_ne!(
        out.status.code(),
        Some(0),
        "the upgrade did not happen: {out:?}"
    );
    assert_eq!(daemon.count("upgrade_completed"), 0);
    let reason = refusal(&mut daemon);
    assert!(reason.contains("shutting down"), "{reason}");
    daemon.wait_event("component_stopped", "a");
}

/// A new binary that never answers its version check is refused at the deadline (5 s), and
/// killed then: no hung probe outlives the refusal. It was left running before.
fn a_binary_that_hangs_is_refused_at_the_deadline_and_killed() {
    let mut daemon = Daemon::start(&registry(FAST, &idle("a")));
    let pid = daemon.started_pid("a");
    let hung_pid = daemon.path().join("hung.pid");
    let script = format!(
        "#!/bin/sh\necho $$ > {}\nexec sleep 3600\n",
        hung_pid.display()
    );
    let hanging = executable(daemon.path(), "hanging", Some(&script));
    let out = upgrade(&daemon, &hanging);
    assert_eq!(out.status.code(), Some(1), "refused: {out:?}");
    let reason = refusal(&mut daemon);
    assert!(reason.contains("did not answer within 5 s"), "{reason}");
    let probe: u32 = (std::fs::read_to_string(&hung_pid).expect("the probe ran"))
        .trim()
        .parse()
        .expect("its pid");
    eventually("the hung probe is gone", || !alive(probe));
    assert!(alive(pid), "the tree runs on");
    assert_eq!(daemon.stop(), Some(0));
}

/// The check itself, run by hand: the binary refuses garbage and another hand-over version, each
/// with its reason.
fn the_check_refuses_garbage_and_another_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("SupervisorRegistry.xml");
    std::fs::write(&path, registry(FAST, &idle("a"))).unwrap();
    let check = |input: &str| {
        use std::io::Write;
        let mut child = std::process::Command::new(supervisor_bin())
            .arg("--handover-check")
            .arg(&path)
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let garbage = check("{not json");
    assert_eq!(garbage.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&garbage.stderr).contains("cannot parse the hand-over"));
    let version = check(r#"{"version":999}"#);
    assert_eq!(version.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&version.stderr).contains("hand-over version 999"));
}

pub const TESTS: &[testkit::harness::Test] = testkit::tests![
    a_binary_that_dies_after_the_version_check_is_refused_before_the_exec,
    a_shutdown_during_the_dry_run_calls_the_upgrade_off,
    a_binary_that_hangs_is_refused_at_the_deadline_and_killed,
    the_check_refuses_garbage_and_another_version,
];
