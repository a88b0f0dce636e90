//! The control plane: a Unix socket in the run directory speaking newline-delimited JSON. The
//! CLI talks to a running daemon only through this.

pub mod client;
pub mod operate;
pub mod protocol;
pub mod server;
pub mod wait;

use actix::Message;

use protocol::{Reply, Request};

/// A decoded request from an authorised peer, for the daemon actor.
#[derive(Debug, Message)]
#[rtype(result = "Reply")]
pub struct ControlRequest {
    /// What was asked.
    pub request: Request,
    /// The peer's uid and pid, for the audit log.
    pub peer: Peer,
}

/// Who sent a request (from `SO_PEERCRED`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    /// The peer's user id.
    pub uid: u32,
    /// The peer's process id, when known.
    pub pid: Option<i32>,
}
