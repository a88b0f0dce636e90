//! The daemon: wiring of run directory → process table → actor tree → signals → control socket,
//! and the daemon's own lifecycle (start, reload, orderly shutdown). Nothing here decides a
//! restart; the tree does.

use std::cell::RefCell;
use std::os::fd::{AsRawFd, RawFd};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use actix::{
    Actor, ActorFutureExt, Addr, AsyncContext, Context, Handler, ResponseActFuture, System,
    WrapFuture,
};
use actors::group::{GroupActor, Reconfigure};
use actors::ids::{IdIndex, StoppedOnArrival};
use actors::messages::{Action, StartCause};
use actors::output::OutputService;
use actors::process::cgroup::Cgroups;
use actors::process::{Journal, ProcessTable};
use actors::runtime::{Runtime, Shared};
use actors::status::{DaemonPhase, StatusBoard};
use actors::{GroupGaveUp, Start, Stop, events, tree};
use anyhow::Context as _;
use tokio::sync::oneshot;

use crate::cli::LogFormat;
use crate::control::protocol::{ErrorKind, ReloadSummary, Reply, Request};
use crate::control::{ControlRequest, operate, server, wait};
use crate::guardian::Guardian;
use crate::logfile::DailyLog;
use crate::registry::{self, Registry};
use crate::rundir::{DaemonRecord, ExitRecord, RunDir};
use crate::signals::{self, DaemonSignal};
use crate::status;
use crate::{http, limits, logging, sdnotify};

/// Exit code after an orderly shutdown.
pub const EXIT_OK: i32 = 0;
/// Exit code when the root group gave up (restart intensity exceeded).
pub const EXIT_GAVE_UP: i32 = 4;

/// Runs the daemon in the foreground until it shuts down; returns the process exit code.
/// `record` (how it was started) goes into the run directory for the CLI's other verbs; `files`
/// is what [`limits::prepare`] did before the daemon's first thread.
pub fn run(
    registry: Registry,
    run_dir: RunDir,
    log: Option<DailyLog>,
    mut record: DaemonRecord,
    files: limits::Prepared,
) -> anyhow::Result<i32> {
    let handover = match crate::upgrade::take_pending() {
        None => None,
        Some(pending) => match pending.read() {
            Ok(handover) => Some((pending, handover)),
            Err(reason) => {
                let error = crate::upgrade::roll_back(&pending, &reason, None);
                anyhow::bail!("cannot restore the hand-over ({reason}) nor roll back: {error}")
            }
        },
    };
    run_dir.prepare()?;
    // Held until the process exits, not until this function returns: `supervisor stop` waits
    // for the lock, and must not return while the daemon still flushes its log. After an
    // upgrade it is the predecessor's, never let go (no second daemon slips in at the exec).
    let handed_lock = handover.as_ref().and_then(|(_, h)| h.lock);
    let lock = match handed_lock.map(|fd| (fd, run_dir.adopt_lock(fd))) {
        Some((_, Some(lock))) => lock,
        Some((fd, None)) => {
            tracing::warn!(
                event = events::HANDOVER_INCOMPLETE,
                fd,
                "cannot take over the instance lock handed over: taken anew"
            );
            run_dir.lock()?
        }
        None => run_dir.lock()?,
    };
    let lock_fd = lock.fd();
    std::mem::forget(lock);
    run_dir.write_record(&record)?;
    // After an upgrade: the listeners of the daemon that handed over, never bound anew.
    let listeners = handover
        .as_ref()
        .map(|(_, h)| h.listeners)
        .unwrap_or_default();
    // The operator asked for the HTTP endpoint: a port in use stops the daemon before it starts
    // (or kills) anything.
    let http = match registry.config.tcp_port {
        Some(port) => {
            let address = http::address(port, registry.config.tcp_bind);
            let listener = crate::upgrade::http(listeners.http, address)
                .with_context(|| format!("cannot listen on {address} (<tcpport>)"))?;
            Some((listener, address))
        }
        None => {
            crate::upgrade::close(listeners.http);
            None
        }
    };
    let journal = Journal::new(run_dir.journal());
    // After an upgrade, the journal's and the cgroups' processes are this daemon's own.
    let upgraded = handover.is_some();
    for pid in (!upgraded)
        .then(|| journal.kill_leftovers())
        .transpose()
        .context("cannot read the children journal")?
        .unwrap_or_default()
    {
        tracing::warn!(
            event = events::LEFTOVER_KILLED,
            pid,
            "killed a process left by a previous daemon"
        );
    }
    let cgroups = Cgroups::open(&run_dir.instance_name());
    match &cgroups {
        Some(_) if upgraded => {}
        Some(cgroups) => {
            let occupied = cgroups.kill_leftovers();
            if occupied > 0 {
                tracing::warn!(
                    event = events::LEFTOVER_KILLED,
                    cgroups = occupied,
                    "killed what a previous daemon left in its components' cgroups"
                );
            }
        }
        None => tracing::info!(
            event = events::CGROUPS_UNAVAILABLE,
            "no writable cgroup2 hierarchy: a component's stop reaches its process group only"
        ),
    }
    run_dir.write_pid()?;
    ProcessTable::become_subreaper().context("cannot become a child subreaper")?;
    let limits::Prepared { needed, raised } = files;
    let child_file_limit = match raised {
        Ok(raised) => {
            if let Some(advice) = needed.shortfall(raised.now) {
                tracing::warn!(
                    event = events::OPEN_FILE_LIMIT_LOW,
                    needed = needed.total(),
                    limit = raised.now,
                    "{advice}"
                );
            }
            Some(raised.for_children())
        }
        Err(error) => {
            tracing::warn!(
                event = events::OPEN_FILE_LIMIT_LOW,
                error = %error,
                "cannot raise the open-file limit"
            );
            None
        }
    };
    if let Some(temp) = &registry.config.temp {
        std::fs::create_dir_all(temp)
            .with_context(|| format!("cannot create temp directory {}", temp.display()))?;
    }
    // SUPERVISOR_NO_CLONE3: create children with clone(2) and cgroup.procs, as before clone3.
    let clone3 = std::env::var_os("SUPERVISOR_NO_CLONE3").is_none();
    let table = ProcessTable::with(journal, cgroups.clone(), child_file_limit, clone3)
        .context("cannot start the journal")?;
    let json = logging::format_in_use() != Some(LogFormat::Text);
    let guardian = Guardian::prepare(cgroups.as_ref(), run_dir.journal(), json);
    // After an upgrade the guardian runs already: this image takes over its pipe.
    let handed_guardian = handover.as_ref().and_then(|(p, _)| p.guardian.as_deref());
    let adopted = handed_guardian.map(|handed| guardian.adopt(handed, &table));
    if let Some(Err(error)) = &adopted {
        tracing::warn!(error = %error, "cannot take over the guardian handed over: starting one");
    }
    let started = match adopted {
        Some(Ok(end)) => Ok(end),
        Some(Err(_)) | None => guardian.start(&table).map(|(_, end)| end),
    };
    let (table, guarded) = match started {
        Ok(end) => (table.without_parent_death(), Some(end)),
        Err(error) => {
            tracing::warn!(error = %error, "cannot start the guardian: the children die with the daemon, their descendants may not");
            (table, None)
        }
    };
    let output = OutputService::start(Some(registry.config.log_retention_days))
        .context("cannot start the output writer")?;
    let board = StatusBoard::new();
    let runtime = Runtime::new(Shared {
        processes: table.clone(),
        output,
        board: board.clone(),
        ids: IdIndex::default(),
        stopped_on_arrival: StoppedOnArrival::default(),
    });
    let system = actors_system()?;
    let socket = run_dir.socket();
    system.block_on(async {
        let listener = crate::upgrade::control(listeners.control, &socket)
            .with_context(|| format!("cannot listen on {}", socket.display()))?;
        let control = listener.as_raw_fd();
        let mut refused = None;
        let daemon = SupervisorActor::create(|ctx| {
            let me = ctx.address().recipient();
            let root = match &handover {
                Some((pending, handed)) => {
                    runtime.output.restore(&handed.output);
                    let restored = match pending.fails_restore() {
                        Some(reason) => Err(reason),
                        None => tree::restore(&registry.tree, &handed.tree, &runtime, me.clone()),
                    };
                    match restored {
                        Ok(root) => root,
                        Err(reason) => {
                            refused =
                                Some(crate::upgrade::roll_back(pending, &reason, Some(handed)));
                            tree::build(&registry.tree, &runtime, me)
                        }
                    }
                }
                None => tree::build(&registry.tree, &runtime, me),
            };
            let mut daemon =
                SupervisorActor::new(registry, root, log, runtime.clone(), run_dir.clone());
            daemon.guardian = guarded.is_some().then(|| guardian.clone());
            daemon.control = control;
            daemon.lock = lock_fd;
            daemon.upgraded = handover.as_ref().map(|(pending, handed)| Upgraded {
                from: handed.from.clone(),
                began_unix_ms: handed.began_unix_ms,
                rolled_back: pending.rolled_back.clone(),
                log_lost: handed.log_lost,
            });
            daemon.http = http.and_then(|(listener, address)| {
                let endpoint = http::Endpoint::serve(listener, address, ctx.address().recipient());
                endpoint
                    .inspect_err(
                        |error| tracing::error!(error = %error, "cannot serve the HTTP endpoint"),
                    )
                    .ok()
            });
            daemon
        });
        if let Some(error) = refused {
            anyhow::bail!("cannot restore the hand-over nor roll back: {error}");
        }
        signals::spawn(table.clone(), daemon.clone().recipient())
            .context("cannot install signal handlers")?;
        if let Some(end) = guarded {
            actix::spawn(guardian.clone().keep(table.clone(), end));
        }
        let owner = nix::unistd::geteuid().as_raw();
        let board = board.clone();
        server::serve_on_own_thread(listener, daemon.recipient(), board, owner)
            .context("cannot start the control socket's thread")?;
        anyhow::Ok(())
    })?;
    // Restored: the hand-over's memfd and the old executable are closed.
    drop(handover);
    let code = system.run_with_code();
    actors::deferred::stop_deferring();
    let code = code?;
    let removal = table.remove_cgroups();
    guardian.release();
    run_dir.clean_up();
    // A reload may have moved the log (`SupervisorActor::move_log`): the record says where.
    record.log = run_dir.record().map_or(record.log, |written| written.log);
    record.exit = Some(last_words(&board, code));
    if let Err(error) = run_dir.write_record(&record) {
        tracing::warn!(error = %error, "cannot record the daemon's exit in its run directory");
    }
    if let Some(removal) = removal {
        removal.wait();
    }
    Ok(code)
}

/// The actor system, on the calling (main) thread. Its runtime carries out the wake-ups the
/// actors put off (`actors::deferred`) each time it is about to wait: a restart's journal write
/// and log lines come after the spawn, not in its way.
fn actors_system() -> anyhow::Result<actix::SystemRunner> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .on_thread_park(actors::deferred::run_pending)
        .build()
        .context("cannot start the actors' runtime")?;
    actors::deferred::defer_here();
    Ok(System::with_tokio_rt(move || runtime))
}

/// What the daemon says about its exit, for a `start` whose daemon is gone: why it stopped,
/// and each component's last failure.
fn last_words(board: &StatusBoard, code: i32) -> ExitRecord {
    let report = board.report();
    let reason = match report.phase {
        DaemonPhase::Stopping { reason, .. } => reason,
        DaemonPhase::Starting | DaemonPhase::Running => "exited".to_string(),
    };
    let failures = report
        .components
        .into_iter()
        .filter_map(|c| Some(format!("`{}` did not start: {}", c.id, c.last_error?)))
        .collect();
    ExitRecord {
        code,
        reason,
        failures,
    }
}

/// What a reload's caller waits for.
#[derive(Debug, Clone, Copy)]
struct ReloadWait {
    /// Until what it started is ready (else: answered once applied).
    wait: bool,
    /// For this long at most (default: derived from their start conditions).
    timeout: Option<Duration>,
}

/// What the daemon knows of the upgrade that started it.
struct Upgraded {
    /// The version of the daemon that handed over.
    from: String,
    /// When that daemon began the upgrade.
    began_unix_ms: u64,
    /// Set when this is the old daemon, given the tree back: why.
    rolled_back: Option<String>,
    /// Log lines the old image could not write before its exec.
    log_lost: u64,
}

/// The top of the actor system: owns the root group and the daemon's lifecycle.
struct SupervisorActor {
    /// Set when this daemon was started by an upgrade (or a rollback).
    upgraded: Option<Upgraded>,
    /// An upgrade is under way: it was asked for and has not been refused yet.
    upgrading: bool,
    /// How the upgrade that started this image ended: `None` when none did, `Some(None)`
    /// upgraded, `Some(Some(reason))` rolled back.
    upgrade_outcome: Option<Option<String>>,
    /// The crash-safety guardian, whose pipe an upgrade hands over.
    guardian: Option<Guardian>,
    /// The control socket's listener (open for the daemon's life), which an upgrade hands over.
    control: RawFd,
    /// The instance lock's descriptor (open for the daemon's life), which an upgrade hands over.
    lock: RawFd,
    registry: Registry,
    root: Addr<GroupActor>,
    started: bool,
    shutting_down: bool,
    stop_waiters: Vec<oneshot::Sender<Reply>>,
    log: Option<DailyLog>,
    runtime: Runtime,
    /// Reloads asked for so far, and the latest of them whose read has finished: reads run
    /// concurrently, and an older one finishing last must not undo a newer one.
    reloads_begun: u64,
    reloads_finished: u64,
    /// Reloads applied so far (read, valid, handed to the tree): the latest makes the second
    /// step of every move still under way.
    reconfigures: u64,
    /// The components reloads are moving (see [`crate::moves::Moving`]).
    moving: crate::moves::Moving,
    /// The `stats` timer, while `<tracestatsinterval>` asks for one.
    stats: Option<actix::SpawnHandle>,
    /// Where the daemon's record is kept (a reload that moves the log updates it).
    run_dir: RunDir,
    /// The HTTP endpoint, while `<tcpport>` asks for one.
    http: Option<http::Endpoint>,
}

/// How long a shutdown waits, once every component has stopped, for their output to be read to
/// the end and written to its files.
const OUTPUT_DRAIN: Duration = Duration::from_secs(5);

impl SupervisorActor {
    fn new(
        registry: Registry,
        root: Addr<GroupActor>,
        log: Option<DailyLog>,
        runtime: Runtime,
        run_dir: RunDir,
    ) -> Self {
        SupervisorActor {
            upgraded: None,
            upgrading: false,
            upgrade_outcome: None,
            guardian: None,
            control: -1,
            lock: -1,
            registry,
            root,
            started: false,
            shutting_down: false,
            stop_waiters: Vec::new(),
            log,
            runtime,
            reloads_begun: 0,
            reloads_finished: 0,
            reconfigures: 0,
            moving: crate::moves::Moving::default(),
            stats: None,
            run_dir,
            http: None,
        }
    }

    fn shutdown(&mut self, reason: &str, exit_code: i32, ctx: &mut Context<Self>) {
        if self.shutting_down {
            return;
        }
        self.shutting_down = true;
        // Commands waiting for a move go on, to be answered busy.
        self.end_moves();
        self.runtime.board.set_phase(DaemonPhase::Stopping {
            reason: reason.to_string(),
            gave_up: exit_code == EXIT_GAVE_UP,
        });
        sdnotify::stopping(reason);
        // No component starts again: each one's cgroup goes as soon as it has stopped.
        self.runtime.processes.retire_cgroups();
        tracing::info!(
            event = events::SUPERVISOR_STOPPING,
            reason,
            "shutting down: {reason}"
        );
        let stopped = self
            .root
            .send(Stop)
            .into_actor(self)
            .then(|_, daemon, _| {
                // The components' last words: each pipe read to its end, each line in its file.
                let output = daemon.runtime.output.clone();
                async move {
                    if tokio::time::timeout(OUTPUT_DRAIN, output.drain()).await.is_err() {
                        let pending = output.pending();
                        // SPEC's counts: the lines (and bytes) left unwritten, and what was
                        // still being read.
                        tracing::warn!(
                            event = events::OUTPUT_DROPPED,
                            dropped = pending.lines,
                            bytes = pending.bytes,
                            pipes = pending.pipes,
                            "the stopped components' output was not all written within {OUTPUT_DRAIN:?}: {pending}"
                        );
                    }
                }
                .into_actor(daemon)
            })
            .map(move |_, daemon, _| {
                tracing::info!(
                    event = events::SUPERVISOR_STOPPED,
                    exit_code,
                    "stopped, exiting with {exit_code}"
                );
                daemon.runtime.board.freeze();
                for waiter in daemon.stop_waiters.drain(..) {
                    let _ = waiter.send(Reply::Ok);
                }
                System::current().stop_with_code(exit_code);
            });
        ctx.spawn(stopped);
    }

    /// `start ID…`, `stop ID…`, `restart ID…` (see [`operate`]).
    fn operate(
        &mut self,
        action: Action,
        ids: Vec<String>,
        timeout_ms: Option<u64>,
    ) -> ResponseActFuture<Self, Reply> {
        if self.moving.holds(&ids) {
            return self.operate_in_turn(action, ids, timeout_ms);
        }
        self.operate_now(action, ids, timeout_ms)
    }

    /// A command on a component being moved (only the old place has it, and drops it) goes to
    /// its new place once the move is over, after the commands that waited before it. A stop
    /// marks it: the new place adds it stopped (it does not start it for the stop to end).
    fn operate_in_turn(
        &mut self,
        action: Action,
        ids: Vec<String>,
        timeout_ms: Option<u64>,
    ) -> ResponseActFuture<Self, Reply> {
        let moving = |id: &&String| self.moving.any(std::slice::from_ref(*id));
        if action == Action::Stop {
            (ids.iter().filter(moving)).for_each(|id| self.runtime.stopped_on_arrival.mark(id));
        }
        // Its new place starts a new process anyway: restarting that one too is for nothing.
        let action = match action {
            Action::Restart if ids.iter().all(|id| moving(&id)) => Action::Start,
            action => action,
        };
        let turn = self.moving.wait();
        let after = async move { drop(turn.await) }.into_actor(self);
        Box::pin(after.then(move |(), daemon, _| {
            let answer = match daemon.busy() {
                Some(busy) => Box::pin(actix::fut::ready(busy)),
                // A move begun since (its turn came first): it waits for that one too.
                None if daemon.moving.any(&ids) => daemon.operate_in_turn(action, ids, timeout_ms),
                None => daemon.operate_now(action, ids, timeout_ms),
            };
            // Its messages go out as it is first polled, right after this: the next command's
            // go out after them.
            daemon.moving.next();
            answer
        }))
    }

    /// The answer to a command that changes the tree while the daemon cannot take one.
    fn busy(&self) -> Option<Reply> {
        let why = match (self.shutting_down, self.upgrading) {
            (true, _) => "shutting down",
            (false, true) => "upgrading",
            (false, false) => return None,
        };
        Some(Reply::error(ErrorKind::Busy, why))
    }

    /// Every move is over (or abandoned): the commands that waited go on, and stops marked for
    /// an arrival that did not come are forgotten.
    fn end_moves(&mut self) {
        self.moving.end();
        self.runtime.stopped_on_arrival.clear();
    }

    fn operate_now(
        &mut self,
        action: Action,
        ids: Vec<String>,
        timeout_ms: Option<u64>,
    ) -> ResponseActFuture<Self, Reply> {
        let root = &self.registry.tree.root;
        if let Some(refused) = operate::refuse_unknown(&self.runtime.ids, &ids) {
            return Box::pin(actix::fut::ready(refused));
        }
        let timeout = match (action, timeout_ms) {
            (_, Some(ms)) => Duration::from_millis(ms),
            // A stop ends by itself: its stop timeout, then SIGKILL.
            (Action::Stop, None) => Duration::MAX,
            (Action::Start | Action::Restart, None) => wait::bound_for(root, &ids),
        };
        let (board, deadline) = (self.runtime.board.clone(), wait::deadline(timeout));
        let index = self.runtime.ids.clone();
        let answer = operate::operate(index, board, action, ids, deadline);
        Box::pin(answer.into_actor(self))
    }

    /// Re-reads the registry on a thread of its own (see `registry::load_off_thread`), so a
    /// FIFO or a hung mount in its place never holds up this actor; an invalid or overdue one
    /// changes nothing.
    fn reload(&mut self, ask: ReloadWait) -> ResponseActFuture<Self, Reply> {
        if self.shutting_down || self.upgrading {
            // A reload never cancels a shutdown or an upgrade: it is answered busy.
            let error = if self.upgrading {
                "upgrading: the reload was not applied"
            } else {
                "shutting down: the reload was not applied"
            };
            tracing::warn!(
                event = events::CONFIG_REJECTED,
                error,
                "reload refused: {error}"
            );
            return Box::pin(actix::fut::ready(Reply::error(ErrorKind::Busy, error)));
        }
        // systemd hears of reloads once it has heard of the start (READY=1 ends either).
        let tell_systemd = self.started && !self.shutting_down;
        if tell_systemd {
            sdnotify::reloading();
        }
        self.reloads_begun += 1;
        let reload = self.reloads_begun;
        let read = registry::load_off_thread(self.registry.path.clone(), registry::READ_DEADLINE);
        Box::pin(
            read.into_actor(self).then(move |loaded, daemon, _| {
                daemon.apply_reload(reload, loaded, tell_systemd, ask)
            }),
        )
    }

    /// Applies what reload number `reload` read, unless a later reload finished first (both
    /// read the same file; the later read is the newer) or the daemon is shutting down.
    fn apply_reload(
        &mut self,
        reload: u64,
        loaded: Result<Registry, registry::RegistryError>,
        tell_systemd: bool,
        ask: ReloadWait,
    ) -> ResponseActFuture<Self, Reply> {
        let superseded = reload < self.reloads_finished;
        self.reloads_finished = self.reloads_finished.max(reload);
        // A reload read before the shutdown or upgrade began is not applied now: the tree is
        // being stopped, or collected and handed over (and its listeners with it).
        if self.shutting_down || self.upgrading {
            let why = match self.shutting_down {
                true => "shutting down",
                false => "upgrading: the reload was not applied",
            };
            return Box::pin(actix::fut::ready(Reply::error(ErrorKind::Busy, why)));
        }
        let outcome = match loaded {
            _ if superseded => Err((
                ErrorKind::Busy,
                "a later reload finished first; this one was not applied".to_string(),
            )),
            Ok(registry) => Ok(registry),
            Err(errors) => {
                let error = errors.to_string();
                tracing::error!(event = events::CONFIG_REJECTED, error = %error, "reload refused: {error}");
                Err((ErrorKind::InvalidRegistry, error))
            }
        };
        match outcome {
            Ok(registry) => self.reconfigure(registry, tell_systemd, ask),
            Err((kind, message)) => {
                if tell_systemd {
                    sdnotify::ready("running; the last reload was refused");
                }
                Box::pin(actix::fut::ready(Reply::error(kind, message)))
            }
        }
    }

    /// Hands the new tree to the root group, applies the `<config>` keys that apply live (see
    /// [`registry::config_changes`]), and waits (unless asked not to) until what it added or
    /// restarted is ready. The other keys that differ are named as needing a restart; a key
    /// that could not be applied (a port in use) is named with why, and the rest applies.
    fn reconfigure(
        &mut self,
        registry: Registry,
        tell_systemd: bool,
        ask: ReloadWait,
    ) -> ResponseActFuture<Self, Reply> {
        let (live, needs_restart) =
            registry::config_changes(&self.registry.config, &registry.config);
        let config = registry.config;
        // The processes running now: a restarted component is ready only with a new one.
        let before = self.runtime.board.report();
        let mut moved = crate::moves::moved(&self.registry.tree.root, &registry.tree.root);
        // One added back while an earlier reload's removal still stops it comes the same way.
        let added = crate::moves::added(&self.registry.tree.root, &registry.tree.root);
        moved.extend(added.into_iter().filter(|id| self.runtime.ids.contains(id)));
        // One the operator stopped in its old place arrives stopped in its new one.
        let held = |id: &String| (before.components.iter()).any(|c| &c.id == id && c.held);
        (moved.iter().filter(|id| held(id)))
            .for_each(|id| self.runtime.stopped_on_arrival.mark(id));
        // What an earlier reload still moves is this one's to move too.
        let moved = self.moving.begin(moved);
        // Where the second step puts them, their commands go once they are there.
        let arriving: Vec<String> = {
            let present = registry.tree.root.components();
            (moved
                .iter()
                .filter(|id| present.iter().any(|c| &c.id == *id)))
            .cloned()
            .collect()
        };
        let spec = registry.tree.root.clone();
        // What moved stops in its old place before it starts in its new one (see `moves`).
        let step = (!moved.is_empty()).then(|| {
            let bound = crate::moves::stop_bound(&self.registry.tree.root, &spec, &moved);
            (crate::moves::without(&spec, &moved), bound)
        });
        let (root, index) = (self.root.clone(), self.runtime.ids.clone());
        // The actors the first step stops (one of a later reload may take an id meanwhile).
        let leaving = crate::moves::actors_of(&index, &moved);
        let first = async move {
            let (tree, bound) = step?;
            let first = root.send(Reconfigure { spec: tree }).await;
            crate::moves::until_gone(&index, &leaving, bound).await;
            Some(first.unwrap_or_default())
        };
        self.registry.tree = registry.tree;
        self.reconfigures += 1;
        let reload = self.reconfigures;
        let reconfigure = first.into_actor(self).then(move |first, daemon, _| {
            // A shutdown, or a later reload applied during the wait: the second step is theirs
            // to make (a reload refused meanwhile changes nothing, and takes nothing over).
            let ours = daemon.reconfigures == reload && !daemon.shutting_down;
            let (root, index) = (daemon.root.clone(), daemon.runtime.ids.clone());
            async move {
                match (first, ours) {
                    (Some(first), false) => first,
                    (first, _) => {
                        let second = root.send(Reconfigure { spec }).await.unwrap_or_default();
                        match first {
                            Some(first) => {
                                let bound = crate::moves::ARRIVAL_BOUND;
                                crate::moves::until_present(&index, &arriving, bound).await;
                                crate::moves::merged(first, second)
                            }
                            None => second,
                        }
                    }
                }
            }
            .into_actor(daemon)
        });
        let board = self.runtime.board.clone();
        let root = self.registry.tree.root.clone();
        let logged = reconfigure.map(move |report, daemon, ctx| {
            if daemon.reconfigures == reload {
                daemon.end_moves();
            }
            let (applied, not_applied) = daemon.apply_config(&config, live, ctx);
            let diff = ReloadSummary {
                added: report.added,
                removed: report.removed,
                changed: report.changed,
                updated: report.updated,
                unchanged: report.unchanged,
                needs_restart: needs_restart.into_iter().map(String::from).collect(),
                applied: applied.into_iter().map(String::from).collect(),
                not_applied,
            };
            tracing::info!(
                event = events::CONFIG_RELOADED,
                added = ?events::Json(&diff.added),
                removed = ?events::Json(&diff.removed),
                changed = ?events::Json(&diff.changed),
                updated = ?events::Json(&diff.updated),
                unchanged = diff.unchanged,
                needs_restart = ?events::Json(&diff.needs_restart),
                applied = ?events::Json(&diff.applied),
                not_applied = ?events::Json(&diff.not_applied),
                "registry reloaded"
            );
            if tell_systemd {
                sdnotify::ready("running; registry reloaded");
            }
            diff
        });
        Box::pin(logged.then(move |diff, daemon, _| {
            let started: Vec<String> = diff.added.iter().chain(&diff.changed).cloned().collect();
            let timeout = ask
                .timeout
                .unwrap_or_else(|| wait::bound_for(&root, &started));
            let deadline = wait::deadline(timeout);
            let waited = async move {
                let not_started = match ask.wait {
                    false => Vec::new(),
                    true => wait::until_restarted(&board, &started, &before, deadline).await,
                };
                Reply::Reloaded { diff, not_started }
            };
            waited.into_actor(daemon)
        }))
    }

    /// Applies `keys` of `read` (the keys that apply live and differ); returns those applied,
    /// and each one that could not be with why (also logged as `config_rejected`).
    fn apply_config(
        &mut self,
        read: &registry::DaemonConfig,
        keys: Vec<&'static str>,
        ctx: &mut Context<Self>,
    ) -> (Vec<&'static str>, Vec<String>) {
        let (mut applied, mut not_applied) = (Vec::new(), Vec::new());
        for key in keys {
            let outcome = match key {
                "tracelevel" => {
                    logging::set_level(read.trace_level);
                    self.registry.config.trace_level = read.trace_level;
                    Ok(())
                }
                "tracestatsinterval" => {
                    self.registry.config.stats_interval = read.stats_interval;
                    self.arm_stats(ctx);
                    Ok(())
                }
                "logRetentionDays" => {
                    self.runtime.output.set_retention(read.log_retention_days);
                    if let Some(log) = &self.log {
                        log.set_retention(read.log_retention_days);
                    }
                    self.registry.config.log_retention_days = read.log_retention_days;
                    Ok(())
                }
                "log" => self.move_log(&read.log),
                "tcpport" => self.rebind(read, ctx),
                // Each component's own `temp_dir` (in place, from its next start) comes with
                // the tree; the folder is the daemon's to make.
                "temp" => (read.temp.as_ref())
                    .map_or(Ok(()), std::fs::create_dir_all)
                    .map(|()| self.registry.config.temp = read.temp.clone())
                    .map_err(|error| format!("cannot create the folder: {error}")),
                other => Err(format!("`{other}` does not apply live")),
            };
            match outcome {
                Ok(()) => applied.push(key),
                Err(error) => {
                    tracing::error!(
                        event = events::CONFIG_REJECTED,
                        key,
                        error = %error,
                        "reload could not apply <{key}>: {error}"
                    );
                    not_applied.push(format!("{key}: {error}"));
                }
            }
        }
        (applied, not_applied)
    }

    /// `<log>`: the daemon's log file (in `start` mode or with `run --log-file`) moves to
    /// `base`, and the run directory's record says so (for `logs --daemon`).
    fn move_log(&mut self, base: &std::path::Path) -> Result<(), String> {
        if let Some(log) = &self.log {
            log.move_to(base)
                .map_err(|error| format!("cannot open {}: {error}", base.display()))?;
            if let Some(mut record) = self.run_dir.record() {
                record.log = Some(base.to_path_buf());
                self.run_dir
                    .write_record(&record)
                    .map_err(|error| format!("the log moved, but {error}"))?;
            }
        }
        self.registry.config.log = base.to_path_buf();
        Ok(())
    }

    /// `<tcpport>`: the endpoint moves to the new address (the old listener is closed once the
    /// new one is bound, and kept when it cannot be), stops when none is asked for, starts
    /// when one is.
    fn rebind(
        &mut self,
        read: &registry::DaemonConfig,
        ctx: &mut Context<Self>,
    ) -> Result<(), String> {
        self.http = match read.tcp_port {
            None => None,
            Some(port) => {
                let address = http::address(port, read.tcp_bind);
                let listener = http::bind(address)
                    .map_err(|error| format!("cannot listen on {address}: {error}"))?;
                let endpoint = http::Endpoint::serve(listener, address, ctx.address().recipient())
                    .map_err(|error| format!("cannot serve on {address}: {error}"))?;
                Some(endpoint)
            }
        };
        (self.registry.config.tcp_port, self.registry.config.tcp_bind) =
            (read.tcp_port, read.tcp_bind);
        Ok(())
    }

    fn answer_later(waiters: &mut Vec<oneshot::Sender<Reply>>) -> ResponseActFuture<Self, Reply> {
        let (waiter, answer) = oneshot::channel();
        waiters.push(waiter);
        Box::pin(actix::fut::wrap_future(async move {
            answer
                .await
                .unwrap_or_else(|_| Reply::error(ErrorKind::Busy, "shutting down"))
        }))
    }
}

impl Actor for SupervisorActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if let Some(upgraded) = self.upgraded.take() {
            return self.resumed(upgraded, ctx);
        }
        tracing::info!(
            event = events::SUPERVISOR_STARTED,
            registry = %self.registry.path.display(),
            pid = std::process::id(),
            components = self.registry.tree.root.components().len(),
            "supervisor started"
        );
        let start = self.root.send(Start {
            delay: Duration::ZERO,
            cause: StartCause::Initial,
        });
        ctx.spawn(start.into_actor(self).map(|_, daemon, _| {
            daemon.started = true;
            if !daemon.shutting_down {
                daemon.runtime.board.set_phase(DaemonPhase::Running);
                sdnotify::ready("running");
            }
            // The start's transient memory (spawn plans, log lines) goes back to the system.
            actors::process::sys::give_back_free_memory();
        }));
        // Pinged from this actor, so a wedged actor system stops the pings.
        if let Some(interval) = sdnotify::watchdog_interval() {
            ctx.run_interval(interval, |_, _| sdnotify::watchdog());
        }
        self.arm_stats(ctx);
    }
}

impl SupervisorActor {
    /// (Re)arms the `stats` timer at `<tracestatsinterval>` (none when 0).
    fn arm_stats(&mut self, ctx: &mut Context<Self>) {
        if let Some(armed) = self.stats.take() {
            ctx.cancel_future(armed);
        }
        if let Some(interval) = self.registry.config.stats_interval {
            self.stats = Some(ctx.run_interval(interval, |daemon, _| daemon.log_stats()));
        }
    }

    /// Takes up where the daemon that handed over left off: the tree runs already.
    fn resumed(&mut self, upgraded: Upgraded, ctx: &mut Context<Self>) {
        self.started = true;
        // Exits during the exec waited as zombies: reap them now.
        self.runtime.processes.reap();
        let duration_ms = crate::upgrade::unix_ms().saturating_sub(upgraded.began_unix_ms);
        if upgraded.log_lost > 0 {
            tracing::warn!(
                event = events::LOG_LINES_DROPPED,
                dropped = upgraded.log_lost,
                "{} log lines were not written before the upgrade's exec",
                upgraded.log_lost
            );
        }
        self.upgrade_outcome = Some(upgraded.rolled_back.clone());
        match upgraded.rolled_back {
            Some(reason) => tracing::error!(
                event = events::UPGRADE_ROLLED_BACK,
                from = %upgraded.from,
                to = crate::upgrade::VERSION,
                reason = %reason,
                duration_ms,
                "the new binary could not restore the tree ({reason}): rolled back"
            ),
            None => tracing::info!(
                event = events::UPGRADE_COMPLETED,
                from = %upgraded.from,
                to = crate::upgrade::VERSION,
                pid = std::process::id(),
                duration_ms,
                "upgraded from {} in {duration_ms} ms",
                upgraded.from
            ),
        }
        self.runtime.board.set_phase(DaemonPhase::Running);
        sdnotify::ready("running");
        if let Some(interval) = sdnotify::watchdog_interval() {
            ctx.run_interval(interval, |_, _| sdnotify::watchdog());
        }
        self.arm_stats(ctx);
    }

    /// `Upgraded`: how the upgrade that started this daemon image ended.
    fn upgrade_outcome(&self) -> Reply {
        match &self.upgrade_outcome {
            Some(None) => Reply::Ok,
            Some(Some(reason)) => Reply::error(
                ErrorKind::RolledBack,
                format!("the new binary could not restore the tree ({reason}): rolled back"),
            ),
            None => Reply::error(
                ErrorKind::Refused,
                "this daemon was not started by an upgrade",
            ),
        }
    }

    /// `upgrade [--binary PATH]` and SIGUSR2: asks the new binary, collects the tree and
    /// `execve`s it; answers only when the upgrade is refused (an exec ends the connection).
    fn upgrade(&mut self, binary: Option<PathBuf>) -> ResponseActFuture<Self, Reply> {
        if self.shutting_down || self.upgrading {
            let reason = if self.upgrading {
                "an upgrade is already under way"
            } else {
                "shutting down"
            };
            let at_once = Attempt::new();
            return Box::pin(actix::fut::ready(at_once.refuse(reason.to_string())));
        }
        self.upgrading = true;
        let attempt = Attempt::new();
        let began = attempt.began_unix_ms;
        let target = Rc::clone(&attempt.to);
        let binary = binary.unwrap_or_else(|| {
            std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/proc/self/exe"))
        });
        let root = self.root.clone();
        let table = self.runtime.processes.clone();
        let output_service = self.runtime.output.clone();
        let path = self.registry.path.clone();
        // A reload (which could re-bind the endpoint) is busy until the upgrade is over.
        let listeners = crate::upgrade::Listeners {
            control: Some(self.control),
            http: self.http.as_ref().map(http::Endpoint::fd),
        };
        let lock = self.lock;
        let work = async move {
            table.pause_reaping(true);
            let to = crate::upgrade::probe(&binary).await;
            table.pause_reaping(false);
            table.reap();
            let (to, checks) = to?;
            *target.borrow_mut() = Some(to.clone());
            tracing::info!(
                event = events::UPGRADE_STARTED,
                from = crate::upgrade::VERSION,
                to = to.as_str(),
                binary = %binary.display(),
                "upgrading to {} ({to})",
                binary.display()
            );
            // Output first: a reader stopped never closes its pipe, so the tree's pipes hold.
            crate::upgrade::output(&output_service).await?;
            let tree = crate::upgrade::collect(&root, &table, &output_service).await?;
            // Processes that exited while the tree came to rest had their pipes read to the
            // end meanwhile (no successor reads them): at rest again once those lines are in.
            let output = match crate::upgrade::output(&output_service).await {
                Ok(output) => output,
                Err(reason) => {
                    // `output` has let the readers go on already (and re-queued held lines).
                    crate::upgrade::thaw_tree(&root, &table);
                    return Err(reason);
                }
            };
            // The new daemon reads the registry from disk: it must still describe this tree.
            let on_disk = registry::load_off_thread(path.clone(), registry::READ_DEADLINE).await;
            let checked = match on_disk {
                Ok(on_disk) => tree::check(&on_disk.tree, &tree)
                    .map_err(|d| format!("the registry changed on disk (reload first): {d}")),
                Err(errors) => Err(format!("the registry on disk is invalid: {errors}")),
            };
            if let Err(reason) = checked {
                crate::upgrade::thaw(&root, &table, &output_service);
                return Err(reason);
            }
            let handover = crate::upgrade::Handover {
                version: crate::upgrade::HANDOVER_VERSION,
                from: crate::upgrade::VERSION.to_string(),
                to,
                began_unix_ms: began,
                tree,
                listeners,
                lock: Some(lock),
                output,
                log_lost: 0,
            };
            // A new binary that cannot take this hand-over says so before the exec.
            let checked = crate::upgrade::check(&binary, checks, &path, &handover).await;
            if let Err(reason) = checked {
                crate::upgrade::thaw(&root, &table, &output_service);
                return Err(reason);
            }
            // The listeners accept no more; the connections they took are answered first.
            crate::upgrade::GATE
                .close_and_wait(crate::upgrade::QUIET_WITHIN)
                .await;
            Ok((binary, handover))
        };
        Box::pin(work.into_actor(self).map(move |collected, daemon, _| {
            daemon.upgrading = false;
            let (binary, mut handover) = match collected {
                Ok(collected) => collected,
                Err(reason) => return attempt.refuse(reason),
            };
            // A shutdown asked meanwhile went to a frozen tree: the exec would hand over the
            // tree as collected before it and the new image would never stop. It goes on here.
            if daemon.shutting_down {
                daemon.call_off_upgrade();
                return attempt.refuse("shutting down: the upgrade did not go ahead".to_string());
            }
            // The guardian's pipe stays open across the exec: the new image adopts it.
            let guardian = match daemon.guardian.as_ref().map(Guardian::handover) {
                None => None,
                Some(Ok(handed)) => Some(handed),
                Some(Err(error)) => {
                    daemon.call_off_upgrade();
                    return attempt.refuse(format!("cannot hand the guardian over: {error}"));
                }
            };
            // The new image reads the same NOTIFY_SOCKET and sends the READY=1 that ends it.
            if daemon.started {
                sdnotify::upgrading(&handover.to);
            }
            handover.log_lost = crate::logging::flush();
            let error = crate::upgrade::exec(&binary, &handover, guardian.as_ref());
            if daemon.started {
                sdnotify::ready("running; the upgrade failed");
            }
            if let Some(guardian) = &daemon.guardian {
                guardian.handover_failed();
            }
            daemon.call_off_upgrade();
            attempt.refuse(format!("cannot execute {}: {error:?}", binary.display()))
        }))
    }

    /// An upgrade collected and gated that does not go ahead: the listeners accept again, the
    /// tree, the reaper and the output go on.
    fn call_off_upgrade(&self) {
        crate::upgrade::GATE.open();
        let runtime = &self.runtime;
        crate::upgrade::thaw(&self.root, &runtime.processes, &runtime.output);
    }

    /// One `stats` event per component (`<tracestatsinterval>`).
    fn log_stats(&mut self) {
        for row in status::rows(
            self.runtime.board.report_with_queues().components,
            status::Wait::Never,
        ) {
            tracing::info!(
                event = events::STATS,
                component = %row.id,
                group = %row.group,
                // SPEC's field, null when no process runs.
                pid = ?events::Json(&row.pid),
                uptime_ms = row.uptime_ms,
                rss_bytes = row.rss_bytes,
                restarts = row.restarts,
                state = %row.state,
                "{}, up {} s, {} bytes resident, {} restarts",
                row.state,
                row.uptime_ms / 1000,
                row.rss_bytes,
                row.restarts
            );
        }
    }
}

impl Handler<DaemonSignal> for SupervisorActor {
    type Result = ();

    fn handle(&mut self, signal: DaemonSignal, ctx: &mut Context<Self>) {
        match signal {
            DaemonSignal::Shutdown(number) if self.shutting_down => {
                // A second SIGTERM/SIGINT: the operator will not wait for stop timeouts.
                tracing::warn!(
                    event = events::SHUTDOWN_FORCED,
                    signal = signals::name(number),
                    "second signal during shutdown: killing every component now"
                );
                self.runtime.processes.kill_all();
            }
            DaemonSignal::Shutdown(number) => {
                let reason = format!("signal {}", signals::name(number));
                self.shutdown(&reason, EXIT_OK, ctx);
            }
            DaemonSignal::Reload => {
                let ask = ReloadWait {
                    wait: false,
                    timeout: None,
                };
                ctx.spawn(self.reload(ask).map(|_, _, _| ()));
            }
            DaemonSignal::Upgrade => {
                ctx.spawn(self.upgrade(None).map(|_, _, _| ()));
            }
            DaemonSignal::ReopenLogs => {
                self.runtime.output.reopen();
                if let Some(log) = &self.log {
                    if let Err(error) = log.reopen() {
                        tracing::error!(
                            event = events::LOG_REOPEN_FAILED,
                            error = %error,
                            "cannot reopen the log file"
                        );
                    }
                }
            }
        }
    }
}

impl Handler<ControlRequest> for SupervisorActor {
    type Result = ResponseActFuture<Self, Reply>;

    fn handle(&mut self, request: ControlRequest, ctx: &mut Context<Self>) -> Self::Result {
        let ControlRequest { request, peer } = request;
        if !matches!(request, Request::Status {} | Request::WaitReady { .. }) {
            tracing::debug!(
                event = events::CONTROL_REQUEST,
                request = ?events::Json(&request),
                peer_uid = peer.uid,
                peer_pid = peer.pid,
                "control request"
            );
        }
        // During a shutdown, all but a second shutdown is answered busy. The tree is frozen
        // while it is handed over: what would change it waits for no one and is answered busy
        // (a shutdown still goes through; an upgrade refuses itself).
        let changes_the_tree = matches!(
            request,
            Request::Start { .. }
                | Request::Stop { .. }
                | Request::Restart { .. }
                | Request::Reload { .. }
                | Request::Signal { .. }
        );
        let refused = changes_the_tree || request != (Request::Shutdown {}) && self.shutting_down;
        if let Some(busy) = self.busy().filter(|_| refused) {
            return Box::pin(actix::fut::ready(busy));
        }
        match request {
            // The control server answers these from the status board.
            Request::Status {} | Request::WaitReady { .. } => {
                let refused = Reply::error(ErrorKind::BadRequest, "answered by the control server");
                Box::pin(actix::fut::ready(refused))
            }
            Request::Start { ids, timeout_ms } => self.operate(Action::Start, ids, timeout_ms),
            Request::Stop { ids } => self.operate(Action::Stop, ids, None),
            Request::Restart { ids, timeout_ms } => self.operate(Action::Restart, ids, timeout_ms),
            Request::Reload {
                no_wait,
                timeout_ms,
            } => self.reload(ReloadWait {
                wait: !no_wait,
                timeout: timeout_ms.map(Duration::from_millis),
            }),
            Request::Signal { ids, signal } => {
                let reply = operate::refuse_unknown(&self.runtime.ids, &ids).unwrap_or_else(|| {
                    let (board, processes) = (&self.runtime.board, &self.runtime.processes);
                    operate::signal(board, processes, &ids, &signal)
                });
                Box::pin(actix::fut::ready(reply))
            }
            Request::Upgrade { binary } => self.upgrade(binary),
            Request::Upgraded {} => Box::pin(actix::fut::ready(self.upgrade_outcome())),
            Request::Shutdown {} => {
                let answer = Self::answer_later(&mut self.stop_waiters);
                self.shutdown("control request", EXIT_OK, ctx);
                answer
            }
        }
    }
}

/// The HTTP endpoint's questions (`/healthz`, `/status`, `/metrics`).
impl Handler<http::Observe> for SupervisorActor {
    type Result = ResponseActFuture<Self, http::Observation>;

    fn handle(&mut self, observe: http::Observe, _: &mut Context<Self>) -> Self::Result {
        let health = if self.shutting_down || !self.root.connected() {
            http::Health::Stopping
        } else if self.started {
            http::Health::Running
        } else {
            http::Health::Starting
        };
        if !observe.tree {
            return Box::pin(actix::fut::ready(http::Observation {
                health,
                ..Default::default()
            }));
        }
        let report = self.runtime.board.report_with_queues();
        Box::pin(actix::fut::ready(http::Observation {
            health,
            not_ready: report.not_ready(),
            components: status::rows(report.components, status::Wait::Never),
            groups: report.groups,
        }))
    }
}

/// One upgrade asked for: when, and the version it goes to once the new binary has said.
struct Attempt {
    began_unix_ms: u64,
    to: Rc<RefCell<Option<String>>>,
}

impl Attempt {
    fn new() -> Self {
        Attempt {
            began_unix_ms: crate::upgrade::unix_ms(),
            to: Rc::default(),
        }
    }

    /// Logs `upgrade_refused` with SPEC's fields (`to` null when the new binary never said)
    /// and answers with the reason.
    fn refuse(&self, reason: String) -> Reply {
        let duration_ms = crate::upgrade::unix_ms().saturating_sub(self.began_unix_ms);
        tracing::error!(
            event = events::UPGRADE_REFUSED,
            from = crate::upgrade::VERSION,
            to = ?events::Json(&*self.to.borrow()),
            duration_ms,
            reason = %reason,
            "upgrade refused: {reason}"
        );
        Reply::error(ErrorKind::Refused, reason)
    }
}

/// The root group reports here when it gives up.
impl Handler<GroupGaveUp> for SupervisorActor {
    type Result = ();

    fn handle(&mut self, _: GroupGaveUp, ctx: &mut Context<Self>) {
        self.shutdown("restart intensity exceeded", EXIT_GAVE_UP, ctx);
    }
}
