//! Fuzzes the registry loader: roxmltree, the schema walker, the resolver and `check`'s
//! rendering (parse, then dump, as systemd's unit-file fuzzer does).
//!
//! UTF-8 input goes through `registry::parse(Path::new("fuzz.xml"), text)`; every input, UTF-8
//! or not, is also written to a scratch file and read back through `registry::load`, which must
//! agree with `parse` (and reject non-UTF-8 at its first bad byte). Every diagnostic must be
//! placed inside the document (1-based line and column) and name the path it was given.

#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use placed::assert_placed;
use supervisor::registry::{self, Registry, RegistryError};

// The property tests' check, from tests/integration/placed.rs.
#[path = "../../tests/integration/placed.rs"]
mod placed;

/// One scratch file per fuzzing process, rewritten for every input.
fn scratch() -> &'static Path {
    static SCRATCH: OnceLock<PathBuf> = OnceLock::new();
    SCRATCH.get_or_init(|| {
        std::env::temp_dir().join(format!("supervisor-fuzz-{}.xml", std::process::id()))
    })
}

/// The (line, column) of every diagnostic, or `None` for a registry that loaded.
fn positions(result: &Result<Registry, RegistryError>) -> Option<Vec<(u32, u32)>> {
    let Err(RegistryError(diagnostics)) = result else {
        return None;
    };
    Some(diagnostics.iter().map(|d| (d.line, d.column)).collect())
}

fuzz_target!(|data: &[u8]| {
    let path = scratch();
    std::fs::write(path, data).expect("write the scratch registry");
    let loaded = registry::load(path);
    match std::str::from_utf8(data) {
        // An `<include>` reads other files, relative to a folder `load` and `parse` see
        // differently: its errors may sit in another file. Included files are tested apart.
        Ok(text) if text.contains("<include") => {}
        Ok(text) => {
            let name = Path::new("fuzz.xml");
            let parsed = registry::parse(name, text);
            assert_placed(&parsed, name, text);
            assert_placed(&loaded, path, text);
            assert_eq!(
                positions(&loaded),
                positions(&parsed),
                "load and parse disagree"
            );
            if let Ok(registry) = &parsed {
                let _ = supervisor::check::render(registry);
            }
        }
        Err(error) => {
            let Err(RegistryError(diagnostics)) = &loaded else {
                panic!("a registry that is not UTF-8 was loaded");
            };
            assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
            assert!(
                diagnostics[0].message.contains("invalid UTF-8"),
                "{diagnostics:?}"
            );
            // The text before the bad byte is valid and places it.
            let before = std::str::from_utf8(&data[..error.valid_up_to()]).expect("valid prefix");
            let line = before.split('\n').count() as u32;
            assert_eq!(diagnostics[0].line, line, "{diagnostics:?}");
        }
    }
});
