//! Supervision semantics end to end (SPEC section 3): strategies, restart types, intensity and
//! escalation, start levels and reverse-order stop — on the real binary with real processes.

use nix::sys::signal::Signal;
use serde_json::Value;
use testkit::*;

fn three_children(strategy: &str) -> String {
    let head = format!(r#"<restartStrategy type="{strategy}" intensity="50" period="10"/>"#);
    registry(&head, &[idle("a"), idle("b"), idle("c")].concat())
}

/// Starts a, b, c; kills `victim`; returns the pids before and after (after the restart settles).
fn kill_one(strategy: &str, victim: usize) -> (Vec<u32>, Vec<u32>) {
    let mut daemon = Daemon::start(&three_children(strategy));
    let ids = ["a", "b", "c"];
    let before: Vec<u32> = ids.iter().map(|id| daemon.started_pid(id)).collect();
    kill(before[victim], Signal::SIGKILL);
    daemon.wait_event("component_exited", ids[victim]);
    let restarted: Vec<usize> = match strategy {
        "one_for_one" => vec![victim],
        "one_for_all" => vec![0, 1, 2],
        _ => (victim..3).collect(),
    };
    let mut after = before.clone();
    for &i in &restarted {
        after[i] = daemon.started_pid(ids[i]);
    }
    assert_eq!(daemon.stop(), Some(0));
    let restarts = daemon.count("component_started");
    assert_eq!(
        restarts,
        3 + restarted.len(),
        "no other component was restarted"
    );
    (before, after)
}

fn one_for_one_restarts_only_the_exited_child() {
    let (before, after) = kill_one("one_for_one", 1);
    assert_eq!(before[0], after[0]);
    assert_ne!(before[1], after[1]);
    assert_eq!(before[2], after[2]);
}

fn one_for_all_restarts_every_sibling() {
    let (before, after) = kill_one("one_for_all", 1);
    for i in 0..3 {
        assert_ne!(before[i], after[i], "child {i} restarted");
    }
}

fn rest_for_one_restarts_the_child_and_those_after_it() {
    let (before, after) = kill_one("rest_for_one", 1);
    assert_eq!(before[0], after[0]);
    assert_ne!(before[1], after[1]);
    assert_ne!(before[2], after[2]);
}

fn one_for_all_stops_siblings_in_reverse_before_starting_them_again() {
    let mut daemon = Daemon::start(&three_children("one_for_all"));
    let a = daemon.started_pid("a");
    for id in ["b", "c"] {
        daemon.started_pid(id);
    }
    kill(a, Signal::SIGKILL);
    daemon.wait_event("component_exited", "a");
    for id in ["a", "b", "c"] {
        daemon.started_pid(id);
    }
    assert_eq!(daemon.stop(), Some(0));
    let events = daemon.events();
    let after_kill: Vec<(String, String)> = events
        .iter()
        .skip_while(|e| e["event"] != "component_exited")
        .map(|e| {
            (
                e["event"].as_str().unwrap().into(),
                e["component"].as_str().unwrap_or("").into(),
            )
        })
        .collect();
    let position = |event: &str, id: &str| {
        after_kill
            .iter()
            .position(|(e, c)| e == event && c == id)
            .unwrap_or_else(|| panic!("{event} {id}"))
    };
    let reasons: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "restart_scheduled")
        .map(|e| e["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["exit", "sibling", "sibling"]);
    assert!(position("component_stopping", "c") < position("component_stopping", "b"));
    for id in ["b", "c"] {
        assert!(position("component_stopped", id) < position("component_starting", "a"));
    }
}

fn exiting(id: &str, restart: &str, code: &str) -> String {
    standin_server(
        id,
        &["--exit-after", "0.05", "--exit-code", code],
        &format!("<restart>{restart}</restart>{NO_BACKOFF}"),
    )
}

/// Runs one component that exits with `code` and reports whether it was started again.
fn restarted_after_exit(restart: &str, code: &str) -> bool {
    let mut daemon = Daemon::start(&registry(
        FAST,
        &[exiting("x", restart, code), idle("marker")].concat(),
    ));
    daemon.started_pid("x");
    let exited = daemon.wait_event("component_exited", "x");
    assert_eq!(exited["code"].as_i64(), Some(code.parse().unwrap()));
    assert_eq!(exited["expected"], code == "0");
    // The marker's stop comes after any restart decision for x was made and carried out.
    assert_eq!(daemon.stop(), Some(0));
    events_of(&daemon, "component_started", "x").len() > 1
}

fn permanent_is_restarted_after_any_exit() {
    assert!(restarted_after_exit("permanent", "0"));
    assert!(restarted_after_exit("permanent", "3"));
}

fn transient_is_restarted_only_after_an_abnormal_exit() {
    assert!(!restarted_after_exit("transient", "0"));
    assert!(restarted_after_exit("transient", "3"));
}

fn temporary_is_never_restarted() {
    assert!(!restarted_after_exit("temporary", "0"));
    assert!(!restarted_after_exit("temporary", "3"));
    assert!(restarted_after_exit("permanent", "3"), "the control");
}

fn success_exit_codes_make_an_exit_normal() {
    let server = |id: &str, code: &str| {
        standin_server(
            id,
            &["--exit-after", "0.05", "--exit-code", code],
            "<restart>transient</restart><successExitCodes>0,7</successExitCodes>",
        )
    };
    // The control: y exits with 3, not a success code, and is restarted.
    let servers = [server("x", "7"), server("y", "3")].concat();
    let mut daemon = Daemon::start(&registry(FAST, &servers));
    let exited = daemon.wait_event("component_exited", "x");
    assert_eq!(exited["expected"], true);
    assert_eq!(exited["level"], "INFO");
    eventually("y is restarted", || {
        events_of(&daemon, "component_started", "y").len() >= 2
    });
    assert_eq!(daemon.stop(), Some(0));
    assert_eq!(events_of(&daemon, "component_started", "x").len(), 1);
}

fn intensity_exceeded_in_a_nested_group_escalates_to_the_root_and_exit_4() {
    let crashing = standin_server("crasher", &["--crash-after", "0.02"], NO_BACKOFF);
    let servers = format!(
        r#"{}<group id="inner"><restartStrategy type="one_for_one" intensity="2" period="60"/>{crashing}</group>"#,
        idle("bystander")
    );
    let head = r#"<restartStrategy type="one_for_one" intensity="1" period="60"/>"#;
    let mut daemon = Daemon::start(&registry(head, &servers));
    let inner = daemon.wait_for("inner gives up", |e| {
        e["event"] == "intensity_exceeded" && e["group"] == "inner"
    });
    assert_eq!(inner["restarts"], 3);
    let escalation = daemon.wait_any("restart_scheduled");
    assert_eq!(escalation["reason"], "escalation");
    assert_eq!(escalation["component"], "inner");
    // A group has no backoff: it is restarted at once, and says so.
    assert_eq!(escalation["delay_ms"], 0, "{escalation}");
    daemon.wait_for("root gives up", |e| {
        e["event"] == "intensity_exceeded" && e["group"] == ""
    });
    daemon.wait_event("component_stopped", "bystander");
    let stopped = daemon.wait_any("supervisor_stopped");
    assert_eq!(stopped["exit_code"], 4);
    assert_eq!(daemon.wait_exit(), Some(4));
    // (2 + 1) starts per inner run, and the inner group ran twice: 6 starts of the crasher.
    let starts = events_of(&daemon, "component_started", "crasher").len();
    assert_eq!(starts, 6);
}

fn levels_start_in_priority_order_and_stop_in_exact_reverse() {
    let servers = [
        standin_server("third", &[], "<startPriority>3</startPriority>"),
        standin_server(
            "first",
            &[],
            "<startPriority>1</startPriority><startDelay>0.2</startDelay>",
        ),
        standin_server("second", &[], "<startPriority>2</startPriority>"),
    ]
    .concat();
    let mut daemon = Daemon::start(&registry(FAST, &servers));
    daemon.started_pid("third");
    assert_eq!(daemon.stop(), Some(0));
    let events = daemon.events();
    let order = |event: &str| -> Vec<String> {
        events
            .iter()
            .filter(|e| e["event"] == event)
            .map(|e| e["component"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(order("component_starting"), ["first", "second", "third"]);
    assert_eq!(order("component_stopping"), ["third", "second", "first"]);
    assert_eq!(order("component_stopped"), ["third", "second", "first"]);
    let time = |event: &str, id: &str| -> String {
        events
            .iter()
            .find(|e| e["event"] == event && e["component"] == id)
            .unwrap()["timestamp"]
            .as_str()
            .unwrap()
            .to_string()
    };
    // `second` waits for `first`'s startDelay (0.2 s) before it starts: the gate, not only
    // the order.
    let first = time("component_started", "first");
    let second = time("component_starting", "second");
    assert!(second > first, "{second} after {first}");
    let event = |name: &str, id: &str| {
        events
            .iter()
            .find(|e| e["event"] == name && e["component"] == id)
            .unwrap()
            .clone()
    };
    let gate = seconds_between(
        &event("component_started", "first"),
        &event("component_starting", "second"),
    );
    assert!(
        gate >= 0.19,
        "second started {gate:.3} s after first; startDelay is 0.2 s"
    );
}

fn autostart_false_components_are_not_started() {
    let servers = [
        idle("on"),
        standin_server("off", &[], "<autostart>false</autostart>"),
    ]
    .concat();
    let mut daemon = Daemon::start(&registry(FAST, &servers));
    daemon.started_pid("on");
    assert_eq!(daemon.stop(), Some(0));
    assert!(daemon.events().iter().any(|e| e["component"] == "on"));
    assert!(!daemon.events().iter().any(|e| e["component"] == "off"));
}

fn backoff_delays_grow_between_consecutive_restarts() {
    let server = standin_server(
        "crasher",
        &["--crash-after", "0"],
        r#"<backoff initial="0.05" multiplier="2" max="0.2"/>"#,
    );
    let mut daemon = Daemon::start(&registry(FAST, &server));
    let delays: Vec<u64> = (0..5)
        .map(|_| {
            daemon.wait_any("restart_scheduled")["delay_ms"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(delays, [50, 100, 200, 200, 200]);
    assert_eq!(daemon.stop(), Some(0));
}

fn sigint_stops_everything_and_exits_0() {
    let mut daemon = Daemon::start(&registry(FAST, &[idle("a"), idle("b")].concat()));
    let pids = [daemon.started_pid("a"), daemon.started_pid("b")];
    assert!(pids.iter().all(|&pid| alive(pid)));
    daemon.signal(Signal::SIGINT);
    let stopping = daemon.wait_any("supervisor_stopping");
    assert_eq!(stopping["reason"], "signal SIGINT");
    assert_eq!(daemon.wait_exit(), Some(0));
    for pid in pids {
        assert!(!alive(pid), "{pid} is gone");
    }
}

fn stats_are_logged_every_tracestatsinterval() {
    let head = format!("<config><tracestatsinterval>1</tracestatsinterval></config>{FAST}");
    let off = standin_server("off", &[], "<autostart>false</autostart>");
    let mut daemon = Daemon::start(&registry(&head, &[idle("a"), idle("b"), off].concat()));
    let pids = daemon.started_pids(&["a", "b"]);
    // SPEC's fields, `pid` null where no process runs.
    let off = daemon.wait_for("stats of off", |e| {
        e["event"] == "stats" && e["component"] == "off"
    });
    let fields = off.as_object().expect("an object");
    assert!(fields.get("pid").is_some_and(Value::is_null), "{off}");
    for (id, &pid) in ["a", "b"].into_iter().zip(&pids) {
        let stats = daemon.wait_for("stats", |e| e["event"] == "stats" && e["component"] == id);
        assert_eq!(stats["pid"], pid);
        assert!(stats["rss_bytes"].as_u64().unwrap() > 0);
        assert!(stats["uptime_ms"].as_u64().unwrap() >= 900);
        assert_eq!(stats["restarts"], 0);
        assert_eq!(stats["level"], "INFO");
    }
    // The control: the same field counts a restart.
    kill(pids[1], Signal::SIGKILL);
    let b = daemon.started_pid("b");
    let stats = daemon.wait_for("stats of the restarted b", |e| {
        e["event"] == "stats" && e["component"] == "b" && e["pid"] == b
    });
    assert_eq!(stats["restarts"], 1);
    assert_eq!(daemon.stop(), Some(0));
}

/// A second SIGTERM during the shutdown does not wait for stop timeouts: everything is killed.
fn a_second_sigterm_kills_at_once() {
    let server = standin_server(
        "stubborn",
        &["--ignore-term"],
        "<stopTimeout>60</stopTimeout><startPriority>5</startPriority>",
    );
    // The control, a level of its own stopped first: killed by its 0.3 s timeout, which the
    // log does show.
    let control = killed_on_stop("control", "<startPriority>9</startPriority>");
    // A level stopped last: still running at the second signal, killed with the rest.
    let later = standin_server("later", &[], "<startPriority>1</startPriority>");
    let mut daemon = Daemon::start(&registry(FAST, &[server, control, later].concat()));
    let [pid, control, later] = daemon.started_pids(&["stubborn", "control", "later"])[..] else {
        unreachable!()
    };
    eventually("standin catches SIGTERM", || {
        catches_sigterm(pid) && catches_sigterm(control)
    });
    assert!(alive(pid));
    daemon.signal(Signal::SIGTERM);
    daemon.wait_event("component_stopping", "stubborn");
    daemon.signal(Signal::SIGTERM);
    let stopped = daemon.wait_event("component_stopped", "stubborn");
    assert_eq!(stopped["pid"], pid);
    assert_eq!(daemon.wait_exit(), Some(0));
    assert!(!alive(pid));
    assert_eq!(
        events_of(&daemon, "component_killed", "control").len(),
        1,
        "{:#?}",
        daemon.events()
    );
    assert!(
        events_of(&daemon, "component_killed", "stubborn").is_empty(),
        "not by the timeout"
    );
    // Killed by us: an expected end (SPEC: only a signal not sent by us is abnormal). Its
    // level's stop may reach it before its exit does (then it is `component_stopped`).
    assert!(!alive(later));
    let exited = events_of(&daemon, "component_exited", "later");
    let stopped = events_of(&daemon, "component_stopped", "later");
    assert_eq!(exited.len() + stopped.len(), 1, "{exited:?} {stopped:?}");
    for exit in exited {
        let how = (exit["signal"].as_i64(), &exit["expected"], &exit["level"]);
        assert_eq!(
            how,
            (Some(9), &Value::Bool(true), &Value::from("INFO")),
            "{exit}"
        );
    }
    // Whichever came first, nothing of `later` is a warning (no crash, no restart, no kill by
    // a timeout); the control's kill by its timeout is one.
    let warned = |id: &str| {
        let events = daemon.events();
        (events.into_iter())
            .filter(|e| e["component"] == id && e["level"] != "INFO" && e["level"] != "DEBUG")
            .collect::<Vec<Value>>()
    };
    assert!(warned("later").is_empty(), "{:?}", warned("later"));
    assert!(!warned("control").is_empty(), "the control's kill warns");
}

/// The tests of this module, in file order, for the harness of main.rs.
pub const TESTS: &[testkit::harness::Test] = testkit::tests![
    one_for_one_restarts_only_the_exited_child,
    one_for_all_restarts_every_sibling,
    rest_for_one_restarts_the_child_and_those_after_it,
    one_for_all_stops_siblings_in_reverse_before_starting_them_again,
    permanent_is_restarted_after_any_exit,
    transient_is_restarted_only_after_an_abnormal_exit,
    temporary_is_never_restarted,
    success_exit_codes_make_an_exit_normal,
    intensity_exceeded_in_a_nested_group_escalates_to_the_root_and_exit_4,
    levels_start_in_priority_order_and_stop_in_exact_reverse,
    autostart_false_components_are_not_started,
    backoff_delays_grow_between_consecutive_restarts,
    sigint_stops_everything_and_exits_0,
    stats_are_logged_every_tracestatsinterval,
    a_second_sigterm_kills_at_once,
];
