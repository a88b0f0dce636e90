//! The per-process settings a child applies to itself before `exec` (resource limits, nice,
//! umask, OOM score), prepared in the daemon as plain numbers and bytes so the child, which
//! still shares the daemon's memory, only reads them and makes raw system calls. They are
//! applied while the child still has the daemon's privileges (raising a hard limit, a
//! negative nice or OOM score need them); a refusal is a failed start at its own step.

use std::ptr;

use super::child::check;
use super::parent::Stage;
use crate::spec::{Limit, ProcessSettings, Resource};

/// What the child sets, ready to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildSettings {
    limits: Vec<ChildLimit>,
    nice: Option<i32>,
    umask: libc::mode_t,
    /// `oom_score_adj` as the decimal text written to `/proc/self/oom_score_adj`.
    oom: Option<OomText>,
}

/// One resource limit; a side that is `None` keeps the child's current value (a soft limit
/// then at most the new hard one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ChildLimit {
    resource: libc::c_int,
    soft: Option<u64>,
    hard: Option<u64>,
}

/// A number from -1000 to 1000 as text, without allocating in the child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct OomText {
    bytes: [u8; 8],
    len: usize,
}

impl ChildSettings {
    /// The settings of `spec`, with `nofile_soft` as the soft open-file limit when the
    /// registry gives a `<nofile>` without one (the default, capped at its hard limit).
    pub fn new(spec: &ProcessSettings, nofile_soft: Option<u64>) -> Self {
        let limits = spec
            .limits
            .iter()
            .map(|limit| ChildLimit {
                resource: resource(limit.resource),
                soft: soft(limit, nofile_soft),
                hard: limit.hard,
            })
            .collect();
        ChildSettings {
            limits,
            nice: spec.nice,
            umask: spec.umask,
            oom: spec.oom_score_adjust.map(OomText::new),
        }
    }
}

/// The soft side of `limit`: as given, or for `nofile` the default capped at the hard side.
fn soft(limit: &Limit, nofile_soft: Option<u64>) -> Option<u64> {
    match (limit.resource, limit.soft, nofile_soft) {
        (_, Some(soft), _) => Some(soft),
        (Resource::Nofile, None, Some(default)) => {
            Some(limit.hard.map_or(default, |hard| default.min(hard)))
        }
        (_, None, _) => None,
    }
}

fn resource(resource: Resource) -> libc::c_int {
    let number = match resource {
        Resource::Nofile => libc::RLIMIT_NOFILE,
        Resource::Core => libc::RLIMIT_CORE,
        Resource::Nproc => libc::RLIMIT_NPROC,
        Resource::Memlock => libc::RLIMIT_MEMLOCK,
        Resource::Stack => libc::RLIMIT_STACK,
    };
    number as libc::c_int
}

impl OomText {
    fn new(value: i32) -> Self {
        let mut bytes = [0u8; 8];
        let text = value.to_string();
        let len = text.len().min(bytes.len());
        bytes[..len].copy_from_slice(&text.as_bytes()[..len]);
        OomText { bytes, len }
    }
}

/// Applies `settings` to the calling process (the child); the failed step and errno if one is
/// refused.
pub(super) fn apply(settings: &ChildSettings) -> Result<(), (Stage, i32)> {
    for limit in &settings.limits {
        set_limit(limit).map_err(|errno| (Stage::FileLimit, errno))?;
    }
    if let Some(nice) = settings.nice {
        // SAFETY: setpriority takes integers only; `who` 0 is the calling process.
        check(unsafe { libc::syscall(libc::SYS_setpriority, libc::PRIO_PROCESS, 0, nice) })
            .map_err(|errno| (Stage::Nice, errno))?;
    }
    // SAFETY: umask takes an integer and cannot fail. The child does not share the daemon's
    // file-system attributes (no CLONE_FS), so the daemon's umask stays.
    unsafe { libc::syscall(libc::SYS_umask, settings.umask) };
    if let Some(oom) = &settings.oom {
        write_oom_score(oom).map_err(|errno| (Stage::Oom, errno))?;
    }
    Ok(())
}

/// Sets one limit, filling a missing side from the current one.
fn set_limit(limit: &ChildLimit) -> Result<(), i32> {
    let mut current = libc::rlimit64 {
        rlim_cur: 0,
        rlim_max: 0,
    };
    if limit.soft.is_none() || limit.hard.is_none() {
        // SAFETY: prlimit64 on ourselves (pid 0) writes one rlimit64 into `current`.
        check(unsafe {
            libc::syscall(
                libc::SYS_prlimit64,
                0,
                limit.resource,
                ptr::null::<libc::rlimit64>(),
                &mut current,
            )
        })?;
    }
    let hard = limit.hard.unwrap_or(current.rlim_max);
    let soft = limit.soft.unwrap_or(current.rlim_cur.min(hard));
    let new = libc::rlimit64 {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: prlimit64 on ourselves reads one rlimit64 and writes no old value.
    check(unsafe {
        libc::syscall(
            libc::SYS_prlimit64,
            0,
            limit.resource,
            &new,
            ptr::null_mut::<libc::rlimit64>(),
        )
    })
    .map(drop)
}

/// Writes the OOM score adjustment to `/proc/self/oom_score_adj`.
fn write_oom_score(oom: &OomText) -> Result<(), i32> {
    const PATH: &[u8] = b"/proc/self/oom_score_adj\0";
    // SAFETY: openat reads a static NUL-terminated path; the descriptor is the child's own
    // (it left the daemon's table before this step) and close-on-exec.
    let fd = check(unsafe {
        libc::syscall(
            libc::SYS_openat,
            libc::AT_FDCWD,
            PATH.as_ptr(),
            libc::O_WRONLY | libc::O_CLOEXEC,
        )
    })?;
    // SAFETY: write reads `len` initialised bytes of `oom.bytes` from the descriptor just opened.
    let written = check(unsafe { libc::syscall(libc::SYS_write, fd, oom.bytes.as_ptr(), oom.len) });
    // SAFETY: close takes the descriptor opened above, used by nothing else.
    unsafe { libc::syscall(libc::SYS_close, fd) };
    written.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nofile_without_soft_gets_the_default_capped_at_its_hard() {
        let spec = ProcessSettings {
            limits: vec![
                Limit {
                    resource: Resource::Nofile,
                    soft: None,
                    hard: Some(512),
                },
                Limit {
                    resource: Resource::Core,
                    soft: None,
                    hard: Some(0),
                },
            ],
            nice: Some(3),
            umask: 0o027,
            oom_score_adjust: Some(-500),
        };
        let settings = ChildSettings::new(&spec, Some(1024));
        assert_eq!(settings.limits[0].soft, Some(512));
        assert_eq!(
            settings.limits[0].resource,
            libc::RLIMIT_NOFILE as libc::c_int
        );
        assert_eq!(settings.limits[1].soft, None);
        let oom = settings.oom.unwrap();
        assert_eq!(&oom.bytes[..oom.len], b"-500");
        let unset = ChildSettings::new(&ProcessSettings::DEFAULT, Some(1024));
        assert_eq!(
            (unset.limits.len(), unset.umask, unset.oom),
            (0, 0o022, None)
        );
    }
}
