//! Signals become messages at the edge, with no polling. SIGCHLD wakes a task on the actors'
//! own thread (signal-hook writes a byte to a socket the task waits on), which reaps the process
//! table: an exit reaches its component without crossing threads. The other signals are waited
//! for by a thread of their own (signal-hook's self-pipe) and become messages to the daemon.

use std::io;
use std::os::unix::net::UnixStream;

use actix::{Message, Recipient};
use actors::process::ProcessTable;
use signal_hook::consts::{SIGCHLD, SIGHUP, SIGINT, SIGTERM, SIGUSR1, SIGUSR2};
use signal_hook::iterator::Signals;

/// A signal for the daemon, by what it asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Message)]
#[rtype(result = "()")]
pub enum DaemonSignal {
    /// SIGTERM or SIGINT (the number): orderly shutdown.
    Shutdown(i32),
    /// SIGHUP: re-read the registry.
    Reload,
    /// SIGUSR1: reopen log files.
    ReopenLogs,
    /// SIGUSR2: upgrade to the binary the daemon was started from.
    Upgrade,
}

/// Starts the reaper task on the calling thread, which must be the actors' (inside the actor
/// system), and the signal thread. Call before the first child is spawned, so no exit is missed.
pub fn spawn(table: ProcessTable, daemon: Recipient<DaemonSignal>) -> io::Result<()> {
    let (wake, woken) = UnixStream::pair()?;
    wake.set_nonblocking(true)?;
    woken.set_nonblocking(true)?;
    let woken = tokio::net::UnixStream::from_std(woken)?;
    signal_hook::low_level::pipe::register(SIGCHLD, wake)?;
    actix::spawn(reap_on_sigchld(woken, table));
    let mut signals = Signals::new([SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2])?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                match signal {
                    SIGTERM | SIGINT => daemon.do_send(DaemonSignal::Shutdown(signal)),
                    SIGHUP => daemon.do_send(DaemonSignal::Reload),
                    SIGUSR1 => daemon.do_send(DaemonSignal::ReopenLogs),
                    SIGUSR2 => daemon.do_send(DaemonSignal::Upgrade),
                    _ => {}
                }
            }
        })?;
    Ok(())
}

/// Reaps the table each time SIGCHLD arrives. The wake-up bytes are drained before reaping, so
/// an exit during a reap leaves a byte behind and is collected by the next one.
async fn reap_on_sigchld(woken: tokio::net::UnixStream, table: ProcessTable) {
    let mut bytes = [0u8; 64];
    while woken.readable().await.is_ok() {
        loop {
            match woken.try_read(&mut bytes) {
                Ok(0) => return,
                Ok(_) => {}
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                Err(error) => {
                    tracing::error!(
                        event = actors::events::REAP_FAILED,
                        error = %error,
                        "cannot read SIGCHLD wake-ups: no more reaping"
                    );
                    return;
                }
            }
        }
        table.reap();
    }
}

/// The conventional name of a signal number (`SIGTERM`), for logs.
pub fn name(signal: i32) -> &'static str {
    nix::sys::signal::Signal::try_from(signal).map_or("unknown", |signal| signal.as_str())
}
