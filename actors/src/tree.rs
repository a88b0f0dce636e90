//! Builds the actors of a tree from its spec: one group actor per group (the root included),
//! one component actor per component, each child knowing its group and its place in it.

use actix::{Actor, Addr, AsyncContext, Recipient};

use crate::component::ComponentActor;
use crate::group::{ChildSlot, GroupActor};
use crate::messages::{ChildExited, ChildLink};
use crate::process::ProcessTable;
use crate::spec::{Backoff, ChildSpec, GroupSpec, RestartType, TreeSpec};

/// Creates the whole tree, stopped; the root reports to `parent` when it gives up.
/// Send it [`crate::Start`] to start it and [`crate::Stop`] to stop it.
pub fn build(
    tree: &TreeSpec,
    table: &ProcessTable,
    parent: Recipient<ChildExited>,
) -> Addr<GroupActor> {
    build_group(&tree.root, None, parent, table)
}

/// `parent_path` is `None` for the root, whose children report the group `""`.
fn build_group(
    spec: &GroupSpec,
    parent_path: Option<&str>,
    parent: Recipient<ChildExited>,
    table: &ProcessTable,
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
            .map(|child| slot(child, &path, me.clone(), table))
            .collect();
        GroupActor::new(spec, path.clone(), parent, children)
    })
}

/// Children sorted by (`startPriority`, document order).
pub fn start_order(children: &[ChildSpec]) -> Vec<&ChildSpec> {
    let mut ordered: Vec<&ChildSpec> = children.iter().collect();
    ordered.sort_by_key(|child| child.start_priority());
    ordered
}

fn slot(
    child: &ChildSpec,
    path: &str,
    me: Recipient<ChildExited>,
    table: &ProcessTable,
) -> ChildSlot {
    match child {
        ChildSpec::Component(spec) => {
            let actor = ComponentActor::new((**spec).clone(), path.to_string(), me, table.clone());
            ChildSlot {
                id: spec.id.clone(),
                priority: spec.start_priority,
                restart: spec.restart,
                success_exit_codes: spec.success_exit_codes.clone(),
                backoff: spec.backoff,
                link: ChildLink::of(&actor.start()),
                wanted: spec.autostart,
                attempt: 0,
                operate: None,
            }
        }
        ChildSpec::Group(spec) => {
            let group = build_group(spec, Some(path), me, table);
            ChildSlot {
                id: spec.id.clone(),
                priority: spec.start_priority,
                restart: RestartType::Permanent,
                success_exit_codes: Vec::new(),
                backoff: Backoff::default(),
                link: ChildLink::of(&group),
                wanted: true,
                attempt: 0,
                operate: Some(group.recipient()),
            }
        }
    }
}
