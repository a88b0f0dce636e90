//! The component's log events (SPEC section 5): the machine names an [`Event`], this writes it
//! with the component's id, its group and a message. Names come from [`crate::events`] only.

use super::ComponentActor;
use super::machine::{Event, Reason};
use crate::events;
use crate::policy::ExitStatus;

impl ComponentActor {
    pub(super) fn log(&self, event: Event) {
        let (component, group) = (&self.record.spec.id, &self.group);
        // Every event about a component carries `component` and `group`.
        macro_rules! emit {
            ($level:ident, $event:expr, $($rest:tt)*) => {
                tracing::$level!(event = $event, component = %component, group = %group, $($rest)*)
            };
        }
        match event {
            Event::Starting => emit!(
                info,
                events::COMPONENT_STARTING,
                command = %self.record.spec.command.display(),
                "starting"
            ),
            Event::Started { pid } => emit!(
                info,
                events::COMPONENT_STARTED,
                pid,
                "started with pid {pid}"
            ),
            Event::SpawnFailed { error } => emit!(
                error,
                events::COMPONENT_SPAWN_FAILED,
                error = %error,
                "could not be started: {error}"
            ),
            Event::Ready { pid } => {
                let after_ms = self
                    .run
                    .as_ref()
                    .map_or(0, |run| run.since.elapsed().as_millis() as u64);
                emit!(
                    info,
                    events::COMPONENT_READY,
                    pid,
                    after_ms,
                    "ready after {after_ms} ms"
                )
            }
            Event::NotReady { pid, within } => {
                let error = Reason::NotReady { within };
                emit!(warn, events::COMPONENT_NOT_READY, pid, error = %error, "{error}")
            }
            Event::Unhealthy { pid, check } => {
                let error = Reason::Unhealthy(check);
                emit!(
                    warn,
                    events::COMPONENT_UNHEALTHY,
                    pid,
                    check = check.name(),
                    error = %error,
                    "{error}"
                )
            }
            Event::Stopping { pid, signal } => emit!(
                info,
                events::COMPONENT_STOPPING,
                pid,
                signal = signal.as_str(),
                "stopping with {}",
                signal.as_str()
            ),
            Event::Killed { pid } => emit!(
                warn,
                events::COMPONENT_KILLED,
                pid,
                "did not stop within {} ms: killed",
                self.record.spec.stop_timeout.as_millis()
            ),
            Event::Stopped { pid } => {
                emit!(info, events::COMPONENT_STOPPED, pid, "stopped")
            }
            Event::Exited {
                pid,
                status,
                uptime,
                expected,
            } => {
                let uptime_ms = uptime.as_millis() as u64;

                let (code, signal) = match status {
                    ExitStatus::Code(code) => (Some(code), None),
                    ExitStatus::Signal(signal) => (None, Some(signal)),
                };
                // WARN when unexpected, else INFO: the level of a callsite is fixed.
                macro_rules! exited {
                    ($level:ident) => {
                        emit!(
                            $level,
                            events::COMPONENT_EXITED,
                            pid,
                            code,
                            signal,
                            uptime_ms,
                            expected,
                            "{status} after {uptime_ms} ms"
                        )
                    };
                }
                if expected {
                    exited!(info);
                } else {
                    exited!(warn);
                }
            }
            Event::Unexpected { input, state, pid } => tracing::debug!(
                event = events::UNEXPECTED_MESSAGE,
                component = %component,
                input,
                pid,
                state,
                "{input} is not expected while {state}"
            ),
        }
    }
}
