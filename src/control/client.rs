//! The control socket's client side, for the CLI verbs: one request, one reply.

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use super::protocol::{Reply, Request};

/// Why the daemon could not be asked.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing listens on the socket: the daemon is not running.
    #[error("supervisor is not running (no control socket at {0})")]
    NotRunning(String),
    /// The daemon closed the connection without answering (it was exiting).
    #[error("control socket: the daemon closed the connection without a reply")]
    Closed,
    /// The conversation failed (permission denied, ...).
    #[error("control socket: {0}")]
    Io(#[from] io::Error),
    /// The daemon answered something that is not a reply.
    #[error("control socket: malformed reply: {0}")]
    Malformed(String),
}

/// Sends `request` to the daemon listening at `socket` and waits up to `timeout` for the reply.
pub fn ask(
    socket: &Path,
    request: &Request,
    timeout: Option<Duration>,
) -> Result<Reply, ClientError> {
    let mut stream = match UnixStream::connect(socket) {
        Ok(stream) => stream,
        Err(error)
            if matches!(
                error.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Err(ClientError::NotRunning(socket.display().to_string()));
        }
        Err(error) => return Err(error.into()),
    };
    stream.set_read_timeout(timeout)?;
    let mut line = serde_json::to_vec(request).map_err(io::Error::other)?;
    line.push(b'\n');
    if let Err(error) = stream.write_all(&line) {
        // A daemon that refuses a peer answers and hangs up before reading: read the answer.
        if !matches!(
            error.kind(),
            io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
        ) {
            return Err(error.into());
        }
    }
    let mut answer = String::new();
    BufReader::new(stream).read_line(&mut answer)?;
    if answer.is_empty() {
        return Err(ClientError::Closed);
    }
    serde_json::from_str(&answer).map_err(|error| ClientError::Malformed(error.to_string()))
}
