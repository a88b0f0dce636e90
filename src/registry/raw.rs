//! The registry as written: what the walker read, values parsed but nothing defaulted, merged
//! or resolved.
//!
//! An absent element is `None` (or an empty list) here; the resolver fills in the defaults.
//! Positions are byte offsets into the registry text, for the resolver's own diagnostics. No
//! roxmltree types: this is plain data.

use std::time::Duration;

use actors::spec::{RestartType, Strategy};

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
    /// `<restartStrategy>` directly under `<supervisor>`: the root group's.
    pub strategy: RawStrategy,
    /// `<profiles>`, in document order (a duplicate id is reported and left out).
    pub profiles: Vec<RawProfile>,
    /// The children of `<servers>`, in document order.
    pub servers: Vec<RawChild>,
}

/// `<config>`.
#[derive(Debug, Default, PartialEq)]
pub struct RawConfig {
    /// `<tcpport>`.
    pub tcp_port: Option<u16>,
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
    /// `<restartStrategy>` inside the group.
    pub strategy: RawStrategy,
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

impl RawSettings {
    /// `self` with `later` laid over it: a scalar `later` sets replaces ours, lists add up
    /// (ours first), the backoff merges attribute by attribute. Profile refs are not merged:
    /// they are what brings the layers together.
    pub fn overlay(mut self, later: &RawSettings) -> RawSettings {
        fn set<T: Clone>(mine: &mut Option<T>, theirs: &Option<T>) {
            if theirs.is_some() {
                mine.clone_from(theirs);
            }
        }
        set(&mut self.description, &later.description);
        set(&mut self.executable, &later.executable);
        self.arguments.extend(later.arguments.iter().cloned());
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
        self
    }
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
}
