//! Stamps the binary with the commit it was built from (`SUPERVISOR_COMMIT`, for
//! `supervisor_build_info`): the environment's `SUPERVISOR_COMMIT` if set, else
//! `git rev-parse --short=12 HEAD`, else `unknown` (a crate built outside a checkout).

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    (output.status.success() && !text.trim().is_empty()).then(|| text.trim().to_string())
}

fn main() {
    println!("cargo:rerun-if-env-changed=SUPERVISOR_COMMIT");
    let commit = std::env::var("SUPERVISOR_COMMIT")
        .ok()
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".to_string());
    // Built again when HEAD moves: a checkout changes HEAD, a commit changes the branch's ref.
    for path in ["HEAD", "packed-refs"]
        .into_iter()
        .filter_map(|name| git(&["rev-parse", "--git-path", name]))
        .chain(
            git(&["symbolic-ref", "-q", "HEAD"])
                .and_then(|reference| git(&["rev-parse", "--git-path", &reference])),
        )
    {
        println!("cargo:rerun-if-changed={path}");
    }
    println!("cargo:rustc-env=SUPERVISOR_COMMIT={commit}");
}
