//! What a reload changes in `<config>`: `tracelevel` applies at once; every other key that
//! differs from what the daemon runs with is one that needs a restart.
//!
//! Pure: compares two resolved configs, reads and applies nothing.

use super::DaemonConfig;
#[cfg(test)]
use actors::output::dates::Zone;

/// The `<config>` keys (as the registry spells them) whose values differ between `running` and
/// `read`, in the order of SPEC section 2.
pub fn needs_restart(running: &DaemonConfig, read: &DaemonConfig) -> Vec<&'static str> {
    // Destructured whole, so that a new setting cannot be left out of the comparison.
    let DaemonConfig {
        tcp_port,
        tcp_bind,
        log,
        temp,
        // Applied by the reload itself.
        trace_level: _,
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
        assert!(needs_restart(&config(), &config()).is_empty());
        let mut traced = config();
        traced.trace_level = 4;
        assert!(needs_restart(&config(), &traced).is_empty(), "applied live");
    }

    #[test]
    fn each_changed_key_is_named_once_in_spec_order() {
        let changes: [(&str, Change); 6] = [
            ("tcpport", |c| c.tcp_bind = Some([0, 0, 0, 0].into())),
            ("log", |c| c.log = PathBuf::from("/elsewhere.log")),
            ("temp", |c| c.temp = Some(PathBuf::from("/tmp/sv"))),
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
            assert_eq!(needs_restart(&config(), &one), [key]);
            change(&mut all);
        }
        let keys: Vec<&str> = changes.iter().map(|(key, _)| *key).collect();
        assert_eq!(needs_restart(&config(), &all), keys);
        let mut port = config();
        port.tcp_port = None;
        assert_eq!(needs_restart(&config(), &port), ["tcpport"]);
    }
}
