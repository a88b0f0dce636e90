//! `clone3(2)` with a child born in its cgroup (`CLONE_INTO_CGROUP`, Linux ≥ 5.7): what glibc
//! 2.39's `posix_spawnattr_setcgroup_np` does, by hand. Joining a cgroup after birth means a
//! write to `cgroup.procs`, and on recent kernels that write waits for an RCU grace period
//! (7–15 ms) while the spawning thread sleeps in `CLONE_VFORK`; a child created in the cgroup
//! pays nothing of the kind.
//!
//! A `CLONE_VM` child runs on a stack of its own, and `clone3` (unlike glibc's `clone`) takes no
//! function to run there: the child returns from the system call with the new stack pointer and
//! nothing on it. The entry trampoline below, one per architecture, makes the call and, on the
//! child's side, calls the child's function and exits with what it returns, all without leaving
//! the `asm!` block. Other architectures use `clone(2)` and `cgroup.procs` (see `parent`).
//!
//! No `CLONE_PIDFD`: a pidfd per child would be a third descriptor per component (the budget is
//! two: stdout and stderr), and the process table never signals a pid it has not pinned under
//! its lock already.

use std::ffi::c_void;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::ptr;

/// The kernel's `struct clone_args`, up to `cgroup` (`CLONE_ARGS_SIZE_VER2`).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// `CLONE_INTO_CGROUP` (not in every libc release yet).
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// What the child runs: the `child_main` of `child`, given `data`.
pub(super) type Entry = extern "C" fn(*mut c_void) -> libc::c_int;

/// Whether this architecture has an entry trampoline.
pub(super) const SUPPORTED: bool = cfg!(any(target_arch = "x86_64", target_arch = "aarch64"));

/// Whether the kernel takes `clone3` with `CLONE_INTO_CGROUP`: `Err` with the kernel's answer
/// when it does not (ENOSYS before 5.3 or under a seccomp filter, E2BIG or EINVAL before 5.7,
/// EPERM under some filters). Asks with a descriptor that cannot be open (`i32::MAX`): a kernel
/// that knows the flag gets as far as looking it up and answers EBADF, before any process exists.
pub(super) fn probe() -> io::Result<()> {
    let args = CloneArgs {
        flags: CLONE_INTO_CGROUP,
        exit_signal: libc::SIGCHLD as u64,
        cgroup: i32::MAX as u64,
        ..CloneArgs::default()
    };
    // SAFETY: clone3 reads `args` (a live, fully initialised struct of the size given). Without
    // CLONE_VM a child, were one made against all expectation, would be a fork with its own copy
    // of this stack: it leaves at once with _exit, and the parent reaps it.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            ptr::from_ref(&args),
            std::mem::size_of::<CloneArgs>(),
        )
    };
    if pid == 0 {
        // SAFETY: _exit ends this forked child without running anything of the daemon's.
        unsafe { libc::_exit(127) };
    }
    if pid > 0 {
        let mut status = 0;
        // SAFETY: waitpid writes one int; the pid is our unreaped child.
        unsafe { libc::waitpid(pid as libc::pid_t, &mut status, 0) };
        return Ok(());
    }
    match io::Error::last_os_error() {
        error if error.raw_os_error() == Some(libc::EBADF) => Ok(()),
        error => Err(error),
    }
}

/// Starts a child sharing this process's memory and descriptor table (`CLONE_VM | CLONE_VFORK
/// | CLONE_FILES`), in the cgroup whose directory is open as `cgroup` if given, running
/// `entry(data)` on the stack whose highest address is `stack_top` (`stack_size` bytes below
/// it). Returns the child's pid once it has exec'd or exited, or the kernel's error.
///
/// # Safety
/// The caller blocks every signal around the call; `stack_top` is 16-byte aligned with
/// `stack_size` bytes of writable memory below it that nothing else uses until this returns;
/// `data` is what `entry` expects and stays valid until this returns.
pub(super) unsafe fn spawn(
    entry: Entry,
    data: *mut c_void,
    stack_top: *mut c_void,
    stack_size: usize,
    cgroup: Option<BorrowedFd<'_>>,
) -> io::Result<libc::pid_t> {
    let mut args = CloneArgs {
        flags: (libc::CLONE_VM | libc::CLONE_VFORK | libc::CLONE_FILES) as u64,
        exit_signal: libc::SIGCHLD as u64,
        stack: stack_top as u64 - stack_size as u64,
        stack_size: stack_size as u64,
        ..CloneArgs::default()
    };
    if let Some(cgroup) = cgroup {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = cgroup.as_raw_fd() as u64;
    }
    // SAFETY: as the caller promised; `args` lives across the call.
    let rc = unsafe { trampoline(&args, entry, data) };
    if rc < 0 {
        return Err(io::Error::from_raw_os_error(-rc as i32));
    }
    Ok(rc as libc::pid_t)
}

/// The raw `clone3`, then on the child's side `exit(entry(data))`. Returns the pid or -errno.
///
/// The child starts with the parent's registers and the new stack pointer; it clears the frame
/// pointer (a backtrace stops there), calls `entry` on its own stack, and exits. It never leaves
/// the `asm!` block, so nothing the compiler assumes about this function's frame applies to it.
#[cfg(target_arch = "x86_64")]
unsafe fn trampoline(args: &CloneArgs, entry: Entry, data: *mut c_void) -> i64 {
    let rc: i64;
    // SAFETY: the caller of `spawn` guarantees the stack and `data`. `syscall` clobbers rcx and
    // r11 only (taken as plain outputs, so no input is placed in them); the kernel sets the
    // child's rsp to the 16-byte aligned top of its stack, so `call` leaves it aligned as the
    // ABI wants at a function's entry.
    unsafe {
        std::arch::asm!(
            "syscall",
            "test rax, rax",
            "jnz 2f",
            "xor ebp, ebp",
            "mov rdi, {data}",
            "call {entry}",
            "mov edi, eax",
            "mov eax, {exit}",
            "syscall",
            "ud2",
            "2:",
            entry = in(reg) entry,
            data = in(reg) data,
            exit = const libc::SYS_exit,
            inlateout("rax") libc::SYS_clone3 => rc,
            in("rdi") ptr::from_ref(args),
            in("rsi") std::mem::size_of::<CloneArgs>(),
            out("rcx") _,
            out("r11") _,
            options(nostack),
        );
    }
    rc
}

/// As on x86_64: `svc` preserves every register but x0, the kernel sets the child's sp to the
/// 16-byte aligned top of its stack, and `blr` sets the link register itself.
#[cfg(target_arch = "aarch64")]
unsafe fn trampoline(args: &CloneArgs, entry: Entry, data: *mut c_void) -> i64 {
    let rc: i64;
    // SAFETY: as for x86_64; the child's side never returns from the block.
    unsafe {
        std::arch::asm!(
            "svc 0",
            "cbnz x0, 2f",
            "mov x29, xzr",
            "mov x0, {data}",
            "blr {entry}",
            "mov x8, #{exit}",
            "svc 0",
            "brk 0",
            "2:",
            entry = in(reg) entry,
            data = in(reg) data,
            exit = const libc::SYS_exit,
            inlateout("x0") ptr::from_ref(args) => rc,
            in("x1") std::mem::size_of::<CloneArgs>(),
            in("x8") libc::SYS_clone3,
            options(nostack),
        );
    }
    rc
}

/// No trampoline here: [`SUPPORTED`] is false and `parent` never calls this.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
unsafe fn trampoline(_args: &CloneArgs, _entry: Entry, _data: *mut c_void) -> i64 {
    -i64::from(libc::ENOSYS)
}
