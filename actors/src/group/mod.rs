//! The group actor: a supervisor node. It owns the order of its children, starts them level by
//! level, stops them in reverse, and applies its strategy and intensity when one exits.
//!
//! Decisions come from [`crate::policy`]; this file only carries them out. Multi-step work (a
//! start sequence, a strategy restart, a give-up) runs as one cancellable sequence at a time: a
//! new plan or a `Stop` cancels the running one and takes over what it still had to do.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

mod reload;

pub use reload::{Reconfigure, ReloadReport};

use actix::{
    Actor, ActorFutureExt, Addr, AsyncContext, Context, Handler, Recipient, SpawnHandle, WrapFuture,
};
use futures_util::future::join_all;
use tokio::sync::oneshot;

use crate::component::ComponentActor;
use crate::events;
use crate::messages::{
    Action, ChildExited, Operate, Settle, Start, StartCause, StartOutcome, Stop, UnknownId,
};
use crate::policy::{self, Exit, RestartWindow};
use crate::spec::{Backoff, ChildSpec, GroupSpec, Intensity, RestartType, Strategy};
use crate::status::{GroupStatus, Snapshot, StatusReport};
use crate::tree::Runtime;

/// What a group keeps about one child.
#[derive(Clone)]
pub struct ChildSlot {
    /// The child's resolved settings.
    pub spec: ChildSpec,
    /// Whether the group wants it up (autostart, not settled after an exit, not stopped by an
    /// operator).
    pub wanted: bool,
    /// Consecutive restarts without a stable run.
    pub attempt: u32,
    /// Where commands go.
    pub actor: ChildActor,
}

/// A child's actor by kind; the commands every child takes go through it.
#[derive(Clone)]
pub enum ChildActor {
    /// A component.
    Component(Addr<ComponentActor>),
    /// A nested group.
    Group(Addr<GroupActor>),
}

impl ChildActor {
    /// [`Start`], answered once the child started or came to rest.
    fn start(&self, start: Start) -> impl Future<Output = StartOutcome> + 'static {
        let actor = self.clone();
        async move {
            let answer = match actor {
                ChildActor::Component(component) => component.send(start).await,
                ChildActor::Group(group) => group.send(start).await,
            };
            answer.unwrap_or(StartOutcome::NotStarted)
        }
    }

    /// [`Start`] without waiting for the answer.
    fn tell_start(&self, start: Start) {
        match self {
            ChildActor::Component(component) => component.do_send(start),
            ChildActor::Group(group) => group.do_send(start),
        }
    }

    /// [`Stop`], answered once nothing of the child runs.
    fn stop(&self) -> impl Future<Output = ()> + 'static {
        let actor = self.clone();
        async move {
            let _ = match actor {
                ChildActor::Component(component) => component.send(Stop).await,
                ChildActor::Group(group) => group.send(Stop).await,
            };
        }
    }

    /// [`Settle`].
    fn settle(&self) {
        match self {
            ChildActor::Component(component) => component.do_send(Settle),
            ChildActor::Group(group) => group.do_send(Settle),
        }
    }

    /// The child's [`Snapshot`].
    fn snapshot(&self) -> impl Future<Output = StatusReport> + 'static {
        let actor = self.clone();
        async move {
            let answer = match actor {
                ChildActor::Component(component) => component.send(Snapshot).await,
                ChildActor::Group(group) => group.send(Snapshot).await,
            };
            answer.unwrap_or_default()
        }
    }
}

impl ChildSlot {
    fn id(&self) -> &str {
        self.spec.id()
    }

    fn priority(&self) -> u32 {
        self.spec.start_priority()
    }

    /// A nested group is permanent: it is restarted whenever it gives up.
    fn restart(&self) -> RestartType {
        match &self.spec {
            ChildSpec::Component(component) => component.restart,
            ChildSpec::Group(_) => RestartType::Permanent,
        }
    }

    fn success_exit_codes(&self) -> &[i32] {
        match &self.spec {
            ChildSpec::Component(component) => &component.success_exit_codes,
            ChildSpec::Group(_) => &[],
        }
    }

    fn is_component(&self) -> bool {
        matches!(self.spec, ChildSpec::Component(_))
    }

    fn autostart(&self) -> Option<bool> {
        match &self.spec {
            ChildSpec::Component(component) => Some(component.autostart),
            ChildSpec::Group(_) => None,
        }
    }

    fn backoff(&self) -> Backoff {
        match &self.spec {
            ChildSpec::Component(component) => component.backoff,
            ChildSpec::Group(_) => Backoff::default(),
        }
    }
}

/// Where the group is in its own life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Down,
    Starting,
    Up,
    Stopping,
}

/// Whether a new sequence takes over what the cancelled one still had to bring up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Inherit {
    Yes,
    No,
}

/// One supervisor node of the tree.
pub struct GroupActor {
    path: String,
    strategy: Strategy,
    intensity: Option<Intensity>,
    id: String,
    parent: Recipient<ChildExited>,
    children: Vec<ChildSlot>,
    window: RestartWindow,
    phase: Phase,
    since: Instant,
    /// The running sequence and the children it still brings up (with their delays).
    sequence: Option<(SpawnHandle, BTreeMap<usize, Duration>)>,
    start_waiters: Vec<oneshot::Sender<StartOutcome>>,
    stop_waiters: Vec<oneshot::Sender<()>>,
    /// How many times this group gave up.
    intensity_exceeded: u64,
    /// Where new children (added by a reload) get their processes.
    runtime: Runtime,
}

impl GroupActor {
    /// A group (not started) whose children are already created, in start order; `path` is
    /// the group path its children report.
    pub fn new(
        spec: &GroupSpec,
        path: String,
        parent: Recipient<ChildExited>,
        children: Vec<ChildSlot>,
        runtime: Runtime,
    ) -> Self {
        GroupActor {
            path,
            strategy: spec.strategy,
            intensity: spec.intensity,
            id: spec.id.clone(),
            parent,
            children,
            window: RestartWindow::default(),
            phase: Phase::Down,
            since: Instant::now(),
            sequence: None,
            start_waiters: Vec::new(),
            stop_waiters: Vec::new(),
            intensity_exceeded: 0,
            runtime,
        }
    }

    /// Runs `take_down` (reverse order, level by level) and then `bring_up` (in order, level by
    /// level, each child after its delay), replacing any sequence in progress (and, with
    /// `Inherit::Yes`, taking over the children it still had to bring up).
    fn run_sequence(
        &mut self,
        take_down: Vec<usize>,
        mut bring_up: BTreeMap<usize, Duration>,
        inherit: Inherit,
        ctx: &mut Context<Self>,
        done: fn(&mut Self, &mut Context<Self>),
    ) {
        if let Some((handle, unfinished)) = self.sequence.take() {
            ctx.cancel_future(handle);
            if inherit == Inherit::Yes {
                for (index, delay) in unfinished {
                    bring_up.entry(index).or_insert(delay);
                }
            }
        }
        bring_up.retain(|&index, _| self.children[index].wanted);
        let stop_levels: Vec<Vec<ChildActor>> = self
            .levels(&take_down)
            .into_iter()
            .rev()
            .map(|level| {
                level
                    .iter()
                    .rev()
                    .map(|&i| self.children[i].actor.clone())
                    .collect()
            })
            .collect();
        let indices: Vec<usize> = bring_up.keys().copied().collect();
        let start_levels: Vec<Vec<(ChildActor, Start)>> = self
            .levels(&indices)
            .into_iter()
            .map(|level| {
                level
                    .iter()
                    .map(|&i| {
                        let delay = bring_up[&i];
                        (
                            self.children[i].actor.clone(),
                            Start {
                                delay,
                                cause: StartCause::Restart,
                            },
                        )
                    })
                    .collect()
            })
            .collect();
        let sequence = async move {
            for level in stop_levels {
                join_all(level.iter().map(ChildActor::stop)).await;
            }
            for level in start_levels {
                join_all(level.iter().map(|(child, start)| child.start(*start))).await;
            }
        };
        let handle = ctx.spawn(sequence.into_actor(self).map(move |_, actor, ctx| {
            actor.sequence = None;
            done(actor, ctx);
        }));
        self.sequence = Some((handle, bring_up));
    }

    fn levels(&self, indices: &[usize]) -> Vec<Vec<usize>> {
        policy::start_levels(indices, |i| self.children[i].priority())
    }

    fn all(&self) -> Vec<usize> {
        (0..self.children.len()).collect()
    }

    /// The first start of the group (or a start after it gave up or was stopped); `delay`
    /// holds back the first level, and with it every later one.
    fn start_all(&mut self, delay: Duration, ctx: &mut Context<Self>) {
        self.phase = Phase::Starting;
        self.since = Instant::now();
        self.window.clear();
        for slot in &mut self.children {
            slot.attempt = 0;
        }
        let first_priority = self.children.first().map(|slot| slot.priority());
        let bring_up = self
            .children
            .iter()
            .enumerate()
            .map(|(i, slot)| {
                let first = Some(slot.priority()) == first_priority;
                (i, if first { delay } else { Duration::ZERO })
            })
            .collect();
        self.run_sequence(Vec::new(), bring_up, Inherit::Yes, ctx, Self::started);
    }

    fn started(&mut self, _: &mut Context<Self>) {
        if self.phase == Phase::Starting {
            self.phase = Phase::Up;
        }
        for waiter in self.start_waiters.drain(..) {
            let _ = waiter.send(StartOutcome::Started);
        }
    }

    fn stop_all(&mut self, ctx: &mut Context<Self>, done: fn(&mut Self, &mut Context<Self>)) {
        self.phase = Phase::Stopping;
        let all = self.all();
        self.run_sequence(all, BTreeMap::new(), Inherit::No, ctx, done);
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        self.phase = Phase::Down;
        for waiter in self.start_waiters.drain(..) {
            let _ = waiter.send(StartOutcome::NotStarted);
        }
        for waiter in self.stop_waiters.drain(..) {
            let _ = waiter.send(());
        }
    }

    fn gave_up(&mut self, ctx: &mut Context<Self>) {
        let uptime = self.since.elapsed();
        self.stopped(ctx);
        self.parent.do_send(ChildExited {
            id: self.id.clone(),
            exit: Exit::GaveUp,
            uptime,
        });
    }

    fn child_exited(&mut self, exited: ChildExited, ctx: &mut Context<Self>) {
        let Some(index) = self.children.iter().position(|slot| slot.id() == exited.id) else {
            return;
        };
        let slot = &mut self.children[index];
        if matches!(self.phase, Phase::Down | Phase::Stopping) {
            // Our own stop is underway (or done): nothing is restarted.
            slot.actor.settle();
            return;
        }
        if !policy::wants_restart(slot.restart(), exited.exit, slot.success_exit_codes()) {
            slot.wanted = false;
            slot.actor.settle();
            return;
        }
        let now = Instant::now();
        let exceeded = match self.intensity {
            Some(intensity) => {
                policy::counts_toward_intensity(exited.exit) && !self.window.record(intensity, now)
            }
            None => false,
        };
        if exceeded {
            self.intensity_exceeded += 1;
            tracing::error!(
                event = events::INTENSITY_EXCEEDED,
                group = %self.path,
                restarts = self.window.len(),
                period_s = self.intensity.map_or(0.0, |i| i.period.as_secs_f64()),
                "group `{}` had too many restarts: giving up",
                self.path
            );
            self.stop_all(ctx, Self::gave_up);
            return;
        }
        let slot = &mut self.children[index];
        slot.attempt = policy::next_attempt(slot.attempt, exited.uptime, &slot.backoff());
        let delay = policy::backoff_delay(&slot.backoff(), slot.attempt);
        let reason = policy::restart_reason(exited.exit);
        self.log_restart(index, reason, delay);
        match self.strategy {
            Strategy::OneForOne => {
                self.children[index].actor.tell_start(Start {
                    delay,
                    cause: StartCause::Restart,
                });
            }
            Strategy::OneForAll | Strategy::RestForOne => self.restart_siblings(index, delay, ctx),
        }
    }

    /// The `one_for_all` / `rest_for_one` plan: stop the set in reverse, start it in order.
    fn restart_siblings(&mut self, failed: usize, delay: Duration, ctx: &mut Context<Self>) {
        let set = policy::restart_set(self.strategy, failed, self.children.len());
        let mut bring_up = BTreeMap::new();
        for &index in &set {
            let slot = &mut self.children[index];
            if slot.restart() == RestartType::Temporary {
                slot.wanted = false;
            }
            if index == failed {
                bring_up.insert(index, delay);
            } else if slot.wanted {
                bring_up.insert(index, Duration::ZERO);
                self.log_restart(index, "sibling", Duration::ZERO);
            }
        }
        let take_down: Vec<usize> = set.into_iter().filter(|&i| i != failed).collect();
        self.run_sequence(take_down, bring_up, Inherit::Yes, ctx, Self::started);
    }

    fn log_restart(&self, index: usize, reason: &str, delay: Duration) {
        let slot = &self.children[index];
        tracing::info!(
            event = events::RESTART_SCHEDULED,
            component = %slot.id(),
            group = %self.path,
            reason,
            attempt = slot.attempt,
            delay_ms = delay.as_millis() as u64,
            "restarting {} ({reason}) in {delay:?}", slot.id()
        );
    }
}

impl Actor for GroupActor {
    type Context = Context<Self>;
}

impl Handler<Start> for GroupActor {
    type Result = actix::ResponseFuture<StartOutcome>;

    fn handle(&mut self, start: Start, ctx: &mut Context<Self>) -> Self::Result {
        let (waiter, answer) = oneshot::channel();
        match self.phase {
            Phase::Up => {
                let _ = waiter.send(StartOutcome::Started);
            }
            Phase::Starting | Phase::Stopping => self.start_waiters.push(waiter),
            Phase::Down => {
                self.start_waiters.push(waiter);
                self.start_all(start.delay, ctx);
            }
        }
        Box::pin(async move { answer.await.unwrap_or(StartOutcome::NotStarted) })
    }
}

impl Handler<Stop> for GroupActor {
    type Result = actix::ResponseFuture<()>;

    fn handle(&mut self, _: Stop, ctx: &mut Context<Self>) -> Self::Result {
        let (waiter, answer) = oneshot::channel();
        self.stop_waiters.push(waiter);
        match self.phase {
            Phase::Down => self.stopped(ctx),
            Phase::Stopping => {}
            Phase::Starting | Phase::Up => self.stop_all(ctx, Self::stopped),
        }
        Box::pin(async move {
            let _ = answer.await;
        })
    }
}

impl Handler<Settle> for GroupActor {
    type Result = ();

    fn handle(&mut self, _: Settle, _: &mut Context<Self>) {
        // A group that gave up has answered its waiters already; nothing stays pending.
    }
}

impl Handler<ChildExited> for GroupActor {
    type Result = ();

    fn handle(&mut self, exited: ChildExited, ctx: &mut Context<Self>) {
        self.child_exited(exited, ctx);
    }
}

impl Handler<Snapshot> for GroupActor {
    type Result = actix::ResponseFuture<StatusReport>;

    fn handle(&mut self, _: Snapshot, _: &mut Context<Self>) -> Self::Result {
        let requests: Vec<_> = self
            .children
            .iter()
            .map(|slot| slot.actor.snapshot())
            .collect();
        let mut report = StatusReport {
            components: Vec::new(),
            groups: vec![GroupStatus {
                path: self.path.clone(),
                intensity_exceeded: self.intensity_exceeded,
            }],
        };
        Box::pin(async move {
            for child in join_all(requests).await {
                report.components.extend(child.components);
                report.groups.extend(child.groups);
            }
            report
        })
    }
}

impl Handler<Operate> for GroupActor {
    type Result = actix::ResponseFuture<Result<(), UnknownId>>;

    fn handle(&mut self, operate: Operate, _: &mut Context<Self>) -> Self::Result {
        let Some(slot) = self
            .children
            .iter_mut()
            .find(|slot| slot.id() == operate.id)
        else {
            let nested: Vec<_> = self
                .children
                .iter()
                .filter_map(|slot| match &slot.actor {
                    ChildActor::Group(group) => Some(group.clone()),
                    ChildActor::Component(_) => None,
                })
                .collect();
            return Box::pin(async move {
                for group in nested {
                    if let Ok(Ok(())) = group.send(operate.clone()).await {
                        return Ok(());
                    }
                }
                Err(UnknownId(operate.id))
            });
        };
        slot.wanted = operate.action != Action::Stop;
        slot.attempt = 0;
        let child = slot.actor.clone();
        Box::pin(async move {
            if operate.action != Action::Start {
                child.stop().await;
            }
            if operate.action != Action::Stop {
                child
                    .start(Start {
                        delay: Duration::ZERO,
                        cause: StartCause::Operator,
                    })
                    .await;
            }
            Ok(())
        })
    }
}
