//! From the registry as written ([`RawRegistry`]) to what the daemon runs: profiles merged,
//! defaults applied (from `defaults.rs`), relative paths resolved against `<home>` (itself
//! relative to the registry's folder), trailing arguments placed after all others, users
//! looked up (one the host does not have is kept as the environment's problem: see
//! `CommandSpec::unknown_user`), `TMPDIR` and the user's `HOME`/`USER`/`LOGNAME` exported.
//!
//! Reports what only shows once the file is read as a whole: unknown profile refs, servers left
//! without an executable, a `<readiness>` or `<healthCheck>` that names no probe
//! in any layer, an `<output maxSize>` or `keep` with no `file` in any layer. Produces
//! [`actors::spec`] and nothing XML-shaped.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use actors::spec::{
    Backoff, ChildSpec, CommandSpec, ComponentSpec, GroupSpec, HealthCheckSpec, Intensity, Limit,
    OutputSpec, Probe, ProcessSettings, ReadinessSpec, TreeSpec, UserSpec,
};

use super::DaemonConfig;
use super::defaults as default;
use super::error::Problems;
use super::raw::{RawCheck, RawOutput, RawProbe, RawStrategy};
use super::raw::{RawChild, RawConfig, RawGroup, RawRegistry, RawServer, RawSettings};
use super::sockets;
use super::users::Users;

/// Resolves `raw`, read from a file in the folder `folder` (absolute): `<home>` is relative to
/// it, and every other relative path to `<home>`.
pub fn resolve(raw: &RawRegistry, folder: &Path, p: &mut Problems) -> (DaemonConfig, TreeSpec) {
    let config = config(&raw.config, folder);
    let mut resolver = Resolver {
        p,
        base: &config.home,
        temp: config.temp.clone(),
        profiles: raw
            .profiles
            .iter()
            .map(|profile| (profile.id.as_str(), &profile.settings))
            .collect(),
        users: Users::default(),
        listens: HashMap::new(),
    };
    let root = resolver.group(
        "",
        raw.strategy.as_ref(),
        default::ROOT_INTENSITY,
        default::ROOT_START_PRIORITY,
        &raw.servers,
    );
    (config, TreeSpec { root })
}

fn config(raw: &RawConfig, folder: &Path) -> DaemonConfig {
    let stats_interval = raw.stats_interval.unwrap_or(default::STATS_INTERVAL);
    let home = match raw.home.as_deref() {
        // `..` taken through the file system (the registry's folder may be a link), and the
        // shortest form for the paths below it; left as written when it does not exist (yet).
        Some(home) => {
            let home = resolve_path(folder, home);
            std::fs::canonicalize(&home).unwrap_or(home)
        }
        None => resolve_path(folder, default::HOME),
    };
    let base = home.as_path();
    DaemonConfig {
        tcp_port: raw.tcp_port,
        tcp_bind: raw.tcp_bind,
        log: resolve_path(base, raw.log.as_deref().unwrap_or(default::LOG)),
        temp: raw.temp.as_deref().map(|temp| resolve_path(base, temp)),
        trace_level: raw.trace_level.unwrap_or(default::TRACE_LEVEL),
        stats_interval: (!stats_interval.is_zero()).then_some(stats_interval),
        log_retention_days: raw
            .log_retention_days
            .unwrap_or(default::LOG_RETENTION_DAYS),
        log_time: raw.log_time.unwrap_or_default(),
        home: home.clone(),
    }
}

/// `path` against the folder `base` unless it is absolute; `.` components are dropped, `..`
/// and symlinks are kept (nothing is looked up on disk).
fn resolve_path(base: &Path, path: &str) -> PathBuf {
    let joined = base.join(path);
    std::path::absolute(&joined).unwrap_or(joined)
}

/// A server for messages: `` server `id` ``, or "the server" when its id is missing.
fn who(id: &str) -> String {
    match id {
        "" => "the server".to_string(),
        id => format!("server `{id}`"),
    }
}

/// An executable with a `/` is a path; a bare name stays bare, for a `PATH` lookup at spawn.
fn executable_path(base: &Path, executable: &str) -> PathBuf {
    if executable.contains('/') {
        resolve_path(base, executable)
    } else {
        PathBuf::from(executable)
    }
}

struct Resolver<'r> {
    p: &'r mut Problems,
    base: &'r Path,
    temp: Option<PathBuf>,
    profiles: HashMap<&'r str, &'r RawSettings>,
    users: Users,
    /// Every held socket's address → the server that holds it.
    listens: HashMap<actors::spec::Listen, String>,
}

impl Resolver<'_> {
    /// A group; `absent` is its intensity when it has no `<restartStrategy>` at all (an element
    /// with no attributes still means OTP's give-up, at the defaults).
    fn group(
        &mut self,
        id: &str,
        strategy: Option<&RawStrategy>,
        absent: Option<Intensity>,
        start_priority: u32,
        children: &[RawChild],
    ) -> GroupSpec {
        GroupSpec {
            id: id.to_string(),
            strategy: strategy
                .and_then(|strategy| strategy.kind)
                .unwrap_or(default::STRATEGY),
            intensity: strategy.map_or(absent, |strategy| {
                Some(Intensity {
                    max_restarts: strategy.intensity.unwrap_or(default::INTENSITY),
                    period: strategy.period.unwrap_or(default::PERIOD),
                })
            }),
            start_priority,
            children: children.iter().map(|child| self.child(child)).collect(),
        }
    }

    fn child(&mut self, child: &RawChild) -> ChildSpec {
        match child {
            RawChild::Server(server) => {
                ChildSpec::Component(std::sync::Arc::new(self.component(server)))
            }
            RawChild::Group(group) => ChildSpec::Group(Box::new(self.nested(group))),
        }
    }

    fn nested(&mut self, group: &RawGroup) -> GroupSpec {
        let start_priority = group.start_priority.unwrap_or(default::START_PRIORITY);
        let strategy = group.strategy.as_ref();
        let absent = default::GROUP_INTENSITY;
        self.group(&group.id, strategy, absent, start_priority, &group.children)
    }

    fn component(&mut self, server: &RawServer) -> ComponentSpec {
        let settings = self.merge(&server.settings);
        let backoff = &settings.backoff;
        let mut component = ComponentSpec {
            id: server.id.clone(),
            description: (settings.description.as_deref())
                .unwrap_or(default::DESCRIPTION)
                .to_string(),
            command: self.command(server, &settings),
            start_priority: settings.start_priority.unwrap_or(default::START_PRIORITY),
            start_delay: settings.start_delay.unwrap_or(default::START_DELAY),
            stop_timeout: settings.stop_timeout.unwrap_or(default::STOP_TIMEOUT),
            stop_signal: settings.stop_signal.unwrap_or(default::STOP_SIGNAL),
            restart: settings.restart.unwrap_or(default::RESTART),
            success_exit_codes: (settings.success_exit_codes.clone())
                .unwrap_or_else(|| default::SUCCESS_EXIT_CODES.to_vec()),
            autostart: settings.autostart.unwrap_or(default::AUTOSTART),
            backoff: Backoff {
                initial: backoff.initial.unwrap_or(default::BACKOFF.initial),
                max: backoff.max.unwrap_or(default::BACKOFF.max),
                multiplier: backoff.multiplier.unwrap_or(default::BACKOFF.multiplier),
                reset: backoff.reset.unwrap_or(default::BACKOFF.reset),
            },
            output: self.output(server, &settings.output),
            readiness: (settings.readiness.as_ref()).and_then(|raw| self.readiness(server, raw)),
            health_check: (settings.health_check.as_ref())
                .and_then(|raw| self.health_check(server, raw)),
            sockets: Vec::new(),
        };
        component.sockets = sockets::resolve(self.p, &server.id, &settings, &mut self.listens);
        sockets::check_probes(self.p, &component, &settings);
        component
    }

    /// `{id}` in the file name becomes the server's id (`{date}` stays, for the runtime);
    /// `maxSize` and `keep` need a file from some layer.
    fn output(&mut self, server: &RawServer, raw: &RawOutput) -> OutputSpec {
        if raw.file.is_none() {
            let needless = [
                (raw.max_size.as_ref().map(|s| s.at), "maxSize"),
                (raw.keep.as_ref().map(|s| s.at), "keep"),
            ];
            for (at, name) in needless {
                let Some(at) = at else { continue };
                let message = format!(
                    "`<output>` attribute `{name}` needs `file`; {} has none, neither in its own \
                     `<output>` nor from a profile",
                    who(&server.id)
                );
                self.p.report(at, message);
            }
        }
        let file = (raw.file.as_deref())
            .map(|file| resolve_path(self.base, &file.replace("{id}", &server.id)));
        OutputSpec {
            log: raw.log.unwrap_or(default::OUTPUT.log),
            file,
            max_size: (raw.max_size.as_ref().map(|s| s.value)).or(default::OUTPUT.max_size),
            keep: raw.keep.as_ref().map_or(default::OUTPUT.keep, |s| s.value),
            timestamps: raw.timestamps.unwrap_or(default::OUTPUT.timestamps),
            stdout: raw.stdout.unwrap_or(default::OUTPUT.stdout),
            stderr: raw.stderr.unwrap_or(default::OUTPUT.stderr),
            overflow: raw.overflow.unwrap_or(default::OUTPUT.overflow),
        }
    }

    fn readiness(&mut self, server: &RawServer, raw: &RawCheck) -> Option<ReadinessSpec> {
        let probe = self.probe(
            server,
            raw,
            "`<readiness>`",
            "`tcp`, `http`, `exec`, `notify`, `socket`",
        )?;
        Some(ReadinessSpec {
            probe,
            interval: raw.interval.unwrap_or(default::READINESS_INTERVAL),
            timeout: raw.timeout.unwrap_or(default::READINESS_TIMEOUT),
        })
    }

    /// The walker never gives a health check a `notify` probe.
    fn health_check(&mut self, server: &RawServer, raw: &RawCheck) -> Option<HealthCheckSpec> {
        let probe = self.probe(server, raw, "`<healthCheck>`", "`tcp`, `http`, `exec`")?;
        Some(HealthCheckSpec {
            probe,
            interval: raw.interval.unwrap_or(default::HEALTH_INTERVAL),
            timeout: raw.timeout.unwrap_or(default::HEALTH_TIMEOUT),
            failures: raw.failures.unwrap_or(default::HEALTH_FAILURES),
            start_after: raw.start_after.unwrap_or(default::HEALTH_START_AFTER),
        })
    }

    /// The merged probe; `None` when there is none (reported here, at the latest layer's
    /// element) or it was invalid (reported by the walker).
    fn probe(
        &mut self,
        server: &RawServer,
        raw: &RawCheck,
        tag: &str,
        kinds: &str,
    ) -> Option<Probe> {
        let probe = match raw.probe.as_ref() {
            None => {
                let message = format!(
                    "{tag} of {} names no probe; give exactly one of {kinds}, on this element \
                     or on a profile's",
                    who(&server.id)
                );
                self.p.report(raw.at, message);
                return None;
            }
            Some(probe) => probe,
        };
        Some(match probe {
            RawProbe::Tcp(address) => Probe::Tcp {
                address: address.clone(),
            },
            RawProbe::Http {
                address,
                host,
                path,
            } => Probe::Http {
                address: address.clone(),
                host: host.clone(),
                path: path.clone(),
            },
            RawProbe::Exec { program, arguments } => Probe::Exec {
                program: executable_path(self.base, program),
                arguments: arguments.clone(),
            },
            RawProbe::Notify { watchdog } => Probe::Notify {
                watchdog: *watchdog,
            },
            RawProbe::Socket => Probe::Socket,
            RawProbe::Reported => return None,
        })
    }

    /// The server's profiles in order, then its own settings, laid over each other.
    fn merge(&mut self, own: &RawSettings) -> RawSettings {
        let mut merged = RawSettings::default();
        for reference in &own.profiles {
            match self.profiles.get(reference.value.as_str()) {
                Some(profile) => merged = merged.overlay(profile),
                None => {
                    let message = self.unknown_profile(&reference.value);
                    self.p.report(reference.at, message);
                }
            }
        }
        merged.overlay(own)
    }

    fn unknown_profile(&self, name: &str) -> String {
        let mut known: Vec<String> = self.profiles.keys().map(|k| format!("`{k}`")).collect();
        known.sort_unstable();
        if known.is_empty() {
            format!("unknown profile `{name}`: no profiles are defined")
        } else {
            format!("unknown profile `{name}`; defined: {}", known.join(", "))
        }
    }

    fn command(&mut self, server: &RawServer, settings: &RawSettings) -> CommandSpec {
        let executable = match &settings.executable {
            Some(executable) => executable_path(self.base, executable),
            None => {
                let message = format!(
                    "{} has no `<executable>`, neither its own nor from a profile",
                    who(&server.id)
                );
                self.p.report(server.at, message);
                PathBuf::new()
            }
        };
        // A user this host does not know is an environment problem (SPEC: `check` exits 1),
        // as a missing executable is: the start fails, a reload that finds the user mends it.
        let (user, unknown_user) = match settings.user.as_ref().map(|u| self.users.lookup(&u.value))
        {
            Some(Ok(user)) => (Some(user), None),
            Some(Err(message)) => (None, Some(message)),
            None => (None, None),
        };
        let arguments = (settings.arguments.iter())
            .chain(&settings.trailing_arguments)
            .cloned()
            .collect();
        let environment_files = (settings.environment_files.iter())
            .map(|file| resolve_path(self.base, file))
            .collect();
        CommandSpec {
            executable,
            arguments,
            inherit_environment: (settings.inherit_environment)
                .unwrap_or(default::INHERIT_ENVIRONMENT),
            environment: self.environment(settings, user.as_ref()),
            working_directory: (settings.working_directory.as_deref())
                .map(|directory| resolve_path(self.base, directory)),
            user,
            unknown_user,
            environment_files,
            settings: self.process_settings(settings),
            temp_dir: self.temp.clone(),
        }
    }

    /// Limits in the order of [`actors::spec::Resource::ALL`], the rest defaulted. A soft limit
    /// above the hard one once the layers are merged is reported at the latest layer's element.
    fn process_settings(&mut self, settings: &RawSettings) -> ProcessSettings {
        let mut limits: Vec<Limit> = Vec::new();
        for raw in &settings.limits {
            if let (Some(soft), Some(hard)) = (raw.soft, raw.hard) {
                if soft > hard {
                    let message = format!(
                        "`<{}>`: with its profiles' settings, the soft limit ({soft}) is above \
                         the hard one ({hard})",
                        raw.resource.name()
                    );
                    self.p.report(raw.at, message);
                }
            }
            limits.push(Limit {
                resource: raw.resource,
                soft: raw.soft,
                hard: raw.hard,
            });
        }
        limits.sort_by_key(|limit| limit.resource);
        ProcessSettings {
            limits,
            nice: settings.nice,
            umask: settings.umask.unwrap_or(default::UMASK),
            oom_score_adjust: settings.oom_score_adjust,
        }
    }

    /// The user's `HOME`/`USER`/`LOGNAME` first (so variables can override them), then the
    /// variables in merge order (`TMPDIR` from `<config><temp>` is the command's `temp_dir`).
    fn environment(
        &self,
        settings: &RawSettings,
        user: Option<&UserSpec>,
    ) -> Vec<(String, String)> {
        let mut environment = Vec::new();
        if let Some(user) = user {
            let home = user.home.to_string_lossy().into_owned();
            environment.push(("HOME".to_string(), home));
            environment.push(("USER".to_string(), user.name.clone()));
            environment.push(("LOGNAME".to_string(), user.name.clone()));
        }
        environment.extend(settings.variables.iter().cloned());
        environment
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_against_the_base_folder() {
        let base = Path::new("/etc/sv");
        assert_eq!(
            resolve_path(base, "logs/a.log"),
            Path::new("/etc/sv/logs/a.log")
        );
        assert_eq!(resolve_path(base, "./temp"), Path::new("/etc/sv/temp"));
        assert_eq!(resolve_path(base, "../x"), Path::new("/etc/sv/../x"));
        assert_eq!(resolve_path(base, "/var/tmp"), Path::new("/var/tmp"));
        assert_eq!(executable_path(base, "java"), Path::new("java"));
        assert_eq!(executable_path(base, "bin/is"), Path::new("/etc/sv/bin/is"));
        assert_eq!(executable_path(base, "./is"), Path::new("/etc/sv/is"));
        assert_eq!(
            executable_path(base, "/usr/bin/java"),
            Path::new("/usr/bin/java")
        );
    }
}
