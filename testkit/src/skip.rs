//! Skipping a test that cannot run on this host (no root, no cgroup2, no `unshare`, ...): it is
//! said on the real stderr at once and counted as ignored by the [`harness`](crate::harness),
//! never passed silently.

use std::io::Write;

/// The payload a skipped test unwinds with; the harness tells it from a failure.
#[derive(Debug)]
pub struct Skipped(pub String);

/// Ends the running test as skipped, with `reason`: prints `skipped: TEST: reason` straight to the
/// process's stderr (no test harness captures it) and unwinds to the harness, which counts the
/// test as ignored. Use it through [`skip!`](crate::skip!).
pub fn skip_test(reason: String) -> ! {
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("?");
    let _ = writeln!(std::io::stderr().lock(), "skipped: {test}: {reason}");
    std::panic::resume_unwind(Box::new(Skipped(reason)))
}

/// `skip!("no writable cgroup2 ({})", why)`: ends the test as skipped (see [`skip_test`]).
#[macro_export]
macro_rules! skip {
    ($($reason:tt)+) => {
        $crate::skip::skip_test(format!($($reason)+))
    };
}
