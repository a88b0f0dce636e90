//! `supervisor check`: the resolved tree as an operator reads it — start order, supervision
//! settings, the effective command line and every effective setting of each component — and
//! the environment problems [`preflight`] finds. Exit 0 valid, 1 valid but the environment has
//! problems (each named, `path:line:col`), 2 invalid (decided before this runs).

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use actors::spec::start_order;
use actors::spec::{
    ChildSpec, CommandSpec, ComponentSpec, GroupSpec, Probe, ProcessSettings, Strategy, UNLIMITED,
};
use serde_json::{Value, json};

use crate::preflight;
use crate::registry::Registry;
use crate::verbs::{EXIT_FAILURE, Out};

/// `check`: the tree and the problems, as text or JSON.
pub fn run(registry: &Registry, out: Out) -> ExitCode {
    let problems = preflight::problems(registry);
    if out.json {
        let value = json!({
            "registry": registry.path,
            "valid": true,
            "problems": problems,
            "components": registry.tree.root.components().iter().map(|c| settings(c)).collect::<Vec<_>>(),
        });
        println!("{value}");
    } else {
        print!("{}", render(registry));
        for problem in &problems {
            eprintln!("error: {problem}");
        }
        if !problems.is_empty() {
            let count = problems.len();
            println!(
                "environment: {count} problem(s): the components concerned will fail to start"
            );
        }
    }
    match problems.is_empty() {
        true => ExitCode::SUCCESS,
        false => ExitCode::from(EXIT_FAILURE),
    }
}

/// Every effective setting of a component, for `check --json`.
fn settings(c: &ComponentSpec) -> Value {
    json!({
        "id": c.id,
        "description": c.description,
        "command": c.command.display(),
        "working_directory": c.command.working_directory,
        "user": c.command.user.as_ref().map(|user| &user.name),
        "unknown_user": c.command.unknown_user,
        "inherit_environment": c.command.inherit_environment,
        "environment": c.command.environment.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
        "start_priority": c.start_priority,
        "autostart": c.autostart,
        "started_when": started_when(c),
        "start_delay_s": c.start_delay.as_secs_f64(),
        "readiness_timeout_s": c.readiness.as_ref().map(|r| r.timeout.as_secs_f64()),
        "stop_signal": crate::signals::name(c.stop_signal),
        "stop_timeout_s": c.stop_timeout.as_secs_f64(),
        "restart": format!("{:?}", c.restart).to_lowercase(),
        "success_exit_codes": c.success_exit_codes,
        "backoff": {
            "initial_s": c.backoff.initial.as_secs_f64(),
            "max_s": c.backoff.max.as_secs_f64(),
            "multiplier": c.backoff.multiplier,
            "reset_s": c.backoff.reset.as_secs_f64(),
        },
        "health_check": c.health_check.as_ref().map(|h| describe_probe(&h.probe)),
        "output": {
            "stdout": format!("{:?}", c.output.stdout).to_lowercase(),
            "stderr": format!("{:?}", c.output.stderr).to_lowercase(),
            "log": c.output.log,
            "file": c.output.file,
            "max_size": c.output.max_size,
            "keep": c.output.keep,
            "timestamps": c.output.timestamps,
            "overflow": format!("{:?}", c.output.overflow).to_lowercase(),
        },
    })
}

/// What decides that the component has started: its readiness check, else its start delay.
fn started_when(c: &ComponentSpec) -> String {
    match &c.readiness {
        Some(readiness) => format!(
            "ready: {} (within {})",
            describe_probe(&readiness.probe),
            seconds(readiness.timeout)
        ),
        None if c.start_delay.is_zero() => "at once (no startDelay, no readiness)".into(),
        None => format!("still running after startDelay {}", seconds(c.start_delay)),
    }
}

/// `60s`, `0.1s`.
fn seconds(duration: Duration) -> String {
    format!("{}s", duration.as_secs_f64())
}

/// Renders the resolved registry.
pub fn render(registry: &Registry) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "registry {}: valid", registry.path.display());
    let _ = writeln!(out, "root {}", describe_group(&registry.tree.root));
    render_children(&registry.tree.root, 1, &mut out);
    render_paths(registry, &mut out);
    out
}
fn describe_group(group: &GroupSpec) -> String {
    let strategy = match group.strategy {
        Strategy::OneForOne => "one_for_one",
        Strategy::OneForAll => "one_for_all",
        Strategy::RestForOne => "rest_for_one",
    };
    match group.intensity {
        Some(intensity) => format!(
            "({strategy}, at most {} restarts in {:?})",
            intensity.max_restarts, intensity.period
        ),
        None => format!("({strategy}, never gives up)"),
    }
}

fn describe_probe(probe: &Probe) -> String {
    match probe {
        Probe::Tcp { address } => format!("tcp {address} connects"),
        Probe::Http { host, path, .. } => format!("GET http://{host}{path} answers 2xx"),
        Probe::Exec { program, arguments } => {
            format!(
                "`{}` exits 0",
                std::iter::once(program.display().to_string())
                    .chain(arguments.iter().cloned())
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        }
        Probe::Notify { watchdog: None } => "it sends READY=1".into(),
        Probe::Notify {
            watchdog: Some(period),
        } => {
            format!("it sends READY=1 (then WATCHDOG=1 every {period:?})")
        }
        Probe::Socket => "it runs (its held sockets queue clients)".into(),
    }
}

/// The settings of a component after its command line, one a line.
fn setting_lines(c: &ComponentSpec) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(directory) = &c.command.working_directory {
        lines.push(format!("in {}", directory.display()));
    }
    if let Some(user) = &c.command.user {
        lines.push(format!("as user {}", user.name));
    }
    if let Some(why) = &c.command.unknown_user {
        lines.push(format!("as a user this host does not have: {why}"));
    }
    lines.push(format!("started when {}", started_when(c)));
    if let Some(health) = &c.health_check {
        lines.push(format!(
            "healthy while {} (every {:?}, {} failures)",
            describe_probe(&health.probe),
            health.interval,
            health.failures
        ));
    }
    lines.push(format!(
        "stopped by {}, killed after {}",
        crate::signals::name(c.stop_signal),
        seconds(c.stop_timeout)
    ));
    let codes: Vec<String> = c
        .success_exit_codes
        .iter()
        .map(ToString::to_string)
        .collect();
    let b = &c.backoff;
    lines.push(format!(
        "success exit codes {}; backoff {} x{} up to {}, reset after {} up",
        codes.join(","),
        seconds(b.initial),
        b.multiplier,
        seconds(b.max),
        seconds(b.reset)
    ));
    let o = &c.output;
    let mut output = format!("stdout {:?}, stderr {:?}", o.stdout, o.stderr).to_lowercase();
    if o.log {
        output.push_str(", lines to the daemon's log");
    }
    if let Some(file) = &o.file {
        output.push_str(&format!(", to {}", file.display()));
    }
    lines.push(format!("output: {output}"));
    lines
}

fn render_children(group: &GroupSpec, depth: usize, out: &mut String) {
    let indent = "  ".repeat(depth);
    for (position, child) in start_order(&group.children).into_iter().enumerate() {
        let number = position + 1;
        match child {
            ChildSpec::Component(component) => {
                let autostart = if component.autostart {
                    ""
                } else {
                    ", autostart=false"
                };
                let _ = writeln!(
                    out,
                    "{indent}{number}. {} [priority {}, {:?}{autostart}] {}",
                    component.id,
                    component.start_priority,
                    component.restart,
                    component.command.display()
                );
                for line in setting_lines(component) {
                    let _ = writeln!(out, "{indent}   {line}");
                }
                for socket in &component.sockets {
                    let _ = writeln!(
                        out,
                        "{indent}   socket {} on {} (backlog {})",
                        socket.name, socket.listen, socket.backlog
                    );
                }
                render_process(&component.command, &indent, out);
            }
            ChildSpec::Group(nested) => {
                let _ = writeln!(
                    out,
                    "{indent}{number}. group {} [priority {}] {}",
                    nested.id,
                    nested.start_priority,
                    describe_group(nested)
                );
                render_children(nested, depth + 1, out);
            }
        }
    }
}

/// The folders and files the registry resolves to: `<home>`, the included files, the log and
/// the temp folder.
fn render_paths(registry: &Registry, out: &mut String) {
    let config = &registry.config;
    let _ = writeln!(out, "home {}", config.home.display());
    for include in &registry.includes {
        let _ = writeln!(out, "included {}", include.display());
    }
    let _ = writeln!(out, "log {}", config.log.display());
    if let Some(temp) = &config.temp {
        let _ = writeln!(out, "temp {}", temp.display());
    }
}

/// A component's working directory, environment files and process settings, where it has any
/// (the process settings where they are not the defaults).
fn render_process(command: &CommandSpec, indent: &str, out: &mut String) {
    if let Some(directory) = &command.working_directory {
        let _ = writeln!(out, "{indent}   in {}", directory.display());
    }
    for file in &command.environment_files {
        let _ = writeln!(out, "{indent}   environment file {}", file.display());
    }
    let settings = &command.settings;
    if *settings == ProcessSettings::DEFAULT {
        return;
    }
    let mut parts: Vec<String> = (settings.limits.iter())
        .map(|limit| {
            let side = |value: Option<u64>| match value {
                None => "default".to_string(),
                Some(UNLIMITED) => "unlimited".to_string(),
                Some(n) => n.to_string(),
            };
            let (soft, hard) = (side(limit.soft), side(limit.hard));
            format!("{} {soft}:{hard}", limit.resource.name())
        })
        .collect();
    if let Some(nice) = settings.nice {
        parts.push(format!("nice {nice}"));
    }
    parts.push(format!("umask {:04o}", settings.umask));
    if let Some(score) = settings.oom_score_adjust {
        parts.push(format!("oomScoreAdjust {score}"));
    }
    let _ = writeln!(out, "{indent}   process {}", parts.join(", "));
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn every_group_shows_its_strategy_intensity_and_period() {
        let text = "<supervisor><servers>\
              <group id='platform'>\
                <restartStrategy type='rest_for_one' intensity='3' period='10'/>\
                <server id='ps'><executable>x</executable></server>\
                <group id='inner'><server id='a'><executable>x</executable></server></group>\
              </group>\
            </servers></supervisor>";
        let registry = crate::registry::parse(Path::new("/etc/sv/r.xml"), text).unwrap();
        let out = render(&registry);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[1], "root (one_for_one, never gives up)", "{out}");
        let platform = "  1. group platform [priority 1] (rest_for_one, at most 3 restarts in 10s)";
        assert!(lines.contains(&platform), "{out}");
        let inner = "    2. group inner [priority 1] (one_for_one, at most 5 restarts in 30s)";
        assert!(lines.contains(&inner), "{out}");
    }

    #[test]
    fn paths_under_home_trailing_arguments_last_and_process_settings_are_shown() {
        let text = "<supervisor><config><home>..</home><log>logs/sv.log</log></config>\
              <profiles><profile id='Tomcat'>\
                <executable>jre/bin/java</executable>\
                <trailingArguments><argument>Bootstrap</argument><argument>start</argument></trailingArguments>\
                <limits><nofile soft='4096' hard='8192'/><core soft='unlimited'/></limits>\
              </profile></profiles>\
              <servers><server id='ps'><profile ref='Tomcat'/>\
                <arguments><argument>-Xmx512m</argument></arguments>\
                <workingDirectory>webapps</workingDirectory>\
                <environment file='conf/ps.env'/>\
                <nice>5</nice><umask>027</umask><oomScoreAdjust>-100</oomScoreAdjust>\
              </server></servers></supervisor>";
        let dir = tempfile::tempdir().unwrap();
        let home = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::create_dir(home.join("conf")).unwrap();
        let registry = crate::registry::parse(&home.join("conf/r.xml"), text).unwrap();
        let out = render(&registry).replace(&home.display().to_string(), "/opt/is");
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines.contains(&"home /opt/is"), "{out}");
        assert!(lines.contains(&"log /opt/is/logs/sv.log"), "{out}");
        let ps = "  1. ps [priority 1, Permanent] /opt/is/jre/bin/java -Xmx512m Bootstrap start";
        assert!(lines.contains(&ps), "{out}");
        assert!(lines.contains(&"     in /opt/is/webapps"), "{out}");
        assert!(
            lines.contains(&"     environment file /opt/is/conf/ps.env"),
            "{out}"
        );
        let process = "     process nofile 4096:8192, core unlimited:default, nice 5, umask 0027, \
                       oomScoreAdjust -100";
        assert!(lines.contains(&process), "{out}");
    }

    #[test]
    fn a_root_with_a_restart_strategy_shows_its_limit() {
        let text = "<supervisor><restartStrategy/><servers/></supervisor>";
        let registry = crate::registry::parse(Path::new("/etc/sv/r.xml"), text).unwrap();
        let out = render(&registry);
        assert!(
            out.contains("root (one_for_one, at most 5 restarts in 30s)"),
            "{out}"
        );
    }
}
