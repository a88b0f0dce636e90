//! Turns a component's resolved command into a `std::process::Command` set up for a clean child.
//!
//! No shell: the executable gets its arguments verbatim. A bare executable name is looked up in
//! the daemon's own `PATH` here, in the parent, so the child's environment cannot redirect it.

use std::ffi::{CString, OsString};
use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::sys::{self, Credentials};
use crate::spec::CommandSpec;

/// Why a component's process could not be started.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    /// A bare executable name is in no directory of `PATH`.
    #[error("executable `{0}` not found in PATH")]
    NotFound(String),
    /// `fork`, the child's setup or `exec` failed (missing file, EACCES, EAGAIN, a refused
    /// privilege drop, ...).
    #[error("{0}")]
    Exec(#[source] io::Error),
}

/// The environment variable that tells a child which component it is.
pub const COMPONENT_VARIABLE: &str = "SUPERVISOR_COMPONENT";

/// Builds `spec` for component `id` (plus `extra` variables), ready to spawn as a child of
/// `daemon_pid`.
pub fn command(
    id: &str,
    spec: &CommandSpec,
    extra: &[(String, String)],
    daemon_pid: i32,
    cgroup_procs: Option<CString>,
) -> Result<Command, SpawnError> {
    let mut command = Command::new(resolve_executable(&spec.executable)?);
    command.args(&spec.arguments);
    command.arg0(&spec.executable);
    if !spec.inherit_environment {
        command.env_clear();
    }
    command.envs(spec.environment.iter().map(|(name, value)| (name, value)));
    command.envs(extra.iter().map(|(name, value)| (name, value)));
    command.env(COMPONENT_VARIABLE, id);
    if let Some(directory) = &spec.working_directory {
        command.current_dir(directory);
    }
    command.stdin(Stdio::null());
    let credentials = spec.user.as_ref().map(|user| Credentials {
        uid: user.uid,
        gid: user.gid,
        groups: user.groups.clone(),
    });
    sys::prepare_child(&mut command, daemon_pid, credentials, cgroup_procs);
    Ok(command)
}

/// An executable with a `/` is used as it is; a bare name is searched in the daemon's `PATH`.
fn resolve_executable(executable: &Path) -> Result<PathBuf, SpawnError> {
    if executable.as_os_str().as_encoded_bytes().contains(&b'/') {
        return Ok(executable.to_path_buf());
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| OsString::from("/usr/bin:/bin"));
    std::env::split_paths(&path)
        .map(|directory| directory.join(executable))
        .find(|candidate| is_executable_file(candidate))
        .ok_or_else(|| SpawnError::NotFound(executable.to_string_lossy().into_owned()))
}

fn is_executable_file(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_names_are_found_in_path_and_paths_are_kept() {
        assert!(resolve_executable(Path::new("sh")).unwrap().is_absolute());
        assert_eq!(
            resolve_executable(Path::new("./x")).unwrap(),
            PathBuf::from("./x")
        );
        assert!(matches!(
            resolve_executable(Path::new("no-such-program-anywhere")),
            Err(SpawnError::NotFound(_))
        ));
    }
}
