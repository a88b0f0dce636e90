//! `supervisor upgrade`: the daemon re-executes itself (same pid) with its tree handed over.
//!
//! The running daemon asks the new binary which hand-over format it reads (`supervisor
//! --handover-version`), freezes the tree, writes its state to a memfd and `execve`s the new
//! binary from the main thread, with exactly the descriptors the hand-over names kept open: the
//! memfd, a descriptor of its own executable, the components' output pipes, notification
//! sockets and held listening sockets, the control socket and the HTTP listener (every other
//! descriptor is close-on-exec). The new daemon restores the tree from the memfd, adopts the
//! children (still its own: the pid did not change) and the listeners. When it cannot, it
//! `fexecve`s the old executable with the same hand-over and descriptors (a rollback). Nothing
//! here decides a restart.

mod collect;
mod exec;
mod gate;
mod listeners;
mod probe;

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use actors::handover::TreeState;

use crate::guardian::HANDOVER_VARIABLE as GUARDIAN_VARIABLE;
use serde::{Deserialize, Serialize};

pub use collect::{collect, components, output, thaw, thaw_tree};
pub use exec::{exec, roll_back};
pub use gate::{Busy, GATE, QUIET_WITHIN};
pub use listeners::{Listeners, close, control, http};
pub use probe::{answer_check, check, checks_handover, probe, version_answer};

/// The hand-over format this binary writes and reads. A binary that reads another refuses.
/// Version 2 hands the listeners, notification sockets and held sockets over.
pub const HANDOVER_VERSION: u32 = 2;
/// This binary's version, for `upgrade_started`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Names the hand-over's descriptors for the new daemon: `memfd,executable`.
const ENV: &str = "SUPERVISOR_HANDOVER";
/// Makes the new binary give the tree back at once, as one that cannot restore it would.
const ENV_FAIL_RESTORE: &str = "SUPERVISOR_UPGRADE_FAIL_RESTORE";
/// Set by a rollback: why the new binary gave the tree back.
const ENV_ROLLED_BACK: &str = "SUPERVISOR_HANDOVER_ROLLED_BACK";

/// What one daemon hands its successor.
#[derive(Debug, Serialize, Deserialize)]
pub struct Handover {
    /// [`HANDOVER_VERSION`] of the writer.
    pub version: u32,
    /// The writer's version.
    pub from: String,
    /// The version it expected to start.
    pub to: String,
    /// When the upgrade began (ms since the Unix epoch), for `upgrade_completed`'s duration.
    pub began_unix_ms: u64,
    /// The tree's state.
    pub tree: TreeState,
    /// The daemon's control socket and HTTP listener.
    pub listeners: Listeners,
    /// The instance lock's descriptor: the successor holds the very lock, never let go.
    pub lock: Option<RawFd>,
    /// The output's lines under way and the file lines not yet written.
    pub output: actors::output::HandedOutput,
    /// Daemon log lines that could not be written before the exec: logged by the successor.
    pub log_lost: u64,
}

impl Handover {
    /// Every descriptor it names but the memfd and the executable: kept open across `execve`.
    pub fn descriptors(&self) -> Vec<RawFd> {
        let mut fds = self.tree.descriptors();
        fds.extend(self.listeners.descriptors());
        fds.extend(self.lock);
        fds
    }
}

/// The variables of a hand-over: read by the new image, never handed on (the spawner's
/// `FOR_THE_DAEMON` leaves them out of components' environments, the exec out of the next
/// image's).
const VARIABLES: [&str; 4] = [ENV, ENV_ROLLED_BACK, ENV_FAIL_RESTORE, GUARDIAN_VARIABLE];

/// A hand-over waiting to be restored, taken from the environment at start-up.
pub struct Pending {
    /// The memfd holding the [`Handover`].
    memfd: OwnedFd,
    /// The executable of the daemon that wrote it (for a rollback).
    pub executable: OwnedFd,
    /// Set when this daemon is the old one, taken back after a failed restore: the reason.
    pub rolled_back: Option<String>,
    /// The running guardian handed over (`FD:PID:REACH`, see `Guardian::handover`): adopted by
    /// this image, or handed back by a rollback.
    pub guardian: Option<String>,
    /// `SUPERVISOR_UPGRADE_FAIL_RESTORE` was set: this binary plays one that cannot restore
    /// (for rollback tests); a rolled-back daemon ignores it.
    fail_restore: bool,
}

static PENDING: std::sync::Mutex<Option<Pending>> = std::sync::Mutex::new(None);

/// Takes the hand-over named by the environment, if any. The environment is left as it is
/// (changing it races with any thread that reads it): its variables are filtered out of what
/// components and the next image get ([`VARIABLES`]).
pub fn take_environment() {
    let pending = from_environment();
    *PENDING.lock().unwrap_or_else(|p| p.into_inner()) = pending;
}

/// The hand-over found at start-up, once.
pub fn take_pending() -> Option<Pending> {
    PENDING.lock().unwrap_or_else(|p| p.into_inner()).take()
}

/// When a hand-over is pending and this daemon cannot take it (`reason`), gives it back to the
/// old executable; returns if there is none, or if the rollback itself failed.
pub fn roll_back_if_pending(reason: &str) {
    if let Some(pending) = take_pending().filter(|p| p.rolled_back.is_none()) {
        let error = roll_back(&pending, reason, None);
        eprintln!("error: cannot roll the upgrade back: {error}");
    }
}

fn from_environment() -> Option<Pending> {
    let named = std::env::var(ENV).ok();
    let rolled_back = std::env::var(ENV_ROLLED_BACK).ok();
    let fail_restore = std::env::var_os(ENV_FAIL_RESTORE).is_some();
    let guardian = std::env::var(GUARDIAN_VARIABLE).ok();
    let (memfd, executable) = named?
        .split_once(',')
        .and_then(|(m, e)| Some((m.parse::<i32>().ok()?, e.parse::<i32>().ok()?)))?;
    let memfd = actors::process::sys::adopt_fd(memfd).ok()?;
    let executable = actors::process::sys::adopt_fd(executable).ok()?;
    exec::set_cloexec(&[memfd.as_raw_fd(), executable.as_raw_fd()], true);
    Some(Pending {
        memfd,
        executable,
        rolled_back,
        guardian,
        fail_restore,
    })
}

impl Pending {
    /// Why this image must give the tree back although it read the hand-over: it plays one
    /// that cannot restore (`SUPERVISOR_UPGRADE_FAIL_RESTORE`), after taking the listeners
    /// over, so that a rollback drill hands back everything a real failed restore would.
    pub fn fails_restore(&self) -> Option<String> {
        (self.fail_restore && self.rolled_back.is_none())
            .then(|| format!("{ENV_FAIL_RESTORE} is set"))
    }

    /// Reads the hand-over; the descriptors it names are close-on-exec from here on (a rollback
    /// clears that again).
    pub fn read(&self) -> Result<Handover, String> {
        let mut file = File::from(self.memfd.try_clone().map_err(|e| e.to_string())?);
        file.rewind().map_err(|e| e.to_string())?;
        let mut text = String::new();
        file.read_to_string(&mut text)
            .map_err(|e| format!("cannot read the hand-over: {e}"))?;
        let handover = parse(&text)?;
        exec::set_cloexec(&handover.descriptors(), true);
        Ok(handover)
    }
}

/// The hand-over in `text`, if this binary reads its version.
fn parse(text: &str) -> Result<Handover, String> {
    /// The version alone: another version's hand-over is told apart from a broken one.
    #[derive(Deserialize)]
    struct Version {
        version: u32,
    }
    let parsed = |e: serde_json::Error| format!("cannot parse the hand-over: {e}");
    let Version { version } = serde_json::from_str(text).map_err(parsed)?;
    if version != HANDOVER_VERSION {
        return Err(format!(
            "hand-over version {version} (this binary reads {HANDOVER_VERSION})"
        ));
    }
    serde_json::from_str(text).map_err(parsed)
}

/// Writes `handover` to a new memfd, kept open across `execve`.
fn write(handover: &Handover) -> std::io::Result<OwnedFd> {
    let text = serde_json::to_vec(handover).map_err(std::io::Error::other)?;
    let fd = nix::sys::memfd::memfd_create(
        c"supervisor-handover",
        nix::sys::memfd::MemFdCreateFlag::empty(),
    )?;
    let mut file = File::from(fd);
    file.write_all(&text)?;
    file.rewind()?;
    Ok(OwnedFd::from(file))
}

/// Milliseconds since the Unix epoch.
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// `--handover-version` as the first argument: print the hand-over format and exit.
pub fn answers_version() -> bool {
    std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == "--handover-version")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_component_inherits_a_hand_over_variable() {
        for name in VARIABLES {
            assert!(
                actors::process::FOR_THE_DAEMON.contains(&name),
                "{name} is not in the spawner's FOR_THE_DAEMON"
            );
        }
    }
}
