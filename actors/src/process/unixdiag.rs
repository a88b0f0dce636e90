//! The accept queues of listening unix sockets, from the kernel's sock_diag netlink interface
//! (`NETLINK_SOCK_DIAG`, what `ss -xl` reads): `/proc/net/unix` does not show them, and a
//! listening unix socket answers `SIOCINQ` with `EINVAL`. One dump of the listening unix sockets
//! with `UDIAG_SHOW_RQLEN` gives each one's `rqueue`, the connections waiting for `accept`.

use std::collections::HashMap;
use std::io::{self, Read};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

/// `linux/sock_diag.h`.
const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// `linux/unix_diag.h`: ask for the queue lengths, which come as this attribute.
const UDIAG_SHOW_RQLEN: u32 = 0x10;
const UNIX_DIAG_RQLEN: u16 = 4;
/// `TCP_LISTEN`, the state a listening unix socket reports.
const LISTEN: u32 = 10;
/// `struct nlmsghdr`, `struct unix_diag_req`, `struct unix_diag_msg`.
const HEADER: usize = 16;
const REQUEST: usize = 24;
const MESSAGE: usize = 16;
/// How long a dump may take before the queues are reported unknown (status never waits on it).
const TIMEOUT: Duration = Duration::from_secs(1);

/// Each listening unix socket's inode with the connections waiting in its accept queue.
pub fn listening_queues() -> io::Result<HashMap<u64, u64>> {
    let netlink = Socket::new(
        Domain::from(libc::AF_NETLINK),
        Type::DGRAM,
        Some(Protocol::from(libc::NETLINK_SOCK_DIAG)),
    )?;
    netlink.set_read_timeout(Some(TIMEOUT))?;
    // Unconnected, a netlink socket sends to the kernel.
    netlink.send(&request())?;
    let mut queues = HashMap::new();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let length = (&netlink).read(&mut buffer)?;
        if parse(&buffer[..length], &mut queues)? {
            return Ok(queues);
        }
    }
}

/// A dump request for the listening unix sockets, with their queue lengths.
fn request() -> Vec<u8> {
    let mut message = Vec::with_capacity(HEADER + REQUEST);
    message.extend_from_slice(&((HEADER + REQUEST) as u32).to_ne_bytes());
    message.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    let flags = (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16;
    message.extend_from_slice(&flags.to_ne_bytes());
    message.extend_from_slice(&[0; 8]); // sequence number and port: the kernel's
    message.push(libc::AF_UNIX as u8);
    message.extend_from_slice(&[0; 3]); // protocol, padding
    message.extend_from_slice(&(1u32 << LISTEN).to_ne_bytes());
    message.extend_from_slice(&0u32.to_ne_bytes()); // any inode
    message.extend_from_slice(&UDIAG_SHOW_RQLEN.to_ne_bytes());
    message.extend_from_slice(&[0; 8]); // cookie
    message
}

/// Adds the queues of one datagram's messages to `queues`; whether the dump is done.
fn parse(mut datagram: &[u8], queues: &mut HashMap<u64, u64>) -> io::Result<bool> {
    while datagram.len() >= HEADER {
        let length = u32_at(datagram, 0) as usize;
        if length < HEADER || length > datagram.len() {
            return Err(io::Error::other("sock_diag: a truncated message"));
        }
        let kind = u16::from_ne_bytes([datagram[4], datagram[5]]);
        let body = &datagram[HEADER..length];
        match kind {
            k if k == libc::NLMSG_DONE as u16 => return Ok(true),
            k if k == libc::NLMSG_ERROR as u16 => {
                let code = body.get(..4).map_or(0, |_| u32_at(body, 0) as i32);
                return Err(io::Error::from_raw_os_error(-code));
            }
            SOCK_DIAG_BY_FAMILY if body.len() >= MESSAGE => {
                if let Some(queue) = rqueue(&body[MESSAGE..]) {
                    queues.insert(u64::from(u32_at(body, 4)), queue);
                }
            }
            _ => {}
        }
        datagram = datagram.get(aligned(length)..).unwrap_or_default();
    }
    Ok(false)
}

/// The `rqueue` of a `UNIX_DIAG_RQLEN` attribute among `attributes`.
fn rqueue(mut attributes: &[u8]) -> Option<u64> {
    while attributes.len() >= 4 {
        let length = usize::from(u16::from_ne_bytes([attributes[0], attributes[1]]));
        let kind = u16::from_ne_bytes([attributes[2], attributes[3]]);
        if length < 4 || length > attributes.len() {
            return None;
        }
        if kind == UNIX_DIAG_RQLEN && length >= 8 {
            return Some(u64::from(u32_at(attributes, 4)));
        }
        attributes = attributes.get(aligned(length)..).unwrap_or_default();
    }
    None
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// Netlink messages and attributes are 4-byte aligned.
fn aligned(length: usize) -> usize {
    (length + 3) & !3
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::fs::MetadataExt;
    use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};

    #[test]
    fn a_listener_s_waiting_connections_are_its_rqueue() {
        let address = |name: &str| {
            let name = format!("supervisor-unixdiag-{}-{name}", std::process::id());
            SocketAddr::from_abstract_name(name).unwrap()
        };
        let busy = UnixListener::bind_addr(&address("busy")).unwrap();
        let idle = UnixListener::bind_addr(&address("idle")).unwrap();
        let _waiting: Vec<UnixStream> = (0..3)
            .map(|_| UnixStream::connect_addr(&address("busy")).unwrap())
            .collect();
        let inode = |listener: &UnixListener| {
            let fd = listener.as_raw_fd();
            std::fs::metadata(format!("/proc/self/fd/{fd}"))
                .unwrap()
                .ino()
        };
        let queues = listening_queues().unwrap();
        assert_eq!(queues.get(&inode(&busy)), Some(&3));
        assert_eq!(queues.get(&inode(&idle)), Some(&0));
    }

    #[test]
    fn a_truncated_message_is_an_error_not_a_panic() {
        let mut queues = HashMap::new();
        let mut short = vec![0u8; HEADER];
        short[..4].copy_from_slice(&64u32.to_ne_bytes());
        assert!(parse(&short, &mut queues).is_err());
        assert_eq!(rqueue(&[8, 0, 4, 0, 1]), None);
    }
}
