//! The control plane end to end (SPEC sections 1, 4 and 5): the daemon verbs (`start`, `stop`,
//! `restart`, `status`), single instance and leftovers, the control socket (modes, peer uid,
//! malformed and hostile clients), the per-component verbs and `reload` / SIGHUP — on the real
//! binary with real processes, each test in its own temporary directory.

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use actors::output::dates::{date, today};
use nix::sys::signal::Signal;
use serde_json::{Value, json};
use testkit::*;

// ---------------------------------------------------------------------------------------------
// Running the CLI and talking to the socket
// ---------------------------------------------------------------------------------------------

/// `supervisor --registry REGISTRY --run-dir RUN_DIR ARGS…`, bounded (generously: `stop` may
/// legitimately wait for components to stop).
pub(crate) fn supervisor_at(registry: &Path, run_dir: &Path, args: &[&str]) -> Output {
    let mut command = cli_command(registry, run_dir, args);
    command.current_dir("/");
    run_bounded(command, Duration::from_secs(40))
}

/// The CLI against a foreground (harness) daemon: same registry, same run directory.
pub(crate) fn ctl(daemon: &Daemon, args: &[&str]) -> Output {
    supervisor_at(&daemon.registry, &daemon.run_dir(), args)
}

pub(crate) fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub(crate) fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts the exit code, showing everything the command said when it differs.
pub(crate) fn assert_code(output: &Output, code: i32, what: &str) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "{what}: exit status {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        stdout(output),
        stderr(output)
    );
}

/// Sends `bytes` on a fresh connection to `socket` and returns the reply line, parsed. The
/// writing happens on its own thread, so a daemon that stops reading (size limit) cannot block
/// the test; the reply is read with the harness deadline.
fn exchange(socket: &Path, bytes: &[u8]) -> Value {
    let stream = UnixStream::connect(socket).expect("connect to the control socket");
    stream
        .set_read_timeout(Some(DEADLINE))
        .expect("read timeout");
    let mut writer = stream.try_clone().expect("clone stream");
    let bytes = bytes.to_vec();
    std::thread::spawn(move || {
        let _ = writer.write_all(&bytes);
    });
    let mut line = String::new();
    BufReader::new(&stream)
        .read_line(&mut line)
        .expect("read a reply line");
    assert!(line.ends_with('\n'), "reply is one full line: {line:?}");
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("reply is JSON ({e}): {line:?}"))
}

/// The `components` of a raw `status` request.
fn status_rows(socket: &Path) -> Vec<Value> {
    let reply = exchange(socket, b"{\"command\":\"status\"}\n");
    assert_eq!(reply["reply"], "status", "status reply: {reply}");
    reply["components"]
        .as_array()
        .expect("components array")
        .clone()
}

/// `status --json` through the CLI, which must exit 0 and print one JSON array.
fn status_json(registry: &Path, run_dir: &Path) -> Vec<Value> {
    let output = supervisor_at(registry, run_dir, &["status", "--json"]);
    assert_code(&output, 0, "status --json");
    let value: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("status --json is JSON ({e}):\n{}", stdout(&output)));
    value.as_array().expect("status --json is an array").clone()
}

fn row<'a>(rows: &'a [Value], id: &str) -> &'a Value {
    rows.iter()
        .find(|row| row["id"] == id)
        .unwrap_or_else(|| panic!("no status row for {id}: {rows:?}"))
}

fn pid_in(rows: &[Value], id: &str) -> Option<u32> {
    row(rows, id)["pid"].as_u64().map(|pid| pid as u32)
}

/// Waits until every one of `ids` is `running` with a pid (per the socket) and returns the pids.
fn running_pids(socket: &Path, ids: &[&str]) -> HashMap<String, u32> {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let rows = status_rows(socket);
        let pids: HashMap<String, u32> = ids
            .iter()
            .filter_map(|id| {
                let row = rows.iter().find(|row| row["id"] == *id)?;
                if row["state"] != "running" {
                    return None;
                }
                Some((id.to_string(), row["pid"].as_u64()? as u32))
            })
            .collect();
        if pids.len() == ids.len() {
            return pids;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting until {ids:?} run; status: {rows:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits until `id` runs with a pid other than `old` and returns it.
fn new_pid(socket: &Path, id: &str, old: u32) -> u32 {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let rows = status_rows(socket);
        let current = rows.iter().find(|row| row["id"] == id);
        if let Some(row) = current {
            if row["state"] == "running" {
                if let Some(pid) = row["pid"].as_u64() {
                    if pid as u32 != old {
                        return pid as u32;
                    }
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting until {id} runs again (was pid {old}); status: {rows:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Whether the foreground daemon process still runs.
fn daemon_alive(daemon: &Daemon) -> bool {
    alive(daemon.pid())
}

/// The lines of `text` that start with `error: `.
fn error_lines(text: &str) -> Vec<&str> {
    text.lines().filter(|l| l.starts_with("error: ")).collect()
}

/// Whether `line` is `error: PATH:LINE:COL: message` for this `path`.
fn is_located_error(line: &str, path: &Path) -> bool {
    let Some(rest) = line.strip_prefix(&format!("error: {}:", path.display())) else {
        return false;
    };
    let mut parts = rest.splitn(3, ':');
    let number =
        |part: Option<&str>| part.is_some_and(|p| !p.is_empty() && p.parse::<u32>().is_ok());
    number(parts.next()) && number(parts.next()) && parts.next().is_some_and(|m| m.starts_with(' '))
}

// ---------------------------------------------------------------------------------------------
// A background daemon (`supervisor start`), always cleaned up
// ---------------------------------------------------------------------------------------------

/// A registry in its own temporary directory, for the background verbs. Dropping it stops any
/// daemon started on its run directory (`supervisor stop`, then SIGKILL of the pid in the pid
/// file), even when the test failed half-way.
pub(crate) struct Background {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) registry: PathBuf,
    pub(crate) run_dir: PathBuf,
}

impl Background {
    pub(crate) fn new(xml: &str) -> Background {
        let dir = tempfile::tempdir().expect("tempdir");
        let registry = dir.path().join("SupervisorRegistry.xml");
        std::fs::write(&registry, xml).expect("write registry");
        let run_dir = dir.path().join("run");
        Background {
            dir,
            registry,
            run_dir,
        }
    }

    pub(crate) fn cli(&self, args: &[&str]) -> Output {
        supervisor_at(&self.registry, &self.run_dir, args)
    }

    fn socket(&self) -> PathBuf {
        self.run_dir.join("control.sock")
    }

    /// The pid in the daemon's pid file.
    pub(crate) fn daemon_pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.run_dir.join("supervisor.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let pid = self.daemon_pid();
        let _ = Command::new(supervisor_bin())
            .arg("--run-dir")
            .arg(&self.run_dir)
            .arg("stop")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if let Some(pid) = pid {
            if alive(pid) {
                let _ =
                    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), Signal::SIGKILL);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 1. start / status / restart / stop of the daemon
// ---------------------------------------------------------------------------------------------

fn start_status_restart_and_stop_a_background_daemon() {
    let head = format!("<config><log>logs/Supervisor.log</log></config>\n{FAST}");
    let servers = [
        idle("a"),
        // `start` must wait for b's start delay before it returns.
        standin_server("b", &[], &format!("{NO_BACKOFF}<startDelay>1</startDelay>")),
        standin_server(
            "c",
            &[],
            &format!("{NO_BACKOFF}<autostart>false</autostart>"),
        ),
    ]
    .concat();
    let bg = Background::new(&registry(&head, &servers));

    let began = Instant::now();
    let started = bg.cli(&["start"]);
    let took = began.elapsed();
    assert_code(&started, 0, "start");
    assert!(
        took >= Duration::from_millis(900),
        "start returned after {took:?}, before b's 1 s start delay was over"
    );

    // Right after `start` returned, every autostart component runs.
    let rows = status_json(&bg.registry, &bg.run_dir);
    for id in ["a", "b"] {
        assert_eq!(row(&rows, id)["state"], "running", "{id}: {rows:?}");
        let pid = pid_in(&rows, id).unwrap_or_else(|| panic!("{id} has a pid: {rows:?}"));
        assert!(alive(pid), "{id} pid {pid} is alive");
    }
    assert_eq!(row(&rows, "c")["state"], "stopped", "{rows:?}");
    assert_eq!(row(&rows, "c")["pid"], Value::Null);
    let a = pid_in(&rows, "a").unwrap();
    let b = pid_in(&rows, "b").unwrap();

    // The daemon: detached into its own session, stdin /dev/null, its pid in the pid file.
    let daemon = bg.daemon_pid().expect("pid file");
    assert!(alive(daemon));
    let stat = proc_stat(daemon).expect("daemon stat");
    assert_eq!(stat.sid, daemon, "the daemon leads its own session");
    assert_eq!(
        std::fs::read_link(format!("/proc/{daemon}/fd/0")).expect("daemon stdin"),
        Path::new("/dev/null")
    );

    // The log: <config><log> resolved against the registry's folder, the UTC date inserted.
    let log = bg
        .dir
        .path()
        .join(format!("logs/Supervisor-{}.log", date(today())));
    assert!(
        stdout(&started).contains(&log.display().to_string()),
        "start names its log {}:\n{}",
        log.display(),
        stdout(&started)
    );
    let text =
        std::fs::read_to_string(&log).unwrap_or_else(|e| panic!("log file {}: {e}", log.display()));
    let lines: Vec<Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("log line is JSON ({e}): {l}")))
        .collect();
    let started_event = lines
        .iter()
        .find(|e| e["event"] == "supervisor_started")
        .unwrap_or_else(|| panic!("supervisor_started in the log:\n{text}"));
    assert_eq!(started_event["pid"].as_u64(), Some(u64::from(daemon)));
    for id in ["a", "b"] {
        assert!(
            lines
                .iter()
                .any(|e| e["event"] == "component_started" && e["component"] == id),
            "component_started {id} in the log:\n{text}"
        );
    }

    // `status`: a table with a header and a row per component.
    let table = bg.cli(&["status"]);
    assert_code(&table, 0, "status");
    let table = stdout(&table);
    let table_lines: Vec<&str> = table.lines().collect();
    assert!(table_lines.len() >= 4, "header + 3 rows:\n{table}");
    assert!(table_lines[0].starts_with("ID"), "header:\n{table}");
    for (id, pid) in [("a", a), ("b", b)] {
        assert!(
            table_lines.iter().any(|l| l.starts_with(id)
                && l.contains("running")
                && l.contains(&pid.to_string())),
            "row for {id} (running, pid {pid}):\n{table}"
        );
    }

    // `start` again: already running, exit 0 with a message, nothing changes.
    let again = bg.cli(&["start"]);
    assert_code(&again, 0, "second start");
    assert!(
        stdout(&again).contains("already running") || stderr(&again).contains("already running"),
        "second start says it already runs:\n{}{}",
        stdout(&again),
        stderr(&again)
    );
    assert_eq!(bg.daemon_pid(), Some(daemon));

    // `restart a`: a new pid for a, nothing else changes.
    assert_code(&bg.cli(&["restart", "a"]), 0, "restart a");
    let rows = status_json(&bg.registry, &bg.run_dir);
    let a2 = pid_in(&rows, "a").expect("a runs again");
    assert_ne!(a2, a, "a has a new pid");
    assert!(!alive(a), "a's old process is gone");
    assert_eq!(row(&rows, "a")["state"], "running");
    assert_eq!(pid_in(&rows, "b"), Some(b), "b untouched");
    assert_eq!(row(&rows, "c")["state"], "stopped", "c untouched");
    assert_eq!(bg.daemon_pid(), Some(daemon));

    // `stop`: orderly, returns once the daemon has exited; nothing of it is left.
    let stopped = bg.cli(&["stop"]);
    assert_code(&stopped, 0, "stop");
    assert!(!alive(daemon), "the daemon has exited when stop returns");
    for pid in [a2, b] {
        assert!(!alive(pid), "component pid {pid} is gone when stop returns");
    }
    let status = bg.cli(&["status"]);
    assert_code(&status, 3, "status of a stopped daemon");
    assert_code(&bg.cli(&["status", "--json"]), 3, "status --json, stopped");
    assert_code(&bg.cli(&["stop"]), 0, "stop of a stopped daemon");
    assert_code(&bg.cli(&["stop", "a"]), 3, "stop ID, daemon not running");
    assert_code(&bg.cli(&["start", "a"]), 3, "start ID, daemon not running");
    assert_code(
        &bg.cli(&["restart", "a"]),
        3,
        "restart ID, daemon not running",
    );
    assert_code(&bg.cli(&["reload"]), 3, "reload, daemon not running");
    let text = std::fs::read_to_string(&log).expect("log file");
    assert!(
        text.lines().any(|l| l.contains("\"supervisor_stopped\"")),
        "supervisor_stopped in the log:\n{text}"
    );
}

fn restart_of_the_daemon_replaces_it_and_its_components() {
    let head = format!("<config><log>logs/Supervisor.log</log></config>\n{FAST}");
    let bg = Background::new(&registry(&head, &[idle("a"), idle("b")].concat()));
    assert_code(&bg.cli(&["start"]), 0, "start");
    let first = bg.daemon_pid().expect("pid file");
    let before = running_pids(&bg.socket(), &["a", "b"]);
    assert!(alive(first) && alive(before["a"]) && alive(before["b"]));

    let restarted = bg.cli(&["restart"]);
    assert_code(&restarted, 0, "restart");
    let second = bg.daemon_pid().expect("pid file after restart");
    assert_ne!(second, first, "a new daemon");
    assert!(alive(second), "the new daemon runs");
    assert!(!alive(first), "the old daemon is gone");
    let rows = status_json(&bg.registry, &bg.run_dir);
    for id in ["a", "b"] {
        assert_eq!(row(&rows, id)["state"], "running", "{rows:?}");
        let pid = pid_in(&rows, id).expect("pid");
        assert_ne!(pid, before[id], "{id} was started anew");
        assert!(!alive(before[id]), "{id}'s old process is gone");
    }
    assert_code(&bg.cli(&["stop"]), 0, "stop");
    assert!(!alive(second));
}

// ---------------------------------------------------------------------------------------------
// 2. start failures
// ---------------------------------------------------------------------------------------------

fn start_with_an_invalid_registry_exits_2_with_the_location() {
    let xml = "<supervisor>\n  <servers>\n    <bogus/>\n  </servers>\n</supervisor>\n";
    let bg = Background::new(xml);
    let output = bg.cli(&["start"]);
    assert_code(&output, 2, "start with an invalid registry");
    let text = stderr(&output);
    let errors = error_lines(&text);
    assert!(!errors.is_empty(), "error lines on stderr:\n{text}");
    assert!(
        errors.iter().all(|l| is_located_error(l, &bg.registry)),
        "every error is `error: {}:LINE:COL: …`:\n{text}",
        bg.registry.display()
    );
    assert!(
        errors.iter().any(|l| l.contains(":3:")),
        "the error is on line 3:\n{text}"
    );
    assert_code(&bg.cli(&["status"]), 3, "no daemon was started");
    assert!(bg.daemon_pid().is_none(), "no pid file");
    // Control: the same checks see a daemon started on a valid registry.
    std::fs::write(&bg.registry, registry(FAST, &idle("a"))).expect("rewrite registry");
    assert_code(&bg.cli(&["start"]), 0, "start with a valid registry");
    assert_code(&bg.cli(&["status"]), 0, "status of the started daemon");
    assert!(bg.daemon_pid().is_some(), "a pid file");
}

/// `start` exits 1, within a few seconds, naming the log; the log says why.
fn assert_start_fails(bg: &Background, reason: &str) {
    let began = Instant::now();
    let output = bg.cli(&["start"]);
    let took = began.elapsed();
    assert_code(&output, 1, "start of a daemon that cannot run");
    assert!(
        took < Duration::from_secs(10),
        "start gave up promptly, took {took:?}"
    );
    let log = bg
        .dir
        .path()
        .join(format!("logs/Supervisor-{}.log", date(today())));
    let text = stderr(&output);
    assert!(
        text.starts_with("error: "),
        "the failure is an `error: …` line:\n{text}"
    );
    assert!(
        text.contains(&log.display().to_string()),
        "start names the log {}:\n{text}",
        log.display()
    );
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        logged.contains(reason),
        "the log says why ({reason}):\n{logged}"
    );
}

fn start_fails_with_exit_1_and_the_log_path_when_the_run_dir_is_a_file() {
    let head = "<config><log>logs/Supervisor.log</log></config>";
    let bg = Background::new(&registry(head, &idle("a")));
    std::fs::write(&bg.run_dir, "not a directory").expect("write file");
    assert_start_fails(&bg, &bg.run_dir.display().to_string());
}

fn start_fails_when_the_run_dir_is_writable_by_others() {
    let head = "<config><log>logs/Supervisor.log</log></config>";
    let bg = Background::new(&registry(head, &idle("a")));
    std::fs::create_dir(&bg.run_dir).expect("mkdir");
    std::fs::set_permissions(&bg.run_dir, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    assert_start_fails(&bg, "writable by group or others");
    assert!(
        !bg.run_dir.join("control.sock").exists(),
        "no socket in a refused run dir"
    );
    // Control: once the mode is 0700, the same start makes the socket.
    std::fs::set_permissions(&bg.run_dir, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    assert_code(&bg.cli(&["start"]), 0, "start in a 0700 run dir");
    assert!(bg.run_dir.join("control.sock").exists(), "a socket");
}

// ---------------------------------------------------------------------------------------------
// 3. per-component verbs
// ---------------------------------------------------------------------------------------------

fn component_verbs_stop_start_and_restart_components() {
    let servers = [idle("a"), idle("b"), idle("c"), idle("d")].concat();
    let mut daemon = Daemon::start(&registry(FAST, &servers));
    let socket = daemon.run_dir().join("control.sock");
    daemon.wait_any("supervisor_started");
    let pids = running_pids(&socket, &["a", "b", "c", "d"]);

    // stop a: it stays stopped.
    assert_code(&ctl(&daemon, &["stop", "a"]), 0, "stop a");
    assert!(
        !alive(pids["a"]),
        "a's process is gone when `stop a` returns"
    );
    daemon.wait_event("component_stopped", "a");
    // Backoff is 0: a restart of a would come at once, before that of d, killed after a stopped
    // (the control: the same query sees d's).
    kill(pids["d"], Signal::SIGKILL);
    daemon.wait_event("restart_scheduled", "d");
    let rows = status_json(&daemon.registry, &daemon.run_dir());
    assert_eq!(row(&rows, "a")["state"], "stopped", "{rows:?}");
    assert_eq!(row(&rows, "a")["pid"], Value::Null, "{rows:?}");
    assert_eq!(pid_in(&rows, "b"), Some(pids["b"]));
    assert_eq!(pid_in(&rows, "c"), Some(pids["c"]));
    assert!(
        events_of(&daemon, "restart_scheduled", "a").is_empty(),
        "no restart_scheduled for a stopped component"
    );
    assert_eq!(
        events_of(&daemon, "component_started", "a").len(),
        1,
        "a was not started again"
    );

    // start a: a new process.
    assert_code(&ctl(&daemon, &["start", "a"]), 0, "start a");
    let a2 = new_pid(&socket, "a", pids["a"]);
    assert!(alive(a2));

    // restart a b: both new, c untouched.
    assert_code(&ctl(&daemon, &["restart", "a", "b"]), 0, "restart a b");
    let a3 = new_pid(&socket, "a", a2);
    let b2 = new_pid(&socket, "b", pids["b"]);
    assert!(
        !alive(a2) && !alive(pids["b"]),
        "the old processes are gone"
    );
    assert_eq!(running_pids(&socket, &["c"])["c"], pids["c"], "c untouched");

    // Unknown ids: exit 1 naming them, and nothing is done to the known ones.
    for verb in ["stop", "start", "restart"] {
        let output = ctl(&daemon, &[verb, "nope"]);
        assert_code(&output, 1, &format!("{verb} nope"));
        assert!(
            stderr(&output).contains("nope"),
            "{verb} nope names it:\n{}",
            stderr(&output)
        );
    }
    let output = ctl(&daemon, &["stop", "a", "nope"]);
    assert_code(&output, 1, "stop a nope");
    assert!(stderr(&output).contains("nope"), "{}", stderr(&output));
    let after = running_pids(&socket, &["a", "b", "c"]);
    assert_eq!(
        (after["a"], after["b"], after["c"]),
        (a3, b2, pids["c"]),
        "a request naming an unknown id changes nothing"
    );

    assert_eq!(daemon.stop(), Some(0));
}

fn a_component_stopped_by_the_operator_does_not_count_toward_intensity() {
    let head = r#"<restartStrategy type="one_for_one" intensity="0" period="30"/>"#;
    let mut daemon = Daemon::start(&registry(head, &[idle("a"), idle("b")].concat()));
    let socket = daemon.run_dir().join("control.sock");
    daemon.wait_any("supervisor_started");
    let pids = running_pids(&socket, &["a", "b"]);

    assert_code(&ctl(&daemon, &["stop", "a"]), 0, "stop a");
    daemon.wait_event("component_stopped", "a");
    std::thread::sleep(Duration::from_millis(700));
    assert!(
        daemon_alive(&daemon),
        "stopping a component by hand made the daemon exit; log:\n{:?}",
        daemon.names()
    );
    assert!(
        !daemon.names().iter().any(|n| n == "intensity_exceeded"),
        "no intensity_exceeded: {:?}",
        daemon.names()
    );
    assert_code(&ctl(&daemon, &["start", "a"]), 0, "start a");
    new_pid(&socket, "a", pids["a"]);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        daemon_alive(&daemon),
        "starting it again is no restart either"
    );
    assert_eq!(running_pids(&socket, &["b"])["b"], pids["b"], "b untouched");
    assert_code(&ctl(&daemon, &["status"]), 0, "status");
    // Control: a crash of b does count, and the same checks see the root give up.
    kill(pids["b"], Signal::SIGKILL);
    daemon.wait_any("intensity_exceeded");
    assert_eq!(daemon.wait_exit(), Some(4), "the root gave up");
    assert!(!daemon_alive(&daemon));
}

// ---------------------------------------------------------------------------------------------
// 4. status --json
// ---------------------------------------------------------------------------------------------

fn status_json_has_exactly_the_spec_keys_and_types() {
    let servers = [
        standin_server(
            "a",
            &[],
            &format!("{NO_BACKOFF}<description>Alpha server</description>"),
        ),
        standin_server(
            "t",
            &["--exit-after", "0.05", "--exit-code", "3"],
            "<restart>temporary</restart>",
        ),
        format!(
            "<group id=\"g\"><restartStrategy type=\"one_for_one\" intensity=\"50\" period=\"10\"/>{}<group id=\"h\">{}</group></group>",
            idle("x"),
            idle("y")
        ),
    ]
    .concat();
    let mut daemon = Daemon::start(&registry(FAST, &servers));
    let socket = daemon.run_dir().join("control.sock");
    daemon.wait_event("component_exited", "t");
    let pids = running_pids(&socket, &["a", "x", "y"]);

    kill(pids["a"], Signal::SIGKILL);
    let a2 = new_pid(&socket, "a", pids["a"]);

    let rows = status_json(&daemon.registry, &daemon.run_dir());
    let expected_keys: BTreeSet<&str> = [
        "id",
        "group",
        "description",
        "state",
        "pid",
        "uptime_ms",
        "rss_bytes",
        "restarts",
        "last_exit",
        "reason",
    ]
    .into_iter()
    .collect();
    let states = [
        "stopped", "starting", "running", "backoff", "stopping", "exited", "failed",
    ];
    assert_eq!(rows.len(), 4, "one row per component: {rows:?}");
    for row in &rows {
        let object = row.as_object().expect("each row is an object");
        let keys: BTreeSet<&str> = object.keys().map(String::as_str).collect();
        assert_eq!(keys, expected_keys, "keys of {row}");
        assert!(row["id"].is_string(), "{row}");
        assert!(row["group"].is_string(), "{row}");
        assert!(row["description"].is_string(), "{row}");
        assert!(
            states.contains(&row["state"].as_str().expect("state is a string")),
            "{row}"
        );
        assert!(row["pid"].is_null() || row["pid"].is_u64(), "{row}");
        assert!(row["uptime_ms"].is_u64(), "{row}");
        assert!(row["rss_bytes"].is_u64(), "{row}");
        assert!(row["restarts"].is_u64(), "{row}");
        match &row["last_exit"] {
            Value::Null => {}
            Value::Object(exit) => {
                assert_eq!(exit.len(), 1, "{row}");
                let (key, value) = exit.iter().next().unwrap();
                assert!(key == "code" || key == "signal", "{row}");
                assert!(value.is_i64(), "{row}");
            }
            other => panic!("last_exit is null or an object, not {other}"),
        }
    }

    let a = row(&rows, "a");
    assert_eq!(a["group"], "");
    assert_eq!(a["description"], "Alpha server");
    assert_eq!(a["state"], "running");
    assert_eq!(a["pid"].as_u64(), Some(u64::from(a2)));
    assert_eq!(a["last_exit"], json!({"signal": 9}));
    assert_eq!(a["restarts"], 1);
    assert!(
        a["rss_bytes"].as_u64().unwrap() > 0,
        "a running process has an RSS: {a}"
    );

    let t = row(&rows, "t");
    assert_eq!(t["pid"], Value::Null, "{t}");
    assert_eq!(t["last_exit"], json!({"code": 3}), "{t}");
    assert!(t["state"] == "exited" || t["state"] == "failed", "{t}");
    assert_eq!(t["restarts"], 0, "{t}");

    let x = row(&rows, "x");
    assert_eq!(x["group"], "g");
    assert_eq!(x["state"], "running");
    assert_eq!(x["last_exit"], Value::Null);
    assert_eq!(x["restarts"], 0);
    assert_eq!(row(&rows, "y")["group"], "g/h");

    // Uptime counts.
    let before = x["uptime_ms"].as_u64().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let later = status_rows(&socket);
    let after = row(&later, "x")["uptime_ms"].as_u64().unwrap();
    assert!(after >= before + 250, "uptime grows: {before} then {after}");

    assert_eq!(daemon.stop(), Some(0));
}

// ---------------------------------------------------------------------------------------------
// 5. single instance
// ---------------------------------------------------------------------------------------------

fn a_second_daemon_on_the_same_run_dir_is_refused() {
    let mut daemon = Daemon::start(&registry(FAST, &idle("a")));
    let socket = daemon.run_dir().join("control.sock");
    let a = daemon.started_pid("a");
    running_pids(&socket, &["a"]);

    let second = ctl(&daemon, &["--log-format", "json", "run"]);
    assert_code(&second, 1, "a second daemon on the same run dir");
    assert!(
        stderr(&second).contains("already running"),
        "the second daemon says why:\n{}",
        stderr(&second)
    );

    assert!(daemon_alive(&daemon), "the first daemon keeps running");
    assert_eq!(
        std::fs::read_to_string(daemon.run_dir().join("supervisor.pid"))
            .expect("pid file")
            .trim(),
        daemon.pid().to_string(),
        "the pid file still names the first daemon"
    );
    assert_eq!(running_pids(&socket, &["a"])["a"], a, "a untouched");
    assert_eq!(
        events_of(&daemon, "component_started", "a").len(),
        1,
        "nothing restarted"
    );
    assert_eq!(daemon.stop(), Some(0));
}

// ---------------------------------------------------------------------------------------------
// 6. leftovers of a daemon killed with SIGKILL
// ---------------------------------------------------------------------------------------------

fn a_new_daemon_kills_the_leftovers_of_a_killed_one_before_starting_anything() {
    let mut daemon = Daemon::start(&registry(
        FAST,
        &standin_server("a", &["--grandchild"], NO_BACKOFF),
    ));
    let a = daemon.started_pid("a");
    let grandchild = {
        let found = std::cell::RefCell::new(Vec::new());
        eventually("a's grandchild runs in a's process group", || {
            *found.borrow_mut() = live_group_members(a);
            found.borrow().len() >= 2
        });
        let found = found.into_inner();
        *found.iter().find(|&&pid| pid != a).expect("grandchild")
    };
    assert_eq!(proc_stat(grandchild).map(|s| s.pgid), Some(a));

    daemon.kill_with_its_guardian();
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        alive(a) && alive(grandchild),
        "a and its grandchild {grandchild} survive the daemon (the premise of this test)"
    );

    let mut second = daemon.successor();
    let killed = second.wait_for("leftover_killed of the grandchild", |e| {
        e["event"] == "leftover_killed" && e["pid"].as_u64() == Some(u64::from(grandchild))
    });
    let first_starting = second.wait_any("component_starting");
    eventually("the grandchild is gone", || !alive(grandchild));
    let events = second.events();
    let position = |wanted: &Value| events.iter().position(|e| e == wanted).unwrap();
    assert!(
        position(&killed) < position(&first_starting),
        "leftovers are killed before anything starts: {:?}",
        second.names()
    );
    let a2 = second.started_pid("a");
    assert_ne!(a2, a);
    assert!(!alive(a), "a (a running recorded leader) is a leftover too");
    assert_eq!(second.stop(), Some(0));
    assert!(!alive(grandchild));
}

// ---------------------------------------------------------------------------------------------
// 7. run dir and socket modes
// ---------------------------------------------------------------------------------------------

fn the_run_dir_is_0700_and_the_socket_0600() {
    let mut daemon = Daemon::start(&registry(FAST, &idle("a")));
    daemon.started_pid("a");
    let dir = daemon.run_dir();
    let socket = dir.join("control.sock");
    eventually("the control socket exists", || socket.exists());

    let dir_meta = std::fs::symlink_metadata(&dir).expect("run dir");
    assert!(dir_meta.is_dir());
    assert_eq!(
        dir_meta.permissions().mode() & 0o7777,
        0o700,
        "run dir mode {:o}",
        dir_meta.permissions().mode()
    );
    let socket_meta = std::fs::symlink_metadata(&socket).expect("socket");
    assert!(
        socket_meta.file_type().is_socket(),
        "control.sock is a socket"
    );
    assert_eq!(
        socket_meta.permissions().mode() & 0o7777,
        0o600,
        "socket mode {:o}",
        socket_meta.permissions().mode()
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("supervisor.pid"))
            .expect("pid file")
            .trim(),
        daemon.pid().to_string()
    );
    assert_eq!(daemon.stop(), Some(0));
    assert!(!socket.exists(), "an orderly exit removes the socket");
}

// ---------------------------------------------------------------------------------------------
// 8. another uid may not control the daemon
// ---------------------------------------------------------------------------------------------

/// The CLI as `nobody` (with `caps`, ambient capabilities such as `+dac_override`, if any).
fn as_nobody(setpriv: &Path, daemon: &Daemon, caps: Option<&str>, args: &[&str]) -> Output {
    let mut command = Command::new(setpriv);
    command.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"]);
    if let Some(caps) = caps {
        command.arg(format!("--inh-caps={caps}"));
        command.arg(format!("--ambient-caps={caps}"));
    }
    command
        .arg(supervisor_bin())
        .arg("--registry")
        .arg(&daemon.registry)
        .arg("--run-dir")
        .arg(daemon.run_dir())
        .args(args)
        .current_dir("/");
    run_bounded(command, Duration::from_secs(40))
}

fn another_uid_may_not_control_the_daemon() {
    testkit::skip::require_root("to run a client as another uid");
    let setpriv = testkit::skip::require_tool("setpriv");
    let mut daemon = Daemon::start(&registry(FAST, &[idle("a"), idle("b")].concat()));
    let socket = daemon.run_dir().join("control.sock");
    daemon.wait_any("supervisor_started");
    let pids = running_pids(&socket, &["a", "b"]);

    // Plain `nobody` cannot even reach the socket (0700 directory, 0600 socket).
    for args in [&["status"][..], &["stop", "a"], &["stop"], &["reload"]] {
        let output = as_nobody(&setpriv, &daemon, None, args);
        assert_ne!(
            output.status.code(),
            Some(0),
            "`{}` as nobody must fail\nstdout:\n{}\nstderr:\n{}",
            args.join(" "),
            stdout(&output),
            stderr(&output)
        );
    }
    assert!(daemon_alive(&daemon), "the daemon still runs");
    assert_eq!(running_pids(&socket, &["a", "b"]), pids, "nothing changed");

    // `nobody` allowed past the file modes (CAP_DAC_OVERRIDE) still meets the peer-uid check.
    let probe = as_nobody(&setpriv, &daemon, Some("+dac_override"), &["status"]);
    // Only a failure of setpriv itself (no ambient capabilities here) skips the protocol-level
    // check; a client that got through to the daemon must have been refused.
    if stderr(&probe).starts_with("setpriv:") {
        eprintln!(
            "note: could not run a client as nobody with CAP_DAC_OVERRIDE; peer-uid check untested at the protocol level:\n{}",
            stderr(&probe)
        );
    } else {
        for args in [&["status"][..], &["stop", "a"], &["stop"], &["reload"]] {
            let output = as_nobody(&setpriv, &daemon, Some("+dac_override"), args);
            assert_code(&output, 1, &format!("`{}` as nobody", args.join(" ")));
            assert!(
                stderr(&output).contains("uid 65534"),
                "refused for its uid:\n{}",
                stderr(&output)
            );
        }
        assert!(daemon_alive(&daemon), "the daemon still runs");
        assert_eq!(running_pids(&socket, &["a", "b"]), pids, "nothing changed");
    }
    assert_code(&ctl(&daemon, &["status"]), 0, "root may");
    assert_eq!(daemon.stop(), Some(0));
}

// ---------------------------------------------------------------------------------------------
// 9. malformed and hostile clients
// ---------------------------------------------------------------------------------------------

fn assert_error_reply(reply: &Value, what: &str) {
    assert_eq!(reply["reply"], "error", "{what}: {reply}");
    assert!(reply["kind"].is_string(), "{what}: {reply}");
    assert!(reply["message"].is_string(), "{what}: {reply}");
}

fn junk_requests_get_error_replies_and_the_daemon_carries_on() {
    let mut daemon = Daemon::start(&registry(FAST, &[idle("a"), idle("b")].concat()));
    let socket = daemon.run_dir().join("control.sock");
    daemon.wait_any("supervisor_started");
    let pids = running_pids(&socket, &["a", "b"]);

    // A client that connects and says nothing: answered after the 5 s deadline, not before.
    let silent = std::thread::spawn({
        let socket = socket.clone();
        move || {
            let stream = UnixStream::connect(&socket).expect("connect");
            stream
                .set_read_timeout(Some(Duration::from_secs(9)))
                .expect("timeout");
            let began = Instant::now();
            let mut line = String::new();
            let read = BufReader::new(&stream).read_line(&mut line);
            (began.elapsed(), read.map_err(|e| e.to_string()), line)
        }
    });

    let mut huge = vec![b'x'; 1024 * 1024];
    huge.push(b'\n');
    let mut huge_json = br#"{"command":"stop","ids":[""#.to_vec();
    huge_json.extend(std::iter::repeat_n(b'a', 70 * 1024));
    huge_json.extend(b"\"]}\n");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("garbage", b"garbage\n".to_vec()),
        ("binary", vec![0, 159, 146, 150, 255, b'\n']),
        ("a 1 MiB line", huge),
        ("a 70 KiB JSON request", huge_json),
        ("an unknown command", br#"{"command":"_exec"}"#.to_vec()),
        (
            "an unknown command, line",
            b"{\"command\":\"_exec\"}\n".to_vec(),
        ),
        (
            "an extra field",
            b"{\"command\":\"status\",\"x\":1}\n".to_vec(),
        ),
        ("a missing field", b"{\"command\":\"stop\"}\n".to_vec()),
        ("not an object", b"[\"status\"]\n".to_vec()),
        ("no command", b"{}\n".to_vec()),
        ("an empty line", b"\n".to_vec()),
    ];
    for (what, bytes) in &cases {
        let reply = exchange(&socket, bytes);
        assert_error_reply(&reply, what);
        // Meanwhile, status keeps answering.
        assert_eq!(running_pids(&socket, &["a", "b"]), pids, "after {what}");
    }
    // A half-sent request followed by a hang-up.
    {
        let mut stream = UnixStream::connect(&socket).expect("connect");
        let _ = stream.write_all(br#"{"command":"sto"#);
    }

    let (took, read, line) = silent.join().expect("silent client");
    assert!(read.is_ok(), "the silent client got an answer: {read:?}");
    let reply: Value = serde_json::from_str(&line)
        .unwrap_or_else(|e| panic!("reply to the silent client is JSON ({e}): {line:?}"));
    assert_error_reply(&reply, "a silent client");
    assert!(
        took >= Duration::from_millis(4500) && took <= Duration::from_secs(8),
        "the silent client is answered at the 5 s deadline, after {took:?}"
    );

    assert!(daemon_alive(&daemon));
    assert_eq!(running_pids(&socket, &["a", "b"]), pids, "nothing changed");
    let output = ctl(&daemon, &["status"]);
    assert_code(&output, 0, "status after the junk");
    assert_eq!(daemon.stop(), Some(0));
}

fn status_answers_quickly_while_60_idle_connections_are_open() {
    let mut daemon = Daemon::start(&registry(FAST, &idle("a")));
    let socket = daemon.run_dir().join("control.sock");
    let a = daemon.started_pid("a");
    running_pids(&socket, &["a"]);

    let idle_clients: Vec<UnixStream> = (0..60)
        .map(|_| UnixStream::connect(&socket).expect("connect an idle client"))
        .collect();
    let began = Instant::now();
    let rows = status_rows(&socket);
    let took = began.elapsed();
    assert!(
        took < Duration::from_secs(1),
        "status answered in {took:?} with 60 idle clients"
    );
    assert_eq!(pid_in(&rows, "a"), Some(a));
    let began = Instant::now();
    assert_code(&ctl(&daemon, &["status"]), 0, "CLI status");
    assert!(
        began.elapsed() < Duration::from_secs(2),
        "CLI status took {:?}",
        began.elapsed()
    );
    drop(idle_clients);
    assert_eq!(running_pids(&socket, &["a"])["a"], a);
    assert_eq!(daemon.stop(), Some(0));
}

fn connections_beyond_64_are_refused_at_once_and_the_slots_come_back() {
    let mut daemon = Daemon::start(&registry(FAST, &idle("a")));
    let socket = daemon.run_dir().join("control.sock");
    let a = daemon.started_pid("a");
    running_pids(&socket, &["a"]);

    let idle_clients: Vec<UnixStream> = (0..64)
        .map(|_| UnixStream::connect(&socket).expect("connect an idle client"))
        .collect();
    let began = Instant::now();
    let reply = exchange(&socket, b"{\"command\":\"status\"}\n");
    assert_error_reply(&reply, "the 65th connection");
    assert_eq!(reply["kind"], "busy", "{reply}");
    assert!(
        began.elapsed() < Duration::from_secs(2),
        "refused at once, not after the idle clients' deadline: {:?}",
        began.elapsed()
    );
    drop(idle_clients);
    let deadline = Instant::now() + DEADLINE;
    loop {
        let reply = exchange(&socket, b"{\"command\":\"status\"}\n");
        if reply["reply"] == "status" {
            break;
        }
        assert!(Instant::now() < deadline, "slots never came back: {reply}");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(running_pids(&socket, &["a"])["a"], a);
    assert_eq!(daemon.stop(), Some(0));
}

// ---------------------------------------------------------------------------------------------
// 10. reload and SIGHUP
// ---------------------------------------------------------------------------------------------

fn ids(value: &Value) -> Vec<String> {
    let mut ids: Vec<String> = value
        .as_array()
        .unwrap_or_else(|| panic!("a JSON array of ids (SPEC section 5), not {value}"))
        .iter()
        .map(|id| id.as_str().expect("id is a string").to_string())
        .collect();
    ids.sort();
    ids
}

fn assert_reloaded(
    event: &Value,
    added: &[&str],
    removed: &[&str],
    changed: &[&str],
    unchanged: u64,
) {
    assert_eq!(event["level"], "INFO", "{event}");
    assert_eq!(ids(&event["added"]), added, "added in {event}");
    assert_eq!(ids(&event["removed"]), removed, "removed in {event}");
    assert_eq!(ids(&event["changed"]), changed, "changed in {event}");
    assert_eq!(
        event["unchanged"].as_u64(),
        Some(unchanged),
        "unchanged in {event}"
    );
}

fn reload_applies_the_difference() {
    let v1 = registry(FAST, &[idle("a"), idle("b"), idle("c")].concat());
    let mut daemon = Daemon::start(&v1);
    let socket = daemon.run_dir().join("control.sock");
    daemon.wait_any("supervisor_started");
    let before = running_pids(&socket, &["a", "b", "c"]);

    // a: the same effective settings (an explicit default); b: another argument; c: removed;
    // d: added.
    let v2 = registry(
        &format!("<!-- edited -->\n{FAST}"),
        &[
            standin_server("a", &[], &format!("{NO_BACKOFF}<startDelay>0</startDelay>")),
            standin_server("b", &["--exit-code", "7"], NO_BACKOFF),
            idle("d"),
        ]
        .concat(),
    );
    std::fs::write(&daemon.registry, v2).expect("rewrite registry");
    let output = ctl(&daemon, &["reload"]);
    assert_code(&output, 0, "reload");
    let text = stdout(&output);
    for line in ["added: d", "removed: c", "changed: b", "unchanged: 1"] {
        assert!(
            text.lines().any(|l| l.trim() == line),
            "`{line}` in:\n{text}"
        );
    }
    let event = daemon.wait_any("config_reloaded");
    assert_reloaded(&event, &["d"], &["c"], &["b"], 1);

    let after = running_pids(&socket, &["a", "b", "d"]);
    assert_eq!(after["a"], before["a"], "unchanged a keeps its pid");
    assert_ne!(after["b"], before["b"], "changed b restarted");
    assert!(!alive(before["b"]), "b's old process is gone");
    assert!(!alive(before["c"]), "removed c is stopped");
    assert!(alive(after["d"]), "added d runs");
    let rows = status_rows(&socket);
    assert!(
        !rows.iter().any(|row| row["id"] == "c"),
        "c is no longer listed: {rows:?}"
    );
    let b_args = std::fs::read(format!("/proc/{}/cmdline", after["b"])).expect("cmdline");
    assert!(
        String::from_utf8_lossy(&b_args).contains("--exit-code\u{0}7"),
        "b runs with its new arguments"
    );
    assert_eq!(
        events_of(&daemon, "component_started", "a").len(),
        1,
        "a was never restarted"
    );
    assert_eq!(daemon.stop(), Some(0));
}

fn sighup_reloads_too_and_a_profile_change_counts_as_a_change() {
    let profile = |code: &str| {
        format!(
            "{FAST}<profiles><profile id=\"P\"><arguments><argument>--exit-code</argument><argument>{code}</argument></arguments></profile></profiles>"
        )
    };
    let servers = |extra: &str| {
        [
            standin_server("a", &[], &format!("{NO_BACKOFF}<profile ref=\"P\"/>")),
            idle("b"),
            extra.to_string(),
        ]
        .concat()
    };
    let mut daemon = Daemon::start(&registry(&profile("1"), &servers("")));
    let socket = daemon.run_dir().join("control.sock");
    daemon.wait_any("supervisor_started");
    let before = running_pids(&socket, &["a", "b"]);

    // The server element of a is the same; its profile is not.
    std::fs::write(
        &daemon.registry,
        registry(&profile("2"), &servers(&idle("e"))),
    )
    .expect("rewrite registry");
    daemon.signal(Signal::SIGHUP);
    let event = daemon.wait_any("config_reloaded");
    assert_reloaded(&event, &["e"], &[], &["a"], 1);
    let after = running_pids(&socket, &["a", "b", "e"]);
    assert_ne!(after["a"], before["a"], "a restarted with its new profile");
    assert_eq!(after["b"], before["b"], "b untouched");
    assert!(daemon_alive(&daemon), "SIGHUP does not end the daemon");
    assert_eq!(daemon.stop(), Some(0));
}

fn an_invalid_registry_on_reload_changes_nothing() {
    let v1 = registry(FAST, &[idle("a"), idle("b")].concat());
    let mut daemon = Daemon::start(&v1);
    let socket = daemon.run_dir().join("control.sock");
    daemon.wait_any("supervisor_started");
    let before = running_pids(&socket, &["a", "b"]);

    // Valid XML, invalid registry (an unknown element on line 4), and a removal of b that must
    // not happen.
    let invalid = format!(
        "<supervisor>\n{FAST}\n<servers>\n<bogus/>\n{}</servers>\n</supervisor>\n",
        idle("a")
    );
    std::fs::write(&daemon.registry, &invalid).expect("rewrite registry");
    let output = ctl(&daemon, &["reload"]);
    assert_code(&output, 2, "reload of an invalid registry");
    let text = stderr(&output);
    assert!(
        error_lines(&text)
            .iter()
            .any(|l| is_located_error(l, &daemon.registry) && l.contains(":4:")),
        "`error: {}:4:COL: …` on stderr:\n{text}",
        daemon.registry.display()
    );
    let rejected = daemon.wait_any("config_rejected");
    assert_eq!(rejected["level"], "ERROR", "{rejected}");
    assert!(
        rejected["error"]
            .as_str()
            .is_some_and(|e| e.contains(&daemon.registry.display().to_string())),
        "config_rejected names the file: {rejected}"
    );
    assert_eq!(
        running_pids(&socket, &["a", "b"]),
        before,
        "nothing changed"
    );

    // Malformed XML, through SIGHUP.
    std::fs::write(
        &daemon.registry,
        "<supervisor>\n<servers>\n<server id=\"a\">\n",
    )
    .expect("rewrite registry");
    daemon.signal(Signal::SIGHUP);
    let rejected = daemon.wait_any("config_rejected");
    assert!(rejected["error"].is_string(), "{rejected}");
    assert_eq!(
        running_pids(&socket, &["a", "b"]),
        before,
        "nothing changed"
    );
    assert!(
        !daemon.names().iter().any(|n| n == "config_reloaded"),
        "no config_reloaded: {:?}",
        daemon.names()
    );

    // The daemon still holds the old registry: reloading it again changes nothing.
    std::fs::write(&daemon.registry, &v1).expect("restore registry");
    let output = ctl(&daemon, &["reload"]);
    assert_code(&output, 0, "reload of the original registry");
    let event = daemon.wait_any("config_reloaded");
    assert_reloaded(&event, &[], &[], &[], 2);
    assert_eq!(
        running_pids(&socket, &["a", "b"]),
        before,
        "nothing changed"
    );
    assert_eq!(daemon.stop(), Some(0));
}

fn a_changed_group_strategy_restarts_nobody_and_then_applies() {
    let group = |strategy: &str| {
        format!(
            "<group id=\"g\"><restartStrategy type=\"{strategy}\" intensity=\"50\" period=\"10\"/>{}{}</group>",
            idle("x"),
            idle("y")
        )
    };
    let servers = |strategy: &str| [idle("r"), group(strategy)].concat();
    let mut daemon = Daemon::start(&registry(FAST, &servers("one_for_one")));
    let socket = daemon.run_dir().join("control.sock");
    daemon.wait_any("supervisor_started");
    let before = running_pids(&socket, &["r", "x", "y"]);

    std::fs::write(&daemon.registry, registry(FAST, &servers("one_for_all")))
        .expect("rewrite registry");
    let output = ctl(&daemon, &["reload"]);
    assert_code(&output, 0, "reload");
    let event = daemon.wait_any("config_reloaded");
    for id in ["r", "x", "y"] {
        assert!(
            !ids(&event["changed"]).contains(&id.to_string()),
            "{id} is not a changed component: {event}"
        );
    }
    assert!(
        ids(&event["added"]).is_empty() && ids(&event["removed"]).is_empty(),
        "{event}"
    );
    assert_eq!(
        event["unchanged"].as_u64(),
        Some(3),
        "r, x, y counted: {event}"
    );
    assert_eq!(
        running_pids(&socket, &["r", "x", "y"]),
        before,
        "nobody restarted"
    );

    // one_for_all now: x's death takes y along.
    assert!(alive(before["y"]), "y runs before x dies");
    kill(before["x"], Signal::SIGKILL);
    let x2 = new_pid(&socket, "x", before["x"]);
    let y2 = new_pid(&socket, "y", before["y"]);
    assert!(!alive(before["y"]), "y's old process was stopped");
    assert_ne!((x2, y2), (before["x"], before["y"]));
    assert_eq!(
        running_pids(&socket, &["r"])["r"],
        before["r"],
        "r untouched"
    );
    assert_eq!(daemon.stop(), Some(0));
}

/// The tests of this module, in file order, for the harness of main.rs.
pub const TESTS: &[testkit::harness::Test] = testkit::tests![
    start_status_restart_and_stop_a_background_daemon,
    restart_of_the_daemon_replaces_it_and_its_components,
    start_with_an_invalid_registry_exits_2_with_the_location,
    start_fails_with_exit_1_and_the_log_path_when_the_run_dir_is_a_file,
    start_fails_when_the_run_dir_is_writable_by_others,
    component_verbs_stop_start_and_restart_components,
    a_component_stopped_by_the_operator_does_not_count_toward_intensity,
    status_json_has_exactly_the_spec_keys_and_types,
    a_second_daemon_on_the_same_run_dir_is_refused,
    a_new_daemon_kills_the_leftovers_of_a_killed_one_before_starting_anything,
    the_run_dir_is_0700_and_the_socket_0600,
    another_uid_may_not_control_the_daemon,
    junk_requests_get_error_replies_and_the_daemon_carries_on,
    status_answers_quickly_while_60_idle_connections_are_open,
    connections_beyond_64_are_refused_at_once_and_the_slots_come_back,
    reload_applies_the_difference,
    sighup_reloads_too_and_a_profile_change_counts_as_a_change,
    an_invalid_registry_on_reload_changes_nothing,
    a_changed_group_strategy_restarts_nobody_and_then_applies,
];
