//! The run directory: the instance lock, the pid file, the children journal, the control
//! socket and the daemon's record (`daemon.json`: its registry, log and how it runs, then how
//! it exited), in a directory only the daemon's user can enter.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::PathBuf;

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

/// What a daemon tells the CLI through its run directory, so that every verb finds its
/// registry and logs from any working directory; kept after it exits (with `exit` filled in)
/// for `logs` and for a `start` whose daemon is gone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonRecord {
    /// The daemon's pid.
    pub pid: u32,
    /// The registry it runs with (absolute).
    pub registry: PathBuf,
    /// Its `<config><log>` (the base name; the file of a day has the date before the
    /// extension), when it logs there rather than to stderr.
    pub log: Option<PathBuf>,
    /// `json` or `text`.
    pub log_format: String,
    /// Run in the foreground (`run`, under a service manager) rather than by `start`.
    pub foreground: bool,
    /// Its version.
    pub version: String,
    /// How it exited, once it has.
    #[serde(default)]
    pub exit: Option<ExitRecord>,
}

/// How a daemon exited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitRecord {
    /// Its exit code.
    pub code: i32,
    /// Why it stopped (`control request`, `restart intensity exceeded`, ...).
    pub reason: String,
    /// Each component's last failure, one line each.
    pub failures: Vec<String>,
}

/// The paths inside a run directory.
#[derive(Debug, Clone)]
pub struct RunDir {
    path: PathBuf,
}

/// Why the run directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RunDirError {
    /// Another daemon holds the lock.
    #[error("supervisor is already running with run directory {dir} (pid {pid})")]
    AlreadyRunning {
        /// The run directory.
        dir: String,
        /// The other daemon's pid, as its pid file says.
        pid: String,
    },
    /// The directory is not safe to use.
    #[error("run directory {0}: {1}")]
    Unsafe(String, &'static str),
    /// A file operation failed.
    #[error("run directory {0}")]
    Io(String, #[source] io::Error),
}

/// The held instance lock; released when dropped (or when the daemon dies).
pub struct InstanceLock {
    lock: Flock<File>,
}

impl InstanceLock {
    /// Its descriptor: kept open across an upgrade's `execve`, so the lock is never let go.
    pub fn fd(&self) -> RawFd {
        self.lock.as_raw_fd()
    }
}

impl RunDir {
    /// The run directory at `path` (nothing is created yet).
    pub fn new(path: PathBuf) -> Self {
        RunDir { path }
    }

    /// The control socket.
    pub fn socket(&self) -> PathBuf {
        self.path.join("control.sock")
    }

    /// The pid file.
    pub fn pid_file(&self) -> PathBuf {
        self.path.join("supervisor.pid")
    }

    /// A name for this daemon instance, fixed per run directory (for its cgroups): a hash of
    /// the directory's path, so the next daemon on the same directory finds the same name.
    pub fn instance_name(&self) -> String {
        // FNV-1a, 64 bits: stable across releases, unlike std's hasher.
        let hash = self
            .path
            .as_os_str()
            .as_encoded_bytes()
            .iter()
            .fold(0xcbf2_9ce4_8422_2325_u64, |hash, &byte| {
                (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
            });
        format!("{hash:016x}")
    }

    /// The daemon's record.
    pub fn record_file(&self) -> PathBuf {
        self.path.join("daemon.json")
    }

    /// Writes `record` (whole, by a rename: a reader never sees half of it).
    pub fn write_record(&self, record: &DaemonRecord) -> Result<(), RunDirError> {
        let text = serde_json::to_vec_pretty(record).map_err(|e| self.error(e.into()))?;
        let partial = self.path.join("daemon.json.new");
        fs::write(&partial, text).map_err(|e| self.error(e))?;
        fs::rename(&partial, self.record_file()).map_err(|e| self.error(e))
    }

    /// The record of the daemon running on this directory, or of the last one.
    pub fn record(&self) -> Option<DaemonRecord> {
        let text = fs::read(self.record_file()).ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// The journal of live children.
    pub fn journal(&self) -> PathBuf {
        self.path.join("children")
    }

    fn lock_file(&self) -> PathBuf {
        self.path.join("supervisor.lock")
    }

    fn error(&self, error: io::Error) -> RunDirError {
        RunDirError::Io(self.path.display().to_string(), error)
    }

    /// Creates the directory (mode 0700), or checks that an existing one is a real directory
    /// owned by us that nobody else can write to.
    pub fn prepare(&self) -> Result<(), RunDirError> {
        match DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.path)
        {
            Ok(()) => {}
            Err(error) => return Err(self.error(error)),
        }
        let meta = fs::symlink_metadata(&self.path).map_err(|e| self.error(e))?;
        let name = self.path.display().to_string();
        if !meta.file_type().is_dir() {
            return Err(RunDirError::Unsafe(
                name,
                "is not a directory (or is a symbolic link)",
            ));
        }
        if meta.uid() != nix::unistd::geteuid().as_raw() {
            return Err(RunDirError::Unsafe(name, "is owned by another user"));
        }
        if meta.permissions().mode() & 0o022 != 0 {
            return Err(RunDirError::Unsafe(name, "is writable by group or others"));
        }
        Ok(())
    }

    /// Takes the instance lock, or says which daemon holds it.
    pub fn lock(&self) -> Result<InstanceLock, RunDirError> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.lock_file())
            .map_err(|e| self.error(e))?;
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => Ok(InstanceLock { lock }),
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => Err(RunDirError::AlreadyRunning {
                dir: self.path.display().to_string(),
                pid: self
                    .running_pid()
                    .map_or_else(|| "unknown".into(), |pid| pid.to_string()),
            }),
            Err((_, errno)) => Err(self.error(errno.into())),
        }
    }

    /// The instance lock handed over by the daemon this one replaces (descriptor `fd`, open
    /// across the `execve`: the lock was never let go), if it is this directory's lock file;
    /// `None` (the descriptor closed) when it is not.
    pub fn adopt_lock(&self, fd: RawFd) -> Option<InstanceLock> {
        let file = File::from(actors::process::sys::adopt_fd(fd).ok()?);
        let (held, here) = (file.metadata().ok()?, fs::metadata(self.lock_file()).ok()?);
        if (held.dev(), held.ino()) != (here.dev(), here.ino()) {
            return None;
        }
        // The same open file holds the lock already: taking it again cannot wait.
        let lock = Flock::lock(file, FlockArg::LockExclusiveNonblock).ok()?;
        Some(InstanceLock { lock })
    }

    /// Whether a daemon holds the lock right now.
    pub fn is_locked(&self) -> bool {
        let Ok(file) = File::open(self.lock_file()) else {
            return false;
        };
        matches!(
            Flock::lock(file, FlockArg::LockSharedNonblock),
            Err((_, nix::errno::Errno::EWOULDBLOCK))
        )
    }

    /// Writes our pid.
    pub fn write_pid(&self) -> Result<(), RunDirError> {
        let mut file = File::create(self.pid_file()).map_err(|e| self.error(e))?;
        writeln!(file, "{}", std::process::id()).map_err(|e| self.error(e))
    }

    /// The pid in the pid file, if any.
    pub fn running_pid(&self) -> Option<u32> {
        let mut text = String::new();
        File::open(self.pid_file())
            .ok()?
            .read_to_string(&mut text)
            .ok()?;
        text.trim().parse().ok()
    }

    /// Removes what an orderly exit leaves no use for (the lock file stays: it is only a lock).
    pub fn clean_up(&self) {
        for path in [self.socket(), self.pid_file(), self.journal()] {
            let _ = fs::remove_file(path);
        }
    }
}
