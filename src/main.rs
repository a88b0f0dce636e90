//! `supervisor`: the command-line edge. Parses arguments, loads the registry where the verb
//! needs it and dispatches; errors become `error: …` lines on stderr and the exit codes of SPEC
//! section 1.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;

use supervisor::cli::{Cli, Verb};
use supervisor::control::protocol::Request;
use supervisor::verbs::{self, EXIT_FAILURE, EXIT_INVALID_REGISTRY};
use supervisor::{check, daemon, logfile, logging, registry, rundir, sdnotify};

fn main() -> ExitCode {
    // First, while this is the only thread: NOTIFY_SOCKET and WATCHDOG_* are for the daemon
    // alone, and removed from the environment its components inherit.
    sdnotify::take_environment();
    supervisor::upgrade::take_environment();
    if supervisor::upgrade::answers_version() {
        use supervisor::upgrade::{HANDOVER_VERSION, VERSION};
        println!("{HANDOVER_VERSION} {VERSION}");
        return ExitCode::SUCCESS;
    }
    let cli = Cli::parse();
    match &cli.verb {
        Verb::Status { json } => verbs::status(&cli, *json),
        Verb::Start { ids } if !ids.is_empty() => {
            verbs::components(&cli, Request::Start { ids: ids.clone() })
        }
        Verb::Stop { ids } if !ids.is_empty() => {
            verbs::components(&cli, Request::Stop { ids: ids.clone() })
        }
        Verb::Restart { ids } if !ids.is_empty() => {
            verbs::components(&cli, Request::Restart { ids: ids.clone() })
        }
        Verb::Stop { .. } => verbs::stop_daemon(&cli),
        Verb::Reload => verbs::reload(&cli),
        Verb::Upgrade { binary } => verbs::upgrade(&cli, binary.clone()),
        Verb::Run { .. }
        | Verb::Start { .. }
        | Verb::Restart { .. }
        | Verb::Check
        | Verb::Logs { .. } => {
            match registry::load_within(&cli.registry, registry::READ_DEADLINE) {
                Ok(registry) => with_registry(&cli, registry),
                Err(errors) => {
                    supervisor::upgrade::roll_back_if_pending(&errors.to_string());
                    for diagnostic in &errors.0 {
                        eprintln!("error: {diagnostic}");
                    }
                    ExitCode::from(EXIT_INVALID_REGISTRY)
                }
            }
        }
    }
}

fn with_registry(cli: &Cli, registry: registry::Registry) -> ExitCode {
    // Daily file names (and text stamps) in the registry's calendar, for every verb.
    actors::output::dates::use_zone(registry.config.log_time);
    match cli.verb {
        Verb::Check => {
            print!("{}", check::render(&registry));
            let needed = supervisor::limits::needed(&registry.tree.root);
            let limit = supervisor::limits::hard_limit().unwrap_or(u64::MAX);
            if let Some(advice) = needed.shortfall(limit) {
                eprintln!("warning: {advice}");
            }
            ExitCode::SUCCESS
        }
        Verb::Start { .. } => verbs::start_daemon(cli, &registry),
        Verb::Restart { .. } => {
            let stopped = verbs::stop_daemon(cli);
            if stopped != ExitCode::SUCCESS {
                return stopped;
            }
            verbs::start_daemon(cli, &registry)
        }
        Verb::Run { log_file, detach } => run(cli, registry, log_file, detach),
        Verb::Logs {
            ref id,
            all,
            daemon,
            lines,
            ref since,
            follow,
        } => {
            let since = match since
                .as_deref()
                .map(|text| supervisor::logs::parse_since(text, std::time::SystemTime::now()))
                .transpose()
            {
                Ok(since) => since,
                Err(error) => {
                    eprintln!("error: --since {error}");
                    // A usage error (SPEC section 1).
                    return ExitCode::from(64);
                }
            };
            let query = supervisor::logs::Query {
                id: id.clone(),
                all,
                daemon,
                lines,
                since,
                follow,
            };
            supervisor::logs::run(&registry, &query)
        }
        Verb::Status { .. } | Verb::Stop { .. } | Verb::Reload | Verb::Upgrade { .. } => {
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

fn run(cli: &Cli, registry: registry::Registry, log_file: bool, detach: bool) -> ExitCode {
    if detach {
        // Leave the caller's session, so its terminal and its process group are not ours.
        let _ = nix::unistd::setsid();
    }
    let log = if log_file {
        match logfile::DailyLog::open(&registry.config.log, registry.config.log_retention_days) {
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
    let format = cli.log_format.unwrap_or_else(logging::default_format);
    let level = logging::level(registry.config.trace_level);
    let _flush_on_exit = match logging::init(format, level, log.clone()) {
        Ok(guard) => guard,
        Err(error) => {
            eprintln!("error: cannot start the log writer: {error}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    match daemon::run(registry, rundir::RunDir::new(cli.run_dir()), log) {
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
