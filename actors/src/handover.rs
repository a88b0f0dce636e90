//! The tree's state as one daemon hands it to its successor across `execve` (`supervisor
//! upgrade`): plain data, serialised with serde, and the messages that freeze the tree, collect
//! that state and thaw it again when the upgrade is refused.
//!
//! Only a settled tree is handed over: every group up (or down) with no plan and no operator
//! request in flight, every component at rest, running, starting or in backoff. A tree caught
//! in the middle of a step (a stop, a plan, an exit its group has not yet answered) is thawed
//! and asked again a moment later. Nothing here touches a process or a descriptor.

use std::time::Duration;

use actix::Message;
use serde::{Deserialize, Serialize};

use crate::component::HandedComponent;
use crate::group::decide::{Phase, Seen};
use crate::process::Stream;

/// The whole tree: its root group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreeState {
    /// The root group.
    pub root: GroupState,
}

/// One group's supervision state (its `Decision` at rest).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupState {
    /// The group's id (`""` for the root).
    pub id: String,
    /// Up or down.
    pub phase: Phase,
    /// The ages of the restarts inside the group's intensity window, oldest first.
    pub window: Vec<Duration>,
    /// The last ticket the group issued.
    pub next_ticket: u64,
    /// How many times the group gave up.
    pub gave_up: u64,
    /// How long the group has been up.
    pub age: Duration,
    /// Its restarts so far by reason, in the order of `status::RESTART_REASONS`.
    pub restarts: Vec<u64>,
    /// Its children, in start order.
    pub children: Vec<ChildState>,
}

/// One child as its group sees it, with the child's own state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChildState {
    /// The child's id.
    pub id: String,
    /// Stopped by the operator.
    pub held: bool,
    /// Wanted up by its group.
    pub wanted: bool,
    /// Consecutive restarts without a stable run.
    pub attempt: u32,
    /// What the group last asked of it and heard back.
    pub seen: Seen,
    /// The child itself.
    pub actor: ActorState,
}

/// A child's own state, by kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ActorState {
    /// A component.
    Component(ComponentState),
    /// A nested group.
    Group(GroupState),
}

/// One component: its lifecycle state, counters, process and armed timer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComponentState {
    /// The component's id.
    pub id: String,
    /// Its lifecycle state (with its pid, while it has a process) and its armed timer.
    pub life: HandedComponent,
    /// Automatic restarts so far.
    pub restarts: u32,
    /// How its last process ended.
    pub last_exit: Option<crate::policy::ExitStatus>,
    /// Whether that end was asked for (a stop, a restart).
    pub last_exit_requested: bool,
    /// Its last failure, and whether its output tells more (`status`'s reason).
    pub last_error: Option<(String, bool)>,
    /// The last lines of its latest process's output.
    pub tail: Vec<String>,
    /// How long its process has run.
    pub uptime: Duration,
    /// The read ends of its process's captured output, as descriptor numbers kept open across
    /// `execve`.
    pub pipes: Vec<(Stream, i32)>,
}

/// Stop acting on timers, verdicts and exits until [`Thaw`] (or until the process is
/// replaced): the tree's state holds still while it is collected.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct Freeze;

/// Act again on what arrived while frozen.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct Thaw;

/// The child's state, or why it cannot be handed over right now.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "Result<ActorState, String>")]
pub struct Collect;

/// Answer once the child (restored in the middle of a start) has started or come to rest: the
/// restored group's wait for the `Start` its predecessor sent.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "crate::StartOutcome")]
pub struct AwaitStart;
