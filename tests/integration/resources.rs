//! Bounded resources under any flood (issue 12; the measurements are `testkit::floods`): a
//! component flooding 16 KiB lines of control bytes (each a ~98 KB JSON line) into a daemon whose
//! stderr nobody reads keeps the daemon's peak RSS under 64 MiB, and what the log dropped is
//! counted in lines and bytes; a component file on a full disk costs one warning (not one per
//! line), drops lines without trying each, and resumes by itself when space returns, the
//! component untouched.

use std::time::Duration;

use testkit::floods::{self, SmallDisk};

/// The peak RSS a flooded daemon may reach (issue 12).
const RSS_LIMIT: u64 = 64 * 1024 * 1024;

/// Three seconds of flood into a stuck stderr: the daemon stays under 64 MiB; once the pipe is
/// read, `log_lines_dropped` says how many lines and bytes were lost (the positive control: the
/// log was full) and the daemon stops in order.
fn a_flood_into_a_stuck_stderr_keeps_the_daemon_small_and_counts_the_loss() {
    let flood = floods::stuck_stderr(Duration::from_secs(3));
    println!("resources: {flood:?}");
    assert!(flood.peak_rss < RSS_LIMIT, "{flood:?}");
    let (lines, bytes) = flood.dropped;
    assert!(lines > 0 && bytes > lines * 16 * 1024, "{flood:?}");
    assert_eq!(flood.exit, Some(0));
}

/// A full disk under a component file: one `output_write_failed` (the first line said at once)
/// while the flood goes on, the writer thread nearly idle, and once space returns
/// `output_write_resumed` and the file grows again — the component never restarted.
fn a_full_disk_costs_one_warning_and_the_file_resumes_when_space_returns() {
    testkit::skip::require_root("to mount a small tmpfs");
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(disk) = SmallDisk::mount(&dir.path().join("logs")) else {
        testkit::skip!("cannot mount a tmpfs here");
    };
    let full = floods::full_disk(dir, &disk, Duration::from_secs(2));
    println!("resources: {full:?}");
    assert_eq!(full.first_warning["lost"], 1, "{full:?}");
    assert_eq!(full.warnings, 1, "one warning, not one per line: {full:?}");
    // Generous under a loaded CI host; the bench measures it (README).
    assert!(full.writer_cpu < 0.25, "{full:?}");
    assert!(full.resumed["lost"].as_u64().unwrap_or(0) > 0, "{full:?}");
    assert_eq!(full.starts, 1, "never restarted: {full:?}");
}

/// The tests of this module, in file order, for the harness of main.rs.
pub const TESTS: &[testkit::harness::Test] = testkit::tests![
    a_flood_into_a_stuck_stderr_keeps_the_daemon_small_and_counts_the_loss,
    a_full_disk_costs_one_warning_and_the_file_resumes_when_space_returns,
];
