//! The receiving side of socket passing (systemd's `sd_listen_fds`): the descriptors from 3 on
//! that a supervisor passed to this process, for programs that serve on held sockets (the test
//! stand-in).

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether the passed descriptors were taken already: they are owned once.
static TAKEN: AtomicBool = AtomicBool::new(false);

/// The sockets passed to this process with their `LISTEN_FDNAMES` names: `LISTEN_FDS`
/// descriptors from 3 on, when `LISTEN_PID` is this process (none without `LISTEN_FDS`, and
/// none on a second call). Each is made close-on-exec. An error when the variables are
/// malformed, name another process, or a descriptor is not open.
pub fn listen_fds() -> io::Result<Vec<(String, OwnedFd)>> {
    let Some(count) = std::env::var_os("LISTEN_FDS") else {
        return Ok(Vec::new());
    };
    let invalid = |message: String| io::Error::new(io::ErrorKind::InvalidInput, message);
    let count: i32 = (count.to_str().and_then(|c| c.parse().ok()))
        .filter(|c| (0..=1024).contains(c))
        .ok_or_else(|| invalid(format!("LISTEN_FDS={count:?} is not a count")))?;
    let pid = std::env::var("LISTEN_PID").unwrap_or_default();
    if pid != std::process::id().to_string() {
        return Err(invalid(format!(
            "LISTEN_PID={pid:?} is not this process ({})",
            std::process::id()
        )));
    }
    if TAKEN.swap(true, Ordering::SeqCst) {
        return Ok(Vec::new());
    }
    let names = std::env::var("LISTEN_FDNAMES").unwrap_or_default();
    let mut names = names.split(':');
    let mut taken = Vec::new();
    for fd in 3..3 + count {
        // SAFETY: fcntl(F_SETFD) on an integer changes one descriptor's flags, if it is open.
        if unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } < 0 {
            return Err(invalid(format!(
                "LISTEN_FDS names descriptor {fd}, which is not open"
            )));
        }
        // SAFETY: the descriptor is open (above) and was passed to this process for it to own;
        // `TAKEN` makes sure it is taken once.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        taken.push((names.next().unwrap_or("unknown").to_string(), owned));
    }
    Ok(taken)
}
