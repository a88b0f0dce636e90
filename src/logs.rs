//! `supervisor logs ID [-n N] [-f]`: the last lines of a component's output file (or, when it
//! has none, of its `component_output` events in the daemon's log file), and following them
//! across rotation, new days and restarts.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use actors::output::{dated, dates};

use crate::registry::Registry;

/// How often `-f` looks for new lines.
const FOLLOW_INTERVAL: Duration = Duration::from_millis(100);
/// How far back from the end `tail` reads at a time.
const TAIL_BLOCK: u64 = 64 * 1024;

/// Where a component's lines are, and how to read them out of each line of that file.
enum Source {
    /// The component's own file: every line is its output.
    File(PathBuf),
    /// The daemon's log: only `component_output` events of this component count.
    DaemonLog(PathBuf, String),
}

impl Source {
    /// Today's file (it changes at midnight UTC).
    fn path(&self) -> PathBuf {
        match self {
            Source::File(template) => dated(template, dates::today()),
            Source::DaemonLog(base, _) => crate::logfile::today_path(base),
        }
    }

    /// The text to print for one line of the file, if it belongs to the component.
    fn pick(&self, line: &str) -> Option<String> {
        match self {
            Source::File(_) => Some(line.to_string()),
            Source::DaemonLog(_, id) => {
                let event: serde_json::Value = serde_json::from_str(line).ok()?;
                (event["event"] == "component_output" && event["component"] == id.as_str())
                    .then(|| event["line"].as_str().unwrap_or_default().to_string())
            }
        }
    }
}

/// Runs the `logs` verb.
pub fn run(registry: &Registry, id: &str, lines: usize, follow: bool) -> ExitCode {
    let components = registry.tree.root.components();
    let Some(component) = components.iter().find(|c| c.id == id) else {
        eprintln!("error: unknown component `{id}`");
        return ExitCode::from(crate::verbs::EXIT_FAILURE);
    };
    let source = match &component.output.file {
        Some(template) => Source::File(template.clone()),
        None => Source::DaemonLog(registry.config.log.clone(), id.to_string()),
    };
    let mut out = io::stdout().lock();
    let path = source.path();
    let mut position = match print_tail(&source, &path, lines, &mut out) {
        Ok(position) => position,
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            let hint = match &source {
                Source::File(_) => "it has written nothing today",
                Source::DaemonLog(..) => {
                    "it has no <output file>, and its lines go to the daemon's log, which is a \
                     file only under `start` or `run --log-file`"
                }
            };
            eprintln!("note: no {} yet: {hint}", path.display());
            0
        }
        Err(error) => {
            eprintln!("error: {}: {error}", path.display());
            return ExitCode::from(crate::verbs::EXIT_FAILURE);
        }
    };
    if follow {
        follow_file(&source, path, &mut position, &mut out);
    }
    ExitCode::SUCCESS
}

/// Prints the last `count` lines of `path` that belong to the component; returns the end.
fn print_tail(source: &Source, path: &Path, count: usize, out: &mut impl Write) -> io::Result<u64> {
    let mut file = File::open(path)?;
    let end = file.metadata()?.len();
    let mut start = end;
    let mut picked: Vec<String> = Vec::new();
    while start > 0 && picked.len() <= count {
        start = start.saturating_sub(TAIL_BLOCK);
        file.seek(SeekFrom::Start(start))?;
        let mut bytes = Vec::new();
        Read::by_ref(&mut file)
            .take(end - start)
            .read_to_end(&mut bytes)?;
        let text = String::from_utf8_lossy(&bytes);
        let whole = if start == 0 {
            &text[..]
        } else {
            text.split_once('\n').map_or("", |(_, rest)| rest)
        };
        picked = whole.lines().filter_map(|line| source.pick(line)).collect();
    }
    for line in &picked[picked.len().saturating_sub(count)..] {
        let _ = writeln!(out, "{line}");
    }
    let _ = out.flush();
    Ok(end)
}

/// Prints lines as they are appended. The open file is read to its end before a new one is
/// taken up (rotation by rename, a new day), so no line is skipped; a truncated file is read
/// again from its start. Runs until interrupted.
fn follow_file(source: &Source, path: PathBuf, position: &mut u64, out: &mut impl Write) {
    let mut current = File::open(&path).ok();
    let mut partial = String::new();
    loop {
        if let Some(file) = current.as_mut() {
            if !drain(source, file, position, &mut partial, out) {
                return;
            }
        }
        // Has the name moved on to another file (or appeared)?
        let path = source.path();
        let named = std::fs::metadata(&path).ok().map(|m| (m.dev(), m.ino()));
        let held = current
            .as_ref()
            .and_then(|f| f.metadata().ok())
            .map(|m| (m.dev(), m.ino()));
        if named.is_some() && named != held {
            current = File::open(&path).ok();
            *position = 0;
            partial.clear();
            continue;
        }
        std::thread::sleep(FOLLOW_INTERVAL);
    }
}

/// Prints what was appended to `file` since `position`; `false` when the output is gone.
fn drain(
    source: &Source,
    file: &mut File,
    position: &mut u64,
    partial: &mut String,
    out: &mut impl Write,
) -> bool {
    if file.metadata().is_ok_and(|m| m.len() < *position) {
        *position = 0; // truncated
        partial.clear();
    }
    if file.seek(SeekFrom::Start(*position)).is_err() {
        return true;
    }
    let mut bytes = Vec::new();
    let Ok(read) = file.read_to_end(&mut bytes) else {
        return true;
    };
    *position += read as u64;
    partial.push_str(&String::from_utf8_lossy(&bytes));
    while let Some((line, rest)) = partial.split_once('\n') {
        if let Some(text) = source.pick(line) {
            if writeln!(out, "{text}").and_then(|()| out.flush()).is_err() {
                return false;
            }
        }
        *partial = rest.to_string();
    }
    true
}
