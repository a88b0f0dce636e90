//! Builds the actors of a tree from its spec: one group actor per group (the root included),
//! one component actor per component, each child knowing its group and its place in it.

use actix::{Addr, Recipient};

use crate::group::{ActorState, GroupActor, GroupState, build_group};
use crate::handover::TreeState;
use crate::messages::GroupGaveUp;
use crate::runtime::Runtime;
use crate::spec::{ChildSpec, GroupSpec, TreeSpec, start_order};

/// Creates the whole tree, stopped, on the runtime's board; the root reports to `parent` when
/// it gives up. Send it [`crate::Start`] to start it and [`crate::Stop`] to stop it.
pub fn build(
    tree: &TreeSpec,
    runtime: &Runtime,
    parent: Recipient<GroupGaveUp>,
) -> Addr<GroupActor> {
    let token = runtime.board.register();
    runtime.board.set_root(token);
    build_group(&tree.root, None, parent, runtime, token, None)
}

/// Creates the tree a predecessor daemon handed over, as it was: components adopt their
/// processes, groups resume their decisions. `state` must describe the same tree as `tree`
/// (same ids and kinds, in start order); otherwise nothing is built and the difference is
/// returned.
pub fn restore(
    tree: &TreeSpec,
    state: &TreeState,
    runtime: &Runtime,
    parent: Recipient<GroupGaveUp>,
) -> Result<Addr<GroupActor>, String> {
    check(tree, state)?;
    let token = runtime.board.register();
    runtime.board.set_root(token);
    Ok(build_group(
        &tree.root,
        None,
        parent,
        runtime,
        token,
        Some(&state.root),
    ))
}

/// Whether `state` describes the tree of `tree` (same ids and kinds, in start order): what
/// [`restore`] needs; else the first difference.
pub fn check(tree: &TreeSpec, state: &TreeState) -> Result<(), String> {
    matches(&tree.root, &state.root)
}

/// Whether `state` has the children of `spec`, in start order, of the same kinds.
fn matches(spec: &GroupSpec, state: &GroupState) -> Result<(), String> {
    let children = start_order(&spec.children);
    if children.len() != state.children.len() {
        return Err(format!(
            "group {:?} has {} children in the registry, {} in the hand-over",
            spec.id,
            children.len(),
            state.children.len()
        ));
    }
    for (child, handed) in children.into_iter().zip(&state.children) {
        match (child, &handed.actor) {
            (ChildSpec::Component(c), ActorState::Component(h)) if c.id == h.id => {}
            (ChildSpec::Group(g), ActorState::Group(h)) if g.id == h.id => matches(g, h)?,
            _ => {
                return Err(format!(
                    "{:?} in the registry is {:?} in the hand-over",
                    child.id(),
                    handed.id
                ));
            }
        }
    }
    Ok(())
}
