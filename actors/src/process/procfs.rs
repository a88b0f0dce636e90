//! Reading `/proc/PID/stat`: process group, start time and resident memory of processes.

use std::fs::File;
use std::io::{self, Read};

/// The fields of `/proc/PID/stat` Supervisor uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// Whether the process has exited and waits to be reaped (state `Z`, field 3).
    pub zombie: bool,
    /// Process-group id (field 5).
    pub pgid: i32,
    /// Start time in clock ticks since boot (field 22).
    pub start_ticks: u64,
    /// Resident set size in pages (field 24).
    pub rss_pages: u64,
}

/// Reads `/proc/PID/stat`; `None` when the process is gone.
pub fn stat(pid: i32) -> Option<Stat> {
    // One read into a buffer on the stack: the line is a few hundred bytes (the command name
    // is at most 64), and the kernel produces it whole on the first read.
    let mut buffer = [0u8; 1024];
    let length = File::open(format!("/proc/{pid}/stat"))
        .ok()?
        .read(&mut buffer)
        .ok()?;
    parse(std::str::from_utf8(buffer.get(..length)?).ok()?)
}

/// Every process on the host with its stat fields.
pub fn all() -> io::Result<Vec<(i32, Stat)>> {
    Ok(std::fs::read_dir("/proc")?
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| Some((pid, stat(pid)?)))
        .collect())
}

/// The start time of a process, for its journal record.
pub fn start_ticks(pid: i32) -> Option<u64> {
    stat(pid).map(|s| s.start_ticks)
}

fn parse(text: &str) -> Option<Stat> {
    // The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    let rest = text.get(text.rfind(')')? + 2..)?;
    let fields: Vec<&str> = rest.split(' ').collect();
    // `rest` starts at field 3, so field N is fields[N - 3].
    let field = |n: usize| fields.get(n - 3)?.parse().ok();
    Some(Stat {
        zombie: *fields.first()? == "Z",
        pgid: field(5)? as i32,
        start_ticks: field(22)?,
        rss_pages: field(24)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_found_after_a_tricky_command_name() {
        let line = "42 (we(ir) d) S 1 40 40 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 987654 1000 77 9";
        assert_eq!(
            parse(line),
            Some(Stat {
                zombie: false,
                pgid: 40,
                start_ticks: 987654,
                rss_pages: 77
            })
        );
        assert!(parse(&line.replace(") S ", ") Z ")).unwrap().zombie);
        assert_eq!(parse("garbage"), None);
    }

    #[test]
    fn our_own_stat_is_readable() {
        let me = std::process::id() as i32;
        assert!(stat(me).is_some_and(|s| s.start_ticks > 0 && s.rss_pages > 0));
    }
}
