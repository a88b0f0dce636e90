//! The registry: `SupervisorRegistry.xml` read, validated and resolved into [`actors::spec`].
//!
//! Nothing XML-shaped leaves this module, and nothing is started or written here: loading only
//! reads the file and looks up users. The input is treated as hostile: at most [`MAX_BYTES`],
//! checked before reading; UTF-8 only; no DTD or entities; at most [`MAX_DEPTH`] levels and
//! [`NODES_LIMIT`] nodes. Every problem is reported as `path:line:col: message`, all of them in
//! document order rather than the first only.
//!
//! The pipeline: bytes → text (here) → roxmltree document → `walk.rs` (strict schema, values in
//! `values.rs`, server settings in `settings.rs` and `process.rs`), then the included files
//! (`include.rs`, walked into the same raw registry) → `raw.rs` → `resolve.rs` (profiles, the
//! defaults of `defaults.rs`, paths against `<home>`, `users.rs`) → [`Registry`]. The limits
//! hold for the main file and its included files together.

mod defaults;
mod diff;
mod error;
mod file;
mod include;
#[cfg(test)]
mod migration_tests;
mod prescan;
mod process;
mod raw;
mod resolve;
mod settings;
mod sockets;
#[cfg(test)]
mod tests;
mod users;
mod values;
mod walk;
mod xml;

use std::path::{Path, PathBuf};
use std::time::Duration;

use actors::output::dates::Zone;
use actors::spec::TreeSpec;

pub use diff::config_changes;
pub use error::{Diagnostic, LineIndex, RegistryError};
pub use file::{READ_DEADLINE, load_off_thread, load_within};
/// The registry's spelling of durations and signals, for the command line's options too.
pub use values::{duration as parse_duration, signal as parse_signal};

/// The largest registry file accepted, in bytes (4 MiB): 10,000 servers written as SPEC's
/// example (indented, one setting a line) take 3.6 MB; the node limit bounds the work (and
/// memory) a file can ask for.
pub const MAX_BYTES: u64 = 4 << 20;
/// The deepest element nesting accepted; `<supervisor>` is level 1.
pub const MAX_DEPTH: usize = 32;
/// The most XML nodes (elements, text, comments…) a registry may have. SPEC's example server
/// is 28 nodes, whitespace between its elements included: 10,000 of them are 280,000.
pub const NODES_LIMIT: u32 = 400_000;

/// A loaded, validated registry.
#[derive(Debug, Clone, PartialEq)]
pub struct Registry {
    /// The file it was read from (as given, made absolute).
    pub path: PathBuf,
    /// The files it includes (`<include path>`), absolute, in the order they were read.
    pub includes: Vec<PathBuf>,
    /// The daemon's own settings (`<config>`).
    pub config: DaemonConfig,
    /// The supervision tree (`<restartStrategy>` + `<servers>`).
    pub tree: TreeSpec,
}

/// The daemon's own settings from `<config>`, defaults applied, paths absolute.
#[derive(Debug, Clone, PartialEq)]
pub struct DaemonConfig {
    /// `<tcpport>`: the HTTP endpoint's port, if any.
    pub tcp_port: Option<u16>,
    /// `<tcpport bind="ADDR">`: the address the HTTP endpoint listens on (127.0.0.1 when `None`).
    pub tcp_bind: Option<std::net::IpAddr>,
    /// `<log>`: the daemon log file (the date is inserted before the extension).
    pub log: PathBuf,
    /// `<temp>`: exported to components as `TMPDIR`.
    pub temp: Option<PathBuf>,
    /// `<tracelevel>`: 1 warn, 2 info, 3 debug, 4 trace.
    pub trace_level: u8,
    /// `<tracestatsinterval>`: time between `stats` events; `None` when 0.
    pub stats_interval: Option<Duration>,
    /// `<logRetentionDays>`.
    pub log_retention_days: u32,
    /// `<logTime>`: the calendar of daily file names and text stamps (local unless `utc`).
    pub log_time: Zone,
    /// `<home>`: the folder every relative path of the registry is relative to.
    pub home: PathBuf,
}

/// Reads, validates and resolves the registry at `path`.
///
/// Anything but a regular file is refused before it is read (a FIFO without waiting for a
/// writer); the size is checked before anything is read (and the read is capped, should the
/// file grow meanwhile); a file that is not UTF-8 is rejected at its first bad byte. This blocks
/// for as long as the file system does: the daemon and the command line use [`load_off_thread`]
/// and [`load_within`], which bound that by a deadline.
pub fn load(path: &Path) -> Result<Registry, RegistryError> {
    let bytes = file::read_capped(path)?;
    match std::str::from_utf8(&bytes) {
        Ok(text) => parse(path, text),
        Err(error) => Err(invalid_utf8(path, &bytes, error)),
    }
}

/// Validates and resolves registry `text` as if read from `path` (which places its relative
/// paths and names it in diagnostics). For tests and fuzzing; [`load`] reads the file.
pub fn parse(path: &Path, text: &str) -> Result<Registry, RegistryError> {
    if text.len() as u64 > MAX_BYTES {
        return Err(too_big(path, text.len() as u64));
    }
    let absolute = std::path::absolute(path)
        .map_err(|e| at_start(path, format!("cannot make the path absolute: {e}")))?;
    let folder = absolute.parent().unwrap_or(Path::new("/"));
    let attributes = match prescan::attribute_flood(text, 0) {
        Ok(attributes) => attributes,
        Err(offset) => {
            let mut problems = error::Problems::new(path, text);
            let (each, all) = (prescan::MAX_ATTRIBUTES, prescan::MAX_TOTAL_ATTRIBUTES);
            let message = format!("too many attributes (at most {each} an element, {all} in all)");
            problems.report(offset, message);
            return Err(problems.into_error());
        }
    };
    let options = roxmltree::ParsingOptions {
        allow_dtd: false,
        nodes_limit: NODES_LIMIT,
        ..roxmltree::ParsingOptions::default()
    };
    let document = roxmltree::Document::parse_with_options(text, options)
        .map_err(|e| error::xml_error(path, text, &e))?;
    let mut problems = error::Problems::new(path, text);
    let mut walker = walk::Walker::new(&mut problems);
    let mut raw = walker.registry(&document);
    let used = include::used_by(text, &document, attributes);
    let includes = include::read_all(&mut walker, &mut raw, &absolute, path, used);
    let (config, tree) = resolve::resolve(&raw, folder, &mut problems);
    if !problems.is_empty() {
        return Err(problems.into_error());
    }
    Ok(Registry {
        path: absolute,
        includes,
        config,
        tree,
    })
}

/// A problem with the file as a whole, placed at 1:1.
fn at_start(path: &Path, message: String) -> RegistryError {
    RegistryError(vec![Diagnostic {
        path: path.to_path_buf(),
        line: 1,
        column: 1,
        message,
    }])
}

fn too_big(path: &Path, size: u64) -> RegistryError {
    let message = format!(
        "the registry is too large ({size} bytes); at most {MAX_BYTES} bytes (4 MiB) are allowed"
    );
    at_start(path, message)
}

/// Placed at the first bad byte; the text before it is valid and gives the line and column.
fn invalid_utf8(path: &Path, bytes: &[u8], error: std::str::Utf8Error) -> RegistryError {
    let valid = &bytes[..error.valid_up_to()];
    let before = std::str::from_utf8(valid).unwrap_or_default();
    let at = error::LineIndex::new(before).position(before.len());
    let byte = bytes.get(error.valid_up_to()).copied().unwrap_or_default();
    let message = format!("invalid UTF-8 (byte 0x{byte:02X}); the registry must be UTF-8");
    RegistryError::single(path, at, message)
}
