//! Every default of the registry schema (SPEC §2), in one table.
//!
//! The resolver applies these to whatever the registry leaves out; nothing else in the registry
//! module spells a default value.

use std::time::Duration;

use actors::spec::{Backoff, Intensity, OutputSpec, RestartType, Strategy};

/// `<config><home>`, relative to the registry's folder: that folder.
pub const HOME: &str = ".";
/// `<config><log>`, relative to `<home>`.
pub const LOG: &str = "logs/Supervisor.log";
/// `<config><tracelevel>`: info.
pub const TRACE_LEVEL: u8 = 2;
/// `<config><tracestatsinterval>`: 0, no `stats` events.
pub const STATS_INTERVAL: Duration = Duration::ZERO;
/// `<config><logRetentionDays>`.
pub const LOG_RETENTION_DAYS: u32 = 10;

/// `<restartStrategy type>`.
pub const STRATEGY: Strategy = Strategy::OneForOne;
/// `<restartStrategy intensity>`.
pub const INTENSITY: u32 = 5;
/// `<restartStrategy period>`.
pub const PERIOD: Duration = Duration::from_secs(30);
/// The root with no `<restartStrategy>`: it never gives up (a component that keeps crashing
/// is restarted at its backoff while its siblings run on).
pub const ROOT_INTENSITY: Option<Intensity> = None;
/// A nested `<group>` with no `<restartStrategy>`: OTP's give-up, at the defaults above.
pub const GROUP_INTENSITY: Option<Intensity> = Some(Intensity {
    max_restarts: INTENSITY,
    period: PERIOD,
});

/// The root group's place in the start order (it has no parent to be ordered in).
pub const ROOT_START_PRIORITY: u32 = 0;
/// `<startPriority>` of a server or a group.
pub const START_PRIORITY: u32 = 1;

/// `<description>`.
pub const DESCRIPTION: &str = "";
/// `<environment inherit>`.
pub const INHERIT_ENVIRONMENT: bool = true;
/// `<startDelay>`.
pub const START_DELAY: Duration = Duration::ZERO;
/// `<stopTimeout>`.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// `<stopSignal>`: SIGTERM.
pub const STOP_SIGNAL: i32 = libc::SIGTERM;
/// `<restart>`.
pub const RESTART: RestartType = RestartType::Permanent;
/// `<successExitCodes>`.
pub const SUCCESS_EXIT_CODES: &[i32] = &[0];
/// `<autostart>`.
pub const AUTOSTART: bool = true;
/// `<umask>`: 022, as systemd gives services.
pub const UMASK: u32 = 0o022;
/// `<backoff initial max multiplier reset>`.
pub const BACKOFF: Backoff = Backoff::DEFAULT;

/// `<output log file maxSize keep timestamps stdout stderr overflow>`.
pub const OUTPUT: OutputSpec = OutputSpec::DEFAULT;

/// `<readiness interval>`.
pub const READINESS_INTERVAL: Duration = Duration::from_millis(100);
/// `<readiness timeout>`: the time to become ready.
pub const READINESS_TIMEOUT: Duration = Duration::from_secs(60);

/// `<healthCheck interval>`.
pub const HEALTH_INTERVAL: Duration = Duration::from_secs(10);
/// `<healthCheck timeout>`: per probe.
pub const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);
/// `<healthCheck failures>`: consecutive.
pub const HEALTH_FAILURES: u32 = 3;
/// `<healthCheck startAfter>`.
pub const HEALTH_START_AFTER: Duration = Duration::ZERO;
