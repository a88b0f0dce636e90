//! Hostile registries through the real binary (reliability.md T11 and S5).
//!
//! The corpus is every malformed fixture of tests/fixtures/registry/expectations.txt, plus
//! inputs too big to commit, generated here: 10,000 nested groups, a 100 MB (sparse) file, a
//! 10 KB server id and more nodes than the limit. Two more, 100,000 attributes on one element and
//! over 10,000 elements, have tests of their own (both once bugs: quadratic time in roxmltree,
//! unbounded diagnostics; now refused by the registry's attribute pre-scan).
//! For each one:
//!
//! - `supervisor --registry FILE check` exits 2; stderr starts with `error: ` and names
//!   `FILE:LINE:COL` (the fixture's first expected position);
//! - it uses less than [`CPU_LIMIT`] of CPU time (the target is 100 ms; CPU time, not wall time,
//!   so that a CI machine loaded by other suites does not fail it), less than [`WALL_LIMIT`] of
//!   wall time (what a registry that makes the binary wait, not work, would exceed) and less
//!   than [`RSS_LIMIT_KIB`] of peak resident memory;
//! - `supervisor --registry FILE run` exits 2 and starts nothing. Where the document allows it a
//!   `marker` server comes before the hostile part: its executable, `/bin/touch hostile-marker`,
//!   would create a file in the daemon's working directory. Fixtures that do not have one get
//!   it inserted right after `<servers>` (on the same line, so later positions do not move).
//!   `a_valid_registry_starts_its_marker`, run at the end of each test, shows that the marker
//!   does appear when a registry is valid.
//!
//! How peak RSS is measured: `getrusage(RUSAGE_CHILDREN).ru_maxrss` is the largest peak of all
//! the children a process has waited for, and on Linux a child's figure also includes the
//! memory of the process it was spawned from (the kernel records the old address space's peak
//! at `exec`, and std spawns with `CLONE_VM`, so that is this test process's own peak). So the
//! binary is not spawned from here but from a fresh copy of this test executable,
//! [`probe_helper`], which spawns exactly one child, waits for it and prints its wall time and
//! `ru_maxrss`, together with its own `VmHWM` (the floor under that figure, a few MiB). A
//! figure above the floor is the child's true peak; at the floor, the peak is at most that.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::resource::{UsageWho, getrusage};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use supervisor::registry::NODES_LIMIT;

use crate::corpus::{fixture_table, fixtures};

/// CPU time (user and system) allowed for one `check` or `run` of a hostile registry.
const CPU_LIMIT: Duration = Duration::from_millis(500);
/// Wall time allowed for one `check` or `run`: it only waits longer than [`CPU_LIMIT`] when
/// the machine is busy, or when something blocks.
const WALL_LIMIT: Duration = Duration::from_secs(3);
/// Peak resident memory allowed for one `check` or `run`, in KiB (48 MiB): a registry at the
/// node limit takes about 40 MiB to parse (10,000 servers as SPEC writes them need 280,000
/// nodes), less than what a daemon running 10,000 components holds (73 MiB).
const RSS_LIMIT_KIB: u64 = 48 * 1024;
/// A probe still running after this long is killed and fails.
const HARD_TIMEOUT: Duration = Duration::from_secs(10);
/// The file the marker server creates in the daemon's working directory.
const MARKER: &str = "hostile-marker";
/// A server that would create [`MARKER`] if it were ever started.
const MARKER_SERVER: &str = "<server id=\"marker\"><executable>/bin/touch</executable>\
                             <arguments><argument>hostile-marker</argument></arguments></server>";

/// One hostile registry and the first diagnostic it must give ("LINE:COL", fragment).
struct Case {
    name: String,
    path: PathBuf,
    first: (String, String),
}

/// What one run of the binary did.
#[derive(Debug)]
struct Measured {
    code: Option<i32>,
    stderr: String,
    wall: Duration,
    /// User and system CPU time of the binary.
    cpu: Duration,
    max_rss_kib: u64,
    /// The helper's own peak when it spawned the binary: the floor of `max_rss_kib`.
    floor_kib: u64,
    timed_out: bool,
}

/// Set (by [`probe`], for a fresh copy of this executable) to the arguments of one probe.
pub const PROBE_ARGS: &str = "HOSTILE_PROBE_ARGS";

/// Not a test: what a fresh copy of this executable does instead of running the tests when
/// [`PROBE_ARGS`] is set (by [`probe`]). Runs the binary with `args` (separated by U+001F) and
/// prints one `HOSTILE_PROBE` line with what it measured.
pub fn probe_helper(args: std::ffi::OsString) {
    let args = args.into_string().expect("UTF-8 arguments");
    let floor_kib = vm_hwm_kib();
    let started = Instant::now();
    let mut child = Command::new(testkit::supervisor_bin())
        .args(args.split('\u{1f}'))
        .env_remove("SUPERVISOR_REGISTRY")
        .env_remove("SUPERVISOR_RUN_DIR")
        .env_remove("SUPERVISOR_LOG_FORMAT")
        .env_remove("NOTIFY_SOCKET")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn supervisor");
    let pid = Pid::from_raw(i32::try_from(child.id()).unwrap());
    let (done, finished) = mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let status = child.wait();
        let _ = done.send(());
        status
    });
    let timed_out = finished.recv_timeout(HARD_TIMEOUT).is_err();
    let wall = started.elapsed();
    if timed_out {
        let _ = kill(pid, Signal::SIGKILL);
    }
    let status = waiter.join().unwrap().expect("wait for supervisor");
    // The only child this process ever waited for.
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN).expect("getrusage");
    let code = status.code().map_or("none".to_string(), |c| c.to_string());
    println!(
        "HOSTILE_PROBE code={code} wall_us={} cpu_us={} maxrss_kib={} floor_kib={floor_kib} timed_out={timed_out}",
        wall.as_micros(),
        micros(usage.user_time()) + micros(usage.system_time()),
        usage.max_rss(),
    );
}

/// A `getrusage` time in microseconds.
fn micros(time: nix::sys::time::TimeVal) -> i64 {
    time.tv_sec() * 1_000_000 + time.tv_usec()
}

/// This process's peak resident memory (`VmHWM`), in KiB.
fn vm_hwm_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Runs `supervisor ARGS` in `cwd` through [`probe_helper`] in a fresh copy of this executable.
fn probe(args: &[OsString], cwd: &Path) -> Measured {
    let joined: Vec<String> = args
        .iter()
        .map(|a| a.clone().into_string().expect("UTF-8 argument"))
        .collect();
    let output = Command::new(std::env::current_exe().unwrap())
        .env(PROBE_ARGS, joined.join("\u{1f}"))
        .current_dir(cwd)
        .stdin(Stdio::null())
        .output()
        .expect("run the probe helper");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .find_map(|l| Some(l.split_once("HOSTILE_PROBE ")?.1))
        .unwrap_or_else(|| panic!("no probe line in:\n{stdout}"));
    let field = |name: &str| {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .unwrap_or_else(|| panic!("no {name} in {line}"))
    };
    Measured {
        code: field("code").parse().ok(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        wall: Duration::from_micros(field("wall_us").parse().unwrap()),
        cpu: Duration::from_micros(field("cpu_us").parse().unwrap()),
        max_rss_kib: field("maxrss_kib").parse().unwrap(),
        floor_kib: field("floor_kib").parse().unwrap(),
        timed_out: field("timed_out") == "true",
    }
}

fn check_args(path: &Path) -> Vec<OsString> {
    vec!["--registry".into(), path.into(), "check".into()]
}

fn run_args(path: &Path, run_dir: &Path) -> Vec<OsString> {
    let run_dir = run_dir.as_os_str().to_owned();
    vec![
        "--registry".into(),
        path.into(),
        "--run-dir".into(),
        run_dir,
        "run".into(),
    ]
}

/// Whether stderr starts with `error: PATH:LINE:COL: ` (LINE and COL numbers ≥ 1).
fn names_a_position(stderr: &str, path: &Path) -> bool {
    let Some(rest) = stderr.strip_prefix(&format!("error: {}:", path.display())) else {
        return false;
    };
    let mut parts = rest.splitn(3, ':');
    let number = |part: Option<&str>| {
        part.and_then(|p| p.parse::<u32>().ok())
            .is_some_and(|n| n >= 1)
    };
    number(parts.next()) && number(parts.next()) && parts.next().is_some_and(|m| m.starts_with(' '))
}

/// The malformed fixtures of expectations.txt.
fn fixture_cases() -> Vec<Case> {
    fixture_table(&fixtures())
        .into_iter()
        .filter(|fixture| !fixture.expected.is_empty())
        .map(|fixture| Case {
            path: fixtures().join(&fixture.file),
            first: fixture.expected[0].clone(),
            name: fixture.file,
        })
        .collect()
}

/// The registries too large to commit, written to `dir`.
fn generated_cases(dir: &Path) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut add = |name: &str, text: String, first: (&str, &str)| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        cases.push(Case {
            name: name.to_string(),
            path,
            first: (first.0.to_string(), first.1.to_string()),
        });
    };

    let mut deep = format!("<supervisor><servers>{MARKER_SERVER}");
    for i in 0..10_000 {
        deep.push_str(&format!("\n<group id=\"g{i}\">"));
    }
    deep.push_str(&"</group>".repeat(10_000));
    deep.push_str("</servers></supervisor>\n");
    add(
        "deep-10000.xml",
        deep,
        ("32:1", "nested more than 32 elements deep"),
    );

    let long_id = format!(
        "<supervisor><servers>{MARKER_SERVER}\n<server id=\"{}\"><executable>/bin/true\
         </executable></server></servers></supervisor>\n",
        "x".repeat(10 * 1024)
    );
    add("id-10kb.xml", long_id, ("2:13", "is not a valid id"));

    let mut nodes = format!("<supervisor><servers>{MARKER_SERVER}\n");
    nodes.push_str(&"<a/>".repeat(NODES_LIMIT as usize + 1));
    nodes.push_str("</servers></supervisor>\n");
    let too_many = format!("more than {NODES_LIMIT} XML nodes");
    add("nodes-over-the-limit.xml", nodes, ("1:1", &too_many));

    // Valid if it were read: the size check must refuse it before reading.
    let path = dir.join("huge-100mb.xml");
    let valid = format!("<supervisor><servers>{MARKER_SERVER}</servers></supervisor>\n");
    std::fs::write(&path, valid).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(100 << 20)
        .unwrap();
    cases.push(Case {
        name: "huge-100mb.xml".into(),
        path,
        first: ("1:1".into(), "too large (104857600 bytes)".into()),
    });
    cases
}

/// The registry `run` is given: `case` itself when it has a marker server, else a copy in
/// `dir` with one inserted after `<servers>` where there is one, else `case` itself.
fn with_marker(case: &Case, dir: &Path) -> (PathBuf, bool) {
    if std::fs::metadata(&case.path).unwrap().len() > 2 << 20 {
        return (case.path.clone(), true);
    }
    let bytes = std::fs::read(&case.path).unwrap();
    let has = |needle: &[u8]| bytes.windows(needle.len()).position(|w| w == needle);
    if has(MARKER.as_bytes()).is_some() {
        return (case.path.clone(), true);
    }
    let Some(at) = has(b"<servers>") else {
        return (case.path.clone(), false);
    };
    let at = at + "<servers>".len();
    let mut marked = bytes[..at].to_vec();
    marked.extend_from_slice(MARKER_SERVER.as_bytes());
    marked.extend_from_slice(&bytes[at..]);
    let path = dir.join(&case.name);
    std::fs::write(&path, marked).unwrap();
    (path, true)
}

/// Checks one measured run against the limits; problems go to `failures`.
fn judge(what: &str, case: &Case, path: &Path, m: &Measured, failures: &mut Vec<String>) {
    let first = m.stderr.lines().next().unwrap_or_default();
    let mut fail = |why: String| failures.push(format!("{what} {}: {why}\n  {first}", case.name));
    if m.timed_out {
        fail(format!("still running after {HARD_TIMEOUT:?}; killed"));
        return;
    }
    if m.code != Some(2) {
        fail(format!("exit code {:?}, expected 2", m.code));
    }
    if !m.stderr.starts_with("error: ") {
        fail("stderr does not start with `error: `".into());
    }
    if !names_a_position(&m.stderr, path) {
        fail(format!(
            "stderr does not start with `error: {}:LINE:COL: `",
            path.display()
        ));
    }
    if m.cpu >= CPU_LIMIT {
        fail(format!("used {:?} of CPU (limit {CPU_LIMIT:?})", m.cpu));
    }
    if m.wall >= WALL_LIMIT {
        fail(format!("took {:?} (limit {WALL_LIMIT:?})", m.wall));
    }
    if m.max_rss_kib >= RSS_LIMIT_KIB {
        fail(format!(
            "peak RSS {} KiB (limit {RSS_LIMIT_KIB} KiB)",
            m.max_rss_kib
        ));
    }
}

fn every_hostile_registry_is_rejected_fast_small_and_without_starting_anything() {
    let generated = tempfile::tempdir().unwrap();
    let mut cases = fixture_cases();
    cases.extend(generated_cases(generated.path()));
    assert!(cases.len() >= 40, "only {} hostile registries", cases.len());

    let scratch = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    let mut markers = Vec::new();
    let mut rows = Vec::new();
    for (n, case) in cases.iter().enumerate() {
        // check: exit 2, the first expected diagnostic, fast and small.
        let m = probe(&check_args(&case.path), scratch.path());
        judge("check", case, &case.path, &m, &mut failures);
        let (position, fragment) = &case.first;
        let prefix = format!("error: {}:{position}: ", case.path.display());
        let first = m.stderr.lines().next().unwrap_or_default();
        if !(first.starts_with(&prefix) && first.contains(fragment.as_str())) {
            failures.push(format!(
                "check {}: expected `{prefix}…{fragment}…`\n  {first}",
                case.name
            ));
        }

        // run: exit 2 and no marker, in a working directory of its own.
        let cwd = scratch.path().join(format!("run-{n}"));
        std::fs::create_dir_all(cwd.join("rundir")).unwrap();
        let (marked, has_marker) = with_marker(case, &cwd);
        let r = probe(&run_args(&marked, &cwd.join("rundir")), &cwd);
        judge("run", case, &marked, &r, &mut failures);
        markers.push((case.name.clone(), cwd.join(MARKER)));
        rows.push((case.name.clone(), m, r, has_marker));
    }

    // Checked at the end too, so a component started late would still be seen.
    std::thread::sleep(Duration::from_millis(100));
    for (name, marker) in &markers {
        if marker.exists() {
            failures.push(format!(
                "run {name}: started a component ({} exists)",
                marker.display()
            ));
        }
    }

    println!(
        "{:<34} {:>9} {:>9} {:>9} {:>9} marker",
        "registry", "check ms", "KiB", "run ms", "KiB"
    );
    for (name, m, r, has_marker) in &rows {
        println!(
            "{name:<34} {:>9.1} {:>9} {:>9.1} {:>9} {}",
            m.wall.as_secs_f64() * 1e3,
            m.max_rss_kib,
            r.wall.as_secs_f64() * 1e3,
            r.max_rss_kib,
            if *has_marker { "yes" } else { "-" }
        );
    }
    let slowest = rows
        .iter()
        .max_by_key(|(_, m, r, _)| m.wall.max(r.wall))
        .unwrap();
    let largest = rows
        .iter()
        .max_by_key(|(_, m, r, _)| m.max_rss_kib.max(r.max_rss_kib))
        .unwrap();
    let floor = rows
        .iter()
        .map(|(_, m, r, _)| m.floor_kib.max(r.floor_kib))
        .max()
        .unwrap();
    println!(
        "{} registries ({} with a marker); max wall {:?} ({}); max peak RSS {} KiB ({}); \
         helper floor {floor} KiB",
        rows.len(),
        rows.iter().filter(|row| row.3).count(),
        slowest.1.wall.max(slowest.2.wall),
        slowest.0,
        largest.1.max_rss_kib.max(largest.2.max_rss_kib),
        largest.0,
    );
    assert!(
        floor < RSS_LIMIT_KIB,
        "the probe's own peak ({floor} KiB) hides the measurement"
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    a_valid_registry_starts_its_marker();
}

/// The control for the marker, run by every test that finds it absent: a valid registry does
/// start it, so its absence means something.
fn a_valid_registry_starts_its_marker() {
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("valid.xml");
    std::fs::write(
        &registry,
        "<supervisor><servers><server id=\"marker\"><executable>/bin/touch</executable>\
         <arguments><argument>hostile-marker</argument></arguments>\
         <restart>temporary</restart></server></servers></supervisor>\n",
    )
    .unwrap();
    let check = probe(&check_args(&registry), dir.path());
    assert_eq!(check.code, Some(0), "{}", check.stderr);

    let run_dir = dir.path().join("rundir");
    let mut daemon = Command::new(testkit::supervisor_bin())
        .args(run_args(&registry, &run_dir))
        .env_remove("SUPERVISOR_REGISTRY")
        .env_remove("SUPERVISOR_RUN_DIR")
        .env_remove("NOTIFY_SOCKET")
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let marker = dir.path().join(MARKER);
    let started = Instant::now();
    while !marker.exists() && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let pid = Pid::from_raw(i32::try_from(daemon.id()).unwrap());
    let _ = kill(pid, Signal::SIGTERM);
    let stopping = Instant::now();
    while daemon.try_wait().unwrap().is_none() {
        if stopping.elapsed() > Duration::from_secs(10) {
            let _ = daemon.kill();
            let _ = daemon.wait();
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        marker.exists(),
        "the marker server of a valid registry never ran"
    );
}

/// Runs `check` and `run` on a generated registry through [`judge`]; for the two floods below.
fn assert_hostile_passes(name: &str, text: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    assert!(text.len() < 1 << 20, "{} bytes", text.len());
    std::fs::write(&path, text).unwrap();
    let case = Case {
        name: name.into(),
        path: path.clone(),
        first: (String::new(), String::new()),
    };
    let mut failures = Vec::new();
    let m = probe(&check_args(&path), dir.path());
    judge("check", &case, &path, &m, &mut failures);
    std::fs::create_dir_all(dir.path().join("rundir")).unwrap();
    let r = probe(&run_args(&path, &dir.path().join("rundir")), dir.path());
    judge("run", &case, &path, &r, &mut failures);
    assert!(!dir.path().join(MARKER).exists(), "run started a component");
    println!(
        "{name}: check {:?} {} KiB, run {:?} {} KiB",
        m.wall, m.max_rss_kib, r.wall, r.max_rss_kib
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    a_valid_registry_starts_its_marker();
}

/// 100,000 attributes on one element (3-letter names, 700 KB). Once minutes: roxmltree 0.21.1
/// checks each attribute against every earlier one of its element (quadratic); the registry's
/// pre-scan now refuses more than 64 attributes on an element before roxmltree sees them.
fn a_hundred_thousand_attributes_on_one_element_are_rejected_fast() {
    let letters: Vec<char> = ('a'..='z').chain('A'..='Z').collect();
    let mut text = format!("<supervisor><servers>{MARKER_SERVER}\n<server id=\"a\"");
    for n in 0..100_000_usize {
        let (a, b, c) = (n % 52, n / 52 % 52, n / (52 * 52));
        text.push_str(&format!(" {}{}{}=\"\"", letters[c], letters[b], letters[a]));
    }
    text.push_str("><executable>/bin/true</executable></server></servers></supervisor>\n");
    assert_hostile_passes("attributes-100000.xml", &text);
}

/// 100,000 unknown attributes over 10,000 elements (600 KB). Once a 45 MiB peak: every
/// problem was kept as a message and the document built in full; now the collector keeps only
/// the first problems and the pre-scan refuses more than 50,000 attributes in all.
fn a_hundred_thousand_attributes_over_many_elements_stay_small() {
    let mut spread = format!("<supervisor><servers>{MARKER_SERVER}");
    for i in 0..10_000 {
        spread.push_str(&format!(
            "\n<server id=\"s{i}\" a=\"\" b=\"\" c=\"\" d=\"\" e=\"\" f=\"\" g=\"\" h=\"\" i=\"\" j=\"\"/>"
        ));
    }
    spread.push_str("</servers></supervisor>\n");
    assert_hostile_passes("attributes-100000-spread.xml", &spread);
}

/// The tests of this module, in file order, for the harness of main.rs.
pub const TESTS: &[testkit::harness::Test] = testkit::tests![
    every_hostile_registry_is_rejected_fast_small_and_without_starting_anything,
    a_hundred_thousand_attributes_on_one_element_are_rejected_fast,
    a_hundred_thousand_attributes_over_many_elements_stay_small,
];
