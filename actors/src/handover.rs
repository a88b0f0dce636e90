//! The tree's state as one daemon hands it to its successor across `execve` (`supervisor
//! upgrade`): plain data, serialised with serde, and the messages that freeze the tree, collect
//! that state and thaw it again when the upgrade is refused. Each actor's state is defined where
//! the actor is (`group::GroupState`, `component::ComponentState`); this module holds the whole
//! and names the parts.
//!
//! Only a settled tree is handed over: every group up (or down) with no plan and no operator
//! request in flight, every component at rest, running, starting or in backoff. A tree caught
//! in the middle of a step (a stop, a plan, an exit its group has not yet answered) is thawed
//! and asked again a moment later. Nothing here touches a process or a descriptor.

use serde::{Deserialize, Serialize};

pub use crate::component::ComponentState;
pub use crate::group::{ActorState, ChildState, GroupState};
pub use crate::messages::{AwaitStart, Collect, Freeze, Thaw};

/// The whole tree: its root group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreeState {
    /// The root group.
    pub root: GroupState,
}

impl TreeState {
    /// Every descriptor the tree's components hand over (output pipes, notification sockets,
    /// held listening sockets): kept open across `execve`, close-on-exec everywhere else.
    pub fn descriptors(&self) -> Vec<std::os::fd::RawFd> {
        fn walk(group: &GroupState, out: &mut Vec<std::os::fd::RawFd>) {
            for child in &group.children {
                match &child.actor {
                    ActorState::Component(component) => out.extend(component.descriptors()),
                    ActorState::Group(group) => walk(group, out),
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.root, &mut out);
        out
    }
}
