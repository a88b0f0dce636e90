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
//! * `--long-line BYTES` — then print one line of BYTES bytes on stdout
//!   (no newline inside it, one newline after it). Its content is the
//!   8-byte groups `0000000|`, `0000001|`, `0000002|`, … (the group number
//!   in 7 lowercase hex digits, then `|`) cut at BYTES bytes, so every part
//!   of it says where it belongs.
//! * `--flood BYTES` — then write BYTES bytes of numbered lines on stdout
//!   as fast as possible, in large writes: `BYTES / N` whole lines (the rest
//!   of BYTES is not written) of N = `--line-bytes` bytes each, newline
//!   included. Line K (from 1) is K in 10 zero-padded digits, then `.`
//!   filler, then the newline. Afterwards it logs
//!   `NAME: flooded LINES lines` on stderr.
//! * `--line-bytes N` — the length of a `--flood` line, newline included,
//!   11..=1048576 (default 100).
//! * `--stdout-no-newline TEXT` — then write TEXT on stdout with no newline
//!   after it (a partial last line).
//! * `--tick-ms N` — then print `tick 1`, `tick 2`, … on stdout, one every
//!   N milliseconds (N ≥ 1), from a thread, until the process ends.
//! * `--listen-after SECS` — bind the `--port` listener only SECS seconds
//!   after the start of `main` (start-up from the listener on waits; the
//!   notification timers below do not).
//! * `--stop-answering-after SECS` — SECS seconds after the start of
//!   `main`, close the `--port` listener: later connects are refused.
//! * `--notify-ready-after SECS` — SECS seconds after the start of `main`,
//!   send `READY=1` as one datagram to `$NOTIFY_SOCKET` (a leading `@`
//!   names an abstract socket).
//! * `--watchdog-every SECS` — send `WATCHDOG=1` to `$NOTIFY_SOCKET` every
//!   SECS seconds (> 0), from a thread.
//! * `--watchdog-stop-after SECS` — send no more `WATCHDOG=1` once SECS
//!   seconds have passed since the start of `main`.
//! * `LISTEN_FDS` in the environment (a supervisor's held sockets, descriptors 3… with
//!   `LISTEN_PID` this process's pid, else exit 2): serve on each as on `--port` (a unix
//!   socket answers `pong` to every connection) and print `listening on fd N (NAME)`.
//! * `--help`, `-h` — print the usage on stdout and exit 0.
//!
//! The output options run in the order listed: `--print-lines`,
//! `--stderr-lines`, `--long-line`, `--flood`, `--stdout-no-newline`, then
//! `--tick-ms` and the timers (which count from the start of `main`, so an
//! exit timer that fell due during a flood fires right after it).
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

use anyhow::{Context, bail};
use serde_json::{Map, Value, json};

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
  --long-line BYTES       print one line of BYTES bytes ('0000000|0000001|...')
  --flood BYTES           write BYTES bytes of numbered lines to stdout as fast
                          as possible (whole lines only), then log
                          'NAME: flooded LINES lines' on stderr
  --line-bytes N          length of a --flood line, newline included
                          (11..=1048576, default 100)
  --stdout-no-newline TEXT  write TEXT to stdout without a newline
  --tick-ms N             print 'tick 1', 'tick 2', ... every N ms
  --listen-after SECS     bind the --port listener only after SECS seconds
  --stop-answering-after SECS  close the --port listener after SECS seconds
  --notify-ready-after SECS  send READY=1 to $NOTIFY_SOCKET after SECS seconds
  --watchdog-every SECS   send WATCHDOG=1 to $NOTIFY_SOCKET every SECS seconds
  --watchdog-stop-after SECS  stop sending WATCHDOG=1 after SECS seconds
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
/// `--line-bytes` when not given.
const DEFAULT_LINE_BYTES: usize = 100;
/// The allowed `--line-bytes`: the 10 digits, a filler byte at least, the newline.
const LINE_BYTES: std::ops::RangeInclusive<usize> = 11..=1 << 20;
/// How much `--flood` and `--long-line` hand to one `write`.
const WRITE_CHUNK: usize = 256 * 1024;

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
    long_line: Option<u64>,
    flood: Option<u64>,
    line_bytes: usize,
    no_newline: Option<String>,
    tick: Option<Duration>,
    probes: ProbeOptions,
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
            long_line: None,
            flood: None,
            line_bytes: DEFAULT_LINE_BYTES,
            no_newline: None,
            tick: None,
            probes: ProbeOptions::default(),
        }
    }
}

/// What a readiness or health probe of the supervisor sees: when the listener opens and
/// closes, when `READY=1` and `WATCHDOG=1` are sent (all counted from the start of `main`).
#[derive(Debug, Clone, Default, PartialEq)]
struct ProbeOptions {
    listen_after: Option<Duration>,
    stop_answering_after: Option<Duration>,
    notify_ready_after: Option<Duration>,
    watchdog_every: Option<Duration>,
    watchdog_stop_after: Option<Duration>,
}

// Built once per run: boxing `Options` to keep the enum small would buy nothing.
#[allow(clippy::large_enum_variant)]
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
            | "long-line"
            | "flood"
            | "line-bytes"
            | "stdout-no-newline"
            | "tick-ms"
            | "listen-after"
            | "stop-answering-after"
            | "notify-ready-after"
            | "watchdog-every"
            | "watchdog-stop-after"
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
                    "long-line" => opts.long_line = Some(parse_number(&flag, &value)?),
                    "flood" => opts.flood = Some(parse_number(&flag, &value)?),
                    "line-bytes" => {
                        let n: usize = parse_number(&flag, &value)?;
                        if !LINE_BYTES.contains(&n) {
                            return Err(format!(
                                "invalid value '{value}' for --line-bytes: expected \
                                 {}..={}",
                                LINE_BYTES.start(),
                                LINE_BYTES.end()
                            ));
                        }
                        opts.line_bytes = n;
                    }
                    "stdout-no-newline" => opts.no_newline = Some(value),
                    "tick-ms" => {
                        let ms: u64 = parse_number(&flag, &value)?;
                        if ms == 0 {
                            return Err(
                                "invalid value '0' for --tick-ms: expected 1 or more".to_owned()
                            );
                        }
                        opts.tick = Some(Duration::from_millis(ms));
                    }
                    "listen-after" => opts.probes.listen_after = Some(parse_secs(&flag, &value)?),
                    "stop-answering-after" => {
                        opts.probes.stop_answering_after = Some(parse_secs(&flag, &value)?)
                    }
                    "notify-ready-after" => {
                        opts.probes.notify_ready_after = Some(parse_secs(&flag, &value)?)
                    }
                    "watchdog-every" => {
                        let every = parse_secs(&flag, &value)?;
                        if every.is_zero() {
                            return Err(format!(
                                "invalid value '{value}' for --watchdog-every: expected more than 0"
                            ));
                        }
                        opts.probes.watchdog_every = Some(every);
                    }
                    "watchdog-stop-after" => {
                        opts.probes.watchdog_stop_after = Some(parse_secs(&flag, &value)?)
                    }
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

/// The `--long-line` content: groups `0000000|`, `0000001|`, … cut at `bytes`.
fn write_long_line(out: &mut dyn Write, bytes: u64) -> io::Result<()> {
    let mut chunk = Vec::with_capacity(WRITE_CHUNK + 8);
    let mut written = 0u64;
    let mut group = 0u64;
    while written < bytes {
        let text = format!("{group:07x}|");
        let take = (bytes - written).min(text.len() as u64) as usize;
        chunk.extend_from_slice(&text.as_bytes()[..take]);
        written += take as u64;
        group += 1;
        if chunk.len() >= WRITE_CHUNK {
            out.write_all(&chunk)?;
            chunk.clear();
        }
    }
    chunk.push(b'\n');
    out.write_all(&chunk)?;
    out.flush()
}

/// The `--flood` output: `bytes / line_bytes` numbered lines; returns how many were written.
fn flood(out: &mut dyn Write, bytes: u64, line_bytes: usize) -> u64 {
    let lines = bytes / line_bytes as u64;
    let mut template = vec![b'.'; line_bytes];
    template[line_bytes - 1] = b'\n';
    let mut chunk = Vec::with_capacity(WRITE_CHUNK + line_bytes);
    for k in 1..=lines {
        let start = chunk.len();
        chunk.extend_from_slice(&template);
        chunk[start..start + 10].copy_from_slice(format!("{k:010}").as_bytes());
        if chunk.len() >= WRITE_CHUNK {
            if out.write_all(&chunk).is_err() {
                return k - (chunk.len() / line_bytes) as u64;
            }
            chunk.clear();
        }
    }
    if out.write_all(&chunk).and_then(|()| out.flush()).is_err() {
        return lines - (chunk.len() / line_bytes) as u64;
    }
    lines
}

/// Prints `tick K` every `every`, from a thread, until the process ends.
fn start_ticking(every: Duration) -> anyhow::Result<()> {
    thread::Builder::new()
        .name("tick".to_owned())
        .spawn(move || {
            let start = Instant::now();
            for k in 1u64.. {
                out_line(&format!("tick {k}"));
                let next = start + every * u32::try_from(k).unwrap_or(u32::MAX);
                thread::sleep(next.saturating_duration_since(Instant::now()));
            }
        })
        .context("cannot start the tick thread")?;
    Ok(())
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
        answer(conn, &name);
    }
}

/// Answers one accepted connection on a thread of its own; after a failed accept, logs it and
/// waits a little.
fn answer(conn: io::Result<TcpStream>, name: &str) {
    match conn {
        Ok(stream) => {
            let conn_name = name.to_owned();
            let spawned = thread::Builder::new()
                .name("http".to_owned())
                .spawn(move || handle_connection(stream, &conn_name));
            if let Err(e) = spawned {
                log(name, &format!("cannot start a connection thread: {e}"));
            }
        }
        Err(e) => {
            // E.g. EMFILE: back off instead of spinning on the error.
            log(name, &format!("accept failed: {e}"));
            thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Serves HTTP on an inherited TCP listener, or answers `pong` on a unix one, on a thread.
fn serve_inherited(socket: std::os::fd::OwnedFd, name: String) -> anyhow::Result<()> {
    let listener = TcpListener::from(socket);
    let tcp = listener.local_addr().is_ok();
    let spawned = thread::Builder::new().name("accept".to_owned());
    if tcp {
        spawned.spawn(move || serve(listener, name))
    } else {
        let listener = std::os::unix::net::UnixListener::from(std::os::fd::OwnedFd::from(listener));
        spawned.spawn(move || {
            for mut conn in listener.incoming().flatten() {
                let _ = conn.write_all(b"pong\n");
            }
        })
    }
    .context("cannot start a thread for an inherited socket")?;
    Ok(())
}

/// As [`serve`] until `stop_at`, then closes the listener (later connects are refused). A
/// thread connects once at `stop_at` to wake the blocked `accept`.
fn serve_until(listener: TcpListener, name: String, stop_at: Instant) {
    if let Ok(address) = listener.local_addr() {
        let waker = thread::Builder::new()
            .name("stop-answering".to_owned())
            .spawn(move || {
                thread::sleep(stop_at.saturating_duration_since(Instant::now()));
                let _ = TcpStream::connect(address);
            });
        if let Err(e) = waker {
            log(
                &name,
                &format!("cannot start the stop-answering thread: {e}"),
            );
        }
    }
    for conn in listener.incoming() {
        if Instant::now() >= stop_at {
            break;
        }
        answer(conn, &name);
    }
    drop(listener);
    log(&name, "stopped answering");
}

/// Sends one sd_notify datagram (`READY=1`, `WATCHDOG=1`) to `socket`, the value of
/// `NOTIFY_SOCKET`: a path, or `@name` for an abstract socket.
fn notify(socket: &OsStr, message: &str) -> io::Result<()> {
    use std::os::unix::net::UnixDatagram;
    let sender = UnixDatagram::unbound()?;
    match socket.as_bytes().strip_prefix(b"@") {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            let address = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
            sender.send_to_addr(message.as_bytes(), &address)?;
        }
        None => {
            sender.send_to(message.as_bytes(), socket)?;
        }
    }
    Ok(())
}

/// Starts the `--notify-ready-after` and `--watchdog-every` threads (none when neither is
/// given). Without `NOTIFY_SOCKET` they log that and send nothing.
fn start_notifying(probes: &ProbeOptions, t0: Instant, name: &str) -> anyhow::Result<()> {
    if probes.notify_ready_after.is_none() && probes.watchdog_every.is_none() {
        return Ok(());
    }
    let Some(socket) = std::env::var_os("NOTIFY_SOCKET") else {
        log(name, "NOTIFY_SOCKET is not set: not notifying");
        return Ok(());
    };
    if let Some(after) = probes.notify_ready_after {
        let (socket, name) = (socket.clone(), name.to_owned());
        thread::Builder::new()
            .name("notify-ready".to_owned())
            .spawn(move || {
                thread::sleep((t0 + after).saturating_duration_since(Instant::now()));
                match notify(&socket, "READY=1") {
                    Ok(()) => log(&name, "sent READY=1"),
                    Err(e) => log(&name, &format!("cannot send READY=1: {e}")),
                }
            })
            .context("cannot start the notify thread")?;
    }
    if let Some(every) = probes.watchdog_every {
        let stop_at = probes.watchdog_stop_after.map(|after| t0 + after);
        let name = name.to_owned();
        thread::Builder::new()
            .name("watchdog".to_owned())
            .spawn(move || {
                loop {
                    if stop_at.is_some_and(|at| Instant::now() >= at) {
                        log(&name, "no more WATCHDOG=1");
                        return;
                    }
                    if let Err(e) = notify(&socket, "WATCHDOG=1") {
                        log(&name, &format!("cannot send WATCHDOG=1: {e}"));
                    }
                    thread::sleep(every);
                }
            })
            .context("cannot start the watchdog thread")?;
    }
    Ok(())
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
    start_notifying(&opts.probes, t0, &name)?;
    if let Some(after) = opts.probes.listen_after {
        thread::sleep((t0 + after).saturating_duration_since(Instant::now()));
    }
    let listener = match opts.port {
        Some(port) => Some(
            TcpListener::bind(("127.0.0.1", port))
                .with_context(|| format!("cannot listen on 127.0.0.1:{port}"))?,
        ),
        None => None,
    };
    let inherited = actors::process::sys::listen_fds().context("cannot take LISTEN_FDS")?;
    if let (Some(path), Some(snapshot)) = (&opts.report, report_snapshot) {
        let mut text = serde_json::to_string_pretty(&snapshot)?;
        text.push('\n');
        write_atomically(path, text.as_bytes())?;
    }
    for (fd, (socket_name, socket)) in (3..).zip(inherited) {
        out_line(&format!("listening on fd {fd} ({socket_name})"));
        serve_inherited(socket, name.clone())?;
    }
    if let Some(listener) = listener {
        let stop_answering_at = opts.probes.stop_answering_after.map(|after| t0 + after);
        let port = listener.local_addr()?.port();
        out_line(&format!("listening on 127.0.0.1:{port}"));
        let name = name.clone();
        thread::Builder::new()
            .name("accept".to_owned())
            .spawn(move || match stop_answering_at {
                Some(at) => serve_until(listener, name, at),
                None => serve(listener, name),
            })
            .context("cannot start the HTTP thread")?;
    }
    print_numbered(&mut io::stdout().lock(), opts.print_lines);
    print_numbered(&mut io::stderr().lock(), opts.stderr_lines);
    if let Some(bytes) = opts.long_line {
        let _ = write_long_line(&mut io::stdout().lock(), bytes);
    }
    if let Some(bytes) = opts.flood {
        let lines = flood(&mut io::stdout().lock(), bytes, opts.line_bytes);
        log(&name, &format!("flooded {lines} lines"));
    }
    if let Some(text) = &opts.no_newline {
        let mut out = io::stdout().lock();
        let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    }
    if let Some(every) = opts.tick {
        start_ticking(every)?;
    }

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
            "--long-line",
            "65536",
            "--flood",
            "1000",
            "--line-bytes",
            "20",
            "--stdout-no-newline",
            "tail",
            "--tick-ms",
            "50",
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
                long_line: Some(65536),
                flood: Some(1000),
                line_bytes: 20,
                no_newline: Some("tail".into()),
                tick: Some(Duration::from_millis(50)),
                probes: ProbeOptions::default(),
            }
        );
    }

    #[test]
    fn probe_options() {
        let opts = run_opts(&[
            "--listen-after",
            "0.3",
            "--stop-answering-after",
            "0.5",
            "--notify-ready-after",
            "0",
            "--watchdog-every",
            "0.1",
            "--watchdog-stop-after",
            "1",
        ]);
        assert_eq!(
            opts.probes,
            ProbeOptions {
                listen_after: Some(Duration::from_millis(300)),
                stop_answering_after: Some(Duration::from_millis(500)),
                notify_ready_after: Some(Duration::ZERO),
                watchdog_every: Some(Duration::from_millis(100)),
                watchdog_stop_after: Some(Duration::from_secs(1)),
            }
        );
        assert!(parse(&["--watchdog-every", "0"]).is_err());
        assert!(parse(&["--listen-after", "-1"]).is_err());
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
            &["--line-bytes", "10"],
            &["--line-bytes", "1048577"],
            &["--tick-ms", "0"],
            &["--flood", "1MB"],
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
    fn long_lines_say_where_each_part_belongs() {
        let mut out = Vec::new();
        write_long_line(&mut out, 20).unwrap();
        assert_eq!(out, b"0000000|0000001|0000\n");
        let mut out = Vec::new();
        write_long_line(&mut out, 3 * WRITE_CHUNK as u64 + 5).unwrap();
        assert_eq!(out.len(), 3 * WRITE_CHUNK + 6);
        assert_eq!(
            &out[WRITE_CHUNK..WRITE_CHUNK + 8],
            format!("{:07x}|", WRITE_CHUNK / 8).as_bytes()
        );
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
    }

    #[test]
    fn floods_are_whole_numbered_lines() {
        let mut out = Vec::new();
        assert_eq!(flood(&mut out, 65, 16), 4);
        assert_eq!(
            out,
            b"0000000001.....\n0000000002.....\n0000000003.....\n0000000004.....\n"
        );
        let mut out = Vec::new();
        let lines = flood(&mut out, 1 << 20, 100);
        assert_eq!(lines, (1 << 20) / 100);
        assert_eq!(out.len() as u64, lines * 100);
        let last = out.rsplit(|&b| b == b'\n').nth(1).unwrap();
        assert_eq!(&last[..10], format!("{lines:010}").as_bytes());
        assert_eq!(flood(&mut Vec::new(), 10, 11), 0);
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
