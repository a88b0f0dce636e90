//! The two floods of issue 12, measured on the real daemon for the integration tests and the
//! `soak` bench alike: 16 KiB lines of control bytes into a daemon whose stderr nobody reads
//! ([`stuck_stderr`]), and a component file on a full disk under a flood ([`full_disk`]).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde_json::Value;

use crate::{Daemon, daemon_command, eventually, kill, registry};

/// A component printing 16 KiB lines of control bytes (each a ~98 KB JSON line) at full speed.
const CONTROL_FLOOD: &str = r#"<server id="flood"><executable>/bin/sh</executable><arguments><argument>-c</argument><argument>exec yes "$(head -c 16383 /dev/zero | tr '\0' '\1')"</argument></arguments></server>"#;

/// What a flood into a stuck stderr cost.
#[derive(Debug)]
pub struct StuckStderr {
    /// The daemon's peak RSS (`VmHWM`) after the flood, in bytes.
    pub peak_rss: u64,
    /// Lines and bytes the daemon's log dropped, as `log_lines_dropped` said once read.
    pub dropped: (u64, u64),
    /// The daemon's exit code after SIGTERM.
    pub exit: Option<i32>,
}

/// A `/proc/PID/status` field in bytes (`VmHWM:   1234 kB`).
fn status_bytes(pid: u32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Floods the log of a daemon whose stderr is a pipe nobody reads, for `length`; then reads the
/// pipe, stops the daemon and sums what it says it dropped.
pub fn stuck_stderr(length: Duration) -> StuckStderr {
    let dir = tempfile::tempdir().expect("tempdir");
    let registry_path = dir.path().join("SupervisorRegistry.xml");
    std::fs::write(&registry_path, registry("", CONTROL_FLOOD)).unwrap();
    let mut child = daemon_command(None, &registry_path, &dir.path().join("run"))
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn supervisor");
    let pid = child.id();
    let journal = dir.path().join("run").join("children");
    eventually("the flooder runs", || {
        std::fs::read_to_string(&journal).is_ok_and(|j| !j.is_empty())
    });
    std::thread::sleep(length);
    let peak_rss = status_bytes(pid, "VmHWM:");
    let stderr = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .filter_map(|line| serde_json::from_str::<Value>(&line).ok())
            .filter(|e| e["event"] == "log_lines_dropped")
            .fold((0, 0), |(lines, bytes), e| {
                (
                    lines + e["dropped"].as_u64().unwrap_or(0),
                    bytes + e["bytes"].as_u64().unwrap_or(0),
                )
            })
    });
    kill(pid, Signal::SIGTERM);
    let exit = child.wait().expect("wait").code();
    StuckStderr {
        peak_rss,
        dropped: reader.join().expect("reader"),
        exit,
    }
}

/// A tmpfs of 256 KiB, unmounted when dropped.
pub struct SmallDisk(pub PathBuf);

impl SmallDisk {
    /// Mounts one at `at`; `None` where mounting is not permitted.
    pub fn mount(at: &Path) -> Option<SmallDisk> {
        std::fs::create_dir_all(at).ok()?;
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=256k", "none"])
            .arg(at)
            .stderr(Stdio::null())
            .status()
            .ok()?;
        status.success().then(|| SmallDisk(at.to_path_buf()))
    }

    /// Fills it up with one file; its path.
    pub fn fill(&self) -> PathBuf {
        let filler = self.0.join("filler");
        let _ = std::fs::write(&filler, vec![0u8; 1024 * 1024]);
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// CPU time (user + system) of the daemon's thread named `name`, in clock ticks. Panics when the
/// daemon has no such thread: a renamed thread would otherwise measure as idle.
pub fn thread_ticks(pid: u32, name: &str) -> u64 {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap_or_else(|e| panic!("the threads of {pid}: {e}"));
    let ticks: Vec<u64> = tasks
        .flatten()
        .filter(|t| std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim() == name))
        .filter_map(|t| {
            let stat = std::fs::read_to_string(t.path().join("stat")).ok()?;
            let rest = &stat[stat.rfind(')')? + 2..];
            let fields: Vec<&str> = rest.split(' ').collect();
            Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
        })
        .collect();
    assert!(!ticks.is_empty(), "{pid} has no thread named {name:?}");
    ticks.iter().sum()
}

/// What a full disk under a flood cost.
#[derive(Debug)]
pub struct FullDisk {
    /// The first `output_write_failed`.
    pub first_warning: Value,
    /// `output_write_failed` events while the disk was full.
    pub warnings: usize,
    /// The file writer thread's share of a core while the disk was full.
    pub writer_cpu: f64,
    /// `output_write_resumed`, once space returned (and the file grew again after it).
    pub resumed: Value,
    /// Processes the component started (1: never restarted).
    pub starts: usize,
}

/// A component flooding 100-byte lines (`yes`) into a file on a full 256 KiB tmpfs (at `disk`, in
/// `dir`), watched for `window`; then space returns.
pub fn full_disk(dir: tempfile::TempDir, disk: &SmallDisk, window: Duration) -> FullDisk {
    let filler = disk.fill();
    // `yes`: a flood that never ends, whatever the machine's speed.
    let server = format!(
        r#"<server id="chatty"><executable>yes</executable><arguments><argument>{}</argument></arguments><output file="logs/{{id}}.log" log="false" timestamps="false" overflow="drop"/></server>"#,
        "x".repeat(99)
    );
    let mut daemon = Daemon::start_in(dir, &registry("", &server));
    daemon.started_pid("chatty");
    let first_warning = daemon.wait_any("output_write_failed");
    let before = thread_ticks(daemon.pid(), "output-files");
    let watching = Instant::now();
    std::thread::sleep(window);
    let ticks = thread_ticks(daemon.pid(), "output-files") - before;
    let writer_cpu = ticks as f64 / 100.0 / watching.elapsed().as_secs_f64();
    let warnings = daemon.count("output_write_failed");
    std::fs::remove_file(&filler).expect("remove the filler");
    let resumed = daemon.wait_any("output_write_resumed");
    let file = disk.0.join("chatty.log");
    let size = || std::fs::metadata(&file).map_or(0, |m| m.len());
    let after = size();
    eventually("the file grows again", || size() > after);
    let starts = daemon.count("component_started");
    assert_eq!(daemon.stop(), Some(0));
    FullDisk {
        first_warning,
        warnings,
        writer_cpu,
        resumed,
        starts,
    }
}
