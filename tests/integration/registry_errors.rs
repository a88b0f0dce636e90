//! The registry corpus run through the real binary: `supervisor --registry FILE check` exits 2
//! and prints every diagnostic as `error: FILE:LINE:COL: message` on stderr, in well under a
//! second; a valid registry exits 0. The table is tests/fixtures/registry/expectations.txt,
//! shared with the loader's unit tests (huge and deep generated inputs: the `hostile` suite).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::corpus::{fixture_table, fixtures};

/// Generous, so a loaded CI machine does not flake; the target is well under 100 ms.
const DEADLINE: Duration = Duration::from_secs(2);

struct Outcome {
    code: Option<i32>,
    errors: Vec<String>,
    took: Duration,
}

fn check(path: &Path) -> Outcome {
    let started = Instant::now();
    let output = Command::new(testkit::supervisor_bin())
        .arg("--registry")
        .arg(path)
        .arg("check")
        .output()
        .expect("run supervisor");
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    Outcome {
        code: output.status.code(),
        errors: stderr
            .lines()
            .filter(|l| l.starts_with("error: "))
            .map(String::from)
            .collect(),
        took,
    }
}

/// `path` is rejected with exactly `expected` (("LINE:COL", fragment) each), in order.
fn assert_rejected(path: &Path, expected: &[(String, String)]) {
    let outcome = check(path);
    let name = path.display();
    assert_eq!(outcome.code, Some(2), "{name}: {:#?}", outcome.errors);
    assert_eq!(
        outcome.errors.len(),
        expected.len(),
        "{name}: {:#?}",
        outcome.errors
    );
    for (line, (position, fragment)) in outcome.errors.iter().zip(expected) {
        let prefix = format!("error: {name}:{position}: ");
        assert!(
            line.starts_with(&prefix),
            "{line}\n  expected prefix {prefix}"
        );
        assert!(
            line.contains(fragment.as_str()),
            "{line}\n  expected to contain {fragment}"
        );
    }
    assert!(outcome.took < DEADLINE, "{name} took {:?}", outcome.took);
}

fn every_fixture_gives_its_diagnostics() {
    for fixture in fixture_table(&fixtures()) {
        let path = fixtures().join(&fixture.file);
        if fixture.expected.is_empty() {
            // Valid: 0, or 1 when only the environment has problems (programs the fixture
            // names that this host does not have).
            let outcome = check(&path);
            let environment = |line: &String| {
                ["executable ", "working directory ", "program "]
                    .iter()
                    .any(|what| line.contains(what))
            };
            let valid = match outcome.code {
                Some(0) => outcome.errors.is_empty(),
                Some(1) => outcome.errors.iter().all(environment),
                _ => false,
            };
            assert!(
                valid,
                "{}: {:?} {:#?}",
                fixture.file, outcome.code, outcome.errors
            );
        } else {
            assert_rejected(&path, &fixture.expected);
        }
    }
}

/// The tests of this module, in file order, for the harness of main.rs.
pub const TESTS: &[testkit::harness::Test] = testkit::tests![every_fixture_gives_its_diagnostics,];
