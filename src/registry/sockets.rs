//! `<socket>`: the listening sockets the daemon holds for a server (read by the walker, merged
//! across profiles by name, resolved here), and the probes they rule out: a `tcp=` probe of a
//! server's own held socket always connects (the kernel queues the connection), so it proves
//! nothing about the process.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

use actors::process::sys::MAX_SOCKETS;
use actors::spec::{ComponentSpec, Listen, Probe, SocketSpec};
use nix::unistd::{Group, User};
use roxmltree::Node;

use super::error::Problems;
use super::raw::{RawSettings, RawSocket, Spanned};
use super::values;
use super::walk::{Walker, non_empty};
use super::xml;

/// `listen(2)`'s backlog when `backlog` is not given (the kernel caps it at `somaxconn`).
const DEFAULT_BACKLOG: u32 = 4096;

/// The attributes of `<socket>`.
const ATTRIBUTES: &[&str] = &[
    "name",
    "backlog",
    "reusePort",
    "freeBind",
    "mode",
    "user",
    "group",
];

/// `<socket name …><listen>ADDRESS</listen></socket>` (repeatable).
pub fn socket(w: &mut Walker, node: Node, settings: &mut RawSettings) {
    xml::check_attributes(w.p, node, ATTRIBUTES);
    let name = xml::required(w.p, node, "name", name);
    let mut listen = None;
    let mut seen = xml::Seen::default();
    for child in xml::children(w.p, node) {
        if xml::local_name(child) != Some("listen") {
            xml::unknown(w.p, child, node, &["listen"]);
        } else if seen.first(w.p, child, node) {
            listen = Some(xml::value(w.p, child, address));
        }
    }
    if listen.is_none() {
        let message = format!("{} needs a `<listen>` child", xml::tag(node));
        w.p.report(node.range().start, message);
    }
    let spanned = |w: &mut Walker, attribute: &str| {
        let at = w.p.global(xml::attribute_at(node, attribute)?);
        let value = xml::attribute(w.p, node, attribute, non_empty)?;
        Some(Spanned { value, at })
    };
    let at = w.p.global(node.range().start);
    let backlog = xml::attribute(w.p, node, "backlog", |t| values::integer(t, 1u32, 65535));
    let reuse_port = xml::attribute(w.p, node, "reusePort", values::boolean);
    let free_bind = xml::attribute(w.p, node, "freeBind", values::boolean);
    let mode = xml::attribute(w.p, node, "mode", super::process::umask);
    let user = spanned(w, "user");
    let group = spanned(w, "group");
    // A socket with a bad name or address was reported; it is left out.
    let (Some(name), Some(Some(listen))) = (name, listen) else {
        return;
    };
    settings.sockets.push(RawSocket {
        at,
        name,
        listen,
        backlog,
        reuse_port: reuse_port.unwrap_or(false),
        free_bind: free_bind.unwrap_or(false),
        mode,
        user,
        group,
    });
}

/// A name for `LISTEN_FDNAMES`: 1 to 255 printable ASCII characters, no `:`.
fn name(text: &str) -> Result<String, String> {
    let printable = text.bytes().all(|b| b.is_ascii_graphic() && b != b':');
    if text.is_empty() || text.len() > 255 || !printable {
        return Err(format!(
            "`{text}` is not a socket name: 1 to 255 printable characters, no `:` or space"
        ));
    }
    Ok(text.to_string())
}

/// `tcp:HOST:PORT` (an IP address, or a host name: its first IPv4 address, else its first),
/// `tcp6:[IP]:PORT`, `[IP]:PORT` or `unix:/absolute/path`.
fn address(text: &str) -> Result<Listen, String> {
    if let Some(path) = text.strip_prefix("unix:") {
        return match path.starts_with('/') {
            true => Ok(Listen::Unix(PathBuf::from(path))),
            false => Err(format!("`{path}` is not an absolute path")),
        };
    }
    let (v6, rest) = match text {
        _ if text.starts_with("tcp6:") => (true, &text[5..]),
        _ if text.starts_with("tcp:") => (false, &text[4..]),
        _ if text.starts_with('[') => (true, text),
        _ => {
            return Err(format!(
                "`{text}` is not an address: write `tcp:HOST:PORT`, `tcp6:[ADDRESS]:PORT` or \
                 `unix:/path`"
            ));
        }
    };
    let parsed: SocketAddr = match rest.parse() {
        Ok(parsed) => parsed,
        Err(_) if !v6 => host_address(rest)?,
        Err(_) => return Err(format!("`{rest}` is not [IP]:PORT")),
    };
    if v6 && parsed.is_ipv4() {
        return Err(format!(
            "`{rest}` is not an IPv6 address: write it as `[ADDRESS]:PORT`"
        ));
    }
    if parsed.port() == 0 {
        return Err("port 0: give the port clients connect to".into());
    }
    Ok(Listen::Tcp(parsed))
}

/// The address `HOST:PORT` names: the host's first IPv4 address (else its first), looked up
/// when the registry is read (a reload looks it up again).
fn host_address(text: &str) -> Result<SocketAddr, String> {
    let bad = || format!("`{text}` is not HOST:PORT (a host name or an IP address, and a port)");
    let (host, port) = text.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    if host.is_empty() {
        return Err(bad());
    }
    let found: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("host `{host}` does not resolve: {e}"))?
        .collect();
    (found.iter().find(|a| a.is_ipv4()).or(found.first()))
        .copied()
        .ok_or_else(|| format!("host `{host}` has no address"))
}

/// The merged sockets of server `id`: owners and groups looked up, each address held once in
/// the whole registry.
pub fn resolve(
    p: &mut Problems,
    id: &str,
    settings: &RawSettings,
    listens: &mut HashMap<Listen, String>,
) -> Vec<SocketSpec> {
    if settings.sockets.len() > MAX_SOCKETS {
        let at = settings.sockets[MAX_SOCKETS].at;
        p.report(
            at,
            format!(
                "server `{id}` has {} sockets; at most {MAX_SOCKETS}",
                settings.sockets.len()
            ),
        );
    }
    let mut resolved = Vec::new();
    for raw in &settings.sockets {
        if let Some(other) = listens.insert(raw.listen.clone(), id.to_string()) {
            let message = format!(
                "`<socket name=\"{}\">` of server `{id}`: {} is held already by server `{other}`",
                raw.name, raw.listen
            );
            p.report(raw.at, message);
            continue;
        }
        let unix = matches!(raw.listen, Listen::Unix(_));
        if !unix && (raw.mode.is_some() || raw.user.is_some() || raw.group.is_some()) {
            let message = "`<socket>`: `mode`, `user` and `group` are for `unix:` sockets only";
            p.report(raw.at, message);
        }
        let owner = raw.user.as_ref().and_then(|user| {
            lookup(p, user, "user", |n| {
                User::from_name(n).ok().flatten().map(|u| u.uid.as_raw())
            })
        });
        let group = raw.group.as_ref().and_then(|group| {
            lookup(p, group, "group", |n| {
                Group::from_name(n).ok().flatten().map(|g| g.gid.as_raw())
            })
        });
        resolved.push(SocketSpec {
            name: raw.name.clone(),
            listen: raw.listen.clone(),
            backlog: raw.backlog.unwrap_or(DEFAULT_BACKLOG),
            reuse_port: raw.reuse_port,
            free_bind: raw.free_bind,
            mode: raw.mode,
            owner,
            group,
        });
    }
    resolved
}

fn lookup(
    p: &mut Problems,
    name: &Spanned<String>,
    kind: &str,
    find: impl FnOnce(&str) -> Option<u32>,
) -> Option<u32> {
    let found = find(&name.value);
    if found.is_none() {
        p.report(
            name.at,
            format!("`<socket {kind}>`: unknown {kind} `{}`", name.value),
        );
    }
    found
}

/// `socket="true"` needs sockets; a `tcp=` probe of one of the server's own held sockets is
/// refused (it would always pass).
pub fn check_probes(p: &mut Problems, component: &ComponentSpec, settings: &RawSettings) {
    let checks = [
        (
            component.readiness.as_ref().map(|r| &r.probe),
            settings.readiness.as_ref(),
            "readiness",
        ),
        (
            component.health_check.as_ref().map(|h| &h.probe),
            settings.health_check.as_ref(),
            "healthCheck",
        ),
    ];
    for (probe, raw, tag) in checks {
        let (Some(probe), Some(raw)) = (probe, raw) else {
            continue;
        };
        match probe {
            Probe::Socket if component.sockets.is_empty() => {
                let message = format!(
                    "`<{tag}>` of server `{}`: `socket=\"true\"` needs a `<socket>` the daemon holds for it",
                    component.id
                );
                p.report(raw.at, message);
            }
            Probe::Tcp { address } => {
                let own = component
                    .sockets
                    .iter()
                    .find(|s| targets(address, &s.listen));
                if let Some(socket) = own {
                    let message = format!(
                        "`<{tag}>` of server `{}`: `tcp=\"{address}\"` probes its own held socket `{}`, \
                         which always accepts (the kernel queues the connection); use `http=`, \
                         `exec=`, `notify=` or `socket=`",
                        component.id, socket.name
                    );
                    p.report(raw.at, message);
                }
            }
            Probe::Socket | Probe::Http { .. } | Probe::Exec { .. } | Probe::Notify { .. } => {}
        }
    }
}

/// Whether a probe of `HOST:PORT` reaches the socket at `listen`.
fn targets(address: &str, listen: &Listen) -> bool {
    let Listen::Tcp(socket) = listen else {
        return false;
    };
    let Some((host, port)) = address.rsplit_once(':') else {
        return false;
    };
    if port.parse::<u16>().ok() != Some(socket.port()) {
        return false;
    }
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match host.parse::<IpAddr>() {
        Ok(ip) => ip == socket.ip() || socket.ip().is_unspecified(),
        Err(_) => {
            host == "localhost" && (socket.ip().is_loopback() || socket.ip().is_unspecified())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{RegistryError, parse};
    use std::path::Path;

    const PROFILE: &str = r#"<profiles><profile id="web"><executable>/bin/sleep</executable>
        <socket name="http" backlog="16"><listen>tcp:127.0.0.1:8080</listen></socket>
        <socket name="admin"><listen>tcp:127.0.0.1:8081</listen></socket></profile></profiles>"#;

    fn load(servers: &str) -> Result<Vec<SocketSpec>, Vec<String>> {
        let text = format!("<supervisor>{PROFILE}<servers>{servers}</servers></supervisor>");
        match parse(Path::new("r.xml"), &text) {
            Ok(registry) => Ok(registry.tree.root.components()[0].sockets.clone()),
            Err(RegistryError(d)) => Err(d.iter().map(|d| d.message.clone()).collect()),
        }
    }

    #[test]
    fn a_servers_socket_replaces_the_profiles_of_the_same_name() {
        let sockets = load(
            r#"<server id="s"><profile ref="web"/>
               <socket name="http"><listen>tcp6:[::1]:9090</listen></socket></server>"#,
        )
        .unwrap();
        let named: Vec<(&str, String, u32)> = (sockets.iter())
            .map(|s| (s.name.as_str(), s.listen.to_string(), s.backlog))
            .collect();
        assert_eq!(
            named,
            [
                ("http", "tcp6:[::1]:9090".to_string(), DEFAULT_BACKLOG),
                ("admin", "tcp:127.0.0.1:8081".to_string(), DEFAULT_BACKLOG)
            ]
        );
    }

    #[test]
    fn bad_sockets_are_reported() {
        let errors = load(
            r#"<server id="a"><executable>/bin/sleep</executable><readiness socket="true"/></server>
               <server id="b"><profile ref="web"/></server>
               <server id="c"><profile ref="web"/><socket name="u" mode="0600"><listen>tcp:127.0.0.1:1</listen></socket></server>"#,
        )
        .unwrap_err();
        let has = |text: &str| errors.iter().any(|e| e.contains(text));
        assert!(has("`socket=\"true\"` needs a `<socket>`"), "{errors:?}");
        assert!(
            has("of server `c`: tcp:127.0.0.1:8080 is held already by server `b`"),
            "{errors:?}"
        );
        assert!(
            errors
                .iter()
                .any(|e| e.contains("for `unix:` sockets only")),
            "{errors:?}"
        );
    }

    #[test]
    fn addresses_are_tcp_tcp6_or_unix() {
        assert_eq!(
            address("tcp:127.0.0.1:80"),
            Ok(Listen::Tcp("127.0.0.1:80".parse().unwrap()))
        );
        assert_eq!(
            address("tcp6:[::1]:80"),
            Ok(Listen::Tcp("[::1]:80".parse().unwrap()))
        );
        assert_eq!(
            address("[::1]:80"),
            Ok(Listen::Tcp("[::1]:80".parse().unwrap()))
        );
        assert_eq!(
            address("unix:/run/x.sock"),
            Ok(Listen::Unix("/run/x.sock".into()))
        );
        // SPEC's `tcp:HOST:PORT`: a host name is looked up (`localhost`, from /etc/hosts).
        assert_eq!(
            address("tcp:localhost:80"),
            Ok(Listen::Tcp("127.0.0.1:80".parse().unwrap()))
        );
        let unknown = address("tcp:no-such-host.invalid:80").unwrap_err();
        assert!(
            unknown.contains("`no-such-host.invalid` does not resolve"),
            "{unknown}"
        );
        assert!(address("tcp:localhost").is_err());
        assert!(address("unix:x.sock").is_err());
        assert!(address("tcp6:127.0.0.1:80").is_err());
        assert!(address("127.0.0.1:80").is_err());
        assert!(address("tcp:127.0.0.1:0").is_err());
    }

    #[test]
    fn a_probe_targets_a_socket_on_its_port_and_address() {
        let local = Listen::Tcp("127.0.0.1:27345".parse().unwrap());
        let any = Listen::Tcp("0.0.0.0:27345".parse().unwrap());
        assert!(targets("127.0.0.1:27345", &local));
        assert!(targets("localhost:27345", &local));
        assert!(targets("10.0.0.1:27345", &any));
        assert!(!targets("127.0.0.1:27346", &local));
        assert!(!targets("10.0.0.1:27345", &local));
    }
}
