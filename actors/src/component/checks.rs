//! The checks that run beside a component's process: its readiness probe, its notification
//! socket (`READY=1`, `WATCHDOG=1`) and its health check. Each is one async task that reports
//! to the component actor by message; none blocks the actor and none piles up (a task runs one
//! probe at a time, each bounded by its timeout).

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::SocketAddr;
use std::sync::Arc;
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

/// A bound notification socket, in the abstract namespace (no file, nothing to clean up). At
/// an upgrade of the daemon it stays open across `execve` and the new daemon reads it on: the
/// process keeps the `NOTIFY_SOCKET` it was started with.
pub struct NotifySocket {
    socket: UnixDatagram,
    /// The value of `NOTIFY_SOCKET` for the child (`@name`).
    pub address: String,
}

impl NotifySocket {
    /// Binds a new socket with a name unique to this daemon and component (a name that a
    /// predecessor image of this daemon still holds is skipped).
    pub fn bind(id: &str) -> std::io::Result<NotifySocket> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        loop {
            let name = format!(
                "supervisor/{}/{id}/{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            );
            let address = SocketAddr::from_abstract_name(name.as_bytes())?;
            match std::os::unix::net::UnixDatagram::bind_addr(&address) {
                Ok(socket) => return NotifySocket::serve(socket),
                Err(error) if error.kind() == std::io::ErrorKind::AddrInUse => continue,
                Err(error) => return Err(error),
            }
        }
    }

    /// Takes over the socket a predecessor daemon handed over (`fd`, open in this process).
    pub fn adopt(fd: OwnedFd) -> std::io::Result<NotifySocket> {
        NotifySocket::serve(std::os::unix::net::UnixDatagram::from(fd))
    }

    fn serve(socket: std::os::unix::net::UnixDatagram) -> std::io::Result<NotifySocket> {
        let local = socket.local_addr()?;
        let name = local.as_abstract_name().ok_or_else(|| {
            std::io::Error::other("the notification socket is not in the abstract namespace")
        })?;
        let address = format!("@{}", String::from_utf8_lossy(name));
        socket.set_nonblocking(true)?;
        Ok(NotifySocket {
            socket: UnixDatagram::from_std(socket)?,
            address,
        })
    }

    /// Its descriptor, for the hand-over.
    pub fn fd(&self) -> i32 {
        self.socket.as_raw_fd()
    }

    /// Forwards `READY=1` and `WATCHDOG=1` (sd_notify lines) about `pid` until cancelled (a
    /// datagram is either read whole or left queued).
    pub async fn listen(self: Arc<Self>, pid: u32, component: Addr<ComponentActor>) {
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
