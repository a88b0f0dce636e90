//! What `check` verifies before anything runs, apart from the registry's syntax: each
//! component's executable exists and may be executed by the user it runs as (a bare name
//! looked up in `PATH` as a spawn does), its working directory exists, its exec probes exist.
//! Each problem is placed at the server's element in the registry (`path:line:col`).
//!
//! It only reads the file system: `run` and `start` still accept a registry with such
//! problems (a file may appear later) and report the failed starts.

use std::collections::HashMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use actors::process::resolve_executable;
use actors::spec::{ComponentSpec, Probe};
use serde::Serialize;

use crate::registry::{LineIndex, Registry};

/// One environment problem, at the element it concerns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The registry file.
    pub path: PathBuf,
    /// 1-based line of the server's element.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    /// The component.
    pub component: String,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Problem {
            path,
            line,
            column,
            component,
            message,
        } = self;
        write!(
            f,
            "{}:{line}:{column}: `{component}`: {message}",
            path.display()
        )
    }
}

/// Every environment problem of `registry`, in start order.
pub fn problems(registry: &Registry) -> Vec<Problem> {
    let text = std::fs::read_to_string(&registry.path).unwrap_or_default();
    let document = roxmltree::Document::parse(&text).ok();
    // Each server's place, looked up once (10,000 servers: a search and a scan each was 2 s).
    let servers: HashMap<&str, usize> = (document.iter())
        .flat_map(|document| document.descendants())
        .filter(|node| node.has_tag_name("server"))
        .filter_map(|node| Some((node.attribute("id")?, node.range().start)))
        .collect();
    let lines = LineIndex::new(&text);
    let place = |id: &str| servers.get(id).map_or((1, 1), |&at| lines.position(at));
    let mut found = Vec::new();
    for component in registry.tree.root.components() {
        let problems = component_problems(component);
        if problems.is_empty() {
            continue;
        }
        let (line, column) = place(&component.id);
        for message in problems {
            found.push(Problem {
                path: registry.path.clone(),
                line,
                column,
                component: component.id.clone(),
                message,
            });
        }
    }
    found
}

/// What is wrong with what `component` needs from the file system.
fn component_problems(component: &ComponentSpec) -> Vec<String> {
    let command = &component.command;
    // What it may run and read depends on the user it runs as.
    if let Some(why) = &command.unknown_user {
        return vec![format!("`<user>`: {why}")];
    }
    let (uid, groups) = match &command.user {
        Some(user) => (user.uid, [vec![user.gid], user.groups.clone()].concat()),
        None => (nix::unistd::geteuid().as_raw(), current_groups()),
    };
    let who = match &command.user {
        Some(user) => format!("user `{}`", user.name),
        None => "the daemon's user".to_string(),
    };
    let mut problems = Vec::new();
    let mut program = |what: &str, executable: &Path| {
        if let Some(problem) = not_executable(executable, uid, &groups, &who) {
            problems.push(format!("{what} {problem}"));
        }
    };
    program("executable", &command.executable);
    let probes = [
        component
            .readiness
            .as_ref()
            .map(|r| ("readiness", &r.probe)),
        component
            .health_check
            .as_ref()
            .map(|h| ("health check", &h.probe)),
    ];
    for (check, probe) in probes.into_iter().flatten() {
        if let Probe::Exec { program: path, .. } = probe {
            program(&format!("{check} program"), path);
        }
    }
    if let Some(directory) = &command.working_directory {
        match std::fs::metadata(directory) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => problems.push(format!(
                "working directory {} is not a directory",
                directory.display()
            )),
            Err(error) => problems.push(format!(
                "working directory {}: {error}",
                directory.display()
            )),
        }
    }
    problems
}

/// Why `executable` cannot be run by `uid` (with `groups`), if it cannot.
fn not_executable(executable: &Path, uid: u32, groups: &[u32], who: &str) -> Option<String> {
    let shown = executable.display();
    let path = match resolve_executable(executable) {
        Ok(path) => path,
        Err(_) => return Some(format!("`{shown}` is not found in PATH")),
    };
    let meta = match std::fs::metadata(&path) {
        Ok(meta) => meta,
        Err(error) => return Some(format!("{}: {error}", path.display())),
    };
    if !meta.is_file() {
        return Some(format!("{} is not a file", path.display()));
    }
    let mode = meta.permissions().mode();
    let bit = if uid == 0 {
        0o111
    } else if meta.uid() == uid {
        0o100
    } else if groups.contains(&meta.gid()) {
        0o010
    } else {
        0o001
    };
    (mode & bit == 0).then(|| format!("{} may not be executed by {who}", path.display()))
}

fn current_groups() -> Vec<u32> {
    let mut groups = vec![nix::unistd::getegid().as_raw()];
    groups.extend(
        nix::unistd::getgroups()
            .unwrap_or_default()
            .iter()
            .map(|group| group.as_raw()),
    );
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_programs_and_directories_are_named_where_their_server_is() {
        let dir = tempfile::tempdir().unwrap();
        let registry_path = dir.path().join("r.xml");
        let text = "<supervisor><servers>\n\
              <server id='ok'><executable>/bin/sh</executable></server>\n\
              <server id='gone'><executable>/no/such/program</executable></server>\n\
              <server id='bare'><executable>no-such-program-anywhere</executable>\n\
                <workingDirectory>/no/such/dir</workingDirectory></server>\n\
            </servers></supervisor>";
        std::fs::write(&registry_path, text).unwrap();
        let registry = crate::registry::load(&registry_path).unwrap();
        let found: Vec<String> = problems(&registry)
            .iter()
            .map(ToString::to_string)
            .collect();
        let at = registry_path.display();
        assert_eq!(
            found,
            [
                format!(
                    "{at}:3:1: `gone`: executable /no/such/program: No such file or \
                     directory (os error 2)"
                ),
                format!(
                    "{at}:4:1: `bare`: executable `no-such-program-anywhere` is not found in PATH"
                ),
                format!(
                    "{at}:4:1: `bare`: working directory /no/such/dir: No such file or \
                     directory (os error 2)"
                ),
            ]
        );
    }

    #[test]
    fn the_execute_bit_is_read_for_the_user_that_runs_it() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("script");
        std::fs::write(&script, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o744)).unwrap();
        let owner = std::fs::metadata(&script).unwrap().uid();
        assert_eq!(not_executable(&script, owner, &[], "me"), None);
        let other = owner.wrapping_add(1).max(1);
        let refused = not_executable(&script, other, &[], "user `x`").unwrap();
        assert!(
            refused.ends_with("may not be executed by user `x`"),
            "{refused}"
        );
        assert_eq!(not_executable(&script, 0, &[], "root"), None);
    }
}
