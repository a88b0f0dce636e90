//! Component log files, written by one thread so that a slow or full disk never stalls an
//! actor: `{date}` in the path follows the day, a file past `maxSize` rolls to numbered parts
//! (`is-2026-11-25.log.1`, `.2`, …) of which `keep` files are kept, dated files older than the
//! retention are removed, and a reopen request closes every file (logrotate).

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use tokio::sync::{OwnedSemaphorePermit, mpsc};

use super::dates;
use super::failing::{self, Failures};

/// A line for a component's file.
#[derive(Debug)]
pub struct FileLine {
    /// The file's path template (with `{date}`), shared with the reader's settings: a line
    /// costs no copy of it.
    pub template: Arc<Path>,
    /// Roll past this size.
    pub max_size: Option<u64>,
    /// Files kept per component.
    pub keep: u32,
    /// The already formatted bytes (stamp, stream, line, newline).
    pub bytes: Vec<u8>,
    /// The queue's byte budget these bytes hold until the line is written (or given up).
    pub budget: OwnedSemaphorePermit,
}

/// A line the file thread could not write while a hand-over drained its queue (a full disk):
/// handed to the successor, which writes it before any new line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldLine {
    /// The file's path template.
    pub template: PathBuf,
    /// Roll past this size.
    pub max_size: Option<u64>,
    /// Files kept per component.
    pub keep: u32,
    /// The formatted bytes.
    pub bytes: Vec<u8>,
}

/// While a hand-over drains the queue, lines whose file fails or rests are held here in order
/// (and every later line of the same file behind them) instead of being dropped.
#[derive(Debug, Default)]
pub struct Holding(Mutex<Option<Vec<HeldLine>>>);

impl Holding {
    fn lock(&self) -> MutexGuard<'_, Option<Vec<HeldLine>>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// From now on, hold what cannot be written.
    pub fn start(&self) {
        self.lock().get_or_insert_with(Vec::new);
    }

    /// The lines held so far.
    pub fn held(&self) -> Vec<HeldLine> {
        self.lock().clone().unwrap_or_default()
    }

    /// Stops holding; the lines held.
    pub fn stop(&self) -> Vec<HeldLine> {
        self.lock().take().unwrap_or_default()
    }

    /// Holds `line` if holding and `fails` (or a line of its file is held already: the order
    /// is kept); whether it did.
    fn hold(&self, line: &FileLine, fails: impl FnOnce() -> bool) -> bool {
        let mut holding = self.lock();
        let Some(held) = holding.as_mut() else {
            return false;
        };
        if !held.iter().any(|h| *h.template == *line.template) && !fails() {
            return false;
        }
        held.push(HeldLine {
            template: line.template.to_path_buf(),
            max_size: line.max_size,
            keep: line.keep,
            bytes: line.bytes.clone(),
        });
        true
    }
}

struct OpenFile {
    path: PathBuf,
    file: File,
    size: u64,
    day: u64,
}

/// How many days of dated files are kept (none removed when unset), changed by a reload.
#[derive(Debug)]
pub struct Retention(AtomicU32);

/// [`Retention`]'s value for "keep every file".
const KEEP_ALL: u32 = u32::MAX;

impl Retention {
    /// `days`, or every file when `None`.
    pub fn new(days: Option<u32>) -> Self {
        Retention(AtomicU32::new(days.unwrap_or(KEEP_ALL)))
    }

    /// Keeps `days` from now on.
    pub fn set(&self, days: u32) {
        self.0.store(days, Ordering::Release);
    }

    fn days(&self) -> Option<u32> {
        Some(self.0.load(Ordering::Acquire)).filter(|days| *days != KEEP_ALL)
    }
}

/// Runs the file thread until every sender is gone; `failures` keeps the account of the files
/// that cannot be written, `holding` takes them instead during a hand-over. `reopen` set means: close every file
/// before the next line (after logrotate) — a flag, not a queued command, so a full queue
/// cannot delay or lose it.
pub fn run(
    mut lines: mpsc::Receiver<FileLine>,
    reopen: Arc<AtomicBool>,
    retention: &Retention,
    mut failures: Failures,
    holding: &Holding,
) {
    let mut open: HashMap<PathBuf, OpenFile> = HashMap::new();
    while let Some(line) = lines.blocking_recv() {
        if reopen.swap(false, Ordering::AcqRel) {
            open.clear();
        }
        let now = failing::now();
        // A file that failed is not tried again during a hand-over: its lines are held.
        if holding.hold(&line, || failures.failing(&line.template)) {
            continue;
        }
        if failures.resting(&line.template, now) {
            continue;
        }
        match write(&mut open, &line, retention.days()) {
            Ok(()) => failures.written(&line.template),
            Err(error) => {
                if !holding.hold(&line, || true) {
                    failures.failed(&line.template, &error, now);
                }
                // Reopened (and pruned) by the next try, a second from now: not per line.
                open.remove(&*line.template);
            }
        }
        // Its bytes leave the queue's budget with it.
        drop(line.budget);
    }
}

fn write(
    open: &mut HashMap<PathBuf, OpenFile>,
    line: &FileLine,
    retention_days: Option<u32>,
) -> io::Result<()> {
    let day = dates::today();
    let current = match open.get_mut(&*line.template) {
        Some(current) if current.day == day => current,
        _ => {
            let path = dated(&line.template, day);
            if let Some(days) = retention_days {
                prune(&line.template, day, days);
            }
            let file = open_append(&path)?;
            let size = file.metadata()?.len();
            open.insert(
                line.template.to_path_buf(),
                OpenFile {
                    path,
                    file,
                    size,
                    day,
                },
            );
            open.get_mut(&*line.template).expect("just inserted")
        }
    };
    if let Some(max) = line.max_size {
        if current.size > 0 && current.size + line.bytes.len() as u64 > max {
            roll(&current.path, line.keep)?;
            current.file = open_append(&current.path)?;
            current.size = 0;
        }
    }
    current.file.write_all(&line.bytes)?;
    current.size += line.bytes.len() as u64;
    Ok(())
}

fn open_append(path: &Path) -> io::Result<File> {
    if let Some(folder) = path.parent() {
        fs::create_dir_all(folder)?;
    }
    OpenOptions::new().create(true).append(true).open(path)
}

/// The template with `{date}` replaced by `day`'s date.
pub fn dated(template: &Path, day: u64) -> PathBuf {
    PathBuf::from(
        template
            .to_string_lossy()
            .replace("{date}", &dates::date(day)),
    )
}

/// `path.N`, the N-th older part of a file.
fn part(path: &Path, n: u32) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

/// Shifts `path` to `path.1`, `path.1` to `path.2`, …, keeping `keep` files in all.
fn roll(path: &Path, keep: u32) -> io::Result<()> {
    let oldest = keep.saturating_sub(1);
    if oldest == 0 {
        return fs::remove_file(path);
    }
    let _ = fs::remove_file(part(path, oldest));
    for n in (1..oldest).rev() {
        let _ = fs::rename(part(path, n), part(path, n + 1));
    }
    fs::rename(path, part(path, 1))
}

/// Removes the files of `template` (and their parts) dated more than `days` before `today`.
fn prune(template: &Path, today: u64, days: u32) {
    let text = template.to_string_lossy();
    let Some((before, after)) = text.split_once("{date}") else {
        return;
    };
    let folder = Path::new(before)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let Ok(entries) = fs::read_dir(&folder) else {
        return;
    };
    let oldest_kept = today.saturating_sub(u64::from(days));
    for entry in entries.flatten() {
        let path = entry.path();
        let name = path.to_string_lossy();
        let Some(rest) = name.strip_prefix(before) else {
            continue;
        };
        let Some(date) = rest.get(..10) else { continue };
        let tail = &rest[10..];
        let is_ours = tail == after
            || tail
                .strip_prefix(after)
                .and_then(|t| t.strip_prefix('.'))
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if is_ours && dates::parse_date(date).is_some_and(|day| day < oldest_kept) {
            let _ = fs::remove_file(&path);
        }
    }
}

/// `stamp stream line\n` (or `line\n` without timestamps).
pub fn format_line(timestamps: bool, stream: &str, line: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(line.len() + 40);
    if timestamps {
        bytes.extend_from_slice(dates::rfc3339(SystemTime::now()).as_bytes());
        bytes.push(b' ');
        bytes.extend_from_slice(stream.as_bytes());
        bytes.push(b' ');
    }
    bytes.extend_from_slice(line);
    bytes.push(b'\n');
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(template: &Path, max_size: Option<u64>, keep: u32, text: &str) -> FileLine {
        let budget = std::sync::Arc::new(tokio::sync::Semaphore::new(1 << 20));
        FileLine {
            template: template.into(),
            max_size,
            keep,
            bytes: format_line(false, "stdout", text.as_bytes()),
            budget: budget.try_acquire_many_owned(64).unwrap(),
        }
    }

    #[test]
    fn files_roll_past_max_size_and_keep_bounds_them() {
        let dir = std::env::temp_dir().join(format!("files-roll-{}", std::process::id()));
        let template = dir.join("c-{date}.log");
        let mut open = HashMap::new();
        for i in 0..10 {
            write(
                &mut open,
                &line(&template, Some(10), 3, &format!("line{i:03}")),
                None,
            )
            .unwrap();
        }
        let path = dated(&template, dates::today());
        assert_eq!(fs::read_to_string(&path).unwrap(), "line009\n");
        assert_eq!(fs::read_to_string(part(&path, 1)).unwrap(), "line008\n");
        assert_eq!(fs::read_to_string(part(&path, 2)).unwrap(), "line007\n");
        assert!(!part(&path, 3).exists());
        fs::remove_dir_all(dir).unwrap();
    }

    /// During a hand-over, the lines of a file that cannot be written are held in order (and
    /// the lines queued behind them too), while another file is written as usual; without a
    /// hand-over the same lines are dropped.
    #[test]
    fn a_hand_over_holds_the_lines_a_file_cannot_take() {
        let dir = std::env::temp_dir().join(format!("files-hold-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        // A directory where the file's folder should be made: every write fails.
        let blocker = dir.join("blocker");
        File::create(&blocker).unwrap();
        let failing = blocker.join("c.log");
        let working = dir.join("w.log");
        let run_with = |holding: Arc<Holding>| {
            let (sender, lines) = mpsc::channel(16);
            let rests = Arc::new(failing::Rests::default());
            let thread = std::thread::spawn(move || {
                let retention = Retention::new(None);
                let failures = Failures::new(rests);
                run(lines, Arc::default(), &retention, failures, &holding)
            });
            for (template, text) in [
                (&failing, "one"),
                (&working, "a"),
                (&failing, "two"),
                (&working, "b"),
            ] {
                sender
                    .blocking_send(line(template, None, 10, text))
                    .unwrap();
            }
            drop(sender);
            thread.join().unwrap();
        };
        let holding = Arc::new(Holding::default());
        run_with(Arc::clone(&holding));
        assert!(holding.held().is_empty(), "no hand-over, nothing held");
        holding.start();
        run_with(Arc::clone(&holding));
        let held: Vec<_> = holding.stop().into_iter().map(|h| h.bytes).collect();
        assert_eq!(held, [b"one\n".to_vec(), b"two\n".to_vec()]);
        assert_eq!(fs::read_to_string(&working).unwrap(), "a\nb\na\nb\n");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn old_dated_files_and_their_parts_are_pruned() {
        let dir = std::env::temp_dir().join(format!("files-prune-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let template = dir.join("c-{date}.log");
        let today = dates::today();
        let old = dated(&template, today - 30);
        let recent = dated(&template, today - 2);
        for path in [&old, &part(&old, 1), &recent, &dir.join("other.log")] {
            File::create(path).unwrap();
        }
        prune(&template, today, 10);
        assert!(!old.exists() && !part(&old, 1).exists());
        assert!(recent.exists() && dir.join("other.log").exists());
        fs::remove_dir_all(dir).unwrap();
    }
}
