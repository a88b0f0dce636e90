//! Applying a new spec to a running group: removed children stop, changed components restart
//! with their new settings, added children start, unchanged ones are not touched (same pid).
//! A changed strategy or intensity applies at once, without restarting anyone.
//!
//! The group's mailbox is held (`ctx.wait`) while removed and changed children stop, so no
//! restart decision can interleave with the swap; the bring-up that follows is an ordinary
//! sequence.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use actix::{ActorFutureExt, AsyncContext, Context, Handler, Message, WrapFuture};
use tokio::sync::oneshot;

use super::{ChildActor, ChildSlot, GroupActor, Inherit, Phase};
use crate::messages::Replace;
use crate::spec::{ChildSpec, GroupSpec};
use crate::tree;

/// Apply this group's new spec (its id and place are unchanged).
#[derive(Debug, Clone, Message)]
#[rtype(result = "ReloadReport")]
pub struct Reconfigure {
    /// The new settings and children.
    pub spec: GroupSpec,
}

/// The components a reload added, removed, changed (restarted) and left alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadReport {
    /// Ids of new components.
    pub added: Vec<String>,
    /// Ids of components no longer in the registry.
    pub removed: Vec<String>,
    /// Ids of components restarted with new settings.
    pub changed: Vec<String>,
    /// Ids of components (and groups) whose new settings applied in place, without a new
    /// process.
    pub updated: Vec<String>,
    /// How many components were left untouched.
    pub unchanged: usize,
}

impl ReloadReport {
    fn merge(&mut self, other: ReloadReport) {
        self.added.extend(other.added);
        self.removed.extend(other.removed);
        self.changed.extend(other.changed);
        self.updated.extend(other.updated);
        self.unchanged += other.unchanged;
    }
}

/// The ids of the components inside a child spec (itself, or a whole group's).
fn component_ids(spec: &ChildSpec) -> Vec<String> {
    match spec {
        ChildSpec::Component(component) => vec![component.id.clone()],
        ChildSpec::Group(group) => group.components().iter().map(|c| c.id.clone()).collect(),
    }
}

/// What the swap leaves to do asynchronously.
#[derive(Default)]
struct Work {
    stop: Vec<ChildSlot>,
    restart: Vec<ChildSlot>,
    nested: Vec<(ChildActor, GroupSpec)>,
}

impl GroupActor {
    /// Swaps in the new children and says what must stop, restart and be reconfigured.
    fn swap_children(
        &mut self,
        spec: &GroupSpec,
        ctx: &mut Context<Self>,
    ) -> (ReloadReport, Work, Vec<String>) {
        let mut report = ReloadReport::default();
        let mut work = Work::default();
        let mut bring_up = Vec::new();
        let mut old: HashMap<String, ChildSlot> = self
            .children
            .drain(..)
            .map(|slot| (slot.id().to_string(), slot))
            .collect();
        let me = ctx.address().recipient();
        for child in tree::start_order(&spec.children) {
            let kept = old.remove(child.id());
            let slot = match (kept, child) {
                (Some(slot), ChildSpec::Component(_)) if slot.spec == *child => {
                    report.unchanged += 1;
                    slot
                }
                (Some(mut slot), ChildSpec::Component(new)) if slot.is_component() => {
                    report.changed.push(new.id.clone());
                    let autostart_changed = slot.autostart() != Some(new.autostart);
                    slot.wanted = if autostart_changed {
                        new.autostart
                    } else {
                        slot.wanted
                    };
                    slot.spec = child.clone();
                    slot.attempt = 0;
                    if slot.wanted {
                        bring_up.push(new.id.clone());
                    }
                    work.restart.push(slot.clone());
                    slot
                }
                (Some(mut slot), ChildSpec::Group(new)) if !slot.is_component() => {
                    work.nested.push((slot.actor.clone(), new.clone()));
                    slot.spec = child.clone();
                    slot
                }
                (replaced, _) => {
                    if let Some(slot) = replaced {
                        report.removed.extend(component_ids(&slot.spec));
                        work.stop.push(slot);
                    }
                    report.added.extend(component_ids(child));
                    let slot = tree::slot(child, &self.path, me.clone(), &self.runtime);
                    if slot.wanted {
                        bring_up.push(slot.id().to_string());
                    }
                    slot
                }
            };
            self.children.push(slot);
        }
        let mut removed: Vec<ChildSlot> = old.into_values().collect();
        removed.sort_by_key(|slot| std::cmp::Reverse(slot.priority()));
        for slot in removed {
            report.removed.extend(component_ids(&slot.spec));
            work.stop.push(slot);
        }
        (report, work, bring_up)
    }
}

impl Handler<Reconfigure> for GroupActor {
    type Result = actix::ResponseFuture<ReloadReport>;

    fn handle(&mut self, reconfigure: Reconfigure, ctx: &mut Context<Self>) -> Self::Result {
        let spec = reconfigure.spec;
        self.strategy = spec.strategy;
        self.intensity = spec.intensity;
        let mut bring_up: Vec<String> = match self.sequence.take() {
            Some((handle, unfinished)) => {
                ctx.cancel_future(handle);
                unfinished
                    .keys()
                    .map(|&i| self.children[i].id().to_string())
                    .collect()
            }
            None => Vec::new(),
        };
        let (mut report, work, added) = self.swap_children(&spec, ctx);
        bring_up.extend(added);
        let (answer, answered) = oneshot::channel();
        let apply = async move {
            for slot in work.stop.iter().chain(work.restart.iter().rev()) {
                slot.actor.stop().await;
            }
            for slot in &work.restart {
                if let (ChildActor::Component(actor), ChildSpec::Component(spec)) =
                    (&slot.actor, &slot.spec)
                {
                    let _ = actor.send(Replace((**spec).clone())).await;
                }
            }
            for (actor, spec) in work.nested {
                if let ChildActor::Group(group) = actor {
                    if let Ok(nested) = group.send(Reconfigure { spec }).await {
                        report.merge(nested);
                    }
                }
            }
            report
        };
        ctx.wait(apply.into_actor(self).map(move |report, group, ctx| {
            if matches!(group.phase, Phase::Starting | Phase::Up) {
                let indices: BTreeMap<usize, Duration> = group
                    .children
                    .iter()
                    .enumerate()
                    .filter(|(_, slot)| bring_up.iter().any(|id| id == slot.id()))
                    .map(|(index, _)| (index, Duration::ZERO))
                    .collect();
                group.run_sequence(Vec::new(), indices, Inherit::Yes, ctx, GroupActor::started);
            }
            let _ = answer.send(report);
        }));
        Box::pin(async move { answered.await.unwrap_or_default() })
    }
}
