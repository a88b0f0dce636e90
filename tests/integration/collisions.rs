//! Interleavings the other modules leave out, on the real binary with real processes: operator
//! commands and a second reload in the middle of a reload that moves a component, a crash
//! between the two signals of a forced shutdown, a reload during the retries of an unknown
//! `<user>`, and a restart while an escaped descendant holds the component's output pipe. Each
//! absence is asserted beside a positive control.

use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::Value;
use testkit::*;

fn rewrite(daemon: &Daemon, xml: &str) {
    std::fs::write(&daemon.registry, xml).expect("rewrite the registry");
}

/// The ids of a `config_reloaded` list field.
fn ids(value: &Value) -> Vec<String> {
    let ids = value.as_array().map(Vec::as_slice).unwrap_or_default();
    ids.iter()
        .map(|id| id.as_str().unwrap_or_default().to_string())
        .collect()
}

/// Where an event matching `matches` sits in `events`.
fn at(events: &[Value], matches: impl Fn(&Value) -> bool) -> Option<usize> {
    events.iter().position(matches)
}

// ---------------------------------------------------------------------------
// 1. A reload that moves a component, and what arrives while its old place stops it

/// A `<server>` whose shell takes 1 s to stop: it traps SIGTERM, sleeps, then exits 0 (an
/// orderly stop, never a kill). `tag` is in its command line (another tag: a changed component).
fn slow_to_stop(id: &str, tag: &str) -> String {
    let script = format!("trap 'sleep 1; exit 0' TERM; : {tag}; sleep 1000 & wait");
    format!(
        "<server id=\"{id}\"><executable>/bin/sh</executable><arguments><argument>-c</argument>\
         <argument>{}</argument></arguments>{NO_BACKOFF}<stopTimeout>10</stopTimeout></server>",
        xml_escape(&script)
    )
}

/// The registries' head: [`FAST`], and debug lines (`control_request` says when a command
/// has arrived).
const MOVE_HEAD: &str = concat!(
    "<config><tracelevel>3</tracelevel></config>",
    r#"<restartStrategy type="one_for_one" intensity="50" period="10"/>"#
);

/// `a`, then `s2` and `b` in group `g1`; `s2` tagged `tag`.
fn before_the_move(tag: &str) -> String {
    let (a, s2, b) = (idle("a"), slow_to_stop("s2", tag), idle("b"));
    registry(MOVE_HEAD, &format!("{a}<group id=\"g1\">{s2}{b}</group>"))
}

/// [`before_the_move`] with `s2` moved out of `g1` to the root.
fn after_the_move(tag: &str) -> String {
    let (a, s2, b) = (idle("a"), slow_to_stop("s2", tag), idle("b"));
    registry(MOVE_HEAD, &format!("{a}{s2}<group id=\"g1\">{b}</group>"))
}

/// Starts a daemon on [`before_the_move`], rewrites the registry to [`after_the_move`] and
/// sends SIGHUP; returns once the move's first step is stopping the old `s2` (its pid too).
fn moving() -> (Daemon, u32) {
    moving_between(&before_the_move("v1"), &after_the_move("v1"))
}

/// [`moving`] from `before` to `after`, which move `s2` (among `a`, `s2` and `b`).
fn moving_between(before: &str, after: &str) -> (Daemon, u32) {
    let mut daemon = Daemon::start(before);
    let old = daemon.started_pids(&["a", "s2", "b"])[1];
    eventually("the old s2 traps SIGTERM", || catches_sigterm(old));
    rewrite(&daemon, after);
    daemon.signal(Signal::SIGHUP);
    let stopping = daemon.wait_event("component_stopping", "s2");
    assert_eq!(stopping["pid"], old, "the move's first step has begun");
    (daemon, old)
}

/// The pids of every `s2` process started so far.
fn s2_pids(daemon: &Daemon) -> Vec<u32> {
    events_of(daemon, "component_started", "s2")
        .iter()
        .map(pid_of)
        .collect()
}

/// Runs `stop s2` without waiting for its answer; returns once the daemon has its request.
fn stop_s2_in_the_background(daemon: &mut Daemon) -> std::process::Child {
    in_the_background(daemon, &["stop", "s2"])
}

/// Runs the CLI verb `args` without waiting for its answer; returns once the daemon has its
/// request, and checks that it came while the old `s2` of a move still stopped.
fn in_the_background(daemon: &mut Daemon, args: &[&str]) -> std::process::Child {
    let run = daemon.path().join("run");
    let child = cli_command(&daemon.registry, &run, args)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("run {args:?}: {e}"));
    let verb = args[0];
    daemon.wait_for(&format!("the {verb} request"), |e| {
        e["event"] == "control_request" && e["request"]["command"] == verb
    });
    let stopped = daemon
        .events()
        .iter()
        .any(|e| e["event"] == "component_stopped" && e["component"] == "s2");
    assert!(!stopped, "{verb} came during the move");
    child
}

/// Checks what every outcome of a move shares: the old `s2` stopped in order (no crash, no
/// kill) before any new one started, and at most one `s2` process is alive.
fn moved_in_order(daemon: &Daemon, old: u32) {
    let events = daemon.events();
    let stopped = at(&events, |e| {
        e["event"] == "component_stopped" && e["pid"] == old
    });
    let restarted = at(&events, |e| {
        e["event"] == "component_started" && e["component"] == "s2" && e["pid"] != old
    });
    assert!(stopped.is_some(), "the old s2 stopped");
    assert!(
        restarted.is_none() || stopped < restarted,
        "never two at once: the old s2 stopped at {stopped:?}, a new one started at {restarted:?}"
    );
    let live: Vec<u32> = (s2_pids(daemon).into_iter())
        .filter(|&p| alive(p))
        .collect();
    assert!(live.len() <= 1, "one s2 at most: {live:?}");
    for event in ["component_exited", "component_killed"] {
        let seen = events_of(daemon, event, "s2");
        assert!(seen.is_empty(), "no {event}: {seen:?}");
    }
}

/// Waits for the reload's report (logged once its second step is made).
fn reloaded(daemon: &mut Daemon) -> Value {
    daemon.wait_any("config_reloaded")
}

/// `stop s2` while the move's first step waits for the old `s2` to stop: the command waits
/// for the move to end (only the old place has `s2`, and it is dropping it); the new place adds
/// `s2` stopped, never starting it, and `status` shows it stopped there; the stop is kept
/// (SPEC: a reload never starts a component the operator stopped) through a later reload that
/// changes it; the operator's `start` then starts it there, once, with the new settings (the
/// positive control).
fn an_operator_stop_during_a_move_is_kept() {
    let (mut daemon, old) = moving();
    let stop = daemon.cli(&["stop", "s2"], DEADLINE);
    assert_eq!(stop.status.code(), Some(0), "{stop:?}");
    let report = reloaded(&mut daemon);
    assert_eq!(ids(&report["added"]), ["s2"], "{report}");
    let row = daemon.status_row("s2");
    assert_eq!(
        (&row["state"], &row["group"], &row["pid"]),
        (&"stopped".into(), &"".into(), &Value::Null),
        "{row}"
    );
    let stopped = s2_pids(&daemon);
    assert_eq!(stopped, [old], "its new place never started it");
    assert!(!alive(old));
    moved_in_order(&daemon, old);
    // A reload that changes s2 does not start it.
    rewrite(&daemon, &after_the_move("v2"));
    daemon.signal(Signal::SIGHUP);
    let report = reloaded(&mut daemon);
    assert_eq!(ids(&report["changed"]), ["s2"], "{report}");
    assert_eq!(daemon.status_row("s2")["state"], "stopped");
    assert_eq!(s2_pids(&daemon), stopped, "not started by the reload");
    // Positive control: the operator's start does start it, in its new place, changed.
    let start = daemon.cli(&["start", "s2"], DEADLINE);
    assert_eq!(start.status.code(), Some(0), "{start:?}");
    let row = daemon.status_row("s2");
    assert_eq!(
        (&row["state"], &row["group"]),
        (&"running".into(), &"".into())
    );
    let new = row["pid"].as_u64().expect("a pid") as u32;
    assert!(proc_cmdline(new).contains(": v2;"), "{}", proc_cmdline(new));
    assert_eq!(s2_pids(&daemon).len(), stopped.len() + 1);
    moved_in_order(&daemon, old);
    assert_eq!(daemon.stop(), Some(0));
}

/// `stop s2`, then `start s2`, both while the move waits for the old `s2`: it arrives stopped
/// and the start then starts it, once, in its new place (the stop, asked first, does not end a
/// process the move started).
fn a_stop_then_a_start_during_a_move_start_it_once() {
    let (mut daemon, old) = moving();
    let stop = stop_s2_in_the_background(&mut daemon);
    let start = daemon.cli(&["start", "s2"], DEADLINE);
    assert_eq!(start.status.code(), Some(0), "{start:?}");
    let stopped = stop.wait_with_output().expect("`stop s2` ends");
    assert_eq!(stopped.status.code(), Some(0), "{stopped:?}");
    let pids = s2_pids(&daemon);
    assert_eq!(pids.len(), 2, "started once in its new place: {pids:?}");
    let row = daemon.status_row("s2");
    assert_eq!(
        (&row["state"], &row["pid"]),
        (&"running".into(), &pids[1].into())
    );
    moved_in_order(&daemon, old);
    assert_eq!(daemon.stop(), Some(0));
}

/// `restart s2` while the move's first step waits for the old `s2` to stop: the restart is
/// answered once `s2` runs again, and it runs once, in its new place; the old one stopped
/// before it started.
fn an_operator_restart_during_a_move_starts_it_once_in_its_new_place() {
    let (mut daemon, old) = moving();
    let restart = in_the_background(&mut daemon, &["restart", "s2"]);
    let restart = restart.wait_with_output().expect("`restart s2` ends");
    assert_eq!(restart.status.code(), Some(0), "{restart:?}");
    let report = reloaded(&mut daemon);
    assert_eq!(ids(&report["added"]), ["s2"], "{report}");
    eventually("s2 runs", || daemon.status_row("s2")["state"] == "running");
    let row = daemon.status_row("s2");
    assert_eq!(row["group"], "", "{row}");
    let new = row["pid"].as_u64().expect("a pid") as u32;
    assert_ne!(new, old);
    assert!(alive(new) && !alive(old));
    moved_in_order(&daemon, old);
    let live: Vec<u32> = (s2_pids(&daemon).into_iter())
        .filter(|&p| alive(p))
        .collect();
    assert_eq!(live, [new], "exactly one s2 runs");
    assert_eq!(
        s2_pids(&daemon),
        [old, new],
        "started once in its new place"
    );
    assert_eq!(row["restarts"], 0, "not a crash: {row}");
    assert_eq!(daemon.stop(), Some(0));
}

/// `restart s2` while a move takes it two groups deep (`g1/g2`), whose part of the second step
/// is added after the root has answered: the command waits until `s2` is there, then restarts
/// it there (it was answered "unknown component").
fn a_restart_during_a_move_into_a_nested_group_reaches_it_there() {
    let (a, b) = (idle("a"), idle("b"));
    let xml = |s2_at_root: bool| {
        let s2 = slow_to_stop("s2", "v1");
        let (top, nested) = if s2_at_root {
            (s2.as_str(), "")
        } else {
            ("", s2.as_str())
        };
        let servers =
            format!("{a}{top}<group id=\"g1\"><group id=\"g2\">{nested}{b}</group></group>");
        registry(MOVE_HEAD, &servers)
    };
    let (mut daemon, old) = moving_between(&xml(true), &xml(false));
    let restart = daemon.cli(&["restart", "s2"], DEADLINE);
    assert_eq!(restart.status.code(), Some(0), "{restart:?}");
    let row = daemon.status_row("s2");
    assert_eq!(
        (&row["state"], &row["group"]),
        (&"running".into(), &"g1/g2".into()),
        "{row}"
    );
    let pids = s2_pids(&daemon);
    let new = row["pid"].as_u64().expect("a pid") as u32;
    assert!(
        pids.len() >= 2 && pids.contains(&new) && new != old,
        "{pids:?}"
    );
    moved_in_order(&daemon, old);
    assert_eq!(daemon.stop(), Some(0));
}

/// A component the operator stopped before a reload moves it stays stopped in its new place
/// (a reload never starts a component the operator stopped); the operator's `start` then
/// starts it there (the control).
fn a_component_stopped_before_its_move_stays_stopped() {
    let mut daemon = Daemon::start(&before_the_move("v1"));
    let old = daemon.started_pids(&["a", "s2", "b"])[1];
    let stop = daemon.cli(&["stop", "s2"], DEADLINE);
    assert_eq!(stop.status.code(), Some(0), "{stop:?}");
    rewrite(&daemon, &after_the_move("v1"));
    daemon.signal(Signal::SIGHUP);
    let report = reloaded(&mut daemon);
    assert_eq!(ids(&report["added"]), ["s2"], "{report}");
    let row = daemon.status_row("s2");
    assert_eq!(
        (&row["state"], &row["group"]),
        (&"stopped".into(), &"".into()),
        "{row}"
    );
    assert_eq!(s2_pids(&daemon), [old], "not started in its new place");
    let start = daemon.cli(&["start", "s2"], DEADLINE);
    assert_eq!(start.status.code(), Some(0), "{start:?}");
    assert_eq!(daemon.status_row("s2")["state"], "running");
    assert_eq!(daemon.stop(), Some(0));
}

/// A reload that renames the group of a component the operator stopped moves it (its group
/// path changes) and keeps it stopped in the renamed group; its sibling moves too and runs
/// there (the control).
fn a_component_stopped_in_a_renamed_group_stays_stopped() {
    let (a, b) = (idle("a"), idle("b"));
    let xml = |group: &str| {
        let s2 = slow_to_stop("s2", "v1");
        registry(
            MOVE_HEAD,
            &format!("{a}<group id=\"{group}\">{s2}{b}</group>"),
        )
    };
    let mut daemon = Daemon::start(&xml("g1"));
    let old = daemon.started_pids(&["a", "s2", "b"])[1];
    let stop = daemon.cli(&["stop", "s2"], DEADLINE);
    assert_eq!(stop.status.code(), Some(0), "{stop:?}");
    rewrite(&daemon, &xml("g2"));
    daemon.signal(Signal::SIGHUP);
    reloaded(&mut daemon);
    let row = |id: &str| daemon.status_row(id);
    let (s2, b) = (row("s2"), row("b"));
    assert_eq!(
        (&s2["state"], &s2["group"]),
        (&"stopped".into(), &"g2".into()),
        "{s2}"
    );
    assert_eq!(
        (&b["state"], &b["group"]),
        (&"running".into(), &"g2".into()),
        "{b}"
    );
    assert_eq!(s2_pids(&daemon), [old], "not started in the renamed group");
    assert_eq!(daemon.stop(), Some(0));
}

/// A group a reload removes ends with its components: a command on one of them is answered
/// "unknown component" (1), as for any id the registry no longer has. Its parent dropped it,
/// but its children and the id index held it, so it lived on and answered `stop x` "stopped"
/// (0). The component kept is still reached (the control).
fn a_group_removed_by_a_reload_takes_its_components_with_it() {
    let (a, x) = (idle("a"), idle("x"));
    let mut daemon = Daemon::start(&registry(
        MOVE_HEAD,
        &format!("{a}<group id=\"g1\">{x}</group>"),
    ));
    let x_pid = daemon.started_pids(&["a", "x"])[1];
    rewrite(&daemon, &registry(MOVE_HEAD, &a));
    daemon.signal(Signal::SIGHUP);
    let report = reloaded(&mut daemon);
    assert_eq!(ids(&report["removed"]), ["x"], "{report}");
    eventually("x is gone", || !alive(x_pid));
    let stop = daemon.cli(&["stop", "x"], DEADLINE);
    assert_eq!(stop.status.code(), Some(1), "{stop:?}");
    let said = String::from_utf8_lossy(&stop.stderr);
    assert!(said.contains("unknown component `x`"), "{said}");
    let stop = daemon.cli(&["stop", "a"], DEADLINE);
    assert_eq!(stop.status.code(), Some(0), "{stop:?}");
    assert_eq!(daemon.stop(), Some(0));
}

/// Commands on a component whose group a reload is removing, while it still stops: answered
/// busy (75, its group is stopping), and it never starts again; once it is gone, a command is
/// answered "unknown component" (1); a shutdown in the same window ends in order.
fn commands_to_a_group_being_removed_are_answered_busy() {
    let (a, s2) = (idle("a"), slow_to_stop("s2", "v1"));
    let mut daemon = Daemon::start(&registry(
        MOVE_HEAD,
        &format!("{a}<group id=\"g1\">{s2}</group>"),
    ));
    let old = daemon.started_pids(&["a", "s2"])[1];
    eventually("the old s2 traps SIGTERM", || catches_sigterm(old));
    rewrite(&daemon, &registry(MOVE_HEAD, &a));
    daemon.signal(Signal::SIGHUP);
    daemon.wait_event("component_stopping", "s2");
    for verb in ["stop", "restart", "start"] {
        let answer = daemon.cli(&[verb, "s2"], DEADLINE);
        assert_eq!(answer.status.code(), Some(75), "{verb}: {answer:?}");
        let said = String::from_utf8_lossy(&answer.stderr);
        assert!(said.contains("its group is stopping"), "{verb}: {said}");
    }
    assert!(alive(old), "the commands came while s2 still stopped");
    eventually("s2 is gone", || !alive(old));
    let stop = daemon.cli(&["stop", "s2"], DEADLINE);
    assert_eq!(stop.status.code(), Some(1), "{stop:?}");
    assert_eq!(s2_pids(&daemon), [old], "never started again");
    // The same window, then a shutdown: it ends in order.
    let a_pid = daemon.status_row("a")["pid"].as_u64().expect("a runs") as u32;
    rewrite(
        &daemon,
        &registry(MOVE_HEAD, &format!("{a}<group id=\"g1\">{s2}</group>")),
    );
    daemon.signal(Signal::SIGHUP);
    eventually("s2 is back", || s2_pids(&daemon).len() == 2);
    let back = s2_pids(&daemon)[1];
    eventually("s2 traps SIGTERM", || catches_sigterm(back));
    rewrite(&daemon, &registry(MOVE_HEAD, &a));
    daemon.signal(Signal::SIGHUP);
    let stopping = |e: &Value| e["event"] == "component_stopping" && e["pid"] == back;
    daemon.wait_for("the removal stops s2", stopping);
    daemon.signal(Signal::SIGTERM);
    assert_eq!(daemon.wait_exit(), Some(0));
    assert!(!alive(back) && !alive(a_pid), "nothing left");
    assert_eq!(s2_pids(&daemon).len(), 2, "not started again");
}

/// A crash in the old group while it still stops the moved `s2` (`g1` is `one_for_all`: `b`'s
/// crash restarts its siblings): `b` is restarted, the old place never starts `s2` again, and
/// the move ends with one `s2`, in its new place.
fn a_crash_in_the_old_group_during_a_move_starts_nothing_there() {
    let xml = |s2_in_g1: bool| {
        let (a, s2, b) = (idle("a"), slow_to_stop("s2", "v1"), idle("b"));
        let all = r#"<restartStrategy type="one_for_all" intensity="50" period="10"/>"#;
        let (top, inside) = if s2_in_g1 {
            ("", s2.as_str())
        } else {
            (s2.as_str(), "")
        };
        let servers = format!("{a}{top}<group id=\"g1\">{all}{inside}{b}</group>");
        registry(MOVE_HEAD, &servers)
    };
    let (mut daemon, old) = moving_between(&xml(true), &xml(false));
    let b = daemon.status_row("b")["pid"].as_u64().expect("b runs") as u32;
    kill(b, Signal::SIGKILL);
    let crashed = |e: &Value| e["event"] == "component_exited" && e["pid"] == b;
    daemon.wait_for("b's crash", crashed);
    assert!(alive(old), "b crashed while the old s2 still stopped");
    eventually("b runs again", || {
        events_of(&daemon, "component_started", "b").len() == 2
    });
    reloaded(&mut daemon);
    eventually("s2 runs in its new place", || {
        let row = daemon.status_row("s2");
        row["state"] == "running" && row["group"] == ""
    });
    assert_eq!(
        s2_pids(&daemon).len(),
        2,
        "started once more, in its new place"
    );
    moved_in_order(&daemon, old);
    assert_eq!(daemon.stop(), Some(0));
}

/// A component one reload removes (its group with it) and the next adds back, elsewhere, while
/// its old process still stops: the new one starts only once the old one has stopped, never
/// both at once (it started at once).
fn a_component_added_back_during_its_removal_waits_for_it() {
    let (a, s2) = (idle("a"), slow_to_stop("s2", "v1"));
    let mut daemon = Daemon::start(&registry(
        MOVE_HEAD,
        &format!("{a}<group id=\"g1\">{s2}</group>"),
    ));
    let old = daemon.started_pids(&["a", "s2"])[1];
    eventually("the old s2 traps SIGTERM", || catches_sigterm(old));
    rewrite(&daemon, &registry(MOVE_HEAD, &a));
    daemon.signal(Signal::SIGHUP);
    daemon.wait_event("component_stopping", "s2");
    rewrite(&daemon, &registry(MOVE_HEAD, &format!("{a}{s2}")));
    daemon.signal(Signal::SIGHUP);
    assert!(alive(old), "added back while the old s2 still stops");
    eventually("a new s2 runs", || s2_pids(&daemon).len() == 2);
    moved_in_order(&daemon, old);
    assert_eq!(daemon.status_row("s2")["group"], "");
    assert_eq!(daemon.stop(), Some(0));
}

/// A shutdown while a `stop s2` waits for the move: the command is answered busy (75), as any
/// command during a shutdown, and the daemon exits 0 with nothing left.
fn a_command_waiting_for_a_move_is_answered_busy_by_a_shutdown() {
    let (mut daemon, old) = moving();
    let stop = stop_s2_in_the_background(&mut daemon);
    assert!(alive(old), "the stop came during the move");
    daemon.signal(Signal::SIGTERM);
    let answered = stop.wait_with_output().expect("`stop s2` ends");
    assert_eq!(answered.status.code(), Some(75), "{answered:?}");
    assert_eq!(daemon.wait_exit(), Some(0));
    assert!(!alive(old));
}

/// A second SIGHUP while the move's first step waits for the old `s2` to stop: the move still
/// happens in order (never two `s2` at once) and ends with one `s2`, in its new place.
fn a_second_reload_during_a_move_keeps_the_order() {
    let (mut daemon, old) = moving();
    let second = in_the_background(&mut daemon, &["reload"]);
    let answered = second.wait_with_output().expect("the second `reload` ends");
    assert_eq!(answered.status.code(), Some(0), "{answered:?}");
    eventually("a new s2 runs", || s2_pids(&daemon).len() == 2);
    eventually("both reloads are reported", || {
        daemon.count("config_reloaded") == 2
    });
    let new = s2_pids(&daemon)[1];
    moved_in_order(&daemon, old);
    let row = daemon.status_row("s2");
    assert_eq!(
        (&row["state"], &row["group"], row["pid"].as_u64()),
        (&"running".into(), &"".into(), Some(u64::from(new))),
        "{row}"
    );
    assert!(alive(new) && !alive(old));
    let reports: Vec<Value> = (daemon.events().into_iter())
        .filter(|e| e["event"] == "config_reloaded")
        .collect();
    let added: Vec<String> = reports.iter().flat_map(|r| ids(&r["added"])).collect();
    assert_eq!(added, ["s2"], "added once in all: {reports:?}");
    assert_eq!(daemon.stop(), Some(0));
}

/// An invalid registry reloaded while the move's first step waits for the old `s2` to stop is
/// refused and takes nothing over: the move's own second step still starts `s2` in its new
/// place, once, after the old one stopped.
fn a_refused_reload_during_a_move_does_not_cancel_it() {
    let (mut daemon, old) = moving();
    let valid = std::fs::read_to_string(&daemon.registry).expect("the registry");
    rewrite(
        &daemon,
        "<supervisor><servers><bogus/></servers></supervisor>",
    );
    daemon.signal(Signal::SIGHUP);
    let rejected = daemon.wait_any("config_rejected");
    assert!(
        rejected["error"]
            .as_str()
            .is_some_and(|e| e.contains("bogus")),
        "{rejected}"
    );
    rewrite(&daemon, &valid);
    let report = reloaded(&mut daemon);
    assert_eq!(ids(&report["added"]), ["s2"], "{report}");
    eventually("s2 runs in its new place", || {
        let row = daemon.status_row("s2");
        row["state"] == "running" && row["group"] == ""
    });
    let pids = s2_pids(&daemon);
    assert_eq!(pids.len(), 2, "{pids:?}");
    assert!(alive(pids[1]) && !alive(old));
    let events = daemon.events();
    let rejected = at(&events, |e| e["event"] == "config_rejected");
    let stopped = at(&events, |e| {
        e["event"] == "component_stopped" && e["pid"] == old
    });
    assert!(
        rejected.is_some() && rejected < stopped,
        "refused at {rejected:?}, during the move (the old s2 stopped at {stopped:?})"
    );
    moved_in_order(&daemon, old);
    assert_eq!(daemon.stop(), Some(0));
}

// ---------------------------------------------------------------------------
// 2. A crash between the two signals of a forced shutdown

/// A `<server>` whose shell exits 3 each time a line is written to the FIFO `fifo` (one line,
/// one exit), restarted at once.
fn exits_on_a_line(id: &str, fifo: &std::path::Path, settings: &str) -> String {
    let script = format!("read line < '{}'; exit 3", fifo.display());
    format!(
        "<server id=\"{id}\"><executable>/bin/sh</executable><arguments><argument>-c</argument>\
         <argument>{}</argument></arguments>{NO_BACKOFF}{settings}</server>",
        xml_escape(&script)
    )
}

/// Writes one line to the FIFO `fifo` once a reader has it open (within the deadline).
fn poke(fifo: &std::path::Path) {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let open = || {
        let mut options = std::fs::OpenOptions::new();
        // No reader yet: ENXIO at once, instead of blocking for ever.
        options.write(true).custom_flags(libc::O_NONBLOCK);
        options.open(fifo)
    };
    let writer = std::cell::RefCell::new(None);
    eventually("a reader has the FIFO open", || {
        *writer.borrow_mut() = open().ok();
        writer.borrow().is_some()
    });
    let mut writer = writer.into_inner().expect("the FIFO, open");
    writer.write_all(b"exit\n").expect("write the FIFO");
}

/// The first SIGTERM leaves `stubborn` (which ignores it, 60 s stop timeout) stopping; `crasher`,
/// in the level stopped after it, exits 3 on its own meanwhile: not restarted (SPEC: shutdown
/// ranks above automatic restarts), while the same crash before the shutdown was (the positive
/// control). The second SIGTERM kills everything at once: the daemon exits 0 (an orderly
/// shutdown, only faster) well before the stop timeout, logs the shutdown's events, and leaves
/// no process behind.
fn a_crash_between_the_two_signals_of_a_forced_shutdown_is_not_restarted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("crash");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
    let stubborn = standin_server(
        "stubborn",
        &["--ignore-term"],
        "<stopTimeout>60</stopTimeout><startPriority>2</startPriority>",
    );
    let crasher = exits_on_a_line("crasher", &fifo, "<startPriority>1</startPriority>");
    let mut daemon = Daemon::start_in(dir, &registry(FAST, &[stubborn, crasher].concat()));
    let [stubborn, first] = daemon.started_pids(&["stubborn", "crasher"])[..] else {
        unreachable!()
    };
    eventually("stubborn ignores SIGTERM", || catches_sigterm(stubborn));
    // The control: a crash before the shutdown is restarted.
    poke(&fifo);
    let exited = daemon.wait_event("component_exited", "crasher");
    assert_eq!(
        (exited["pid"].as_u64(), &exited["code"]),
        (Some(u64::from(first)), &3.into())
    );
    let second = daemon.started_pid("crasher");
    daemon.signal(Signal::SIGTERM);
    daemon.wait_any("supervisor_stopping");
    daemon.wait_event("component_stopping", "stubborn");
    poke(&fifo);
    let crashed = daemon.wait_event("component_exited", "crasher");
    assert_eq!(crashed["pid"], second, "{crashed}");
    assert_eq!(
        crashed["expected"], false,
        "a crash all the same: {crashed}"
    );
    assert!(alive(stubborn), "still stopping (60 s timeout)");
    daemon.signal(Signal::SIGTERM);
    let forced = daemon.wait_any("shutdown_forced");
    assert_eq!(forced["signal"], "SIGTERM", "{forced}");
    assert_eq!(daemon.wait_exit(), Some(0));
    let events = daemon.events();
    let stopped = (events.iter().rev())
        .find(|e| e["event"] == "supervisor_stopped")
        .expect("supervisor_stopped");
    assert_eq!(stopped["exit_code"], 0, "{stopped}");
    let took = seconds_between(&forced, stopped);
    assert!(took < 5.0, "stopped {took} s after the second signal");
    let pids: Vec<u32> = ["stubborn", "crasher"]
        .iter()
        .flat_map(|id| events_of(&daemon, "component_started", id))
        .map(|e| pid_of(&e))
        .collect();
    assert_eq!(
        pids.len(),
        3,
        "crasher started twice, stubborn once: {pids:?}"
    );
    assert!(
        pids.iter().all(|&pid| !alive(pid)),
        "nothing left: {pids:?}"
    );
    let stopping = at(&events, |e| e["event"] == "supervisor_stopping").expect("stopping");
    let after: Vec<&Value> = events[stopping..]
        .iter()
        .filter(|e| e["component"] == "crasher")
        .filter(|e| {
            [
                "restart_scheduled",
                "component_starting",
                "component_started",
            ]
            .contains(&e["event"].as_str().unwrap_or_default())
        })
        .collect();
    assert!(
        after.is_empty(),
        "not restarted during the shutdown: {after:?}"
    );
    let before: Vec<&Value> = events[..stopping]
        .iter()
        .filter(|e| e["event"] == "restart_scheduled" && e["component"] == "crasher")
        .collect();
    assert_eq!(before.len(), 1, "{before:?}");
    assert_eq!(daemon.count("supervisor_stopping"), 1);
    // stubborn's end is its stop's, by the forced kill (not by its 60 s timeout).
    let ended = events_of(&daemon, "component_stopped", "stubborn");
    assert_eq!(ended.iter().map(pid_of).collect::<Vec<_>>(), [stubborn]);
    assert!(events_of(&daemon, "component_killed", "stubborn").is_empty());
}

// ---------------------------------------------------------------------------
// 3. A reload during the retries of an unknown `<user>`

/// A `<server>` running `sleep 1000` as `user` (none: the daemon's), retried at a short backoff.
fn sleeper_as(id: &str, user: Option<&str>) -> String {
    let user = user.map_or(String::new(), |user| format!("<user>{user}</user>"));
    format!(
        "<server id=\"{id}\"><executable>sleep</executable><arguments><argument>1000</argument>\
         </arguments>{user}<backoff initial=\"0.05\" max=\"0.2\"/></server>"
    )
}

/// The user ids (real, effective, saved, filesystem) of a process.
fn uids(pid: u32) -> Vec<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let line = status.lines().find(|l| l.starts_with("Uid:"));
    line.map_or(Vec::new(), |l| {
        l.split_whitespace().skip(1).map(String::from).collect()
    })
}

/// A component whose `<user>` the host does not have fails each start (`setuid: unknown user
/// …`) and is retried; a reload that keeps the bad user changes nothing (the retries go on, the
/// sibling and the daemon run on); a reload that fixes it (`nobody` as root, else no `<user>`)
/// restarts it at once, as that user (the positive control), and the failures stop.
fn a_reload_during_the_retries_of_an_unknown_user_fixes_it() {
    const BAD: &str = "no-such-user-c3x";
    let fixed = testkit::skip::is_root().then_some("nobody");
    // A root that never gives up: the retries go on for ever. `stats` each second.
    let head = "<config><tracestatsinterval>1</tracestatsinterval></config>";
    let xml = |user| registry(head, &[idle("a"), sleeper_as("c", user)].concat());
    let mut daemon = Daemon::start(&xml(Some(BAD)));
    let a = daemon.started_pid("a");
    let failed = daemon.wait_event("component_spawn_failed", "c");
    assert_eq!(
        failed["error"],
        format!("setuid: unknown user `{BAD}`"),
        "{failed}"
    );
    daemon.wait_event("component_spawn_failed", "c");
    // A reload that keeps the bad user: nothing to do.
    daemon.signal(Signal::SIGHUP);
    let report = daemon.wait_any("config_reloaded");
    for list in ["added", "removed", "changed", "updated"] {
        assert!(ids(&report[list]).is_empty(), "{list}: {report}");
    }
    assert_eq!(report["unchanged"], 2, "{report}");
    // The retries go on, as they were.
    let again = daemon.wait_event("component_spawn_failed", "c");
    assert_eq!(again["error"], failed["error"]);
    let row = daemon.status_row("c");
    assert!(
        row["reason"]
            .as_str()
            .is_some_and(|r| r.contains("unknown user")),
        "{row}"
    );
    assert_eq!(row["pid"], Value::Null, "{row}");
    assert!(events_of(&daemon, "component_started", "c").is_empty());
    assert!(alive(daemon.pid()));
    assert_eq!(daemon.status_row("a")["pid"], a, "the sibling untouched");
    // The control: a reload that fixes the user starts it.
    rewrite(&daemon, &xml(fixed));
    daemon.signal(Signal::SIGHUP);
    let report = daemon.wait_any("config_reloaded");
    assert_eq!(ids(&report["changed"]), ["c"], "{report}");
    let pid = daemon.started_pid("c");
    eventually("c runs", || daemon.status_row("c")["state"] == "running");
    let row = daemon.status_row("c");
    assert_eq!(row["pid"], pid, "{row}");
    let expected = match fixed {
        Some(_) => "65534".to_string(),
        None => nix::unistd::geteuid().to_string(),
    };
    assert_eq!(uids(pid), [expected.as_str(); 4], "runs as the fixed user");
    let failures = events_of(&daemon, "component_spawn_failed", "c").len();
    // Past a few backoffs of the old loop (0.2 s at most each): no failure since.
    let stats = daemon.wait_for("c's stats half a second on", |e| {
        e["event"] == "stats" && e["component"] == "c" && e["uptime_ms"].as_u64() >= Some(500)
    });
    assert_eq!(
        (&stats["pid"], &stats["state"]),
        (&pid.into(), &"running".into()),
        "{stats}"
    );
    assert_eq!(
        events_of(&daemon, "component_spawn_failed", "c").len(),
        failures
    );
    assert_eq!(daemon.status_row("a")["pid"], a);
    assert_eq!(daemon.stop(), Some(0));
}

// ---------------------------------------------------------------------------
// 4. A restart while an escaped descendant holds the component's output pipe

/// A `<server>` whose first run leaves a `setsid` escaper holding its stdout (it prints
/// `escaper PID`, then waits for a line on `dir/late`, prints `late` and sleeps), waits until
/// the escaper has left its process group, prints `first` and exits 1; its later runs (`dir/mark`
/// exists) just sleep.
fn leaves_an_escaper(id: &str, dir: &std::path::Path) -> String {
    let (mark, fifo, ready) = (dir.join("mark"), dir.join("late"), dir.join("ready"));
    let script = format!(
        "if [ -e {mark} ]; then exec sleep 1000; fi; : > {mark}; \
         setsid sh -c 'echo \"escaper $$\"; : > {ready}; read x < {fifo}; echo late; exec sleep 3007' & \
         while [ ! -e {ready} ]; do sleep 0.01; done; echo first; exit 1",
        mark = mark.display(),
        fifo = fifo.display(),
        ready = ready.display(),
    );
    format!(
        "<server id=\"{id}\"><executable>/bin/sh</executable><arguments><argument>-c</argument>\
         <argument>{}</argument></arguments>{NO_BACKOFF}</server>",
        xml_escape(&script)
    )
}

/// The last pid of the `NSpid` line of a process (its pid in its own PID namespace).
fn inner_pid(pid: u32) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("NSpid:"))?;
    line.split_whitespace().last()?.parse().ok()
}

/// The escaper's first run, crash and restart: returns the escaper's pid (as this test sees
/// it) and the events of the crash and of the restart. The restart is prompt: the pipe the
/// escaper holds does not hold it up. `namespaced`: the components run in a PID namespace of
/// their own (where the escaper said its own number).
fn crash_with_an_escaper(daemon: &mut Daemon, namespaced: bool) -> (u32, Value, Value) {
    let first = daemon.started_pid("s");
    let said = daemon.wait_for("the escaper's pid", |e| {
        e["event"] == "component_output"
            && e["component"] == "s"
            && e["line"]
                .as_str()
                .is_some_and(|l| l.starts_with("escaper "))
    });
    let inner: u32 = said["line"].as_str().unwrap()["escaper ".len()..]
        .parse()
        .expect("a pid");
    let escaper = match namespaced {
        false => inner,
        true => {
            (descendants(daemon.pid()).into_iter())
                .find(|p| inner_pid(p.pid) == Some(inner))
                .expect("the escaper, in the daemon's PID namespace")
                .pid
        }
    };
    let exited = daemon.wait_event("component_exited", "s");
    assert_eq!(
        (exited["pid"].as_u64(), &exited["code"]),
        (Some(u64::from(first)), &1.into())
    );
    let restarted = daemon.wait_event("component_started", "s");
    let took = seconds_between(&exited, &restarted);
    assert!(took < 1.0, "restarted {took} s after the crash");
    assert!(alive(pid_of(&restarted)));
    (escaper, exited, restarted)
}

/// A shutdown that does not wait for the held pipe (5 s): it ends in order, at once.
fn stops_at_once(daemon: &mut Daemon) {
    assert_eq!(daemon.stop(), Some(0));
    let events = daemon.events();
    let find = |name: &str| events.iter().find(|e| e["event"] == name).cloned();
    let (stopping, stopped) = (find("supervisor_stopping"), find("supervisor_stopped"));
    let took = seconds_between(&stopping.expect("stopping"), &stopped.expect("stopped"));
    assert!(took < 2.0, "the shutdown took {took} s");
    assert_eq!(daemon.count("output_dropped"), 0, "nothing left unread");
}

/// With cgroup2 (SPEC: no process a child started outlives it): the crash's `cgroup.kill` ends
/// the escaper at once (within 1 s); the line the crashed process printed, `first`, is logged;
/// the component is restarted at once, and a shutdown then ends at once.
fn an_escaper_holding_the_output_is_killed_with_its_crash_with_cgroup2() {
    if testkit::skip::writable_cgroup2().is_none() {
        skip!("no writable cgroup2 hierarchy");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("late");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
    let xml = registry(FAST, &leaves_an_escaper("s", dir.path()));
    let mut daemon = Daemon::start_in(dir, &xml);
    assert_eq!(daemon.wait_any("spawn_mode")["cgroups"], true);
    let (escaper, exited, _) = crash_with_an_escaper(&mut daemon, false);
    let _sweep = crate::guardian::Sweep(vec![escaper]);
    eventually_within("the escaper is killed", Duration::from_secs(1), || {
        !alive(escaper)
    });
    stops_at_once(&mut daemon);
    let lines: Vec<Value> = events_of(&daemon, "component_output", "s");
    let said = |line: &str| {
        lines
            .iter()
            .any(|e| e["line"] == line && e["pid"] == exited["pid"])
    };
    assert!(said("first"), "{lines:?}");
}

/// Without cgroup2 (hidden in a mount namespace; the children in a PID namespace): the escaper
/// survives the crash and holds the pipe; the component is restarted at once all the same; the
/// escaper's later `late` line is still read and logged; and the shutdown does not wait for
/// the pipe's end (README: nothing waits for it once the exited process's output is read).
fn an_escaper_holding_the_output_holds_up_no_restart_without_cgroup2() {
    let Some(mount) = testkit::skip::writable_cgroup2() else {
        skip!("needs root and a cgroup2 mount to hide");
    };
    testkit::skip::require_tool("unshare");
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("late");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
    let xml = registry(FAST, &leaves_an_escaper("s", dir.path()));
    let mut daemon = crate::guardian::start_without_cgroup2(dir, &xml, &mount);
    assert_eq!(daemon.wait_any("spawn_mode")["cgroups"], false);
    let (escaper, exited, restarted) = crash_with_an_escaper(&mut daemon, true);
    let _sweep = crate::guardian::Sweep(vec![escaper]);
    assert!(alive(escaper), "no cgroup kills the escaper");
    poke(&fifo);
    let late = daemon.wait_for("the escaper's late line", |e| {
        e["event"] == "component_output" && e["component"] == "s" && e["line"] == "late"
    });
    assert!(
        seconds_between(&restarted, &late) >= 0.0,
        "after the restart"
    );
    assert_ne!(late["pid"], restarted["pid"], "{late}");
    assert_eq!(
        late["pid"], exited["pid"],
        "the crashed process's pipe: {late}"
    );
    stops_at_once(&mut daemon);
    eventually("the escaper goes with the daemon's PID namespace", || {
        !alive(escaper)
    });
}

/// The tests of this module, for the integration runner.
pub const TESTS: &[testkit::harness::Test] = testkit::tests![
    an_operator_stop_during_a_move_is_kept,
    a_stop_then_a_start_during_a_move_start_it_once,
    an_operator_restart_during_a_move_starts_it_once_in_its_new_place,
    a_restart_during_a_move_into_a_nested_group_reaches_it_there,
    a_component_stopped_before_its_move_stays_stopped,
    a_component_stopped_in_a_renamed_group_stays_stopped,
    a_group_removed_by_a_reload_takes_its_components_with_it,
    commands_to_a_group_being_removed_are_answered_busy,
    a_crash_in_the_old_group_during_a_move_starts_nothing_there,
    a_component_added_back_during_its_removal_waits_for_it,
    a_command_waiting_for_a_move_is_answered_busy_by_a_shutdown,
    a_second_reload_during_a_move_keeps_the_order,
    a_refused_reload_during_a_move_does_not_cancel_it,
    a_crash_between_the_two_signals_of_a_forced_shutdown_is_not_restarted,
    a_reload_during_the_retries_of_an_unknown_user_fixes_it,
    an_escaper_holding_the_output_is_killed_with_its_crash_with_cgroup2,
    an_escaper_holding_the_output_holds_up_no_restart_without_cgroup2,
];
