//! The only `unsafe` in Supervisor: raw system calls that neither std nor nix wraps safely.
//!
//! Each block says why it is sound. Children are started the way `posix_spawn` starts them:
//! `clone(CLONE_VM | CLONE_VFORK)` on a stack of their own. Until `execve` the child shares the
//! daemon's memory, so there is no page-table copy and no copy-on-write fault in the daemon
//! afterwards (with `fork`, the largest cost of a restart), and the calling thread sleeps until
//! the child has exec'd or died. While it shares that memory the child only reads the plan made
//! for it and makes raw system calls: no allocation, no lock, no logging, and no libc wrapper
//! that keeps process-wide state (glibc's `setuid` would change every daemon thread's
//! credentials). Every signal is blocked around the `clone`, so no daemon handler ever runs in
//! the child.

use std::convert::Infallible;
use std::ffi::{c_void, CStr};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::ptr;
use std::sync::atomic::{AtomicI32, AtomicU8, Ordering};
use std::sync::Arc;

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

/// An `RLIMIT_NOFILE` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileLimit {
    /// The soft limit.
    pub soft: u64,
    /// The hard limit.
    pub hard: u64,
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
            ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// C strings and the NULL-terminated array of pointers to them that `execve` wants, built
/// together so that every pointer points into a string this value owns.
pub struct CStringArray {
    /// Keeps alive what `pointers` points into (the bytes behind an `Arc<CStr>` never move).
    _strings: Vec<Arc<CStr>>,
    pointers: Vec<*const libc::c_char>,
}

impl CStringArray {
    /// The array of `strings`, NULL-terminated.
    pub fn new(strings: Vec<Arc<CStr>>) -> Self {
        let mut pointers: Vec<*const libc::c_char> = strings.iter().map(|s| s.as_ptr()).collect();
        pointers.push(ptr::null());
        CStringArray {
            _strings: strings,
            pointers,
        }
    }
}

/// Everything a new child needs, prepared by the parent; the child only reads it.
pub struct ChildPlan<'a> {
    /// The executable's path (`PATH` was searched by the parent).
    pub program: &'a CStr,
    /// `argv`, from argv\[0\].
    pub arguments: &'a CStringArray,
    /// The whole environment, as `NAME=value` strings.
    pub environment: &'a CStringArray,
    /// The descriptors that become the child's 0, 1 and 2; `None` keeps the daemon's.
    pub stdio: [Option<BorrowedFd<'a>>; 3],
    /// The working directory; the daemon's when `None`.
    pub directory: Option<&'a CStr>,
    /// The `cgroup.procs` file of the cgroup the child joins, if any.
    pub cgroup_procs: Option<&'a CStr>,
    /// The identity to drop to, if any.
    pub credentials: Option<&'a Credentials>,
    /// The open-file limit to give the child instead of the daemon's, if any.
    pub file_limit: Option<FileLimit>,
    /// The daemon's pid: the child gives up if its parent is already someone else.
    pub parent: libc::pid_t,
}

/// The step at which a child failed before running its program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Stage {
    /// Creating the process.
    Clone = 1,
    /// Installing stdin, stdout and stderr.
    Stdio,
    /// Changing to the working directory.
    Directory,
    /// Starting a session of its own.
    Session,
    /// Joining the component's cgroup.
    Cgroup,
    /// Dropping to the configured user and groups.
    Credentials,
    /// Setting the open-file limit.
    FileLimit,
    /// Arming the parent-death signal.
    ParentDeath,
    /// Replacing itself with the program.
    Exec,
}

impl Stage {
    const ALL: [Stage; 9] = [
        Stage::Clone,
        Stage::Stdio,
        Stage::Directory,
        Stage::Session,
        Stage::Cgroup,
        Stage::Credentials,
        Stage::FileLimit,
        Stage::ParentDeath,
        Stage::Exec,
    ];

    fn name(self) -> &'static str {
        match self {
            Stage::Clone => "clone",
            Stage::Stdio => "stdio",
            Stage::Directory => "chdir",
            Stage::Session => "setsid",
            Stage::Cgroup => "cgroup",
            Stage::Credentials => "setuid",
            Stage::FileLimit => "setrlimit",
            Stage::ParentDeath => "parent-death signal",
            Stage::Exec => "execve",
        }
    }
}

/// A child that never ran its program: the step that failed and why.
#[derive(Debug, thiserror::Error)]
#[error("{}: {error}", stage.name())]
pub struct ChildError {
    /// Where it failed.
    pub stage: Stage,
    /// The system's reason.
    #[source]
    pub error: io::Error,
}

/// The memory a child runs on until `execve`: mapped once, reused by every spawn (spawns are
/// serialized by the process table's lock), with a guard page below it.
pub struct ChildStack {
    base: *mut c_void,
}

/// The stack's size, guard page included: the child's setup needs a few KiB at most.
const STACK_SIZE: usize = 64 * 1024;

impl ChildStack {
    /// Maps a new stack.
    pub fn new() -> io::Result<Self> {
        // SAFETY: an anonymous private mapping at an address of the kernel's choosing aliases
        // nothing of ours; the result is checked before use.
        let base = unsafe {
            libc::mmap(
                ptr::null_mut(),
                STACK_SIZE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let stack = ChildStack { base };
        // SAFETY: the first page lies inside the mapping just made, which nothing uses yet.
        if unsafe { libc::mprotect(base, page_size(), libc::PROT_NONE) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(stack)
    }

    /// The highest address: stacks grow down. Page-aligned, so 16-byte aligned.
    fn top(&mut self) -> *mut c_void {
        self.base.wrapping_byte_add(STACK_SIZE)
    }
}

impl Drop for ChildStack {
    fn drop(&mut self) {
        // SAFETY: `base` and the size are exactly the mapping `new` made, and no child runs on
        // it (a child only runs while `spawn` holds `&mut self`).
        unsafe {
            libc::munmap(self.base, STACK_SIZE);
        }
    }
}

// SAFETY: the stack is plain memory owned by this value alone; moving it to another thread
// moves that ownership.
unsafe impl Send for ChildStack {}

fn page_size() -> usize {
    // SAFETY: sysconf takes an integer and reads no memory of ours.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size).unwrap_or(4096)
}

/// What the child leaves for the parent, in the memory they share: the stage it failed at
/// (0 when it reached its program) and errno.
struct Shared<'a> {
    plan: &'a ChildPlan<'a>,
    /// Where the child finds its stdin, stdout and stderr (see [`StdioSlots`]).
    stdio: [Option<RawFd>; 3],
    /// The child's descriptor table keeps only the descriptors below this one.
    keep_below: RawFd,
    stage: AtomicU8,
    errno: AtomicI32,
}

/// Three descriptors of the daemon's, low-numbered and held for the table's whole life, through
/// which a new child's stdin, stdout and stderr pass. The child is cloned sharing the daemon's
/// descriptor table (copying a table of 20,000 pipes for each spawn made a spawn cost grow with
/// the number of components) and at once takes a private copy of the descriptors below the slots
/// alone (`close_range(CLOSE_RANGE_UNSHARE)`), then moves the slots onto 0, 1 and 2.
pub struct StdioSlots {
    slots: [OwnedFd; 3],
    /// What a slot holds between spawns (`/dev/null`), so its number is never reused.
    idle: OwnedFd,
}

impl StdioSlots {
    /// Reserves the three lowest free descriptors, holding duplicates of `null` (/dev/null).
    /// Make them early: every descriptor below them is copied into each child (and closed there
    /// before `exec`).
    pub fn new(null: BorrowedFd<'_>) -> io::Result<Self> {
        let slot = || null.try_clone_to_owned();
        Ok(StdioSlots {
            slots: [slot()?, slot()?, slot()?],
            idle: slot()?,
        })
    }

    /// Puts each planned descriptor in its slot; returns the slots the child takes.
    fn load(&mut self, stdio: &[Option<BorrowedFd<'_>>; 3]) -> io::Result<[Option<RawFd>; 3]> {
        let mut loaded = [None; 3];
        for ((slot, source), loaded) in self.slots.iter().zip(stdio).zip(&mut loaded) {
            if let Some(source) = source {
                replace(source.as_raw_fd(), slot)?;
                *loaded = Some(slot.as_raw_fd());
            }
        }
        Ok(loaded)
    }

    /// Empties every slot again (the daemon's copies of the child's pipes close here).
    fn unload(&mut self) {
        for slot in &self.slots {
            let _ = replace(self.idle.as_raw_fd(), slot);
        }
    }

    fn keep_below(&self) -> RawFd {
        self.slots.iter().map(AsRawFd::as_raw_fd).max().unwrap_or(2) + 1
    }
}

/// Makes `slot` a close-on-exec duplicate of `source`, closing what it held.
fn replace(source: RawFd, slot: &OwnedFd) -> io::Result<()> {
    if source == slot.as_raw_fd() {
        return Ok(());
    }
    // SAFETY: dup3 changes which file the descriptor number `slot` (ours, borrowed) refers to;
    // its number stays owned by `slot`, and `source` is open for the duration of the call.
    let rc = unsafe { libc::dup3(source, slot.as_raw_fd(), libc::O_CLOEXEC) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Starts a child as `plan` says and returns its pid once it runs the program. A child that
/// failed on the way has been reaped already. The caller must hold the lock that keeps the
/// reaper from waiting for any child meanwhile, so that the failed child's pid is ours to reap.
pub fn spawn(
    plan: &ChildPlan<'_>,
    stack: &mut ChildStack,
    slots: &mut StdioSlots,
) -> Result<libc::pid_t, ChildError> {
    let stdio = slots.load(&plan.stdio).map_err(|error| {
        slots.unload();
        ChildError {
            stage: Stage::Stdio,
            error,
        }
    })?;
    let shared = Shared {
        plan,
        stdio,
        keep_below: slots.keep_below(),
        stage: AtomicU8::new(0),
        errno: AtomicI32::new(0),
    };
    let previous = block_all_signals();
    let flags = libc::CLONE_VM | libc::CLONE_VFORK | libc::CLONE_FILES | libc::SIGCHLD;
    // SAFETY: `child_main` runs on `stack`, which nothing else uses while we hold `&mut` to it,
    // and reads `shared`, which lives until `clone` returns: with CLONE_VFORK this thread
    // sleeps until the child has called execve or exited, and with every signal blocked no
    // handler of ours can run on the child's side of the shared memory. The child leaves the
    // shared descriptor table before it changes anything in it.
    let pid = unsafe {
        libc::clone(
            child_main,
            stack.top(),
            flags,
            ptr::from_ref(&shared).cast_mut().cast(),
        )
    };
    let clone_error = io::Error::last_os_error();
    restore_signal_mask(previous);
    slots.unload();
    if pid < 0 {
        return Err(ChildError {
            stage: Stage::Clone,
            error: clone_error,
        });
    }
    let failed = shared.stage.load(Ordering::Acquire);
    let Some(&stage) = Stage::ALL.iter().find(|stage| **stage as u8 == failed) else {
        return Ok(pid);
    };
    reap_failed(pid);
    Err(ChildError {
        stage,
        error: io::Error::from_raw_os_error(shared.errno.load(Ordering::Relaxed)),
    })
}

/// Blocks every signal in the calling thread (the raw call, unlike libc's, includes the two
/// glibc keeps for itself) and returns the mask to restore.
fn block_all_signals() -> u64 {
    let all: u64 = !0;
    let mut previous: u64 = 0;
    // SAFETY: rt_sigprocmask reads and writes one 8-byte kernel signal set each.
    unsafe {
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_SETMASK,
            &all,
            &mut previous,
            8usize,
        );
    }
    previous
}

fn restore_signal_mask(previous: u64) {
    // SAFETY: rt_sigprocmask reads one 8-byte kernel signal set and writes none.
    unsafe {
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_SETMASK,
            &previous,
            ptr::null_mut::<u64>(),
            8usize,
        );
    }
}

/// Reaps a child that exited before running its program.
fn reap_failed(pid: libc::pid_t) {
    let mut status = 0;
    // SAFETY: waitpid writes one int into `status`; the pid is our unreaped child (the caller
    // holds the reaper's lock).
    while unsafe { libc::waitpid(pid, &mut status, 0) } < 0 && errno() == libc::EINTR {}
}

/// The child: sets itself up, then runs the program; returns (and so exits) only on failure.
extern "C" fn child_main(shared: *mut c_void) -> libc::c_int {
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
    leave_shared_descriptors(shared.keep_below).map_err(at(Stage::Stdio))?;
    install_stdio(&shared.stdio).map_err(at(Stage::Stdio))?;
    if let Some(directory) = plan.directory {
        // SAFETY: chdir reads a NUL-terminated path the parent built.
        check(unsafe { libc::syscall(libc::SYS_chdir, directory.as_ptr()) })
            .map_err(at(Stage::Directory))?;
    }
    // SAFETY: setsid takes no arguments.
    check(unsafe { libc::syscall(libc::SYS_setsid) }).map_err(at(Stage::Session))?;
    if let Some(procs) = plan.cgroup_procs {
        join_cgroup(procs).map_err(at(Stage::Cgroup))?;
    }
    if let Some(credentials) = plan.credentials {
        drop_privileges(credentials).map_err(at(Stage::Credentials))?;
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
    die_with_parent(plan.parent).map_err(at(Stage::ParentDeath))?;
    close_inherited_descriptors();
    // SAFETY: the path and both arrays are NUL-terminated C strings (NULL-terminated arrays)
    // that the parent built and keeps alive until we have exec'd.
    unsafe {
        libc::syscall(
            libc::SYS_execve,
            plan.program.as_ptr(),
            plan.arguments.pointers.as_ptr(),
            plan.environment.pointers.as_ptr(),
        );
    }
    // execve returns only when it failed.
    Err((Stage::Exec, errno()))
}

fn at(stage: Stage) -> impl Fn(i32) -> Failure {
    move |errno| (stage, errno)
}

/// errno of the calling thread (the child shares the parent thread's, which sleeps meanwhile).
fn errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// A raw system call's result: `Err(errno)` when it failed.
fn check(rc: libc::c_long) -> Result<libc::c_long, i32> {
    if rc < 0 {
        Err(errno())
    } else {
        Ok(rc)
    }
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

/// Moves the child into the cgroup whose `cgroup.procs` file is `procs` (before the privilege
/// drop: the file belongs to the daemon's user).
fn join_cgroup(procs: &CStr) -> Result<(), i32> {
    // SAFETY: openat reads a NUL-terminated path the parent built.
    let fd = check(unsafe {
        libc::syscall(
            libc::SYS_openat,
            libc::AT_FDCWD,
            procs.as_ptr(),
            libc::O_WRONLY | libc::O_CLOEXEC,
        )
    })?;
    // SAFETY: write reads one byte of a static string; "0" means the writing process.
    let written = check(unsafe { libc::syscall(libc::SYS_write, fd, b"0".as_ptr(), 1usize) });
    // SAFETY: `fd` was opened above and is not used after this.
    unsafe { libc::syscall(libc::SYS_close, fd) };
    written.map(drop)
}

/// setgroups → setgid → setuid (CERT POS36-C order) as raw calls that change this process
/// alone, then proves the change took.
fn drop_privileges(credentials: &Credentials) -> Result<(), i32> {
    let groups = &credentials.groups;
    // SAFETY: the pointer and length describe a live, initialised slice of 32-bit gids.
    check(unsafe { libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr()) })?;
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
    if changed {
        Ok(())
    } else {
        Err(libc::EPERM)
    }
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

/// Marks every descriptor from 3 up close-on-exec, whoever opened it.
fn close_inherited_descriptors() {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: close_range only changes descriptor flags; an old kernel answers ENOSYS, and every
    // descriptor we open is close-on-exec already, so the result is deliberately ignored.
    unsafe {
        libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, CLOSE_RANGE_CLOEXEC);
    }
}
