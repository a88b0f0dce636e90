//! `status`: the tree's component snapshots turned into the rows of SPEC section 1, with each
//! component's memory measured as the resident set of its whole process group.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use actors::policy::ExitStatus;
use actors::process::procfs;
use actors::status::ComponentStatus;

use crate::control::protocol::{LastExit, StatusRow};

/// How long one measurement of the host's process groups serves. Reading every process's
/// `/proc/PID/stat` takes 10–30 ms with 1,000 components (and as long again per 1,000 other
/// processes on the host): `status`, `/status`, `/metrics` and `stats` asked more often than
/// this share one reading instead of each taking a CPU for it.
const MEMORY_MAX_AGE: Duration = Duration::from_secs(1);

/// The last reading, shared by every caller of [`rows`].
static MEMORY: MemoryReading = MemoryReading::new();

/// The rows for `statuses`, with memory from a reading of `/proc` at most [`MEMORY_MAX_AGE`]
/// old (a process younger than the reading is read alone, once).
pub fn rows(statuses: Vec<ComponentStatus>) -> Vec<StatusRow> {
    let leaders: Vec<i32> = (statuses.iter())
        .filter_map(|status| Some(status.pid? as i32))
        .collect();
    let rss = MEMORY.at(Instant::now(), &leaders, group_rss, process_rss);
    statuses
        .into_iter()
        .map(|status| StatusRow {
            rss_bytes: status
                .pid
                .and_then(|pid| rss.get(&(pid as i32)).copied())
                .unwrap_or(0),
            id: status.id,
            group: status.group,
            description: status.description,
            state: status.state.to_string(),
            pid: status.pid,
            uptime_ms: status.uptime.as_millis() as u64,
            restarts: status.restarts,
            last_exit: status.last_exit.map(|exit| match exit {
                ExitStatus::Code(code) => LastExit::Code(code),
                ExitStatus::Signal(signal) => LastExit::Signal(signal),
            }),
            reason: status.reason,
            sockets: status.sockets,
        })
        .collect()
}

/// Resident bytes per process group (by pgid).
type GroupRss = Arc<HashMap<i32, u64>>;

/// Resident bytes per process group, read once and kept for a while.
struct MemoryReading(Mutex<Option<(Instant, GroupRss)>>);

impl MemoryReading {
    const fn new() -> Self {
        MemoryReading(Mutex::new(None))
    }

    /// The reading for `leaders`, taken anew with `read_all` when the last is older than
    /// [`MEMORY_MAX_AGE`] at `now`; a leader it does not know (started since) is read alone
    /// with `read_one` and kept. Callers meanwhile wait for that reading rather than read
    /// `/proc` too.
    fn at(
        &self,
        now: Instant,
        leaders: &[i32],
        read_all: impl FnOnce() -> HashMap<i32, u64>,
        read_one: impl Fn(i32) -> Option<u64>,
    ) -> GroupRss {
        let mut last = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let fresh =
            matches!(&*last, Some((at, _)) if now.saturating_duration_since(*at) < MEMORY_MAX_AGE);
        if !fresh {
            *last = Some((now, Arc::new(read_all())));
        }
        let (_, groups) = last.get_or_insert_with(|| (now, GroupRss::default()));
        for &leader in leaders {
            if !groups.contains_key(&leader) {
                if let Some(rss) = read_one(leader) {
                    Arc::make_mut(groups).insert(leader, rss);
                }
            }
        }
        Arc::clone(groups)
    }
}

/// Resident bytes of process `pid` alone.
fn process_rss(pid: i32) -> Option<u64> {
    Some(procfs::stat(pid)?.rss_pages * page_size())
}

fn page_size() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .map_or(4096, |size| size as u64)
}

/// Resident bytes per process group, over every process on the host.
fn group_rss() -> HashMap<i32, u64> {
    let page = page_size();
    let mut groups = HashMap::new();
    for (_, stat) in procfs::all().unwrap_or_default() {
        *groups.entry(stat.pgid).or_insert(0) += stat.rss_pages * page;
    }
    groups
}

/// The human table.
pub fn table(rows: &[StatusRow]) -> String {
    let mut lines = vec![[
        "ID".to_string(),
        "DESCRIPTION".into(),
        "STATE".into(),
        "PID".into(),
        "UPTIME".into(),
        "MEMORY".into(),
        "RESTARTS".into(),
        "SOCKETS".into(),
        "LAST EXIT".into(),
        "REASON".into(),
    ]];
    for row in rows {
        let id = if row.group.is_empty() {
            row.id.clone()
        } else {
            format!("{}/{}", row.group, row.id)
        };
        lines.push([
            id,
            row.description.clone(),
            row.state.clone(),
            row.pid.map_or("-".into(), |pid| pid.to_string()),
            if row.pid.is_some() {
                uptime(Duration::from_millis(row.uptime_ms))
            } else {
                "-".into()
            },
            if row.pid.is_some() {
                memory(row.rss_bytes)
            } else {
                "-".into()
            },
            row.restarts.to_string(),
            sockets(row),
            match row.last_exit {
                None => "-".into(),
                Some(LastExit::Code(code)) => format!("code {code}"),
                Some(LastExit::Signal(signal)) => format!("signal {signal}"),
            },
            row.reason.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    let widths: Vec<usize> = (0..lines[0].len())
        .map(|c| {
            lines
                .iter()
                .map(|l| l[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for line in &lines {
        let cells: Vec<String> = line
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        let _ = writeln!(out, "{}", cells.join("  ").trim_end());
    }
    out
}

/// `NAME LISTEN (QUEUE waiting)` per held socket, `-` for none.
fn sockets(row: &StatusRow) -> String {
    let held: Vec<String> = (row.sockets.iter())
        .map(|s| match s.queue {
            Some(queue) => format!("{} {} ({queue} waiting)", s.name, s.listen),
            None => format!("{} {}", s.name, s.listen),
        })
        .collect();
    if held.is_empty() {
        "-".into()
    } else {
        held.join(", ")
    }
}

fn uptime(uptime: Duration) -> String {
    let seconds = uptime.as_secs();
    match seconds {
        0..60 => format!("{seconds}s"),
        60..3600 => format!("{}m{:02}s", seconds / 60, seconds % 60),
        3600..86400 => format!("{}h{:02}m", seconds / 3600, seconds % 3600 / 60),
        _ => format!("{}d{:02}h", seconds / 86400, seconds % 86400 / 3600),
    }
}

fn memory(bytes: u64) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    if bytes as f64 >= MIB {
        format!("{:.1} MiB", bytes as f64 / MIB)
    } else {
        format!("{} KiB", bytes / 1024)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_is_read_again_only_once_the_last_reading_is_old() {
        let reading = MemoryReading::new();
        let t0 = Instant::now();
        let (reads, alone) = (std::cell::Cell::new(0), std::cell::Cell::new(0));
        let read = || {
            reads.set(reads.get() + 1);
            HashMap::from([(7, reads.get() as u64)])
        };
        let one = |pid: i32| {
            alone.set(alone.get() + 1);
            (pid == 8).then_some(80)
        };
        assert_eq!(reading.at(t0, &[7], read, one)[&7], 1);
        let soon = t0 + MEMORY_MAX_AGE - Duration::from_millis(1);
        let fresh = reading.at(soon, &[7, 8], read, one);
        assert_eq!(
            (fresh[&7], fresh[&8]),
            (1, 80),
            "reused; the new leader read alone"
        );
        assert_eq!(reading.at(soon, &[7, 8], read, one)[&8], 80);
        assert_eq!(alone.get(), 1, "and kept");
        assert_eq!(
            reading.at(t0 + MEMORY_MAX_AGE, &[7], read, one)[&7],
            2,
            "an old one is not"
        );
        assert_eq!(reads.get(), 2);
    }

    #[test]
    fn uptimes_and_memory_read_well() {
        assert_eq!(uptime(Duration::from_secs(5)), "5s");
        assert_eq!(uptime(Duration::from_secs(125)), "2m05s");
        assert_eq!(uptime(Duration::from_secs(7260)), "2h01m");
        assert_eq!(uptime(Duration::from_secs(90000)), "1d01h");
        assert_eq!(memory(3 * 1024 * 1024 + 512 * 1024), "3.5 MiB");
        assert_eq!(memory(640 * 1024), "640 KiB");
    }

    #[test]
    fn the_table_has_a_header_and_a_row_per_component() {
        let row = StatusRow {
            id: "ps".into(),
            group: "platform".into(),
            description: "Platform Server".into(),
            state: "running".into(),
            pid: Some(42),
            uptime_ms: 61_000,
            rss_bytes: 2 * 1024 * 1024,
            restarts: 1,
            last_exit: Some(LastExit::Signal(9)),
            reason: Some("execve: No such file or directory".into()),
            sockets: Vec::new(),
        };
        let quiet = StatusRow {
            id: "is".into(),
            reason: None,
            ..row.clone()
        };
        let text = table(&[row, quiet]);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("ID"));
        assert!(lines[0].ends_with("LAST EXIT  REASON"), "{text}");
        assert!(lines[1].contains("platform/ps"));
        assert!(
            lines[1].contains("1m01s")
                && lines[1].contains("2.0 MiB")
                && lines[1].contains("signal 9")
        );
        assert!(
            lines[1].ends_with("signal 9   execve: No such file or directory"),
            "{text}"
        );
        assert!(lines[2].ends_with("signal 9   -"), "{text}");
    }
}
