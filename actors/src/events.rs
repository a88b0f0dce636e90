//! The log-event vocabulary: every `event` field the daemon writes comes from here, so a name is
//! written once and operators' alerts can rely on it. [`CONTRACT`] holds the events of SPEC
//! section 5 (stable); [`DIAGNOSTIC`] the others, which help an operator but may change. A test
//! holds both lists to SPEC's table and to the README's.

// --- The contract (SPEC section 5) -----------------------------------------------------------

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
/// A reload was applied; `added`, `removed`, `changed`, `updated`, `unchanged`, `needs_restart`.
pub const CONFIG_RELOADED: &str = "config_reloaded";
/// A reload was refused; `error`.
pub const CONFIG_REJECTED: &str = "config_rejected";
/// Periodic component statistics; `component`, `pid`, `uptime_ms`, `rss_bytes`, `restarts`.
pub const STATS: &str = "stats";
/// A component's readiness timeout ran out (a failed start); `component`, `pid`, `error`.
pub const COMPONENT_NOT_READY: &str = "component_not_ready";
/// A component failed its health check or missed its watchdog; `component`, `pid`, `error`.
pub const COMPONENT_UNHEALTHY: &str = "component_unhealthy";
/// A line of a component's output; `component`, `stream`, `line`.
pub const COMPONENT_OUTPUT: &str = "component_output";
/// Lines of a component's output were dropped (`overflow="drop"`); `component`, `dropped`.
pub const OUTPUT_DROPPED: &str = "output_dropped";
/// The daemon's own log could not keep up and dropped lines; `dropped`, `bytes`.
pub const LOG_LINES_DROPPED: &str = "log_lines_dropped";
/// The daemon begins its orderly shutdown; `reason`.
pub const SUPERVISOR_STOPPING: &str = "supervisor_stopping";
/// The daemon is about to exit; `exit_code`.
pub const SUPERVISOR_STOPPED: &str = "supervisor_stopped";
/// What a previous daemon (or, as `by: "guardian"`, the daemon that just died) left running was
/// killed: a process (`pid`) or cgroups (`cgroups`, a count).
pub const LEFTOVER_KILLED: &str = "leftover_killed";
/// A binary upgrade began; `from`, `to`.
pub const UPGRADE_STARTED: &str = "upgrade_started";
/// A binary upgrade finished; `from`, `to`, `duration_ms`.
pub const UPGRADE_COMPLETED: &str = "upgrade_completed";
/// A binary upgrade was refused before anything changed; `reason`.
pub const UPGRADE_REFUSED: &str = "upgrade_refused";
/// A binary upgrade failed and the old daemon took over again; `reason`.
pub const UPGRADE_ROLLED_BACK: &str = "upgrade_rolled_back";

// --- Diagnostics (beyond SPEC; names may change) ---------------------------------------------

/// The daemon could not run at all (before or while starting); `error`.
pub const SUPERVISOR_FAILED: &str = "supervisor_failed";
/// A second SIGTERM/SIGINT during shutdown: every component is SIGKILLed; `signal`.
pub const SHUTDOWN_FORCED: &str = "shutdown_forced";
/// No writable cgroup2 hierarchy: components are tracked by process group only.
pub const CGROUPS_UNAVAILABLE: &str = "cgroups_unavailable";
/// The open-file limit is below what the components need (`needed`, `limit`), or could not be
/// raised (`error`).
pub const OPEN_FILE_LIMIT_LOW: &str = "open_file_limit_low";
/// The daemon's log file could not be reopened (SIGUSR1); `error`.
pub const LOG_REOPEN_FAILED: &str = "log_reopen_failed";
/// A component's output file cannot be written (at most once a minute per file); `file`,
/// `error`, `lost` (lines since the last warning).
pub const OUTPUT_WRITE_FAILED: &str = "output_write_failed";
/// The children journal could not be written; `error`.
pub const JOURNAL_WRITE_FAILED: &str = "journal_write_failed";
/// A start time computed from the clock disagreed with /proc; `pid`, `computed`, `read`.
pub const START_TIME_MISMATCH: &str = "start_time_mismatch";
/// Accepting a connection failed (`endpoint`: `control` or `http`); `error`.
pub const ACCEPT_FAILED: &str = "accept_failed";
/// An HTTP connection ended with an error (debug); `error`.
pub const HTTP_CONNECTION_FAILED: &str = "http_connection_failed";
/// A control request was refused: the peer may not control the daemon; `peer_uid`, `peer_pid`.
pub const CONTROL_REFUSED: &str = "control_refused";
/// A control request arrived (debug); `request` (as JSON), `peer_uid`, `peer_pid`.
pub const CONTROL_REQUEST: &str = "control_request";
/// A notification to systemd was sent (trace); `notification`.
pub const SD_NOTIFY_SENT: &str = "sd_notify_sent";
/// A notification to systemd failed (warn once, then debug); `socket`, `error`.
pub const SD_NOTIFY_FAILED: &str = "sd_notify_failed";
/// A process we did not start (an orphan re-parented to us) was reaped (debug); `pid`, `status`.
pub const ORPHAN_REAPED: &str = "orphan_reaped";
/// A component's process was reaped and its owner told (debug); `pid`, `status`.
pub const CHILD_REAPED: &str = "child_reaped";
/// `waitid`/`waitpid` failed unexpectedly; `error`.
pub const REAP_FAILED: &str = "reap_failed";
/// How the daemon creates children, logged once at start; `mode` (`clone3` or `clone`),
/// `reason` (why not `clone3`), `cgroups`.
pub const SPAWN_MODE: &str = "spawn_mode";
/// A readiness or health probe ran (debug); `component`, `probe`, `ok`, `error`.
pub const PROBE_RESULT: &str = "probe_result";
/// A group's plan took a step (debug); `group`, `step`, `children`.
pub const PLAN_STEP: &str = "plan_step";
/// A component armed (`action` `armed`, `after_ms`) or fired (`fired`) a timer (trace);
/// `component`, `timer`.
pub const TIMER: &str = "timer";
/// A line of a component's output was routed (trace); `component`, `stream`, `bytes`, `log`,
/// `file`.
pub const OUTPUT_ROUTED: &str = "output_routed";
/// A message arrived that the receiver's state does not expect; it was ignored (debug).
pub const UNEXPECTED_MESSAGE: &str = "unexpected_message";
/// The guardian that takes the tree down with the daemon runs; `pid`, `reach`, `cgroup`.
pub const GUARDIAN_STARTED: &str = "guardian_started";
/// The guardian ended while the daemon runs (someone killed it); a new one is started;
/// `pid`, `code` or `signal`.
pub const GUARDIAN_EXITED: &str = "guardian_exited";
/// A component's output file that failed is written again; `file`, `lost` (lines in all).
pub const OUTPUT_WRITE_RESUMED: &str = "output_write_resumed";
/// A descriptor handed over at an upgrade (a held socket, a notification socket, a listener)
/// could not be taken over: it is bound anew; `error`, and `component` for a component's.
pub const HANDOVER_INCOMPLETE: &str = "handover_incomplete";

/// The events of SPEC section 5, the stable vocabulary.
pub const CONTRACT: &[&str] = &[
    SUPERVISOR_STARTED,
    COMPONENT_STARTING,
    COMPONENT_STARTED,
    COMPONENT_READY,
    COMPONENT_EXITED,
    RESTART_SCHEDULED,
    COMPONENT_STOPPING,
    COMPONENT_KILLED,
    COMPONENT_STOPPED,
    COMPONENT_SPAWN_FAILED,
    INTENSITY_EXCEEDED,
    CONFIG_RELOADED,
    CONFIG_REJECTED,
    STATS,
    COMPONENT_NOT_READY,
    COMPONENT_UNHEALTHY,
    COMPONENT_OUTPUT,
    OUTPUT_DROPPED,
    LOG_LINES_DROPPED,
    SUPERVISOR_STOPPING,
    SUPERVISOR_STOPPED,
    LEFTOVER_KILLED,
    UPGRADE_STARTED,
    UPGRADE_COMPLETED,
    UPGRADE_REFUSED,
    UPGRADE_ROLLED_BACK,
];

/// The other events: diagnostics, most of them at debug and trace level.
pub const DIAGNOSTIC: &[&str] = &[
    SUPERVISOR_FAILED,
    SHUTDOWN_FORCED,
    CGROUPS_UNAVAILABLE,
    SPAWN_MODE,
    OPEN_FILE_LIMIT_LOW,
    LOG_REOPEN_FAILED,
    OUTPUT_WRITE_FAILED,
    OUTPUT_WRITE_RESUMED,
    HANDOVER_INCOMPLETE,
    GUARDIAN_STARTED,
    GUARDIAN_EXITED,
    JOURNAL_WRITE_FAILED,
    START_TIME_MISMATCH,
    ACCEPT_FAILED,
    HTTP_CONNECTION_FAILED,
    CONTROL_REFUSED,
    CONTROL_REQUEST,
    SD_NOTIFY_SENT,
    SD_NOTIFY_FAILED,
    ORPHAN_REAPED,
    CHILD_REAPED,
    REAP_FAILED,
    PROBE_RESULT,
    PLAN_STEP,
    TIMER,
    OUTPUT_ROUTED,
    UNEXPECTED_MESSAGE,
];

/// Fields whose values are JSON (arrays, objects; `pid` of `stats`, `null` without a process,
/// `to` of `upgrade_refused`, `null` before the new binary said its version):
/// recorded as `?Json(&value)`, written as JSON by the JSON format and as compact JSON by the
/// text format.
pub const STRUCTURED_FIELDS: &[&str] = &[
    "pid",
    "to",
    "added",
    "removed",
    "changed",
    "updated",
    "needs_restart",
    "applied",
    "not_applied",
    "request",
];

/// A value recorded as JSON: `tracing::info!(added = ?Json(&ids))` (see [`STRUCTURED_FIELDS`]).
pub struct Json<'a, T: serde::Serialize>(pub &'a T);

impl<T: serde::Serialize> std::fmt::Debug for Json<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = serde_json::to_string(self.0).map_err(|_| std::fmt::Error)?;
        f.write_str(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// Every `pub const NAME: &str = "…"` of this file, by value.
    fn declared() -> BTreeSet<&'static str> {
        include_str!("events.rs")
            .lines()
            .filter(|line| line.starts_with("pub const ") && line.contains(": &str = \""))
            .filter_map(|line| line.split('"').nth(1))
            .collect()
    }

    #[test]
    fn every_name_is_in_exactly_one_list() {
        let contract: BTreeSet<_> = CONTRACT.iter().copied().collect();
        let diagnostic: BTreeSet<_> = DIAGNOSTIC.iter().copied().collect();
        assert_eq!(contract.len(), CONTRACT.len(), "a name twice in CONTRACT");
        assert_eq!(
            diagnostic.len(),
            DIAGNOSTIC.len(),
            "a name twice in DIAGNOSTIC"
        );
        assert!(contract.is_disjoint(&diagnostic));
        let listed: BTreeSet<_> = contract.union(&diagnostic).copied().collect();
        assert_eq!(listed, declared());
    }

    #[test]
    fn names_are_snake_case() {
        for name in declared() {
            assert!(
                name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{name}"
            );
        }
    }

    #[test]
    fn json_values_are_written_as_json() {
        let ids = vec!["a \"b\"", "\u{1b}"];
        assert_eq!(format!("{:?}", Json(&ids)), r#"["a \"b\"","\u001b"]"#);
    }
}
