//! Events that collide (issue 11's reproductions), on the real binary with real processes:
//! operator commands, reloads and shutdowns arriving in the middle of restarts and stops, each
//! asserting the right outcome and, beside every absence, a positive control.

use std::process::Output;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde_json::Value;
use testkit::*;

fn cli(daemon: &Daemon, args: &[&str]) -> Output {
    cli_command(&daemon.registry, &daemon.path().join("run"), args)
        .output()
        .expect("run the supervisor CLI")
}

fn rewrite(daemon: &Daemon, xml: &str) {
    std::fs::write(&daemon.registry, xml).expect("rewrite the registry");
}

fn reload(daemon: &mut Daemon) -> Value {
    daemon.signal(Signal::SIGHUP);
    daemon.wait_any("config_reloaded")
}

/// The pid of a start of `id` other than `old`, if there has been one.
fn started_anew(daemon: &Daemon, id: &str, old: u32) -> Option<u32> {
    (events_of(daemon, "component_started", id).iter())
        .map(pid_of)
        .find(|&pid| pid != old)
}

/// Registries that move `s2` (among idle `a` and `b`) out of group `g1` to the root.
fn s2_out_of_g1(s2: &str) -> (String, String) {
    let (a, b) = (idle("a"), idle("b"));
    let before = registry(FAST, &format!("{a}<group id=\"g1\">{s2}{b}</group>"));
    let after = registry(FAST, &format!("{a}{s2}<group id=\"g1\">{b}</group>"));
    (before, after)
}

fn ids(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|ids| {
            ids.iter()
                .map(|id| id.as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Reproduction 1: A `one_for_all` restart waits out its first level's `startDelay`; the operator stops a
/// child of a later level meanwhile: the restart completes without it, and it stays stopped
/// until the operator starts it.
fn an_operator_stop_during_a_group_restart_is_kept() {
    let group = format!(
        r#"<group id="g"><restartStrategy type="one_for_all" intensity="50" period="10"/>{}{}</group>"#,
        standin_server(
            "a",
            &[],
            &format!("{NO_BACKOFF}<startPriority>1</startPriority><startDelay>1</startDelay>")
        ),
        standin_server(
            "c",
            &[],
            &format!("{NO_BACKOFF}<startPriority>2</startPriority>")
        ),
    );
    let mut daemon = Daemon::start(&registry("", &group));
    let [a, _c] = daemon.started_pids(&["a", "c"])[..] else {
        unreachable!()
    };
    kill(a, Signal::SIGKILL);
    daemon.wait_event("component_stopped", "c");
    let a2 = daemon.started_pid("a");
    // a is in its start delay: the restart has not reached c's level yet.
    let stop = cli(&daemon, &["stop", "c"]);
    assert_eq!(stop.status.code(), Some(0), "{stop:?}");
    eventually("a has started (its delay elapsed)", || {
        daemon.status_row("a")["state"] == "running"
    });
    assert_eq!(daemon.status_row("a")["pid"], a2);
    // The restart is over; c was not started by it.
    assert_eq!(daemon.status_row("c")["state"], "stopped");
    assert_eq!(events_of(&daemon, "component_started", "c").len(), 1);
    // A later automatic restart does not start it either.
    kill(a2, Signal::SIGKILL);
    let a3 = daemon.started_pid("a");
    eventually("a runs again", || {
        daemon.status_row("a")["state"] == "running"
    });
    assert_eq!(daemon.status_row("a")["pid"], a3);
    assert_eq!(daemon.status_row("c")["state"], "stopped");
    // Positive control: the operator's start does.
    let start = cli(&daemon, &["start", "c"]);
    assert_eq!(start.status.code(), Some(0), "{start:?}");
    assert_eq!(daemon.status_row("c")["state"], "running");
    assert_eq!(events_of(&daemon, "component_started", "c").len(), 2);
}

/// Reproduction 2: A child that can never be spawned counts toward its group's intensity: the group gives
/// up and escalates instead of restarting its healthy sibling for ever.
fn a_child_that_never_spawns_makes_its_group_give_up() {
    let group = format!(
        r#"<group id="g"><restartStrategy type="one_for_all" intensity="2" period="30"/>{}<server id="broken"><executable>/nonexistent/x</executable>{NO_BACKOFF}</server></group>"#,
        idle("healthy"),
    );
    let mut daemon = Daemon::start(&registry("", &group));
    let exceeded = daemon.wait_for("the group gives up", |e| {
        e["event"] == "intensity_exceeded" && e["group"] == "g"
    });
    let before: Vec<Value> = daemon
        .events()
        .into_iter()
        .take_while(|e| e != &exceeded)
        .collect();
    let started = |id: &str| {
        before
            .iter()
            .filter(|e| e["event"] == "component_started" && e["component"] == id)
            .count()
    };
    let failed = before
        .iter()
        .filter(|e| e["event"] == "component_spawn_failed" && e["component"] == "broken")
        .count();
    assert_eq!(
        failed, 3,
        "the first failure and two restarts, then give-up"
    );
    assert_eq!(started("healthy"), 3, "started once, restarted twice");
    // The root (no <restartStrategy>: never gives up) restarts the group: escalation.
    let restart = daemon.wait_for("the root restarts g", |e| {
        e["event"] == "restart_scheduled" && e["component"] == "g"
    });
    assert_eq!(restart["reason"], "escalation");
    daemon.wait_event("component_started", "healthy");
}

/// Reproduction 3: SIGHUP during a shutdown cancels nothing: the shutdown completes.
fn a_reload_during_a_shutdown_does_not_cancel_it() {
    let stubborn = standin_server(
        "stubborn",
        &["--ignore-term"],
        "<stopTimeout>1.5</stopTimeout>",
    );
    let servers = [idle("first"), stubborn].concat();
    let mut daemon = Daemon::start(&registry(FAST, &servers));
    let pid = daemon.started_pid("stubborn");
    eventually("stubborn ignores SIGTERM", || catches_sigterm(pid));
    daemon.signal(Signal::SIGTERM);
    daemon.wait_event("component_stopping", "stubborn");
    daemon.signal(Signal::SIGHUP);
    // The stop goes on: the timeout runs out, the kill comes, the daemon exits in order.
    daemon.wait_event("component_killed", "stubborn");
    assert_eq!(daemon.wait_exit(), Some(0));
    assert_eq!(events_of(&daemon, "component_stopped", "first").len(), 1);
    assert_eq!(daemon.count("config_reloaded"), 0);
    let refused = &daemon
        .events()
        .into_iter()
        .find(|e| e["event"] == "config_rejected")
        .expect("the reload is refused");
    assert!(
        refused["error"].as_str().unwrap().contains("shutting down"),
        "{refused}"
    );
}

/// Reproduction 4: A reload that restarts a slow-to-stop component holds nothing: `status` answers at once
/// and a sibling killed meanwhile is restarted at once.
fn a_reload_restart_holds_no_mailbox() {
    let slow = |argument: &str| {
        standin_server(
            "slow",
            &["--ignore-term", "--tick-ms", argument],
            &format!("{NO_BACKOFF}<stopTimeout>15</stopTimeout>"),
        )
    };
    let xml = |tick: &str| registry(FAST, &[slow(tick), idle("sibling")].concat());
    let mut daemon = Daemon::start(&xml("1000"));
    let [slow_pid, sibling] = daemon.started_pids(&["slow", "sibling"])[..] else {
        unreachable!()
    };
    eventually("slow ignores SIGTERM", || catches_sigterm(slow_pid));
    rewrite(&daemon, &xml("2000"));
    let reloaded = reload(&mut daemon);
    assert_eq!(ids(&reloaded["changed"]), ["slow"]);
    eventually("slow is being stopped", || {
        !events_of(&daemon, "component_stopping", "slow").is_empty()
    });
    let asked = Instant::now();
    assert_eq!(daemon.status_row("slow")["state"], "stopping");
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "status took {:?}",
        asked.elapsed()
    );
    kill(sibling, Signal::SIGKILL);
    let restarted = daemon.started_pid("sibling");
    assert_ne!(restarted, sibling);
    assert!(
        asked.elapsed() < Duration::from_secs(3),
        "the sibling came back {:?} after the kill",
        asked.elapsed()
    );
    assert!(alive(slow_pid), "slow is still stopping (15 s timeout)");
}

/// Reproduction 6: A component the operator stopped stays stopped through a reload that changes it; the
/// same change restarts a component that runs (positive control).
fn a_reload_keeps_an_operator_stop() {
    let xml = |argument: &str| {
        registry(
            FAST,
            &[
                standin_server("held", &["--tick-ms", argument], NO_BACKOFF),
                standin_server("live", &["--tick-ms", argument], NO_BACKOFF),
            ]
            .concat(),
        )
    };
    let mut daemon = Daemon::start(&xml("1000"));
    let [_, live] = daemon.started_pids(&["held", "live"])[..] else {
        unreachable!()
    };
    assert_eq!(cli(&daemon, &["stop", "held"]).status.code(), Some(0));
    rewrite(&daemon, &xml("2000"));
    let reloaded = reload(&mut daemon);
    let mut changed = ids(&reloaded["changed"]);
    changed.sort();
    assert_eq!(changed, ["held", "live"]);
    let live2 = daemon.started_pid("live");
    assert_ne!(live, live2);
    assert_eq!(daemon.status_row("held")["state"], "stopped");
    assert_eq!(events_of(&daemon, "component_started", "held").len(), 1);
    // The operator's start uses the new settings.
    assert_eq!(cli(&daemon, &["start", "held"]).status.code(), Some(0));
    let held = daemon.status_row("held")["pid"].as_u64().expect("pid") as u32;
    assert!(
        proc_cmdline(held).contains("2000"),
        "{}",
        proc_cmdline(held)
    );
}

/// Reproduction 7: A changed `<description>` (and other settings the process does not see) applies in place:
/// same pid, reported `updated`; a changed argument restarts (positive control).
fn settings_the_process_does_not_see_apply_in_place() {
    let xml = |description: &str, tick: &str| {
        let settings = format!(
            "{NO_BACKOFF}<description>{description}</description><stopTimeout>{tick}</stopTimeout>"
        );
        registry(
            FAST,
            &[
                standin_server("quiet", &[], &settings),
                standin_server("loud", &["--tick-ms", tick], NO_BACKOFF),
            ]
            .concat(),
        )
    };
    let mut daemon = Daemon::start(&xml("old", "1"));
    let [quiet, loud] = daemon.started_pids(&["quiet", "loud"])[..] else {
        unreachable!()
    };
    rewrite(&daemon, &xml("new", "2"));
    let reloaded = reload(&mut daemon);
    assert_eq!(ids(&reloaded["updated"]), ["quiet"], "{reloaded}");
    assert_eq!(ids(&reloaded["changed"]), ["loud"], "{reloaded}");
    assert_ne!(daemon.started_pid("loud"), loud);
    let row = daemon.status_row("quiet");
    assert_eq!(row["pid"], quiet);
    assert_eq!(row["description"], "new");
    assert_eq!(events_of(&daemon, "component_started", "quiet").len(), 1);
}

/// A reload that turns `autostart` on starts the component that is down (the daemon is not ready
/// while it is: SPEC counts it among the wanted ones); one an operator started already is left
/// running, not restarted (the control).
fn a_reload_that_turns_autostart_on_starts_what_is_down() {
    let xml = |autostart: &str| {
        let off = format!("{NO_BACKOFF}<autostart>{autostart}</autostart>");
        registry(
            FAST,
            &[
                standin_server("lazy", &[], &off),
                standin_server("manual", &[], &off),
                idle("a"),
            ]
            .concat(),
        )
    };
    let mut daemon = Daemon::start(&xml("false"));
    daemon.started_pid("a");
    assert_eq!(cli(&daemon, &["start", "manual"]).status.code(), Some(0));
    let manual = daemon.started_pid("manual");
    rewrite(&daemon, &xml("true"));
    let reloaded = reload(&mut daemon);
    assert_eq!(ids(&reloaded["updated"]), ["lazy", "manual"], "{reloaded}");
    // Its start may be logged before the reload's report.
    eventually("lazy starts", || {
        !events_of(&daemon, "component_started", "lazy").is_empty()
    });
    let lazy = pid_of(&events_of(&daemon, "component_started", "lazy")[0]);
    assert!(alive(lazy));
    assert_eq!(daemon.status_row("manual")["pid"], manual, "left running");
    assert_eq!(events_of(&daemon, "component_started", "manual").len(), 1);
    assert_eq!(events_of(&daemon, "component_started", "lazy").len(), 1);
    assert_eq!(daemon.stop(), Some(0));
}

/// A reload that moves a component to another group stops it in its old place, then starts it
/// in its new one, never both at once (each group applies its own part); the two share the id
/// and so the cgroup: the old one's end must not kill the new one (its `cgroup.kill` once did,
/// counted as a crash and a restart).
fn a_component_moved_to_another_group_is_not_killed_by_its_old_self() {
    // s2 takes 0.3 s to stop (killed by its timeout): the two steps are really apart.
    let (before, after) = s2_out_of_g1(&killed_on_stop("s2", ""));
    let mut daemon = Daemon::start(&before);
    let old = daemon.started_pids(&["a", "s2", "b"])[1];
    eventually("s2 catches SIGTERM", || catches_sigterm(old));
    rewrite(&daemon, &after);
    reload(&mut daemon);
    eventually("the old s2 is gone and a new one runs", || {
        !alive(old) && events_of(&daemon, "component_started", "s2").len() == 2
    });
    let new = pid_of(&events_of(&daemon, "component_started", "s2")[1]);
    // Logged before or after the reload's report.
    let old_stopped = |e: &Value| e["event"] == "component_stopped" && e["pid"] == old;
    eventually("the old one's stop", || {
        daemon.events().iter().any(old_stopped)
    });
    let events = daemon.events();
    let at = |matches: &dyn Fn(&Value) -> bool| events.iter().position(matches);
    let stopped = at(&|e| e["event"] == "component_stopped" && e["pid"] == old);
    let started = at(&|e| e["event"] == "component_started" && e["pid"] == new);
    assert!(
        stopped < started,
        "stopped at {stopped:?}, the new one started at {started:?}"
    );
    let reloaded = at(&|e| e["event"] == "config_reloaded").map(|i| &events[i]);
    let reloaded = reloaded.expect("config_reloaded");
    assert_eq!(
        (&reloaded["added"], &reloaded["removed"]),
        (&serde_json::json!(["s2"]), &serde_json::json!(["s2"])),
        "{reloaded}"
    );
    assert!(alive(new), "the new s2 runs on");
    let row = daemon.status_row("s2");
    assert_eq!(
        (row["pid"].as_u64(), &row["restarts"]),
        (Some(u64::from(new)), &Value::from(0))
    );
    assert!(
        events_of(&daemon, "component_exited", "s2").is_empty(),
        "no crash: {:?}",
        events_of(&daemon, "component_exited", "s2")
    );
    assert_eq!(daemon.stop(), Some(0));
}

/// A shutdown between the two steps of a reload that moves a component (its old place still
/// stopping it) ends the daemon in order: the second step is not made, nothing is left running,
/// no exit is a crash.
fn a_shutdown_between_the_two_steps_of_a_move_ends_in_order() {
    let (before, after) = s2_out_of_g1(&killed_on_stop("s2", ""));
    let mut daemon = Daemon::start(&before);
    let pids = daemon.started_pids(&["a", "s2", "b"]);
    eventually("s2 catches SIGTERM", || catches_sigterm(pids[1]));
    rewrite(&daemon, &after);
    daemon.signal(Signal::SIGHUP);
    // The control: the move has begun (its first step stops the old s2).
    daemon.wait_event("component_stopping", "s2");
    daemon.signal(Signal::SIGTERM);
    assert_eq!(daemon.wait_exit(), Some(0));
    assert!(pids.iter().all(|&pid| !alive(pid)), "nothing left");
    let started = events_of(&daemon, "component_started", "s2");
    assert_eq!(started.len(), 1, "not started again: {started:?}");
    assert!(events_of(&daemon, "component_exited", "s2").is_empty());
}

/// A reload that restarts a component its start level is still waiting for (its readiness not
/// passed yet) keeps the level waiting: the next level starts once the new process is ready,
/// not when it is spawned.
fn a_reload_during_a_waiting_start_level_keeps_the_level_order() {
    let port = free_port();
    let xml = |tag: &str| {
        let readiness = format!(
            r#"<readiness tcp="127.0.0.1:{port}" interval="0.05" timeout="30"/><startPriority>1</startPriority>"#
        );
        let args = [
            "--port",
            &port.to_string(),
            "--listen-after",
            "1",
            "--name",
            tag,
        ];
        let first = standin_server("w", &args, &readiness);
        let second = standin_server("x", &[], "<startPriority>2</startPriority>");
        registry(FAST, &format!("{first}{second}"))
    };
    let mut daemon = Daemon::start(&xml("one"));
    let old = daemon.started_pid("w");
    rewrite(&daemon, &xml("two"));
    reload(&mut daemon);
    let x_started = || !events_of(&daemon, "component_started", "x").is_empty();
    let ready = |pid: u32| {
        let ready = |e: &Value| e["event"] == "component_ready" && e["pid"] == pid;
        daemon.events().iter().any(ready)
    };
    assert!(
        !ready(old) && !x_started(),
        "the reload came while the level waited"
    );
    eventually("x starts", || {
        !events_of(&daemon, "component_started", "x").is_empty()
    });
    let events = daemon.events();
    let new = started_anew(&daemon, "w", old).expect("a new w");
    let at = |matches: &dyn Fn(&Value) -> bool| events.iter().position(matches);
    let ready = at(&|e| e["event"] == "component_ready" && e["pid"] == new);
    let x = at(&|e| e["event"] == "component_started" && e["component"] == "x");
    assert!(
        ready.is_some() && ready < x,
        "the new w ready at {ready:?}, x started at {x:?}"
    );
    assert_eq!(daemon.stop(), Some(0));
}

/// `w` at start priority 1, ready once its port opens 0.5 s after it starts, and `x` at
/// priority 2; `tag` is in both command lines (a new tag changes both).
fn two_levels(port: u16, tag: &str) -> String {
    let readiness = format!(
        r#"<readiness tcp="127.0.0.1:{port}" interval="0.05" timeout="30"/><startPriority>1</startPriority>"#
    );
    let port = port.to_string();
    let args = ["--port", &port, "--listen-after", "0.5", "--name", tag];
    let first = standin_server("w", &args, &readiness);
    let second = standin_server("x", &["--name", tag], "<startPriority>2</startPriority>");
    registry(FAST, &format!("{first}{second}"))
}

/// An operator stop of `x` while a reload's level-by-level restart waits for the new `w` to be
/// ready: the restart completes without `x`, which stays stopped; `w` is ready (the control).
fn an_operator_stop_during_a_reload_across_levels_is_kept() {
    let port = free_port();
    let mut daemon = Daemon::start(&two_levels(port, "one"));
    let (old_w, old_x) = (daemon.started_pid("w"), daemon.started_pid("x"));
    rewrite(&daemon, &two_levels(port, "two"));
    let mut reloading = cli_command(&daemon.registry, &daemon.path().join("run"), &["reload"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run `reload`");
    let started = |id: &str, old: u32| started_anew(&daemon, id, old);
    eventually("the new w starts", || started("w", old_w).is_some());
    let new_w = started("w", old_w).expect("a new w");
    let ready = || {
        let ready = |e: &Value| e["event"] == "component_ready" && e["pid"] == new_w;
        daemon.events().iter().any(ready)
    };
    assert!(!ready(), "the stop comes while the restart waits for w");
    assert_eq!(cli(&daemon, &["stop", "x"]).status.code(), Some(0));
    let deadline = Instant::now() + Duration::from_secs(20);
    let answered = loop {
        if let Some(status) = reloading.try_wait().expect("wait for `reload`") {
            break status;
        }
        assert!(Instant::now() < deadline, "`reload` answers");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(ready(), "w is ready once `reload` has answered");
    assert_eq!(answered.code(), Some(0), "`reload` exits 0");
    assert_eq!(started("x", old_x), None, "x was not started again");
    assert_eq!(daemon.status_row("x")["state"], "stopped");
    // And the operator can start it again.
    assert_eq!(cli(&daemon, &["start", "x"]).status.code(), Some(0));
    assert!(started("x", old_x).is_some());
    assert_eq!(daemon.stop(), Some(0));
}

/// A shutdown while a reload's level-by-level restart waits for the new `w` to be ready ends
/// in order: the daemon exits 0, nothing is left, and `x` is not started again (the control:
/// the new `w` had started).
fn a_shutdown_during_a_reload_across_levels_ends_in_order() {
    let port = free_port();
    let mut daemon = Daemon::start(&two_levels(port, "one"));
    let (old_w, old_x) = (daemon.started_pid("w"), daemon.started_pid("x"));
    rewrite(&daemon, &two_levels(port, "two"));
    reload(&mut daemon);
    eventually("the new w starts", || {
        started_anew(&daemon, "w", old_w).is_some()
    });
    let new_w = started_anew(&daemon, "w", old_w).expect("a new w");
    daemon.signal(Signal::SIGTERM);
    assert_eq!(daemon.wait_exit(), Some(0));
    let ready = |e: &Value| e["event"] == "component_ready" && e["pid"] == new_w;
    assert!(
        !daemon.events().iter().any(ready),
        "the shutdown came while the restart waited for w"
    );
    assert_eq!(
        started_anew(&daemon, "x", old_x),
        None,
        "x not started again"
    );
    assert!(
        [old_w, old_x, new_w].iter().all(|&pid| !alive(pid)),
        "nothing left"
    );
}

/// A crash of the new `w` while a reload's level-by-level restart waits for it to be ready:
/// the restart starts it again and waits on, so the new `x` starts only once a `w` is ready
/// (the one after the crash), and the crash counts as one.
fn a_crash_during_a_reload_across_levels_keeps_the_level_waiting() {
    let port = free_port();
    let mut daemon = Daemon::start(&two_levels(port, "one"));
    let (old_w, old_x) = (daemon.started_pid("w"), daemon.started_pid("x"));
    rewrite(&daemon, &two_levels(port, "two"));
    reload(&mut daemon);
    eventually("the new w starts", || {
        started_anew(&daemon, "w", old_w).is_some()
    });
    let new_w = started_anew(&daemon, "w", old_w).expect("a new w");
    let ready = |pid: u32| {
        let ready = |e: &Value| e["event"] == "component_ready" && e["pid"] == pid;
        daemon.events().iter().position(ready)
    };
    assert_eq!(
        ready(new_w),
        None,
        "the crash comes while the restart waits for w"
    );
    kill(new_w, Signal::SIGKILL);
    let third = || {
        (events_of(&daemon, "component_started", "w").iter())
            .map(pid_of)
            .find(|&pid| pid != old_w && pid != new_w)
    };
    eventually("w starts again", || third().is_some());
    eventually("the new x starts", || {
        started_anew(&daemon, "x", old_x).is_some()
    });
    let third = third().expect("a third w");
    let new_x = started_anew(&daemon, "x", old_x).expect("a new x");
    let events = daemon.events();
    let at = |event: &str, pid: u32| {
        events
            .iter()
            .position(|e| e["event"] == event && e["pid"] == pid)
    };
    let (w_ready, x_started) = (at("component_ready", third), at("component_started", new_x));
    assert!(
        w_ready.is_some() && w_ready < x_started,
        "the third w ready at {w_ready:?}, x started at {x_started:?}"
    );
    assert_eq!(daemon.status_row("w")["restarts"], 1, "the crash counts");
    assert_eq!(daemon.stop(), Some(0));
}

/// A reload that changes components of two start levels restarts them level by level, as the
/// group's start does: `x` (priority 2) stops before `w` (priority 1) is stopped, and the new
/// `x` starts only once the new `w` is ready (its port open after 0.5 s).
fn a_reload_across_start_levels_restarts_them_in_order() {
    let port = free_port();
    let mut daemon = Daemon::start(&two_levels(port, "one"));
    let (old_w, old_x) = (daemon.started_pid("w"), daemon.started_pid("x"));
    rewrite(&daemon, &two_levels(port, "two"));
    let reloaded = reload(&mut daemon);
    assert_eq!(ids(&reloaded["changed"]), ["w", "x"]);
    eventually("the new x starts", || {
        started_anew(&daemon, "x", old_x).is_some()
    });
    let events = daemon.events();
    let at = |matches: &dyn Fn(&Value) -> bool| events.iter().position(matches);
    let of =
        |event: &'static str, pid: u32| move |e: &Value| e["event"] == event && e["pid"] == pid;
    let x_stopped = at(&of("component_stopped", old_x));
    let w_stopping = at(&of("component_stopping", old_w));
    assert!(
        x_stopped.is_some() && x_stopped < w_stopping,
        "x stopped at {x_stopped:?}, w told to stop at {w_stopping:?}"
    );
    let new_w = started_anew(&daemon, "w", old_w).expect("a new w");
    let w_ready = at(&of("component_ready", new_w));
    let x_starting = (events.iter().enumerate())
        .filter(|(_, e)| e["event"] == "component_starting" && e["component"] == "x")
        .map(|(at, _)| at)
        .nth(1);
    assert!(
        w_ready.is_some() && w_ready < x_starting,
        "the new w ready at {w_ready:?}, the new x starting at {x_starting:?}"
    );
    let crashed = |e: &&Value| e["event"] == "component_exited" && e["expected"] == false;
    assert_eq!(events.iter().filter(crashed).count(), 0, "nothing crashed");
    assert_eq!(daemon.stop(), Some(0));
}

/// Reproduction 8: `restarts` counts automatic restarts only: an operator restart and a reload restart do
/// not count, a crash does.
fn restarts_count_automatic_restarts_only() {
    let xml = |tick: &str| registry(FAST, &standin_server("a", &["--tick-ms", tick], NO_BACKOFF));
    let mut daemon = Daemon::start(&xml("1000"));
    let pid = daemon.started_pid("a");
    assert_eq!(cli(&daemon, &["restart", "a"]).status.code(), Some(0));
    rewrite(&daemon, &xml("2000"));
    reload(&mut daemon);
    let pid3 = daemon.started_pid("a");
    assert_ne!(pid, pid3);
    eventually("a runs", || daemon.status_row("a")["state"] == "running");
    assert_eq!(daemon.status_row("a")["restarts"], 0);
    kill(pid3, Signal::SIGKILL);
    daemon.started_pid("a");
    eventually("a's crash is counted", || {
        daemon.status_row("a")["restarts"] == 1
    });
}

/// Reproduction 9: Any u32 intensity is accepted, and such a group restarts on.
fn intensity_takes_any_u32() {
    let crashes = |intensity: &str| {
        let head =
            format!(r#"<restartStrategy type="one_for_one" intensity="{intensity}" period="30"/>"#);
        let mut daemon = Daemon::start(&registry(&head, &idle("a")));
        for _ in 0..3 {
            let pid = daemon.started_pid("a");
            kill(pid, Signal::SIGKILL);
        }
        daemon
    };
    let mut daemon = crashes("4294967295");
    daemon.started_pid("a");
    assert_eq!(daemon.count("intensity_exceeded"), 0);
    assert_eq!(daemon.stop(), Some(0));
    // Positive control: the same three crashes exceed an intensity of 2.
    let mut strict = crashes("2");
    strict.wait_any("intensity_exceeded");
    assert_eq!(strict.wait_exit(), Some(4));
}

// Reproduction 10 (by default one crash loop never stops the others) and the shipped registry
// are `registry_reads::a_root_without_restart_strategy_never_gives_up` and
// `registry_reads::the_shipped_registry_checks_with_a_root_that_never_gives_up`.

/// The tests of this module, for the integration runner.
pub const TESTS: &[testkit::harness::Test] = testkit::tests![
    an_operator_stop_during_a_group_restart_is_kept,
    a_child_that_never_spawns_makes_its_group_give_up,
    a_reload_during_a_shutdown_does_not_cancel_it,
    a_reload_restart_holds_no_mailbox,
    a_reload_keeps_an_operator_stop,
    settings_the_process_does_not_see_apply_in_place,
    a_reload_that_turns_autostart_on_starts_what_is_down,
    a_component_moved_to_another_group_is_not_killed_by_its_old_self,
    a_reload_during_a_waiting_start_level_keeps_the_level_order,
    a_reload_across_start_levels_restarts_them_in_order,
    an_operator_stop_during_a_reload_across_levels_is_kept,
    a_shutdown_during_a_reload_across_levels_ends_in_order,
    a_crash_during_a_reload_across_levels_keeps_the_level_waiting,
    a_shutdown_between_the_two_steps_of_a_move_ends_in_order,
    restarts_count_automatic_restarts_only,
    intensity_takes_any_u32,
];
