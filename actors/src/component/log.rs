//! The component's log events (SPEC section 5): the machine names an [`Event`], this writes it
//! with the component's id, its group and a message. Names come from [`crate::events`] only.

use super::machine::{Event, Reason};
use super::ComponentActor;
use crate::events;
use crate::policy::ExitStatus;

impl ComponentActor {
    pub(super) fn log(&self, event: Event) {
        let (component, group) = (&self.record.spec.id, &self.group);
        match event {
            Event::Starting => tracing::info!(
                event = events::COMPONENT_STARTING,
                component = %component,
                group = %group,
                command = %self.record.spec.command.display(),
                "starting {component}"
            ),
            Event::Started { pid } => tracing::info!(
                event = events::COMPONENT_STARTED,
                component = %component,
                group = %group,
                pid,
                "{component} started with pid {pid}"
            ),
            Event::SpawnFailed { error } => tracing::error!(
                event = events::COMPONENT_SPAWN_FAILED,
                component = %component,
                group = %group,
                error = %error,
                "{component} could not be started: {error}"
            ),
            Event::Ready { pid } => tracing::info!(
                event = events::COMPONENT_READY,
                component = %component,
                group = %group,
                pid,
                after_ms = self.run.as_ref().map_or(0, |run| run.since.elapsed().as_millis() as u64),
                "{component} is ready"
            ),
            Event::NotReady { pid, within } => tracing::warn!(
                event = events::COMPONENT_NOT_READY,
                component = %component,
                group = %group,
                pid,
                error = %Reason::NotReady { within },
                "{component} did not become ready in time"
            ),
            Event::Unhealthy { pid, check } => tracing::warn!(
                event = events::COMPONENT_UNHEALTHY,
                component = %component,
                group = %group,
                pid,
                check = check.name(),
                error = %Reason::Unhealthy(check),
                "{component} failed its {}", check.name()
            ),
            Event::Stopping { pid, signal } => tracing::info!(
                event = events::COMPONENT_STOPPING,
                component = %component,
                group = %group,
                pid,
                signal = signal.as_str(),
                "stopping {component} (pid {pid}) with {}", signal.as_str()
            ),
            Event::Killed { pid } => tracing::warn!(
                event = events::COMPONENT_KILLED,
                component = %component,
                group = %group,
                pid,
                "{component} did not stop within {:?}: killed", self.record.spec.stop_timeout
            ),
            Event::Stopped { pid } => tracing::info!(
                event = events::COMPONENT_STOPPED,
                component = %component,
                group = %group,
                pid,
                "{component} stopped"
            ),
            Event::Exited {
                pid,
                status,
                uptime,
                expected,
            } => self.log_exit(pid, status, uptime.as_millis() as u64, expected),
            Event::Unexpected { input, state, pid } => tracing::debug!(
                event = events::UNEXPECTED_MESSAGE,
                component = %component,
                input,
                pid,
                state,
                "{input} is not expected by {component} while {state}"
            ),
        }
    }

    fn log_exit(&self, pid: u32, status: ExitStatus, uptime_ms: u64, expected: bool) {
        let (component, group) = (&self.record.spec.id, &self.group);
        let (code, signal) = match status {
            ExitStatus::Code(code) => (Some(code), None),
            ExitStatus::Signal(signal) => (None, Some(signal)),
        };
        macro_rules! exited {
            ($level:ident) => {
                tracing::$level!(
                    event = events::COMPONENT_EXITED,
                    component = %component,
                    group = %group,
                    pid,
                    code,
                    signal,
                    uptime_ms,
                    expected,
                    "{component} (pid {pid}) exited: {status:?}"
                )
            };
        }
        if expected {
            exited!(info);
        } else {
            exited!(warn);
        }
    }
}
