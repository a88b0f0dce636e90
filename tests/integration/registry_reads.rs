//! How the daemon reads its registry, end to end on the real binary: only regular files (a FIFO
//! or a directory in its place is refused by name, at start-up and on reload, and the daemon
//! carries on), the root's default of never giving up, the `needs restart` and `updated` parts
//! of a reload's report, and `reason` in `status`.

use std::path::Path;
use std::process::Output;
use std::sync::mpsc;
use std::time::Duration;

use nix::sys::signal::Signal;
use testkit::*;

/// Longer than the daemon's 10 s read deadline, so an overdue read shows as its own error.
const CLI_DEADLINE: Duration = Duration::from_secs(30);

/// Runs the CLI on `registry` and `run_dir` to completion, failing the test past
/// [`CLI_DEADLINE`].
fn cli(registry: &Path, run_dir: &Path, args: &[&str]) -> Output {
    let mut command = cli_command(registry, run_dir, args);
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || sender.send(command.output().expect("run supervisor")));
    receiver
        .recv_timeout(CLI_DEADLINE)
        .unwrap_or_else(|_| panic!("`supervisor {}` did not finish", args.join(" ")))
}

/// The CLI against the harness's daemon: its registry and run directory.
fn ctl(daemon: &Daemon, args: &[&str]) -> Output {
    cli(&daemon.registry, &daemon.path().join("run"), args)
}

/// Asserts that the command exited with `code`; returns what it printed (stdout, stderr).
fn said(output: &Output, code: i32, what: &str) -> (String, String) {
    let out = String::from_utf8_lossy(&output.stdout).into_owned();
    let err = String::from_utf8_lossy(&output.stderr).into_owned();
    let got = output.status.code();
    assert_eq!(got, Some(code), "{what}\nstdout:\n{out}\nstderr:\n{err}");
    (out, err)
}

/// Puts a FIFO where the file at `path` was.
fn replace_with_fifo(path: &Path) {
    std::fs::remove_file(path).expect("remove the registry");
    nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
}

fn a_fifo_in_place_of_the_registry_is_refused_on_reload_and_the_daemon_carries_on() {
    let mut daemon = Daemon::start(&registry("", &[idle("a"), idle("b")].concat()));
    let pids = daemon.started_pids(&["a", "b"]);
    let path = daemon.registry.clone();
    replace_with_fifo(&path);
    let refusal = format!("{}:1:1: not a regular file (a FIFO)", path.display());

    let (_, err) = said(&ctl(&daemon, &["reload"]), 2, "reload of a FIFO");
    assert_eq!(err.trim(), format!("error: {refusal}"));
    let rejected = daemon.wait_any("config_rejected");
    assert_eq!(rejected["error"], refusal.as_str(), "{rejected}");
    // SIGHUP takes the same road.
    daemon.signal(Signal::SIGHUP);
    let rejected = daemon.wait_any("config_rejected");
    assert_eq!(rejected["error"], refusal.as_str(), "{rejected}");

    // The daemon still answers, and still reaps and restarts a killed component.
    let rows = daemon.status_rows();
    let ids: Vec<&str> = rows.iter().filter_map(|row| row["id"].as_str()).collect();
    assert_eq!(ids, ["a", "b"]);
    kill(pids[0], Signal::SIGKILL);
    let exited = daemon.wait_event("component_exited", "a");
    assert_eq!(pid_of(&exited), pids[0]);
    let restarted = daemon.started_pid("a");
    assert_ne!(restarted, pids[0]);
    assert!(alive(pids[1]), "b runs on");
    assert_eq!(daemon.count("config_reloaded"), 0, "nothing was applied");

    // Positive control: a regular file in its place again is read and applied.
    std::fs::remove_file(&path).expect("remove the FIFO");
    let edited = registry("", &[idle("a"), idle("b"), idle("c")].concat());
    std::fs::write(&path, edited).expect("write the registry");
    let (text, _) = said(&ctl(&daemon, &["reload"]), 0, "reload of a regular file");
    assert!(text.lines().any(|l| l == "added: c"), "{text}");
    // The reload waits for what it starts, so c's start is logged before the report.
    daemon.started_pid("c");
    daemon.wait_any("config_reloaded");
    assert_eq!(daemon.stop(), Some(0));
}

fn a_fifo_or_a_directory_at_start_up_is_refused_with_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run_dir = dir.path().join("run");
    let fifo = dir.path().join("fifo.xml");
    std::fs::write(&fifo, registry("", &idle("a"))).expect("write");
    // Positive control: the same document as a regular file passes `check`.
    said(&cli(&fifo, &run_dir, &["check"]), 0, "check a regular file");
    replace_with_fifo(&fifo);
    let folder = dir.path().join("folder.xml");
    std::fs::create_dir(&folder).expect("mkdir");
    for (path, kind) in [(&fifo, "a FIFO"), (&folder, "a directory")] {
        let expected = format!("error: {}:1:1: not a regular file ({kind})", path.display());
        for verb in ["run", "check"] {
            let (_, err) = said(
                &cli(path, &run_dir, &[verb]),
                2,
                &format!("{verb} on {kind}"),
            );
            assert_eq!(err.trim(), expected, "{verb}");
        }
    }
    assert!(!run_dir.exists(), "nothing was started");
}

/// 10,000 servers written as SPEC's example writes one (indented, a setting a line) pass
/// `check` (the registry's size and node limits admit them; and `check`, which places each
/// problem by line, no longer searches the file once a server), and the one whose executable
/// is missing is named at its line.
fn check_takes_ten_thousand_servers_written_as_spec_writes_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let servers: String = (0..10_000)
        .map(|i| {
            let executable = if i == 9_999 {
                "/nonexistent"
            } else {
                "/bin/sleep"
            };
            format!(
                "    <server id=\"is{i}\">\n      <description>Image Server</description>\n      \
                 <executable>{executable}</executable>\n      <arguments><argument>--port\
                 </argument><argument>27345</argument></arguments>\n      <startPriority>1\
                 </startPriority>\n      <startDelay>5</startDelay>\n      <stopTimeout>60\
                 </stopTimeout>\n      <restart>permanent</restart>\n    </server>\n"
            )
        })
        .collect();
    let registry = dir.path().join("SupervisorRegistry.xml");
    let text = format!("<supervisor>\n  <servers>\n{servers}  </servers>\n</supervisor>\n");
    std::fs::write(&registry, text).expect("registry");
    let output = cli(&registry, &dir.path().join("run"), &["check"]);
    let (_, err) = said(&output, 1, "the environment has one problem");
    let line = 3 + 9 * 9_999;
    assert!(
        err.contains(&format!(
            "SupervisorRegistry.xml:{line}:5: `is9999`: executable"
        )),
        "{err}"
    );
}

fn reload_names_changed_config_keys_as_needing_a_restart() {
    let head = |zone: &str| format!("<config><logTime>{zone}</logTime></config>");
    let mut daemon = Daemon::start(&registry(&head("local"), &idle("a")));
    let pid = daemon.started_pid("a");
    // Unchanged: every line of the report is there, and nothing needs a restart.
    let (text, _) = said(&ctl(&daemon, &["reload"]), 0, "reload, unchanged");
    for line in ["changed: ", "updated: ", "unchanged: 1", "needs restart: "] {
        assert!(text.lines().any(|l| l == line), "`{line}` in:\n{text}");
    }
    let event = daemon.wait_any("config_reloaded");
    assert_eq!(event["needs_restart"], serde_json::json!([]), "{event}");
    assert_eq!(event["updated"], serde_json::json!([]), "{event}");

    std::fs::write(&daemon.registry, registry(&head("utc"), &idle("a"))).expect("edit");
    let (text, _) = said(&ctl(&daemon, &["reload"]), 0, "reload, logTime edited");
    assert!(
        text.lines().any(|l| l == "needs restart: logTime"),
        "{text}"
    );
    assert!(text.lines().any(|l| l == "unchanged: 1"), "{text}");
    let event = daemon.wait_any("config_reloaded");
    assert_eq!(event["needs_restart"], serde_json::json!(["logTime"]));
    // Not applied: the daemon still runs with the old calendar, so a second reload says it again.
    let (text, _) = said(&ctl(&daemon, &["reload"]), 0, "reload again");
    assert!(
        text.lines().any(|l| l == "needs restart: logTime"),
        "{text}"
    );
    assert_eq!(events_of(&daemon, "component_started", "a").len(), 1);
    assert!(alive(pid), "a kept its process");
    assert_eq!(daemon.stop(), Some(0));
}

fn status_has_a_reason_in_json_and_a_reason_column() {
    let mut daemon = Daemon::start(&registry("", &idle("a")));
    daemon.started_pid("a");
    // The exact keys of a row are checked in tests/control.rs; here, that `reason` is one.
    let rows = daemon.status_rows();
    assert!(
        rows[0]["reason"].is_null(),
        "a running component: {}",
        rows[0]
    );
    let (text, _) = said(&ctl(&daemon, &["status"]), 0, "status");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].ends_with("  REASON"), "{text}");
    assert!(
        lines[1].starts_with("a ") && lines[1].ends_with("  -"),
        "{text}"
    );
    assert_eq!(daemon.stop(), Some(0));
}

/// A crash loop beside a steady sibling, under `head` at the top of the registry.
fn crash_loop(head: &str) -> Daemon {
    let crasher = standin_server("crasher", &["--crash-after", "0.02"], NO_BACKOFF);
    Daemon::start(&registry(head, &[idle("steady"), crasher].concat()))
}

fn a_root_without_restart_strategy_never_gives_up() {
    let mut daemon = crash_loop("");
    let steady = daemon.started_pid("steady");
    // Far beyond OTP's default of 5 restarts in 30 s.
    for _ in 0..12 {
        daemon.wait_event("component_exited", "crasher");
    }
    daemon.wait_event("component_started", "crasher");
    assert_eq!(daemon.count("intensity_exceeded"), 0);
    assert!(alive(steady), "the sibling runs on");
    assert_eq!(events_of(&daemon, "component_started", "steady").len(), 1);
    assert_eq!(daemon.stop(), Some(0));
}

fn a_root_with_an_empty_restart_strategy_gives_up_at_the_defaults() {
    // The control for the test above: the element alone brings OTP's 5 restarts in 30 s back.
    let mut daemon = crash_loop("<restartStrategy/>");
    let exceeded = daemon.wait_any("intensity_exceeded");
    assert_eq!(exceeded["group"], "", "{exceeded}");
    assert_eq!(exceeded["period_s"], 30.0, "{exceeded}");
    assert_eq!(daemon.wait_exit(), Some(4));
    assert_eq!(events_of(&daemon, "component_started", "crasher").len(), 6);
}

fn the_shipped_registry_checks_with_a_root_that_never_gives_up() {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/SupervisorRegistry.xml");
    let dir = tempfile::tempdir().expect("tempdir");
    // Valid; its components run the release stand-in, which may not be built (then `check`
    // names that environment problem and exits 1).
    let standin = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/standin");
    let code = if standin.exists() { 0 } else { 1 };
    let (text, errors) = said(
        &cli(&shipped, &dir.path().join("run"), &["check"]),
        code,
        "check",
    );
    assert!(
        errors.lines().all(|l| l.contains("target/release/standin")),
        "{errors}"
    );
    assert!(
        text.lines()
            .any(|l| l == "root (one_for_one, never gives up)"),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.trim_start()
            == "3. group platform [priority 2] (one_for_one, at most 5 restarts in 30s)"),
        "{text}"
    );
}

/// The tests of this module, for the integration runner.
pub const TESTS: &[testkit::harness::Test] = testkit::tests![
    a_fifo_in_place_of_the_registry_is_refused_on_reload_and_the_daemon_carries_on,
    a_fifo_or_a_directory_at_start_up_is_refused_with_exit_2,
    check_takes_ten_thousand_servers_written_as_spec_writes_one,
    reload_names_changed_config_keys_as_needing_a_restart,
    status_has_a_reason_in_json_and_a_reason_column,
    a_root_without_restart_strategy_never_gives_up,
    a_root_with_an_empty_restart_strategy_gives_up_at_the_defaults,
    the_shipped_registry_checks_with_a_root_that_never_gives_up,
];
