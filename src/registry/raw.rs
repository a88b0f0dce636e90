//! The registry as written: what the walker read, values parsed but nothing defaulted, merged
//! or resolved.
//!
//! An absent element is `None` (or an empty list) here; the resolver fills in the defaults.
//! Positions are byte offsets into the registry text, for the resolver's own diagnostics. No
//! roxmltree types: this is plain data.

use std::time::Duration;

use actors::output::dates::Zone;
use actors::spec::{Overflow, Resource, RestartType, StderrMode, StdoutMode, Strategy};

/// A value and the byte offset it was read from.
#[derive(Debug, Clone, PartialEq)]
pub struct Spanned<T> {
    /// The value.
    pub value: T,
    /// Byte offset in the registry text.
    pub at: usize,
}

/// The whole file.
#[derive(Debug, Default, PartialEq)]
pub struct RawRegistry {
    /// `<config>`.
    pub config: RawConfig,
    /// `<restartStrategy>` directly under `<supervisor>`: the root group's (`None`: absent).
    pub strategy: Option<RawStrategy>,
    /// `<profiles>`, in document order (a duplicate id is reported and left out).
    pub profiles: Vec<RawProfile>,
    /// The children of `<servers>`, in document order (the main file's, then each included
    /// file's).
    pub servers: Vec<RawChild>,
    /// The `<include path>`s of the file walked last, at their (global) offsets; the include
    /// reader takes them before it walks the next file.
    pub includes: Vec<Spanned<String>>,
}

/// `<config>`.
#[derive(Debug, Default, PartialEq)]
pub struct RawConfig {
    /// `<tcpport>`.
    pub tcp_port: Option<u16>,
    /// `<tcpport bind>`.
    pub tcp_bind: Option<std::net::IpAddr>,
    /// `<log>`, as written.
    pub log: Option<String>,
    /// `<temp>`, as written.
    pub temp: Option<String>,
    /// `<tracelevel>`.
    pub trace_level: Option<u8>,
    /// `<tracestatsinterval>`.
    pub stats_interval: Option<Duration>,
    /// `<logRetentionDays>`.
    pub log_retention_days: Option<u32>,
    /// `<logTime>`.
    pub log_time: Option<Zone>,
    /// `<home>`, as written.
    pub home: Option<String>,
}

/// `<restartStrategy type intensity period/>`.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct RawStrategy {
    /// `type`.
    pub kind: Option<Strategy>,
    /// `intensity`.
    pub intensity: Option<u32>,
    /// `period`.
    pub period: Option<Duration>,
}

/// `<profile id>`: settings shared by the servers that refer to it.
#[derive(Debug, PartialEq)]
pub struct RawProfile {
    /// `id`.
    pub id: String,
    /// The settings it holds.
    pub settings: RawSettings,
}

/// A child of `<servers>` or of a `<group>`.
#[derive(Debug, PartialEq)]
pub enum RawChild {
    /// `<server>` (boxed: it is much larger than a group).
    Server(Box<RawServer>),
    /// `<group>`.
    Group(RawGroup),
}

/// `<server id>`.
#[derive(Debug, PartialEq)]
pub struct RawServer {
    /// `id` (empty when missing or invalid; that was reported).
    pub id: String,
    /// Byte offset of the `<server` tag.
    pub at: usize,
    /// The server's own settings, its `<profile ref>`s among them.
    pub settings: RawSettings,
}

/// `<group id>`: a nested supervisor.
#[derive(Debug, PartialEq)]
pub struct RawGroup {
    /// `id` (empty when missing or invalid; that was reported).
    pub id: String,
    /// `<restartStrategy>` inside the group (`None`: absent).
    pub strategy: Option<RawStrategy>,
    /// `<startPriority>`.
    pub start_priority: Option<u32>,
    /// The group's children, in document order.
    pub children: Vec<RawChild>,
}

/// The settings a `<server>` or a `<profile>` may hold. Scalars are `None` when absent; lists
/// are empty when absent.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct RawSettings {
    /// `<profile ref>`s in order, each at its element (a server's only; never merged).
    pub profiles: Vec<Spanned<String>>,
    /// `<description>`.
    pub description: Option<String>,
    /// `<executable>`, as written (may be empty only if that was reported).
    pub executable: Option<String>,
    /// `<argument>`s, verbatim.
    pub arguments: Vec<String>,
    /// `<trailingArguments>`' `<argument>`s, verbatim: they go after every layer's
    /// `arguments`.
    pub trailing_arguments: Vec<String>,
    /// `<environment file>`s, as written, in order.
    pub environment_files: Vec<String>,
    /// `<environment inherit>`.
    pub inherit_environment: Option<bool>,
    /// `<variable name>`s, in order, values verbatim.
    pub variables: Vec<(String, String)>,
    /// `<workingDirectory>`, as written.
    pub working_directory: Option<String>,
    /// `<user>`, at its element.
    pub user: Option<Spanned<String>>,
    /// `<startPriority>`.
    pub start_priority: Option<u32>,
    /// `<startDelay>`.
    pub start_delay: Option<Duration>,
    /// `<stopTimeout>`.
    pub stop_timeout: Option<Duration>,
    /// `<stopSignal>`, as a number.
    pub stop_signal: Option<i32>,
    /// `<restart>`.
    pub restart: Option<RestartType>,
    /// `<successExitCodes>`.
    pub success_exit_codes: Option<Vec<i32>>,
    /// `<autostart>`.
    pub autostart: Option<bool>,
    /// `<backoff>`, attribute by attribute.
    pub backoff: RawBackoff,
    /// `<output>`, attribute by attribute.
    pub output: RawOutput,
    /// `<readiness>`; `None` when no layer has one.
    pub readiness: Option<RawCheck>,
    /// `<healthCheck>`; `None` when no layer has one.
    pub health_check: Option<RawCheck>,
    /// `<limits>`' children, at most one per resource.
    pub limits: Vec<RawLimit>,
    /// `<nice>`.
    pub nice: Option<i32>,
    /// `<umask>`.
    pub umask: Option<u32>,
    /// `<oomScoreAdjust>`.
    pub oom_score_adjust: Option<i32>,
    /// `<socket>`s in order; a later layer's socket of the same name replaces an earlier one's.
    pub sockets: Vec<RawSocket>,
}

/// `<socket name backlog reusePort freeBind mode user group><listen>…</listen></socket>`.
#[derive(Debug, Clone, PartialEq)]
pub struct RawSocket {
    /// The element's global offset.
    pub at: usize,
    /// `name`.
    pub name: String,
    /// `<listen>`.
    pub listen: actors::spec::Listen,
    /// `backlog`.
    pub backlog: Option<u32>,
    /// `reusePort`.
    pub reuse_port: bool,
    /// `freeBind`.
    pub free_bind: bool,
    /// `mode` (unix only).
    pub mode: Option<u32>,
    /// `user` (unix only), at its attribute.
    pub user: Option<Spanned<String>>,
    /// `group` (unix only), at its attribute.
    pub group: Option<Spanned<String>>,
}

/// One child of `<limits>` (`<nofile soft hard/>`, ...), each side optional.
#[derive(Debug, Clone, PartialEq)]
pub struct RawLimit {
    /// Which resource.
    pub resource: Resource,
    /// `soft`.
    pub soft: Option<u64>,
    /// `hard`.
    pub hard: Option<u64>,
    /// The element of the latest layer that sets it.
    pub at: usize,
}

/// `<backoff initial max multiplier reset/>`, each attribute optional.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct RawBackoff {
    /// `initial`.
    pub initial: Option<Duration>,
    /// `max`.
    pub max: Option<Duration>,
    /// `multiplier`.
    pub multiplier: Option<f64>,
    /// `reset`.
    pub reset: Option<Duration>,
}

/// `<output log file maxSize keep timestamps stdout stderr overflow/>`, each attribute optional.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct RawOutput {
    /// `log`.
    pub log: Option<bool>,
    /// `file`, as written (`{id}` and `{date}` still in it). Kept, empty, even when it was
    /// invalid (after reporting), so `maxSize` and `keep` do not also complain of no file.
    pub file: Option<String>,
    /// `maxSize` in bytes, at its attribute (the resolver reports it when there is no file).
    pub max_size: Option<Spanned<u64>>,
    /// `keep`, at its attribute (likewise).
    pub keep: Option<Spanned<u32>>,
    /// `timestamps`.
    pub timestamps: Option<bool>,
    /// `stdout`.
    pub stdout: Option<StdoutMode>,
    /// `stderr`.
    pub stderr: Option<StderrMode>,
    /// `overflow`.
    pub overflow: Option<Overflow>,
}

/// `<readiness>` or `<healthCheck>`: a probe and its timing, each part optional in one layer.
/// The walker allows only the attributes of the element at hand (`failures` and `startAfter`
/// are the health check's, `notify` the readiness's).
#[derive(Debug, Clone, PartialEq)]
pub struct RawCheck {
    /// Byte offset of the element in the latest layer that has one.
    pub at: usize,
    /// The probe with its own arguments (`<argument>`s, `watchdog`); `None`: this layer names
    /// no probe kind.
    pub probe: Option<RawProbe>,
    /// `interval`.
    pub interval: Option<Duration>,
    /// `timeout`.
    pub timeout: Option<Duration>,
    /// `failures` (`<healthCheck>` only).
    pub failures: Option<u32>,
    /// `startAfter` (`<healthCheck>` only).
    pub start_after: Option<Duration>,
}

/// A probe kind as written, with its arguments.
#[derive(Debug, Clone, PartialEq)]
pub enum RawProbe {
    /// `tcp="HOST:PORT"`.
    Tcp(String),
    /// `http="http://…"`, taken apart.
    Http {
        /// `HOST:PORT` to connect to.
        address: String,
        /// The URL's authority, for the `Host` header.
        host: String,
        /// Path and query.
        path: String,
    },
    /// `exec="PATH"` (as written) and its `<argument>`s, verbatim.
    Exec {
        /// The program, as written.
        program: String,
        /// Its arguments.
        arguments: Vec<String>,
    },
    /// `notify="true"` with its `watchdog`.
    Notify {
        /// `watchdog`.
        watchdog: Option<Duration>,
    },
    /// `socket="true"`: ready once the process runs (its held sockets queue clients).
    Socket,
    /// A kind was named but is invalid (two kinds, a bad value…); that was reported. Kept so
    /// the resolver does not also report a missing probe; it builds nothing from it.
    Reported,
}

impl RawCheck {
    /// A layer with only its position: every part absent.
    pub fn at(at: usize) -> RawCheck {
        RawCheck {
            at,
            probe: None,
            interval: None,
            timeout: None,
            failures: None,
            start_after: None,
        }
    }
}

impl RawSettings {
    /// `self` with `later` laid over it: a scalar `later` sets replaces ours, lists add up
    /// (ours first), the backoff and the output merge attribute by attribute, and so do the
    /// readiness and health checks except for their probe (see `overlay_check`). Profile refs are not merged:
    /// they are what brings the layers together.
    pub fn overlay(mut self, later: &RawSettings) -> RawSettings {
        set(&mut self.description, &later.description);
        set(&mut self.executable, &later.executable);
        self.arguments.extend(later.arguments.iter().cloned());
        (self.trailing_arguments).extend(later.trailing_arguments.iter().cloned());
        (self.environment_files).extend(later.environment_files.iter().cloned());
        set(&mut self.inherit_environment, &later.inherit_environment);
        self.variables.extend(later.variables.iter().cloned());
        set(&mut self.working_directory, &later.working_directory);
        set(&mut self.user, &later.user);
        set(&mut self.start_priority, &later.start_priority);
        set(&mut self.start_delay, &later.start_delay);
        set(&mut self.stop_timeout, &later.stop_timeout);
        set(&mut self.stop_signal, &later.stop_signal);
        set(&mut self.restart, &later.restart);
        set(&mut self.success_exit_codes, &later.success_exit_codes);
        set(&mut self.autostart, &later.autostart);
        set(&mut self.backoff.initial, &later.backoff.initial);
        set(&mut self.backoff.max, &later.backoff.max);
        set(&mut self.backoff.multiplier, &later.backoff.multiplier);
        set(&mut self.backoff.reset, &later.backoff.reset);
        let (output, theirs) = (&mut self.output, &later.output);
        set(&mut output.log, &theirs.log);
        set(&mut output.file, &theirs.file);
        set(&mut output.max_size, &theirs.max_size);
        set(&mut output.keep, &theirs.keep);
        set(&mut output.timestamps, &theirs.timestamps);
        set(&mut output.stdout, &theirs.stdout);
        set(&mut output.stderr, &theirs.stderr);
        set(&mut output.overflow, &theirs.overflow);
        overlay_check(&mut self.readiness, &later.readiness);
        overlay_check(&mut self.health_check, &later.health_check);
        for limit in &later.limits {
            overlay_limit(&mut self.limits, limit);
        }
        set(&mut self.nice, &later.nice);
        set(&mut self.umask, &later.umask);
        set(&mut self.oom_score_adjust, &later.oom_score_adjust);
        for socket in &later.sockets {
            match self.sockets.iter_mut().find(|s| s.name == socket.name) {
                Some(same) => *same = socket.clone(),
                None => self.sockets.push(socket.clone()),
            }
        }
        self
    }
}

/// A limit laid over the list: side by side over the same resource's, else added.
fn overlay_limit(limits: &mut Vec<RawLimit>, later: &RawLimit) {
    match limits.iter_mut().find(|l| l.resource == later.resource) {
        Some(limit) => {
            set(&mut limit.soft, &later.soft);
            set(&mut limit.hard, &later.hard);
            limit.at = later.at;
        }
        None => limits.push(later.clone()),
    }
}

/// `theirs` replaces `mine` when it is set.
fn set<T: Clone>(mine: &mut Option<T>, theirs: &Option<T>) {
    if theirs.is_some() {
        mine.clone_from(theirs);
    }
}

/// A check laid over another: attribute by attribute, except that a probe kind named later
/// replaces the earlier probe together with its arguments.
fn overlay_check(mine: &mut Option<RawCheck>, later: &Option<RawCheck>) {
    let Some(theirs) = later else { return };
    let Some(check) = mine else {
        *mine = Some(theirs.clone());
        return;
    };
    check.at = theirs.at;
    set(&mut check.probe, &theirs.probe);
    set(&mut check.interval, &theirs.interval);
    set(&mut check.timeout, &theirs.timeout);
    set(&mut check.failures, &theirs.failures);
    set(&mut check.start_after, &theirs.start_after);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_replaces_scalars_and_appends_lists() {
        let profile = RawSettings {
            executable: Some("/usr/bin/java".into()),
            arguments: vec!["-server".into()],
            variables: vec![("LANG".into(), "C".into())],
            inherit_environment: Some(false),
            working_directory: Some("a".into()),
            backoff: RawBackoff {
                max: Some(Duration::from_secs(60)),
                ..RawBackoff::default()
            },
            ..RawSettings::default()
        };
        let server = RawSettings {
            executable: Some("bin/x".into()),
            arguments: vec!["--port".into()],
            variables: vec![("LANG".into(), "C.UTF-8".into())],
            backoff: RawBackoff {
                initial: Some(Duration::from_secs(1)),
                ..RawBackoff::default()
            },
            ..RawSettings::default()
        };
        let merged = profile.overlay(&server);
        assert_eq!(merged.executable.as_deref(), Some("bin/x"));
        assert_eq!(merged.arguments, ["-server", "--port"]);
        assert_eq!(merged.variables.len(), 2);
        assert_eq!(merged.variables[1].1, "C.UTF-8");
        assert_eq!(merged.inherit_environment, Some(false));
        assert_eq!(merged.working_directory.as_deref(), Some("a"));
        assert_eq!(merged.backoff.max, Some(Duration::from_secs(60)));
        assert_eq!(merged.backoff.initial, Some(Duration::from_secs(1)));
    }

    #[test]
    fn overlay_appends_trailing_arguments_and_files_and_merges_limits_side_by_side() {
        let limit = |soft, hard, at| RawLimit {
            resource: Resource::Nofile,
            soft,
            hard,
            at,
        };
        let profile = RawSettings {
            trailing_arguments: vec!["Main".into()],
            environment_files: vec!["a.env".into()],
            limits: vec![limit(Some(10), Some(20), 1)],
            nice: Some(5),
            ..RawSettings::default()
        };
        let server = RawSettings {
            trailing_arguments: vec!["start".into()],
            environment_files: vec!["b.env".into()],
            limits: vec![limit(None, Some(30), 2)],
            umask: Some(0o027),
            ..RawSettings::default()
        };
        let merged = profile.overlay(&server);
        assert_eq!(merged.trailing_arguments, ["Main", "start"]);
        assert_eq!(merged.environment_files, ["a.env", "b.env"]);
        assert_eq!(merged.limits, [limit(Some(10), Some(30), 2)]);
        assert_eq!((merged.nice, merged.umask), (Some(5), Some(0o027)));
    }

    #[test]
    fn overlay_merges_output_and_checks_but_replaces_a_probe_whole() {
        let exec = RawProbe::Exec {
            program: "p".into(),
            arguments: vec!["-a".into()],
        };
        let profile = RawSettings {
            output: RawOutput {
                file: Some("f".into()),
                keep: Some(Spanned { value: 2, at: 7 }),
                ..RawOutput::default()
            },
            readiness: Some(RawCheck {
                probe: Some(exec.clone()),
                timeout: Some(Duration::from_secs(5)),
                ..RawCheck::at(1)
            }),
            health_check: Some(RawCheck {
                probe: Some(RawProbe::Tcp("h:1".into())),
                failures: Some(4),
                ..RawCheck::at(2)
            }),
            ..RawSettings::default()
        };
        let kindless = RawSettings {
            output: RawOutput {
                log: Some(false),
                ..RawOutput::default()
            },
            readiness: Some(RawCheck {
                interval: Some(Duration::from_secs(1)),
                ..RawCheck::at(3)
            }),
            ..RawSettings::default()
        };
        let merged = profile.clone().overlay(&kindless);
        assert_eq!(merged.output.file.as_deref(), Some("f"));
        assert_eq!(merged.output.keep.as_ref().map(|k| k.value), Some(2));
        assert_eq!(merged.output.log, Some(false));
        let readiness = merged.readiness.unwrap();
        assert_eq!(readiness.at, 3);
        assert_eq!(readiness.probe, Some(exec));
        assert_eq!(readiness.timeout, Some(Duration::from_secs(5)));
        assert_eq!(readiness.interval, Some(Duration::from_secs(1)));
        assert_eq!(merged.health_check, profile.health_check);

        let notify = RawSettings {
            readiness: Some(RawCheck {
                probe: Some(RawProbe::Notify { watchdog: None }),
                ..RawCheck::at(4)
            }),
            ..RawSettings::default()
        };
        let readiness = profile.overlay(&notify).readiness.unwrap();
        assert_eq!(readiness.probe, Some(RawProbe::Notify { watchdog: None }));
        assert_eq!(readiness.timeout, Some(Duration::from_secs(5)));
        assert_eq!(
            RawSettings::default().overlay(&notify).readiness,
            notify.readiness
        );
    }
}
