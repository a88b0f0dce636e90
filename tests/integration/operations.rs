//! The operations edges end to end: the HTTP endpoint on `<config><tcpport>` (`/healthz`,
//! `/status`, `/metrics`), systemd's notification protocol (`NOTIFY_SOCKET`, `WATCHDOG_USEC`),
//! and the daemon as PID 1 of a PID namespace (`unshare --pid --fork`), as a container runtime
//! runs it — on the real binary with real processes.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::sys::signal::Signal;
use serde_json::Value;
use testkit::*;

// ---------------------------------------------------------------------------------------------
// Helpers: ports, a minimal HTTP client, the CLI
// ---------------------------------------------------------------------------------------------

/// A TCP port free right now on `ip` (bound, then released for the daemon to take).
fn free_port(ip: &str) -> u16 {
    let listener = TcpListener::bind((ip, 0)).expect("bind an ephemeral port");
    listener.local_addr().expect("local address").port()
}

/// A daemon with its endpoint on a free port of `ip`: `xml` makes the registry for a port. The
/// port is free when picked but may be taken (as the local port of some test's outgoing
/// connection) before the daemon binds it; then another one is tried.
fn start_on_free_port(ip: &str, xml: impl Fn(u16) -> String) -> (Daemon, u16) {
    for _ in 0..5 {
        let port = free_port(ip);
        let mut daemon = Daemon::start(&xml(port));
        let first = daemon.wait_for("the start, or a port in use", |e| {
            e["event"] == "supervisor_started"
                || e["line"]
                    .as_str()
                    .is_some_and(|l| l.starts_with("error: cannot listen"))
        });
        if first["event"] == "supervisor_started" {
            return (daemon, port);
        }
        assert_eq!(daemon.wait_exit(), Some(1));
    }
    panic!("no free port could be bound in 5 tries");
}

/// `<config>` with the endpoint on `port` (and `bind`, when given), then the fast strategy.
fn head(port: u16, bind: Option<&str>) -> String {
    let bind = bind.map_or(String::new(), |ip| format!(" bind=\"{ip}\""));
    format!("<config><tcpport{bind}>{port}</tcpport></config>\n{FAST}")
}

/// A response: status code, headers (lower-cased names), body.
#[derive(Debug)]
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request on a fresh connection (`Connection: close`), read to EOF.
fn request(address: SocketAddr, method: &str, path: &str) -> Response {
    let mut stream =
        TcpStream::connect_timeout(&address, DEADLINE).expect("connect to the HTTP endpoint");
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .expect("send the request");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read the response");
    let text = String::from_utf8(raw).expect("a UTF-8 response");
    let (head, body) = text.split_once("\r\n\r\n").expect("a response head");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Response {
        status,
        headers,
        body: body.to_string(),
    }
}

fn get(address: SocketAddr, path: &str) -> Response {
    request(address, "GET", path)
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// `supervisor --registry REGISTRY --run-dir RUN_DIR ARGS…` to completion.
fn ctl(registry: &Path, run_dir: &Path, args: &[&str]) -> Output {
    cli_command(registry, run_dir, args)
        .stdin(Stdio::null())
        .output()
        .expect("run the CLI")
}

/// The value of the sample `name{labels}` in a Prometheus text exposition.
fn sample(metrics: &str, name: &str, labels: &str) -> Option<f64> {
    let key = format!("{name}{{{labels}}} ");
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(&key))
        .map(|value| value.parse().expect("a number"))
}

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

// ---------------------------------------------------------------------------------------------
// The HTTP endpoint
// ---------------------------------------------------------------------------------------------

/// A daemon with the endpoint on a free loopback port, `is` at the root and `ps` in the group
/// `platform`, both started: the daemon, the endpoint's address, their pids.
fn is_and_ps_in_platform() -> (Daemon, SocketAddr, Vec<u32>) {
    let servers = format!(
        "{}<group id=\"platform\">{}</group>",
        standin_server("is", &[], NO_BACKOFF),
        standin_server("ps", &[], NO_BACKOFF)
    );
    let (mut daemon, port) =
        start_on_free_port("127.0.0.1", |port| registry(&head(port, None), &servers));
    let pids = daemon.started_pids(&["is", "ps"]);
    (daemon, loopback(port), pids)
}

/// More new components than are read alone at once (64): `/metrics`, answered on the actors'
/// thread that never waits for a whole reading of `/proc`, shows every one's memory once the
/// reading it asked for lands; `status` (the control thread) takes one itself.
fn the_memory_of_many_new_components_is_one_reading() {
    let ids: Vec<String> = (0..80).map(|i| format!("m{i:02}")).collect();
    let servers: String = ids.iter().map(|id| idle(id)).collect();
    let (mut daemon, port) =
        start_on_free_port("127.0.0.1", |port| registry(&head(port, None), &servers));
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    daemon.started_pids(&ids);
    eventually("/metrics shows every component's memory", || {
        let text = get(loopback(port), "/metrics").body;
        ids.iter().all(|id| {
            let labels = format!("component=\"{id}\",group=\"\"");
            sample(&text, "supervisor_component_rss_bytes", &labels).is_some_and(|rss| rss > 0.0)
        })
    });
    // Every one restarted within the reading's second: `status` reads the new ones at once.
    let restart: Vec<&str> = ["restart"].into_iter().chain(ids.iter().copied()).collect();
    let out = daemon.cli(&restart, DEADLINE);
    assert!(out.status.success(), "{out:?}");
    let started = daemon.started_pids(&ids);
    let rows = daemon.status_rows();
    assert_eq!(rows.len(), ids.len());
    for (row, pid) in rows.iter().zip(started) {
        assert_eq!(row["pid"].as_u64(), Some(u64::from(pid)), "{row}");
        assert!(
            row["rss_bytes"].as_u64().is_some_and(|rss| rss > 0),
            "{row}"
        );
    }
    assert_eq!(daemon.stop(), Some(0));
}

fn the_endpoint_serves_health_status_and_metrics() {
    let (mut daemon, address, pids) = is_and_ps_in_platform();

    // /healthz: 200 once the tree has started (it may still say `starting` for a moment).
    eventually("/healthz says ok", || {
        let health = get(address, "/healthz");
        assert_eq!(health.status, 200, "{health:?}");
        health.body == "ok\n"
    });

    // /status: the rows of `status --json`.
    let status = get(address, "/status");
    assert_eq!(status.status, 200);
    assert_eq!(status.header("content-type"), Some("application/json"));
    let http_rows: Value = serde_json::from_str(&status.body).expect("JSON");
    let cli = ctl(
        &daemon.registry,
        &daemon.path().join("run"),
        &["status", "--json"],
    );
    assert!(cli.status.success(), "{cli:?}");
    let cli_rows: Value = serde_json::from_slice(&cli.stdout).expect("JSON");
    let stable = |rows: &Value| -> Vec<Value> {
        rows.as_array()
            .expect("an array")
            .iter()
            .map(|row| {
                let mut row = row.clone();
                let object = row.as_object_mut().expect("an object");
                // Measured at each request: present, but not comparable.
                assert!(object.remove("uptime_ms").unwrap().is_u64());
                assert!(object.remove("rss_bytes").unwrap().is_u64());
                row
            })
            .collect()
    };
    assert_eq!(stable(&http_rows), stable(&cli_rows));
    let rows = http_rows.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["id"], "is");
    assert_eq!(rows[1]["group"], "platform");
    assert_eq!(rows[1]["pid"], pids[1]);

    // /metrics: every family, labelled by component and group.
    let metrics = get(address, "/metrics");
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/plain; version=0.0.4"))
    );
    let text = &metrics.body;
    for (id, group) in [("is", ""), ("ps", "platform")] {
        let labels = format!("component=\"{id}\",group=\"{group}\"");
        assert_eq!(
            sample(text, "supervisor_component_up", &labels),
            Some(1.0),
            "{text}"
        );
        assert_eq!(
            sample(text, "supervisor_component_restarts_total", &labels),
            Some(0.0)
        );
        let rss = sample(text, "supervisor_component_rss_bytes", &labels).expect("rss");
        assert!(rss > 0.0, "rss of {id}: {rss}");
        let started =
            sample(text, "supervisor_component_start_time_seconds", &labels).expect("a start time");
        let logged = timestamp_secs(
            &daemon
                .events()
                .into_iter()
                .find(|e| e["event"] == "component_started" && e["component"] == id)
                .unwrap(),
        );
        assert!(
            (started - logged).abs() < 1.0 && started <= now_secs(),
            "start time {started} vs logged {logged}"
        );
    }
    for family in [
        "supervisor_component_up gauge",
        "supervisor_component_restarts_total counter",
        "supervisor_component_start_time_seconds gauge",
        "supervisor_component_rss_bytes gauge",
        "supervisor_restart_intensity_exceeded_total counter",
    ] {
        assert!(text.contains(&format!("# TYPE {family}\n")), "{family}");
    }
    for group in ["", "platform"] {
        let labels = format!("group=\"{group}\"");
        assert_eq!(
            sample(text, "supervisor_restart_intensity_exceeded_total", &labels),
            Some(0.0)
        );
    }

    // A crash shows as a restart.
    kill(pids[0], Signal::SIGKILL);
    let new_pid = daemon.started_pid("is");
    assert_ne!(new_pid, pids[0]);
    eventually("the restart is counted", || {
        let text = get(address, "/metrics").body;
        let labels = "component=\"is\",group=\"\"";
        sample(&text, "supervisor_component_restarts_total", labels) == Some(1.0)
            && sample(&text, "supervisor_component_up", labels) == Some(1.0)
    });
    let rows: Value = serde_json::from_str(&get(address, "/status").body).unwrap();
    assert_eq!(rows[0]["pid"], new_pid);
    assert_eq!(rows[0]["restarts"], 1);
    assert_eq!(rows[0]["last_exit"], serde_json::json!({"signal": 9}));

    // Anything else.
    assert_eq!(get(address, "/").status, 404);
    assert_eq!(get(address, "/metrics/extra").status, 404);
    let post = request(address, "POST", "/status");
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow"), Some("GET, HEAD"));
    assert_eq!(request(address, "DELETE", "/healthz").status, 405);
    // A query string does not change the path.
    assert_eq!(get(address, "/healthz?verbose=1").status, 200);

    assert_eq!(daemon.stop(), Some(0));
    assert!(TcpStream::connect(address).is_err(), "the port is released");
}

fn the_endpoint_listens_where_bind_says() {
    // 127.0.0.2 is loopback too on Linux, and distinct from the default 127.0.0.1.
    let servers = standin_server("a", &[], NO_BACKOFF);
    let (mut daemon, port) = start_on_free_port("127.0.0.2", |port| {
        registry(&head(port, Some("127.0.0.2")), &servers)
    });
    daemon.started_pid("a");
    let bound = SocketAddr::new("127.0.0.2".parse::<IpAddr>().unwrap(), port);
    eventually("/healthz answers on 127.0.0.2", || {
        get(bound, "/healthz").status == 200
    });
    let rows: Value = serde_json::from_str(&get(bound, "/status").body).unwrap();
    assert_eq!(rows[0]["id"], "a");
    assert!(
        TcpStream::connect(loopback(port)).is_err(),
        "nothing listens on 127.0.0.1:{port}"
    );
    assert_eq!(daemon.stop(), Some(0));
}

fn a_port_in_use_stops_the_daemon_before_it_starts_anything() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("a.json");
    let servers = standin_server("a", &["--report", report.to_str().unwrap()], "");
    let mut daemon = Daemon::start_in(dir, &registry(&head(port, None), &servers));
    assert_eq!(daemon.wait_exit(), Some(1));
    let said = daemon.wait_for("the error line", |e| {
        e["line"]
            .as_str()
            .is_some_and(|line| line.starts_with("error: "))
    });
    let line = said["line"].as_str().unwrap();
    assert!(
        line.contains(&format!("cannot listen on 127.0.0.1:{port}"))
            && line.contains("<tcpport>")
            && line.contains("in use"),
        "{line}"
    );
    assert!(
        !daemon.names().iter().any(|e| e == "component_starting"),
        "nothing started: {:?}",
        daemon.names()
    );
    assert!(!report.exists(), "the component never ran");
    drop(taken);
    // The control: with the port free, the same registry starts a, which writes its report.
    let mut daemon = daemon.successor();
    daemon.wait_event("component_starting", "a");
    read_json_when_ready(&report);
    assert_eq!(daemon.stop(), Some(0));
}

fn readyz_names_what_is_not_ready_while_healthz_stays_live() {
    let servers = [
        standin_server("is", &[], NO_BACKOFF),
        // Can never spawn: it stays in backoff.
        r#"<server id="never"><executable>/nonexistent/never</executable><backoff initial="0.2" max="0.2"/></server>"#.to_string(),
        // A temporary job that finishes: done, not "not ready".
        standin_server("job", &["--exit-after", "0.1", "--exit-code", "0"], "<restart>temporary</restart>"),
        // Not autostart: not wanted.
        standin_server("spare", &[], "<autostart>false</autostart>"),
    ]
    .concat();
    let (mut daemon, port) =
        start_on_free_port("127.0.0.1", |port| registry(&head(port, None), &servers));
    daemon.started_pid("is");
    daemon.wait_event("component_exited", "job");
    daemon.wait_event("component_spawn_failed", "never");
    let address = loopback(port);
    // Liveness is the daemon's, not its components': a component that never spawns does not
    // keep /healthz at "starting".
    let health = get(address, "/healthz");
    assert_eq!((health.status, health.body.as_str()), (200, "ok\n"));
    let ready = get(address, "/readyz");
    assert_eq!(ready.status, 503, "{ready:?}");
    let named: Vec<&str> = ready.body.lines().skip(1).collect();
    assert_eq!(named.len(), 1, "{ready:?}");
    assert!(named[0].starts_with("never "), "{ready:?}");
    // HEAD: the same status and headers, no body.
    for (path, status) in [
        ("/healthz", 200),
        ("/readyz", 503),
        ("/metrics", 200),
        ("/status", 200),
    ] {
        let head = request(address, "HEAD", path);
        assert_eq!(head.status, status, "HEAD {path}");
        assert!(head.body.is_empty(), "HEAD {path}: {head:?}");
        assert!(head.header("content-type").is_some(), "HEAD {path}");
    }
    // The operator stops it: no longer wanted, so the pod is ready.
    let stopped = ctl(
        &daemon.registry,
        &daemon.path().join("run"),
        &["stop", "never"],
    );
    assert!(stopped.status.success(), "{stopped:?}");
    eventually("/readyz says ready", || {
        get(address, "/readyz").status == 200
    });
    assert_eq!(get(address, "/readyz").body, "ready\n");
    assert_eq!(daemon.stop(), Some(0));
}

/// One sample of a strictly parsed exposition: metric name, labels in order, value.
type Series = (String, Vec<(String, String)>, f64);

/// Parses the Prometheus text format (0.0.4) strictly: `# HELP` and `# TYPE` once per family
/// and before its samples, a family's samples together, valid names, escapes and numbers, no
/// series twice, counters named `_total`. Returns the samples.
fn parse_exposition(text: &str) -> Result<Vec<Series>, String> {
    let name_ok = |name: &str, colon: bool| {
        let mut chars = name.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || (colon && c == ':'))
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || (colon && c == ':'))
    };
    let mut typed: Vec<(String, String)> = Vec::new();
    let mut helped: Vec<String> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    let mut series: Vec<Series> = Vec::new();
    if !text.ends_with('\n') {
        return Err("the exposition must end with a newline".into());
    }
    for line in text.lines() {
        if let Some(comment) = line.strip_prefix("# ") {
            let mut words = comment.splitn(3, ' ');
            let (keyword, name, rest) = (words.next(), words.next(), words.next());
            let name = name.ok_or(format!("no name: {line}"))?;
            match keyword {
                Some("HELP") if !helped.iter().any(|n| n == name) => helped.push(name.into()),
                Some("TYPE") if !typed.iter().any(|(n, _)| n == name) => {
                    let kind = rest.ok_or(format!("no type: {line}"))?;
                    if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind) {
                        return Err(format!("bad type: {line}"));
                    }
                    if kind == "counter" && !name.ends_with("_total") {
                        return Err(format!("a counter not named _total: {line}"));
                    }
                    typed.push((name.into(), kind.into()));
                }
                _ => return Err(format!("a repeated or unknown comment: {line}")),
            }
            continue;
        }
        let (name, rest) = line.split_at(line.find(['{', ' ']).ok_or(format!("bad: {line}"))?);
        if !name_ok(name, true) {
            return Err(format!("bad metric name: {line}"));
        }
        if typed.last().map(|(n, _)| n.as_str()) != Some(name) {
            return Err(format!(
                "a sample outside its family (TYPE first, together): {line}"
            ));
        }
        let mut labels = Vec::new();
        let mut rest = rest;
        if let Some(inner) = rest.strip_prefix('{') {
            rest = inner;
            while !rest.starts_with('}') {
                let (label, after) = rest.split_once("=\"").ok_or(format!("bad label: {line}"))?;
                if !name_ok(label, false) {
                    return Err(format!("bad label name {label:?}: {line}"));
                }
                let mut value = String::new();
                let mut chars = after.char_indices();
                let end = loop {
                    match chars.next() {
                        Some((at, '"')) => break at,
                        Some((_, '\\')) => match chars.next() {
                            Some((_, '\\')) => value.push('\\'),
                            Some((_, '"')) => value.push('"'),
                            Some((_, 'n')) => value.push('\n'),
                            _ => return Err(format!("bad escape: {line}")),
                        },
                        Some((_, c)) => value.push(c),
                        None => return Err(format!("unterminated label value: {line}")),
                    }
                };
                labels.push((label.to_string(), value));
                rest = &after[end + 1..];
                rest = rest.strip_prefix(',').unwrap_or(rest);
            }
            rest = &rest[1..];
        }
        let value = rest.strip_prefix(' ').ok_or(format!("no value: {line}"))?;
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            "NaN" => f64::NAN,
            number => number.parse().map_err(|_| format!("bad value: {line}"))?,
        };
        let key = format!("{name}{labels:?}");
        if seen.contains(&key) {
            return Err(format!("a series twice: {line}"));
        }
        seen.push(key);
        series.push((name.to_string(), labels, value));
    }
    if let Some((name, _)) = typed.iter().find(|(n, _)| !helped.contains(n)) {
        return Err(format!("no HELP for {name}"));
    }
    Ok(series)
}

fn metrics_are_valid_prometheus_text() {
    // The parser refuses what it must (its negative controls).
    for bad in [
        "x 1\n",
        "# TYPE x gauge\nx{a=\"b} 1\n",
        "# HELP x h\n# TYPE x gauge\nx 1\nx 2\n",
        "# HELP x h\n# TYPE x counter\nx 1\n",
        "# HELP x h\n# TYPE x gauge\nx one\n",
        "# HELP x h\n# TYPE x gauge\nx{a=\"\\t\"} 1\n",
    ] {
        assert!(parse_exposition(bad).is_err(), "accepted {bad:?}");
    }
    let (mut daemon, address, pids) = is_and_ps_in_platform();
    kill(pids[0], Signal::SIGKILL);
    daemon.started_pid("is");
    let text = get(address, "/metrics").body;
    let series = parse_exposition(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let value = |name: &str, labels: &[(&str, &str)]| {
        series
            .iter()
            .find(|(n, l, _)| {
                n == name
                    && l.len() == labels.len()
                    && l.iter()
                        .zip(labels)
                        .all(|((a, b), (c, d))| a == c && b == d)
            })
            .map(|(_, _, value)| *value)
    };
    let build = series
        .iter()
        .find(|(name, _, _)| name == "supervisor_build_info")
        .expect("build info");
    assert_eq!(
        build.1[0],
        ("version".into(), env!("CARGO_PKG_VERSION").into())
    );
    assert_eq!(build.1[1].0, "commit");
    assert_eq!(build.2, 1.0);
    // The daemon's own process.
    let started = value("process_start_time_seconds", &[]).expect("start time");
    assert!((now_secs() - started).abs() < 60.0, "{started}");
    assert!(value("process_resident_memory_bytes", &[]).unwrap() > 1e6);
    assert!(value("process_open_fds", &[]).unwrap() >= 3.0);
    assert!(value("process_cpu_seconds_total", &[]).unwrap() >= 0.0);
    // One state at 1 per component.
    for (id, group) in [("is", ""), ("ps", "platform")] {
        let states: Vec<&Series> = series
            .iter()
            .filter(|(n, l, _)| n == "supervisor_component_state" && l[0].1 == id)
            .collect();
        assert_eq!(states.len(), 7, "{id}");
        let on: Vec<&str> = states
            .iter()
            .filter(|(_, _, v)| *v == 1.0)
            .map(|(_, l, _)| l[2].1.as_str())
            .collect();
        assert_eq!(on, ["running"], "{id}");
        assert_eq!(states[0].1[1], ("group".into(), group.into()));
    }
    // The kill counted as a restart for `exit`, in the root.
    assert_eq!(
        value(
            "supervisor_restarts_total",
            &[("group", ""), ("reason", "exit")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            "supervisor_restarts_total",
            &[("group", "platform"), ("reason", "exit")]
        ),
        Some(0.0)
    );
    assert_eq!(daemon.stop(), Some(0));
}

fn idle_connections_are_closed_and_cannot_lock_the_endpoint_out() {
    let servers = standin_server("a", &[], NO_BACKOFF);
    let (mut daemon, port) =
        start_on_free_port("127.0.0.1", |port| registry(&head(port, None), &servers));
    daemon.started_pid("a");
    let address = loopback(port);
    eventually("/healthz answers", || {
        get(address, "/healthz").status == 200
    });

    // More idle connections than the endpoint serves at once; none sends a request.
    let idle: Vec<TcpStream> = (0..70)
        .map(|_| TcpStream::connect(address).expect("connect"))
        .collect();
    let start = Instant::now();
    // Queued behind them, this one is answered once the header deadline (5 s) frees slots.
    let health = get(address, "/healthz");
    assert_eq!(health.status, 200);
    assert!(
        start.elapsed() < Duration::from_secs(9),
        "{:?}",
        start.elapsed()
    );
    // The idle ones were closed by the daemon (reading reaches the end instead of timing out).
    for mut stream in idle.into_iter().take(10) {
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        let mut rest = Vec::new();
        match stream.read_to_end(&mut rest) {
            Ok(_) => {}
            Err(error) => assert_eq!(
                error.kind(),
                std::io::ErrorKind::ConnectionReset,
                "an idle connection is closed"
            ),
        }
    }
    assert_eq!(daemon.stop(), Some(0));
}

// ---------------------------------------------------------------------------------------------
// A daemon run with a given environment or under a wrapper, and its JSON log
// ---------------------------------------------------------------------------------------------

/// Lines collected by a reader thread, with a condition variable to wait on.
type Collected<T> = Arc<(Mutex<Vec<T>>, Condvar)>;

fn collect<T: Send + 'static>(
    mut next: impl FnMut() -> Option<T> + Send + 'static,
) -> Collected<T> {
    let collected: Collected<T> = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
    let sink = Arc::clone(&collected);
    std::thread::spawn(move || {
        while let Some(item) = next() {
            sink.0.lock().unwrap().push(item);
            sink.1.notify_all();
        }
    });
    collected
}

/// Waits until `matches` holds for an item at or after `*from`, moves `*from` past it.
fn wait_in<T: Clone + std::fmt::Debug>(
    collected: &Collected<T>,
    from: &mut usize,
    what: &str,
    matches: impl Fn(&T) -> bool,
) -> T {
    let deadline = Instant::now() + DEADLINE;
    let (items, changed) = &**collected;
    let mut guard = items.lock().unwrap();
    loop {
        if let Some(offset) = guard[*from..].iter().position(&matches) {
            *from += offset + 1;
            return guard[*from - 1].clone();
        }
        let now = Instant::now();
        assert!(
            now < deadline,
            "timed out waiting for {what}; so far: {:#?}",
            &*guard
        );
        guard = changed.wait_timeout(guard, deadline - now).unwrap().0;
    }
}

/// A supervisor (or a wrapper of it) run by the test, its stderr read as JSON lines.
struct Run {
    child: Child,
    log: Collected<Value>,
    cursor: usize,
}

impl Run {
    fn spawn(mut command: Command) -> Run {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let mut lines =
            std::io::BufRead::lines(std::io::BufReader::new(child.stderr.take().unwrap()));
        let log = collect(move || {
            let line = lines.next()?.ok()?;
            Some(
                serde_json::from_str(&line)
                    .unwrap_or_else(|_| serde_json::json!({"event": "unparsed", "line": line})),
            )
        });
        Run {
            child,
            log,
            cursor: 0,
        }
    }

    fn wait_event(&mut self, event: &str, component: &str) -> Value {
        wait_in(
            &self.log,
            &mut self.cursor,
            &format!("{event} of {component}"),
            |e| e["event"] == event && (component.is_empty() || e["component"] == component),
        )
    }

    fn wait_exit(&mut self) -> Option<i32> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(Instant::now() < deadline, "did not exit in time");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `supervisor --registry R --run-dir DIR/run --log-format json run`.
fn daemon_command(registry: &Path, dir: &Path) -> Command {
    cli_command(registry, &dir.join("run"), &["--log-format", "json", "run"])
}

fn write_registry(dir: &Path, xml: &str) -> std::path::PathBuf {
    let path = dir.join("SupervisorRegistry.xml");
    std::fs::write(&path, xml).unwrap();
    path
}

// ---------------------------------------------------------------------------------------------
// systemd's notification protocol
// ---------------------------------------------------------------------------------------------

/// A notification as received: its text and when (wall clock, seconds).
#[derive(Debug, Clone)]
struct Note {
    text: String,
    at: f64,
}

impl Note {
    fn has(&self, line: &str) -> bool {
        self.text.lines().any(|l| l == line)
    }
}

fn listen(socket: UnixDatagram) -> Collected<Note> {
    collect(move || {
        let mut buffer = [0u8; 4096];
        let length = socket.recv(&mut buffer).ok()?;
        Some(Note {
            text: String::from_utf8_lossy(&buffer[..length]).into_owned(),
            at: now_secs(),
        })
    })
}

fn systemd_hears_ready_reloading_watchdog_and_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let socket_path = dir.path().join("notify.sock");
    let notes = listen(UnixDatagram::bind(&socket_path).unwrap());
    let report = dir.path().join("a.json");
    let servers = format!(
        "{}{}",
        standin_server("a", &["--report", report.to_str().unwrap()], NO_BACKOFF),
        standin_server(
            "slow",
            &[],
            "<startPriority>2</startPriority><startDelay>0.3</startDelay>"
        )
    );
    let registry_path = write_registry(dir.path(), &registry(FAST, &servers));
    let mut command = daemon_command(&registry_path, dir.path());
    command
        .env("NOTIFY_SOCKET", &socket_path)
        .env("WATCHDOG_USEC", "200000");
    let mut run = Run::spawn(command);
    let mut seen = 0;

    // READY=1 once the tree has started: after `slow` ran for its start delay.
    let ready = wait_in(&notes, &mut seen, "READY=1", |n| n.has("READY=1"));
    let slow = run.wait_event("component_started", "slow");
    assert!(
        ready.at >= timestamp_secs(&slow) + 0.3,
        "READY=1 at {} before slow's start delay ran out (started {})",
        ready.at,
        timestamp_secs(&slow)
    );
    assert!(ready.text.lines().any(|l| l.starts_with("STATUS=")));

    // WATCHDOG=1 every 100 ms (half of WATCHDOG_USEC).
    let first = wait_in(&notes, &mut seen.clone(), "WATCHDOG=1", |n| {
        n.has("WATCHDOG=1")
    });
    let mut from = seen;
    for _ in 0..4 {
        wait_in(&notes, &mut from, "more WATCHDOG=1", |n| {
            n.has("WATCHDOG=1")
        });
    }
    let pings: Vec<f64> = notes.0.lock().unwrap()[seen..]
        .iter()
        .filter(|n| n.has("WATCHDOG=1"))
        .map(|n| n.at)
        .collect();
    let span = pings.last().unwrap() - first.at;
    assert!(
        (0.2..2.0).contains(&span),
        "5 pings in {span} s (expected about 0.4 s): {pings:?}"
    );

    // A component never sees the daemon's systemd variables.
    let env = read_json_when_ready(&report)["env"].clone();
    for name in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] {
        assert!(
            env.get(name).is_none(),
            "{name} leaked into a component: {env}"
        );
    }
    assert_eq!(env["SUPERVISOR_COMPONENT"], "a");

    // reload: RELOADING=1 (with MONOTONIC_USEC), then READY=1.
    let reload = ctl(&registry_path, &dir.path().join("run"), &["reload"]);
    assert!(reload.status.success(), "{reload:?}");
    let reloading = wait_in(&notes, &mut seen, "RELOADING=1", |n| n.has("RELOADING=1"));
    let usec = reloading
        .text
        .lines()
        .find_map(|l| l.strip_prefix("MONOTONIC_USEC="))
        .expect("MONOTONIC_USEC with RELOADING=1");
    assert!(usec.parse::<u64>().expect("a number") > 0);
    wait_in(&notes, &mut seen, "READY=1 after the reload", |n| {
        n.has("READY=1")
    });
    // SIGHUP does the same.
    kill(run.child.id(), Signal::SIGHUP);
    wait_in(&notes, &mut seen, "RELOADING=1 on SIGHUP", |n| {
        n.has("RELOADING=1")
    });
    wait_in(&notes, &mut seen, "READY=1 after SIGHUP", |n| {
        n.has("READY=1")
    });

    // SIGTERM: STOPPING=1, then the orderly shutdown.
    kill(run.child.id(), Signal::SIGTERM);
    let stopping = wait_in(&notes, &mut seen, "STOPPING=1", |n| n.has("STOPPING=1"));
    let stopped = run.wait_event("supervisor_stopping", "");
    assert!(stopping.at >= timestamp_secs(&stopped) - 0.5);
    assert_eq!(run.wait_exit(), Some(0));
    let guard = notes.0.lock().unwrap();
    assert!(
        !guard.iter().any(|n| n.has("READY=1") && n.at > stopping.at),
        "no READY=1 after STOPPING=1"
    );
}

fn an_abstract_socket_works_and_a_watchdog_for_another_pid_is_not_ours() {
    let dir = tempfile::tempdir().unwrap();
    let name = format!("supervisor-test-{}-{}", std::process::id(), now_secs());
    let receiver = {
        use std::os::linux::net::SocketAddrExt;
        let address = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        UnixDatagram::bind_addr(&address).unwrap()
    };
    let notes = listen(receiver);
    let registry_path = write_registry(
        dir.path(),
        &registry(FAST, &standin_server("a", &[], NO_BACKOFF)),
    );
    let mut command = daemon_command(&registry_path, dir.path());
    command
        .env("NOTIFY_SOCKET", format!("@{name}"))
        .env("WATCHDOG_USEC", "100000")
        .env("WATCHDOG_PID", "1"); // meant for some other process
    let mut run = Run::spawn(command);
    let mut seen = 0;
    wait_in(&notes, &mut seen, "READY=1", |n| n.has("READY=1"));
    std::thread::sleep(Duration::from_millis(400));
    assert!(
        !notes.0.lock().unwrap().iter().any(|n| n.has("WATCHDOG=1")),
        "no watchdog pings for another pid's watchdog"
    );
    kill(run.child.id(), Signal::SIGTERM);
    wait_in(&notes, &mut seen, "STOPPING=1", |n| n.has("STOPPING=1"));
    assert_eq!(run.wait_exit(), Some(0));
}

// ---------------------------------------------------------------------------------------------
// PID 1 of a PID namespace
// ---------------------------------------------------------------------------------------------

/// Skips the running test unless this host lets us make a PID namespace (root, or user
/// namespaces allowed).
fn require_unshare() {
    let can = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "true"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !can {
        skip!("`unshare --pid --fork --mount-proc` is not permitted here");
    }
}

/// The process in the namespace whose pid there is `ns_pid`, by its host pid (from `NSpid:`).
fn host_pid(ns_pid: u32, among: &[u32]) -> Option<u32> {
    among.iter().copied().find(|pid| {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|status| {
                let line = status
                    .lines()
                    .find(|l| l.starts_with("NSpid:"))?
                    .to_string();
                line.split_whitespace().last()?.parse::<u32>().ok()
            })
            == Some(ns_pid)
    })
}

fn unshared(registry_path: &Path, dir: &Path) -> Run {
    let mut command = Command::new("unshare");
    command
        .args(["--pid", "--fork", "--mount-proc"])
        .arg(supervisor_bin())
        .arg("--registry")
        .arg(registry_path)
        .arg("--run-dir")
        .arg(dir.join("run"))
        .args(["--log-format", "json", "run"]);
    Run::spawn(command)
}

/// The daemon: the child of `unshare`, PID 1 of the new namespace.
fn namespace_init(run: &Run) -> u32 {
    let unshare = run.child.id();
    let init = std::cell::Cell::new(None);
    eventually("unshare has forked the daemon", || {
        init.set(
            processes()
                .into_iter()
                .find(|p| p.ppid == unshare)
                .map(|p| p.pid),
        );
        init.get().is_some()
    });
    init.get().unwrap()
}

fn as_pid_1_of_a_namespace_it_reaps_orphans_and_stops_in_order() {
    require_unshare();
    let dir = tempfile::tempdir().unwrap();
    let servers = format!(
        "{}{}",
        standin_server("a", &["--grandchild-setsid"], NO_BACKOFF),
        standin_server("b", &[], NO_BACKOFF)
    );
    let registry_path = write_registry(dir.path(), &registry(FAST, &servers));
    let mut run = unshared(&registry_path, dir.path());
    let started = run.wait_event("supervisor_started", "");
    assert_eq!(started["pid"], 1, "the daemon is PID 1 of its namespace");
    let init = namespace_init(&run);
    let a_ns = pid_of(&run.wait_event("component_started", "a"));
    let line = wait_in(&run.log, &mut run.cursor.clone(), "a's grandchild", |e| {
        e["component"] == "a"
            && e["line"]
                .as_str()
                .is_some_and(|l| l.starts_with("grandchild "))
    });
    let grandchild_ns: u32 = line["line"].as_str().unwrap()["grandchild ".len()..]
        .parse()
        .unwrap();
    let inside: Vec<u32> = descendants(init).iter().map(|p| p.pid).collect();
    let a = host_pid(a_ns, &inside).expect("a in the namespace");
    let grandchild = host_pid(grandchild_ns, &inside).expect("the grandchild in the namespace");

    // Its parent killed, the grandchild (its own session) is an orphan of the namespace's init:
    // whether it dies with its component (the daemon may kill what a component leaves) or later,
    // the daemon reaps it and no zombie is left in the namespace.
    kill(a, Signal::SIGKILL);
    eventually("the orphan is re-parented to the daemon, or gone", || {
        proc_stat(grandchild).is_none_or(|p| p.ppid == init)
    });
    run.wait_event("component_started", "a");
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(grandchild as i32),
        Signal::SIGKILL,
    );
    eventually("the orphan is reaped", || !in_proc_table(grandchild));
    eventually("no zombie in the namespace", || {
        descendants(init).iter().all(|p| p.state != 'Z')
    });
    let before: Vec<u32> = descendants(init).iter().map(|p| p.pid).collect();
    assert!(
        before.len() >= 3,
        "the daemon, a, its new grandchild, b: {before:?}"
    );

    // A container runtime's SIGTERM goes to PID 1 (unshare itself blocks SIGTERM while it waits
    // for its child, and passes the child's exit code on).
    kill(init, Signal::SIGTERM);
    run.wait_event("supervisor_stopping", "");
    for id in ["a", "b"] {
        let mut from = run.cursor;
        wait_in(&run.log, &mut from, &format!("{id} stopped"), |e| {
            e["event"] == "component_stopped" && e["component"] == id
        });
    }
    assert_eq!(run.wait_exit(), Some(0));
    for pid in before {
        assert!(!in_proc_table(pid), "{pid} outlived the namespace");
    }
}

fn as_pid_1_it_exits_4_when_the_root_gives_up() {
    require_unshare();
    let dir = tempfile::tempdir().unwrap();
    let servers = standin_server("a", &["--crash-after", "0.1"], NO_BACKOFF);
    let strategy = r#"<restartStrategy type="one_for_one" intensity="1" period="10"/>"#;
    let registry_path = write_registry(dir.path(), &registry(strategy, &servers));
    let mut run = unshared(&registry_path, dir.path());
    run.wait_event("intensity_exceeded", "");
    assert_eq!(run.wait_exit(), Some(4));
}

/// The tests of this module, in file order, for the harness of main.rs.
pub const TESTS: &[testkit::harness::Test] = testkit::tests![
    the_endpoint_serves_health_status_and_metrics,
    the_memory_of_many_new_components_is_one_reading,
    readyz_names_what_is_not_ready_while_healthz_stays_live,
    metrics_are_valid_prometheus_text,
    the_endpoint_listens_where_bind_says,
    a_port_in_use_stops_the_daemon_before_it_starts_anything,
    idle_connections_are_closed_and_cannot_lock_the_endpoint_out,
    systemd_hears_ready_reloading_watchdog_and_stopping,
    an_abstract_socket_works_and_a_watchdog_for_another_pid_is_not_ours,
    as_pid_1_of_a_namespace_it_reaps_orphans_and_stops_in_order,
    as_pid_1_it_exits_4_when_the_root_gives_up,
];
