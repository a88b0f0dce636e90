//! Tests of the component's machine: every state × every input as a table (`table.rs`), the
//! settings-dependent steps and `status` reasons (`settings.rs`), and random input sequences
//! against its invariants (`properties.rs`).

mod properties;
mod settings;
mod table;

use std::path::PathBuf;
use std::time::Duration;

use super::machine::{Effect, Event, Life, Reason, Record};
use crate::spec::{
    Backoff, CommandSpec, ComponentSpec, HealthCheckSpec, OutputSpec, Probe, ReadinessSpec,
    RestartType,
};

/// The pid of the component's process.
const P: u32 = 7;
/// Another pid: a process that is not (or no longer) the component's.
const Q: u32 = 8;
const READY_WITHIN: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(5);
const ERROR: &str = "execve: No such file or directory";

/// A component with a TCP readiness check (60 s), a health check, SIGTERM and 5 s to stop.
fn spec() -> ComponentSpec {
    ComponentSpec {
        id: "web".into(),
        description: String::new(),
        command: CommandSpec {
            executable: PathBuf::from("/bin/web"),
            arguments: vec![],
            inherit_environment: true,
            environment: vec![],
            working_directory: None,
            user: None,
            unknown_user: None,
            environment_files: vec![],
            settings: crate::spec::ProcessSettings::DEFAULT,
            temp_dir: None,
        },
        start_priority: 0,
        start_delay: Duration::ZERO,
        stop_timeout: STOP_TIMEOUT,
        stop_signal: libc::SIGTERM,
        restart: RestartType::Permanent,
        success_exit_codes: vec![0],
        autostart: true,
        backoff: Backoff::DEFAULT,
        output: OutputSpec::DEFAULT,
        readiness: Some(ReadinessSpec {
            probe: tcp(),
            interval: Duration::from_secs(1),
            timeout: READY_WITHIN,
        }),
        health_check: Some(health(3)),
        sockets: Vec::new(),
    }
}

fn tcp() -> Probe {
    Probe::Tcp {
        address: "127.0.0.1:80".into(),
    }
}

fn health(failures: u32) -> HealthCheckSpec {
    HealthCheckSpec {
        probe: tcp(),
        interval: Duration::from_secs(10),
        timeout: Duration::from_secs(1),
        failures,
        start_after: Duration::ZERO,
    }
}

/// [`spec`] with its output written to a file.
fn spec_with_file() -> ComponentSpec {
    let mut spec = spec();
    spec.output.file = Some(PathBuf::from("/var/log/web.log"));
    spec
}

fn record() -> Record {
    Record::new(spec())
}

fn log(event: Event) -> Effect {
    Effect::Log(event)
}

/// The reason of an exit with code 1.
fn code_1() -> Reason {
    Reason::Exit(crate::policy::ExitStatus::Code(1))
}

/// `Exited` after an exit with code 1.
fn exited() -> Life {
    Life::Exited { reason: code_1() }
}
