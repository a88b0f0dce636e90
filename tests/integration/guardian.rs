//! The tree dies with the daemon, whatever the daemon dies of (issue 12, SPEC section 3): a
//! SIGKILLed daemon leaves no process of its tree — components, double-forked grandchildren,
//! `setsid` escapers — after one second, through the guardian; with cgroup2 (`cgroup.kill`) and
//! without it (the children's PID namespace); a killed guardian is replaced; a non-root
//! component cannot kill it; and with process groups alone (a non-root daemon without cgroups)
//! the groups go and only a `setsid` escaper is out of reach, as the README says.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde_json::Value;
use testkit::*;

/// A component whose tree holds every kind of descendant: its main process (`sleep 3000`), a
/// child in its group (`sleep 3003`), a double-forked orphan in its group (`sleep 3002`,
/// re-parented to the daemon) and a double-forked `setsid` escaper (`sleep 3001`).
const FAMILY: &str = r#"<server id="family"><executable>/bin/sh</executable><arguments><argument>-c</argument><argument>(setsid sleep 3001 &amp;) ; (sleep 3002 &amp;) ; sleep 3003 &amp; exec sleep 3000</argument></arguments><restart>temporary</restart></server>"#;

/// The sleeps of [`FAMILY`].
const SLEEPS: [&str; 4] = ["3000", "3001", "3002", "3003"];

/// `root` and every process below it, zombies left out.
fn live_descendants(root: u32) -> Vec<ProcStat> {
    let mut found = descendants(root);
    found.retain(|p| p.state != 'Z');
    found
}

/// The `sleep N` of [`FAMILY`] below `root`, by its argument.
fn sleep_below(root: u32, argument: &str) -> Option<u32> {
    live_descendants(root)
        .into_iter()
        .find(|p| proc_args(p.pid) == ["sleep", argument])
        .map(|p| p.pid)
}

/// SIGKILLs whatever of `pids` still runs when dropped: a failing test leaves nothing behind.
pub(crate) struct Sweep(pub(crate) Vec<u32>);

impl Drop for Sweep {
    fn drop(&mut self) {
        for &pid in &self.0 {
            if alive(pid) {
                kill(pid, Signal::SIGKILL);
            }
        }
    }
}

/// Waits until the daemon's whole tree runs: the guardian (reaching `reach`) and the four
/// sleeps of [`FAMILY`]; returns every process of the tree but the daemon, guardian included.
fn whole_tree(daemon: &mut Daemon, reach: &str) -> (Vec<u32>, Value) {
    let guardian = daemon.wait_any("guardian_started");
    assert_eq!(guardian["reach"], reach, "{guardian}");
    daemon.started_pid("family");
    let root = daemon.pid();
    eventually("every sleep of the family runs", || {
        SLEEPS.iter().all(|n| sleep_below(root, n).is_some())
    });
    let tree: Vec<u32> = live_descendants(root)
        .iter()
        .map(|p| p.pid)
        .filter(|&pid| pid != root)
        .collect();
    assert!(
        tree.contains(&pid_of(&guardian)),
        "the guardian is in the tree"
    );
    (tree, guardian)
}

/// SIGKILLs the daemon and checks that none of `tree` is left one second later.
fn sigkill_leaves_nothing(mut daemon: Daemon, tree: &[u32]) {
    kill(daemon.pid(), Signal::SIGKILL);
    let killed_at = Instant::now();
    eventually_within(
        "no process of the tree is left",
        Duration::from_secs(1),
        || tree.iter().all(|&pid| !alive(pid)),
    );
    let took = killed_at.elapsed();
    assert_eq!(daemon.wait_exit(), None, "the daemon died by a signal");
    println!("crash: the tree of a SIGKILLed daemon was gone after {took:?}");
}

/// With cgroup2: the guardian's `cgroup.kill` ends the whole tree, escapers included, and
/// removes the daemon's cgroups.
fn a_sigkilled_daemon_leaves_no_process_of_its_tree_with_cgroup2() {
    if testkit::skip::writable_cgroup2().is_none() {
        skip!("no writable cgroup2 hierarchy");
    }
    let mut daemon = Daemon::start(&registry("", FAMILY));
    let (tree, guardian) = whole_tree(&mut daemon, "cgroup");
    let _sweep = Sweep(tree.clone());
    let cgroup = proc_args(pid_of(&guardian))
        .pop()
        .expect("the cgroup argument");
    assert!(std::path::Path::new(&cgroup).is_dir(), "{cgroup}");
    sigkill_leaves_nothing(daemon, &tree);
    eventually("the daemon's cgroups are removed", || {
        !std::path::Path::new(&cgroup).exists()
    });
}

/// Without cgroup2 (hidden under a tmpfs in a mount namespace of the daemon's own): the
/// children are born into a PID namespace whose init is the guardian; its exit ends them all.
fn a_sigkilled_daemon_leaves_no_process_of_its_tree_without_cgroup2() {
    let Some(mount) = testkit::skip::writable_cgroup2() else {
        skip!("needs root and a cgroup2 mount to hide");
    };
    testkit::skip::require_tool("unshare");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut daemon = start_without_cgroup2(dir, &registry("", FAMILY), &mount);
    let (tree, _) = whole_tree(&mut daemon, "namespace");
    let _sweep = Sweep(tree.clone());
    sigkill_leaves_nothing(daemon, &tree);
}

/// A daemon on `xml` in `dir` with the cgroup2 hierarchy at `mount` hidden under a tmpfs in a
/// mount namespace of its own: its guardian reaches by PID namespace.
pub(crate) fn start_without_cgroup2(dir: tempfile::TempDir, xml: &str, mount: &str) -> Daemon {
    let registry_path = dir.path().join("SupervisorRegistry.xml");
    std::fs::write(&registry_path, xml).unwrap();
    let hide = r#"mount -t tmpfs none "$0" && exec "$@""#;
    let wrapper = [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        hide,
        mount,
    ];
    Daemon::start_wrapped(dir, registry_path, &wrapper)
}

/// A guardian killed (by root) is replaced at once, and the new one does the job.
fn a_killed_guardian_is_replaced() {
    testkit::skip::require_root("to kill the guardian");
    let mut daemon = Daemon::start(&registry("", FAMILY));
    let reach = if testkit::skip::writable_cgroup2().is_some() {
        "cgroup"
    } else {
        "namespace"
    };
    let (_, first) = whole_tree(&mut daemon, reach);
    kill(pid_of(&first), Signal::SIGKILL);
    let exited = daemon.wait_any("guardian_exited");
    assert_eq!(exited["signal"], libc::SIGKILL, "{exited}");
    let second = daemon.wait_any("guardian_started");
    assert_ne!(pid_of(&second), pid_of(&first));
    let tree: Vec<u32> = live_descendants(daemon.pid())
        .iter()
        .map(|p| p.pid)
        .filter(|&pid| pid != daemon.pid())
        .collect();
    assert!(tree.contains(&pid_of(&second)));
    let _sweep = Sweep(tree.clone());
    sigkill_leaves_nothing(daemon, &tree);
}

/// A component running as another user cannot kill the guardian: `kill -9 -1` as `games` (a
/// user no other test runs as), again and again, kills what that user may kill — the other
/// component running as `games`: the positive control — and never the guardian.
fn a_non_root_component_cannot_kill_the_guardian() {
    testkit::skip::require_root("to run components as games");
    let as_games = |id: &str, script: &str| {
        format!(
            "<server id=\"{id}\"><executable>/bin/sh</executable><arguments><argument>-c</argument><argument>{script}</argument></arguments><user>games</user><restart>temporary</restart></server>"
        )
    };
    let servers = [
        as_games("victim", "exec sleep 1000"),
        as_games("killer", "while :; do kill -9 -1; sleep 0.1; done"),
    ]
    .concat();
    let mut daemon = Daemon::start(&registry("", &servers));
    let guardian = pid_of(&daemon.wait_any("guardian_started"));
    let exited = daemon.wait_event("component_exited", "victim");
    assert_eq!(exited["signal"], libc::SIGKILL, "kill -1 acted: {exited}");
    assert!(alive(guardian), "the guardian is untouched");
    assert_eq!(daemon.count("guardian_exited"), 0);
    assert_eq!(daemon.stop(), Some(0));
    eventually("the guardian leaves with the daemon", || !alive(guardian));
}

/// Process groups alone (a daemon as `nobody`: no cgroup to write, no namespace to make): the
/// component's group goes with the daemon — its main process, its child and the double-forked
/// orphan — and the `setsid` escaper is out of reach, as the README says.
fn with_process_groups_alone_the_groups_go_and_a_setsid_escaper_stays() {
    testkit::skip::require_root("to run the daemon as nobody");
    let setpriv = testkit::skip::require_tool("setpriv");
    let dir = tempfile::tempdir().expect("tempdir");
    nix::unistd::chown(dir.path(), Some(65534.into()), Some(65534.into())).expect("chown");
    let registry_path = dir.path().join("SupervisorRegistry.xml");
    std::fs::write(&registry_path, registry("", FAMILY)).unwrap();
    let wrapper = [
        setpriv.to_str().unwrap(),
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
    ];
    let mut daemon = Daemon::start_wrapped(dir, registry_path, &wrapper);
    let (tree, _) = whole_tree(&mut daemon, "groups");
    let _sweep = Sweep(tree.clone());
    let escaper = sleep_below(daemon.pid(), "3001").expect("the escaper");
    let in_groups: Vec<u32> = tree.iter().copied().filter(|&p| p != escaper).collect();
    kill(daemon.pid(), Signal::SIGKILL);
    eventually_within(
        "every process in the component's group is gone",
        Duration::from_secs(1),
        || in_groups.iter().all(|&pid| !alive(pid)),
    );
    assert!(
        alive(escaper),
        "the setsid escaper is out of reach of process groups"
    );
}

/// The tests of this module, in file order, for the harness of main.rs.
pub const TESTS: &[testkit::harness::Test] = testkit::tests![
    a_sigkilled_daemon_leaves_no_process_of_its_tree_with_cgroup2,
    a_sigkilled_daemon_leaves_no_process_of_its_tree_without_cgroup2,
    a_killed_guardian_is_replaced,
    a_non_root_component_cannot_kill_the_guardian,
    with_process_groups_alone_the_groups_go_and_a_setsid_escaper_stays,
];
