//! Builds the actors of a tree from its spec: one group actor per group (the root included),
//! one component actor per component, each child knowing its group and its place in it.

use actix::{Actor, Addr, AsyncContext, Recipient};

use crate::component::ComponentActor;
use crate::group::{ChildActor, ChildSlot, GroupActor};
use crate::handover::{ActorState, GroupState, TreeState};
use crate::messages::ChildExited;
use crate::output::OutputService;
use crate::process::ProcessTable;
use crate::spec::{ChildSpec, GroupSpec, TreeSpec};
use crate::status::{StatusBoard, Token};

/// What every actor of a tree shares: the process table, the output service, the status board.
#[derive(Clone)]
pub struct Runtime {
    /// Spawns, reaps and signals.
    pub processes: ProcessTable,
    /// Reads and files components' output.
    pub output: OutputService,
    /// Where every actor publishes its state.
    pub board: StatusBoard,
}

/// Creates the whole tree, stopped, on the runtime's board; the root reports to `parent` when
/// it gives up. Send it [`crate::Start`] to start it and [`crate::Stop`] to stop it.
pub fn build(
    tree: &TreeSpec,
    runtime: &Runtime,
    parent: Recipient<ChildExited>,
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
    parent: Recipient<ChildExited>,
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
                ))
            }
        }
    }
    Ok(())
}

/// `parent_path` is `None` for the root, whose children report the group `""`.
fn build_group(
    spec: &GroupSpec,
    parent_path: Option<&str>,
    parent: Recipient<ChildExited>,
    runtime: &Runtime,
    token: Token,
    state: Option<&GroupState>,
) -> Addr<GroupActor> {
    let path = match parent_path {
        None => String::new(),
        Some("") => spec.id.clone(),
        Some(parent_path) => format!("{parent_path}/{}", spec.id),
    };
    GroupActor::create(|ctx| {
        let me: Recipient<ChildExited> = ctx.address().recipient();
        let children = start_order(&spec.children)
            .into_iter()
            .enumerate()
            .map(|(index, child)| {
                let handed = state.map(|state| &state.children[index].actor);
                restored_slot(child, &path, me.clone(), runtime, handed)
            })
            .collect();
        let mut group =
            GroupActor::new(spec, path.clone(), parent, children, runtime.clone(), token);
        if let Some(state) = state {
            group.resume(state, ctx);
        }
        group
    })
}

/// Children sorted by (`startPriority`, document order).
pub fn start_order(children: &[ChildSpec]) -> Vec<&ChildSpec> {
    let mut ordered: Vec<&ChildSpec> = children.iter().collect();
    ordered.sort_by_key(|child| child.start_priority());
    ordered
}

/// A new, stopped child actor for `child` and the slot its group keeps for it.
pub(crate) fn slot(
    child: &ChildSpec,
    path: &str,
    me: Recipient<ChildExited>,
    runtime: &Runtime,
) -> ChildSlot {
    restored_slot(child, path, me, runtime, None)
}

/// [`slot`], resuming the child's `handed` state when there is one (matched by [`restore`]).
fn restored_slot(
    child: &ChildSpec,
    path: &str,
    me: Recipient<ChildExited>,
    runtime: &Runtime,
    handed: Option<&ActorState>,
) -> ChildSlot {
    let token = runtime.board.register();
    let actor = match (child, handed) {
        (ChildSpec::Component(spec), handed) => {
            let component = ComponentActor::create(|ctx| {
                let (spec, path) = ((**spec).clone(), path.to_string());
                let mut component = ComponentActor::new(spec, path, me, runtime.clone(), token);
                if let Some(ActorState::Component(state)) = handed {
                    component.resume(state, ctx);
                }
                component
            });
            ChildActor::Component(component)
        }
        (ChildSpec::Group(spec), handed) => {
            let state = match handed {
                Some(ActorState::Group(state)) => Some(state),
                Some(ActorState::Component(_)) | None => None,
            };
            ChildActor::Group(build_group(spec, Some(path), me, runtime, token, state))
        }
    };
    ChildSlot {
        spec: child.clone(),
        actor,
        token,
    }
}
