//! Crash recovery that never hits a stranger (issue 12): a daemon started on the run directory of
//! a crashed one kills only what is provably that one's — a recorded child still running with its
//! recorded start time, and the process group it leads — never the group of a stranger that was
//! given a recorded pid since; and a reaped child's record leaves the journal at once. The
//! pid-reuse test runs in a PID namespace of its own (root, `unshare`, `nsenter`), where
//! `ns_last_pid` hands a recorded pid to a stranger on purpose.

use std::collections::BTreeSet;
use std::os::unix::fs::DirBuilderExt;
use std::process::{Child, Command, Stdio};

use std::time::Duration;

use nix::sys::signal::Signal;
use testkit::*;

/// A PID namespace with its own `/proc`, whose init idles; every process in it dies with it.
struct Namespace {
    unshare: Child,
    init: u32,
}

impl Namespace {
    /// Makes one; skips the test where that is not permitted.
    fn new() -> Namespace {
        testkit::skip::require_root("to make a PID namespace and set ns_last_pid");
        testkit::skip::require_tool("nsenter");
        let unshare = Command::new(testkit::skip::require_tool("unshare"))
            .args(["--pid", "--fork", "--mount-proc", "sleep", "100000"])
            .stdin(Stdio::null())
            .spawn()
            .expect("unshare");
        let parent = unshare.id();
        let init = std::cell::Cell::new(None);
        eventually("the namespace's init runs", || {
            init.set(children_of(parent).first().map(|p| p.pid));
            init.get()
                .is_some_and(|pid| proc_args(pid).first().map(String::as_str) == Some("sleep"))
        });
        Namespace {
            unshare,
            init: init.get().unwrap(),
        }
    }

    /// The words that run a command inside the namespace (its pids, its `/proc`).
    fn enter(&self) -> Vec<String> {
        ["nsenter", "-t", &self.init.to_string(), "-p", "-m", "--"]
            .map(String::from)
            .to_vec()
    }

    /// Runs `script` with `sh` inside the namespace; its stdout.
    fn sh(&self, script: &str) -> String {
        let words = self.enter();
        let output = Command::new(&words[0])
            .args(&words[1..])
            .args(["sh", "-c", script])
            .output()
            .expect("nsenter");
        assert!(output.status.success(), "{script}: {output:?}");
        String::from_utf8(output.stdout).unwrap()
    }
}

/// The PID namespace of a process.
fn ns_of(pid: u32) -> Option<std::path::PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok()
}

impl Drop for Namespace {
    fn drop(&mut self) {
        // The init's death takes every process of the namespace along.
        kill(self.init, Signal::SIGKILL);
        let _ = self.unshare.wait();
    }
}

/// `setsid sh -c 'sleep A & sleep B & wait'` forked as namespace pid `pid` (set through
/// `ns_last_pid`): a session and group leader with two members. Its pid and start time.
fn group_at(namespace: &Namespace, pid: u32, sleeps: [&str; 2]) -> (u32, u64) {
    let script = format!(
        "echo {} > /proc/sys/kernel/ns_last_pid; setsid sh -c 'sleep {} & sleep {} & wait' \
         >/dev/null 2>&1 & echo $!",
        pid - 1,
        sleeps[0],
        sleeps[1]
    );
    let got: u32 = namespace.sh(&script).trim().parse().unwrap();
    assert_eq!(got, pid, "ns_last_pid gave the fork its pid");
    let start = namespace.sh(&format!("cut -d' ' -f22 /proc/{pid}/stat"));
    (pid, start.trim().parse().unwrap())
}

/// The host pid of the namespace's `sleep ARGUMENT`, once it runs.
fn sleeper(namespace: &Namespace, argument: &str) -> u32 {
    let find = || {
        processes().into_iter().map(|p| p.pid).find(|&pid| {
            proc_args(pid) == ["sleep", argument] && ns_of(pid) == ns_of(namespace.init)
        })
    };
    eventually(&format!("sleep {argument} runs"), || find().is_some());
    find().unwrap()
}

/// The journal of a daemon that crashed names pid 5000, a child that has since died and been
/// reaped (a record the crash left behind). A stranger — a session leader with two members —
/// is then given pid 5000. The next daemon kills a real leftover (a recorded leader with its
/// recorded start time, and its group: the positive control) and leaves the stranger's whole
/// group alone.
fn a_recycled_pid_names_a_stranger_whose_group_is_spared() {
    let namespace = Namespace::new();
    let recorded = 5000;
    // A process that ran as pid 5000, said its start time and was reaped: what a crash leaves.
    let dead = namespace.sh(&format!(
        "echo {} > /proc/sys/kernel/ns_last_pid; sh -c 'cut -d\" \" -f1,22 /proc/$$/stat'",
        recorded - 1
    ));
    assert!(dead.starts_with(&format!("{recorded} ")), "{dead}");
    // Start times are clock ticks (10 ms): the stranger must start in a later tick than the dead
    // process, or nothing could tell them apart (a reuse of a pid within one tick of its last
    // start). Wait for the boot-time clock to pass that tick.
    let dead_start: u64 = dead.split_whitespace().nth(1).unwrap().parse().unwrap();
    let ticks = || {
        let now = nix::time::clock_gettime(nix::time::ClockId::CLOCK_BOOTTIME).unwrap();
        (now.tv_sec() as u64 * 100) + now.tv_nsec() as u64 / 10_000_000
    };
    eventually("a clock tick after the dead process's start", || {
        ticks() > dead_start
    });
    let (stranger, stranger_start) = group_at(&namespace, recorded, ["2231", "2232"]);
    assert_ne!(
        stranger_start, dead_start,
        "the stranger starts in another tick"
    );
    let (ours, ours_start) = group_at(&namespace, 6000, ["2233", "2234"]);
    let strangers = [sleeper(&namespace, "2231"), sleeper(&namespace, "2232")];
    let leftovers = [sleeper(&namespace, "2233"), sleeper(&namespace, "2234")];

    let dir = tempfile::tempdir().expect("tempdir");
    let run = dir.path().join("run");
    std::fs::DirBuilder::new().mode(0o700).create(&run).unwrap();
    std::fs::write(run.join("children"), format!("{dead}{ours} {ours_start}\n")).unwrap();
    let registry_path = dir.path().join("SupervisorRegistry.xml");
    std::fs::write(&registry_path, registry("", &idle("a"))).unwrap();
    let enter = namespace.enter();
    let wrapper: Vec<&str> = enter.iter().map(String::as_str).collect();
    let mut daemon = Daemon::start_wrapped(dir, registry_path, &wrapper);
    daemon.wait_any("supervisor_started");

    let reported: BTreeSet<u32> = daemon
        .events()
        .iter()
        .filter(|e| e["event"] == "leftover_killed")
        .filter_map(|e| e["pid"].as_u64().map(|pid| pid as u32))
        .collect();
    eventually("our leftovers are killed", || {
        leftovers.iter().all(|&pid| !alive(pid))
    });
    assert!(
        !reported.contains(&stranger),
        "the stranger holding the recorded pid is spared: {reported:?}"
    );
    for pid in strangers {
        assert!(
            alive(pid),
            "the stranger's group member {pid} is spared: {reported:?}"
        );
    }
    assert!(
        reported.contains(&ours) && reported.len() == 3,
        "exactly our leader and its two members are reported: {reported:?}"
    );
    let stranger_leader = proc_stat(strangers[0]).expect("a stranger's member").ppid;
    assert!(alive(stranger_leader), "the stranger itself runs");
    // `nsenter` passes no signal on: the CLI stops the daemon.
    let stopped = daemon.cli(&["stop"], DEADLINE);
    assert!(stopped.status.success(), "{stopped:?}");
    assert_eq!(daemon.wait_exit(), Some(0));
}

/// The record of a reaped child leaves the journal at once (struck out), so no later stranger
/// can ever match it; the restarted child's record is there.
fn a_reaped_childs_record_leaves_the_journal_at_once() {
    let mut daemon = Daemon::start(&registry(FAST, &idle("a")));
    let first = daemon.started_pid("a");
    let journal = daemon.run_dir().join("children");
    let live = || {
        let text = std::fs::read_to_string(&journal).unwrap_or_default();
        let mut records = BTreeSet::new();
        for line in text.lines() {
            let pid = |word: &str| word.split(' ').next().and_then(|p| p.parse::<u32>().ok());
            match line.strip_prefix('-') {
                Some(removed) => records.remove(&pid(removed).unwrap_or(0)),
                None => records.insert(pid(line).unwrap_or(0)),
            };
        }
        records
    };
    eventually("the child is recorded", || live().contains(&first));
    kill(first, Signal::SIGKILL);
    let second = daemon.started_pid("a");
    eventually(
        "the restart is recorded and the reaped child struck out",
        || live() == BTreeSet::from([second]),
    );
    assert_eq!(daemon.stop(), Some(0));
}

/// Item 8: an orderly shutdown removes the daemon's cgroups, also when the last thing its kill
/// reached (a `setsid` escaper, killed as its component's leader was reaped) is still dying as
/// the daemon exits. Ten shutdowns in a row, none leaves a cgroup.
fn orderly_shutdowns_leave_no_cgroup_behind() {
    testkit::skip::require_root("to use cgroup2");
    let escaper = r#"<server id="e"><executable>/bin/sh</executable><arguments><argument>-c</argument><argument>setsid sleep 3100 &amp; exec sleep 3101</argument></arguments></server>"#;
    for run in 1..=10 {
        let mut daemon = Daemon::start(&registry("", escaper));
        let guardian = daemon.wait_any("guardian_started");
        if guardian["reach"] != "cgroup" {
            skip!("no writable cgroup2 hierarchy");
        }
        let base = guardian["cgroup"].as_str().expect("the cgroup").to_string();
        daemon.started_pid("e");
        assert_eq!(daemon.stop(), Some(0));
        assert!(
            !std::path::Path::new(&base).exists(),
            "shutdown {run} left {base} behind"
        );
    }
}

/// A shutdown removes each component's cgroup as soon as that component has stopped, while the
/// others are still stopping (each `rmdir` waits on the kernel's `cgroup_mutex`: done after the
/// last stop, 10,000 of them added 0.8 s to a shutdown). `stubborn` ignores SIGTERM for 3 s:
/// `quick`'s cgroup is gone while the daemon waits for it, and `stubborn`'s is still there (the
/// control); once the daemon has exited, none is left.
fn a_shutdown_removes_each_cgroup_as_soon_as_its_component_stopped() {
    testkit::skip::require_root("to use cgroup2");
    let stubborn = standin_server(
        "stubborn",
        &["--ignore-term"],
        "<stopTimeout>3</stopTimeout>",
    );
    let quick = standin_server("quick", &[], "");
    let mut daemon = Daemon::start(&registry("", &format!("{stubborn}{quick}")));
    let guardian = daemon.wait_any("guardian_started");
    if guardian["reach"] != "cgroup" {
        skip!("no writable cgroup2 hierarchy");
    }
    let base = std::path::PathBuf::from(guardian["cgroup"].as_str().expect("the cgroup"));
    let pids = daemon.started_pids(&["stubborn", "quick"]);
    eventually("stubborn ignores SIGTERM", || catches_sigterm(pids[0]));
    assert!(base.join("quick").is_dir() && base.join("stubborn").is_dir());
    daemon.signal(Signal::SIGTERM);
    daemon.wait_event("component_stopped", "quick");
    eventually_within("quick's cgroup is removed", Duration::from_secs(2), || {
        !base.join("quick").exists()
    });
    assert!(
        alive(pids[0]) && base.join("stubborn").is_dir(),
        "stubborn is still stopping, in its cgroup"
    );
    assert_eq!(daemon.wait_exit(), Some(0));
    assert!(
        !base.exists(),
        "the shutdown left {} behind",
        base.display()
    );
}

/// The tests of this module, in file order, for the harness of main.rs.
pub const TESTS: &[testkit::harness::Test] = testkit::tests![
    a_recycled_pid_names_a_stranger_whose_group_is_spared,
    a_reaped_childs_record_leaves_the_journal_at_once,
    orderly_shutdowns_leave_no_cgroup_behind,
    a_shutdown_removes_each_cgroup_as_soon_as_its_component_stopped,
];
