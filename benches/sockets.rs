//! Held sockets under crash restarts: one client issues `GET /info` without pause while the
//! served process is SIGKILLed `SOCKETS_KILLS` times (default 50; each kill once the replacement
//! has answered), against ours with `<socket>`, ours with the component binding its own port,
//! and supervisord (no socket holding) when installed. Prints refused connections, requests lost
//! in flight in a killed process, and the worst and p99 request latency.
//!
//! Run with `cargo bench --bench sockets`; under `cargo test --benches` it does nothing.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use testkit::{Daemon, NO_BACKOFF, free_port, registry, standin, standin_server};

/// How one request ended.
#[derive(Clone, Copy)]
enum Outcome {
    Answered(u32),
    Refused,
    Lost,
}

/// One request: how long it took and how it ended.
type Sample = (Duration, Outcome);

/// `GET /info` to 127.0.0.1:`port` on a new connection; the answering pid.
fn get_info(port: u16) -> Outcome {
    let mut stream = match TcpStream::connect(("127.0.0.1", port)) {
        Ok(stream) => stream,
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => return Outcome::Refused,
        Err(_) => return Outcome::Lost,
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut text = String::new();
    let asked = stream.write_all(b"GET /info HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n");
    if asked.is_err() || stream.read_to_string(&mut text).is_err() {
        return Outcome::Lost;
    }
    let pid = text.split("\"pid\":").nth(1).and_then(|rest| {
        let digits: String = rest
            .trim_start()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    });
    pid.map_or(Outcome::Lost, Outcome::Answered)
}

/// Loads `port` while SIGKILLing whichever process answers, `kills` times; `None` when a
/// replacement did not answer within 30 s.
fn under_kills(port: u16, kills: usize) -> Option<Vec<Sample>> {
    let samples: Arc<Mutex<Vec<Sample>>> = Arc::default();
    let done = Arc::new(AtomicBool::new(false));
    let client = {
        let (samples, done) = (samples.clone(), done.clone());
        thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                let began = Instant::now();
                let outcome = get_info(port);
                samples.lock().unwrap().push((began.elapsed(), outcome));
            }
        })
    };
    // The pid of the first answer after sample `from` by a process other than `than`, and the
    // number of samples then.
    let answered_by_other = |from: usize, than: Option<u32>| {
        let limit = Instant::now() + Duration::from_secs(30);
        while Instant::now() < limit {
            let samples = samples.lock().unwrap();
            let found = samples.iter().skip(from).find_map(|(_, o)| match o {
                Outcome::Answered(pid) if Some(*pid) != than => Some(*pid),
                _ => None,
            });
            if let Some(pid) = found {
                return Some((pid, samples.len()));
            }
            drop(samples);
            thread::sleep(Duration::from_millis(1));
        }
        None
    };
    // Measured from the first answer on (before it, the server was still starting).
    let first = answered_by_other(0, None);
    let start = first.map_or(0, |(_, at)| at);
    let mut pid = first.map(|(pid, _)| pid);
    for _ in 0..kills {
        let Some(current) = pid else { break };
        let from = samples.lock().unwrap().len();
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(current as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
        pid = answered_by_other(from, Some(current)).map(|(pid, _)| pid);
    }
    done.store(true, Ordering::Relaxed);
    let _ = client.join();
    let mut samples = std::mem::take(&mut *samples.lock().unwrap());
    let measured = samples.split_off(start.min(samples.len()));
    pid.map(|_| measured)
}

/// One markdown row.
fn row(setup: &str, samples: Option<Vec<Sample>>) -> String {
    let Some(mut samples) = samples else {
        return format!("| {setup} | failed: a replacement never answered | | | | |");
    };
    let count = |f: fn(&Outcome) -> bool| samples.iter().filter(|(_, o)| f(o)).count();
    let refused = count(|o| matches!(o, Outcome::Refused));
    let lost = count(|o| matches!(o, Outcome::Lost));
    samples.sort_by_key(|(took, _)| *took);
    let worst = samples.last().map_or(Duration::ZERO, |(took, _)| *took);
    let p99 = samples
        .get(samples.len() * 99 / 100)
        .map_or(Duration::ZERO, |(took, _)| *took);
    format!(
        "| {setup} | {} | {refused} | {lost} | {:.1} ms | {:.2} ms |",
        samples.len(),
        worst.as_secs_f64() * 1000.0,
        p99.as_secs_f64() * 1000.0
    )
}

/// Ours, the component given `settings` (and `args`).
fn ours(args: &[&str], settings: &str, port: u16, kills: usize) -> Option<Vec<Sample>> {
    let daemon = Daemon::start(&registry("", &standin_server("is", args, settings)));
    let samples = under_kills(port, kills);
    drop(daemon);
    samples
}

/// supervisord 4 restarting the stand-in on its own port (`startsecs=0`, restarted at once).
fn supervisord(port: u16, kills: usize) -> Result<Option<Vec<Sample>>, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let config = dir.path().join("supervisord.conf");
    let text = format!(
        "[supervisord]\nnodaemon=true\nlogfile={dir}/supervisord.log\npidfile={dir}/supervisord.pid\n\
         [program:is]\ncommand={standin} --name is --port {port}\nautorestart=true\nstartsecs=0\n\
         startretries=1000000\n",
        dir = dir.path().display(),
        standin = standin()
    );
    std::fs::write(&config, text).map_err(|e| e.to_string())?;
    let mut child = Command::new("supervisord")
        .arg("-n")
        .arg("-c")
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("not installed ({e}); `pip install supervisor`"))?;
    let samples = under_kills(port, kills);
    let group = nix::unistd::Pid::from_raw(child.id() as i32);
    let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGTERM);
    let _ = child.wait();
    Ok(samples)
}

fn main() {
    testkit::use_supervisor(env!("CARGO_BIN_EXE_supervisor"));
    if !std::env::args().any(|arg| arg == "--bench") {
        println!("sockets: skipped (not run by `cargo test`; run `cargo bench --bench sockets`)");
        return;
    }
    let kills = std::env::var("SOCKETS_KILLS")
        .ok()
        .and_then(|k| k.parse().ok())
        .unwrap_or(50);
    println!("\n## {kills} SIGKILLs under a steady client load (one client, GET /info)\n");
    println!("| setup | requests | refused | lost in flight | worst latency | p99 latency |");
    println!("|---|---|---|---|---|---|");
    let port = free_port();
    let held = format!(
        r#"<socket name="http"><listen>tcp:127.0.0.1:{port}</listen></socket><readiness socket="true"/>{NO_BACKOFF}"#
    );
    println!(
        "{}",
        row("supervisor, `<socket>` held", ours(&[], &held, port, kills))
    );
    let port = free_port();
    let own = format!(r#"<readiness tcp="127.0.0.1:{port}" interval="0.01"/>{NO_BACKOFF}"#);
    let args = ["--port", &port.to_string()].map(String::from);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    println!(
        "{}",
        row("supervisor, own listener", ours(&args, &own, port, kills))
    );
    match supervisord(free_port(), kills) {
        Ok(samples) => println!("{}", row("supervisord (no socket holding)", samples)),
        Err(why) => println!("| supervisord | {why} | | | | |"),
    }
}
