//! A reload that changes only a running component's `<output>` settings updates them in place
//! (SPEC section 4, `Update`): the process keeps running and its next lines go where the new
//! settings say.

use std::path::Path;

use nix::sys::signal::Signal;
use testkit::*;

/// The `tick N` lines written to `path` so far.
fn ticks(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .map(|text| {
            text.lines()
                .filter(|line| line.starts_with("tick "))
                .count()
        })
        .unwrap_or(0)
}

fn ticker(file: &str) -> String {
    let output = format!(r#"<output file="logs/{file}" timestamps="false" stderr="null"/>"#);
    registry(
        FAST,
        &standin_server("ticker", &["--tick-ms", "20"], &output),
    )
}

fn a_changed_output_file_applies_to_the_running_process() {
    let mut daemon = Daemon::start(&ticker("first.log"));
    let pid = daemon.started_pid("ticker");
    let logs = daemon.dir.path().join("logs");
    let (first, second) = (logs.join("first.log"), logs.join("second.log"));
    eventually("ticks in the first file", || ticks(&first) > 0);

    std::fs::write(&daemon.registry, ticker("second.log")).expect("rewrite the registry");
    daemon.signal(Signal::SIGHUP);
    daemon.wait_any("config_reloaded");
    eventually("ticks in the second file", || ticks(&second) > 0);

    // Every line after the switch goes to the second file: once it has many more, the first
    // has not grown meanwhile (the same reader would have written there).
    let (settled, switched) = (ticks(&first), ticks(&second));
    eventually("ten more ticks in the second file", || {
        ticks(&second) >= switched + 10
    });
    assert_eq!(ticks(&first), settled, "the first file no longer grows");
    assert!(alive(pid), "the process kept running");
    assert_eq!(daemon.count("component_stopping"), 0, "no restart");
    assert_eq!(daemon.count("component_started"), 1, "one process");
    assert_eq!(daemon.stop(), Some(0));
}

/// The tests of this module, for the integration runner.
pub const TESTS: &[testkit::harness::Test] =
    testkit::tests![a_changed_output_file_applies_to_the_running_process,];
