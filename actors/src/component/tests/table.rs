//! Every state × every input: the next state and the effects, written out like s6-supervise's
//! table, with the component of [`spec`] (TCP readiness within 60 s, a health check, SIGTERM
//! and 5 s to stop, no watchdog).

use std::collections::BTreeSet;
use std::time::Duration;

use nix::sys::signal::Signal;

use super::*;
use crate::component::machine::{Check, Effect as F, Event as E, Input, StopCause, Timer, step};
use crate::messages::{StartCause, StartOutcome};
use crate::policy::{Exit, ExitStatus};

const UPTIME: Duration = Duration::from_secs(3);
const DELAY: Duration = Duration::from_secs(1);

// The states.
fn stopped() -> Life {
    Life::Stopped
}
fn backoff() -> Life {
    Life::Backoff {
        reason: Some(code_1()),
    }
}
fn spawning() -> Life {
    Life::Spawning
}
/// Waiting for readiness.
fn starting() -> Life {
    Life::Starting {
        pid: P,
        ready_within: Some(READY_WITHIN),
    }
}
/// Waiting out a start delay.
fn delaying() -> Life {
    Life::Starting {
        pid: P,
        ready_within: None,
    }
}
fn running() -> Life {
    Life::Running { pid: P }
}
fn stopping() -> Life {
    stopping_for(StopCause::Requested { then_start: false })
}
fn restarting() -> Life {
    stopping_for(StopCause::Requested { then_start: true })
}
fn not_ready() -> Life {
    stopping_for(StopCause::NotReady {
        within: READY_WITHIN,
    })
}
fn sick() -> Life {
    stopping_for(StopCause::Unhealthy {
        check: Check::HealthCheck,
    })
}
fn stopping_for(cause: StopCause) -> Life {
    Life::Stopping { pid: P, cause }
}
fn failed() -> Life {
    Life::Failed {
        error: ERROR.into(),
    }
}

// The inputs.
fn start_now() -> Input {
    Input::Start {
        delay: Duration::ZERO,
        cause: StartCause::Operator,
    }
}
fn start_later() -> Input {
    Input::Start {
        delay: DELAY,
        cause: StartCause::Restart,
    }
}
fn stop() -> Input {
    Input::Stop
}
fn settle() -> Input {
    Input::Settle
}
fn backoff_elapsed() -> Input {
    Input::BackoffElapsed
}
fn spawned() -> Input {
    Input::Spawned { pid: P }
}
fn spawn_failed() -> Input {
    Input::SpawnFailed {
        error: ERROR.into(),
    }
}
fn start_delay_elapsed() -> Input {
    Input::StartDelayElapsed
}
fn ready() -> Input {
    Input::Ready { pid: P }
}
fn ready_stale() -> Input {
    Input::Ready { pid: Q }
}
fn not_ready_in_time() -> Input {
    Input::NotReadyInTime
}
fn alive() -> Input {
    Input::Alive { pid: P }
}
fn unhealthy() -> Input {
    Input::Unhealthy {
        pid: P,
        check: Check::HealthCheck,
    }
}
fn stop_timed_out() -> Input {
    Input::StopTimedOut
}
fn exit() -> Input {
    Input::Exited {
        pid: P,
        status: ExitStatus::Code(1),
        uptime: UPTIME,
        killed: false,
    }
}
fn exit_stale() -> Input {
    Input::Exited {
        pid: Q,
        status: ExitStatus::Code(1),
        uptime: UPTIME,
        killed: false,
    }
}
/// New output settings, nothing else.
fn update() -> Input {
    Input::Update(spec_with_file().into())
}
fn replace() -> Input {
    Input::Replace(spec_with_file().into())
}

// The effects, in the groups they come in.
fn none() -> Vec<F> {
    vec![]
}
fn odd(input: &'static str, state: &'static str, pid: Option<u32>) -> Vec<F> {
    vec![log(E::Unexpected { input, state, pid })]
}
fn spawn() -> Vec<F> {
    vec![F::Spawn, log(E::Starting)]
}
fn at_rest() -> Vec<F> {
    vec![F::AnswerStart(StartOutcome::NotStarted), F::AnswerStop]
}
fn signals() -> Vec<F> {
    vec![
        log(E::Stopping {
            pid: P,
            signal: Signal::SIGTERM,
        }),
        F::Signal(Signal::SIGTERM),
        F::Signal(Signal::SIGCONT),
        F::ArmTimer(Timer::StopTimeout, STOP_TIMEOUT),
    ]
}
fn cancel_then(effects: Vec<F>) -> Vec<F> {
    [vec![F::CancelTimer], effects].concat()
}
fn crashed() -> Vec<F> {
    vec![
        F::CancelTimer,
        F::Release,
        log(E::Exited {
            pid: P,
            status: ExitStatus::Code(1),
            uptime: UPTIME,
            expected: false,
        }),
        F::ReportExit {
            exit: Exit::Process(ExitStatus::Code(1)),
            uptime: UPTIME,
        },
    ]
}
fn gone(then: Vec<F>) -> Vec<F> {
    [
        vec![F::CancelTimer, F::Release, log(E::Stopped { pid: P })],
        then,
    ]
    .concat()
}
fn killed() -> Vec<F> {
    vec![log(E::Killed { pid: P }), F::Kill]
}
fn answer(outcome: StartOutcome) -> Vec<F> {
    vec![F::AnswerStart(outcome)]
}
fn output() -> Vec<F> {
    vec![F::UpdateOutput]
}
fn renew() -> Vec<F> {
    vec![F::DropLaunch, F::RenewOutput]
}

type Row = (&'static str, Life, &'static str, Input, Life, Vec<F>);

macro_rules! table {
    ($($state:ident / $input:ident => $next:expr, $effects:expr;)*) => {
        vec![$((stringify!($state), $state(), stringify!($input), $input(), $next, $effects)),*]
    };
}

#[rustfmt::skip]
fn rows() -> Vec<Row> {
    table! {
        stopped / start_now => spawning(), spawn();
        stopped / start_later => Life::Backoff { reason: None }, vec![F::ArmTimer(Timer::Backoff, DELAY)];
        stopped / stop => stopped(), at_rest();
        stopped / settle => stopped(), answer(StartOutcome::NotStarted);
        stopped / backoff_elapsed => stopped(), odd("backoff_elapsed", "stopped", None);
        stopped / spawned => stopped(), odd("spawned", "stopped", Some(P));
        stopped / spawn_failed => stopped(), odd("spawn_failed", "stopped", None);
        stopped / start_delay_elapsed => stopped(), odd("start_delay_elapsed", "stopped", None);
        stopped / ready => stopped(), none();
        stopped / ready_stale => stopped(), none();
        stopped / not_ready_in_time => stopped(), odd("not_ready_in_time", "stopped", None);
        stopped / alive => stopped(), none();
        stopped / unhealthy => stopped(), none();
        stopped / stop_timed_out => stopped(), odd("stop_timed_out", "stopped", None);
        stopped / exit => stopped(), odd("exited", "stopped", Some(P));
        stopped / exit_stale => stopped(), odd("exited", "stopped", Some(Q));
        stopped / update => stopped(), output();
        stopped / replace => stopped(), renew();

        backoff / start_now => backoff(), none();
        backoff / start_later => backoff(), none();
        backoff / stop => stopped(), cancel_then(at_rest());
        backoff / settle => backoff(), none();
        backoff / backoff_elapsed => spawning(), spawn();
        backoff / spawned => backoff(), odd("spawned", "backoff", Some(P));
        backoff / spawn_failed => backoff(), odd("spawn_failed", "backoff", None);
        backoff / start_delay_elapsed => backoff(), odd("start_delay_elapsed", "backoff", None);
        backoff / ready => backoff(), none();
        backoff / ready_stale => backoff(), none();
        backoff / not_ready_in_time => backoff(), odd("not_ready_in_time", "backoff", None);
        backoff / alive => backoff(), none();
        backoff / unhealthy => backoff(), none();
        backoff / stop_timed_out => backoff(), odd("stop_timed_out", "backoff", None);
        backoff / exit => backoff(), odd("exited", "backoff", Some(P));
        backoff / exit_stale => backoff(), odd("exited", "backoff", Some(Q));
        backoff / update => backoff(), output();
        backoff / replace => backoff(), renew();

        spawning / start_now => spawning(), odd("start", "starting", None);
        spawning / start_later => spawning(), odd("start", "starting", None);
        spawning / stop => spawning(), odd("stop", "starting", None);
        spawning / settle => spawning(), odd("settle", "starting", None);
        spawning / backoff_elapsed => spawning(), odd("backoff_elapsed", "starting", None);
        spawning / spawned => starting(), vec![log(E::Started { pid: P }), F::StartReadiness, F::ArmTimer(Timer::Readiness, READY_WITHIN)];
        spawning / spawn_failed => failed(), vec![log(E::SpawnFailed { error: ERROR.into() }), F::ReportExit { exit: Exit::SpawnFailed, uptime: Duration::ZERO }];
        spawning / start_delay_elapsed => spawning(), odd("start_delay_elapsed", "starting", None);
        spawning / ready => spawning(), none();
        spawning / ready_stale => spawning(), none();
        spawning / not_ready_in_time => spawning(), odd("not_ready_in_time", "starting", None);
        spawning / alive => spawning(), none();
        spawning / unhealthy => spawning(), none();
        spawning / stop_timed_out => spawning(), odd("stop_timed_out", "starting", None);
        spawning / exit => spawning(), odd("exited", "starting", Some(P));
        spawning / exit_stale => spawning(), odd("exited", "starting", Some(Q));
        spawning / update => spawning(), odd("update", "starting", None);
        spawning / replace => spawning(), odd("replace", "starting", None);

        starting / start_now => starting(), none();
        starting / start_later => starting(), none();
        starting / stop => stopping(), cancel_then(signals());
        starting / settle => starting(), none();
        starting / backoff_elapsed => starting(), odd("backoff_elapsed", "starting", None);
        starting / spawned => starting(), odd("spawned", "starting", Some(P));
        starting / spawn_failed => starting(), odd("spawn_failed", "starting", None);
        starting / start_delay_elapsed => starting(), odd("start_delay_elapsed", "starting", None);
        starting / ready => running(), vec![F::CancelTimer, log(E::Ready { pid: P }), F::StartHealth, F::AnswerStart(StartOutcome::Started)];
        starting / ready_stale => starting(), none();
        starting / not_ready_in_time => not_ready(), [vec![log(E::NotReady { pid: P, within: READY_WITHIN })], signals()].concat();
        starting / alive => starting(), none();
        starting / unhealthy => starting(), none();
        starting / stop_timed_out => starting(), odd("stop_timed_out", "starting", None);
        starting / exit => exited(), crashed();
        starting / exit_stale => starting(), odd("exited", "starting", Some(Q));
        starting / update => starting(), output();
        starting / replace => starting(), renew();

        delaying / start_now => delaying(), none();
        delaying / start_later => delaying(), none();
        delaying / stop => stopping(), cancel_then(signals());
        delaying / settle => delaying(), none();
        delaying / backoff_elapsed => delaying(), odd("backoff_elapsed", "starting", None);
        delaying / spawned => delaying(), odd("spawned", "starting", Some(P));
        delaying / spawn_failed => delaying(), odd("spawn_failed", "starting", None);
        delaying / start_delay_elapsed => running(), vec![F::StartHealth, F::AnswerStart(StartOutcome::Started)];
        delaying / ready => delaying(), none();
        delaying / ready_stale => delaying(), none();
        delaying / not_ready_in_time => delaying(), odd("not_ready_in_time", "starting", None);
        delaying / alive => delaying(), none();
        delaying / unhealthy => delaying(), none();
        delaying / stop_timed_out => delaying(), odd("stop_timed_out", "starting", None);
        delaying / exit => exited(), crashed();
        delaying / exit_stale => delaying(), odd("exited", "starting", Some(Q));
        delaying / update => delaying(), output();
        delaying / replace => delaying(), renew();

        running / start_now => running(), answer(StartOutcome::Started);
        running / start_later => running(), answer(StartOutcome::Started);
        running / stop => stopping(), cancel_then(signals());
        running / settle => running(), none();
        running / backoff_elapsed => running(), odd("backoff_elapsed", "running", None);
        running / spawned => running(), odd("spawned", "running", Some(P));
        running / spawn_failed => running(), odd("spawn_failed", "running", None);
        running / start_delay_elapsed => running(), odd("start_delay_elapsed", "running", None);
        running / ready => running(), none();
        running / ready_stale => running(), none();
        running / not_ready_in_time => running(), odd("not_ready_in_time", "running", None);
        running / alive => running(), vec![F::CancelTimer];
        running / unhealthy => sick(), [vec![F::CancelTimer, log(E::Unhealthy { pid: P, check: Check::HealthCheck })], signals()].concat();
        running / stop_timed_out => running(), odd("stop_timed_out", "running", None);
        running / exit => exited(), crashed();
        running / exit_stale => running(), odd("exited", "running", Some(Q));
        running / update => running(), output();
        running / replace => running(), renew();

        stopping / start_now => restarting(), none();
        stopping / start_later => restarting(), none();
        stopping / stop => stopping(), none();
        stopping / settle => stopping(), none();
        stopping / backoff_elapsed => stopping(), odd("backoff_elapsed", "stopping", None);
        stopping / spawned => stopping(), odd("spawned", "stopping", Some(P));
        stopping / spawn_failed => stopping(), odd("spawn_failed", "stopping", None);
        stopping / start_delay_elapsed => stopping(), odd("start_delay_elapsed", "stopping", None);
        stopping / ready => stopping(), none();
        stopping / ready_stale => stopping(), none();
        stopping / not_ready_in_time => stopping(), odd("not_ready_in_time", "stopping", None);
        stopping / alive => stopping(), none();
        stopping / unhealthy => stopping(), none();
        stopping / stop_timed_out => stopping(), killed();
        stopping / exit => stopped(), gone(at_rest());
        stopping / exit_stale => stopping(), odd("exited", "stopping", Some(Q));
        stopping / update => stopping(), output();
        stopping / replace => stopping(), renew();

        restarting / start_now => restarting(), none();
        restarting / start_later => restarting(), none();
        restarting / stop => stopping(), none();
        restarting / settle => restarting(), none();
        restarting / backoff_elapsed => restarting(), odd("backoff_elapsed", "stopping", None);
        restarting / spawned => restarting(), odd("spawned", "stopping", Some(P));
        restarting / spawn_failed => restarting(), odd("spawn_failed", "stopping", None);
        restarting / start_delay_elapsed => restarting(), odd("start_delay_elapsed", "stopping", None);
        restarting / ready => restarting(), none();
        restarting / ready_stale => restarting(), none();
        restarting / not_ready_in_time => restarting(), odd("not_ready_in_time", "stopping", None);
        restarting / alive => restarting(), none();
        restarting / unhealthy => restarting(), none();
        restarting / stop_timed_out => restarting(), killed();
        restarting / exit => spawning(), gone([vec![F::AnswerStop], spawn()].concat());
        restarting / exit_stale => restarting(), odd("exited", "stopping", Some(Q));
        restarting / update => restarting(), output();
        restarting / replace => restarting(), renew();

        not_ready / start_now => not_ready(), none();
        not_ready / start_later => not_ready(), none();
        not_ready / stop => stopping(), none();
        not_ready / settle => not_ready(), none();
        not_ready / backoff_elapsed => not_ready(), odd("backoff_elapsed", "stopping", None);
        not_ready / spawned => not_ready(), odd("spawned", "stopping", Some(P));
        not_ready / spawn_failed => not_ready(), odd("spawn_failed", "stopping", None);
        not_ready / start_delay_elapsed => not_ready(), odd("start_delay_elapsed", "stopping", None);
        not_ready / ready => not_ready(), none();
        not_ready / ready_stale => not_ready(), none();
        not_ready / not_ready_in_time => not_ready(), odd("not_ready_in_time", "stopping", None);
        not_ready / alive => not_ready(), none();
        not_ready / unhealthy => not_ready(), none();
        not_ready / stop_timed_out => not_ready(), killed();
        not_ready / exit => Life::Exited { reason: Reason::NotReady { within: READY_WITHIN } }, gone(vec![F::ReportExit { exit: Exit::NotReady, uptime: UPTIME }]);
        not_ready / exit_stale => not_ready(), odd("exited", "stopping", Some(Q));
        not_ready / update => not_ready(), output();
        not_ready / replace => not_ready(), renew();

        sick / start_now => sick(), none();
        sick / start_later => sick(), none();
        sick / stop => stopping(), none();
        sick / settle => sick(), none();
        sick / backoff_elapsed => sick(), odd("backoff_elapsed", "stopping", None);
        sick / spawned => sick(), odd("spawned", "stopping", Some(P));
        sick / spawn_failed => sick(), odd("spawn_failed", "stopping", None);
        sick / start_delay_elapsed => sick(), odd("start_delay_elapsed", "stopping", None);
        sick / ready => sick(), none();
        sick / ready_stale => sick(), none();
        sick / not_ready_in_time => sick(), odd("not_ready_in_time", "stopping", None);
        sick / alive => sick(), none();
        sick / unhealthy => sick(), none();
        sick / stop_timed_out => sick(), killed();
        sick / exit => Life::Exited { reason: Reason::Unhealthy(Check::HealthCheck) }, gone(vec![F::ReportExit { exit: Exit::Unhealthy, uptime: UPTIME }]);
        sick / exit_stale => sick(), odd("exited", "stopping", Some(Q));
        sick / update => sick(), output();
        sick / replace => sick(), renew();

        exited / start_now => spawning(), spawn();
        exited / start_later => backoff(), vec![F::ArmTimer(Timer::Backoff, DELAY)];
        exited / stop => stopped(), at_rest();
        exited / settle => exited(), answer(StartOutcome::NotStarted);
        exited / backoff_elapsed => exited(), odd("backoff_elapsed", "exited", None);
        exited / spawned => exited(), odd("spawned", "exited", Some(P));
        exited / spawn_failed => exited(), odd("spawn_failed", "exited", None);
        exited / start_delay_elapsed => exited(), odd("start_delay_elapsed", "exited", None);
        exited / ready => exited(), none();
        exited / ready_stale => exited(), none();
        exited / not_ready_in_time => exited(), odd("not_ready_in_time", "exited", None);
        exited / alive => exited(), none();
        exited / unhealthy => exited(), none();
        exited / stop_timed_out => exited(), odd("stop_timed_out", "exited", None);
        exited / exit => exited(), odd("exited", "exited", Some(P));
        exited / exit_stale => exited(), odd("exited", "exited", Some(Q));
        exited / update => exited(), output();
        exited / replace => exited(), renew();

        failed / start_now => spawning(), spawn();
        failed / start_later => Life::Backoff { reason: Some(Reason::SpawnFailed(ERROR.into())) }, vec![F::ArmTimer(Timer::Backoff, DELAY)];
        failed / stop => stopped(), at_rest();
        failed / settle => failed(), answer(StartOutcome::NotStarted);
        failed / backoff_elapsed => failed(), odd("backoff_elapsed", "failed", None);
        failed / spawned => failed(), odd("spawned", "failed", Some(P));
        failed / spawn_failed => failed(), odd("spawn_failed", "failed", None);
        failed / start_delay_elapsed => failed(), odd("start_delay_elapsed", "failed", None);
        failed / ready => failed(), none();
        failed / ready_stale => failed(), none();
        failed / not_ready_in_time => failed(), odd("not_ready_in_time", "failed", None);
        failed / alive => failed(), none();
        failed / unhealthy => failed(), none();
        failed / stop_timed_out => failed(), odd("stop_timed_out", "failed", None);
        failed / exit => failed(), odd("exited", "failed", Some(P));
        failed / exit_stale => failed(), odd("exited", "failed", Some(Q));
        failed / update => failed(), output();
        failed / replace => failed(), renew();
    }
}

const STATES: usize = 12;
const INPUTS: usize = 18;

#[test]
fn every_state_and_input() {
    let rows = rows();
    let pairs: BTreeSet<(&str, &str)> = rows.iter().map(|row| (row.0, row.2)).collect();
    assert_eq!(pairs.len(), rows.len(), "a pair is written twice");
    assert_eq!(pairs.len(), STATES * INPUTS, "a pair is missing");
    for (state_name, state, input_name, input, next, effects) in rows {
        let (got, got_effects) = step(state, input, &mut record());
        assert_eq!(
            (got, got_effects),
            (next, effects),
            "{state_name} × {input_name}"
        );
    }
}

/// Only automatic restarts count; an exit is remembered whatever it ends.
#[test]
fn restarts_and_last_exit_are_recorded() {
    for (state_name, state, input_name, input, _, _) in rows() {
        let mut record = record();
        let counts = input == start_later();
        let ends = input == exit() && state.pid() == Some(P);
        step(state, input, &mut record);
        assert_eq!(
            record.restarts,
            u32::from(counts),
            "{state_name} × {input_name}"
        );
        let last_exit = ends.then_some(ExitStatus::Code(1));
        assert_eq!(record.last_exit, last_exit, "{state_name} × {input_name}");
    }
}
