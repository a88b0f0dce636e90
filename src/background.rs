//! The daemon in the background: `start` (spawn it detached, return once the tree is ready or
//! say what did not start), `stop` (orderly, return once it has exited) and `restart`.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::cli::{Cli, LogFormat};
use crate::control::client::{ClientError, ask};
use crate::control::protocol::{ErrorKind, Reply, Request};
use crate::control::wait;
use crate::logfile;
use crate::registry::Registry;
use crate::rundir::{DaemonRecord, RunDir};
use crate::verbs::{EXIT_FAILURE, Out};

/// How long `start` waits for a new daemon's control socket.
const SOCKET_DEADLINE: Duration = Duration::from_secs(30);
/// How long `stop` waits for the daemon to let go of its lock after it answered, and `start`
/// for a daemon that is shutting down to exit.
const EXIT_DEADLINE: Duration = Duration::from_secs(30);

/// The registry for a verb that may act on the last daemon's: `--registry` when given, else
/// the one the daemon of the run directory runs (or last ran) with, else the default.
pub fn registry_path(cli: &Cli) -> PathBuf {
    match (&cli.registry, RunDir::new(cli.run_dir()).record()) {
        (Some(path), _) => path.clone(),
        (None, Some(record)) => record.registry,
        (None, None) => cli.registry(),
    }
}

/// `start`: runs the daemon in the background and returns once the tree is ready (SPEC's
/// "ready"), or, within `timeout`, names each component that did not start and why.
pub fn start(cli: &Cli, registry: &Registry, timeout: Option<Duration>) -> ExitCode {
    let out = Out::of(cli);
    let run_dir = RunDir::new(cli.run_dir());
    let socket = run_dir.socket();
    if ask(&socket, &Request::Status {}, Some(Duration::from_secs(5))).is_ok() {
        let pid = run_dir.running_pid();
        let shown = pid.map_or_else(|| "unknown".into(), |p| p.to_string());
        let text = format!("supervisor is already running (pid {shown})");
        return out.done(text, json!({ "already_running": true, "pid": pid }));
    }
    let log = logfile::today_path(&registry.config.log);
    let mut daemon = match spawn_detached(cli, registry, &log) {
        Ok(daemon) => daemon,
        Err(error) => return failed(out, &[format!("{error:#}")], &log),
    };
    let timeout = timeout.unwrap_or_else(|| wait::group_bound(&registry.tree.root) + wait::SLACK);
    let request = Request::WaitReady {
        timeout_ms: timeout.as_millis() as u64,
    };
    let socket_deadline = Instant::now() + SOCKET_DEADLINE;
    loop {
        if let Ok(Some(status)) = daemon.try_wait() {
            return gone(out, &run_dir, daemon.id(), status, &log);
        }
        match ask(&socket, &request, Some(timeout + SOCKET_DEADLINE)) {
            Ok(Reply::Ok) => {
                let pid = daemon.id();
                let text = format!("supervisor started (pid {pid}); log: {}", log.display());
                return out.done(text, json!({ "started": true, "pid": pid, "log": log }));
            }
            Ok(Reply::Error { kind, message }) => {
                // Given up, it is exiting: its own account is the fuller one.
                if kind == ErrorKind::Busy {
                    if let Some(status) = exit_within(&mut daemon, EXIT_DEADLINE) {
                        return gone(out, &run_dir, daemon.id(), status, &log);
                    }
                }
                let mut lines: Vec<String> = message.lines().map(String::from).collect();
                lines.push(format!(
                    "supervisor runs (pid {}) but is not ready",
                    daemon.id()
                ));
                return failed(out, &lines, &log);
            }
            Ok(other) => return out.unexpected(&other),
            // Until the daemon listens (or exits and says why), connecting fails.
            Err(ClientError::NotRunning(_) | ClientError::Io(_))
                if Instant::now() < socket_deadline =>
            {
                std::thread::sleep(Duration::from_millis(10))
            }
            Err(ClientError::Closed) => {
                if let Some(status) = exit_within(&mut daemon, EXIT_DEADLINE) {
                    return gone(out, &run_dir, daemon.id(), status, &log);
                }
            }
            Err(error) => {
                // Never leave a daemon behind a `start` that could not even ask it.
                let _ = daemon.kill();
                let _ = daemon.wait();
                return failed(out, &[error.to_string()], &log);
            }
        }
    }
}

/// Waits up to `limit` for `daemon` to exit.
fn exit_within(daemon: &mut std::process::Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        match daemon.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Ok(None) | Err(_) => return None,
        }
    }
}

/// The daemon `pid` exited during `start`: its record in the run directory says why (given
/// up, each component's last failure), else the last error of its log.
fn gone(out: Out, run_dir: &RunDir, pid: u32, status: ExitStatus, log: &Path) -> ExitCode {
    let record = run_dir.record().filter(|record| record.pid == pid);
    let lines = match record.and_then(|record| record.exit) {
        Some(exit) => {
            let why = match exit.code {
                4 => format!("the daemon gave up ({})", exit.reason),
                code => format!("the daemon exited with code {code} ({})", exit.reason),
            };
            exit.failures.into_iter().chain([why]).collect()
        }
        None => {
            let fallback = format!("the daemon exited ({status})");
            vec![last_error(log).unwrap_or(fallback)]
        }
    };
    failed(out, &lines, log)
}

fn failed(out: Out, lines: &[String], log: &Path) -> ExitCode {
    let mut message = lines.join("\n");
    message.push_str(&format!(
        "\nsupervisor failed to start; see {}",
        log.display()
    ));
    out.fail(EXIT_FAILURE, message)
}

/// The daemon's own account of why it stopped: the last `error` in its log.
fn last_error(log: &Path) -> Option<String> {
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
    log: &Path,
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
    let format = cli.log_format.unwrap_or(LogFormat::Json).name();
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
pub fn stop(cli: &Cli) -> ExitCode {
    let out = Out::of(cli);
    let run_dir = RunDir::new(cli.run_dir());
    let pid = run_dir.running_pid();
    match shut_down(out, &run_dir) {
        Ok(true) => out.done("supervisor stopped", json!({ "stopped": true, "pid": pid })),
        Ok(false) => out.done(
            "supervisor is not running",
            json!({ "stopped": false, "running": false }),
        ),
        Err(code) => code,
    }
}

/// Asks for an orderly shutdown and waits until the daemon has exited; `false` when none ran.
fn shut_down(out: Out, run_dir: &RunDir) -> Result<bool, ExitCode> {
    match ask(&run_dir.socket(), &Request::Shutdown {}, None) {
        // The daemon may exit before its answer is read: then the connection just closes.
        Ok(Reply::Ok) | Err(ClientError::Closed) => {
            let deadline = Instant::now() + EXIT_DEADLINE;
            while run_dir.is_locked() {
                if Instant::now() > deadline {
                    return Err(out.fail(EXIT_FAILURE, "the daemon did not exit in time"));
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            Ok(true)
        }
        Ok(Reply::Error { kind, message }) => Err(out.refused(kind, &message)),
        Ok(other) => Err(out.unexpected(&other)),
        Err(ClientError::NotRunning(_)) => Ok(false),
        Err(error) => Err(out.fail(EXIT_FAILURE, error)),
    }
}

/// `restart`: `stop` then `start`, with the registry the running daemon was started with
/// (unless `--registry` names another). A daemon run in the foreground belongs to its service
/// manager: it is not replaced by a background one.
pub fn restart(cli: &Cli, registry: &Registry, timeout: Option<Duration>) -> ExitCode {
    let out = Out::of(cli);
    let run_dir = RunDir::new(cli.run_dir());
    let running = run_dir.record().filter(|_| run_dir.is_locked());
    if let Some(DaemonRecord {
        foreground: true,
        pid,
        ..
    }) = running
    {
        let message = format!(
            "the daemon (pid {pid}) runs in the foreground, under its service manager: restart \
             it there (e.g. systemctl restart), or restart its components with `restart ID…`"
        );
        return out.refused(ErrorKind::Forbidden, &message);
    }
    match shut_down(out, &run_dir) {
        Ok(_) => start(cli, registry, timeout),
        Err(code) => code,
    }
}
