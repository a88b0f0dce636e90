//! The client side of every verb that talks to a running daemon (or starts one), with the exit
//! codes of SPEC section 1.

use std::fs::OpenOptions;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use crate::cli::{Cli, LogFormat};
use crate::control::client::{ask, ClientError};
use crate::control::protocol::{ErrorKind, Reply, Request};
use crate::logfile;
use crate::registry::Registry;
use crate::rundir::RunDir;
use crate::status;

/// A failure (start failed, unknown id, ...).
pub const EXIT_FAILURE: u8 = 1;
/// An invalid registry.
pub const EXIT_INVALID_REGISTRY: u8 = 2;
/// The daemon is not running.
pub const EXIT_NOT_RUNNING: u8 = 3;

/// How long `start` waits for a new daemon's control socket.
const SOCKET_DEADLINE: Duration = Duration::from_secs(30);
/// How long `stop` waits for the daemon to let go of its lock after it answered.
const EXIT_DEADLINE: Duration = Duration::from_secs(30);

fn fail(code: u8, message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(code)
}

/// The exit code for an error reply.
fn refused(kind: ErrorKind, message: &str) -> ExitCode {
    let code = match kind {
        ErrorKind::InvalidRegistry => EXIT_INVALID_REGISTRY,
        ErrorKind::BadRequest
        | ErrorKind::Forbidden
        | ErrorKind::UnknownId
        | ErrorKind::Busy
        | ErrorKind::Refused
        | ErrorKind::NotStarted => EXIT_FAILURE,
    };
    for line in message.lines() {
        eprintln!("error: {line}");
    }
    ExitCode::from(code)
}

fn not_running_or(error: ClientError) -> ExitCode {
    match error {
        ClientError::NotRunning(_) => fail(EXIT_NOT_RUNNING, error),
        other => fail(EXIT_FAILURE, other),
    }
}

/// Answers a request whose success is a plain `Ok`.
fn expect_ok(reply: Result<Reply, ClientError>) -> ExitCode {
    match reply {
        Ok(Reply::Ok) => ExitCode::SUCCESS,
        Ok(Reply::Error { kind, message }) => refused(kind, &message),
        Ok(other) => fail(EXIT_FAILURE, format!("unexpected reply {other:?}")),
        Err(error) => not_running_or(error),
    }
}

/// `status [--json]`.
pub fn status(cli: &Cli, json: bool) -> ExitCode {
    let socket = RunDir::new(cli.run_dir()).socket();
    match ask(&socket, &Request::Status {}, Some(Duration::from_secs(30))) {
        Ok(Reply::Status { components }) => {
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&components).unwrap_or_default()
                );
            } else {
                print!("{}", status::table(&components));
            }
            ExitCode::SUCCESS
        }
        Ok(Reply::Error { kind, message }) => refused(kind, &message),
        Ok(other) => fail(EXIT_FAILURE, format!("unexpected reply {other:?}")),
        Err(ClientError::NotRunning(_)) => {
            println!("supervisor is not running");
            ExitCode::from(EXIT_NOT_RUNNING)
        }
        Err(error) => fail(EXIT_FAILURE, error),
    }
}

/// `start ID…`, `stop ID…`, `restart ID…`.
pub fn components(cli: &Cli, request: Request) -> ExitCode {
    expect_ok(ask(&RunDir::new(cli.run_dir()).socket(), &request, None))
}

/// `reload`.
pub fn reload(cli: &Cli) -> ExitCode {
    match ask(
        &RunDir::new(cli.run_dir()).socket(),
        &Request::Reload {},
        None,
    ) {
        Ok(Reply::Reloaded { diff }) => {
            println!("added: {}", diff.added.join(" "));
            println!("removed: {}", diff.removed.join(" "));
            println!("changed: {}", diff.changed.join(" "));
            println!("updated: {}", diff.updated.join(" "));
            println!("unchanged: {}", diff.unchanged);
            println!("needs restart: {}", diff.needs_restart.join(" "));
            ExitCode::SUCCESS
        }
        other => expect_ok(other),
    }
}

/// `upgrade [--binary PATH]`: refused (the reason printed), or the daemon re-executed; waits
/// until the new daemon answers.
pub fn upgrade(cli: &Cli, binary: Option<std::path::PathBuf>) -> ExitCode {
    let socket = RunDir::new(cli.run_dir()).socket();
    let binary = binary.map(|path| std::path::absolute(&path).unwrap_or(path));
    match ask(&socket, &Request::Upgrade { binary }, None) {
        Ok(reply @ Reply::Error { .. }) => return expect_ok(Ok(reply)),
        Err(error @ crate::control::client::ClientError::NotRunning(_)) => {
            return not_running_or(error)
        }
        // The exec ended the connection.
        Ok(_) | Err(_) => {}
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match ask(&socket, &Request::WaitStarted {}, Some(left)) {
            Ok(reply) => return expect_ok(Ok(reply)),
            Err(_) if !left.is_zero() => std::thread::sleep(Duration::from_millis(20)),
            Err(error) => return not_running_or(error),
        }
    }
}

/// `start`: runs the daemon in the background and returns once every autostart component has
/// started.
pub fn start_daemon(cli: &Cli, registry: &Registry) -> ExitCode {
    let run_dir = RunDir::new(cli.run_dir());
    let socket = run_dir.socket();
    if ask(&socket, &Request::Status {}, Some(Duration::from_secs(5))).is_ok() {
        let pid = run_dir
            .running_pid()
            .map_or_else(|| "unknown".into(), |p| p.to_string());
        println!("supervisor is already running (pid {pid})");
        return ExitCode::SUCCESS;
    }
    let log = logfile::today_path(&registry.config.log);
    let mut daemon = match spawn_detached(cli, registry, &log) {
        Ok(daemon) => daemon,
        Err(error) => return start_failed(&format!("{error:#}"), &log),
    };
    let deadline = Instant::now() + SOCKET_DEADLINE;
    let reason = loop {
        if let Ok(Some(status)) = daemon.try_wait() {
            break format!("the daemon exited ({status})");
        }
        match ask(&socket, &Request::WaitStarted {}, None) {
            Ok(Reply::Ok) => {
                println!(
                    "supervisor started (pid {}); log: {}",
                    daemon.id(),
                    log.display()
                );
                return ExitCode::SUCCESS;
            }
            // Until the daemon listens (or exits and says why), connecting fails.
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Ok(other) => break format!("{other:?}"),
            Err(error) => break error.to_string(),
        }
    };
    // Never leave a half-started daemon behind a failed `start`.
    let _ = daemon.kill();
    let _ = daemon.wait();
    let reason = last_error(&log).unwrap_or(reason);
    start_failed(&reason, &log)
}

fn start_failed(reason: &str, log: &std::path::Path) -> ExitCode {
    fail(
        EXIT_FAILURE,
        format!(
            "supervisor failed to start: {reason}; see {}",
            log.display()
        ),
    )
}

/// The daemon's own account of why it stopped: the last `error` in its log.
fn last_error(log: &std::path::Path) -> Option<String> {
    let text = std::fs::read_to_string(log).ok()?;
    text.lines().rev().find_map(|line| {
        if let Some(message) = line.strip_prefix("error: ") {
            return Some(message.to_string());
        }
        let event: serde_json::Value = serde_json::from_str(line).ok()?;
        (event["level"] == "ERROR").then(|| {
            event["error"]
                .as_str()
                .or(event["message"].as_str())
                .unwrap_or_default()
                .to_string()
        })
    })
}

fn spawn_detached(
    cli: &Cli,
    registry: &Registry,
    log: &std::path::Path,
) -> anyhow::Result<std::process::Child> {
    use anyhow::Context as _;
    if let Some(folder) = log.parent() {
        std::fs::create_dir_all(folder)
            .with_context(|| format!("cannot create {}", folder.display()))?;
    }
    let output = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("cannot open {}", log.display()))?;
    let format = match cli.log_format.unwrap_or(LogFormat::Json) {
        LogFormat::Json => "json",
        LogFormat::Text => "text",
    };
    let child = Command::new(std::env::current_exe()?)
        .arg("--registry")
        .arg(&registry.path)
        .arg("--run-dir")
        .arg(cli.run_dir())
        .args(["--log-format", format, "run", "--log-file", "--detach"])
        .stdin(Stdio::null())
        .stdout(output.try_clone()?)
        .stderr(output)
        .spawn()
        .context("cannot run the daemon")?;
    Ok(child)
}

/// `stop`: asks for an orderly shutdown and waits until the daemon has exited.
pub fn stop_daemon(cli: &Cli) -> ExitCode {
    let run_dir = RunDir::new(cli.run_dir());
    match ask(&run_dir.socket(), &Request::Shutdown {}, None) {
        // The daemon may exit before its answer is read: then the connection just closes.
        Ok(Reply::Ok) | Err(ClientError::Closed) => {
            let deadline = Instant::now() + EXIT_DEADLINE;
            while run_dir.is_locked() {
                if Instant::now() > deadline {
                    return fail(EXIT_FAILURE, "the daemon did not exit in time");
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            println!("supervisor stopped");
            ExitCode::SUCCESS
        }
        Ok(Reply::Error { kind, message }) => refused(kind, &message),
        Ok(other) => fail(EXIT_FAILURE, format!("unexpected reply {other:?}")),
        Err(ClientError::NotRunning(_)) => {
            println!("supervisor is not running");
            ExitCode::SUCCESS
        }
        Err(error) => fail(EXIT_FAILURE, error),
    }
}
