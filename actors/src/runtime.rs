//! What every actor of a tree shares: the process table, the output service, the status board,
//! the id index.

use crate::ids::IdIndex;
use crate::output::OutputService;
use crate::process::ProcessTable;
use crate::status::StatusBoard;

/// What every actor of a tree shares.
#[derive(Clone)]
pub struct Runtime {
    /// Spawns, reaps and signals.
    pub processes: ProcessTable,
    /// Reads and files components' output.
    pub output: OutputService,
    /// Where every actor publishes its state.
    pub board: StatusBoard,
    /// Every id of the tree and the group that owns it.
    pub ids: IdIndex,
}
