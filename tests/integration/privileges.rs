//! The privilege drop in the order that keeps it honest (issue 12, items 5 and 6): a daemon that
//! is not root runs a component whose `<user>` is its own user (`setgroups` is left out when it
//! would change nothing, since it needs CAP_SETGID even then), and a component enters its
//! working directory with its own rights, after the drop, never with root's.

use std::os::unix::fs::PermissionsExt;

use testkit::*;

/// A non-root daemon (`nobody`, with nobody's groups) starts a component whose `<user>` is
/// `nobody`; the same daemon still cannot start one as another user (the positive control: the
/// drop is attempted, not skipped).
fn a_non_root_daemon_runs_a_component_as_its_own_user() {
    testkit::skip::require_root("to run the daemon as nobody");
    let setpriv = testkit::skip::require_tool("setpriv");
    let dir = tempfile::tempdir().expect("tempdir");
    nix::unistd::chown(dir.path(), Some(65534.into()), Some(65534.into())).expect("chown");
    let servers = [
        standin_server("own", &[], "<user>nobody</user>"),
        standin_server(
            "other",
            &[],
            "<user>games</user><restart>temporary</restart>",
        ),
    ]
    .concat();
    let registry_path = dir.path().join("SupervisorRegistry.xml");
    std::fs::write(&registry_path, registry("", &servers)).unwrap();
    let wrapper = [
        setpriv.to_str().unwrap(),
        "--reuid=nobody",
        "--regid=nogroup",
        "--init-groups",
    ];
    let mut daemon = Daemon::start_wrapped(dir, registry_path, &wrapper);
    let own = daemon.started_pid("own");
    let status = std::fs::read_to_string(format!("/proc/{own}/status")).expect("status");
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("65534")),
        "{status}"
    );
    let refused = daemon.wait_event("component_spawn_failed", "other");
    assert!(
        refused["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("setuid:")),
        "{refused}"
    );
    assert_eq!(daemon.stop(), Some(0));
}

/// A `user="nobody"` component cannot start in a directory only root may enter (`chdir:`, as
/// nobody would fail); one nobody may enter works (the positive control).
fn a_component_enters_its_directory_with_its_own_rights() {
    testkit::skip::require_root("to drop to another user");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let closed = dir.path().join("closed");
    let open = dir.path().join("open");
    for (path, mode) in [(&closed, 0o700), (&open, 0o755)] {
        std::fs::create_dir(path).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let server = |id: &str, directory: &std::path::Path| {
        let settings = format!(
            "<workingDirectory>{}</workingDirectory><user>nobody</user><restart>temporary</restart>",
            xml_escape(directory.to_str().unwrap())
        );
        standin_server(id, &[], &settings)
    };
    let servers = [server("closed", &closed), server("open", &open)].concat();
    let mut daemon = Daemon::start_in(dir, &registry("", &servers));
    let failed = daemon.wait_event("component_spawn_failed", "closed");
    assert!(
        failed["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("chdir:")),
        "{failed}"
    );
    let pid = daemon.started_pid("open");
    let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).expect("cwd");
    assert_eq!(cwd, open);
    assert_eq!(daemon.stop(), Some(0));
}

/// A `<user>` this host does not have is the environment's problem, as SPEC has it: `check`
/// names it at its line and exits 1 (valid, but the environment has problems), and `run`
/// starts the rest while each start of that component fails, saying why.
fn an_unknown_user_is_an_environment_problem() {
    let servers = [
        standin_server("nobodys", &[], "<user>no-such-user-q8z</user>"),
        idle("b"),
    ]
    .concat();
    let mut daemon = Daemon::start(&registry(FAST, &servers));
    let check = daemon.cli(&["check"], DEADLINE);
    assert_eq!(check.status.code(), Some(1), "{check:?}");
    let said = String::from_utf8_lossy(&check.stderr);
    assert!(
        said.contains("`nobodys`: `<user>`: unknown user `no-such-user-q8z`"),
        "{said}"
    );
    let json = daemon.cli(&["check", "--json"], DEADLINE);
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).expect("check --json");
    let nobodys = &json["components"][0];
    let user = nobodys.get("user");
    assert_eq!(user, Some(&serde_json::Value::Null), "{nobodys}");
    assert_eq!(
        nobodys["unknown_user"], "unknown user `no-such-user-q8z`",
        "{nobodys}"
    );
    daemon.started_pid("b");
    let failed = daemon.wait_event("component_spawn_failed", "nobodys");
    assert_eq!(
        failed["error"], "setuid: unknown user `no-such-user-q8z`",
        "{failed}"
    );
    // It is retried, as any failed start.
    daemon.wait_event("component_spawn_failed", "nobodys");
    let row = daemon.status_row("nobodys");
    assert!(
        row["reason"]
            .as_str()
            .is_some_and(|r| r.contains("unknown user")),
        "{row}"
    );
    assert_eq!(daemon.stop(), Some(0));
}

/// The tests of this module, in file order, for the harness of main.rs.
pub const TESTS: &[testkit::harness::Test] = testkit::tests![
    a_non_root_daemon_runs_a_component_as_its_own_user,
    a_component_enters_its_directory_with_its_own_rights,
    an_unknown_user_is_an_environment_problem,
];
