//! The component actor: owns one child process and carries out its group's commands.
//!
//! It never decides a restart: an unrequested exit is reported up as [`ChildExited`] and the
//! component waits in `Exited` for its group's answer (`Start` or `Settle`). Its life is one
//! enum; every timer lives in the state it belongs to and is cancelled when that state is left.

use std::time::{Duration, Instant};

use actix::{Actor, AsyncContext, Context, Handler, Recipient, SpawnHandle};
use nix::sys::signal::Signal;
use tokio::sync::oneshot;

use crate::events;
use crate::messages::{ChildExited, Settle, Start, StartOutcome, Stop};
use crate::policy::{is_normal, Exit, ExitStatus};
use crate::process::{Child, ProcessExited};
use crate::spec::ComponentSpec;
use crate::status::{ComponentStatus, Snapshot, StatusReport};
use crate::tree::Runtime;

/// What the component's process is doing.
enum State {
    /// Not running, and not asked to run.
    Stopped,
    /// Waiting out a backoff delay before spawning.
    Backoff { timer: SpawnHandle },
    /// The process runs but `startDelay` has not elapsed yet.
    Starting {
        child: Child,
        since: Instant,
        timer: SpawnHandle,
    },
    /// The process runs and has started.
    Running { child: Child, since: Instant },
    /// The stop signal was sent; waiting for the exit (SIGKILL when `timer` fires).
    Stopping {
        child: Child,
        since: Instant,
        timer: Option<SpawnHandle>,
        then_start: bool,
    },
    /// The process ended on its own; the group decides what happens next.
    Exited,
    /// The process could not be spawned; the group decides what happens next.
    Failed,
}

impl State {
    /// The name `status` shows.
    fn name(&self) -> &'static str {
        match self {
            State::Stopped => "stopped",
            State::Backoff { .. } => "backoff",
            State::Starting { .. } => "starting",
            State::Running { .. } => "running",
            State::Stopping { .. } => "stopping",
            State::Exited => "exited",
            State::Failed => "failed",
        }
    }
}

/// One supervised component.
pub struct ComponentActor {
    spec: ComponentSpec,
    group: String,
    parent: Recipient<ChildExited>,
    runtime: Runtime,
    state: State,
    start_waiters: Vec<oneshot::Sender<StartOutcome>>,
    stop_waiters: Vec<oneshot::Sender<()>>,
    spawns: u32,
    last_exit: Option<ExitStatus>,
}

impl ComponentActor {
    /// A stopped component of group `group` (its path), reporting to `parent`.
    pub fn new(
        spec: ComponentSpec,
        group: String,
        parent: Recipient<ChildExited>,
        runtime: Runtime,
    ) -> Self {
        ComponentActor {
            spec,
            group,
            parent,
            runtime,
            state: State::Stopped,
            start_waiters: Vec::new(),
            stop_waiters: Vec::new(),
            spawns: 0,
            last_exit: None,
        }
    }

    fn status(&self) -> ComponentStatus {
        let (pid, since) = match &self.state {
            State::Starting { child, since, .. }
            | State::Running { child, since }
            | State::Stopping { child, since, .. } => (Some(child.pid()), Some(*since)),
            State::Stopped | State::Backoff { .. } | State::Exited | State::Failed => (None, None),
        };
        ComponentStatus {
            id: self.spec.id.clone(),
            group: self.group.clone(),
            description: self.spec.description.clone(),
            state: self.state.name(),
            pid,
            uptime: since.map_or(Duration::ZERO, |since| since.elapsed()),
            restarts: self.spawns.saturating_sub(1),
            last_exit: self.last_exit,
        }
    }

    fn spawn_now(&mut self, ctx: &mut Context<Self>) {
        self.spawns += 1;
        tracing::info!(
            event = events::COMPONENT_STARTING,
            component = %self.spec.id,
            group = %self.group,
            command = %self.spec.command.display(),
            "starting {}", self.spec.id
        );
        let child = match self
            .runtime
            .processes
            .spawn(&self.spec, ctx.address().recipient())
        {
            Ok((child, captured)) => {
                self.runtime
                    .output
                    .capture(&self.spec, &self.group, child.pid(), captured);
                child
            }
            Err(error) => {
                tracing::warn!(
                    event = events::COMPONENT_SPAWN_FAILED,
                    component = %self.spec.id,
                    group = %self.group,
                    error = %error,
                    "{} could not be started: {error}", self.spec.id
                );
                self.state = State::Failed;
                self.report(Exit::SpawnFailed, Duration::ZERO);
                return;
            }
        };
        tracing::info!(
            event = events::COMPONENT_STARTED,
            component = %self.spec.id,
            group = %self.group,
            pid = child.pid(),
            "{} started with pid {}", self.spec.id, child.pid()
        );
        let since = Instant::now();
        if self.spec.start_delay.is_zero() {
            self.enter_running(child, since);
        } else {
            let timer = ctx.run_later(self.spec.start_delay, |actor, _| {
                actor.start_delay_elapsed()
            });
            self.state = State::Starting {
                child,
                since,
                timer,
            };
        }
    }

    fn enter_running(&mut self, child: Child, since: Instant) {
        self.state = State::Running { child, since };
        self.answer_start(StartOutcome::Started);
    }

    fn start_delay_elapsed(&mut self) {
        match std::mem::replace(&mut self.state, State::Stopped) {
            State::Starting { child, since, .. } => self.enter_running(child, since),
            other => self.state = other,
        }
    }

    fn backoff_elapsed(&mut self, ctx: &mut Context<Self>) {
        if let State::Backoff { .. } = self.state {
            self.spawn_now(ctx);
        }
    }

    fn stop_timed_out(&mut self) {
        if let State::Stopping { child, timer, .. } = &mut self.state {
            *timer = None;
            tracing::warn!(
                event = events::COMPONENT_KILLED,
                component = %self.spec.id,
                group = %self.group,
                pid = child.pid(),
                "{} did not stop within {:?}: killed", self.spec.id, self.spec.stop_timeout
            );
            child.signal_group(Signal::SIGKILL);
        }
    }

    /// Sends the stop signal (and SIGCONT, so a stopped process can act on it) to the group.
    fn begin_stop(&mut self, child: Child, since: Instant, ctx: &mut Context<Self>) {
        let signal = Signal::try_from(self.spec.stop_signal).unwrap_or(Signal::SIGTERM);
        let immediate = self.spec.stop_timeout.is_zero();
        let signal = if immediate { Signal::SIGKILL } else { signal };
        tracing::info!(
            event = events::COMPONENT_STOPPING,
            component = %self.spec.id,
            group = %self.group,
            pid = child.pid(),
            signal = signal.as_str(),
            "stopping {} (pid {}) with {}", self.spec.id, child.pid(), signal.as_str()
        );
        child.signal_group(signal);
        child.signal_group(Signal::SIGCONT);
        let timer = (!immediate)
            .then(|| ctx.run_later(self.spec.stop_timeout, |actor, _| actor.stop_timed_out()));
        self.state = State::Stopping {
            child,
            since,
            timer,
            then_start: false,
        };
    }

    fn report(&mut self, exit: Exit, uptime: Duration) {
        self.parent.do_send(ChildExited {
            id: self.spec.id.clone(),
            exit,
            uptime,
        });
    }

    fn answer_start(&mut self, outcome: StartOutcome) {
        for waiter in self.start_waiters.drain(..) {
            let _ = waiter.send(outcome);
        }
    }

    fn answer_stop(&mut self) {
        self.answer_start(StartOutcome::NotStarted);
        for waiter in self.stop_waiters.drain(..) {
            let _ = waiter.send(());
        }
    }

    fn log_exit(&self, pid: u32, status: ExitStatus, uptime: Duration) {
        let expected = is_normal(Exit::Process(status), &self.spec.success_exit_codes);
        let uptime_ms = uptime.as_millis() as u64;
        let (code, signal) = match status {
            ExitStatus::Code(code) => (Some(code), None),
            ExitStatus::Signal(signal) => (None, Some(signal)),
        };
        macro_rules! exited {
            ($level:ident) => {
                tracing::$level!(
                    event = events::COMPONENT_EXITED,
                    component = %self.spec.id,
                    group = %self.group,
                    pid,
                    code,
                    signal,
                    uptime_ms,
                    expected,
                    "{} (pid {pid}) exited: {status:?}", self.spec.id
                )
            };
        }
        if expected {
            exited!(info);
        } else {
            exited!(warn);
        }
    }

    fn process_exited(&mut self, exited: ProcessExited, ctx: &mut Context<Self>) {
        let state = std::mem::replace(&mut self.state, State::Stopped);
        match state {
            State::Starting {
                child,
                since,
                timer,
            } if child.pid() == exited.pid => {
                ctx.cancel_future(timer);
                self.exited(exited, since);
            }
            State::Running { child, since } if child.pid() == exited.pid => {
                self.exited(exited, since);
            }
            State::Stopping {
                child,
                timer,
                then_start,
                ..
            } if child.pid() == exited.pid => {
                if let Some(timer) = timer {
                    ctx.cancel_future(timer);
                }
                self.last_exit = Some(exited.status);
                tracing::info!(
                    event = events::COMPONENT_STOPPED,
                    component = %self.spec.id,
                    group = %self.group,
                    pid = exited.pid,
                    "{} stopped", self.spec.id
                );
                self.answer_stop();
                if then_start {
                    self.spawn_now(ctx);
                }
            }
            other @ (State::Stopped
            | State::Backoff { .. }
            | State::Starting { .. }
            | State::Running { .. }
            | State::Stopping { .. }
            | State::Exited
            | State::Failed) => {
                tracing::debug!(
                    event = events::UNEXPECTED_MESSAGE,
                    component = %self.spec.id,
                    pid = exited.pid,
                    state = other.name(),
                    "exit of a process this component does not own"
                );
                self.state = other;
            }
        }
    }

    fn exited(&mut self, exited: ProcessExited, since: Instant) {
        let uptime = since.elapsed();
        self.last_exit = Some(exited.status);
        self.log_exit(exited.pid, exited.status, uptime);
        self.state = State::Exited;
        self.report(Exit::Process(exited.status), uptime);
    }
}

impl Actor for ComponentActor {
    type Context = Context<Self>;
}

impl Handler<Start> for ComponentActor {
    type Result = actix::ResponseFuture<StartOutcome>;

    fn handle(&mut self, start: Start, ctx: &mut Context<Self>) -> Self::Result {
        let (waiter, answer) = oneshot::channel();
        self.start_waiters.push(waiter);
        match &mut self.state {
            State::Stopped | State::Exited | State::Failed => {
                if start.delay.is_zero() {
                    self.spawn_now(ctx);
                } else {
                    let timer = ctx.run_later(start.delay, |actor, ctx| actor.backoff_elapsed(ctx));
                    self.state = State::Backoff { timer };
                }
            }
            State::Stopping { then_start, .. } => *then_start = true,
            State::Running { .. } => self.answer_start(StartOutcome::Started),
            State::Backoff { .. } | State::Starting { .. } => {}
        }
        Box::pin(async move { answer.await.unwrap_or(StartOutcome::NotStarted) })
    }
}

impl Handler<Stop> for ComponentActor {
    type Result = actix::ResponseFuture<()>;

    fn handle(&mut self, _: Stop, ctx: &mut Context<Self>) -> Self::Result {
        let (waiter, answer) = oneshot::channel();
        self.stop_waiters.push(waiter);
        match std::mem::replace(&mut self.state, State::Stopped) {
            State::Stopped | State::Exited | State::Failed => self.answer_stop(),
            State::Backoff { timer } => {
                ctx.cancel_future(timer);
                self.answer_stop();
            }
            State::Starting {
                child,
                since,
                timer,
            } => {
                ctx.cancel_future(timer);
                self.begin_stop(child, since, ctx);
            }
            State::Running { child, since } => self.begin_stop(child, since, ctx),
            State::Stopping {
                child,
                since,
                timer,
                ..
            } => {
                self.state = State::Stopping {
                    child,
                    since,
                    timer,
                    then_start: false,
                };
            }
        }
        Box::pin(async move {
            let _ = answer.await;
        })
    }
}

impl Handler<Settle> for ComponentActor {
    type Result = ();

    fn handle(&mut self, _: Settle, _: &mut Context<Self>) {
        match self.state {
            State::Exited | State::Failed | State::Stopped => {
                self.answer_start(StartOutcome::NotStarted)
            }
            State::Backoff { .. }
            | State::Starting { .. }
            | State::Running { .. }
            | State::Stopping { .. } => {}
        }
    }
}

impl Handler<ProcessExited> for ComponentActor {
    type Result = ();

    fn handle(&mut self, exited: ProcessExited, ctx: &mut Context<Self>) {
        self.process_exited(exited, ctx);
    }
}

impl Handler<Snapshot> for ComponentActor {
    type Result = actix::MessageResult<Snapshot>;

    fn handle(&mut self, _: Snapshot, _: &mut Context<Self>) -> Self::Result {
        actix::MessageResult(StatusReport {
            components: vec![self.status()],
            groups: Vec::new(),
        })
    }
}

/// Replace the component's settings; they apply from its next start (its group stops it first).
#[derive(Debug, Clone, actix::Message)]
#[rtype(result = "()")]
pub struct Replace(pub ComponentSpec);

impl Handler<Replace> for ComponentActor {
    type Result = ();

    fn handle(&mut self, Replace(spec): Replace, _: &mut Context<Self>) {
        self.spec = spec;
    }
}
