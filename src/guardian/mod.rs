//! The guardian: a tiny process started with the daemon that takes the daemon's tree down when
//! the daemon dies, whatever it dies of. Nothing has to run in the daemon at its death: the
//! guardian holds the read end of a pipe whose only write end the daemon holds, and the kernel
//! closes that end when the daemon goes, by `exit`, a crash or SIGKILL. The guardian then ends
//! the tree as far as its [`Reach`] goes, and exits.
//!
//! The guardian is the daemon's binary run as `supervisor-guardian` (see [`watch`]), in a
//! process group of its own, with every signal a terminal or a careless `kill` sends blocked. It
//! is not in the components' cgroups, groups or sessions, and runs as the daemon's user, so a
//! component running as another user cannot signal it. If it dies anyway (root killed it), the
//! daemon says so (`guardian_exited`) and starts a new one.
//!
//! An orderly exit writes one byte first: the guardian then leaves quietly. An upgrade hands
//! the pipe over to the new daemon image ([`Guardian::handover`]): the guardian never sees it.
//!
//! Without a guardian (it could not be started), the children still get the parent-death
//! signal, which reaches them but not their descendants.

mod watch;

use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use actors::events;
use actors::policy::ExitStatus;
use actors::process::cgroup::Cgroups;
use actors::process::{ChildNamespace, ProcessTable};
use nix::fcntl::{FcntlArg, FdFlag, fcntl};
use nix::sched::{CloneFlags, setns, unshare};
use tokio::sync::oneshot;

pub use watch::main;

/// `argv[0]` of the guardian process: what `ps` shows, and what makes `main` run it.
pub const PROGRAM_NAME: &str = "supervisor-guardian";

/// The environment variable that hands a running guardian over to the next daemon image at an
/// upgrade: `FD:PID:REACH`.
pub const HANDOVER_VARIABLE: &str = "SUPERVISOR_GUARDIAN";

/// What the guardian reaches when the daemon dies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// The daemon's cgroup subtree (every component's cgroup): one write to its `cgroup.kill`
    /// ends every process in it, `setsid` and double-fork escapers included.
    Cgroup(PathBuf),
    /// The PID namespace the components are born into, whose init the guardian is: when it
    /// exits, the kernel kills every process in the namespace, escapers included.
    Namespace,
    /// The process groups of the recorded children that still run (a `setsid` escaper is
    /// out of reach).
    Groups,
}

impl Reach {
    /// The reach's name, as `guardian_started` and the README say it.
    pub fn name(&self) -> &'static str {
        match self {
            Reach::Cgroup(_) => "cgroup",
            Reach::Namespace => "namespace",
            Reach::Groups => "groups",
        }
    }
}

/// The daemon's side: starts guardians and holds their pipes. Cheap to clone.
#[derive(Clone)]
pub struct Guardian {
    reach: Reach,
    journal: PathBuf,
    json: bool,
    /// The running guardian.
    running: Arc<Mutex<Option<Running>>>,
    /// The daemon's own PID namespace (reach `Namespace`): the guardian is started in a new
    /// one, then the daemon comes back here and enters the new one only around each spawn (a
    /// thread whose children go elsewhere cannot start threads).
    home: Option<Arc<File>>,
}

impl Guardian {
    /// Chooses the reach: the daemon's cgroups where it has them; else a new PID namespace for
    /// the children, where the daemon may make one (root); else process groups.
    pub fn prepare(cgroups: Option<&Cgroups>, journal: PathBuf, json: bool) -> Guardian {
        let mut home = None;
        let reach = match cgroups {
            Some(cgroups) => Reach::Cgroup(cgroups.base().to_path_buf()),
            None => match may_make_namespaces() {
                Ok(own) => {
                    home = Some(Arc::new(own));
                    Reach::Namespace
                }
                Err(_) => Reach::Groups,
            },
        };
        Guardian {
            reach,
            journal,
            json,
            running: Arc::new(Mutex::new(None)),
            home,
        }
    }

    /// Starts a guardian (through `table`, which reaps it); returns its pid and what tells of
    /// its end. With reach `Namespace` it is the first process of a new PID namespace, its
    /// init, and `table` spawns the children into that namespace from then on.
    pub fn start(&self, table: &ProcessTable) -> io::Result<(u32, oneshot::Receiver<ExitStatus>)> {
        let Some(home) = &self.home else {
            return self.spawn(table);
        };
        unshare(CloneFlags::CLONE_NEWPID)?;
        let started = self.spawn(table);
        // The thread comes home whatever happened: it must be able to start threads.
        let children = File::open("/proc/thread-self/ns/pid_for_children");
        setns(home.as_fd(), CloneFlags::CLONE_NEWPID)?;
        let started = started?;
        table.spawn_children_into(Some(ChildNamespace {
            children: children?,
            home: home.try_clone()?,
        }));
        Ok(started)
    }

    /// Spawns the guardian process.
    fn spawn(&self, table: &ProcessTable) -> io::Result<(u32, oneshot::Receiver<ExitStatus>)> {
        let (reader, writer) = io::pipe()?;
        let (exited, end) = oneshot::channel();
        let mut command = Command::new("/proc/self/exe");
        command
            .arg0(PROGRAM_NAME)
            .arg(if self.json { "json" } else { "text" })
            .arg(self.reach.name())
            .arg(&self.journal)
            .args(match &self.reach {
                Reach::Cgroup(base) => vec![base.clone()],
                Reach::Namespace | Reach::Groups => Vec::new(),
            })
            .env_clear()
            .current_dir("/")
            .process_group(0)
            .stdin(Stdio::from(OwnedFd::from(reader)))
            .stdout(Stdio::null());
        let pid = table.spawn_watched(&mut command, exited)?;
        *self.running() = Some(Running {
            pipe: writer.into(),
            pid,
        });
        let cgroup = match &self.reach {
            Reach::Cgroup(base) => Some(base.display().to_string()),
            Reach::Namespace | Reach::Groups => None,
        };
        tracing::info!(
            event = events::GUARDIAN_STARTED,
            pid,
            reach = self.reach.name(),
            cgroup,
            "the guardian runs: the tree dies with the daemon"
        );
        Ok((pid, end))
    }

    /// Starts a new guardian each time the running one ends, until the daemon exits.
    pub async fn keep(self, table: ProcessTable, mut end: oneshot::Receiver<ExitStatus>) {
        while let Ok(status) = (&mut end).await {
            let (code, signal) = match status {
                ExitStatus::Code(code) => (Some(code), None),
                ExitStatus::Signal(signal) => (None, Some(signal)),
            };
            tracing::warn!(
                event = events::GUARDIAN_EXITED,
                code,
                signal,
                "the guardian ended while the daemon runs: starting a new one"
            );
            // A guardian that cannot stay up must not be restarted in a tight loop.
            actix_rt::time::sleep(RESTART_DELAY).await;
            match self.start(&table) {
                Ok((_, next)) => end = next,
                Err(error) => {
                    tracing::error!(error = %error, "cannot start a new guardian: the tree no longer dies with the daemon");
                    return;
                }
            }
        }
    }

    /// Tells the guardian that the daemon exits in order (everything is stopped): it leaves
    /// without touching anything.
    pub fn release(&self) {
        if let Some(running) = &*self.running() {
            let _ = nix::unistd::write(&running.pipe, RELEASE);
        }
    }

    /// Prepares the pipe to survive the daemon's `execve` at an upgrade: the write end is no
    /// longer close-on-exec, and the returned `(name, value)`, `FD:PID:REACH`, goes into the
    /// new image's environment, which takes the descriptor over (and marks it close-on-exec
    /// again) instead of starting a guardian of its own. The guardian itself sees nothing.
    pub fn handover(&self) -> io::Result<(OsString, OsString)> {
        let running = self.running();
        let running = running
            .as_ref()
            .ok_or_else(|| io::Error::other("no guardian runs"))?;
        let fd = running.pipe.as_raw_fd();
        fcntl(fd, FcntlArg::F_SETFD(FdFlag::empty()))?;
        let value = format!("{fd}:{}:{}", running.pid, self.reach.name());
        Ok((HANDOVER_VARIABLE.into(), value.into()))
    }

    /// Undoes [`Guardian::handover`] after an `execve` that failed: the pipe is close-on-exec
    /// again.
    pub fn handover_failed(&self) {
        if let Some(running) = &*self.running() {
            let _ = fcntl(
                running.pipe.as_raw_fd(),
                FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC),
            );
        }
    }

    /// Takes over the guardian a previous image of this daemon handed over at an upgrade
    /// (`handed`, the `FD:PID:REACH` of [`Guardian::handover`]) instead of starting one: its
    /// pipe (close-on-exec again), its exit (watched through `table`) and, with reach
    /// `Namespace`, its PID namespace, which the children are born into. Returns what tells of
    /// its end; an error (nothing taken) when `handed` names no open descriptor.
    pub fn adopt(
        &self,
        handed: &str,
        table: &ProcessTable,
    ) -> io::Result<oneshot::Receiver<ExitStatus>> {
        let invalid = || {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{HANDOVER_VARIABLE}={handed}: expected FD:PID:REACH"),
            )
        };
        let mut fields = handed.split(':');
        let (Some(fd), Some(pid), Some(reach), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(invalid());
        };
        let fd = fd.parse().map_err(|_| invalid())?;
        let pid: u32 = pid.parse().map_err(|_| invalid())?;
        let pipe = actors::process::sys::adopt_fd(fd)?;
        // From here on nothing fails: dropping the pipe would make the guardian end the tree.
        let _ = fcntl(pipe.as_raw_fd(), FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC));
        let (exited, end) = oneshot::channel();
        table.watch(pid, exited);
        *self.running() = Some(Running { pipe, pid });
        if reach != self.reach.name() {
            tracing::warn!(
                pid,
                reach,
                "the guardian handed over reaches by {reach}, this daemon would by {}",
                self.reach.name()
            );
        }
        if let Some(home) = self
            .home
            .as_ref()
            .filter(|_| reach == Reach::Namespace.name())
        {
            // The guardian is the init of the children's namespace.
            let children = File::open(format!("/proc/{pid}/ns/pid"));
            match children.and_then(|children| Ok((children, home.try_clone()?))) {
                Ok((children, home)) => {
                    table.spawn_children_into(Some(ChildNamespace { children, home }))
                }
                Err(error) => tracing::warn!(
                    pid,
                    error = %error,
                    "cannot enter the guardian's PID namespace: new children are born outside it"
                ),
            }
        }
        Ok(end)
    }

    fn running(&self) -> MutexGuard<'_, Option<Running>> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A guardian the daemon started.
struct Running {
    /// The write end of its pipe, open as long as the daemon lives.
    pipe: OwnedFd,
    /// Its pid.
    pid: u32,
}

/// The byte an orderly exit writes before the pipe closes.
const RELEASE: &[u8] = b".";

/// The pause before a new guardian replaces one that ended.
const RESTART_DELAY: Duration = Duration::from_secs(1);

/// The daemon's own PID namespace, once a trial shows it may make new ones.
fn may_make_namespaces() -> io::Result<File> {
    let home = File::open("/proc/self/ns/pid")?;
    unshare(CloneFlags::CLONE_NEWPID)?;
    setns(home.as_fd(), CloneFlags::CLONE_NEWPID)?;
    Ok(home)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The handover leaves the pipe open across `execve` and names it, the guardian and the
    /// reach for the next image.
    #[test]
    fn the_handover_keeps_the_pipe_across_exec_and_names_it() {
        let guardian = Guardian::prepare(None, PathBuf::from("/j"), true);
        assert!(guardian.handover().is_err(), "no guardian runs yet");
        let (_reader, writer) = io::pipe().unwrap();
        let fd = writer.as_raw_fd();
        *guardian.running() = Some(Running {
            pipe: writer.into(),
            pid: 4321,
        });
        let (name, value) = guardian.handover().unwrap();
        assert_eq!(name, HANDOVER_VARIABLE);
        let expected = format!("{fd}:4321:{}", guardian.reach.name());
        assert_eq!(value, OsString::from(expected));
        let flags = fcntl(fd, FcntlArg::F_GETFD).unwrap();
        assert_eq!(flags & FdFlag::FD_CLOEXEC.bits(), 0, "inherited by execve");
    }
}
