//! Plain data describing a supervision tree: what to run and how to supervise it.
//!
//! This is the contract between the registry (which produces it from XML) and the actors (which
//! carry it out). It holds no XML types, no actix types and does no I/O. Every value here is
//! already validated and resolved: defaults applied, profiles merged, paths made absolute.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// A whole tree: the root group and everything below it.
#[derive(Debug, Clone, PartialEq)]
pub struct TreeSpec {
    /// The root supervisor; its `id` is empty.
    pub root: GroupSpec,
}

/// A supervisor node: a group of children supervised with one strategy and one intensity.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupSpec {
    /// The group's id (`""` for the root).
    pub id: String,
    /// How the group reacts when one of its children exits and is to be restarted.
    pub strategy: Strategy,
    /// How many restarts the group tolerates before it gives up; `None`: it never gives up
    /// (the root when the registry gives it no `<restartStrategy>`).
    pub intensity: Option<Intensity>,
    /// The group's place in its parent's start order.
    pub start_priority: u32,
    /// The children in document order; the group sorts them by `(start_priority, position)`.
    pub children: Vec<ChildSpec>,
}

impl GroupSpec {
    /// Every component of the group and its nested groups, depth first in document order.
    pub fn components(&self) -> Vec<&ComponentSpec> {
        let mut found = Vec::new();
        self.collect_components(&mut found);
        found
    }

    fn collect_components<'a>(&'a self, found: &mut Vec<&'a ComponentSpec>) {
        for child in &self.children {
            match child {
                ChildSpec::Component(component) => found.push(component),
                ChildSpec::Group(nested) => nested.collect_components(found),
            }
        }
    }
}

/// One child of a group: a component (a process) or a nested group.
#[derive(Debug, Clone, PartialEq)]
pub enum ChildSpec {
    /// A supervised program; shared by the registry the daemon keeps and the group that runs it
    /// (each costs hundreds of bytes, 10,000 of them megabytes).
    Component(Arc<ComponentSpec>),
    /// A nested supervisor (boxed: a slot of every child, 10,000 components included, would
    /// otherwise be as large as a group's settings).
    Group(Box<GroupSpec>),
}

impl ChildSpec {
    /// The child's id, unique across the whole tree.
    pub fn id(&self) -> &str {
        match self {
            ChildSpec::Component(c) => &c.id,
            ChildSpec::Group(g) => &g.id,
        }
    }

    /// The child's place in its group's start order.
    pub fn start_priority(&self) -> u32 {
        match self {
            ChildSpec::Component(c) => c.start_priority,
            ChildSpec::Group(g) => g.start_priority,
        }
    }
}

/// Erlang/OTP restart strategies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Restart only the child that exited.
    OneForOne,
    /// Stop every sibling and start them all again.
    OneForAll,
    /// Stop and restart the exited child and every sibling after it in start order.
    RestForOne,
}

/// Restart intensity: more than `max_restarts` restarts within `period` makes the group give up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Intensity {
    /// Restarts tolerated within `period`.
    pub max_restarts: u32,
    /// The sliding window.
    pub period: Duration,
}

/// When an exited component is restarted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartType {
    /// Always.
    Permanent,
    /// Only after an abnormal exit.
    Transient,
    /// Never, not even in a group restart.
    Temporary,
}

/// Exponential backoff between consecutive restarts of one component.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// Delay of the first consecutive restart after an unstable run.
    pub initial: Duration,
    /// Cap on the delay.
    pub max: Duration,
    /// Growth factor per consecutive restart.
    pub multiplier: f64,
    /// A run at least this long resets the sequence: the next restart is immediate.
    pub reset: Duration,
}

impl Backoff {
    /// 0.1 s doubling up to 30 s; a 10 s run resets the sequence.
    pub const DEFAULT: Backoff = Backoff {
        initial: Duration::from_millis(100),
        max: Duration::from_secs(30),
        multiplier: 2.0,
        reset: Duration::from_secs(10),
    };
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::DEFAULT
    }
}

/// A supervised program and its supervision settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ComponentSpec {
    /// Unique id, also exported as `SUPERVISOR_COMPONENT`.
    pub id: String,
    /// Human description shown by `status`.
    pub description: String,
    /// What to execute.
    pub command: CommandSpec,
    /// Place in the group's start order (lower starts first).
    pub start_priority: u32,
    /// How long the process must stay up before it counts as started.
    pub start_delay: Duration,
    /// How long a stop waits after `stop_signal` before SIGKILL.
    pub stop_timeout: Duration,
    /// The signal that asks the component to stop (a signal number).
    pub stop_signal: i32,
    /// When an exit leads to a restart.
    pub restart: RestartType,
    /// Exit codes that count as a normal exit.
    pub success_exit_codes: Vec<i32>,
    /// Whether the component is started with the tree.
    pub autostart: bool,
    /// Delays between consecutive restarts.
    pub backoff: Backoff,
    /// What happens to the component's stdout and stderr.
    pub output: OutputSpec,
    /// When the component counts as started, beyond its process running.
    pub readiness: Option<ReadinessSpec>,
    /// How a running component is checked for health.
    pub health_check: Option<HealthCheckSpec>,
    /// The listening sockets the daemon holds for it and passes to each of its processes.
    pub sockets: Vec<SocketSpec>,
}

/// `<socket name>`: a listening socket the daemon binds once and passes to every process of
/// its component as a descriptor from 3 on (systemd's `LISTEN_FDS` protocol).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SocketSpec {
    /// Its name in `LISTEN_FDNAMES`.
    pub name: String,
    /// Where it listens.
    pub listen: Listen,
    /// The `listen(2)` backlog.
    pub backlog: u32,
    /// `SO_REUSEPORT`.
    pub reuse_port: bool,
    /// `IP_FREEBIND`: bind to an address the host does not have (yet).
    pub free_bind: bool,
    /// A unix socket file's permission bits.
    pub mode: Option<u32>,
    /// A unix socket file's owner (uid).
    pub owner: Option<u32>,
    /// A unix socket file's group (gid).
    pub group: Option<u32>,
}

/// A socket's address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Listen {
    /// `tcp:HOST:PORT` or `tcp6:[ADDR]:PORT`.
    Tcp(std::net::SocketAddr),
    /// `unix:/path`: a stream socket file.
    Unix(PathBuf),
}

impl std::fmt::Display for Listen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Listen::Tcp(address @ std::net::SocketAddr::V4(_)) => write!(f, "tcp:{address}"),
            Listen::Tcp(address @ std::net::SocketAddr::V6(_)) => write!(f, "tcp6:{address}"),
            Listen::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// Where a component's stdout and stderr go (`<output>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputSpec {
    /// Each captured line becomes a `component_output` event in the daemon's log.
    pub log: bool,
    /// The component's own log file: an absolute path in which `{date}` is still to be
    /// replaced by the day's date (`{id}` already was); `None`: no file.
    pub file: Option<PathBuf>,
    /// Past this size (bytes) the file rolls to numbered parts; `None`: no size limit.
    pub max_size: Option<u64>,
    /// Files kept per component (older ones are removed).
    pub keep: u32,
    /// Each line in the file is prefixed with an RFC 3339 time and the stream.
    pub timestamps: bool,
    /// What happens to stdout.
    pub stdout: StdoutMode,
    /// What happens to stderr.
    pub stderr: StderrMode,
    /// What happens when the daemon cannot keep up with the output.
    pub overflow: Overflow,
}

impl OutputSpec {
    /// Lines logged as events, no file (so no size limit), 10 files kept, timestamped, stdout
    /// captured, stderr captured separately, a full pipe holds the child back.
    pub const DEFAULT: OutputSpec = OutputSpec {
        log: true,
        file: None,
        max_size: None,
        keep: 10,
        timestamps: true,
        stdout: StdoutMode::Capture,
        stderr: StderrMode::Separate,
        overflow: Overflow::Block,
    };
}

impl Default for OutputSpec {
    fn default() -> Self {
        OutputSpec::DEFAULT
    }
}

/// `<output stdout>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdoutMode {
    /// Through a pipe owned by the daemon.
    Capture,
    /// The daemon's own stdout.
    Inherit,
    /// `/dev/null`.
    Null,
}

/// `<output stderr>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StderrMode {
    /// Through its own pipe, lines tagged `stderr`.
    Separate,
    /// Into stdout's pipe (or wherever stdout goes).
    Merge,
    /// The daemon's own stderr.
    Inherit,
    /// `/dev/null`.
    Null,
}

/// `<output overflow>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    /// The child is held back by its full pipe: nothing is lost.
    Block,
    /// Lines the daemon cannot keep up with are dropped and counted.
    Drop,
}

/// What a probe checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// A TCP connect to `HOST:PORT` succeeds.
    Tcp {
        /// `HOST:PORT` (the host may be a name, resolved at each probe).
        address: String,
    },
    /// `GET` of an `http://` URL answers 2xx.
    Http {
        /// `HOST:PORT` to connect to (port 80 when the URL has none).
        address: String,
        /// The `Host` header (the URL's authority).
        host: String,
        /// The request path, `/` at least, with any query.
        path: String,
    },
    /// A program exits 0 (no shell).
    Exec {
        /// An absolute path, or a bare name looked up in `PATH`.
        program: PathBuf,
        /// Its arguments, verbatim.
        arguments: Vec<String>,
    },
    /// The child sends `READY=1` on `NOTIFY_SOCKET` (readiness only).
    Notify {
        /// With `Some`, the child must also send `WATCHDOG=1` at least this often.
        watchdog: Option<Duration>,
    },
    /// Ready as soon as the process runs: its held sockets queue clients meanwhile (readiness
    /// only, for a component with sockets).
    Socket,
}

/// `<readiness>`: the component has started once the probe passes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadinessSpec {
    /// What is checked.
    pub probe: Probe,
    /// Time between attempts (not used by `notify`).
    pub interval: Duration,
    /// How long the component may take to become ready; past it, a failed start.
    pub timeout: Duration,
}

/// `<healthCheck>`: a running component failing `failures` probes in a row is restarted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheckSpec {
    /// What is checked (never `notify`).
    pub probe: Probe,
    /// Time between probes.
    pub interval: Duration,
    /// How long one probe may take.
    pub timeout: Duration,
    /// Consecutive failures before action.
    pub failures: u32,
    /// Time after the component started before the first probe.
    pub start_after: Duration,
}

/// A fully resolved command line and process environment.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandSpec {
    /// An absolute path, or a bare name looked up in `PATH` when spawning.
    pub executable: PathBuf,
    /// Arguments after argv\[0\], passed verbatim (no shell).
    pub arguments: Vec<String>,
    /// Whether the child starts from the daemon's environment (`true`) or an empty one.
    pub inherit_environment: bool,
    /// Variables set on top, in order (a later one replaces an earlier one of the same name).
    pub environment: Vec<(String, String)>,
    /// The child's working directory; the daemon's when `None`.
    pub working_directory: Option<PathBuf>,
    /// The user to run as; the daemon's own when `None`.
    pub user: Option<UserSpec>,
    /// Why `<user>` names no user of this host (at the registry's last reading): an environment
    /// problem, not an invalid registry. Each start fails with it, until a reload finds the user.
    pub unknown_user: Option<String>,
    /// Files of `KEY=VALUE` lines (systemd's `EnvironmentFile=`), absolute, read at each start
    /// in order; their variables go over `environment`.
    pub environment_files: Vec<PathBuf>,
    /// Resource limits, priority, umask and OOM score, applied in the child before `exec`.
    pub settings: ProcessSettings,
    /// `<config><temp>`, exported as `TMPDIR` (over `environment`, under environment files).
    /// A change applies in place: the processes started after it get it.
    pub temp_dir: Option<PathBuf>,
}

/// Per-process settings applied in the child before `exec` (`<limits>`, `<nice>`, `<umask>`,
/// `<oomScoreAdjust>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessSettings {
    /// Resource limits, at most one per resource; a resource not listed keeps the default.
    pub limits: Vec<Limit>,
    /// The scheduling priority (`-20`..=`19`); `None`: the daemon's.
    pub nice: Option<i32>,
    /// The file-mode creation mask.
    pub umask: u32,
    /// `/proc/PID/oom_score_adj` (`-1000`..=`1000`); `None`: the daemon's.
    pub oom_score_adjust: Option<i32>,
}

impl ProcessSettings {
    /// No limits of its own, the daemon's priority and OOM score, umask 022 (as systemd gives
    /// services).
    pub const DEFAULT: ProcessSettings = ProcessSettings {
        limits: Vec::new(),
        nice: None,
        umask: 0o022,
        oom_score_adjust: None,
    };
}

impl Default for ProcessSettings {
    fn default() -> Self {
        ProcessSettings::DEFAULT
    }
}

/// One resource limit; a side that is `None` keeps the value the child would otherwise get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Which resource.
    pub resource: Resource,
    /// The soft limit ([`UNLIMITED`] for none).
    pub soft: Option<u64>,
    /// The hard limit ([`UNLIMITED`] for none).
    pub hard: Option<u64>,
}

/// A limit value meaning "no limit" (`RLIM_INFINITY`).
pub const UNLIMITED: u64 = u64::MAX;

/// The resources `<limits>` can set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Resource {
    /// Open files (`RLIMIT_NOFILE`).
    Nofile,
    /// Core file size in bytes (`RLIMIT_CORE`).
    Core,
    /// Processes of the user (`RLIMIT_NPROC`).
    Nproc,
    /// Locked memory in bytes (`RLIMIT_MEMLOCK`).
    Memlock,
    /// Stack size in bytes (`RLIMIT_STACK`).
    Stack,
}

impl Resource {
    /// Every resource, in the order `check` lists them.
    pub const ALL: [Resource; 5] = [
        Resource::Nofile,
        Resource::Core,
        Resource::Nproc,
        Resource::Memlock,
        Resource::Stack,
    ];

    /// The registry's name for it (`<nofile>`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Resource::Nofile => "nofile",
            Resource::Core => "core",
            Resource::Nproc => "nproc",
            Resource::Memlock => "memlock",
            Resource::Stack => "stack",
        }
    }

    /// Whether its values are bytes (else counts).
    pub fn in_bytes(self) -> bool {
        matches!(self, Resource::Core | Resource::Memlock | Resource::Stack)
    }
}

/// A user resolved when the registry was loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSpec {
    /// The user name as written in the registry.
    pub name: String,
    /// Numeric user id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Supplementary groups (as `getgrouplist` gives them, primary included).
    pub groups: Vec<u32>,
    /// The user's home directory, exported as `HOME`.
    pub home: PathBuf,
}

impl ComponentSpec {
    /// How often a notify component must send `WATCHDOG=1` (`watchdog=`), if it must.
    pub fn watchdog(&self) -> Option<std::time::Duration> {
        match self.readiness.as_ref().map(|readiness| &readiness.probe) {
            Some(Probe::Notify { watchdog }) => *watchdog,
            Some(Probe::Tcp { .. } | Probe::Http { .. } | Probe::Exec { .. } | Probe::Socket)
            | None => None,
        }
    }
}

impl CommandSpec {
    /// The command line as an operator would type it (for logs and `check`).
    pub fn display(&self) -> String {
        let mut line = quote(&self.executable.to_string_lossy());
        for argument in &self.arguments {
            line.push(' ');
            line.push_str(&quote(argument));
        }
        line
    }
}

/// Quotes a word for display when it holds characters a shell would treat specially.
fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,+@%".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Children sorted by (`startPriority`, document order).
pub fn start_order(children: &[ChildSpec]) -> Vec<&ChildSpec> {
    let mut ordered: Vec<&ChildSpec> = children.iter().collect();
    ordered.sort_by_key(|child| child.start_priority());
    ordered
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_quotes_only_special_words() {
        let command = CommandSpec {
            executable: PathBuf::from("/bin/echo"),
            arguments: vec!["plain".into(), "a; b".into(), "it's".into(), String::new()],
            inherit_environment: true,
            environment: vec![],
            working_directory: None,
            user: None,
            unknown_user: None,
            environment_files: vec![],
            settings: ProcessSettings::DEFAULT,
            temp_dir: None,
        };
        assert_eq!(command.display(), r"/bin/echo plain 'a; b' 'it'\''s' ''");
    }
}
