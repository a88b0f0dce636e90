//! Waiting for "ready": `start`, `start ID`, `restart ID` and `reload` answer once what they
//! started is ready, or, past a bound, name what is not and why. The bound's default comes
//! from the start conditions of what is waited for.

use std::time::{Duration, Instant};

use actors::spec::start_order;
use actors::spec::{ChildSpec, GroupSpec};
use actors::status::{DaemonPhase, StatusBoard, StatusReport};

/// Added to the start conditions for spawning, a restart or two, and a busy host.
pub const SLACK: Duration = Duration::from_secs(10);
/// How long "ready" must hold before a wait ends: a component whose start condition is met
/// at once (no `startDelay`, no readiness check) and that dies on its first lines (a missing
/// license, a bad argument) has not started.
pub const SETTLE: Duration = Duration::from_secs(1);

/// How long a start of `child` may take: the start delays or readiness timeouts of its levels,
/// one after the other.
pub fn start_bound(child: &ChildSpec) -> Duration {
    match child {
        ChildSpec::Component(component) => match &component.readiness {
            Some(readiness) => readiness.timeout,
            None => component.start_delay,
        },
        ChildSpec::Group(group) => group_bound(group),
    }
}

/// How long a start of the whole `group` may take.
pub fn group_bound(group: &GroupSpec) -> Duration {
    let mut total = Duration::ZERO;
    let mut level: Option<(u32, Duration)> = None;
    for child in start_order(&group.children) {
        let bound = start_bound(child);
        level = match level {
            Some((priority, longest)) if priority == child.start_priority() => {
                Some((priority, longest.max(bound)))
            }
            Some((_, longest)) => {
                total += longest;
                Some((child.start_priority(), bound))
            }
            None => Some((child.start_priority(), bound)),
        };
    }
    total + level.map_or(Duration::ZERO, |(_, longest)| longest)
}

/// The default wait for the children of `root` named `ids` (each on its own; they start
/// together), slack included.
pub fn bound_for(root: &GroupSpec, ids: &[String]) -> Duration {
    fn find<'a>(group: &'a GroupSpec, id: &str) -> Option<&'a ChildSpec> {
        group.children.iter().find_map(|child| match child {
            _ if child.id() == id => Some(child),
            ChildSpec::Group(nested) => find(nested, id),
            ChildSpec::Component(_) => None,
        })
    }
    let longest = ids
        .iter()
        .filter_map(|id| find(root, id))
        .map(start_bound)
        .max()
        .unwrap_or_default();
    longest + SLACK
}

/// `timeout` from now, or a year from now when that is further than a clock can say.
pub fn deadline(timeout: Duration) -> Instant {
    let now = Instant::now();
    let year = Duration::from_secs(365 * 24 * 3600);
    now.checked_add(timeout.min(year)).unwrap_or(now)
}

/// What is still not ready among `ids` (every component when `ids` is `None`), each with why;
/// a component still running a process listed in `stale` is not ready either (it is to be
/// restarted).
pub fn not_ready(
    report: &StatusReport,
    ids: Option<&[String]>,
    stale: &[(String, u32)],
) -> Vec<(String, String)> {
    let wanted = |id: &String| ids.is_none_or(|ids| ids.contains(id));
    let mut not_ready: Vec<(String, String)> = report
        .not_ready()
        .into_iter()
        .filter(|(id, _)| wanted(id))
        .collect();
    for component in &report.components {
        let old = stale
            .iter()
            .any(|(id, pid)| *id == component.id && component.pid == Some(*pid));
        if old && wanted(&component.id) && !not_ready.iter().any(|(id, _)| *id == component.id) {
            not_ready.push((component.id.clone(), "still its old process".into()));
        }
    }
    not_ready
}

/// Why a wait ended without everything ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotReady {
    /// Each component not ready, with why.
    pub components: Vec<(String, String)>,
    /// The daemon is shutting down (and why), so nothing more will start.
    pub stopping: Option<String>,
    /// How long was waited.
    pub waited: Duration,
}

impl NotReady {
    /// One line per component.
    pub fn component_lines(&self) -> Vec<String> {
        self.components
            .iter()
            .map(|(id, why)| format!("`{id}` did not start: {why}"))
            .collect()
    }

    /// One line per component, then the daemon's own state, for the operator.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = self.component_lines();
        match &self.stopping {
            Some(reason) => lines.push(format!("the daemon is shutting down: {reason}")),
            None => lines.push(format!(
                "not ready after {:.1}s (the daemon keeps trying)",
                self.waited.as_secs_f64()
            )),
        }
        lines
    }
}

/// Waits until the components `ids` (all when `None`) are ready, the daemon stops, or
/// `deadline`. Wakes only when the board changes.
pub async fn until_ready(
    board: &StatusBoard,
    ids: Option<&[String]>,
    deadline: Instant,
) -> Result<(), NotReady> {
    until_ready_anew(board, ids, &[], deadline).await
}

/// After a reload: waits until the components it `started` (added or restarted) are ready
/// with a process that did not run `before`; one line for each that is not by `deadline`.
pub async fn until_restarted(
    board: &StatusBoard,
    started: &[String],
    before: &StatusReport,
    deadline: Instant,
) -> Vec<String> {
    let stale: Vec<(String, u32)> = before
        .components
        .iter()
        .filter(|c| started.contains(&c.id))
        .filter_map(|c| Some((c.id.clone(), c.pid?)))
        .collect();
    match until_ready_anew(board, Some(started), &stale, deadline).await {
        Ok(()) => Vec::new(),
        Err(not_ready) => not_ready.component_lines(),
    }
}

/// As [`until_ready`], a process in `stale` not counting as ready.
async fn until_ready_anew(
    board: &StatusBoard,
    ids: Option<&[String]>,
    stale: &[(String, u32)],
    deadline: Instant,
) -> Result<(), NotReady> {
    let begun = Instant::now();
    let mut changes = board.subscribe();
    let mut ready_since: Option<Instant> = None;
    loop {
        changes.mark_unchanged();
        let report = board.report();
        let components = not_ready(&report, ids, stale);
        let stopping = match &report.phase {
            DaemonPhase::Stopping { reason, .. } => Some(reason.clone()),
            DaemonPhase::Starting | DaemonPhase::Running => None,
        };
        let now = Instant::now();
        ready_since = match (components.is_empty() && stopping.is_none(), ready_since) {
            (false, _) => None,
            (true, since) => Some(since.unwrap_or(now)),
        };
        let settled = ready_since.is_some_and(|since| now >= since + SETTLE || now >= deadline);
        if settled {
            return Ok(());
        }
        let gave_up = || NotReady {
            components: components.clone(),
            stopping: stopping.clone(),
            waited: begun.elapsed(),
        };
        if stopping.is_some() {
            return Err(gave_up());
        }
        let wake = ready_since.map_or(deadline, |since| deadline.min(since + SETTLE));
        match tokio::time::timeout_at(wake.into(), changes.changed()).await {
            Ok(Ok(())) => {}
            // Settled, or the deadline: the next round says which.
            Err(_) if ready_since.is_some() => {}
            Ok(Err(_)) | Err(_) => return Err(gave_up()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn levels_add_up_and_a_level_waits_for_its_slowest() {
        let text = "<supervisor><servers>\
              <server id='a'><executable>x</executable><startDelay>2</startDelay></server>\
              <server id='b'><executable>x</executable><startDelay>5</startDelay></server>\
              <server id='c'><executable>x</executable><startPriority>2</startPriority>\
                <readiness tcp='127.0.0.1:1' timeout='30'/></server>\
              <group id='g'><startPriority>3</startPriority>\
                <server id='d'><executable>x</executable><startDelay>1</startDelay></server>\
              </group>\
            </servers></supervisor>";
        let registry = crate::registry::parse(Path::new("/r.xml"), text).unwrap();
        let root = &registry.tree.root;
        assert_eq!(group_bound(root), Duration::from_secs(5 + 30 + 1));
        assert_eq!(
            bound_for(root, &["a".into(), "c".into()]),
            Duration::from_secs(30) + SLACK
        );
        assert_eq!(
            bound_for(root, &["d".into()]),
            Duration::from_secs(1) + SLACK
        );
        assert_eq!(
            bound_for(root, &["g".into()]),
            Duration::from_secs(1) + SLACK
        );
    }
}
