//! The command line (SPEC section 1): raw arguments and the environment, parsed by clap.
//! Nothing here acts; `main` dispatches the verb.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Supervisor: starts, watches and restarts the components named in a registry.
#[derive(Debug, Parser)]
#[command(name = "supervisor", version, about)]
pub struct Cli {
    /// The registry file.
    #[arg(
        long,
        env = "SUPERVISOR_REGISTRY",
        default_value = "config/SupervisorRegistry.xml",
        global = true
    )]
    pub registry: PathBuf,

    /// Directory for the control socket, lock, pid and state files.
    #[arg(long, env = "SUPERVISOR_RUN_DIR", global = true)]
    pub run_dir: Option<PathBuf>,

    /// Log format: `text` when stderr is a terminal, else `json`.
    #[arg(long, env = "SUPERVISOR_LOG_FORMAT", value_enum, global = true)]
    pub log_format: Option<LogFormat>,

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
    /// Start the daemon in the background, or start the named components of a running one.
    Start {
        /// Components to start (none: the daemon itself).
        ids: Vec<String>,
    },
    /// Stop the daemon (orderly), or stop the named components; they stay stopped.
    Stop {
        /// Components to stop (none: the daemon itself).
        ids: Vec<String>,
    },
    /// Stop then start the daemon, or restart the named components.
    Restart {
        /// Components to restart (none: the daemon itself).
        ids: Vec<String>,
    },
    /// One row per component: state, pid, uptime, memory, restarts, last exit.
    Status {
        /// Print a JSON array instead of the table.
        #[arg(long)]
        json: bool,
    },
    /// Re-read the registry and apply the difference (same as SIGHUP).
    Reload,
    /// Re-execute the daemon (same pid) with the tree handed over (same as SIGUSR2).
    Upgrade {
        /// The new executable (default: the daemon's own file as it is on disk now).
        #[arg(long)]
        binary: Option<PathBuf>,
    },
    /// Validate the registry and print the resolved tree.
    Check,
    /// Print (and follow) a component's output, every component's, or the daemon's log.
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
}

impl Cli {
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
