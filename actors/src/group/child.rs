//! A group's child, whatever its kind. Each message goes through one generic send that both
//! kinds of actor handle, so a group never asks which kind it holds; what differs by kind is
//! the settings ([`ChildSpec`]), which the group compares before it sends a [`Respec`]. One
//! address a child (a recipient per message was three allocations each, 24 a child).

use std::future::Future;

use actix::dev::ToEnvelope;
use actix::{ActorFutureExt, Addr, Context, Handler, MailboxError, Message, ResponseActFuture};
use futures_util::future::Either;

use super::GroupActor;
use super::handover::{ActorState, GroupState};
use crate::component::{ComponentActor, ComponentState};
use crate::messages::{
    AwaitStart, Collect, Dissolve, Freeze, Respec, Settle, Start, StartOutcome, Stop, Thaw,
};
use crate::spec::ChildSpec;

/// Where a group's commands to one child go.
#[derive(Clone)]
pub enum ChildActor {
    /// A component.
    Component(Addr<ComponentActor>),
    /// A nested group.
    Group(Addr<GroupActor>),
}

impl ChildActor {
    /// Its group lets it go: a component ends once its address is dropped, a nested group is
    /// told to end.
    pub(super) fn let_go(&self) {
        if let ChildActor::Group(group) = self {
            group.do_send(Dissolve);
        }
    }

    /// Sends `message`, queued now; the answer when awaited.
    fn send<M>(&self, message: M) -> impl Future<Output = Result<M::Result, MailboxError>> + 'static
    where
        M: Message + Send + 'static,
        M::Result: Send,
        ComponentActor: Handler<M>,
        GroupActor: Handler<M>,
        <ComponentActor as actix::Actor>::Context: ToEnvelope<ComponentActor, M>,
        <GroupActor as actix::Actor>::Context: ToEnvelope<GroupActor, M>,
    {
        match self {
            ChildActor::Component(actor) => Either::Left(actor.send(message)),
            ChildActor::Group(actor) => Either::Right(actor.send(message)),
        }
    }

    /// Sends `message`, not waiting for an answer.
    fn do_send<M>(&self, message: M)
    where
        M: Message + Send + 'static,
        M::Result: Send,
        ComponentActor: Handler<M>,
        GroupActor: Handler<M>,
        <ComponentActor as actix::Actor>::Context: ToEnvelope<ComponentActor, M>,
        <GroupActor as actix::Actor>::Context: ToEnvelope<GroupActor, M>,
    {
        match self {
            ChildActor::Component(actor) => actor.do_send(message),
            ChildActor::Group(actor) => actor.do_send(message),
        }
    }

    /// [`Start`], answered once the child started or came to rest.
    pub(super) fn start(&self, start: Start) -> impl Future<Output = StartOutcome> + 'static {
        let sent = self.send(start);
        async move { sent.await.unwrap_or(StartOutcome::NotStarted) }
    }

    /// [`Stop`], answered once nothing of the child runs.
    pub(super) fn stop(&self) -> impl Future<Output = ()> + 'static {
        let sent = self.send(Stop);
        async move {
            let _ = sent.await;
        }
    }

    /// [`Settle`].
    pub(super) fn settle(&self) {
        self.do_send(Settle);
    }

    /// [`Respec`]: a reload's new settings, of the child's own kind.
    pub(super) fn respec(&self, spec: ChildSpec, in_place: bool) {
        self.do_send(Respec { spec, in_place });
    }

    /// [`Freeze`].
    pub(super) fn freeze(&self) {
        self.do_send(Freeze);
    }

    /// [`Thaw`].
    pub(super) fn thaw(&self) {
        self.do_send(Thaw);
    }

    /// The child's state for a successor daemon, or why it cannot be handed over now.
    pub(super) fn collect(&self) -> impl Future<Output = Result<ActorState, String>> + 'static {
        let sent = self.send(Collect::<ActorState>::new());
        async move {
            sent.await
                .unwrap_or_else(|_| Err("a child actor is gone".into()))
        }
    }

    /// [`AwaitStart`].
    pub(super) fn await_start(&self) -> impl Future<Output = StartOutcome> + 'static {
        let sent = self.send(AwaitStart);
        async move { sent.await.unwrap_or(StartOutcome::NotStarted) }
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
