//! The soak and the floods of issue 12, measured (a `cargo bench` target, not a CI test):
//!
//! ```sh
//! cargo bench --bench soak                  # all three, the soak for SOAK_MINUTES (default 5)
//! cargo bench --bench soak -- flood         # 16 KiB control-byte lines into a stuck stderr
//! cargo bench --bench soak -- disk          # a flood into a file on a full disk (root)
//! SOAK_MINUTES=30 cargo bench --bench soak -- soak
//! ```
//!
//! The soak: 50 components under random SIGKILLs, operator commands, reloads, SIGHUPs and
//! output floods, checked from the JSON log and `/proc` (see `testkit::soak`); its 30-second
//! version runs in CI (`tests/integration/soak.rs`).

use std::time::Duration;

use testkit::floods::{self, SmallDisk};

fn main() {
    testkit::use_supervisor(env!("CARGO_BIN_EXE_supervisor"));
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let runs = |name: &str| wanted.is_empty() || wanted.iter().any(|w| w == name);
    if runs("flood") {
        let flood = floods::stuck_stderr(Duration::from_secs(10));
        println!(
            "flood: 10 s of 16 KiB control-byte lines into a stuck stderr: peak RSS {:.1} MiB; \
             dropped {} lines, {:.1} MiB",
            flood.peak_rss as f64 / 1048576.0,
            flood.dropped.0,
            flood.dropped.1 as f64 / 1048576.0
        );
    }
    if runs("disk") {
        disk();
    }
    if runs("soak") {
        let minutes: u64 = std::env::var("SOAK_MINUTES")
            .ok()
            .and_then(|m| m.parse().ok())
            .unwrap_or(5);
        let figures = testkit::soak::run(Duration::from_secs(minutes * 60));
        println!("soak: {minutes} min: {figures:?}");
    }
}

/// The full-disk measurement (root: it mounts a small tmpfs).
fn disk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(disk) = SmallDisk::mount(&dir.path().join("logs")) else {
        println!("disk: skipped (cannot mount a tmpfs: needs root)");
        return;
    };
    let full = floods::full_disk(dir, &disk, Duration::from_secs(10));
    println!(
        "disk: 10 s of flood into a full disk: {} warning(s), file writer {:.1} % of a core, \
         resumed after {} lines lost, {} start(s)",
        full.warnings,
        full.writer_cpu * 100.0,
        full.resumed["lost"],
        full.starts
    );
}
