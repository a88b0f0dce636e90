//! `supervisor`: the command-line edge. Parses arguments, loads the registry and dispatches the
//! verb; errors become one `error: …` line on stderr and the exit codes of SPEC section 1.

mod check;
mod cli;
mod daemon;
mod logging;
mod registry;
mod signals;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Verb};

/// Exit code for a failure that is not a registry error.
const EXIT_FAILURE: u8 = 1;
/// Exit code for an invalid registry.
const EXIT_INVALID_REGISTRY: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let registry = match registry::load(&cli.registry) {
        Ok(registry) => registry,
        Err(errors) => {
            for diagnostic in &errors.0 {
                eprintln!("error: {diagnostic}");
            }
            return ExitCode::from(EXIT_INVALID_REGISTRY);
        }
    };
    match cli.verb {
        Verb::Check => {
            print!("{}", check::render(&registry));
            ExitCode::SUCCESS
        }
        Verb::Run => {
            let format = cli.log_format.unwrap_or_else(logging::default_format);
            logging::init(format, logging::level(registry.config.trace_level));
            match daemon::run(registry) {
                Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(EXIT_FAILURE)),
                Err(error) => {
                    eprintln!("error: {error:#}");
                    ExitCode::from(EXIT_FAILURE)
                }
            }
        }
    }
}
