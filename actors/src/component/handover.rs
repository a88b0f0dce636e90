//! A component handed over to a successor daemon: frozen while its state is collected, thawed
//! if the upgrade is refused, and resumed in the successor with its process adopted (same pid,
//! same output pipes, same notification socket), its held listening sockets adopted, its armed
//! timer re-armed for the time it had left and its checks started again.

use std::os::fd::{OwnedFd, RawFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::{AsyncContext, Context, Handler, SpawnHandle};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use super::checks::NotifySocket;
use super::machine::{Input, Life, Timer};
use super::{ComponentActor, Run};
use crate::messages::StartOutcome;
use crate::messages::{AwaitStart, Collect, Freeze, Thaw};
use crate::output::Destination;
use crate::process::sockets::{HandedSocket, HeldSockets};
use crate::process::{ExitNotify, Stream, sys};

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
    /// Its process's notification socket (notify readiness), kept open across `execve`.
    pub notify: Option<i32>,
    /// The listening sockets held for it, kept open across `execve`.
    pub sockets: Vec<HandedSocket>,
}

impl ComponentState {
    /// Every descriptor it hands over: output pipes, notification socket, held sockets.
    pub fn descriptors(&self) -> impl Iterator<Item = RawFd> + '_ {
        let pipes = self.pipes.iter().map(|&(_, fd)| fd);
        let sockets = self.sockets.iter().map(|socket| socket.fd);
        pipes.chain(self.notify).chain(sockets)
    }
}

/// A component's lifecycle state and armed timer, opaque outside this crate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandedComponent {
    life: Life,
    timer: Option<(Timer, Duration)>,
}

impl HandedComponent {
    /// Its process, while it has one.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.life.pid()
    }
}

impl ComponentActor {
    /// Timers, verdicts and exits go through here: while frozen they wait in `deferred`.
    pub(super) fn input(&mut self, input: Input, ctx: &mut Context<Self>) {
        match &mut self.deferred {
            Some(deferred) => deferred.push(input),
            None => self.feed(input, ctx),
        }
    }

    /// This component's state, or why it cannot be handed over now.
    fn collect(&self) -> Result<ComponentState, String> {
        let id = &self.spec().id;
        if self.deferred.as_ref().is_some_and(|d| !d.is_empty()) {
            return Err(format!("{id}: a timer or check fired"));
        }
        match &self.life {
            // Exited and failed are where a component stays when its group does not restart
            // it (a `temporary` one that ran, a `transient` one that exited normally): at rest.
            // While its group still has to decide, the group is not at rest (it has not seen
            // the exit, or a restart is under way), and the hand-over waits for the group.
            Life::Stopped
            | Life::Backoff { .. }
            | Life::Starting { .. }
            | Life::Running { .. }
            | Life::Exited { .. }
            | Life::Failed { .. } => {}
            Life::Spawning | Life::Stopping { .. } => {
                return Err(format!("{id} is {}", self.life.name()));
            }
        }
        let now = Instant::now();
        let pid = self.life.pid();
        Ok(ComponentState {
            id: id.clone(),
            life: HandedComponent {
                life: self.life.clone(),
                timer: self
                    .timer_due
                    .map(|(timer, due)| (timer, due.saturating_duration_since(now))),
            },
            restarts: self.record.restarts,
            last_exit: self.record.last_exit,
            last_exit_requested: self.record.last_exit_requested,
            last_error: self.last_error.clone(),
            tail: self.tail.lines(),
            uptime: self
                .run
                .as_ref()
                .map_or(Duration::ZERO, |run| run.since.elapsed()),
            pipes: (self.run.as_ref().filter(|_| pid.is_some()))
                .map_or_else(Vec::new, |run| self.runtime.output.pipes(&run.output)),
            notify: (self.run.as_ref())
                .and_then(|run| run.notify.as_ref())
                .map(|(socket, _)| socket.fd()),
            sockets: self.sockets.handover(),
        })
    }

    /// Takes up `state` in a successor daemon: adopts the process and its output pipes,
    /// re-arms the timer, starts the checks of its state again. A pipe that cannot be adopted
    /// is left unread (and logged); the process is adopted regardless.
    pub(crate) fn resume(&mut self, state: &ComponentState, ctx: &mut Context<Self>) {
        self.life = state.life.life.clone();
        self.record.restarts = state.restarts;
        self.record.last_exit = state.last_exit;
        self.record.last_exit_requested = state.last_exit_requested;
        self.last_error = state.last_error.clone();
        self.tail.extend(&state.tail);
        self.adopt_sockets(&state.sockets);
        if let Some(pid) = self.life.pid() {
            let notify = ExitNotify::Actor(ctx.address().recipient());
            let child = self.runtime.processes.adopt(&state.id, pid, notify);
            let pipes: Vec<(Stream, OwnedFd)> = state
                .pipes
                .iter()
                .filter_map(|&(stream, fd)| sys::adopt_fd(fd).ok().map(|fd| (stream, fd)))
                .collect();
            let to = Destination {
                settings: &self.output,
                tail: &self.tail,
                component: &self.record.spec.id,
                group: &self.group,
            };
            let output = self.runtime.output.resume(to, pid, pipes);
            self.run = Some(Run {
                child,
                output,
                since: Instant::now()
                    .checked_sub(state.uptime)
                    .unwrap_or_else(Instant::now),
                checks: Vec::new(),
                health: None,
                notify: state.notify.and_then(|fd| self.adopt_notify(fd)),
            });
            self.read_notifications(ctx);
            match self.life {
                Life::Starting { .. } => self.start_readiness(ctx),
                Life::Running { .. } => self.start_health(ctx),
                _ => {}
            }
        }
        if let Some((timer, left)) = state.life.timer {
            self.arm(timer, left, ctx);
        }
        // Its row on the status board as its predecessor showed it.
        self.publish();
    }

    /// Takes over the held sockets handed over; one that cannot be is bound anew at the next
    /// start (and said why).
    fn adopt_sockets(&mut self, handed: &[HandedSocket]) {
        let (sockets, errors) = HeldSockets::adopt(handed, sys::adopt_fd);
        for error in errors {
            tracing::warn!(
                event = crate::events::HANDOVER_INCOMPLETE,
                component = %self.spec().id,
                error = %error,
                "cannot take over a held socket: {error}"
            );
        }
        self.sockets = sockets;
    }

    /// Takes over the notification socket handed over (`fd`); without it `READY=1` and
    /// `WATCHDOG=1` are not heard (said why).
    fn adopt_notify(&self, fd: RawFd) -> Option<(Arc<NotifySocket>, Option<SpawnHandle>)> {
        match sys::adopt_fd(fd).and_then(NotifySocket::adopt) {
            Ok(socket) => Some((Arc::new(socket), None)),
            Err(error) => {
                tracing::warn!(
                    event = crate::events::HANDOVER_INCOMPLETE,
                    component = %self.spec().id,
                    error = %error,
                    "cannot take over the notification socket: {error}"
                );
                None
            }
        }
    }
}

impl Handler<Freeze> for ComponentActor {
    type Result = ();

    /// Timers, verdicts and exits wait from now on; the notification socket is not read (its
    /// datagrams wait in it, for this daemon or its successor).
    fn handle(&mut self, _: Freeze, ctx: &mut Context<Self>) {
        self.deferred.get_or_insert_with(Vec::new);
        self.pause_notifications(ctx);
    }
}

impl Handler<Thaw> for ComponentActor {
    type Result = ();

    fn handle(&mut self, _: Thaw, ctx: &mut Context<Self>) {
        self.read_notifications(ctx);
        for input in self.deferred.take().unwrap_or_default() {
            self.feed(input, ctx);
        }
    }
}

impl Handler<Collect<ComponentState>> for ComponentActor {
    type Result = Result<ComponentState, String>;

    fn handle(&mut self, _: Collect<ComponentState>, _: &mut Context<Self>) -> Self::Result {
        self.collect()
    }
}

impl Handler<AwaitStart> for ComponentActor {
    type Result = actix::ResponseFuture<StartOutcome>;

    fn handle(&mut self, _: AwaitStart, _: &mut Context<Self>) -> Self::Result {
        let outcome = match self.life {
            Life::Backoff { .. } | Life::Spawning | Life::Starting { .. } => None,
            Life::Running { .. } => Some(StartOutcome::Started),
            Life::Stopped | Life::Stopping { .. } | Life::Exited { .. } | Life::Failed { .. } => {
                Some(StartOutcome::NotStarted)
            }
        };
        if let Some(outcome) = outcome {
            return Box::pin(async move { outcome });
        }
        let (waiter, answer) = oneshot::channel();
        self.start_waiters.push(waiter);
        Box::pin(async move { answer.await.unwrap_or(StartOutcome::NotStarted) })
    }
}
