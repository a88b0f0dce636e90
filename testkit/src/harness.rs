//! The test runner of the integration tests (`harness = false`): libtest's command line and
//! output, plus tests that skip themselves at run time ([`skip!`](crate::skip!)), which are
//! counted as ignored and listed at the end. Each test runs on a thread named after it, a few at
//! a time (`--test-threads`, `RUST_TEST_THREADS`, else the number of cores). Output is not
//! captured: what a test prints appears as it prints it.

use std::collections::VecDeque;
use std::io::Write;
use std::process::ExitCode;
use std::sync::{Mutex, mpsc};
use std::time::Instant;

use crate::skip::Skipped;

/// One test: its name within its module and the function that runs it.
#[derive(Clone, Copy)]
pub struct Test {
    /// The function's name.
    pub name: &'static str,
    /// The test; it fails by panicking, and skips through [`skip!`](crate::skip!).
    pub run: fn(),
}

/// `tests![a, b, c]`: the [`Test`]s of a module, named after their functions.
#[macro_export]
macro_rules! tests {
    ($($test:ident),* $(,)?) => {
        &[$($crate::harness::Test { name: stringify!($test), run: $test }),*]
    };
}

/// A test with its full name (`module::function`).
type Named = (String, fn());

/// How one test ended.
enum Outcome {
    Passed,
    Failed(String),
    Skipped(String),
}

/// What the command line asks for (the part of libtest's that cargo and people use).
#[derive(Default)]
struct Arguments {
    filters: Vec<String>,
    skips: Vec<String>,
    exact: bool,
    list: bool,
    ignored: bool,
    threads: Option<usize>,
}

impl Arguments {
    fn parse(mut args: impl Iterator<Item = String>) -> Arguments {
        let mut parsed = Arguments::default();
        while let Some(arg) = args.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((flag, value)) if arg.starts_with("--") => {
                    (flag.to_owned(), Some(value.to_owned()))
                }
                _ => (arg.clone(), None),
            };
            let mut value = || inline.clone().or_else(|| args.next()).unwrap_or_default();
            match flag.as_str() {
                "--exact" => parsed.exact = true,
                "--list" => parsed.list = true,
                "--ignored" => parsed.ignored = true,
                "--skip" => parsed.skips.push(value()),
                "--test-threads" => parsed.threads = value().parse().ok(),
                // Accepted and meaningless here: output is never captured, the format is fixed.
                "--format" | "--color" | "-Z" | "--logfile" => drop(value()),
                flag if flag.starts_with('-') => {}
                _ => parsed.filters.push(arg),
            }
        }
        parsed
    }

    fn selects(&self, name: &str) -> bool {
        let matches = |pattern: &String| match self.exact {
            true => name == pattern,
            false => name.contains(pattern.as_str()),
        };
        (self.filters.is_empty() || self.filters.iter().any(matches))
            && !self.skips.iter().any(matches)
    }

    fn threads(&self) -> usize {
        self.threads
            .or_else(|| std::env::var("RUST_TEST_THREADS").ok()?.parse().ok())
            .or_else(|| std::thread::available_parallelism().ok().map(usize::from))
            .unwrap_or(1)
            .max(1)
    }
}

/// Runs the tests of `modules` (module name, its tests) as the command line says, prints
/// libtest's lines (`test result: ok. N passed; M failed; K ignored; ...`) and returns the exit
/// code. Skipped tests count as ignored and are listed, with their reasons, before the result.
pub fn main(modules: &[(&str, &[Test])]) -> ExitCode {
    let args = Arguments::parse(std::env::args().skip(1));
    let all: Vec<Named> = modules
        .iter()
        .flat_map(|(module, tests)| {
            tests
                .iter()
                .map(move |t| (format!("{module}::{}", t.name), t.run))
        })
        .collect();
    let total = all.len();
    let chosen: Vec<Named> = all
        .into_iter()
        .filter(|(name, _)| args.selects(name))
        .collect();
    if args.list {
        for (name, _) in &chosen {
            println!("{name}: test");
        }
        return ExitCode::SUCCESS;
    }
    // No test is #[ignore]d: `--ignored` selects none.
    let chosen = if args.ignored { Vec::new() } else { chosen };
    let filtered_out = total - chosen.len();
    run_all(chosen, args.threads(), filtered_out)
}

/// Runs `tests` on `threads` workers and reports.
fn run_all(tests: Vec<Named>, threads: usize, filtered_out: usize) -> ExitCode {
    let started = Instant::now();
    let count = tests.len();
    println!(
        "\nrunning {count} test{}",
        if count == 1 { "" } else { "s" }
    );
    let queue = Mutex::new(VecDeque::from(tests));
    let (done, outcomes) = mpsc::channel();
    let mut results: Vec<(String, Outcome)> = Vec::new();
    std::thread::scope(|scope| {
        for _ in 0..threads.min(count) {
            let done = done.clone();
            let queue = &queue;
            scope.spawn(move || {
                while let Some((name, run)) = next(queue) {
                    let outcome = run_one(&name, run);
                    let _ = done.send((name, outcome));
                }
            });
        }
        drop(done);
        for (name, outcome) in outcomes {
            println!("test {name} ... {}", word(&outcome));
            results.push((name, outcome));
        }
    });
    report(&results, filtered_out, started)
}

/// The next test of the queue.
fn next(queue: &Mutex<VecDeque<Named>>) -> Option<Named> {
    queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front()
}

/// libtest's word for an outcome.
fn word(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Passed => "ok".to_owned(),
        Outcome::Failed(_) => "FAILED".to_owned(),
        Outcome::Skipped(reason) => format!("ignored, skipped: {reason}"),
    }
}

/// Runs one test on a thread named after it (panic messages and `skip!` name the test).
fn run_one(name: &str, run: fn()) -> Outcome {
    let thread = std::thread::Builder::new().name(name.to_owned()).spawn(run);
    let joined = match thread {
        Ok(handle) => handle.join(),
        Err(e) => return Outcome::Failed(format!("cannot start its thread: {e}")),
    };
    match joined {
        Ok(()) => Outcome::Passed,
        Err(payload) => match payload.downcast::<Skipped>() {
            Ok(skipped) => Outcome::Skipped(skipped.0),
            Err(payload) => Outcome::Failed(panic_message(payload)),
        },
    }
}

/// The message of a panic payload.
fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(text) => *text,
        Err(payload) => payload
            .downcast_ref::<&str>()
            .map_or_else(|| "(no message)".to_owned(), |text| (*text).to_owned()),
    }
}

/// Prints the failures, the skipped tests and libtest's result line; the exit code.
fn report(results: &[(String, Outcome)], filtered_out: usize, started: Instant) -> ExitCode {
    let (mut failed, mut skipped) = (Vec::new(), Vec::new());
    for (name, outcome) in results {
        match outcome {
            Outcome::Passed => {}
            Outcome::Failed(message) => failed.push((name, message)),
            Outcome::Skipped(reason) => skipped.push((name, reason)),
        }
    }
    let passed = results.len() - failed.len() - skipped.len();
    let mut out = std::io::stdout().lock();
    if !failed.is_empty() {
        let _ = writeln!(out, "\nfailures:");
        for (name, message) in &failed {
            let _ = writeln!(out, "\n---- {name} ----\n{message}");
        }
        let _ = writeln!(out, "\nfailures:");
        for (name, _) in &failed {
            let _ = writeln!(out, "    {name}");
        }
    }
    let _ = writeln!(out, "\nskipped: {} (counted as ignored)", skipped.len());
    for (name, reason) in &skipped {
        let _ = writeln!(out, "    {name}: {reason}");
    }
    let verdict = if failed.is_empty() { "ok" } else { "FAILED" };
    let _ = writeln!(
        out,
        "\ntest result: {verdict}. {passed} passed; {} failed; {} ignored; 0 measured; {filtered_out} filtered out; finished in {:.2}s\n",
        failed.len(),
        skipped.len(),
        started.elapsed().as_secs_f64()
    );
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(101)
    }
}
