//! The control socket's server side: accepts connections, checks the peer's uid, reads one
//! request line within a deadline and a size limit, and answers with the daemon's reply.
//!
//! A bad peer or a bad request gets an error reply and costs the daemon nothing else.
//! `status` and the wait for "ready" are answered here from the status board, never queued
//! behind the daemon's work: they answer in every phase, shutdown included. The server runs on
//! a thread of its own (`control`), so a burst of spawns on the actors' thread does not hold a
//! `status` up either; what only the daemon can answer is sent to its actor.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use actix::Recipient;
use actors::events;
use actors::status::{DaemonPhase, StatusBoard};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::Semaphore;

use super::protocol::{self, ErrorKind, MAX_REQUEST_BYTES, Reply, Request};
use super::{ControlRequest, Peer, wait};
use crate::status::Wait;
use crate::upgrade::{Busy, GATE};

/// How many clients may be connected at once.
pub const MAX_CONNECTIONS: usize = 64;
/// How long a client may take to send its request.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(5);

/// Binds the socket at `path` (replacing a stale one: the caller holds the instance lock) with
/// mode 0600.
pub fn bind(path: &Path) -> io::Result<std::os::unix::net::UnixListener> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => return Err(error),
    }
    let listener = std::os::unix::net::UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// Serves clients on a thread of its own until the process exits; only root and `owner` (the
/// daemon's uid) may act.
pub fn serve_on_own_thread(
    listener: std::os::unix::net::UnixListener,
    daemon: Recipient<ControlRequest>,
    board: StatusBoard,
    owner: u32,
) -> io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("control".into())
        .spawn(move || {
            runtime.block_on(async move {
                match UnixListener::from_std(listener) {
                    Ok(listener) => serve(listener, daemon, board, owner).await,
                    Err(error) => tracing::error!(
                        event = events::ACCEPT_FAILED,
                        endpoint = "control",
                        error = %error,
                        "cannot serve the control socket: {error}"
                    ),
                }
            })
        })?;
    Ok(())
}

/// Serves clients forever.
async fn serve(
    listener: UnixListener,
    daemon: Recipient<ControlRequest>,
    board: StatusBoard,
    owner: u32,
) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let _serving = GATE.serve();
    loop {
        let accept = || crate::accept::next("control", || listener.accept());
        let (stream, busy) = GATE.admit(accept).await;
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            tokio::spawn(refuse(stream, busy, "too many connections"));
            continue;
        };
        let (daemon, board) = (daemon.clone(), board.clone());
        tokio::spawn(async move {
            answer(stream, busy, daemon, board, owner).await;
            drop(slot);
        });
    }
}

async fn refuse(mut stream: UnixStream, _busy: Busy, message: &str) {
    let _ = write_reply(&mut stream, &Reply::error(ErrorKind::Busy, message)).await;
}

/// Answers one connection; it counts as `busy` (holding an upgrade's exec back) until answered,
/// except `upgrade` itself. What waits on the tree or for readiness is answered `busy` once an
/// upgrade's gate closes: the exec would otherwise cut it off unanswered.
async fn answer(
    mut stream: UnixStream,
    busy: Busy,
    daemon: Recipient<ControlRequest>,
    board: StatusBoard,
    owner: u32,
) {
    let peer = match stream.peer_cred() {
        Ok(credentials) => Peer {
            uid: credentials.uid(),
            pid: credentials.pid(),
        },
        Err(_) => return,
    };
    if peer.uid != 0 && peer.uid != owner {
        tracing::warn!(
            event = events::CONTROL_REFUSED,
            peer_uid = peer.uid,
            peer_pid = peer.pid,
            "control request refused: not authorised"
        );
        let reply = Reply::error(
            ErrorKind::Forbidden,
            format!("uid {} may not control this daemon", peer.uid),
        );
        let _ = write_reply(&mut stream, &reply).await;
        return;
    }
    let reply = match tokio::time::timeout(REQUEST_DEADLINE, read_line(&mut stream)).await {
        Err(_) => Reply::error(
            ErrorKind::BadRequest,
            "no complete request within the deadline",
        ),
        Ok(Err(message)) => Reply::error(ErrorKind::BadRequest, message),
        Ok(Ok(line)) => match protocol::decode(&line) {
            Err(message) => Reply::error(ErrorKind::BadRequest, message),
            Ok(Request::Status {}) => status(&board),
            Ok(Request::WaitReady { timeout_ms }) => {
                unless_upgrading(wait_ready(&board, timeout_ms)).await
            }
            Ok(request @ Request::Upgrade { .. }) => {
                drop(busy);
                ask(&daemon, request, peer).await
            }
            Ok(request) => unless_upgrading(ask(&daemon, request, peer)).await,
        },
    };
    let _ = write_reply(&mut stream, &reply).await;
}

/// The daemon actor's answer to `request`.
async fn ask(daemon: &Recipient<ControlRequest>, request: Request, peer: Peer) -> Reply {
    let asked = daemon.send(ControlRequest { request, peer }).await;
    asked.unwrap_or_else(|_| Reply::error(ErrorKind::Busy, "the daemon is shutting down"))
}

/// `reply`, or `busy` if an upgrade's exec comes first (SPEC: 75, "upgrading").
async fn unless_upgrading(reply: impl std::future::Future<Output = Reply>) -> Reply {
    GATE.unless_closed(reply).await.unwrap_or_else(|| {
        Reply::error(
            ErrorKind::Busy,
            "busy: the daemon is upgrading (what was asked is done; its readiness was not \
             awaited: see `status`)",
        )
    })
}

/// The rows of the board now. While the daemon starts or stops, no answer waits for a reading
/// of every process on the host (each component started since the last reading is read alone):
/// the processes starting or stopping outdate it at once, and a `status` watching a start of
/// 1,000 components waited 3–5 ms for it.
fn status(board: &StatusBoard) -> Reply {
    let report = board.report_with_queues();
    let wait = match report.phase {
        DaemonPhase::Running => Wait::ForFresh,
        DaemonPhase::Starting | DaemonPhase::Stopping { .. } => Wait::Never,
    };
    Reply::Status {
        phase: report.phase.name().to_string(),
        components: crate::status::rows(report.components, wait),
    }
}

/// Answered once the whole tree is ready, or with what is not.
async fn wait_ready(board: &StatusBoard, timeout_ms: u64) -> Reply {
    let deadline = wait::deadline(Duration::from_millis(timeout_ms));
    match wait::until_ready(board, None, deadline).await {
        Ok(()) => Reply::Ok,
        // Shutting down (given up, or asked to): busy, and the caller may wait for its exit.
        Err(not_ready) => {
            let kind = match not_ready.stopping {
                Some(_) => ErrorKind::Busy,
                None => ErrorKind::NotStarted,
            };
            Reply::error(kind, not_ready.lines().join("\n"))
        }
    }
}

/// Reads one line (without its newline), refusing more than the size limit.
async fn read_line(stream: &mut UnixStream) -> Result<Vec<u8>, String> {
    let mut line = Vec::new();
    let limit = (MAX_REQUEST_BYTES + 1) as u64;
    let mut reader = BufReader::new(stream.take(limit));
    reader
        .read_until(b'\n', &mut line)
        .await
        .map_err(|e| format!("read failed: {e}"))?;
    if line.last() == Some(&b'\n') {
        line.pop();
    } else if line.len() as u64 >= limit {
        return Err(format!("request longer than {MAX_REQUEST_BYTES} bytes"));
    }
    Ok(line)
}

async fn write_reply(stream: &mut UnixStream, reply: &Reply) -> io::Result<()> {
    let mut line = serde_json::to_vec(reply).map_err(io::Error::other)?;
    line.push(b'\n');
    stream.write_all(&line).await?;
    stream.shutdown().await
}
