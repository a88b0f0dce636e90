//! The group's supervision decision, pure: every input a group can receive — a child's exit, the
//! answer to a `Start` or `Stop` it sent, an operator's intent, a reload, its own start and stop
//! — goes through [`Decision::decide`], which returns the effects to carry out as values. No
//! actix, no clock (`now` is passed in), no I/O: the actor in `mod.rs` only carries plans out.
//!
//! Precedence (see `actors/ARCHITECTURE.md`): shutdown > give-up > operator intent > reload >
//! automatic restart. A plan (a level-by-level start, a strategy restart, a stop) is a value in
//! the state; nothing waits in the mailbox, so exits, operator commands and status requests keep
//! being handled while a plan runs.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::messages::{Action, StartCause, StartOutcome};
use crate::policy::{self, Exit, RestartWindow};
use crate::spec::{Backoff, ChildSpec, Intensity, RestartType, Strategy};

/// A child's stable key in its group (ids may be reused by a reload; keys never are).
pub type Key = u64;
/// Names one `Start` or `Stop` sent to a child, so a late answer to an older one is ignored.
pub type Ticket = u64;
/// Names one operator request waiting for its answer.
pub type RequestId = u64;

/// What the decision needs to know of a child's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The child's id.
    pub id: String,
    /// Its place in the start order.
    pub priority: u32,
    /// When it is restarted (a nested group is permanent).
    pub restart: RestartType,
    /// Exit codes that count as a normal exit.
    pub success_exit_codes: Vec<i32>,
    /// Delays between consecutive restarts.
    pub backoff: Backoff,
    /// Started with its group.
    pub autostart: bool,
}

impl Settings {
    /// The settings of a child spec.
    pub fn of(spec: &ChildSpec) -> Settings {
        match spec {
            ChildSpec::Component(component) => Settings {
                id: component.id.clone(),
                priority: component.start_priority,
                restart: component.restart,
                success_exit_codes: component.success_exit_codes.clone(),
                backoff: component.backoff,
                autostart: component.autostart,
            },
            // A group has no `<backoff>` and starts at once (its components back off): its
            // `restart_scheduled` says a delay of 0.
            ChildSpec::Group(group) => Settings {
                id: group.id.clone(),
                priority: group.start_priority,
                restart: RestartType::Permanent,
                success_exit_codes: Vec::new(),
                backoff: Backoff {
                    initial: Duration::ZERO,
                    ..Backoff::DEFAULT
                },
                autostart: true,
            },
        }
    }
}

/// What the group last asked of a child, and what it has heard back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Seen {
    /// Not running, at rest (never started, settled, stopped).
    Down,
    /// It exited; a plan will start it again when it reaches it.
    Exited,
    /// `Start` sent (it may be in backoff, spawning, or waiting for its start condition).
    Starting(Ticket),
    /// It has started.
    Up,
    /// `Stop` sent; waiting until nothing of it runs.
    Stopping(Ticket),
}

/// One child as the decision sees it.
#[derive(Debug, Clone)]
struct Child {
    key: Key,
    settings: Settings,
    /// The operator stopped it: nothing starts it again until an operator start.
    held: bool,
    /// The group wants it up (autostart, or started since; not settled after a final exit).
    wanted: bool,
    /// Consecutive restarts without a stable run.
    attempt: u32,
    seen: Seen,
    /// A reload removed it: it is dropped once it has stopped.
    removing: bool,
    /// Start it again once the `Stop` in flight is answered (operator or reload restart).
    then_start: Option<StartCause>,
}

/// Why a group is stopping everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum StopCause {
    /// Its parent (or the daemon) asked: a shutdown, or a stop of the group.
    Shutdown,
    /// Its restart intensity was exceeded: it reports upward once stopped.
    GiveUp,
}

/// Where the group is in its own life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Phase {
    /// Nothing runs and nothing is wanted to.
    Down,
    /// Started (or starting: an initial plan runs).
    Up,
    /// Stopping every child, for this cause.
    Stopping(StopCause),
}

/// One step of a plan: children stopped together, or started together (one level).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Stop(Vec<Key>),
    Start(Vec<(Key, Duration, StartCause)>),
}

/// Multi-step work in progress: the steps still to come and the children the current one
/// waits for.
#[derive(Debug, Clone)]
struct Plan {
    steps: VecDeque<Step>,
    waiting: BTreeSet<Key>,
    /// Whether the group's start waiters are answered when it completes (an initial start,
    /// or a restart plan that took one over).
    answers_start: bool,
}

/// What an operator request waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Until {
    Started,
    Stopped,
}

/// The answer to an operator request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// The child has started.
    Started,
    /// The child came to rest without starting (it exited for good, or was stopped meanwhile).
    NotStarted,
    /// Nothing of the child runs.
    Stopped,
    /// Refused: the group is stopping (a shutdown or a give-up outranks operator intents).
    Busy(&'static str),
}

/// How a child's place in a reload compares with the running tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Nothing differs.
    Unchanged,
    /// Settings that need no new process changed; applied in place.
    Updated,
    /// What the process sees changed: it needs a new process.
    Replaced,
    /// A new child.
    Added,
    /// A new child the operator stopped on its way (a reload moved it): added stopped.
    AddedStopped,
}

/// One child of the new spec, in start order, with how it compares.
#[derive(Debug, Clone)]
pub struct Reloaded {
    /// Its key (new for an added child).
    pub key: Key,
    /// Its new settings.
    pub settings: Settings,
    /// What changed.
    pub change: Change,
}

/// An input to the decision.
#[derive(Debug, Clone)]
pub enum Input {
    /// Bring the group up (its parent, or the daemon at start-up).
    Start,
    /// Stop everything (a shutdown, or the parent stopping this group).
    Stop,
    /// A child stopped running without being asked to (a nested group: gave up).
    Exited {
        /// Which child.
        key: Key,
        /// How it ended.
        exit: Exit,
        /// How long it had been running.
        uptime: Duration,
    },
    /// A child answered a `Start`.
    StartAnswered {
        /// Which child.
        key: Key,
        /// Which `Start`.
        ticket: Ticket,
        /// Started, or came to rest without starting.
        outcome: StartOutcome,
    },
    /// A child answered a `Stop`: nothing of it runs.
    StopAnswered {
        /// Which child.
        key: Key,
        /// Which `Stop`.
        ticket: Ticket,
    },
    /// An operator's `start`, `stop` or `restart` of a child.
    Operator {
        /// Which child.
        key: Key,
        /// What to do.
        action: Action,
        /// Answered by an [`Effect::Answer`] with this id.
        request: RequestId,
    },
    /// A reload: the new children in start order (a key missing from it is removed).
    Reload(Vec<Reloaded>),
}

/// What the actor must do, as a value.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Send `Start { delay, cause }` to the child, answered as `StartAnswered { ticket }`.
    Start {
        /// Which child.
        key: Key,
        /// Wait this long first.
        delay: Duration,
        /// Why.
        cause: StartCause,
        /// Names the answer.
        ticket: Ticket,
    },
    /// Send `Stop` to the child, answered as `StopAnswered { ticket }`.
    Stop {
        /// Which child.
        key: Key,
        /// Names the answer.
        ticket: Ticket,
    },
    /// The child will not be restarted: it may answer its waiters.
    Settle {
        /// Which child.
        key: Key,
    },
    /// A removed child has stopped: forget it.
    Drop {
        /// Which child.
        key: Key,
    },
    /// Log `restart_scheduled`.
    Restarting {
        /// Which child.
        key: Key,
        /// `exit`, `sibling`, `health` or `escalation`.
        reason: &'static str,
        /// Consecutive restarts.
        attempt: u32,
        /// Backoff before the start.
        delay: Duration,
    },
    /// Log `intensity_exceeded`: the group gives up.
    IntensityExceeded {
        /// Restarts inside the window.
        restarts: usize,
        /// The window.
        period: Duration,
    },
    /// Answer an operator request.
    Answer {
        /// Which request.
        request: RequestId,
        /// The answer.
        answer: Answer,
    },
    /// The group has started: answer its start waiters.
    Started,
    /// Nothing of the group runs: answer its stop waiters (start waiters: not started).
    Stopped,
    /// Report to the parent that this group gave up.
    GaveUp,
}

/// The state of one group's supervision, and the function that advances it.
#[derive(Debug, Clone)]
pub struct Decision {
    strategy: Strategy,
    intensity: Option<Intensity>,
    window: RestartWindow,
    /// In start order.
    children: Vec<Child>,
    /// Where each child is in `children`, and which key each id has (rebuilt whenever
    /// `children` changes shape), so an exit among thousands is found at once.
    index: HashMap<Key, usize>,
    ids: HashMap<String, Key>,
    phase: Phase,
    plan: Option<Plan>,
    requests: Vec<(RequestId, Key, Until)>,
    next_ticket: Ticket,
    /// How many times this group gave up.
    gave_up: u64,
    /// Moves on whenever what the status board shows of the group may have changed (a child's
    /// `held` or `wanted`, the children, the phase, the give-ups): publishing is skipped when
    /// it has not, so an input costs O(1), not O(children).
    revision: u64,
}

impl Decision {
    /// A group that is down, with its children (in start order, with their keys).
    pub fn new(
        strategy: Strategy,
        intensity: Option<Intensity>,
        children: Vec<(Key, Settings)>,
    ) -> Decision {
        let mut decision = Decision {
            strategy,
            intensity,
            window: RestartWindow::default(),
            children: children
                .into_iter()
                .map(|(key, settings)| Child::new(key, settings))
                .collect(),
            index: HashMap::new(),
            ids: HashMap::new(),
            phase: Phase::Down,
            plan: None,
            requests: Vec::new(),
            next_ticket: 0,
            gave_up: 0,
            revision: 0,
        };
        decision.reindex();
        decision
    }

    /// Rebuilds the lookups after `children` changed shape.
    fn reindex(&mut self) {
        self.index = (0..).zip(&self.children).map(|(i, c)| (c.key, i)).collect();
        self.ids = self
            .children
            .iter()
            .filter(|c| !c.removing)
            .map(|c| (c.settings.id.clone(), c.key))
            .collect();
    }

    /// The group's phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// How many times the group gave up.
    pub fn gave_up(&self) -> u64 {
        self.gave_up
    }

    /// The key of the child called `id`.
    pub fn key_of(&self, id: &str) -> Option<Key> {
        self.ids.get(id).copied()
    }

    /// What the group has seen of a child.
    pub fn seen(&self, key: Key) -> Option<Seen> {
        self.child(key).map(|child| child.seen)
    }

    /// Whether the group wants this child up (autostart, or started since; not settled after
    /// a final exit, not being removed). Held children are still wanted: see [`Self::held`].
    pub fn wants(&self, key: Key) -> bool {
        self.child(key)
            .is_some_and(|child| child.wanted && !child.removing)
    }

    /// Whether the operator stopped this child.
    pub fn held(&self, key: Key) -> bool {
        self.child(key).is_some_and(|child| child.held)
    }

    /// The strategy and intensity in force.
    pub fn supervision(&self) -> (Strategy, Option<Intensity>) {
        (self.strategy, self.intensity)
    }

    /// Changes the strategy and intensity (a reload): applies to the next decision.
    pub fn reconfigure(&mut self, strategy: Strategy, intensity: Option<Intensity>) {
        self.strategy = strategy;
        self.intensity = intensity;
    }

    /// Takes one input and returns the effects to carry out, in order.
    pub fn decide(&mut self, input: Input, now: Instant) -> Vec<Effect> {
        let mut effects = Vec::new();
        let keyed = match &input {
            Input::Exited { key, .. }
            | Input::StartAnswered { key, .. }
            | Input::StopAnswered { key, .. }
            | Input::Operator { key, .. } => Some(*key),
            Input::Start | Input::Stop | Input::Reload(_) => None,
        };
        let before = self.shown(keyed);
        match input {
            Input::Start => self.start(&mut effects),
            Input::Stop => self.stop(StopCause::Shutdown, &mut effects),
            Input::Exited { key, exit, uptime } => {
                self.exited(key, exit, uptime, now, &mut effects)
            }
            Input::StartAnswered {
                key,
                ticket,
                outcome,
            } => self.start_answered(key, ticket, outcome, &mut effects),
            Input::StopAnswered { key, ticket } => self.stop_answered(key, ticket, &mut effects),
            Input::Operator {
                key,
                action,
                request,
            } => self.operator(key, action, request, &mut effects),
            Input::Reload(children) => self.reload(children, &mut effects),
        }
        self.advance(&mut effects);
        if keyed.is_none() || self.shown(keyed) != before {
            self.revision += 1;
        }
        effects
    }

    /// The children's keys in start order (those a reload is removing left out).
    pub fn keys(&self) -> Vec<Key> {
        (self.children.iter())
            .filter(|child| !child.removing)
            .map(|child| child.key)
            .collect()
    }

    /// See [`Decision::revision`].
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// What the board shows that an input about `key` can change (others' changes bump the
    /// revision where they happen).
    fn shown(&self, key: Option<Key>) -> (Phase, u64, Option<(bool, bool, bool)>) {
        let child = key
            .and_then(|key| self.child(key))
            .map(|child| (child.held, child.wanted, child.removing));
        (self.phase, self.gave_up, child)
    }

    fn child(&self, key: Key) -> Option<&Child> {
        self.position(key).map(|index| &self.children[index])
    }

    fn position(&self, key: Key) -> Option<usize> {
        self.index.get(&key).copied()
    }

    fn ticket(&mut self) -> Ticket {
        self.next_ticket += 1;
        self.next_ticket
    }

    /// Whether a plan or the group's phase may start this child now.
    fn startable(&self, index: usize) -> bool {
        let child = &self.children[index];
        self.phase == Phase::Up && child.wanted && !child.held && !child.removing
    }

    // ---- the group's own start and stop ----

    fn start(&mut self, effects: &mut Vec<Effect>) {
        match self.phase {
            Phase::Down => {
                self.phase = Phase::Up;
                self.window.clear();
                for child in &mut self.children {
                    child.attempt = 0;
                    child.wanted = child.settings.autostart || child.wanted;
                }
                let keys: Vec<Key> = self.children.iter().map(|c| c.key).collect();
                let steps = self.start_steps(&keys, StartCause::Initial, |_| Duration::ZERO);
                self.plan = Some(Plan {
                    steps,
                    waiting: BTreeSet::new(),
                    answers_start: true,
                });
            }
            Phase::Up if self.plan.as_ref().is_some_and(|plan| plan.answers_start) => {}
            Phase::Up => effects.push(Effect::Started),
            // Answered "not started" once the stop completes.
            Phase::Stopping(_) => {}
        }
    }

    fn stop(&mut self, cause: StopCause, effects: &mut Vec<Effect>) {
        match (self.phase, cause) {
            (Phase::Down, _) => effects.push(Effect::Stopped),
            // A shutdown outranks a give-up: the stop goes on, nothing is reported upward.
            (Phase::Stopping(StopCause::GiveUp), StopCause::Shutdown) => {
                self.phase = Phase::Stopping(StopCause::Shutdown)
            }
            (Phase::Stopping(_), _) => {}
            (Phase::Up, _) => {
                self.phase = Phase::Stopping(cause);
                let keys: Vec<Key> = self.children.iter().map(|c| c.key).collect();
                let steps = self.stop_steps(&keys);
                self.plan = Some(Plan {
                    steps,
                    waiting: BTreeSet::new(),
                    answers_start: false,
                });
                for child in &mut self.children {
                    child.then_start = None;
                }
            }
        }
    }

    // ---- a child's exit: the restart decision ----

    fn exited(
        &mut self,
        key: Key,
        exit: Exit,
        uptime: Duration,
        now: Instant,
        effects: &mut Vec<Effect>,
    ) {
        let Some(index) = self.position(key) else {
            return;
        };
        let child = &mut self.children[index];
        match child.seen {
            // Our own stop crossed its exit: the stop's answer completes it.
            Seen::Stopping(_) => return effects.push(Effect::Settle { key }),
            Seen::Down | Seen::Exited | Seen::Starting(_) | Seen::Up => {}
        }
        let was_waited_for = self
            .plan
            .as_mut()
            .is_some_and(|plan| plan.waiting.remove(&key));
        let child = &mut self.children[index];
        if self.phase != Phase::Up || child.held || child.removing {
            child.seen = Seen::Down;
            return effects.push(Effect::Settle { key });
        }
        let settings = &child.settings;
        if !policy::wants_restart(settings.restart, exit, &settings.success_exit_codes) {
            child.seen = Seen::Down;
            child.wanted = false;
            self.remove_from_plan(key);
            return effects.push(Effect::Settle { key });
        }
        child.seen = Seen::Exited;
        if self.exceeds_intensity(exit, now) {
            self.gave_up += 1;
            effects.push(Effect::IntensityExceeded {
                restarts: self.window.len(),
                period: self.intensity.map_or(Duration::ZERO, |i| i.period),
            });
            return self.stop(StopCause::GiveUp, effects);
        }
        let child = &mut self.children[index];
        child.attempt = policy::next_attempt(child.attempt, uptime, &child.settings.backoff);
        let delay = policy::backoff_delay(&child.settings.backoff, child.attempt);
        effects.push(Effect::Restarting {
            key,
            reason: policy::restart_reason(exit),
            attempt: child.attempt,
            delay,
        });
        match self.strategy {
            Strategy::OneForOne => {
                if self.in_plan(key) {
                    // A plan still has to start it (a level not reached yet): it will.
                    return;
                }
                let ticket = self.ticket();
                self.children[index].seen = Seen::Starting(ticket);
                if was_waited_for {
                    // The level it belongs to waits for it again before the next one.
                    self.wait_for(key);
                }
                effects.push(Effect::Start {
                    key,
                    delay,
                    cause: StartCause::Restart,
                    ticket,
                });
            }
            Strategy::OneForAll | Strategy::RestForOne => {
                self.restart_siblings(index, delay, effects)
            }
        }
    }

    fn exceeds_intensity(&mut self, exit: Exit, now: Instant) -> bool {
        match self.intensity {
            Some(intensity) if policy::counts_toward_intensity(exit) => {
                !self.window.record(intensity, now)
            }
            Some(_) | None => false,
        }
    }

    /// The `one_for_all` / `rest_for_one` plan: stop the set in reverse, start it in order. It
    /// replaces a running plan and takes over the children that one still had to start.
    fn restart_siblings(&mut self, failed: usize, delay: Duration, effects: &mut Vec<Effect>) {
        // Temporary siblings stop being wanted: the board must hear of it.
        self.revision += 1;
        let set = policy::restart_set(self.strategy, failed, self.children.len());
        let failed_key = self.children[failed].key;
        let (mut inherited, answers_start) = match self.plan.take() {
            Some(plan) => (plan_starts(&plan), plan.answers_start),
            None => (Vec::new(), false),
        };
        let mut take_down = Vec::new();
        for &index in &set {
            let child = &mut self.children[index];
            if child.settings.restart == RestartType::Temporary && index != failed {
                child.wanted = false;
            }
            if index == failed {
                continue;
            }
            take_down.push(child.key);
            if child.wanted && !child.held && !child.removing {
                inherited.push(child.key);
                effects.push(Effect::Restarting {
                    key: child.key,
                    reason: "sibling",
                    attempt: child.attempt,
                    delay: Duration::ZERO,
                });
            }
        }
        inherited.push(failed_key);
        let mut steps = self.stop_steps(&take_down);
        steps.extend(self.start_steps(&inherited, StartCause::Restart, |key| {
            if key == failed_key {
                delay
            } else {
                Duration::ZERO
            }
        }));
        self.plan = Some(Plan {
            steps,
            waiting: BTreeSet::new(),
            answers_start,
        });
    }

    // ---- answers from children ----

    fn start_answered(
        &mut self,
        key: Key,
        ticket: Ticket,
        outcome: StartOutcome,
        effects: &mut Vec<Effect>,
    ) {
        let Some(index) = self.position(key) else {
            return;
        };
        if self.children[index].seen != Seen::Starting(ticket) {
            return; // an older Start, overtaken
        }
        let (seen, answer) = match outcome {
            StartOutcome::Started => (Seen::Up, Answer::Started),
            StartOutcome::NotStarted => (Seen::Down, Answer::NotStarted),
        };
        self.children[index].seen = seen;
        if let Some(plan) = &mut self.plan {
            plan.waiting.remove(&key);
        }
        self.answer(key, Until::Started, answer, effects);
    }

    fn stop_answered(&mut self, key: Key, ticket: Ticket, effects: &mut Vec<Effect>) {
        let Some(index) = self.position(key) else {
            return;
        };
        if self.children[index].seen != Seen::Stopping(ticket) {
            return;
        }
        let child = &mut self.children[index];
        child.seen = Seen::Down;
        let then_start = child.then_start.take();
        let was_waited_for = (self.plan.as_mut()).is_some_and(|plan| plan.waiting.remove(&key));
        if child.removing {
            self.children.remove(index);
            self.reindex();
            self.requests.retain(|&(_, k, _)| k != key);
            return effects.push(Effect::Drop { key });
        }
        self.answer(key, Until::Stopped, Answer::Stopped, effects);
        match then_start {
            // A running plan starts it when it reaches its level.
            Some(_) if self.in_plan(key) => {}
            Some(cause) if self.startable(index) => {
                self.start_now(index, cause, effects);
                // A level waiting for it (a reload restarted it as it started) waits on.
                if was_waited_for {
                    self.wait_for(key);
                }
            }
            Some(_) => self.answer(key, Until::Started, Answer::NotStarted, effects),
            None => {}
        }
    }

    fn answer(&mut self, key: Key, until: Until, answer: Answer, effects: &mut Vec<Effect>) {
        self.requests.retain(|&(request, k, u)| {
            let done = k == key && u == until;
            if done {
                effects.push(Effect::Answer { request, answer });
            }
            !done
        });
    }
}

impl Child {
    fn new(key: Key, settings: Settings) -> Child {
        Child {
            key,
            wanted: settings.autostart,
            settings,
            held: false,
            attempt: 0,
            seen: Seen::Down,
            removing: false,
            then_start: None,
        }
    }
}

pub mod handover;
mod intents;
mod plan;

use plan::plan_starts;
#[cfg(test)]
mod tests;
