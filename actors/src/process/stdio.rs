//! Where a child's stdout and stderr go: pipes owned by the daemon (close-on-exec, the write ends
//! closed in the daemon as soon as the child has them), the daemon's own streams, or /dev/null.

use std::io::{self, PipeReader};
use std::os::fd::{AsFd, OwnedFd};
use std::process::{Command, Stdio};

use crate::spec::{OutputSpec, StderrMode, StdoutMode};

/// Which of a child's streams a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output (and standard error, when merged).
    Stdout,
    /// Standard error.
    Stderr,
}

impl Stream {
    /// `stdout` or `stderr`, as the logs name it.
    pub fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// The read ends of a child's captured streams.
pub type Captured = Vec<(Stream, PipeReader)>;

/// Sets `command`'s stdout and stderr as `output` says and returns the read ends to capture.
/// The write ends live in `command` only: drop it after spawning so the pipes see EOF.
pub fn attach(command: &mut Command, output: &OutputSpec) -> io::Result<Captured> {
    let mut captured = Captured::new();
    let stdout_pipe = match output.stdout {
        StdoutMode::Capture => {
            let (reader, writer) = io::pipe()?;
            captured.push((Stream::Stdout, reader));
            Some(writer)
        }
        StdoutMode::Inherit | StdoutMode::Null => None,
    };
    let stderr: Stdio = match (output.stderr, output.stdout, &stdout_pipe) {
        (StderrMode::Separate, _, _) => {
            let (reader, writer) = io::pipe()?;
            captured.push((Stream::Stderr, reader));
            writer.into()
        }
        (StderrMode::Merge, _, Some(writer)) => writer.try_clone()?.into(),
        (StderrMode::Merge, StdoutMode::Inherit, None) => daemon_stdout()?.into(),
        (StderrMode::Merge, _, None) | (StderrMode::Null, _, _) => Stdio::null(),
        (StderrMode::Inherit, _, _) => Stdio::inherit(),
    };
    let stdout: Stdio = match (output.stdout, stdout_pipe) {
        (StdoutMode::Capture, Some(writer)) => writer.into(),
        (StdoutMode::Inherit, _) => Stdio::inherit(),
        (StdoutMode::Null, _) | (StdoutMode::Capture, None) => Stdio::null(),
    };
    command.stdout(stdout).stderr(stderr);
    Ok(captured)
}

/// A close-on-exec duplicate of the daemon's stdout (std's dup uses F_DUPFD_CLOEXEC).
fn daemon_stdout() -> io::Result<OwnedFd> {
    io::stdout().as_fd().try_clone_to_owned()
}
