//! Components a reload moves to another group. Each group applies its own part of a reload, so
//! the new place would start the component while the old place still stops it: two processes
//! of one component at once (a fixed port collides). The daemon applies such a reload in two
//! steps: first the new tree without what moved (the old places stop them), then, once their
//! processes are gone, the whole new tree (the new places start them).

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use tokio::sync::oneshot;

use actors::group::ReloadReport;
use actors::ids::IdIndex;
use actors::spec::{ChildSpec, ComponentSpec, GroupSpec};
use actors::status::Token;

/// The ids of the components whose group path differs between `old` and `new`.
pub fn moved(old: &GroupSpec, new: &GroupSpec) -> Vec<String> {
    let (before, after) = (paths(old), paths(new));
    let mut moved: Vec<String> = (after.iter())
        .filter(|(id, path)| before.get(*id).is_some_and(|was| was != *path))
        .map(|(id, _)| id.to_string())
        .collect();
    moved.sort();
    moved
}

/// The ids of the components `new` has and `old` has not.
pub fn added(old: &GroupSpec, new: &GroupSpec) -> Vec<String> {
    let before = paths(old);
    (new.components().into_iter())
        .filter(|c| !before.contains_key(c.id.as_str()))
        .map(|c| c.id.clone())
        .collect()
}

/// `tree` less the components `ids` names (their groups stay, perhaps empty).
pub fn without(tree: &GroupSpec, ids: &[String]) -> GroupSpec {
    let children = (tree.children.iter())
        .filter_map(|child| match child {
            ChildSpec::Component(c) if ids.contains(&c.id) => None,
            ChildSpec::Component(_) => Some(child.clone()),
            ChildSpec::Group(group) => Some(ChildSpec::Group(Box::new(without(group, ids)))),
        })
        .collect();
    GroupSpec {
        children,
        ..tree.clone()
    }
}

/// The report of a reload applied in two steps: what each changed (what moved is removed by
/// the first, added by the second), and what the first left untouched.
pub fn merged(first: ReloadReport, second: ReloadReport) -> ReloadReport {
    let joined = |a: Vec<String>, b: Vec<String>| [a, b].concat();
    ReloadReport {
        added: joined(first.added, second.added),
        removed: joined(first.removed, second.removed),
        changed: joined(first.changed, second.changed),
        updated: joined(first.updated, second.updated),
        unchanged: first.unchanged,
    }
}

/// How long the old places may take to stop `ids`: 5 s more than the stop timeouts of what
/// stops with them. That is each one alone in a group the reload keeps, and the whole
/// group otherwise (a group removed or renamed stops all its components in order, level by
/// level, so their timeouts add up).
pub fn stop_bound(old: &GroupSpec, new: &GroupSpec, ids: &[String]) -> Duration {
    let kept = group_ids(new);
    let mut stopping: Vec<&ComponentSpec> = Vec::new();
    for id in ids {
        let Some((component, groups)) = place(old, id) else {
            // Added back while its removal is still under way: its stop timeout as it is now.
            stopping.extend(place(new, id).map(|(component, _)| component));
            continue;
        };
        // The outermost group around it that the new tree no longer has.
        match groups
            .into_iter()
            .find(|group| !kept.contains(&group.id.as_str()))
        {
            Some(removed) => stopping.extend(removed.components()),
            None => stopping.push(component),
        }
    }
    stopping.sort_by(|a, b| a.id.cmp(&b.id));
    stopping.dedup_by(|a, b| a.id == b.id);
    let timeouts: Duration = stopping.iter().map(|c| c.stop_timeout).sum();
    timeouts + Duration::from_secs(5)
}

/// Component `id` of `tree` and the groups around it, outermost first (the root left out).
fn place<'a>(tree: &'a GroupSpec, id: &str) -> Option<(&'a ComponentSpec, Vec<&'a GroupSpec>)> {
    for child in &tree.children {
        match child {
            ChildSpec::Component(c) if c.id == id => return Some((c, Vec::new())),
            ChildSpec::Component(_) => {}
            ChildSpec::Group(group) => {
                if let Some((c, mut groups)) = place(group, id) {
                    groups.insert(0, group);
                    return Some((c, groups));
                }
            }
        }
    }
    None
}

/// The ids of every group of `tree` (the root's, `""`, too).
fn group_ids(tree: &GroupSpec) -> Vec<&str> {
    let nested = tree.children.iter().flat_map(|child| match child {
        ChildSpec::Group(group) => group_ids(group),
        ChildSpec::Component(_) => Vec::new(),
    });
    std::iter::once(tree.id.as_str()).chain(nested).collect()
}

/// The actors `ids` name in the tree's `index` now (those it has), for [`until_gone`].
pub fn actors_of(index: &IdIndex, ids: &[String]) -> Vec<(String, Token)> {
    (ids.iter())
        .filter_map(|id| Some((id.clone(), index.token(id)?)))
        .collect()
}

/// Waits (at most `bound`) until none of the `actors` (ids with their actors, taken before the
/// first step) is left in the tree's `index`: in the first step only their old places have
/// them, and an actor leaves the index once its process is gone and its group has dropped it.
/// The same id given to a new actor meanwhile (a later reload's second step) does not count.
pub async fn until_gone(index: &IdIndex, actors: &[(String, Token)], bound: Duration) {
    let left = |index: &IdIndex| (actors.iter()).any(|(id, token)| index.token(id) == Some(*token));
    index.until(bound, |index| !left(index)).await;
}

/// Waits (at most `bound`) until every actor `ids` names is in the tree's `index`: in the
/// second step a nested group adds its part when it handles the message its parent passed on,
/// after the root has answered.
pub async fn until_present(index: &IdIndex, ids: &[String], bound: Duration) {
    index
        .until(bound, |index| ids.iter().all(|id| index.contains(id)))
        .await;
}

/// How long a second step may take to reach the nested groups.
pub const ARRIVAL_BOUND: Duration = Duration::from_secs(5);

/// The components a reload is moving while their old places still stop them, until the reload
/// that applies last has made its second step. A later reload moves them too (it must not
/// start one in its new place while its old place still stops it), and an operator's command
/// on one waits for the move's end, then goes to its new place (before, only the old place,
/// which is dropping it, has it). The commands that waited go on one after the other, in the
/// order they came: a `stop` then a `start` ends started.
#[derive(Default)]
pub struct Moving {
    ids: Vec<String>,
    waiters: VecDeque<oneshot::Sender<()>>,
    /// A waiting command has been let go and has not yet let the next one go.
    turn_out: bool,
}

impl Moving {
    /// `moved` (of a reload about to apply), with what earlier reloads are still moving.
    pub fn begin(&mut self, moved: Vec<String>) -> Vec<String> {
        for id in moved {
            if !self.ids.contains(&id) {
                self.ids.push(id);
            }
        }
        self.ids.sort();
        self.ids.clone()
    }

    /// Whether any of `ids` is being moved.
    pub fn any(&self, ids: &[String]) -> bool {
        ids.iter().any(|id| self.ids.contains(id))
    }

    /// Whether a command on `ids` must wait its turn: one of them is being moved, or commands
    /// that waited for a move have not all gone yet (a new one must not overtake them).
    pub fn holds(&self, ids: &[String]) -> bool {
        self.any(ids) || !self.waiters.is_empty() || self.turn_out
    }

    /// Answered when the caller's turn comes, once the move is over (or abandoned: a
    /// shutdown); the caller then lets the next one go with [`Moving::next`].
    pub fn wait(&mut self) -> oneshot::Receiver<()> {
        let (waiter, turn) = oneshot::channel();
        self.waiters.push_back(waiter);
        turn
    }

    /// The move is over: every moved component is in its new place, or the tree stops. The
    /// first command waiting goes on.
    pub fn end(&mut self) {
        self.ids.clear();
        self.next();
    }

    /// The next command waiting goes on (none while a move is under way: they wait for its
    /// end).
    pub fn next(&mut self) {
        self.turn_out = false;
        if !self.ids.is_empty() {
            return;
        }
        // A waiter whose future is gone (the daemon is ending) passes its turn on.
        while let Some(waiter) = self.waiters.pop_front() {
            if waiter.send(()).is_ok() {
                self.turn_out = true;
                return;
            }
        }
    }
}

/// Each component's id → the path of the groups it is in.
fn paths(tree: &GroupSpec) -> HashMap<&str, String> {
    fn walk<'a>(group: &'a GroupSpec, path: &str, found: &mut HashMap<&'a str, String>) {
        for child in &group.children {
            match child {
                ChildSpec::Component(c) => {
                    found.insert(&c.id, path.to_string());
                }
                ChildSpec::Group(nested) => walk(nested, &format!("{path}/{}", nested.id), found),
            }
        }
    }
    let mut found = HashMap::new();
    walk(tree, "", &mut found);
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::time::Instant;

    fn tree(xml: &str) -> GroupSpec {
        let text = format!("<supervisor><servers>{xml}</servers></supervisor>");
        let registry = crate::registry::parse(Path::new("r.xml"), &text).expect("a registry");
        registry.tree.root
    }

    fn server(id: &str) -> String {
        format!("<server id='{id}'><executable>/bin/true</executable></server>")
    }

    #[test]
    fn a_component_in_another_group_has_moved_and_is_left_out_of_the_first_step() {
        let (a, b, c) = (server("a"), server("b"), server("c"));
        let old = tree(&format!("{a}<group id='g'>{b}{c}</group>"));
        let new = tree(&format!("{a}{b}<group id='g'>{c}</group>"));
        assert_eq!(moved(&old, &new), ["b"]);
        let first = without(&new, &moved(&old, &new));
        let ids: Vec<&str> = first.components().iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["a", "c"]);
        // The control: nothing moved, nothing left out.
        assert!(moved(&old, &old).is_empty());
    }

    /// The first step's bound covers what stops with a moved component: itself alone in a group
    /// the reload keeps; the whole group, its timeouts added up, in one it removes or renames (its
    /// stop goes level by level); and one added back while its removal still stops it.
    #[test]
    fn the_bound_covers_what_stops_with_what_moved() {
        let timed = |id: &str, seconds: u32| {
            format!(
                "<server id='{id}'><executable>/bin/true</executable>\
                 <stopTimeout>{seconds}</stopTimeout></server>"
            )
        };
        let (x, y, z) = (timed("x", 1), timed("y", 20), timed("z", 3));
        let old = tree(&format!("{z}<group id='g1'>{x}{y}</group>"));
        let secs = |seconds| Duration::from_secs(seconds);
        let renamed = tree(&format!("{z}<group id='g2'>{x}</group>"));
        assert_eq!(stop_bound(&old, &renamed, &["x".into()]), secs(1 + 20 + 5));
        let kept = tree(&format!("{z}{x}<group id='g1'>{y}</group>"));
        assert_eq!(stop_bound(&old, &kept, &["x".into()]), secs(1 + 5));
        let back = tree(&format!("{z}{x}{y}{}", timed("w", 7)));
        assert_eq!(added(&old, &back), ["w"]);
        assert_eq!(stop_bound(&old, &back, &["w".into()]), secs(7 + 5));
    }

    /// An owner for index entries.
    struct Nobody;

    impl actix::Actor for Nobody {
        type Context = actix::Context<Self>;
    }

    impl actix::Handler<actors::messages::Operate> for Nobody {
        type Result = Result<(), actors::messages::OperateError>;

        fn handle(&mut self, _: actors::messages::Operate, _: &mut Self::Context) -> Self::Result {
            Ok(())
        }
    }

    /// The first step's wait ends once the old actor has left, even when a later reload's
    /// second step has given its id to a new actor before the wait looked again (it waited out
    /// the whole bound, and its reload's report with it); while the old one stays, it waits.
    #[actix_rt::test]
    async fn the_first_step_waits_for_the_old_actor_not_for_its_id() {
        use actix::Actor;
        let owner = Nobody.start().recipient();
        let index = IdIndex::default();
        index.insert("s2", owner.clone(), 1);
        let leaving = actors_of(&index, &["s2".to_string(), "gone".to_string()]);
        assert_eq!(leaving, [("s2".to_string(), 1)]);
        let short = Duration::from_millis(50);
        let started = Instant::now();
        until_gone(&index, &leaving, short).await;
        assert!(started.elapsed() >= short, "the old actor is still there");
        index.remove("s2", 1);
        index.insert("s2", owner, 2);
        let started = Instant::now();
        until_gone(&index, &leaving, Duration::from_secs(10)).await;
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "a new actor is not the old one"
        );
    }

    #[test]
    fn a_later_reload_moves_what_an_earlier_one_still_moves_and_waiters_go_in_turn() {
        let mut moving = Moving::default();
        assert!(!moving.any(&["b".to_string()]));
        assert_eq!(moving.begin(vec!["b".into()]), ["b"]);
        // A later reload that moves nothing itself still moves `b`; one that moves `a` too.
        assert_eq!(moving.begin(Vec::new()), ["b"]);
        assert_eq!(moving.begin(vec!["a".into(), "b".into()]), ["a", "b"]);
        assert!(moving.any(&["x".to_string(), "b".to_string()]));
        let (mut first, gone, mut third) = (moving.wait(), moving.wait(), moving.wait());
        moving.next();
        assert!(first.try_recv().is_err(), "not over yet");
        moving.end();
        assert!(first.try_recv().is_ok());
        assert!(!moving.any(&["a".to_string(), "b".to_string()]));
        assert!(third.try_recv().is_err(), "one after the other");
        // The second's client hung up: its turn passes to the third.
        drop(gone);
        moving.next();
        assert!(third.try_recv().is_ok());
    }
}
