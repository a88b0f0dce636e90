//! A decision at rest, taken apart for a successor daemon and put together again there. Only a
//! settled decision is handed over (no plan, no child being stopped or removed, no operator
//! request but one that waits only for a start under way): the rest of its state is then what
//! [`Rest`] holds. Such a request stays with this decision: the start itself goes to the
//! successor, and the request is answered busy by the control socket's gate only if the exec
//! happens (`src/upgrade/gate.rs`); if the upgrade is refused, it gets its ordinary answer.

use std::time::{Duration, Instant};

use super::{Decision, Key, Phase, Seen, Settings, Until};
use crate::policy::RestartWindow;
use crate::spec::{Intensity, Strategy};

/// A settled decision's state, as plain values.
#[derive(Debug, Clone, PartialEq)]
pub struct Rest {
    /// Up or down.
    pub phase: Phase,
    /// The ages of the restarts inside the intensity window, oldest first.
    pub window: Vec<Duration>,
    /// The last ticket issued.
    pub next_ticket: u64,
    /// How many times the group gave up.
    pub gave_up: u64,
    /// Each child by key, in start order.
    pub children: Vec<(Key, ChildRest)>,
}

/// One child of a settled decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChildRest {
    /// Stopped by the operator.
    pub held: bool,
    /// Wanted up.
    pub wanted: bool,
    /// Consecutive restarts without a stable run.
    pub attempt: u32,
    /// What the group last asked and heard.
    pub seen: Seen,
}

impl Decision {
    /// Why the decision is in the middle of a step, apart from operator requests in flight.
    fn in_a_step(&self) -> Option<&'static str> {
        if matches!(self.phase, Phase::Stopping(_)) {
            return Some("a group is stopping");
        }
        if self.plan.is_some() {
            return Some("a group is carrying out a plan");
        }
        for child in &self.children {
            if child.removing || child.then_start.is_some() {
                return Some("a child is being stopped by a reload or an operator");
            }
            if matches!(child.seen, Seen::Stopping(_) | Seen::Exited) {
                return Some("a child is being stopped or restarted");
            }
        }
        None
    }

    /// The decision's state at `now`, or why it is in the middle of a step.
    pub fn at_rest(&self, now: Instant) -> Result<Rest, &'static str> {
        if let Some(why) = self.in_a_step() {
            return Err(why);
        }
        let starting = |key: Key| {
            (self.children.iter()).any(|c| c.key == key && matches!(c.seen, Seen::Starting(_)))
        };
        let waits_for_a_start =
            |&(_, key, until): &(_, Key, Until)| until == Until::Started && starting(key);
        if !self.requests.iter().all(waits_for_a_start) {
            return Err("an operator request is in flight");
        }
        let children = (self.children.iter())
            .map(|child| {
                let rest = ChildRest {
                    held: child.held,
                    wanted: child.wanted,
                    attempt: child.attempt,
                    seen: child.seen,
                };
                (child.key, rest)
            })
            .collect();
        Ok(Rest {
            phase: self.phase,
            window: self.window.ages(now),
            next_ticket: self.next_ticket,
            gave_up: self.gave_up,
            children,
        })
    }

    /// A decision restored from `rest` at `now`, with its children's `settings` by key (in
    /// start order, as `rest` has them).
    pub fn restored(
        strategy: Strategy,
        intensity: Option<Intensity>,
        settings: Vec<(Key, Settings)>,
        rest: &Rest,
        now: Instant,
    ) -> Decision {
        let mut decision = Decision::new(strategy, intensity, settings);
        decision.phase = rest.phase;
        decision.window = RestartWindow::from_ages(&rest.window, now);
        decision.next_ticket = rest.next_ticket;
        decision.gave_up = rest.gave_up;
        for (key, state) in &rest.children {
            if let Some(index) = decision.position(*key) {
                let child = &mut decision.children[index];
                child.held = state.held;
                child.wanted = state.wanted;
                child.attempt = state.attempt;
                child.seen = state.seen;
            }
        }
        decision
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group::decide::Input;
    use crate::messages::StartOutcome;
    use crate::spec::{Backoff, RestartType};

    fn settings(id: &str) -> Settings {
        Settings {
            id: id.into(),
            priority: 0,
            restart: RestartType::Permanent,
            success_exit_codes: vec![0],
            backoff: Backoff::default(),
            autostart: true,
        }
    }

    #[test]
    fn a_started_group_is_at_rest_and_restores_to_the_same_state() {
        let now = Instant::now();
        let children = vec![(0, settings("a")), (1, settings("b"))];
        let mut decision = Decision::new(Strategy::OneForOne, None, children.clone());
        let effects = decision.decide(Input::Start, now);
        // Mid-plan: not at rest until both have answered.
        assert_eq!(decision.at_rest(now), Err("a group is carrying out a plan"));
        for effect in effects {
            if let super::super::Effect::Start { key, ticket, .. } = effect {
                let answered = Input::StartAnswered {
                    key,
                    ticket,
                    outcome: StartOutcome::Started,
                };
                decision.decide(answered, now);
            }
        }
        let rest = decision.at_rest(now).expect("at rest");
        assert_eq!(rest.phase, Phase::Up);
        let restored = Decision::restored(Strategy::OneForOne, None, children, &rest, now);
        assert_eq!(restored.at_rest(now), Ok(rest));
    }
}
