//! The `sockets` key of `status --json` and `/status`, and the table's `SOCKETS` column (issue 19): each held socket's `queue` is
//! the connections waiting for `accept`, for unix sockets (read through sock_diag) as for tcp
//! ones (`/proc/net/tcp`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;

use serde_json::Value;
use testkit::*;

/// Connections left waiting in each queue of the component that does not accept.
const WAITING: u64 = 3;

/// The `sockets` of component `id` in a status array, as (name, queue).
fn queues(rows: &Value, id: &str) -> Vec<(String, Value)> {
    let rows = rows.as_array().expect("status is an array");
    let row = rows.iter().find(|r| r["id"] == id).expect("the component");
    let sockets = row["sockets"].as_array().expect("a `sockets` key");
    (sockets.iter())
        .map(|s| (s["name"].as_str().unwrap().to_string(), s["queue"].clone()))
        .collect()
}

/// `status --json`, as one array.
fn status_json(daemon: &Daemon) -> Value {
    Value::from(daemon.status_rows())
}

/// `GET /status` on the HTTP endpoint at 127.0.0.1:`port`.
fn status_http(port: u16) -> Value {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to the endpoint");
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    let request = "GET /status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    stream.write_all(request.as_bytes()).expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    let body = answer.split_once("\r\n\r\n").expect("a response head").1;
    serde_json::from_str(body).expect("/status is JSON")
}

fn the_queue_of_a_unix_socket_is_its_waiting_connections_as_for_tcp() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (waiting_path, served_path) = (
        dir.path().join("waiting.sock"),
        dir.path().join("served.sock"),
    );
    let (tcp, endpoint) = (free_port(), free_port());
    // `waiting` holds a unix and a tcp socket and never accepts (it would serve them only after
    // an hour); `served` accepts on its unix socket at once.
    let waiting = standin_server(
        "waiting",
        &["--listen-after", "3600"],
        &format!(
            r#"<socket name="local"><listen>unix:{}</listen></socket>
               <socket name="http"><listen>tcp:127.0.0.1:{tcp}</listen></socket>
               <readiness socket="true"/>"#,
            waiting_path.display()
        ),
    );
    let served = standin_server(
        "served",
        &[],
        &format!(
            r#"<socket name="local"><listen>unix:{}</listen></socket><readiness socket="true"/>"#,
            served_path.display()
        ),
    );
    let head = format!("<config><tcpport>{endpoint}</tcpport></config>");
    let mut daemon = Daemon::start_in(dir, &registry(&head, &format!("{waiting}{served}")));
    daemon.started_pids(&["waiting", "served"]);
    let zero = |name: &str| (name.to_string(), Value::from(0));
    eventually("empty queues before any client", || {
        let rows = status_json(&daemon);
        queues(&rows, "waiting") == [zero("local"), zero("http")]
            && queues(&rows, "served") == [zero("local")]
    });

    let mut clients = Vec::new();
    for _ in 0..WAITING {
        clients.push(UnixStream::connect(&waiting_path).expect("connect unix"));
        let mut answered = UnixStream::connect(&served_path).expect("connect to served");
        let mut pong = String::new();
        answered.read_to_string(&mut pong).expect("read pong");
        assert_eq!(pong, "pong\n", "served accepts");
    }
    let tcp_clients: Vec<TcpStream> = (0..WAITING)
        .map(|_| TcpStream::connect(("127.0.0.1", tcp)).expect("connect tcp"))
        .collect();
    let expected = vec![
        ("local".to_string(), Value::from(WAITING)),
        ("http".to_string(), Value::from(WAITING)),
    ];
    eventually("the waiting connections in status --json", || {
        queues(&status_json(&daemon), "waiting") == expected
    });
    let table = daemon.cli(&["status"], DEADLINE);
    let table = String::from_utf8_lossy(&table.stdout);
    let column = format!(
        "local unix:{} ({WAITING} waiting), http tcp:127.0.0.1:{tcp} ({WAITING} waiting)",
        waiting_path.display()
    );
    assert!(table.contains(&column), "the SOCKETS column: {table}");
    let rows = status_http(endpoint);
    assert_eq!(queues(&rows, "waiting"), expected, "/status says the same");
    // The control beside it: connections that were accepted wait in no queue.
    assert_eq!(queues(&rows, "served"), [zero("local")]);
    assert_eq!(queues(&status_json(&daemon), "served"), [zero("local")]);
    drop((clients, tcp_clients));
    assert_eq!(daemon.stop(), Some(0));
}

/// The tests of this module, for the integration runner.
pub const TESTS: &[testkit::harness::Test] =
    testkit::tests![the_queue_of_a_unix_socket_is_its_waiting_connections_as_for_tcp];
