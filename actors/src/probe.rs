//! Probes: one check of a component — a TCP connect, an HTTP GET answered 2xx, or a program
//! exiting 0 — bounded in time, never blocking the actor thread.

use std::time::Duration;

use nix::sys::signal::Signal;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

use crate::policy::ExitStatus;
use crate::process::{Child, ExitNotify, Launch, ProcessTable, SpawnRequest};
use crate::spec::{CommandSpec, OutputSpec, Probe, StderrMode, StdoutMode};

/// What an `exec` probe runs as: the component's id, environment, directory and user.
pub struct ProbeContext {
    /// Spawns and reaps the probe program.
    pub processes: ProcessTable,
    /// The component's id.
    pub id: String,
    /// The component's command (its environment, directory and user are the probe's).
    pub command: CommandSpec,
}

/// Runs `probe` once; `true` if it passed within `timeout`.
pub async fn check(probe: &Probe, context: &ProbeContext, timeout: Duration) -> bool {
    match probe {
        Probe::Tcp { address } => {
            tokio::time::timeout(timeout, TcpStream::connect(address.as_str()))
                .await
                .is_ok_and(|connected| connected.is_ok())
        }
        Probe::Http {
            address,
            host,
            path,
        } => tokio::time::timeout(timeout, http_get(address, host, path))
            .await
            .unwrap_or(false),
        Probe::Exec { program, arguments } => exec(context, program, arguments, timeout).await,
        // Readiness by notification is not polled: the component's socket listener handles it.
        Probe::Notify { .. } => false,
        // Readiness by held sockets is decided when the process runs (never a health check).
        Probe::Socket => true,
    }
}

/// `GET path` with `Connection: close`; passes on a `2xx` status line.
async fn http_get(address: &str, host: &str, path: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect(address).await else {
        return false;
    };
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: supervisor-probe\r\nConnection: close\r\n\r\n"
    );
    if stream.write_all(request.as_bytes()).await.is_err() {
        return false;
    }
    // Only the status line matters: `HTTP/1.x NNN ...`.
    let mut head = [0u8; 16];
    let mut filled = 0;
    while filled < 12 {
        match stream.read(&mut head[filled..]).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => filled += n,
        }
    }
    head.starts_with(b"HTTP/1.") && head[8] == b' ' && head[9] == b'2'
}

async fn exec(
    context: &ProbeContext,
    program: &std::path::Path,
    arguments: &[String],
    timeout: Duration,
) -> bool {
    let command = CommandSpec {
        executable: program.to_path_buf(),
        arguments: arguments.to_vec(),
        ..context.command.clone()
    };
    let quiet = OutputSpec {
        stdout: StdoutMode::Null,
        stderr: StderrMode::Null,
        ..OutputSpec::default()
    };
    let (exit, exited) = oneshot::channel();
    let Ok(launch) = Launch::new(&context.id, &command, &[]) else {
        return false;
    };
    let request = SpawnRequest {
        id: &context.id,
        launch: &launch,
        output: &quiet,
        own_cgroup: false,
        sockets: &[],
    };
    let Ok((child, _)) = context.processes.spawn(request, ExitNotify::Once(exit)) else {
        return false;
    };
    // Whether the probe ends, times out or its task is cancelled, its group does not outlive
    // this call.
    let _reaper = KillOnDrop(&context.processes, child);
    match tokio::time::timeout(timeout, exited).await {
        Ok(status) => status == Ok(ExitStatus::Code(0)),
        Err(_) => false,
    }
}

/// SIGKILLs a probe's process group when dropped (a no-op once the probe was reaped).
struct KillOnDrop<'a>(&'a ProcessTable, Child);

impl Drop for KillOnDrop<'_> {
    fn drop(&mut self) {
        self.0.signal_child_group(self.1.pid(), Signal::SIGKILL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> ProbeContext {
        ProbeContext {
            processes: ProcessTable::new(),
            id: "probe-test".into(),
            command: CommandSpec {
                executable: "true".into(),
                arguments: vec![],
                inherit_environment: true,
                environment: vec![],
                working_directory: None,
                user: None,
                unknown_user: None,
                environment_files: vec![],
                settings: crate::spec::ProcessSettings::DEFAULT,
                temp_dir: None,
            },
        }
    }

    #[actix_rt::test]
    async fn tcp_passes_when_something_listens() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let probe = Probe::Tcp {
            address: address.clone(),
        };
        assert!(check(&probe, &context(), Duration::from_secs(1)).await);
        drop(listener);
        assert!(!check(&probe, &context(), Duration::from_secs(1)).await);
    }

    #[actix_rt::test]
    async fn http_passes_only_on_2xx() {
        for (status, expected) in [
            ("200 OK", true),
            ("204 No Content", true),
            ("503 Busy", false),
        ] {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let address = listener.local_addr().unwrap().to_string();
            let answer = format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n");
            let server = std::thread::spawn(move || {
                use std::io::{Read, Write};
                let (mut stream, _) = listener.accept().unwrap();
                let mut request = [0u8; 512];
                let _ = stream.read(&mut request);
                stream.write_all(answer.as_bytes()).unwrap();
            });
            let probe = Probe::Http {
                address,
                host: "localhost".into(),
                path: "/ping".into(),
            };
            assert_eq!(
                check(&probe, &context(), Duration::from_secs(2)).await,
                expected,
                "{status}"
            );
            server.join().unwrap();
        }
    }
}
