//! The Prometheus text exposition of `/metrics`: the daemon's build and its own process
//! (`process_*`, as every Prometheus client library names them), each component's state,
//! restarts and memory, and each group's restarts by reason and give-ups. Pure but for
//! [`SelfProcess::read`], which reads `/proc/self`.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actors::status::GroupStatus;

use crate::control::protocol::StatusRow;

/// The states a component can be in, as `status` names them (one sample each).
const STATES: [&str; 7] = [
    "stopped", "starting", "running", "backoff", "stopping", "exited", "failed",
];

/// The version and the commit the binary was built from (`unknown` outside a git checkout).
pub const BUILD: (&str, &str) = (env!("CARGO_PKG_VERSION"), env!("SUPERVISOR_COMMIT"));

/// The daemon's own process, from `/proc/self`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SelfProcess {
    /// User and system CPU time, in seconds.
    pub cpu_seconds: f64,
    /// Resident memory, in bytes.
    pub resident_bytes: u64,
    /// Virtual memory, in bytes.
    pub virtual_bytes: u64,
    /// Open file descriptors.
    pub open_fds: u64,
    /// Start time, in seconds since the Unix epoch.
    pub start_time_seconds: f64,
}

impl SelfProcess {
    /// Reads `/proc/self/stat`, `/proc/self/fd` and the boot time; `None` if `/proc` is not
    /// there.
    pub fn read() -> Option<SelfProcess> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        let boot = std::fs::read_to_string("/proc/stat").ok()?;
        let open_fds = std::fs::read_dir("/proc/self/fd").ok()?.count() as u64;
        let sysconf = |var| nix::unistd::sysconf(var).ok().flatten();
        let ticks = sysconf(nix::unistd::SysconfVar::CLK_TCK).unwrap_or(100) as f64;
        let page = sysconf(nix::unistd::SysconfVar::PAGE_SIZE).unwrap_or(4096) as u64;
        // One descriptor of the count is the directory being read.
        parse(&stat, &boot, ticks, page, open_fds.saturating_sub(1))
    }
}

/// The numbers of `/proc/self/stat` and the `btime` of `/proc/stat`.
fn parse(stat: &str, proc_stat: &str, ticks: f64, page: u64, open_fds: u64) -> Option<SelfProcess> {
    // The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    let fields: Vec<&str> = stat.get(stat.rfind(')')? + 2..)?.split(' ').collect();
    let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
    let boot: u64 = proc_stat
        .lines()
        .find_map(|line| line.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    Some(SelfProcess {
        cpu_seconds: (field(14)? + field(15)?) as f64 / ticks,
        resident_bytes: field(24)? * page,
        virtual_bytes: field(23)?,
        open_fds,
        start_time_seconds: boot as f64 + field(22)? as f64 / ticks,
    })
}

/// One metric family being written: its `# HELP` and `# TYPE` lines come first.
struct Exposition(String);

impl Exposition {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}");
        let _ = writeln!(self.0, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &str, value: impl std::fmt::Display) {
        match labels {
            "" => writeln!(self.0, "{name} {value}"),
            labels => writeln!(self.0, "{name}{{{labels}}} {value}"),
        }
        .unwrap_or(());
    }
}

/// The exposition of `components`, `groups` and the daemon's own process, `now` being the
/// wall clock.
pub fn render(
    components: &[StatusRow],
    groups: &[GroupStatus],
    daemon: Option<SelfProcess>,
    now: SystemTime,
) -> String {
    let now = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let mut out = Exposition(String::new());
    out.family(
        "supervisor_build_info",
        "gauge",
        "The version and commit of the running supervisor (always 1).",
    );
    let (version, commit) = BUILD;
    let build = format!(
        "version=\"{}\",commit=\"{}\"",
        escape(version),
        escape(commit)
    );
    out.sample("supervisor_build_info", &build, 1);
    if let Some(daemon) = daemon {
        process(&mut out, daemon);
    }
    component_families(&mut out, components, now);
    group_families(&mut out, groups);
    out.0
}

/// The `process_*` families of the daemon itself.
fn process(out: &mut Exposition, daemon: SelfProcess) {
    let families: [(&str, &str, &str, String); 5] = [
        (
            "process_cpu_seconds_total",
            "counter",
            "User and system CPU time of the daemon, in seconds.",
            format!("{:.2}", daemon.cpu_seconds),
        ),
        (
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory of the daemon, in bytes.",
            daemon.resident_bytes.to_string(),
        ),
        (
            "process_virtual_memory_bytes",
            "gauge",
            "Virtual memory of the daemon, in bytes.",
            daemon.virtual_bytes.to_string(),
        ),
        (
            "process_open_fds",
            "gauge",
            "Open file descriptors of the daemon.",
            daemon.open_fds.to_string(),
        ),
        (
            "process_start_time_seconds",
            "gauge",
            "When the daemon started, in seconds since the Unix epoch.",
            format!("{:.2}", daemon.start_time_seconds),
        ),
    ];
    for (name, kind, help, value) in families {
        out.family(name, kind, help);
        out.sample(name, "", value);
    }
}

/// A component family's sample of one row (`None`: no sample), `now` being the wall clock.
type Value = fn(&StatusRow, Duration) -> Option<String>;

fn component_families(out: &mut Exposition, components: &[StatusRow], now: Duration) {
    let labels = |row: &StatusRow| {
        format!(
            "component=\"{}\",group=\"{}\"",
            escape(&row.id),
            escape(&row.group)
        )
    };
    out.family(
        "supervisor_component_state",
        "gauge",
        "1 for the state the component is in, 0 for the others.",
    );
    for row in components {
        for state in STATES {
            let value = u8::from(row.state == state);
            out.sample(
                "supervisor_component_state",
                &format!("{},state=\"{state}\"", labels(row)),
                value,
            );
        }
    }
    let each: [(&str, &str, &str, Value); 4] = [
        (
            "supervisor_component_up",
            "gauge",
            "Whether the component is running (1) or not (0).",
            |row, _| Some(u8::from(row.state == "running").to_string()),
        ),
        (
            "supervisor_component_restarts_total",
            "counter",
            "How many times the component was restarted automatically.",
            |row, _| Some(row.restarts.to_string()),
        ),
        (
            "supervisor_component_start_time_seconds",
            "gauge",
            "When the component's current process started, in seconds since the Unix epoch.",
            |row, now| {
                row.pid?;
                let started = now.saturating_sub(Duration::from_millis(row.uptime_ms));
                Some(format!("{:.3}", started.as_secs_f64()))
            },
        ),
        (
            "supervisor_component_rss_bytes",
            "gauge",
            "Resident memory of the component's process group, in bytes.",
            |row, _| Some(row.rss_bytes.to_string()),
        ),
    ];
    for (name, kind, help, value) in each {
        out.family(name, kind, help);
        for row in components {
            if let Some(value) = value(row, now) {
                out.sample(name, &labels(row), value);
            }
        }
    }
}

fn group_families(out: &mut Exposition, groups: &[GroupStatus]) {
    let name = "supervisor_restarts_total";
    out.family(
        name,
        "counter",
        "Automatic restarts in the group by reason (exit, sibling, health, escalation).",
    );
    for group in groups {
        for (reason, count) in group.restarts {
            let labels = format!("group=\"{}\",reason=\"{reason}\"", escape(&group.path));
            out.sample(name, &labels, count);
        }
    }
    let name = "supervisor_restart_intensity_exceeded_total";
    out.family(
        name,
        "counter",
        "How many times the group gave up (restart intensity exceeded).",
    );
    for group in groups {
        let labels = format!("group=\"{}\"", escape(&group.path));
        out.sample(name, &labels, group.intensity_exceeded);
    }
}

/// A label value as the text format wants it: `\`, `"` and newlines escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', r"\\")
        .replace('"', "\\\"")
        .replace('\n', r"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, group: &str, state: &str, pid: Option<u32>) -> StatusRow {
        StatusRow {
            id: id.into(),
            group: group.into(),
            description: String::new(),
            state: state.into(),
            pid,
            uptime_ms: 1_500,
            rss_bytes: 4096,
            restarts: 2,
            last_exit: None,
            reason: None,
            sockets: Vec::new(),
        }
    }

    fn group(path: &str, gave_up: u64, exits: u64) -> GroupStatus {
        let mut restarts = actors::status::RESTART_REASONS.map(|reason| (reason, 0));
        restarts[0].1 = exits;
        GroupStatus {
            path: path.into(),
            intensity_exceeded: gave_up,
            restarts,
        }
    }

    #[test]
    fn metrics_have_a_sample_per_component_and_group() {
        let rows = [
            row("is", "", "running", Some(10)),
            row("ps", "platform", "backoff", None),
        ];
        let groups = [group("", 0, 7), group("platform", 3, 0)];
        let now = UNIX_EPOCH + Duration::from_secs(1_000);
        let daemon = SelfProcess {
            cpu_seconds: 1.25,
            resident_bytes: 8192,
            virtual_bytes: 65536,
            open_fds: 12,
            start_time_seconds: 900.5,
        };
        let text = render(&rows, &groups, Some(daemon), now);
        for line in [
            "# TYPE supervisor_build_info gauge",
            "process_cpu_seconds_total 1.25",
            "process_resident_memory_bytes 8192",
            "process_open_fds 12",
            "process_start_time_seconds 900.50",
            "supervisor_component_state{component=\"is\",group=\"\",state=\"running\"} 1",
            "supervisor_component_state{component=\"is\",group=\"\",state=\"failed\"} 0",
            "supervisor_component_state{component=\"ps\",group=\"platform\",state=\"backoff\"} 1",
            "supervisor_component_up{component=\"is\",group=\"\"} 1",
            "supervisor_component_up{component=\"ps\",group=\"platform\"} 0",
            "# TYPE supervisor_component_restarts_total counter",
            "supervisor_component_restarts_total{component=\"ps\",group=\"platform\"} 2",
            "supervisor_component_start_time_seconds{component=\"is\",group=\"\"} 998.500",
            "supervisor_component_rss_bytes{component=\"is\",group=\"\"} 4096",
            "supervisor_restarts_total{group=\"\",reason=\"exit\"} 7",
            "supervisor_restarts_total{group=\"platform\",reason=\"escalation\"} 0",
            "supervisor_restart_intensity_exceeded_total{group=\"\"} 0",
            "supervisor_restart_intensity_exceeded_total{group=\"platform\"} 3",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
        // No process, no start time.
        assert!(!text.contains("start_time_seconds{component=\"ps\""));
        let build = format!(
            "supervisor_build_info{{version=\"{}\",commit=\"{}\"}} 1",
            BUILD.0, BUILD.1
        );
        assert!(text.lines().any(|l| l == build), "{text}");
    }

    #[test]
    fn the_own_process_is_read_from_proc() {
        let stat = "4711 (super visor) S 1 4711 4711 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 \
                    5 0 12345 1000000 300 18446744073709551615";
        let proc_stat = "cpu  1 2 3\nbtime 1700000000\nprocesses 99\n";
        let read = parse(stat, proc_stat, 100.0, 4096, 9).unwrap();
        assert_eq!(read.cpu_seconds, 3.0);
        assert_eq!(read.resident_bytes, 300 * 4096);
        assert_eq!(read.virtual_bytes, 1_000_000);
        assert_eq!(read.start_time_seconds, 1_700_000_123.45);
        assert_eq!(read.open_fds, 9);
        let real = SelfProcess::read().expect("/proc/self");
        assert!(real.resident_bytes > 0 && real.open_fds >= 3, "{real:?}");
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
