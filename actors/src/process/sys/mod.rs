//! The only `unsafe` in Supervisor: raw system calls that neither std nor nix wraps safely.
//! Each block says why it is sound.
//!
//! - here: pidfds, to signal a process and never a recycled pid; the `signalfd` the reaper
//!   waits on;
//! - `parent`: starting a child the way `posix_spawn` does, `CLONE_VM | CLONE_VFORK |
//!   CLONE_FILES` on a stack of its own, with every signal blocked around the call;
//! - `clone3`: the same born in its cgroup (`clone3` with `CLONE_INTO_CGROUP`), and the entry
//!   trampoline in `asm!` that a `CLONE_VM` child of `clone3` needs;
//! - `child`: what that child does until `execve`, while it still shares the daemon's memory;
//! - `settings`: the resource limits, nice, umask and OOM score it gives itself on the way;
//! - `listen`: taking the sockets a supervisor passed (`LISTEN_FDS`), for served programs;
//! - `malloc`: the allocator's arenas, set once at start.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::ptr;

use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

mod child;
mod clone3;
mod listen;
mod malloc;
mod parent;
mod settings;

pub use listen::listen_fds;
pub use malloc::{give_back_free_memory, share_one_arena};
pub use parent::{
    CStringArray, CgroupJoin, ChildError, ChildPlan, ChildStack, Credentials, EnvironmentArray,
    FileLimit, MAX_SOCKETS, OwnEnvironment, SpawnMode, Stage, StdioSlots, spawn,
};
pub use settings::ChildSettings;

/// Opens a pidfd for `pid`, which must be an unreaped child of ours (so the pid is still ours).
pub fn pidfd_open(pid: libc::pid_t) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and a flags word and returns a new file descriptor or -1;
    // it touches no memory of ours. pidfds are always close-on-exec.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = i32::try_from(fd).map_err(|_| io::Error::from(io::ErrorKind::InvalidData))?;
    // SAFETY: the kernel just returned this descriptor to us and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Sends `signal` to the process behind `pidfd`: never to a recycled pid.
pub fn pidfd_send_signal(pidfd: &OwnedFd, signal: i32) -> io::Result<()> {
    // SAFETY: the pidfd is open for the duration of the call (we borrow it); a null siginfo
    // asks the kernel to fill in the usual kill() info; flags must be 0.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            signal,
            ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Gives `signal` its default disposition: SIGCHLD, which a parent may have left ignored (that
/// survives `execve`, and the kernel then reaps children by itself: no signal is left to
/// read); SIGPIPE for a command-line verb, so that `supervisor check | head` ends quietly as
/// any Unix tool instead of failing on every write (never in the daemon, which writes to
/// sockets).
pub fn default_disposition(signal: Signal) -> io::Result<()> {
    // SAFETY: SIG_DFL installs no handler of ours; the call only sets the disposition (for
    // SIGCHLD it clears SA_NOCLDWAIT with it).
    unsafe { nix::sys::signal::signal(signal, nix::sys::signal::SigHandler::SigDfl) }
        .map(drop)
        .map_err(io::Error::from)
}

/// A `signalfd` for SIGCHLD (which the caller keeps blocked in every thread), registered with
/// the calling thread's runtime: readable when a child has exited.
pub fn child_exits() -> io::Result<AsyncFd<SignalFd>> {
    let flags = SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC;
    let exits = SignalFd::with_flags(&SigSet::from(Signal::SIGCHLD), flags)?;
    // SAFETY: the SignalFd owns its descriptor (it closes it on drop, and nothing else can), so
    // the descriptor stays open and the same for as long as the AsyncFd that owns it.
    unsafe { AsyncFd::register_with_interest(exits, Interest::READABLE) }.map_err(io::Error::from)
}

/// Clock ticks per second (`USER_HZ`), the unit of start times in `/proc/PID/stat`.
pub fn clock_ticks_per_second() -> u64 {
    // SAFETY: sysconf takes an integer and reads no memory of ours.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(hz).unwrap_or(100)
}

/// Takes ownership of descriptor `fd`, handed over across `execve` by a predecessor daemon
/// (its number read from the hand-over); an error if no such descriptor is open.
pub fn adopt_fd(fd: std::os::fd::RawFd) -> io::Result<OwnedFd> {
    nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFD).map_err(io::Error::from)?;
    // SAFETY: `fd` is open (checked above) and nothing else in this process owns it: it was
    // open across the `execve` (no other descriptor can have taken its number since), the
    // hand-over names each kept descriptor once, and it is adopted once.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}
