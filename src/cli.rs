//! The command line (SPEC section 1): raw arguments and the environment, parsed by clap.
//! Nothing here acts; `main` dispatches the verb. The same definition yields the shell
//! completions and the man page (`supervisor completions SHELL`, `supervisor manpage`).

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use actors::output::dates;
use clap::{Parser, Subcommand, ValueEnum};

/// The registry used when none is named.
pub const DEFAULT_REGISTRY: &str = "config/SupervisorRegistry.xml";

/// The version line: the package version, the commit and the day it was built (UTC).
pub fn version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        let built: u64 = env!("SUPERVISOR_BUILD_EPOCH").parse().unwrap_or(0);
        let (version, commit) = (env!("CARGO_PKG_VERSION"), env!("SUPERVISOR_COMMIT"));
        format!("{version} ({commit} {})", dates::date(built / 86_400))
    })
}

/// Supervisor: starts, watches and restarts the components named in a registry.
#[derive(Debug, Parser)]
#[command(name = "supervisor", version = version(), about)]
pub struct Cli {
    /// The registry file [default: config/SupervisorRegistry.xml]. Only `run`, `start` and
    /// `check` read it; the other verbs ask the daemon found through --run-dir.
    #[arg(long, env = "SUPERVISOR_REGISTRY", global = true)]
    pub registry: Option<PathBuf>,

    /// Directory for the control socket, lock, pid and state files [default: /run/supervisor
    /// as root, else $XDG_RUNTIME_DIR/supervisor, else /tmp/supervisor-$UID].
    #[arg(long, env = "SUPERVISOR_RUN_DIR", global = true)]
    pub run_dir: Option<PathBuf>,

    /// Log format: `text` when stderr is a terminal, else `json`.
    #[arg(long, env = "SUPERVISOR_LOG_FORMAT", value_enum, global = true)]
    pub log_format: Option<LogFormat>,

    /// Print the result (or `{"error": …, "exit": N}`) as JSON on stdout.
    #[arg(long, global = true)]
    pub json: bool,

    /// What to do.
    #[command(subcommand)]
    pub verb: Verb,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One JSON object a line.
    Json,
    /// Readable text.
    Text,
}

impl LogFormat {
    /// As the option spells it.
    pub fn name(self) -> &'static str {
        match self {
            LogFormat::Json => "json",
            LogFormat::Text => "text",
        }
    }
}

/// The verbs.
#[derive(Debug, Subcommand)]
pub enum Verb {
    /// Run the daemon in the foreground, logging to stderr.
    Run {
        /// Log to the registry's `<config><log>` file (dated, one a day) instead of stderr.
        #[arg(long)]
        log_file: bool,
        /// Leave the caller's session first (used by `start`).
        #[arg(long, hide = true)]
        detach: bool,
    },
    /// Start the daemon in the background and wait until it is ready, or start the named
    /// components of a running one and wait until they are.
    Start {
        /// Components to start (none: the daemon itself).
        ids: Vec<String>,
        /// How long to wait for readiness (`90`, `2m`) [default: the start delays and readiness
        /// timeouts of what starts, level after level, plus 10s].
        #[arg(long, value_parser = duration)]
        timeout: Option<Duration>,
    },
    /// Stop the daemon (orderly), or stop the named components; they stay stopped.
    Stop {
        /// Components to stop (none: the daemon itself).
        ids: Vec<String>,
    },
    /// Stop then start the daemon, or restart the named components and wait until they are
    /// ready.
    Restart {
        /// Components to restart (none: the daemon itself).
        ids: Vec<String>,
        /// How long to wait for readiness [default: as `start`].
        #[arg(long, value_parser = duration)]
        timeout: Option<Duration>,
    },
    /// One row per component (or the named ones): state, pid, uptime, memory, restarts, last
    /// exit, reason. Answers in every phase of the daemon.
    Status {
        /// Components to show (none: all).
        ids: Vec<String>,
    },
    /// Re-read the registry, apply the difference (same as SIGHUP) and wait until what it
    /// started is ready.
    Reload {
        /// Return once applied, without waiting for what it started.
        #[arg(long)]
        no_wait: bool,
        /// How long to wait for readiness [default: as `start`].
        #[arg(long, value_parser = duration)]
        timeout: Option<Duration>,
    },
    /// Re-execute the daemon (same pid) with the tree handed over (same as SIGUSR2).
    Upgrade {
        /// The new executable (default: the daemon's own file as it is on disk now).
        #[arg(long)]
        binary: Option<PathBuf>,
    },
    /// Validate the registry, print the resolved tree with every effective setting, and check
    /// the environment (executables, directories, users).
    Check,
    /// Print (and follow) a component's output, every component's, or the daemon's log (from
    /// the last daemon's files when none runs).
    Logs {
        /// The component.
        #[arg(required_unless_present_any = ["all", "daemon"], conflicts_with_all = ["all", "daemon"])]
        id: Option<String>,
        /// Every component's output, interleaved by time, each line behind its id.
        #[arg(long, conflicts_with = "daemon")]
        all: bool,
        /// The daemon's own log, rendered as text.
        #[arg(long)]
        daemon: bool,
        /// How many of the last lines to print (default 10; with --since, every line).
        #[arg(short = 'n')]
        lines: Option<usize>,
        /// Only lines since then: `2h`, `30m`, `3d`, a date (`2026-11-29`) or an RFC 3339 time.
        #[arg(long)]
        since: Option<String>,
        /// Keep printing new lines, across rotation, new days and restarts.
        #[arg(short = 'f')]
        follow: bool,
    },
    /// Send a signal to the process group of each named running component.
    Signal {
        /// The components, then the signal (`HUP`, `SIGUSR1`, `10`).
        #[arg(required = true, num_args = 2.., value_names = ["ID", "SIG"])]
        targets: Vec<String>,
    },
    /// Print shell completions (bash, zsh or fish) on stdout.
    #[command(hide = true)]
    Completions {
        /// The shell.
        shell: Shell,
    },
    /// Print the man page (roff) on stdout.
    #[command(hide = true)]
    Manpage,
}

/// The shells completions are made for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    /// Bash.
    Bash,
    /// Z shell.
    Zsh,
    /// Fish.
    Fish,
}

fn duration(text: &str) -> Result<Duration, String> {
    crate::registry::parse_duration(text)
}

impl Cli {
    /// The registry: `--registry`, else the default relative path.
    pub fn registry(&self) -> PathBuf {
        self.registry
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_REGISTRY))
    }

    /// The run directory: `--run-dir`, else `/run/supervisor` for root, else
    /// `$XDG_RUNTIME_DIR/supervisor`, else `/tmp/supervisor-$UID`.
    pub fn run_dir(&self) -> PathBuf {
        if let Some(dir) = &self.run_dir {
            // Absolute, so a daemon started by `start` and its messages name the same place.
            return std::path::absolute(dir).unwrap_or_else(|_| dir.clone());
        }
        let uid = nix::unistd::getuid();
        if uid.is_root() {
            return PathBuf::from("/run/supervisor");
        }
        match std::env::var_os("XDG_RUNTIME_DIR") {
            Some(dir) if !dir.is_empty() => PathBuf::from(dir).join("supervisor"),
            _ => PathBuf::from(format!("/tmp/supervisor-{uid}")),
        }
    }
}
