//! Moving an Image Serving installation over, end to end on the real binary: the process
//! settings a child starts with (read back from `/proc`), their defaults, a refused setting as a
//! failed start naming its step, environment files read at each start, trailing arguments,
//! included files at start and on reload, and `config/adobe` with its `ImageServing` script.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use nix::sys::signal::Signal;
use testkit::*;

/// The fields of a `/proc/PID/limits` line: soft and hard (`unlimited` as `u64::MAX`).
fn proc_limit(pid: u32, name: &str) -> (u64, u64) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("limits");
    let line = limits
        .lines()
        .find(|line| line.starts_with(name))
        .unwrap_or_else(|| panic!("no `{name}` in\n{limits}"));
    let value = |word: &str| match word {
        "unlimited" => u64::MAX,
        number => number.parse().expect("a limit"),
    };
    let words: Vec<&str> = line[name.len()..].split_whitespace().collect();
    (value(words[0]), value(words[1]))
}

/// `Umask:` of `/proc/PID/status`.
fn proc_umask(pid: u32) -> u32 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let line = status
        .lines()
        .find(|l| l.starts_with("Umask:"))
        .expect("Umask");
    u32::from_str_radix(line["Umask:".len()..].trim(), 8).expect("octal")
}

/// `/proc/PID/oom_score_adj`.
fn proc_oom(pid: u32) -> i32 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/oom_score_adj")).expect("oom");
    text.trim().parse().expect("a number")
}

/// The nice value: field 19 of `/proc/PID/stat`.
fn proc_nice(pid: u32) -> i32 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let after = stat.rsplit_once(')').expect("comm").1;
    after
        .split_whitespace()
        .nth(16)
        .expect("nice")
        .parse()
        .expect("a number")
}

/// `/proc/PID/environ` as a map, once it can be read: the daemon hears that a child started as
/// soon as its `execve` is past the point of no return, a moment before the kernel has placed
/// the new program's environment (until then the file reads empty).
fn proc_environ(pid: u32) -> HashMap<String, String> {
    let read = || {
        let bytes = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        bytes
            .split(|&b| b == 0)
            .filter_map(|entry| std::str::from_utf8(entry).ok()?.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<HashMap<String, String>>()
    };
    eventually("the child's environment can be read", || !read().is_empty());
    read()
}

/// Replaces the file at `path` with `text` at once (a start never reads it half written).
fn replace_file(path: &Path, text: &str) {
    let fresh = path.with_extension("new");
    std::fs::write(&fresh, text).expect("write");
    std::fs::rename(&fresh, path).expect("rename");
}

/// A daemon whose own umask is 077 (so a child's 022 is the supervisor's doing).
fn daemon_with_umask_077(dir: tempfile::TempDir, xml: &str) -> Daemon {
    let registry = dir.path().join("SupervisorRegistry.xml");
    std::fs::write(&registry, xml).expect("write registry");
    let wrapper = ["/bin/sh", "-c", "umask 077; exec \"$@\"", "sh"];
    Daemon::start_wrapped(dir, registry, &wrapper)
}

fn process_settings_reach_the_child_and_the_defaults_are_systemds() {
    // Raising the OOM score needs no privilege (lowering it does: see the test of refusals).
    let oom = 100;
    let tuned = standin_server(
        "tuned",
        &[],
        &format!(
            "<limits><nofile soft=\"2048\" hard=\"4096\"/><core soft=\"0\"/></limits>\
             <nice>5</nice><umask>0027</umask><oomScoreAdjust>{oom}</oomScoreAdjust>"
        ),
    );
    let xml = registry(FAST, &[tuned, idle("plain")].concat());
    let mut daemon = daemon_with_umask_077(tempfile::tempdir().expect("tempdir"), &xml);
    let pids = daemon.started_pids(&["tuned", "plain"]);
    let (tuned, plain) = (pids[0], pids[1]);
    assert_eq!(proc_limit(tuned, "Max open files"), (2048, 4096));
    assert_eq!(proc_limit(tuned, "Max core file size").0, 0);
    assert_eq!(proc_nice(tuned), 5);
    assert_eq!(proc_umask(tuned), 0o027);
    assert_eq!(proc_oom(tuned), oom);
    // The defaults, beside it: soft nofile 1024 under the daemon's hard limit (the daemon's
    // own soft limit is its hard one), umask 022 (the daemon's is 077), the daemon's nice and
    // OOM score.
    let daemon_files = proc_limit(daemon.pid(), "Max open files");
    assert_eq!(
        daemon_files.0, daemon_files.1,
        "the daemon raised its soft limit"
    );
    assert_eq!(
        proc_limit(plain, "Max open files"),
        (1024.min(daemon_files.1), daemon_files.1)
    );
    assert_eq!(proc_umask(daemon.pid()), 0o077);
    assert_eq!(proc_umask(plain), 0o022);
    assert_eq!(proc_nice(plain), proc_nice(daemon.pid()));
    assert_eq!(proc_oom(plain), proc_oom(daemon.pid()));
    assert_eq!(daemon.stop(), Some(0));
}

fn a_hard_limit_the_kernel_refuses_is_a_failed_start_naming_setrlimit() {
    let nr_open: u64 = std::fs::read_to_string("/proc/sys/fs/nr_open")
        .expect("nr_open")
        .trim()
        .parse()
        .expect("a number");
    let refused = standin_server(
        "refused",
        &[],
        &format!(
            "<limits><nofile soft=\"1024\" hard=\"{}\"/></limits><backoff initial=\"0.05\"/>",
            nr_open + 1
        ),
    );
    let granted = standin_server("granted", &[], "<limits><nofile soft=\"512\"/></limits>");
    let mut daemon = Daemon::start(&registry(FAST, &[refused, granted].concat()));
    let failed = daemon.wait_event("component_spawn_failed", "refused");
    assert_eq!(
        failed["error"], "setrlimit: Operation not permitted (os error 1)",
        "{failed}"
    );
    // Positive control: a limit within what the kernel allows starts.
    let pid = daemon.started_pid("granted");
    assert_eq!(proc_limit(pid, "Max open files").0, 512);
    assert_eq!(daemon.stop(), Some(0));
}

/// Whether this process holds `CAP_SYS_RESOURCE` (bit 24 of `CapEff`).
fn holds_cap_sys_resource() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").expect("status");
    let line = status
        .lines()
        .find(|l| l.starts_with("CapEff:"))
        .expect("CapEff");
    let caps = u64::from_str_radix(line["CapEff:".len()..].trim(), 16).expect("hex");
    caps & (1 << 24) != 0
}

fn a_negative_oom_score_without_cap_sys_resource_is_a_failed_start_naming_oom() {
    if holds_cap_sys_resource() {
        testkit::skip!("this host grants CAP_SYS_RESOURCE, so a negative oom_score_adj is allowed");
    }
    let refused = standin_server(
        "protected",
        &[],
        "<oomScoreAdjust>-100</oomScoreAdjust><backoff initial=\"0.05\"/>",
    );
    let granted = standin_server("exposed", &[], "<oomScoreAdjust>200</oomScoreAdjust>");
    let mut daemon = Daemon::start(&registry(FAST, &[refused, granted].concat()));
    let failed = daemon.wait_event("component_spawn_failed", "protected");
    assert_eq!(
        failed["error"], "oom: Permission denied (os error 13)",
        "{failed}"
    );
    let pid = daemon.started_pid("exposed");
    assert_eq!(proc_oom(pid), 200);
    assert_eq!(daemon.stop(), Some(0));
}

fn environment_files_are_read_at_each_start_and_a_bad_one_fails_the_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("is.env");
    std::fs::write(&file, "# Image Server\nHEAP=200m\nQUOTED=\"two words\"\n").expect("write");
    let server = standin_server(
        "envs",
        &[],
        "<environment file=\"is.env\"><variable name=\"HEAP\">from-registry</variable>\
         <variable name=\"KEPT\">yes</variable></environment><backoff initial=\"0.05\"/>",
    );
    let mut daemon = Daemon::start_in(dir, &registry(FAST, &server));
    let first = daemon.started_pid("envs");
    let environ = proc_environ(first);
    assert_eq!(environ["HEAP"], "200m", "the file goes over <variable>");
    assert_eq!(environ["QUOTED"], "two words");
    assert_eq!(environ["KEPT"], "yes");
    // An edit shows at the next start.
    replace_file(&file, "HEAP=512m\n");
    kill(first, Signal::SIGKILL);
    let second = daemon.started_pid("envs");
    assert_ne!(second, first);
    assert_eq!(proc_environ(second)["HEAP"], "512m");
    // A malformed file fails the start with its path, line and reason.
    replace_file(&file, "HEAP=1g\nnot an assignment\n");
    kill(second, Signal::SIGKILL);
    let failed = daemon.wait_event("component_spawn_failed", "envs");
    let expected = format!(
        "envfile: {}:2: `not an assignment` has no `=`",
        file.display()
    );
    assert_eq!(failed["error"], expected.as_str(), "{failed}");
    // Mended, the next start (at its backoff) picks it up.
    replace_file(&file, "HEAP=2g\n");
    let third = daemon.started_pid("envs");
    assert_eq!(proc_environ(third)["HEAP"], "2g");
    assert_eq!(daemon.stop(), Some(0));
}

fn trailing_arguments_come_after_the_servers_arguments() {
    let xml = format!(
        "<supervisor>{FAST}<profiles><profile id=\"launcher\">\
           <executable>{}</executable>\
           <arguments><argument>--name</argument><argument>placed</argument></arguments>\
           <trailingArguments><argument>--stderr-lines</argument><argument>1</argument>\
           </trailingArguments></profile></profiles>\
         <servers><server id=\"placed\"><profile ref=\"launcher\"/>\
           <arguments><argument>--print-lines</argument><argument>1</argument></arguments>\
         </server></servers></supervisor>",
        standin()
    );
    let mut daemon = Daemon::start(&xml);
    let pid = daemon.started_pid("placed");
    let expected = [
        "--name",
        "placed",
        "--print-lines",
        "1",
        "--stderr-lines",
        "1",
    ];
    // Read once the program's arguments are in place (see `proc_environ`).
    eventually("the child's arguments can be read", || {
        !proc_args(pid).is_empty()
    });
    assert_eq!(proc_args(pid)[1..], expected);
    assert_eq!(daemon.stop(), Some(0));
}

/// `supervisor ARGS` on the daemon's registry and run directory, within the deadline.
fn ctl(daemon: &Daemon, args: &[&str]) -> Output {
    daemon.cli(args, Duration::from_secs(30))
}

fn fragment(id: &str) -> String {
    format!(
        "<supervisor>\n  <servers>\n{}  </servers>\n</supervisor>\n",
        idle(id)
    )
}

fn included_files_are_read_at_start_and_again_on_reload() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("conf.d");
    std::fs::create_dir(&conf).expect("mkdir");
    std::fs::write(conf.join("a.xml"), fragment("a")).expect("write");
    let main = format!(
        "<supervisor>{FAST}<include path=\"conf.d/*.xml\"/><servers>{}</servers></supervisor>",
        idle("main")
    );
    let mut daemon = Daemon::start_in(dir, &main);
    let pids = daemon.started_pids(&["main", "a"]);
    // A new file is read by `reload`; what did not change keeps running. This one is in SPEC's
    // form: the `<server>` alone, no `<supervisor>` around it.
    std::fs::write(conf.join("b.xml"), idle("b")).expect("write");
    let reloaded = ctl(&daemon, &["reload"]);
    assert_eq!(reloaded.status.code(), Some(0), "{reloaded:?}");
    daemon.started_pid("b");
    let event = daemon.wait_any("config_reloaded");
    assert_eq!(event["added"], serde_json::json!(["b"]), "{event}");
    assert!(alive(pids[0]) && alive(pids[1]));
    // An error in an included file is placed in it, and nothing changes.
    let bad = "<supervisor>\n  <servers>\n    <server id=\"c\"><executabel/></server>\n  \
               </servers>\n</supervisor>\n";
    std::fs::write(conf.join("c.xml"), bad).expect("write");
    let rejected = ctl(&daemon, &["reload"]);
    assert_eq!(rejected.status.code(), Some(2), "{rejected:?}");
    let stderr = String::from_utf8_lossy(&rejected.stderr);
    let place = format!(
        "{}:3:20: unknown element `<executabel>`",
        conf.join("c.xml").display()
    );
    assert!(stderr.contains(&place), "{stderr}");
    let event = daemon.wait_any("config_rejected");
    assert!(
        event["error"].as_str().is_some_and(|e| e.contains(&place)),
        "{event}"
    );
    assert!(alive(pids[0]) && alive(pids[1]));
    assert_eq!(daemon.stop(), Some(0));
}

/// The source tree's `config/adobe`.
fn adobe() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config/adobe")
}

/// A copy of `config/adobe` as `DIR/config/adobe` with free ports, and `DIR/target/release/
/// standin` pointing at the stand-in, so it runs beside anything else on the host.
fn adobe_installation() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let copy = dir.path().join("config/adobe");
    std::fs::create_dir_all(&copy).expect("mkdir");
    let release = dir.path().join("target/release");
    std::fs::create_dir_all(&release).expect("mkdir");
    std::os::unix::fs::symlink(standin(), release.join("standin")).expect("symlink");
    for file in ["java", "ImageServing"] {
        std::fs::copy(adobe().join(file), copy.join(file)).expect("copy");
    }
    let mut xml = std::fs::read_to_string(adobe().join("SupervisorRegistry.xml")).expect("read");
    for port in ["27345", "27346", "8080", "9910"] {
        xml = xml.replace(port, &free_port().to_string());
    }
    let registry = copy.join("SupervisorRegistry.xml");
    std::fs::write(&registry, xml).expect("write");
    (dir, registry)
}

/// `ImageServing ARGS` of the installation in `dir` against `daemon`.
fn image_serving(dir: &Path, daemon_run_dir: &Path, args: &[&str]) -> Output {
    let mut command = Command::new(dir.join("config/adobe/ImageServing"));
    command
        .args(args)
        .env("SUPERVISOR", supervisor_bin())
        .env("SUPERVISOR_RUN_DIR", daemon_run_dir)
        .env_remove("SUPERVISOR_REGISTRY")
        .env_remove("SUPERVISOR_LOG_FORMAT");
    run_bounded(command, Duration::from_secs(60))
}

fn the_adobe_registry_checks_starts_in_order_and_answers_the_imageserving_script() {
    // Checked as installed (with the release stand-in it names in place): `check` also checks
    // that executables exist.
    let (dir, registry) = adobe_installation();
    let source = cli_command(&registry, Path::new("/"), &["check"]);
    let checked = run_bounded(source, Duration::from_secs(30));
    let out = String::from_utf8_lossy(&checked.stdout);
    assert_eq!(checked.status.code(), Some(0), "{checked:?}");
    let ps = out
        .lines()
        .find(|l| l.contains(". ps ["))
        .expect("ps in check");
    let flags = ps.find("-Xmx512m").expect("the heap flag");
    let main = ps
        .find("org.apache.catalina.startup.Bootstrap start")
        .expect("the main class");
    assert!(flags < main, "JVM flags before the main class: {ps}");
    let home = std::fs::canonicalize(dir.path().join("config")).expect("config/");
    let log = format!("log {}", home.join("logs/Supervisor.log").display());
    assert!(out.lines().any(|l| l == log), "{out}");

    let mut daemon = Daemon::start_wrapped(tempfile::tempdir().expect("tempdir"), registry, &[]);
    let is = daemon.wait_event("component_started", "is");
    daemon.wait_event("component_started", "svg");
    let ps = daemon.wait_event("component_starting", "ps");
    let delay = seconds_between(&is, &ps);
    assert!(
        delay >= 4.9,
        "ps starts after is and svg's 5 s startDelay, not {delay} s"
    );
    let ps_pid = daemon.started_pid("ps");
    let run = daemon.run_dir();
    let status = image_serving(dir.path(), &run, &["status", "is"]);
    assert_eq!(status.status.code(), Some(0), "{status:?}");
    // As the original utility: the server's uptime and current memory.
    let shown = String::from_utf8_lossy(&status.stdout);
    let header = shown.lines().next().unwrap_or_default();
    assert!(
        header.contains("UPTIME") && header.contains("MEMORY"),
        "{shown}"
    );
    assert!(
        shown
            .lines()
            .nth(1)
            .is_some_and(|row| row.starts_with("is ")),
        "{shown}"
    );
    let unknown = image_serving(dir.path(), &run, &["status", "nope"]);
    assert_eq!(unknown.status.code(), Some(4), "{unknown:?}");
    let bad = image_serving(dir.path(), &run, &["reboot"]);
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");
    let restarted = image_serving(dir.path(), &run, &["restart", "ps"]);
    assert_eq!(restarted.status.code(), Some(0), "{restarted:?}");
    let new_ps = daemon.started_pid("ps");
    assert_ne!(new_ps, ps_pid);
    let port = "--port".to_string();
    eventually("java ran the stand-in", || {
        proc_args(new_ps).contains(&port)
    });
    assert_eq!(daemon.stop(), Some(0));
    let stopped = image_serving(dir.path(), &run, &["status", "is"]);
    assert_eq!(stopped.status.code(), Some(3), "{stopped:?}");
}

/// The tests of this module.
pub const TESTS: &[testkit::harness::Test] = testkit::tests![
    process_settings_reach_the_child_and_the_defaults_are_systemds,
    a_hard_limit_the_kernel_refuses_is_a_failed_start_naming_setrlimit,
    a_negative_oom_score_without_cap_sys_resource_is_a_failed_start_naming_oom,
    environment_files_are_read_at_each_start_and_a_bad_one_fails_the_start,
    trailing_arguments_come_after_the_servers_arguments,
    included_files_are_read_at_start_and_again_on_reload,
    the_adobe_registry_checks_starts_in_order_and_answers_the_imageserving_script,
];
