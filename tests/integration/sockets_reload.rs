//! A held socket through the component's life (issue 19): operator restarts, stops and
//! reloads that leave it alone keep the very socket, queueing clients while nobody accepts.
//! Reloads that change a component's held sockets: a socket kept (same address, a
//! new backlog or name) stays open through the restart and its queued clients reach the new
//! process; a changed or removed one goes on queueing clients until the new process has
//! started and is closed in the daemon then; an added one is served by the new process.
//!
//! The component is bash in front of the stand-in: on SIGTERM the stand-in dies and bash closes
//! its copies of the sockets, then lingers [`LINGER`] before exiting, as a server that stops
//! accepting and drains would. During that time only the daemon holds the sockets, so what a
//! client meets there is the daemon's doing.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;

use nix::sys::signal::Signal;
use testkit::*;

use super::sockets::sockets_of;

/// How long the old process lingers without its sockets after SIGTERM.
const LINGER: &str = "3";

/// bash, giving the stand-in (`$0`) the sockets as its own (`LISTEN_PID` is bash's pid) and,
/// on SIGTERM, closing them and lingering.
const WRAPPER: &str = r#"trap 'exec 3>&- 4>&-; sleep "$1"; exit 0' TERM
( export LISTEN_PID=$BASHPID; exec "$0" --name is ) &
wait"#;

/// The component `is` holding `sockets`, served by the stand-in behind [`WRAPPER`].
fn server(bash: &str, sockets: &str) -> String {
    let arguments: String = [WRAPPER, standin(), LINGER]
        .iter()
        .map(|a| format!("<argument>{}</argument>", xml_escape(a)))
        .collect();
    registry(
        "",
        &format!(
            r#"<server id="is"><executable>{bash}</executable>
               <arguments><argument>-c</argument>{arguments}</arguments>
               {sockets}<readiness socket="true"/><stopTimeout>30</stopTimeout></server>"#
        ),
    )
}

/// `<socket>` named `name` on 127.0.0.1:`port`, with `extra` attributes.
fn socket(name: &str, port: u16, extra: &str) -> String {
    format!(r#"<socket name="{name}"{extra}><listen>tcp:127.0.0.1:{port}</listen></socket>"#)
}

/// The inode of the socket listening on 127.0.0.1:`port` (`/proc/net/tcp`), as the
/// `socket:[INODE]` a descriptor links to.
fn listener(port: u16) -> Option<String> {
    tcp_listener_inode(port).map(|inode| format!("socket:[{inode}]"))
}

/// Whether the daemon (`pid`) holds the socket `inode`.
fn holds(pid: u32, inode: &str) -> bool {
    sockets_of(pid).iter().any(|(_, s)| s == inode)
}

/// `GET /info` on an open connection: the pid that answered.
fn answered_by(mut stream: TcpStream) -> Result<u64, String> {
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    let request = b"GET /info HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    stream.write_all(request).map_err(|e| e.to_string())?;
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .map_err(|e| e.to_string())?;
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    let info: serde_json::Value = serde_json::from_str(body).map_err(|e| e.to_string())?;
    info["pid"].as_u64().ok_or(answer)
}

fn connect(port: u16) -> std::io::Result<TcpStream> {
    TcpStream::connect(("127.0.0.1", port))
}

/// The stand-in bash runs for the component whose bash is `pid`.
fn standin_of(pid: u32) -> u32 {
    let found = std::cell::Cell::new(None);
    eventually("the stand-in under bash", || {
        found.set(children_of(pid).first().map(|child| child.pid));
        found.get().is_some()
    });
    found.get().unwrap()
}

/// Rewrites the registry to `xml`, reloads, and waits until the old process (bash `old`) has
/// lost its stand-in and closed its copies of the sockets: from then until the new process
/// starts, only the daemon holds them. Returns the stand-in that served before.
fn reload_into_the_gap(daemon: &mut Daemon, xml: &str, old: u32) -> u32 {
    let served = standin_of(old);
    std::fs::write(&daemon.registry, xml).expect("rewrite the registry");
    daemon.signal(Signal::SIGHUP);
    eventually("the old stand-in gone", || !in_proc_table(served));
    eventually("the old process without its sockets", || {
        alive(old) && !std::path::Path::new(&format!("/proc/{old}/fd/3")).exists()
    });
    served
}

fn a_reload_closes_a_changed_or_removed_socket_only_once_the_new_process_has_started() {
    let Some(bash) = testkit::skip::tool("bash") else {
        testkit::skip!("no bash to put in front of the stand-in");
    };
    let bash = bash.to_str().unwrap().to_string();
    let (a, b, c) = (free_port(), free_port(), free_port());
    let mut daemon = Daemon::start(&server(&bash, &socket("http", a, "")));
    let daemon_pid = daemon.pid();
    let first = daemon.started_pid("is");
    let held_a = listener(a).expect("a listens");
    assert!(holds(daemon_pid, &held_a), "the daemon holds a");
    assert_eq!(
        answered_by(connect(a).unwrap()),
        Ok(standin_of(first).into())
    );

    // 1. The same address with another name and backlog, and a socket added: `a` stays open,
    // so a client that came during the restart is served by the new process.
    let kept = server(
        &bash,
        &format!(
            "{}{}",
            socket("web", a, r#" backlog="64""#),
            socket("extra", c, "")
        ),
    );
    let old = reload_into_the_gap(&mut daemon, &kept, first);
    let queued = connect(a).expect("a client during the restart is queued, not refused");
    let second = daemon.started_pid("is");
    let new = standin_of(second);
    assert_eq!(
        answered_by(queued),
        Ok(new.into()),
        "and served by the new process"
    );
    assert_ne!(new, old);
    assert_eq!(
        listener(a).as_ref(),
        Some(&held_a),
        "the very socket `a` kept"
    );
    assert_eq!(answered_by(connect(c).unwrap()), Ok(new.into()), "c added");
    let held_c = listener(c).expect("c listens");

    // 2. `web` moves to another address and `extra` goes: both queue clients until the new
    // process has started, then close in the daemon.
    let moved = server(&bash, &socket("web", b, ""));
    reload_into_the_gap(&mut daemon, &moved, second);
    let on_a = connect(a).expect("the old address queues until the switch");
    let on_c = connect(c).expect("the removed socket queues until the switch");
    assert!(holds(daemon_pid, &held_a) && holds(daemon_pid, &held_c));
    let third = daemon.started_pid("is");
    let new = standin_of(third);
    eventually("a and c closed in the daemon", || {
        !holds(daemon_pid, &held_a) && !holds(daemon_pid, &held_c)
    });
    for (port, queued) in [(a, on_a), (c, on_c)] {
        assert!(answered_by(queued).is_err(), "closed with their queue");
        let refused = connect(port).map_err(|e| e.kind());
        assert_eq!(refused.err(), Some(ErrorKind::ConnectionRefused), "{port}");
    }
    assert_eq!(answered_by(connect(b).unwrap()), Ok(new.into()), "b served");
    let held_b = listener(b).expect("b listens");
    assert!(holds(daemon_pid, &held_b), "the daemon holds b");
    let environment = proc_environment(new);
    assert!(environment.iter().any(|v| v == "LISTEN_FDS=1"));
    assert!(environment.iter().any(|v| v == "LISTEN_FDNAMES=web"));
    assert_eq!(daemon.stop(), Some(0));
}

/// `supervisor ARGS…` against `daemon`, which must succeed.
fn ctl(daemon: &Daemon, args: &[&str]) {
    let output = daemon.cli(args, DEADLINE);
    assert_eq!(output.status.code(), Some(0), "{args:?}: {output:?}");
}

fn the_socket_outlives_operator_stops_restarts_and_reloads_that_leave_it_alone() {
    let a = free_port();
    let settings = format!(r#"{}<readiness socket="true"/>"#, socket("http", a, ""));
    let xml = |args: &[&str]| registry("", &standin_server("is", args, &settings));
    let mut daemon = Daemon::start(&xml(&[]));
    let daemon_pid = daemon.pid();
    let first = daemon.started_pid("is");
    let held = listener(a).expect("a listens");
    let same_socket = |what: &str| {
        assert_eq!(listener(a).as_ref(), Some(&held), "{what}");
        assert!(holds(daemon_pid, &held), "{what}: the daemon holds it");
    };

    ctl(&daemon, &["restart", "is"]);
    let second = daemon.started_pid("is");
    assert_ne!(second, first);
    same_socket("an operator restart");

    // Stopped by the operator, nobody accepts: a client waits in the queue (not refused) and
    // is served once the operator starts it again.
    ctl(&daemon, &["stop", "is"]);
    eventually("the process gone", || !in_proc_table(second));
    let waiting = connect(a).expect("queued while stopped, not refused");
    same_socket("an operator stop");
    ctl(&daemon, &["start", "is"]);
    let third = daemon.started_pid("is");
    assert_eq!(answered_by(waiting), Ok(third.into()));

    // A reload that changes the command (restarted) but not the socket.
    std::fs::write(&daemon.registry, xml(&["--tick-ms", "100000"])).expect("rewrite");
    daemon.signal(Signal::SIGHUP);
    let fourth = daemon.started_pid("is");
    assert_ne!(fourth, third);
    same_socket("a reload that leaves it alone");
    assert_eq!(answered_by(connect(a).unwrap()), Ok(fourth.into()));
    assert_eq!(daemon.stop(), Some(0));
}

fn a_reload_changes_the_sockets_of_a_stopped_component_at_once() {
    let (a, b, c) = (free_port(), free_port(), free_port());
    let xml = |sockets: &str| {
        let settings = format!(r#"{sockets}<readiness socket="true"/>"#);
        registry("", &standin_server("is", &[], &settings))
    };
    let both = format!("{}{}", socket("http", a, ""), socket("extra", c, ""));
    let mut daemon = Daemon::start(&xml(&both));
    let daemon_pid = daemon.pid();
    let first = daemon.started_pid("is");
    let (held_a, held_c) = (listener(a).expect("a"), listener(c).expect("c"));
    ctl(&daemon, &["stop", "is"]);
    eventually("the process gone", || !in_proc_table(first));
    // The control: stopped, it still holds both.
    assert!(holds(daemon_pid, &held_a) && holds(daemon_pid, &held_c));

    // No process to switch over to: `http` moves to b and `extra` goes at once, and the
    // operator's stop holds.
    std::fs::write(&daemon.registry, xml(&socket("http", b, ""))).expect("rewrite");
    ctl(&daemon, &["reload"]);
    eventually("a and c closed in the daemon", || {
        !holds(daemon_pid, &held_a) && !holds(daemon_pid, &held_c)
    });
    for port in [a, c] {
        let refused = connect(port).map_err(|e| e.kind());
        assert_eq!(refused.err(), Some(ErrorKind::ConnectionRefused), "{port}");
    }
    let waiting = connect(b).expect("b queues while the component is stopped");
    assert!(holds(daemon_pid, &listener(b).expect("b listens")));
    ctl(&daemon, &["start", "is"]);
    let second = daemon.started_pid("is");
    assert_eq!(answered_by(waiting), Ok(second.into()));
    assert_eq!(daemon.stop(), Some(0));
}

/// The tests of this module, for the integration runner.
pub const TESTS: &[testkit::harness::Test] = testkit::tests![
    a_reload_closes_a_changed_or_removed_socket_only_once_the_new_process_has_started,
    the_socket_outlives_operator_stops_restarts_and_reloads_that_leave_it_alone,
    a_reload_changes_the_sockets_of_a_stopped_component_at_once,
];
