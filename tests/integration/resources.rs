//! Bounded resources under any flood (issue 12): a component flooding 16 KiB lines of control
//! bytes (each a ~98 KB JSON line) into a daemon whose stderr nobody reads keeps the daemon's
//! peak RSS under 64 MiB, and what the log dropped is counted in lines and bytes; a component
//! file on a full disk costs one warning (not one per line), drops lines without retrying each,
//! and resumes by itself when space returns, the component untouched.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde_json::Value;
use testkit::*;

/// The peak RSS a flooded daemon may reach (issue 12).
const RSS_LIMIT: u64 = 64 * 1024 * 1024;

/// A component printing 16 KiB lines of control bytes as fast as it can.
const CONTROL_FLOOD: &str = r#"<server id="flood"><executable>/bin/sh</executable><arguments><argument>-c</argument><argument>exec yes "$(head -c 16383 /dev/zero | tr '\0' '\1')"</argument></arguments></server>"#;

/// A `/proc/PID/status` field in bytes (`VmHWM:   1234 kB`).
fn status_bytes(pid: u32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let line = status.lines().find(|l| l.starts_with(key)).expect(key);
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

/// A flood into a daemon whose stderr is a pipe nobody reads for three seconds: its peak RSS
/// stays under 64 MiB; once the pipe is read, `log_lines_dropped` says how many lines and bytes
/// were lost (the positive control: the log was full).
fn a_flood_into_a_stuck_stderr_keeps_the_daemon_small_and_counts_the_loss() {
    let dir = tempfile::tempdir().expect("tempdir");
    let registry_path = dir.path().join("SupervisorRegistry.xml");
    std::fs::write(&registry_path, registry("", CONTROL_FLOOD)).unwrap();
    let mut child = daemon_command(None, &registry_path, &dir.path().join("run"))
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn supervisor");
    let pid = child.id();
    let flooding = Instant::now();
    let journal = dir.path().join("run").join("children");
    eventually("the flooder runs", || {
        std::fs::read_to_string(&journal).is_ok_and(|j| !j.is_empty())
    });
    // The pipe's 64 KiB fill at once; what comes after waits in the daemon, or is dropped.
    while flooding.elapsed() < Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let peak = status_bytes(pid, "VmHWM:");
    println!(
        "crash: peak RSS of a daemon flooded into a stuck stderr: {} KiB",
        peak / 1024
    );
    assert!(peak < RSS_LIMIT, "peak RSS {peak} bytes");

    let stderr = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .filter_map(|line| serde_json::from_str::<Value>(&line).ok())
            .filter(|e| e["event"] == "log_lines_dropped")
            .collect::<Vec<Value>>()
    });
    kill(pid, Signal::SIGTERM);
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(0));
    let drops = reader.join().expect("reader");
    let (lines, bytes) = drops.iter().fold((0, 0), |(l, b), e| {
        (
            l + e["dropped"].as_u64().unwrap_or(0),
            b + e["bytes"].as_u64().unwrap_or(0),
        )
    });
    assert!(lines > 0 && bytes > lines * 16 * 1024, "{drops:?}");
}

/// A tmpfs of 256 KiB mounted for the test, unmounted when dropped.
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(at: &Path) -> SmallDisk {
        std::fs::create_dir_all(at).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=256k", "none"])
            .arg(at)
            .status()
            .expect("mount");
        if !status.success() {
            skip!("cannot mount a tmpfs here");
        }
        SmallDisk(at.to_path_buf())
    }

    /// Fills it up with one file; its path.
    fn fill(&self) -> PathBuf {
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

/// CPU time (user + system) of the daemon's thread named `name`, in clock ticks.
fn thread_ticks(pid: u32, name: &str) -> u64 {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("tasks");
    tasks
        .flatten()
        .filter(|t| std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim() == name))
        .filter_map(|t| {
            let stat = std::fs::read_to_string(t.path().join("stat")).ok()?;
            let rest = &stat[stat.rfind(')')? + 2..];
            let fields: Vec<&str> = rest.split(' ').collect();
            Some(fields[11].parse::<u64>().ok()? + fields[12].parse::<u64>().ok()?)
        })
        .sum()
}

/// A full disk under a component file: one `output_write_failed` (with its count) while the
/// flood goes on, the writer thread nearly idle, and once space returns `output_write_resumed`
/// and the file grows again — the component never restarted.
fn a_full_disk_costs_one_warning_and_the_file_resumes_when_space_returns() {
    testkit::skip::require_root("to mount a small tmpfs");
    let dir = tempfile::tempdir().expect("tempdir");
    let disk = SmallDisk::mount(&dir.path().join("logs"));
    let filler = disk.fill();
    let server = standin_server(
        "chatty",
        &["--flood", "2000000000", "--line-bytes", "100"],
        r#"<output file="logs/{id}.log" log="false" timestamps="false" overflow="drop"/>"#,
    );
    let mut daemon = Daemon::start_in(dir, &registry("", &server));
    let pid = daemon.started_pid("chatty");
    let failed = daemon.wait_any("output_write_failed");
    assert_eq!(
        failed["lost"], 1,
        "the first failure is said at once: {failed}"
    );
    let ticks_before = thread_ticks(daemon.pid(), "output-files");
    let window = Instant::now();
    while window.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let ticks = thread_ticks(daemon.pid(), "output-files") - ticks_before;
    let share = ticks as f64 / 100.0 / window.elapsed().as_secs_f64();
    println!(
        "crash: the file writer's CPU with a full disk under a flood: {:.1} %",
        share * 100.0
    );
    assert!(
        share < 0.25,
        "the writer spent {:.0} % of a core",
        share * 100.0
    );
    assert_eq!(
        daemon.count("output_write_failed"),
        1,
        "one warning, not one per line"
    );

    std::fs::remove_file(&filler).unwrap();
    let resumed = daemon.wait_any("output_write_resumed");
    assert!(resumed["lost"].as_u64().unwrap() > 0, "{resumed}");
    let file = disk.0.join("chatty.log");
    let size = || std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    let after = size();
    eventually("the file grows again", || size() > after);
    assert_eq!(daemon.count("component_started"), 1, "never restarted");
    assert!(alive(pid));
    assert_eq!(daemon.stop(), Some(0));
}

/// The tests of this module, in file order, for the harness of main.rs.
pub const TESTS: &[testkit::harness::Test] = testkit::tests![
    a_flood_into_a_stuck_stderr_keeps_the_daemon_small_and_counts_the_loss,
    a_full_disk_costs_one_warning_and_the_file_resumes_when_space_returns,
];
