//! What a reload changes in `<config>`: the one place that says which keys a running daemon
//! applies at once ([`APPLIED_LIVE`]) and which need a restart of the daemon.
//!
//! Pure: compares two resolved configs, reads and applies nothing.

use super::DaemonConfig;
#[cfg(test)]
use actors::output::dates::Zone;

/// The `<config>` keys a running daemon applies on reload. `logTime` is not one: the files
/// already written are named by the calendar they were written in, and a switch mid-run would
/// split a day between two names.
const APPLIED_LIVE: &[&str] = &[
    "tcpport",
    "log",
    "temp",
    "tracelevel",
    "tracestatsinterval",
    "logRetentionDays",
];

/// The `<config>` keys that differ between `running` and `read`: those applied live, then
/// those that need a restart of the daemon, each in the order of SPEC section 2.
pub fn config_changes(
    running: &DaemonConfig,
    read: &DaemonConfig,
) -> (Vec<&'static str>, Vec<&'static str>) {
    changed_keys(running, read)
        .into_iter()
        .partition(|key| APPLIED_LIVE.contains(key))
}

/// The `<config>` keys (as the registry spells them) whose values differ between `running` and
/// `read`, in the order of SPEC section 2.
fn changed_keys(running: &DaemonConfig, read: &DaemonConfig) -> Vec<&'static str> {
    // Destructured whole, so that a new setting cannot be left out of the comparison.
    let DaemonConfig {
        tcp_port,
        tcp_bind,
        log,
        temp,
        trace_level,
        stats_interval,
        log_retention_days,
        log_time,
        // Applied by the reload itself: what it changes are the resolved paths (the log and
        // temp folders compared here, the components' own).
        home: _,
    } = running;
    [
        (
            "tcpport",
            (*tcp_port, *tcp_bind) != (read.tcp_port, read.tcp_bind),
        ),
        ("log", *log != read.log),
        ("temp", *temp != read.temp),
        ("tracelevel", *trace_level != read.trace_level),
        ("tracestatsinterval", *stats_interval != read.stats_interval),
        (
            "logRetentionDays",
            *log_retention_days != read.log_retention_days,
        ),
        ("logTime", *log_time != read.log_time),
    ]
    .into_iter()
    .filter_map(|(key, differs)| differs.then_some(key))
    .collect()
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use super::*;

    type Change = fn(&mut DaemonConfig);

    fn config() -> DaemonConfig {
        DaemonConfig {
            tcp_port: Some(9910),
            tcp_bind: None,
            log: PathBuf::from("/sv/logs/Supervisor.log"),
            temp: None,
            trace_level: 2,
            stats_interval: None,
            log_retention_days: 10,
            log_time: Zone::Local,
            home: PathBuf::from("/sv"),
        }
    }

    #[test]
    fn the_same_config_needs_nothing() {
        assert!(changed_keys(&config(), &config()).is_empty());
    }

    #[test]
    fn each_changed_key_is_named_once_in_spec_order() {
        let changes: [(&str, Change); 7] = [
            ("tcpport", |c| c.tcp_bind = Some([0, 0, 0, 0].into())),
            ("log", |c| c.log = PathBuf::from("/elsewhere.log")),
            ("temp", |c| c.temp = Some(PathBuf::from("/tmp/sv"))),
            ("tracelevel", |c| c.trace_level = 4),
            ("tracestatsinterval", |c| {
                c.stats_interval = Some(Duration::from_secs(60))
            }),
            ("logRetentionDays", |c| c.log_retention_days = 3),
            ("logTime", |c| c.log_time = Zone::Utc),
        ];
        let mut all = config();
        for (key, change) in changes {
            let mut one = config();
            change(&mut one);
            assert_eq!(changed_keys(&config(), &one), [key]);
            change(&mut all);
        }
        let keys: Vec<&str> = changes.iter().map(|(key, _)| *key).collect();
        assert_eq!(changed_keys(&config(), &all), keys);
        let (live, later) = config_changes(&config(), &all);
        assert_eq!(
            live,
            [
                "tcpport",
                "log",
                "temp",
                "tracelevel",
                "tracestatsinterval",
                "logRetentionDays"
            ]
        );
        assert_eq!(later, ["logTime"]);
        let mut port = config();
        port.tcp_port = None;
        assert_eq!(config_changes(&config(), &port).0, ["tcpport"]);
    }
}
