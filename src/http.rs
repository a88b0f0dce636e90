//! The operations endpoint on `<config><tcpport>`: `/healthz` (liveness: the daemon's actors
//! answer in time), `/readyz` (every wanted component ready, SPEC section 5), `/status` (the
//! rows of `status --json`) and `/metrics` (Prometheus text format, see [`crate::metrics`]);
//! `GET` and `HEAD` on each. Read-only and unauthenticated, so it listens on 127.0.0.1 unless
//! `<tcpport bind="ADDR">` says otherwise.
//!
//! HTTP/1.1 by hyper on the actix runtime's thread; each answer is a message to the daemon
//! actor. Bounded like the control socket: at most [`MAX_CONNECTIONS`] connections at once
//! (further ones wait in the kernel's backlog), the request head within [`HEADER_DEADLINE`] and
//! [`MAX_HEAD_BYTES`], a connection closed after [`CONNECTION_LIFETIME`].

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::{AsRawFd, RawFd};
use std::pin::pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use actix::{Message, Recipient};
use actors::events;
use actors::status::GroupStatus;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::control::protocol::StatusRow;
use crate::metrics;
use crate::upgrade::GATE;

/// How many connections are served at once.
pub const MAX_CONNECTIONS: usize = 64;
/// How long a client may take to send a request head (also the keep-alive idle limit).
pub const HEADER_DEADLINE: Duration = Duration::from_secs(5);
/// The longest a connection is kept, whatever it does.
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(60);
/// How long a request waits for the daemon actor before it gets a 503 (for `/healthz`: the
/// daemon is not live).
pub const DAEMON_DEADLINE: Duration = Duration::from_secs(5);
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

/// The endpoint being served: its address, and the task accepting on it. Dropping it closes
/// the listener (connections already accepted finish on their own).
pub struct Endpoint {
    address: SocketAddr,
    /// The listener's descriptor, open while the endpoint is (handed over at an upgrade).
    fd: RawFd,
    accepting: tokio::task::JoinHandle<()>,
}

impl Endpoint {
    /// Serves `listener` (bound to `address`) on the actix runtime; call from within it.
    pub fn serve(
        listener: std::net::TcpListener,
        address: SocketAddr,
        daemon: Recipient<Observe>,
    ) -> io::Result<Endpoint> {
        let listener = TcpListener::from_std(listener)?;
        Ok(Endpoint {
            address,
            fd: listener.as_raw_fd(),
            accepting: actix::spawn(serve(listener, daemon)),
        })
    }

    /// Where it listens.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Its listener's descriptor, for the hand-over at an upgrade.
    pub fn fd(&self) -> RawFd {
        self.fd
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

/// What the endpoint asks the daemon actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Message)]
#[rtype(result = "Observation")]
pub struct Observe {
    /// Also take a snapshot of the tree (components and groups), not only the daemon's state.
    pub tree: bool,
}

/// The daemon's own state, for `/healthz` and `/readyz`.
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
    /// The wanted components that are not ready, with their state (empty unless the tree was
    /// asked for).
    pub not_ready: Vec<(String, String)>,
}

/// Serves the endpoint until the actor system stops (or its [`Endpoint`] is dropped).
async fn serve(listener: TcpListener, daemon: Recipient<Observe>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let _serving = GATE.serve();
    loop {
        // Take a slot before accepting: past the limit, clients wait in the backlog.
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            return;
        };
        // A connection holds an upgrade's exec back until it ends (bounded).
        let accept = || crate::accept::next("http", || listener.accept());
        let (stream, busy) = GATE.admit(accept).await;
        let daemon = daemon.clone();
        actix::spawn(async move {
            let service = service_fn(move |request| answer(request, daemon.clone()));
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_DEADLINE)
                .max_buf_size(MAX_HEAD_BYTES)
                .serve_connection(TokioIo::new(stream), service);
            let served = async {
                let mut connection = pin!(connection);
                match GATE.unless_closed(connection.as_mut()).await {
                    Some(served) => served,
                    // An upgrade's exec is near: the request under way is answered, and an
                    // idle keep-alive connection (a scraper's) ends now instead of holding
                    // the exec back until the gate gives up waiting.
                    None => {
                        connection.as_mut().graceful_shutdown();
                        connection.await
                    }
                }
            };
            // Past its lifetime a connection is dropped, whatever it was doing.
            if let Ok(Err(error)) = tokio::time::timeout(CONNECTION_LIFETIME, served).await {
                tracing::debug!(
                    event = events::HTTP_CONNECTION_FAILED,
                    error = %error,
                    "HTTP connection ended"
                );
            }
            drop((slot, busy));
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
        "/readyz" => Route::Ready,
        "/status" => Route::Status,
        "/metrics" => Route::Metrics,
        _ => return Ok(plain(StatusCode::NOT_FOUND, "not found\n")),
    };
    // HEAD is answered as GET; hyper sends the head without the body.
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let mut reply = plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
        reply
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
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
            ));
        }
    };
    Ok(match route {
        // Live: the daemon actor answered in time, whatever its components do.
        Route::Health => match observation.health {
            Health::Running | Health::Starting => plain(StatusCode::OK, "ok\n"),
            Health::Stopping => plain(StatusCode::SERVICE_UNAVAILABLE, "stopping\n"),
        },
        Route::Ready => readiness(&observation),
        Route::Status => {
            let mut body = serde_json::to_string_pretty(&observation.components)
                .unwrap_or_else(|_| "[]".into());
            body.push('\n');
            with_type(StatusCode::OK, body, "application/json")
        }
        Route::Metrics => with_type(
            StatusCode::OK,
            metrics::render(
                &observation.components,
                &observation.groups,
                metrics::SelfProcess::read(),
                SystemTime::now(),
            ),
            "text/plain; version=0.0.4; charset=utf-8",
        ),
    })
}

/// `/readyz`: `200 ready`, or 503 with one `ID STATE` line per component that is not ready.
fn readiness(observation: &Observation) -> Reply {
    if observation.health == Health::Stopping {
        return plain(StatusCode::SERVICE_UNAVAILABLE, "stopping\n");
    }
    if observation.not_ready.is_empty() {
        return plain(StatusCode::OK, "ready\n");
    }
    let body: String = observation
        .not_ready
        .iter()
        .map(|(id, state)| format!("{id} {state}\n"))
        .collect();
    with_type(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("not ready:\n{body}"),
        "text/plain; charset=utf-8",
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Health,
    Ready,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_address_is_loopback() {
        assert_eq!(address(9910, None).to_string(), "127.0.0.1:9910");
        let any = Some("0.0.0.0".parse().unwrap());
        assert_eq!(address(9910, any).to_string(), "0.0.0.0:9910");
        let v6 = Some("::1".parse().unwrap());
        assert_eq!(address(9910, v6).to_string(), "[::1]:9910");
    }
}
