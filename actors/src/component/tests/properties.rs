//! Random sequences of what can happen to a component, played against the machine by a model
//! of the actor (one armed timer, one process, spawn results fed back at once), checking:
//! never two processes, at most one timer, every `Stop` answered once the process exit
//! arrives, no exit of a process we asked to stop reported up, stale exits change nothing,
//! `restarts` counts the automatic restarts.

use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::component::machine::{Check, Effect, Input, Timer, step};
use crate::messages::StartCause;
use crate::policy::ExitStatus;

/// What the world does next.
#[derive(Debug, Clone)]
enum Action {
    Start {
        delayed: bool,
        cause: StartCause,
    },
    Stop,
    Settle,
    /// The armed timer fires (nothing without one).
    Fire,
    Ready {
        stale: bool,
    },
    Alive {
        stale: bool,
    },
    Unhealthy {
        stale: bool,
    },
    /// The process exits (a stale exit: some other process).
    Exit {
        stale: bool,
        code: i32,
    },
    Update(u8),
    Replace(u8),
}

fn action() -> impl Strategy<Value = Action> {
    let cause = prop_oneof![
        Just(StartCause::Initial),
        Just(StartCause::Restart),
        Just(StartCause::Operator),
        Just(StartCause::Reload),
    ];
    prop_oneof![
        (any::<bool>(), cause).prop_map(|(delayed, cause)| Action::Start { delayed, cause }),
        Just(Action::Stop),
        Just(Action::Settle),
        Just(Action::Fire),
        Just(Action::Fire),
        any::<bool>().prop_map(|stale| Action::Ready { stale }),
        any::<bool>().prop_map(|stale| Action::Alive { stale }),
        any::<bool>().prop_map(|stale| Action::Unhealthy { stale }),
        (any::<bool>(), 0..3i32).prop_map(|(stale, code)| Action::Exit { stale, code }),
        (0..SPECS).prop_map(Action::Update),
        (0..SPECS).prop_map(Action::Replace),
    ]
}

const SPECS: u8 = 5;

/// The kinds of component the sequences run: readiness and health, `notify` with a watchdog,
/// a start delay, nothing to wait for, and a stop that kills at once.
fn variant(which: u8) -> ComponentSpec {
    let base = spec();
    match which % SPECS {
        0 => base,
        1 => ComponentSpec {
            readiness: Some(ReadinessSpec {
                probe: Probe::Notify {
                    watchdog: Some(Duration::from_secs(1)),
                },
                interval: Duration::from_secs(1),
                timeout: READY_WITHIN,
            }),
            ..base
        },
        2 => ComponentSpec {
            readiness: None,
            start_delay: Duration::from_secs(1),
            ..base
        },
        3 => ComponentSpec {
            readiness: None,
            health_check: None,
            ..base
        },
        _ => ComponentSpec {
            stop_timeout: Duration::ZERO,
            output: OutputSpec {
                log: false,
                ..OutputSpec::DEFAULT
            },
            ..base
        },
    }
}

/// The machine and what the model of the actor knows.
struct World {
    life: Life,
    record: Record,
    timer: Option<Timer>,
    process: Option<u32>,
    next_pid: u32,
    spawn_results: Vec<bool>,
    stops_waiting: usize,
    /// The process a `Stop` was sent for.
    asked_to_stop: Option<u32>,
    automatic_restarts: u32,
}

impl World {
    fn new(spec: ComponentSpec, spawn_results: Vec<bool>) -> World {
        World {
            life: Life::Stopped,
            record: Record::new(spec),
            timer: None,
            process: None,
            next_pid: 100,
            spawn_results,
            stops_waiting: 0,
            asked_to_stop: None,
            automatic_restarts: 0,
        }
    }

    fn act(&mut self, action: Action) -> Result<(), TestCaseError> {
        let current = self.process.unwrap_or(1);
        let pid = |stale: bool| if stale { 99_999 } else { current };
        let input = match action {
            Action::Start { delayed, cause } => {
                self.automatic_restarts += u32::from(cause == StartCause::Restart);
                let delay = Duration::from_secs(u64::from(delayed));
                Input::Start { delay, cause }
            }
            Action::Stop => {
                self.stops_waiting += 1;
                self.asked_to_stop = self.process;
                Input::Stop
            }
            Action::Settle => Input::Settle,
            Action::Fire => match self.timer.take() {
                None => return Ok(()),
                Some(Timer::Backoff) => Input::BackoffElapsed,
                Some(Timer::StartDelay) => Input::StartDelayElapsed,
                Some(Timer::Readiness) => Input::NotReadyInTime,
                Some(Timer::StopTimeout) => Input::StopTimedOut,
                Some(Timer::Watchdog) => Input::Unhealthy {
                    pid: current,
                    check: Check::Watchdog,
                },
            },
            Action::Ready { stale } => Input::Ready { pid: pid(stale) },
            Action::Alive { stale } => Input::Alive { pid: pid(stale) },
            Action::Unhealthy { stale } => Input::Unhealthy {
                pid: pid(stale),
                check: Check::HealthCheck,
            },
            Action::Exit { stale, code } => Input::Exited {
                pid: if stale || self.process.is_none() {
                    99_999
                } else {
                    current
                },
                status: ExitStatus::Code(code),
                uptime: Duration::from_secs(1),
                killed: false,
            },
            Action::Update(which) => Input::Update(variant(which).into()),
            Action::Replace(which) => Input::Replace(variant(which).into()),
        };
        self.feed(input)?;
        if self.stops_waiting > 0 {
            prop_assert!(self.process.is_some(), "a stop waits only for an exit");
        }
        prop_assert_eq!(self.life.pid(), self.process, "the machine's process");
        prop_assert_eq!(self.record.restarts, self.automatic_restarts);
        Ok(())
    }

    fn feed(&mut self, input: Input) -> Result<(), TestCaseError> {
        let mut next = Some(input);
        while let Some(input) = next.take() {
            let before = (self.life.clone(), self.record.clone());
            let stale_exit =
                matches!(input, Input::Exited { pid, .. } if Some(pid) != self.process);
            let asked_exit =
                matches!(input, Input::Exited { pid, .. } if Some(pid) == self.asked_to_stop);
            let life = std::mem::replace(&mut self.life, Life::Stopped);
            let (life, effects) = step(life, input, &mut self.record);
            self.life = life;
            if stale_exit {
                prop_assert_eq!(&before, &(self.life.clone(), self.record.clone()));
                prop_assert!(effects.iter().all(|e| matches!(e, Effect::Log(_))));
            }
            for effect in effects {
                if let Some(input) = self.carry_out(effect, asked_exit)? {
                    next = Some(input);
                }
            }
        }
        Ok(())
    }

    fn carry_out(&mut self, effect: Effect, asked: bool) -> Result<Option<Input>, TestCaseError> {
        match effect {
            Effect::ArmTimer(timer, _) => {
                prop_assert!(self.timer.is_none(), "two timers: {:?}", self.timer);
                self.timer = Some(timer);
            }
            Effect::CancelTimer => self.timer = None,
            Effect::Spawn => {
                prop_assert!(self.process.is_none(), "a second process");
                if self.spawn_results.pop().unwrap_or(true) {
                    self.next_pid += 1;
                    self.process = Some(self.next_pid);
                    self.asked_to_stop = None;
                    return Ok(Some(Input::Spawned { pid: self.next_pid }));
                }
                let error = ERROR.to_string();
                return Ok(Some(Input::SpawnFailed { error }));
            }
            Effect::Release => {
                prop_assert!(self.process.is_some(), "released nothing");
                self.process = None;
            }
            Effect::ReportExit { exit, .. } => {
                prop_assert!(!asked, "an exit we asked for was reported: {:?}", exit);
            }
            Effect::AnswerStop => self.stops_waiting = 0,
            Effect::Signal(_) | Effect::Kill => {
                prop_assert!(self.process.is_some(), "a signal to no process");
            }
            Effect::Log(_)
            | Effect::StartReadiness
            | Effect::StartHealth
            | Effect::StopHealth
            | Effect::AnswerStart(_)
            | Effect::UpdateOutput
            | Effect::RenewOutput
            | Effect::DropLaunch => {}
        }
        Ok(None)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn invariants_hold_for_any_sequence(
        first in 0..SPECS,
        actions in prop::collection::vec(action(), 0..60),
        spawn_results in prop::collection::vec(any::<bool>(), 0..20),
    ) {
        let mut world = World::new(variant(first), spawn_results);
        for action in actions {
            world.act(action)?;
        }
        // The process exits at last: every stop is answered then.
        while let Some(pid) = world.process {
            let exit = Input::Exited {
                pid,
                status: ExitStatus::Code(0),
                uptime: Duration::ZERO,
                killed: false,
            };
            world.feed(exit)?;
            prop_assert!(world.process != Some(pid));
            if world.stops_waiting == 0 {
                break;
            }
        }
        prop_assert_eq!(world.stops_waiting, 0, "a stop never answered");
    }
}
