//! The decision as tables (strategy × position × restart type × exit kind × what is already
//! under way) and as a model-based property test over random interleavings.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use proptest::prelude::{
    Just, ProptestConfig, TestCaseError, prop_assert, prop_assert_eq, prop_oneof, proptest,
};
use proptest::strategy::Strategy as Generate;

use super::*;
use crate::policy::ExitStatus;

const OK: Exit = Exit::Process(ExitStatus::Code(0));
const FAIL: Exit = Exit::Process(ExitStatus::Code(1));
const KILLED: Exit = Exit::Process(ExitStatus::Signal(9));
const EXITS: [Exit; 6] = [
    OK,
    FAIL,
    KILLED,
    Exit::SpawnFailed,
    Exit::NotReady,
    Exit::Unhealthy,
];

fn settings(id: &str, priority: u32, restart: RestartType) -> Settings {
    Settings {
        id: id.to_string(),
        priority,
        restart,
        success_exit_codes: vec![0],
        backoff: Backoff {
            initial: Duration::ZERO,
            ..Backoff::default()
        },
        autostart: true,
    }
}

fn intensity(max_restarts: u32) -> Option<Intensity> {
    Some(Intensity {
        max_restarts,
        period: Duration::from_secs(10),
    })
}

/// A group of `children` (key = position), and the clock it is fed.
struct Harness {
    decision: Decision,
    now: Instant,
    /// Answers owed by children, in the order the effects asked for them.
    owed: VecDeque<Effect>,
    log: Vec<Effect>,
}

impl Harness {
    fn new(strategy: Strategy, intensity: Option<Intensity>, children: &[Settings]) -> Harness {
        let children = (0..).zip(children.iter().cloned()).collect();
        Harness {
            decision: Decision::new(strategy, intensity, children),
            now: Instant::now(),
            owed: VecDeque::new(),
            log: Vec::new(),
        }
    }

    /// Three children of priorities 1, 2, 3 with one restart type.
    fn three(strategy: Strategy, restart: RestartType) -> Harness {
        let children = [
            settings("a", 1, restart),
            settings("b", 2, restart),
            settings("c", 3, restart),
        ];
        Harness::new(strategy, intensity(100), &children)
    }

    /// What the status board shows of the group: each child's held and wanted, the phase, the
    /// give-ups.
    fn shown(&self) -> (Vec<(bool, bool)>, Phase, u64) {
        let keys = 0..64;
        let children = keys
            .map(|key| (self.decision.held(key), self.decision.wants(key)))
            .collect();
        (children, self.decision.phase(), self.decision.gave_up())
    }

    fn feed(&mut self, input: Input) -> Vec<Effect> {
        let (before, revision) = (self.shown(), self.decision.revision());
        let effects = self.decision.decide(input, self.now);
        // The board is told whenever what it shows changed (it may be told more often).
        assert!(
            self.shown() == before || self.decision.revision() != revision,
            "the board's view changed without a new revision"
        );
        for effect in &effects {
            if matches!(effect, Effect::Start { .. } | Effect::Stop { .. }) {
                self.owed.push_back(effect.clone());
            }
        }
        self.log.extend(effects.clone());
        effects
    }

    /// The child owed the oldest answer gives it (a start: started); `None` when none is owed.
    fn answer_next(&mut self) -> Option<Vec<Effect>> {
        let input = match self.owed.pop_front()? {
            Effect::Start { key, ticket, .. } => Input::StartAnswered {
                key,
                ticket,
                outcome: StartOutcome::Started,
            },
            Effect::Stop { key, ticket } => Input::StopAnswered { key, ticket },
            _ => return Some(Vec::new()),
        };
        Some(self.feed(input))
    }

    /// Children answer everything owed (starts: started), until nothing is owed.
    fn settle_all(&mut self) -> Vec<Effect> {
        let mut effects = Vec::new();
        while let Some(answered) = self.answer_next() {
            effects.extend(answered);
        }
        effects
    }

    /// Every answer given so far to operator request `request`, in order.
    fn answers(&self, request: RequestId) -> Vec<&Answer> {
        (self.log.iter())
            .filter_map(|e| match e {
                Effect::Answer { request: r, answer } if *r == request => Some(answer),
                _ => None,
            })
            .collect()
    }

    fn up(strategy: Strategy, restart: RestartType) -> Harness {
        let mut harness = Harness::three(strategy, restart);
        harness.feed(Input::Start);
        let effects = harness.settle_all();
        assert!(effects.contains(&Effect::Started), "{effects:?}");
        harness
    }

    fn exit(&mut self, key: Key, exit: Exit) -> Vec<Effect> {
        self.feed(Input::Exited {
            key,
            exit,
            uptime: Duration::from_millis(5),
        })
    }

    fn operator(&mut self, key: Key, action: Action, request: RequestId) -> Vec<Effect> {
        self.feed(Input::Operator {
            key,
            action,
            request,
        })
    }
}

fn starts(effects: &[Effect]) -> Vec<Key> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Start { key, .. } => Some(*key),
            _ => None,
        })
        .collect()
}

fn stops(effects: &[Effect]) -> Vec<Key> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Stop { key, .. } => Some(*key),
            _ => None,
        })
        .collect()
}

#[test]
fn first_start_goes_level_by_level() {
    let mut harness = Harness::three(Strategy::OneForOne, RestartType::Permanent);
    let effects = harness.feed(Input::Start);
    assert_eq!(starts(&effects), [0], "only the first level: {effects:?}");
    let effects = harness.settle_all();
    assert_eq!(starts(&effects), [1, 2]);
    assert_eq!(effects.last(), Some(&Effect::Started));
}

/// Strategy × position of the exited child × restart type × exit kind, every child up:
/// which siblings are stopped (in reverse order) and which are started again.
#[test]
fn strategy_position_restart_type_and_exit_kind() {
    use RestartType::*;
    for strategy in [
        Strategy::OneForOne,
        Strategy::OneForAll,
        Strategy::RestForOne,
    ] {
        for failed in 0..3u64 {
            for restart in [Permanent, Transient, Temporary] {
                for exit in EXITS {
                    let mut harness = Harness::up(strategy, restart);
                    let first = harness.exit(failed, exit);
                    let rest = harness.settle_all();
                    let all: Vec<Effect> = first.iter().chain(&rest).cloned().collect();
                    let restarted = policy::wants_restart(restart, exit, &[0]);
                    let case = format!("{strategy:?} {failed} {restart:?} {exit:?}: {all:?}");
                    if !restarted {
                        assert_eq!(first, [Effect::Settle { key: failed }], "{case}");
                        assert!(rest.is_empty(), "{case}");
                        continue;
                    }
                    let set: Vec<Key> = match strategy {
                        Strategy::OneForOne => vec![failed],
                        Strategy::OneForAll => vec![0, 1, 2],
                        Strategy::RestForOne => (failed..3).collect(),
                    };
                    let mut siblings: Vec<Key> =
                        set.iter().copied().filter(|&k| k != failed).collect();
                    siblings.reverse();
                    assert_eq!(stops(&all), siblings, "reverse order: {case}");
                    // Temporary siblings are only stopped; a temporary child is never here.
                    assert_eq!(starts(&all), set, "start order: {case}");
                    let reason = policy::restart_reason(exit);
                    assert!(
                        all.iter().any(|e| matches!(e, Effect::Restarting { key, reason: r, .. } if *key == failed && *r == reason)),
                        "{case}"
                    );
                }
            }
        }
    }
}

#[test]
fn temporary_siblings_are_stopped_but_not_restarted() {
    let children = [
        settings("a", 1, RestartType::Permanent),
        settings("t", 2, RestartType::Temporary),
        settings("c", 3, RestartType::Permanent),
    ];
    let mut harness = Harness::new(Strategy::OneForAll, intensity(10), &children);
    harness.feed(Input::Start);
    harness.settle_all();
    let mut all = harness.exit(2, KILLED);
    all.extend(harness.settle_all());
    assert_eq!(stops(&all), [1, 0]);
    assert_eq!(starts(&all), [0, 2]);
}

/// OTP: more than `intensity` restarts within `period` and the group gives up: it stops every
/// child in reverse and reports upward. Failed spawns count.
#[test]
fn intensity_counts_every_kind_of_failed_start_and_gives_up() {
    for exit in [KILLED, Exit::SpawnFailed, Exit::NotReady, Exit::Unhealthy] {
        let children = [
            settings("a", 1, RestartType::Permanent),
            settings("b", 2, RestartType::Permanent),
        ];
        let mut harness = Harness::new(Strategy::OneForAll, intensity(2), &children);
        harness.feed(Input::Start);
        harness.settle_all();
        for _ in 0..2 {
            let effects = harness.exit(1, exit);
            assert!(!effects.contains(&Effect::GaveUp), "{exit:?}");
            harness.settle_all();
        }
        let effects = harness.exit(1, exit);
        assert!(
            matches!(effects[0], Effect::IntensityExceeded { restarts: 3, .. }),
            "{exit:?}: {effects:?}"
        );
        assert_eq!(stops(&effects), [0], "{exit:?}");
        let rest = harness.settle_all();
        assert_eq!(rest, [Effect::Stopped, Effect::GaveUp], "{exit:?}");
        assert_eq!(harness.decision.phase(), Phase::Down);
    }
}

#[test]
fn no_intensity_never_gives_up() {
    let mut harness = Harness::new(
        Strategy::OneForOne,
        None,
        &[settings("a", 1, RestartType::Permanent)],
    );
    harness.feed(Input::Start);
    harness.settle_all();
    for _ in 0..10_000 {
        let effects = harness.exit(0, Exit::SpawnFailed);
        assert_eq!(starts(&effects), [0]);
        harness.settle_all();
    }
    assert_eq!(harness.decision.gave_up(), 0);
}

#[test]
fn restarts_outside_the_period_are_forgotten() {
    let mut harness = Harness::new(
        Strategy::OneForOne,
        intensity(1),
        &[settings("a", 1, RestartType::Permanent)],
    );
    harness.feed(Input::Start);
    harness.settle_all();
    harness.exit(0, KILLED);
    harness.settle_all();
    harness.now += Duration::from_secs(10);
    let effects = harness.exit(0, KILLED);
    assert_eq!(starts(&effects), [0], "{effects:?}");
}

// ---- what is already under way when an exit arrives ----

/// Reproduction 1: a `one_for_all` restart is under way; the operator stops a child of a later
/// level; the running plan must not start it again, and no later plan either.
#[test]
fn an_operator_stop_leaves_every_running_and_later_plan() {
    let mut harness = Harness::up(Strategy::OneForAll, RestartType::Permanent);
    let effects = harness.exit(0, KILLED);
    assert_eq!(stops(&effects), [2], "level by level, in reverse");
    // The operator stops c while its stop (by the plan) is in flight.
    let effects = harness.operator(2, Action::Stop, 7);
    assert!(stops(&effects).is_empty(), "already stopping: {effects:?}");
    let rest = harness.settle_all();
    assert_eq!(starts(&rest), [0, 1], "c stays stopped: {rest:?}");
    assert!(rest.contains(&Effect::Answer {
        request: 7,
        answer: Answer::Stopped
    }));
    // A later plan does not start it either.
    let mut later = harness.exit(1, KILLED);
    later.extend(harness.settle_all());
    assert_eq!(starts(&later), [0, 1], "{later:?}");
    // Until the operator starts it.
    let effects = harness.operator(2, Action::Start, 8);
    assert_eq!(starts(&effects), [2]);
    let rest = harness.settle_all();
    assert!(rest.contains(&Effect::Answer {
        request: 8,
        answer: Answer::Started
    }));
}

#[test]
fn a_decision_waiting_only_for_a_start_under_way_is_at_rest_and_keeps_its_request() {
    let mut harness = Harness::up(Strategy::OneForOne, RestartType::Permanent);
    // The operator restarts a: stopped, then started; the start is not answered yet.
    assert_eq!(stops(&harness.operator(0, Action::Restart, 7)), [0]);
    let Some(Effect::Stop { key, ticket }) = harness.owed.pop_front() else {
        panic!("a stop is owed: {:?}", harness.owed)
    };
    assert_eq!(
        starts(&harness.feed(Input::StopAnswered { key, ticket })),
        [0]
    );
    // And stops b, whose stop is not answered either: not at rest.
    assert_eq!(stops(&harness.operator(1, Action::Stop, 8)), [1]);
    assert_eq!(
        harness.decision.at_rest(harness.now),
        Err("a child is being stopped or restarted")
    );
    // Once b's stop is answered, the decision is at rest with a's start under way and the
    // restart still waiting: nothing answered it on the hand-over's behalf.
    let Some(Effect::Stop { key, ticket }) = harness.owed.pop_back() else {
        panic!("b's stop is owed: {:?}", harness.owed)
    };
    let stopped = harness.feed(Input::StopAnswered { key, ticket });
    assert!(
        !stopped
            .iter()
            .any(|e| matches!(e, Effect::Answer { request: 7, .. }))
    );
    let rest = harness.decision.at_rest(harness.now).expect("at rest");
    assert!(
        matches!(rest.children[0].1.seen, Seen::Starting(_)),
        "{rest:?}"
    );
    // An upgrade refused afterwards: the restart gets its ordinary answer, once.
    harness.settle_all();
    assert_eq!(harness.answers(7), [&Answer::Started]);
}

#[test]
fn a_hand_over_during_a_shutdown_or_a_reload_leaves_the_waiting_restart_to_its_answer() {
    // A reload that keeps a and b and removes c.
    let removes_c = || {
        let kept = [("a", 1), ("b", 2)];
        let reload = (kept.iter().zip(0..))
            .map(|(&(id, priority), key)| Reloaded {
                key,
                settings: settings(id, priority, RestartType::Permanent),
                change: Change::Unchanged,
            })
            .collect();
        Input::Reload(reload)
    };
    for shutdown in [true, false] {
        let mut harness = Harness::up(Strategy::OneForOne, RestartType::Permanent);
        // The operator restarts a: its start is under way, request 7 waits for it.
        harness.operator(0, Action::Restart, 7);
        let Some(Effect::Stop { key, ticket }) = harness.owed.pop_front() else {
            panic!("a stop is owed: {:?}", harness.owed)
        };
        harness.feed(Input::StopAnswered { key, ticket });
        // A shutdown (c stopped first), or a reload that removes c, arrives during the collect.
        let input = if shutdown { Input::Stop } else { removes_c() };
        assert_eq!(stops(&harness.feed(input)), [2]);
        assert!(harness.decision.at_rest(harness.now).is_err());
        // The restart gets its own answer, once, and never "upgrading".
        harness.settle_all();
        let answers = harness.answers(7);
        assert_eq!(answers.len(), 1, "shutdown: {shutdown}: {answers:?}");
        assert!(
            !matches!(answers[0], Answer::Busy(_)),
            "shutdown: {shutdown}: {answers:?}"
        );
    }
}

#[test]
fn an_operator_start_during_a_plan_joins_it() {
    let children = [
        settings("a", 1, RestartType::Permanent),
        settings("b", 2, RestartType::Permanent),
    ];
    let mut harness = Harness::new(Strategy::OneForOne, intensity(10), &children);
    harness.feed(Input::Start);
    harness.settle_all();
    harness.operator(1, Action::Stop, 1);
    harness.settle_all();
    // A new first start (after a stop of the group) is under way at its first level.
    harness.feed(Input::Stop);
    harness.settle_all();
    let effects = harness.feed(Input::Start);
    assert_eq!(starts(&effects), [0], "b is held: {effects:?}");
    let effects = harness.operator(1, Action::Start, 2);
    assert!(
        starts(&effects).is_empty(),
        "joins the plan's level 2: {effects:?}"
    );
    let rest = harness.settle_all();
    assert_eq!(starts(&rest), [1]);
    assert!(rest.contains(&Effect::Answer {
        request: 2,
        answer: Answer::Started
    }));
}

/// A shutdown outranks a running restart plan, a give-up and operator intents.
#[test]
fn a_shutdown_outranks_a_restart_plan_and_operator_intents() {
    let mut harness = Harness::up(Strategy::OneForAll, RestartType::Permanent);
    harness.exit(1, KILLED);
    let effects = harness.feed(Input::Stop);
    assert!(starts(&effects).is_empty());
    let effects = harness.operator(0, Action::Start, 3);
    assert_eq!(
        effects,
        [Effect::Answer {
            request: 3,
            answer: Answer::Busy("its group is stopping")
        }]
    );
    let rest = harness.settle_all();
    assert!(starts(&rest).is_empty(), "{rest:?}");
    assert_eq!(rest.last(), Some(&Effect::Stopped));
    // Exits during the stop are settled, never restarted.
    assert_eq!(harness.decision.phase(), Phase::Down);
}

#[test]
fn a_shutdown_during_a_give_up_completes_without_reporting_upward() {
    let mut harness = Harness::new(
        Strategy::OneForOne,
        intensity(0),
        &[
            settings("a", 1, RestartType::Permanent),
            settings("b", 1, RestartType::Permanent),
        ],
    );
    harness.feed(Input::Start);
    harness.settle_all();
    let effects = harness.exit(0, KILLED);
    assert!(matches!(effects[0], Effect::IntensityExceeded { .. }));
    harness.feed(Input::Stop);
    let rest = harness.settle_all();
    assert_eq!(rest, [Effect::Stopped]);
}

/// A reload during a shutdown or a give-up cancels nothing: the stop completes, nothing starts.
#[test]
fn a_reload_never_cancels_a_stop() {
    for cause in [StopCause::Shutdown, StopCause::GiveUp] {
        let mut harness = Harness::new(
            Strategy::OneForOne,
            intensity(0),
            &[
                settings("a", 1, RestartType::Permanent),
                settings("b", 2, RestartType::Permanent),
            ],
        );
        harness.feed(Input::Start);
        harness.settle_all();
        match cause {
            StopCause::Shutdown => harness.feed(Input::Stop),
            StopCause::GiveUp => harness.exit(1, KILLED),
        };
        let reload = vec![
            Reloaded {
                key: 0,
                settings: settings("a", 1, RestartType::Permanent),
                change: Change::Replaced,
            },
            Reloaded {
                key: 9,
                settings: settings("new", 1, RestartType::Permanent),
                change: Change::Added,
            },
        ];
        let effects = harness.feed(Input::Reload(reload));
        assert!(starts(&effects).is_empty(), "{cause:?}: {effects:?}");
        let rest = harness.settle_all();
        assert!(starts(&rest).is_empty(), "{cause:?}: {rest:?}");
        assert!(rest.contains(&Effect::Stopped), "{cause:?}: {rest:?}");
        assert_eq!(
            rest.contains(&Effect::GaveUp),
            cause == StopCause::GiveUp,
            "{cause:?}"
        );
    }
}

/// Reproduction 6: a reload that changes an operator-stopped component does not start it.
#[test]
fn a_reload_keeps_an_operator_stop() {
    let mut harness = Harness::up(Strategy::OneForOne, RestartType::Permanent);
    harness.operator(1, Action::Stop, 1);
    harness.settle_all();
    let reload: Vec<Reloaded> = ["a", "b", "c"]
        .iter()
        .enumerate()
        .map(|(key, id)| Reloaded {
            key: key as Key,
            settings: settings(id, key as u32 + 1, RestartType::Permanent),
            change: if key == 1 {
                Change::Replaced
            } else {
                Change::Unchanged
            },
        })
        .collect();
    let mut effects = harness.feed(Input::Reload(reload.clone()));
    effects.extend(harness.settle_all());
    assert!(starts(&effects).is_empty(), "{effects:?}");
    assert!(harness.decision.held(1));
    // Positive control: the same reload restarts it when it is not held.
    harness.operator(1, Action::Start, 2);
    harness.settle_all();
    let effects = harness.feed(Input::Reload(reload));
    assert_eq!(stops(&effects), [1]);
    let rest = harness.settle_all();
    assert_eq!(starts(&rest), [1]);
}

/// A reload that restarts children of more than one start level goes level by level: the
/// later level stops first, and the next level starts only once the one before is up. Within
/// one level, each child restarts as soon as it is down (the control).
#[test]
fn a_reload_across_levels_restarts_level_by_level() {
    let reload = |changed: &[Key]| -> Vec<Reloaded> {
        (["a", "b", "c"].iter().zip(0..))
            .map(|(id, key)| Reloaded {
                key,
                settings: settings(id, key as u32 + 1, RestartType::Permanent),
                change: if changed.contains(&key) {
                    Change::Replaced
                } else {
                    Change::Unchanged
                },
            })
            .collect()
    };
    let mut harness = Harness::up(Strategy::OneForOne, RestartType::Permanent);
    let mut effects = harness.feed(Input::Reload(reload(&[0, 2])));
    let mut order = Vec::new();
    loop {
        order.extend(effects.iter().filter_map(|effect| match effect {
            Effect::Stop { key, .. } => Some(format!("stop {key}")),
            Effect::Start { key, .. } => Some(format!("start {key}")),
            _ => None,
        }));
        let Some(next) = harness.answer_next() else {
            break;
        };
        effects = next;
    }
    assert_eq!(order, ["stop 2", "stop 0", "start 0", "start 2"]);

    // The control: one level restarts each child at once.
    let children = [
        settings("a", 1, RestartType::Permanent),
        settings("b", 1, RestartType::Permanent),
    ];
    let mut harness = Harness::new(Strategy::OneForOne, intensity(100), &children);
    harness.feed(Input::Start);
    harness.settle_all();
    let effects = harness.feed(Input::Reload(
        (["a", "b"].iter().zip(0..))
            .map(|(id, key)| Reloaded {
                key,
                settings: settings(id, 1, RestartType::Permanent),
                change: Change::Replaced,
            })
            .collect(),
    ));
    assert_eq!(stops(&effects), [0, 1]);
    let first = harness.answer_next().expect("a stop is owed");
    assert_eq!(starts(&first), [0], "a starts before b has stopped");
}

/// A child added stopped (the operator stopped it while a reload moved it here) is not
/// started and shows held; the same child added plainly starts (the control).
#[test]
fn a_child_added_stopped_is_not_started() {
    for (change, started) in [(Change::AddedStopped, false), (Change::Added, true)] {
        let mut harness = Harness::up(Strategy::OneForOne, RestartType::Permanent);
        let mut reload: Vec<Reloaded> = (["a", "b", "c"].iter().zip(0..))
            .map(|(id, key)| Reloaded {
                key,
                settings: settings(id, key as u32 + 1, RestartType::Permanent),
                change: Change::Unchanged,
            })
            .collect();
        reload.push(Reloaded {
            key: 7,
            settings: settings("moved", 2, RestartType::Permanent),
            change,
        });
        let mut effects = harness.feed(Input::Reload(reload));
        effects.extend(harness.settle_all());
        assert_eq!(
            starts(&effects).contains(&7),
            started,
            "{change:?}: {effects:?}"
        );
        assert_eq!(harness.decision.held(7), !started, "{change:?}");
    }
}

#[test]
fn a_reload_updates_in_place_and_drops_removed_children() {
    let mut harness = Harness::up(Strategy::OneForOne, RestartType::Permanent);
    let reload = vec![
        Reloaded {
            key: 0,
            settings: settings("a", 1, RestartType::Transient),
            change: Change::Updated,
        },
        Reloaded {
            key: 2,
            settings: settings("c", 3, RestartType::Permanent),
            change: Change::Unchanged,
        },
    ];
    let effects = harness.feed(Input::Reload(reload));
    assert_eq!(stops(&effects), [1], "b is removed: {effects:?}");
    let rest = harness.settle_all();
    assert_eq!(rest, [Effect::Drop { key: 1 }]);
    // `a` is transient now: a normal exit is not restarted.
    assert_eq!(harness.exit(0, OK), [Effect::Settle { key: 0 }]);
}

#[test]
fn a_reload_that_turns_autostart_on_starts_a_child_that_is_down() {
    let off = |id: &str| Settings {
        autostart: false,
        ..settings(id, 1, RestartType::Permanent)
    };
    let mut harness = Harness::new(
        Strategy::OneForOne,
        None,
        &[off("lazy"), settings("a", 1, RestartType::Permanent)],
    );
    let started = harness.feed(Input::Start);
    let rest = harness.settle_all();
    assert_eq!(
        starts(&[started, rest].concat()),
        [1],
        "lazy is not started"
    );
    let reload = vec![
        Reloaded {
            key: 0,
            settings: settings("lazy", 1, RestartType::Permanent),
            change: Change::Updated,
        },
        Reloaded {
            key: 1,
            settings: settings("a", 1, RestartType::Permanent),
            change: Change::Unchanged,
        },
    ];
    let effects = harness.feed(Input::Reload(reload));
    let rest = harness.settle_all();
    assert_eq!(
        starts(&[effects, rest].concat()),
        [0],
        "wanted now, and started"
    );
}

#[test]
fn a_late_answer_to_an_overtaken_start_changes_nothing() {
    let mut harness = Harness::up(Strategy::OneForOne, RestartType::Permanent);
    let first = harness.exit(0, KILLED);
    let Some(Effect::Start { ticket, .. }) = first
        .iter()
        .find(|e| matches!(e, Effect::Start { .. }))
        .cloned()
    else {
        panic!("{first:?}");
    };
    harness.owed.clear();
    harness.exit(0, Exit::SpawnFailed);
    let effects = harness.feed(Input::StartAnswered {
        key: 0,
        ticket,
        outcome: StartOutcome::Started,
    });
    assert!(effects.is_empty());
    assert!(matches!(harness.decision.seen(0), Some(Seen::Starting(t)) if t != ticket));
}

// ---- random interleavings against invariants ----

#[derive(Debug, Clone)]
enum Move {
    /// Children answer the oldest owed request.
    Answer,
    /// A child that runs exits (index into the running ones) with one of `EXITS`.
    Crash(usize, usize),
    /// The operator acts on a child.
    Operate(usize, u8),
    /// A reload replaces (0), updates (1) or removes (2) a child.
    Reload(usize, u8),
    /// Time passes.
    Wait(u64),
    /// Shutdown.
    Shutdown,
}

fn step() -> impl Generate<Value = Move> {
    prop_oneof![
        6 => Just(Move::Answer),
        3 => (0..4usize, 0..EXITS.len()).prop_map(|(c, e)| Move::Crash(c, e)),
        2 => (0..4usize, 0..3u8).prop_map(|(c, a)| Move::Operate(c, a)),
        1 => (0..4usize, 0..3u8).prop_map(|(c, k)| Move::Reload(c, k)),
        1 => (0..3000u64).prop_map(Move::Wait),
        1 => Just(Move::Shutdown),
    ]
}

/// What the model knows of each child's process: running after an answered `Start`.
#[derive(Default)]
struct Model {
    running: BTreeMap<Key, bool>,
    held: BTreeMap<Key, bool>,
    window: RestartWindow,
    stop_requested: bool,
}

fn check_interleaving(strategy: Strategy, steps: Vec<Move>) -> Result<(), TestCaseError> {
    let limit = Intensity {
        max_restarts: 3,
        period: Duration::from_secs(5),
    };
    let children: Vec<Settings> = ["a", "b", "c", "d"]
        .iter()
        .enumerate()
        .map(|(i, id)| settings(id, (i as u32) / 2 + 1, RestartType::Permanent))
        .collect();
    let mut harness = Harness::new(strategy, Some(limit), &children);
    let mut model = Model::default();
    harness.feed(Input::Start);
    let mut request = 0;
    for step in steps {
        let before = harness.log.len();
        match step {
            Move::Answer => {
                let Some(owed) = harness.owed.pop_front() else {
                    continue;
                };
                match owed {
                    Effect::Start { key, ticket, .. } => {
                        model.running.insert(key, true);
                        harness.feed(Input::StartAnswered {
                            key,
                            ticket,
                            outcome: StartOutcome::Started,
                        });
                    }
                    Effect::Stop { key, ticket } => {
                        model.running.insert(key, false);
                        harness.feed(Input::StopAnswered { key, ticket });
                    }
                    _ => {}
                }
            }
            Move::Crash(which, exit) => {
                let running: Vec<Key> = model
                    .running
                    .iter()
                    .filter(|(_, up)| **up)
                    .map(|(k, _)| *k)
                    .collect();
                let Some(&key) = running.get(which % running.len().max(1)) else {
                    continue;
                };
                // Only a process that runs and is not being stopped can crash unasked.
                if harness
                    .owed
                    .iter()
                    .any(|e| matches!(e, Effect::Stop { key: k, .. } if *k == key))
                {
                    continue;
                }
                model.running.insert(key, false);
                let phase = harness.decision.phase();
                let exit = EXITS[exit];
                let effects = harness.exit(key, exit);
                let gave_up = effects
                    .iter()
                    .any(|e| matches!(e, Effect::IntensityExceeded { .. }));
                let decisions = if gave_up {
                    1
                } else {
                    effects
                        .iter()
                        .filter(|e| match e {
                            Effect::Settle { key: k } => *k == key,
                            Effect::Restarting { key: k, reason, .. } => {
                                *k == key && *reason != "sibling"
                            }
                            Effect::IntensityExceeded { .. } => true,
                            _ => false,
                        })
                        .count()
                };
                prop_assert_eq!(decisions, 1, "one decision per exit: {:?}", effects);
                let counted = phase == Phase::Up
                    && !model.held.get(&key).copied().unwrap_or(false)
                    && policy::wants_restart(RestartType::Permanent, exit, &[0]);
                if counted {
                    let goes_on = model.window.record(limit, harness.now);
                    let gave_up = effects
                        .iter()
                        .any(|e| matches!(e, Effect::IntensityExceeded { .. }));
                    prop_assert_eq!(gave_up, !goes_on, "OTP's intensity rule: {:?}", effects);
                    if gave_up {
                        model.window.clear();
                    }
                }
            }
            Move::Operate(which, action) => {
                let key = which as Key;
                if harness.decision.seen(key).is_none() {
                    continue;
                }
                request += 1;
                let action = [Action::Start, Action::Stop, Action::Restart][action as usize];
                let effects = harness.operator(key, action, request);
                let busy = effects.iter().any(|e| {
                    matches!(
                        e,
                        Effect::Answer {
                            answer: Answer::Busy(_),
                            ..
                        }
                    )
                });
                if !busy {
                    model.held.insert(key, action == Action::Stop);
                }
            }
            Move::Reload(which, kind) => {
                let key = which as Key;
                let reload: Vec<Reloaded> = children
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| harness.decision.seen(*i as Key).is_some())
                    .filter(|(i, _)| !(kind == 2 && *i as Key == key))
                    .map(|(i, settings)| Reloaded {
                        key: i as Key,
                        settings: settings.clone(),
                        change: match kind {
                            0 if i as Key == key => Change::Replaced,
                            1 if i as Key == key => Change::Updated,
                            _ => Change::Unchanged,
                        },
                    })
                    .collect();
                harness.feed(Input::Reload(reload));
            }
            Move::Wait(ms) => harness.now += Duration::from_millis(ms),
            Move::Shutdown => {
                model.stop_requested = true;
                harness.feed(Input::Stop);
            }
        }
        // An operator-stopped child is never started until an operator start.
        for effect in &harness.log[before..] {
            if let Effect::Start { key, cause, .. } = effect {
                let held = model.held.get(key).copied().unwrap_or(false);
                prop_assert!(
                    !held || *cause == StartCause::Operator,
                    "held {key} started: {effect:?}"
                );
            }
        }
        // Never two processes: a Start goes only to a child that does not run, or behind a
        // Stop that is owed to it first.
        for effect in &harness.log[before..] {
            if let Effect::Start { key, .. } = effect {
                let runs = model.running.get(key).copied().unwrap_or(false);
                let stop_first = harness
                    .owed
                    .iter()
                    .take_while(|owed| *owed != effect)
                    .any(|owed| matches!(owed, Effect::Stop { key: k, .. } if k == key));
                prop_assert!(
                    !runs || stop_first,
                    "a second process for {key}: {effect:?}"
                );
            }
        }
    }
    // Every stop and shutdown completes.
    harness.feed(Input::Stop);
    harness.settle_all();
    // No request is answered twice.
    let mut answered: Vec<RequestId> = (harness.log.iter())
        .filter_map(|e| match e {
            Effect::Answer { request, .. } => Some(*request),
            _ => None,
        })
        .collect();
    let all = answered.len();
    answered.sort_unstable();
    answered.dedup();
    prop_assert_eq!(answered.len(), all, "a request answered twice");
    prop_assert_eq!(harness.decision.phase(), Phase::Down);
    prop_assert!(harness.log.contains(&Effect::Stopped));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn interleavings_keep_the_invariants(
        strategy in prop_oneof![Just(Strategy::OneForOne), Just(Strategy::OneForAll), Just(Strategy::RestForOne)],
        steps in proptest::collection::vec(step(), 1..80),
    ) {
        check_interleaving(strategy, steps)?;
    }
}
