//! The steps that depend on the settings (start delay, `notify` and its watchdog, a zero stop
//! timeout, an unknown stop signal), `Update` and `Replace` of a running component, and the
//! `reason` each state gives.

use std::time::Duration;

use nix::sys::signal::Signal;

use super::*;
use crate::component::machine::{Check, Effect as F, Event as E, Input, StopCause, Timer, step};
use crate::messages::StartOutcome;
use crate::policy::ExitStatus;

fn plain() -> ComponentSpec {
    ComponentSpec {
        readiness: None,
        health_check: None,
        ..spec()
    }
}

fn notify(watchdog: Option<Duration>) -> ComponentSpec {
    ComponentSpec {
        readiness: Some(ReadinessSpec {
            probe: Probe::Notify { watchdog },
            interval: Duration::from_secs(1),
            timeout: READY_WITHIN,
        }),
        health_check: None,
        ..spec()
    }
}

fn spawned(spec: ComponentSpec) -> (Life, Vec<F>) {
    step(
        Life::Spawning,
        Input::Spawned { pid: P },
        &mut Record::new(spec),
    )
}

const SECOND: Duration = Duration::from_secs(1);

#[test]
fn without_readiness_or_delay_a_process_has_started_when_it_runs() {
    let expected = vec![
        log(E::Started { pid: P }),
        F::AnswerStart(StartOutcome::Started),
    ];
    assert_eq!(spawned(plain()), (Life::Running { pid: P }, expected));
}

#[test]
fn with_socket_readiness_a_process_is_ready_when_it_runs_and_no_probe_is_polled() {
    let spec = ComponentSpec {
        readiness: Some(ReadinessSpec {
            probe: Probe::Socket,
            interval: SECOND,
            timeout: READY_WITHIN,
        }),
        ..plain()
    };
    let expected = vec![
        log(E::Started { pid: P }),
        log(E::Ready { pid: P }),
        F::AnswerStart(StartOutcome::Started),
    ];
    assert_eq!(spawned(spec), (Life::Running { pid: P }, expected));
}

#[test]
fn a_start_delay_is_waited_out() {
    let spec = ComponentSpec {
        start_delay: SECOND,
        ..plain()
    };
    let expected = vec![
        log(E::Started { pid: P }),
        F::ArmTimer(Timer::StartDelay, SECOND),
    ];
    let starting = Life::Starting {
        pid: P,
        ready_within: None,
    };
    assert_eq!(spawned(spec), (starting, expected));
}

#[test]
fn notify_readiness_polls_nothing_and_its_watchdog_is_armed_once_ready() {
    let (life, effects) = spawned(notify(Some(SECOND)));
    let armed = vec![
        log(E::Started { pid: P }),
        F::ArmTimer(Timer::Readiness, READY_WITHIN),
    ];
    assert_eq!(effects, armed);
    let mut record = Record::new(notify(Some(SECOND)));
    let (life, effects) = step(life, Input::Ready { pid: P }, &mut record);
    let ready = vec![
        F::CancelTimer,
        log(E::Ready { pid: P }),
        F::ArmTimer(Timer::Watchdog, SECOND),
        F::AnswerStart(StartOutcome::Started),
    ];
    assert_eq!((life.clone(), effects), (Life::Running { pid: P }, ready));
    let keepalive = vec![F::CancelTimer, F::ArmTimer(Timer::Watchdog, SECOND)];
    assert_eq!(
        step(life, Input::Alive { pid: P }, &mut record),
        (Life::Running { pid: P }, keepalive)
    );
}

#[test]
fn a_zero_stop_timeout_kills_at_once_and_an_unknown_signal_is_sigterm() {
    let mut record = Record::new(ComponentSpec {
        stop_timeout: Duration::ZERO,
        ..spec()
    });
    let (_, effects) = step(Life::Running { pid: P }, Input::Stop, &mut record);
    let kill = Signal::SIGKILL;
    let expected = vec![
        F::CancelTimer,
        log(E::Stopping {
            pid: P,
            signal: kill,
        }),
        F::Signal(kill),
        F::Signal(Signal::SIGCONT),
    ];
    assert_eq!(effects, expected);

    let mut record = Record::new(ComponentSpec {
        stop_signal: 999,
        ..spec()
    });
    let (_, effects) = step(Life::Running { pid: P }, Input::Stop, &mut record);
    assert_eq!(effects[2], F::Signal(Signal::SIGTERM));
}

#[test]
fn an_expected_exit_is_logged_as_such_and_still_reported() {
    let exit = Input::Exited {
        pid: P,
        status: ExitStatus::Code(0),
        uptime: SECOND,
        killed: false,
    };
    let (life, effects) = step(Life::Running { pid: P }, exit, &mut record());
    assert_eq!(life.reason().as_deref(), Some("exited with code 0"));
    let logged = log(E::Exited {
        pid: P,
        status: ExitStatus::Code(0),
        uptime: SECOND,
        expected: true,
    });
    assert!(effects.contains(&logged));
    assert!(effects.iter().any(|e| matches!(e, F::ReportExit { .. })));
}

#[test]
fn an_exit_the_forced_shutdown_asked_for_is_expected() {
    let killed = |killed| Input::Exited {
        pid: P,
        status: ExitStatus::Signal(libc::SIGKILL),
        uptime: SECOND,
        killed,
    };
    let logged = |expected| {
        log(E::Exited {
            pid: P,
            status: ExitStatus::Signal(libc::SIGKILL),
            uptime: SECOND,
            expected,
        })
    };
    let (_, effects) = step(Life::Running { pid: P }, killed(true), &mut record());
    assert!(effects.contains(&logged(true)), "{effects:?}");
    // The control: a SIGKILL from anyone else is not.
    let (_, effects) = step(Life::Running { pid: P }, killed(false), &mut record());
    assert!(effects.contains(&logged(false)), "{effects:?}");
}

#[test]
fn update_restarts_the_health_check_of_a_running_process() {
    let running = Life::Running { pid: P };
    let changed = ComponentSpec {
        health_check: Some(health(5)),
        ..spec()
    };
    let (life, effects) = step(
        running.clone(),
        Input::Update(changed.into()),
        &mut record(),
    );
    assert_eq!(
        (life, effects),
        (running.clone(), vec![F::StopHealth, F::StartHealth])
    );

    let removed = ComponentSpec {
        health_check: None,
        ..spec()
    };
    let (_, effects) = step(
        running.clone(),
        Input::Update(removed.into()),
        &mut record(),
    );
    assert_eq!(effects, vec![F::StopHealth]);

    let (_, effects) = step(running, Input::Update(spec().into()), &mut record());
    assert_eq!(effects, vec![], "nothing changed, nothing restarted");
}

/// (A changed watchdog period is no update in place: the process has it in `WATCHDOG_USEC`, and
/// a reload replaces the component.)
#[test]
fn update_applies_to_later_decisions() {
    let life = Life::Running { pid: P };
    let mut record = Record::new(notify(Some(SECOND)));
    let quick = ComponentSpec {
        stop_timeout: SECOND,
        ..notify(Some(SECOND))
    };
    let (_, effects) = step(
        life.clone(),
        Input::Update(quick.clone().into()),
        &mut record,
    );
    assert!(effects.is_empty(), "{effects:?}");
    assert_eq!(*record.spec, quick);
    let (_, effects) = step(life, Input::Stop, &mut record);
    assert_eq!(
        effects.last(),
        Some(&F::ArmTimer(Timer::StopTimeout, SECOND))
    );
}

#[test]
fn a_changed_readiness_check_waits_for_the_next_start() {
    let starting = Life::Starting {
        pid: P,
        ready_within: Some(READY_WITHIN),
    };
    let mut record = record();
    let (life, effects) = step(
        starting.clone(),
        Input::Update(notify(None).into()),
        &mut record,
    );
    assert_eq!((life, effects), (starting, vec![]));
    let (_, effects) = step(Life::Spawning, Input::Spawned { pid: Q }, &mut record);
    assert!(
        !effects.contains(&F::StartReadiness),
        "notify from this start"
    );
}

#[test]
fn replace_applies_from_the_next_start() {
    let mut record = record();
    let running = Life::Running { pid: P };
    let (life, effects) = step(running.clone(), Input::Replace(plain().into()), &mut record);
    assert_eq!(
        (life, effects),
        (running, vec![F::DropLaunch, F::RenewOutput])
    );
    assert_eq!(*record.spec, plain());
}

#[test]
fn reasons_say_why_in_words() {
    let cases = [
        (Life::Stopped, None),
        (Life::Running { pid: P }, None),
        (
            Life::Stopping {
                pid: P,
                cause: StopCause::Requested { then_start: false },
            },
            None,
        ),
        (Life::Backoff { reason: None }, None),
        (
            Life::Failed {
                error: ERROR.into(),
            },
            Some(ERROR),
        ),
        (
            Life::Backoff {
                reason: Some(Reason::SpawnFailed(ERROR.into())),
            },
            Some(ERROR),
        ),
        (
            Life::Stopping {
                pid: P,
                cause: StopCause::NotReady {
                    within: READY_WITHIN,
                },
            },
            Some("did not become ready within 60s"),
        ),
        (
            Life::Exited {
                reason: Reason::NotReady {
                    within: Duration::from_millis(1500),
                },
            },
            Some("did not become ready within 1.5s"),
        ),
        (
            Life::Exited {
                reason: Reason::NotReady {
                    within: Duration::from_millis(500),
                },
            },
            Some("did not become ready within 500ms"),
        ),
        (
            Life::Exited {
                reason: Reason::Unhealthy(Check::HealthCheck),
            },
            Some("failed its health check"),
        ),
        (
            Life::Exited {
                reason: Reason::Unhealthy(Check::Watchdog),
            },
            Some("missed its watchdog"),
        ),
        (exited(), Some("exited with code 1")),
        (
            Life::Exited {
                reason: Reason::Exit(ExitStatus::Signal(libc::SIGKILL)),
            },
            Some("killed by SIGKILL"),
        ),
        (
            Life::Exited {
                reason: Reason::Exit(ExitStatus::Signal(99)),
            },
            Some("killed by signal 99"),
        ),
    ];
    for (life, reason) in cases {
        assert_eq!(life.reason().as_deref(), reason, "{life:?}");
    }
}
