//! The soak's CI run (issue 12; see `testkit::soak`): 30 s of random SIGKILLs, operator
//! commands, reloads, SIGHUPs and output floods across 50 components, checked from the JSON log
//! and `/proc`. `cargo bench --bench soak` runs the same for minutes.

use std::time::Duration;

/// The CI run's length.
const CI_LENGTH: Duration = Duration::from_secs(30);

/// 30 s of soak: every exit logged exactly once, no lasting zombie, descriptors and RSS flat,
/// no component running twice, nothing outside the tree killed.
fn thirty_seconds_of_soak() {
    let figures = testkit::soak::run(CI_LENGTH);
    println!("soak (30 s): {figures:?}");
    assert!(figures.kills > 100, "the soak did act: {figures:?}");
}

/// The tests of this module, in file order, for the harness of main.rs.
pub const TESTS: &[testkit::harness::Test] = testkit::tests![thirty_seconds_of_soak];
