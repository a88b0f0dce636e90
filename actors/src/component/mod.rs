//! The component actor: owns one child process and carries out its group's commands.
//!
//! It decides nothing itself: every message, timer and exit becomes an [`Input`] of the pure
//! automaton in [`machine`], and the actor carries out the [`Effect`]s it returns. It never
//! decides a restart either: an unrequested exit is reported up as [`ChildExited`] and the
//! component waits in `Exited` for its group's answer (`Start` or `Settle`). The resources of a
//! state (the child and its check tasks, the one armed timer) live here, and the machine
//! releases them when it leaves that state.

mod checks;
mod handover;
mod life;
mod log;
mod machine;
#[cfg(test)]
mod tests;
mod vocabulary;

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::{Actor, AsyncContext, Context, Handler, Recipient, SpawnHandle, WrapFuture};
use nix::sys::signal::Signal;
use tokio::sync::oneshot;

use crate::events;
use crate::messages::{ChildExited, Respec, Settle, Start, StartOutcome, Stop};
use crate::output::{Destination, OutputSettings, ProcessOutput};
use crate::policy::{Exit, is_normal};
use crate::probe::ProbeContext;
use crate::process::sockets::{HeldSockets, Retired};
use crate::process::{Child, ExitNotify, Launch, ProcessExited, SpawnRequest};
use crate::runtime::Runtime;
use crate::spec::{ChildSpec, ComponentSpec, Probe};
use crate::status::{OutputTail, Published, Token};
use checks::{NotifySocket, Verdict};
pub use handover::{ComponentState, HandedComponent};
use machine::{Check, Effect, Input, Life, Reason, Record, Timer};

/// The process of a `Starting`, `Running` or `Stopping` component and the tasks that watch it.
struct Run {
    child: Child,
    /// Its output as the output service reads it.
    output: ProcessOutput,
    since: Instant,
    /// The readiness poller.
    checks: Vec<SpawnHandle>,
    health: Option<SpawnHandle>,
    /// Its notification socket (notify readiness) and the task reading it, while one does.
    notify: Option<(Arc<NotifySocket>, Option<SpawnHandle>)>,
}

/// One supervised component.
pub struct ComponentActor {
    group: String,
    parent: Recipient<ChildExited>,
    runtime: Runtime,
    /// The state of the automaton.
    life: Life,
    /// The settings and counters beside it.
    record: Record,
    /// The process, while the state has one.
    run: Option<Run>,
    /// The one armed timer.
    timer: Option<SpawnHandle>,
    /// Which timer that is, and when it fires (handed over as the time left).
    timer_due: Option<(Timer, Instant)>,
    /// While frozen for a hand-over: the timers, verdicts and exits that arrived meanwhile.
    deferred: Option<Vec<Input>>,
    start_waiters: Vec<oneshot::Sender<StartOutcome>>,
    stop_waiters: Vec<oneshot::Sender<()>>,
    /// The command as C strings, kept after a successful start until the settings change: a
    /// restart does not search `PATH` or copy the environment again (a failed start does).
    launch: Option<Launch>,
    /// The output settings shared with the readers of the current process.
    output: OutputSettings,
    /// Its entry on the status board.
    token: Token,
    /// The last lines of its latest process, shared with the output readers.
    tail: OutputTail,
    /// The last failure and whether its output tells more, kept until it runs again.
    last_error: Option<(String, bool)>,
    /// The listening sockets held for the component's whole life (closed with the actor).
    sockets: HeldSockets,
}

impl ComponentActor {
    /// A stopped component of group `group` (its path), reporting to `parent` and publishing
    /// to the board as `token`.
    pub fn new(
        spec: impl Into<std::sync::Arc<ComponentSpec>>,
        group: String,
        parent: Recipient<ChildExited>,
        runtime: Runtime,
        token: Token,
    ) -> Self {
        let spec = spec.into();
        let component = ComponentActor {
            group,
            parent,
            runtime,
            life: Life::Stopped,
            output: OutputSettings::new(&spec.output),
            sockets: HeldSockets::default(),
            record: Record::new(spec),
            run: None,
            timer: None,
            timer_due: None,
            deferred: None,
            start_waiters: Vec::new(),
            stop_waiters: Vec::new(),
            launch: None,
            token,
            tail: OutputTail::default(),
            last_error: None,
        };
        component.publish();
        component
    }

    fn spec(&self) -> &ComponentSpec {
        &self.record.spec
    }

    /// Steps the machine and carries out its effects; a spawn's result is fed back at once.
    fn feed(&mut self, input: Input, ctx: &mut Context<Self>) {
        let mut next = Some(input);
        while let Some(input) = next.take() {
            // The one place the state is moved out: `step` takes it by value.
            let life = std::mem::replace(&mut self.life, Life::Stopped);
            let (life, effects) = machine::step(life, input, &mut self.record);
            self.life = life;
            for effect in effects {
                if let Some(result) = self.carry_out(effect, ctx) {
                    next = Some(result);
                }
            }
        }
        self.remember_failure();
        self.publish();
    }

    /// Keeps the latest failure until the component runs again.
    fn remember_failure(&mut self) {
        if let Some(reason) = self.life.reason() {
            let output = !matches!(
                self.life,
                Life::Failed { .. }
                    | Life::Backoff {
                        reason: Some(Reason::SpawnFailed(_))
                    }
            );
            self.last_error = Some((reason, output));
        } else if matches!(self.life, Life::Running { .. }) {
            self.last_error = None;
        }
    }

    /// Puts its state on the status board.
    fn publish(&self) {
        let spec = self.spec();
        let done = matches!(&self.life, Life::Exited { reason: Reason::Exit(status) }
            if is_normal(Exit::Process(*status), &spec.success_exit_codes));
        let published = Published {
            id: spec.id.clone(),
            group: self.group.clone(),
            description: spec.description.clone(),
            state: self.life.name(),
            pid: self.life.pid(),
            since: self.run.as_ref().map(|run| run.since),
            restarts: self.record.restarts,
            last_exit: self.record.last_exit,
            last_exit_requested: self.record.last_exit_requested,
            reason: self.life.reason(),
            last_error: self.last_error.clone(),
            done,
            tail: self.tail.clone(),
            sockets: self.sockets.probes(),
        };
        self.runtime.board.publish_component(self.token, published);
    }

    fn carry_out(&mut self, effect: Effect, ctx: &mut Context<Self>) -> Option<Input> {
        match effect {
            Effect::Log(event) => self.log(event),
            Effect::ArmTimer(timer, after) => self.arm(timer, after, ctx),
            Effect::CancelTimer => {
                self.timer_due = None;
                if let Some(handle) = self.timer.take() {
                    ctx.cancel_future(handle);
                }
            }
            Effect::Spawn => return Some(self.spawn(ctx)),
            Effect::StartReadiness => self.start_readiness(ctx),
            Effect::StartHealth => self.start_health(ctx),
            Effect::StopHealth => {
                if let Some(handle) = self.run.as_mut().and_then(|run| run.health.take()) {
                    ctx.cancel_future(handle);
                }
            }
            Effect::Signal(signal) => self.signal(signal),
            Effect::Kill => self.signal(Signal::SIGKILL),
            Effect::Release => {
                self.pause_notifications(ctx);
                if let Some(run) = self.run.take() {
                    self.runtime.output.exited(&run.output);
                    for handle in run.checks.into_iter().chain(run.health) {
                        ctx.cancel_future(handle);
                    }
                }
            }
            Effect::ReportExit { exit, uptime } => self.parent.do_send(ChildExited {
                id: self.spec().id.clone(),
                exit,
                uptime,
            }),
            Effect::AnswerStart(outcome) => {
                for waiter in self.start_waiters.drain(..) {
                    let _ = waiter.send(outcome);
                }
            }
            Effect::AnswerStop => {
                for waiter in self.stop_waiters.drain(..) {
                    let _ = waiter.send(());
                }
            }
            Effect::UpdateOutput => self.output.set(&self.record.spec.output),
            Effect::RenewOutput => self.output = OutputSettings::new(&self.record.spec.output),
            Effect::DropLaunch => self.launch = None,
        }
        None
    }

    fn arm(&mut self, timer: Timer, after: Duration, ctx: &mut Context<Self>) {
        tracing::trace!(
            event = events::TIMER,
            component = %self.spec().id,
            timer = timer.name(),
            action = "armed",
            after_ms = after.as_millis() as u64,
            "{} timer armed for {} ms",
            timer.name(),
            after.as_millis()
        );
        self.timer_due = Some((timer, Instant::now() + after));
        let handle = ctx.run_later(after, move |actor, ctx| actor.timer_fired(timer, ctx));
        if let Some(armed) = self.timer.replace(handle) {
            ctx.cancel_future(armed);
        }
    }

    fn timer_fired(&mut self, timer: Timer, ctx: &mut Context<Self>) {
        self.timer = None;
        tracing::trace!(
            event = events::TIMER,
            component = %self.spec().id,
            timer = timer.name(),
            action = "fired",
            "{} timer fired",
            timer.name()
        );
        let input = match timer {
            Timer::Backoff => Input::BackoffElapsed,
            Timer::StartDelay => Input::StartDelayElapsed,
            Timer::Readiness => Input::NotReadyInTime,
            Timer::StopTimeout => Input::StopTimedOut,
            Timer::Watchdog => match self.life.pid() {
                Some(pid) => Input::Unhealthy {
                    pid,
                    check: Check::Watchdog,
                },
                None => return,
            },
        };
        if self.deferred.is_none() {
            self.timer_due = None;
        }
        self.input(input, ctx);
    }

    fn signal(&self, signal: Signal) {
        if let Some(run) = &self.run {
            (self.runtime.processes).signal_child_group(run.child.pid(), signal);
        }
    }

    fn probe_context(&self) -> ProbeContext {
        ProbeContext {
            processes: self.runtime.processes.clone(),
            id: self.spec().id.clone(),
            command: self.spec().command.clone(),
        }
    }

    /// Spawns the process (with its notification socket, when its readiness is `notify`) and
    /// starts reading its output.
    fn spawn(&mut self, ctx: &mut Context<Self>) -> Input {
        let failed = |error: &dyn std::fmt::Display| Input::SpawnFailed {
            error: error.to_string(),
        };
        let notify = match self.spec().readiness.as_ref().map(|r| &r.probe) {
            Some(Probe::Notify { .. }) => match NotifySocket::bind(&self.spec().id) {
                Ok(socket) => Some(socket),
                Err(error) => return failed(&error),
            },
            Some(Probe::Tcp { .. } | Probe::Http { .. } | Probe::Exec { .. } | Probe::Socket)
            | None => None,
        };
        // Sockets a reload replaced close when this function returns: after the new process
        // has started.
        let _retired = match self.hold_sockets() {
            Ok(retired) => retired,
            Err(error) => return failed(&error),
        };
        let launch = match (&notify, self.launch.take()) {
            (None, Some(kept)) => Ok(kept),
            // Each start gets a socket of its own, so a launch with its address is not kept.
            (socket, _) => {
                let mut extra: Vec<(String, String)> = socket
                    .iter()
                    .map(|socket| ("NOTIFY_SOCKET".to_string(), socket.address.clone()))
                    .collect();
                // As systemd gives a service with `WatchdogSec=`: `sd_watchdog_enabled()` (no
                // `WATCHDOG_PID`: any process of the component may send) says how often.
                if let Some(period) = self.spec().watchdog() {
                    extra.push(("WATCHDOG_USEC".into(), period.as_micros().to_string()));
                }
                extra.extend(self.sockets.environment());
                Launch::new(&self.spec().id, &self.spec().command, &extra)
            }
        };
        let launch = match launch {
            Ok(launch) => launch,
            Err(error) => return failed(&error),
        };
        let sockets = self.sockets.descriptors();
        let request = SpawnRequest {
            id: &self.record.spec.id,
            launch: &launch,
            output: &self.record.spec.output,
            own_cgroup: true,
            sockets: &sockets,
        };
        let notified = ExitNotify::Actor(ctx.address().recipient());
        let (child, captured) = match self.runtime.processes.spawn(request, notified) {
            Ok(spawned) => spawned,
            Err(error) => return failed(&error),
        };
        if notify.is_none() && launch.reusable() {
            self.launch = Some(launch);
        }
        let pid = child.pid();
        let spec = &self.record.spec;
        self.tail.clear();
        let to = Destination {
            settings: &self.output,
            tail: &self.tail,
            component: &spec.id,
            group: &self.group,
        };
        let output = self.runtime.output.capture(to, pid, captured);
        self.run = Some(Run {
            child,
            output,
            since: Instant::now(),
            checks: Vec::new(),
            health: None,
            notify: notify.map(|socket| (Arc::new(socket), None)),
        });
        self.read_notifications(ctx);
        Input::Spawned { pid }
    }

    /// Reads the process's notification socket, if it has one and nothing reads it yet.
    fn read_notifications(&mut self, ctx: &mut Context<Self>) {
        let address = ctx.address();
        let Some(run) = &mut self.run else { return };
        let pid = run.child.pid();
        if let Some((socket, reader @ None)) = &mut run.notify {
            let listen = Arc::clone(socket).listen(pid, address);
            *reader = Some(ctx.spawn(actix::fut::wrap_future(listen)));
        }
    }

    /// Stops reading the notification socket: what arrives meanwhile waits in it.
    fn pause_notifications(&mut self, ctx: &mut Context<Self>) {
        let run = self.run.as_mut().and_then(|run| run.notify.as_mut());
        if let Some(reader) = run.and_then(|(_, reader)| reader.take()) {
            ctx.cancel_future(reader);
        }
    }

    /// Binds the sockets the spec asks for that are not held yet (a launch made for other
    /// sockets is dropped); returns those it no longer wants.
    fn hold_sockets(&mut self) -> Result<Option<Retired>, crate::process::sockets::SocketError> {
        if self.sockets.matches(&self.record.spec.sockets) {
            return Ok(None);
        }
        self.launch = None;
        self.sockets.renew(&self.record.spec.sockets).map(Some)
    }

    fn start_readiness(&mut self, ctx: &mut Context<Self>) {
        let (Some(readiness), Some(pid)) = (self.spec().readiness.clone(), self.life.pid()) else {
            return;
        };
        let poll = checks::readiness(
            readiness.probe,
            readiness.interval,
            self.probe_context(),
            pid,
            ctx.address(),
        );
        let handle = ctx.spawn(poll.into_actor(self));
        if let Some(run) = &mut self.run {
            run.checks.push(handle);
        }
    }

    fn start_health(&mut self, ctx: &mut Context<Self>) {
        let (Some(health), Some(pid)) = (self.spec().health_check.clone(), self.life.pid()) else {
            return;
        };
        let watch = checks::health(health, self.probe_context(), pid, ctx.address());
        let handle = ctx.spawn(watch.into_actor(self));
        if let Some(run) = &mut self.run {
            run.health = Some(handle);
        }
    }
}

impl Actor for ComponentActor {
    type Context = Context<Self>;
}

impl Drop for ComponentActor {
    /// Its entries leave the board and the id index with it.
    fn drop(&mut self) {
        self.runtime.board.remove(self.token);
        let id = self.spec().id.clone();
        self.runtime.ids.remove(&id, self.token);
    }
}

impl Handler<Start> for ComponentActor {
    type Result = actix::ResponseFuture<StartOutcome>;

    fn handle(&mut self, start: Start, ctx: &mut Context<Self>) -> Self::Result {
        let (waiter, answer) = oneshot::channel();
        self.start_waiters.push(waiter);
        let Start { delay, cause } = start;
        self.feed(Input::Start { delay, cause }, ctx);
        Box::pin(async move { answer.await.unwrap_or(StartOutcome::NotStarted) })
    }
}

impl Handler<Stop> for ComponentActor {
    type Result = actix::ResponseFuture<()>;

    fn handle(&mut self, _: Stop, ctx: &mut Context<Self>) -> Self::Result {
        let (waiter, answer) = oneshot::channel();
        self.stop_waiters.push(waiter);
        self.feed(Input::Stop, ctx);
        Box::pin(async move {
            let _ = answer.await;
        })
    }
}

impl Handler<Settle> for ComponentActor {
    type Result = ();

    fn handle(&mut self, _: Settle, ctx: &mut Context<Self>) {
        self.feed(Input::Settle, ctx);
    }
}

impl Handler<Verdict> for ComponentActor {
    type Result = ();

    fn handle(&mut self, verdict: Verdict, ctx: &mut Context<Self>) {
        let input = match verdict {
            Verdict::Ready(pid) => Input::Ready { pid },
            Verdict::Alive(pid) => Input::Alive { pid },
            Verdict::Unhealthy(pid) => Input::Unhealthy {
                pid,
                check: Check::HealthCheck,
            },
        };
        self.input(input, ctx);
    }
}

impl Handler<ProcessExited> for ComponentActor {
    type Result = ();

    fn handle(&mut self, exited: ProcessExited, ctx: &mut Context<Self>) {
        let uptime = match &self.run {
            Some(run) if run.child.pid() == exited.pid => run.since.elapsed(),
            Some(_) | None => Duration::ZERO,
        };
        let input = Input::Exited {
            pid: exited.pid,
            status: exited.status,
            uptime,
            killed: exited.killed,
        };
        self.input(input, ctx);
    }
}

impl Handler<Respec> for ComponentActor {
    type Result = ();

    fn handle(&mut self, Respec { spec, in_place }: Respec, ctx: &mut Context<Self>) {
        // A group's settings never reach a component: its group compares kinds first.
        let ChildSpec::Component(spec) = spec else {
            return;
        };
        if in_place {
            return self.feed(Input::Update(spec), ctx);
        }
        self.feed(Input::Replace(spec), ctx);
        // Without a process (stopped, exited, failed, in backoff) no start is there to wait for:
        // the sockets change now, a removed one closes. On error the old ones stay held and the
        // next start reports it.
        if self.run.is_none() {
            let _ = self.hold_sockets();
        }
    }
}
