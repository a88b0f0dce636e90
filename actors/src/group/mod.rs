//! The group actor: a supervisor node. It carries out what [`decide`] decides — the order of
//! its children, level-by-level starts, reverse stops, strategy restarts, giving up — and
//! decides nothing itself.
//!
//! Every message becomes an [`Input`]; every [`Effect`] becomes a message to a child, a log
//! line, or an answer. Answers from children come back as inputs too, so nothing is awaited in
//! the mailbox: exits, operator commands, reloads and `status` are handled while a plan runs.

use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, Instant};

mod build;
mod child;
pub mod decide;
mod handover;
mod reload;

pub(crate) use build::build_group;
pub use child::ChildActor;
pub use decide::{Answer, Phase};
pub use handover::{ActorState, ChildState, GroupState};
pub use reload::{Reconfigure, ReloadReport};

use actix::{
    Actor, ActorContext, ActorFutureExt, AsyncContext, Context, Handler, Recipient, WrapFuture,
};
use tokio::sync::oneshot;

use crate::events;
use crate::messages::{
    ChildExited, Dissolve, GroupGaveUp, Operate, OperateError, Settle, Start, StartOutcome, Stop,
};
use crate::policy::Exit;
use crate::runtime::Runtime;
use crate::spec::{ChildSpec, GroupSpec};
use crate::status::{ChildEntry, GroupEntry, RESTART_REASONS, Token};
use decide::{Decision, Effect, Input, Key, RequestId, Settings};

/// What a group keeps about one child: its settings and where commands go.
#[derive(Clone)]
pub struct ChildSlot {
    /// The child's resolved settings.
    pub spec: ChildSpec,
    /// Where commands go.
    pub actor: ChildActor,
    /// Its entry on the status board.
    pub token: Token,
}

/// One supervisor node of the tree.
pub struct GroupActor {
    path: String,
    id: String,
    parent: Recipient<GroupGaveUp>,
    decision: Decision,
    /// Children by key, in no particular order (the decision keeps the order).
    slots: HashMap<Key, ChildSlot>,
    next_key: Key,
    since: Instant,
    start_waiters: Vec<oneshot::Sender<StartOutcome>>,
    stop_waiters: Vec<oneshot::Sender<()>>,
    requests: HashMap<RequestId, oneshot::Sender<Answer>>,
    /// Restarts scheduled so far, by reason (for `/metrics`).
    restarts: [(&'static str, u64); 4],
    /// The decision's revision and the restart counts last put on the board.
    published: Option<(u64, [(&'static str, u64); 4])>,
    next_request: RequestId,
    /// Where new children (added by a reload) get their processes.
    runtime: Runtime,
    /// Its entry on the status board.
    token: Token,
}

impl GroupActor {
    /// A group (not started) whose children are already created, in start order; `path` is
    /// the group path its children report; it publishes to the board as `token`.
    pub fn new(
        spec: &GroupSpec,
        path: String,
        parent: Recipient<GroupGaveUp>,
        children: Vec<ChildSlot>,
        runtime: Runtime,
        token: Token,
    ) -> Self {
        let keyed: Vec<(Key, ChildSlot)> = (0..).zip(children).collect();
        let decision = Decision::new(
            spec.strategy,
            spec.intensity,
            keyed
                .iter()
                .map(|(key, slot)| (*key, Settings::of(&slot.spec)))
                .collect(),
        );
        let mut group = GroupActor {
            path,
            id: spec.id.clone(),
            parent,
            decision,
            next_key: keyed.len() as Key,
            slots: keyed.into_iter().collect(),
            since: Instant::now(),
            start_waiters: Vec::new(),
            stop_waiters: Vec::new(),
            requests: HashMap::new(),
            restarts: RESTART_REASONS.map(|reason| (reason, 0)),
            published: None,
            next_request: 0,
            runtime,
            token,
        };
        group.publish();
        group
    }

    /// Feeds `started`'s outcome back as the answer to `Start` number `ticket` of child `key`.
    fn when_started(
        &mut self,
        key: Key,
        ticket: decide::Ticket,
        started: impl Future<Output = StartOutcome> + 'static,
        ctx: &mut Context<Self>,
    ) {
        ctx.spawn(started.into_actor(self).map(move |outcome, group, ctx| {
            let answered = Input::StartAnswered {
                key,
                ticket,
                outcome,
            };
            group.feed(answered, ctx);
        }));
    }

    /// Feeds one input to the decision and carries out its effects.
    fn feed(&mut self, input: Input, ctx: &mut Context<Self>) {
        for effect in self.decision.decide(input, Instant::now()) {
            self.carry_out(effect, ctx);
        }
        // Only when what the board shows may have changed: a shutdown of 10,000 children
        // would otherwise publish 10,000 lists of 10,000. A restart changes its counters only
        // (rebuilding the list of 100 siblings was a tenth of a restart's path).
        let shown = (self.decision.revision(), self.restarts);
        match self.published {
            Some(published) if published == shown => {}
            Some((revision, _)) if revision == shown.0 => {
                self.published = Some(shown);
                (self.runtime.board).set_group_restarts(self.token, self.restarts);
            }
            Some(_) | None => self.publish(),
        }
    }

    /// Puts its children (in order, with what the decision wants of each) on the status board.
    fn publish(&mut self) {
        self.published = Some((self.decision.revision(), self.restarts));
        let children = self
            .decision
            .keys()
            .iter()
            .filter_map(|key| {
                Some(ChildEntry {
                    token: self.slots.get(key)?.token,
                    wanted: self.decision.wants(*key),
                    held: self.decision.held(*key),
                })
            })
            .collect();
        let entry = GroupEntry {
            path: self.path.clone(),
            children,
            gave_up: self.decision.gave_up(),
            giving_up: self.decision.phase() == Phase::Stopping(decide::StopCause::GiveUp),
            restarts: self.restarts,
        };
        self.runtime.board.publish_group(self.token, entry);
    }

    fn carry_out(&mut self, effect: Effect, ctx: &mut Context<Self>) {
        match effect {
            Effect::Start {
                key,
                delay,
                cause,
                ticket,
            } => {
                let Some(slot) = self.slots.get(&key) else {
                    return;
                };
                self.log_step("start", slot, delay);
                let started = slot.actor.start(Start { delay, cause });
                self.when_started(key, ticket, started, ctx);
            }
            Effect::Stop { key, ticket } => {
                let Some(slot) = self.slots.get(&key) else {
                    return;
                };
                self.log_step("stop", slot, Duration::ZERO);
                let stopped = slot.actor.stop();
                ctx.spawn(stopped.into_actor(self).map(move |(), group, ctx| {
                    group.feed(Input::StopAnswered { key, ticket }, ctx);
                }));
            }
            Effect::Settle { key } => {
                if let Some(slot) = self.slots.get(&key) {
                    slot.actor.settle();
                }
            }
            Effect::Drop { key } => {
                if let Some(slot) = self.slots.remove(&key) {
                    slot.actor.let_go();
                }
            }
            Effect::Restarting {
                key,
                reason,
                attempt,
                delay,
            } => {
                if let Some(count) = self.restarts.iter_mut().find(|(r, _)| *r == reason) {
                    count.1 += 1;
                }
                self.log_restart(key, reason, attempt, delay)
            }
            Effect::IntensityExceeded { restarts, period } => {
                tracing::error!(
                    event = events::INTENSITY_EXCEEDED,
                    group = %self.path,
                    restarts,
                    period_s = period.as_secs_f64(),
                    "group `{}` had more than {} restarts in {} s: giving up",
                    self.path, restarts.saturating_sub(1), period.as_secs_f64()
                );
            }
            Effect::Answer { request, answer } => {
                if let Some(waiter) = self.requests.remove(&request) {
                    let _ = waiter.send(answer);
                }
            }
            Effect::Started => {
                for waiter in self.start_waiters.drain(..) {
                    let _ = waiter.send(StartOutcome::Started);
                }
            }
            Effect::Stopped => {
                for waiter in self.start_waiters.drain(..) {
                    let _ = waiter.send(StartOutcome::NotStarted);
                }
                for waiter in self.stop_waiters.drain(..) {
                    let _ = waiter.send(());
                }
            }
            Effect::GaveUp => self.parent.do_send(GroupGaveUp {
                id: self.id.clone(),
                uptime: self.since.elapsed(),
            }),
        }
    }

    /// A plan's step, at debug level (`<tracelevel>3</tracelevel>`).
    fn log_step(&self, step: &'static str, slot: &ChildSlot, delay: Duration) {
        let child = slot.spec.id();
        tracing::debug!(
            event = events::PLAN_STEP,
            group = %self.path,
            step,
            child = %child,
            delay_ms = delay.as_millis() as u64,
            "{step} {child}"
        );
    }

    fn log_restart(&self, key: Key, reason: &str, attempt: u32, delay: Duration) {
        let Some(slot) = self.slots.get(&key) else {
            return;
        };
        let id = slot.spec.id();
        tracing::info!(
            event = events::RESTART_SCHEDULED,
            component = %id,
            group = %self.path,
            reason,
            attempt,
            delay_ms = delay.as_millis() as u64,
            "restarting in {} ms (attempt {attempt})",
            delay.as_millis()
        );
    }
}

impl Actor for GroupActor {
    type Context = Context<Self>;
}

impl Drop for GroupActor {
    /// Its entries leave the board and the id index with it.
    fn drop(&mut self) {
        self.runtime.board.remove(self.token);
        self.runtime.ids.remove(&self.id, self.token);
    }
}

impl Handler<Start> for GroupActor {
    type Result = actix::ResponseFuture<StartOutcome>;

    fn handle(&mut self, _: Start, ctx: &mut Context<Self>) -> Self::Result {
        let (waiter, answer) = oneshot::channel();
        self.start_waiters.push(waiter);
        if self.decision.phase() == Phase::Down {
            self.since = Instant::now();
        }
        self.feed(Input::Start, ctx);
        Box::pin(async move { answer.await.unwrap_or(StartOutcome::NotStarted) })
    }
}

impl Handler<Stop> for GroupActor {
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

impl Handler<Dissolve> for GroupActor {
    type Result = ();

    fn handle(&mut self, _: Dissolve, ctx: &mut Context<Self>) {
        for slot in self.slots.values() {
            slot.actor.let_go();
        }
        ctx.stop();
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
        let Some(key) = self.decision.key_of(&exited.id) else {
            return;
        };
        let input = Input::Exited {
            key,
            exit: exited.exit,
            uptime: exited.uptime,
        };
        self.feed(input, ctx);
    }
}

impl Handler<GroupGaveUp> for GroupActor {
    type Result = ();

    fn handle(&mut self, gave_up: GroupGaveUp, ctx: &mut Context<Self>) {
        let exited = ChildExited {
            id: gave_up.id,
            exit: Exit::GaveUp,
            uptime: gave_up.uptime,
        };
        self.handle(exited, ctx);
    }
}

impl Handler<Operate> for GroupActor {
    type Result = actix::ResponseFuture<Result<(), OperateError>>;

    fn handle(&mut self, operate: Operate, ctx: &mut Context<Self>) -> Self::Result {
        // The id index sends each command to the group that owns the child.
        let Some(key) = self.decision.key_of(&operate.id) else {
            return Box::pin(std::future::ready(Err(OperateError::UnknownId(operate.id))));
        };
        self.next_request += 1;
        let request = self.next_request;
        let (waiter, answer) = oneshot::channel();
        self.requests.insert(request, waiter);
        let input = Input::Operator {
            key,
            action: operate.action,
            request,
        };
        self.feed(input, ctx);
        let id = operate.id;
        Box::pin(async move {
            match answer.await {
                Ok(Answer::Started | Answer::Stopped) => Ok(()),
                Ok(Answer::Busy(reason)) => Err(OperateError::Busy(reason.to_string())),
                Ok(Answer::NotStarted) | Err(_) => Err(OperateError::NotStarted(id)),
            }
        })
    }
}
