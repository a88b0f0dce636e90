//! Applying a new spec to a running group. What changed is classified here, purely: settings
//! the process does not see apply in place (`updated`); a changed command, environment,
//! working directory, user, stdio wiring or held sockets needs a new process (`changed`). The decision then
//! stops, starts and drops children by its own precedence: a reload never cancels a stop, a
//! shutdown or a give-up, and never starts a child the operator stopped.
//!
//! Nothing here waits: the report is computed from the specs and answered at once, while the
//! restarts it implies go on as plans of the decision.

use actix::{AsyncContext, Context, Handler, Message};

use super::decide::{Change, Input, Reloaded, Settings};
use super::{ChildSlot, GroupActor};
use crate::messages::Respec;
use crate::spec::{ChildSpec, CommandSpec, ComponentSpec, GroupSpec};

/// Apply this group's new spec (its id and place are unchanged).
#[derive(Debug, Clone, Message)]
#[rtype(result = "ReloadReport")]
pub struct Reconfigure {
    /// The new settings and children.
    pub spec: GroupSpec,
}

/// The components a reload added, removed, changed (restarted), updated in place and left
/// alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadReport {
    /// Ids of new components.
    pub added: Vec<String>,
    /// Ids of components no longer in the registry.
    pub removed: Vec<String>,
    /// Ids of components restarted with new settings, and of groups whose own settings
    /// (strategy, intensity) differ: those apply in place, without restarting their children.
    pub changed: Vec<String>,
    /// Ids of components whose new settings applied in place, without a new process.
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

/// How a component's new settings compare with its old ones.
pub fn classify(old: &ComponentSpec, new: &ComponentSpec) -> Change {
    // `TMPDIR` (`<config><temp>`) is the one part of the command a running process may keep:
    // the processes started after the reload get the new one.
    let process_sees = |spec: &ComponentSpec| {
        let stdio = (spec.output.stdout, spec.output.stderr);
        let command = CommandSpec {
            temp_dir: None,
            ..spec.command.clone()
        };
        // A notify watchdog's period is in the process's environment (`WATCHDOG_USEC`).
        (command, stdio, spec.sockets.clone(), spec.watchdog())
    };
    if old == new {
        Change::Unchanged
    } else if process_sees(old) != process_sees(new) {
        Change::Replaced
    } else {
        Change::Updated
    }
}

/// The report of a reload from `old` to `new` (the same group), nested groups included.
pub fn diff(old: &GroupSpec, new: &GroupSpec) -> ReloadReport {
    let mut report = ReloadReport::default();
    // A group whose own settings differ is `changed`, as the protocol says; they apply in
    // place, and its children are classified on their own.
    if (old.strategy, old.intensity) != (new.strategy, new.intensity) && !old.id.is_empty() {
        report.changed.push(new.id.clone());
    }
    for child in &new.children {
        let previous = old.children.iter().find(|c| c.id() == child.id());
        match (previous, child) {
            (Some(ChildSpec::Component(before)), ChildSpec::Component(after)) => {
                match classify(before, after) {
                    Change::Unchanged => report.unchanged += 1,
                    Change::Updated => report.updated.push(after.id.clone()),
                    Change::Replaced | Change::Added | Change::AddedStopped => {
                        report.changed.push(after.id.clone())
                    }
                }
            }
            (Some(ChildSpec::Group(before)), ChildSpec::Group(after)) => {
                report.merge(diff(before, after));
            }
            (Some(replaced), _) => {
                report.removed.extend(component_ids(replaced));
                report.added.extend(component_ids(child));
            }
            (None, _) => report.added.extend(component_ids(child)),
        }
    }
    for child in &old.children {
        if !new.children.iter().any(|c| c.id() == child.id()) {
            report.removed.extend(component_ids(child));
        }
    }
    report
}

/// The ids of the components inside a child spec (itself, or a whole group's).
fn component_ids(spec: &ChildSpec) -> Vec<String> {
    match spec {
        ChildSpec::Component(component) => vec![component.id.clone()],
        ChildSpec::Group(group) => group.components().iter().map(|c| c.id.clone()).collect(),
    }
}

impl GroupActor {
    /// The group's spec as it runs now (its children as last built or reloaded).
    fn running_spec(&self, like: &GroupSpec) -> GroupSpec {
        let (strategy, intensity) = self.decision.supervision();
        GroupSpec {
            strategy,
            intensity,
            children: self
                .decision
                .keys()
                .iter()
                .filter_map(|key| self.slots.get(key))
                .map(|slot| slot.spec.clone())
                .collect(),
            ..like.clone()
        }
    }

    /// Hands each kept child its new settings and creates the added ones; returns the new
    /// children in start order, as the decision takes them.
    fn swap_children(&mut self, spec: &GroupSpec, ctx: &mut Context<Self>) -> Vec<Reloaded> {
        let me = ctx.address();
        let mut reloaded = Vec::new();
        for child in crate::spec::start_order(&spec.children) {
            let kept = self
                .decision
                .key_of(child.id())
                .and_then(|key| Some((key, self.slots.get_mut(&key)?)));
            let change = kept.and_then(|(key, slot)| {
                let change = match (&slot.spec, child) {
                    (ChildSpec::Component(old), ChildSpec::Component(new)) => classify(old, new),
                    // A nested group always takes its new spec: its own reload sorts its
                    // children out.
                    (ChildSpec::Group(_), ChildSpec::Group(_)) => Change::Updated,
                    // Another kind under the same id: a new child.
                    _ => return None,
                };
                respec(slot, child, change);
                Some((key, change))
            });
            let (key, change) = change.unwrap_or_else(|| {
                let key = self.next_key;
                self.next_key += 1;
                let slot = super::build::slot(child, &self.path, &me, &self.runtime);
                self.slots.insert(key, slot);
                let stopped = self.runtime.stopped_on_arrival.take(child.id());
                (
                    key,
                    if stopped {
                        Change::AddedStopped
                    } else {
                        Change::Added
                    },
                )
            });
            reloaded.push(Reloaded {
                key,
                settings: Settings::of(child),
                change,
            });
        }
        reloaded
    }
}

/// Gives a kept child its new settings: in place, or (a component whose process must change)
/// from its next process.
fn respec(slot: &mut ChildSlot, child: &ChildSpec, change: Change) {
    let in_place = match change {
        Change::Unchanged | Change::Added | Change::AddedStopped => None,
        Change::Updated => Some(true),
        Change::Replaced => Some(false),
    };
    if let Some(in_place) = in_place {
        slot.actor.respec(child.clone(), in_place);
    }
    slot.spec = child.clone();
}

impl Handler<Reconfigure> for GroupActor {
    type Result = actix::MessageResult<Reconfigure>;

    fn handle(&mut self, reconfigure: Reconfigure, ctx: &mut Context<Self>) -> Self::Result {
        // The report covers the nested groups too: `diff` walks them.
        let report = diff(&self.running_spec(&reconfigure.spec), &reconfigure.spec);
        self.reconfigure(&reconfigure.spec, ctx);
        actix::MessageResult(report)
    }
}

impl Handler<Respec> for GroupActor {
    type Result = ();

    fn handle(&mut self, Respec { spec, .. }: Respec, ctx: &mut Context<Self>) {
        // A component's settings never reach a group: its parent compares kinds first.
        if let ChildSpec::Group(spec) = spec {
            self.reconfigure(&spec, ctx);
        }
    }
}

impl GroupActor {
    /// Takes `spec` (its id and place unchanged): its settings, and its children added,
    /// removed, replaced or updated in place.
    fn reconfigure(&mut self, spec: &GroupSpec, ctx: &mut Context<Self>) {
        self.decision.reconfigure(spec.strategy, spec.intensity);
        let reloaded = self.swap_children(spec, ctx);
        // `feed` publishes the new order.
        self.feed(Input::Reload(reloaded), ctx);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Strategy;

    fn group(id: &str, strategy: Strategy, children: Vec<ChildSpec>) -> GroupSpec {
        GroupSpec {
            id: id.to_string(),
            strategy,
            intensity: None,
            start_priority: 1,
            children,
        }
    }

    /// A nested group whose strategy changed is reported `changed` (the protocol's word), not
    /// `updated`; the root's own settings are not a group of the report.
    #[test]
    fn a_group_whose_settings_differ_is_changed() {
        let before = group(
            "",
            Strategy::OneForOne,
            vec![ChildSpec::Group(Box::new(group(
                "g",
                Strategy::OneForOne,
                vec![],
            )))],
        );
        let after = group(
            "",
            Strategy::OneForAll,
            vec![ChildSpec::Group(Box::new(group(
                "g",
                Strategy::OneForAll,
                vec![],
            )))],
        );
        let report = diff(&before, &after);
        assert_eq!(report.changed, ["g"]);
        assert!(report.updated.is_empty(), "{report:?}");
    }
}
