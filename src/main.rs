//! `supervisor`: the command-line edge. Parses arguments, loads the registry where the verb
//! needs it and dispatches; errors become `error: …` lines on stderr (or JSON with `--json`)
//! and the exit codes of SPEC section 1.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;

use supervisor::cli::{Cli, Verb};
use supervisor::control::protocol::Request;
use supervisor::rundir::DaemonRecord;
use supervisor::verbs::{self, EXIT_FAILURE, EXIT_INVALID_REGISTRY, EXIT_USAGE, Out};
use supervisor::{
    background, check, daemon, docs, guardian, logfile, logging, registry, rundir, sdnotify,
};

fn main() -> ExitCode {
    // Before any thread starts: each would otherwise keep an arena of its own.
    actors::process::sys::share_one_arena();
    let mut args = std::env::args_os();
    if args
        .next()
        .is_some_and(|name| name == guardian::PROGRAM_NAME)
    {
        return guardian::main(args);
    }
    // Before the hand-over variables are read: a daemon asking runs this with its own.
    if supervisor::upgrade::answers_version() {
        println!("{}", supervisor::upgrade::version_answer());
        return ExitCode::SUCCESS;
    }
    if let Some(registry) = supervisor::upgrade::checks_handover() {
        return supervisor::upgrade::answer_check(&registry);
    }
    // NOTIFY_SOCKET and WATCHDOG_* are for the daemon alone (the spawner leaves them out of
    // the environment its components inherit).
    sdnotify::take_environment();
    supervisor::upgrade::take_environment();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return usage(error),
    };
    if !matches!(cli.verb, Verb::Run { .. }) {
        let _ = actors::process::sys::default_disposition(nix::sys::signal::Signal::SIGPIPE);
    }
    let timeout_ms = |timeout: Option<std::time::Duration>| timeout.map(|t| t.as_millis() as u64);
    match &cli.verb {
        Verb::Status { ids } => verbs::status(&cli, ids),
        Verb::Start { ids, timeout } if !ids.is_empty() => {
            let request = Request::Start {
                ids: ids.clone(),
                timeout_ms: timeout_ms(*timeout),
            };
            verbs::components(&cli, request)
        }
        Verb::Stop { ids } if !ids.is_empty() => {
            verbs::components(&cli, Request::Stop { ids: ids.clone() })
        }
        Verb::Restart { ids, timeout } if !ids.is_empty() => {
            let request = Request::Restart {
                ids: ids.clone(),
                timeout_ms: timeout_ms(*timeout),
            };
            verbs::components(&cli, request)
        }
        Verb::Stop { .. } => background::stop(&cli),
        Verb::Reload { no_wait, timeout } => verbs::reload(&cli, *no_wait, *timeout),
        Verb::Signal { targets } => verbs::signal(&cli, targets),
        Verb::Upgrade { binary } => verbs::upgrade(&cli, binary.clone()),
        Verb::Completions { shell } => {
            docs::completions(*shell, &mut std::io::stdout());
            ExitCode::SUCCESS
        }
        Verb::Manpage => match docs::manpage(&mut std::io::stdout()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => Out::of(&cli).fail(EXIT_FAILURE, error),
        },
        Verb::Run { .. } | Verb::Start { .. } | Verb::Check => with_registry(&cli, &cli.registry()),
        // The daemon's (or the last daemon's) registry: what it restarts with, and where its
        // components' output is.
        Verb::Restart { .. } | Verb::Logs { .. } => {
            with_registry(&cli, &background::registry_path(&cli))
        }
    }
}

/// Prints a usage error (or help, or the version) as clap words it; usage errors exit 64.
fn usage(error: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    ) {
        let _ = error.print();
        return ExitCode::SUCCESS;
    }
    if std::env::args().any(|arg| arg == "--json") {
        let message = error.kind().as_str().unwrap_or("usage error");
        let detail = error.to_string();
        let first = detail.lines().next().unwrap_or(message);
        let first = first.strip_prefix("error: ").unwrap_or(first);
        return Out { json: true }.fail(EXIT_USAGE, first);
    }
    let _ = error.print();
    ExitCode::from(EXIT_USAGE)
}

fn with_registry(cli: &Cli, path: &std::path::Path) -> ExitCode {
    let registry = match registry::load_within(path, registry::READ_DEADLINE) {
        Ok(registry) => registry,
        Err(errors) => {
            supervisor::upgrade::roll_back_if_pending(&errors.to_string());
            let lines: Vec<String> = errors.0.iter().map(ToString::to_string).collect();
            return Out::of(cli).fail(EXIT_INVALID_REGISTRY, lines.join("\n"));
        }
    };
    // Daily file names (and text stamps) in the registry's calendar, for every verb.
    actors::output::dates::use_zone(registry.config.log_time);
    match &cli.verb {
        Verb::Check => {
            let needed = supervisor::limits::needed(&registry.tree.root);
            let limit = supervisor::limits::hard_limit().unwrap_or(u64::MAX);
            if let Some(advice) = needed.shortfall(limit) {
                eprintln!("warning: {advice}");
            }
            check::run(&registry, Out::of(cli))
        }
        Verb::Start { timeout, .. } => background::start(cli, &registry, *timeout),
        Verb::Restart { timeout, .. } => background::restart(cli, &registry, *timeout),
        Verb::Run { log_file, detach } => run(cli, registry, *log_file, *detach),
        Verb::Logs {
            id,
            all,
            daemon,
            lines,
            since,
            follow,
        } => {
            let since = match since
                .as_deref()
                .map(|text| supervisor::logs::parse_since(text, std::time::SystemTime::now()))
                .transpose()
            {
                Ok(since) => since,
                Err(error) => return Out::of(cli).fail(EXIT_USAGE, format!("--since {error}")),
            };
            let query = supervisor::logs::Query {
                id: id.clone(),
                all: *all,
                daemon: *daemon,
                lines: *lines,
                since,
                follow: *follow,
            };
            supervisor::logs::run(&registry, &query, Out::of(cli))
        }
        Verb::Status { .. }
        | Verb::Stop { .. }
        | Verb::Reload { .. }
        | Verb::Signal { .. }
        | Verb::Upgrade { .. }
        | Verb::Completions { .. }
        | Verb::Manpage => ExitCode::from(EXIT_FAILURE),
    }
}

fn run(cli: &Cli, registry: registry::Registry, log_file: bool, detach: bool) -> ExitCode {
    if detach {
        // Leave the caller's session, so its terminal and its process group are not ours.
        let _ = nix::unistd::setsid();
    }
    let log = if log_file {
        let config = &registry.config;
        // Started by `start`, its stdout and stderr are this log: they follow it.
        match logfile::DailyLog::open(&config.log, config.log_retention_days, detach) {
            Ok(log) => Some(log),
            Err(error) => {
                eprintln!(
                    "error: cannot open {}: {error}",
                    registry.config.log.display()
                );
                return ExitCode::from(EXIT_FAILURE);
            }
        }
    } else {
        None
    };
    // Before the first thread (the log writer's): the descriptor table is sized for free then,
    // and every thread inherits SIGCHLD blocked (the reaper reads it from a signalfd).
    let files = supervisor::limits::prepare(&registry.tree.root);
    if let Err(error) = supervisor::signals::block_child_exits() {
        eprintln!("error: cannot block SIGCHLD: {error}");
        return ExitCode::from(EXIT_FAILURE);
    }
    let format = cli.log_format.unwrap_or_else(logging::default_format);
    let level = logging::level(registry.config.trace_level);
    let _flush_on_exit = match logging::init(format, level, log.clone()) {
        Ok(guard) => guard,
        Err(error) => {
            eprintln!("error: cannot start the log writer: {error}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let record = DaemonRecord {
        pid: std::process::id(),
        registry: std::path::absolute(&registry.path).unwrap_or_else(|_| registry.path.clone()),
        log: log_file.then(|| registry.config.log.clone()),
        log_format: format.name().to_string(),
        foreground: !detach,
        version: supervisor::cli::version().to_string(),
        exit: None,
    };
    match daemon::run(
        registry,
        rundir::RunDir::new(cli.run_dir()),
        log,
        record,
        files,
    ) {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(EXIT_FAILURE)),
        Err(error) => {
            tracing::error!(
                event = actors::events::SUPERVISOR_FAILED,
                error = %format!("{error:#}"),
                "the daemon cannot run"
            );
            eprintln!("error: {error:#}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}
