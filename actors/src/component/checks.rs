//! The checks that run beside a component's process: its readiness probe, its notification
//! socket (`READY=1`, `WATCHDOG=1`) and its health check. Each is one async task that reports
//! to the component actor by message; none blocks the actor and none piles up (a task runs one
//! probe at a time, each bounded by its timeout).

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actix::{Addr, Message};
use tokio::net::UnixDatagram;

use super::ComponentActor;
use crate::events;
use crate::probe::{self, ProbeContext};
use crate::spec::{HealthCheckSpec, Probe};

/// A check's verdict about the process `pid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Message)]
#[rtype(result = "()")]
pub enum Verdict {
    /// The readiness probe passed (or `READY=1` arrived).
    Ready(u32),
    /// `WATCHDOG=1` arrived.
    Alive(u32),
    /// The health check failed `failures` times in a row.
    Unhealthy(u32),
}

/// Polls the readiness probe every `interval` until it passes.
pub async fn readiness(
    probe: Probe,
    interval: Duration,
    context: ProbeContext,
    pid: u32,
    component: Addr<ComponentActor>,
) {
    let attempt = interval.max(Duration::from_millis(500));
    loop {
        let ok = probe::check(&probe, &context, attempt).await;
        log_probe(&context, "readiness", pid, ok);
        if ok {
            component.do_send(Verdict::Ready(pid));
            return;
        }
        tokio::time::sleep(interval).await;
    }
}

/// Probes every `interval` after `start_after`; reports once `failures` probes failed in a row.
pub async fn health(
    spec: HealthCheckSpec,
    context: ProbeContext,
    pid: u32,
    component: Addr<ComponentActor>,
) {
    tokio::time::sleep(spec.start_after).await;
    let mut failed = 0;
    loop {
        let ok = probe::check(&spec.probe, &context, spec.timeout).await;
        log_probe(&context, "health", pid, ok);
        if ok {
            failed = 0;
        } else {
            failed += 1;
            if failed >= spec.failures {
                component.do_send(Verdict::Unhealthy(pid));
                return;
            }
        }
        tokio::time::sleep(spec.interval).await;
    }
}

/// One probe's result, at debug level (`<tracelevel>3</tracelevel>`).
fn log_probe(context: &ProbeContext, check: &'static str, pid: u32, ok: bool) {
    let result = if ok { "passed" } else { "failed" };
    tracing::debug!(
        event = events::PROBE_RESULT,
        component = %context.id,
        check,
        pid,
        ok,
        "{check} probe {result}"
    );
}

/// A bound notification socket, in the abstract namespace (no file, nothing to clean up).
pub struct NotifySocket {
    socket: UnixDatagram,
    /// The value of `NOTIFY_SOCKET` for the child (`@name`).
    pub address: String,
}

impl NotifySocket {
    /// Binds a new socket with a name unique to this daemon and component.
    pub fn bind(id: &str) -> std::io::Result<NotifySocket> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "supervisor/{}/{id}/{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let address = SocketAddr::from_abstract_name(name.as_bytes())?;
        let socket = std::os::unix::net::UnixDatagram::bind_addr(&address)?;
        socket.set_nonblocking(true)?;
        Ok(NotifySocket {
            socket: UnixDatagram::from_std(socket)?,
            address: format!("@{name}"),
        })
    }

    /// Forwards `READY=1` and `WATCHDOG=1` (sd_notify lines) about `pid` until cancelled.
    pub async fn listen(self, pid: u32, component: Addr<ComponentActor>) {
        let mut buffer = [0u8; 4096];
        while let Ok(length) = self.socket.recv(&mut buffer).await {
            for line in String::from_utf8_lossy(&buffer[..length]).lines() {
                match line.trim() {
                    "READY=1" => component.do_send(Verdict::Ready(pid)),
                    "WATCHDOG=1" => component.do_send(Verdict::Alive(pid)),
                    _ => {}
                }
            }
        }
    }
}
