//! A group handed over to a successor daemon: freezing, collecting and thawing go down to every
//! child; the successor restores the group's decision at rest and waits again for the starts
//! its predecessor was waiting for.

use std::time::{Duration, Instant};

use actix::{ActorFutureExt, Context, Handler, ResponseActFuture, WrapFuture};
use futures_util::future::join_all;
use serde::{Deserialize, Serialize};

use super::decide::handover::{ChildRest, Rest};
use super::decide::{Decision, Phase, Seen, Settings};
use super::{ChildActor, GroupActor};
use crate::component::ComponentState;
use crate::messages::StartOutcome;
use crate::messages::{AwaitStart, Collect, Freeze, Thaw};

/// One group's supervision state (its `Decision` at rest).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupState {
    /// The group's id (`""` for the root).
    pub id: String,
    /// Up or down.
    pub phase: Phase,
    /// The ages of the restarts inside the group's intensity window, oldest first.
    pub window: Vec<Duration>,
    /// The last ticket the group issued.
    pub next_ticket: u64,
    /// How many times the group gave up.
    pub gave_up: u64,
    /// How long the group has been up.
    pub age: Duration,
    /// Its restarts so far by reason, in the order of `status::RESTART_REASONS`.
    pub restarts: Vec<u64>,
    /// Its children, in start order.
    pub children: Vec<ChildState>,
}

/// One child as its group sees it, with the child's own state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChildState {
    /// The child's id.
    pub id: String,
    /// Stopped by the operator.
    pub held: bool,
    /// Wanted up by its group.
    pub wanted: bool,
    /// Consecutive restarts without a stable run.
    pub attempt: u32,
    /// What the group last asked of it and heard back.
    pub seen: Seen,
    /// The child itself.
    pub actor: ActorState,
}

/// A child's own state, by kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ActorState {
    /// A component.
    Component(ComponentState),
    /// A nested group.
    Group(GroupState),
}

impl GroupActor {
    /// Takes up `state` in a successor daemon: the decision at rest, the group's age, and a
    /// wait for each child its predecessor had sent a `Start` that is still unanswered.
    /// `state` matches this group's children (checked before the tree was built).
    pub(crate) fn resume(&mut self, state: &GroupState, ctx: &mut Context<Self>) {
        let now = Instant::now();
        let keys: Vec<(String, u64)> = self
            .decision
            .keys()
            .iter()
            .filter_map(|key| Some((self.slots.get(key)?.spec.id().to_string(), *key)))
            .collect();
        let key_of = |id: &str| keys.iter().find(|(k, _)| k == id).map(|(_, key)| *key);
        let rest = Rest {
            phase: state.phase,
            window: state.window.clone(),
            next_ticket: state.next_ticket,
            gave_up: state.gave_up,
            children: state
                .children
                .iter()
                .filter_map(|child| {
                    let rest = ChildRest {
                        held: child.held,
                        wanted: child.wanted,
                        attempt: child.attempt,
                        seen: child.seen,
                    };
                    Some((key_of(&child.id)?, rest))
                })
                .collect(),
        };
        let (strategy, intensity) = self.decision.supervision();
        let settings = self
            .decision
            .keys()
            .iter()
            .filter_map(|key| Some((*key, Settings::of(&self.slots.get(key)?.spec))))
            .collect();
        self.decision = Decision::restored(strategy, intensity, settings, &rest, now);
        self.since = now.checked_sub(state.age).unwrap_or(now);
        for ((_, count), handed) in self.restarts.iter_mut().zip(&state.restarts) {
            *count = *handed;
        }
        for (key, child) in &rest.children {
            let (Seen::Starting(ticket), Some(slot)) = (child.seen, self.slots.get(key)) else {
                continue;
            };
            let started = slot.actor.await_start();
            self.when_started(*key, ticket, started, ctx);
        }
        // Its entry on the status board as its predecessor showed it.
        self.publish();
    }

    fn children_in_order(&self) -> Vec<(u64, String, ChildActor)> {
        self.decision
            .keys()
            .iter()
            .filter_map(|key| Some((*key, self.slots.get(key)?)))
            .map(|(key, slot)| (key, slot.spec.id().to_string(), slot.actor.clone()))
            .collect()
    }
}

impl Handler<Freeze> for GroupActor {
    type Result = ();

    fn handle(&mut self, _: Freeze, _: &mut Context<Self>) {
        for slot in self.slots.values() {
            slot.actor.freeze();
        }
    }
}

impl Handler<Thaw> for GroupActor {
    type Result = ();

    fn handle(&mut self, _: Thaw, _: &mut Context<Self>) {
        for slot in self.slots.values() {
            slot.actor.thaw();
        }
    }
}

impl Handler<Collect<GroupState>> for GroupActor {
    type Result = ResponseActFuture<Self, Result<GroupState, String>>;

    fn handle(&mut self, _: Collect<GroupState>, _: &mut Context<Self>) -> Self::Result {
        let children = self.children_in_order();
        let states = join_all(children.iter().map(|(_, _, actor)| actor.collect()));
        Box::pin(states.into_actor(self).map(move |states, group, _| {
            // Read after the children answered: an answer that crossed the collection shows.
            let now = Instant::now();
            let rest = group
                .decision
                .at_rest(now)
                .map_err(|why| format!("{} ({})", why, display(&group.id)))?;
            let mut out = Vec::with_capacity(states.len());
            for ((key, id, _), state) in children.iter().zip(states) {
                let Some((_, child)) = rest.children.iter().find(|(k, _)| k == key) else {
                    return Err(format!("{id} is being added or removed"));
                };
                let actor = state?;
                if exit_on_its_way(child.seen, &actor) {
                    return Err(format!("{id}'s exit has not reached its group"));
                }
                out.push(ChildState {
                    id: id.clone(),
                    held: child.held,
                    wanted: child.wanted,
                    attempt: child.attempt,
                    seen: child.seen,
                    actor,
                });
            }
            Ok(GroupState {
                id: group.id.clone(),
                phase: rest.phase,
                window: rest.window,
                next_ticket: rest.next_ticket,
                gave_up: rest.gave_up,
                age: group.since.elapsed(),
                restarts: group.restarts.iter().map(|(_, count)| *count).collect(),
                children: out,
            })
        }))
    }
}

/// Whether a child its group last saw up is a component without a process: its exit is still
/// on its way to the group, which the successor would never tell (the component would then wait
/// for a restart that never comes). Message order makes this unlikely; it is checked, not
/// assumed.
fn exit_on_its_way(seen: Seen, actor: &ActorState) -> bool {
    seen == Seen::Up
        && matches!(actor, ActorState::Component(component) if component.life.pid().is_none())
}

/// A group's name for a message: the root has none.
fn display(id: &str) -> &str {
    if id.is_empty() { "root" } else { id }
}

impl Handler<AwaitStart> for GroupActor {
    type Result = actix::MessageResult<AwaitStart>;

    fn handle(&mut self, _: AwaitStart, _: &mut Context<Self>) -> Self::Result {
        actix::MessageResult(match self.decision.phase() {
            Phase::Up => StartOutcome::Started,
            Phase::Down | Phase::Stopping(_) => StartOutcome::NotStarted,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A component as a predecessor hands it over, with `life` in its serialized form.
    fn component(life: serde_json::Value) -> ActorState {
        let state = serde_json::json!({
            "id": "a", "life": { "life": life, "timer": null }, "restarts": 0,
            "last_exit": null, "last_exit_requested": false, "last_error": null, "tail": [],
            "uptime": { "secs": 0, "nanos": 0 }, "pipes": [], "notify": null, "sockets": [],
        });
        ActorState::Component(serde_json::from_value(state).expect("a component's state"))
    }

    #[test]
    fn a_component_its_group_sees_up_without_a_process_is_an_exit_on_its_way() {
        let exited = component(serde_json::json!({ "Failed": { "error": "x" } }));
        let running = component(serde_json::json!({ "Running": { "pid": 7 } }));
        assert!(exit_on_its_way(Seen::Up, &exited));
        assert!(exit_on_its_way(Seen::Up, &component("Stopped".into())));
        // The controls: the exit has reached the group, or the process runs.
        assert!(!exit_on_its_way(Seen::Exited, &exited));
        assert!(!exit_on_its_way(Seen::Down, &exited));
        assert!(!exit_on_its_way(Seen::Up, &running));
    }
}
