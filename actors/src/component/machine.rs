//! The component's life as a pure automaton, in the manner of s6-supervise: one enum of states,
//! one enum of inputs, and [`step`], a single exhaustive `match (state, input)` that returns the
//! next state and the effects to carry out, in order.
//!
//! Nothing here touches actix, a clock or the OS: the actor turns messages, timers and process
//! exits into [`Input`]s and carries out the [`Effect`]s (it owns the child, its check tasks and
//! the one armed timer). Pairs that cannot happen leave the state as it was and log; none
//! panics. Stale reports (a verdict or an exit about a process that is gone) change nothing.

use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::Signal;

pub(crate) use super::life::{Check, Life, Reason, StopCause};
pub(crate) use super::vocabulary::{Effect, Event, Input, Timer};
use crate::messages::{StartCause, StartOutcome};
use crate::policy::{Exit, ExitStatus, is_normal};
use crate::spec::{ComponentSpec, OutputSpec, Probe};

/// What the machine keeps beside the state: the settings and the counters `status` shows.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Record {
    /// The component's current settings (shared with its group and the daemon's registry).
    pub spec: Arc<ComponentSpec>,
    /// Automatic restarts (starts with [`StartCause::Restart`]).
    pub restarts: u32,
    /// How the last process ended.
    pub last_exit: Option<ExitStatus>,
    /// Whether it ended after a stop someone asked for (not a failure, whatever its code).
    pub last_exit_requested: bool,
}

impl Record {
    /// A component that never ran.
    pub(crate) fn new(spec: impl Into<Arc<ComponentSpec>>) -> Self {
        Record {
            spec: spec.into(),
            restarts: 0,
            last_exit: None,
            last_exit_requested: false,
        }
    }
}

type Step = (Life, Vec<Effect>);

/// The whole automaton: the next state and the effects of `input` in `life`.
pub(crate) fn step(life: Life, input: Input, record: &mut Record) -> Step {
    use Input as I;
    use Life as L;
    if let I::Start {
        cause: StartCause::Restart,
        ..
    } = input
    {
        record.restarts += 1;
    }
    match (life, input) {
        (L::Stopped, I::Start { delay, .. }) => launch(delay, None),
        (L::Exited { reason }, I::Start { delay, .. }) => launch(delay, Some(reason)),
        (L::Failed { error }, I::Start { delay, .. }) => {
            launch(delay, Some(Reason::SpawnFailed(error)))
        }
        (life @ L::Running { .. }, I::Start { .. }) => {
            (life, vec![Effect::AnswerStart(StartOutcome::Started)])
        }
        (
            L::Stopping {
                pid,
                cause: StopCause::Requested { .. },
            },
            I::Start { .. },
        ) => (
            L::Stopping {
                pid,
                cause: StopCause::Requested { then_start: true },
            },
            vec![],
        ),
        // Already on its way up, or stopping for ill health (its group answers the report).
        (
            life @ (L::Backoff { .. }
            | L::Starting { .. }
            | L::Stopping {
                cause: StopCause::NotReady { .. } | StopCause::Unhealthy { .. },
                ..
            }),
            I::Start { .. },
        ) => (life, vec![]),

        (L::Stopped | L::Exited { .. } | L::Failed { .. }, I::Stop) => at_rest(vec![]),
        (L::Backoff { .. }, I::Stop) => at_rest(vec![Effect::CancelTimer]),
        (L::Starting { pid, .. } | L::Running { pid }, I::Stop) => {
            let (life, effects) = stop(pid, StopCause::Requested { then_start: false }, record);
            (life, [vec![Effect::CancelTimer], effects].concat())
        }
        // A requested stop overrides a stop for ill health: no exit is reported then.
        (L::Stopping { pid, .. }, I::Stop) => {
            let cause = StopCause::Requested { then_start: false };
            (L::Stopping { pid, cause }, vec![])
        }

        (life @ (L::Stopped | L::Exited { .. } | L::Failed { .. }), I::Settle) => {
            (life, vec![Effect::AnswerStart(StartOutcome::NotStarted)])
        }
        (
            life
            @ (L::Backoff { .. } | L::Starting { .. } | L::Running { .. } | L::Stopping { .. }),
            I::Settle,
        ) => (life, vec![]),

        (L::Backoff { .. }, I::BackoffElapsed) => spawn(),
        (L::Spawning, I::Spawned { pid }) => spawned(pid, record),
        (L::Spawning, I::SpawnFailed { error }) => spawn_failed(error),
        (
            L::Starting {
                pid,
                ready_within: None,
            },
            I::StartDelayElapsed,
        ) => running(pid, record),
        (
            L::Starting {
                pid,
                ready_within: Some(_),
            },
            I::Ready { pid: of },
        ) if pid == of => {
            let (life, effects) = running(pid, record);
            let ready = [Effect::CancelTimer, Effect::Log(Event::Ready { pid })];
            (life, [ready.to_vec(), effects].concat())
        }
        (
            L::Starting {
                pid,
                ready_within: Some(within),
            },
            I::NotReadyInTime,
        ) => {
            let (life, effects) = stop(pid, StopCause::NotReady { within }, record);
            let log = Effect::Log(Event::NotReady { pid, within });
            (life, [vec![log], effects].concat())
        }
        (L::Running { pid }, I::Alive { pid: of }) if pid == of => (
            L::Running { pid },
            [vec![Effect::CancelTimer], watchdog(record)].concat(),
        ),
        (L::Running { pid }, I::Unhealthy { pid: of, check }) if pid == of => {
            let (life, effects) = stop(pid, StopCause::Unhealthy { check }, record);
            let before = [
                Effect::CancelTimer,
                Effect::Log(Event::Unhealthy { pid, check }),
            ];
            (life, [before.to_vec(), effects].concat())
        }
        // Verdicts about a process that is gone, or that its state no longer waits for
        // (a second `READY=1`, a keepalive before readiness): nothing to decide.
        (
            life @ (L::Stopped
            | L::Backoff { .. }
            | L::Spawning
            | L::Starting { .. }
            | L::Running { .. }
            | L::Stopping { .. }
            | L::Exited { .. }
            | L::Failed { .. }),
            I::Ready { .. } | I::Alive { .. } | I::Unhealthy { .. },
        ) => (life, vec![]),
        (L::Stopping { pid, cause }, I::StopTimedOut) => (
            L::Stopping { pid, cause },
            vec![Effect::Log(Event::Killed { pid }), Effect::Kill],
        ),

        (
            L::Starting { pid, .. } | L::Running { pid },
            I::Exited {
                pid: of,
                status,
                uptime,
                killed,
            },
        ) if pid == of => exited(pid, status, uptime, killed, record),
        (
            L::Stopping { pid, cause },
            I::Exited {
                pid: of,
                status,
                uptime,
                ..
            },
        ) if pid == of => stopped(pid, cause, status, uptime, record),

        (L::Running { pid }, I::Update(spec)) => update_running(pid, spec, record),
        (
            life @ (L::Stopped
            | L::Backoff { .. }
            | L::Starting { .. }
            | L::Stopping { .. }
            | L::Exited { .. }
            | L::Failed { .. }),
            I::Update(spec),
        ) => (life, update(spec, record)),
        (
            life @ (L::Stopped
            | L::Backoff { .. }
            | L::Starting { .. }
            | L::Running { .. }
            | L::Stopping { .. }
            | L::Exited { .. }
            | L::Failed { .. }),
            I::Replace(spec),
        ) => {
            record.spec = spec;
            (life, vec![Effect::DropLaunch, Effect::RenewOutput])
        }

        // Written out so that a new state or input cannot slip through: nothing else happens.
        // A spawn's result is fed before any other input, so `Spawning` sees nothing else.
        (
            life @ L::Spawning,
            input @ (I::Start { .. }
            | I::Stop
            | I::Settle
            | I::BackoffElapsed
            | I::StartDelayElapsed
            | I::NotReadyInTime
            | I::StopTimedOut
            | I::Exited { .. }
            | I::Update(_)
            | I::Replace(_)),
        )
        | (
            life @ (L::Stopped
            | L::Starting { .. }
            | L::Running { .. }
            | L::Stopping { .. }
            | L::Exited { .. }
            | L::Failed { .. }),
            input @ I::BackoffElapsed,
        )
        | (
            life @ (L::Stopped
            | L::Backoff { .. }
            | L::Starting {
                ready_within: Some(_),
                ..
            }
            | L::Running { .. }
            | L::Stopping { .. }
            | L::Exited { .. }
            | L::Failed { .. }),
            input @ I::StartDelayElapsed,
        )
        | (
            life @ (L::Stopped
            | L::Backoff { .. }
            | L::Starting {
                ready_within: None, ..
            }
            | L::Running { .. }
            | L::Stopping { .. }
            | L::Exited { .. }
            | L::Failed { .. }),
            input @ I::NotReadyInTime,
        )
        | (
            life @ (L::Stopped
            | L::Backoff { .. }
            | L::Starting { .. }
            | L::Running { .. }
            | L::Exited { .. }
            | L::Failed { .. }),
            input @ I::StopTimedOut,
        )
        | (
            life @ (L::Stopped
            | L::Backoff { .. }
            | L::Starting { .. }
            | L::Running { .. }
            | L::Stopping { .. }
            | L::Exited { .. }
            | L::Failed { .. }),
            input @ (I::Spawned { .. } | I::SpawnFailed { .. } | I::Exited { .. }),
        ) => unexpected(life, &input),
    }
}

/// Logs an input the state does not expect (a stale timer, an exit of a process not ours) and
/// changes nothing.
fn unexpected(life: Life, input: &Input) -> Step {
    let pid = match input {
        Input::Exited { pid, .. } | Input::Spawned { pid } => Some(*pid),
        Input::Start { .. }
        | Input::Stop
        | Input::Settle
        | Input::BackoffElapsed
        | Input::SpawnFailed { .. }
        | Input::StartDelayElapsed
        | Input::Ready { .. }
        | Input::NotReadyInTime
        | Input::Alive { .. }
        | Input::Unhealthy { .. }
        | Input::StopTimedOut
        | Input::Update(_)
        | Input::Replace(_) => None,
    };
    let event = Event::Unexpected {
        input: input.name(),
        state: life.name(),
        pid,
    };
    (life, vec![Effect::Log(event)])
}

/// Spawns now, or after `delay`.
fn launch(delay: Duration, reason: Option<Reason>) -> Step {
    if delay.is_zero() {
        spawn()
    } else {
        let timer = Effect::ArmTimer(Timer::Backoff, delay);
        (Life::Backoff { reason }, vec![timer])
    }
}

/// Spawns, then logs `component_starting`: the event is formatted once the process exists (its
/// result, and so `component_started`, is fed after these effects), not while a restart waits.
fn spawn() -> Step {
    (
        Life::Spawning,
        vec![Effect::Spawn, Effect::Log(Event::Starting)],
    )
}

fn spawn_failed(error: String) -> Step {
    let effects = vec![
        Effect::Log(Event::SpawnFailed {
            error: error.clone(),
        }),
        Effect::ReportExit {
            exit: Exit::SpawnFailed,
            uptime: Duration::ZERO,
        },
    ];
    (Life::Failed { error }, effects)
}

/// The process runs: wait for its readiness, or its start delay, or nothing.
fn spawned(pid: u32, record: &Record) -> Step {
    let started = Effect::Log(Event::Started { pid });
    let spec = &record.spec;
    match &spec.readiness {
        // Held sockets queue clients while the process gets ready to accept them: it is ready
        // as it runs, and says so as every readiness check does.
        Some(readiness) if readiness.probe == Probe::Socket => {
            let (life, effects) = running(pid, record);
            let ready = Effect::Log(Event::Ready { pid });
            (life, [vec![started, ready], effects].concat())
        }
        Some(readiness) => {
            let mut effects = vec![started];
            if !matches!(readiness.probe, Probe::Notify { .. }) {
                effects.push(Effect::StartReadiness);
            }
            effects.push(Effect::ArmTimer(Timer::Readiness, readiness.timeout));
            let ready_within = Some(readiness.timeout);
            (Life::Starting { pid, ready_within }, effects)
        }
        None if spec.start_delay.is_zero() => {
            let (life, effects) = running(pid, record);
            (life, [vec![started], effects].concat())
        }
        None => {
            let delay = Effect::ArmTimer(Timer::StartDelay, spec.start_delay);
            let ready_within = None;
            (Life::Starting { pid, ready_within }, vec![started, delay])
        }
    }
}

/// The process has started: watch its health, and answer the starts waiting for it.
fn running(pid: u32, record: &Record) -> Step {
    let mut effects = Vec::new();
    if record.spec.health_check.is_some() {
        effects.push(Effect::StartHealth);
    }
    effects.extend(watchdog(record));
    effects.push(Effect::AnswerStart(StartOutcome::Started));
    (Life::Running { pid }, effects)
}

/// Arms the watchdog, for a component that promised `WATCHDOG=1`.
fn watchdog(record: &Record) -> Vec<Effect> {
    record
        .spec
        .watchdog()
        .map(|period| Effect::ArmTimer(Timer::Watchdog, period))
        .into_iter()
        .collect()
}

/// Sends the stop signal and SIGCONT (so a stopped process can act on it) to the group; a zero
/// stop timeout kills at once.
fn stop(pid: u32, cause: StopCause, record: &Record) -> Step {
    let spec = &record.spec;
    let immediate = spec.stop_timeout.is_zero();
    let signal = match Signal::try_from(spec.stop_signal) {
        _ if immediate => Signal::SIGKILL,
        Ok(signal) => signal,
        Err(_) => Signal::SIGTERM,
    };
    let mut effects = vec![
        Effect::Log(Event::Stopping { pid, signal }),
        Effect::Signal(signal),
        Effect::Signal(Signal::SIGCONT),
    ];
    if !immediate {
        effects.push(Effect::ArmTimer(Timer::StopTimeout, spec.stop_timeout));
    }
    (Life::Stopping { pid, cause }, effects)
}

/// Answers a stop of a component with no process.
fn at_rest(mut effects: Vec<Effect>) -> Step {
    effects.extend([
        Effect::AnswerStart(StartOutcome::NotStarted),
        Effect::AnswerStop,
    ]);
    (Life::Stopped, effects)
}

/// The process ended without this component asking: the group decides. An end the daemon's
/// forced shutdown asked for (`killed`) is expected.
fn exited(
    pid: u32,
    status: ExitStatus,
    uptime: Duration,
    killed: bool,
    record: &mut Record,
) -> Step {
    record.last_exit = Some(status);
    record.last_exit_requested = killed;
    let exit = Exit::Process(status);
    let expected = killed || is_normal(exit, &record.spec.success_exit_codes);
    let effects = vec![
        Effect::CancelTimer,
        Effect::Release,
        Effect::Log(Event::Exited {
            pid,
            status,
            uptime,
            expected,
        }),
        Effect::ReportExit { exit, uptime },
    ];
    let reason = Reason::Exit(status);
    (Life::Exited { reason }, effects)
}

/// A stop we began has completed.
fn stopped(
    pid: u32,
    cause: StopCause,
    status: ExitStatus,
    uptime: Duration,
    record: &mut Record,
) -> Step {
    record.last_exit = Some(status);
    record.last_exit_requested = matches!(cause, StopCause::Requested { .. });
    let gone = vec![
        Effect::CancelTimer,
        Effect::Release,
        Effect::Log(Event::Stopped { pid }),
    ];
    let (life, then) = match cause {
        StopCause::Requested { then_start: false } => at_rest(vec![]),
        StopCause::Requested { then_start: true } => {
            let (life, effects) = spawn();
            (life, [vec![Effect::AnswerStop], effects].concat())
        }
        StopCause::NotReady { within } => {
            report(Exit::NotReady, Reason::NotReady { within }, uptime)
        }
        StopCause::Unhealthy { check } => report(Exit::Unhealthy, Reason::Unhealthy(check), uptime),
    };
    (life, [gone, then].concat())
}

fn report(exit: Exit, reason: Reason, uptime: Duration) -> Step {
    (
        Life::Exited { reason },
        vec![Effect::ReportExit { exit, uptime }],
    )
}

/// New settings for a running process: its output and health check change at once, and so
/// does its watchdog period (from now). A changed readiness check applies from the next start:
/// a process already `Starting` keeps the probe and deadline it started with.
fn update_running(pid: u32, spec: Arc<ComponentSpec>, record: &mut Record) -> Step {
    let mut effects = Vec::new();
    if spec.health_check != record.spec.health_check {
        effects.push(Effect::StopHealth);
        if spec.health_check.is_some() {
            effects.push(Effect::StartHealth);
        }
    }
    effects.extend(update(spec, record));
    (Life::Running { pid }, effects)
}

/// New settings: they take part in every later decision; output settings reach the readers of
/// the current process at once.
fn update(spec: Arc<ComponentSpec>, record: &mut Record) -> Vec<Effect> {
    let output_changed = !same_output(&spec.output, &record.spec.output);
    // A command may change in place only where the process keeps what it has (its `TMPDIR`):
    // the next start builds it anew.
    let command_changed = spec.command != record.spec.command;
    record.spec = spec;
    let mut effects = Vec::new();
    if output_changed {
        effects.push(Effect::UpdateOutput);
    }
    if command_changed {
        effects.push(Effect::DropLaunch);
    }
    effects
}

/// Whether two output specs agree on what the readers use (the stdio wiring is fixed at spawn).
fn same_output(a: &OutputSpec, b: &OutputSpec) -> bool {
    (a.log, &a.file, a.max_size, a.keep, a.timestamps, a.overflow)
        == (b.log, &b.file, b.max_size, b.keep, b.timestamps, b.overflow)
}
