//! Collecting the tree's state for a hand-over: reaping paused, the tree frozen, its state
//! read; thawed again (and the waiting exits reaped) when it is not at rest or the upgrade
//! does not go ahead.

use std::time::Duration;

use actix::Addr;
use actors::group::GroupActor;
use actors::handover::{ActorState, Collect, Freeze, GroupState, Thaw, TreeState};
use actors::output::{HandedOutput, OutputService};
use actors::process::ProcessTable;

/// Tries this many times, this far apart, to find the tree at rest.
const ATTEMPTS: u32 = 50;
const PAUSE: Duration = Duration::from_millis(20);
/// How long the output has to come to rest (every line read delivered, the file queue empty).
const OUTPUT_DEADLINE: Duration = Duration::from_secs(2);

/// Stops reading the components' output and drains it (see `actors::output::handover`); or
/// why it did not come to rest in time (reading goes on).
pub async fn output(service: &OutputService) -> Result<HandedOutput, String> {
    match tokio::time::timeout(OUTPUT_DEADLINE, service.hand_over()).await {
        Ok(handed) => Ok(handed),
        Err(_) => {
            let why = service.pending();
            service.go_on(Vec::new());
            Err(format!(
                "the output did not come to rest within {} s: {why}",
                OUTPUT_DEADLINE.as_secs()
            ))
        }
    }
}

/// The tree's state, frozen (call [`thaw`] if the upgrade does not go ahead), or why it was
/// never at rest (thawed, and the `output` too).
pub async fn collect(
    root: &Addr<GroupActor>,
    table: &ProcessTable,
    output: &OutputService,
) -> Result<TreeState, String> {
    let mut why = String::new();
    for _ in 0..ATTEMPTS {
        table.pause_reaping(true);
        root.do_send(Freeze);
        // The first round lets answers already under way arrive; the second is the state.
        let _ = root.send(Collect::<GroupState>::new()).await;
        match root.send(Collect::<GroupState>::new()).await {
            Ok(Ok(root)) => return Ok(TreeState { root }),
            Ok(Err(reason)) => why = reason,
            Err(error) => why = error.to_string(),
        }
        thaw_tree(root, table);
        tokio::time::sleep(PAUSE).await;
    }
    output.go_on(Vec::new());
    Err(format!("the tree did not come to rest: {why}"))
}

/// Lets the tree, the reaper and the output go on.
pub fn thaw(root: &Addr<GroupActor>, table: &ProcessTable, output: &OutputService) {
    thaw_tree(root, table);
    output.go_on(Vec::new());
}

/// Lets the tree and the reaper go on (the output already goes on: see [`output`]).
pub fn thaw_tree(root: &Addr<GroupActor>, table: &ProcessTable) {
    root.do_send(Thaw);
    table.pause_reaping(false);
    table.reap();
}

/// How many components the tree holds.
pub fn components(tree: &TreeState) -> usize {
    fn walk(group: &GroupState) -> usize {
        group
            .children
            .iter()
            .map(|child| match &child.actor {
                ActorState::Component(_) => 1,
                ActorState::Group(group) => walk(group),
            })
            .sum()
    }
    walk(&tree.root)
}
