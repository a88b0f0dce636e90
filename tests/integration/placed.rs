//! The check that every registry diagnostic is placed inside its document, shared by the property
//! tests (module `properties`) and the registry fuzz target (which includes this file by path:
//! it can use nothing else of the harness).

use std::path::Path;

use supervisor::registry::{Registry, RegistryError};

/// Every diagnostic of an error names `path` and points inside `text`: 1-based line and
/// column, the line one of the text's, the column at most one past the end of that line (where a
/// truncated document ends). Columns count characters.
pub fn assert_placed(result: &Result<Registry, RegistryError>, path: &Path, text: &str) {
    let Err(RegistryError(diagnostics)) = result else {
        return;
    };
    assert!(!diagnostics.is_empty(), "an error without a diagnostic");
    let lines: Vec<&str> = text.split('\n').collect();
    for diagnostic in diagnostics {
        assert_eq!(diagnostic.path, path, "{diagnostic}");
        assert!(
            diagnostic.line >= 1 && diagnostic.column >= 1,
            "{diagnostic}"
        );
        let line = lines
            .get(diagnostic.line as usize - 1)
            .unwrap_or_else(|| panic!("{diagnostic}: past the last line"));
        let width = u32::try_from(line.chars().count()).unwrap() + 1;
        assert!(
            diagnostic.column <= width,
            "{diagnostic}: past the end of its line"
        );
    }
}
