//! Signals become messages at the edge, with no polling. SIGCHLD is blocked in every thread and
//! read from a `signalfd` by a task on the actors' own thread, which reaps the process table: an
//! exit reaches its component without crossing threads, and without a signal handler (a
//! handler interrupted the actors' `epoll_wait` and wrote a byte for the task to read: 50–90 µs
//! of a restart in the kernel's trace). The other signals are waited for by a thread of their
//! own (signal-hook's self-pipe) and become messages to the daemon.

use std::io;

use actix::{Message, Recipient};
use actors::process::ProcessTable;
use nix::sys::signal::{SigSet, SigmaskHow, Signal, pthread_sigmask};
use nix::sys::signalfd::SignalFd;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1, SIGUSR2};
use signal_hook::iterator::Signals;
use tokio::io::unix::AsyncFd;

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

/// Gives SIGCHLD its default disposition and blocks it in the calling thread, and so in every
/// thread it starts from now on: it is only ever read from the reaper's `signalfd`. Call before
/// the daemon's first thread starts (a thread that did not block it would take the signal,
/// and its default action ignores it).
pub fn block_child_exits() -> io::Result<()> {
    actors::process::sys::default_disposition(nix::sys::signal::Signal::SIGCHLD)?;
    child_exits_blocked(SigmaskHow::SIG_BLOCK)
}

/// Unblocks SIGCHLD in the calling thread, right before it `execve`s another image (an older
/// one would not know it must unblock it; this one blocks it again first thing, and reaps the
/// exits that came meanwhile once it has restored the tree).
pub fn unblock_child_exits() -> io::Result<()> {
    child_exits_blocked(SigmaskHow::SIG_UNBLOCK)
}

fn child_exits_blocked(how: SigmaskHow) -> io::Result<()> {
    pthread_sigmask(how, Some(&SigSet::from(Signal::SIGCHLD)), None).map_err(io::Error::from)
}

/// Starts the reaper task on the calling thread, which must be the actors' (inside the actor
/// system), and the signal thread. Call before the first child is spawned, so no exit is missed,
/// and after [`block_child_exits`].
pub fn spawn(table: ProcessTable, daemon: Recipient<DaemonSignal>) -> io::Result<()> {
    let exits = actors::process::sys::child_exits()?;
    actix::spawn(reap_on_sigchld(exits, table));
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

/// Reaps the table each time SIGCHLD arrives, until the signalfd fails (said once, as
/// `reap_failed`).
async fn reap_on_sigchld(exits: AsyncFd<SignalFd>, table: ProcessTable) {
    if let Err((what, error)) = reap_each_exit(&exits, &table).await {
        tracing::error!(
            event = actors::events::REAP_FAILED,
            error = %error,
            "cannot {what} SIGCHLD: no more reaping"
        );
    }
}

/// The reaper's loop. Pending signals are read until none is left (one at most: they do not
/// queue), and only then is the readiness cleared and the table reaped: an exit during the
/// reap leaves one pending for the next round.
async fn reap_each_exit(
    exits: &AsyncFd<SignalFd>,
    table: &ProcessTable,
) -> Result<(), (&'static str, io::Error)> {
    loop {
        let mut ready = exits.readable().await.map_err(|e| ("wait for", e))?;
        while ready
            .get_inner()
            .read_signal()
            .map_err(|e| ("read", e.into()))?
            .is_some()
        {}
        ready.clear_ready();
        table.reap();
    }
}

/// The conventional name of a signal number (`SIGTERM`), for logs.
pub fn name(signal: i32) -> &'static str {
    nix::sys::signal::Signal::try_from(signal).map_or("unknown", |signal| signal.as_str())
}
