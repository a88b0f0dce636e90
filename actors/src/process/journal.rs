//! The journal of children: one line `PID START_TICKS` per child, appended after its spawn, and
//! one line `-PID START_TICKS` once it is reaped, so that a daemon started after a crash of the
//! previous one (or the guardian, the moment that one died) can kill what it left behind — and
//! only that. A process is a leftover only when it is provably ours: it is a recorded child that
//! still runs with its recorded start time, or a member of the process group such a child leads.
//! A recorded pid now held by a process with another start time names someone else's group,
//! which is left alone; so is a group whose recorded leader is gone (a cgroup, where there is
//! one, still reaches its members). Every kill goes through a pidfd opened before the start time
//! is checked. A torn last line is skipped.

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::PathBuf;

use super::procfs::{self, stat};
use super::sys;

/// A live child as recorded: its pid (also its process group) and its start time in clock ticks
/// since boot (`/proc/PID/stat` field 22).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Record {
    /// Process id and process-group id.
    pub pid: i32,
    /// Start time in clock ticks since boot.
    pub start_ticks: u64,
}

/// Keeps the journal file up to date from the journal thread, at a cost that does not grow with
/// the number of children: new records and the removals of reaped ones are appended in one
/// `write`, and the whole file is rewritten (atomically) only when first written and when it has
/// grown to twice the live children (plus 1,024 lines).
pub struct JournalWriter {
    journal: Journal,
    appender: Option<File>,
    lines: usize,
}

impl JournalWriter {
    /// A writer that starts by replacing whatever `journal` holds.
    pub fn new(journal: Journal) -> Self {
        JournalWriter {
            journal,
            appender: None,
            lines: 0,
        }
    }

    /// Whether adding `new` lines calls for a rewrite, with `live` children in the table.
    pub fn rewrite_due(&self, new: usize, live: usize) -> bool {
        self.appender.is_none() || self.lines + new > 2 * live + 1024
    }

    /// Appends the records of new children, `added`, and the removals of reaped ones, `removed`.
    pub fn append(&mut self, added: &[Record], removed: &[Record]) -> io::Result<()> {
        if added.is_empty() && removed.is_empty() {
            return Ok(());
        }
        let Some(appender) = &mut self.appender else {
            return Err(io::Error::other("the journal was never written"));
        };
        let text = lines(added) + &removals(removed);
        if let Err(error) = appender.write_all(text.as_bytes()) {
            // The next update rewrites the whole journal, these lines included.
            self.appender = None;
            return Err(error);
        }
        self.lines += added.len() + removed.len();
        Ok(())
    }

    /// Replaces the journal with `records`.
    pub fn rewrite(&mut self, records: &[Record]) -> io::Result<()> {
        self.appender = None;
        self.journal.write(records.iter().copied())?;
        self.appender = Some(OpenOptions::new().append(true).open(&self.journal.path)?);
        self.lines = records.len();
        Ok(())
    }
}

fn lines(records: &[Record]) -> String {
    records
        .iter()
        .map(|r| format!("{} {}\n", r.pid, r.start_ticks))
        .collect()
}

/// The lines that strike `records` out: `-PID START_TICKS`.
fn removals(records: &[Record]) -> String {
    records
        .iter()
        .map(|r| format!("-{} {}\n", r.pid, r.start_ticks))
        .collect()
}

/// One line: a record, or (`removed`) the removal of one.
fn parse_line(line: &str) -> Option<(bool, Record)> {
    let (removed, line) = match line.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, line),
    };
    let (pid, ticks) = line.split_once(' ')?;
    let record = Record {
        pid: pid.parse().ok()?,
        start_ticks: ticks.parse().ok()?,
    };
    (record.pid > 0).then_some((removed, record))
}

/// Where the records are kept.
#[derive(Debug, Clone)]
pub struct Journal {
    path: PathBuf,
}

impl Journal {
    /// A journal kept in `path`.
    pub fn new(path: PathBuf) -> Self {
        Journal { path }
    }

    /// Replaces the journal with `records` (atomically: a partial file is never read).
    pub fn write(&self, records: impl Iterator<Item = Record>) -> io::Result<()> {
        let records: Vec<Record> = records.collect();
        let text = lines(&records);
        let temporary = self.path.with_extension("tmp");
        std::fs::write(&temporary, text)?;
        std::fs::rename(&temporary, &self.path)
    }

    /// The records of the children that were live when the journal was last written (none
    /// when there is no journal): every record not struck out by a removal.
    pub fn read(&self) -> io::Result<Vec<Record>> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(error),
        };
        // Only whole lines: a line torn by a crash mid-append could read as another record.
        let whole = text.rfind('\n').map_or("", |end| &text[..=end]);
        let (removed, added): (Vec<_>, Vec<_>) = whole
            .lines()
            .filter_map(parse_line)
            .partition(|(removed, _)| *removed);
        let removed: HashSet<Record> = removed.into_iter().map(|(_, record)| record).collect();
        Ok(added
            .into_iter()
            .map(|(_, record)| record)
            .filter(|record| !removed.contains(record))
            .collect())
    }

    /// Kills every process the daemon that kept this journal left behind and that is provably
    /// its own: each recorded child still running with its recorded start time, and every
    /// member of the process group it leads. Returns the pids killed.
    pub fn kill_leftovers(&self) -> io::Result<Vec<i32>> {
        let records = self.read()?;
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let processes = procfs::all()?;
        let groups = our_groups(&records, &processes);
        let mut killed = Vec::new();
        for (pid, stat) in processes {
            // A zombie is already dead: there is nothing to kill, only to reap (by its parent).
            let leftover = !stat.zombie
                && groups
                    .get(&stat.pgid)
                    .is_some_and(|&start| stat.start_ticks >= start);
            if leftover && kill_verified(pid, stat.start_ticks) {
                killed.push(pid);
            }
        }
        Ok(killed)
    }
}

/// The process groups (id → the leader's start time) whose leader is a recorded child that
/// still exists (running, or a zombie not yet reaped) with its recorded start time. A group
/// cannot change hands while its leader exists, so its members are ours; a recorded pid held by
/// a process that started at another time is someone else's, and so is its group.
fn our_groups(records: &[Record], processes: &[(i32, procfs::Stat)]) -> HashMap<i32, u64> {
    let by_pid: HashMap<i32, &procfs::Stat> = processes.iter().map(|(pid, s)| (*pid, s)).collect();
    records
        .iter()
        .filter(|record| {
            by_pid.get(&record.pid).is_some_and(|leader| {
                leader.start_ticks == record.start_ticks && leader.pgid == record.pid
            })
        })
        .map(|record| (record.pid, record.start_ticks))
        .collect()
}

/// SIGKILLs `pid` through a pidfd, after checking (with the pidfd already pinning the process)
/// that it is still the process that started at `start_ticks`.
fn kill_verified(pid: i32, start_ticks: u64) -> bool {
    let Ok(pidfd) = sys::pidfd_open(pid) else {
        return false;
    };
    if stat(pid).filter(|s| !s.zombie).map(|s| s.start_ticks) != Some(start_ticks) {
        return false;
    }
    sys::pidfd_send_signal(&pidfd, libc::SIGKILL).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let dir = std::env::temp_dir().join(format!("journal-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let journal = Journal::new(dir.join("children"));
        assert_eq!(journal.read().unwrap(), vec![]);
        let records = [
            Record {
                pid: 7,
                start_ticks: 11,
            },
            Record {
                pid: 8,
                start_ticks: 12,
            },
        ];
        journal.write(records.into_iter()).unwrap();
        assert_eq!(journal.read().unwrap(), records);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_writer_appends_and_rewrites_when_stale_lines_pile_up() {
        let dir = std::env::temp_dir().join(format!("journal-writer-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let journal = Journal::new(dir.join("children"));
        std::fs::write(dir.join("children"), "1 1\n").unwrap();
        let record = |pid| Record {
            pid,
            start_ticks: 100 + pid as u64,
        };
        let mut writer = JournalWriter::new(journal.clone());
        assert!(
            writer.rewrite_due(1, 1),
            "the previous daemon's journal is replaced"
        );
        writer.rewrite(&[record(2)]).unwrap();
        assert!(!writer.rewrite_due(2, 3));
        writer.append(&[record(3), record(4)], &[]).unwrap();
        assert_eq!(journal.read().unwrap(), [record(2), record(3), record(4)]);
        writer.append(&[], &[record(3)]).unwrap();
        assert_eq!(
            journal.read().unwrap(),
            [record(2), record(4)],
            "a reaped child's record is struck out"
        );
        // A torn last line (a crash mid-write) is skipped.
        std::fs::OpenOptions::new()
            .append(true)
            .open(dir.join("children"))
            .unwrap()
            .write_all(b"5 1")
            .unwrap();
        assert_eq!(journal.read().unwrap(), [record(2), record(4)]);
        assert!(
            writer.rewrite_due(1100, 10),
            "stale lines outnumber live children"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
