//! What the benchmark reads of the host and of a process: CPU and memory counters from `/proc`,
//! the machine's description, room for N more processes, and leftovers after a daemon.

use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::resource::{Resource, getrlimit, setrlimit};
use nix::sys::signal::Signal;
use testkit::alive;
use testkit::lean::signal;

/// CPU, memory and scheduling counters of a process (all its threads).
#[derive(Debug, Clone, Copy)]
pub struct ProcSample {
    /// utime + stime from `/proc/PID/stat`, in clock ticks (includes exited threads).
    pub cpu_ticks: u64,
    /// Context switches summed over the live threads.
    pub voluntary: u64,
    pub involuntary: u64,
    pub rss_kib: u64,
}

impl ProcSample {
    pub fn read(pid: i32) -> Option<ProcSample> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // Fields after the command (which may contain spaces): state is field 3.
        let fields: Vec<&str> = stat.rsplit_once(") ")?.1.split_whitespace().collect();
        let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
        let cpu_ticks = field(14)? + field(15)?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let rss_kib = status_kib(&status, "VmRSS")?;
        let (mut voluntary, mut involuntary) = (0, 0);
        for task in std::fs::read_dir(format!("/proc/{pid}/task"))
            .ok()?
            .flatten()
        {
            if let Ok(status) = std::fs::read_to_string(task.path().join("status")) {
                voluntary += status_kib(&status, "voluntary_ctxt_switches").unwrap_or(0);
                involuntary += status_kib(&status, "nonvoluntary_ctxt_switches").unwrap_or(0);
            }
        }
        Some(ProcSample {
            cpu_ticks,
            voluntary,
            involuntary,
            rss_kib,
        })
    }
}

/// The number at the start of the `key:` line of a `/proc/PID/status` text.
pub fn status_kib(status: &str, key: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(key)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

pub fn clock_ticks_per_second() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .map_or(100, |t| t as u64)
}

/// The host's CPU time by kind, from the first line of `/proc/stat` (clock ticks, all CPUs).
#[derive(Debug, Clone, Copy)]
pub struct HostCpu {
    busy: u64,
    iowait: u64,
    steal: u64,
    total: u64,
}

impl HostCpu {
    pub fn read() -> Option<HostCpu> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let values: Vec<u64> = stat
            .lines()
            .next()?
            .strip_prefix("cpu ")?
            .split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect();
        // user nice system idle iowait irq softirq steal (guest time is inside user).
        let field = |i: usize| values.get(i).copied().unwrap_or(0);
        let busy = field(0) + field(1) + field(2) + field(5) + field(6) + field(7);
        Some(HostCpu {
            busy,
            iowait: field(4),
            steal: field(7),
            total: busy + field(3) + field(4),
        })
    }

    pub fn since(&self, before: &HostCpu) -> HostLoad {
        let total = self.total.saturating_sub(before.total).max(1) as f64;
        let share = |after: u64, before: u64| after.saturating_sub(before) as f64 / total * 100.0;
        HostLoad {
            busy: share(self.busy, before.busy),
            iowait: share(self.iowait, before.iowait),
            steal: share(self.steal, before.steal),
        }
    }
}

/// Shares of the host's CPU time (all CPUs together) over an interval, in %.
pub struct HostLoad {
    busy: f64,
    iowait: f64,
    steal: f64,
}

impl std::fmt::Display for HostLoad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Host CPUs meanwhile: {:.0} % busy (all processes), {:.1} % iowait, {:.1} % steal",
            self.busy, self.iowait, self.steal
        )
    }
}

/// Waits up to `grace` for every one of `pids` to be gone, then kills (by pid) those that are
/// not; how many.
pub fn reap_leftovers(pids: &[i32], grace: Duration) -> usize {
    let deadline = Instant::now() + grace;
    let mut left: Vec<i32> = pids
        .iter()
        .copied()
        .filter(|&pid| alive(pid as u32))
        .collect();
    while !left.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        left.retain(|&pid| alive(pid as u32));
    }
    for &pid in &left {
        signal(pid, Signal::SIGKILL);
    }
    left.len()
}

/// How long the components of a daemon killed with SIGKILL get to die of their parent-death
/// signal before the benchmark counts them as left behind.
pub const DEATH_GRACE: Duration = Duration::from_secs(5);

/// Whether this machine can hold `n` more components: an error (the reason not to run) when
/// there are not enough pids; a warning when the open-file limit looks small and cannot be
/// raised (the daemon then runs anyway, and what it does is the result).
pub fn room_for(n: usize, pipes: u64) -> Result<Option<String>, String> {
    let pid_max: usize = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(32768);
    let tasks: usize = std::fs::read_dir("/proc")
        .map(|dir| {
            dir.flatten()
                .filter(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .bytes()
                        .all(|b| b.is_ascii_digit())
                })
                .map(|e| std::fs::read_dir(e.path().join("task")).map_or(1, |t| t.count()))
                .sum()
        })
        .unwrap_or(0);
    if tasks + n + 512 > pid_max {
        return Err(format!(
            "not run: {n} components need {n} pids, kernel.pid_max is {pid_max} and {tasks} are in use"
        ));
    }
    // The daemon raises its soft limit to the hard one; make the hard one large enough for the
    // components' pipes and the daemon's headroom (640), if this process may.
    let need = (n as u64) * pipes + 1024;
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return Ok(None);
    };
    if hard >= need {
        return Ok(None);
    }
    Ok(setrlimit(Resource::RLIMIT_NOFILE, soft.max(need), need)
        .err()
        .map(|e| {
            format!(
                "N = {n}: RLIMIT_NOFILE is {soft}/{hard}, below the {need} that {pipes} pipe(s) a \
                 component and some headroom need, and cannot be raised here ({e}); run as it is"
            )
        }))
}

/// `/proc/loadavg`'s first three numbers.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "?".into())
}

/// The type of the filesystem holding `path` (the longest mount point above it).
pub fn filesystem(path: &Path) -> String {
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let (_, point, kind) = (fields.next()?, fields.next()?, fields.next()?);
            path.starts_with(point)
                .then(|| (point.len(), kind.to_string()))
        })
        .max_by_key(|(length, _)| *length)
        .map_or_else(|| "unknown filesystem".into(), |(_, kind)| kind)
}

/// Processors, model, kernel, memory and limits of this machine.
pub fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| {
            line.strip_prefix("model name")?
                .split_once(':')
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| status_kib(&m, "MemTotal"))
        .map_or("?".into(), |kib| {
            format!("{:.1} GiB", kib as f64 / 1024.0 / 1024.0)
        });
    let pid_max = std::fs::read_to_string("/proc/sys/kernel/pid_max").unwrap_or_default();
    let nofile = getrlimit(Resource::RLIMIT_NOFILE).map_or("?".into(), |(s, h)| format!("{s}/{h}"));
    format!(
        "Machine: {cpus} CPUs ({model}), kernel {}, {memory} RAM, pid_max {}, RLIMIT_NOFILE {nofile} (soft/hard, \
         after any raise by this program).",
        kernel.trim(),
        pid_max.trim()
    )
}
