//! What every actor of a tree shares: the process table, the output service, the status board,
//! the id index.

use std::ops::Deref;
use std::sync::Arc;

use crate::ids::{IdIndex, StoppedOnArrival};
use crate::output::OutputService;
use crate::process::ProcessTable;
use crate::status::StatusBoard;

/// What every actor of a tree shares, behind one pointer: each actor keeps a copy, and an
/// actor's task is as large as the actor (144 bytes inline, rounded up with the task, were
/// 128 bytes more a component).
#[derive(Clone)]
pub struct Runtime(Arc<Shared>);

/// The parts of a [`Runtime`].
pub struct Shared {
    /// Spawns, reaps and signals.
    pub processes: ProcessTable,
    /// Reads and files components' output.
    pub output: OutputService,
    /// Where every actor publishes its state.
    pub board: StatusBoard,
    /// Every id of the tree and the group that owns it.
    pub ids: IdIndex,
    /// Ids an operator stopped on their way to a new place.
    pub stopped_on_arrival: StoppedOnArrival,
}

impl Runtime {
    /// The runtime of `shared`.
    pub fn new(shared: Shared) -> Runtime {
        Runtime(Arc::new(shared))
    }
}

impl Deref for Runtime {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}
