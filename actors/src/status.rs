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
}

/// One group as its actor sees it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupStatus {
    /// The group's path (`""` for the root).
    pub path: String,
    /// How many times it gave up (restart intensity exceeded).
    pub intensity_exceeded: u64,
}

/// The answer to a [`Snapshot`]: components in start order, groups depth first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusReport {
    /// Every component.
    pub components: Vec<ComponentStatus>,
    /// Every group.
    pub groups: Vec<GroupStatus>,
}

/// Asks a component (or a whole group, in start order) for its status.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "StatusReport")]
pub struct Snapshot;
