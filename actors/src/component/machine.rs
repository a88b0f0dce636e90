//! The component's life as a pure automaton, in the manner of s6-supervise: one enum of states,
//! one enum of inputs, and [`step`], a single exhaustive `match (state, input)` that returns the
//! next state and the effects to carry out, in order.
//!
//! Nothing here touches actix, a clock or the OS: the actor turns messages, timers and process
//! exits into [`Input`]s and carries out the [`Effect`]s (it owns the child, its check tasks and
//! the one armed timer). Pairs that cannot happen leave the state as it was and log; none
//! panics. Stale reports (a verdict or an exit about a process that is gone) change nothing.

use std::fmt;
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::messages::{StartCause, StartOutcome};
use crate::policy::{is_normal, Exit, ExitStatus};
use crate::spec::{ComponentSpec, OutputSpec, Probe};

/// What the component's process is doing, with what each state needs to know inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
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
#[derive(Debug, Clone, PartialEq, Eq)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
#[derive(Debug, Clone, PartialEq, Eq)]
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
            Reason::Exit(ExitStatus::Code(code)) => write!(f, "exited with code {code}"),
            Reason::Exit(ExitStatus::Signal(number)) => match Signal::try_from(*number) {
                Ok(signal) => write!(f, "killed by {}", signal.as_str()),
                Err(_) => write!(f, "killed by signal {number}"),
            },
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
    /// `pid` was reaped, after running for `uptime`.
    Exited {
        pid: u32,
        status: ExitStatus,
        uptime: Duration,
    },
    /// Settings that need no new process.
    Update(ComponentSpec),
    /// Settings that apply from the next start.
    Replace(ComponentSpec),
}

impl Input {
    /// The input's name, for `unexpected_message`.
    fn name(&self) -> &'static str {
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// What the machine keeps beside the state: the settings and the counters `status` shows.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Record {
    /// The component's current settings.
    pub spec: ComponentSpec,
    /// Automatic restarts (starts with [`StartCause::Restart`]).
    pub restarts: u32,
    /// How the last process ended.
    pub last_exit: Option<ExitStatus>,
}

impl Record {
    /// A component that never ran.
    pub(crate) fn new(spec: ComponentSpec) -> Self {
        Record {
            spec,
            restarts: 0,
            last_exit: None,
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
            },
        ) if pid == of => exited(pid, status, uptime, record),
        (
            L::Stopping { pid, cause },
            I::Exited {
                pid: of,
                status,
                uptime,
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
            | L::Backoff { .. }
            | L::Starting { .. }
            | L::Running { .. }
            | L::Stopping { .. }
            | L::Exited { .. }
            | L::Failed { .. }),
            input @ (I::Spawned { .. } | I::SpawnFailed { .. }),
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
            input @ I::Exited { .. },
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

fn spawn() -> Step {
    (
        Life::Spawning,
        vec![Effect::Log(Event::Starting), Effect::Spawn],
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
    watchdog_period(&record.spec)
        .map(|period| Effect::ArmTimer(Timer::Watchdog, period))
        .into_iter()
        .collect()
}

fn watchdog_period(spec: &ComponentSpec) -> Option<Duration> {
    match spec.readiness.as_ref().map(|readiness| &readiness.probe) {
        Some(Probe::Notify { watchdog }) => *watchdog,
        Some(Probe::Tcp { .. } | Probe::Http { .. } | Probe::Exec { .. }) | None => None,
    }
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

/// The process ended without being asked to: the group decides.
fn exited(pid: u32, status: ExitStatus, uptime: Duration, record: &mut Record) -> Step {
    record.last_exit = Some(status);
    let exit = Exit::Process(status);
    let expected = is_normal(exit, &record.spec.success_exit_codes);
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
fn update_running(pid: u32, spec: ComponentSpec, record: &mut Record) -> Step {
    let mut effects = Vec::new();
    if spec.health_check != record.spec.health_check {
        effects.push(Effect::StopHealth);
        if spec.health_check.is_some() {
            effects.push(Effect::StartHealth);
        }
    }
    if watchdog_period(&spec) != watchdog_period(&record.spec) {
        effects.push(Effect::CancelTimer);
        effects
            .extend(watchdog_period(&spec).map(|period| Effect::ArmTimer(Timer::Watchdog, period)));
    }
    effects.extend(update(spec, record));
    (Life::Running { pid }, effects)
}

/// New settings: they take part in every later decision; output settings reach the readers of
/// the current process at once.
fn update(spec: ComponentSpec, record: &mut Record) -> Vec<Effect> {
    let output_changed = !same_output(&spec.output, &record.spec.output);
    record.spec = spec;
    if output_changed {
        vec![Effect::UpdateOutput]
    } else {
        vec![]
    }
}

/// Whether two output specs agree on what the readers use (the stdio wiring is fixed at spawn).
fn same_output(a: &OutputSpec, b: &OutputSpec) -> bool {
    (a.log, &a.file, a.max_size, a.keep, a.timestamps, a.overflow)
        == (b.log, &b.file, b.max_size, b.keep, b.timestamps, b.overflow)
}
