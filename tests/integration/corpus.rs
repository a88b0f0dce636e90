//! The registry fixtures (tests/fixtures/registry) and their table of expected diagnostics,
//! shared by the modules that run them through the binary (`hostile`, `registry_errors`).

use std::path::{Path, PathBuf};

include!("../fixtures/registry/expectations.rs");

/// The fixture directory.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/registry")
}
