//! The `execve` itself, from the main thread, with exactly the handed-over descriptors kept
//! open; and the rollback, `fexecve` of the old executable with the same hand-over.

use std::ffi::{CString, OsString};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStringExt;
use std::path::Path;

use nix::fcntl::{FcntlArg, FdFlag, fcntl};

use super::{ENV, ENV_ROLLED_BACK, Handover, Pending, VARIABLES, write};
use crate::guardian::HANDOVER_VARIABLE as GUARDIAN_VARIABLE;

/// Replaces this process with `binary`, handing over `handover`, the descriptors it names and
/// the `guardian` (its variable, `SUPERVISOR_GUARDIAN`, and value: its pipe is already kept
/// open by `Guardian::handover`). Returns only on failure, with every descriptor close-on-exec
/// again.
pub fn exec(
    binary: &Path,
    handover: &Handover,
    guardian: Option<&(OsString, OsString)>,
) -> std::io::Result<()> {
    if nix::unistd::gettid() != nix::unistd::getpid() {
        // The children's parent-death signal is armed by the main thread: an exec from
        // another one would end it and SIGKILL every component.
        return Err(std::io::Error::other("not on the main thread"));
    }
    let memfd = write(handover)?;
    // The file this process runs, even if it was replaced on disk since.
    let executable = OwnedFd::from(std::fs::File::open("/proc/self/exe")?);
    let named = format!("{},{}", memfd.as_raw_fd(), executable.as_raw_fd());
    let kept = handover.descriptors();
    let mut keep = kept.clone();
    keep.extend([memfd.as_raw_fd(), executable.as_raw_fd()]);
    set_cloexec(&keep, false);
    let path = CString::new(binary.as_os_str().to_owned().into_vec())?;
    let mut extra = vec![(OsString::from(ENV), OsString::from(named))];
    extra.extend(guardian.cloned());
    let _ = crate::signals::unblock_child_exits();
    let failed = nix::unistd::execve(&path, &arguments(), &environment(&extra));
    let _ = crate::signals::block_child_exits();
    set_cloexec(&kept, true);
    Err(failed.map_or_else(std::io::Error::from, |never| match never {}))
}

/// Gives the tree back to the daemon that handed it over: `fexecve` of its executable with the
/// same hand-over, the descriptors it names (`handed`, when it was read: this image made them
/// close-on-exec) and the `reason`. Returns only on failure.
pub fn roll_back(pending: &Pending, reason: &str, handed: Option<&Handover>) -> std::io::Error {
    let named = format!(
        "{},{}",
        pending.memfd.as_raw_fd(),
        pending.executable.as_raw_fd()
    );
    let mut kept = vec![pending.memfd.as_raw_fd(), pending.executable.as_raw_fd()];
    kept.extend(handed.map(Handover::descriptors).unwrap_or_default());
    let mut extra = vec![
        (OsString::from(ENV), OsString::from(named)),
        (ENV_ROLLED_BACK.into(), reason.into()),
    ];
    // The guardian's pipe, whether or not this image adopted it already: the same descriptor.
    if let Some(guardian) = &pending.guardian {
        kept.extend(
            guardian
                .split(':')
                .next()
                .and_then(|fd| fd.parse::<RawFd>().ok()),
        );
        extra.push((GUARDIAN_VARIABLE.into(), guardian.into()));
    }
    set_cloexec(&kept, false);
    let env = environment(&extra);
    let _ = crate::signals::unblock_child_exits();
    let failed = nix::unistd::fexecve(pending.executable.as_raw_fd(), &arguments(), &env);
    let _ = crate::signals::block_child_exits();
    failed.map_or_else(std::io::Error::from, |never| match never {})
}

/// This process's arguments, as it was started.
fn arguments() -> Vec<CString> {
    std::env::args_os()
        .filter_map(|arg| CString::new(arg.into_vec()).ok())
        .collect()
}

/// This process's environment (less the hand-over's own [`VARIABLES`]) with `extra` set.
fn environment(extra: &[(OsString, OsString)]) -> Vec<CString> {
    let mut env: Vec<CString> = std::env::vars_os()
        .filter(|(name, _)| !VARIABLES.iter().any(|own| name == own))
        .filter(|(name, _)| !extra.iter().any(|(n, _)| name == n))
        .filter_map(|(name, value)| {
            let mut pair: OsString = name;
            pair.push("=");
            pair.push(value);
            CString::new(pair.into_vec()).ok()
        })
        .collect();
    env.extend(extra.iter().filter_map(|(name, value)| {
        let mut pair = name.clone();
        pair.push("=");
        pair.push(value);
        CString::new(pair.into_vec()).ok()
    }));
    env
}

/// Sets or clears `FD_CLOEXEC` on each of `fds`.
pub(super) fn set_cloexec(fds: &[RawFd], on: bool) {
    let flag = if on {
        FdFlag::FD_CLOEXEC
    } else {
        FdFlag::empty()
    };
    for &fd in fds {
        let _ = fcntl(fd, FcntlArg::F_SETFD(flag));
    }
}
