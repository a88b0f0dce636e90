//! `standin`: a stand-in for an Image Serving component (Image Server,
//! Platform Server, SVG renderer), used as the supervisor's test subject.
//!
//! It does nothing useful; it only behaves in ways a test can ask for:
//! serve a tiny HTTP endpoint, crash, exit or abort after a delay, ignore
//! SIGTERM, leave a grandchild behind, and report the process environment
//! it was started with (pid, process group, session, open descriptors,
//! signal masks, arguments, environment, credentials).
//!
//! # Options
//!
//! Options are `--flag value` (or `--flag=value`); later occurrences of an
//! option override earlier ones. Any unknown option, stray argument, missing
//! or malformed value prints a message on stderr and exits with code 2.
//!
//! * `--name NAME` — name used in the log lines on stderr (default `standin`).
//! * `--port N` — listen on `127.0.0.1:N` (`0` = ephemeral port) and print
//!   `listening on 127.0.0.1:PORT` on stdout once bound (and once every
//!   other start-up step, including `--report`, is done). Minimal HTTP/1.1,
//!   one thread per connection, always `Connection: close`:
//!   * `GET /ping`  → `200`, body `pong\n`;
//!   * `GET /crash` → `200`, body `crashing\n`, then the process exits with
//!     code 3;
//!   * `GET /info`  → `200`, the JSON report described under `--report`,
//!     computed afresh at request time (so `fds` then includes the listening
//!     socket, the connection, …);
//!   * anything else → `404` (a request without a complete request line and
//!     header → `400`).
//! * `--crash-after SECS` — exit with the `--exit-code` after SECS seconds
//!   (decimal, e.g. `0.25`), counted from the start of `main`.
//! * `--exit-after SECS` — alias of `--crash-after` (meant for clean exits
//!   with `--exit-code 0`).
//! * `--exit-code N` — code used by `--crash-after`/`--exit-after`, 0..=255
//!   (default 1).
//! * `--abort-after SECS` — call `std::process::abort()` (death by SIGABRT)
//!   after SECS seconds. If it falls at the same instant as
//!   `--crash-after`, the exit wins.
//! * `--ignore-term` — catch SIGTERM and ignore it, logging
//!   `NAME: ignoring SIGTERM` on stderr (from a watcher thread) each time one
//!   arrives. Without this option no handler is installed and SIGTERM has its
//!   default action.
//! * `--grandchild` — at start, spawn a copy of itself
//!   (`--name NAME-grandchild`, plus `--ignore-term` if given) in the same
//!   process group, wait (at most 5 s) until it has exec'd and, with
//!   `--ignore-term`, installed its SIGTERM handler, and print
//!   `grandchild PID` on stdout. The grandchild is never waited for.
//! * `--grandchild-setsid` — the same, but the copy is started through
//!   `/usr/bin/setsid`, so it runs in its own session and process group.
//! * `--report FILE` — at start, write FILE atomically (FILE.tmp, then
//!   rename) with a JSON object: `name`, `pid`, `ppid`, `pgid`, `sid`,
//!   `fds` (sorted descriptor numbers open in the process, excluding the one
//!   used to list them), `sig_blk`, `sig_ign`, `sig_pnd` (hex strings from
//!   `/proc/self/status`), `args` (argv\[1..\]), `env` (object), `cwd`,
//!   `uid`/`gid` (the 4 numbers of the `Uid:`/`Gid:` lines) and `groups`.
//!   The snapshot is taken right after option parsing, before standin opens
//!   any descriptor of its own, so `fds` shows what was inherited; the file
//!   is written once start-up is complete. Note that the Rust runtime sets
//!   SIGPIPE to ignored before `main`, so the SIGPIPE bit (`0x1000`) of
//!   `sig_ign` is always set and says nothing about what was inherited.
//! * `--stamp FILE` — the very first thing `main` does: append one line
//!   `PID MONOTONIC_NS` to FILE (CLOCK_MONOTONIC in nanoseconds), with a
//!   single `write` in append mode so concurrent instances do not clobber
//!   each other. Used by restart-latency benchmarks. This happens even if
//!   the other options turn out to be invalid.
//! * `--print-lines N` — print `line 1` … `line N` on stdout at start.
//! * `--stderr-lines N` — the same on stderr.
//! * `--help`, `-h` — print the usage on stdout and exit 0.
//!
//! At start it logs `NAME: started pid=PID` on stderr. Without `--port` and
//! without a timer it idles forever with the main thread parked (no busy
//! loop, no periodic wake-ups).
//!
//! # Exit codes
//!
//! * `--exit-code` (default 1) after `--crash-after`/`--exit-after`;
//! * 3 after `GET /crash`;
//! * SIGABRT after `--abort-after`;
//! * 2 on bad usage or a failed start-up step (stamp, report, bind, spawn);
//! * 0 after `--help`.
//!
//! Output written to a closed stdout/stderr is silently dropped.

#![forbid(unsafe_code)]

use std::convert::Infallible;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::{json, Map, Value};

const USAGE: &str = "\
usage: standin [OPTIONS]

  --name NAME             name used in log lines (default: standin)
  --port N                serve HTTP on 127.0.0.1:N (0 = ephemeral), print
                          'listening on 127.0.0.1:PORT'; GET /ping -> pong,
                          GET /crash -> exit 3, GET /info -> JSON report
  --crash-after SECS      exit with --exit-code after SECS (decimal) seconds
  --exit-after SECS       alias of --crash-after
  --exit-code N           exit code for --crash-after/--exit-after (default 1)
  --abort-after SECS      abort (SIGABRT) after SECS seconds
  --ignore-term           catch and ignore SIGTERM (logs 'ignoring SIGTERM')
  --grandchild            spawn a copy of itself in the same process group,
                          print 'grandchild PID'
  --grandchild-setsid     same, but through setsid (own session and group)
  --report FILE           write a JSON report (pid, pgid, sid, fds, signals,
                          args, env, cwd, uid, gid, groups) to FILE at start
  --stamp FILE            first thing: append 'PID MONOTONIC_NS' to FILE
  --print-lines N         print 'line 1'..'line N' on stdout at start
  --stderr-lines N        print 'line 1'..'line N' on stderr at start
  -h, --help              print this help and exit
";

/// Exit code for bad usage and failed start-up steps.
const EXIT_USAGE: i32 = 2;
/// Exit code after `GET /crash`.
const EXIT_CRASH: i32 = 3;
/// SIGTERM's bit in the `SigCgt:` mask of `/proc/PID/status`.
const SIGTERM_MASK: u64 = 1 << (signal_hook::consts::SIGTERM - 1);
/// How long to wait for the grandchild to become ready.
const GRANDCHILD_READY_TIMEOUT: Duration = Duration::from_secs(5);
/// Upper bound on an HTTP request head.
const MAX_HEAD: usize = 8192;

/// How the grandchild is started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grandchild {
    /// A plain child: same session and process group.
    SameGroup,
    /// Through `/usr/bin/setsid`: its own session and process group.
    Setsid,
}

#[derive(Debug, Clone, PartialEq)]
struct Options {
    name: String,
    port: Option<u16>,
    crash_after: Option<Duration>,
    exit_code: i32,
    abort_after: Option<Duration>,
    ignore_term: bool,
    grandchild: Option<Grandchild>,
    report: Option<PathBuf>,
    stamp: Option<PathBuf>,
    print_lines: u64,
    stderr_lines: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            name: "standin".to_owned(),
            port: None,
            crash_after: None,
            exit_code: 1,
            abort_after: None,
            ignore_term: false,
            grandchild: None,
            report: None,
            stamp: None,
            print_lines: 0,
            stderr_lines: 0,
        }
    }
}

#[derive(Debug, PartialEq)]
enum Parsed {
    Run(Options),
    Help,
}

/// Whether `flag` (without the leading `--`) takes a value.
fn takes_value(flag: &str) -> bool {
    matches!(
        flag,
        "name"
            | "port"
            | "crash-after"
            | "exit-after"
            | "exit-code"
            | "abort-after"
            | "report"
            | "stamp"
            | "print-lines"
            | "stderr-lines"
    )
}

/// Splits `--flag` / `--flag=value` into the flag name (without `--`) and
/// the inline value. `None` when `arg` does not look like a long option.
fn split_option(arg: &OsStr) -> Option<(String, Option<OsString>)> {
    let rest = arg.as_bytes().strip_prefix(b"--")?;
    let (flag, value) = match rest.iter().position(|&b| b == b'=') {
        Some(i) => (&rest[..i], Some(OsString::from_vec(rest[i + 1..].to_vec()))),
        None => (rest, None),
    };
    Some((String::from_utf8_lossy(flag).into_owned(), value))
}

/// Finds the `--stamp` file without parsing (or validating) anything else,
/// so the stamp can be written before anything else happens.
fn stamp_path(args: &[OsString]) -> Option<PathBuf> {
    let mut found = None;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let Some((flag, inline)) = split_option(arg) else {
            continue;
        };
        if !takes_value(&flag) {
            continue;
        }
        let value = match inline {
            Some(v) => Some(v),
            None => args.next().cloned(),
        };
        if flag == "stamp" {
            found = value.map(PathBuf::from);
        }
    }
    found
}

fn utf8_value(flag: &str, value: OsString) -> Result<String, String> {
    value
        .into_string()
        .map_err(|v| format!("invalid value {v:?} for --{flag}: not UTF-8"))
}

fn parse_number<T: std::str::FromStr>(flag: &str, value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("invalid value '{value}' for --{flag}: expected a number"))
}

fn parse_secs(flag: &str, value: &str) -> Result<Duration, String> {
    let secs: f64 = value
        .parse()
        .map_err(|_| format!("invalid value '{value}' for --{flag}: expected seconds"))?;
    Duration::try_from_secs_f64(secs)
        .map_err(|_| format!("invalid value '{value}' for --{flag}: out of range"))
}

/// Parses the arguments (without argv\[0\]).
fn parse_args<I: IntoIterator<Item = OsString>>(args: I) -> Result<Parsed, String> {
    let mut opts = Options::default();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == "-h" {
            return Ok(Parsed::Help);
        }
        let Some((flag, inline)) = split_option(&arg) else {
            return Err(format!("unexpected argument {arg:?}"));
        };
        if !takes_value(&flag) {
            if inline.is_some() {
                return Err(format!("option --{flag} takes no value"));
            }
            match flag.as_str() {
                "help" => return Ok(Parsed::Help),
                "ignore-term" => opts.ignore_term = true,
                "grandchild" => opts.grandchild = Some(Grandchild::SameGroup),
                "grandchild-setsid" => opts.grandchild = Some(Grandchild::Setsid),
                _ => return Err(format!("unknown option {arg:?}")),
            }
            continue;
        }
        let value = match inline.or_else(|| args.next()) {
            Some(v) => v,
            None => return Err(format!("option --{flag} needs a value")),
        };
        match flag.as_str() {
            "report" => opts.report = Some(PathBuf::from(value)),
            "stamp" => opts.stamp = Some(PathBuf::from(value)),
            _ => {
                let value = utf8_value(&flag, value)?;
                match flag.as_str() {
                    "name" => opts.name = value,
                    "port" => opts.port = Some(parse_number(&flag, &value)?),
                    "crash-after" | "exit-after" => {
                        opts.crash_after = Some(parse_secs(&flag, &value)?)
                    }
                    "exit-code" => {
                        let code: i32 = parse_number(&flag, &value)?;
                        if !(0..=255).contains(&code) {
                            return Err(format!(
                                "invalid value '{value}' for --exit-code: expected 0..=255"
                            ));
                        }
                        opts.exit_code = code;
                    }
                    "abort-after" => opts.abort_after = Some(parse_secs(&flag, &value)?),
                    "print-lines" => opts.print_lines = parse_number(&flag, &value)?,
                    "stderr-lines" => opts.stderr_lines = parse_number(&flag, &value)?,
                    _ => unreachable!("takes_value() and parse_args() disagree on --{flag}"),
                }
            }
        }
    }
    Ok(Parsed::Run(opts))
}

// ---------------------------------------------------------------------------
// Output helpers: never panic on a closed stdout/stderr.

/// Writes `line` and its newline in one `write` call, so lines of processes sharing a pipe never
/// interleave.
fn out_line(line: &str) {
    let mut out = io::stdout().lock();
    let _ = out.write_all(format!("{line}\n").as_bytes());
    let _ = out.flush();
}

/// As [`out_line`], on stderr.
fn err_line(line: &str) {
    let _ = io::stderr()
        .lock()
        .write_all(format!("{line}\n").as_bytes());
}

fn log(name: &str, msg: &str) {
    err_line(&format!("{name}: {msg}"));
}

fn print_numbered(out: &mut dyn Write, n: u64) {
    let mut out = io::BufWriter::new(out);
    for i in 1..=n {
        if writeln!(out, "line {i}").is_err() {
            return;
        }
    }
    let _ = out.flush();
}

// ---------------------------------------------------------------------------
// --stamp

/// CLOCK_MONOTONIC now, in nanoseconds (the clock `Instant` and the benchmarks use).
fn monotonic_ns() -> anyhow::Result<u128> {
    let now = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .context("cannot read CLOCK_MONOTONIC")?;
    Ok(now.tv_sec() as u128 * 1_000_000_000 + now.tv_nsec() as u128)
}

fn write_stamp(path: &Path) -> anyhow::Result<()> {
    let ns = monotonic_ns()?;
    let line = format!("{} {}\n", std::process::id(), ns);
    let mut file = fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .with_context(|| format!("cannot open stamp file {}", path.display()))?;
    // One write(2) on an O_APPEND file: concurrent appenders do not interleave.
    file.write_all(line.as_bytes())
        .with_context(|| format!("cannot write stamp file {}", path.display()))
}

// ---------------------------------------------------------------------------
// The report (--report, GET /info)

fn lossy(s: &OsStr) -> String {
    s.to_string_lossy().into_owned()
}

/// The value of the `key:` line of a `/proc/PID/status` text.
fn status_field<'a>(status: &'a str, key: &str) -> Option<&'a str> {
    status.lines().find_map(|line| {
        let (k, v) = line.split_once(':')?;
        (k == key).then_some(v.trim())
    })
}

/// The numbers of the `key:` line of a `/proc/PID/status` text.
fn status_numbers(status: &str, key: &str) -> Vec<u64> {
    status_field(status, key)
        .map(|v| {
            v.split_whitespace()
                .filter_map(|n| n.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Open descriptors, without the one used to read `/proc/self/fd`.
fn open_fds() -> Vec<i32> {
    let dir_handle = PathBuf::from(format!("/proc/{}/fd", std::process::id()));
    let Ok(entries) = fs::read_dir("/proc/self/fd") else {
        return Vec::new();
    };
    let mut fds: Vec<i32> = entries
        .filter_map(Result::ok)
        .filter(|e| fs::read_link(e.path()).ok().as_deref() != Some(dir_handle.as_path()))
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    fds.sort_unstable();
    fds
}

fn report(name: &str) -> Value {
    use nix::unistd::{getpgrp, getppid, getsid};
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let env: Map<String, Value> = std::env::vars_os()
        .map(|(k, v)| (lossy(&k), Value::String(lossy(&v))))
        .collect();
    json!({
        "name": name,
        "pid": std::process::id(),
        "ppid": getppid().as_raw(),
        "pgid": getpgrp().as_raw(),
        "sid": getsid(None).ok().map(|p| p.as_raw()),
        "fds": open_fds(),
        "sig_blk": status_field(&status, "SigBlk"),
        "sig_ign": status_field(&status, "SigIgn"),
        "sig_pnd": status_field(&status, "SigPnd"),
        "args": std::env::args_os().skip(1).map(|a| lossy(&a)).collect::<Vec<_>>(),
        "env": env,
        "cwd": std::env::current_dir().ok().map(|d| lossy(d.as_os_str())),
        "uid": status_numbers(&status, "Uid"),
        "gid": status_numbers(&status, "Gid"),
        "groups": status_numbers(&status, "Groups"),
    })
}

fn write_atomically(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    fs::write(&tmp, contents).with_context(|| format!("cannot write {}", tmp.display()))?;
    fs::rename(&tmp, path)
        .with_context(|| format!("cannot rename {} to {}", tmp.display(), path.display()))
}

// ---------------------------------------------------------------------------
// --ignore-term

fn ignore_sigterm(name: &str) -> anyhow::Result<()> {
    // Signals catches SIGTERM (so its default action does not run) and
    // wakes the watcher through a pipe: the watcher blocks, it never polls.
    let mut signals = signal_hook::iterator::Signals::new([signal_hook::consts::SIGTERM])
        .context("cannot install the SIGTERM handler")?;
    let name = name.to_owned();
    thread::Builder::new()
        .name("sigterm-watcher".to_owned())
        .spawn(move || {
            for _ in signals.forever() {
                log(&name, "ignoring SIGTERM");
            }
        })
        .context("cannot start the SIGTERM watcher")?;
    Ok(())
}

// ---------------------------------------------------------------------------
// --grandchild, --grandchild-setsid

fn spawn_grandchild(opts: &Options, mode: Grandchild) -> anyhow::Result<u32> {
    let exe = std::env::current_exe().context("cannot find my own executable")?;
    let gc_name = format!("{}-grandchild", opts.name);
    let mut cmd = match mode {
        Grandchild::SameGroup => Command::new(&exe),
        Grandchild::Setsid => {
            let mut cmd = Command::new("/usr/bin/setsid");
            cmd.arg(&exe);
            cmd
        }
    };
    cmd.arg("--name").arg(&gc_name);
    if opts.ignore_term {
        cmd.arg("--ignore-term");
    }
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot spawn the grandchild {}", exe.display()))?;
    let pid = child.id();
    if !wait_grandchild_ready(&mut child, &gc_name, opts.ignore_term)? {
        log(
            &opts.name,
            &format!("grandchild {pid} not ready after {GRANDCHILD_READY_TIMEOUT:?}, going on"),
        );
    }
    // Dropped without wait on purpose: whoever stops us must deal with it.
    drop(child);
    Ok(pid)
}

/// Whether `pid` runs standin as `--name NAME` (i.e. is past the exec of
/// standin itself, not of `setsid`) and, if `ignore_term`, catches SIGTERM.
fn grandchild_ready(pid: u32, name: &str, ignore_term: bool) -> bool {
    let Ok(cmdline) = fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let argv: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
    if argv.get(1) != Some(&&b"--name"[..]) || argv.get(2) != Some(&name.as_bytes()) {
        return false;
    }
    if !ignore_term {
        return true;
    }
    let Ok(status) = fs::read_to_string(format!("/proc/{pid}/status")) else {
        return false;
    };
    status_field(&status, "SigCgt")
        .and_then(|mask| u64::from_str_radix(mask, 16).ok())
        .is_some_and(|mask| mask & SIGTERM_MASK != 0)
}

/// Waits, briefly polling `/proc`, until the grandchild is ready. `Ok(false)`
/// on timeout; an error if it died.
fn wait_grandchild_ready(child: &mut Child, name: &str, ignore_term: bool) -> anyhow::Result<bool> {
    let deadline = Instant::now() + GRANDCHILD_READY_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().context("cannot check the grandchild")? {
            bail!("the grandchild {} died at start: {status}", child.id());
        }
        if grandchild_ready(child.id(), name, ignore_term) {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        thread::sleep(Duration::from_millis(1));
    }
}

// ---------------------------------------------------------------------------
// HTTP

/// Method and path (query string removed) of an HTTP request head.
fn parse_request_line(head: &str) -> Option<(&str, &str)> {
    let mut parts = head.lines().next()?.split_whitespace();
    let method = parts.next()?;
    let target = parts.next()?;
    let version = parts.next()?;
    if !version.starts_with("HTTP/") || parts.next().is_some() {
        return None;
    }
    let path = target.split(['?', '#']).next().unwrap_or(target);
    Some((method, path))
}

/// Reads up to the end of the request head (an empty line).
fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while buf.len() < MAX_HEAD {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.windows(4).any(|w| w == b"\r\n\r\n") || buf.windows(2).any(|w| w == b"\n\n") {
            return Some(String::from_utf8_lossy(&buf).into_owned());
        }
    }
    None
}

fn respond(stream: &mut TcpStream, status: &str, content_type: &str, body: &[u8]) {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );
    let _ = stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body))
        .and_then(|()| stream.flush());
}

fn handle_connection(mut stream: TcpStream, name: &str) {
    // A client that never sends its request does not keep a thread forever.
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Some(head) = read_head(&mut stream) else {
        respond(
            &mut stream,
            "400 Bad Request",
            "text/plain",
            b"bad request\n",
        );
        return;
    };
    match parse_request_line(&head) {
        Some(("GET", "/ping")) => respond(&mut stream, "200 OK", "text/plain", b"pong\n"),
        Some(("GET", "/crash")) => {
            respond(&mut stream, "200 OK", "text/plain", b"crashing\n");
            let _ = stream.shutdown(Shutdown::Write);
            log(
                name,
                &format!("crashing on request, exit code {EXIT_CRASH}"),
            );
            std::process::exit(EXIT_CRASH);
        }
        Some(("GET", "/info")) => {
            let mut body = report(name).to_string();
            body.push('\n');
            respond(&mut stream, "200 OK", "application/json", body.as_bytes());
        }
        Some(_) => respond(&mut stream, "404 Not Found", "text/plain", b"not found\n"),
        None => respond(
            &mut stream,
            "400 Bad Request",
            "text/plain",
            b"bad request\n",
        ),
    }
}

fn serve(listener: TcpListener, name: String) {
    for conn in listener.incoming() {
        match conn {
            Ok(stream) => {
                let conn_name = name.clone();
                let spawned = thread::Builder::new()
                    .name("http".to_owned())
                    .spawn(move || handle_connection(stream, &conn_name));
                if let Err(e) = spawned {
                    log(&name, &format!("cannot start a connection thread: {e}"));
                }
            }
            Err(e) => {
                // E.g. EMFILE: back off instead of spinning on the error.
                log(&name, &format!("accept failed: {e}"));
                thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

// ---------------------------------------------------------------------------
// main

fn run(opts: Options, t0: Instant) -> anyhow::Result<Infallible> {
    let name = opts.name.clone();
    log(&name, &format!("started pid={}", std::process::id()));

    // Snapshot before we open anything of our own; written once ready.
    let report_snapshot = opts.report.as_ref().map(|_| report(&name));

    if opts.ignore_term {
        ignore_sigterm(&name)?;
    }
    if let Some(mode) = opts.grandchild {
        let pid = spawn_grandchild(&opts, mode)?;
        out_line(&format!("grandchild {pid}"));
    }
    let listener = match opts.port {
        Some(port) => Some(
            TcpListener::bind(("127.0.0.1", port))
                .with_context(|| format!("cannot listen on 127.0.0.1:{port}"))?,
        ),
        None => None,
    };
    if let (Some(path), Some(snapshot)) = (&opts.report, report_snapshot) {
        let mut text = serde_json::to_string_pretty(&snapshot)?;
        text.push('\n');
        write_atomically(path, text.as_bytes())?;
    }
    if let Some(listener) = listener {
        let port = listener.local_addr()?.port();
        out_line(&format!("listening on 127.0.0.1:{port}"));
        let name = name.clone();
        thread::Builder::new()
            .name("accept".to_owned())
            .spawn(move || serve(listener, name))
            .context("cannot start the HTTP thread")?;
    }
    print_numbered(&mut io::stdout().lock(), opts.print_lines);
    print_numbered(&mut io::stderr().lock(), opts.stderr_lines);

    // Timers, counted from the start of main. Same instant: the exit wins.
    let exit_at = opts.crash_after.and_then(|d| t0.checked_add(d));
    let abort_at = opts.abort_after.and_then(|d| t0.checked_add(d));
    let abort_first = match (exit_at, abort_at) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(e), Some(a)) => a < e,
    };
    if let Some(at) = if abort_first { abort_at } else { exit_at } {
        thread::sleep(at.saturating_duration_since(Instant::now()));
        if abort_first {
            log(&name, "aborting");
            std::process::abort();
        }
        log(&name, &format!("exiting with code {}", opts.exit_code));
        std::process::exit(opts.exit_code);
    }
    loop {
        thread::park();
    }
}

fn main() {
    let t0 = Instant::now();
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    if let Some(path) = stamp_path(&args) {
        if let Err(e) = write_stamp(&path) {
            err_line(&format!("standin: {e:#}"));
            std::process::exit(EXIT_USAGE);
        }
    }
    let opts = match parse_args(args) {
        Ok(Parsed::Run(opts)) => opts,
        Ok(Parsed::Help) => {
            let _ = io::stdout().lock().write_all(USAGE.as_bytes());
            std::process::exit(0);
        }
        Err(e) => {
            err_line(&format!("standin: {e}"));
            err_line("standin: try 'standin --help'");
            std::process::exit(EXIT_USAGE);
        }
    };
    let name = opts.name.clone();
    match run(opts, t0) {
        Ok(never) => match never {},
        Err(e) => {
            log(&name, &format!("{e:#}"));
            std::process::exit(EXIT_USAGE);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    fn parse(list: &[&str]) -> Result<Parsed, String> {
        parse_args(args(list))
    }

    fn run_opts(list: &[&str]) -> Options {
        match parse(list) {
            Ok(Parsed::Run(opts)) => opts,
            other => panic!("{list:?} parsed as {other:?}"),
        }
    }

    #[test]
    fn defaults() {
        let opts = run_opts(&[]);
        assert_eq!(opts, Options::default());
        assert_eq!(opts.name, "standin");
        assert_eq!(opts.exit_code, 1);
        assert_eq!(opts.port, None);
        assert!(!opts.ignore_term);
    }

    #[test]
    fn every_option() {
        let opts = run_opts(&[
            "--name",
            "imgsrv",
            "--port",
            "0",
            "--crash-after",
            "1.5",
            "--exit-code",
            "7",
            "--abort-after",
            "0.25",
            "--ignore-term",
            "--grandchild",
            "--report",
            "/tmp/r.json",
            "--stamp",
            "/tmp/s",
            "--print-lines",
            "3",
            "--stderr-lines",
            "4",
        ]);
        assert_eq!(
            opts,
            Options {
                name: "imgsrv".into(),
                port: Some(0),
                crash_after: Some(Duration::from_millis(1500)),
                exit_code: 7,
                abort_after: Some(Duration::from_millis(250)),
                ignore_term: true,
                grandchild: Some(Grandchild::SameGroup),
                report: Some("/tmp/r.json".into()),
                stamp: Some("/tmp/s".into()),
                print_lines: 3,
                stderr_lines: 4,
            }
        );
    }

    #[test]
    fn inline_values() {
        let opts = run_opts(&["--name=a=b", "--port=8080", "--report="]);
        assert_eq!(opts.name, "a=b");
        assert_eq!(opts.port, Some(8080));
        assert_eq!(opts.report, Some(PathBuf::new()));
    }

    #[test]
    fn exit_after_is_an_alias_and_last_wins() {
        let opts = run_opts(&["--exit-after", "2", "--exit-code", "0"]);
        assert_eq!(opts.crash_after, Some(Duration::from_secs(2)));
        assert_eq!(opts.exit_code, 0);
        let opts = run_opts(&["--crash-after", "2", "--exit-after", "0.5"]);
        assert_eq!(opts.crash_after, Some(Duration::from_millis(500)));
        let opts = run_opts(&["--grandchild", "--grandchild-setsid"]);
        assert_eq!(opts.grandchild, Some(Grandchild::Setsid));
    }

    #[test]
    fn values_may_look_like_options() {
        let opts = run_opts(&["--name", "--port"]);
        assert_eq!(opts.name, "--port");
        assert_eq!(opts.port, None);
    }

    #[test]
    fn help() {
        assert_eq!(parse(&["--help"]), Ok(Parsed::Help));
        assert_eq!(parse(&["--port", "1", "-h"]), Ok(Parsed::Help));
    }

    #[test]
    fn errors() {
        for bad in [
            &["--bogus"][..],
            &["-x"],
            &["positional"],
            &["--port"],
            &["--port", "65536"],
            &["--port", "-1"],
            &["--port", "http"],
            &["--crash-after", "-1"],
            &["--crash-after", "NaN"],
            &["--crash-after", "inf"],
            &["--abort-after", ""],
            &["--exit-code", "256"],
            &["--exit-code", "-1"],
            &["--print-lines", "1.5"],
            &["--ignore-term=yes"],
            &["--", "--port", "1"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be rejected");
        }
        let msg = parse(&["--bogus"]).unwrap_err();
        assert!(msg.contains("--bogus"), "{msg}");
        let msg = parse(&["--report"]).unwrap_err();
        assert!(msg.contains("needs a value"), "{msg}");
    }

    #[test]
    fn non_utf8_paths_are_kept() {
        let raw = OsString::from_vec(b"/tmp/\xff.json".to_vec());
        let parsed = parse_args(vec![OsString::from("--report"), raw.clone()]);
        match parsed {
            Ok(Parsed::Run(opts)) => assert_eq!(opts.report, Some(PathBuf::from(raw))),
            other => panic!("{other:?}"),
        }
        let raw = OsString::from_vec(b"\xff".to_vec());
        assert!(parse_args(vec![OsString::from("--name"), raw]).is_err());
    }

    #[test]
    fn stamp_is_found_without_parsing() {
        assert_eq!(stamp_path(&args(&[])), None);
        assert_eq!(
            stamp_path(&args(&["--port", "0", "--stamp", "/tmp/s"])),
            Some("/tmp/s".into())
        );
        assert_eq!(
            stamp_path(&args(&["--stamp=/tmp/t"])),
            Some("/tmp/t".into())
        );
        // Found even when other options are bad.
        assert_eq!(
            stamp_path(&args(&["--bogus", "--stamp", "/tmp/s", "--port", "x"])),
            Some("/tmp/s".into())
        );
        // A value that happens to be "--stamp" is a value.
        assert_eq!(stamp_path(&args(&["--name", "--stamp", "x"])), None);
        assert_eq!(stamp_path(&args(&["--stamp"])), None);
        assert_eq!(
            stamp_path(&args(&["--stamp", "a", "--stamp", "b"])),
            Some("b".into())
        );
    }

    #[test]
    fn proc_status_parsing() {
        let status = "Name:\tstandin\nUid:\t1000\t1000\t1000\t1000\n\
                      Groups:\t4 24 27 \nSigIgn:\t0000000000001000\nGroupsX:\t9\n";
        assert_eq!(status_numbers(status, "Uid"), vec![1000; 4]);
        assert_eq!(status_numbers(status, "Groups"), vec![4, 24, 27]);
        assert_eq!(status_numbers(status, "Gid"), Vec::<u64>::new());
        assert_eq!(status_field(status, "SigIgn"), Some("0000000000001000"));
        assert_eq!(status_field(status, "SigBlk"), None);
    }

    #[test]
    fn request_lines() {
        assert_eq!(
            parse_request_line("GET /ping HTTP/1.1\r\nHost: x\r\n\r\n"),
            Some(("GET", "/ping"))
        );
        assert_eq!(
            parse_request_line("GET /info?x=1 HTTP/1.0\r\n\r\n"),
            Some(("GET", "/info"))
        );
        assert_eq!(parse_request_line("GET /ping\r\n\r\n"), None);
        assert_eq!(parse_request_line("GET / ping HTTP/1.1\r\n\r\n"), None);
        assert_eq!(parse_request_line(""), None);
    }

    #[test]
    fn fds_are_sorted_and_include_open_files() {
        use std::os::fd::AsRawFd;
        let file = fs::File::open("/proc/self/status").unwrap();
        let fds = open_fds();
        assert!(fds.windows(2).all(|w| w[0] < w[1]), "{fds:?}");
        assert!(fds.contains(&file.as_raw_fd()), "{fds:?}");
    }
}
