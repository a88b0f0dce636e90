//! A child's start time as `/proc/PID/stat` gives it (clock ticks since boot), known without
//! reading `/proc`: the kernel stamps a new process with the boot-time clock while `clone`
//! runs, so when the clock reads the same tick just before the spawn and just after it, that
//! tick is the child's start time. The process table checks this against `/proc` for its first
//! children before it relies on it.

use nix::time::{ClockId, clock_gettime};

/// The boot-time clock now, in ns (`CLOCK_BOOTTIME`, time namespace included, as the kernel
/// reports start times).
pub fn boottime_ns() -> u64 {
    clock_gettime(ClockId::CLOCK_BOOTTIME).map_or(0, |now| {
        let seconds = u64::try_from(now.tv_sec()).unwrap_or(0);
        let nanoseconds = u64::try_from(now.tv_nsec()).unwrap_or(0);
        seconds * 1_000_000_000 + nanoseconds
    })
}

/// The start time, in ticks of `ticks_per_second`, of a process created between `before` and
/// `after` (boot-time ns): known when both fall in the same tick.
pub fn start_ticks_between(before: u64, after: u64, ticks_per_second: u64) -> Option<u64> {
    let ns_per_tick = 1_000_000_000u64.checked_div(ticks_per_second)?;
    let tick = before.checked_div(ns_per_tick)?;
    (after / ns_per_tick == tick && before <= after && before > 0).then_some(tick)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::{procfs, sys};

    #[test]
    fn a_spawn_within_one_tick_has_that_tick() {
        assert_eq!(
            start_ticks_between(1_230_000_000, 1_239_999_999, 100),
            Some(123)
        );
        assert_eq!(start_ticks_between(1_239_999_999, 1_240_000_000, 100), None);
        assert_eq!(start_ticks_between(5, 4, 100), None);
        assert_eq!(start_ticks_between(0, 0, 100), None);
        assert_eq!(start_ticks_between(1, 2, 0), None);
    }

    /// The arithmetic agrees with the kernel's own: real processes, compared with `/proc`.
    #[test]
    fn computed_start_times_match_proc() {
        let hz = sys::clock_ticks_per_second();
        let mut compared = 0;
        for _ in 0..20 {
            let before = boottime_ns();
            let mut child = std::process::Command::new("sleep")
                .arg("5")
                .spawn()
                .expect("spawn sleep");
            let after = boottime_ns();
            let pid = child.id() as i32;
            if let Some(computed) = start_ticks_between(before, after, hz) {
                assert_eq!(Some(computed), procfs::start_ticks(pid), "pid {pid}");
                compared += 1;
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        assert!(compared > 0, "no spawn fit in one tick");
    }
}
