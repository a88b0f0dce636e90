//! Skipping a test that cannot run on this host (no root, no cgroup2, no `unshare`, ...): it is
//! said on the real stderr at once and counted as ignored by the [`harness`](crate::harness),
//! never passed silently.

use std::io::Write;
use std::path::{Path, PathBuf};

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

/// Whether this process runs as root (effective uid 0).
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Skips the running test unless it runs as root; `what` says what needs root.
pub fn require_root(what: &str) {
    if !is_root() {
        skip_test(format!("needs root {what}"));
    }
}

/// Where the system tool `name` is installed (`/usr/bin`, `/bin`, `/usr/sbin`, `/sbin`), if it is.
pub fn tool(name: &str) -> Option<PathBuf> {
    ["/usr/bin", "/bin", "/usr/sbin", "/sbin"]
        .iter()
        .map(|dir| Path::new(dir).join(name))
        .find(|path| path.exists())
}

/// The path of the system tool `name`; skips the running test when it is not installed.
pub fn require_tool(name: &str) -> PathBuf {
    tool(name).unwrap_or_else(|| skip_test(format!("{name} is not installed")))
}

/// Where the cgroup2 hierarchy is mounted, if there is one and this process (root) may write it.
pub fn writable_cgroup2() -> Option<String> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let mount = mountinfo
        .lines()
        .find(|l| l.contains(" - cgroup2 "))?
        .split(' ')
        .nth(4)?;
    is_root().then(|| mount.to_string())
}
