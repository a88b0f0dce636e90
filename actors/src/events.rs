//! The stable log-event vocabulary (SPEC section 5). Every `event` field comes from here, so a
//! name is written once and operators' alerts can rely on it.

/// The daemon is up; fields `registry`, `pid`, `components`.
pub const SUPERVISOR_STARTED: &str = "supervisor_started";
/// A component's process is about to be spawned; `component`, `group`, `command`.
pub const COMPONENT_STARTING: &str = "component_starting";
/// A component's process runs; `component`, `group`, `pid`.
pub const COMPONENT_STARTED: &str = "component_started";
/// A component passed its readiness check; `component`, `pid`, `after_ms`.
pub const COMPONENT_READY: &str = "component_ready";
/// A component's process ended without being asked to; `component`, `pid`, `code` or `signal`,
/// `uptime_ms`, `expected`.
pub const COMPONENT_EXITED: &str = "component_exited";
/// A restart is planned; `component`, `reason`, `attempt`, `delay_ms`.
pub const RESTART_SCHEDULED: &str = "restart_scheduled";
/// A stop signal was sent; `component`, `pid`, `signal`.
pub const COMPONENT_STOPPING: &str = "component_stopping";
/// The stop timeout ran out and the group was SIGKILLed; `component`, `pid`.
pub const COMPONENT_KILLED: &str = "component_killed";
/// A requested stop completed; `component`, `pid`.
pub const COMPONENT_STOPPED: &str = "component_stopped";
/// The process could not be spawned (missing executable, EAGAIN, refused privilege drop, ...);
/// `component`, `group`, `error`.
pub const COMPONENT_SPAWN_FAILED: &str = "component_spawn_failed";
/// A group had too many restarts and gave up; `group`, `restarts`, `period_s`.
pub const INTENSITY_EXCEEDED: &str = "intensity_exceeded";
/// A reload was applied; `added`, `removed`, `changed`, `unchanged`.
pub const CONFIG_RELOADED: &str = "config_reloaded";
/// A reload was refused; `error`.
pub const CONFIG_REJECTED: &str = "config_rejected";
/// Periodic component statistics; `component`, `pid`, `uptime_ms`, `rss_bytes`, `restarts`.
pub const STATS: &str = "stats";
/// A component's readiness timeout ran out (a failed start); `component`, `pid`.
pub const COMPONENT_NOT_READY: &str = "component_not_ready";
/// A component failed its health check or missed its watchdog; `component`, `pid`, `check`.
pub const COMPONENT_UNHEALTHY: &str = "component_unhealthy";
/// A line of a component's output; `component`, `stream`, `line`.
pub const COMPONENT_OUTPUT: &str = "component_output";
/// Lines of a component's output were dropped (`overflow="drop"`); `component`, `dropped`.
pub const OUTPUT_DROPPED: &str = "output_dropped";
/// The daemon begins its orderly shutdown; `reason`.
pub const SUPERVISOR_STOPPING: &str = "supervisor_stopping";
/// The daemon is about to exit; `exit_code`.
pub const SUPERVISOR_STOPPED: &str = "supervisor_stopped";
/// A process we did not start (an orphan re-parented to us) was reaped; `pid`, `status`.
pub const ORPHAN_REAPED: &str = "orphan_reaped";
/// `waitid`/`waitpid` failed unexpectedly; `error`.
pub const REAP_FAILED: &str = "reap_failed";
/// A message arrived that the receiver's state does not expect; it was ignored.
pub const UNEXPECTED_MESSAGE: &str = "unexpected_message";
/// A daemon killed what a previous one (or, as `by: "guardian"`, the daemon that just died)
/// left running; `pid` or `cgroups`.
pub const LEFTOVER_KILLED: &str = "leftover_killed";
/// The guardian that takes the tree down with the daemon runs; `pid`, `reach`, `cgroup`.
pub const GUARDIAN_STARTED: &str = "guardian_started";
/// The guardian ended while the daemon runs (someone killed it); a new one is started;
/// `pid`, `code` or `signal`.
pub const GUARDIAN_EXITED: &str = "guardian_exited";
/// The daemon's own log could not keep up and dropped lines; `lines`, `bytes`.
pub const LOG_LINES_DROPPED: &str = "log_lines_dropped";
/// A component's output file cannot be written (at most once a minute per file); `file`,
/// `error`, `lost` (lines since the last warning).
pub const OUTPUT_WRITE_FAILED: &str = "output_write_failed";
/// A component's output file that failed is written again; `file`, `lost` (lines in all).
pub const OUTPUT_WRITE_RESUMED: &str = "output_write_resumed";
