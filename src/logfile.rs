//! The daemon's log file in `start` mode (and with `run --log-file`): `<config><log>` with the
//! date (local, or UTC with `<logTime>utc</logTime>`: see `dates::Zone`) inserted before the
//! extension (`logs/Supervisor-2026-11-25.log`), a new file each day, and files older than
//! `logRetentionDays` removed.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use actors::output::dates::{self, date, today};

/// A log file that follows the date. Cheap to clone (shared).
#[derive(Clone)]
pub struct DailyLog {
    inner: Arc<Mutex<Current>>,
}

struct Current {
    base: PathBuf,
    retention_days: u32,
    day: u64,
    file: File,
    /// The daemon's stdout and stderr are this log (`start`): they follow each new file.
    stdio: bool,
}

impl Current {
    /// Writes to `file` from now on; with `stdio`, descriptors 1 and 2 too, so that what
    /// reaches them (a component with `stdout="inherit"`, started from now on; a panic) goes to
    /// the current file, not to one logrotate moved away.
    fn take(&mut self, file: File) {
        self.file = file;
        self.point_stdio();
    }

    fn point_stdio(&self) {
        if self.stdio {
            for stdio in [1, 2] {
                let _ = nix::unistd::dup2(self.file.as_raw_fd(), stdio);
            }
        }
    }
}

impl DailyLog {
    /// Opens today's file for `base` (creating its folder) and removes expired ones; with
    /// `stdio`, the daemon's stdout and stderr follow it (see `Current::take`).
    pub fn open(base: &Path, retention_days: u32, stdio: bool) -> io::Result<Self> {
        if let Some(parent) = base.parent() {
            fs::create_dir_all(parent)?;
        }
        let day = today();
        let file = open_append(&dated(base, day))?;
        prune(base, day, retention_days);
        let current = Current {
            base: base.to_path_buf(),
            retention_days,
            day,
            file,
            stdio,
        };
        current.point_stdio();
        Ok(DailyLog {
            inner: Arc::new(Mutex::new(current)),
        })
    }
}

impl DailyLog {
    /// Keeps `retention_days` from now on, and removes the files older than that at once.
    pub fn set_retention(&self, retention_days: u32) {
        let mut current = self.lock();
        current.retention_days = retention_days;
        prune(&current.base, current.day, retention_days);
    }

    /// Writes to `base` from now on: today's file for it is opened (its folder created, its
    /// expired files removed) before the current file is closed; on error nothing changes.
    pub fn move_to(&self, base: &Path) -> io::Result<()> {
        if let Some(parent) = base.parent() {
            fs::create_dir_all(parent)?;
        }
        let day = today();
        let file = open_append(&dated(base, day))?;
        let mut current = self.lock();
        prune(base, day, current.retention_days);
        current.base = base.to_path_buf();
        current.day = day;
        current.take(file);
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Current> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Reopens today's file (after logrotate moved it away).
    pub fn reopen(&self) -> io::Result<()> {
        let mut current = self.lock();
        current.day = today();
        let file = open_append(&dated(&current.base, current.day))?;
        current.take(file);
        Ok(())
    }
}

impl Write for DailyLog {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut current = self.lock();
        let day = today();
        if day != current.day {
            let file = open_append(&dated(&current.base, day))?;
            current.take(file);
            current.day = day;
            prune(&current.base, day, current.retention_days);
        }
        current.file.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// `base` with `-YYYY-MM-DD` before its extension.
pub fn dated(base: &Path, day: u64) -> PathBuf {
    let stem = base
        .file_stem()
        .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
    let name = match base.extension() {
        Some(extension) => format!("{stem}-{}.{}", date(day), extension.to_string_lossy()),
        None => format!("{stem}-{}", date(day)),
    };
    base.with_file_name(name)
}

/// Today's file for `base`.
pub fn today_path(base: &Path) -> PathBuf {
    dated(base, today())
}

/// Removes this log's files dated more than `retention_days` before `day`.
fn prune(base: &Path, day: u64, retention_days: u32) {
    let Some(folder) = base.parent() else { return };
    let Ok(entries) = fs::read_dir(folder) else {
        return;
    };
    let oldest_kept = day.saturating_sub(u64::from(retention_days));
    for path in entries.filter_map(|entry| entry.ok().map(|e| e.path())) {
        if day_of(base, &path).is_some_and(|dated| dated < oldest_kept) {
            let _ = fs::remove_file(path);
        }
    }
}

/// The day in the name of one of `base`'s dated files (`None` for any other file).
fn day_of(base: &Path, path: &Path) -> Option<u64> {
    let name = path.file_name()?.to_str()?;
    let stem = base.file_stem()?.to_str()?;
    let rest = name.strip_prefix(stem)?.strip_prefix('-')?;
    let date = match base.extension() {
        Some(extension) => rest.strip_suffix(extension.to_str()?)?.strip_suffix('.')?,
        None => rest,
    };
    dates::parse_date(date)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_inserted_before_the_extension() {
        let base = Path::new("/var/log/Supervisor.log");
        assert_eq!(
            dated(base, 20_417),
            Path::new("/var/log/Supervisor-2025-11-25.log")
        );
        assert_eq!(
            dated(Path::new("x/daemon"), 0),
            Path::new("x/daemon-1970-01-01")
        );
    }

    #[test]
    fn dated_names_parse_back_to_their_day() {
        let base = Path::new("/logs/Supervisor.log");
        for day in [0, 11_016, 20_417, 30_000] {
            assert_eq!(day_of(base, &dated(base, day)), Some(day));
        }
        for other in [
            "/logs/Supervisor.log",
            "/logs/is-2025-11-25.log",
            "/logs/Supervisor-2025-13-01.log",
        ] {
            assert_eq!(day_of(base, Path::new(other)), None, "{other}");
        }
    }

    #[test]
    fn old_files_are_pruned_and_recent_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("Supervisor.log");
        let day = today();
        for age in [0, 1, 10, 11, 400] {
            File::create(dated(&base, day - age)).unwrap();
        }
        let unrelated = dir.path().join("other-2000-01-01.log");
        File::create(&unrelated).unwrap();
        let mut log = DailyLog::open(&base, 10, false).unwrap();
        log.write_all(b"hello\n").unwrap();
        for age in [0, 1, 10] {
            assert!(dated(&base, day - age).exists(), "{age} days old kept");
        }
        for age in [11, 400] {
            assert!(!dated(&base, day - age).exists(), "{age} days old removed");
        }
        assert!(unrelated.exists());
        assert_eq!(fs::read_to_string(dated(&base, day)).unwrap(), "hello\n");
    }

    #[test]
    fn a_new_retention_prunes_at_once_and_a_move_writes_to_the_new_base() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("Supervisor.log");
        let day = today();
        File::create(dated(&base, day - 5)).unwrap();
        let mut log = DailyLog::open(&base, 10, false).unwrap();
        assert!(dated(&base, day - 5).exists(), "kept under 10 days");
        log.set_retention(3);
        assert!(!dated(&base, day - 5).exists(), "removed under 3 days");
        let moved = dir.path().join("elsewhere/Daemon.log");
        log.move_to(&moved).unwrap();
        log.write_all(b"moved\n").unwrap();
        assert_eq!(fs::read_to_string(dated(&moved, day)).unwrap(), "moved\n");
        assert_eq!(fs::read_to_string(dated(&base, day)).unwrap(), "");
    }
}
