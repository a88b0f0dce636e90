//! Where a child's stdout and stderr go: pipes owned by the daemon (close-on-exec, the write ends
//! closed in the daemon as soon as the child has them), the daemon's own streams, or /dev/null.
//! Stdin is always /dev/null.

use std::fs::File;
use std::io::{self, PipeReader};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::OnceLock;

use crate::spec::{OutputSpec, StderrMode, StdoutMode};

/// Which of a child's streams a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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

/// Where one of a child's standard descriptors comes from.
enum Source {
    /// The daemon's own descriptor of that number.
    Daemon,
    /// `/dev/null`.
    Null,
    /// A descriptor of ours (a pipe's write end, or a copy of the daemon's stdout).
    Fd(OwnedFd),
}

/// A child's stdin, stdout and stderr. Drop it once the child is spawned, so that the pipes'
/// write ends are closed in the daemon and the readers see EOF when the child is gone.
pub struct ChildStdio([Source; 3]);

impl ChildStdio {
    /// The descriptors to install as 0, 1 and 2; `None` keeps the daemon's.
    pub fn descriptors(&self) -> io::Result<[Option<BorrowedFd<'_>>; 3]> {
        let [stdin, stdout, stderr] = &self.0;
        Ok([stdin.fd()?, stdout.fd()?, stderr.fd()?])
    }
}

impl Source {
    fn fd(&self) -> io::Result<Option<BorrowedFd<'_>>> {
        Ok(match self {
            Source::Daemon => None,
            Source::Null => Some(dev_null()?),
            Source::Fd(fd) => Some(fd.as_fd()),
        })
    }
}

/// Plans a child's streams as `output` says (stdin is always /dev/null) and returns the read
/// ends to capture.
pub fn attach(output: &OutputSpec) -> io::Result<(ChildStdio, Captured)> {
    let mut captured = Captured::new();
    let stdout_pipe = match output.stdout {
        StdoutMode::Capture => {
            let (reader, writer) = io::pipe()?;
            captured.push((Stream::Stdout, reader));
            Some(OwnedFd::from(writer))
        }
        StdoutMode::Inherit | StdoutMode::Null => None,
    };
    let stderr = match (output.stderr, output.stdout, &stdout_pipe) {
        (StderrMode::Separate, _, _) => {
            let (reader, writer) = io::pipe()?;
            captured.push((Stream::Stderr, reader));
            Source::Fd(writer.into())
        }
        (StderrMode::Merge, _, Some(writer)) => Source::Fd(writer.try_clone()?),
        (StderrMode::Merge, StdoutMode::Inherit, None) => Source::Fd(daemon_stdout()?),
        (StderrMode::Merge, _, None) | (StderrMode::Null, _, _) => Source::Null,
        (StderrMode::Inherit, _, _) => Source::Daemon,
    };
    let stdout = match (output.stdout, stdout_pipe) {
        (StdoutMode::Capture, Some(writer)) => Source::Fd(writer),
        (StdoutMode::Inherit, _) => Source::Daemon,
        (StdoutMode::Null, _) | (StdoutMode::Capture, None) => Source::Null,
    };
    Ok((ChildStdio([Source::Null, stdout, stderr]), captured))
}

/// A close-on-exec duplicate of the daemon's stdout (std's dup uses F_DUPFD_CLOEXEC).
fn daemon_stdout() -> io::Result<OwnedFd> {
    io::stdout().as_fd().try_clone_to_owned()
}

/// The daemon's one `/dev/null` descriptor (close-on-exec), opened on first use.
pub fn dev_null() -> io::Result<BorrowedFd<'static>> {
    static NULL: OnceLock<OwnedFd> = OnceLock::new();
    if let Some(fd) = NULL.get() {
        return Ok(fd.as_fd());
    }
    let opened = OwnedFd::from(File::options().read(true).write(true).open("/dev/null")?);
    Ok(NULL.get_or_init(|| opened).as_fd())
}
