//! The accept queues of listening sockets, from the kernel's sock_diag netlink interface
//! (`NETLINK_SOCK_DIAG`, what `ss -l` reads). One dump per family, of listening sockets only:
//! for TCP the kernel walks its listening table alone, where `/proc/net/tcp` walks every bucket
//! of the connection table (milliseconds on a host with much memory, however few sockets); a
//! listening unix socket's queue is not in `/proc` at all (and `SIOCINQ` answers `EINVAL`).
//! For a listening socket `rqueue` is the connections waiting for `accept`.

use std::collections::HashMap;
use std::io::{self, Read};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

use super::procnet::Family;

/// `linux/sock_diag.h`.
const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// `linux/unix_diag.h`: ask for the queue lengths, which come as this attribute.
const UDIAG_SHOW_RQLEN: u32 = 0x10;
const UNIX_DIAG_RQLEN: u16 = 4;
/// `TCP_LISTEN`, the state a listening socket reports (unix ones too).
const LISTEN: u32 = 10;
/// `struct nlmsghdr`.
const HEADER: usize = 16;
/// `struct unix_diag_msg`; `struct inet_diag_msg`, with its `idiag_rqueue` and `idiag_inode`.
const UNIX_MESSAGE: usize = 16;
const INET_MESSAGE: usize = 72;
const INET_RQUEUE: usize = 56;
const INET_INODE: usize = 68;
/// How long a dump may take before the queues are reported unknown.
const TIMEOUT: Duration = Duration::from_secs(1);

/// Each listening socket of `family` (its inode) with the connections waiting in its accept
/// queue.
pub fn listening_queues(family: Family) -> io::Result<HashMap<u64, u64>> {
    let netlink = Socket::new(
        Domain::from(libc::AF_NETLINK),
        Type::DGRAM,
        Some(Protocol::from(libc::NETLINK_SOCK_DIAG)),
    )?;
    netlink.set_read_timeout(Some(TIMEOUT))?;
    // Unconnected, a netlink socket sends to the kernel.
    netlink.send(&request(family))?;
    let mut queues = HashMap::new();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let length = (&netlink).read(&mut buffer)?;
        if parse(&buffer[..length], family, &mut queues)? {
            return Ok(queues);
        }
    }
}

/// A dump request for the listening sockets of `family`, with their queue lengths.
fn request(family: Family) -> Vec<u8> {
    // `struct unix_diag_req` or `struct inet_diag_req_v2`, after the netlink header.
    let mut body = Vec::with_capacity(56);
    let states = (1u32 << LISTEN).to_ne_bytes();
    match family {
        Family::Unix => {
            body.extend_from_slice(&[libc::AF_UNIX as u8, 0, 0, 0]); // protocol, padding
            body.extend_from_slice(&states);
            body.extend_from_slice(&0u32.to_ne_bytes()); // any inode
            body.extend_from_slice(&UDIAG_SHOW_RQLEN.to_ne_bytes());
            body.extend_from_slice(&[0; 8]); // cookie
        }
        Family::Tcp | Family::Tcp6 => {
            let domain = if family == Family::Tcp6 {
                libc::AF_INET6
            } else {
                libc::AF_INET
            };
            body.extend_from_slice(&[domain as u8, libc::IPPROTO_TCP as u8, 0, 0]); // no extensions
            body.extend_from_slice(&states);
            body.extend_from_slice(&[0; 48]); // any address, port and interface
        }
    }
    let mut message = Vec::with_capacity(HEADER + body.len());
    message.extend_from_slice(&((HEADER + body.len()) as u32).to_ne_bytes());
    message.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    let flags = (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16;
    message.extend_from_slice(&flags.to_ne_bytes());
    message.extend_from_slice(&[0; 8]); // sequence number and port: the kernel's
    message.extend_from_slice(&body);
    message
}

/// Adds the queues of one datagram's messages to `queues`; whether the dump is done.
fn parse(mut datagram: &[u8], family: Family, queues: &mut HashMap<u64, u64>) -> io::Result<bool> {
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
            SOCK_DIAG_BY_FAMILY => {
                if let Some((inode, queue)) = socket(body, family) {
                    queues.insert(inode, queue);
                }
            }
            _ => {}
        }
        datagram = datagram.get(aligned(length)..).unwrap_or_default();
    }
    Ok(false)
}

/// One socket's (inode, queue) from its `unix_diag_msg` or `inet_diag_msg`.
fn socket(body: &[u8], family: Family) -> Option<(u64, u64)> {
    match family {
        Family::Unix if body.len() >= UNIX_MESSAGE => {
            let queue = rqueue(&body[UNIX_MESSAGE..])?;
            Some((u64::from(u32_at(body, 4)), queue))
        }
        Family::Tcp | Family::Tcp6 if body.len() >= INET_MESSAGE => Some((
            u64::from(u32_at(body, INET_INODE)),
            u64::from(u32_at(body, INET_RQUEUE)),
        )),
        _ => None,
    }
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
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsRawFd;
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::fs::MetadataExt;
    use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};

    /// The inode of a socket of this process.
    fn inode(socket: &impl AsRawFd) -> u64 {
        let path = format!("/proc/self/fd/{}", socket.as_raw_fd());
        std::fs::metadata(path).unwrap().ino()
    }

    #[test]
    fn a_unix_listener_s_waiting_connections_are_its_rqueue() {
        let address = |name: &str| {
            let name = format!("supervisor-sockdiag-{}-{name}", std::process::id());
            SocketAddr::from_abstract_name(name).unwrap()
        };
        let busy = UnixListener::bind_addr(&address("busy")).unwrap();
        let idle = UnixListener::bind_addr(&address("idle")).unwrap();
        let _waiting: Vec<UnixStream> = (0..3)
            .map(|_| UnixStream::connect_addr(&address("busy")).unwrap())
            .collect();
        let queues = listening_queues(Family::Unix).unwrap();
        assert_eq!(queues.get(&inode(&busy)), Some(&3));
        assert_eq!(queues.get(&inode(&idle)), Some(&0));
    }

    #[test]
    fn a_tcp_listener_s_waiting_connections_are_its_rqueue() {
        let busy = TcpListener::bind("127.0.0.1:0").unwrap();
        let idle = TcpListener::bind("127.0.0.1:0").unwrap();
        let _waiting: Vec<TcpStream> = (0..2)
            .map(|_| TcpStream::connect(busy.local_addr().unwrap()).unwrap())
            .collect();
        let queues = listening_queues(Family::Tcp).unwrap();
        assert_eq!(queues.get(&inode(&busy)), Some(&2));
        assert_eq!(queues.get(&inode(&idle)), Some(&0));
        let accepted = TcpStream::connect(idle.local_addr().unwrap()).unwrap();
        let connection = idle.accept().unwrap();
        let queues = listening_queues(Family::Tcp).unwrap();
        assert_eq!(
            queues.get(&inode(&idle)),
            Some(&0),
            "an accepted one waits no more"
        );
        assert!(
            !queues.contains_key(&inode(&connection.0)),
            "listeners only"
        );
        drop(accepted);
    }

    #[test]
    fn a_truncated_message_is_an_error_not_a_panic() {
        let mut queues = HashMap::new();
        let mut short = vec![0u8; HEADER];
        short[..4].copy_from_slice(&64u32.to_ne_bytes());
        assert!(parse(&short, Family::Unix, &mut queues).is_err());
        assert_eq!(rqueue(&[8, 0, 4, 0, 1]), None);
        assert_eq!(socket(&[0; 20], Family::Tcp), None);
    }
}
