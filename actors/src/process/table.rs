//! The process table: pid → owner, the reaper loop, and guarded group signals.
//!
//! One mutex covers spawning, reaping and signalling. Holding it while a child is started keeps
//! the reaper from stealing a child whose `exec` failed (the spawner reaps that one itself);
//! holding it while signalling guarantees the target group's leader is still our unreaped child,
//! so its pid (and with it the process-group id) cannot have been recycled.

use std::collections::HashMap;
use std::fs::File;
use std::os::fd::AsFd;
use std::sync::{Arc, Mutex, MutexGuard, Weak, mpsc};
use std::time::Duration;

use actix::{Message, Recipient};
use nix::errno::Errno;
use nix::sched::{CloneFlags, setns};
use nix::sys::signal::{Signal, killpg};
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid, waitpid};
use nix::unistd::Pid;

use super::cgroup::{Cgroups, ComponentCgroup, Removal, Retiring};
use super::clock;
use super::journal::{Journal, JournalWriter, Record};
use super::procfs;
use super::spawn::{Launch, Placement, SpawnError};
use super::stdio::{self, Captured};
use super::sys::{
    self, CgroupJoin, ChildError, ChildStack, FileLimit, SpawnMode, Stage, StdioSlots,
};
use crate::deferred;
use crate::events;
use crate::policy::ExitStatus;
use crate::spec::OutputSpec;
use tokio::sync::oneshot;

/// A supervised process ended; sent to the actor that owns it, exactly once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Message)]
#[rtype(result = "()")]
pub struct ProcessExited {
    /// The process that ended (already reaped).
    pub pid: u32,
    /// How it ended.
    pub status: ExitStatus,
    /// The daemon SIGKILLed it with everything else ([`ProcessTable::kill_all`]): its end was
    /// asked for.
    pub killed: bool,
}

/// The owner of every child process of the daemon. Cheap to clone (shared state).
#[derive(Clone)]
pub struct ProcessTable {
    inner: Arc<Mutex<Children>>,
    /// The pid each child checks is its parent as it arms the parent-death signal; 0 when a
    /// guardian takes the tree down with the daemon instead (see `without_parent_death`).
    daemon_pid: i32,
    /// The open-file limit children get instead of the daemon's (raised) one.
    child_file_limit: Option<FileLimit>,
    /// How children are created.
    mode: SpawnMode,
    /// The thread that made the table, the only one that spawns: a child's parent-death signal
    /// fires when the *thread* that created it ends. The daemon makes the table on its main
    /// thread, which lives as long as the process.
    spawner_thread: Pid,
}

/// The live children, and where they are journalled.
struct Children {
    owners: HashMap<i32, Owner>,
    /// Signals the journal thread that the children changed (after the burst of work on the
    /// actors' thread: see `deferred`).
    journal: Option<deferred::Wake>,
    cgroups: Option<Cgroups>,
    /// How many children were spawned: each child's number tells it apart from a later one
    /// that gets the same pid.
    spawned: u64,
    /// The unit of start times (`USER_HZ`).
    ticks_per_second: u64,
    /// The children spawned since the journal thread last looked, with their numbers: what it
    /// has to add (its work grows with new children, not with all of them).
    fresh: Vec<(i32, u64)>,
    /// The records of children reaped since the journal thread last looked: what it has to
    /// strike out, so that no record outlives its child by more than a journal interval.
    gone: Vec<Record>,
    /// Processes started outside the table (the guardian) whose exit someone waits for.
    watched: HashMap<i32, oneshot::Sender<ExitStatus>>,
    /// The PID namespace children are born into, when it is not the daemon's.
    namespace: Option<ChildNamespace>,
    /// The stack children run on until `exec` and the descriptors their stdio passes
    /// through, made on the first spawn.
    spawner: Option<(ChildStack, StdioSlots)>,
    /// Whether start times computed from the clock (see `clock`) can be trusted.
    clock: ClockTrust,
    /// Reaping waits (a hand-over is collecting the tree's state): exits stay zombies, to be
    /// reaped once it resumes, here or in the successor daemon.
    paused: bool,
    /// The daemon is shutting down: where the cgroups of components that ended go to be
    /// removed, and the removal under way.
    retiring: Option<(Retiring, Removal)>,
}

/// What the journal thread has learnt of start times computed from the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClockTrust {
    /// This many more computed start times must agree with `/proc` before the table relies on
    /// them.
    Checking(u32),
    /// They agreed: computed start times are used as they are.
    Trusted,
    /// One disagreed: start times are read from `/proc`.
    Distrusted,
}

/// How many computed start times must agree with `/proc` before they are relied on.
const CLOCK_CHECKS: u32 = 8;

struct Owner {
    notify: ExitNotify,
    /// This child's number among all spawned (see `Children::spawned`).
    number: u64,
    /// The start time for the journal: computed from the clock at the spawn, or read by the
    /// journal thread (off the spawn path).
    start_ticks: Option<u64>,
    /// A start time computed from the clock that the journal thread is to check.
    unchecked_ticks: Option<u64>,
    /// The component's cgroup, when it has one.
    cgroup: Option<Arc<ComponentCgroup>>,
    /// SIGKILLed by [`ProcessTable::kill_all`].
    killed: bool,
}

impl Owner {
    /// SIGKILLs what is left of the child's group (the leader is still a zombie, so its group
    /// id cannot have been reused) and, with `cgroup`, of its cgroup.
    fn kill_remains(&self, pid: Pid, cgroup: bool) {
        let _ = killpg(pid, Signal::SIGKILL);
        if let Some(own) = self.cgroup.as_ref().filter(|_| cgroup) {
            own.kill();
        }
    }
}

/// Who learns of a child's exit.
pub enum ExitNotify {
    /// An actor (a component), told with [`ProcessExited`].
    Actor(Recipient<ProcessExited>),
    /// A one-off waiter (a probe).
    Once(oneshot::Sender<ExitStatus>),
}

impl ExitNotify {
    fn send(self, exited: ProcessExited) {
        match self {
            ExitNotify::Actor(recipient) => recipient.do_send(exited),
            ExitNotify::Once(sender) => {
                let _ = sender.send(exited.status);
            }
        }
    }
}

/// What to start: a component's (or a probe's) command and where its output goes.
pub struct SpawnRequest<'a> {
    /// The component's id (names its cgroup).
    pub id: &'a str,
    /// The command line, environment, directory and user, ready to start.
    pub launch: &'a Launch,
    /// Where stdout and stderr go.
    pub output: &'a OutputSpec,
    /// Whether the process gets the component's cgroup (components yes; their probes no: a
    /// probe's end must not kill the component).
    pub own_cgroup: bool,
    /// The listening sockets the daemon holds for it, passed as descriptors 3, 4, ….
    pub sockets: &'a [std::os::fd::BorrowedFd<'a>],
}

impl Children {
    /// Asks the journal thread to rewrite the journal. A burst of changes (10,000 starts)
    /// costs one write, not one each: a write already pending covers every later change.
    fn record(&self) {
        if let Some(dirty) = &self.journal {
            deferred::wake(dirty);
        }
    }

    /// Removes `cgroup`, whose component's main process was reaped (and what it left killed),
    /// when the daemon is shutting down.
    fn retire(&mut self, cgroup: &ComponentCgroup) {
        if let (Some((retiring, _)), Some(cgroups), Some(id)) =
            (&self.retiring, &mut self.cgroups, cgroup.id())
        {
            // A start after all (a restart the stop has not reached yet) makes it again.
            cgroups.forget(id);
            retiring.retire(cgroup);
        }
    }

    /// Whether `owner` is the only live child in its cgroup. Not when a reload moved its
    /// component to another group: the new actor (same id, same cgroup) may have started its
    /// process before this one is gone, and a `cgroup.kill` for this one would kill that one.
    fn alone_in_cgroup(&self, owner: &Owner) -> bool {
        let Some(cgroup) = &owner.cgroup else {
            return true;
        };
        let remembered = (self.cgroups.as_ref())
            .and_then(|cgroups| cgroups.made(cgroup.id()?))
            .is_some_and(|made| Arc::ptr_eq(made, cgroup));
        // This owner's reference, and the table's own while it remembers the cgroup.
        Arc::strong_count(cgroup) <= 1 + usize::from(remembered)
    }

    /// Forgets component `id`'s cgroup, if there are cgroups.
    fn forget_cgroup(&mut self, id: &str) {
        if let Some(cgroups) = &mut self.cgroups {
            cgroups.forget(id);
        }
    }

    /// The records of the children reaped since the last call.
    fn take_gone(&mut self) -> Vec<Record> {
        std::mem::take(&mut self.gone)
    }

    /// The children spawned since the last call that are still live, with their numbers and
    /// start times where known.
    fn take_fresh(&mut self) -> Vec<(i32, u64, Option<u64>)> {
        let fresh = std::mem::take(&mut self.fresh);
        fresh
            .into_iter()
            .filter_map(|(pid, number)| {
                let owner = self.owners.get(&pid).filter(|o| o.number == number)?;
                Some((pid, number, owner.start_ticks))
            })
            .collect()
    }

    /// Keeps the start times read for `(pid, number, ticks)`, unless that child was reaped
    /// meanwhile: then the pid may have been reused, and what was read may be another process.
    /// A computed start time is checked against the one read.
    fn stamp(&mut self, read: Vec<(i32, u64, u64)>) {
        for (pid, number, ticks) in read {
            let Some(owner) = self.owners.get_mut(&pid) else {
                continue;
            };
            if owner.number != number {
                continue;
            }
            owner.start_ticks = Some(ticks);
            let Some(computed) = owner.unchecked_ticks.take() else {
                continue;
            };
            self.clock = match self.clock {
                _ if computed != ticks => {
                    tracing::warn!(
                        event = events::START_TIME_MISMATCH,
                        pid,
                        computed,
                        read = ticks,
                        "a start time computed from the clock disagrees with /proc: reading \
                         /proc from now on"
                    );
                    ClockTrust::Distrusted
                }
                ClockTrust::Checking(left) if left <= 1 => ClockTrust::Trusted,
                ClockTrust::Checking(left) => ClockTrust::Checking(left - 1),
                settled => settled,
            };
        }
    }

    /// The start times of a child spawned between the boot-time clock readings `before` and
    /// `after`: `(trusted, to check)`.
    fn computed_ticks(&self, before: u64, after: u64) -> (Option<u64>, Option<u64>) {
        let computed = || clock::start_ticks_between(before, after, self.ticks_per_second);
        match self.clock {
            ClockTrust::Trusted => (computed(), None),
            ClockTrust::Checking(_) => (None, computed()),
            ClockTrust::Distrusted => (None, None),
        }
    }

    /// The records of the `fresh` children still live whose start time is known.
    fn records_of(&self, fresh: &[(i32, u64, Option<u64>)]) -> Vec<Record> {
        fresh
            .iter()
            .filter_map(|&(pid, number, _)| {
                let owner = self.owners.get(&pid).filter(|o| o.number == number)?;
                Some(Record {
                    pid,
                    start_ticks: owner.start_ticks?,
                })
            })
            .collect()
    }

    fn records(&self) -> Vec<Record> {
        self.owners
            .iter()
            .filter_map(|(&pid, owner)| {
                Some(Record {
                    pid,
                    start_ticks: owner.start_ticks?,
                })
            })
            .collect()
    }
}

/// A PID namespace for the children other than the daemon's own (the guardian's, whose exit
/// ends every process in it), entered around each spawn only: a thread whose children go to
/// another namespace cannot start threads.
pub struct ChildNamespace {
    /// The namespace the children are born into.
    pub children: File,
    /// The daemon's own, entered again after each spawn.
    pub home: File,
}

impl ChildNamespace {
    /// Runs `spawn` with the calling thread's children going to this namespace.
    fn around<T>(&self, spawn: impl FnOnce() -> T) -> std::io::Result<T> {
        setns(&self.children, CloneFlags::CLONE_NEWPID)?;
        let spawned = spawn();
        setns(&self.home, CloneFlags::CLONE_NEWPID)?;
        Ok(spawned)
    }
}

/// What spawning needs for the table's whole life: the children's stack and the stdio slots.
fn new_spawner() -> std::io::Result<(ChildStack, StdioSlots)> {
    Ok((ChildStack::new()?, StdioSlots::new(stdio::dev_null()?)?))
}

/// Locks the children. A panic elsewhere must not stop reaping: the map stays consistent under
/// every step.
fn lock(children: &Mutex<Children>) -> MutexGuard<'_, Children> {
    children
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The journal thread: rewrites `journal` after each change signalled on `dirty`, until the
/// table is gone. A failure is logged, never fatal.
///
/// It also reads the start times the spawn could not compute (see `clock`; the first ones are
/// read to check the computed ones), without holding the table's lock: a child reaped before
/// that is never read, and one reaped while it is read is told apart by its number.
fn keep_journal(journal: Journal, dirty: mpsc::Receiver<()>, table: Weak<Mutex<Children>>) {
    let mut writer = JournalWriter::new(journal);
    while dirty.recv().is_ok() {
        let Some(table) = table.upgrade() else { return };
        let (fresh, gone) = {
            let mut children = lock(&table);
            (children.take_fresh(), children.take_gone())
        };
        let read = fresh
            .iter()
            .filter(|(_, _, start_ticks)| start_ticks.is_none())
            .filter_map(|&(pid, number, _)| Some((pid, number, procfs::start_ticks(pid)?)))
            .collect();
        let (new, all) = {
            let mut children = lock(&table);
            children.stamp(read);
            let new = children.records_of(&fresh);
            let all = writer
                .rewrite_due(new.len() + gone.len(), children.owners.len())
                .then(|| children.records());
            (new, all)
        };
        drop(table);
        let written = match all {
            Some(all) => writer.rewrite(&all),
            None => writer.append(&new, &gone),
        };
        if let Err(error) = written {
            tracing::warn!(
                event = events::JOURNAL_WRITE_FAILED,
                error = %error,
                "cannot write the children journal"
            );
        }
        // At most one rewrite per interval: a crash loop of hundreds of restarts a second
        // would otherwise spend its time creating files; changes meanwhile wait in `dirty`.
        // After the write, never before: a child is on record as soon as the thread runs, so
        // a daemon SIGKILLed right after a spawn leaves no unrecorded leftover.
        std::thread::sleep(JOURNAL_INTERVAL);
    }
}

/// The shortest time between two rewrites of the journal.
const JOURNAL_INTERVAL: Duration = Duration::from_millis(10);

/// A running child: the leader of its own process group. Dropping it does not stop the process;
/// [`ProcessTable::signal_child_group`] signals it (a component keeps one, so it is a pid only).
pub struct Child {
    pid: i32,
}

impl ProcessTable {
    /// An empty table for this daemon process, keeping no journal and making no cgroups, that
    /// spawns from the calling thread only, with `clone3` where the kernel takes it.
    #[cfg(test)]
    pub(crate) fn new() -> Self {
        Self::spawning(SpawnMode::detect(true).0)
    }

    fn spawning(mode: SpawnMode) -> Self {
        ProcessTable {
            inner: Arc::new(Mutex::new(Children {
                owners: HashMap::new(),
                journal: None,
                cgroups: None,
                spawned: 0,
                fresh: Vec::new(),
                gone: Vec::new(),
                watched: HashMap::new(),
                namespace: None,
                clock: ClockTrust::Checking(CLOCK_CHECKS),
                ticks_per_second: sys::clock_ticks_per_second(),
                spawner: None,
                paused: false,
                retiring: None,
            })),
            daemon_pid: std::process::id() as i32,
            child_file_limit: None,
            mode,
            spawner_thread: nix::unistd::gettid(),
        }
    }

    /// An empty table that keeps `journal` up to date with its live children (from a thread
    /// of its own), with `cgroups` puts each component in a cgroup of its own, and with
    /// `child_file_limit` gives children that open-file limit. Children are created with
    /// `clone3`, born in their cgroup, when `clone3` is `true` and the kernel takes it, else
    /// with `clone`; which one is logged. Only the calling thread may spawn: make the table on
    /// the daemon's main thread.
    pub fn with(
        journal: Journal,
        cgroups: Option<Cgroups>,
        child_file_limit: Option<FileLimit>,
        clone3: bool,
    ) -> std::io::Result<Self> {
        let (mode, why) = SpawnMode::detect(clone3);
        tracing::info!(
            event = events::SPAWN_MODE,
            mode = mode.name(),
            reason = why.as_deref(),
            cgroups = cgroups.is_some(),
            "children are created with {}{}",
            mode.name(),
            match (&why, cgroups.is_some()) {
                (None, true) => ", born in their cgroup".to_string(),
                (Some(why), true) =>
                    format!(" ({why}), and join their cgroup by writing cgroup.procs"),
                (Some(why), false) => format!(" ({why})"),
                (None, false) => String::new(),
            }
        );
        let table = ProcessTable {
            child_file_limit,
            ..Self::spawning(mode)
        };
        let (dirty, changes) = mpsc::sync_channel(1);
        let weak = Arc::downgrade(&table.inner);
        std::thread::Builder::new()
            .name("journal".into())
            .spawn(move || keep_journal(journal, changes, weak))?;
        let mut children = table.lock();
        children.journal = Some(Arc::new(move || {
            let _ = dirty.try_send(());
        }));
        children.cgroups = cgroups;
        drop(children);
        Ok(table)
    }

    /// This table's children get no parent-death signal: a guardian takes the tree down with
    /// the daemon, and a child that outlives a daemon whose guardian was killed too stays
    /// identifiable (a running leader, its start time recorded) for the next daemon.
    pub fn without_parent_death(self) -> Self {
        ProcessTable {
            daemon_pid: 0,
            ..self
        }
    }

    /// Starts `command` (a helper of the daemon's, such as the guardian) with the table locked,
    /// so that the reaper cannot take the child before `spawn` has learnt whether its `exec`
    /// worked; `exited` is told when it ends. It is no child of the tree: neither journalled
    /// nor signalled with the components.
    pub fn spawn_watched(
        &self,
        command: &mut std::process::Command,
        exited: oneshot::Sender<ExitStatus>,
    ) -> std::io::Result<u32> {
        let mut children = self.lock();
        let child = command.spawn()?;
        children.watched.insert(child.id() as i32, exited);
        Ok(child.id())
    }

    /// Watches `pid`, a helper of the daemon's started by its image before an `execve` (the
    /// guardian, handed over at an upgrade), like one started by [`ProcessTable::spawn_watched`].
    pub fn watch(&self, pid: u32, exited: oneshot::Sender<ExitStatus>) {
        if let Ok(pid) = i32::try_from(pid) {
            self.lock().watched.insert(pid, exited);
        }
    }

    /// From now on, children are born into `namespace` (`None`: the daemon's own).
    pub fn spawn_children_into(&self, namespace: Option<ChildNamespace>) {
        self.lock().namespace = namespace;
    }

    /// Makes the daemon the reaper of its orphaned descendants (`PR_SET_CHILD_SUBREAPER`).
    pub fn become_subreaper() -> std::io::Result<()> {
        nix::sys::prctl::set_child_subreaper(true).map_err(std::io::Error::from)
    }

    fn lock(&self) -> MutexGuard<'_, Children> {
        lock(&self.inner)
    }

    /// Starts a process; `notify` is told when it exits.
    ///
    /// Wake-ups the calling thread put off (`deferred`) are carried out once the child runs:
    /// the spawn is what a restart's burst of work waits for, and a thread that spawns without
    /// pause (a crash loop) still wakes the journal and the log writer.
    pub fn spawn(
        &self,
        request: SpawnRequest<'_>,
        notify: ExitNotify,
    ) -> Result<(Child, Captured), SpawnError> {
        let spawned = self.spawn_now(request, notify);
        deferred::run_pending();
        spawned
    }

    fn spawn_now(
        &self,
        request: SpawnRequest<'_>,
        notify: ExitNotify,
    ) -> Result<(Child, Captured), SpawnError> {
        if nix::unistd::gettid() != self.spawner_thread {
            return Err(SpawnError::Prepare(std::io::Error::other(
                "a spawn off the process table's thread (a child's parent-death signal would \
                 fire when that thread ends)",
            )));
        }
        let (stdio, captured) = stdio::attach(request.output).map_err(SpawnError::Prepare)?;
        let mut guard = self.lock();
        let children = &mut *guard;
        // A cgroup removed under the daemon (by an operator, or by the shutdown's removal thread
        // racing a restart) is forgotten by the failed attempt; one more makes it again.
        let started = match self.start_once(children, &request, &stdio) {
            Err(error) if cgroup_failed(&error) => self.start_once(children, &request, &stdio)?,
            started => started?,
        };
        // The child has its copies: the daemon's write ends close now.
        drop(stdio);
        children.spawned += 1;
        let number = children.spawned;
        let (start_ticks, unchecked_ticks) = started.ticks;
        let pid = started.pid;
        children.owners.insert(
            pid,
            Owner {
                notify,
                number,
                start_ticks,
                unchecked_ticks,
                cgroup: started.cgroup,
                killed: false,
            },
        );
        children.fresh.push((pid, number));
        children.record();
        Ok((Child { pid }, captured))
    }

    /// One attempt at starting `request` in its cgroup (made or reused). A cgroup the child could
    /// not enter is forgotten.
    fn start_once(
        &self,
        children: &mut Children,
        request: &SpawnRequest<'_>,
        stdio: &stdio::ChildStdio,
    ) -> Result<Started, SpawnError> {
        let cgroup = match (&mut children.cgroups, request.own_cgroup) {
            (Some(cgroups), true) => {
                Some(cgroups.component(request.id).map_err(SpawnError::Prepare)?)
            }
            _ => None,
        };
        let entry = match cgroup.as_deref().map(|c| c.entry(self.mode)).transpose() {
            Ok(entry) => entry,
            Err(error) => {
                children.forget_cgroup(request.id);
                let stage = Stage::Cgroup;
                return Err(SpawnError::Child(ChildError { stage, error }));
            }
        };
        let (stack, slots) = match &mut children.spawner {
            Some(spawner) => spawner,
            empty => empty.insert(new_spawner().map_err(SpawnError::Prepare)?),
        };
        let placement = Placement {
            cgroup: entry.as_ref().map(|(entry, mode)| match mode {
                SpawnMode::Clone3 => CgroupJoin::Born(entry.as_fd()),
                SpawnMode::Clone => CgroupJoin::Write(entry.as_fd()),
            }),
            file_limit: self.child_file_limit,
            parent: self.daemon_pid,
            mode: self.mode,
        };
        let before = clock::boottime_ns();
        let start = || {
            request
                .launch
                .start(stdio, request.sockets, placement, stack, slots)
        };
        let started = match &children.namespace {
            Some(namespace) => namespace.around(start).map_err(SpawnError::Prepare)?,
            None => start(),
        };
        let after = clock::boottime_ns();
        drop(entry);
        match started {
            Ok(pid) => Ok(Started {
                pid,
                cgroup,
                ticks: children.computed_ticks(before, after),
            }),
            Err(error) => {
                if cgroup_failed(&error) {
                    children.forget_cgroup(request.id);
                }
                Err(error)
            }
        }
    }

    /// Reaps every exited child, owned or adopted. Call on each SIGCHLD: one signal may stand
    /// for many exits, so this loops until nothing is left.
    ///
    /// A reaped child's record is struck out of the journal at once (by the journal thread):
    /// its pid is free from now on, and a record naming it could only ever match a stranger.
    pub fn reap(&self) {
        let mut children = self.lock();
        if children.paused {
            return;
        }
        let mut reaped = false;
        while let Some(pid) = next_exited() {
            // What is left of a component never outlives its leader (a zombie until `collect`).
            if let Some(owner) = children.owners.get(&pid.as_raw()) {
                owner.kill_remains(pid, children.alone_in_cgroup(owner));
            }
            // Forgotten only once reaped: a child whose wait failed stays owned (and notified)
            // for the next call, instead of never being told to its component.
            let Some(status) = collect(pid) else { break };
            let owner = children.owners.remove(&pid.as_raw());
            if let Some(cgroup) = owner.as_ref().and_then(|owner| owner.cgroup.as_ref()) {
                children.retire(cgroup);
            }
            if let Some(start_ticks) = owner.as_ref().and_then(|owner| owner.start_ticks) {
                children.gone.push(Record {
                    pid: pid.as_raw(),
                    start_ticks,
                });
                reaped = true;
            }
            let watched = children.watched.remove(&pid.as_raw());
            match (owner, watched) {
                (Some(owner), _) => {
                    tracing::debug!(
                        event = events::CHILD_REAPED,
                        pid = pid.as_raw(),
                        status = %status,
                        "reaped pid {pid} ({status}) for its component"
                    );
                    owner.notify.send(ProcessExited {
                        pid: pid.as_raw() as u32,
                        status,
                        // A crash that raced the SIGKILL is still a crash.
                        killed: owner.killed && status == ExitStatus::Signal(libc::SIGKILL),
                    })
                }
                (None, Some(watcher)) => {
                    let _ = watcher.send(status);
                }
                (None, None) => tracing::debug!(
                    event = events::ORPHAN_REAPED,
                    pid = pid.as_raw(),
                    status = %status,
                    "reaped an adopted orphan: {status}"
                ),
            }
        }
        if reaped {
            children.record();
        }
    }

    /// The daemon is shutting down: from now on the cgroup of each component whose main
    /// process is reaped is removed at once, on a helper thread, while the other components
    /// stop (see [`Cgroups::remove_in_background`]).
    pub fn retire_cgroups(&self) {
        let mut children = self.lock();
        if children.retiring.is_none() {
            children.retiring = children
                .cgroups
                .as_ref()
                .and_then(Cgroups::remove_in_background);
        }
    }

    /// Removes what is left of the daemon's cgroups (all of them when [`retire_cgroups`] was not
    /// called): on the helper thread, waited for with [`Removal::wait`] before exiting, or here
    /// when no thread can be started.
    ///
    /// [`retire_cgroups`]: ProcessTable::retire_cgroups
    pub fn remove_cgroups(&self) -> Option<Removal> {
        self.retire_cgroups();
        let mut children = self.lock();
        match children.retiring.take() {
            Some((retiring, removal)) => {
                // The last sender gone, the thread removes the rest.
                drop(retiring);
                Some(removal)
            }
            None => {
                let base = children.cgroups.as_ref()?.base().to_path_buf();
                drop(children);
                super::cgroup::remove_tree(&base, super::cgroup::EMPTY_WAIT);
                None
            }
        }
    }

    /// Signals the process group led by `pid` (a component's stop, an operator's `signal`), if
    /// that leader is still our unreaped child: never a group that is not ours. `false` if it
    /// is not (reaped: its group was killed then) or the signal could not be sent.
    pub fn signal_child_group(&self, pid: u32, signal: Signal) -> bool {
        i32::try_from(pid).is_ok_and(|pid| self.signal_group(pid, signal))
    }

    /// Holds reaping back (`true`) while a hand-over collects the tree's state, or lets it go
    /// on (`false`: call [`ProcessTable::reap`] next, for the exits that waited).
    pub fn pause_reaping(&self, paused: bool) {
        self.lock().paused = paused;
    }

    /// Takes a child of this process that a predecessor daemon started (the same pid across
    /// `execve`) as component `id`'s: reaped, signalled and journalled like one spawned here.
    pub fn adopt(&self, id: &str, pid: u32, notify: ExitNotify) -> Child {
        let pid = pid as i32;
        let mut children = self.lock();
        let cgroup = children
            .cgroups
            .as_mut()
            .and_then(|cgroups| cgroups.component(id).ok());
        children.spawned += 1;
        let number = children.spawned;
        children.owners.insert(
            pid,
            Owner {
                notify,
                number,
                start_ticks: None,
                unchecked_ticks: None,
                cgroup,
                killed: false,
            },
        );
        children.fresh.push((pid, number));
        children.record();
        Child { pid }
    }

    /// Signals the process group led by `pid`, if that leader is still our unreaped child.
    fn signal_group(&self, pid: i32, signal: Signal) -> bool {
        let children = self.lock();
        let Some(owner) = children.owners.get(&pid) else {
            return false;
        };
        if signal == Signal::SIGKILL {
            owner.kill_remains(Pid::from_raw(pid), children.alone_in_cgroup(owner));
            return true;
        }
        killpg(Pid::from_raw(pid), signal).is_ok()
    }

    /// SIGKILLs every child's group (and cgroup) at once: the second Ctrl-C of an operator who
    /// will not wait for stop timeouts. The exits are then reaped as usual.
    pub fn kill_all(&self) {
        let mut children = self.lock();
        for (&pid, owner) in &mut children.owners {
            owner.killed = true;
            owner.kill_remains(Pid::from_raw(pid), true);
        }
    }
}

/// A child just started, for its owner's record.
struct Started {
    pid: i32,
    cgroup: Option<Arc<ComponentCgroup>>,
    /// The start time for the journal, and whether the journal thread must check it (see
    /// `Owner`).
    ticks: (Option<u64>, Option<u64>),
}

/// Whether a start failed because its child could not enter the component's cgroup.
fn cgroup_failed(error: &SpawnError) -> bool {
    matches!(error, SpawnError::Child(failed) if failed.stage == Stage::Cgroup)
}

/// The next exited child, left unreaped (`WNOWAIT`) so its pid stays reserved; `None` when no
/// child has exited.
fn next_exited() -> Option<Pid> {
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
    loop {
        match waitid(Id::All, flags) {
            Ok(status) => return status.pid(),
            Err(Errno::EINTR) => continue,
            Err(Errno::ECHILD) => return None,
            Err(errno) => {
                tracing::error!(event = events::REAP_FAILED, error = %errno, "waitid failed");
                return None;
            }
        }
    }
}

/// Reaps `pid`, which `next_exited` reported, and decodes how it ended.
fn collect(pid: Pid) -> Option<ExitStatus> {
    match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
        Ok(WaitStatus::Exited(_, code)) => Some(ExitStatus::Code(code)),
        Ok(WaitStatus::Signaled(_, signal, _)) => Some(ExitStatus::Signal(signal as i32)),
        Ok(other) => {
            tracing::error!(
                event = events::REAP_FAILED,
                error = %format!("{other:?}"),
                "unexpected wait status"
            );
            None
        }
        Err(errno) => {
            tracing::error!(event = events::REAP_FAILED, error = %errno, "waitpid failed");
            None
        }
    }
}

impl Child {
    /// The process id (also its process-group and session id).
    pub fn pid(&self) -> u32 {
        self.pid as u32
    }
}
