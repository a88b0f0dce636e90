//! A group's child, whatever its kind: one recipient for each message every child takes, so a
//! group never asks which kind of actor it holds. What differs by kind is the settings
//! ([`ChildSpec`]), which the group compares before it sends a [`Respec`].

use std::future::Future;

use actix::{Actor, ActorFutureExt, Addr, Context, Handler, Recipient, ResponseActFuture};

use super::GroupActor;
use super::handover::{ActorState, GroupState};
use crate::component::{ComponentActor, ComponentState};
use crate::messages::{
    AwaitStart, Collect, Freeze, Respec, Settle, Start, StartOutcome, Stop, Thaw,
};
use crate::spec::ChildSpec;

/// Where a group's commands to one child go.
#[derive(Clone)]
pub struct ChildActor {
    start: Recipient<Start>,
    stop: Recipient<Stop>,
    settle: Recipient<Settle>,
    respec: Recipient<Respec>,
    freeze: Recipient<Freeze>,
    thaw: Recipient<Thaw>,
    collect: Recipient<Collect<ActorState>>,
    await_start: Recipient<AwaitStart>,
}

impl ChildActor {
    /// The child `actor` (a component or a nested group).
    pub fn of<A>(actor: &Addr<A>) -> ChildActor
    where
        A: Actor<Context = Context<A>>
            + Handler<Start>
            + Handler<Stop>
            + Handler<Settle>
            + Handler<Respec>
            + Handler<Freeze>
            + Handler<Thaw>
            + Handler<Collect<ActorState>>
            + Handler<AwaitStart>,
    {
        ChildActor {
            start: actor.clone().recipient(),
            stop: actor.clone().recipient(),
            settle: actor.clone().recipient(),
            respec: actor.clone().recipient(),
            freeze: actor.clone().recipient(),
            thaw: actor.clone().recipient(),
            collect: actor.clone().recipient(),
            await_start: actor.clone().recipient(),
        }
    }

    /// [`Start`], answered once the child started or came to rest.
    pub(super) fn start(&self, start: Start) -> impl Future<Output = StartOutcome> + 'static {
        let sent = self.start.send(start);
        async move { sent.await.unwrap_or(StartOutcome::NotStarted) }
    }

    /// [`Stop`], answered once nothing of the child runs.
    pub(super) fn stop(&self) -> impl Future<Output = ()> + 'static {
        let sent = self.stop.send(Stop);
        async move {
            let _ = sent.await;
        }
    }

    /// [`Settle`].
    pub(super) fn settle(&self) {
        self.settle.do_send(Settle);
    }

    /// [`Respec`]: a reload's new settings, of the child's own kind.
    pub(super) fn respec(&self, spec: ChildSpec, in_place: bool) {
        self.respec.do_send(Respec { spec, in_place });
    }

    /// [`Freeze`].
    pub(super) fn freeze(&self) {
        self.freeze.do_send(Freeze);
    }

    /// [`Thaw`].
    pub(super) fn thaw(&self) {
        self.thaw.do_send(Thaw);
    }

    /// The child's state for a successor daemon, or why it cannot be handed over now.
    pub(super) async fn collect(self) -> Result<ActorState, String> {
        let answer = self.collect.send(Collect::new()).await;
        answer.unwrap_or_else(|_| Err("a child actor is gone".into()))
    }

    /// [`AwaitStart`].
    pub(super) async fn await_start(self) -> StartOutcome {
        let answer = self.await_start.send(AwaitStart).await;
        answer.unwrap_or(StartOutcome::NotStarted)
    }
}

/// A component's state, collected as a group's child.
impl Handler<Collect<ActorState>> for ComponentActor {
    type Result = Result<ActorState, String>;

    fn handle(&mut self, _: Collect<ActorState>, ctx: &mut Context<Self>) -> Self::Result {
        let state = <Self as Handler<Collect<ComponentState>>>::handle(self, Collect::new(), ctx);
        state.map(ActorState::Component)
    }
}

/// A nested group's state, collected as its parent's child.
impl Handler<Collect<ActorState>> for GroupActor {
    type Result = ResponseActFuture<Self, Result<ActorState, String>>;

    fn handle(&mut self, _: Collect<ActorState>, ctx: &mut Context<Self>) -> Self::Result {
        let state = <Self as Handler<Collect<GroupState>>>::handle(self, Collect::new(), ctx);
        Box::pin(state.map(|state, _, _| state.map(ActorState::Group)))
    }
}
