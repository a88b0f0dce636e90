//! Puts the commit and the build time into `supervisor --version` (`SUPERVISOR_COMMIT`,
//! `SUPERVISOR_BUILD_EPOCH`, seconds; the binary writes the day). Outside a git checkout the
//! commit reads `unknown`; a set `SOURCE_DATE_EPOCH` fixes the time, for reproducible builds.

use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    (output.status.success() && !text.trim().is_empty()).then(|| text.trim().to_string())
}

fn main() {
    let commit = std::env::var("SUPERVISOR_COMMIT")
        .ok()
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".into());
    let seconds = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|text| text.parse::<u64>().ok())
        .unwrap_or_else(|| {
            let now = SystemTime::now().duration_since(UNIX_EPOCH);
            now.map_or(0, |since| since.as_secs())
        });
    println!("cargo:rustc-env=SUPERVISOR_COMMIT={commit}");
    println!("cargo:rustc-env=SUPERVISOR_BUILD_EPOCH={seconds}");
    println!("cargo:rerun-if-env-changed=SUPERVISOR_COMMIT");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    // A commit or a checkout moves HEAD's log: that is when the commit can change.
    if let Some(dir) = git(&["rev-parse", "--git-dir"]) {
        println!("cargo:rerun-if-changed={dir}/HEAD");
        println!("cargo:rerun-if-changed={dir}/logs/HEAD");
    }
}
