//! systemd's notification protocol (`sd_notify(3)`), spoken by the daemon itself: one datagram
//! of `KEY=VALUE` lines to the socket named by `NOTIFY_SOCKET`. The daemon sends `READY=1` once
//! the tree has started, `RELOADING=1` (with `MONOTONIC_USEC`) and `READY=1` around a reload
//! and around an upgrade (the new image, which reads the same variables, sends the `READY=1`),
//! `STOPPING=1` when its orderly shutdown begins, and `WATCHDOG=1` every half `WATCHDOG_USEC`.
//!
//! [`take_environment`] reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` and leaves
//! the daemon's environment as it is (a re-executed image reads them again); components never
//! get them (`FOR_THE_DAEMON` in the spawn), so they never talk to systemd in the daemon's
//! name. Without `NOTIFY_SOCKET` every function here does nothing.

use std::io;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actors::events;

/// The variables systemd sets for a `Type=notify` service.
pub const NOTIFY_SOCKET: &str = "NOTIFY_SOCKET";
/// The watchdog period, in microseconds.
pub const WATCHDOG_USEC: &str = "WATCHDOG_USEC";
/// The process the watchdog period is meant for.
pub const WATCHDOG_PID: &str = "WATCHDOG_PID";

/// What systemd told this process through its environment.
#[derive(Debug)]
pub struct Systemd {
    socket: UnixDatagram,
    address: SocketAddr,
    display: String,
    watchdog: Option<Duration>,
    warned: AtomicBool,
}

static SYSTEMD: OnceLock<Option<Systemd>> = OnceLock::new();

/// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` and keeps what they say for the
/// daemon's notifications. The environment is left as it is (changing it races with threads
/// reading it, which is why `remove_var` is `unsafe` from edition 2024 on, and a re-executed
/// daemon reads them again); components never inherit them: the spawner leaves them out of the
/// environment it hands on. Calling it again changes nothing.
pub fn take_environment() {
    SYSTEMD.get_or_init(|| {
        let socket = std::env::var_os(NOTIFY_SOCKET);
        let watchdog_usec = std::env::var(WATCHDOG_USEC).ok();
        let watchdog_pid = std::env::var(WATCHDOG_PID).ok();
        let socket = socket?.into_string().ok()?;
        let watchdog = watchdog_period(
            watchdog_usec.as_deref(),
            watchdog_pid.as_deref(),
            std::process::id(),
        );
        match Systemd::connect(&socket, watchdog) {
            Ok(systemd) => Some(systemd),
            Err(error) => {
                // No logger exists yet: say it on stderr, where systemd's journal reads it.
                eprintln!("warning: ignoring {NOTIFY_SOCKET}={socket:?}: {error}");
                None
            }
        }
    });
}

/// The notifier, when the daemon runs under systemd (after [`take_environment`]).
pub fn systemd() -> Option<&'static Systemd> {
    SYSTEMD.get().and_then(Option::as_ref)
}

/// `READY=1`: the tree has started (or a reload is done), with a `STATUS=` line for
/// `systemctl status`.
pub fn ready(status: &str) {
    notify(&format!("READY=1\nSTATUS={}", one_line(status)));
}

/// `RELOADING=1` with the `MONOTONIC_USEC` systemd wants with it; `READY=1` must follow.
pub fn reloading() {
    notify(&format!(
        "RELOADING=1\nMONOTONIC_USEC={}\nSTATUS=reloading the registry",
        monotonic_usec()
    ));
}

/// `RELOADING=1` (with `MONOTONIC_USEC`) right before the daemon re-executes itself: the new
/// image (same pid, same `NOTIFY_SOCKET`) sends the `READY=1` that must follow.
pub fn upgrading(to: &str) {
    notify(&format!(
        "RELOADING=1\nMONOTONIC_USEC={}\nSTATUS=upgrading to {}",
        monotonic_usec(),
        one_line(to)
    ));
}

/// `STOPPING=1`: the orderly shutdown began.
pub fn stopping(reason: &str) {
    notify(&format!(
        "STOPPING=1\nSTATUS=stopping: {}",
        one_line(reason)
    ));
}

/// `WATCHDOG=1`: the daemon is alive.
pub fn watchdog() {
    notify("WATCHDOG=1");
}

/// How often to send `WATCHDOG=1` (half the period systemd asked for), if it asked.
pub fn watchdog_interval() -> Option<Duration> {
    systemd()
        .and_then(|systemd| systemd.watchdog)
        .map(|period| period / 2)
}

fn notify(message: &str) {
    if let Some(systemd) = systemd() {
        systemd.send(message);
    }
}

impl Systemd {
    /// A notifier for the socket named `name` (`/path` or `@abstract`).
    pub fn connect(name: &str, watchdog: Option<Duration>) -> io::Result<Systemd> {
        let address = address(name)?;
        let socket = UnixDatagram::unbound()?;
        // A full queue on systemd's side must not block the daemon's actor thread: a message
        // that cannot be queued now is dropped (and said once in the log).
        socket.set_nonblocking(true)?;
        Ok(Systemd {
            socket,
            address,
            display: name.to_string(),
            watchdog,
            warned: AtomicBool::new(false),
        })
    }

    /// The watchdog period systemd asked for, if any.
    pub fn watchdog(&self) -> Option<Duration> {
        self.watchdog
    }

    /// Sends one notification datagram; a failure is logged once, then only at debug level.
    pub fn send(&self, message: &str) {
        match self.socket.send_to_addr(message.as_bytes(), &self.address) {
            Ok(_) => tracing::trace!(
                event = events::SD_NOTIFY_SENT,
                notification = message,
                "sd_notify sent"
            ),
            Err(error) if !self.warned.swap(true, Ordering::Relaxed) => tracing::warn!(
                event = events::SD_NOTIFY_FAILED,
                socket = %self.display,
                error = %error,
                "cannot notify systemd (further failures are logged at debug level)"
            ),
            Err(error) => {
                tracing::debug!(
                    event = events::SD_NOTIFY_FAILED,
                    socket = %self.display,
                    error = %error,
                    "sd_notify failed"
                )
            }
        }
    }
}

/// The address `NOTIFY_SOCKET` names: an absolute path, or `@name` for an abstract socket.
pub fn address(name: &str) -> io::Result<SocketAddr> {
    if let Some(abstract_name) = name.strip_prefix('@') {
        use std::os::linux::net::SocketAddrExt;
        SocketAddr::from_abstract_name(abstract_name.as_bytes())
    } else if name.starts_with('/') {
        SocketAddr::from_pathname(name)
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not an absolute path or an @abstract socket name",
        ))
    }
}

/// The watchdog period from `WATCHDOG_USEC`, when it is meant for `pid` (`WATCHDOG_PID` unset or
/// equal to it) and a positive number.
pub fn watchdog_period(usec: Option<&str>, for_pid: Option<&str>, pid: u32) -> Option<Duration> {
    if let Some(for_pid) = for_pid {
        if for_pid.trim().parse::<u32>().ok() != Some(pid) {
            return None;
        }
    }
    let usec = usec?.trim().parse::<u64>().ok().filter(|usec| *usec > 0)?;
    Some(Duration::from_micros(usec))
}

/// `CLOCK_MONOTONIC` now, in microseconds (what `MONOTONIC_USEC` wants).
fn monotonic_usec() -> u64 {
    use nix::time::{ClockId, clock_gettime};
    clock_gettime(ClockId::CLOCK_MONOTONIC).map_or(0, |now| {
        now.tv_sec() as u64 * 1_000_000 + now.tv_nsec() as u64 / 1_000
    })
}

/// A `STATUS=` value must stay on its line.
fn one_line(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watchdog_is_for_us_or_for_nobody_in_particular() {
        let second = Some(Duration::from_secs(1));
        assert_eq!(watchdog_period(Some("1000000"), None, 42), second);
        assert_eq!(watchdog_period(Some("1000000"), Some("42"), 42), second);
        assert_eq!(watchdog_period(Some("1000000"), Some("43"), 42), None);
        assert_eq!(watchdog_period(Some("0"), None, 42), None);
        assert_eq!(watchdog_period(Some("soon"), None, 42), None);
        assert_eq!(watchdog_period(None, Some("42"), 42), None);
    }

    #[test]
    fn socket_names_are_paths_or_abstract() {
        use std::os::linux::net::SocketAddrExt;
        let path = address("/run/systemd/notify").unwrap();
        assert_eq!(
            path.as_pathname(),
            Some(std::path::Path::new("/run/systemd/notify"))
        );
        let abstract_name = address("@/org/freedesktop/systemd1/notify").unwrap();
        assert_eq!(
            abstract_name.as_abstract_name(),
            Some(&b"/org/freedesktop/systemd1/notify"[..])
        );
        assert!(address("relative/socket").is_err());
    }

    #[test]
    fn notifications_arrive_as_one_datagram() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let receiver = UnixDatagram::bind(&path).unwrap();
        let systemd = Systemd::connect(path.to_str().unwrap(), None).unwrap();
        systemd.send("READY=1\nSTATUS=ok");
        let mut buffer = [0u8; 256];
        let length = receiver.recv(&mut buffer).unwrap();
        assert_eq!(&buffer[..length], b"READY=1\nSTATUS=ok");
    }

    #[test]
    fn monotonic_time_moves_on() {
        let before = monotonic_usec();
        std::thread::sleep(Duration::from_millis(2));
        assert!(monotonic_usec() >= before + 1_000);
    }
}
