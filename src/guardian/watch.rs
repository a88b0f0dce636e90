//! The guardian process (`supervisor-guardian READ_FORMAT REACH JOURNAL [CGROUP]`, started by
//! the daemon, never by hand): it waits for its pipe (stdin) to close, then ends the daemon's
//! tree as far as its reach goes and exits. In a PID namespace it is the namespace's init: it
//! reaps the orphans that land with it, and its exit makes the kernel kill every process left in
//! the namespace.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use actors::events;
use actors::process::Journal;
use actors::process::cgroup;
use nix::errno::Errno;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::wait::waitpid;
use tracing::level_filters::LevelFilter;

use super::{RELEASE, Reach};
use crate::cli::LogFormat;
use crate::logging;

/// What the daemon asked of this guardian.
struct Orders {
    format: LogFormat,
    reach: Reach,
    journal: Journal,
}

impl Orders {
    /// `FORMAT REACH JOURNAL [CGROUP]`, as [`Guardian::start`](super::Guardian::start) writes it.
    fn parse(mut args: impl Iterator<Item = std::ffi::OsString>) -> Option<Orders> {
        let format = match args.next()?.to_str()? {
            "json" => LogFormat::Json,
            "text" => LogFormat::Text,
            _ => return None,
        };
        let reach = args.next()?;
        let journal = Journal::new(PathBuf::from(args.next()?));
        let reach = match reach.to_str()? {
            "cgroup" => Reach::Cgroup(PathBuf::from(args.next()?)),
            "namespace" => Reach::Namespace,
            "groups" => Reach::Groups,
            _ => return None,
        };
        args.next().is_none().then_some(Orders {
            format,
            reach,
            journal,
        })
    }
}

/// Runs the guardian; `args` are its arguments after `argv[0]`.
pub fn main(args: impl Iterator<Item = std::ffi::OsString>) -> ExitCode {
    let Some(orders) = Orders::parse(args) else {
        eprintln!("error: supervisor-guardian is started by the supervisor daemon, not by hand");
        return ExitCode::from(64);
    };
    // Blocked, not handled: a terminal's or a careless `kill`'s signals never reach it, and
    // SIGCHLD waits for the reaper below.
    let _ = blocked().thread_block();
    let _log = logging::init(orders.format, LevelFilter::INFO, None);
    if orders.reach == Reach::Namespace {
        let _ = std::thread::Builder::new()
            .name("reaper".into())
            .spawn(reap_orphans);
    }
    if wait_for_daemon() {
        return ExitCode::SUCCESS;
    }
    take_down(&orders);
    ExitCode::SUCCESS
}

/// The signals the guardian never acts on.
fn blocked() -> SigSet {
    let mut set = SigSet::empty();
    for signal in [
        Signal::SIGHUP,
        Signal::SIGINT,
        Signal::SIGQUIT,
        Signal::SIGTERM,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
        Signal::SIGPIPE,
        Signal::SIGCHLD,
        Signal::SIGTSTP,
        Signal::SIGTTIN,
        Signal::SIGTTOU,
    ] {
        set.add(signal);
    }
    set
}

/// Reads the pipe until the daemon's end closes; whether the daemon said it exits in order.
fn wait_for_daemon() -> bool {
    let mut stdin = std::io::stdin().lock();
    let mut released = false;
    let mut buffer = [0u8; 16];
    loop {
        match stdin.read(&mut buffer) {
            Ok(0) => return released,
            Ok(length) => released |= buffer[..length].starts_with(RELEASE),
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return released,
        }
    }
}

/// The daemon died: ends what it left, as far as the reach goes.
fn take_down(orders: &Orders) {
    match &orders.reach {
        Reach::Namespace => {
            // The pids the journal names are not this namespace's: the exit does it all.
            tracing::warn!(
                event = events::LEFTOVER_KILLED,
                by = "guardian",
                "the daemon died: ending its children's PID namespace"
            );
        }
        Reach::Cgroup(base) => {
            if !cgroup::wait_empty(base, std::time::Duration::ZERO) {
                cgroup::kill(base);
                tracing::warn!(
                    event = events::LEFTOVER_KILLED,
                    by = "guardian",
                    cgroups = 1,
                    "the daemon died: killed every process in its cgroups"
                );
            }
            // What the kill reached is dead before the journal is read: only what lives
            // outside the cgroups (probes) is left to find there.
            cgroup::wait_empty(base, cgroup::EMPTY_WAIT);
            kill_recorded(&orders.journal);
            cgroup::remove_tree(base, cgroup::EMPTY_WAIT);
        }
        Reach::Groups => kill_recorded(&orders.journal),
    }
}

/// Kills the recorded children that still run and their process groups (probes, which have no
/// cgroup, and every child where there are no cgroups).
fn kill_recorded(journal: &Journal) {
    let killed = journal.kill_leftovers().unwrap_or_default();
    for pid in killed {
        tracing::warn!(
            event = events::LEFTOVER_KILLED,
            by = "guardian",
            pid,
            "the daemon died: killed a process it left"
        );
    }
}

/// As the init of the children's PID namespace: reaps every orphan that lands here, for ever.
fn reap_orphans() {
    let child_exits = SigSet::from(Signal::SIGCHLD);
    loop {
        match waitpid(None, None) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(_) => {
                // No child yet: wait for one to end (SIGCHLD is blocked, so it stays pending).
                let _ = child_exits.wait();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(words: &[&str]) -> Option<Orders> {
        Orders::parse(words.iter().map(Into::into))
    }

    #[test]
    fn the_orders_the_daemon_writes_are_read_back() {
        let orders = parse(&["json", "cgroup", "/run/s/children", "/sys/fs/cgroup/x"]).unwrap();
        assert_eq!(orders.reach, Reach::Cgroup("/sys/fs/cgroup/x".into()));
        assert_eq!(orders.format, LogFormat::Json);
        assert_eq!(
            parse(&["text", "namespace", "/j"]).map(|o| o.reach),
            Some(Reach::Namespace)
        );
        assert_eq!(
            parse(&["text", "groups", "/j"]).map(|o| o.reach),
            Some(Reach::Groups)
        );
        for bad in [
            &[][..],
            &["xml", "groups", "/j"],
            &["text", "everything", "/j"],
            &["text", "cgroup", "/j"],
            &["text", "groups", "/j", "extra"],
        ] {
            assert!(parse(bad).is_none(), "{bad:?}");
        }
    }
}
