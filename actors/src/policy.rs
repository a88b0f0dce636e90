//! The restart policy: pure functions of (spec, state, exit, now).
//!
//! Like `supervisor.erl`, the decisions live here, apart from the machinery that carries them out:
//! no actix, no I/O, no clock (the caller passes `now`). Tested as exhaustive tables.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::spec::{Backoff, Intensity, RestartType, Strategy};

/// How a process ended, as `waitpid` reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ExitStatus {
    /// It called `exit(code)`.
    Code(i32),
    /// A signal killed it.
    Signal(i32),
}

/// In words: `exited with code 1`, `killed by SIGKILL`.
impl std::fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            ExitStatus::Code(code) => write!(f, "exited with code {code}"),
            ExitStatus::Signal(number) => match nix::sys::signal::Signal::try_from(number) {
                Ok(signal) => write!(f, "killed by {}", signal.as_str()),
                Err(_) => write!(f, "killed by signal {number}"),
            },
        }
    }
}

/// Why a child stopped running, as its group sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The process ended on its own (or by a signal we did not send).
    Process(ExitStatus),
    /// The process could not be spawned at all.
    SpawnFailed,
    /// A nested group gave up (its restart intensity was exceeded).
    GaveUp,
    /// The process did not become ready in time (it was stopped: a failed start).
    NotReady,
    /// The process failed its health check or watchdog (it was stopped).
    Unhealthy,
}

/// Whether an exit was normal: a success exit code. Signals and spawn failures never are.
pub fn is_normal(exit: Exit, success_exit_codes: &[i32]) -> bool {
    match exit {
        Exit::Process(ExitStatus::Code(code)) => success_exit_codes.contains(&code),
        Exit::Process(ExitStatus::Signal(_))
        | Exit::SpawnFailed
        | Exit::GaveUp
        | Exit::NotReady
        | Exit::Unhealthy => false,
    }
}

/// Whether a child of `restart` type is restarted after `exit`.
pub fn wants_restart(restart: RestartType, exit: Exit, success_exit_codes: &[i32]) -> bool {
    match restart {
        RestartType::Permanent => true,
        RestartType::Transient => !is_normal(exit, success_exit_codes),
        RestartType::Temporary => false,
    }
}

/// Whether a restart caused by `exit` counts toward the group's intensity.
///
/// Every kind does: a failed spawn is a failed start, like OTP's failed restart and systemd's
/// start limit, so a child that can never start makes its group give up and escalate instead of
/// restarting its siblings for ever.
pub fn counts_toward_intensity(exit: Exit) -> bool {
    match exit {
        Exit::Process(_) | Exit::SpawnFailed | Exit::GaveUp | Exit::NotReady | Exit::Unhealthy => {
            true
        }
    }
}

/// The `reason` of the `restart_scheduled` event a restart after `exit` logs.
pub fn restart_reason(exit: Exit) -> &'static str {
    match exit {
        Exit::Process(_) | Exit::SpawnFailed | Exit::NotReady => "exit",
        Exit::Unhealthy => "health",
        Exit::GaveUp => "escalation",
    }
}

/// Which siblings (indices into the group's start order) restart along with child `failed`.
///
/// The result is in start order and always contains `failed`; the caller leaves `temporary`
/// children out of the restart (they are only stopped).
pub fn restart_set(strategy: Strategy, failed: usize, children: usize) -> Vec<usize> {
    match strategy {
        Strategy::OneForOne => vec![failed],
        Strategy::OneForAll => (0..children).collect(),
        Strategy::RestForOne => (failed..children).collect(),
    }
}

/// Restarts within a sliding window; more than `max_restarts` inside `period` is too many.
#[derive(Debug, Clone, Default)]
pub struct RestartWindow {
    restarts: VecDeque<Instant>,
}

impl RestartWindow {
    /// Records a restart at `now` and tells whether the group may go on (`false`: give up).
    pub fn record(&mut self, intensity: Intensity, now: Instant) -> bool {
        while let Some(&oldest) = self.restarts.front() {
            if now.saturating_duration_since(oldest) >= intensity.period {
                self.restarts.pop_front();
            } else {
                break;
            }
        }
        self.restarts.push_back(now);
        self.restarts.len() <= intensity.max_restarts as usize
    }

    /// Restarts currently inside the window (as of the last `record`).
    pub fn len(&self) -> usize {
        self.restarts.len()
    }

    /// Whether no restart is inside the window.
    pub fn is_empty(&self) -> bool {
        self.restarts.is_empty()
    }

    /// The ages of the recorded restarts at `now`, oldest first (handed to a successor).
    pub fn ages(&self, now: Instant) -> Vec<Duration> {
        self.restarts
            .iter()
            .map(|&at| now.saturating_duration_since(at))
            .collect()
    }

    /// A window holding restarts of these `ages` at `now`, oldest first.
    pub fn from_ages(ages: &[Duration], now: Instant) -> Self {
        RestartWindow {
            restarts: ages
                .iter()
                .map(|&age| now.checked_sub(age).unwrap_or(now))
                .collect(),
        }
    }

    /// Forgets every recorded restart (a group that restarts starts afresh, as in OTP).
    pub fn clear(&mut self) {
        self.restarts.clear();
    }
}

/// The consecutive-restart count after a run of `uptime`: a stable run resets it.
pub fn next_attempt(previous: u32, uptime: Duration, backoff: &Backoff) -> u32 {
    if uptime >= backoff.reset {
        0
    } else {
        previous.saturating_add(1)
    }
}

/// The delay before restart number `attempt` (0: the run before was stable, restart at once).
pub fn backoff_delay(backoff: &Backoff, attempt: u32) -> Duration {
    // 0 × multiplier^n would be 0 × ∞ (NaN) once the power overflows: zero is zero.
    if attempt == 0 || backoff.initial.is_zero() {
        return Duration::ZERO;
    }
    let exponent = i32::try_from(attempt - 1).unwrap_or(i32::MAX);
    let seconds = backoff.initial.as_secs_f64() * backoff.multiplier.powi(exponent);
    if !seconds.is_finite() || seconds >= backoff.max.as_secs_f64() {
        backoff.max
    } else {
        Duration::from_secs_f64(seconds.max(0.0))
    }
}

/// Groups indices (already in start order) into start levels: runs of equal priority.
pub fn start_levels(indices: &[usize], priority: impl Fn(usize) -> u32) -> Vec<Vec<usize>> {
    let mut levels: Vec<Vec<usize>> = Vec::new();
    for &index in indices {
        match levels.last_mut() {
            Some(level) if priority(level[0]) == priority(index) => level.push(index),
            _ => levels.push(vec![index]),
        }
    }
    levels
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: Exit = Exit::Process(ExitStatus::Code(0));
    const FAIL: Exit = Exit::Process(ExitStatus::Code(1));
    const KILLED: Exit = Exit::Process(ExitStatus::Signal(9));

    #[test]
    fn restart_types_against_every_kind_of_exit() {
        use RestartType::*;
        let table = [
            (Permanent, OK, true),
            (Permanent, FAIL, true),
            (Permanent, KILLED, true),
            (Permanent, Exit::SpawnFailed, true),
            (Permanent, Exit::GaveUp, true),
            (Transient, OK, false),
            (Transient, FAIL, true),
            (Transient, KILLED, true),
            (Transient, Exit::SpawnFailed, true),
            (Transient, Exit::GaveUp, true),
            (Temporary, OK, false),
            (Temporary, FAIL, false),
            (Temporary, KILLED, false),
            (Temporary, Exit::SpawnFailed, false),
            (Temporary, Exit::GaveUp, false),
        ];
        for (restart, exit, expected) in table {
            assert_eq!(
                wants_restart(restart, exit, &[0]),
                expected,
                "{restart:?} {exit:?}"
            );
        }
    }

    #[test]
    fn every_exit_has_a_restart_reason() {
        let table = [
            (OK, "exit"),
            (KILLED, "exit"),
            (Exit::SpawnFailed, "exit"),
            (Exit::NotReady, "exit"),
            (Exit::Unhealthy, "health"),
            (Exit::GaveUp, "escalation"),
        ];
        for (exit, reason) in table {
            assert_eq!(restart_reason(exit), reason, "{exit:?}");
        }
    }

    #[test]
    fn success_exit_codes_decide_normality() {
        assert!(is_normal(Exit::Process(ExitStatus::Code(2)), &[0, 2]));
        assert!(!is_normal(Exit::Process(ExitStatus::Code(0)), &[2]));
        assert!(!is_normal(Exit::Process(ExitStatus::Signal(15)), &[0, 15]));
    }

    #[test]
    fn strategies_by_position() {
        use Strategy::*;
        let table: [(Strategy, usize, &[usize]); 9] = [
            (OneForOne, 0, &[0]),
            (OneForOne, 1, &[1]),
            (OneForOne, 2, &[2]),
            (OneForAll, 0, &[0, 1, 2]),
            (OneForAll, 1, &[0, 1, 2]),
            (OneForAll, 2, &[0, 1, 2]),
            (RestForOne, 0, &[0, 1, 2]),
            (RestForOne, 1, &[1, 2]),
            (RestForOne, 2, &[2]),
        ];
        for (strategy, failed, expected) in table {
            assert_eq!(
                restart_set(strategy, failed, 3),
                expected,
                "{strategy:?} {failed}"
            );
        }
    }

    #[test]
    fn intensity_allows_exactly_max_restarts_within_the_period() {
        let intensity = Intensity {
            max_restarts: 3,
            period: Duration::from_secs(10),
        };
        let start = Instant::now();
        let mut window = RestartWindow::default();
        for i in 0..3 {
            assert!(window.record(intensity, start + Duration::from_secs(i)));
        }
        assert!(!window.record(intensity, start + Duration::from_secs(3)));
    }

    #[test]
    fn intensity_forgets_restarts_older_than_the_period() {
        let intensity = Intensity {
            max_restarts: 1,
            period: Duration::from_secs(5),
        };
        let start = Instant::now();
        let mut window = RestartWindow::default();
        assert!(window.record(intensity, start));
        assert!(window.record(intensity, start + Duration::from_secs(5)));
        assert!(!window.record(intensity, start + Duration::from_secs(6)));
        assert_eq!(window.len(), 2);
    }

    #[test]
    fn zero_intensity_gives_up_on_the_first_restart() {
        let intensity = Intensity {
            max_restarts: 0,
            period: Duration::from_secs(5),
        };
        assert!(!RestartWindow::default().record(intensity, Instant::now()));
    }

    #[test]
    fn backoff_doubles_from_initial_up_to_max() {
        let backoff = Backoff::default();
        let delays: Vec<u128> = (0..12)
            .map(|n| backoff_delay(&backoff, n).as_millis())
            .collect();
        assert_eq!(
            delays,
            [
                0, 100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30000, 30000
            ]
        );
        assert_eq!(backoff_delay(&backoff, u32::MAX), backoff.max);
    }

    #[test]
    fn backoff_with_zero_initial_is_always_immediate() {
        let backoff = Backoff {
            initial: Duration::ZERO,
            ..Backoff::default()
        };
        assert!((0..50).all(|n| backoff_delay(&backoff, n).is_zero()));
        assert!(
            [1024, 1025, 100_000, u32::MAX]
                .iter()
                .all(|&n| backoff_delay(&backoff, n).is_zero())
        );
    }

    #[test]
    fn a_stable_run_resets_the_attempt_count() {
        let backoff = Backoff::default();
        assert_eq!(next_attempt(4, Duration::from_secs(10), &backoff), 0);
        assert_eq!(next_attempt(4, Duration::from_secs(9), &backoff), 5);
        assert_eq!(next_attempt(0, Duration::ZERO, &backoff), 1);
    }

    #[test]
    fn levels_are_runs_of_equal_priority() {
        let priorities = [1, 1, 2, 3, 3, 3];
        let levels = start_levels(&[0, 1, 2, 3, 4, 5], |i| priorities[i]);
        assert_eq!(levels, vec![vec![0, 1], vec![2], vec![3, 4, 5]]);
        assert_eq!(
            start_levels(&[1, 3], |i| priorities[i]),
            vec![vec![1], vec![3]]
        );
        assert!(start_levels(&[], |i| priorities[i]).is_empty());
    }
}
