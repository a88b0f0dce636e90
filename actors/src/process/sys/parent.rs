//! Starting a child: `clone3(CLONE_VM | CLONE_VFORK | CLONE_FILES)` on a stack of its own, born
//! in its cgroup (see `clone3`), or `clone(2)` where `clone3` is refused ([`SpawnMode`]). Until
//! `execve` the child shares the daemon's memory, so there is no page-table copy and no
//! copy-on-write fault in the daemon afterwards (with `fork`, the largest cost of a restart), and
//! the calling thread sleeps until the child has exec'd or died. It also shares the descriptor
//! table until it takes a small private copy (see [`StdioSlots`]). Every signal is blocked around
//! the call, so no daemon handler ever runs in the child; what the child does is in `child`.

use std::cell::UnsafeCell;
use std::ffi::{CStr, c_void};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::ptr;
use std::sync::atomic::{AtomicI32, AtomicU8, Ordering};

use super::child::{child_main, errno};
use super::clone3;

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

/// C strings and the NULL-terminated array of pointers to them that `execve` wants, built
/// together so that every pointer points into a string this value owns.
pub struct CStringArray {
    /// Keeps alive what `pointers` points into (the bytes behind a `Box<CStr>` never move).
    _strings: Vec<Box<CStr>>,
    pointers: Vec<*const libc::c_char>,
}

/// The bytes of `LISTEN_PID=<digits>\0`, room for any pid included.
pub(super) struct ListenPid(UnsafeCell<[u8; ListenPid::SIZE]>);

impl ListenPid {
    pub(super) const PREFIX: &'static [u8] = b"LISTEN_PID=";
    pub(super) const SIZE: usize = 32;

    fn new() -> Box<Self> {
        let mut bytes = [0u8; Self::SIZE];
        bytes[..Self::PREFIX.len()].copy_from_slice(Self::PREFIX);
        Box::new(ListenPid(UnsafeCell::new(bytes)))
    }

    fn as_ptr(&self) -> *mut [u8; ListenPid::SIZE] {
        self.0.get()
    }
}

impl CStringArray {
    /// The NULL-terminated array, for `execve`.
    pub(super) fn as_ptr(&self) -> *const *const libc::c_char {
        self.pointers.as_ptr()
    }

    /// The array of `strings`, NULL-terminated.
    pub fn new(mut strings: Vec<Box<CStr>>) -> Self {
        // Kept for the component's life, one per component: no spare capacity.
        strings.shrink_to_fit();
        let pointers = (strings.iter().map(|s| s.as_ptr()))
            .chain(std::iter::once(ptr::null()))
            .collect();
        CStringArray {
            _strings: strings,
            pointers,
        }
    }
}

/// A component's own `NAME=value` strings, kept between its starts, and its `LISTEN_PID=` slot,
/// which each child completes with its own pid (systemd's socket passing wants it set before
/// `exec`). The array `execve` reads is laid out at each start ([`EnvironmentArray`]): kept
/// per component, it cost a pointer per inherited variable (0.8 KiB each under cargo's
/// environment, 8 MiB for 10,000 components).
pub struct OwnEnvironment {
    strings: Vec<Box<CStr>>,
    listen_pid: Option<Box<ListenPid>>,
}

impl OwnEnvironment {
    /// `strings`, and a `LISTEN_PID=` slot when `listen_pid`.
    pub fn new(strings: Vec<Box<CStr>>, listen_pid: bool) -> Self {
        OwnEnvironment {
            strings,
            listen_pid: listen_pid.then(ListenPid::new),
        }
    }

    /// Whether a variable named `name` is set here (`LISTEN_PID` when there is its slot).
    pub fn sets(&self, name: &[u8]) -> bool {
        (self.listen_pid.is_some() && name == b"LISTEN_PID")
            || self.strings.iter().any(|variable| {
                let bytes = variable.to_bytes();
                bytes.len() > name.len() && bytes.starts_with(name) && bytes[name.len()] == b'='
            })
    }
}

/// One start's environment: the NULL-terminated array `execve` reads, pointing into strings
/// that live as long as the daemon (its inherited environment) and into an [`OwnEnvironment`]
/// that outlives the start.
pub struct EnvironmentArray<'a> {
    own: &'a OwnEnvironment,
    pointers: Vec<*const libc::c_char>,
}

impl<'a> EnvironmentArray<'a> {
    /// `shared` (at most `shared_count` strings), then `own`'s strings, then its `LISTEN_PID=`
    /// slot: one allocation.
    pub fn new(
        shared: impl Iterator<Item = &'static CStr>,
        shared_count: usize,
        own: &'a OwnEnvironment,
    ) -> Self {
        let mut pointers = Vec::with_capacity(shared_count + own.strings.len() + 2);
        pointers.extend(shared.map(CStr::as_ptr));
        pointers.extend(own.strings.iter().map(|s| s.as_ptr()));
        pointers.extend(
            own.listen_pid
                .iter()
                .map(|slot| slot.as_ptr().cast_const().cast()),
        );
        pointers.push(ptr::null());
        EnvironmentArray { own, pointers }
    }

    /// The NULL-terminated array, for `execve`.
    pub(super) fn as_ptr(&self) -> *const *const libc::c_char {
        self.pointers.as_ptr()
    }

    /// Where the child writes its `LISTEN_PID` (null when there is none).
    pub(super) fn listen_pid(&self) -> *mut [u8; ListenPid::SIZE] {
        self.own
            .listen_pid
            .as_ref()
            .map_or(ptr::null_mut(), |slot| slot.as_ptr())
    }
}

/// Everything a new child needs, prepared by the parent; the child only reads it.
pub struct ChildPlan<'a> {
    /// The executable's path (`PATH` was searched by the parent).
    pub program: &'a CStr,
    /// `argv`, from argv\[0\].
    pub arguments: &'a CStringArray,
    /// The whole environment, as `NAME=value` strings.
    pub environment: &'a EnvironmentArray<'a>,
    /// The descriptors that become the child's 0, 1 and 2; `None` keeps the daemon's.
    pub stdio: [Option<BorrowedFd<'a>>; 3],
    /// The held listening sockets that become the child's 3, 4, … (at most [`MAX_SOCKETS`]).
    pub sockets: &'a [BorrowedFd<'a>],
    /// The working directory; the daemon's when `None`.
    pub directory: Option<&'a CStr>,
    /// The cgroup the child goes to, if any.
    pub cgroup: Option<CgroupJoin<'a>>,
    /// The identity to drop to, if any.
    pub credentials: Option<&'a Credentials>,
    /// The open-file limit to give the child instead of the daemon's, if any.
    pub file_limit: Option<FileLimit>,
    /// The resource limits, nice, umask and OOM score the child sets before it drops privileges.
    pub settings: &'a super::ChildSettings,
    /// The daemon's pid: the child arms the parent-death signal and gives up if its parent is
    /// already someone else; 0 when a guardian takes the tree down instead (no signal).
    pub parent: libc::pid_t,
}

/// How a child gets into its component's cgroup.
#[derive(Debug, Clone, Copy)]
pub enum CgroupJoin<'a> {
    /// Born in it ([`SpawnMode::Clone3`]): the cgroup's directory, open.
    Born(BorrowedFd<'a>),
    /// Moves itself there before `exec` by writing to its `cgroup.procs`, open for writing.
    Write(BorrowedFd<'a>),
}

/// How children are created: decided once per daemon ([`SpawnMode::detect`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpawnMode {
    /// `clone3`, each child born in its cgroup (`CLONE_INTO_CGROUP`).
    Clone3,
    /// `clone(2)`; a child joins its cgroup by writing `cgroup.procs` (7–15 ms on recent
    /// kernels, during which the spawning thread waits).
    Clone,
}

impl SpawnMode {
    /// [`SpawnMode::Clone3`] where this architecture has an entry trampoline, `allowed` is true
    /// and the kernel takes `clone3` with `CLONE_INTO_CGROUP`; otherwise [`SpawnMode::Clone`] with
    /// the reason.
    pub fn detect(allowed: bool) -> (SpawnMode, Option<String>) {
        if !allowed {
            return (SpawnMode::Clone, Some("clone3 turned off".into()));
        }
        if !clone3::SUPPORTED {
            let why = format!("no clone3 entry for {}", std::env::consts::ARCH);
            return (SpawnMode::Clone, Some(why));
        }
        match clone3::probe() {
            Ok(()) => (SpawnMode::Clone3, None),
            Err(error) => (SpawnMode::Clone, Some(format!("clone3 refused: {error}"))),
        }
    }

    /// The mode's name in logs.
    pub fn name(self) -> &'static str {
        match self {
            SpawnMode::Clone3 => "clone3",
            SpawnMode::Clone => "clone",
        }
    }
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
    /// Setting a resource limit.
    FileLimit,
    /// Setting the scheduling priority.
    Nice,
    /// Setting the OOM score adjustment.
    Oom,
    /// Arming the parent-death signal.
    ParentDeath,
    /// Replacing itself with the program.
    Exec,
}

impl Stage {
    const ALL: [Stage; 11] = [
        Stage::Clone,
        Stage::Stdio,
        Stage::Directory,
        Stage::Session,
        Stage::Cgroup,
        Stage::Credentials,
        Stage::FileLimit,
        Stage::Nice,
        Stage::Oom,
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
            Stage::Nice => "nice",
            Stage::Oom => "oom",
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

    /// The usable size below [`ChildStack::top`] (the guard page excluded).
    fn usable(&self) -> usize {
        STACK_SIZE - page_size()
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
pub(super) struct Shared<'a> {
    pub(super) plan: &'a ChildPlan<'a>,
    /// Where the child finds its stdin, stdout and stderr (see [`StdioSlots`]).
    pub(super) stdio: [Option<RawFd>; 3],
    /// Where it finds its held sockets, in order (the first `plan.sockets.len()` are used).
    pub(super) sockets: [RawFd; MAX_SOCKETS],
    /// The child's descriptor table keeps only the descriptors below this one.
    pub(super) keep_below: RawFd,
    pub(super) stage: AtomicU8,
    pub(super) errno: AtomicI32,
}

/// Three descriptors of the daemon's, low-numbered and held for the table's whole life, through
/// which a new child's stdin, stdout and stderr pass. The child is cloned sharing the daemon's
/// descriptor table (copying a table of 20,000 pipes for each spawn made a spawn cost grow with
/// the number of components) and at once takes a private copy of the descriptors below the slots
/// alone (`close_range(CLOSE_RANGE_UNSHARE)`), then moves the slots onto 0, 1 and 2.
pub struct StdioSlots {
    slots: [OwnedFd; 3],
    /// The same for held listening sockets, which the child moves to 3, 4, …: made when a
    /// component first needs them (a daemon without `<socket>` spends no descriptor on them).
    sockets: Vec<OwnedFd>,
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
            sockets: Vec::new(),
            idle: slot()?,
        })
    }

    /// Puts each held socket in its slot; returns the slots, in order.
    fn load_sockets(&mut self, sockets: &[BorrowedFd<'_>]) -> io::Result<[RawFd; MAX_SOCKETS]> {
        if sockets.len() > MAX_SOCKETS {
            return Err(io::Error::other(format!(
                "{} sockets; a component holds at most {MAX_SOCKETS}",
                sockets.len()
            )));
        }
        while self.sockets.len() < sockets.len() {
            self.sockets.push(self.idle.try_clone()?);
        }
        let mut loaded = [-1; MAX_SOCKETS];
        for ((slot, socket), loaded) in self.sockets.iter().zip(sockets).zip(&mut loaded) {
            replace(socket.as_raw_fd(), slot)?;
            *loaded = slot.as_raw_fd();
        }
        Ok(loaded)
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
        for slot in self.slots.iter().chain(&self.sockets) {
            let _ = replace(self.idle.as_raw_fd(), slot);
        }
    }

    /// One above the slots a child with `sockets` held sockets uses.
    fn keep_below(&self, sockets: usize) -> RawFd {
        let slots = self.slots.iter().chain(self.sockets.iter().take(sockets));
        slots.map(AsRawFd::as_raw_fd).max().unwrap_or(2) + 1
    }
}

/// The most listening sockets one component may hold (each has a slot of its own).
pub const MAX_SOCKETS: usize = 16;

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

/// Starts a child as `plan` says, the `mode` way, and returns its pid once it runs the program.
/// A child that failed on the way has been reaped already. The caller must hold the lock that
/// keeps the reaper from waiting for any child meanwhile, so that the failed child's pid is ours
/// to reap.
pub fn spawn(
    plan: &ChildPlan<'_>,
    mode: SpawnMode,
    stack: &mut ChildStack,
    slots: &mut StdioSlots,
) -> Result<libc::pid_t, ChildError> {
    let loaded =
        (slots.load(&plan.stdio)).and_then(|stdio| Ok((stdio, slots.load_sockets(plan.sockets)?)));
    let (stdio, sockets) = loaded.map_err(|error| {
        slots.unload();
        ChildError {
            stage: Stage::Stdio,
            error,
        }
    })?;
    let shared = Shared {
        plan,
        stdio,
        sockets,
        keep_below: slots.keep_below(plan.sockets.len()),
        stage: AtomicU8::new(0),
        errno: AtomicI32::new(0),
    };
    let previous = block_all_signals();
    let created = create(&shared, mode, stack);
    restore_signal_mask(previous);
    slots.unload();
    let pid = created?;
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

/// Creates the child (every signal blocked); returns once it has exec'd or exited.
fn create(
    shared: &Shared<'_>,
    mode: SpawnMode,
    stack: &mut ChildStack,
) -> Result<libc::pid_t, ChildError> {
    let data = ptr::from_ref(shared).cast_mut().cast();
    let born_in = match shared.plan.cgroup {
        Some(CgroupJoin::Born(directory)) => Some(directory),
        Some(CgroupJoin::Write(_)) | None => None,
    };
    if mode == SpawnMode::Clone3 {
        let size = stack.usable();
        // SAFETY: every signal is blocked (by `spawn`); `child_main` runs on `stack`, which
        // nothing else uses while we hold `&mut` to it, and reads `shared`, which lives until
        // this returns: with CLONE_VFORK this thread sleeps until the child has called execve
        // or exited. The child leaves the shared descriptor table before it changes anything
        // in it.
        let created = unsafe { clone3::spawn(child_main, data, stack.top(), size, born_in) };
        return created.map_err(|error| ChildError {
            stage: clone3_failure_stage(&error, born_in.is_some()),
            error,
        });
    }
    if born_in.is_some() {
        return Err(ChildError {
            stage: Stage::Cgroup,
            error: io::Error::from_raw_os_error(libc::EINVAL),
        });
    }
    let flags = libc::CLONE_VM | libc::CLONE_VFORK | libc::CLONE_FILES | libc::SIGCHLD;
    // SAFETY: as above, with libc's clone, which takes the function to run on the new stack.
    let pid = unsafe { libc::clone(child_main, stack.top(), flags, data) };
    if pid < 0 {
        return Err(ChildError {
            stage: Stage::Clone,
            error: io::Error::last_os_error(),
        });
    }
    Ok(pid)
}

/// Which step a failed `clone3` stands for: with `CLONE_INTO_CGROUP`, the errors that come from
/// the target cgroup (removed: ENODEV; not a leaf, or a threaded one: EBUSY, EOPNOTSUPP; no
/// permission: EACCES, EPERM) are the cgroup's.
fn clone3_failure_stage(error: &io::Error, into_cgroup: bool) -> Stage {
    let cgroup_errors = [
        libc::ENODEV,
        libc::ENOENT,
        libc::EBUSY,
        libc::EOPNOTSUPP,
        libc::EACCES,
        libc::EPERM,
    ];
    match error.raw_os_error() {
        Some(errno) if into_cgroup && cgroup_errors.contains(&errno) => Stage::Cgroup,
        _ => Stage::Clone,
    }
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

pub(super) fn restore_signal_mask(previous: u64) {
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
