//! The operations endpoint on `<config><tcpport>`: `GET /healthz`, `GET /status` (the rows of
//! `status --json`) and `GET /metrics` (Prometheus text format). Read-only and unauthenticated,
//! so it listens on 127.0.0.1 unless `<tcpport bind="ADDR">` says otherwise.
//!
//! HTTP/1.1 by hyper on the actix runtime's thread; each answer is a message to the daemon
//! actor. Bounded like the control socket: at most [`MAX_CONNECTIONS`] connections at once
//! (further ones wait in the kernel's backlog), the request head within [`HEADER_DEADLINE`] and
//! [`MAX_HEAD_BYTES`], a connection closed after [`CONNECTION_LIFETIME`].

use std::fmt::Write as _;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix::{Message, Recipient};
use actors::events;
use actors::status::GroupStatus;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, ALLOW, CACHE_CONTROL, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::control::protocol::StatusRow;

/// How many connections are served at once.
pub const MAX_CONNECTIONS: usize = 64;
/// How long a client may take to send a request head (also the keep-alive idle limit).
pub const HEADER_DEADLINE: Duration = Duration::from_secs(5);
/// The longest a connection is kept, whatever it does.
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(60);
/// How long a request waits for the daemon actor before it gets a 503.
pub const DAEMON_DEADLINE: Duration = Duration::from_secs(10);
/// The read buffer, which bounds a request head (hyper's smallest allowed value).
pub const MAX_HEAD_BYTES: usize = 8 * 1024;

/// The address to listen on: `bind`, or else 127.0.0.1.
pub fn address(port: u16, bind: Option<IpAddr>) -> SocketAddr {
    SocketAddr::new(bind.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)), port)
}

/// Binds the endpoint's socket (before the runtime exists, so that a port in use stops the
/// daemon before it starts anything).
pub fn bind(address: SocketAddr) -> io::Result<std::net::TcpListener> {
    let listener = std::net::TcpListener::bind(address)?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// What the endpoint asks the daemon actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Message)]
#[rtype(result = "Observation")]
pub struct Observe {
    /// Also take a snapshot of the tree (components and groups), not only the daemon's state.
    pub tree: bool,
}

/// The daemon's own state, for `/healthz`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Health {
    /// The tree's first start is under way.
    #[default]
    Starting,
    /// The tree has started and runs.
    Running,
    /// The orderly shutdown began (or the root group is gone).
    Stopping,
}

/// The daemon's answer to [`Observe`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observation {
    /// The daemon's state.
    pub health: Health,
    /// The rows of `status --json` (empty unless the tree was asked for).
    pub components: Vec<StatusRow>,
    /// Every group (empty unless the tree was asked for).
    pub groups: Vec<GroupStatus>,
}

/// Serves the endpoint until the actor system stops.
pub async fn serve(listener: TcpListener, daemon: Recipient<Observe>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        // Take a slot before accepting: past the limit, clients wait in the backlog.
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            return;
        };
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                // EMFILE and friends: back off instead of spinning on a queued connection.
                tracing::warn!(
                    event = events::ACCEPT_FAILED,
                    endpoint = "http",
                    error = %error,
                    "HTTP accept failed"
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let daemon = daemon.clone();
        actix::spawn(async move {
            let service = service_fn(move |request| answer(request, daemon.clone()));
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_DEADLINE)
                .max_buf_size(MAX_HEAD_BYTES)
                .serve_connection(TokioIo::new(stream), service);
            // Past its lifetime a connection is dropped, whatever it was doing.
            if let Ok(Err(error)) = tokio::time::timeout(CONNECTION_LIFETIME, connection).await {
                tracing::debug!(
                    event = events::HTTP_CONNECTION_FAILED,
                    error = %error,
                    "HTTP connection ended"
                );
            }
            drop(slot);
        });
    }
}

type Reply = Response<Full<Bytes>>;

async fn answer(
    request: Request<Incoming>,
    daemon: Recipient<Observe>,
) -> Result<Reply, std::convert::Infallible> {
    let route = match request.uri().path() {
        "/healthz" => Route::Health,
        "/status" => Route::Status,
        "/metrics" => Route::Metrics,
        _ => return Ok(plain(StatusCode::NOT_FOUND, "not found\n")),
    };
    if request.method() != Method::GET {
        let mut reply = plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
        reply
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET"));
        return Ok(reply);
    }
    let observe = Observe {
        tree: route != Route::Health,
    };
    let observation = match tokio::time::timeout(DAEMON_DEADLINE, daemon.send(observe)).await {
        Ok(Ok(observation)) => observation,
        Ok(Err(_)) => return Ok(plain(StatusCode::SERVICE_UNAVAILABLE, "stopping\n")),
        Err(_) => {
            return Ok(plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "the daemon did not answer in time\n",
            ))
        }
    };
    Ok(match route {
        Route::Health => match observation.health {
            Health::Running => plain(StatusCode::OK, "ok\n"),
            Health::Starting => plain(StatusCode::OK, "starting\n"),
            Health::Stopping => plain(StatusCode::SERVICE_UNAVAILABLE, "stopping\n"),
        },
        Route::Status => {
            let mut body = serde_json::to_string_pretty(&observation.components)
                .unwrap_or_else(|_| "[]".into());
            body.push('\n');
            with_type(StatusCode::OK, body, "application/json")
        }
        Route::Metrics => with_type(
            StatusCode::OK,
            metrics(
                &observation.components,
                &observation.groups,
                SystemTime::now(),
            ),
            "text/plain; version=0.0.4; charset=utf-8",
        ),
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Health,
    Status,
    Metrics,
}

fn plain(status: StatusCode, body: &'static str) -> Reply {
    with_type(status, body.to_string(), "text/plain; charset=utf-8")
}

fn with_type(status: StatusCode, body: String, content_type: &'static str) -> Reply {
    let mut reply = Response::new(Full::new(Bytes::from(body)));
    *reply.status_mut() = status;
    let headers = reply.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    reply
}

/// The Prometheus text exposition of `components` and `groups`, `now` being the wall clock.
pub fn metrics(components: &[StatusRow], groups: &[GroupStatus], now: SystemTime) -> String {
    let now = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let mut out = String::new();
    let mut family = |name: &str, kind: &str, help: &str, samples: Vec<(String, String)>| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(out, "{name}{{{labels}}} {value}");
        }
    };
    let labels = |row: &StatusRow| {
        format!(
            "component=\"{}\",group=\"{}\"",
            escape(&row.id),
            escape(&row.group)
        )
    };
    let each = |value: &dyn Fn(&StatusRow) -> Option<String>| -> Vec<(String, String)> {
        components
            .iter()
            .filter_map(|row| Some((labels(row), value(row)?)))
            .collect()
    };
    family(
        "supervisor_component_up",
        "gauge",
        "Whether the component is running (1) or not (0).",
        each(&|row| Some(u8::from(row.state == "running").to_string())),
    );
    family(
        "supervisor_component_restarts_total",
        "counter",
        "How many times the component was restarted.",
        each(&|row| Some(row.restarts.to_string())),
    );
    family(
        "supervisor_component_start_time_seconds",
        "gauge",
        "When the component's current process started, in seconds since the Unix epoch.",
        each(&|row| {
            row.pid?;
            let started = now.saturating_sub(Duration::from_millis(row.uptime_ms));
            Some(format!("{:.3}", started.as_secs_f64()))
        }),
    );
    family(
        "supervisor_component_rss_bytes",
        "gauge",
        "Resident memory of the component's process group, in bytes.",
        each(&|row| Some(row.rss_bytes.to_string())),
    );
    family(
        "supervisor_restart_intensity_exceeded_total",
        "counter",
        "How many times the group gave up (restart intensity exceeded).",
        groups
            .iter()
            .map(|group| {
                (
                    format!("group=\"{}\"", escape(&group.path)),
                    group.intensity_exceeded.to_string(),
                )
            })
            .collect(),
    );
    out
}

/// A label value as the text format wants it: `\`, `"` and newlines escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', r"\\")
        .replace('"', "\\\"")
        .replace('\n', r"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, group: &str, state: &str, pid: Option<u32>) -> StatusRow {
        StatusRow {
            id: id.into(),
            group: group.into(),
            description: String::new(),
            state: state.into(),
            pid,
            uptime_ms: 1_500,
            rss_bytes: 4096,
            restarts: 2,
            last_exit: None,
            reason: None,
        }
    }

    #[test]
    fn metrics_have_a_sample_per_component_and_group() {
        let rows = [
            row("is", "", "running", Some(10)),
            row("ps", "platform", "backoff", None),
        ];
        let groups = [
            GroupStatus {
                path: String::new(),
                intensity_exceeded: 0,
            },
            GroupStatus {
                path: "platform".into(),
                intensity_exceeded: 3,
            },
        ];
        let now = UNIX_EPOCH + Duration::from_secs(1_000);
        let text = metrics(&rows, &groups, now);
        for line in [
            "# TYPE supervisor_component_up gauge",
            "supervisor_component_up{component=\"is\",group=\"\"} 1",
            "supervisor_component_up{component=\"ps\",group=\"platform\"} 0",
            "# TYPE supervisor_component_restarts_total counter",
            "supervisor_component_restarts_total{component=\"ps\",group=\"platform\"} 2",
            "supervisor_component_start_time_seconds{component=\"is\",group=\"\"} 998.500",
            "supervisor_component_rss_bytes{component=\"is\",group=\"\"} 4096",
            "supervisor_restart_intensity_exceeded_total{group=\"\"} 0",
            "supervisor_restart_intensity_exceeded_total{group=\"platform\"} 3",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
        // No process, no start time.
        assert!(!text.contains("start_time_seconds{component=\"ps\""));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn the_default_address_is_loopback() {
        assert_eq!(address(9910, None).to_string(), "127.0.0.1:9910");
        let any = Some("0.0.0.0".parse().unwrap());
        assert_eq!(address(9910, any).to_string(), "0.0.0.0:9910");
        let v6 = Some("::1".parse().unwrap());
        assert_eq!(address(9910, v6).to_string(), "[::1]:9910");
    }
}
