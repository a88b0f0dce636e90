//! The listening sockets the daemon holds for a component (`<socket>`): bound and listening
//! once, before the component's first start, kept across its crashes and restarts, and passed
//! to each of its processes as descriptors 3, 4, … (see `sys`), so that the kernel queues
//! clients while no process accepts. The daemon never accepts a connection on them itself.
//!
//! A unix socket file left by a crashed daemon is replaced only when it is a socket nobody
//! accepts on; a symlink or any other file in its place is an error, never followed.
//!
//! At an upgrade of the daemon the sockets stay open across `execve` ([`HandedSocket`]): the
//! new daemon adopts them, queue and all, and never binds them anew.

use std::fs;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::Path;

use socket2::{Domain, SockAddr, Socket, Type};

use super::procnet::{Family, Queues};
use crate::spec::{Listen, SocketSpec};

/// A socket the daemon could not bind or listen on.
#[derive(Debug, thiserror::Error)]
#[error("socket `{name}` ({listen}): {reason}")]
pub struct SocketError {
    /// The socket's name.
    pub name: String,
    /// Where it was to listen.
    pub listen: String,
    /// Why it could not.
    pub reason: String,
}

/// One held socket, as `status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SocketStatus {
    /// Its name (`LISTEN_FDNAMES`).
    pub name: String,
    /// Its address, as the registry writes it.
    pub listen: String,
    /// Connections waiting to be accepted (`None` where the kernel does not tell).
    pub queue: Option<u64>,
}

/// A bound, listening socket and what it was made from.
struct Held {
    spec: SocketSpec,
    socket: Socket,
    /// A unix socket's file (device, inode), removed with the socket if it is still ours.
    file: Option<(u64, u64)>,
}

impl Drop for Held {
    fn drop(&mut self) {
        if let (Listen::Unix(path), Some(ours)) = (&self.spec.listen, self.file) {
            let same = fs::symlink_metadata(path).is_ok_and(|m| (m.dev(), m.ino()) == ours);
            if same {
                let _ = fs::remove_file(path);
            }
        }
    }
}

/// A component's held sockets, in registry order.
#[derive(Default)]
pub struct HeldSockets {
    held: Vec<Held>,
}

/// One held socket as a successor daemon takes it over: what it was made from, its descriptor
/// (kept open across `execve`) and a unix socket's file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HandedSocket {
    /// What it was bound for (which may be older than the spec, until the next start).
    pub spec: SocketSpec,
    /// Its descriptor number.
    pub fd: i32,
    /// A unix socket's file (device, inode).
    pub file: Option<(u64, u64)>,
}

/// Sockets a reload replaced: dropped (closed) once the new process has started.
pub struct Retired {
    _held: Vec<Held>,
}

impl HeldSockets {
    /// Whether these are exactly the sockets `specs` describe.
    pub fn matches(&self, specs: &[SocketSpec]) -> bool {
        self.held.len() == specs.len() && self.held.iter().zip(specs).all(|(h, s)| h.spec == *s)
    }

    /// Makes the held sockets those of `specs`: a socket whose address is unchanged stays open
    /// (with the new backlog and file settings), the others are bound anew. Returns the sockets
    /// no longer wanted; on error nothing changes.
    pub fn renew(&mut self, specs: &[SocketSpec]) -> Result<Retired, SocketError> {
        let mut old: Vec<Option<Held>> = self.held.drain(..).map(Some).collect();
        // Each with whether it was held before.
        let mut renewed: Vec<(Held, bool)> = Vec::with_capacity(specs.len());
        for spec in specs {
            // By address: a new name (only `LISTEN_FDNAMES` sees it) keeps the socket.
            let same = |h: &mut Held| h.spec.listen == spec.listen;
            let result = match old.iter_mut().find_map(|h| h.take_if(same)) {
                Some(mut held) => adjust(&mut held, spec).map(|()| (held, true)),
                None => bind(spec).map(|held| (held, false)),
            };
            match result {
                Ok(held) => renewed.push(held),
                Err(error) => {
                    // The new ones close here; what was held before stays held.
                    let kept = renewed
                        .into_iter()
                        .filter_map(|(h, kept)| kept.then_some(h));
                    self.held = kept.chain(old.into_iter().flatten()).collect();
                    return Err(error);
                }
            }
        }
        self.held = renewed.into_iter().map(|(held, _)| held).collect();
        Ok(Retired {
            _held: old.into_iter().flatten().collect(),
        })
    }

    /// The sockets, for the child's descriptors 3, 4, ….
    pub fn descriptors(&self) -> Vec<BorrowedFd<'_>> {
        self.held.iter().map(|h| h.socket.as_fd()).collect()
    }

    /// `LISTEN_FDS` and `LISTEN_FDNAMES` for a child (none when there are no sockets).
    pub fn environment(&self) -> Vec<(String, String)> {
        if self.held.is_empty() {
            return Vec::new();
        }
        let names: Vec<&str> = self.held.iter().map(|h| h.spec.name.as_str()).collect();
        vec![
            (super::spawn::LISTEN_FDS.into(), self.held.len().to_string()),
            ("LISTEN_FDNAMES".into(), names.join(":")),
        ]
    }

    /// The sockets as a successor daemon takes them over (their descriptors stay open here).
    pub fn handover(&self) -> Vec<HandedSocket> {
        self.held
            .iter()
            .map(|h| HandedSocket {
                spec: h.spec.clone(),
                fd: h.socket.as_raw_fd(),
                file: h.file,
            })
            .collect()
    }

    /// Takes over the sockets a predecessor daemon `handed` over, each adopted as `adopt`
    /// gives it (an open descriptor of this process, or why not). A socket that is not open,
    /// or not bound where its spec says, is left out (and said why): the next start binds it.
    pub fn adopt(
        handed: &[HandedSocket],
        adopt: impl Fn(i32) -> io::Result<OwnedFd>,
    ) -> (HeldSockets, Vec<SocketError>) {
        let (mut held, mut errors) = (Vec::new(), Vec::new());
        for handed in handed {
            let socket = adopt(handed.fd).map(Socket::from);
            match socket.and_then(|socket| bound_as(socket, &handed.spec.listen)) {
                Ok(socket) => held.push(Held {
                    spec: handed.spec.clone(),
                    socket,
                    file: handed.file,
                }),
                Err(reason) => errors.push(error(&handed.spec, reason.to_string())),
            }
        }
        (HeldSockets { held }, errors)
    }

    /// What `status` needs to describe the held sockets at any later time (the queue is read
    /// when asked, not when published).
    pub fn probes(&self) -> Vec<SocketProbe> {
        self.held
            .iter()
            .map(|h| SocketProbe {
                name: h.spec.name.clone(),
                listen: h.spec.listen.to_string(),
                kernel: inode(h),
            })
            .collect()
    }
}

/// A held socket as the status board keeps it: its name and address, and where the kernel
/// tells its queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketProbe {
    name: String,
    listen: String,
    /// Its family and inode, for where the kernel shows its queue.
    kernel: Option<(Family, u64)>,
}

impl SocketProbe {
    /// The family whose queues [`SocketProbe::status`] reads, if the kernel tells its queue.
    pub fn family(&self) -> Option<Family> {
        self.kernel.map(|(family, _)| family)
    }

    /// The socket now, its queue read from `queues`.
    pub fn status(&self, queues: &Queues) -> SocketStatus {
        SocketStatus {
            name: self.name.clone(),
            listen: self.listen.clone(),
            queue: (self.kernel).and_then(|(family, inode)| queues.depth(family, inode)),
        }
    }
}

/// `socket` if it is bound to `listen`; else it is closed (it was handed over as ours: kept
/// open, it would hold its address against the next start's bind).
fn bound_as(socket: Socket, listen: &Listen) -> io::Result<Socket> {
    let local = socket.local_addr()?;
    let bound = match listen {
        Listen::Tcp(address) => local.as_socket() == Some(*address),
        Listen::Unix(path) => local.as_pathname() == Some(path.as_path()),
    };
    if bound {
        return Ok(socket);
    }
    drop(socket);
    Err(io::Error::other(format!(
        "the descriptor handed over is not bound to {listen}"
    )))
}

/// Gives a kept socket `spec`'s backlog and file settings.
fn adjust(held: &mut Held, spec: &SocketSpec) -> Result<(), SocketError> {
    let failed = |reason: io::Error| error(spec, reason.to_string());
    held.socket.listen(backlog(spec)).map_err(failed)?;
    if let Listen::Unix(path) = &spec.listen {
        apply_file_settings(path, spec).map_err(failed)?;
    }
    held.spec = spec.clone();
    Ok(())
}

/// Binds and listens on a new socket for `spec`.
fn bind(spec: &SocketSpec) -> Result<Held, SocketError> {
    match &spec.listen {
        Listen::Tcp(address) => bind_tcp(spec, *address).map_err(|reason| match reason.kind() {
            io::ErrorKind::AddrInUse => error(spec, in_use(*address)),
            _ => error(spec, reason.to_string()),
        }),
        Listen::Unix(path) => bind_unix(spec, path).map_err(|reason| error(spec, reason)),
    }
}

fn bind_tcp(spec: &SocketSpec, address: SocketAddr) -> io::Result<Held> {
    let socket = Socket::new(Domain::for_address(address), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    if address.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    if spec.reuse_port {
        socket.set_reuse_port(true)?;
    }
    if spec.free_bind && address.is_ipv6() {
        socket.set_freebind_v6(true)?;
    } else if spec.free_bind {
        socket.set_freebind_v4(true)?;
    }
    socket.bind(&address.into())?;
    socket.listen(backlog(spec))?;
    Ok(Held {
        spec: spec.clone(),
        socket,
        file: None,
    })
}

fn bind_unix(spec: &SocketSpec, path: &Path) -> Result<Held, String> {
    clear_stale(path)?;
    let socket = Socket::new(Domain::UNIX, Type::STREAM, None).map_err(|e| e.to_string())?;
    let address = SockAddr::unix(path).map_err(|e| e.to_string())?;
    socket.bind(&address).map_err(|e| e.to_string())?;
    let file = apply_file_settings(path, spec).map_err(|e| e.to_string())?;
    socket.listen(backlog(spec)).map_err(|e| e.to_string())?;
    Ok(Held {
        spec: spec.clone(),
        socket,
        file: Some(file),
    })
}

/// Removes a socket file nobody accepts on; refuses anything else in its place.
fn clear_stale(path: &Path) -> Result<(), String> {
    let metadata = match fs::symlink_metadata(path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(error.to_string()),
    };
    if !metadata.file_type().is_socket() {
        return Err(format!(
            "{} exists and is not a socket (a symlink or a file): not replaced",
            path.display()
        ));
    }
    match UnixStream::connect(path) {
        Ok(_) => Err(format!(
            "{} is in use: a process accepts on it",
            path.display()
        )),
        Err(error) if error.kind() == io::ErrorKind::ConnectionRefused => {
            fs::remove_file(path).map_err(|e| format!("removing the stale {}: {e}", path.display()))
        }
        Err(error) => Err(error.to_string()),
    }
}

/// Gives the socket file at `path` its mode and owner, through a descriptor opened without
/// following a symlink; returns its (device, inode).
fn apply_file_settings(path: &Path, spec: &SocketSpec) -> io::Result<(u64, u64)> {
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_NOFOLLOW)
        .open(path)?;
    let metadata = file.metadata()?;
    if !metadata.file_type().is_socket() {
        return Err(io::Error::other(
            "the socket file was replaced by another file",
        ));
    }
    let by_descriptor = format!("/proc/self/fd/{}", file.as_raw_fd());
    if let Some(mode) = spec.mode {
        fs::set_permissions(&by_descriptor, fs::Permissions::from_mode(mode))?;
    }
    if spec.owner.is_some() || spec.group.is_some() {
        std::os::unix::fs::chown(&by_descriptor, spec.owner, spec.group)?;
    }
    Ok((metadata.dev(), metadata.ino()))
}

fn backlog(spec: &SocketSpec) -> i32 {
    i32::try_from(spec.backlog).unwrap_or(i32::MAX)
}

fn error(spec: &SocketSpec, reason: String) -> SocketError {
    SocketError {
        name: spec.name.clone(),
        listen: spec.listen.to_string(),
        reason,
    }
}

/// "address in use", with the process that listens there where `/proc` tells.
fn in_use(address: SocketAddr) -> String {
    match super::procnet::tcp_listener(address.port()).and_then(super::procnet::socket_owner) {
        Some((pid, name)) => format!("address in use by pid {pid} ({name})"),
        None => "address in use by another process".into(),
    }
}

/// A held socket's family and inode, by which the kernel's tables name it.
fn inode(held: &Held) -> Option<(Family, u64)> {
    let family = match held.spec.listen {
        Listen::Tcp(address) if address.is_ipv6() => Family::Tcp6,
        Listen::Tcp(_) => Family::Tcp,
        Listen::Unix(_) => Family::Unix,
    };
    let fd = held.socket.as_raw_fd();
    let inode = fs::metadata(format!("/proc/self/fd/{fd}")).ok()?.ino();
    Some((family, inode))
}
