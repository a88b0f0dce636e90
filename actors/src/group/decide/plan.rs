//! Plans: multi-step work (level-by-level starts, reverse stops) as values in the state, and how
//! the decision carries them forward as children answer.

use std::collections::{BTreeSet, VecDeque};
use std::time::Duration;

use super::{Decision, Effect, Key, Phase, Plan, Seen, Step, StopCause};
use crate::messages::StartCause;
use crate::policy;

impl Decision {
    // ---- plans ----

    pub(super) fn send_stop(&mut self, index: usize, effects: &mut Vec<Effect>) {
        let ticket = self.ticket();
        let child = &mut self.children[index];
        child.seen = Seen::Stopping(ticket);
        effects.push(Effect::Stop {
            key: child.key,
            ticket,
        });
    }

    pub(super) fn start_now(&mut self, index: usize, cause: StartCause, effects: &mut Vec<Effect>) {
        let ticket = self.ticket();
        let child = &mut self.children[index];
        child.seen = Seen::Starting(ticket);
        effects.push(Effect::Start {
            key: child.key,
            delay: Duration::ZERO,
            cause,
            ticket,
        });
    }

    /// Adds a child to a running plan's start step of its level, if that step is still to
    /// come; `false` when no plan will start it.
    pub(super) fn join_plan(&mut self, index: usize) -> bool {
        let key = self.children[index].key;
        let priority = self.children[index].settings.priority;
        let Some(plan) = &mut self.plan else {
            return false;
        };
        for step in plan.steps.iter_mut() {
            if let Step::Start(level) = step {
                let same_level = level
                    .first()
                    .and_then(|(first, _, _)| self.children.iter().find(|c| c.key == *first))
                    .is_some_and(|first| first.settings.priority == priority);
                if same_level {
                    level.push((key, Duration::ZERO, StartCause::Operator));
                    return true;
                }
            }
        }
        false
    }

    pub(super) fn in_plan(&self, key: Key) -> bool {
        self.plan
            .as_ref()
            .is_some_and(|plan| plan_starts(plan).contains(&key))
    }

    pub(super) fn remove_from_plan(&mut self, key: Key) {
        let Some(plan) = &mut self.plan else {
            return;
        };
        for step in plan.steps.iter_mut() {
            if let Step::Start(level) = step {
                level.retain(|(k, _, _)| *k != key);
            }
        }
        let starting = self
            .children
            .iter()
            .any(|c| c.key == key && matches!(c.seen, Seen::Starting(_)));
        if starting {
            plan.waiting.remove(&key);
        }
    }

    /// Stop steps for `keys`: levels in reverse start order, each in reverse.
    pub(super) fn stop_steps(&self, keys: &[Key]) -> VecDeque<Step> {
        self.levels(keys)
            .into_iter()
            .rev()
            .map(|level| Step::Stop(level.into_iter().rev().collect()))
            .collect()
    }

    /// Start steps for `keys`: one per level, in start order.
    pub(super) fn start_steps(
        &self,
        keys: &[Key],
        cause: StartCause,
        delay: impl Fn(Key) -> Duration,
    ) -> VecDeque<Step> {
        self.levels(keys)
            .into_iter()
            .map(|level| {
                Step::Start(
                    level
                        .into_iter()
                        .map(|key| (key, delay(key), cause))
                        .collect(),
                )
            })
            .collect()
    }

    /// `keys` (in any order, duplicates allowed) as start levels of the current order.
    pub(super) fn levels(&self, keys: &[Key]) -> Vec<Vec<Key>> {
        let wanted: BTreeSet<Key> = keys.iter().copied().collect();
        let indices: Vec<usize> = (0..self.children.len())
            .filter(|&i| wanted.contains(&self.children[i].key))
            .collect();
        policy::start_levels(&indices, |i| self.children[i].settings.priority)
            .into_iter()
            .map(|level| level.into_iter().map(|i| self.children[i].key).collect())
            .collect()
    }

    /// Carries the running plan forward while its current step has nothing to wait for.
    pub(super) fn advance(&mut self, effects: &mut Vec<Effect>) {
        loop {
            let Some(plan) = &mut self.plan else {
                return;
            };
            if !plan.waiting.is_empty() {
                return;
            }
            match plan.steps.pop_front() {
                Some(Step::Stop(keys)) => self.issue_stops(keys, effects),
                Some(Step::Start(level)) => self.issue_starts(level, effects),
                None => return self.plan_done(effects),
            }
        }
    }

    pub(super) fn issue_stops(&mut self, keys: Vec<Key>, effects: &mut Vec<Effect>) {
        for key in keys {
            let Some(index) = self.position(key) else {
                continue;
            };
            match self.children[index].seen {
                Seen::Down => {}
                Seen::Exited => {
                    self.children[index].seen = Seen::Down;
                    if self.phase != Phase::Up {
                        effects.push(Effect::Settle { key });
                    }
                }
                Seen::Stopping(_) => self.wait_for(key),
                Seen::Starting(_) | Seen::Up => {
                    self.send_stop(index, effects);
                    self.wait_for(key);
                }
            }
        }
    }

    pub(super) fn issue_starts(
        &mut self,
        level: Vec<(Key, Duration, StartCause)>,
        effects: &mut Vec<Effect>,
    ) {
        for (key, delay, cause) in level {
            let Some(index) = self.position(key) else {
                continue;
            };
            if !self.startable(index) {
                if self.children[index].seen == Seen::Exited {
                    self.children[index].seen = Seen::Down;
                    effects.push(Effect::Settle { key });
                }
                continue;
            }
            match self.children[index].seen {
                Seen::Up => {}
                Seen::Starting(_) | Seen::Stopping(_) => self.wait_for(key),
                Seen::Down | Seen::Exited => {
                    let ticket = self.ticket();
                    self.children[index].seen = Seen::Starting(ticket);
                    effects.push(Effect::Start {
                        key,
                        delay,
                        cause,
                        ticket,
                    });
                    self.wait_for(key);
                }
            }
        }
    }

    pub(super) fn wait_for(&mut self, key: Key) {
        if let Some(plan) = &mut self.plan {
            plan.waiting.insert(key);
        }
    }

    pub(super) fn plan_done(&mut self, effects: &mut Vec<Effect>) {
        let Some(plan) = self.plan.take() else {
            return;
        };
        match self.phase {
            Phase::Up if plan.answers_start => effects.push(Effect::Started),
            Phase::Up | Phase::Down => {}
            Phase::Stopping(cause) => {
                self.phase = Phase::Down;
                effects.push(Effect::Stopped);
                if cause == StopCause::GiveUp {
                    effects.push(Effect::GaveUp);
                }
            }
        }
    }
}

/// The children a plan's start steps still have to start.
pub(super) fn plan_starts(plan: &Plan) -> Vec<Key> {
    plan.steps
        .iter()
        .flat_map(|step| match step {
            Step::Start(level) => level.iter().map(|(key, _, _)| *key).collect(),
            Step::Stop(_) => Vec::new(),
        })
        .collect()
}
