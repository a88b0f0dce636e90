//! Operator intents and reloads: how a `start`, `stop` or `restart` of a child, and a reload's
//! new children, enter the decision (they rank above automatic restarts and below a stop of the
//! group).

use std::collections::BTreeSet;
use std::time::Duration;

use super::{
    Answer, Change, Child, Decision, Effect, Key, Phase, Plan, Reloaded, RequestId, Seen,
    StopCause, Until,
};
use crate::messages::{Action, StartCause};

impl Decision {
    // ---- operator intents ----

    pub(super) fn operator(
        &mut self,
        key: Key,
        action: Action,
        request: RequestId,
        effects: &mut Vec<Effect>,
    ) {
        let Some(index) = self.position(key) else {
            return effects.push(Effect::Answer {
                request,
                answer: Answer::NotStarted,
            });
        };
        if let Phase::Stopping(cause) = self.phase {
            let reason = match cause {
                // A shutdown, the operator's stop of the group, or a reload removing it.
                StopCause::Shutdown => "its group is stopping",
                StopCause::GiveUp => "its group is giving up",
            };
            return effects.push(Effect::Answer {
                request,
                answer: Answer::Busy(reason),
            });
        }
        match action {
            Action::Stop => self.operator_stop(index, request, effects),
            Action::Start => self.operator_start(index, request, effects),
            Action::Restart => self.operator_restart(index, request, effects),
        }
    }

    pub(super) fn operator_stop(
        &mut self,
        index: usize,
        request: RequestId,
        effects: &mut Vec<Effect>,
    ) {
        let key = self.children[index].key;
        self.children[index].held = true;
        self.children[index].then_start = None;
        self.remove_from_plan(key);
        // Restarts that were waiting for it will not see it start.
        self.answer(key, Until::Started, Answer::NotStarted, effects);
        match self.children[index].seen {
            Seen::Down => effects.push(Effect::Answer {
                request,
                answer: Answer::Stopped,
            }),
            Seen::Exited => {
                self.children[index].seen = Seen::Down;
                effects.push(Effect::Settle { key });
                effects.push(Effect::Answer {
                    request,
                    answer: Answer::Stopped,
                });
            }
            Seen::Stopping(_) => self.requests.push((request, key, Until::Stopped)),
            Seen::Starting(_) | Seen::Up => {
                self.requests.push((request, key, Until::Stopped));
                self.send_stop(index, effects);
            }
        }
    }

    pub(super) fn operator_start(
        &mut self,
        index: usize,
        request: RequestId,
        effects: &mut Vec<Effect>,
    ) {
        let child = &mut self.children[index];
        let key = child.key;
        child.held = false;
        child.wanted = true;
        child.attempt = 0;
        match child.seen {
            Seen::Up => {
                return effects.push(Effect::Answer {
                    request,
                    answer: Answer::Started,
                });
            }
            Seen::Starting(_) => {}
            Seen::Stopping(_) => child.then_start = Some(StartCause::Operator),
            Seen::Down | Seen::Exited => {
                if self.phase == Phase::Down {
                    // The group is not running: the child starts with it.
                    return effects.push(Effect::Answer {
                        request,
                        answer: Answer::NotStarted,
                    });
                }
                if !self.join_plan(index) {
                    self.start_now(index, StartCause::Operator, effects);
                }
            }
        }
        self.requests.push((request, key, Until::Started));
    }

    pub(super) fn operator_restart(
        &mut self,
        index: usize,
        request: RequestId,
        effects: &mut Vec<Effect>,
    ) {
        match self.children[index].seen {
            Seen::Starting(_) | Seen::Up => {
                let child = &mut self.children[index];
                child.held = false;
                child.wanted = true;
                child.attempt = 0;
                child.then_start = Some(StartCause::Operator);
                let key = child.key;
                self.requests.push((request, key, Until::Started));
                self.send_stop(index, effects);
            }
            Seen::Down | Seen::Exited | Seen::Stopping(_) => {
                self.operator_start(index, request, effects)
            }
        }
    }

    // ---- reload ----

    pub(super) fn reload(&mut self, new: Vec<Reloaded>, effects: &mut Vec<Effect>) {
        let kept: BTreeSet<Key> = new.iter().map(|r| r.key).collect();
        let removed: Vec<Key> = self
            .children
            .iter()
            .filter(|c| !kept.contains(&c.key) && !c.removing)
            .map(|c| c.key)
            .collect();
        for key in removed {
            self.remove(key, effects);
        }
        let mut old: Vec<Child> = std::mem::take(&mut self.children);
        let mut children = Vec::with_capacity(new.len());
        let mut cycle = Vec::new();
        let mut wake = Vec::new();
        for reloaded in new {
            let mut child = match old.iter().position(|c| c.key == reloaded.key) {
                Some(at) => {
                    let mut child = old.remove(at);
                    if child.settings.autostart != reloaded.settings.autostart {
                        child.wanted = reloaded.settings.autostart;
                        // Wanted now: started below if it is down (a running one is left alone).
                        if child.wanted {
                            wake.push(child.key);
                        }
                    }
                    child.settings = reloaded.settings;
                    child
                }
                None => Child::new(reloaded.key, reloaded.settings),
            };
            match reloaded.change {
                Change::Unchanged | Change::Updated => {}
                Change::Replaced | Change::Added => cycle.push(child.key),
                Change::AddedStopped => child.held = true,
            }
            children.push(child);
        }
        // Children being removed stay until their stop is answered.
        children.extend(old.into_iter().filter(|c| c.removing));
        self.children = children;
        self.reindex();
        if self.phase != Phase::Up {
            // A stop is under way: the new settings apply from the next start.
            return;
        }
        if self.plan.is_none() && self.levels(&cycle).len() > 1 {
            self.cycle_in_order(&cycle, effects);
        } else {
            self.cycle_each(cycle, effects);
        }
        for key in wake {
            let Some(index) = self.position(key) else {
                continue;
            };
            let down = matches!(self.children[index].seen, Seen::Down | Seen::Exited);
            if down && self.startable(index) && !self.in_plan(key) {
                self.start_now(index, StartCause::Reload, effects);
            }
        }
    }

    /// Restarts (or starts) `cycle`, whose children span more than one start level, level by
    /// level as the group's own start does: the later levels stop first, then each level
    /// starts once the one before it is up (and ready).
    fn cycle_in_order(&mut self, cycle: &[Key], effects: &mut Vec<Effect>) {
        let mut steps = self.stop_steps(cycle);
        steps.extend(self.start_steps(cycle, StartCause::Reload, |_| Duration::ZERO));
        self.plan = Some(Plan {
            steps,
            waiting: BTreeSet::new(),
            answers_start: false,
        });
        self.advance(effects);
    }

    /// Restarts (or starts) each child of `cycle` on its own, as soon as it is down: one
    /// level, or a plan under way that keeps its own order.
    fn cycle_each(&mut self, cycle: Vec<Key>, effects: &mut Vec<Effect>) {
        for key in cycle {
            let Some(index) = self.position(key) else {
                continue;
            };
            match self.children[index].seen {
                Seen::Starting(_) | Seen::Up => {
                    self.children[index].then_start = Some(StartCause::Reload);
                    self.send_stop(index, effects);
                }
                // Its stop in flight ends in a start with the new settings, if wanted.
                Seen::Stopping(_) => {}
                Seen::Down | Seen::Exited => {
                    if self.startable(index) && !self.in_plan(key) {
                        self.start_now(index, StartCause::Reload, effects);
                    }
                }
            }
        }
    }

    pub(super) fn remove(&mut self, key: Key, effects: &mut Vec<Effect>) {
        let Some(index) = self.position(key) else {
            return;
        };
        self.remove_from_plan(key);
        self.answer(key, Until::Started, Answer::NotStarted, effects);
        let child = &mut self.children[index];
        child.removing = true;
        child.then_start = None;
        match child.seen {
            Seen::Down | Seen::Exited => {
                self.answer(key, Until::Stopped, Answer::Stopped, effects);
                self.children.remove(index);
                self.reindex();
                effects.push(Effect::Drop { key });
            }
            Seen::Stopping(_) => {}
            Seen::Starting(_) | Seen::Up => self.send_stop(index, effects),
        }
    }
}
