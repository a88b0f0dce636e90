//! Process hygiene end to end (research/reliability.md F1–F9, SPEC sections 2 and 3): stop
//! timeouts, process groups and grandchildren, parent-death, orphan reaping, a clean inherited
//! process state (descriptors, signals, session), verbatim arguments, environment, working
//! directory, privilege drop and failed spawns — on the real binary with real processes.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde_json::Value;
use testkit::*;

/// SIGPIPE's bit in the same masks.
const SIGPIPE_BIT: u64 = 1 << (libc::SIGPIPE - 1);

/// Kills the listed processes (SIGKILL) when dropped, so a failing test leaves nothing behind
/// that the daemon was supposed to take care of.
struct Leftovers(Vec<u32>);

impl Drop for Leftovers {
    fn drop(&mut self) {
        for &pid in &self.0 {
            if alive(pid) {
                let _ =
                    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), Signal::SIGKILL);
            }
        }
    }
}

/// Waits until component `id` (pid `parent`) has a standin grandchild that runs as
/// `--name ID-grandchild` (it has exec'd) and, with `ignore_term`, catches SIGTERM. Found
/// through /proc: the grandchild's stdout line goes to the daemon's stdout, which is /dev/null.
fn wait_for_grandchild(parent: u32, id: &str, ignore_term: bool) -> u32 {
    let name = format!("{id}-grandchild");
    let find = || {
        processes().into_iter().find(|p| {
            p.ppid == parent
                && proc_args(p.pid).get(1..3) == Some(&["--name".to_string(), name.clone()][..])
                && (!ignore_term || catches_sigterm(p.pid))
        })
    };
    eventually(&format!("{name} runs"), || find().is_some());
    find().expect("grandchild").pid
}

/// A field of a report that must be a hex mask.
fn mask(report: &Value, key: &str) -> u64 {
    let text = report[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} in {report}"));
    u64::from_str_radix(text, 16).unwrap_or_else(|_| panic!("{key} = {text}"))
}

/// The environment of a report as (name, value) pairs.
fn env_of(report: &Value) -> std::collections::BTreeMap<String, String> {
    report["env"]
        .as_object()
        .expect("env")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().expect("string").to_string()))
        .collect()
}

/// F5: a child that ignores SIGTERM cannot hold up a shutdown. After `stopTimeout` (and not
/// before) its group is SIGKILLed: `component_killed`, then `component_stopped`; exit code 0.
fn a_child_ignoring_sigterm_is_killed_after_the_stop_timeout() {
    let server = standin_server(
        "stubborn",
        &["--ignore-term"],
        "<stopTimeout>0.3</stopTimeout>",
    );
    let mut daemon = Daemon::start(&registry(FAST, &server));
    let pid = daemon.started_pid("stubborn");
    eventually("stubborn catches SIGTERM", || catches_sigterm(pid));
    assert!(alive(pid));
    daemon.signal(Signal::SIGTERM);
    let stopping = daemon.wait_event("component_stopping", "stubborn");
    assert_eq!(stopping["signal"], "SIGTERM");
    let killed = daemon.wait_event("component_killed", "stubborn");
    assert_eq!(killed["level"], "WARN");
    assert_eq!(pid_of(&killed), pid);
    let stopped = daemon.wait_event("component_stopped", "stubborn");
    assert_eq!(pid_of(&stopped), pid);
    assert_eq!(daemon.wait_exit(), Some(0));
    assert!(!alive(pid), "{pid} is gone");
    let waited = timestamp_secs(&killed) - timestamp_secs(&stopping);
    // The timer runs on the monotonic clock and the timestamps are wall-clock microseconds:
    // allow 10 ms for the two clocks' rounding, nothing more.
    assert!(
        waited >= 0.29,
        "killed {waited:.3} s after the stop signal, before the 0.3 s stopTimeout"
    );
    assert!(
        waited < 2.0,
        "killed {waited:.3} s after the stop signal: far later than the 0.3 s stopTimeout"
    );
}

/// F2: no process a child started outlives the child's stop. A grandchild in the child's
/// process group is gone once the daemon has stopped; `ignore_term` makes both of them ignore
/// SIGTERM, so only the group SIGKILL after the stop timeout can end them.
fn stop_leaves_no_process_of_the_group(ignore_term: bool) {
    let mut args = vec!["--grandchild"];
    if ignore_term {
        args.push("--ignore-term");
    }
    let server = standin_server("family", &args, "<stopTimeout>0.3</stopTimeout>");
    // The control, stopped with family: it ignores SIGTERM, so its kill is always logged.
    let control = killed_on_stop("control", "");
    let mut daemon = Daemon::start(&registry(FAST, &[control, server].concat()));
    let [control, pid] = daemon.started_pids(&["control", "family"])[..] else {
        unreachable!()
    };
    let grandchild = wait_for_grandchild(pid, "family", ignore_term);
    let _leftovers = Leftovers(vec![pid, grandchild, control]);
    assert_eq!(proc_stat(grandchild).expect("grandchild").pgid, pid);
    assert!(alive(grandchild) && live_group_members(pid).contains(&grandchild));
    eventually("control catches SIGTERM", || catches_sigterm(control));
    if ignore_term {
        eventually("family catches SIGTERM", || catches_sigterm(pid));
    }
    assert_eq!(daemon.stop(), Some(0));
    // The group is signalled before the daemon exits; a SIGKILLed process may need a moment
    // of CPU to finish dying, nothing more.
    eventually_within(
        "no process of the group is left",
        Duration::from_secs(1),
        || live_group_members(pid).is_empty(),
    );
    assert!(!alive(grandchild), "grandchild {grandchild} is gone");
    let killed = !events_of(&daemon, "component_killed", "family").is_empty();
    assert_eq!(killed, ignore_term, "SIGKILL only when SIGTERM was ignored");
    assert_eq!(events_of(&daemon, "component_killed", "control").len(), 1);
}

/// F2: a grandchild in the component's process group does not survive a daemon shutdown.
fn grandchildren_are_gone_after_stop() {
    stop_leaves_no_process_of_the_group(false);
}

/// F2 + F5: a grandchild that, like its parent, ignores SIGTERM is SIGKILLed with the group
/// after the stop timeout.
fn grandchildren_ignoring_sigterm_are_killed_with_the_group() {
    stop_leaves_no_process_of_the_group(true);
}

/// F2 + F9: when a component's main process dies, the reaper kills what is left of its process
/// group (while the dead leader is still a zombie, so the group id cannot be recycled), and the
/// restarted component leads a new group of its own.
fn a_dead_leaders_group_is_killed_and_the_restart_gets_a_new_group() {
    let server = standin_server("leader", &["--grandchild"], NO_BACKOFF);
    let mut daemon = Daemon::start(&registry(FAST, &server));
    let pid = daemon.started_pid("leader");
    let grandchild = wait_for_grandchild(pid, "leader", false);
    let mut leftovers = Leftovers(vec![grandchild]);
    assert_eq!(proc_stat(grandchild).expect("grandchild").pgid, pid);
    assert!(alive(grandchild) && live_group_members(pid).contains(&grandchild));
    kill(pid, Signal::SIGKILL);
    let exited = daemon.wait_event("component_exited", "leader");
    assert_eq!(exited["signal"], libc::SIGKILL);
    // Nothing else would kill it: its parent died by SIGKILL without a word.
    eventually_within(
        "the dead leader's grandchild is killed",
        Duration::from_secs(1),
        || !alive(grandchild),
    );
    assert!(live_group_members(pid).is_empty(), "old group {pid} empty");
    let new_pid = daemon.started_pid("leader");
    assert_ne!(new_pid, pid);
    let new_grandchild = wait_for_grandchild(new_pid, "leader", false);
    leftovers.0.push(new_grandchild);
    let leader = proc_stat(new_pid).expect("new leader");
    assert_eq!(leader.pgid, new_pid, "the restart leads its own group");
    assert_eq!(leader.sid, new_pid, "and its own session");
    assert_eq!(
        proc_stat(new_grandchild).expect("new grandchild").pgid,
        new_pid
    );
    assert_eq!(daemon.stop(), Some(0));
}

/// F3: the daemon dying by SIGKILL takes its children along (PR_SET_PDEATHSIG(SIGKILL) in
/// every child), within a second.
fn children_die_with_a_sigkilled_daemon() {
    let ids: Vec<String> = (1..=5).map(|i| format!("orphan{i}")).collect();
    let servers: String = ids.iter().map(|id| idle(id)).collect();
    let mut daemon = Daemon::start(&registry(FAST, &servers));
    let pids = daemon.started_pids(&ids.iter().map(String::as_str).collect::<Vec<_>>());
    let _leftovers = Leftovers(pids.clone());
    assert!(pids.iter().all(|&pid| alive(pid)));
    kill(daemon.pid(), Signal::SIGKILL);
    let killed_at = Instant::now();
    eventually("every child of the killed daemon is gone", || {
        pids.iter().all(|&pid| !alive(pid))
    });
    let took = killed_at.elapsed();
    assert!(
        took < Duration::from_secs(1),
        "children outlived the daemon by {took:?}"
    );
    assert_eq!(daemon.wait_exit(), None, "the daemon died by a signal");
}

/// F1: the daemon is a child subreaper and reaps adopted orphans. A grandchild that escaped
/// the component's group (`setsid`) is re-parented to the daemon when the component dies (and,
/// where the daemon has cgroups, killed with it); once it dies, it does not stay a zombie.
fn zombies_of_adopted_orphans_are_reaped() {
    let server = standin_server(
        "escaper",
        &["--grandchild-setsid"],
        "<restart>temporary</restart>",
    );
    let servers = [server, idle("witness")].concat();
    let mut daemon = Daemon::start(&registry(FAST, &servers));
    let [pid, witness] = daemon.started_pids(&["escaper", "witness"])[..] else {
        unreachable!()
    };
    let grandchild = wait_for_grandchild(pid, "escaper", false);
    let _leftovers = Leftovers(vec![grandchild]);
    assert!(in_proc_table(grandchild));
    let escaped = proc_stat(grandchild).expect("grandchild");
    assert_eq!(
        escaped.sid, grandchild,
        "the grandchild leads its own session"
    );
    assert_ne!(escaped.pgid, pid);
    kill(pid, Signal::SIGKILL);
    daemon.wait_event("component_exited", "escaper");
    let daemon_pid = daemon.pid();
    eventually(
        "the orphan is re-parented to the daemon (or already reaped)",
        || proc_stat(grandchild).is_none_or(|p| p.ppid == daemon_pid),
    );
    if alive(grandchild) {
        // Process groups only (no cgroup2 here): outside the group, it escaped the kill.
        kill(grandchild, Signal::SIGKILL);
    }
    // `alive` counts a zombie as gone: look for the /proc entry itself.
    eventually("the orphan's zombie is reaped", || {
        !in_proc_table(grandchild)
    });
    assert!(alive(witness), "the daemon carries on");
    assert_eq!(daemon.stop(), Some(0));
}

/// Waits for `id`'s next failed start and checks that its error names `step`, the step the child
/// failed at (and why).
fn wait_spawn_failed_at(daemon: &mut Daemon, id: &str, step: &str) {
    let failed = daemon.wait_event("component_spawn_failed", id);
    assert!(
        failed["error"]
            .as_str()
            .is_some_and(|e| e.starts_with(step)),
        "{failed}"
    );
}

/// F2 with cgroups: a grandchild that left the component's process group with `setsid` cannot
/// leave its cgroup, so it dies when the component's main process dies, run after run (the
/// daemon keeps `cgroup.kill` open after the first), and with the component's stop. Skipped
/// where the host offers no writable cgroup2 hierarchy (there the process group is all there
/// is; see README).
fn a_setsid_escaper_is_stopped_with_its_component_where_cgroups_exist() {
    if testkit::skip::writable_cgroup2().is_none() {
        skip!("no writable cgroup2 hierarchy");
    }
    let server = standin_server("escaper", &["--grandchild-setsid"], NO_BACKOFF);
    let mut daemon = Daemon::start(&registry(FAST, &server));
    let mut pid = daemon.started_pid("escaper");
    let mut escapers = Vec::new();
    for run in 1..=3 {
        let grandchild = wait_for_grandchild(pid, "escaper", false);
        escapers.push(grandchild);
        assert!(alive(grandchild));
        assert_ne!(
            proc_stat(grandchild).expect("grandchild").pgid,
            pid,
            "it left the group"
        );
        if run == 3 {
            break;
        }
        kill(pid, Signal::SIGKILL);
        eventually(&format!("escaper {run} dies with its component"), || {
            !alive(grandchild)
        });
        pid = daemon.started_pid("escaper");
    }
    let _leftovers = Leftovers(escapers.clone());
    assert_eq!(daemon.stop(), Some(0));
    let last = escapers[2];
    eventually("the last escaper is gone with the stop", || !alive(last));
}

/// The daemon keeps a component's cgroup files open between starts. An operator may remove the
/// cgroup of a component that is down (as the shutdown's removal thread may, racing a restart):
/// the next start finds it gone, makes it again and starts in the new one, with no failed start.
fn a_component_whose_cgroup_was_removed_gets_it_back() {
    let Some(mount) = testkit::skip::writable_cgroup2() else {
        skip!("no writable cgroup2 hierarchy");
    };
    let cgroup_of = |pid: u32| {
        let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("cgroup");
        let relative = own.lines().find_map(|l| l.strip_prefix("0::")).expect("v2");
        Path::new(&mount).join(relative.trim_start_matches('/'))
    };
    let inode = |path: &Path| std::fs::metadata(path).map(|m| m.ino()).ok();
    let server = standin_server(
        "phoenix",
        &["--crash-after", "0.3"],
        r#"<backoff initial="1" max="1"/>"#,
    );
    let mut daemon = Daemon::start(&registry(FAST, &server));
    let cgroup = cgroup_of(daemon.started_pid("phoenix"));
    assert!(cgroup.ends_with("phoenix"), "{}", cgroup.display());
    let before = inode(&cgroup).expect("the cgroup");
    daemon.wait_event("restart_scheduled", "phoenix");
    eventually("the empty cgroup is removed", || {
        std::fs::remove_dir(&cgroup).is_ok()
    });
    assert_eq!(inode(&cgroup), None, "removed");
    let again = daemon.started_pid("phoenix");
    assert_eq!(cgroup_of(again), cgroup, "the same cgroup, made again");
    let now = inode(&cgroup);
    assert!(
        now.is_some() && now != Some(before),
        "a new cgroup: {now:?}"
    );
    assert_eq!(daemon.stop(), Some(0));
    assert_eq!(daemon.count("component_spawn_failed"), 0, "no failed start");
}

/// The daemon raises its soft open-file limit to the hard one (it holds a pipe per captured
/// stream), but its children get a soft limit of 1024 (here capped at the hard limit, 120) under
/// the daemon's hard limit, as under systemd; and a hard limit below what the registry needs is
/// said at start-up.
fn children_get_the_open_file_limit_the_daemon_was_started_with() {
    let dir = tempfile::tempdir().expect("tempdir");
    let limits_path = dir.path().join("limits.txt");
    let script = r#"grep '^Max open files' /proc/$$/limits > "$0.tmp" && mv "$0.tmp" "$0" && exec sleep 1000"#;
    let shell = format!(
        "<server id=\"shell\"><executable>/bin/sh</executable><arguments><argument>-c</argument><argument>{}</argument><argument>{}</argument></arguments></server>",
        xml_escape(script),
        xml_escape(limits_path.to_str().unwrap())
    );
    let registry_path = dir.path().join("SupervisorRegistry.xml");
    std::fs::write(&registry_path, registry(FAST, &shell)).unwrap();
    let mut daemon = Daemon::start_wrapped(dir, registry_path, &["prlimit", "--nofile=100:120"]);
    let low = daemon.wait_for("the low limit is reported", |e| {
        e["event"] == "open_file_limit_low"
    });
    daemon.started_pid("shell");
    assert_eq!(low["limit"], 120, "{low}");
    assert!(low["needed"].as_u64().unwrap() > 120, "{low}");
    eventually("the shell reported its limits", || limits_path.exists());
    let child = std::fs::read_to_string(&limits_path).unwrap();
    let numbers = |line: &str| -> Vec<String> {
        line.split_whitespace()
            .filter(|word| word.parse::<u64>().is_ok())
            .map(str::to_string)
            .collect()
    };
    assert_eq!(numbers(&child), ["120", "120"], "{child}");
    let own = std::fs::read_to_string(format!("/proc/{}/limits", daemon.pid())).unwrap();
    let own = own
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    assert_eq!(numbers(own), ["120", "120"], "{own}");
    assert_eq!(daemon.stop(), Some(0));
}

/// F7 + F8 + F2: a child starts clean. It holds only descriptors 0, 1 and 2, no blocked,
/// ignored or pending signal, and leads its own session and process group.
fn a_child_sees_only_fds_0_1_2_and_a_clean_signal_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    let report_path = dir.path().join("clean.json");
    let report_arg = report_path.to_str().unwrap();
    // A C program (`sleep`) that sets no signal state of its own: unlike standin, nothing in
    // it ignores SIGPIPE, so its SigIgn is what the daemon handed down. Its state is read from
    // outside once it runs (a shell reporting on itself raced its own fork of the reader, with
    // every signal blocked for the while).
    let sleeper = r#"<server id="sleeper"><executable>sleep</executable><arguments><argument>1000</argument></arguments></server>"#;
    let servers = [
        standin_server("clean", &["--report", report_arg], ""),
        sleeper.to_string(),
    ]
    .concat();
    let mut daemon = Daemon::start_in(dir, &registry(FAST, &servers));
    let [pid, sleeper] = daemon.started_pids(&["clean", "sleeper"])[..] else {
        unreachable!()
    };
    let report = read_json_when_ready(&report_path);
    assert_eq!(report["pid"], pid);
    assert_eq!(report["ppid"], daemon.pid());
    assert_eq!(report["fds"], serde_json::json!([0, 1, 2]), "{report}");
    assert_eq!(report["sid"], pid, "own session");
    assert_eq!(report["pgid"], pid, "own process group");
    assert_eq!(mask(&report, "sig_blk"), 0, "no blocked signal: {report}");
    assert_eq!(mask(&report, "sig_pnd"), 0, "no pending signal: {report}");

    eventually("sleep runs", || {
        std::fs::read_to_string(format!("/proc/{sleeper}/comm")).is_ok_and(|c| c == "sleep\n")
    });
    let status = std::fs::read_to_string(format!("/proc/{sleeper}/status")).expect("status");
    for key in ["SigBlk", "SigPnd", "ShdPnd"] {
        assert_eq!(
            status_mask(sleeper, key),
            Some(0),
            "{key} of sleep:\n{status}"
        );
    }

    // Ignored signals last, with the daemon's own dispositions for the diagnosis: a disposition
    // the daemon inherited as ignored must not reach its children either.
    let daemon_ignores = status_mask(daemon.pid(), "SigIgn").expect("daemon SigIgn");
    // The Rust runtime inside standin sets SIGPIPE to ignored before `main`, so bit 0x1000 of
    // standin's own SigIgn is set whatever it inherited and proves nothing: every other bit must
    // be clear. `sleep` has no such runtime: its SigIgn must be 0, SIGPIPE included.
    assert_eq!(
        mask(&report, "sig_ign") & !SIGPIPE_BIT,
        0,
        "standin ignores no signal but SIGPIPE (set by its own runtime); the daemon's SigIgn is \
         {daemon_ignores:016x}; report: {report}"
    );
    assert_eq!(
        status_mask(sleeper, "SigIgn"),
        Some(0),
        "sleep ignores no signal; the daemon's SigIgn is {daemon_ignores:016x}:\n{status}"
    );
    assert_eq!(daemon.stop(), Some(0));
}

/// S-4: no shell, ever. An argument with `;`, `$(...)`, backquotes and spaces reaches the
/// child verbatim as one argv element, and nothing in it is executed.
fn arguments_reach_the_child_verbatim_without_a_shell() {
    let unique = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let pwned = format!("/tmp/pwned-{unique}");
    let nasty = format!(
        "x; touch {pwned} $(touch {pwned}) `touch {pwned}` && id | sh 'single'  \"double\"  two  spaces $HOME * ~"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let report_path = dir.path().join("argv.json");
    let report_arg = report_path.to_str().unwrap().to_string();
    let server = standin_server("argv", &["--name", &nasty, "--report", &report_arg], "");
    let mut daemon = Daemon::start_in(dir, &registry(FAST, &server));
    daemon.started_pid("argv");
    let report = read_json_when_ready(&report_path);
    assert_eq!(
        report["args"],
        serde_json::json!(["--name", "argv", "--name", nasty, "--report", report_arg]),
    );
    assert_eq!(report["name"], nasty.as_str());
    assert_eq!(daemon.stop(), Some(0));
    assert!(
        !Path::new(&pwned).exists(),
        "{pwned} was created: a shell ran"
    );
}

/// S-3: `<environment inherit="false">` starts from an empty environment: the child sees
/// exactly its variables and `SUPERVISOR_COMPONENT` (and `TMPDIR` when `<config><temp>` is set:
/// the absolute temp path, resolved against the registry's folder).
fn an_uninherited_environment_is_exactly_the_configured_variables() {
    for temp in [false, true] {
        let dir = tempfile::tempdir().expect("tempdir");
        let report_path = dir.path().join("env.json");
        let temp_dir = dir.path().join("scratch/tmp");
        let settings =
            r#"<environment inherit="false"><variable name="A">1</variable></environment>"#;
        let server = standin_server(
            "bare",
            &["--report", report_path.to_str().unwrap()],
            settings,
        );
        let head = match temp {
            true => format!("<config><temp>scratch/tmp</temp></config>{FAST}"),
            false => FAST.to_string(),
        };
        let mut daemon = Daemon::start_in(dir, &registry(&head, &server));
        daemon.started_pid("bare");
        let report = read_json_when_ready(&report_path);
        let mut expected = std::collections::BTreeMap::from([
            ("A".to_string(), "1".to_string()),
            ("SUPERVISOR_COMPONENT".to_string(), "bare".to_string()),
        ]);
        if temp {
            expected.insert("TMPDIR".into(), temp_dir.to_str().unwrap().into());
            assert!(
                temp_dir.is_dir(),
                "the daemon created {}",
                temp_dir.display()
            );
        }
        assert_eq!(env_of(&report), expected, "temp configured: {temp}");
        assert_eq!(daemon.stop(), Some(0));
    }
}

/// S-3 and SPEC section 2: by default the child inherits the daemon's environment, gets its
/// configured variables on top and `SUPERVISOR_COMPONENT` set to its id. A configured variable
/// the daemon has too (`HOME`) replaces it: the raw environment (`/proc/PID/environ`) holds
/// it once, with the configured value, twice over restarts (each start lays the array out
/// anew).
fn an_inherited_environment_has_the_daemons_variables_and_the_component_id() {
    let dir = tempfile::tempdir().expect("tempdir");
    let report_path = dir.path().join("env.json");
    let server = standin_server(
        "inheriting",
        &["--report", report_path.to_str().unwrap()],
        r#"<environment><variable name="A">1</variable><variable name="HOME">/configured</variable></environment>"#,
    );
    let mut daemon = Daemon::start_in(dir, &registry(FAST, &server));
    let first = daemon.started_pid("inheriting");
    let once = |environment: &[String], name: &str| -> Vec<String> {
        let prefix = format!("{name}=");
        environment
            .iter()
            .filter(|v| v.starts_with(&prefix))
            .cloned()
            .collect()
    };
    let mut pid = first;
    for start in 1..=2 {
        let environment = proc_environment(pid);
        assert_eq!(
            once(&environment, "HOME"),
            ["HOME=/configured"],
            "start {start}"
        );
        assert_eq!(
            once(&environment, "SUPERVISOR_COMPONENT"),
            ["SUPERVISOR_COMPONENT=inheriting"],
            "start {start}"
        );
        assert_eq!(
            once(&environment, "PATH").len(),
            1,
            "start {start}: the daemon's PATH, once"
        );
        kill(pid, Signal::SIGKILL);
        pid = daemon.started_pid("inheriting");
    }
    let env = env_of(&read_json_when_ready(&report_path));
    // The harness runs the daemon with this test's environment.
    let path = std::env::var("PATH").expect("the test has a PATH");
    assert_eq!(env.get("PATH"), Some(&path));
    assert_eq!(env.get("A").map(String::as_str), Some("1"));
    assert_eq!(
        env.get("SUPERVISOR_COMPONENT").map(String::as_str),
        Some("inheriting")
    );
    assert_eq!(daemon.stop(), Some(0));
}

/// SPEC section 2: a relative `workingDirectory` resolves against the registry's folder and is
/// the child's current directory.
fn a_relative_working_directory_is_resolved_against_the_registry() {
    let dir = tempfile::tempdir().expect("tempdir");
    let work = dir.path().join("work/here");
    std::fs::create_dir_all(&work).expect("mkdir");
    let report_path = dir.path().join("cwd.json");
    let server = standin_server(
        "worker",
        &["--report", report_path.to_str().unwrap()],
        "<workingDirectory>work/here</workingDirectory>",
    );
    let mut daemon = Daemon::start_in(dir, &registry(FAST, &server));
    daemon.started_pid("worker");
    let report = read_json_when_ready(&report_path);
    let expected = std::fs::canonicalize(&work).expect("canonical");
    assert_eq!(report["cwd"], expected.to_str().unwrap());
    assert_eq!(daemon.stop(), Some(0));
}

/// A working directory that does not exist is a failed start whose error names the step that
/// failed in the child; the daemon carries on.
fn a_missing_working_directory_is_a_failed_start_naming_chdir() {
    let server = standin_server(
        "lost",
        &[],
        r#"<workingDirectory>/nonexistent/dir</workingDirectory><backoff initial="0.05"/>"#,
    );
    let mut daemon = Daemon::start(&registry(FAST, &[server, idle("steady")].concat()));
    wait_spawn_failed_at(&mut daemon, "lost", "chdir: No such file or directory");
    daemon.wait_event("component_spawn_failed", "lost");
    assert!(alive(daemon.pid()), "the daemon keeps running");
    assert_eq!(daemon.stop(), Some(0));
}

/// S-2: `<user>` drops to that user completely: real, effective, saved and filesystem uid and
/// gid all the user's, supplementary groups exactly the user's (never root's group 0).
fn a_child_runs_as_its_user_with_that_users_groups() {
    testkit::skip::require_root("to drop to another user");
    let nobody = nix::unistd::User::from_name("nobody")
        .expect("passwd")
        .expect("a user nobody");
    let name = std::ffi::CString::new("nobody").unwrap();
    let mut groups: Vec<u64> = nix::unistd::getgrouplist(&name, nobody.gid)
        .expect("getgrouplist")
        .iter()
        .map(|g| u64::from(g.as_raw()))
        .collect();
    groups.sort_unstable();
    groups.dedup();
    let dir = tempfile::tempdir().expect("tempdir");
    // nobody must be able to reach and write its report.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let out = dir.path().join("out");
    std::fs::create_dir(&out).expect("mkdir");
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let report_path = out.join("user.json");
    let server = standin_server(
        "dropped",
        &["--report", report_path.to_str().unwrap()],
        "<user>nobody</user>",
    );
    let mut daemon = Daemon::start_in(dir, &registry(FAST, &server));
    daemon.started_pid("dropped");
    let report = read_json_when_ready(&report_path);
    let uid = u64::from(nobody.uid.as_raw());
    let gid = u64::from(nobody.gid.as_raw());
    assert_eq!(report["uid"], serde_json::json!(vec![uid; 4]), "{report}");
    assert_eq!(report["gid"], serde_json::json!(vec![gid; 4]), "{report}");
    let mut reported: Vec<u64> = report["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| g.as_u64().expect("gid"))
        .collect();
    reported.sort_unstable();
    assert_eq!(reported, groups, "nobody's supplementary groups");
    assert!(!reported.contains(&0), "root's group is dropped");
    let env = env_of(&report);
    assert_eq!(env.get("USER").map(String::as_str), Some("nobody"));
    assert_eq!(env.get("LOGNAME").map(String::as_str), Some("nobody"));
    assert_eq!(
        env.get("HOME"),
        Some(&nobody.dir.to_string_lossy().into_owned())
    );
    assert_eq!(daemon.stop(), Some(0));
}

/// F10/F4: a command that cannot be spawned is a failed start, retried with a growing backoff
/// (`component_spawn_failed`, then `restart_scheduled`), not a crash of the daemon: the daemon
/// keeps running — spawn failures are paced by backoff, and a root with no `<restartStrategy>`
/// never gives up — and the other components are not touched.
fn a_spawn_failure_is_retried_with_backoff(dir: tempfile::TempDir, executable: &str, error: &str) {
    let broken = format!(
        "<server id=\"broken\"><executable>{}</executable><backoff initial=\"0.02\" multiplier=\"2\" max=\"0.08\"/></server>",
        xml_escape(executable)
    );
    // No `<restartStrategy>`: the root never gives up.
    let servers = [idle("steady"), broken].concat();
    let mut daemon = Daemon::start_in(dir, &registry("", &servers));
    let steady = daemon.started_pid("steady");
    let retries = 7;
    eventually(
        &format!("{retries} restarts of broken are scheduled"),
        || events_of(&daemon, "restart_scheduled", "broken").len() >= retries,
    );
    let scheduled = events_of(&daemon, "restart_scheduled", "broken");
    let delays: Vec<u64> = scheduled[..retries]
        .iter()
        .map(|e| e["delay_ms"].as_u64().expect("delay_ms"))
        .collect();
    assert_eq!(delays, [20, 40, 80, 80, 80, 80, 80]);
    let attempts: Vec<u64> = scheduled[..retries]
        .iter()
        .map(|e| e["attempt"].as_u64().expect("attempt"))
        .collect();
    assert_eq!(attempts, [1, 2, 3, 4, 5, 6, 7]);
    assert!(scheduled.iter().all(|e| e["reason"] == "exit"));
    // Each scheduled restart follows its own failed spawn.
    let names: Vec<String> = daemon
        .events()
        .iter()
        .filter(|e| e["component"] == "broken")
        .map(|e| e["event"].as_str().unwrap_or("").to_string())
        .filter(|n| n == "component_spawn_failed" || n == "restart_scheduled")
        .take(2 * retries)
        .collect();
    let expected: Vec<&str> = ["component_spawn_failed", "restart_scheduled"]
        .iter()
        .copied()
        .cycle()
        .take(2 * retries)
        .collect();
    assert_eq!(names, expected);
    let failed = &events_of(&daemon, "component_spawn_failed", "broken")[0];
    assert!(
        failed["error"]
            .as_str()
            .is_some_and(|e| e.starts_with(error)),
        "the failed step and the reason are logged: {failed}"
    );
    assert!(events_of(&daemon, "component_started", "broken").is_empty());
    // The daemon and the other component carry on untouched.
    assert!(alive(daemon.pid()), "the daemon keeps running");
    assert!(alive(steady), "steady keeps running");
    assert_eq!(events_of(&daemon, "component_started", "steady").len(), 1);
    assert!(events_of(&daemon, "component_exited", "steady").is_empty());
    let names = daemon.names();
    for event in ["intensity_exceeded", "supervisor_stopping"] {
        assert!(!names.iter().any(|n| n == event), "no {event}");
    }
    assert_eq!(daemon.stop(), Some(0));
    assert!(daemon.names().iter().any(|n| n == "supervisor_stopping"));
}

/// A missing executable is a failed start with backoff; the daemon and its other components
/// carry on.
fn a_missing_executable_is_a_failed_start_with_backoff() {
    a_spawn_failure_is_retried_with_backoff(
        tempfile::tempdir().expect("tempdir"),
        "/nonexistent/x",
        "execve: No such file or directory",
    );
}

/// A file without execute permission is a failed start with backoff; the daemon and its other
/// components carry on.
fn a_non_executable_file_is_a_failed_start_with_backoff() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("not-executable");
    std::fs::write(&file, "#!/bin/sh\nexit 0\n").expect("write");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let executable = file.to_str().unwrap().to_string();
    a_spawn_failure_is_retried_with_backoff(dir, &executable, "execve: Permission denied");
}

/// F5: a stopped (SIGSTOPped) child is still stopped by a shutdown. The kernel does not deliver
/// SIGTERM to a stopped process; the daemon sends SIGCONT after the stop signal, so SIGTERM
/// takes effect at once and no SIGKILL is needed (`stopTimeout` is long).
fn a_sigstopped_child_is_stopped_by_a_shutdown_without_a_kill() {
    let server = standin_server("frozen", &[], "<stopTimeout>5</stopTimeout>");
    let mut daemon = Daemon::start(&registry(FAST, &server));
    let pid = daemon.started_pid("frozen");
    let _leftovers = Leftovers(vec![pid]);
    kill(pid, Signal::SIGSTOP);
    eventually("frozen is stopped", || {
        proc_stat(pid).is_some_and(|p| p.state == 'T')
    });
    assert!(alive(pid), "a stopped process is alive");
    let asked = Instant::now();
    assert_eq!(daemon.stop(), Some(0));
    let took = asked.elapsed();
    assert!(
        took < Duration::from_secs(3),
        "shutdown took {took:?}: the stop timeout (5 s) ran out"
    );
    assert!(!alive(pid), "{pid} is gone");
    let stopped = daemon.wait_event("component_stopped", "frozen");
    assert_eq!(pid_of(&stopped), pid);
    assert!(
        events_of(&daemon, "component_killed", "frozen").is_empty(),
        "SIGTERM took effect without SIGKILL"
    );
}

/// A component that restarts during a shutdown, before the shutdown's stop reaches it (its group
/// is stopped after another group's slow stop), keeps its new process until that stop: the new
/// process gets SIGTERM (its trap writes `term`), is not killed with its cgroup when the old
/// process's cgroup is retired, and is not restarted again.
fn a_component_restarted_during_a_shutdown_keeps_its_process_until_its_stop() {
    let dir = tempfile::tempdir().expect("tempdir");
    let said = dir.path().join("said");
    let script = format!(
        "trap 'echo term >> {}; exit 0' TERM; while :; do sleep 0.05; done",
        said.display()
    );
    let victim = format!(
        "<server id=\"victim\"><executable>/bin/sh</executable><arguments>\
         <argument>-c</argument><argument>{}</argument></arguments></server>",
        xml_escape(&script)
    );
    let stubborn = standin_server(
        "stubborn",
        &["--ignore-term"],
        "<stopTimeout>1</stopTimeout>",
    );
    let servers = format!(
        "<group id=\"early\"><startPriority>1</startPriority>{victim}</group>\
         <group id=\"late\"><startPriority>2</startPriority>{stubborn}</group>"
    );
    let mut daemon = Daemon::start_in(dir, &registry(FAST, &servers));
    let first = daemon.started_pid("victim");
    let stubborn = daemon.started_pid("stubborn");
    eventually("stubborn ignores SIGTERM", || {
        procfs::catches_sigterm(stubborn)
    });
    daemon.signal(Signal::SIGTERM);
    // The late group stops first, for a second: the early one is not told yet.
    daemon.wait_event("component_stopping", "stubborn");
    if nix::sys::signal::kill(nix::unistd::Pid::from_raw(first as i32), Signal::SIGKILL).is_err() {
        let lines: Vec<String> = daemon.events().iter().map(Value::to_string).collect();
        panic!("{first} was gone before the kill:\n{}", lines.join("\n"));
    }
    let second = daemon.started_pid("victim");
    assert_ne!(second, first, "restarted during the shutdown");
    assert_eq!(daemon.wait_exit(), Some(0));
    daemon.wait_any("supervisor_stopped");
    let said = std::fs::read_to_string(daemon.path().join("said")).unwrap_or_default();
    assert_eq!(said, "term\n", "the new process got its SIGTERM, once");
    assert_eq!(events_of(&daemon, "component_started", "victim").len(), 2);
    // From the shutdown's own stop: it was asked to stop, and stopped, not exited unasked.
    let stopping = events_of(&daemon, "component_stopping", "victim");
    assert_eq!(pid_of(&stopping[0]), second, "{stopping:?}");
    let stopped = events_of(&daemon, "component_stopped", "victim");
    assert_eq!(stopped.iter().map(pid_of).collect::<Vec<_>>(), [second]);
    assert!(!alive(second), "{second} is gone");
}

/// The tests of this module, in file order, for the harness of main.rs.
pub const TESTS: &[testkit::harness::Test] = testkit::tests![
    a_child_ignoring_sigterm_is_killed_after_the_stop_timeout,
    grandchildren_are_gone_after_stop,
    grandchildren_ignoring_sigterm_are_killed_with_the_group,
    a_dead_leaders_group_is_killed_and_the_restart_gets_a_new_group,
    children_die_with_a_sigkilled_daemon,
    zombies_of_adopted_orphans_are_reaped,
    a_setsid_escaper_is_stopped_with_its_component_where_cgroups_exist,
    a_component_whose_cgroup_was_removed_gets_it_back,
    children_get_the_open_file_limit_the_daemon_was_started_with,
    a_child_sees_only_fds_0_1_2_and_a_clean_signal_state,
    arguments_reach_the_child_verbatim_without_a_shell,
    an_uninherited_environment_is_exactly_the_configured_variables,
    an_inherited_environment_has_the_daemons_variables_and_the_component_id,
    a_relative_working_directory_is_resolved_against_the_registry,
    a_missing_working_directory_is_a_failed_start_naming_chdir,
    a_child_runs_as_its_user_with_that_users_groups,
    a_missing_executable_is_a_failed_start_with_backoff,
    a_non_executable_file_is_a_failed_start_with_backoff,
    a_sigstopped_child_is_stopped_by_a_shutdown_without_a_kill,
    a_component_restarted_during_a_shutdown_keeps_its_process_until_its_stop,
];
