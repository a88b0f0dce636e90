//! The operator's commands on named components — `start ID…`, `stop ID…`, `restart ID…`,
//! `signal ID… SIG` — as the daemon answers them: unknown ids refused with the known ones,
//! starts answered once ready or with each failure and its reason.

use std::time::Instant;

use actors::ids::IdIndex;
use actors::messages::{Action, Operate, OperateError};
use actors::process::ProcessTable;
use actors::status::StatusBoard;
use nix::sys::signal::Signal;

use super::protocol::{ErrorKind, Reply};
use super::wait;
use crate::registry::parse_signal;

/// The refusal of `ids` that the tree does not have (naming the known ones), if any.
pub fn refuse_unknown(index: &IdIndex, ids: &[String]) -> Option<Reply> {
    let unknown: Vec<&str> = ids
        .iter()
        .filter(|id| !index.contains(id))
        .map(String::as_str)
        .collect();
    if unknown.is_empty() {
        return None;
    }
    let known = index.ids();
    let message = crate::suggest::unknown_ids(&unknown, known.iter().map(String::as_str));
    Some(Reply::error(ErrorKind::UnknownId, message))
}

/// Carries out `action` on each of `ids` (known ids) at once. A start or restart is answered
/// once each is ready; by `deadline`, those that are not are named with their last error.
pub async fn operate(
    index: IdIndex,
    board: StatusBoard,
    action: Action,
    ids: Vec<String>,
    deadline: Instant,
) -> Reply {
    // Each is queued now: awaiting them in turn waits for the slowest, not the sum.
    // Straight to the group that owns each (the id index), not down the tree.
    let pending: Vec<_> = ids
        .iter()
        .map(|id| {
            let owner = index.owner(id);
            let operate = Operate {
                id: id.clone(),
                action,
            };
            (owner.map(|owner| owner.send(operate)), id.clone())
        })
        .collect();
    let all = async {
        let mut answers = Vec::with_capacity(pending.len());
        for (answer, id) in pending {
            // None or a mailbox error: a reload removed it (or its group) since the request
            // was checked.
            let answered = match answer {
                Some(answer) => answer.await.ok(),
                None => None,
            };
            answers.push(answered.unwrap_or(Err(OperateError::UnknownId(id))));
        }
        answers
    };
    let in_time = tokio::time::Instant::from_std(deadline);
    let answers = tokio::time::timeout_at(in_time, all).await;
    // Past the deadline, the board says why.
    let answered = answers.is_ok();
    let mut all_started = answered;
    for answer in answers.unwrap_or_default() {
        match answer {
            Err(OperateError::Busy(reason)) => {
                return Reply::error(ErrorKind::Busy, format!("busy: {reason}"));
            }
            Err(error @ OperateError::UnknownId(_)) => {
                return Reply::error(ErrorKind::UnknownId, error.to_string());
            }
            Ok(()) => {}
            Err(OperateError::NotStarted(_)) => all_started = false,
        }
    }
    if action == Action::Stop && answered {
        return Reply::Ok;
    }
    // Started: watched while they settle. Else: why, now.
    let until = if all_started {
        deadline
    } else {
        Instant::now()
    };
    match wait::until_ready(&board, Some(&ids), until).await {
        Ok(()) => Reply::Ok,
        Err(not_ready) => Reply::error(
            ErrorKind::NotStarted,
            not_ready.component_lines().join("\n"),
        ),
    }
}

/// Sends `signal` to the process group of each of `ids` (known ids) that runs; names those
/// that do not.
pub fn signal(
    board: &StatusBoard,
    processes: &ProcessTable,
    ids: &[String],
    signal: &str,
) -> Reply {
    let parsed = parse_signal(signal).and_then(|number| {
        Signal::try_from(number).map_err(|_| format!("`{signal}` is not a signal"))
    });
    let signal = match parsed {
        Ok(signal) => signal,
        Err(message) => return Reply::error(ErrorKind::BadRequest, message),
    };
    let report = board.report();
    let mut refused = Vec::new();
    for id in ids {
        let component = report.components.iter().find(|c| &c.id == id);
        let sent = component
            .and_then(|c| c.pid)
            .is_some_and(|pid| processes.signal_child_group(pid, signal));
        if !sent {
            let state = component.map_or("a group", |c| c.state);
            refused.push(format!("`{id}` is not running ({state}): no signal sent"));
        }
    }
    if refused.is_empty() {
        Reply::Ok
    } else {
        Reply::error(ErrorKind::NotRunning, refused.join("\n"))
    }
}
