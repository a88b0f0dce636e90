//! The daemon's own listeners across an upgrade: the control socket and the HTTP endpoint stay
//! open across `execve` (a client that connects meanwhile waits in the backlog) and the new
//! image takes them over instead of binding anew. One it cannot take over (not open, or bound
//! elsewhere: the registry on disk moved the endpoint) is closed and bound anew; one the
//! registry on disk no longer asks for is closed.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::{OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::Path;

use actors::events;
use serde::{Deserialize, Serialize};

/// The listeners' descriptors, kept open across `execve`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listeners {
    /// The control socket.
    pub control: Option<i32>,
    /// The HTTP endpoint, while `<tcpport>` asks for one.
    pub http: Option<i32>,
}

impl Listeners {
    /// Their descriptors.
    pub fn descriptors(&self) -> impl Iterator<Item = RawFd> + use<> {
        self.control.into_iter().chain(self.http)
    }
}

/// The control socket at `path`: the one `handed` over, else bound anew.
pub fn control(handed: Option<RawFd>, path: &Path) -> io::Result<UnixListener> {
    let taken = handed.and_then(|fd| {
        take("control socket", fd, |fd| {
            let listener = UnixListener::from(fd);
            let here = listener.local_addr()?.as_pathname() == Some(path);
            Ok(here.then_some(listener))
        })
    });
    match taken {
        Some(listener) => listener.set_nonblocking(true).map(|()| listener),
        None => crate::control::server::bind(path),
    }
}

/// The HTTP endpoint's listener on `address`: the one `handed` over, else bound anew.
pub fn http(handed: Option<RawFd>, address: SocketAddr) -> io::Result<TcpListener> {
    let taken = handed.and_then(|fd| {
        take("HTTP endpoint", fd, |fd| {
            let listener = TcpListener::from(fd);
            Ok((listener.local_addr()? == address).then_some(listener))
        })
    });
    match taken {
        Some(listener) => listener.set_nonblocking(true).map(|()| listener),
        None => crate::http::bind(address),
    }
}

/// Closes a listener `handed` over that the registry on disk no longer asks for (`<tcpport>`
/// removed without a reload).
pub fn close(handed: Option<RawFd>) {
    if let Some(fd) = handed {
        drop(actors::process::sys::adopt_fd(fd));
    }
}

/// Adopts descriptor `fd` as the listener `bound` makes of it, when it is bound where wanted.
fn take<L>(
    what: &str,
    fd: RawFd,
    bound: impl FnOnce(OwnedFd) -> io::Result<Option<L>>,
) -> Option<L> {
    let error = match actors::process::sys::adopt_fd(fd).and_then(bound) {
        Ok(Some(listener)) => return Some(listener),
        Ok(None) => "it listens elsewhere".to_string(),
        Err(error) => error.to_string(),
    };
    tracing::warn!(
        event = events::HANDOVER_INCOMPLETE,
        error = %error,
        "cannot take over the {what} handed over ({error}): bound anew"
    );
    None
}
