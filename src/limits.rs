//! The daemon's open-file budget: a descriptor for every pipe its components' output comes
//! through. The daemon raises its soft limit to the hard one; the components start with a soft
//! limit of [`CHILD_SOFT_FILES`] under the daemon's hard limit, as systemd gives services (a huge
//! soft limit breaks programs that `select` or close every possible descriptor); `<limits>
//! <nofile>` gives a component more.

use actors::process::FileLimit;
use actors::process::cgroup::COMPONENTS_KEPT_OPEN;
use actors::spec::{GroupSpec, OutputSpec, StderrMode, StdoutMode};
use nix::fcntl::{FcntlArg, fcntl};
use nix::sys::resource::{Resource, getrlimit, setrlimit};
use std::os::fd::AsRawFd;

/// Descriptors the daemon needs besides its components' pipes: up to 64 control clients,
/// probes, notify sockets, the HTTP endpoint, logs, the journal, and the cgroup files it keeps
/// open (two a component, for the first components).
const HEADROOM: u64 = 128 + 2 * COMPONENTS_KEPT_OPEN as u64;

/// The descriptors a daemon running a registry needs, and where they go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Need {
    /// Components whose stdout is captured (one pipe each).
    pub stdout: u64,
    /// Components whose stderr is captured apart (one more pipe each).
    pub stderr: u64,
}

impl Need {
    /// All of it, headroom included.
    pub fn total(&self) -> u64 {
        HEADROOM + self.stdout + self.stderr
    }

    /// What to tell the operator when `limit` is below the need: how many descriptors, why, and
    /// the settings that lower the need; `None` when the limit is enough.
    pub fn shortfall(&self, limit: u64) -> Option<String> {
        (limit < self.total()).then(|| {
            format!(
                "the registry needs {} open files ({} pipes for captured stdout, {} for stderr \
                 captured apart, {HEADROOM} for the daemon itself) and the limit is {limit}: \
                 raise the hard RLIMIT_NOFILE (ulimit -Hn, LimitNOFILE= in a systemd unit), or \
                 lower the need with <output stderr=\"merge\"/> (one pipe a component) or \
                 stdout=\"null\" stderr=\"null\" (none)",
                self.total(),
                self.stdout,
                self.stderr,
            )
        })
    }
}

/// The descriptors a daemon running `root` needs.
pub fn needed(root: &GroupSpec) -> Need {
    let components = root.components();
    let count = |captured: fn(&OutputSpec) -> bool| {
        components.iter().filter(|c| captured(&c.output)).count() as u64
    };
    Need {
        stdout: count(|output| output.stdout == StdoutMode::Capture),
        stderr: count(|output| output.stderr == StderrMode::Separate),
    }
}

/// What [`prepare`] found and did.
pub struct Prepared {
    /// The descriptors the registry needs.
    pub needed: Need,
    /// The limits after [`raise`], or why they could not be raised.
    pub raised: nix::Result<Raised>,
}

/// Makes room for the descriptors a daemon running `root` needs: raises the limit ([`raise`]),
/// then sizes the descriptor table for all of them ([`reserve_table`]). Call it before the
/// daemon's first thread starts.
pub fn prepare(root: &GroupSpec) -> Prepared {
    let needed = needed(root);
    let raised = raise(needed.total());
    // Best effort (at most the soft limit, raised or not): a table left to grow costs stalls,
    // not descriptors.
    let _ = reserve_table(needed.total());
    Prepared { needed, raised }
}

/// Grows this process's descriptor table at once to hold `count` descriptors (at most the soft
/// limit). Linux grows the table by doubling as descriptors are opened, and in a process of
/// more than one thread each growth waits for an RCU grace period (`expand_fdtable`, 10–15 ms
/// on the reference machine) while every thread that opens a descriptor waits with it: five
/// stalls of the actors' thread and of the control socket's `accept` in a start of 1,000
/// components. In a process of one thread the growth waits for nothing. The table is kernel
/// memory, a pointer a slot, and never shrinks.
pub fn reserve_table(count: u64) -> nix::Result<()> {
    let (soft, _) = getrlimit(Resource::RLIMIT_NOFILE)?;
    let highest = count.min(soft).saturating_sub(1);
    let highest = i32::try_from(highest).unwrap_or(i32::MAX);
    let null = std::fs::File::open("/dev/null")
        .map_err(|e| nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
    // The lowest free slot at or above `highest`: the table now reaches it.
    let high = fcntl(null.as_raw_fd(), FcntlArg::F_DUPFD_CLOEXEC(highest))?;
    nix::unistd::close(high)
}

/// The hard open-file limit of this process.
pub fn hard_limit() -> nix::Result<u64> {
    getrlimit(Resource::RLIMIT_NOFILE).map(|(_, hard)| hard)
}

/// The soft open-file limit of a component that sets none (systemd's `DefaultLimitNOFILE`).
pub const CHILD_SOFT_FILES: u64 = 1024;

/// What [`raise`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Raised {
    /// The limit the daemon was started with: its components get it back.
    pub inherited: FileLimit,
    /// The daemon's soft limit now.
    pub now: u64,
}

/// Raises the soft limit to the hard one. When the hard one is below `needed`, first tries to
/// raise it to the kernel's ceiling (`fs.nr_open`), as systemd does: that takes privilege
/// (CAP_SYS_RESOURCE) and may be refused; the caller then says what is missing.
pub fn raise(needed: u64) -> nix::Result<Raised> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    let inherited = FileLimit { soft, hard };
    if hard < needed {
        let ceiling = std::fs::read_to_string("/proc/sys/fs/nr_open")
            .ok()
            .and_then(|text| text.trim().parse::<u64>().ok());
        if let Some(ceiling) = ceiling.filter(|&ceiling| ceiling > hard) {
            if setrlimit(Resource::RLIMIT_NOFILE, ceiling, ceiling).is_ok() {
                return Ok(Raised {
                    inherited,
                    now: ceiling,
                });
            }
        }
    }
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard)?;
    }
    Ok(Raised {
        inherited,
        now: hard.max(soft),
    })
}

impl Raised {
    /// The open-file limit of a component that sets none: [`CHILD_SOFT_FILES`] (at most the
    /// hard limit), under the daemon's hard limit.
    pub fn for_children(&self) -> FileLimit {
        let hard = self.inherited.hard;
        FileLimit {
            soft: CHILD_SOFT_FILES.min(hard),
            hard,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_captured_stream_costs_one_descriptor() {
        let registry = crate::registry::parse(
            std::path::Path::new("limits.xml"),
            "<supervisor><servers>\
             <server id=\"a\"><executable>sleep</executable></server>\
             <server id=\"b\"><executable>sleep</executable><output stderr=\"merge\"/></server>\
             <server id=\"c\"><executable>sleep</executable><output stdout=\"null\" stderr=\"null\"/></server>\
             </servers></supervisor>",
        )
        .expect("valid registry");
        assert_eq!(OutputSpec::DEFAULT.stderr, StderrMode::Separate);
        let need = needed(&registry.tree.root);
        assert_eq!(need.total(), HEADROOM + 2 + 1);
        assert_eq!(need.shortfall(need.total()), None);
        let advice = need.shortfall(need.total() - 1).expect("one short");
        assert!(
            advice.contains(&format!("needs {} open files", need.total())),
            "{advice}"
        );
        assert!(advice.contains("stderr=\"merge\""), "{advice}");
    }

    #[test]
    fn the_table_is_sized_at_once() {
        let me = std::process::id();
        let before = testkit::procfs::fd_table_size(me).expect("FDSize");
        let soft = getrlimit(Resource::RLIMIT_NOFILE).unwrap().0;
        let wanted = (before * 4).min(soft);
        reserve_table(wanted).unwrap();
        let after = testkit::procfs::fd_table_size(me).expect("FDSize");
        assert!(after >= wanted, "{before} → {after}, wanted {wanted}");
        let high = format!("/proc/self/fd/{}", wanted - 1);
        assert!(
            !std::path::Path::new(&high).exists(),
            "the reserving copy is closed"
        );
    }

    #[test]
    fn the_soft_limit_reaches_at_least_the_hard_one() {
        let before = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
        let raised = raise(0).unwrap();
        assert_eq!(raised.inherited.soft, before.0);
        assert!(raised.now >= before.1);
        let children = raised.for_children();
        assert_eq!(children.hard, before.1);
        assert_eq!(children.soft, CHILD_SOFT_FILES.min(before.1));
    }
}
