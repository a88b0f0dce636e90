//! Signals become messages at the edge: one thread waits for them (signal-hook's self-pipe, no
//! polling) and turns SIGCHLD into a reap of the process table and the others into messages to
//! the daemon actor.

use std::io;

use actix::{Message, Recipient};
use actors::process::ProcessTable;
use signal_hook::consts::{SIGCHLD, SIGHUP, SIGINT, SIGTERM, SIGUSR1};
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
}

/// Starts the signal thread. Call before the first child is spawned, so no exit is missed.
pub fn spawn(table: ProcessTable, daemon: Recipient<DaemonSignal>) -> io::Result<()> {
    let mut signals = Signals::new([SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGUSR1])?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                match signal {
                    SIGCHLD => table.reap(),
                    SIGTERM | SIGINT => daemon.do_send(DaemonSignal::Shutdown(signal)),
                    SIGHUP => daemon.do_send(DaemonSignal::Reload),
                    SIGUSR1 => daemon.do_send(DaemonSignal::ReopenLogs),
                    _ => {}
                }
            }
        })?;
    Ok(())
}

/// The conventional name of a signal number (`SIGTERM`), for logs.
pub fn name(signal: i32) -> &'static str {
    nix::sys::signal::Signal::try_from(signal).map_or("unknown", |signal| signal.as_str())
}
