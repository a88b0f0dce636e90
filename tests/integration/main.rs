//! The integration tests, one binary with a module per area, on the test kit's harness
//! (`harness = false`): a test that cannot run on this host (no root, no cgroup2, no `unshare`,
//! ...) ends with `testkit::skip!`, is counted as ignored and is listed at the end of the run. Each
//! module lists its tests in its `TESTS`; a test left out of the list is dead code, which
//! `cargo clippy -- -D warnings` refuses.

mod corpus;
mod placed;

mod chaos;
mod component_update;
mod control;
mod faults;
mod hostile;
mod interleavings;
mod migration;
mod observability;
mod operations;
mod output;
mod processes;
mod properties;
mod readiness;
mod registry_errors;
mod registry_reads;
mod spawning;
mod supervision;
mod upgrade;

fn main() -> std::process::ExitCode {
    testkit::use_supervisor(env!("CARGO_BIN_EXE_supervisor"));
    if let Some(args) = std::env::var_os(hostile::PROBE_ARGS) {
        hostile::probe_helper(args);
        return std::process::ExitCode::SUCCESS;
    }
    testkit::harness::main(&[
        ("chaos", chaos::TESTS),
        ("component_update", component_update::TESTS),
        ("control", control::TESTS),
        ("faults", faults::TESTS),
        ("hostile", hostile::TESTS),
        ("interleavings", interleavings::TESTS),
        ("observability", observability::TESTS),
        ("migration", migration::TESTS),
        ("operations", operations::TESTS),
        ("output", output::TESTS),
        ("processes", processes::TESTS),
        ("properties", properties::TESTS),
        ("readiness", readiness::TESTS),
        ("registry_errors", registry_errors::TESTS),
        ("registry_reads", registry_reads::TESTS),
        ("spawning", spawning::TESTS),
        ("supervision", supervision::TESTS),
        ("upgrade", upgrade::TESTS),
    ])
}
