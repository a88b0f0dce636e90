//! The component's states: one enum, with what each state needs inside it, and the reasons
//! `status` gives for being in one. Plain data; the transitions are in `machine.rs`.

use std::fmt;
use std::time::Duration;

use crate::policy::ExitStatus;

/// What the component's process is doing, with what each state needs to know inside it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum Life {
    /// Not running, and not asked to run (or stopped by request).
    Stopped,
    /// Waiting out a delay before spawning; `reason`: why it is restarting, if it failed.
    Backoff { reason: Option<Reason> },
    /// A spawn was asked for; its result is the next input (the actor feeds it at once).
    Spawning,
    /// The process `pid` runs but has not started yet: it must pass its readiness check within
    /// `ready_within` (`Some`), or stay up for the start delay (`None`).
    Starting {
        pid: u32,
        ready_within: Option<Duration>,
    },
    /// The process `pid` runs and has started.
    Running { pid: u32 },
    /// The stop signal was sent to `pid`; waiting for its exit.
    Stopping { pid: u32, cause: StopCause },
    /// The process ended without being asked to; its group decides what happens next.
    Exited { reason: Reason },
    /// The process could not be spawned; its group decides what happens next.
    Failed { error: String },
}

/// Why a process is being stopped.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum StopCause {
    /// Someone asked (the group, an operator, a shutdown); with `then_start`, a `Start` came
    /// meanwhile and the component starts again once the process is gone.
    Requested { then_start: bool },
    /// It did not become ready within its readiness timeout: a failed start.
    NotReady { within: Duration },
    /// Its health check or watchdog failed.
    Unhealthy { check: Check },
}

/// Which watch found a running process unhealthy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum Check {
    /// The `<healthCheck>` probe failed `failures` times in a row.
    HealthCheck,
    /// No `WATCHDOG=1` arrived within the watchdog period.
    Watchdog,
}

impl Check {
    /// The `check` field of `component_unhealthy`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Check::HealthCheck => "health check",
            Check::Watchdog => "watchdog",
        }
    }
}

/// Why a component is down (or restarting) after something went wrong; shown by `status`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum Reason {
    /// Its process ended on its own.
    Exit(ExitStatus),
    /// It did not become ready in time.
    NotReady { within: Duration },
    /// It failed its health check or missed its watchdog.
    Unhealthy(Check),
    /// It could not be spawned.
    SpawnFailed(String),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Exit(status) => write!(f, "{status}"),
            Reason::NotReady { within } => {
                write!(f, "did not become ready within {}", seconds(*within))
            }
            Reason::Unhealthy(Check::HealthCheck) => f.write_str("failed its health check"),
            Reason::Unhealthy(Check::Watchdog) => f.write_str("missed its watchdog"),
            Reason::SpawnFailed(error) => f.write_str(error),
        }
    }
}

/// `60s`, `1.5s`, `500ms`: a duration as an operator writes it.
fn seconds(duration: Duration) -> String {
    if duration.subsec_nanos() == 0 {
        format!("{}s", duration.as_secs())
    } else if duration < Duration::from_secs(1) {
        format!("{}ms", duration.as_millis())
    } else {
        format!("{}s", duration.as_secs_f64())
    }
}

impl Life {
    /// The name `status` shows.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Life::Stopped => "stopped",
            Life::Backoff { .. } => "backoff",
            Life::Spawning | Life::Starting { .. } => "starting",
            Life::Running { .. } => "running",
            Life::Stopping { .. } => "stopping",
            Life::Exited { .. } => "exited",
            Life::Failed { .. } => "failed",
        }
    }

    /// The process, while there is one.
    pub(crate) fn pid(&self) -> Option<u32> {
        match self {
            Life::Starting { pid, .. } | Life::Running { pid } | Life::Stopping { pid, .. } => {
                Some(*pid)
            }
            Life::Stopped
            | Life::Backoff { .. }
            | Life::Spawning
            | Life::Exited { .. }
            | Life::Failed { .. } => None,
        }
    }

    /// Why the component is in this state, when something went wrong; `None` when it is where
    /// it was asked to be.
    pub(crate) fn reason(&self) -> Option<String> {
        let reason = match self {
            Life::Backoff { reason } => reason.clone(),
            Life::Stopping {
                cause: StopCause::NotReady { within },
                ..
            } => Some(Reason::NotReady { within: *within }),
            Life::Stopping {
                cause: StopCause::Unhealthy { check },
                ..
            } => Some(Reason::Unhealthy(*check)),
            Life::Exited { reason } => Some(reason.clone()),
            Life::Failed { error } => Some(Reason::SpawnFailed(error.clone())),
            Life::Stopped
            | Life::Spawning
            | Life::Starting { .. }
            | Life::Running { .. }
            | Life::Stopping {
                cause: StopCause::Requested { .. },
                ..
            } => None,
        };
        reason.map(|reason| reason.to_string())
    }
}
