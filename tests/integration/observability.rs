//! What an operator reads, end to end on the real binary: the event vocabulary against SPEC
//! section 5 and the README, the text format read back as logfmt, JSON lines that always carry
//! `event` and `message`, trace levels changed by a reload, and journald priority prefixes.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::Instant;

use actors::events::{CONTRACT, DIAGNOSTIC};
use nix::sys::signal::Signal;
use serde_json::Value;
use testkit::*;

pub const TESTS: &[harness::Test] = testkit::tests![
    the_events_module_is_spec_section_5,
    the_readme_lists_every_event,
    text_lines_read_back_as_logfmt,
    json_lines_carry_event_and_message_and_json_values,
    a_reload_turns_on_debug_and_trace_events,
    journald_gets_a_priority_on_each_line,
    logs_reach_back_across_days_and_interleave_every_component,
    file_dates_follow_the_local_calendar_unless_log_time_is_utc,
    the_unit_file_verifies_and_is_hardened,
];

// ---------------------------------------------------------------------------------------------
// The vocabulary
// ---------------------------------------------------------------------------------------------

/// The backquoted names in the first column of the markdown tables of `text` between the
/// heading line starting with `from` and the next heading of that level.
fn table_names(text: &str, from: &str) -> BTreeSet<String> {
    let level = from.split(' ').next().unwrap_or("##").to_string() + " ";
    let section = text
        .split_once(&format!("\n{from}"))
        .map(|(_, rest)| rest)
        .unwrap_or_else(|| panic!("no `{from}` section"));
    let section = section
        .split_once(&format!("\n{level}"))
        .map_or(section, |(inside, _)| inside);
    section
        .lines()
        .filter_map(|line| line.strip_prefix("| "))
        .filter(|row| row.starts_with('`'))
        .filter_map(|row| row.split(" |").next())
        .flat_map(|cell| cell.split('`').skip(1).step_by(2).map(String::from))
        .collect()
}

fn the_events_module_is_spec_section_5() {
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/SPEC.md");
    let Ok(text) = std::fs::read_to_string(&spec) else {
        skip!("{} is not beside this checkout", spec.display());
    };
    let in_spec = table_names(&text, "## 5. Structured logs");
    assert!(in_spec.len() > 20, "SPEC's table was read: {in_spec:?}");
    same_names(&in_spec, CONTRACT, "SPEC", "events::CONTRACT");
    for name in DIAGNOSTIC {
        assert!(
            !in_spec.contains(*name),
            "{name} is in SPEC: move it to CONTRACT"
        );
    }
}

fn the_readme_lists_every_event() {
    let readme = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let text = std::fs::read_to_string(&readme).expect("read README.md");
    let listed = table_names(&text, "## Logs");
    let known: Vec<&str> = CONTRACT.iter().chain(DIAGNOSTIC).copied().collect();
    same_names(&listed, &known, "the README", "actors::events");
}

/// Asserts that the names `listed` in `document` are exactly those of `module`, both ways.
fn same_names(listed: &BTreeSet<String>, module: &[&str], document: &str, what: &str) {
    let module: BTreeSet<String> = module.iter().map(|name| name.to_string()).collect();
    let missing: Vec<_> = listed.difference(&module).collect();
    let extra: Vec<_> = module.difference(listed).collect();
    assert!(
        missing.is_empty(),
        "in {document}, not in {what}: {missing:?}"
    );
    assert!(extra.is_empty(), "in {what}, not in {document}: {extra:?}");
}

// ---------------------------------------------------------------------------------------------
// A daemon whose stderr is read line by line
// ---------------------------------------------------------------------------------------------

/// A daemon run with `args` (after `--registry R --run-dir D`), its stderr lines as they come.
struct Lines {
    dir: tempfile::TempDir,
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Lines {
    fn start(xml: &str, args: &[&str], env: &[(&str, &str)]) -> Lines {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("reg.xml"), xml).expect("write registry");
        let mut command = cli_command(&dir.path().join("reg.xml"), &dir.path().join("run"), args);
        command.envs(env.iter().copied());
        Lines::spawn(dir, command)
    }

    /// Runs `command`, reading its stderr.
    fn spawn(dir: tempfile::TempDir, mut command: Command) -> Lines {
        command.stdout(Stdio::null()).stderr(Stdio::piped());
        Lines::spawn_reading(dir, command, |child| {
            Box::new(child.stderr.take().expect("stderr"))
        })
    }

    /// Runs `command` (its output streams set up by the caller), reading what `take` takes.
    fn spawn_reading(
        dir: tempfile::TempDir,
        mut command: Command,
        take: fn(&mut Child) -> Box<dyn std::io::Read + Send>,
    ) -> Lines {
        let mut child = command
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn supervisor");
        let stream = take(&mut child);
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Lines {
            dir,
            child,
            lines,
            seen: Vec::new(),
        }
    }

    fn registry(&self) -> PathBuf {
        self.dir.path().join("reg.xml")
    }

    fn cli(&self, args: &[&str]) -> Output {
        run_bounded(
            cli_command(&self.registry(), &self.dir.path().join("run"), args),
            DEADLINE,
        )
    }

    /// Waits for a line that `matches`; every line read is kept in `seen`.
    fn wait(&mut self, what: &str, matches: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if matches(&line) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "timed out waiting for {what}; lines so far:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// SIGTERMs the daemon and reads what it writes until it exits; returns every line.
    fn stop(mut self) -> Vec<String> {
        kill(self.child.id(), Signal::SIGTERM);
        let deadline = Instant::now() + DEADLINE;
        while let Ok(line) = self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            self.seen.push(line);
        }
        let status = self.child.wait().expect("wait for the daemon");
        assert_eq!(status.code(), Some(0), "{}", self.seen.join("\n"));
        std::mem::take(&mut self.seen)
    }
}

impl Drop for Lines {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A component that prints a line with `=` and spaces, then exits 1 after 0.2 s, restarted at
/// once; and one that idles.
fn crasher_and_idle(head: &str) -> String {
    let crasher = r#"<server id="crash"><executable>/bin/sh</executable><arguments><argument>-c</argument><argument>echo "listening on a=b"; sleep 0.2; exit 1</argument></arguments><backoff initial="0"/></server>"#;
    registry(
        &format!("{head}\n{FAST}"),
        &format!("{crasher}\n{}", idle("quiet")),
    )
}

// ---------------------------------------------------------------------------------------------
// The text format, read back as logfmt
// ---------------------------------------------------------------------------------------------

/// One text line, parsed: `STAMP LEVEL subject: message key=value…`.
#[derive(Debug)]
struct TextLine {
    level: String,
    subject: String,
    message: String,
    fields: Vec<(String, String)>,
}

impl TextLine {
    fn field(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// A quoted logfmt value at the start of `text` (JSON string escapes): the value and the rest.
fn quoted(text: &str) -> Result<(String, &str), String> {
    let mut escaped = false;
    for (at, c) in text.char_indices().skip(1) {
        match c {
            '\\' if !escaped => escaped = true,
            '"' if !escaped => {
                let value = serde_json::from_str(&text[..=at]).map_err(|e| e.to_string())?;
                return Ok((value, &text[at + 1..]));
            }
            _ => escaped = false,
        }
    }
    Err(format!("unterminated quote in {text:?}"))
}

fn is_key(word: &str) -> bool {
    word.split_once('=').is_some_and(|(key, _)| {
        !key.is_empty()
            && key
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    })
}

/// Parses a text line strictly: a bad stamp, level, subject, quote or field is an error.
fn parse_text(line: &str) -> Result<TextLine, String> {
    let (stamp, rest) = line.split_once(' ').ok_or("no stamp")?;
    let zoned = stamp.ends_with('Z')
        || stamp.as_bytes().get(stamp.len() - 6) == Some(&b'+')
        || stamp.as_bytes().get(stamp.len() - 6) == Some(&b'-');
    if stamp.len() < 24 || stamp.as_bytes()[10] != b'T' || !zoned {
        return Err(format!("bad stamp {stamp:?}"));
    }
    let level = rest.get(..5).ok_or("no level")?.trim_end().to_string();
    if !["ERROR", "WARN", "INFO", "DEBUG", "TRACE"].contains(&level.as_str()) {
        return Err(format!("bad level {level:?}"));
    }
    let rest = rest[5..]
        .strip_prefix(' ')
        .ok_or("no space after the level")?;
    let (subject, mut rest) = rest.split_once(": ").ok_or("no subject")?;
    let message = if rest.starts_with('"') {
        let (message, after) = quoted(rest)?;
        rest = after;
        message
    } else {
        let end = rest
            .match_indices(' ')
            .map(|(at, _)| at)
            .find(|&at| is_key(&rest[at + 1..]))
            .unwrap_or(rest.len());
        let (message, after) = rest.split_at(end);
        rest = after;
        message.to_string()
    };
    let mut fields = Vec::new();
    while !rest.is_empty() {
        let field = rest
            .strip_prefix(' ')
            .ok_or(format!("no space before {rest:?}"))?;
        let (key, value) = field
            .split_once('=')
            .ok_or(format!("not a field: {field:?}"))?;
        if !is_key(field) {
            return Err(format!("bad key {key:?}"));
        }
        let (value, after) = if value.starts_with('"') {
            quoted(value)?
        } else {
            let end = value.find(' ').unwrap_or(value.len());
            (value[..end].to_string(), &value[end..])
        };
        if value.is_empty() {
            return Err(format!("empty field {key}"));
        }
        fields.push((key.to_string(), value));
        rest = after;
    }
    Ok(TextLine {
        level,
        subject: subject.to_string(),
        message,
        fields,
    })
}

fn text_lines_read_back_as_logfmt() {
    let mut daemon = Lines::start(
        &crasher_and_idle(""),
        &["--log-format", "text", "run"],
        &[("NO_COLOR", "1")],
    );
    daemon.wait("the crasher's second restart", |line| {
        line.contains("event=restart_scheduled") && line.contains("attempt=2")
    });
    let lines = daemon.stop();
    let parsed: Vec<TextLine> = lines
        .iter()
        .map(|line| parse_text(line).unwrap_or_else(|e| panic!("{e}: {line:?}")))
        .collect();
    let known: BTreeSet<&str> = CONTRACT.iter().chain(DIAGNOSTIC).copied().collect();
    for (line, text) in parsed.iter().zip(&lines) {
        let event = line
            .field("event")
            .unwrap_or_else(|| panic!("no event: {text}"));
        assert!(known.contains(event), "unknown event {event}: {text}");
        assert!(!line.message.is_empty(), "{text}");
        assert!(
            !text.contains('\x1b'),
            "NO_COLOR: no escape codes: {text:?}"
        );
        assert!(
            line.field("group").is_none(),
            "an empty group is left out: {text}"
        );
    }
    let first = &lines[0];
    assert!(!first.contains("tracing-subscriber"), "{first}");
    let with = |event: &str| {
        parsed
            .iter()
            .filter(|line| line.field("event") == Some(event))
            .collect::<Vec<_>>()
    };
    let exited = with("component_exited");
    let exit = exited.first().expect("component_exited");
    assert_eq!(exit.level, "WARN");
    assert_eq!(exit.subject, "crash");
    assert!(
        exit.message.starts_with("exited with code 1 after "),
        "{exit:?}"
    );
    assert_eq!(exit.field("code"), Some("1"));
    let restart = with("restart_scheduled");
    assert_eq!(restart[1].message, "restarting in 0 ms (attempt 2)");
    assert_eq!(restart[1].field("reason"), Some("exit"));
    let output = with("component_output");
    // The crasher's line (the idle sibling prints its own, in whatever order they come).
    let printed = (output.iter())
        .find(|line| line.subject == "crash")
        .expect("component_output of crash");
    assert_eq!(
        printed.message, "listening on a=b",
        "quoted, read back whole"
    );
    assert_eq!(printed.field("stream"), Some("stdout"));
    assert!(printed.field("line").is_none(), "the line is the message");
    let starting = with("component_starting");
    let command = starting[0].field("command").expect("command");
    assert!(
        command.contains("echo"),
        "a value with spaces read back whole: {command}"
    );
    let stopped = with("supervisor_stopped");
    assert_eq!(stopped[0].subject, "supervisor");
    assert_eq!(stopped[0].field("exit_code"), Some("0"));
}

// ---------------------------------------------------------------------------------------------
// JSON lines
// ---------------------------------------------------------------------------------------------

fn json(line: &str) -> Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}"))
}

fn json_lines_carry_event_and_message_and_json_values() {
    let mut daemon = Lines::start(
        &crasher_and_idle("<config><tracelevel>3</tracelevel></config>"),
        &["--log-format", "json", "run"],
        &[],
    );
    daemon.wait("quiet started", |line| {
        json(line)["event"] == "component_started" && json(line)["component"] == "quiet"
    });
    let restarted = daemon.cli(&["restart", "quiet"]);
    assert_eq!(restarted.status.code(), Some(0), "{restarted:?}");
    let request = daemon.wait("the control request", |line| {
        json(line)["event"] == "control_request"
    });
    assert_eq!(
        json(&request)["request"],
        serde_json::json!({"command": "restart", "ids": ["quiet"]}),
        "a JSON object, not a debug string"
    );
    daemon.wait("the crasher's restart", |line| {
        json(line)["event"] == "restart_scheduled"
    });
    let lines = daemon.stop();
    let known: BTreeSet<&str> = CONTRACT.iter().chain(DIAGNOSTIC).copied().collect();
    for line in &lines {
        let value = json(line);
        let event = value["event"]
            .as_str()
            .unwrap_or_else(|| panic!("no event: {line}"));
        assert!(known.contains(event), "unknown event: {line}");
        let message = value["message"].as_str().unwrap_or_default();
        assert!(!message.is_empty(), "no message: {line}");
    }
    let events: Vec<Value> = lines.iter().map(|line| json(line)).collect();
    let output = events
        .iter()
        .find(|e| e["event"] == "component_output")
        .expect("component_output");
    assert_eq!(output["message"], output["line"]);
    let exited = events
        .iter()
        .find(|e| e["event"] == "component_exited")
        .expect("component_exited");
    assert_eq!(exited["code"], 1);
    assert!(
        exited["message"]
            .as_str()
            .unwrap()
            .starts_with("exited with code 1")
    );
}

// ---------------------------------------------------------------------------------------------
// Trace levels
// ---------------------------------------------------------------------------------------------

fn levels(lines: &[String]) -> BTreeSet<String> {
    lines
        .iter()
        .map(|line| json(line)["level"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn a_reload_turns_on_debug_and_trace_events() {
    let head = |level: u8| format!("<config><tracelevel>{level}</tracelevel></config>");
    let mut daemon = Lines::start(
        &crasher_and_idle(&head(2)),
        &["--log-format", "json", "run"],
        &[],
    );
    daemon.wait("the crasher's restart", |line| {
        json(line)["event"] == "restart_scheduled"
    });
    // At level 2 the same work (plans, reaping, timers, output) logged nothing below INFO.
    let before = levels(&daemon.seen);
    assert!(
        !before.contains("DEBUG") && !before.contains("TRACE"),
        "{before:?}"
    );
    std::fs::write(daemon.registry(), crasher_and_idle(&head(4))).expect("edit the registry");
    let reloaded = daemon.cli(&["reload"]);
    assert_eq!(reloaded.status.code(), Some(0), "{reloaded:?}");
    let said = String::from_utf8_lossy(&reloaded.stdout);
    assert!(
        said.lines().any(|l| l == "applied: tracelevel")
            && !said
                .lines()
                .any(|l| l.starts_with("needs restart:") && l.contains("tracelevel")),
        "applied, not needing a restart: {said}"
    );
    let expect = |daemon: &mut Lines, events: &[(&str, &str)]| {
        for &(event, level) in events {
            let line = daemon.wait(event, |line| json(line)["event"] == event);
            assert_eq!(json(&line)["level"], level, "{line}");
        }
    };
    // The crasher's restarts: plan steps, reaping, output routing.
    expect(
        &mut daemon,
        &[
            ("plan_step", "DEBUG"),
            ("child_reaped", "DEBUG"),
            ("output_routed", "TRACE"),
        ],
    );
    // An operator's restart: the request, the stop timer.
    let restarted = daemon.cli(&["restart", "quiet"]);
    assert_eq!(restarted.status.code(), Some(0), "{restarted:?}");
    expect(
        &mut daemon,
        &[("control_request", "DEBUG"), ("timer", "TRACE")],
    );
    // And back: at level 1 nothing below WARN, while the crasher keeps restarting. Lines are
    // judged by their own timestamps: the reader may still be behind what was logged before
    // the reload answered (an operator restart waits a while for readiness).
    std::fs::write(daemon.registry(), crasher_and_idle(&head(1))).expect("edit the registry");
    let back = daemon.cli(&["reload"]);
    assert_eq!(back.status.code(), Some(0), "{back:?}");
    let answered = realtime_ns();
    let after = |line: &str| {
        let stamp = json(line)["timestamp"].as_str().and_then(timestamp_ns);
        stamp.is_some_and(|ns| ns > answered)
    };
    let exit = |line: &str| json(line)["event"] == "component_exited" && after(line);
    let mark = daemon.seen.len();
    daemon.wait("an exit after the reload", exit);
    daemon.wait("another exit after the reload", exit);
    let later: Vec<String> = daemon.seen[mark..]
        .iter()
        .filter(|line| after(line))
        .cloned()
        .collect();
    assert_eq!(later.len(), 2, "only the two exits: {later:?}");
    assert_eq!(
        levels(&later),
        BTreeSet::from(["WARN".to_string()]),
        "{later:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// journald
// ---------------------------------------------------------------------------------------------

/// A daemon whose stderr is a pipe, with `JOURNAL_STREAM` naming that pipe (or, with `other`,
/// another inode): the lines it wrote until its crasher exited once.
fn lines_with_journal_stream(other: bool) -> Vec<String> {
    let (read, write) = nix::unistd::pipe().expect("pipe");
    let stat = nix::sys::stat::fstat(std::os::fd::AsRawFd::as_raw_fd(&write)).expect("fstat");
    let inode = stat.st_ino + u64::from(other);
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("reg.xml"), crasher_and_idle("")).expect("registry");
    let mut command = daemon_command(None, &dir.path().join("reg.xml"), &dir.path().join("run"));
    command
        .env("JOURNAL_STREAM", format!("{}:{inode}", stat.st_dev))
        .stderr(Stdio::from(write));
    let mut child = command.spawn().expect("spawn supervisor");
    drop(command);
    let mut lines = Vec::new();
    let reader = BufReader::new(std::fs::File::from(read));
    let mut killed = false;
    for line in reader.lines() {
        let line = line.expect("read stderr");
        if !killed && line.contains("component_exited") {
            kill(child.id(), Signal::SIGTERM);
            killed = true;
        }
        lines.push(line);
    }
    assert_eq!(child.wait().expect("wait").code(), Some(0), "{lines:?}");
    lines
}

fn journald_gets_a_priority_on_each_line() {
    let lines = lines_with_journal_stream(false);
    for line in &lines {
        let (prefix, rest) = line.split_at(3);
        let level = json(rest)["level"].as_str().unwrap_or_default().to_string();
        let expected = match level.as_str() {
            "ERROR" => "<3>",
            "WARN" => "<4>",
            "INFO" => "<6>",
            _ => "<7>",
        };
        assert_eq!(prefix, expected, "{line}");
    }
    assert!(
        lines.iter().any(|line| line.starts_with("<4>")),
        "the crasher's exit is a warning: {lines:?}"
    );
    // Control: the variable names another file, so stderr is not the journal.
    let lines = lines_with_journal_stream(true);
    assert!(lines.iter().all(|line| line.starts_with('{')), "{lines:?}");
}

// ---------------------------------------------------------------------------------------------
// `logs` across days, `--all`, `--daemon`; file dates in the local calendar
// ---------------------------------------------------------------------------------------------

/// An RFC 3339 stamp `ago` seconds before now.
fn stamp_ago(ago: u64) -> String {
    actors::output::dates::rfc3339(
        std::time::SystemTime::now() - std::time::Duration::from_secs(ago),
    )
}

fn stdout(output: &Output) -> Vec<String> {
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(String::from)
        .collect()
}

fn logs_reach_back_across_days_and_interleave_every_component() {
    use actors::output::dates::{date, today};
    let dir = tempfile::tempdir().expect("tempdir");
    let reg = dir.path().join("reg.xml");
    let servers = format!(
        "{}{}",
        standin_server("a", &[], r#"<output file="logs/{id}-{date}.log"/>"#),
        standin_server("b", &[], "")
    );
    std::fs::write(&reg, registry("", &servers)).expect("registry");
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).expect("logs folder");
    let (yesterday, now) = (date(today() - 1), date(today()));
    // a's own files: two lines yesterday (a day and more ago), one today.
    let a_line = |ago: u64, text: &str| format!("{} stdout {text}\n", stamp_ago(ago));
    std::fs::write(
        logs.join(format!("a-{yesterday}.log")),
        a_line(90_000, "a old") + &a_line(86_500, "a older day"),
    )
    .unwrap();
    std::fs::write(logs.join(format!("a-{now}.log")), a_line(30, "a new")).unwrap();
    // b's lines are component_output events in the daemon's log, among other events.
    let event = |ago: u64, event: &str, component: &str, extra: &str| {
        format!(
            "{{\"timestamp\":\"{}\",\"level\":\"INFO\",\"event\":\"{event}\",\"message\":\"m\",\"component\":\"{component}\",\"group\":\"\"{extra}}}\n",
            stamp_ago(ago)
        )
    };
    let out = |ago: u64, text: &str| {
        event(
            ago,
            "component_output",
            "b",
            &format!(",\"stream\":\"stdout\",\"line\":\"{text}\""),
        )
    };
    std::fs::write(
        logs.join(format!("Supervisor-{yesterday}.log")),
        out(88_000, "b old"),
    )
    .unwrap();
    std::fs::write(
        logs.join(format!("Supervisor-{now}.log")),
        out(60, "b new") + &event(50, "component_started", "a", ",\"pid\":7"),
    )
    .unwrap();
    let run_dir = dir.path().join("run");
    let cli = |args: &[&str]| run_bounded(cli_command(&reg, &run_dir, args), DEADLINE);
    let texts = |lines: Vec<String>| -> Vec<String> {
        lines
            .iter()
            .map(|l| l.rsplit(" stdout ").next().unwrap_or(l).to_string())
            .collect()
    };
    // The last lines reach into yesterday's file.
    assert_eq!(
        texts(stdout(&cli(&["logs", "a", "-n", "2"]))),
        ["a older day", "a new"]
    );
    assert_eq!(stdout(&cli(&["logs", "b"])), ["b old", "b new"]);
    // --since: a date (its midnight), a duration.
    let since_yesterday = stdout(&cli(&["logs", "a", "--since", &yesterday]));
    assert_eq!(texts(since_yesterday), ["a old", "a older day", "a new"]);
    assert_eq!(
        texts(stdout(&cli(&["logs", "a", "--since", "1h"]))),
        ["a new"]
    );
    assert_eq!(stdout(&cli(&["logs", "b", "--since", "2h"])), ["b new"]);
    let bad = cli(&["logs", "a", "--since", "yesterday"]);
    assert_eq!(bad.status.code(), Some(64), "{bad:?}");
    // --all: by time, the id in front.
    let all = stdout(&cli(&["logs", "--all", "-n", "10"]));
    let all: Vec<String> = all
        .iter()
        .map(|l| match l.split_once(": ") {
            Some((id, rest)) => format!("{id}: {}", rest.rsplit(" stdout ").next().unwrap()),
            None => l.clone(),
        })
        .collect();
    assert_eq!(
        all,
        [
            "a: a old",
            "b: b old",
            "a: a older day",
            "b: b new",
            "a: a new"
        ]
    );
    // --daemon: the JSON rendered as text.
    let daemon = stdout(&cli(&["logs", "--daemon"]));
    let last = parse_text(daemon.last().expect("a line")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(last.subject, "a");
    assert_eq!(last.field("event"), Some("component_started"));
    assert_eq!(last.field("pid"), Some("7"));
    // -f on --all: lines appended to either kind of file come out behind their id.
    let mut command = cli_command(&reg, &run_dir, &["logs", "--all", "-f", "-n", "0"]);
    command.stdout(Stdio::piped()).stderr(Stdio::null());
    let follower = Lines::spawn_reading(dir, command, |child| {
        Box::new(child.stdout.take().expect("stdout"))
    });
    let append = |path: PathBuf, text: String| {
        use std::io::Write as _;
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .expect("open");
        file.write_all(text.as_bytes()).expect("append");
    };
    // Appended until seen: `-f` may start after a first append.
    let mut seen = Vec::new();
    let deadline = Instant::now() + DEADLINE;
    while !(seen
        .iter()
        .any(|l: &String| l.starts_with("a: ") && l.ends_with("a live"))
        && seen.iter().any(|l| l == "b: b live"))
    {
        assert!(Instant::now() < deadline, "logs --all -f printed {seen:?}");
        append(logs.join(format!("a-{now}.log")), a_line(0, "a live"));
        append(logs.join(format!("Supervisor-{now}.log")), out(0, "b live"));
        let pause = std::time::Duration::from_millis(300);
        while let Ok(line) = follower.lines.recv_timeout(pause) {
            seen.push(line);
        }
    }
}

fn file_dates_follow_the_local_calendar_unless_log_time_is_utc() {
    use actors::output::dates::date;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    // 13 hours west before noon UTC (still yesterday there), east after (already tomorrow).
    let (tz, offset) = if now % 86_400 < 12 * 3600 {
        ("XXX+13", -13 * 3600)
    } else {
        ("XXX-13", 13 * 3600)
    };
    let day = |offset: i64| date(((now + offset).div_euclid(86_400)) as u64);
    assert_ne!(
        day(offset),
        day(0),
        "the zone was chosen to change the date"
    );
    for (log_time, expected) in [("", day(offset)), ("<logTime>utc</logTime>", day(0))] {
        let head = format!("<config>{log_time}</config>");
        let server = standin_server(
            "dated",
            &["--print-lines", "1"],
            r#"<output file="logs/{id}-{date}.log" timestamps="false"/>"#,
        );
        let mut daemon = Lines::start(
            &registry(&head, &server),
            &["--log-format", "text", "run"],
            &[("TZ", tz)],
        );
        daemon.wait("started", |line| line.contains("event=component_started"));
        let file = daemon.dir.path().join(format!("logs/dated-{expected}.log"));
        eventually(&format!("{} is written", file.display()), || {
            std::fs::read_to_string(&file).is_ok_and(|text| text.contains("line 1"))
        });
        let stamp = daemon.seen[0]
            .split(' ')
            .next()
            .unwrap_or_default()
            .to_string();
        match log_time {
            "" => assert!(
                stamp.ends_with(if offset < 0 { "-13:00" } else { "+13:00" }),
                "{stamp}"
            ),
            _ => assert!(stamp.ends_with('Z'), "{stamp}"),
        }
        let _ = daemon.stop();
    }
}

// ---------------------------------------------------------------------------------------------
// The systemd unit
// ---------------------------------------------------------------------------------------------

/// `systemd-analyze security --offline=true` of `unit`: the overall exposure (0 safe … 10).
fn exposure(unit: &Path) -> f64 {
    let output = Command::new("systemd-analyze")
        .args(["security", "--offline=true"])
        .arg(unit)
        .output()
        .expect("run systemd-analyze security");
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .find_map(|line| line.split_once("Overall exposure level for "))
        .and_then(|(_, rest)| rest.split_once(": "))
        .and_then(|(_, rest)| rest.split(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no exposure in {output:?}"))
}

fn the_unit_file_verifies_and_is_hardened() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let unit = std::fs::read_to_string(root.join("config/supervisor.service")).expect("unit");
    let analyze = Command::new("systemd-analyze").arg("--version").output();
    let Ok(version) = analyze else {
        skip!("no systemd-analyze (apt-get install systemd)");
    };
    let help = Command::new("systemd-analyze")
        .args(["security", "--help"])
        .output();
    if !help.is_ok_and(|h| String::from_utf8_lossy(&h.stdout).contains("--offline")) {
        skip!(
            "systemd-analyze too old for --offline: {:?}",
            String::from_utf8_lossy(&version.stdout)
        );
    }
    let dir = tempfile::tempdir().expect("tempdir");
    // The unit as installed: ExecStart= names a binary that exists, man finds the page.
    let placed = unit.replace("/opt/supervisor/bin/supervisor", supervisor_bin());
    let path = dir.path().join("supervisor.service");
    std::fs::write(&path, &placed).expect("unit copy");
    std::fs::create_dir_all(dir.path().join("man/man1")).expect("man folder");
    std::fs::copy(
        root.join("doc/supervisor.1"),
        dir.path().join("man/man1/supervisor.1"),
    )
    .expect("man page");
    let has_man = Command::new("man").arg("--version").output().is_ok();
    let mut verify = Command::new("systemd-analyze");
    verify.arg("verify").env("MANPATH", dir.path().join("man"));
    if !has_man {
        eprintln!("note: no man(1) here: the Documentation= page is not looked up");
        verify.arg("--man=no");
    }
    let verified = verify
        .arg(&path)
        .output()
        .expect("run systemd-analyze verify");
    assert!(
        verified.status.success() && verified.stderr.is_empty(),
        "{verified:?}"
    );
    let score = exposure(&path);
    assert!(score <= 5.0, "exposure {score}");
    // Control: the same unit without its sandbox scores as the unhardened one did.
    let bare: String = placed
        .split("# --- Sandbox")
        .next()
        .expect("a sandbox section")
        .to_string();
    let bare_path = dir.path().join("bare.service");
    std::fs::write(
        &bare_path,
        bare + "\n[Install]\nWantedBy=multi-user.target\n",
    )
    .unwrap();
    assert!(
        exposure(&bare_path) > 9.0,
        "the measurement tells hardened from not"
    );
}
