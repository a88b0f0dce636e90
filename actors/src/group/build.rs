//! How a group comes to be: its actor and, in start order, one child actor per child (a
//! component, or a nested group built the same way), each fresh or resuming the state a
//! predecessor daemon handed over.

use actix::{Actor, Addr, AsyncContext, Recipient};

use super::{ActorState, GroupState};
use super::{ChildActor, ChildSlot, GroupActor};
use crate::component::ComponentActor;
use crate::messages::GroupGaveUp;
use crate::runtime::Runtime;
use crate::spec::{ChildSpec, GroupSpec, start_order};
use crate::status::Token;

/// `parent_path` is `None` for the root, whose children report the group `""`.
pub(crate) fn build_group(
    spec: &GroupSpec,
    parent_path: Option<&str>,
    parent: Recipient<GroupGaveUp>,
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
        let me = ctx.address();
        let children = start_order(&spec.children)
            .into_iter()
            .enumerate()
            .map(|(index, child)| {
                let handed = state.map(|state| &state.children[index].actor);
                restored_slot(child, &path, &me, runtime, handed)
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

/// A new, stopped child actor for `child` and the slot its group keeps for it.
pub(crate) fn slot(
    child: &ChildSpec,
    path: &str,
    me: &Addr<GroupActor>,
    runtime: &Runtime,
) -> ChildSlot {
    restored_slot(child, path, me, runtime, None)
}

/// [`slot`], resuming the child's `handed` state when there is one (matched by
/// `tree::restore`).
fn restored_slot(
    child: &ChildSpec,
    path: &str,
    me: &Addr<GroupActor>,
    runtime: &Runtime,
    handed: Option<&ActorState>,
) -> ChildSlot {
    let token = runtime.board.register();
    runtime
        .ids
        .insert(child.id(), me.clone().recipient(), token);
    let actor = match (child, handed) {
        (ChildSpec::Component(spec), handed) => {
            let component = ComponentActor::create(|ctx| {
                let (spec, path) = (std::sync::Arc::clone(spec), path.to_string());
                let parent = me.clone().recipient();
                let mut component = ComponentActor::new(spec, path, parent, runtime.clone(), token);
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
            ChildActor::Group(build_group(
                spec,
                Some(path),
                me.clone().recipient(),
                runtime,
                token,
                state,
            ))
        }
    };
    ChildSlot {
        spec: child.clone(),
        actor,
        token,
    }
}
