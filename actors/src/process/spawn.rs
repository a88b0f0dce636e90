//! Turns a component's resolved command into a [`Launch`]: the program, argv and environment
//! as C strings, built in the parent so that the child only has to read them. Environment files
//! are read here, each time a launch is built: a command with any is built anew for every
//! start ([`Launch::reusable`]), so a restart picks up an edit.
//!
//! No shell: the executable gets its arguments verbatim. A bare executable name is looked up in
//! the daemon's own `PATH` here, in the parent, so the child's environment cannot redirect it.

use std::collections::BTreeMap;
use std::ffi::{CStr, CString, OsStr, OsString};
use std::io;
use std::os::fd::BorrowedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::envfile;
use super::stdio::ChildStdio;
use super::sys::{
    self, CStringArray, CgroupJoin, ChildError, ChildPlan, ChildSettings, ChildStack, Credentials,
    EnvironmentArray, FileLimit, OwnEnvironment, SpawnMode, StdioSlots,
};
use crate::spec::{CommandSpec, ProcessSettings, Resource};

/// Why a component's process could not be started.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    /// A bare executable name is in no directory of `PATH`.
    #[error("executable `{0}` not found in PATH")]
    NotFound(String),
    /// Preparing the child failed in the daemon (pipes, cgroup, a NUL byte in an argument).
    #[error("{0}")]
    Prepare(#[source] io::Error),
    /// The child could not be created, or failed before running its program (missing file,
    /// EACCES, EAGAIN, a refused privilege drop, ...).
    #[error("{0}")]
    Child(#[from] ChildError),
    /// An environment file is missing, unreadable or malformed: `PATH[:LINE]: reason`.
    #[error("envfile: {0}")]
    EnvironmentFile(String),
    /// `<user>` names no user of this host (`unknown user `NAME``): SPEC's `setuid:` step.
    #[error("setuid: {0}")]
    User(String),
}

/// The environment variable that tells a child which component it is.
pub const COMPONENT_VARIABLE: &str = "SUPERVISOR_COMPONENT";

/// The variable that tells a child how many sockets it was passed (from descriptor 3 on); a
/// launch that sets it also gets `LISTEN_PID`, which each child fills in with its own pid.
pub const LISTEN_FDS: &str = "LISTEN_FDS";

/// A command ready to start: everything the child needs, as C strings.
pub struct Launch {
    program: CString,
    arguments: CStringArray,
    /// Its own variables; `inherited` (the daemon's, empty when it inherits none) is added at
    /// each start.
    environment: OwnEnvironment,
    inherited: &'static [(OsString, CString)],
    directory: Option<CString>,
    /// Boxed: most components run as the daemon's user, and every component keeps a launch.
    credentials: Option<Box<Credentials>>,
    settings: ProcessSettings,
    /// Whether environment files went into it (then it is not reused).
    read_files: bool,
}

impl Launch {
    /// Builds `spec` for component `id`: its environment, then the variables of its
    /// environment files (read now, in order), then `extra`.
    pub fn new(
        id: &str,
        spec: &CommandSpec,
        extra: &[(String, String)],
    ) -> Result<Self, SpawnError> {
        if let Some(why) = &spec.unknown_user {
            return Err(SpawnError::User(why.clone()));
        }
        let program = c_string(resolve_executable(&spec.executable)?.as_os_str())?;
        let arguments = std::iter::once(spec.executable.as_os_str())
            .chain(spec.arguments.iter().map(OsStr::new))
            .map(|argument| c_string(argument).map(CString::into_boxed_c_str))
            .collect::<Result<_, _>>()?;
        let mut from_files = Vec::new();
        for file in &spec.environment_files {
            from_files.extend(envfile::read(file).map_err(SpawnError::EnvironmentFile)?);
        }
        let temp_dir = (spec.temp_dir.as_ref())
            .map(|dir| ("TMPDIR".to_string(), dir.to_string_lossy().into_owned()));
        let mut overrides: BTreeMap<&str, &str> = BTreeMap::new();
        for (name, value) in (spec.environment.iter())
            .chain(&temp_dir)
            .chain(&from_files)
            .chain(extra)
        {
            overrides.insert(name, value);
        }
        overrides.insert(COMPONENT_VARIABLE, id);
        let passes_sockets = overrides.contains_key(LISTEN_FDS);
        if passes_sockets {
            // The child's own pid goes there (its slot, below): one set by the registry or an
            // environment file would come first, and the child would take its sockets for
            // another process's.
            overrides.remove("LISTEN_PID");
        }
        let inherited = match spec.inherit_environment {
            true => inherited_environment()?,
            false => &[],
        };
        let mut environment: Vec<Box<CStr>> = Vec::with_capacity(overrides.len());
        for (name, value) in overrides {
            environment.push(c_string(OsStr::new(&format!("{name}={value}")))?.into_boxed_c_str());
        }
        let directory = spec
            .working_directory
            .as_deref()
            .map(|directory| c_string(directory.as_os_str()))
            .transpose()?;
        let credentials = spec.user.as_ref().map(|user| {
            Box::new(Credentials {
                uid: user.uid,
                gid: user.gid,
                groups: user.groups.clone(),
            })
        });
        Ok(Launch {
            program,
            arguments: CStringArray::new(arguments),
            environment: OwnEnvironment::new(environment, passes_sockets),
            inherited,
            directory,
            credentials,
            settings: spec.settings.clone(),
            read_files: !spec.environment_files.is_empty(),
        })
    }

    /// Whether the launch may start the component again: not when it holds what environment
    /// files said (they are read anew for each start).
    pub fn reusable(&self) -> bool {
        !self.read_files
    }

    /// Starts the child with `stdio` and `sockets` (as 3, 4, …) where and how `placement` says
    /// (with the children's default open-file limit unless the command sets `nofile` itself),
    /// and returns its pid. The caller holds the process table's lock.
    pub fn start(
        &self,
        stdio: &ChildStdio,
        sockets: &[BorrowedFd<'_>],
        placement: Placement<'_>,
        stack: &mut ChildStack,
        slots: &mut StdioSlots,
    ) -> Result<libc::pid_t, SpawnError> {
        let own_nofile = (self.settings.limits.iter()).any(|l| l.resource == Resource::Nofile);
        let settings =
            ChildSettings::new(&self.settings, placement.file_limit.map(|limit| limit.soft));
        let environment =
            EnvironmentArray::new(self.inherited(), self.inherited.len(), &self.environment);
        let plan = ChildPlan {
            program: &self.program,
            arguments: &self.arguments,
            environment: &environment,
            stdio: stdio.descriptors().map_err(SpawnError::Prepare)?,
            sockets,
            directory: self.directory.as_deref(),
            cgroup: placement.cgroup,
            credentials: self.credentials.as_deref(),
            file_limit: placement.file_limit.filter(|_| !own_nofile),
            settings: &settings,
            parent: placement.parent,
        };
        Ok(sys::spawn(&plan, placement.mode, stack, slots)?)
    }

    /// The daemon's variables this launch passes on, less those it sets itself. They live as
    /// long as the daemon: a pointer each, no copy.
    fn inherited(&self) -> impl Iterator<Item = &'static CStr> + '_ {
        (self.inherited.iter())
            .filter(|(name, _)| !self.environment.sets(name.as_bytes()))
            .map(|(_, variable)| &**variable)
    }
}

/// Where and how a child starts, besides its command.
pub struct Placement<'a> {
    /// The cgroup it goes to, if any.
    pub cgroup: Option<CgroupJoin<'a>>,
    /// The open-file limit it gets instead of the daemon's, if any.
    pub file_limit: Option<FileLimit>,
    /// The daemon's pid: the child gives up if its parent is already someone else.
    pub parent: libc::pid_t,
    /// How it is created.
    pub mode: SpawnMode,
}

/// What a service manager says to the daemon alone (systemd's notification socket, watchdog and
/// socket activation), and what a predecessor image of the daemon hands over at an upgrade
/// (`src/upgrade`, `src/guardian`): never handed on to a component, whose own are set per start.
pub const FOR_THE_DAEMON: [&str; 10] = [
    "NOTIFY_SOCKET",
    "WATCHDOG_USEC",
    "WATCHDOG_PID",
    "LISTEN_FDS",
    "LISTEN_PID",
    "LISTEN_FDNAMES",
    "SUPERVISOR_HANDOVER",
    "SUPERVISOR_HANDOVER_ROLLED_BACK",
    "SUPERVISOR_UPGRADE_FAIL_RESTORE",
    "SUPERVISOR_GUARDIAN",
];

/// The daemon's environment as `NAME=value` C strings, less [`FOR_THE_DAEMON`], read once and
/// shared by every command that inherits it (the daemon never changes its environment; with
/// 10,000 components, a copy each would cost megabytes).
fn inherited_environment() -> Result<&'static [(OsString, CString)], SpawnError> {
    static INHERITED: OnceLock<Vec<(OsString, CString)>> = OnceLock::new();
    if let Some(inherited) = INHERITED.get() {
        return Ok(inherited);
    }
    let variables = std::env::vars_os()
        .filter(|(name, _)| !FOR_THE_DAEMON.iter().any(|own| name == own))
        .map(|(name, value)| {
            let mut variable = name.clone();
            variable.push("=");
            variable.push(value);
            Ok((name, c_string(&variable)?))
        })
        .collect::<Result<_, SpawnError>>()?;
    Ok(INHERITED.get_or_init(|| variables))
}

/// `text` as a C string; a NUL byte in it is an error.
fn c_string(text: &OsStr) -> Result<CString, SpawnError> {
    CString::new(text.as_bytes()).map_err(|_| {
        SpawnError::Prepare(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} contains a NUL byte", text.to_string_lossy()),
        ))
    })
}

/// An executable with a `/` is used as it is; a bare name is searched in the daemon's `PATH`
/// (also for `supervisor check`, which says in advance what a spawn will find).
pub fn resolve_executable(executable: &Path) -> Result<PathBuf, SpawnError> {
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
