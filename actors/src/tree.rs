//! Builds the actors of a tree from its spec: one group actor per group (the root included),
//! one component actor per component, each child knowing its group and its place in it.

use actix::{Actor, Addr, AsyncContext, Recipient};

use crate::component::ComponentActor;
use crate::group::{ChildActor, ChildSlot, GroupActor};
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
    build_group(&tree.root, None, parent, runtime, token)
}

/// `parent_path` is `None` for the root, whose children report the group `""`.
fn build_group(
    spec: &GroupSpec,
    parent_path: Option<&str>,
    parent: Recipient<ChildExited>,
    runtime: &Runtime,
    token: Token,
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
            .map(|child| slot(child, &path, me.clone(), runtime))
            .collect();
        GroupActor::new(spec, path.clone(), parent, children, runtime.clone(), token)
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
    let token = runtime.board.register();
    let actor = match child {
        ChildSpec::Component(spec) => {
            let (spec, path) = ((**spec).clone(), path.to_string());
            let component = ComponentActor::new(spec, path, me, runtime.clone(), token);
            ChildActor::Component(component.start())
        }
        ChildSpec::Group(spec) => {
            ChildActor::Group(build_group(spec, Some(path), me, runtime, token))
        }
    };
    ChildSlot {
        spec: child.clone(),
        actor,
        token,
    }
}
