//! Where the programs under test are. `supervisor` is handed in by the package that builds it
//! ([`use_supervisor`], from `env!("CARGO_BIN_EXE_supervisor")`), or else found in the target
//! directory of the running test executable. `standin` is found in that same directory and, when it
//! is missing or older than its source, built there once per process (`cargo build -p testkit
//! --bin standin`, same profile): `env!("CARGO_BIN_EXE_standin")` only exists inside the testkit
//! package, and a fresh clone has no binary yet.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::SystemTime;

static SUPERVISOR: OnceLock<String> = OnceLock::new();
static STANDIN: OnceLock<String> = OnceLock::new();

/// Names the supervisor binary under test; the first call wins. Call it before anything starts a
/// daemon (the integration tests' and benches' `main` do).
pub fn use_supervisor(path: &str) {
    let _ = SUPERVISOR.set(path.to_owned());
}

/// The supervisor binary under test.
pub fn supervisor_bin() -> &'static str {
    SUPERVISOR.get_or_init(|| path_text(profile_dir().join("supervisor")))
}

/// The stand-in component program, built first if it is missing or stale.
pub fn standin() -> &'static str {
    STANDIN.get_or_init(|| {
        let binary = profile_dir().join("standin");
        if is_stale(&binary) {
            build_standin(&binary);
        }
        path_text(binary)
    })
}

/// The directory of the running executable's profile (`target/debug`, `target/release`, ...):
/// tests and benches run from its `deps/` folder.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("path of the test executable");
    let dir = exe.parent().expect("the test executable's directory");
    match dir.file_name() {
        Some(name) if name == "deps" => dir.parent().unwrap_or(dir).to_path_buf(),
        _ => dir.to_path_buf(),
    }
}

/// Whether `binary` is missing or older than any source file of the stand-in.
fn is_stale(binary: &Path) -> bool {
    let Ok(built) = binary.metadata().and_then(|m| m.modified()) else {
        return true;
    };
    newest_source().is_some_and(|source| source > built)
}

/// The newest modification time among the stand-in's sources (absent when the testkit's source
/// tree is not where it was compiled, e.g. an executable copied elsewhere).
fn newest_source() -> Option<SystemTime> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut sources = vec![manifest.join("Cargo.toml")];
    let bin = manifest.join("src/bin");
    for entry in walk(&bin) {
        sources.push(entry);
    }
    sources
        .iter()
        .filter_map(|path| path.metadata().and_then(|m| m.modified()).ok())
        .max()
}

/// Every file below `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .flat_map(|entry| {
            let path = entry.path();
            if path.is_dir() {
                walk(&path)
            } else {
                vec![path]
            }
        })
        .collect()
}

/// Builds `binary` (`<target>/<profile>/standin`) with cargo, in the profile of its directory.
fn build_standin(binary: &Path) {
    let profile_dir = binary.parent().expect("profile directory");
    let profile = profile_dir
        .file_name()
        .and_then(|name| name.to_str())
        .expect("profile name");
    let target_dir = profile_dir.parent().expect("target directory");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let profile = if profile == "debug" { "dev" } else { profile };
    eprintln!("testkit: building {} ({profile})", binary.display());
    let status = Command::new(cargo)
        .arg("build")
        .arg("--manifest-path")
        .arg(&manifest)
        .args([
            "--package",
            "testkit",
            "--bin",
            "standin",
            "--profile",
            profile,
        ])
        .env("CARGO_TARGET_DIR", target_dir)
        .status()
        .expect("run cargo to build the stand-in");
    assert!(status.success(), "cargo could not build the stand-in");
    assert!(binary.exists(), "cargo built no {}", binary.display());
}

/// A path as text (test registries embed it in XML).
fn path_text(path: PathBuf) -> String {
    path.into_os_string()
        .into_string()
        .expect("the target directory's path is UTF-8")
}
