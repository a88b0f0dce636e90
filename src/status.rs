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

/// Up to this age an old reading is still served while a thread of its own takes the next
/// (so no answer waits for `/proc`); an older one is read anew first (an operator's first
/// `status` in a while shows memory as it is).
const MEMORY_STALE: Duration = Duration::from_secs(10);

/// At most this many leaders a reading does not know (started since) are read alone, each
/// `/proc/PID/stat` in turn; more (a first `status` at 10,000 components) are one whole reading:
/// taken here when the caller may wait, else in the background once the last is a second old,
/// the others served 0 meanwhile.
const READ_ALONE_MAX: usize = 64;

/// The last reading, shared by every caller of [`rows`].
static MEMORY: MemoryReading = MemoryReading::new();

/// Whether a caller of [`rows`] may wait for a whole reading of `/proc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// The control socket's own thread while the daemon runs: an operator's first `status` in
    /// a while shows memory as it is.
    ForFresh,
    /// The actors' thread (`/status`, `/metrics`, `stats`): never blocked on a whole reading of
    /// `/proc`; one however old is served while the next is taken (the first time, or when more
    /// than [`READ_ALONE_MAX`] leaders are new to it, those show memory 0 until the next one,
    /// taken at most once a second, lands).
    Never,
}

/// The rows for `statuses`, with memory from a reading of `/proc` at most [`MEMORY_MAX_AGE`]
/// old, or older while the next is taken ([`MEMORY_STALE`] when the caller may `wait`; a
/// process younger than the reading is read alone, once).
pub fn rows(statuses: Vec<ComponentStatus>, wait: Wait) -> Vec<StatusRow> {
    let leaders: Vec<i32> = (statuses.iter())
        .filter_map(|status| Some(status.pid? as i32))
        .collect();
    let rss = MEMORY.at(
        Instant::now(),
        &leaders,
        (group_rss, process_rss),
        wait,
        in_background,
    );
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

/// A job for a thread of its own.
type Job = Box<dyn FnOnce() + Send>;

/// Runs `job` on a short-lived thread; if none can be made, the reading goes stale and the
/// next caller after [`MEMORY_STALE`] reads anew itself.
fn in_background(job: Job) {
    let _ = std::thread::Builder::new()
        .name("status-memory".into())
        .spawn(job);
}

/// One reading of the process groups' memory.
struct Reading {
    at: Instant,
    groups: GroupRss,
    /// The next reading is being taken.
    refreshing: bool,
}

/// Resident bytes per process group, read once and kept for a while.
struct MemoryReading(Mutex<Option<Reading>>);

impl MemoryReading {
    const fn new() -> Self {
        MemoryReading(Mutex::new(None))
    }

    /// The reading for `leaders` at `now`: the last one while it is younger than
    /// [`MEMORY_MAX_AGE`]; up to [`MEMORY_STALE`] (or at any age, when the caller does not
    /// [`Wait::ForFresh`]), the last one while `background` takes the next with `read_all`;
    /// past that, a new one taken here. Leaders the reading does not know (started since) are
    /// read alone with `read_one` and kept, up to [`READ_ALONE_MAX`] of them; more make a
    /// whole reading, as for an old one.
    fn at(
        &'static self,
        now: Instant,
        leaders: &[i32],
        (read_all, read_one): (fn() -> HashMap<i32, u64>, impl Fn(i32) -> Option<u64>),
        wait: Wait,
        background: impl FnOnce(Job),
    ) -> GroupRss {
        let mut last = self.lock();
        if wait == Wait::ForFresh && Self::wants_whole(last.as_ref(), now, leaders) {
            // Read without the lock: a caller that must not wait is served the last one meanwhile,
            // and starts no reading of its own.
            last.get_or_insert_with(|| Reading {
                at: now,
                groups: GroupRss::default(),
                refreshing: true,
            })
            .refreshing = true;
            drop(last);
            let groups = read_all();
            last = self.lock();
            Self::keep(&mut last, now, groups);
        }
        let never_read = last.is_none();
        let reading = last.get_or_insert_with(|| Reading {
            at: now,
            groups: GroupRss::default(),
            refreshing: false,
        });
        let unknown: Vec<i32> = (leaders.iter())
            .filter(|leader| !reading.groups.contains_key(leader))
            .copied()
            .collect();
        let alone = unknown.len() <= READ_ALONE_MAX;
        // At most one whole reading a second: more new leaders than are read alone show 0 until
        // then (10,000 starting asked for one reading after another, each a CPU's 80 ms).
        let old = now.saturating_duration_since(reading.at) >= MEMORY_MAX_AGE;
        if (never_read || old) && !reading.refreshing {
            reading.refreshing = true;
            background(Box::new(move || self.store(Instant::now(), read_all())));
        }
        for leader in unknown.into_iter().filter(|_| alone) {
            if let Some(rss) = read_one(leader) {
                Arc::make_mut(&mut reading.groups).insert(leader, rss);
            }
        }
        Arc::clone(&reading.groups)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Reading>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether a caller that may wait takes a whole reading itself: there is none, it is older
    /// than [`MEMORY_STALE`], or more than [`READ_ALONE_MAX`] of `leaders` are new to it.
    fn wants_whole(last: Option<&Reading>, now: Instant, leaders: &[i32]) -> bool {
        last.is_none_or(|reading| {
            now.saturating_duration_since(reading.at) >= MEMORY_STALE
                || (leaders.iter())
                    .filter(|leader| !reading.groups.contains_key(leader))
                    .nth(READ_ALONE_MAX)
                    .is_some()
        })
    }

    /// Keeps `groups`, read at `at`, as the reading.
    fn store(&self, at: Instant, groups: HashMap<i32, u64>) {
        Self::keep(&mut self.lock(), at, groups);
    }

    fn keep(last: &mut Option<Reading>, at: Instant, groups: HashMap<i32, u64>) {
        *last = Some(Reading {
            at,
            groups: Arc::new(groups),
            refreshing: false,
        });
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

/// The human table: SPEC's columns (the id as `status ID` takes it), and `SOCKETS` before
/// the last two when some component holds sockets.
pub fn table(rows: &[StatusRow]) -> String {
    let mut lines = vec![vec![
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
        lines.push(vec![
            row.id.clone(),
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
    if rows.iter().all(|row| row.sockets.is_empty()) {
        const SOCKETS: usize = 7;
        for line in &mut lines {
            line.remove(SOCKETS);
        }
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
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    #[test]
    fn memory_is_served_from_one_reading_and_read_anew_off_the_callers_path() {
        static READS: AtomicU64 = AtomicU64::new(0);
        fn read() -> HashMap<i32, u64> {
            HashMap::from([(7, READS.fetch_add(1, Ordering::SeqCst) + 1)])
        }
        let reading: &'static MemoryReading = Box::leak(Box::new(MemoryReading::new()));
        let alone = std::cell::Cell::new(0);
        let one = |pid: i32| {
            alone.set(alone.get() + 1);
            (pid == 8).then_some(80)
        };
        let jobs = std::cell::RefCell::new(Vec::<Job>::new());
        let later = |job| jobs.borrow_mut().push(job);
        let t0 = Instant::now();
        assert_eq!(
            reading.at(t0, &[7], (read, &one), Wait::ForFresh, later)[&7],
            1,
            "the first is read here"
        );

        let soon = t0 + MEMORY_MAX_AGE - Duration::from_millis(1);
        let fresh = reading.at(soon, &[7, 8], (read, &one), Wait::ForFresh, later);
        assert_eq!(
            (fresh[&7], fresh[&8]),
            (1, 80),
            "reused; a new leader read alone"
        );
        assert_eq!(
            reading.at(soon, &[7, 8], (read, &one), Wait::ForFresh, later)[&8],
            80
        );
        assert_eq!(alone.get(), 1, "and kept");
        assert!(jobs.borrow().is_empty());

        let old = t0 + MEMORY_MAX_AGE;
        assert_eq!(
            reading.at(old, &[7], (read, &one), Wait::ForFresh, later)[&7],
            1,
            "served while..."
        );
        assert_eq!(
            reading.at(old, &[7], (read, &one), Wait::ForFresh, later)[&7],
            1
        );
        assert_eq!(
            jobs.borrow().len(),
            1,
            "...one reading is taken in the background"
        );
        (jobs.borrow_mut().pop().unwrap())();
        assert_eq!(
            reading.at(old, &[7], (read, &one), Wait::ForFresh, later)[&7],
            2,
            "then it serves"
        );

        let stale = Instant::now() + MEMORY_STALE;
        assert_eq!(
            reading.at(stale, &[7], (read, &one), Wait::ForFresh, later)[&7],
            3,
            "too old: read here"
        );
        assert!(jobs.borrow().is_empty());
        assert_eq!(READS.load(Ordering::SeqCst), 3);

        // The actors' thread never reads it all: as old as it is, it is served, and the next
        // reading goes to the background.
        let staler = stale + MEMORY_STALE;
        let served = reading.at(staler, &[7], (read, &one), Wait::Never, later);
        assert_eq!(served[&7], 3, "served, however old");
        assert_eq!(READS.load(Ordering::SeqCst), 3, "not read here");
        assert_eq!(jobs.borrow().len(), 1, "read in the background");
    }

    #[test]
    fn the_actors_thread_gets_no_memory_rather_than_wait_for_the_first_reading() {
        fn read() -> HashMap<i32, u64> {
            panic!("a whole reading on the actors' thread")
        }
        let reading: &'static MemoryReading = Box::leak(Box::new(MemoryReading::new()));
        let jobs = std::cell::RefCell::new(Vec::<Job>::new());
        let later = |job| jobs.borrow_mut().push(job);
        let none = |_: i32| None;
        let served = reading.at(Instant::now(), &[7], (read, none), Wait::Never, later);
        assert!(served.is_empty());
        assert_eq!(
            jobs.borrow().len(),
            1,
            "the first reading goes to the background"
        );
    }

    #[test]
    fn many_new_leaders_are_one_whole_reading_never_each_read_alone() {
        static READS: AtomicU64 = AtomicU64::new(0);
        fn read() -> HashMap<i32, u64> {
            READS.fetch_add(1, Ordering::SeqCst);
            (0..100).map(|pid| (pid, 1)).collect()
        }
        let many: Vec<i32> = (0..=READ_ALONE_MAX as i32).collect();
        let never_alone = |pid: i32| -> Option<u64> { panic!("{pid} read alone") };
        let jobs = std::cell::RefCell::new(Vec::<Job>::new());
        let later = |job| jobs.borrow_mut().push(job);

        let actors: &'static MemoryReading = Box::leak(Box::new(MemoryReading::new()));
        let serve = || {
            actors.at(
                Instant::now(),
                &many,
                (read, never_alone),
                Wait::Never,
                later,
            )
        };
        let served = serve();
        assert!(served.is_empty(), "memory 0 until the reading lands");
        assert_eq!(
            jobs.borrow().len(),
            1,
            "one whole reading, in the background"
        );
        assert_eq!(READS.load(Ordering::SeqCst), 0, "not here");
        (jobs.borrow_mut().pop().unwrap())();
        assert_eq!(serve().len(), 100, "then it serves");
        // The positive control: a few new leaders are read alone, here.
        let alone = std::cell::Cell::new(0);
        let one = |_: i32| {
            alone.set(alone.get() + 1);
            Some(5)
        };
        let few: Vec<i32> = (1000..1000 + READ_ALONE_MAX as i32).collect();
        let served = actors.at(Instant::now(), &few, (read, one), Wait::Never, later);
        assert_eq!((served[&1000], alone.get()), (5, READ_ALONE_MAX));
        assert!(jobs.borrow().is_empty());

        let control: &'static MemoryReading = Box::leak(Box::new(MemoryReading::new()));
        fn nothing() -> HashMap<i32, u64> {
            READS.fetch_add(1, Ordering::SeqCst);
            HashMap::new()
        }
        control.at(
            Instant::now(),
            &[],
            (nothing, never_alone),
            Wait::ForFresh,
            later,
        );
        let served = control.at(
            Instant::now(),
            &many,
            (read, never_alone),
            Wait::ForFresh,
            later,
        );
        assert_eq!(
            served.len(),
            100,
            "the control thread takes the whole reading itself"
        );
        assert_eq!(READS.load(Ordering::SeqCst), 3);
        assert!(jobs.borrow().is_empty());
    }

    #[test]
    fn a_whole_reading_holds_back_no_caller_that_must_not_wait() {
        static ENTERED: std::sync::Barrier = std::sync::Barrier::new(2);
        static LEAVE: std::sync::Barrier = std::sync::Barrier::new(2);
        fn slow() -> HashMap<i32, u64> {
            ENTERED.wait();
            LEAVE.wait();
            HashMap::from([(7, 1)])
        }
        let reading: &'static MemoryReading = Box::leak(Box::new(MemoryReading::new()));
        // A stale reading: the control thread reads anew, the actors' thread would too.
        let stale = Instant::now().checked_sub(MEMORY_STALE + MEMORY_MAX_AGE);
        reading.store(stale.expect("a clock that old"), HashMap::new());
        let none = |_: i32| None;
        let whole = std::thread::spawn(move || {
            reading.at(Instant::now(), &[7], (slow, none), Wait::ForFresh, drop)[&7]
        });
        ENTERED.wait();
        let (sender, served) = std::sync::mpsc::channel();
        static STARTED: AtomicU64 = AtomicU64::new(0);
        std::thread::spawn(move || {
            let count = |_: Job| {
                STARTED.fetch_add(1, Ordering::SeqCst);
            };
            let _ = sender.send(reading.at(Instant::now(), &[7], (slow, none), Wait::Never, count));
        });
        let served = served.recv_timeout(Duration::from_secs(10));
        LEAVE.wait();
        assert!(
            served
                .expect("answered while the whole reading was under way")
                .is_empty(),
            "with what there was: nothing yet"
        );
        assert_eq!(
            STARTED.load(Ordering::SeqCst),
            0,
            "no second whole reading meanwhile"
        );
        assert_eq!(
            whole.join().unwrap(),
            1,
            "the whole reading, for its caller"
        );
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
        assert!(
            lines[1].starts_with("ps "),
            "the id as `status ID` takes it: {text}"
        );
        assert!(
            !lines[0].contains("SOCKETS"),
            "no socket held, no column: {text}"
        );
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
