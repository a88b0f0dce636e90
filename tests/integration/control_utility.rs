//! The control utility as an init script and an operator use it (issue 13), each numbered
//! observation of the issue end to end on the real binary, every command run from `/` — never
//! from the checkout or the registry's folder.

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde_json::Value;
use testkit::*;

use crate::control::{Background, assert_code, ctl, stderr, stdout};

pub const TESTS: &[testkit::harness::Test] = testkit::tests![
    start_fails_with_the_reason_when_the_first_start_gives_up,
    start_returns_within_its_bound_naming_a_missing_executable,
    check_names_environment_problems_apart_from_syntax,
    verbs_find_the_daemon_through_the_run_dir_alone,
    status_answers_during_a_shutdown_and_operator_commands_are_busy,
    status_takes_ids_and_gives_reasons,
    json_on_every_verb_errors_included,
    a_reader_that_stops_reading_ends_a_verb_quietly,
    usage_errors_exit_64_and_the_version_names_the_commit,
    reload_waits_until_what_it_restarted_is_ready,
    reload_applies_tracestatsinterval_live_and_names_the_rest,
    reload_applies_log_retention_and_the_log_path_live,
    sigusr1_moves_the_background_daemon_s_stdout_and_stderr_to_the_new_log,
    reload_applies_temp_to_the_processes_started_after_it,
    reload_rebinds_the_http_endpoint_and_keeps_it_when_the_port_is_taken,
    signal_reaches_the_process_group_of_running_components,
    the_readme_table_has_the_verbs_of_help,
    completions_and_man_page_match_the_checked_in_copies,
];

const LOG: &str = "<config><log>logs/Supervisor.log</log></config>";

/// `supervisor --run-dir RUN_DIR ARGS…` from `/`, with no `--registry`: an operator in another
/// folder.
fn bare(run_dir: &Path, args: &[&str]) -> Output {
    let mut command = Command::new(supervisor_bin());
    command
        .arg("--run-dir")
        .arg(run_dir)
        .args(args)
        .current_dir("/")
        .env_remove("SUPERVISOR_REGISTRY")
        .env_remove("SUPERVISOR_LOG_FORMAT");
    run_bounded(command, Duration::from_secs(60))
}

/// A server running `script` with `/bin/sh -c`.
fn sh(id: &str, script: &str, settings: &str) -> String {
    format!(
        "<server id=\"{id}\"><executable>/bin/sh</executable><arguments><argument>-c</argument>\
         <argument>{}</argument></arguments>{settings}</server>\n",
        xml_escape(script)
    )
}

fn json_of(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("stdout is JSON ({e}):\n{}", stdout(output)))
}

/// The `status --json` rows of the daemon on `run_dir`.
fn rows(run_dir: &Path) -> Vec<Value> {
    let output = bare(run_dir, &["status", "--json"]);
    assert_code(&output, 0, "status --json");
    json_of(&output).as_array().expect("an array").clone()
}

fn row(rows: &[Value], id: &str) -> Value {
    let found = rows.iter().find(|row| row["id"] == id);
    found
        .cloned()
        .unwrap_or_else(|| panic!("no row {id}: {rows:?}"))
}

/// Waits until `id`'s row satisfies `test`; returns it.
fn wait_row(run_dir: &Path, id: &str, test: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let found = row(&rows(run_dir), id);
        if test(&found) {
            return found;
        }
        assert!(Instant::now() < deadline, "{id} never matched: {found}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

// 1: a first start that gives up is a failed start.
fn start_fails_with_the_reason_when_the_first_start_gives_up() {
    let head =
        format!("{LOG}<restartStrategy type=\"one_for_one\" intensity=\"2\" period=\"10\"/>");
    let licence = "echo starting; echo 'FATAL: license key missing' >&2; exit 1";
    let servers = [idle("a"), sh("lic", licence, NO_BACKOFF)].concat();
    let bg = Background::new(&registry(&head, &servers));
    let output = bg.cli(&["start"]);
    assert_code(&output, 1, "start of a tree that gives up");
    let text = stderr(&output);
    assert!(
        text.contains("`lic` did not start: exited with code 1")
            && text.contains("FATAL: license key missing"),
        "names the component, its exit and its last output:\n{text}"
    );
    assert!(text.contains("gave up"), "says the daemon gave up:\n{text}");
    assert!(text.contains("logs/Supervisor-"), "names the log:\n{text}");
    assert_code(&bg.cli(&["status"]), 3, "status after a failed start");

    // The same tree without the failing component starts: 0, and the daemon runs.
    let good = Background::new(&registry(&head, &idle("a")));
    assert_code(&good.cli(&["start"]), 0, "start of a healthy tree");
    assert_code(&good.cli(&["status"]), 0, "status after a start");
}

// 2: a missing executable bounds `start` and `start ID`; the daemon keeps trying.
fn start_returns_within_its_bound_naming_a_missing_executable() {
    let missing = "<server id=\"gone\"><executable>/nonexistent/gone</executable></server>\n";
    let later = standin_server("later", &[], "<autostart>false</autostart>");
    let bg = Background::new(&registry(LOG, &[idle("a"), missing.into(), later].concat()));
    let begun = Instant::now();
    let output = bg.cli(&["start", "--timeout", "2"]);
    let took = begun.elapsed();
    assert_code(&output, 1, "start with a missing executable");
    assert!(took < Duration::from_secs(20), "start took {took:?}");
    let text = stderr(&output);
    assert!(
        text.contains("`gone` did not start") && text.contains("execve: No such file or directory"),
        "{text}"
    );
    let gone = row(&rows(&bg.run_dir), "gone");
    assert!(
        gone["reason"]
            .as_str()
            .is_some_and(|r| r.contains("execve")),
        "{gone}"
    );
    assert_eq!(row(&rows(&bg.run_dir), "a")["state"], "running");

    let output = bg.cli(&["start", "gone", "--timeout", "1"]);
    assert_code(&output, 1, "start ID of a missing executable");
    assert!(stderr(&output).contains("execve"), "{}", stderr(&output));
    let output = bg.cli(&["start", "later"]);
    assert_code(&output, 0, "start ID of a healthy component");
    assert_eq!(stdout(&output).trim(), "started: later");
}

// 3: `check` verifies the environment, exit 1, each problem placed.
fn check_names_environment_problems_apart_from_syntax() {
    let servers = "<server id=\"abs\"><executable>/nonexistent/prog</executable></server>\n\
                   <server id=\"bare\"><executable>no-such-program-anywhere</executable></server>\n";
    let bg = Background::new(&registry(LOG, servers));
    let output = bg.cli(&["check"]);
    assert_code(&output, 1, "check with missing executables");
    let text = stderr(&output);
    let at = bg.registry.display().to_string();
    for id in ["abs", "bare"] {
        assert!(
            text.lines()
                .any(|line| line.starts_with(&format!("error: {at}:")) && line.contains(id)),
            "a located error for {id}:\n{text}"
        );
    }
    let json = json_of(&bg.cli(&["check", "--json"]));
    assert_eq!(json["problems"].as_array().map(Vec::len), Some(2), "{json}");
    assert_eq!(json["components"][0]["stop_timeout_s"], 10.0, "{json}");

    let good = Background::new(&registry(LOG, &idle("a")));
    let output = good.cli(&["check"]);
    assert_code(&output, 0, "check of a valid registry");
    assert!(
        stdout(&output).contains("started when at once"),
        "{}",
        stdout(&output)
    );
    let invalid = Background::new("<supervisor><bogus/></supervisor>");
    assert_code(&invalid.cli(&["check"]), 2, "check of an invalid registry");
}

// 3b: a reader that stops reading (`check | head`) ends the verb quietly by SIGPIPE, as any Unix
// tool, not with a panic on the failed write.
fn a_reader_that_stops_reading_ends_a_verb_quietly() {
    let servers: String = (0..400).map(|i| idle(&format!("c{i:03}"))).collect();
    let bg = Background::new(&registry(LOG, &servers));
    let mut command = cli_command(&bg.registry, &bg.run_dir, &["check", "--json"]);
    let mut child = (command.stdout(std::process::Stdio::piped()))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn check");
    let mut start = [0u8; 16];
    let mut out = child.stdout.take().expect("stdout");
    std::io::Read::read_exact(&mut out, &mut start).expect("the first bytes");
    drop(out);
    let output = child.wait_with_output().expect("check ends");
    // The control: it has more to write than a pipe holds.
    let whole = bg.cli(&["check", "--json"]);
    assert!(
        whole.stdout.len() > 64 * 1024,
        "{} bytes",
        whole.stdout.len()
    );
    assert_eq!(output.status.signal(), Some(libc::SIGPIPE), "{output:?}");
    assert!(!stderr(&output).contains("panicked"), "{}", stderr(&output));
}

// 5: every verb but run/start/check works from anywhere with --run-dir alone.
fn verbs_find_the_daemon_through_the_run_dir_alone() {
    let speaker = sh("a", "echo hello-from-a; exec sleep 1000", NO_BACKOFF);
    let bg = Background::new(&registry(LOG, &speaker));
    // Started from the registry's folder with a relative path, as an init script does.
    let mut start = Command::new(supervisor_bin());
    start
        .args(["--registry", "SupervisorRegistry.xml", "--run-dir"])
        .arg(&bg.run_dir)
        .arg("start")
        .current_dir(bg.dir.path())
        .env_remove("SUPERVISOR_LOG_FORMAT");
    assert_code(&run_bounded(start, Duration::from_secs(60)), 0, "start");

    let logs = bare(&bg.run_dir, &["logs", "a"]);
    assert_code(&logs, 0, "logs a from /");
    assert!(stdout(&logs).contains("hello-from-a"), "{}", stdout(&logs));
    let restarted = bare(&bg.run_dir, &["restart", "a"]);
    assert_code(&restarted, 0, "restart a from /");
    assert_eq!(stdout(&restarted).trim(), "restarted: a");
    assert_code(&bare(&bg.run_dir, &["reload"]), 0, "reload from /");
    let first = bg.daemon_pid();
    assert_code(
        &bare(&bg.run_dir, &["restart"]),
        0,
        "restart of the daemon from /",
    );
    assert_ne!(bg.daemon_pid(), first, "a new daemon");
    assert_code(&bare(&bg.run_dir, &["stop"]), 0, "stop from /");
    // No daemon now: the last one's files.
    let logs = bare(&bg.run_dir, &["logs", "a"]);
    assert_code(&logs, 0, "logs a of the last daemon");
    assert!(stdout(&logs).contains("hello-from-a"), "{}", stdout(&logs));
    // Without the run directory's record, the relative default is all there is: refused.
    let elsewhere = bg.dir.path().join("other-run");
    assert_code(
        &bare(&elsewhere, &["logs", "a"]),
        2,
        "logs with no daemon record",
    );
}

// 6: status answers during a shutdown; operator commands are busy (75), `signal` and `upgrade`
// refused (1).
fn status_answers_during_a_shutdown_and_operator_commands_are_busy() {
    let slow = standin_server("slow", &["--ignore-term"], "<stopTimeout>30</stopTimeout>");
    let mut daemon = Daemon::start(&registry("", &[slow, idle("b")].concat()));
    let slow = daemon.started_pids(&["slow", "b"])[0];
    // Only once its handler is in place, or SIGTERM would simply end it.
    eventually("slow catches SIGTERM", || catches_sigterm(slow));
    daemon.signal(Signal::SIGTERM);
    daemon.wait_event("component_stopping", "slow");
    let status = ctl(&daemon, &["status"]);
    assert_code(&status, 0, "status during a shutdown");
    let text = stdout(&status);
    assert_eq!(stderr(&status), "note: supervisor is stopping\n");
    assert!(
        text.lines()
            .any(|l| l.starts_with("slow") && l.contains("stopping")),
        "{text}"
    );
    let busy = ctl(&daemon, &["start", "b"]);
    assert_code(&busy, 75, "start ID during a shutdown");
    assert!(stderr(&busy).contains("shutting down"), "{}", stderr(&busy));
    // The verbs whose codes have no busy refuse (SPEC: 1, the reason printed).
    for verb in [&["signal", "slow", "HUP"][..], &["upgrade"]] {
        let refused = ctl(&daemon, verb);
        assert_code(&refused, 1, &format!("{verb:?} during a shutdown"));
        assert!(stderr(&refused).contains("shutting down"), "{refused:?}");
    }
    // A second signal kills at once.
    daemon.signal(Signal::SIGTERM);
    assert_eq!(daemon.wait_exit(), Some(0));
}

// 7, 8, 11: `status ID…`, reasons, a stop on request is not a failure.
fn status_takes_ids_and_gives_reasons() {
    let missing = "<server id=\"gone\"><executable>/nonexistent/gone</executable></server>\n";
    let term = sh(
        "t",
        "trap 'exit 143' TERM; while :; do sleep 0.05; done",
        "",
    );
    let mut daemon = Daemon::start(&registry("", &[idle("a"), missing.into(), term].concat()));
    daemon.started_pids(&["a", "t"]);
    let run_dir = daemon.run_dir();
    let two = bare(&run_dir, &["status", "a", "gone"]);
    assert_code(&two, 0, "status a gone");
    let lines: Vec<String> = stdout(&two).lines().map(String::from).collect();
    assert_eq!(lines.len(), 3, "header and two rows:\n{}", stdout(&two));
    assert!(
        lines[1].starts_with('a') && lines[2].starts_with("gone"),
        "{lines:?}"
    );
    assert!(
        lines[0].ends_with("REASON") && lines[2].contains("execve"),
        "{lines:?}"
    );
    let unknown = bare(&run_dir, &["status", "gnoe"]);
    assert_code(&unknown, 1, "status of an unknown id");
    assert!(
        stderr(&unknown).contains("(known: gone, "),
        "{}",
        stderr(&unknown)
    );

    assert_code(&bare(&run_dir, &["stop", "t"]), 0, "stop t");
    let t = row(&rows(&run_dir), "t");
    assert_eq!(t["state"], "stopped", "{t}");
    assert_eq!(t["last_exit"]["code"], 143, "{t}");
    assert_eq!(t["reason"], "stopped by the operator", "{t}");
    let running = row(&rows(&run_dir), "a");
    assert!(
        running["reason"].is_null(),
        "a running component has no reason: {running}"
    );
}

// 9: --json everywhere, errors included; success lines; unknown ids list the known ones.
fn json_on_every_verb_errors_included() {
    let later = standin_server("later", &[], "<autostart>false</autostart>");
    let bg = Background::new(&registry(LOG, &[idle("a"), later].concat()));
    let none = bare(&bg.run_dir, &["status", "--json"]);
    assert_code(&none, 3, "status --json, no daemon");
    assert_eq!(json_of(&none)["exit"], 3, "{}", stdout(&none));
    assert!(json_of(&none)["error"].is_string());

    let started = bg.cli(&["start", "--json"]);
    assert_code(&started, 0, "start --json");
    assert_eq!(json_of(&started)["started"], true);
    let later = bare(&bg.run_dir, &["start", "later", "--json"]);
    assert_code(&later, 0, "start later --json");
    assert_eq!(json_of(&later)["started"], serde_json::json!(["later"]));
    let stopped = bare(&bg.run_dir, &["stop", "later"]);
    assert_eq!(stdout(&stopped).trim(), "stopped: later");
    let unknown = bare(&bg.run_dir, &["start", "latr", "--json"]);
    assert_code(&unknown, 1, "start of an unknown id");
    let error = json_of(&unknown);
    assert!(
        error["error"]
            .as_str()
            .is_some_and(|e| e.contains("(known: later, a)")),
        "{error}"
    );
    let reload = bare(&bg.run_dir, &["reload", "--json"]);
    assert_code(&reload, 0, "reload --json");
    assert_eq!(json_of(&reload)["unchanged"], 2, "{}", stdout(&reload));
    let stop = bare(&bg.run_dir, &["stop", "--json"]);
    assert_eq!(json_of(&stop)["stopped"], true, "{}", stdout(&stop));
}

// 10: usage errors are 64, not the registry's 2.
fn usage_errors_exit_64_and_the_version_names_the_commit() {
    let run_dir = tempfile::tempdir().expect("tempdir");
    for args in [
        &["bogus"][..],
        &["status", "--bogus"],
        &["signal", "a"],
        &["start", "--timeout", "x"],
    ] {
        assert_code(&bare(run_dir.path(), args), 64, &format!("{args:?}"));
    }
    let help = bare(run_dir.path(), &["--help"]);
    assert_code(&help, 0, "--help");
    let version = bare(run_dir.path(), &["--version"]);
    assert_code(&version, 0, "--version");
    let text = stdout(&version);
    let words: Vec<&str> = text
        .split([' ', '(', ')'])
        .filter(|w| !w.is_empty())
        .collect();
    assert!(words.len() >= 4, "supervisor VERSION (COMMIT DATE): {text}");
    let date = words[3].trim();
    assert!(
        date.len() == 10 && date.as_bytes()[4] == b'-',
        "a date: {text}"
    );
}

// 11: reload waits for readiness like `restart ID`, and reports what did not start.
fn reload_waits_until_what_it_restarted_is_ready() {
    let port = free_port().to_string();
    let server = |variable: &str| {
        let settings = format!(
            "<environment><variable name=\"V\">{variable}</variable></environment>\
             <readiness tcp=\"127.0.0.1:{port}\" timeout=\"20\"/>"
        );
        standin_server("web", &["--port", &port, "--listen-after", "1"], &settings)
    };
    let mut daemon = Daemon::start(&registry("", &server("1")));
    let first = daemon.started_pid("web");
    daemon.wait_event("component_ready", "web");
    std::fs::write(&daemon.registry, registry("", &server("2"))).expect("rewrite");
    let begun = Instant::now();
    let reload = ctl(&daemon, &["reload"]);
    let took = begun.elapsed();
    assert_code(&reload, 0, "reload of a changed component");
    assert!(
        took >= Duration::from_millis(900),
        "reload returned in {took:?}, before ready"
    );
    let web = row(&rows(&daemon.run_dir()), "web");
    assert_eq!(web["state"], "running", "ready when reload returns: {web}");
    assert_ne!(web["pid"], first, "a new process: {web}");

    // --no-wait: answered at once, the new process not ready yet (the same change, back).
    std::fs::write(&daemon.registry, registry("", &server("1"))).expect("rewrite");
    assert_code(
        &ctl(&daemon, &["reload", "--no-wait"]),
        0,
        "reload --no-wait",
    );
    let web = row(&rows(&daemon.run_dir()), "web");
    assert_ne!(web["state"], "running", "not waited for: {web}");

    // A changed component that cannot start: exit 1, named with its error.
    let broken = "<server id=\"web\"><executable>/nonexistent/web</executable></server>";
    std::fs::write(&daemon.registry, registry("", broken)).expect("rewrite");
    let reload = ctl(&daemon, &["reload", "--timeout", "2"]);
    assert_code(&reload, 1, "reload to a component that cannot start");
    assert!(
        stderr(&reload).contains("`web` did not start"),
        "{}",
        stderr(&reload)
    );
    assert!(
        stdout(&reload).contains("changed: web"),
        "{}",
        stdout(&reload)
    );
}

// 4: `<config>` keys applied live are named `applied`; the others `needs restart`.
fn reload_applies_tracestatsinterval_live_and_names_the_rest() {
    let mut daemon = Daemon::start(&registry("", &idle("a")));
    daemon.started_pid("a");
    let head = "<config><tracestatsinterval>1</tracestatsinterval><tracelevel>3</tracelevel>\
                <logTime>utc</logTime></config>";
    std::fs::write(&daemon.registry, registry(head, &idle("a"))).expect("rewrite");
    assert_eq!(daemon.count("stats"), 0, "no stats before the reload");
    let reload = ctl(&daemon, &["reload"]);
    assert_code(&reload, 0, "reload");
    let text = stdout(&reload);
    assert!(
        text.lines()
            .any(|l| l == "applied: tracelevel tracestatsinterval"),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l == "needs restart: logTime"),
        "{text}"
    );
    let event = daemon.wait_any("config_reloaded");
    assert_eq!(
        event["applied"],
        serde_json::json!(["tracelevel", "tracestatsinterval"]),
        "{event}"
    );
    assert_eq!(
        event["not_applied"],
        serde_json::json!([]),
        "an array: {event}"
    );
    daemon.wait_event("stats", "a");
}

// 4b: a daemon run by `start` has its stdout and stderr on its log file; after logrotate's rename
// and SIGUSR1 they follow the new file, so a component with `stdout="inherit"` started then
// writes there, not into the renamed one.
fn sigusr1_moves_the_background_daemon_s_stdout_and_stderr_to_the_new_log() {
    use actors::output::dates::{date, today};
    let inherit = |id: &str| {
        sh(
            id,
            "echo \"$SUPERVISOR_COMPONENT says hello\"; exec sleep 1000",
            r#"<output stdout="inherit" stderr="inherit"/>"#,
        )
    };
    let bg = Background::new(&registry(
        LOG,
        &[inherit("early"), inherit("late")].concat(),
    ));
    assert_code(&bg.cli(&["start"]), 0, "start");
    let pid = bg.daemon_pid().expect("the daemon's pid");
    let log = bg
        .dir
        .path()
        .join(format!("logs/Supervisor-{}.log", date(today())));
    let rotated = log.with_extension("log.1");
    let target = |fd: u32| std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).expect("readlink");
    assert_eq!(target(2), log, "stderr is the log");
    assert_code(&bg.cli(&["stop", "late"]), 0, "stop late");
    std::fs::rename(&log, &rotated).expect("rotate");
    // The control: a rename alone leaves them on the renamed file.
    assert_eq!(target(1), rotated);
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), Signal::SIGUSR1)
        .expect("SIGUSR1");
    eventually("stdout and stderr follow the new file", || {
        target(1) == log && target(2) == log
    });
    assert_code(&bg.cli(&["start", "late"]), 0, "start late");
    eventually("late says hello in the new file", || {
        std::fs::read_to_string(&log).is_ok_and(|t| t.contains("late says hello"))
    });
    let old = std::fs::read_to_string(&rotated).expect("the rotated log");
    assert!(old.contains("early says hello"), "{old}");
}

// 4: `<logRetentionDays>` prunes the daemon's and the components' dated files at once, and
// `<log>` moves the daemon's log (the record follows, for `logs --daemon`).
fn reload_applies_log_retention_and_the_log_path_live() {
    use actors::output::dates::{date, today};
    let ticking = sh(
        "a",
        "while true; do echo tick; sleep 0.2; done",
        r#"<output file="logs/{id}-{date}.log"/>"#,
    );
    let config = |log: &str, days: u32| {
        format!("<config><log>{log}</log><logRetentionDays>{days}</logRetentionDays></config>")
    };
    let bg = Background::new(&registry(&config("logs/Supervisor.log", 10), &ticking));
    let logs = bg.dir.path().join("logs");
    std::fs::create_dir_all(&logs).expect("logs folder");
    let moved_folder = bg.dir.path().join("moved");
    std::fs::create_dir_all(&moved_folder).expect("moved folder");
    let old = date(today() - 5);
    let old_files = [
        moved_folder.join(format!("Daemon-{old}.log")),
        logs.join(format!("a-{old}.log")),
    ];
    // The files of the log's former name are no longer the daemon's: left alone.
    let former = logs.join(format!("Supervisor-{old}.log"));
    std::fs::write(&former, "old\n").expect("an old dated file");
    for file in &old_files {
        std::fs::write(file, "old\n").expect("an old dated file");
    }
    assert_code(&bg.cli(&["start"]), 0, "start");
    let today_of_a = logs.join(format!("a-{}.log", date(today())));
    eventually("a writes its file", || today_of_a.exists());
    for file in &old_files {
        assert!(
            file.exists(),
            "5 days old, kept under 10: {}",
            file.display()
        );
    }
    let head = config("moved/Daemon.log", 3);
    std::fs::write(&bg.registry, registry(&head, &ticking)).expect("rewrite");
    let reload = bare(&bg.run_dir, &["reload"]);
    assert_code(&reload, 0, "reload");
    let text = stdout(&reload);
    assert!(
        text.lines().any(|l| l == "applied: log logRetentionDays"),
        "{text}"
    );
    assert!(text.lines().any(|l| l == "needs restart: "), "{text}");
    for file in &old_files {
        eventually(&format!("{} removed", file.display()), || !file.exists());
    }
    assert!(former.exists(), "the former name's files are left alone");
    let moved = moved_folder.join(format!("Daemon-{}.log", date(today())));
    eventually("config_reloaded in the new log", || {
        std::fs::read_to_string(&moved).is_ok_and(|t| t.contains("config_reloaded"))
    });
    let first = logs.join(format!("Supervisor-{}.log", date(today())));
    let before = std::fs::read_to_string(&first).expect("the first log");
    assert!(before.contains("supervisor_started"), "{before}");
    assert!(
        !before.contains("config_reloaded"),
        "the old log ends: {before}"
    );
    let daemon_logs = bare(&bg.run_dir, &["logs", "--daemon"]);
    assert_code(&daemon_logs, 0, "logs --daemon");
    assert!(
        stdout(&daemon_logs).contains("config_reloaded"),
        "logs --daemon reads the new file:\n{}",
        stdout(&daemon_logs)
    );
}

/// The status line of `GET /healthz` on 127.0.0.1:`port`, `None` when nothing listens.
fn healthz(port: u16) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(DEADLINE)).ok()?;
    let request = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    stream.write_all(request.as_bytes()).ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    answer.lines().next().map(str::to_string)
}

// 4: `<tcpport>` re-binds: a taken port keeps the old listener and is an error while the rest
// applies; a free one moves the endpoint; none stops it.
fn reload_rebinds_the_http_endpoint_and_keeps_it_when_the_port_is_taken() {
    let first = free_port();
    let port = |port: u16, level: u8| {
        format!("<config><tcpport>{port}</tcpport><tracelevel>{level}</tracelevel></config>")
    };
    let mut daemon = Daemon::start(&registry(&port(first, 2), &idle("a")));
    daemon.started_pid("a");
    let ok = Some("HTTP/1.1 200 OK".to_string());
    assert_eq!(healthz(first), ok, "serves on the first port");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let taken_port = taken.local_addr().expect("address").port();
    std::fs::write(&daemon.registry, registry(&port(taken_port, 3), &idle("a"))).expect("rewrite");
    let refused = ctl(&daemon, &["reload"]);
    assert_code(&refused, 1, "reload onto a taken port");
    assert!(
        stderr(&refused).contains(&format!("tcpport: cannot listen on 127.0.0.1:{taken_port}")),
        "{}",
        stderr(&refused)
    );
    assert!(stdout(&refused).lines().any(|l| l == "applied: tracelevel"));
    let rejected = daemon.wait_any("config_rejected");
    assert_eq!(rejected["key"], "tcpport", "{rejected}");
    assert_eq!(healthz(first), ok, "the old listener still serves");
    drop(taken);
    let second = free_port();
    std::fs::write(&daemon.registry, registry(&port(second, 3), &idle("a"))).expect("rewrite");
    let moved = ctl(&daemon, &["reload"]);
    assert_code(&moved, 0, "reload onto a free port");
    assert!(
        stdout(&moved).lines().any(|l| l == "applied: tcpport"),
        "{}",
        stdout(&moved)
    );
    assert_eq!(healthz(second), ok, "serves on the new port");
    eventually("the first port closed", || healthz(first).is_none());
    std::fs::write(&daemon.registry, registry("", &idle("a"))).expect("rewrite");
    assert_code(&ctl(&daemon, &["reload"]), 0, "reload without a port");
    eventually("the endpoint stopped", || healthz(second).is_none());
    assert_eq!(daemon.count("config_rejected"), 1, "one rejected key");
}

// The `signal` verb.
fn signal_reaches_the_process_group_of_running_components() {
    let later = standin_server("later", &[], "<autostart>false</autostart>");
    let mut daemon = Daemon::start(&registry("", &[idle("a"), later].concat()));
    let pid = daemon.started_pid("a");
    let run_dir = daemon.run_dir();
    let sent = bare(&run_dir, &["signal", "a", "TERM"]);
    assert_code(&sent, 0, "signal a TERM");
    assert_eq!(stdout(&sent).trim(), "sent TERM to a");
    let exited = daemon.wait_event("component_exited", "a");
    assert_eq!(exited["signal"], 15, "{exited}");
    wait_row(&run_dir, "a", |row| {
        row["state"] == "running" && row["pid"].as_u64() != Some(u64::from(pid))
    });
    let refused = bare(&run_dir, &["signal", "later", "HUP"]);
    assert_code(&refused, 1, "signal to a stopped component");
    assert!(
        stderr(&refused).contains("`later` is not running"),
        "{}",
        stderr(&refused)
    );
    assert_code(
        &bare(&run_dir, &["signal", "nope", "HUP"]),
        1,
        "signal to an unknown id",
    );
    assert_code(
        &bare(&run_dir, &["signal", "a", "BOGUS"]),
        64,
        "an unknown signal",
    );
}

/// The verbs `--help` lists (the first word of each line of its `Commands:` section).
fn help_verbs() -> Vec<String> {
    let help = stdout(&bare(Path::new("/nonexistent"), &["--help"]));
    let commands = help.split("Commands:").nth(1).expect("a Commands: section");
    commands
        .lines()
        .skip(1)
        .take_while(|line| line.starts_with("  "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|verb| *verb != "help")
        .map(String::from)
        .collect()
}

fn the_readme_table_has_the_verbs_of_help() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let using = readme
        .split("## Using it")
        .nth(1)
        .expect("a Using it section");
    let mut table: Vec<String> = Vec::new();
    for line in using
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
    {
        let Some(command) = line.strip_prefix("| `supervisor ") else {
            continue;
        };
        let verbs = command.split([' ', '`']).next().unwrap_or_default();
        table.extend(verbs.split("\\|").map(String::from));
    }
    table.sort();
    table.dedup();
    let mut help = help_verbs();
    help.sort();
    assert_eq!(table, help, "the README's verb table and --help");
}

fn completions_and_man_page_match_the_checked_in_copies() {
    let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("doc");
    let generated = |args: &[&str]| {
        let output = bare(Path::new("/nonexistent"), args);
        assert_code(&output, 0, &format!("{args:?}"));
        output.stdout
    };
    for shell in ["bash", "zsh", "fish"] {
        let file = doc.join(format!("completions/supervisor.{shell}"));
        let kept = std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert!(
            generated(&["completions", shell]) == kept,
            "{} drifted from `supervisor completions {shell}`: regenerate it (README)",
            file.display()
        );
    }
    let page = std::fs::read(doc.join("supervisor.1")).expect("doc/supervisor.1");
    assert!(
        generated(&["manpage"]) == page,
        "doc/supervisor.1 drifted: regenerate it (README)"
    );
}

// 4: `<temp>` applies in place: nothing restarts for it, and the processes started after the
// reload get the new `TMPDIR` (and its folder exists).
fn reload_applies_temp_to_the_processes_started_after_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let report = dir.path().join("report.json");
    let server = standin_server("a", &["--report", report.to_str().unwrap()], NO_BACKOFF);
    let xml = |temp: &str| registry(&format!("<config><temp>{temp}</temp></config>"), &server);
    let mut daemon = Daemon::start_in(dir, &xml("first-tmp"));
    let pid = daemon.started_pid("a");
    let env = |report: &std::path::Path| read_json_when_ready(report)["env"]["TMPDIR"].clone();
    let first = daemon.path().join("first-tmp");
    assert_eq!(env(&report), first.to_str().unwrap());
    std::fs::write(&daemon.registry, xml("second-tmp")).expect("rewrite");
    let reload = daemon.cli(&["reload"], Duration::from_secs(30));
    assert_eq!(reload.status.code(), Some(0), "{reload:?}");
    let said = String::from_utf8_lossy(&reload.stdout);
    assert!(said.lines().any(|l| l == "applied: temp"), "{said}");
    assert!(
        said.lines().any(|l| l == "changed: "),
        "nothing restarts for it: {said}"
    );
    // The running process keeps its TMPDIR; the folder for the next ones is there.
    assert!(alive(pid));
    let second = daemon.path().join("second-tmp");
    assert!(second.is_dir());
    // Positive control: the next process (a crash restarts it) gets the new one.
    std::fs::remove_file(&report).expect("remove the first report");
    kill(pid, nix::sys::signal::Signal::SIGKILL);
    daemon.started_pid("a");
    assert_eq!(env(&report), second.to_str().unwrap());
}
