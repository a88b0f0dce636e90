//! The only `unsafe` in Supervisor: raw system calls that neither std nor nix wraps safely.
//!
//! Each block says why it is sound. The child-setup hook runs between `fork` and `exec` in a
//! copy of a multi-threaded process, so it may only make async-signal-safe calls: no allocation,
//! no locks, no logging. Everything it needs is computed before the fork.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::Command;

/// The identity a child drops to before `exec`.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// Target user id.
    pub uid: libc::uid_t,
    /// Target primary group id.
    pub gid: libc::gid_t,
    /// Target supplementary groups.
    pub groups: Vec<libc::gid_t>,
}

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
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Makes `command`'s child a clean process: its own session, the target identity, default
/// signal state, killed when the daemon dies, and no inherited descriptor but 0, 1 and 2.
///
/// `parent` is the daemon's pid; the child exits at once if the daemon died before it could
/// arm its parent-death signal.
pub fn prepare_child(
    command: &mut Command,
    parent: libc::pid_t,
    credentials: Option<Credentials>,
    cgroup_procs: Option<CString>,
) {
    let setup = move || -> io::Result<()> {
        new_session()?;
        if let Some(procs) = &cgroup_procs {
            join_cgroup(procs)?;
        }
        if let Some(credentials) = &credentials {
            drop_privileges(credentials)?;
        }
        reset_signals()?;
        die_with_parent(parent)?;
        close_inherited_descriptors();
        Ok(())
    };
    // SAFETY: `setup` only calls the async-signal-safe functions below, allocates nothing (the
    // groups vector was built before the fork and is only read) and takes no lock.
    unsafe {
        command.pre_exec(setup);
    }
}

/// Maps a libc return code to an `io::Result` (reads errno; allocates nothing).
fn check(rc: libc::c_int) -> io::Result<()> {
    if rc == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Moves the calling process into the cgroup whose `cgroup.procs` file is `procs` (before the
/// privilege drop: the file belongs to the daemon's user).
fn join_cgroup(procs: &CStr) -> io::Result<()> {
    // SAFETY: `procs` is a valid NUL-terminated path built before the fork; open, write and
    // close are async-signal-safe and the buffer is a static byte string.
    unsafe {
        let fd = libc::open(procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        check(fd)?;
        let written = libc::write(fd, b"0".as_ptr().cast(), 1);
        libc::close(fd);
        check(if written == 1 { 0 } else { -1 })
    }
}

/// `setsid()`: the child leads a new session and process group (pgid = pid).
fn new_session() -> io::Result<()> {
    // SAFETY: setsid has no arguments and is async-signal-safe.
    let rc = unsafe { libc::setsid() };
    check(if rc == -1 { -1 } else { 0 })
}

/// setgroups → setgid → setuid (CERT POS36-C order), then proves the change took.
fn drop_privileges(credentials: &Credentials) -> io::Result<()> {
    // SAFETY: the pointer and length describe a live, initialised slice of gid_t.
    check(unsafe { libc::setgroups(credentials.groups.len(), credentials.groups.as_ptr()) })?;
    // SAFETY: setgid and setuid take plain integers and are async-signal-safe.
    check(unsafe { libc::setgid(credentials.gid) })?;
    // SAFETY: as above.
    check(unsafe { libc::setuid(credentials.uid) })?;
    // SAFETY: the get*id calls cannot fail and take no pointers.
    let changed = unsafe {
        libc::getuid() == credentials.uid
            && libc::geteuid() == credentials.uid
            && libc::getgid() == credentials.gid
            && libc::getegid() == credentials.gid
    };
    if changed {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(libc::EPERM))
    }
}

/// Unblocks every signal and restores the default action of every signal the daemon ignores
/// (std keeps the parent's mask, and ignored dispositions survive `exec`).
fn reset_signals() -> io::Result<()> {
    // SAFETY: a zeroed sigset_t is valid storage for sigemptyset, which initialises it;
    // sigprocmask reads it and writes no old set (null).
    unsafe {
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        check(libc::pthread_sigmask(
            libc::SIG_SETMASK,
            &empty,
            std::ptr::null_mut(),
        ))?;
    }
    // The kernel's own `struct sigaction` all zero: SIG_DFL, no flags, no restorer, empty mask.
    let default_action = [0u64; 4];
    for signal in 1..=64 {
        if signal == libc::SIGKILL || signal == libc::SIGSTOP {
            continue;
        }
        // SAFETY: rt_sigaction reads `default_action` (a valid kernel sigaction, 8-byte mask)
        // and writes no old action. The raw call, unlike libc's sigaction, also resets 32 and
        // 33, which glibc reserves but a parent may have left ignored.
        unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                signal,
                default_action.as_ptr(),
                std::ptr::null_mut::<u64>(),
                8usize,
            );
        }
    }
    Ok(())
}

/// Arms SIGKILL on the daemon's death (after the id change, which would clear it), then checks
/// that the daemon did not die before it was armed.
fn die_with_parent(parent: libc::pid_t) -> io::Result<()> {
    // SAFETY: prctl(PR_SET_PDEATHSIG) takes integers only; getppid cannot fail.
    unsafe {
        check(libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
        ))?;
        if libc::getppid() != parent {
            return Err(io::Error::from_raw_os_error(libc::ESRCH));
        }
    }
    Ok(())
}

/// Marks every descriptor from 3 up close-on-exec, whoever opened it (std's own error pipe must
/// stay open until `exec`, so they are not closed here).
fn close_inherited_descriptors() {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: close_range only changes descriptor flags; an old kernel answers ENOSYS, and every
    // descriptor we open is close-on-exec already, so the result is deliberately ignored.
    unsafe {
        libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, CLOSE_RANGE_CLOEXEC);
    }
}
