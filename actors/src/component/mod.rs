//! The component actor: owns one child process and carries out its group's commands.
//!
//! It never decides a restart: an unrequested exit is reported up as [`ChildExited`] and the
//! component waits in `Exited` for its group's answer (`Start` or `Settle`). Its life is one
//! enum; every timer lives in the state it belongs to and is cancelled when that state is left.

mod checks;

use std::time::{Duration, Instant};

use actix::{Actor, AsyncContext, Context, Handler, Recipient, SpawnHandle, WrapFuture};
use nix::sys::signal::Signal;
use tokio::sync::oneshot;

use crate::events;
use crate::messages::{
    ChildExited, Replace, Settle, Start, StartCause, StartOutcome, Stop, Update,
};
use crate::policy::{is_normal, Exit, ExitStatus};
use crate::probe::ProbeContext;
use crate::process::{Child, ExitNotify, Launch, ProcessExited, SpawnRequest};
use crate::spec::{ComponentSpec, Probe};
use crate::status::{ComponentStatus, Snapshot, StatusReport};
use crate::tree::Runtime;
use checks::{NotifySocket, Verdict};

/// A running process and the tasks that watch it (cancelled when it ends).
struct Run {
    child: Child,
    since: Instant,
    tasks: Vec<SpawnHandle>,
}

/// Why a process is being stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StopCause {
    /// Someone asked (the group, an operator, a shutdown).
    Requested,
    /// It did not become ready in time: a failed start.
    NotReady,
    /// Its health check or watchdog failed.
    Unhealthy,
}

/// What the component's process is doing.
enum State {
    /// Not running, and not asked to run.
    Stopped,
    /// Waiting out a backoff delay before spawning.
    Backoff { timer: SpawnHandle },
    /// The process runs but has not started yet: `timer` ends the start delay or the readiness
    /// timeout.
    Starting { run: Run, timer: SpawnHandle },
    /// The process runs and has started; `watchdog` fires when a keepalive is missed.
    Running {
        run: Run,
        watchdog: Option<SpawnHandle>,
    },
    /// The stop signal was sent; waiting for the exit (SIGKILL when `timer` fires).
    Stopping {
        run: Run,
        timer: Option<SpawnHandle>,
        cause: StopCause,
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

    /// The process, while there is one.
    fn run(&self) -> Option<&Run> {
        match self {
            State::Starting { run, .. }
            | State::Running { run, .. }
            | State::Stopping { run, .. } => Some(run),
            State::Stopped | State::Backoff { .. } | State::Exited | State::Failed => None,
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
    /// Automatic restarts (starts with [`StartCause::Restart`]).
    restarts: u32,
    last_exit: Option<ExitStatus>,
    /// The command as C strings, kept after a successful start until the settings change: a
    /// restart does not search `PATH` or copy the environment again (a failed start does).
    launch: Option<Launch>,
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
            restarts: 0,
            last_exit: None,
            launch: None,
        }
    }

    fn status(&self) -> ComponentStatus {
        let run = self.state.run();
        ComponentStatus {
            id: self.spec.id.clone(),
            group: self.group.clone(),
            description: self.spec.description.clone(),
            state: self.state.name(),
            pid: run.map(|run| run.child.pid()),
            uptime: run.map_or(Duration::ZERO, |run| run.since.elapsed()),
            restarts: self.restarts,
            last_exit: self.last_exit,
            reason: None,
        }
    }

    fn probe_context(&self) -> ProbeContext {
        ProbeContext {
            processes: self.runtime.processes.clone(),
            id: self.spec.id.clone(),
            command: self.spec.command.clone(),
        }
    }

    fn spawn_now(&mut self, ctx: &mut Context<Self>) {
        tracing::info!(
            event = events::COMPONENT_STARTING,
            component = %self.spec.id,
            group = %self.group,
            command = %self.spec.command.display(),
            "starting {}", self.spec.id
        );
        let notify = match self.spec.readiness.as_ref().map(|r| &r.probe) {
            Some(Probe::Notify { .. }) => match NotifySocket::bind(&self.spec.id) {
                Ok(socket) => Some(socket),
                Err(error) => return self.spawn_failed(&error.to_string()),
            },
            _ => None,
        };
        let launch = match (&notify, self.launch.take()) {
            (None, Some(kept)) => Ok(kept),
            // Each start gets a socket of its own, so a launch with its address is not kept.
            (socket, _) => {
                let address: Vec<(String, String)> = socket
                    .iter()
                    .map(|socket| ("NOTIFY_SOCKET".to_string(), socket.address.clone()))
                    .collect();
                Launch::new(&self.spec.id, &self.spec.command, &address)
            }
        };
        let launch = match launch {
            Ok(launch) => launch,
            Err(error) => return self.spawn_failed(&error.to_string()),
        };
        let request = SpawnRequest {
            id: &self.spec.id,
            launch: &launch,
            output: &self.spec.output,
            own_cgroup: true,
        };
        let notified = ExitNotify::Actor(ctx.address().recipient());
        let (child, captured) = match self.runtime.processes.spawn(request, notified) {
            Ok(spawned) => spawned,
            Err(error) => return self.spawn_failed(&error.to_string()),
        };
        if notify.is_none() {
            self.launch = Some(launch);
        }
        let pid = child.pid();
        self.runtime
            .output
            .capture(&self.spec, &self.group, pid, captured);
        tracing::info!(
            event = events::COMPONENT_STARTED,
            component = %self.spec.id,
            group = %self.group,
            pid,
            "{} started with pid {pid}", self.spec.id
        );
        let mut run = Run {
            child,
            since: Instant::now(),
            tasks: Vec::new(),
        };
        if let Some(socket) = notify {
            run.tasks
                .push(ctx.spawn(socket.listen(pid, ctx.address()).into_actor(self)));
        }
        match self.spec.readiness.clone() {
            Some(readiness) => {
                if !matches!(readiness.probe, Probe::Notify { .. }) {
                    let poll = checks::readiness(
                        readiness.probe,
                        readiness.interval,
                        self.probe_context(),
                        pid,
                        ctx.address(),
                    );
                    run.tasks.push(ctx.spawn(poll.into_actor(self)));
                }
                let timer = ctx.run_later(readiness.timeout, |actor, ctx| actor.not_ready(ctx));
                self.state = State::Starting { run, timer };
            }
            None if self.spec.start_delay.is_zero() => self.enter_running(run, ctx),
            None => {
                let timer = ctx.run_later(self.spec.start_delay, |actor, ctx| {
                    actor.start_delay_elapsed(ctx)
                });
                self.state = State::Starting { run, timer };
            }
        }
    }

    fn spawn_failed(&mut self, error: &str) {
        tracing::warn!(
            event = events::COMPONENT_SPAWN_FAILED,
            component = %self.spec.id,
            group = %self.group,
            error = %error,
            "{} could not be started: {error}", self.spec.id
        );
        self.state = State::Failed;
        self.report(Exit::SpawnFailed, Duration::ZERO);
    }

    /// The component has started: answer the waiters and begin watching its health.
    fn enter_running(&mut self, mut run: Run, ctx: &mut Context<Self>) {
        if let Some(health) = self.spec.health_check.clone() {
            let watch =
                checks::health(health, self.probe_context(), run.child.pid(), ctx.address());
            run.tasks.push(ctx.spawn(watch.into_actor(self)));
        }
        let watchdog = self.watchdog().map(|period| self.arm_watchdog(period, ctx));
        self.state = State::Running { run, watchdog };
        self.answer_start(StartOutcome::Started);
    }

    /// The keepalive period, for a component that promised `WATCHDOG=1`.
    fn watchdog(&self) -> Option<Duration> {
        match self.spec.readiness.as_ref().map(|r| &r.probe) {
            Some(Probe::Notify { watchdog }) => *watchdog,
            _ => None,
        }
    }

    fn arm_watchdog(&self, period: Duration, ctx: &mut Context<Self>) -> SpawnHandle {
        ctx.run_later(period, |actor, ctx| actor.unhealthy("watchdog", ctx))
    }

    fn start_delay_elapsed(&mut self, ctx: &mut Context<Self>) {
        match std::mem::replace(&mut self.state, State::Stopped) {
            State::Starting { run, .. } => self.enter_running(run, ctx),
            other => self.state = other,
        }
    }

    fn verdict(&mut self, verdict: Verdict, ctx: &mut Context<Self>) {
        let pid = match verdict {
            Verdict::Ready(pid) | Verdict::Alive(pid) | Verdict::Unhealthy(pid) => pid,
        };
        if self.state.run().map(|run| run.child.pid()) != Some(pid) {
            return; // about a process that is gone
        }
        match (verdict, std::mem::replace(&mut self.state, State::Stopped)) {
            (Verdict::Ready(_), State::Starting { run, timer }) => {
                ctx.cancel_future(timer);
                tracing::info!(
                    event = events::COMPONENT_READY,
                    component = %self.spec.id,
                    group = %self.group,
                    pid,
                    after_ms = run.since.elapsed().as_millis() as u64,
                    "{} is ready", self.spec.id
                );
                self.enter_running(run, ctx);
            }
            (Verdict::Alive(_), State::Running { run, watchdog }) => {
                if let Some(timer) = watchdog {
                    ctx.cancel_future(timer);
                }
                let watchdog = self.watchdog().map(|period| self.arm_watchdog(period, ctx));
                self.state = State::Running { run, watchdog };
            }
            (Verdict::Unhealthy(_), state @ State::Running { .. }) => {
                self.state = state;
                self.unhealthy("health check", ctx);
            }
            (
                Verdict::Ready(_) | Verdict::Alive(_) | Verdict::Unhealthy(_),
                state @ (State::Stopped
                | State::Backoff { .. }
                | State::Starting { .. }
                | State::Running { .. }
                | State::Stopping { .. }
                | State::Exited
                | State::Failed),
            ) => self.state = state,
        }
    }

    /// The readiness timeout ran out: a failed start.
    fn not_ready(&mut self, ctx: &mut Context<Self>) {
        if let State::Starting { run, .. } = std::mem::replace(&mut self.state, State::Stopped) {
            tracing::warn!(
                event = events::COMPONENT_NOT_READY,
                component = %self.spec.id,
                group = %self.group,
                pid = run.child.pid(),
                "{} did not become ready in time", self.spec.id
            );
            self.begin_stop(run, StopCause::NotReady, ctx);
        }
    }

    /// A health check or the watchdog failed: the process is stopped and reported unhealthy.
    fn unhealthy(&mut self, check: &str, ctx: &mut Context<Self>) {
        if let State::Running { run, watchdog } = std::mem::replace(&mut self.state, State::Stopped)
        {
            if let Some(timer) = watchdog {
                ctx.cancel_future(timer);
            }
            tracing::warn!(
                event = events::COMPONENT_UNHEALTHY,
                component = %self.spec.id,
                group = %self.group,
                pid = run.child.pid(),
                check,
                "{} failed its {check}", self.spec.id
            );
            self.begin_stop(run, StopCause::Unhealthy, ctx);
        }
    }

    fn backoff_elapsed(&mut self, ctx: &mut Context<Self>) {
        if let State::Backoff { .. } = self.state {
            self.spawn_now(ctx);
        }
    }

    fn stop_timed_out(&mut self) {
        if let State::Stopping { run, timer, .. } = &mut self.state {
            *timer = None;
            tracing::warn!(
                event = events::COMPONENT_KILLED,
                component = %self.spec.id,
                group = %self.group,
                pid = run.child.pid(),
                "{} did not stop within {:?}: killed", self.spec.id, self.spec.stop_timeout
            );
            run.child.signal_group(Signal::SIGKILL);
        }
    }

    /// Sends the stop signal (and SIGCONT, so a stopped process can act on it) to the group.
    fn begin_stop(&mut self, run: Run, cause: StopCause, ctx: &mut Context<Self>) {
        let immediate = self.spec.stop_timeout.is_zero();
        let signal = match Signal::try_from(self.spec.stop_signal) {
            _ if immediate => Signal::SIGKILL,
            Ok(signal) => signal,
            Err(_) => Signal::SIGTERM,
        };
        let pid = run.child.pid();
        tracing::info!(
            event = events::COMPONENT_STOPPING,
            component = %self.spec.id,
            group = %self.group,
            pid,
            signal = signal.as_str(),
            "stopping {} (pid {pid}) with {}", self.spec.id, signal.as_str()
        );
        run.child.signal_group(signal);
        run.child.signal_group(Signal::SIGCONT);
        let timer = (!immediate)
            .then(|| ctx.run_later(self.spec.stop_timeout, |actor, _| actor.stop_timed_out()));
        self.state = State::Stopping {
            run,
            timer,
            cause,
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
        if self.state.run().map(|run| run.child.pid()) != Some(exited.pid) {
            tracing::debug!(
                event = events::UNEXPECTED_MESSAGE,
                component = %self.spec.id,
                pid = exited.pid,
                state = self.state.name(),
                "exit of a process this component does not own"
            );
            return;
        }
        self.last_exit = Some(exited.status);
        let state = std::mem::replace(&mut self.state, State::Stopped);
        let (run, timers) = match state {
            State::Starting { run, timer } => (run, vec![timer]),
            State::Running { run, watchdog } => (run, watchdog.into_iter().collect()),
            State::Stopping {
                run,
                timer,
                cause,
                then_start,
            } => {
                for handle in run.tasks.into_iter().chain(timer) {
                    ctx.cancel_future(handle);
                }
                return self.stopped(exited.pid, run.since.elapsed(), cause, then_start, ctx);
            }
            State::Stopped | State::Backoff { .. } | State::Exited | State::Failed => return,
        };
        for handle in run.tasks.into_iter().chain(timers) {
            ctx.cancel_future(handle);
        }
        let uptime = run.since.elapsed();
        self.log_exit(exited.pid, exited.status, uptime);
        self.state = State::Exited;
        self.report(Exit::Process(exited.status), uptime);
    }

    /// A stop we began has completed.
    fn stopped(
        &mut self,
        pid: u32,
        uptime: Duration,
        cause: StopCause,
        then_start: bool,
        ctx: &mut Context<Self>,
    ) {
        tracing::info!(
            event = events::COMPONENT_STOPPED,
            component = %self.spec.id,
            group = %self.group,
            pid,
            "{} stopped", self.spec.id
        );
        match cause {
            StopCause::Requested => {
                self.answer_stop();
                if then_start {
                    self.spawn_now(ctx);
                }
            }
            StopCause::NotReady | StopCause::Unhealthy => {
                self.state = State::Exited;
                let exit = if cause == StopCause::NotReady {
                    Exit::NotReady
                } else {
                    Exit::Unhealthy
                };
                self.report(exit, uptime);
            }
        }
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
        if start.cause == StartCause::Restart {
            self.restarts += 1;
        }
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
            State::Starting { run, timer } => {
                ctx.cancel_future(timer);
                self.begin_stop(run, StopCause::Requested, ctx);
            }
            State::Running { run, watchdog } => {
                if let Some(timer) = watchdog {
                    ctx.cancel_future(timer);
                }
                self.begin_stop(run, StopCause::Requested, ctx);
            }
            // A requested stop overrides a stop for ill health: no restart is reported then.
            State::Stopping { run, timer, .. } => {
                self.state = State::Stopping {
                    run,
                    timer,
                    cause: StopCause::Requested,
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

impl Handler<Verdict> for ComponentActor {
    type Result = ();

    fn handle(&mut self, verdict: Verdict, ctx: &mut Context<Self>) {
        self.verdict(verdict, ctx);
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

impl Handler<Replace> for ComponentActor {
    type Result = ();

    fn handle(&mut self, Replace(spec): Replace, _: &mut Context<Self>) {
        self.spec = spec;
        self.launch = None;
    }
}

impl Handler<Update> for ComponentActor {
    type Result = ();

    fn handle(&mut self, Update(spec): Update, _: &mut Context<Self>) {
        self.spec = spec;
    }
}
