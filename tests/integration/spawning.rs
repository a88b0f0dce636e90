//! How children are created (SPEC section 3, README "Performance"): born in their component's
//! cgroup with `clone3(CLONE_INTO_CGROUP)`, and the `clone(2)` + `cgroup.procs` path the daemon
//! falls back to when `clone3` is refused (forced here with `SUPERVISOR_NO_CLONE3`).

use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use nix::sys::signal::Signal;
use testkit::*;

/// The cgroup2 directory of process `pid`, below `mount`.
fn cgroup_of(mount: &Path, pid: u32) -> PathBuf {
    let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("cgroup");
    let relative = own.lines().find_map(|l| l.strip_prefix("0::")).expect("v2");
    mount.join(relative.trim_start_matches('/'))
}

/// Whether something wrote `cgroup.procs` since the last call (an inotify IN_MODIFY: every
/// successful write(2) raises one; identical events queued in a row merge, so this is read after
/// each restart).
fn written(watch: &Inotify) -> bool {
    match watch.read_events() {
        Ok(events) => !events.is_empty(),
        Err(Errno::EAGAIN) => false,
        Err(errno) => panic!("reading inotify events: {errno}"),
    }
}

/// With `clone3`, no restart writes the component's `cgroup.procs`, yet every replacement runs in
/// the component's cgroup: it was born there, so it was in it from its first instruction. The
/// fallback (clone3 turned off), in the same test, joins by writing `cgroup.procs` once a start
/// (the positive control: the watch does see the writes) and still puts every child in its
/// cgroup. The daemon says once which way it creates children.
fn children_are_born_in_their_cgroup_and_the_fallback_still_joins_it() {
    let Some(mount) = testkit::skip::writable_cgroup2().map(PathBuf::from) else {
        skip!("no writable cgroup2 hierarchy");
    };
    const RESTARTS: usize = 4;
    let fallback: &[&str] = &["env", "SUPERVISOR_NO_CLONE3=1"];
    for (wrapper, mode, writes) in [(&[][..], "clone3", 0), (fallback, "clone", RESTARTS)] {
        let dir = tempfile::tempdir().expect("tempdir");
        let registry_path = dir.path().join("SupervisorRegistry.xml");
        let servers = standin_server("born", &[], NO_BACKOFF);
        std::fs::write(&registry_path, registry(FAST, &servers)).expect("registry");
        let mut daemon = Daemon::start_wrapped(dir, registry_path, wrapper);
        let announced = daemon.wait_any("spawn_mode");
        assert_eq!(announced["mode"], mode, "{announced}");
        assert_eq!(announced["cgroups"], true, "{announced}");
        let mut pid = daemon.started_pid("born");
        let cgroup = cgroup_of(&mount, pid);
        assert!(cgroup.ends_with("born"), "{}", cgroup.display());
        let watch = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC).expect("inotify");
        watch
            .add_watch(&cgroup.join("cgroup.procs"), AddWatchFlags::IN_MODIFY)
            .expect("watch cgroup.procs");
        let mut seen = 0;
        for _ in 0..RESTARTS {
            kill(pid, Signal::SIGKILL);
            pid = daemon.started_pid("born");
            assert_eq!(cgroup_of(&mount, pid), cgroup, "{mode}: in its cgroup");
            seen += usize::from(written(&watch));
        }
        assert_eq!(seen, writes, "{mode}: restarts that wrote cgroup.procs");
        assert_eq!(daemon.count("spawn_mode"), 1, "logged once");
        assert_eq!(daemon.stop(), Some(0));
    }
}

/// A component whose cgroup had to be killed (its process left a `setsid` grandchild there)
/// gets a cgroup made anew, empty, at its next start: the replacement is born in it (a child
/// born in a killed cgroup would be SIGKILLed at once by this kernel, and one joining it by a
/// write would wait for the kernel), it lives, and nothing is restarted twice.
fn a_killed_cgroup_is_made_anew_for_the_next_start() {
    use std::os::unix::fs::MetadataExt;
    let Some(mount) = testkit::skip::writable_cgroup2().map(PathBuf::from) else {
        skip!("no writable cgroup2 hierarchy");
    };
    let leaving = standin_server(
        "leaving",
        &["--grandchild-setsid"],
        r#"<backoff initial="0.3"/>"#,
    );
    let mut daemon = Daemon::start(&registry(FAST, &leaving));
    let first = daemon.started_pid("leaving");
    daemon.wait_for("the grandchild left behind", |e| {
        e["event"] == "component_output"
            && e["line"]
                .as_str()
                .is_some_and(|l| l.starts_with("grandchild "))
    });
    let cgroup = cgroup_of(&mount, first);
    let inode = |path: &Path| std::fs::metadata(path).map(|m| m.ino()).ok();
    let before = inode(&cgroup).expect("the cgroup");
    kill(first, Signal::SIGKILL);
    let second = daemon.started_pid("leaving");
    assert_eq!(cgroup_of(&mount, second), cgroup, "in its cgroup");
    let now = inode(&cgroup).expect("the cgroup, made anew");
    assert_ne!(now, before, "the cgroup was made anew");
    // It runs its own code (a child killed at birth never prints).
    let said = format!("started pid={second}");
    daemon.wait_for("the replacement's first line", |e| {
        e["event"] == "component_output" && e["line"].as_str().is_some_and(|l| l.contains(&said))
    });
    assert!(alive(second), "not killed at birth");
    assert_eq!(events_of(&daemon, "component_started", "leaving").len(), 2);
    assert_eq!(daemon.stop(), Some(0));
}

/// A registry that needs more descriptors than the hard limit: `check` says how many it needs
/// and which settings lower the need (and still passes: the registry is valid), and `run` says
/// the same at start-up; under a limit that is enough, `check` says nothing of it.
fn check_and_run_say_how_many_descriptors_the_registry_needs() {
    let servers: String = (0..100)
        .map(|i| standin_server(&format!("c{i:03}"), &[], ""))
        .collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let registry_path = dir.path().join("SupervisorRegistry.xml");
    std::fs::write(&registry_path, registry(FAST, &servers)).expect("registry");
    let path = registry_path.to_string_lossy().into_owned();
    let check = |nofile: &str| {
        let mut command = std::process::Command::new("prlimit");
        command.args([nofile, supervisor_bin(), "--registry", &path, "check"]);
        run_bounded(command, DEADLINE)
    };
    let short = check("--nofile=100:120");
    assert!(short.status.success(), "{short:?}");
    let warning = String::from_utf8_lossy(&short.stderr);
    assert!(warning.contains("needs 840 open files"), "{warning}");
    assert!(warning.contains("stderr=\"merge\""), "{warning}");
    let enough = check("--nofile=1000:1000");
    assert!(enough.status.success(), "{enough:?}");
    assert!(
        !String::from_utf8_lossy(&enough.stderr).contains("open files"),
        "{enough:?}"
    );
    let mut daemon = Daemon::start_wrapped(dir, registry_path, &["prlimit", "--nofile=100:120"]);
    let low = daemon.wait_any("open_file_limit_low");
    let message = low["message"].as_str().unwrap_or_default();
    assert!(message.contains("needs 840 open files"), "{low}");
    assert!(message.contains("stderr=\"merge\""), "{low}");
}

/// The daemon's descriptor table is sized for what the registry needs before its first thread
/// starts, and a reload that needs more grows it at once on the registry's reader thread
/// (grown as descriptors open, under threads, each doubling waits for an RCU grace period and
/// stalls every thread opening a descriptor). Two components with no captured output need only
/// the daemon's own 640; 600 more that have not started (autostart false, two pipes each) need
/// 1,840. Each time the table holds the need while far fewer descriptors are open.
fn the_descriptor_table_is_sized_for_the_registry_at_start_and_reload() {
    let quiet = r#"<output stdout="null" stderr="null"/>"#;
    let servers: String = ["a", "b"]
        .iter()
        .map(|id| standin_server(id, &[], quiet))
        .collect();
    let hard = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .expect("limit")
        .1;
    if hard < 2048 {
        skip!("the hard RLIMIT_NOFILE ({hard}) is below what the reload needs (1,840)");
    }
    let mut daemon = Daemon::start(&registry(FAST, &servers));
    daemon.started_pids(&["a", "b"]);
    let sized = |daemon: &Daemon, need: u64| {
        let open = procfs::fd_count(daemon.pid());
        let table = procfs::fd_table_size(daemon.pid()).expect("FDSize");
        assert!(
            open < 64,
            "{open} descriptors open: the table is not grown by use"
        );
        assert!(
            table >= need,
            "a table of {table} slots for a need of {need}"
        );
    };
    sized(&daemon, 640);
    let at_start = procfs::fd_table_size(daemon.pid()).expect("FDSize");
    assert!(
        at_start < 1840,
        "the reload has a table to grow: {at_start}"
    );
    let later: String = (0..600)
        .map(|i| standin_server(&format!("later{i:03}"), &[], "<autostart>false</autostart>"))
        .collect();
    std::fs::write(&daemon.registry, registry(FAST, &(servers + &later))).expect("registry");
    daemon.signal(Signal::SIGHUP);
    daemon.wait_any("config_reloaded");
    sized(&daemon, 1840);
    assert_eq!(daemon.stop(), Some(0));
}

/// SIGCHLD is blocked in every thread of the daemon (the reaper reads it from a `signalfd`,
/// with no handler interrupting the actors' thread), and a child starts with no signal blocked:
/// a crash is still reaped and restarted.
fn sigchld_is_read_from_a_signalfd_by_every_thread_blocked() {
    let crashing = standin_server("crashing", &["--crash-after", "0.1"], NO_BACKOFF);
    let mut daemon = Daemon::start(&registry(FAST, &(crashing + &idle("calm"))));
    let pids = daemon.started_pids(&["calm", "crashing"]);
    let second = daemon.started_pid("crashing");
    assert_ne!(pids[1], second, "the crash was reaped and restarted");
    const SIGCHLD_BIT: u64 = 1 << (libc::SIGCHLD - 1);
    let tasks: Vec<u32> = std::fs::read_dir(format!("/proc/{}/task", daemon.pid()))
        .expect("tasks")
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    assert!(tasks.len() >= 4, "the daemon's threads: {tasks:?}");
    // A thread gone meanwhile has no status: skipped.
    for (task, blocked) in tasks
        .iter()
        .filter_map(|&t| Some((t, procfs::status_mask(t, "SigBlk")?)))
    {
        assert!(
            blocked & SIGCHLD_BIT != 0,
            "thread {task} blocks SIGCHLD: {blocked:x}"
        );
    }
    let descriptors = std::fs::read_dir(format!("/proc/{}/fd", daemon.pid())).expect("fds");
    let signalfd = descriptors
        .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
        .any(|target| target.to_string_lossy() == "anon_inode:[signalfd]");
    assert!(signalfd, "the daemon holds a signalfd");
    assert_eq!(
        procfs::status_mask(pids[0], "SigBlk"),
        Some(0),
        "a child blocks nothing"
    );
    assert_eq!(daemon.stop(), Some(0));
}

/// A daemon started with SIGCHLD ignored (`env --ignore-signal=CHLD`, as a parent's ignoring
/// survives `execve`; the kernel would then reap its children by itself, and send no signal)
/// still learns of every exit: it gives SIGCHLD its default action back before blocking it.
/// The wrapper does ignore it (the positive control: a program it runs has the `SigIgn` bit).
fn a_daemon_started_with_sigchld_ignored_still_reaps() {
    const SIGCHLD_BIT: u64 = 1 << (libc::SIGCHLD - 1);
    let wrapper = ["env", "--ignore-signal=CHLD"];
    let control = std::process::Command::new("env")
        .args([
            "--ignore-signal=CHLD",
            "grep",
            "SigIgn",
            "/proc/self/status",
        ])
        .output()
        .expect("env");
    if !control.status.success() {
        skip!("env --ignore-signal is not supported here: {control:?}");
    }
    let ignored = String::from_utf8_lossy(&control.stdout);
    let mask = ignored.split_whitespace().nth(1).unwrap_or("0");
    let mask = u64::from_str_radix(mask, 16).unwrap_or(0);
    assert!(
        mask & SIGCHLD_BIT != 0,
        "the wrapper ignores SIGCHLD: {ignored}"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let registry_path = dir.path().join("SupervisorRegistry.xml");
    let crashing = standin_server("crashing", &["--crash-after", "0.1"], NO_BACKOFF);
    std::fs::write(&registry_path, registry(FAST, &crashing)).expect("registry");
    let mut daemon = Daemon::start_wrapped(dir, registry_path, &wrapper);
    let first = daemon.started_pid("crashing");
    let second = daemon.started_pid("crashing");
    assert_ne!(first, second, "the crash was reaped and restarted");
    assert_eq!(daemon.stop(), Some(0));
}

pub const TESTS: &[testkit::harness::Test] = testkit::tests![
    children_are_born_in_their_cgroup_and_the_fallback_still_joins_it,
    a_killed_cgroup_is_made_anew_for_the_next_start,
    check_and_run_say_how_many_descriptors_the_registry_needs,
    the_descriptor_table_is_sized_for_the_registry_at_start_and_reload,
    sigchld_is_read_from_a_signalfd_by_every_thread_blocked,
    a_daemon_started_with_sigchld_ignored_still_reaps,
];
