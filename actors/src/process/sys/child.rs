//! The child, from `clone` to `execve`. It shares the daemon's memory (the daemon thread that
//! cloned it sleeps meanwhile; the others run on), so it only reads the plan made for it and
//! makes raw system calls: no allocation, no lock, no logging, no panic, and no libc wrapper that
//! keeps process-wide state (glibc's `setuid` would change every daemon thread's credentials).
//! Unless it was born there, it joins its cgroup first (a write to a descriptor the daemon
//! holds), then leaves the daemon's descriptor table before it changes anything in it.

use std::convert::Infallible;
use std::ffi::c_void;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::ptr;
use std::sync::atomic::Ordering;

use super::parent::{
    CgroupJoin, Credentials, ListenPid, MAX_SOCKETS, Shared, Stage, restore_signal_mask,
};

/// The child: sets itself up, then runs the program; returns (and so exits) only on failure.
pub(super) extern "C" fn child_main(shared: *mut c_void) -> libc::c_int {
    // SAFETY: `spawn` passes a pointer to its `Shared`, alive until this child has exec'd or
    // exited (the parent thread sleeps meanwhile).
    let shared = unsafe { &*shared.cast_const().cast::<Shared<'_>>() };
    let Err((stage, errno)) = become_component(shared);
    shared.errno.store(errno, Ordering::Relaxed);
    shared.stage.store(stage as u8, Ordering::Release);
    127
}

/// A failed step: where, and errno.
type Failure = (Stage, i32);

fn become_component(shared: &Shared<'_>) -> Result<Infallible, Failure> {
    let plan = shared.plan;
    // Writing to a descriptor leaves the (still shared) table as it is. A child born in its
    // cgroup is there already.
    if let Some(CgroupJoin::Write(procs)) = plan.cgroup {
        join_cgroup(procs.as_raw_fd()).map_err(at(Stage::Cgroup))?;
    }
    leave_shared_descriptors(shared.keep_below).map_err(at(Stage::Stdio))?;
    install_stdio(&shared.stdio).map_err(at(Stage::Stdio))?;
    let sockets = shared.sockets.get(..plan.sockets.len()).unwrap_or(&[]);
    install_sockets(sockets, shared.keep_below).map_err(at(Stage::Stdio))?;
    super::settings::apply(plan.settings)?;
    // SAFETY: setsid takes no arguments.
    check(unsafe { libc::syscall(libc::SYS_setsid) }).map_err(at(Stage::Session))?;
    if let Some(credentials) = plan.credentials {
        drop_privileges(credentials).map_err(at(Stage::Credentials))?;
    }
    // After the drop: the component enters its directory with its own rights, not root's.
    if let Some(directory) = plan.directory {
        // SAFETY: chdir reads a NUL-terminated path the parent built.
        check(unsafe { libc::syscall(libc::SYS_chdir, directory.as_ptr()) })
            .map_err(at(Stage::Directory))?;
    }
    if let Some(limit) = plan.file_limit {
        let limit = libc::rlimit64 {
            rlim_cur: limit.soft,
            rlim_max: limit.hard,
        };
        // SAFETY: prlimit64 on ourselves (pid 0) reads one rlimit64 and writes no old value.
        check(unsafe {
            libc::syscall(
                libc::SYS_prlimit64,
                0,
                libc::RLIMIT_NOFILE,
                &limit,
                ptr::null_mut::<libc::rlimit64>(),
            )
        })
        .map_err(at(Stage::FileLimit))?;
    }
    reset_signals();
    // Parent 0: a guardian takes the tree down with the daemon, no parent-death signal.
    if plan.parent != 0 {
        die_with_parent(plan.parent).map_err(at(Stage::ParentDeath))?;
    }
    close_inherited_descriptors(3 + sockets.len() as u32);
    write_listen_pid(plan.environment.listen_pid());
    // SAFETY: the path and both arrays are NUL-terminated C strings (NULL-terminated arrays)
    // that the parent built and keeps alive until we have exec'd.
    unsafe {
        libc::syscall(
            libc::SYS_execve,
            plan.program.as_ptr(),
            plan.arguments.as_ptr(),
            plan.environment.as_ptr(),
        );
    }
    // execve returns only when it failed.
    Err((Stage::Exec, errno()))
}

fn at(stage: Stage) -> impl Fn(i32) -> Failure {
    move |errno| (stage, errno)
}

/// errno of the calling thread (the child shares the parent thread's, which sleeps meanwhile).
pub(super) fn errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// A raw system call's result: `Err(errno)` when it failed.
pub(super) fn check(rc: libc::c_long) -> Result<libc::c_long, i32> {
    if rc < 0 { Err(errno()) } else { Ok(rc) }
}

/// Gives the child a descriptor table of its own holding only the descriptors below
/// `keep_below` (the daemon's 0, 1, 2, a few of its own, and the stdio slots): the kernel copies
/// nothing above. Must come before any change to the table, which is the daemon's until then.
fn leave_shared_descriptors(keep_below: RawFd) -> Result<(), i32> {
    const CLOSE_RANGE_UNSHARE: libc::c_uint = 1 << 1;
    // SAFETY: close_range with CLOSE_RANGE_UNSHARE first gives this process a private copy of
    // the table, then closes the range in that copy: the daemon's table is not touched.
    let unshared = check(unsafe {
        libc::syscall(
            libc::SYS_close_range,
            keep_below,
            u32::MAX,
            CLOSE_RANGE_UNSHARE,
        )
    });
    if unshared.is_ok() {
        return Ok(());
    }
    // A kernel before 5.9: copy the whole table (everything above 2 is close-on-exec anyway).
    // SAFETY: unshare(CLONE_FILES) gives this process a private copy of its descriptor table.
    check(unsafe { libc::syscall(libc::SYS_unshare, libc::CLONE_FILES) }).map(drop)
}

/// Moves the stdio slots onto 0, 1 and 2 (without close-on-exec).
fn install_stdio(slots: &[Option<RawFd>; 3]) -> Result<(), i32> {
    for (target, slot) in (0..).zip(slots) {
        let Some(slot) = *slot else { continue };
        // SAFETY: dup3 only changes this child's own descriptor table; slots are above 2, so
        // `slot` and `target` differ.
        check(unsafe { libc::syscall(libc::SYS_dup3, slot, target, 0) })?;
    }
    Ok(())
}

/// Moves the held sockets onto 3, 4, … (without close-on-exec), by way of copies above every
/// slot, so that no move overwrites a socket still to be moved.
fn install_sockets(slots: &[RawFd], above: RawFd) -> Result<(), i32> {
    let mut copies: [RawFd; MAX_SOCKETS] = [-1; MAX_SOCKETS];
    for (slot, copy) in slots.iter().zip(&mut copies) {
        // SAFETY: fcntl(F_DUPFD_CLOEXEC) only adds a descriptor to this child's own table.
        let rc =
            check(unsafe { libc::syscall(libc::SYS_fcntl, *slot, libc::F_DUPFD_CLOEXEC, above) })?;
        *copy = RawFd::try_from(rc).map_err(|_| libc::EBADF)?;
    }
    for (target, copy) in (3..).zip(copies.iter().take(slots.len())) {
        // SAFETY: dup3 only changes this child's own table; every copy lies above every target.
        check(unsafe { libc::syscall(libc::SYS_dup3, *copy, target, 0) })?;
    }
    Ok(())
}

/// Completes `LISTEN_PID=` with this child's pid, in decimal.
fn write_listen_pid(slot: *mut [u8; ListenPid::SIZE]) {
    if slot.is_null() {
        return;
    }
    // SAFETY: getpid takes no arguments and cannot fail.
    let mut pid = unsafe { libc::syscall(libc::SYS_getpid) }.unsigned_abs();
    let mut digits = [0u8; 20];
    let mut count = 0;
    for digit in &mut digits {
        *digit = b'0' + (pid % 10) as u8;
        count += 1;
        pid /= 10;
        if pid == 0 {
            break;
        }
    }
    // SAFETY: the slot belongs to the environment the parent keeps alive until we have exec'd;
    // nothing else touches it meanwhile (the parent thread sleeps, other threads never read it).
    let bytes = unsafe { &mut *slot };
    let Some(tail) = bytes.get_mut(ListenPid::PREFIX.len()..) else {
        return;
    };
    let written = digits.iter().take(count).rev().chain([&0]);
    for (byte, digit) in tail.iter_mut().zip(written) {
        *byte = *digit;
    }
}

/// Moves the child into the cgroup whose `cgroup.procs` the daemon opened as `procs` (before
/// the privilege drop: the file belongs to the daemon's user).
fn join_cgroup(procs: RawFd) -> Result<(), i32> {
    // SAFETY: write reads one byte of a static string from an open descriptor the parent
    // keeps open until we have exec'd; "0" means the writing process.
    check(unsafe { libc::syscall(libc::SYS_write, procs, b"0".as_ptr(), 1usize) }).map(drop)
}

/// setgroups → setgid → setuid (CERT POS36-C order) as raw calls that change this process
/// alone, then proves the change took. `setgroups` needs CAP_SETGID even when it changes
/// nothing, so it is left out when the groups are already the target's: a daemon that is not
/// root can then run a component as its own user.
fn drop_privileges(credentials: &Credentials) -> Result<(), i32> {
    let groups = &credentials.groups;
    if !has_groups(groups) {
        // SAFETY: the pointer and length describe a live, initialised slice of 32-bit gids.
        check(unsafe { libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr()) })?;
    }
    // SAFETY: setgid and setuid take plain integers.
    check(unsafe { libc::syscall(libc::SYS_setgid, credentials.gid) })?;
    // SAFETY: as above.
    check(unsafe { libc::syscall(libc::SYS_setuid, credentials.uid) })?;
    let id = |call| {
        // SAFETY: the get*id calls take no arguments and cannot fail.
        unsafe { libc::syscall(call) }
    };
    let uid = libc::c_long::from(credentials.uid);
    let gid = libc::c_long::from(credentials.gid);
    let changed = id(libc::SYS_getuid) == uid
        && id(libc::SYS_geteuid) == uid
        && id(libc::SYS_getgid) == gid
        && id(libc::SYS_getegid) == gid;
    if changed { Ok(()) } else { Err(libc::EPERM) }
}

/// The most supplementary groups [`has_groups`] compares (on the child's stack); a longer list
/// is simply set.
const COMPARED_GROUPS: usize = 64;

/// Whether this process's supplementary groups are exactly `target` (in any order).
fn has_groups(target: &[libc::gid_t]) -> bool {
    let mut current = [0 as libc::gid_t; COMPARED_GROUPS];
    // SAFETY: getgroups writes at most COMPARED_GROUPS gids into `current`, which holds that
    // many; it fails (EINVAL) rather than write more.
    let count =
        unsafe { libc::syscall(libc::SYS_getgroups, COMPARED_GROUPS, current.as_mut_ptr()) };
    let Ok(count) = usize::try_from(count) else {
        return false;
    };
    let current = &current[..count.min(COMPARED_GROUPS)];
    current.len() == target.len()
        && current.iter().all(|gid| target.contains(gid))
        && target.iter().all(|gid| current.contains(gid))
}

/// Restores the default action of every signal (handled or ignored ones would otherwise stay
/// ignored across `exec`), then unblocks them all.
fn reset_signals() {
    // The kernel's own `struct sigaction` all zero: SIG_DFL, no flags, no restorer, empty mask.
    let default_action = [0u64; 4];
    for signal in 1..=64 {
        if signal == libc::SIGKILL || signal == libc::SIGSTOP {
            continue;
        }
        // SAFETY: rt_sigaction reads `default_action` (a valid kernel sigaction, 8-byte mask)
        // and writes no old action. The raw call, unlike libc's sigaction, also resets 32 and
        // 33, which glibc reserves but a parent may have left ignored. Without CLONE_SIGHAND
        // the child has its own copy of the handlers: the daemon's are untouched.
        unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                signal,
                default_action.as_ptr(),
                ptr::null_mut::<u64>(),
                8usize,
            );
        }
    }
    restore_signal_mask(0);
}

/// Arms SIGKILL on the daemon's death (after the id change, which would clear it), then checks
/// that the daemon did not die before it was armed.
fn die_with_parent(parent: libc::pid_t) -> Result<(), i32> {
    // SAFETY: prctl(PR_SET_PDEATHSIG) takes integers only.
    check(unsafe {
        libc::syscall(
            libc::SYS_prctl,
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
        )
    })?;
    // SAFETY: getppid takes no arguments and cannot fail.
    if unsafe { libc::syscall(libc::SYS_getppid) } != libc::c_long::from(parent) {
        return Err(libc::ESRCH);
    }
    Ok(())
}

/// Marks every descriptor from `first` up close-on-exec, whoever opened it.
fn close_inherited_descriptors(first: u32) {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: close_range only changes descriptor flags; an old kernel answers ENOSYS, and every
    // descriptor we open is close-on-exec already, so the result is deliberately ignored.
    unsafe {
        libc::syscall(libc::SYS_close_range, first, u32::MAX, CLOSE_RANGE_CLOEXEC);
    }
}
