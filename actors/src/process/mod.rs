//! Process ownership: spawning clean children, reaping every exit from one place, and signalling
//! process groups without ever hitting a recycled pid.
//!
//! `sys` holds the crate's only `unsafe`. The `ProcessTable` is the single owner of spawning and
//! `waitpid`: nothing else in Supervisor waits for a process.

pub mod cgroup;
mod clock;
pub mod envfile;
mod journal;
pub mod procfs;
pub mod procnet;
mod sockdiag;
pub mod sockets;
mod spawn;
mod stdio;
#[allow(unsafe_code)]
pub mod sys;
mod table;

pub use journal::{Journal, Record};
pub use spawn::{FOR_THE_DAEMON, Launch, Placement, SpawnError, resolve_executable};
pub use stdio::{Captured, Stream};
pub use sys::FileLimit;
pub use table::{Child, ChildNamespace, ExitNotify, ProcessExited, ProcessTable, SpawnRequest};
