//! The status board: what `status`, `/status`, `/metrics` and "ready" show of the tree. Every
//! actor publishes its own part whenever it changes (a component on each transition, a group on
//! each decision); readers take a copy of the board and never ask an actor, so an answer never
//! waits behind the tree's work, in any phase of the daemon.
//!
//! The board stores and renders; it decides nothing. [`StatusReport::not_ready`] is the one
//! statement of SPEC's "ready".

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::policy::ExitStatus;
use crate::process::procnet::{Family, Queues};
use crate::process::sockets::SocketProbe;

/// Names one actor's entry on the board.
pub type Token = u64;

/// How many of a process's last output lines are kept for failure reports.
pub const TAIL_LINES: usize = 3;

/// The board, shared by every actor of a tree and by the daemon's readers. Cheap to clone.
#[derive(Clone)]
pub struct StatusBoard {
    board: Arc<Mutex<Board>>,
    changed: Arc<watch::Sender<u64>>,
}

#[derive(Default)]
struct Board {
    next: Token,
    root: Option<Token>,
    components: HashMap<Token, Published>,
    groups: HashMap<Token, GroupEntry>,
    phase: DaemonPhase,
    /// The last report of a tree that has stopped for good (see [`StatusBoard::freeze`]).
    frozen: Option<StatusReport>,
}

/// What a component actor publishes about itself.
#[derive(Debug, Clone)]
pub struct Published {
    /// Its id.
    pub id: String,
    /// Path of its enclosing groups.
    pub group: String,
    /// Its description.
    pub description: String,
    /// Its state's name (see [`ComponentStatus::state`]).
    pub state: &'static str,
    /// Its process, while it has one.
    pub pid: Option<u32>,
    /// When its process was spawned.
    pub since: Option<Instant>,
    /// Automatic restarts.
    pub restarts: u32,
    /// How its last process ended.
    pub last_exit: Option<ExitStatus>,
    /// Whether that end followed a stop we asked for.
    pub last_exit_requested: bool,
    /// Why it is in its state, when something went wrong.
    pub reason: Option<String>,
    /// The last failure (kept until it runs again), and whether its output tells more.
    pub last_error: Option<(String, bool)>,
    /// It exited normally and is not to be restarted (`temporary`, `transient`).
    pub done: bool,
    /// The last lines its latest process wrote.
    pub tail: OutputTail,
    /// The listening sockets the daemon holds for it.
    pub sockets: Vec<crate::process::sockets::SocketProbe>,
}

/// What a group actor publishes about itself.
#[derive(Debug, Clone, Default)]
pub struct GroupEntry {
    /// The group's path (`""` for the root).
    pub path: String,
    /// Its children in start order.
    pub children: Vec<ChildEntry>,
    /// How many times it gave up.
    pub gave_up: u64,
    /// It is giving up right now (stopping every child).
    pub giving_up: bool,
    /// Automatic restarts of its children by reason, in the order of [`RESTART_REASONS`].
    pub restarts: [(&'static str, u64); 4],
}

/// One child as its group sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChildEntry {
    /// The child's entry.
    pub token: Token,
    /// The group wants it up (autostart, or started since; not settled after a final exit).
    pub wanted: bool,
    /// The operator stopped it.
    pub held: bool,
}

/// Where the daemon is in its own life.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum DaemonPhase {
    /// The tree's first start is under way.
    #[default]
    Starting,
    /// The first start has finished.
    Running,
    /// The orderly shutdown began, for this reason.
    Stopping {
        /// `control request`, `signal SIGTERM`, `restart intensity exceeded`.
        reason: String,
        /// The root gave up (restart intensity exceeded).
        gave_up: bool,
    },
}

impl DaemonPhase {
    /// `starting`, `running` or `stopping`.
    pub fn name(&self) -> &'static str {
        match self {
            DaemonPhase::Starting => "starting",
            DaemonPhase::Running => "running",
            DaemonPhase::Stopping { .. } => "stopping",
        }
    }
}

impl StatusBoard {
    /// An empty board.
    pub fn new() -> Self {
        StatusBoard {
            board: Arc::new(Mutex::new(Board::default())),
            changed: Arc::new(watch::Sender::new(0)),
        }
    }

    fn change(&self, edit: impl FnOnce(&mut Board)) {
        edit(&mut self.board.lock().unwrap_or_else(PoisonError::into_inner));
        self.changed.send_modify(|version| *version += 1);
    }

    /// A new entry's token.
    pub fn register(&self) -> Token {
        let mut board = self.board.lock().unwrap_or_else(PoisonError::into_inner);
        board.next += 1;
        board.next
    }

    /// The root group's entry, where reports start.
    pub fn set_root(&self, token: Token) {
        self.change(|board| board.root = Some(token));
    }

    /// A component's new state.
    pub fn publish_component(&self, token: Token, published: Published) {
        self.change(|board| {
            board.components.insert(token, published);
        });
    }

    /// A group's new state.
    pub fn publish_group(&self, token: Token, entry: GroupEntry) {
        self.change(|board| {
            board.groups.insert(token, entry);
        });
    }

    /// A group's new restart counters (the rest of its entry as it was).
    pub fn set_group_restarts(&self, token: Token, restarts: [(&'static str, u64); 4]) {
        self.change(|board| {
            if let Some(entry) = board.groups.get_mut(&token) {
                entry.restarts = restarts;
            }
        });
    }

    /// Forgets an actor that is gone.
    pub fn remove(&self, token: Token) {
        self.change(|board| {
            board.components.remove(&token);
            board.groups.remove(&token);
        });
    }

    /// The daemon's new phase.
    pub fn set_phase(&self, phase: DaemonPhase) {
        self.change(|board| board.phase = phase);
    }

    /// Told of every change from now on.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Keeps the tree as it is now as the board's last word: the actors are about to go (the
    /// daemon exits), and what they said must outlive them.
    pub fn freeze(&self) {
        let report = self.report();
        self.change(|board| board.frozen = Some(report));
    }

    /// The whole tree now: components in start order, groups depth first; held sockets' queues
    /// unknown (for readers that show none: waits, reloads, the exit record).
    pub fn report(&self) -> StatusReport {
        self.report_reading(&Queues::unread())
    }

    /// [`StatusBoard::report`] with the accept queues of held sockets read from the kernel
    /// (once per family held): for `status`, `/status`, `/metrics` and `stats`.
    pub fn report_with_queues(&self) -> StatusReport {
        self.report_reading(&Queues::default())
    }

    fn report_reading(&self, queues: &Queues) -> StatusReport {
        // The kernel's socket tables are read before the walk, not under the board's lock, which
        // every actor takes to publish (a socket held since is read during the walk).
        for family in self.held_families() {
            queues.read(family);
        }
        let board = self.board.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(frozen) = &board.frozen {
            return frozen.clone();
        }
        let mut report = StatusReport {
            phase: board.phase.clone(),
            ..StatusReport::default()
        };
        if let Some(root) = board.root {
            let top = Along {
                wanted: true,
                held: false,
                giving_up: false,
            };
            board.walk(root, top, queues, &mut report);
        }
        report
    }
}

impl StatusBoard {
    /// The families of the sockets held for components now.
    fn held_families(&self) -> Vec<Family> {
        let board = self.board.lock().unwrap_or_else(PoisonError::into_inner);
        let mut families = Vec::new();
        let held = (board.components.values()).flat_map(|component| &component.sockets);
        for family in held.filter_map(SocketProbe::family) {
            if !families.contains(&family) {
                families.push(family);
            }
        }
        families
    }
}

impl Default for StatusBoard {
    fn default() -> Self {
        StatusBoard::new()
    }
}

/// What the groups above a child say about it.
#[derive(Clone, Copy)]
struct Along {
    wanted: bool,
    held: bool,
    giving_up: bool,
}

impl Board {
    fn walk(&self, token: Token, along: Along, queues: &Queues, report: &mut StatusReport) {
        if let Some(group) = self.groups.get(&token) {
            report.groups.push(GroupStatus {
                path: group.path.clone(),
                intensity_exceeded: group.gave_up,
                restarts: group.restarts,
            });
            for child in &group.children {
                let along = Along {
                    wanted: along.wanted && child.wanted,
                    held: along.held || child.held,
                    giving_up: along.giving_up || group.giving_up,
                };
                self.walk(child.token, along, queues, report);
            }
        } else if let Some(component) = self.components.get(&token) {
            report.components.push(component.status(along, queues));
        }
    }
}

impl Published {
    fn status(&self, along: Along, queues: &Queues) -> ComponentStatus {
        let tail = self.tail.lines();
        let with_output = |(error, output): &(String, bool)| match tail.is_empty() || !output {
            true => error.clone(),
            false => format!("{error}: {}", tail.join(" | ")),
        };
        let last_error = self.last_error.as_ref().map(with_output);
        let at_rest = matches!(self.state, "stopped" | "stopping");
        let reason = if along.held && at_rest {
            Some("stopped by the operator".to_string())
        } else if along.giving_up && at_rest {
            Some(match &last_error {
                Some(error) => format!("gave up: {error}"),
                None => "gave up".to_string(),
            })
        } else if let Some(reason) = &self.reason {
            let output = self.last_error.as_ref().is_some_and(|(_, output)| *output);
            Some(with_output(&(reason.clone(), output)))
        } else if self.state == "stopped" && self.last_exit_requested {
            Some("stopped on request".to_string())
        } else if self.state == "starting" && along.wanted {
            last_error.clone()
        } else {
            None
        };
        ComponentStatus {
            id: self.id.clone(),
            group: self.group.clone(),
            description: self.description.clone(),
            state: self.state,
            pid: self.pid,
            uptime: self.since.map_or(Duration::ZERO, |since| since.elapsed()),
            restarts: self.restarts,
            last_exit: self.last_exit,
            reason,
            wanted: along.wanted && !along.held,
            held: along.held,
            done: self.done,
            last_error,
            sockets: self.sockets.iter().map(|s| s.status(queues)).collect(),
        }
    }
}

/// The last lines a component's latest process wrote (stdout and stderr together), for the
/// reasons a failed start prints. Shared with the output readers. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct OutputTail(Arc<Mutex<VecDeque<String>>>);

impl OutputTail {
    /// Keeps `new` (oldest first) as the newest lines, dropping the oldest beyond
    /// [`TAIL_LINES`]; blank lines are skipped.
    pub fn extend(&self, new: &[impl AsRef<[u8]>]) {
        let mut lines = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        for line in new {
            let text = String::from_utf8_lossy(line.as_ref()).trim().to_string();
            if text.is_empty() {
                continue;
            }
            if lines.len() == TAIL_LINES {
                lines.pop_front();
            }
            lines.push_back(text);
        }
    }

    /// Forgets the lines (a new process starts).
    pub fn clear(&self) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// The lines kept, oldest first.
    pub fn lines(&self) -> Vec<String> {
        let lines = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        lines.iter().cloned().collect()
    }
}

/// One component as the board shows it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentStatus {
    /// The component's id.
    pub id: String,
    /// Path of its enclosing groups (`""` for the root).
    pub group: String,
    /// Its description.
    pub description: String,
    /// `stopped`, `starting`, `running`, `backoff`, `stopping`, `exited` or `failed`.
    pub state: &'static str,
    /// The pid of its process, while it has one.
    pub pid: Option<u32>,
    /// How long its process has been running (zero without one).
    pub uptime: Duration,
    /// How many times its group restarted it automatically (operator starts and reload
    /// restarts are not counted).
    pub restarts: u32,
    /// How its last process ended.
    pub last_exit: Option<ExitStatus>,
    /// Why it is in its state, in words, when that is worth saying: the last failed spawn
    /// (`execve: No such file or directory`), an exit with its last output, a readiness or
    /// health verdict, `gave up`, `stopped by the operator`.
    pub reason: Option<String>,
    /// Its groups want it up and the operator did not stop it.
    pub wanted: bool,
    /// The operator stopped it (or a group around it).
    pub held: bool,
    /// It exited normally and is not to be restarted.
    pub done: bool,
    /// Its last failure with its last output, until it runs again.
    pub last_error: Option<String>,
    /// The listening sockets the daemon holds for it.
    pub sockets: Vec<crate::process::sockets::SocketStatus>,
}

impl ComponentStatus {
    /// Why this component is not ready, or `None` when it is (SPEC: running and past its start
    /// condition; a `temporary` or `transient` one that exited normally is done; one the
    /// operator stopped, or that is not wanted, does not count).
    pub fn not_ready(&self) -> Option<String> {
        let why = || match &self.last_error {
            Some(error) => format!("{}: {error}", self.state),
            None => self.state.to_string(),
        };
        match self.state {
            _ if self.held => None,
            "running" => None,
            "exited" if self.done => None,
            _ if self.wanted => Some(why()),
            "exited" | "failed" => Some(why()),
            _ => None,
        }
    }
}

/// One group as the board shows it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupStatus {
    /// The group's path (`""` for the root).
    pub path: String,
    /// How many times it gave up (restart intensity exceeded).
    pub intensity_exceeded: u64,
    /// Automatic restarts of its children by reason (`exit`, `sibling`, `health`,
    /// `escalation`), in that order.
    pub restarts: [(&'static str, u64); 4],
}

/// The reasons of `restart_scheduled`, in the order of [`GroupStatus::restarts`].
pub const RESTART_REASONS: [&str; 4] = ["exit", "sibling", "health", "escalation"];

/// The board now: components in start order, groups depth first, the daemon's phase.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusReport {
    /// Every component.
    pub components: Vec<ComponentStatus>,
    /// Every group.
    pub groups: Vec<GroupStatus>,
    /// The daemon's phase.
    pub phase: DaemonPhase,
}

impl StatusReport {
    /// SPEC's "ready": the components that are not, each with why (`backoff: execve: No such
    /// file or directory`, `starting`); empty when the tree is ready.
    pub fn not_ready(&self) -> Vec<(String, String)> {
        self.components
            .iter()
            .filter_map(|component| Some((component.id.clone(), component.not_ready()?)))
            .collect()
    }
}

#[cfg(test)]
mod tests;
