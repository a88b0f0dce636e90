//! The daemon: wiring of registry → process table → actor tree → signals, and the orderly
//! shutdown. Nothing here decides a restart; the tree does.

use actix::{Actor, ActorFutureExt, Addr, AsyncContext, Context, Handler, System, WrapFuture};
use actors::group::GroupActor;
use actors::policy::Exit;
use actors::process::ProcessTable;
use actors::{events, tree, ChildExited, Start, Stop};
use anyhow::Context as _;

use crate::registry::Registry;
use crate::signals::{self, DaemonSignal};

/// Exit code after an orderly shutdown.
pub const EXIT_OK: i32 = 0;
/// Exit code when the root group gave up (restart intensity exceeded).
pub const EXIT_GAVE_UP: i32 = 4;

/// Runs the daemon in the foreground until it shuts down; returns the process exit code.
pub fn run(registry: Registry) -> anyhow::Result<i32> {
    ProcessTable::become_subreaper().context("cannot become a child subreaper")?;
    raise_fd_limit();
    if let Some(temp) = &registry.config.temp {
        std::fs::create_dir_all(temp)
            .with_context(|| format!("cannot create temp directory {}", temp.display()))?;
    }
    let table = ProcessTable::new();
    let system = System::new();
    system.block_on(async {
        let daemon = Daemon::create(|ctx| {
            let root = tree::build(&registry.tree, &table, ctx.address().recipient());
            Daemon {
                registry,
                root,
                shutting_down: false,
            }
        });
        signals::spawn(table.clone(), daemon.recipient()).context("cannot install signal handlers")
    })?;
    Ok(system.run_with_code()?)
}

/// Raises the soft limit on open files to the hard limit: every child costs the daemon none,
/// but a large tree with captured output costs a few each.
fn raise_fd_limit() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        if soft < hard {
            let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
        }
    }
}

/// The top of the actor system: owns the root group and the daemon's lifecycle.
struct Daemon {
    registry: Registry,
    root: Addr<GroupActor>,
    shutting_down: bool,
}

impl Daemon {
    fn shutdown(&mut self, reason: &str, exit_code: i32, ctx: &mut Context<Self>) {
        if self.shutting_down {
            return;
        }
        self.shutting_down = true;
        tracing::info!(
            event = events::SUPERVISOR_STOPPING,
            reason,
            "shutting down: {reason}"
        );
        let stopped = self.root.send(Stop).into_actor(self).map(move |_, _, _| {
            tracing::info!(
                event = events::SUPERVISOR_STOPPED,
                exit_code,
                "stopped, exiting with {exit_code}"
            );
            System::current().stop_with_code(exit_code);
        });
        ctx.spawn(stopped);
    }
}

impl Actor for Daemon {
    type Context = Context<Self>;

    fn started(&mut self, _: &mut Context<Self>) {
        tracing::info!(
            event = events::SUPERVISOR_STARTED,
            registry = %self.registry.path.display(),
            pid = std::process::id(),
            components = self.registry.tree.root.components().len(),
            "supervisor started"
        );
        self.root.do_send(Start {
            delay: std::time::Duration::ZERO,
            restart: false,
        });
    }
}

impl Handler<DaemonSignal> for Daemon {
    type Result = ();

    fn handle(&mut self, signal: DaemonSignal, ctx: &mut Context<Self>) {
        match signal {
            DaemonSignal::Shutdown(number) => {
                let reason = format!("signal {}", signals::name(number));
                self.shutdown(&reason, EXIT_OK, ctx);
            }
            DaemonSignal::Reload | DaemonSignal::ReopenLogs => {
                tracing::warn!(
                    ?signal,
                    "this daemon does not reload or reopen logs yet: ignored"
                );
            }
        }
    }
}

/// The root group reports here when it gives up.
impl Handler<ChildExited> for Daemon {
    type Result = ();

    fn handle(&mut self, exited: ChildExited, ctx: &mut Context<Self>) {
        match exited.exit {
            Exit::GaveUp => self.shutdown("restart intensity exceeded", EXIT_GAVE_UP, ctx),
            Exit::Process(_) | Exit::SpawnFailed => {}
        }
    }
}
