//! The client side of the verbs that talk to a running daemon — `status`, `start ID…`,
//! `stop ID…`, `restart ID…`, `reload`, `signal` — with the exit codes of SPEC section 1, as
//! text or (`--json`) JSON. They find the daemon through `--run-dir` alone.

use std::process::ExitCode;
use std::time::Duration;

use serde_json::{Value, json};

use crate::cli::Cli;
use crate::control::client::{ClientError, ask};
use crate::control::protocol::{ErrorKind, ReloadSummary, Reply, Request};
use crate::rundir::RunDir;
use crate::status;

/// A failure (start failed, unknown id, ...).
pub const EXIT_FAILURE: u8 = 1;
/// An invalid registry.
pub const EXIT_INVALID_REGISTRY: u8 = 2;
/// The daemon is not running.
pub const EXIT_NOT_RUNNING: u8 = 3;
/// A usage error: unknown verb or option, bad value (`EX_USAGE`).
pub const EXIT_USAGE: u8 = 64;
/// The daemon is busy (shutting down, upgrading): try again later (`EX_TEMPFAIL`).
pub const EXIT_BUSY: u8 = 75;

/// How a verb reports: text (results on stdout, `error: …` lines on stderr) or JSON on stdout.
#[derive(Debug, Clone, Copy)]
pub struct Out {
    /// `--json`.
    pub json: bool,
}

impl Out {
    /// How `cli` asks to be answered.
    pub fn of(cli: &Cli) -> Out {
        Out { json: cli.json }
    }

    /// Fails with `code`: one `error:` line per line of `message`, or `{"error", "exit"}`.
    pub fn fail(self, code: u8, message: impl std::fmt::Display) -> ExitCode {
        let message = message.to_string();
        if self.json {
            println!("{}", json!({ "error": message, "exit": code }));
        } else {
            for line in message.lines() {
                eprintln!("error: {line}");
            }
        }
        ExitCode::from(code)
    }

    /// Succeeds: `text` as is, or `value` as JSON.
    pub fn done(self, text: impl std::fmt::Display, value: Value) -> ExitCode {
        if self.json {
            println!("{value}");
        } else {
            println!("{text}");
        }
        ExitCode::SUCCESS
    }

    /// Fails as the daemon's error reply says.
    pub fn refused(self, kind: ErrorKind, message: &str) -> ExitCode {
        self.fail(exit_code(kind), message)
    }

    /// Fails because the daemon could not be asked.
    pub fn unreachable(self, error: ClientError) -> ExitCode {
        match error {
            ClientError::NotRunning(_) => self.fail(EXIT_NOT_RUNNING, error),
            other => self.fail(EXIT_FAILURE, other),
        }
    }

    /// Fails on a reply that does not answer the request.
    pub fn unexpected(self, reply: &Reply) -> ExitCode {
        self.fail(EXIT_FAILURE, format!("unexpected reply {reply:?}"))
    }
}

/// The exit code for an error reply.
pub fn exit_code(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::InvalidRegistry => EXIT_INVALID_REGISTRY,
        ErrorKind::Busy => EXIT_BUSY,
        ErrorKind::BadRequest => EXIT_USAGE,
        ErrorKind::Forbidden
        | ErrorKind::UnknownId
        | ErrorKind::NotStarted
        | ErrorKind::NotRunning
        | ErrorKind::Refused
        | ErrorKind::RolledBack => EXIT_FAILURE,
    }
}

/// For the verbs whose exit codes have no busy (SPEC: `signal`, `upgrade`): a daemon busy
/// shutting down or upgrading refuses like any refusal (1), its reason printed.
fn no_busy(kind: ErrorKind) -> ErrorKind {
    match kind {
        ErrorKind::Busy => ErrorKind::Refused,
        other => other,
    }
}

fn socket(cli: &Cli) -> std::path::PathBuf {
    RunDir::new(cli.run_dir()).socket()
}

/// `status [ID…]`.
pub fn status(cli: &Cli, ids: &[String]) -> ExitCode {
    let out = Out::of(cli);
    let (rows, phase) = match ask(
        &socket(cli),
        &Request::Status {},
        Some(Duration::from_secs(30)),
    ) {
        Ok(Reply::Status { components, phase }) => (components, phase),
        Ok(Reply::Error { kind, message }) => return out.refused(kind, &message),
        Ok(other) => return out.unexpected(&other),
        Err(ClientError::NotRunning(_)) if !out.json => {
            println!("supervisor is not running");
            return ExitCode::from(EXIT_NOT_RUNNING);
        }
        Err(error) => return out.unreachable(error),
    };
    let unknown: Vec<&str> = ids
        .iter()
        .filter(|id| !rows.iter().any(|row| &row.id == *id))
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        let known = rows.iter().map(|row| row.id.as_str());
        return out.fail(EXIT_FAILURE, crate::suggest::unknown_ids(&unknown, known));
    }
    let shown: Vec<_> = rows
        .into_iter()
        .filter(|row| ids.is_empty() || ids.contains(&row.id))
        .collect();
    if out.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&shown).unwrap_or_default()
        );
    } else {
        if phase != "running" {
            eprintln!("note: supervisor is {phase}");
        }
        print!("{}", status::table(&shown));
    }
    ExitCode::SUCCESS
}

/// `start ID…`, `stop ID…`, `restart ID…`: a success line naming them.
pub fn components(cli: &Cli, request: Request) -> ExitCode {
    let out = Out::of(cli);
    let (done, ids) = match &request {
        Request::Start { ids, .. } => ("started", ids.clone()),
        Request::Stop { ids } => ("stopped", ids.clone()),
        Request::Restart { ids, .. } => ("restarted", ids.clone()),
        other => return out.fail(EXIT_FAILURE, format!("not a component request: {other:?}")),
    };
    match ask(&socket(cli), &request, None) {
        Ok(Reply::Ok) => out.done(format!("{done}: {}", ids.join(" ")), json!({ done: ids })),
        Ok(Reply::Error { kind, message }) => out.refused(kind, &message),
        Ok(other) => out.unexpected(&other),
        Err(error) => out.unreachable(error),
    }
}

/// `reload [--no-wait] [--timeout T]`.
pub fn reload(cli: &Cli, no_wait: bool, timeout: Option<Duration>) -> ExitCode {
    let out = Out::of(cli);
    let request = Request::Reload {
        no_wait,
        timeout_ms: timeout.map(|t| t.as_millis() as u64),
    };
    match ask(&socket(cli), &request, None) {
        Ok(Reply::Reloaded { diff, not_started }) => reloaded(out, &diff, &not_started),
        Ok(Reply::Error { kind, message }) => out.refused(kind, &message),
        Ok(other) => out.unexpected(&other),
        Err(error) => out.unreachable(error),
    }
}

fn reloaded(out: Out, diff: &ReloadSummary, not_started: &[String]) -> ExitCode {
    if out.json {
        let mut value = serde_json::to_value(diff).unwrap_or_default();
        value["not_started"] = json!(not_started);
        println!("{value}");
    } else {
        println!("added: {}", diff.added.join(" "));
        println!("removed: {}", diff.removed.join(" "));
        println!("changed: {}", diff.changed.join(" "));
        println!("updated: {}", diff.updated.join(" "));
        println!("unchanged: {}", diff.unchanged);
        println!("applied: {}", diff.applied.join(" "));
        println!("needs restart: {}", diff.needs_restart.join(" "));
        for line in diff.not_applied.iter().chain(not_started) {
            eprintln!("error: {line}");
        }
    }
    match not_started.is_empty() && diff.not_applied.is_empty() {
        true => ExitCode::SUCCESS,
        false => ExitCode::from(EXIT_FAILURE),
    }
}

/// `signal ID… SIG`.
pub fn signal(cli: &Cli, targets: &[String]) -> ExitCode {
    let out = Out::of(cli);
    let Some((signal, ids)) = targets.split_last() else {
        return out.fail(EXIT_USAGE, "signal: name the components, then the signal");
    };
    let request = Request::Signal {
        ids: ids.to_vec(),
        signal: signal.clone(),
    };
    match ask(&socket(cli), &request, None) {
        Ok(Reply::Ok) => out.done(
            format!("sent {signal} to {}", ids.join(" ")),
            json!({ "signalled": ids, "signal": signal }),
        ),
        Ok(Reply::Error { kind, message }) => out.refused(no_busy(kind), &message),
        Ok(other) => out.unexpected(&other),
        Err(error) => out.unreachable(error),
    }
}

/// `upgrade [--binary PATH]`: refused (the reason printed, exit 1), or the daemon re-executed;
/// then waits until the new image answers how it went: upgraded, or rolled back (exit 1, the
/// reason printed).
pub fn upgrade(cli: &Cli, binary: Option<std::path::PathBuf>) -> ExitCode {
    let out = Out::of(cli);
    let socket = socket(cli);
    let binary = binary.map(|path| std::path::absolute(&path).unwrap_or(path));
    match ask(&socket, &Request::Upgrade { binary }, None) {
        Ok(Reply::Error { kind, message }) => return out.refused(no_busy(kind), &message),
        Err(error @ ClientError::NotRunning(_)) => return out.unreachable(error),
        // The exec ended the connection.
        Ok(_) | Err(_) => {}
    }
    let deadline = std::time::Instant::now() + UPGRADE_DEADLINE;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match ask(&socket, &Request::Upgraded {}, Some(left)) {
            Ok(Reply::Ok) => {
                return out.done("supervisor upgraded", json!({ "upgraded": true }));
            }
            Ok(Reply::Error { kind, message }) => return out.refused(no_busy(kind), &message),
            Ok(other) => return out.unexpected(&other),
            // Until the new image listens, connecting fails.
            Err(_) if !left.is_zero() => std::thread::sleep(Duration::from_millis(20)),
            Err(error) => return out.unreachable(error),
        }
    }
}

/// How long `upgrade` waits for the new daemon image to answer.
const UPGRADE_DEADLINE: Duration = Duration::from_secs(30);
