//! What stays open across `supervisor upgrade` (issues 18 and 19): the control socket, the HTTP
//! endpoint, components' held listening sockets and notification sockets are the same sockets
//! after the exec (and after a rollback), connections made meanwhile wait in their backlog and
//! are answered, systemd hears `RELOADING=1` then `READY=1` from the same pid, and nothing else
//! leaks: no descriptor in the daemon, no socket or hand-over variable in a component.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::Path;
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::Value;
use testkit::*;

use crate::upgrade::{cannot_restore, executable, refusal, upgrade};

/// How the daemon's endpoint is configured: `<tcpport>` on a free port.
fn with_endpoint(port: u16) -> String {
    format!("<config><tcpport>{port}</tcpport></config>\n{FAST}")
}

/// A `<server>` holding a socket on `port` (ready as soon as it runs), reporting to `report`.
fn socket_server(id: &str, port: u16, report: &Path) -> String {
    let held = format!(
        r#"<socket name="http"><listen>tcp:127.0.0.1:{port}</listen></socket>
           <readiness socket="true"/>{NO_BACKOFF}"#
    );
    standin_server(id, &["--report", report.to_str().unwrap()], &held)
}

/// The inode of the unix socket bound to `path` (`/proc/net/unix`).
fn unix_listener_inode(path: &Path) -> Option<u64> {
    let table = std::fs::read_to_string("/proc/net/unix").ok()?;
    let path = path.to_str()?;
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        (fields.get(7) == Some(&path))
            .then(|| fields.get(6)?.parse().ok())
            .flatten()
    })
}

/// The socket inodes `pid` has open.
fn socket_inodes(pid: u32) -> Vec<u64> {
    (crate::sockets::sockets_of(pid).into_iter())
        .filter_map(|(_, target)| {
            target
                .strip_prefix("socket:[")?
                .strip_suffix(']')?
                .parse()
                .ok()
        })
        .collect()
}

/// The inodes of the daemon's control socket, its HTTP endpoint on `port` and the socket held
/// on `held`; each must exist.
fn listeners(daemon: &Daemon, port: u16, held: u16) -> [u64; 3] {
    let control = unix_listener_inode(&daemon.run_dir().join("control.sock"));
    let found = [control, tcp_listener_inode(port), tcp_listener_inode(held)];
    found.map(|inode| inode.expect("every listener is found in /proc/net"))
}

/// One conversation with the daemon while it may be upgrading: when the connect returned
/// (realtime ns, the log's clock), and whether an answer came.
pub(crate) struct Conversation {
    pub(crate) connected_ns: u64,
    pub(crate) answered: Result<(), String>,
}

/// Sends `request` on a new connection (no retry) and reads the answer to its end; when the
/// connect returned and whether the answer passes `answered_if`. `None` when the client could
/// not even try (no local port left under a busy run: says nothing about the daemon).
fn converse<S: Read + Write>(
    connected: std::io::Result<S>,
    request: &[u8],
    answered_if: fn(&str) -> bool,
) -> Option<Conversation> {
    let connected_ns = realtime_ns();
    let mut stream = match connected {
        Ok(stream) => stream,
        Err(error) if error.kind() == ErrorKind::AddrNotAvailable => return None,
        Err(error) => {
            return Some(Conversation {
                connected_ns,
                answered: Err(format!("connect: {error}")),
            });
        }
    };
    let sent = stream.write_all(request);
    let mut answer = String::new();
    let read = stream.read_to_string(&mut answer);
    let answered = match (sent, read) {
        (Ok(()), Ok(_)) if answered_if(&answer) => Ok(()),
        outcome => Err(format!("{outcome:?}: {answer:?}")),
    };
    Some(Conversation {
        connected_ns,
        answered,
    })
}

/// `status` on a new control connection.
pub(crate) fn control_status(socket: &Path) -> Option<Conversation> {
    let connected = UnixStream::connect(socket);
    if let Ok(stream) = &connected {
        let _ = stream.set_read_timeout(Some(DEADLINE));
    }
    let request = b"{\"command\":\"status\"}\n";
    converse(connected, request, |answer| {
        answer.contains("\"reply\":\"status\"")
    })
}

/// `GET /status` on a new HTTP connection to 127.0.0.1:`port`.
fn http_status(port: u16) -> Option<Conversation> {
    let connected = TcpStream::connect(("127.0.0.1", port));
    if let Ok(stream) = &connected {
        let _ = stream.set_read_timeout(Some(DEADLINE));
    }
    let request = b"GET /status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    converse(connected, request, |answer| {
        answer.starts_with("HTTP/1.1 200")
    })
}

/// Runs `ask` without pause on a thread of its own until `done`; what it saw.
pub(crate) fn hammer<T: Send + 'static>(
    done: &Arc<AtomicBool>,
    ask: impl Fn() -> Option<T> + Send + 'static,
) -> thread::JoinHandle<Vec<T>> {
    let done = Arc::clone(done);
    thread::spawn(move || {
        let mut seen = Vec::new();
        while !done.load(Ordering::Relaxed) {
            seen.extend(ask());
        }
        seen
    })
}

/// Conversations begun between `started` and `completed` (log timestamps in ns).
pub(crate) fn during(seen: &[Conversation], started: u64, completed: u64) -> usize {
    (seen.iter())
        .filter(|c| (started..completed).contains(&c.connected_ns))
        .count()
}

fn control_and_http_connections_made_during_the_exec_are_answered() {
    let port = free_port();
    let servers = [idle("a"), idle("b")].concat();
    let mut daemon = Daemon::start(&registry(&with_endpoint(port), &servers));
    daemon.started_pids(&["a", "b"]);
    let socket = daemon.run_dir().join("control.sock");
    let (mut control_hits, mut http_hits) = (0, 0);
    // SIGUSR2 with both clients connecting without pause, until each made a connection while
    // the upgrade was under way (the window is tens of ms: a few tries at most).
    for attempt in 1..=10 {
        let done = Arc::new(AtomicBool::new(false));
        let socket = socket.clone();
        let control = hammer(&done, move || control_status(&socket));
        let http = hammer(&done, move || http_status(port));
        daemon.signal(Signal::SIGUSR2);
        let started = daemon.wait_any("upgrade_started");
        let completed = daemon.wait_any("upgrade_completed");
        // A few more conversations with the new image, then the clients stop.
        thread::sleep(Duration::from_millis(20));
        done.store(true, Ordering::Relaxed);
        let (control, http) = (control.join().unwrap(), http.join().unwrap());
        for (what, seen) in [("control", &control), ("HTTP", &http)] {
            let failed: Vec<&String> = seen
                .iter()
                .filter_map(|c| c.answered.as_ref().err())
                .collect();
            assert!(
                failed.is_empty(),
                "{what} conversations failed at upgrade {attempt}: {failed:?}"
            );
        }
        let window = |e: &Value| timestamp_ns(e["timestamp"].as_str().unwrap()).unwrap();
        let (from, to) = (window(&started), window(&completed));
        control_hits += during(&control, from, to);
        http_hits += during(&http, from, to);
        println!(
            "upgrade {attempt}: {} control and {} HTTP conversations, {control_hits} and {http_hits} \
             during upgrades so far",
            control.len(),
            http.len()
        );
        if control_hits > 0 && http_hits > 0 {
            break;
        }
    }
    assert!(
        control_hits > 0,
        "no control connection was made during an upgrade"
    );
    assert!(
        http_hits > 0,
        "no HTTP connection was made during an upgrade"
    );
    assert_eq!(daemon.stop(), Some(0));
}

/// The answer to one `GET /info` on a held socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// Answered, by the process with this pid.
    By(u32),
    /// `connection refused`: nobody listened.
    Refused,
    /// Connected, then reset or closed without an answer.
    Lost,
}

/// `GET /info` on a new connection to 127.0.0.1:`port`; `None` when the client could not even
/// try (no local port left under a busy run).
fn info(port: u16) -> Option<Answer> {
    let mut stream = match TcpStream::connect(("127.0.0.1", port)) {
        Ok(stream) => stream,
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => return Some(Answer::Refused),
        Err(_) => return None,
    };
    let _ = stream.set_read_timeout(Some(DEADLINE));
    let sent = stream.write_all(b"GET /info HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let mut answer = String::new();
    if sent.is_err() || stream.read_to_string(&mut answer).is_err() {
        return Some(Answer::Lost);
    }
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    let pid = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v["pid"].as_u64());
    Some(pid.map_or(Answer::Lost, |pid| Answer::By(pid as u32)))
}

fn count(answers: &[Answer], what: fn(&Answer) -> bool) -> usize {
    answers.iter().filter(|a| what(a)).count()
}

fn a_held_socket_refuses_no_connection_through_10_upgrades_and_a_crash_after_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (held, own) = (free_port(), free_port());
    let report = dir.path().join("is.json");
    let own_listener = standin_server(
        "own",
        &["--port", &own.to_string()],
        &format!(r#"<readiness tcp="127.0.0.1:{own}" interval="0.01"/>{NO_BACKOFF}"#),
    );
    let servers = format!("{}{own_listener}", socket_server("is", held, &report));
    let mut daemon = Daemon::start_in(dir, &registry(FAST, &servers));
    let pids = daemon.started_pids(&["is", "own"]);
    let socket = tcp_listener_inode(held).expect("the held socket listens");
    eventually("the first answer", || {
        info(held) == Some(Answer::By(pids[0]))
    });
    let copy = executable(daemon.path(), "supervisor-new", None);
    let done = Arc::new(AtomicBool::new(false));
    let client = hammer(&done, move || info(held));
    for n in 1..=10 {
        let out = upgrade(&daemon, &copy);
        assert!(out.status.success(), "upgrade {n}: {out:?}");
        daemon.wait_any("upgrade_completed");
    }
    assert_eq!(events_of(&daemon, "component_started", "is").len(), 1);
    // The replacement of a crash after the upgrades gets the socket the first daemon bound.
    kill(pids[0], Signal::SIGKILL);
    let replacement = daemon.started_pid("is");
    eventually("the replacement answers", || {
        info(held) == Some(Answer::By(replacement))
    });
    done.store(true, Ordering::Relaxed);
    let answers = client.join().expect("client");
    let refused = count(&answers, |a| *a == Answer::Refused);
    let lost = count(&answers, |a| *a == Answer::Lost);
    let answered = count(&answers, |a| matches!(a, Answer::By(_)));
    println!(
        "held socket through 10 upgrades and a kill: {answered} answered, {refused} refused, {lost} lost (in flight at the kill)"
    );
    assert_eq!(refused, 0, "no connection refused");
    assert!(
        lost <= 1,
        "only a request in flight at the kill may be lost"
    );
    assert_eq!(
        tcp_listener_inode(held),
        Some(socket),
        "the same socket listens"
    );
    assert!(
        socket_inodes(replacement).contains(&socket),
        "the replacement was passed the socket handed over"
    );

    // The positive control: the same client against a listener that is closed and reopened
    // (`own` binds its own port at each start) meets refusals.
    let done = Arc::new(AtomicBool::new(false));
    let client = hammer(&done, move || info(own));
    eventually("the client reaches own", || {
        info(own).is_some_and(|a| matches!(a, Answer::By(_)))
    });
    for _ in 0..5 {
        let out = daemon.cli(&["restart", "own"], DEADLINE);
        assert!(out.status.success(), "{out:?}");
    }
    done.store(true, Ordering::Relaxed);
    let answers = client.join().expect("client");
    assert!(
        count(&answers, |a| *a == Answer::Refused) > 0,
        "a listener closed and reopened refuses the same load"
    );
    assert_eq!(daemon.stop(), Some(0));
}

fn a_notify_component_keeps_its_pid_and_its_watchdog_through_upgrades() {
    let pinging = |id: &str, stop_after: Option<&str>| {
        let mut args = vec!["--notify-ready-after", "0", "--watchdog-every", "0.1"];
        args.extend(
            stop_after
                .map(|after| ["--watchdog-stop-after", after])
                .into_iter()
                .flatten(),
        );
        standin_server(id, &args, r#"<readiness notify="true" watchdog="1"/>"#)
    };
    let servers = [pinging("steady", None), pinging("lapsing", Some("6"))].concat();
    let mut daemon = Daemon::start(&registry(FAST, &servers));
    let pids = daemon.started_pids(&["steady", "lapsing"]);
    daemon.wait_event("component_ready", "steady");
    let copy = executable(daemon.path(), "supervisor-new", None);
    let mut completed = Value::Null;
    for n in 1..=3 {
        let out = upgrade(&daemon, &copy);
        assert!(out.status.success(), "upgrade {n}: {out:?}");
        completed = daemon.wait_any("upgrade_completed");
    }
    // The positive control: a component whose pings stop misses its watchdog under the new
    // image, a watchdog period or more after the last upgrade: by then `steady` has run under
    // it for longer than its period too.
    let unhealthy = daemon.wait_event("component_unhealthy", "lapsing");
    let at = |event: &Value| timestamp_ns(event["timestamp"].as_str().unwrap()).unwrap();
    assert!(
        at(&unhealthy) >= at(&completed) + 1_000_000_000,
        "lapsing missed its watchdog {} ms after the last upgrade, less than its period: the \
         upgrades took too long for this test to show the new image's watchdog",
        (at(&unhealthy) as i64 - at(&completed) as i64) / 1_000_000
    );
    assert!(
        events_of(&daemon, "component_unhealthy", "steady").is_empty(),
        "steady's WATCHDOG=1 reach the new image"
    );
    assert_eq!(events_of(&daemon, "component_started", "steady").len(), 1);
    let steady = daemon.status_row("steady");
    assert_eq!(steady["state"], "running", "{steady}");
    assert_eq!(steady["pid"].as_u64(), Some(u64::from(pids[0])));
    assert_eq!(daemon.stop(), Some(0));
}

fn a_rollback_keeps_the_listeners_and_the_held_socket() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (port, held) = (free_port(), free_port());
    let report = dir.path().join("is.json");
    let xml = registry(&with_endpoint(port), &socket_server("is", held, &report));
    let mut daemon = Daemon::start_in(dir, &xml);
    let pid = daemon.started_pid("is");
    let before = listeners(&daemon, port, held);
    let (copy, broken) = cannot_restore(daemon.path());
    let out = upgrade(&daemon, &broken);
    assert_eq!(out.status.code(), Some(1), "rolled back: {out:?}");
    daemon.wait_any("upgrade_rolled_back");
    assert_eq!(
        listeners(&daemon, port, held),
        before,
        "the control socket, the endpoint and the held socket are the same sockets"
    );
    let held_by_daemon = socket_inodes(daemon.pid());
    assert!(
        before.iter().all(|inode| held_by_daemon.contains(inode)),
        "the daemon holds them"
    );
    assert_eq!(info(held), Some(Answer::By(pid)));
    assert!(http_status(port).is_some_and(|c| c.answered.is_ok()));
    // And the next upgrade, from the rolled-back daemon, hands them over again.
    assert!(upgrade(&daemon, &copy).status.success());
    daemon.wait_any("upgrade_completed");
    assert_eq!(listeners(&daemon, port, held), before);
    assert_eq!(daemon.stop(), Some(0));
}

/// `<tcpport>` removed from the registry on disk (no reload), then an upgrade: the new image,
/// which reads the registry from disk, closes the endpoint handed over instead of keeping it
/// open unserved.
fn an_endpoint_the_registry_no_longer_asks_for_is_closed_by_the_upgrade() {
    let port = free_port();
    let mut daemon = Daemon::start(&registry(&with_endpoint(port), &idle("a")));
    daemon.started_pid("a");
    assert!(
        http_status(port).is_some_and(|c| c.answered.is_ok()),
        "the endpoint answers"
    );
    std::fs::write(&daemon.registry, registry(FAST, &idle("a"))).expect("rewrite the registry");
    let copy = executable(daemon.path(), "supervisor-new", None);
    assert!(upgrade(&daemon, &copy).status.success());
    daemon.wait_any("upgrade_completed");
    assert_eq!(
        tcp_listener_inode(port),
        None,
        "nothing listens on {port} any more"
    );
    assert_eq!(daemon.stop(), Some(0));
}

fn after_upgrades_nothing_leaks_into_the_daemon_or_a_component() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (port, held) = (free_port(), free_port());
    let report = dir.path().join("is.json");
    let notified = standin_server(
        "notified",
        &["--notify-ready-after", "0"],
        r#"<readiness notify="true"/>"#,
    );
    let servers = format!("{}{notified}", socket_server("is", held, &report));
    let xml = registry(&with_endpoint(port), &servers);
    let mut daemon = Daemon::start_in(dir, &xml);
    let pids = daemon.started_pids(&["is", "notified"]);
    daemon.wait_event("component_ready", "notified");
    let first = fd_count(daemon.pid());
    let copy = executable(daemon.path(), "supervisor-new", None);
    let mut counts = Vec::new();
    for n in 1..=6 {
        let out = upgrade(&daemon, &copy);
        assert!(out.status.success(), "upgrade {n}: {out:?}");
        daemon.wait_any("upgrade_completed");
        counts.push(fd_count(daemon.pid()));
    }
    // The first image also holds what each spawn opened (the components' cgroups, the
    // spawner's stdio slots): a new image opens those at its first spawn.
    println!("descriptors: {first} in the first image, {counts:?} after each upgrade");
    assert!(counts[0] <= first, "{first} -> {counts:?}");
    assert!(
        counts.iter().all(|&count| count == counts[0]),
        "no descriptor leaked through 5 more upgrades: {counts:?}"
    );
    // A restart after the upgrades: the component gets its own socket at 3 and nothing else,
    // and none of the hand-over's variables, which the daemon's environment does hold.
    std::fs::remove_file(&report).expect("remove the first report");
    kill(pids[0], Signal::SIGKILL);
    let replacement = daemon.started_pid("is");
    let report = read_json_when_ready(&report);
    assert_eq!(report["pid"].as_u64(), Some(u64::from(replacement)));
    assert_eq!(report["fds"], serde_json::json!([0, 1, 2, 3]), "{report}");
    let daemon_environment = proc_environment(daemon.pid());
    for variable in ["SUPERVISOR_HANDOVER", "SUPERVISOR_GUARDIAN"] {
        let prefix = format!("{variable}=");
        assert!(
            report["env"].get(variable).is_none(),
            "{variable} leaked: {report}"
        );
        if variable == "SUPERVISOR_HANDOVER" {
            assert!(
                daemon_environment.iter().any(|v| v.starts_with(&prefix)),
                "the daemon's environment holds {variable}"
            );
        }
    }
    // The positive control of the count: a component added with a socket adds descriptors.
    let steady = fd_count(daemon.pid());
    let added = socket_server("added", free_port(), &daemon.path().join("added.json"));
    std::fs::write(
        &daemon.registry,
        registry(&with_endpoint(port), &format!("{servers}{added}")),
    )
    .expect("rewrite the registry");
    daemon.signal(Signal::SIGHUP);
    daemon.started_pid("added");
    assert!(
        fd_count(daemon.pid()) > steady,
        "the count sees a new descriptor"
    );
    assert_eq!(daemon.stop(), Some(0));
}

/// One notification datagram and the pid that sent it (`SCM_CREDENTIALS`).
fn receive_note(socket: &UnixDatagram) -> (String, u32) {
    use nix::sys::socket::{ControlMessageOwned, MsgFlags, UnixAddr, UnixCredentials, recvmsg};
    use std::os::fd::AsRawFd;
    let mut buffer = [0u8; 4096];
    let mut slices = [std::io::IoSliceMut::new(&mut buffer)];
    let mut space = nix::cmsg_space!(UnixCredentials);
    let message = recvmsg::<UnixAddr>(
        socket.as_raw_fd(),
        &mut slices,
        Some(&mut space),
        MsgFlags::empty(),
    )
    .expect("a notification within the deadline");
    let pid = message
        .cmsgs()
        .expect("control messages")
        .find_map(|c| match c {
            ControlMessageOwned::ScmCredentials(credentials) => Some(credentials.pid() as u32),
            _ => None,
        })
        .expect("the sender's credentials");
    let length = message.bytes;
    (String::from_utf8_lossy(&buffer[..length]).into_owned(), pid)
}

fn systemd_hears_reloading_then_ready_from_the_same_pid_around_an_upgrade() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path).expect("bind the notify socket");
    nix::sys::socket::setsockopt(&socket, nix::sys::socket::sockopt::PassCred, &true)
        .expect("SO_PASSCRED");
    socket.set_read_timeout(Some(DEADLINE)).unwrap();
    let registry_path = dir.path().join("SupervisorRegistry.xml");
    std::fs::write(&registry_path, registry(FAST, &idle("a"))).expect("write the registry");
    let variable = format!("NOTIFY_SOCKET={}", path.display());
    let mut daemon = Daemon::start_wrapped(dir, registry_path, &["env", &variable]);
    daemon.started_pid("a");
    let (first, sender) = receive_note(&socket);
    assert!(first.lines().any(|l| l == "READY=1"), "{first:?}");
    assert_eq!(sender, daemon.pid());
    let copy = executable(daemon.path(), "supervisor-new", None);
    assert!(upgrade(&daemon, &copy).status.success());
    let completed = daemon.wait_any("upgrade_completed");
    assert_eq!(completed["pid"].as_u64(), Some(u64::from(daemon.pid())));
    let (reloading, sender) = receive_note(&socket);
    assert!(
        reloading.lines().any(|l| l == "RELOADING=1"),
        "RELOADING=1 first: {reloading:?}"
    );
    let usec = reloading
        .lines()
        .find_map(|l| l.strip_prefix("MONOTONIC_USEC="));
    assert!(
        usec.and_then(|u| u.parse::<u64>().ok())
            .is_some_and(|u| u > 0),
        "{reloading:?}"
    );
    assert_eq!(sender, daemon.pid(), "RELOADING=1 from the main pid");
    let (ready, sender) = receive_note(&socket);
    assert!(
        ready.lines().any(|l| l == "READY=1"),
        "then READY=1: {ready:?}"
    );
    assert_eq!(
        sender,
        daemon.pid(),
        "READY=1 from the main pid, the new image"
    );
    assert_eq!(daemon.stop(), Some(0));
}

/// Tries the instance lock as a second daemon would (`LOCK_EX | LOCK_NB`, let go at once); when
/// it tried and whether it got the lock.
fn try_lock(path: &Path) -> Option<(u64, bool)> {
    let file = std::fs::File::open(path).ok()?;
    let tried_ns = realtime_ns();
    let got = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock).is_ok();
    Some((tried_ns, got))
}

/// The instance lock goes across the exec with the daemon: no second daemon (nor a CLI asking
/// whether one runs) finds the run directory free while an upgrade is under way, and the
/// lock is free once the daemon has stopped (the positive control).
fn the_instance_lock_is_never_let_go_through_upgrades() {
    let mut daemon = Daemon::start(&registry("", &idle("a")));
    daemon.started_pid("a");
    let path = daemon.run_dir().join("supervisor.lock");
    let copy = executable(daemon.path(), "supervisor-new", None);
    let done = Arc::new(AtomicBool::new(false));
    let tries = {
        let path = path.clone();
        hammer(&done, move || try_lock(&path))
    };
    for n in 1..=10 {
        let out = upgrade(&daemon, &copy);
        assert!(out.status.success(), "upgrade {n}: {out:?}");
        // The reply can come before the new image's line is read: wait for it.
        daemon.wait_any("upgrade_completed");
    }
    done.store(true, Ordering::Relaxed);
    let tries = tries.join().unwrap();
    let at = |e: &Value| timestamp_ns(e["timestamp"].as_str().unwrap()).unwrap();
    let named = |name: &str| -> Vec<u64> {
        (daemon.events().iter())
            .filter(|e| e["event"] == name)
            .map(at)
            .collect()
    };
    let windows: Vec<(u64, u64)> = (named("upgrade_started").into_iter())
        .zip(named("upgrade_completed"))
        .collect();
    let during = |t: u64| windows.iter().any(|&(from, to)| (from..to).contains(&t));
    let taken: Vec<u64> = (tries.iter())
        .filter(|(_, got)| *got)
        .map(|t| t.0)
        .collect();
    let tried_during = tries.iter().filter(|(t, _)| during(*t)).count();
    println!(
        "{} tries of the lock, {tried_during} during an upgrade, {} got it",
        tries.len(),
        taken.len()
    );
    assert!(
        taken.is_empty(),
        "the lock was free at {taken:?}, windows {windows:?}"
    );
    assert_eq!(windows.len(), 10, "ten upgrades completed");
    assert!(
        tried_during > 0,
        "no try fell while an upgrade was under way"
    );
    assert_eq!(daemon.stop(), Some(0));
    assert_eq!(
        try_lock(&path).map(|t| t.1),
        Some(true),
        "free once stopped"
    );
}

/// A daemon whose component `slow` is ready 2 s after each start (notify readiness), once
/// ready the first time.
fn slowly_ready() -> Daemon {
    let slow = standin_server(
        "slow",
        &["--notify-ready-after", "2"],
        r#"<readiness notify="true" timeout="30"/>"#,
    );
    let mut daemon = Daemon::start(&registry("", &slow));
    daemon.wait_event("component_ready", "slow");
    daemon
}

/// `restart slow` under way, waiting for the readiness of the `starts`-th start of `slow`,
/// when an upgrade to `binary` comes: the restart's answer and the upgrade's.
fn restart_across_upgrade(daemon: &Daemon, starts: usize, binary: &Path) -> (Output, Output) {
    thread::scope(|scope| {
        let restart = scope.spawn(|| daemon.cli(&["restart", "slow"], Duration::from_secs(30)));
        eventually("the restart's start of slow", || {
            events_of(daemon, "component_started", "slow").len() == starts
        });
        let out = upgrade(daemon, binary);
        (restart.join().unwrap(), out)
    })
}

/// A `restart ID` that waits for its component's readiness when an upgrade comes is answered
/// busy (75, "upgrading") before the exec, never cut off unanswered; the same restart without
/// an upgrade is answered 0 once the component is ready (the positive control).
fn a_restart_waiting_for_readiness_is_answered_busy_by_an_upgrade() {
    let daemon = slowly_ready();
    let control = daemon.cli(&["restart", "slow"], Duration::from_secs(30));
    assert_eq!(control.status.code(), Some(0), "{control:?}");
    let copy = executable(daemon.path(), "supervisor-new", None);
    let (restarted, out) = restart_across_upgrade(&daemon, 3, &copy);
    assert!(out.status.success(), "upgrade: {out:?}");
    assert_eq!(restarted.status.code(), Some(75), "{restarted:?}");
    let said = String::from_utf8_lossy(&restarted.stderr);
    assert!(said.contains("upgrading"), "{said}");
    // The new image goes on waiting for the readiness the old one was waiting for.
    eventually("slow ready a third time", || {
        events_of(&daemon, "component_ready", "slow").len() == 3
    });
}

/// The same restart when the upgrade is refused after the tree was collected (the new binary
/// dies in its dry run): the restart is not told "upgrading" for an upgrade that never comes;
/// it is answered 0 once the component is ready, by the daemon that stays.
fn a_restart_waiting_when_an_upgrade_is_refused_gets_its_own_answer() {
    let mut daemon = slowly_ready();
    let copy = executable(daemon.path(), "supervisor-new", None);
    // Answers the version check as the real binary does, then fails its dry run.
    let script = format!(
        "#!/bin/sh\ncase \"$1\" in --handover-version) exec {} \"$@\";; esac\nexit 3\n",
        copy.display()
    );
    let failing = executable(daemon.path(), "failing-check", Some(&script));
    let (restarted, out) = restart_across_upgrade(&daemon, 2, &failing);
    assert_eq!(out.status.code(), Some(1), "refused: {out:?}");
    let reason = refusal(&mut daemon);
    assert!(reason.contains("--handover-check failed"), "{reason}");
    assert_eq!(restarted.status.code(), Some(0), "{restarted:?}");
    eventually("slow ready a second time", || {
        events_of(&daemon, "component_ready", "slow").len() == 2
    });
    // The refusal came while the restart still waited for that readiness.
    let events = daemon.events();
    let refused = events.iter().position(|e| e["event"] == "upgrade_refused");
    let ready = (events.iter().enumerate())
        .filter(|(_, e)| e["event"] == "component_ready")
        .nth(1)
        .map(|(at, _)| at);
    assert!(
        refused.is_some() && refused < ready,
        "{refused:?} {ready:?}"
    );
}

/// An idle HTTP keep-alive connection (a metrics scraper between scrapes) does not hold the
/// exec back: the endpoint ends it as the gate closes, so the upgrade takes far less than the
/// gate's bound (`QUIET_WITHIN`, 1 s), which it used to wait out every time.
fn an_idle_keep_alive_connection_does_not_hold_the_exec_back() {
    let port = free_port();
    let mut daemon = Daemon::start(&registry(&with_endpoint(port), &idle("a")));
    daemon.started_pid("a");
    let mut idle_client = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    idle_client
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    idle_client.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut answer = [0u8; 512];
    let read = idle_client.read(&mut answer).expect("an answer");
    assert!(
        answer[..read].starts_with(b"HTTP/1.1 200"),
        "answered, kept alive"
    );
    let copy = executable(daemon.path(), "supervisor-new", None);
    let out = upgrade(&daemon, &copy);
    assert!(out.status.success(), "upgrade: {out:?}");
    let completed = daemon.wait_any("upgrade_completed");
    let took = completed["duration_ms"].as_u64().expect("duration_ms");
    assert!(took < 1000, "the exec waited out the gate: {took} ms");
    // The connection was ended, not left to the exec.
    assert_eq!(idle_client.read(&mut answer).ok(), Some(0), "closed");
}

/// The tests of this module, for the integration runner.
pub const TESTS: &[testkit::harness::Test] = testkit::tests![
    control_and_http_connections_made_during_the_exec_are_answered,
    a_held_socket_refuses_no_connection_through_10_upgrades_and_a_crash_after_them,
    a_notify_component_keeps_its_pid_and_its_watchdog_through_upgrades,
    a_rollback_keeps_the_listeners_and_the_held_socket,
    an_endpoint_the_registry_no_longer_asks_for_is_closed_by_the_upgrade,
    after_upgrades_nothing_leaks_into_the_daemon_or_a_component,
    systemd_hears_reloading_then_ready_from_the_same_pid_around_an_upgrade,
    the_instance_lock_is_never_let_go_through_upgrades,
    a_restart_waiting_for_readiness_is_answered_busy_by_an_upgrade,
    a_restart_waiting_when_an_upgrade_is_refused_gets_its_own_answer,
    an_idle_keep_alive_connection_does_not_hold_the_exec_back,
];
