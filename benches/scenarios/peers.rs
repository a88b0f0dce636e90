//! Other supervisors, given the same restart-latency scenario when they are installed:
//! supervisord (PyPI `supervisor`), s6 and runit (Debian packages) and Horust (crates.io). Each
//! keeps one `stamp` running; none is asked to wait before a restart where it can be told not to.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// A peer supervisor.
#[derive(Debug, Clone, Copy)]
pub enum Peer {
    Supervisord,
    S6,
    Runit,
    Horust,
}

pub const ALL: [Peer; 4] = [Peer::Supervisord, Peer::S6, Peer::Runit, Peer::Horust];

impl Peer {
    pub fn name(self) -> &'static str {
        match self {
            Peer::Supervisord => "supervisord",
            Peer::S6 => "s6 (s6-svscan)",
            Peer::Runit => "runit (runsvdir)",
            Peer::Horust => "Horust",
        }
    }

    /// The program that runs it, as found in `PATH`.
    pub fn program_name(self) -> &'static str {
        match self {
            Peer::Supervisord => "supervisord",
            Peer::S6 => "s6-svscan",
            Peer::Runit => "runsvdir",
            Peer::Horust => "horust",
        }
    }

    /// Where its program is, if it is installed.
    pub fn installed(self) -> Option<PathBuf> {
        let path = std::env::var_os("PATH")?;
        let home = std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo/bin"));
        std::env::split_paths(&path)
            .chain(home)
            .map(|dir| dir.join(self.program_name()))
            .find(|candidate| candidate.is_file())
    }

    /// Starts it in `dir`, keeping `stamp stamps` running; in a process group of its own.
    pub fn start(
        self,
        program: &Path,
        dir: &Path,
        stamp: &Path,
        stamps: &Path,
    ) -> Result<Running, String> {
        let command_line = format!("{} {}", stamp.display(), stamps.display());
        let mut command = Command::new(program);
        match self {
            Peer::Supervisord => {
                let config = dir.join("supervisord.conf");
                let text = format!(
                    "[supervisord]\nnodaemon=true\nlogfile={dir}/supervisord.log\npidfile={dir}/supervisord.pid\n\
                     [program:stamp]\ncommand={command_line}\nautorestart=true\nstartsecs=0\nstartretries=1000000\n",
                    dir = dir.display()
                );
                write(&config, &text)?;
                command.arg("-n").arg("-c").arg(config);
            }
            Peer::S6 | Peer::Runit => {
                let service = dir.join("services/stamp");
                std::fs::create_dir_all(&service).map_err(|e| e.to_string())?;
                let run = service.join("run");
                write(&run, &format!("#!/bin/sh\nexec {command_line}\n"))?;
                std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o755))
                    .map_err(|e| e.to_string())?;
                command.arg(dir.join("services"));
            }
            Peer::Horust => {
                let services = dir.join("services");
                std::fs::create_dir_all(&services).map_err(|e| e.to_string())?;
                let text = format!(
                    "command = \"{command_line}\"\n[restart]\nstrategy = \"always\"\nbackoff = \"0s\"\nattempts = 0\n"
                );
                write(&services.join("stamp.toml"), &text)?;
                command.arg("--services-path").arg(services);
            }
        }
        let child = command
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
        Ok(Running(child))
    }
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// A running peer (or floor): stopped with its whole process group when dropped.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let group = Pid::from_raw(self.0.id() as i32);
        let _ = killpg(group, Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if self.0.try_wait().ok().flatten().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = killpg(group, Signal::SIGKILL);
        let _ = self.0.wait();
    }
}
