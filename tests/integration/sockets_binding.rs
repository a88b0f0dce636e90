//! How the daemon binds a held socket (issue 19): a port another process holds is a failed
//! start naming the socket and the owner; `reusePort` and `freeBind` reach the socket; an IPv6
//! socket is held, its queue read from `/proc/net/tcp6`.

use std::net::{Ipv6Addr, SocketAddr, TcpListener, TcpStream};

use socket2::{Domain, Socket, Type};
use testkit::*;

/// Restarts after a failed start come quickly and stay a poll, not a spin.
const QUICK_BACKOFF: &str = r#"<backoff initial="0.05" max="0.2"/>"#;

/// `<socket name="http">` on `listen` with `attributes`, on a stand-in `is` with `args`.
fn held(listen: &str, attributes: &str, args: &[&str]) -> String {
    let socket = format!(
        r#"<socket name="http"{attributes}><listen>{listen}</listen></socket>
           <readiness socket="true"/>{QUICK_BACKOFF}"#
    );
    registry("", &standin_server("is", args, &socket))
}

fn a_port_another_process_holds_is_a_failed_start_naming_the_socket_and_its_owner() {
    let holder = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = holder.local_addr().unwrap().port();
    let mut daemon = Daemon::start(&held(&format!("tcp:127.0.0.1:{port}"), "", &[]));
    let failed = daemon.wait_event("component_spawn_failed", "is");
    let owner = format!(
        "socket `http` (tcp:127.0.0.1:{port}): address in use by pid {} (",
        std::process::id()
    );
    assert!(
        failed["error"].as_str().unwrap().contains(&owner),
        "{failed}"
    );
    // The control: once the port is free, the next attempt binds it and the component runs.
    drop(holder);
    let pid = daemon.started_pid("is");
    let served = TcpStream::connect(("127.0.0.1", port)).map(drop);
    assert!(served.is_ok(), "{served:?}");
    assert!(alive(pid));
    assert_eq!(daemon.stop(), Some(0));
}

/// Whether a socket of this process with `SO_REUSEPORT` can listen on `address` too.
fn can_share(address: SocketAddr) -> bool {
    let socket = Socket::new(Domain::for_address(address), Type::STREAM, None).expect("socket");
    socket.set_reuse_port(true).expect("SO_REUSEPORT");
    socket.bind(&address.into()).is_ok()
}

fn reuse_port_and_free_bind_reach_the_held_socket() {
    let (shared, alone) = (free_port(), free_port());
    let xml = |port: u16, attributes: &str| held(&format!("tcp:127.0.0.1:{port}"), attributes, &[]);
    let mut daemon = Daemon::start(&xml(shared, r#" reusePort="true""#));
    daemon.started_pid("is");
    let mut control = Daemon::start(&xml(alone, ""));
    control.started_pid("is");
    assert!(can_share(([127, 0, 0, 1], shared).into()), "reusePort");
    assert!(!can_share(([127, 0, 0, 1], alone).into()), "not without it");
    assert_eq!(control.stop(), Some(0));
    assert_eq!(daemon.stop(), Some(0));

    // An address the host does not have (TEST-NET-1): bound with freeBind, refused without.
    if std::fs::read_to_string("/proc/sys/net/ipv4/ip_nonlocal_bind").is_ok_and(|v| v.trim() != "0")
    {
        testkit::skip!("net.ipv4.ip_nonlocal_bind is on: every address binds without freeBind");
    }
    let absent = format!("tcp:192.0.2.1:{}", free_port());
    let mut daemon = Daemon::start(&held(&absent, r#" freeBind="true""#, &[]));
    daemon.started_pid("is");
    assert_eq!(daemon.stop(), Some(0));
    let mut daemon = Daemon::start(&held(&absent, "", &[]));
    let failed = daemon.wait_event("component_spawn_failed", "is");
    assert!(
        failed["error"]
            .as_str()
            .unwrap()
            .contains("assign requested address"),
        "{failed}"
    );
    assert_eq!(daemon.stop(), Some(0));
}

/// SPEC's `tcp:HOST:PORT` takes a host name: `localhost` is looked up when the registry is
/// read and the socket is bound on its address, where clients reach the component.
fn a_host_name_is_looked_up_and_bound() {
    let port = free_port();
    let mut daemon = Daemon::start(&held(&format!("tcp:localhost:{port}"), "", &[]));
    let pid = daemon.started_pid("is");
    // `<readiness socket="true"/>`: ready as it runs, and said as every readiness check says it.
    let ready = daemon.wait_event("component_ready", "is");
    assert_eq!(
        (ready["pid"].as_u64(), ready["after_ms"].is_u64()),
        (Some(u64::from(pid)), true)
    );
    let row = daemon.status_row("is");
    assert_eq!(
        row["sockets"][0]["listen"],
        format!("tcp:127.0.0.1:{port}"),
        "{row}"
    );
    let served = TcpStream::connect(("127.0.0.1", port)).map(drop);
    assert!(served.is_ok(), "{served:?}");
    assert!(alive(pid));
    assert_eq!(daemon.stop(), Some(0));
}

fn an_ipv6_socket_is_held_and_its_queue_read() {
    if TcpListener::bind((Ipv6Addr::LOCALHOST, 0)).is_err() {
        testkit::skip!("no IPv6 loopback here");
    }
    let port = free_port();
    let listen = format!("tcp6:[::1]:{port}");
    let address = SocketAddr::from((Ipv6Addr::LOCALHOST, port));
    // It does not accept for an hour: connections wait in the queue.
    let mut daemon = Daemon::start(&held(&listen, "", &["--listen-after", "3600"]));
    daemon.started_pid("is");
    let queue = |daemon: &Daemon| daemon.status_row("is")["sockets"][0]["queue"].clone();
    assert_eq!(queue(&daemon), 0, "the control: nobody waits yet");
    let waiting: Vec<TcpStream> = (0..2)
        .map(|_| TcpStream::connect(address).expect("connect over IPv6"))
        .collect();
    eventually("two waiting", || queue(&daemon) == 2);
    drop(waiting);
    assert_eq!(daemon.stop(), Some(0));
}

/// The tests of this module, for the integration runner.
pub const TESTS: &[testkit::harness::Test] = testkit::tests![
    a_port_another_process_holds_is_a_failed_start_naming_the_socket_and_its_owner,
    reuse_port_and_free_bind_reach_the_held_socket,
    a_host_name_is_looked_up_and_bound,
    an_ipv6_socket_is_held_and_its_queue_read,
];
