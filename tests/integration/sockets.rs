//! Held listening sockets end to end (SPEC section 2 `<socket>`, issue 19): no connection is
//! refused while a socket-held component is SIGKILLed again and again (and, as the control, the
//! same load against the same component without `<socket>` is refused); the sockets reach only
//! their own component as descriptors 3… and close in the daemon when it is removed; unix
//! sockets get their mode and owner, a stale socket file is replaced and a symlink never
//! followed; `check` refuses a `tcp=` probe of a component's own held socket.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use testkit::*;

/// How many times the component is SIGKILLed under load.
const KILLS: usize = 50;

/// The answer to one request of the load.
enum Answer {
    /// Answered, by the process with this pid.
    By(u32),
    /// `connection refused`: nobody listened.
    Refused,
    /// Connected, then reset or closed without an answer.
    Lost,
    /// The client could not even try (no local port left under a busy test run, ...): says
    /// nothing about the server, counted apart.
    NotTried,
}

/// One request: when it began and ended, and its answer.
struct Request {
    began: Instant,
    ended: Instant,
    answer: Answer,
}

/// `GET /info` on a new connection to 127.0.0.1:`port`; the answering pid.
fn request(port: u16) -> Answer {
    let mut stream = match TcpStream::connect(("127.0.0.1", port)) {
        Ok(stream) => stream,
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => return Answer::Refused,
        Err(_) => return Answer::NotTried,
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let sent = stream.write_all(b"GET /info HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let mut answer = String::new();
    if sent.is_err() || stream.read_to_string(&mut answer).is_err() {
        return Answer::Lost;
    }
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    let pid = serde_json::from_str::<serde_json::Value>(body).ok();
    match pid.and_then(|v| v["pid"].as_u64()) {
        Some(pid) => Answer::By(pid as u32),
        None => Answer::Lost,
    }
}

/// Waits, polling closely, until `pid` has exited (its descriptors closed); when it was seen so.
/// Its leader turning zombie is not enough: the other threads of a killed process may still be
/// in `accept` (taking a connection that then dies with them) until the last of them exits,
/// which is when the daemon can reap it and `/proc/PID` goes.
fn gone(pid: u32) -> Instant {
    let limit = Instant::now() + Duration::from_secs(10);
    while in_proc_table(pid) {
        assert!(Instant::now() < limit, "{pid} survived SIGKILL");
        thread::sleep(Duration::from_micros(50));
    }
    Instant::now()
}

/// What the load saw while the component was killed [`KILLS`] times.
struct Load {
    requests: Vec<Request>,
    /// Each kill: from SIGKILL sent until the process was gone (a process that is dying may
    /// still take a connection from the queue), and which pid.
    kills: Vec<(Instant, Instant, u32)>,
}

impl Load {
    fn refused(&self) -> usize {
        (self.requests.iter())
            .filter(|r| matches!(r.answer, Answer::Refused))
            .count()
    }

    /// Requests lost while a kill happened during them (in flight in the killed process), and
    /// lost ones no kill explains.
    fn lost(&self) -> (usize, usize) {
        let lost = self
            .requests
            .iter()
            .filter(|r| matches!(r.answer, Answer::Lost));
        let in_flight = |r: &&Request| {
            (self.kills.iter()).any(|(sent, gone, _)| r.began <= *gone && r.ended >= *sent)
        };
        let (during, other): (Vec<_>, Vec<_>) = lost.partition(in_flight);
        (during.len(), other.len())
    }

    /// Requests begun after a process was killed and answered by it all the same.
    fn answered_by_the_dead(&self) -> usize {
        let killed_before = |began: Instant, pid: u32| {
            (self.kills.iter()).any(|(_, gone, killed)| *killed == pid && *gone < began)
        };
        (self.requests.iter())
            .filter(|r| matches!(r.answer, Answer::By(pid) if killed_before(r.began, pid)))
            .count()
    }

    /// Requests the client could not even make (see [`Answer::NotTried`]).
    fn not_tried(&self) -> usize {
        (self.requests.iter())
            .filter(|r| matches!(r.answer, Answer::NotTried))
            .count()
    }

    fn answered(&self) -> usize {
        self.requests
            .iter()
            .filter(|r| matches!(r.answer, Answer::By(_)))
            .count()
    }
}

/// Runs the daemon on `xml` and one client issuing requests to 127.0.0.1:`port` without pause
/// while the component `is` is SIGKILLed `kills` times (each kill once the replacement has
/// answered).
fn kill_under_load(xml: &str, port: u16, kills: usize) -> Load {
    let mut daemon = Daemon::start(xml);
    let mut pid = daemon.started_pid("is");
    eventually("the first answer", || {
        matches!(request(port), Answer::By(_))
    });
    let done = Arc::new(AtomicBool::new(false));
    let requests = Arc::new(Mutex::new(Vec::new()));
    let client = {
        let (done, requests) = (done.clone(), requests.clone());
        thread::spawn(move || {
            let limit = Instant::now() + Duration::from_secs(60);
            while !done.load(Ordering::Relaxed) && Instant::now() < limit {
                let began = Instant::now();
                let answer = request(port);
                let ended = Instant::now();
                requests.lock().unwrap().push(Request {
                    began,
                    ended,
                    answer,
                });
            }
        })
    };
    let mut killed = Vec::with_capacity(kills);
    for _ in 0..kills {
        let sent = Instant::now();
        kill(pid, Signal::SIGKILL);
        killed.push((sent, gone(pid), pid));
        pid = daemon.started_pid("is");
        // The next kill once the replacement has answered the load: a steady load, not a
        // crash loop.
        let answered_by = |pid| {
            let requests = requests.lock().unwrap();
            requests
                .iter()
                .rev()
                .take(50)
                .any(|r| matches!(r.answer, Answer::By(p) if p == pid))
        };
        eventually("an answer from the replacement", || answered_by(pid));
    }
    // A few answers from the last replacement, then the client stops.
    let settled = requests.lock().unwrap().len() + 20;
    eventually("requests after the last kill", || {
        requests.lock().unwrap().len() >= settled
    });
    done.store(true, Ordering::Relaxed);
    client.join().expect("client");
    assert_eq!(daemon.stop(), Some(0));
    let requests = std::mem::take(&mut *requests.lock().unwrap());
    Load {
        requests,
        kills: killed,
    }
}

fn no_connection_is_refused_through_50_kills_of_a_socket_held_component() {
    let port = free_port();
    let held = format!(
        r#"<socket name="http"><listen>tcp:127.0.0.1:{port}</listen></socket>
           <readiness socket="true"/>{NO_BACKOFF}"#
    );
    let load = kill_under_load(
        &registry("", &standin_server("is", &[], &held)),
        port,
        KILLS,
    );
    let (in_flight, unexplained) = load.lost();
    println!(
        "held socket: {} requests, {} answered, {} refused, {} lost in flight in a killed process, \
         {} not tried (client out of local ports)",
        load.requests.len(),
        load.answered(),
        load.refused(),
        in_flight,
        load.not_tried()
    );
    assert_eq!(
        load.refused(),
        0,
        "no connection refused with the socket held"
    );
    assert_eq!(
        unexplained, 0,
        "every request not in flight at a kill is answered"
    );
    assert_eq!(
        load.answered_by_the_dead(),
        0,
        "requests after a kill reach the replacement"
    );

    // The control: the same load against the same component binding its own port.
    let port = free_port();
    let own = format!(r#"<readiness tcp="127.0.0.1:{port}" interval="0.01"/>{NO_BACKOFF}"#);
    let own = registry(
        "",
        &standin_server("is", &["--port", &port.to_string()], &own),
    );
    let control = kill_under_load(&own, port, KILLS);
    println!(
        "own listener: {} requests, {} answered, {} refused",
        control.requests.len(),
        control.answered(),
        control.refused()
    );
    assert!(
        control.refused() > 0,
        "without <socket> the load meets refusals"
    );
}

/// How many times the shipped registry's `is` is SIGKILLed.
const SHIPPED_KILLS: usize = 5;

fn the_shipped_registry_s_is_keeps_answering_through_kill_9() {
    // The shipped file with the stand-in this test run built and free ports in place of the
    // fixed ones (the rest as shipped: `is` holds its socket, `<readiness socket="true"/>`).
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/SupervisorRegistry.xml");
    let mut xml = std::fs::read_to_string(shipped).expect("the shipped registry");
    assert!(xml.contains(r#"<socket name="http"><listen>tcp:127.0.0.1:27345</listen>"#));
    xml = xml.replace("../target/release/standin", standin());
    let port = free_port();
    xml = xml.replace("27345", &port.to_string());
    for fixed in ["27346", "27348", "9910"] {
        xml = xml.replace(fixed, &free_port().to_string());
    }
    let load = kill_under_load(&xml, port, SHIPPED_KILLS);
    let (in_flight, unexplained) = load.lost();
    println!(
        "shipped `is`: {} requests, {} answered, {} refused, {in_flight} lost in flight",
        load.requests.len(),
        load.answered(),
        load.refused()
    );
    assert_eq!(load.kills.len(), SHIPPED_KILLS);
    assert_eq!(load.refused(), 0, "no connection refused");
    assert_eq!(
        unexplained, 0,
        "every request not in flight at a kill is answered"
    );
    assert_eq!(load.answered_by_the_dead(), 0, "the replacement answers");
}

/// The socket inodes among the open descriptors of `pid`, by descriptor number.
pub fn sockets_of(pid: u32) -> Vec<(u32, String)> {
    let Ok(entries) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    let mut sockets: Vec<(u32, String)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let fd = e.file_name().to_str()?.parse().ok()?;
            let target = std::fs::read_link(e.path()).ok()?;
            let target = target.to_str()?.to_string();
            target.starts_with("socket:").then_some((fd, target))
        })
        .collect();
    sockets.sort();
    sockets
}

/// The `fds` of a stand-in's `--report`.
fn reported_fds(path: &Path) -> Vec<u64> {
    let text = std::fs::read_to_string(path).expect("report");
    let report: serde_json::Value = serde_json::from_str(&text).expect("report JSON");
    report["fds"]
        .as_array()
        .expect("fds")
        .iter()
        .filter_map(|v| v.as_u64())
        .collect()
}

fn held_sockets_reach_only_their_component_and_close_when_it_is_removed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (one, two) = (free_port(), free_port());
    let (own, sibling, probe) = (
        dir.path().join("own.json"),
        dir.path().join("sibling.json"),
        dir.path().join("probe.json"),
    );
    let probe_arguments = format!(
        "<argument>--report</argument><argument>{}</argument><argument>--exit-after</argument>\
         <argument>0</argument><argument>--exit-code</argument><argument>0</argument>",
        probe.display()
    );
    let holder = standin_server(
        "holder",
        &["--report", own.to_str().unwrap()],
        &format!(
            r#"<socket name="one"><listen>tcp:127.0.0.1:{one}</listen></socket>
               <socket name="two"><listen>tcp:127.0.0.1:{two}</listen></socket>
               <readiness socket="true"/>
               <healthCheck exec="{}" interval="0.2" startAfter="0">{probe_arguments}</healthCheck>
               <environment><variable name="LISTEN_PID">1</variable></environment>"#,
            standin()
        ),
    );
    let plain = standin_server("sibling", &["--report", sibling.to_str().unwrap()], "");
    let mut daemon = Daemon::start_in(dir, &registry("", &format!("{holder}{plain}")));
    let pids = daemon.started_pids(&["holder", "sibling"]);
    eventually("the three reports", || {
        own.exists() && sibling.exists() && probe.exists()
    });

    assert_eq!(
        reported_fds(&own),
        [0, 1, 2, 3, 4],
        "the holder gets its two sockets as 3 and 4"
    );
    assert_eq!(reported_fds(&sibling), [0, 1, 2], "a sibling gets none");
    assert_eq!(
        reported_fds(&probe),
        [0, 1, 2],
        "a probe of the holder gets none"
    );
    let passed = sockets_of(pids[0]);
    let inodes: Vec<&String> = passed
        .iter()
        .filter(|(fd, _)| *fd < 5)
        .map(|(_, s)| s)
        .collect();
    assert_eq!(inodes.len(), 2, "{passed:?}");
    let environment = proc_environment(pids[0]);
    for variable in [
        "LISTEN_FDS=2",
        "LISTEN_FDNAMES=one:two",
        &format!("LISTEN_PID={}", pids[0]),
    ] {
        assert!(
            environment.iter().any(|v| v == variable),
            "{variable} in {environment:?}"
        );
    }
    // The registry's own `LISTEN_PID` does not come first: there is one, the child's.
    let listen_pids = environment.iter().filter(|v| v.starts_with("LISTEN_PID="));
    assert_eq!(listen_pids.count(), 1, "{environment:?}");

    // The daemon holds them (the positive control of the check below) …
    let daemon_pid = daemon.pid();
    let daemon_sockets = || sockets_of(daemon_pid);
    let held = |sockets: &[(u32, String)]| {
        inodes
            .iter()
            .filter(|i| sockets.iter().any(|(_, s)| s == **i))
            .count()
    };
    assert_eq!(held(&daemon_sockets()), 2, "the daemon holds both");
    // … until a reload removes the component.
    std::fs::write(&daemon.registry, registry("", &plain)).expect("rewrite the registry");
    daemon.signal(Signal::SIGHUP);
    daemon.wait_any("config_reloaded");
    eventually("the sockets closed in the daemon", || {
        held(&daemon_sockets()) == 0
    });
    let refused = TcpStream::connect(("127.0.0.1", one)).map_err(|e| e.kind());
    assert_eq!(
        refused.err(),
        Some(ErrorKind::ConnectionRefused),
        "nobody listens any more"
    );
    assert_eq!(daemon.stop(), Some(0));
}

fn unix_sockets_get_their_mode_and_owner_and_replace_a_stale_file_never_a_symlink() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("is.sock");
    // A crashed daemon's file: a socket nobody accepts on (left in place, the bind would fail
    // and the component not start).
    drop(std::os::unix::net::UnixListener::bind(&path).expect("bind the stale socket"));
    let owner = if testkit::skip::is_root() {
        r#" user="nobody" group="nogroup""#
    } else {
        ""
    };
    let socket = format!(
        r#"<socket name="local" mode="0660"{owner}><listen>unix:{}</listen></socket>
           <readiness socket="true"/>"#,
        path.display()
    );
    let xml = registry("", &standin_server("is", &[], &socket));
    let target = dir.path().join("elsewhere");
    let link = dir.path().join("link.sock");
    let mut daemon = Daemon::start_in(dir, &xml);
    daemon.started_pid("is");
    let metadata = std::fs::symlink_metadata(&path).expect("socket file");
    assert!(metadata.file_type().is_socket());
    assert_eq!(metadata.permissions().mode() & 0o7777, 0o660);
    if testkit::skip::is_root() {
        let nobody = nix::unistd::User::from_name("nobody")
            .ok()
            .flatten()
            .expect("nobody");
        assert_eq!(metadata.uid(), nobody.uid.as_raw());
    }
    let mut answer = String::new();
    let mut stream = std::os::unix::net::UnixStream::connect(&path).expect("connect");
    stream.read_to_string(&mut answer).expect("read");
    assert_eq!(answer, "pong\n");

    // A symlink where the socket goes is refused, and what it points to is left alone.
    std::os::unix::fs::symlink(&target, &link).expect("symlink");
    let linked = xml.replace(path.to_str().unwrap(), link.to_str().unwrap());
    std::fs::write(&daemon.registry, linked).expect("rewrite the registry");
    daemon.signal(Signal::SIGHUP);
    let failed = daemon.wait_event("component_spawn_failed", "is");
    assert!(failed.to_string().contains("not a socket"), "{failed}");
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(!target.exists(), "nothing was created through the symlink");
    assert_eq!(daemon.stop(), Some(0));
}

fn check_refuses_a_tcp_probe_of_the_own_held_socket() {
    let port = free_port();
    let socket = format!(
        r#"<socket name="http"><listen>tcp:127.0.0.1:{port}</listen></socket>
<readiness tcp="127.0.0.1:{port}"/>"#
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("SupervisorRegistry.xml");
    std::fs::write(&path, registry("", &standin_server("is", &[], &socket))).expect("write");
    let output = supervisor(&["--registry", path.to_str().unwrap(), "check"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let expected = format!(
        "error: {}:5:1: `<readiness>` of server `is`",
        path.display()
    );
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(
        stderr.contains("use `http=`, `exec=`, `notify=` or `socket=`"),
        "{stderr}"
    );

    // The control: the same registry probing with `socket="true"` is valid.
    let valid = std::fs::read_to_string(&path)
        .unwrap()
        .replace(&format!(r#"tcp="127.0.0.1:{port}""#), r#"socket="true""#);
    std::fs::write(&path, valid).expect("rewrite");
    let output = supervisor(&["--registry", path.to_str().unwrap(), "check"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The tests of this module, for the integration runner.
pub const TESTS: &[testkit::harness::Test] = testkit::tests![
    no_connection_is_refused_through_50_kills_of_a_socket_held_component,
    the_shipped_registry_s_is_keeps_answering_through_kill_9,
    held_sockets_reach_only_their_component_and_close_when_it_is_removed,
    unix_sockets_get_their_mode_and_owner_and_replace_a_stale_file_never_a_symlink,
    check_refuses_a_tcp_probe_of_the_own_held_socket,
];
