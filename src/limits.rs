//! The daemon's open-file budget: a descriptor for every pipe its components' output comes
//! through. The daemon raises its soft limit to the hard one; the components start with a soft
//! limit of [`CHILD_SOFT_FILES`] under the daemon's hard limit, as systemd gives services (a huge
//! soft limit breaks programs that `select` or close every possible descriptor); `<limits>
//! <nofile>` gives a component more.

use actors::process::cgroup::COMPONENTS_KEPT_OPEN;
use actors::process::FileLimit;
use actors::spec::{GroupSpec, StderrMode, StdoutMode};
use nix::sys::resource::{getrlimit, setrlimit, Resource};

/// Descriptors the daemon needs besides its components' pipes: up to 64 control clients,
/// probes, notify sockets, the HTTP endpoint, logs, the journal, and the cgroup files it keeps
/// open (two a component, for the first components).
const HEADROOM: u64 = 128 + 2 * COMPONENTS_KEPT_OPEN as u64;

/// The descriptors a daemon running `root` needs.
pub fn needed(root: &GroupSpec) -> u64 {
    let pipes: u64 = root
        .components()
        .iter()
        .map(|component| {
            let output = &component.output;
            u64::from(output.stdout == StdoutMode::Capture)
                + u64::from(output.stderr == StderrMode::Separate)
        })
        .sum();
    HEADROOM + pipes
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

/// Raises the soft limit to the hard one. The hard limit is the operator's ceiling and stays:
/// when it is below what the registry needs, the caller says so.
pub fn raise() -> nix::Result<Raised> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard)?;
    }
    Ok(Raised {
        inherited: FileLimit { soft, hard },
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
    use actors::spec::OutputSpec;

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
        assert_eq!(needed(&registry.tree.root), HEADROOM + 2 + 1);
    }

    #[test]
    fn the_soft_limit_reaches_at_least_the_hard_one() {
        let before = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
        let raised = raise().unwrap();
        assert_eq!(raised.inherited.soft, before.0);
        assert!(raised.now >= before.1);
        let children = raised.for_children();
        assert_eq!(children.hard, before.1);
        assert_eq!(children.soft, CHILD_SOFT_FILES.min(before.1));
    }
}
