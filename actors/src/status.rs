//! What `status` shows of a component, collected from the actors by a [`Snapshot`] request.

use std::time::Duration;

use actix::Message;

use crate::policy::ExitStatus;

/// One component as its actor sees it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentStatus {
    /// The component's id.
    pub id: String,
    /// Path of its enclosing groups (`""` for the root).
    pub group: String,
    /// Its description.
    pub description: String,
    /// `stopped`, `starting`, `running`, `backoff`, `stopping`, `exited` or `failed`.
    pub state: &'static str,
    /// The pid of its process, while it has one.
    pub pid: Option<u32>,
    /// How long its process has been running (zero without one).
    pub uptime: Duration,
    /// How many times its group restarted it automatically (operator starts and reload
    /// restarts are not counted).
    pub restarts: u32,
    /// How its last process ended.
    pub last_exit: Option<ExitStatus>,
    /// Why it is in its state, in words, when that is worth saying: the last failed spawn
    /// (`execve: No such file or directory`), a readiness or health verdict, `gave up`.
    pub reason: Option<String>,
    /// Meant to run: `autostart`, and not stopped by the operator (its group says).
    pub wanted: bool,
    /// Finished its work: a `transient` or `temporary` one whose last exit was normal, at rest.
    pub done: bool,
    /// The listening sockets the daemon holds for it.
    pub sockets: Vec<crate::process::sockets::SocketStatus>,
}

/// One group as its actor sees it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupStatus {
    /// The group's path (`""` for the root).
    pub path: String,
    /// How many times it gave up (restart intensity exceeded).
    pub intensity_exceeded: u64,
    /// Automatic restarts of its children by reason (`exit`, `sibling`, `health`,
    /// `escalation`), in that order.
    pub restarts: [(&'static str, u64); 4],
}

/// The reasons of `restart_scheduled`, in the order of [`GroupStatus::restarts`].
pub const RESTART_REASONS: [&str; 4] = ["exit", "sibling", "health", "escalation"];

/// The answer to a [`Snapshot`]: components in start order, groups depth first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusReport {
    /// Every component.
    pub components: Vec<ComponentStatus>,
    /// Every group.
    pub groups: Vec<GroupStatus>,
}

impl StatusReport {
    /// The wanted components that are not ready (SPEC section 5), with their state: ready is
    /// `running` (its readiness check or start delay passed); a finished `transient` or
    /// `temporary` one is done; `starting`, `backoff`, `failed` and the rest are not ready.
    pub fn not_ready(&self) -> Vec<(String, String)> {
        self.components
            .iter()
            .filter(|c| c.wanted && !c.done && c.state != "running")
            .map(|c| (c.id.clone(), c.state.to_string()))
            .collect()
    }
}

/// Asks a component (or a whole group, in start order) for its status.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "StatusReport")]
pub struct Snapshot;

#[cfg(test)]
mod tests {
    use super::*;

    fn component(id: &str, state: &'static str, wanted: bool, done: bool) -> ComponentStatus {
        ComponentStatus {
            id: id.into(),
            group: String::new(),
            description: String::new(),
            state,
            pid: None,
            uptime: Duration::ZERO,
            restarts: 0,
            last_exit: None,
            reason: None,
            wanted,
            done,
            sockets: Vec::new(),
        }
    }

    #[test]
    fn only_wanted_unfinished_components_that_do_not_run_are_not_ready() {
        let report = StatusReport {
            components: vec![
                component("up", "running", true, false),
                component("booting", "starting", true, false),
                component("crashing", "backoff", true, false),
                component("broken", "failed", true, false),
                component("finished", "stopped", true, true),
                component("held", "stopped", false, false),
                component("spare", "stopped", false, false),
            ],
            groups: Vec::new(),
        };
        let not_ready = report.not_ready();
        let not_ready: Vec<(&str, &str)> = not_ready
            .iter()
            .map(|(id, state)| (id.as_str(), state.as_str()))
            .collect();
        assert_eq!(
            not_ready,
            [
                ("booting", "starting"),
                ("crashing", "backoff"),
                ("broken", "failed")
            ]
        );
    }
}
