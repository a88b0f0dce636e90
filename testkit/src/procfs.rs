//! Readers of `/proc`: whether a process lives, its place in the process tree, its argv and
//! signal masks; and [`kill`]. The readers only read; a process that is gone reads as empty or `None`, never a panic.

use std::path::Path;

/// Whether a process with this pid exists (zombies count as gone).
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => false,
    }
}

/// What `/proc/PID/stat` says about a process's place in the process tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// The process.
    pub pid: u32,
    /// State letter (`R`, `S`, `T` stopped, `Z` zombie, ...).
    pub state: char,
    /// Parent process.
    pub ppid: u32,
    /// Process group.
    pub pgid: u32,
    /// Session.
    pub sid: u32,
}

/// `/proc/PID/stat` of a process (zombies included), or `None` when there is no such entry.
pub fn proc_stat(pid: u32) -> Option<ProcStat> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: fields resume after the last ')'.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let mut number = || fields.next()?.parse::<u32>().ok();
    Some(ProcStat {
        pid,
        state,
        ppid: number()?,
        pgid: number()?,
        sid: number()?,
    })
}

/// Every process in `/proc` right now (zombies included).
pub fn processes() -> Vec<ProcStat> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(proc_stat)
        .collect()
}

/// `root` and every process below it (zombies included), by pid.
pub fn descendants(root: u32) -> Vec<ProcStat> {
    let all = processes();
    let mut found: Vec<ProcStat> = all.iter().filter(|p| p.pid == root).copied().collect();
    let mut index = 0;
    while index < found.len() {
        let parent = found[index].pid;
        found.extend(all.iter().filter(|p| p.ppid == parent && p.pid != root));
        index += 1;
    }
    found
}

/// The live (not zombie) members of process group `pgid`.
pub fn live_group_members(pgid: u32) -> Vec<u32> {
    processes()
        .into_iter()
        .filter(|p| p.pgid == pgid && p.state != 'Z')
        .map(|p| p.pid)
        .collect()
}

/// Whether `/proc/PID` exists at all: unlike [`alive`], a zombie still counts.
pub fn in_proc_table(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// The argv of a process (empty for a zombie or a process that is gone).
pub fn proc_args(pid: u32) -> Vec<String> {
    nul_separated(pid, "cmdline")
}

/// The `NAME=value` entries of a process's environment, in order, duplicates kept (empty for a
/// zombie or a process that is gone).
pub fn proc_environment(pid: u32) -> Vec<String> {
    nul_separated(pid, "environ")
}

/// The value of `name` in a process's environment (the first, as `getenv` finds it).
pub fn proc_variable(pid: u32, name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    proc_environment(pid)
        .into_iter()
        .find_map(|entry| Some(entry.strip_prefix(&prefix)?.to_string()))
}

/// The non-empty NUL-separated strings of `/proc/PID/FILE`.
fn nul_separated(pid: u32, file: &str) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/{file}"))
        .unwrap_or_default()
        .split(|&b| b == 0)
        .filter(|entry| !entry.is_empty())
        .map(|entry| String::from_utf8_lossy(entry).into_owned())
        .collect()
}

/// The argv of a process, joined with spaces (empty for a zombie or a process that is gone).
pub fn proc_cmdline(pid: u32) -> String {
    proc_args(pid).join(" ")
}

/// The direct children of `pid` right now (zombies included).
pub fn children_of(pid: u32) -> Vec<ProcStat> {
    processes().into_iter().filter(|p| p.ppid == pid).collect()
}

/// The zombie children of `pid` right now (exited, not yet reaped).
pub fn zombie_children(pid: u32) -> Vec<u32> {
    children_of(pid)
        .into_iter()
        .filter(|p| p.state == 'Z')
        .map(|p| p.pid)
        .collect()
}

/// A hexadecimal mask line of `/proc/PID/status` (`SigCgt`, `SigIgn`, ...).
pub fn status_mask(pid: u32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        (name == key).then(|| u64::from_str_radix(value.trim(), 16).ok())?
    })
}

/// Whether `pid` has a SIGTERM handler installed (standin `--ignore-term` is ready).
pub fn catches_sigterm(pid: u32) -> bool {
    const SIGTERM_BIT: u64 = 1 << (libc::SIGTERM - 1);
    status_mask(pid, "SigCgt").is_some_and(|mask| mask & SIGTERM_BIT != 0)
}

/// Sends `signal` to a process.
pub fn kill(pid: u32, signal: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), signal).expect("kill");
}

/// How many descriptors `pid` has open (0 when it is gone).
pub fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count)
}

/// How many descriptors the table of `pid` has room for (`FDSize` of its status), open or not.
pub fn fd_table_size(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let size = status
        .lines()
        .find_map(|line| line.strip_prefix("FDSize:"))?;
    size.trim().parse().ok()
}

/// The inode of the TCP socket listening on 127.0.0.1:`port` (`/proc/net/tcp`, state `0A`).
pub fn tcp_listener_inode(port: u16) -> Option<u64> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let local = format!("0100007F:{port:04X}");
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        (fields.get(1) == Some(&local.as_str()) && fields.get(3) == Some(&"0A"))
            .then(|| fields.get(9)?.parse().ok())
            .flatten()
    })
}
