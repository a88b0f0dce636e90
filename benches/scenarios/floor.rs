//! The machine's floor, in C (`benches/floor/`, built here with `cc`): `stamp` (the program every
//! restart-latency target keeps running: it appends `PID CLOCK_REALTIME_NS` to a file the moment
//! it runs), `minimal` (the least a supervisor can do: `waitpid`, then `posix_spawn` at once),
//! `crash_loop` (the same for N programs that exit at once) and `spawn_many` (N idle programs up
//! and down from one thread).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The floor programs, built.
pub struct Floor {
    pub stamp: PathBuf,
    pub minimal: PathBuf,
    spawn_many: PathBuf,
    crash_loop: PathBuf,
}

impl Floor {
    /// Builds the programs into `dir`; why not, when `cc` is missing or fails.
    pub fn build(dir: &Path) -> Result<Floor, String> {
        let sources = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/floor");
        let build = |name: &str| -> Result<PathBuf, String> {
            let binary = dir.join(name);
            let output = Command::new("cc")
                .args(["-O2", "-o"])
                .arg(&binary)
                .arg(sources.join(format!("{name}.c")))
                .output()
                .map_err(|e| format!("cannot run cc: {e}"))?;
            if !output.status.success() {
                let why = String::from_utf8_lossy(&output.stderr);
                return Err(format!("cc {name}.c failed: {why}"));
            }
            Ok(binary)
        };
        Ok(Floor {
            stamp: build("stamp")?,
            minimal: build("minimal")?,
            spawn_many: build("spawn_many")?,
            crash_loop: build("crash_loop")?,
        })
    }

    /// `crash_loop program n window`: restarts a second of `n` programs that exit at once.
    pub fn crash_loop(&self, program: &str, n: usize, window: Duration) -> Result<f64, String> {
        let output = Command::new(&self.crash_loop)
            .args([program, &n.to_string(), &window.as_secs_f64().to_string()])
            .output()
            .map_err(|e| format!("cannot run crash_loop: {e}"))?;
        let text = String::from_utf8_lossy(&output.stdout);
        match text.trim().parse::<u64>() {
            Ok(restarts) if output.status.success() => Ok(restarts as f64 / window.as_secs_f64()),
            _ => Err(format!("crash_loop said: {text:?}")),
        }
    }

    /// `spawn_many n`: the time to start `n` idle programs from one thread, and to stop them.
    pub fn spawn_many(&self, n: usize) -> Result<(Duration, Duration), String> {
        let output = Command::new(&self.spawn_many)
            .arg(n.to_string())
            .output()
            .map_err(|e| format!("cannot run spawn_many: {e}"))?;
        let text = String::from_utf8_lossy(&output.stdout);
        let seconds = |prefix: &str| -> Option<Duration> {
            let line = text.lines().find(|l| l.starts_with(prefix))?;
            let value = line.split_whitespace().rev().nth(1)?.parse::<f64>().ok()?;
            Some(Duration::from_secs_f64(value))
        };
        match (seconds("spawned"), seconds("stopped")) {
            (Some(up), Some(down)) => Ok((up, down)),
            _ => Err(format!("spawn_many {n} said: {text:?}")),
        }
    }
}
