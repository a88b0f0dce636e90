//! `supervisor check`: the resolved tree as an operator reads it — start order, supervision
//! settings and the effective command line of every component.

use std::fmt::Write as _;

use actors::spec::{ChildSpec, GroupSpec, Probe, Strategy};
use actors::tree::start_order;

use crate::registry::Registry;
use crate::verbs::Out;

/// `check`: the resolved tree (text), or the registry as JSON.
pub fn run(registry: &Registry, out: Out) -> std::process::ExitCode {
    let value = serde_json::json!({ "registry": registry.path, "valid": true });
    out.done(render(registry).trim_end(), value)
}

/// Renders the resolved registry.
pub fn render(registry: &Registry) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "registry {}: valid", registry.path.display());
    let _ = writeln!(out, "root {}", describe_group(&registry.tree.root));
    render_children(&registry.tree.root, 1, &mut out);
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
    }
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
                if let Some(readiness) = &component.readiness {
                    let _ = writeln!(
                        out,
                        "{indent}   ready when {}",
                        describe_probe(&readiness.probe)
                    );
                }
                if let Some(health) = &component.health_check {
                    let _ = writeln!(
                        out,
                        "{indent}   healthy while {} (every {:?}, {} failures)",
                        describe_probe(&health.probe),
                        health.interval,
                        health.failures
                    );
                }
                if let Some(file) = &component.output.file {
                    let _ = writeln!(out, "{indent}   output to {}", file.display());
                }
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
