//! Asks a new binary, before anything changes, whether it reads this daemon's hand-over:
//! `PATH --handover-version` must answer `HANDOVER_VERSION VERSION [handover-check]` within a
//! deadline. A binary that says `handover-check` is then given the very hand-over on its stdin
//! (`PATH --handover-check REGISTRY`, in a child, before the exec): it reads and validates the
//! hand-over and the registry without adopting anything, so a binary that fails there (or
//! crashes, or is killed) refuses the upgrade with the tree untouched.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Output, Stdio};
use std::time::Duration;

use super::{HANDOVER_VERSION, Handover};

/// How long the new binary has to answer.
const DEADLINE: Duration = Duration::from_secs(5);
/// How long the new binary has to check the hand-over and the registry.
const CHECK_DEADLINE: Duration = Duration::from_secs(10);
/// The word of the version answer that says the binary takes `--handover-check`.
const CHECKS: &str = "handover-check";

/// The version answer of this binary.
pub fn version_answer() -> String {
    format!("{HANDOVER_VERSION} {} {CHECKS}", super::VERSION)
}

/// The new binary's version and whether it takes `--handover-check`, or why the upgrade is
/// refused. Run it while the daemon's reaper is paused: the answer is waited for by a thread of
/// its own.
pub async fn probe(binary: &Path) -> Result<(String, bool), String> {
    let meta = std::fs::metadata(binary).map_err(|e| format!("{}: {e}", binary.display()))?;
    if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 {
        return Err(format!("{} is not an executable file", binary.display()));
    }
    let mut command = Command::new(binary);
    command.arg("--handover-version");
    let output = off_thread(binary, command, None, DEADLINE).await?;
    let text = String::from_utf8_lossy(&output.stdout);
    let mut words = text.split_whitespace();
    match (output.status.success(), words.next().map(str::parse::<u32>)) {
        (true, Some(Ok(version))) if version == HANDOVER_VERSION => {
            let to = words.next().unwrap_or("unknown").to_string();
            Ok((to, words.next() == Some(CHECKS)))
        }
        (true, Some(Ok(version))) => Err(format!(
            "{} reads hand-over version {version}, this daemon writes {HANDOVER_VERSION}",
            binary.display()
        )),
        _ => Err(format!(
            "{} --handover-version gave no hand-over version ({})",
            binary.display(),
            output.status
        )),
    }
}

/// Runs `binary --handover-check REGISTRY` with `handover` on its stdin when it `checks`, and
/// refuses (the reason) unless it exits 0 within [`CHECK_DEADLINE`]. Run it while the daemon's
/// reaper is paused (the tree is frozen then).
pub async fn check(
    binary: &Path,
    checks: bool,
    registry: &Path,
    handover: &Handover,
) -> Result<(), String> {
    if !checks {
        return Ok(());
    }
    let text = serde_json::to_vec(handover).map_err(|e| format!("the hand-over: {e}"))?;
    let mut command = Command::new(binary);
    command.arg("--handover-check").arg(registry);
    let output = off_thread(binary, command, Some(text), CHECK_DEADLINE).await?;
    if output.status.success() {
        return Ok(());
    }
    let said = String::from_utf8_lossy(&output.stderr);
    let how = match (output.status.code(), output.status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        (None, None) => output.status.to_string(),
    };
    Err(format!(
        "{} --handover-check failed ({how}): {}",
        binary.display(),
        said.lines().last().unwrap_or("no reason given")
    ))
}

/// Runs `command` (the new binary) to its end on a thread of its own, so that the daemon's
/// reaper (paused meanwhile) never takes its exit, with `stdin` written to it; waits at most
/// `deadline`, then SIGKILLs it (by pidfd: never another process), so that a hung binary is
/// not left running.
async fn off_thread(
    binary: &Path,
    command: Command,
    stdin: Option<Vec<u8>>,
    deadline: Duration,
) -> Result<Output, String> {
    let argument = (command.get_args().next())
        .map(|argument| argument.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (answer, answered) = tokio::sync::oneshot::channel();
    let (spawned, pidfd) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("upgrade-probe".into())
        .spawn(move || {
            let _ = answer.send(run_to_end(command, stdin, &spawned));
        })
        .map_err(|e| format!("cannot ask the new binary: {e}"))?;
    match tokio::time::timeout(deadline, answered).await {
        Ok(Ok(Ok(output))) => Ok(output),
        Ok(Ok(Err(error))) => Err(format!("{}: {error}", binary.display())),
        Ok(Err(_)) => Err("the probe thread ended without an answer".into()),
        Err(_) => {
            if let Ok(pidfd) = pidfd.try_recv() {
                let _ = actors::process::sys::pidfd_send_signal(&pidfd, libc::SIGKILL);
            }
            Err(format!(
                "{} {argument} did not answer within {} s",
                binary.display(),
                deadline.as_secs()
            ))
        }
    }
}

/// Runs `command` to its end, `stdin` written to it, its stdout and stderr kept; its pidfd goes
/// to `spawned` (for a kill at the deadline).
fn run_to_end(
    mut command: Command,
    stdin: Option<Vec<u8>>,
    spawned: &std::sync::mpsc::Sender<std::os::fd::OwnedFd>,
) -> std::io::Result<Output> {
    let input = if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    };
    let mut child = (command.stdin(input))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    // Unreaped until the wait below: the pid is still this child's.
    if let Ok(pidfd) = actors::process::sys::pidfd_open(child.id() as i32) {
        let _ = spawned.send(pidfd);
    }
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // A child that died first closed the pipe: its status says why.
        let _ = pipe.write_all(&text);
    }
    child.wait_with_output()
}

/// `--handover-check REGISTRY` as the first arguments: the registry's path.
pub fn checks_handover() -> Option<PathBuf> {
    let mut args = std::env::args_os().skip(1);
    (args.next()? == "--handover-check").then(|| args.next().map(PathBuf::from))?
}

/// The new binary's side of the check: reads the hand-over from stdin, and the registry, and
/// checks that it could restore that tree (the same check the restore makes), adopting
/// nothing. Exit 0 when it could; 1 with the reason on stderr when not.
pub fn answer_check(registry: &Path) -> ExitCode {
    match checked(registry) {
        Ok(()) => ExitCode::SUCCESS,
        Err(reason) => {
            eprintln!("error: {reason}");
            ExitCode::FAILURE
        }
    }
}

fn checked(registry: &Path) -> Result<(), String> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read the hand-over: {e}"))?;
    let handover = super::parse(&text)?;
    let registry = crate::registry::load_within(registry, crate::registry::READ_DEADLINE)
        .map_err(|errors| format!("the registry is invalid: {errors}"))?;
    actors::tree::check(&registry.tree, &handover.tree)
}
