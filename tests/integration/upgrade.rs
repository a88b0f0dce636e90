//! `supervisor upgrade` end to end: the daemon re-executes a copy of its binary with the tree
//! handed over (same daemon pid, every component's pid kept, an operator stop kept, adopted
//! children reaped and restarted by the new daemon), refuses what it cannot run (nothing
//! changes), and rolls back to the old binary when the new one cannot restore.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use nix::sys::signal::Signal;
use serde_json::Value;
use testkit::*;

use crate::guardian::{Sweep, start_without_cgroup2};

/// A copy of the supervisor binary in `dir` (the file a real upgrade installs), or a script
/// named `name` with `body`, executable.
pub(crate) fn executable(dir: &Path, name: &str, body: Option<&str>) -> PathBuf {
    let path = dir.join(name);
    // Written by `cp`, not by this process: a file this multi-threaded process has open for
    // writing is inherited by every child another test forks meanwhile, until that child execs,
    // and an exec of the file then fails with ETXTBSY ("Text file busy").
    let source = match body {
        Some(body) => {
            let source = dir.join(format!("{name}.source"));
            std::fs::write(&source, body).expect("write the script");
            source
        }
        None => PathBuf::from(env!("CARGO_BIN_EXE_supervisor")),
    };
    let copied = std::process::Command::new("cp")
        .arg(&source)
        .arg(&path)
        .status()
        .expect("run cp");
    assert!(
        copied.success(),
        "cp {} {}",
        source.display(),
        path.display()
    );
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// The reason of the next `upgrade_refused` event, which has SPEC's fields: `from`, `to` (null
/// when the new binary never said its version), `duration_ms`, `reason`.
pub(crate) fn refusal(daemon: &mut Daemon) -> String {
    let refused = daemon.wait_any("upgrade_refused");
    assert!(refused["from"].is_string(), "{refused}");
    let to = refused.get("to");
    assert!(
        to.is_some_and(|to| to.is_string() || to.is_null()),
        "{refused}"
    );
    assert!(refused["duration_ms"].is_u64(), "{refused}");
    let reason = refused["reason"].as_str().unwrap_or_default();
    reason.to_string()
}

/// A copy of the supervisor binary in `dir`, and a script that runs it as a binary that cannot
/// restore the hand-over (`SUPERVISOR_UPGRADE_FAIL_RESTORE=1`): an upgrade to it rolls back.
pub(crate) fn cannot_restore(dir: &Path) -> (PathBuf, PathBuf) {
    let copy = executable(dir, "supervisor-new", None);
    let script = format!(
        "#!/bin/sh\nSUPERVISOR_UPGRADE_FAIL_RESTORE=1 exec {} \"$@\"\n",
        copy.display()
    );
    let broken = executable(dir, "cannot-restore", Some(&script));
    (copy, broken)
}

/// `status --json` as (id → (state, pid, restarts)).
fn rows(daemon: &Daemon) -> Vec<(String, String, Option<u64>, u64)> {
    (daemon.status_rows().iter())
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

/// `status --json` as it must read the same across an upgrade: every field but those that
/// change with time (uptime, memory); and whether the daemon says it is running.
fn board(daemon: &Daemon) -> (Vec<Value>, bool) {
    let mut rows = daemon.status_rows();
    for row in &mut rows {
        let fields = row.as_object_mut().expect("a row is an object");
        fields.retain(|name, _| !name.contains("uptime") && !name.contains("memory"));
        fields.retain(|name, _| !name.contains("rss"));
    }
    let text = daemon.cli(&["status"], DEADLINE);
    let running = !String::from_utf8_lossy(&text.stderr).contains("supervisor is");
    (rows, running)
}

/// The daemon's readiness (SPEC's "ready") as `WaitReady` answers it at once.
fn readiness(daemon: &Daemon) -> String {
    use supervisor::control::{client::ask, protocol::Request};
    let socket = daemon.run_dir().join("control.sock");
    let request = Request::WaitReady { timeout_ms: 50 };
    format!(
        "{:?}",
        ask(&socket, &request, Some(DEADLINE)).expect("WaitReady answers")
    )
}

pub(crate) fn upgrade(daemon: &Daemon, binary: &Path) -> std::process::Output {
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
    // The crash loop changes its row at any time: the board compared is that of a calm tree.
    let mut calm = Daemon::start(&registry(FAST, &[idle("x"), idle("y"), idle("z")].concat()));
    calm.started_pids(&["x", "y", "z"]);
    assert!(calm.cli(&["stop", "z"], DEADLINE).status.success());
    let (board_before, calm_ready_before) = (board(&calm), readiness(&calm));
    assert!(upgrade(&calm, &copy).status.success());
    calm.wait_any("upgrade_completed");
    assert_eq!(
        board(&calm),
        board_before,
        "the status board reads the same"
    );
    assert!(board_before.1, "the daemon says it runs");
    assert_eq!(board_before.0.len(), 3, "{board_before:?}");
    assert_eq!(
        readiness(&calm),
        calm_ready_before,
        "readiness reads the same"
    );
    assert_eq!(calm.stop(), Some(0));
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
    // The crash loop went on under the new daemon: the cursor is past `upgrade_completed`.
    daemon.wait_for("another crash after the upgrade", |e| {
        e["event"] == "component_exited" && e["component"] == "crashing"
    });
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
        let reason = refusal(&mut daemon);
        assert!(reason.contains(why), "{reason}");
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
    let (_, broken) = cannot_restore(daemon.path());
    let out = upgrade(&daemon, &broken);
    assert_eq!(out.status.code(), Some(1), "a rollback exits 1: {out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("rolled back"),
        "the reason is printed: {out:?}"
    );
    let rolled = daemon.wait_any("upgrade_rolled_back");
    assert!(
        rolled["reason"]
            .as_str()
            .unwrap()
            .contains("SUPERVISOR_UPGRADE_FAIL_RESTORE")
    );
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

/// While an upgrade collects the tree, a reload and an operator command are answered busy (75),
/// a signal refused (1: SPEC gives `signal` no busy); once the upgrade is over (here: refused, a
/// stop held the tree from rest) they go through again.
fn commands_that_change_the_tree_are_busy_while_it_is_handed_over() {
    let stubborn = standin_server(
        "stubborn",
        &["--ignore-term"],
        "<stopTimeout>4</stopTimeout>",
    );
    let mut daemon = Daemon::start(&registry(FAST, &[idle("a"), stubborn].concat()));
    let stubborn_pid = daemon.started_pids(&["a", "stubborn"])[1];
    eventually("stubborn ignores SIGTERM", || catches_sigterm(stubborn_pid));
    let copy = executable(daemon.path(), "supervisor-new", None);
    std::thread::scope(|scope| {
        // A stop that takes its whole timeout keeps the tree from rest: the upgrade retries.
        let stopping = scope.spawn(|| daemon.cli(&["stop", "stubborn"], DEADLINE));
        eventually("stubborn is being stopped", || {
            !events_of(&daemon, "component_stopping", "stubborn").is_empty()
        });
        let upgrading = scope.spawn(|| upgrade(&daemon, &copy));
        eventually("the upgrade has begun", || {
            daemon.count("upgrade_started") == 1
        });
        for (args, code) in [
            (&["reload"][..], 75),
            (&["restart", "a"], 75),
            (&["signal", "a", "HUP"], 1),
        ] {
            let out = daemon.cli(args, DEADLINE);
            assert_eq!(
                out.status.code(),
                Some(code),
                "{args:?} while upgrading: {out:?}"
            );
            assert!(
                String::from_utf8_lossy(&out.stderr).contains("upgrading"),
                "{out:?}"
            );
        }
        let upgraded = upgrading.join().unwrap();
        assert_eq!(upgraded.status.code(), Some(1), "refused: {upgraded:?}");
        assert_eq!(stopping.join().unwrap().status.code(), Some(0));
    });
    let started = daemon.wait_any("upgrade_started");
    assert!(started["to"].is_string(), "{started}");
    let refused = daemon.wait_any("upgrade_refused");
    assert_eq!(
        refused["to"], started["to"],
        "the version it was going to: {refused}"
    );
    // Positive control: the same commands go through once the upgrade is over.
    assert_eq!(daemon.cli(&["reload"], DEADLINE).status.code(), Some(0));
    assert_eq!(
        daemon.cli(&["restart", "a"], DEADLINE).status.code(),
        Some(0)
    );
    let signal = daemon.cli(&["signal", "a", "HUP"], DEADLINE);
    assert_eq!(signal.status.code(), Some(0), "{signal:?}");
    assert_eq!(daemon.stop(), Some(0));
}

/// The daemon's tree but the daemon: its components and the guardian.
fn tree_below(daemon: &Daemon) -> Vec<u32> {
    descendants(daemon.pid())
        .iter()
        .filter(|p| p.state != 'Z' && p.pid != daemon.pid())
        .map(|p| p.pid)
        .collect()
}

/// Upgrades `daemon` (reach `reach`) to `binary`, or has it roll back when `binary` cannot
/// restore, and checks that the guardian was handed over: no second `guardian_started`, the
/// same guardian running, a component restarted afterwards born where the guardian reaches,
/// and (the positive control) a SIGKILL of the upgraded daemon taking the whole tree down
/// within one second.
fn the_guardian_is_handed_over(mut daemon: Daemon, reach: &str, binary: &Path, rolls_back: bool) {
    let guardian = daemon.wait_any("guardian_started");
    assert_eq!(guardian["reach"], reach, "{guardian}");
    let guardian = pid_of(&guardian);
    let pids = daemon.started_pids(&["a", "b"]);
    let out = upgrade(&daemon, binary);
    match rolls_back {
        false => {
            assert!(out.status.success(), "upgraded: {out:?}");
            daemon.wait_any("upgrade_completed");
        }
        true => {
            assert_eq!(out.status.code(), Some(1), "rolled back: {out:?}");
            daemon.wait_any("upgrade_rolled_back");
        }
    }
    // A component restarted by the new image: born where the guardian reaches.
    kill(pids[0], Signal::SIGKILL);
    let restarted = daemon.started_pid("a");
    assert_ne!(restarted, pids[0]);
    assert_eq!(daemon.count("guardian_started"), 1, "no second guardian");
    assert_eq!(
        daemon.count("guardian_exited"),
        0,
        "the guardian never ended"
    );
    assert!(alive(guardian), "the guardian handed over runs on");
    let tree = tree_below(&daemon);
    for pid in [guardian, restarted, pids[1]] {
        assert!(tree.contains(&pid), "{pid} is in the tree {tree:?}");
    }
    let _sweep = Sweep(tree.clone());
    kill(daemon.pid(), Signal::SIGKILL);
    eventually_within(
        "no process of the tree is left",
        std::time::Duration::from_secs(1),
        || tree.iter().all(|&pid| !alive(pid)),
    );
    assert_eq!(daemon.wait_exit(), None, "the daemon died by a signal");
}

/// With cgroup2 (reach `cgroup`): the upgraded daemon keeps the guardian.
fn an_upgrade_hands_the_guardian_over() {
    if testkit::skip::writable_cgroup2().is_none() {
        skip!("no writable cgroup2 hierarchy");
    }
    let daemon = Daemon::start(&registry(FAST, &[idle("a"), idle("b")].concat()));
    let copy = executable(daemon.path(), "supervisor-new", None);
    the_guardian_is_handed_over(daemon, "cgroup", &copy, false);
}

/// A rollback hands the guardian back to the old binary.
fn a_rollback_hands_the_guardian_back() {
    if testkit::skip::writable_cgroup2().is_none() {
        skip!("no writable cgroup2 hierarchy");
    }
    let daemon = Daemon::start(&registry(FAST, &[idle("a"), idle("b")].concat()));
    let (_, broken) = cannot_restore(daemon.path());
    the_guardian_is_handed_over(daemon, "cgroup", &broken, true);
}

/// Without cgroup2 (hidden under a tmpfs, reach `namespace`): the upgraded daemon keeps the
/// guardian and bears new children into its PID namespace.
fn an_upgrade_hands_the_guardian_and_its_pid_namespace_over() {
    let Some(mount) = testkit::skip::writable_cgroup2() else {
        skip!("needs root and a cgroup2 mount to hide");
    };
    testkit::skip::require_tool("unshare");
    let dir = tempfile::tempdir().expect("tempdir");
    let copy = executable(dir.path(), "supervisor-new", None);
    let xml = registry(FAST, &[idle("a"), idle("b")].concat());
    let daemon = start_without_cgroup2(dir, &xml, &mount);
    the_guardian_is_handed_over(daemon, "namespace", &copy, false);
}

/// `supervisor stop ID` under way in the background, once the daemon has sent its SIGTERM (a
/// component that ignores it keeps the tree from rest until its stop timeout).
fn slow_stop(daemon: &mut Daemon, id: &str) -> std::process::Child {
    let stop = cli_command(&daemon.registry, &daemon.run_dir(), &["stop", id])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("stop");
    daemon.wait_event("component_stopping", id);
    stop
}

/// A pipe kept open after its process exited (see output's test) holds no upgrade back: its
/// process's output is all delivered, and it is not handed over, so its holder's next write
/// finds it closed.
fn a_pipe_held_open_after_its_process_exited_holds_no_upgrade_back() {
    let servers = testkit::held::last_words("held") + &idle("a");
    let mut daemon = Daemon::start(&registry(FAST, &servers));
    let mut holder = testkit::held::hold_stdout_and_stop(&mut daemon, "held");
    // The control: the daemon still reads it before the upgrade.
    holder.write_all(b"before\n").expect("write");
    daemon.wait_for("the holder's line", |e| {
        e["event"] == "component_output" && e["line"] == "before"
    });
    let copy = executable(daemon.path(), "supervisor-new", None);
    let out = upgrade(&daemon, &copy);
    assert!(out.status.success(), "upgrade: {out:?}");
    daemon.wait_any("upgrade_completed");
    assert!(testkit::held::abandoned(&mut holder), "not handed over");
    assert_eq!(daemon.stop(), Some(0));
}

/// The same when the process exits while an upgrade holds the readers (the gate closed while a
/// stop keeps the tree from rest): its pipe is read empty and caught up all the same, and the
/// upgrade goes ahead once the stop is done.
fn a_pipe_held_open_by_a_process_that_exits_during_an_upgrade_holds_it_not_back() {
    let servers = testkit::held::last_words("held") + &killed_on_stop("slow", "");
    let mut daemon = Daemon::start(&registry(FAST, &servers));
    let [held, slow] = daemon.started_pids(&["held", "slow"])[..] else {
        unreachable!()
    };
    eventually("slow catches SIGTERM", || catches_sigterm(slow));
    let mut holder = testkit::held::hold_stdout(held);
    let copy = executable(daemon.path(), "supervisor-new", None);
    std::thread::scope(|scope| {
        let stopping = scope.spawn(|| daemon.cli(&["stop", "slow"], DEADLINE));
        eventually("slow is being stopped", || {
            !events_of(&daemon, "component_stopping", "slow").is_empty()
        });
        let upgrading = scope.spawn(|| upgrade(&daemon, &copy));
        eventually("the upgrade has begun", || {
            daemon.count("upgrade_started") == 1
        });
        kill(held, Signal::SIGKILL);
        let upgraded = upgrading.join().unwrap();
        assert!(upgraded.status.success(), "{upgraded:?}");
        assert!(stopping.join().unwrap().status.success());
    });
    daemon.wait_any("upgrade_completed");
    // Its process's output all delivered: the line under way went out as the last.
    let last = |e: &Value| e["component"] == "held" && e["line"] == testkit::held::LAST_WORDS;
    assert!(daemon.events().iter().any(last), "{:?}", daemon.names());
    // The control: held exited while the upgrade was under way.
    let names = daemon.names();
    let at = |event: &str| names.iter().position(|n| n == event);
    let exited = (daemon.events().iter())
        .position(|e| e["event"] == "component_exited" && e["component"] == "held");
    assert!(
        at("upgrade_started") < exited && exited < at("upgrade_completed"),
        "{names:?}"
    );
    assert!(testkit::held::abandoned(&mut holder), "not handed over");
    assert_eq!(daemon.stop(), Some(0));
}

/// A component its group does not restart stays exited (a `temporary` job that ran) or
/// failed: that is at rest, and the upgrade goes ahead; the job is still shown exited, with its
/// exit, by the new image (the upgrade was refused before: "the tree did not come to rest: job
/// is exited"). A component that is only on its way down still holds the upgrade back: the
/// positive control, a stop that takes a second, ends before `upgrade_completed`.
fn a_finished_temporary_component_does_not_hold_an_upgrade_back() {
    let job = r#"<server id="job"><executable>/bin/true</executable><restart>temporary</restart></server>"#;
    let broken = r#"<server id="broken"><executable>/nonexistent/program</executable><restart>temporary</restart></server>"#;
    let stubborn = standin_server(
        "stubborn",
        &["--ignore-term"],
        "<stopTimeout>1</stopTimeout>",
    );
    let mut daemon = Daemon::start(&registry(
        FAST,
        &[job, broken, &stubborn, &idle("idle")].concat(),
    ));
    let stubborn = daemon.started_pids(&["stubborn", "idle"])[0];
    eventually("stubborn ignores SIGTERM", || {
        procfs::catches_sigterm(stubborn)
    });
    let settled = |daemon: &Daemon| {
        let states: Vec<String> = (rows(daemon).into_iter())
            .filter(|row| row.0 == "job" || row.0 == "broken")
            .map(|row| row.1)
            .collect();
        states == ["exited", "failed"]
    };
    eventually("the job exited and the broken one failed", || {
        settled(&daemon)
    });
    let before = rows(&daemon);
    let copy = executable(daemon.path(), "supervisor-new", None);
    let stop = slow_stop(&mut daemon, "stubborn");
    let out = upgrade(&daemon, &copy);
    assert!(out.status.success(), "upgraded: {out:?}");
    // The CLI may answer before the event is read.
    daemon.wait_any("upgrade_completed");
    let events = daemon.events();
    let at = |event: &str, id: &str| {
        (events.iter())
            .position(|e| e["event"] == event && (id.is_empty() || e["component"] == id))
            .unwrap_or_else(|| panic!("no {event} {id}"))
    };
    let stopped = at("component_stopped", "stubborn");
    assert!(
        at("upgrade_started", "") < stopped && stopped < at("upgrade_completed", ""),
        "the stop under way held the upgrade back"
    );
    let after = rows(&daemon);
    for id in ["job", "broken", "idle"] {
        let row = |rows: &[(String, String, Option<u64>, u64)]| {
            rows.iter().find(|r| r.0 == id).cloned().expect("a row")
        };
        assert_eq!(row(&after), row(&before), "{id} across the upgrade");
    }
    assert!(stop.wait_with_output().expect("stop").status.success());
    assert_eq!(daemon.stop(), Some(0));
}

/// A process that prints and exits while an upgrade waits for the tree to come to rest (its
/// output readers stopped at the hand-over's gate, the stop of a component that ignores
/// SIGTERM holding the tree for a second) has every line logged all the same, once.
fn the_lines_of_a_process_that_exits_while_an_upgrade_waits_are_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let go = dir.path().join("go");
    let stubborn = standin_server(
        "stubborn",
        &["--ignore-term"],
        "<stopTimeout>1</stopTimeout>",
    );
    let script = format!(
        "while [ ! -e {} ]; do sleep 0.01; done; seq 1 3000; exit 0",
        go.display()
    );
    let last = format!(
        "<server id=\"last\"><executable>/bin/sh</executable><arguments><argument>-c</argument>\
         <argument>{}</argument></arguments><restart>temporary</restart>\
         <output stderr=\"null\"/></server>",
        xml_escape(&script)
    );
    let mut daemon = Daemon::start_in(dir, &registry(FAST, &(stubborn + &last)));
    let pids = daemon.started_pids(&["stubborn", "last"]);
    eventually("stubborn ignores SIGTERM", || {
        procfs::catches_sigterm(pids[0])
    });
    let stop = slow_stop(&mut daemon, "stubborn");
    daemon.signal(Signal::SIGUSR2);
    daemon.wait_any("upgrade_started");
    // Inside the window: the gate closes within milliseconds of `upgrade_started`, and the
    // stop keeps the tree from rest for a second.
    std::thread::sleep(std::time::Duration::from_millis(100));
    std::fs::write(&go, "").expect("go");
    daemon.wait_any("upgrade_completed");
    let events = daemon.events();
    let at = |event: &str, id: &str| {
        let found = events
            .iter()
            .position(|e| e["event"] == event && (id.is_empty() || e["component"] == id));
        found.unwrap_or_else(|| panic!("no {event} of {id:?}"))
    };
    assert!(
        at("component_exited", "last") < at("upgrade_completed", ""),
        "`last` exited while the upgrade waited"
    );
    let logged = |events: &[Value]| -> Vec<String> {
        (events.iter())
            .filter(|e| e["event"] == "component_output" && e["component"] == "last")
            .filter(|e| e["pid"].as_u64() == Some(u64::from(pids[1])))
            .filter_map(|e| Some(e["line"].as_str()?.to_string()))
            .collect()
    };
    let expected: Vec<String> = (1..=3000).map(|i| i.to_string()).collect();
    eventually("every line of `last` is logged", || {
        logged(&daemon.events()).len() >= expected.len()
    });
    assert_eq!(logged(&daemon.events()), expected);
    assert!(stop.wait_with_output().expect("stop").status.success());
    assert_eq!(daemon.stop(), Some(0));
}

pub const TESTS: &[testkit::harness::Test] = testkit::tests![
    commands_that_change_the_tree_are_busy_while_it_is_handed_over,
    upgrade_keeps_every_component_and_the_daemon_pid,
    upgrade_refuses_what_it_cannot_run_and_changes_nothing,
    a_binary_that_cannot_restore_rolls_back_to_the_old_one,
    an_upgrade_hands_the_guardian_over,
    a_rollback_hands_the_guardian_back,
    an_upgrade_hands_the_guardian_and_its_pid_namespace_over,
    a_finished_temporary_component_does_not_hold_an_upgrade_back,
    a_pipe_held_open_after_its_process_exited_holds_no_upgrade_back,
    a_pipe_held_open_by_a_process_that_exits_during_an_upgrade_holds_it_not_back,
    the_lines_of_a_process_that_exits_while_an_upgrade_waits_are_kept,
];
