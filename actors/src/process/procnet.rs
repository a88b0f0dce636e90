//! The accept queues of held sockets, read once per status report (sock_diag, see
//! [`super::sockdiag`]; `/proc/net/tcp` where sock_diag cannot be read), and who listens on a
//! port the daemon could not bind (`/proc/net/tcp`, `/proc/NNN/fd`).

use std::cell::OnceCell;
use std::collections::HashMap;
use std::fs;

/// One line of `/proc/net/tcp{,6}`: local port, state, receive queue, inode.
struct Line {
    port: u16,
    listening: bool,
    queue: u64,
    inode: u64,
}

/// `sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode`.
fn parse(line: &str) -> Option<Line> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let port = fields.get(1)?.rsplit_once(':')?.1;
    let queues = fields.get(4)?.split_once(':')?;
    Some(Line {
        port: u16::from_str_radix(port, 16).ok()?,
        listening: *fields.get(3)? == "0A",
        queue: u64::from_str_radix(queues.1, 16).ok()?,
        inode: fields.get(9)?.parse().ok()?,
    })
}

fn lines(ipv6: bool) -> Vec<Line> {
    let file = if ipv6 {
        "/proc/net/tcp6"
    } else {
        "/proc/net/tcp"
    };
    let text = fs::read_to_string(file).unwrap_or_default();
    text.lines().skip(1).filter_map(parse).collect()
}

/// What kind of listening socket an inode is, for where the kernel shows its queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// IPv4 TCP.
    Tcp,
    /// IPv6 TCP.
    Tcp6,
    /// Unix stream.
    Unix,
}

/// The accept queues of the listening sockets, each family read at most once however many
/// sockets one status report asks about (and not at all when none of it is held).
#[derive(Default)]
pub struct Queues {
    tcp: OnceCell<Option<HashMap<u64, u64>>>,
    tcp6: OnceCell<Option<HashMap<u64, u64>>>,
    /// `None` when sock_diag could not be read (the queues are then unknown).
    unix: OnceCell<Option<HashMap<u64, u64>>>,
}

impl Queues {
    /// Queues never read: every depth is unknown.
    pub fn unread() -> Self {
        let queues = Queues::default();
        for cell in [&queues.tcp, &queues.tcp6, &queues.unix] {
            let _ = cell.set(None);
        }
        queues
    }

    /// The connections waiting in the accept queue of the listening socket `inode`; `None`
    /// where the kernel does not tell.
    pub fn depth(&self, family: Family, inode: u64) -> Option<u64> {
        self.of(family).as_ref()?.get(&inode).copied()
    }

    /// Reads `family`'s queues now, if not read yet (so that a later [`Queues::depth`] does not).
    pub fn read(&self, family: Family) {
        self.of(family);
    }

    /// `family`'s queues by socket inode, read on first use.
    fn of(&self, family: Family) -> &Option<HashMap<u64, u64>> {
        let cell = match family {
            Family::Tcp => &self.tcp,
            Family::Tcp6 => &self.tcp6,
            Family::Unix => &self.unix,
        };
        let read = || match super::sockdiag::listening_queues(family) {
            Ok(queues) => Some(queues),
            Err(_) if family == Family::Unix => None,
            // `/proc/net/tcp` shows a listening socket's accept queue as `rx_queue`.
            Err(_) => {
                let lines = lines(family == Family::Tcp6).into_iter();
                let listening = lines.filter(|line| line.listening);
                Some(listening.map(|line| (line.inode, line.queue)).collect())
            }
        };
        cell.get_or_init(read)
    }
}

/// The inode of a socket listening on `port`, IPv4 or IPv6.
pub fn tcp_listener(port: u16) -> Option<u64> {
    let mut all = lines(false);
    all.extend(lines(true));
    let found = all
        .into_iter()
        .find(|l| l.listening && l.port == port && l.inode != 0);
    found.map(|line| line.inode)
}

/// The pid and command name of a process that holds the socket `inode` (where `/proc` lets us
/// see its descriptors).
pub fn socket_owner(inode: u64) -> Option<(i32, String)> {
    let target = format!("socket:[{inode}]");
    let pids = fs::read_dir("/proc").ok()?;
    pids.filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .find(|pid| {
            fs::read_dir(format!("/proc/{pid}/fd")).is_ok_and(|fds| {
                fds.filter_map(Result::ok).any(|fd| {
                    fs::read_link(fd.path()).is_ok_and(|link| link.as_os_str() == target.as_str())
                })
            })
        })
        .map(|pid| {
            let name = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            (pid, name.trim().to_string())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listening_line_gives_its_port_queue_and_inode() {
        let line = "   0: 0100007F:6AD1 00000000:0000 0A 00000000:00000003 00:00000000 00000000  1000        0 4242 1 0000000000000000 100 0 0 10 0";
        let parsed = parse(line).unwrap();
        assert_eq!(
            (parsed.port, parsed.listening, parsed.queue, parsed.inode),
            (27345, true, 3, 4242)
        );
    }
}
