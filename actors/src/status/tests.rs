//! The board's walk (order, what the groups above say) and the "ready" table.

use super::*;

fn component(id: &str, state: &'static str) -> Published {
    Published {
        id: id.into(),
        group: String::new(),
        description: String::new(),
        state,
        pid: None,
        since: None,
        restarts: 0,
        last_exit: None,
        last_exit_requested: false,
        reason: None,
        last_error: None,
        done: false,
        tail: OutputTail::default(),
        sockets: Vec::new(),
    }
}

fn child(token: Token, wanted: bool, held: bool) -> ChildEntry {
    ChildEntry {
        token,
        wanted,
        held,
    }
}

/// A root with `a` and a nested group holding `b`, each published as given.
fn board(a: Published, b: Published, b_entry: ChildEntry, inner_entry: ChildEntry) -> StatusBoard {
    let board = StatusBoard::new();
    let (root, inner, ta, tb) = (
        board.register(),
        board.register(),
        board.register(),
        board.register(),
    );
    board.set_root(root);
    board.publish_component(ta, a);
    board.publish_component(tb, b);
    board.publish_group(
        root,
        GroupEntry {
            children: vec![
                child(ta, true, false),
                ChildEntry {
                    token: inner,
                    ..inner_entry
                },
            ],
            ..GroupEntry::default()
        },
    );
    board.publish_group(
        inner,
        GroupEntry {
            path: "inner".into(),
            children: vec![ChildEntry {
                token: tb,
                ..b_entry
            }],
            ..GroupEntry::default()
        },
    );
    board
}

#[test]
fn components_come_in_the_groups_order_and_groups_depth_first() {
    let report = board(
        component("a", "running"),
        component("b", "running"),
        child(0, true, false),
        child(0, true, false),
    )
    .report();
    let ids: Vec<&str> = report.components.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["a", "b"]);
    let groups: Vec<&str> = report.groups.iter().map(|g| g.path.as_str()).collect();
    assert_eq!(groups, ["", "inner"]);
    assert!(report.not_ready().is_empty(), "{report:?}");
}

#[test]
fn ready_is_running_or_done_for_what_is_wanted() {
    let failing = Published {
        reason: Some("execve: No such file or directory".into()),
        last_error: Some(("execve: No such file or directory".into(), false)),
        ..component("b", "backoff")
    };
    let cases: [(Published, ChildEntry, ChildEntry, Option<&str>); 8] = [
        (
            component("b", "running"),
            child(0, true, false),
            child(0, true, false),
            None,
        ),
        (
            component("b", "starting"),
            child(0, true, false),
            child(0, true, false),
            Some("starting"),
        ),
        (
            failing.clone(),
            child(0, true, false),
            child(0, true, false),
            Some("backoff: execve: No such file or directory"),
        ),
        // Held by the operator, itself or through its group: does not count.
        (
            failing.clone(),
            child(0, true, true),
            child(0, true, false),
            None,
        ),
        (
            component("b", "stopped"),
            child(0, true, false),
            child(0, true, true),
            None,
        ),
        // Not wanted (autostart="false", never started): does not count.
        (
            component("b", "stopped"),
            child(0, false, false),
            child(0, true, false),
            None,
        ),
        // Settled after a normal exit: done; after an abnormal one: not ready.
        (
            Published {
                done: true,
                ..component("b", "exited")
            },
            child(0, false, false),
            child(0, true, false),
            None,
        ),
        (
            component("b", "exited"),
            child(0, false, false),
            child(0, true, false),
            Some("exited"),
        ),
    ];
    for (b, b_entry, inner_entry, expected) in cases {
        let report = board(component("a", "running"), b, b_entry, inner_entry).report();
        let not_ready = report.not_ready();
        let expected: Vec<(String, String)> = expected
            .map(|why| ("b".to_string(), why.to_string()))
            .into_iter()
            .collect();
        assert_eq!(not_ready, expected, "{report:?}");
    }
}

#[test]
fn reasons_carry_the_last_output_and_the_operators_stop() {
    let tail = OutputTail::default();
    tail.extend(&["starting up", "FATAL: license key missing\n"]);
    let exited = Published {
        reason: Some("exited with code 1".into()),
        last_error: Some(("exited with code 1".into(), true)),
        tail,
        ..component("b", "exited")
    };
    let report = board(
        component("a", "running"),
        exited,
        child(0, true, false),
        child(0, true, false),
    )
    .report();
    assert_eq!(
        report.components[1].reason.as_deref(),
        Some("exited with code 1: starting up | FATAL: license key missing")
    );
    let held = board(
        component("a", "running"),
        Published {
            last_exit_requested: true,
            ..component("b", "stopped")
        },
        child(0, true, true),
        child(0, true, false),
    )
    .report();
    assert_eq!(
        held.components[1].reason.as_deref(),
        Some("stopped by the operator")
    );
    let stopped = board(
        component("a", "running"),
        Published {
            last_exit_requested: true,
            ..component("b", "stopped")
        },
        child(0, false, false),
        child(0, true, false),
    )
    .report();
    assert_eq!(
        stopped.components[1].reason.as_deref(),
        Some("stopped on request")
    );
}

#[test]
fn a_tail_keeps_the_last_lines_only() {
    let tail = OutputTail::default();
    tail.extend(&["1", "2"]);
    tail.extend(&["", "3", "4"]);
    assert_eq!(tail.lines(), ["2", "3", "4"]);
    tail.clear();
    assert!(tail.lines().is_empty());
}
