//! Messages between the actors of the tree. Commands are imperative and go down (`Start`,
//! `Stop`, `Settle`); facts are past tense and go up (`ChildExited`, `GroupGaveUp`).

use std::time::Duration;

use actix::Message;

use crate::policy::Exit;
use crate::spec::ChildSpec;

/// Bring the child up (after `delay`). Answers once it has started, or once it has come to rest
/// without starting (stopped, or exited and not to be restarted).
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "StartOutcome")]
pub struct Start {
    /// Wait this long first (backoff).
    pub delay: Duration,
    /// Why: only automatic restarts count in a component's `restarts`.
    pub cause: StartCause,
}

/// Why a child is started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartCause {
    /// Its group's start (the daemon's start-up, or a group started as a whole).
    Initial,
    /// An automatic restart after an exit (its own, or a sibling's under `one_for_all` /
    /// `rest_for_one`): the only cause counted in `restarts`.
    Restart,
    /// An operator's `start ID` or `restart ID`.
    Operator,
    /// A reload added it or changed what its process sees.
    Reload,
}

/// A reload's new settings for a child that stays. A component applies them at once when
/// `in_place` (nothing its process sees changed: description, timeouts, restart policy,
/// probes, output file settings), else from its next process (command, environment, working
/// directory, user, stdio wiring; its group stops it first). A group takes its new settings
/// and children.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct Respec {
    /// The child's new settings, of its own kind (its group compares kinds first).
    pub spec: ChildSpec,
    /// No new process is needed.
    pub in_place: bool,
}

/// How a [`Start`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartOutcome {
    /// The child started (its process ran for `startDelay`; a group: all its levels started).
    Started,
    /// The child came to rest without starting.
    NotStarted,
}

/// Stop the child (reverse order for a group). Answers once nothing of it runs.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct Stop;

/// A group its parent has let go (a reload removed it, and it has stopped): it ends, and its
/// nested groups with it. Its children hold its address and the id index holds it as their
/// owner, so it would not end by itself.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct Dissolve;

/// The group decided not to restart an exited child: it stays down, and any pending [`Start`]
/// is answered `NotStarted`.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct Settle;

/// A group had more restarts than its intensity allows, stopped every child and gave up: the
/// fact its parent group (or, for the root, the daemon) acts on.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct GroupGaveUp {
    /// The group's id (`""` for the root).
    pub id: String,
    /// How long it had been up.
    pub uptime: Duration,
}

/// A component's process stopped running without being asked to, or could not be started.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct ChildExited {
    /// The child's id.
    pub id: String,
    /// How it ended.
    pub exit: Exit,
    /// How long it had been running.
    pub uptime: Duration,
}

/// What an operator asks of one component or group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Start it (it is wanted up again).
    Start,
    /// Stop it; it stays stopped, and the stop counts toward no intensity.
    Stop,
    /// Stop it, then start it.
    Restart,
}

/// An operator's command on the child called `id`, wherever it is in the tree.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<(), OperateError>")]
pub struct Operate {
    /// The component or group.
    pub id: String,
    /// What to do.
    pub action: Action,
}

/// Why an operator's command was not carried out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OperateError {
    /// No component or group has this id.
    #[error("unknown component `{0}`")]
    UnknownId(String),
    /// The group is stopping (a shutdown or a give-up outranks operator intents).
    #[error("busy: {0}")]
    Busy(String),
    /// The child came to rest without starting (it exited, or was stopped meanwhile).
    #[error("`{0}` did not start")]
    NotStarted(String),
}

// ---- the hand-over of `supervisor upgrade` (the states are in `handover.rs`) ----

/// Stop acting on timers, verdicts and exits until [`Thaw`] (or until the process is
/// replaced): the tree's state holds still while it is collected.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct Freeze;

/// Act again on what arrived while frozen.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct Thaw;

/// The child's state `S` (`GroupState` of a group, `ComponentState` of a component), or why
/// it cannot be handed over right now.
#[derive(Debug, Clone, Copy)]
pub struct Collect<S>(std::marker::PhantomData<S>);

impl<S> Collect<S> {
    /// Asks for a state of type `S`.
    pub fn new() -> Self {
        Collect(std::marker::PhantomData)
    }
}

impl<S> Default for Collect<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: 'static> Message for Collect<S> {
    type Result = Result<S, String>;
}

/// Answer once the child (restored in the middle of a start) has started or come to rest: the
/// restored group's wait for the `Start` its predecessor sent.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "StartOutcome")]
pub struct AwaitStart;
