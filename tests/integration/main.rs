//! The integration tests, one binary with a module per area, on the test kit's harness
//! (`harness = false`): a test that cannot run on this host (no root, no cgroup2, no `unshare`,
//! ...) ends with `testkit::skip!`, is counted as ignored and is listed at the end of the run. Each
//! module lists its tests in its `TESTS`; a test left out of the list is dead code, which
//! `cargo clippy -- -D warnings` refuses.

mod corpus;
mod placed;

mod chaos;
mod collisions;
mod component_update;
mod control;
mod control_utility;
mod crash_safety;
mod faults;
mod guardian;
mod hostile;
mod interleavings;
mod migration;
mod observability;
mod operations;
mod output;
mod privileges;
mod processes;
mod properties;
mod readiness;
mod registry_errors;
mod registry_reads;
mod resources;
mod soak;
mod sockets;
mod sockets_binding;
mod sockets_reload;
mod sockets_status;
mod spawning;
mod supervision;
mod upgrade;
mod upgrade_check;
mod upgrade_descriptors;
mod upgrade_many;
mod upgrade_modes;

fn main() -> std::process::ExitCode {
    testkit::use_supervisor(env!("CARGO_BIN_EXE_supervisor"));
    if let Some(args) = std::env::var_os(hostile::PROBE_ARGS) {
        hostile::probe_helper(args);
        return std::process::ExitCode::SUCCESS;
    }
    testkit::harness::main(&[
        ("chaos", chaos::TESTS),
        ("collisions", collisions::TESTS),
        ("component_update", component_update::TESTS),
        ("control", control::TESTS),
        ("control_utility", control_utility::TESTS),
        ("crash_safety", crash_safety::TESTS),
        ("faults", faults::TESTS),
        ("guardian", guardian::TESTS),
        ("hostile", hostile::TESTS),
        ("interleavings", interleavings::TESTS),
        ("observability", observability::TESTS),
        ("migration", migration::TESTS),
        ("operations", operations::TESTS),
        ("output", output::TESTS),
        ("privileges", privileges::TESTS),
        ("processes", processes::TESTS),
        ("properties", properties::TESTS),
        ("readiness", readiness::TESTS),
        ("registry_errors", registry_errors::TESTS),
        ("registry_reads", registry_reads::TESTS),
        ("sockets", sockets::TESTS),
        ("sockets_binding", sockets_binding::TESTS),
        ("sockets_reload", sockets_reload::TESTS),
        ("sockets_status", sockets_status::TESTS),
        ("spawning", spawning::TESTS),
        ("resources", resources::TESTS),
        ("soak", soak::TESTS),
        ("supervision", supervision::TESTS),
        ("upgrade", upgrade::TESTS),
        ("upgrade_descriptors", upgrade_descriptors::TESTS),
        ("upgrade_check", upgrade_check::TESTS),
        ("upgrade_many", upgrade_many::TESTS),
        ("upgrade_modes", upgrade_modes::TESTS),
    ])
}
