//! What the machine reads and writes: its [`Input`]s (commands, timers, verdicts, exits, the
//! result of a spawn), its [`Timer`]s and the [`Effect`]s and log [`Event`]s it asks the actor
//! for. Plain data.

use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::Signal;

use super::life::Check;
use crate::messages::{StartCause, StartOutcome};
use crate::policy::{Exit, ExitStatus};
use crate::spec::ComponentSpec;

/// What can happen to a component: its group's commands, its timers, its checks' verdicts,
/// its process's exit, and the result of a spawn it asked for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Input {
    /// `Start { delay, cause }` from the group.
    Start { delay: Duration, cause: StartCause },
    /// `Stop` from the group.
    Stop,
    /// `Settle` from the group: the exited component is not restarted.
    Settle,
    /// The backoff timer fired.
    BackoffElapsed,
    /// The spawn asked for by [`Effect::Spawn`] succeeded.
    Spawned { pid: u32 },
    /// The spawn asked for by [`Effect::Spawn`] failed (`execve: No such file or directory`).
    SpawnFailed { error: String },
    /// The start-delay timer fired.
    StartDelayElapsed,
    /// The readiness check of `pid` passed (or it sent `READY=1`).
    Ready { pid: u32 },
    /// The readiness timer fired.
    NotReadyInTime,
    /// `pid` sent `WATCHDOG=1`.
    Alive { pid: u32 },
    /// `pid` failed its health check, or its watchdog timer fired.
    Unhealthy { pid: u32, check: Check },
    /// The stop timer fired.
    StopTimedOut,
    /// `pid` was reaped, after running for `uptime`; `killed`: by the daemon's forced
    /// shutdown, which asked for that end.
    Exited {
        pid: u32,
        status: ExitStatus,
        uptime: Duration,
        killed: bool,
    },
    /// Settings that need no new process.
    Update(Arc<ComponentSpec>),
    /// Settings that apply from the next start.
    Replace(Arc<ComponentSpec>),
}

impl Input {
    /// The input's name, for `unexpected_message`.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Input::Start { .. } => "start",
            Input::Stop => "stop",
            Input::Settle => "settle",
            Input::BackoffElapsed => "backoff_elapsed",
            Input::Spawned { .. } => "spawned",
            Input::SpawnFailed { .. } => "spawn_failed",
            Input::StartDelayElapsed => "start_delay_elapsed",
            Input::Ready { .. } => "ready",
            Input::NotReadyInTime => "not_ready_in_time",
            Input::Alive { .. } => "alive",
            Input::Unhealthy { .. } => "unhealthy",
            Input::StopTimedOut => "stop_timed_out",
            Input::Exited { .. } => "exited",
            Input::Update(_) => "update",
            Input::Replace(_) => "replace",
        }
    }
}

/// The timers a component arms; at most one is armed at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum Timer {
    /// Ends a backoff: [`Input::BackoffElapsed`].
    Backoff,
    /// Ends the start delay: [`Input::StartDelayElapsed`].
    StartDelay,
    /// Ends the wait for readiness: [`Input::NotReadyInTime`].
    Readiness,
    /// A missed keepalive: [`Input::Unhealthy`] with [`Check::Watchdog`].
    Watchdog,
    /// Ends the grace of a stop: [`Input::StopTimedOut`].
    StopTimeout,
}

impl Timer {
    /// The `timer` field of the `timer` event.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Timer::Backoff => "backoff",
            Timer::StartDelay => "start delay",
            Timer::Readiness => "readiness",
            Timer::Watchdog => "watchdog",
            Timer::StopTimeout => "stop timeout",
        }
    }
}

/// What the actor is to do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Effect {
    /// Log one event of the vocabulary.
    Log(Event),
    /// Arm `timer` to fire after the duration.
    ArmTimer(Timer, Duration),
    /// Cancel the armed timer, if any.
    CancelTimer,
    /// Spawn the process; the result is fed back as `Spawned` or `SpawnFailed`.
    Spawn,
    /// Start polling the readiness probe of the process (not for `notify`, whose socket
    /// listener comes with the spawn).
    StartReadiness,
    /// Start the health check of the process.
    StartHealth,
    /// Stop the health check of the process.
    StopHealth,
    /// Send a signal to the process's group.
    Signal(Signal),
    /// SIGKILL the process's group.
    Kill,
    /// The process was reaped: cancel its check tasks and drop its handle.
    Release,
    /// Tell the group the child stopped running without being asked to.
    ReportExit { exit: Exit, uptime: Duration },
    /// Answer every pending `Start`.
    AnswerStart(StartOutcome),
    /// Answer every pending `Stop`.
    AnswerStop,
    /// Apply the (new) output settings to the readers of the current process at once.
    UpdateOutput,
    /// Leave the output settings of the current readers alone; the next process gets new ones.
    RenewOutput,
    /// Forget the kept launch (the command changed).
    DropLaunch,
}

/// A log event; the actor adds the component, its group and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Event {
    /// `component_starting`.
    Starting,
    /// `component_started`.
    Started { pid: u32 },
    /// `component_spawn_failed`.
    SpawnFailed { error: String },
    /// `component_ready`.
    Ready { pid: u32 },
    /// `component_not_ready`.
    NotReady { pid: u32, within: Duration },
    /// `component_unhealthy`.
    Unhealthy { pid: u32, check: Check },
    /// `component_stopping`.
    Stopping { pid: u32, signal: Signal },
    /// `component_killed`.
    Killed { pid: u32 },
    /// `component_stopped`.
    Stopped { pid: u32 },
    /// `component_exited`.
    Exited {
        pid: u32,
        status: ExitStatus,
        uptime: Duration,
        expected: bool,
    },
    /// `unexpected_message`: `input` makes no sense in `state` (or is about another `pid`).
    Unexpected {
        input: &'static str,
        state: &'static str,
        pid: Option<u32>,
    },
}
