//! `supervisor logs`: a component's output (`logs ID`), every component's interleaved by time
//! (`logs --all`, each line behind its id), or the daemon's own JSON log rendered as the text
//! format (`logs --daemon`). Lines come from the dated files (a component's `<output file>`,
//! else its `component_output` events in the daemon's log), across days: the last `-n` lines
//! over the retained days, or everything since `--since`. `-f` then follows the current files
//! across rotation, new days and restarts.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use actors::output::{dated, dates};
use serde_json::Value;

use crate::registry::Registry;
use crate::verbs::Out;

/// How often `-f` looks for new lines.
const FOLLOW_INTERVAL: Duration = Duration::from_millis(100);
/// How far back from the end a tail reads at a time.
const TAIL_BLOCK: u64 = 64 * 1024;

/// What the `logs` verb was asked for.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// One component (`None` with `--all` or `--daemon`).
    pub id: Option<String>,
    /// Every component.
    pub all: bool,
    /// The daemon's own log.
    pub daemon: bool,
    /// At most this many lines (the last ones); every line since `since` when `None` and
    /// `since` is given, else 10.
    pub lines: Option<usize>,
    /// Only lines from then on.
    pub since: Option<SystemTime>,
    /// Keep printing new lines.
    pub follow: bool,
}

/// Where a stream's lines are.
#[derive(Debug, Clone)]
enum Files {
    /// A component's `<output file>` template; every line is its output.
    Output(PathBuf),
    /// The daemon's log base path.
    DaemonLog(PathBuf),
}

/// What to take from each line of a stream's files.
#[derive(Debug, Clone)]
enum Pick {
    /// Every line, as it is (a component's own file).
    Line,
    /// The `component_output` lines of these components.
    Output(Vec<String>),
    /// Every event, rendered as the text format.
    Render,
}

/// One stream of lines: files and what to take from them; `label` goes in front (`--all`).
#[derive(Debug, Clone)]
struct Source {
    files: Files,
    pick: Pick,
    label: Option<String>,
}

/// One line to print, with its time when the line has one.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    time: Option<SystemTime>,
    label: Option<String>,
    text: String,
}

impl Source {
    /// The files of `day`, oldest first (a component's rolled parts `.N` … `.1` before it).
    fn paths(&self, day: u64) -> Vec<PathBuf> {
        match &self.files {
            Files::DaemonLog(base) => vec![crate::logfile::dated(base, day)],
            Files::Output(template) => {
                let path = dated(template, day);
                let part = |n: u32| PathBuf::from(format!("{}.{n}", path.display()));
                let parts = (1..).map(part).take_while(|p| p.exists());
                let mut paths: Vec<PathBuf> = parts.collect();
                paths.reverse();
                paths.push(path);
                paths
            }
        }
    }

    /// Today's (current) file.
    fn current(&self) -> PathBuf {
        self.paths(dates::today()).pop().unwrap_or_default()
    }

    /// The entry a line of this source's files makes, if it is one of its lines.
    fn pick(&self, line: &str) -> Option<Entry> {
        match &self.pick {
            Pick::Line => Some(Entry {
                time: line.split(' ').next().and_then(dates::parse_rfc3339),
                label: self.label.clone(),
                text: line.to_string(),
            }),
            Pick::Output(ids) => {
                let event: Value = serde_json::from_str(line).ok()?;
                let id = event["component"].as_str()?;
                (event["event"] == "component_output" && ids.iter().any(|i| i == id)).then(|| {
                    Entry {
                        time: event["timestamp"].as_str().and_then(dates::parse_rfc3339),
                        label: self.label.is_some().then(|| id.to_string()),
                        text: event["line"].as_str().unwrap_or_default().to_string(),
                    }
                })
            }
            Pick::Render => Some(render(line)),
        }
    }
}

/// A line of the daemon's log in the text format (a line that is not JSON, as it is).
fn render(line: &str) -> Entry {
    let Ok(Value::Object(event)) = serde_json::from_str::<Value>(line) else {
        return Entry {
            time: None,
            label: None,
            text: line.to_string(),
        };
    };
    let time = event["timestamp"].as_str().and_then(dates::parse_rfc3339);
    let stamp = time.map_or_else(|| "-".to_string(), dates::stamp);
    let level = event["level"].as_str().unwrap_or("INFO").to_string();
    let fields: Vec<(String, Value)> = event
        .into_iter()
        .filter(|(key, _)| key != "timestamp" && key != "level")
        .collect();
    let mut text = String::new();
    crate::logging::text::render(&mut text, &stamp, &level, &fields, false);
    Entry {
        time,
        label: None,
        text,
    }
}

/// The sources of `query` in `registry`; `Err` names an unknown id.
fn sources(registry: &Registry, query: &Query) -> Result<Vec<Source>, String> {
    let log = registry.config.log.clone();
    if query.daemon {
        return Ok(vec![Source {
            files: Files::DaemonLog(log),
            pick: Pick::Render,
            label: None,
        }]);
    }
    let components = registry.tree.root.components();
    let chosen: Vec<_> = match &query.id {
        Some(id) => match components.iter().find(|c| &c.id == id) {
            Some(component) => vec![*component],
            None => return Err(format!("unknown component `{id}`")),
        },
        None => components,
    };
    let label = |id: &str| query.all.then(|| id.to_string());
    let mut sources: Vec<Source> = chosen
        .iter()
        .filter_map(|c| {
            Some(Source {
                files: Files::Output(c.output.file.clone()?),
                pick: Pick::Line,
                label: label(&c.id),
            })
        })
        .collect();
    let evented: Vec<String> = chosen
        .iter()
        .filter(|c| c.output.file.is_none())
        .map(|c| c.id.clone())
        .collect();
    if !evented.is_empty() {
        sources.push(Source {
            files: Files::DaemonLog(log),
            pick: Pick::Output(evented),
            label: query.all.then(String::new),
        });
    }
    Ok(sources)
}

/// Runs the `logs` verb: lines as they are, or with `--json` one JSON object a line
/// (`{"component"?, "timestamp"?, "line"}`), errors as `out` reports them.
pub fn run(registry: &Registry, query: &Query, out: Out) -> ExitCode {
    let sources = match sources(registry, query) {
        Ok(sources) => sources,
        Err(error) => return out.fail(crate::verbs::EXIT_FAILURE, error),
    };
    let oldest = match query.since {
        Some(since) => dates::day_of(since),
        None => dates::today().saturating_sub(u64::from(registry.config.log_retention_days)),
    };
    let limit = query.lines.or(query.since.is_none().then_some(10));
    let mut entries = Vec::new();
    let mut ends = Vec::new();
    for source in &sources {
        match read(source, oldest, query.since, limit) {
            Ok((read, end)) => {
                entries.extend(read);
                ends.push(end);
            }
            Err(error) => return out.fail(crate::verbs::EXIT_FAILURE, error),
        }
    }
    if entries.is_empty() && !query.follow {
        let hint = if query.daemon
            || sources
                .iter()
                .any(|s| matches!(s.files, Files::DaemonLog(_)))
        {
            "lines without an <output file> go to the daemon's log, which is a file only under \
             `start` or `run --log-file`"
        } else {
            "nothing was written in the days looked at"
        };
        eprintln!("note: no lines yet: {hint}");
    }
    if sources.len() > 1 {
        interleave(&mut entries);
    }
    let skip = limit.map_or(0, |n| entries.len().saturating_sub(n));
    let mut stdout = Printer {
        out: io::stdout().lock(),
        json: out.json,
        id: query.id.as_deref(),
    };
    for entry in &entries[skip..] {
        if stdout.print(entry).is_err() {
            return ExitCode::SUCCESS;
        }
    }
    if query.follow {
        follow(&sources, &ends, &mut stdout);
    }
    ExitCode::SUCCESS
}

/// Sorts entries by time, stably; a line without a time keeps the time of the line before it.
fn interleave(entries: &mut [Entry]) {
    let mut last = None;
    for entry in entries.iter_mut() {
        match entry.time {
            Some(time) => last = Some(time),
            None => entry.time = last,
        }
    }
    entries.sort_by_key(|entry| entry.time);
}

/// Where the lines go, and how.
struct Printer<'a, W: Write> {
    out: W,
    /// `--json`: one object a line.
    json: bool,
    /// The one component asked for, named in each JSON line.
    id: Option<&'a str>,
}

impl<W: Write> Printer<'_, W> {
    fn print(&mut self, entry: &Entry) -> io::Result<()> {
        let out = &mut self.out;
        match (&entry.label, self.json) {
            (_, true) => {
                let mut line = serde_json::Map::new();
                let component = entry.label.as_deref().filter(|l| !l.is_empty()).or(self.id);
                if let Some(component) = component {
                    line.insert("component".into(), component.into());
                }
                if let Some(time) = entry.time {
                    line.insert("timestamp".into(), dates::rfc3339(time).into());
                }
                line.insert("line".into(), entry.text.as_str().into());
                writeln!(out, "{}", Value::Object(line))
            }
            (Some(label), false) => writeln!(out, "{label}: {}", entry.text),
            (None, false) => writeln!(out, "{}", entry.text),
        }?;
        out.flush()
    }
}

/// The entries of `source` from day `oldest` to today, not before `since`; with `limit`,
/// only the last `limit` (files read from their end, newest day first, as far as needed); and
/// where reading stopped in the current file (for `-f`).
fn read(
    source: &Source,
    oldest: u64,
    since: Option<SystemTime>,
    limit: Option<usize>,
) -> io::Result<(Vec<Entry>, u64)> {
    let mut days: Vec<Vec<Entry>> = Vec::new();
    let mut count = 0;
    let current = source.current();
    let mut current_end = 0;
    for day in (oldest..=dates::today()).rev() {
        let mut entries = Vec::new();
        for path in source.paths(day) {
            match tail(source, &path, limit.map(|n| n - count.min(n))) {
                Ok((read, end)) => {
                    if path == current {
                        current_end = end;
                    }
                    entries.extend(read)
                }
                Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                Err(error) => {
                    return Err(io::Error::new(
                        error.kind(),
                        format!("{}: {error}", path.display()),
                    ));
                }
            }
        }
        count += entries.len();
        days.push(entries);
        if limit.is_some_and(|n| count >= n) {
            break;
        }
    }
    let mut entries: Vec<Entry> = days.into_iter().rev().flatten().collect();
    if let Some(since) = since {
        // A line without a time goes with the line before it.
        let mut keep = false;
        entries.retain(|entry| {
            keep = entry.time.map_or(keep, |time| time >= since);
            keep
        });
    }
    Ok((entries, current_end))
}

/// The entries of `path` (with `limit`, only at least the last `limit`, read from the end) and
/// the length it had.
fn tail(source: &Source, path: &Path, limit: Option<usize>) -> io::Result<(Vec<Entry>, u64)> {
    let mut file = File::open(path)?;
    let end = file.metadata()?.len();
    let mut start = end;
    let mut picked: Vec<Entry> = Vec::new();
    while start > 0 && limit.is_none_or(|n| picked.len() <= n) {
        start = start.saturating_sub(limit.map_or(end, |_| TAIL_BLOCK));
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
    Ok((picked, end))
}

/// A followed file: where reading goes on.
struct Followed {
    file: Option<File>,
    position: u64,
    partial: String,
}

/// Prints lines as they are appended to each source's current file, from `ends` on (where the
/// first read stopped). A file is read to its end before a new one is taken up (rotation by
/// rename, a new day), so no line is skipped; a truncated file is read again from its start.
/// Runs until interrupted or stdout is gone.
fn follow(sources: &[Source], ends: &[u64], out: &mut Printer<'_, impl Write>) {
    let mut followed: Vec<Followed> = sources
        .iter()
        .zip(ends)
        .map(|(source, &position)| Followed {
            file: File::open(source.current()).ok(),
            position,
            partial: String::new(),
        })
        .collect();
    loop {
        let mut moved = false;
        for (source, state) in sources.iter().zip(&mut followed) {
            if !drain(source, state, out) {
                return;
            }
            // Has the name moved on to another file (or appeared)?
            let path = source.current();
            let named = std::fs::metadata(&path).ok().map(|m| (m.dev(), m.ino()));
            let held = state
                .file
                .as_ref()
                .and_then(|f| f.metadata().ok())
                .map(|m| (m.dev(), m.ino()));
            if named.is_some() && named != held {
                state.file = File::open(&path).ok();
                state.position = 0;
                state.partial.clear();
                moved = true;
            }
        }
        if !moved {
            std::thread::sleep(FOLLOW_INTERVAL);
        }
    }
}

/// Prints what was appended to the followed file since its position; `false` when the output
/// is gone.
fn drain(source: &Source, state: &mut Followed, out: &mut Printer<'_, impl Write>) -> bool {
    let Followed {
        file,
        position,
        partial,
    } = state;
    let Some(file) = file.as_mut() else {
        return true;
    };
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
        if let Some(entry) = source.pick(line) {
            if out.print(&entry).is_err() {
                return false;
            }
        }
        *partial = rest.to_string();
    }
    true
}

/// Parses `--since`: a duration back from now (`90s`, `30m`, `2h`, `3d`), a date (`2026-11-29`,
/// its midnight in the log calendar) or an RFC 3339 time.
pub fn parse_since(text: &str, now: SystemTime) -> Result<SystemTime, String> {
    if let Some(day) = dates::parse_date(text) {
        return Ok(dates::midnight(day));
    }
    if let Some(time) = dates::parse_rfc3339(text) {
        return Ok(time);
    }
    let units = [("s", 1), ("m", 60), ("h", 3600), ("d", 86_400)];
    let back = units.iter().find_map(|&(unit, seconds)| {
        let number: u64 = text.strip_suffix(unit)?.parse().ok()?;
        number.checked_mul(seconds)
    });
    back.and_then(|seconds| now.checked_sub(Duration::from_secs(seconds)))
        .ok_or_else(|| {
            format!(
                "`{text}` is not a time: write a duration back from now (`90s`, `30m`, `2h`, \
                 `3d`), a date (`2026-11-29`) or an RFC 3339 time"
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn since_takes_durations_dates_and_times() {
        let now = UNIX_EPOCH + Duration::from_secs(100_000);
        assert_eq!(parse_since("2h", now), Ok(now - Duration::from_secs(7200)));
        assert_eq!(parse_since("90s", now), Ok(now - Duration::from_secs(90)));
        assert_eq!(
            parse_since("1d", now),
            Ok(now - Duration::from_secs(86_400))
        );
        assert_eq!(
            parse_since("1970-01-02T00:00:00Z", now),
            Ok(UNIX_EPOCH + Duration::from_secs(86_400))
        );
        for bad in ["2 h", "h", "-1h", "yesterday", "2026-13-01"] {
            assert!(parse_since(bad, now).is_err(), "{bad}");
        }
    }

    #[test]
    fn untimed_lines_follow_the_line_before_them() {
        let at = |s: u64| Some(UNIX_EPOCH + Duration::from_secs(s));
        let entry = |time, text: &str| Entry {
            time,
            label: None,
            text: text.into(),
        };
        let mut entries = vec![
            entry(at(5), "b1"),
            entry(None, "b2"),
            entry(at(1), "a1"),
            entry(at(7), "a2"),
        ];
        interleave(&mut entries);
        let texts: Vec<&str> = entries.iter().map(|e| e.text.as_str()).collect();
        assert_eq!(texts, ["a1", "b1", "b2", "a2"]);
    }

    #[test]
    fn daemon_lines_render_as_text() {
        let line = r#"{"timestamp":"2026-11-29T10:00:00.5Z","level":"WARN","event":"component_exited","message":"exited with code 1","component":"svg","group":"","code":1}"#;
        let entry = render(line);
        assert!(entry.time.is_some());
        assert!(
            entry
                .text
                .ends_with(" WARN  svg: exited with code 1 event=component_exited code=1"),
            "{}",
            entry.text
        );
        assert_eq!(render("error: boom").text, "error: boom");
    }
}
