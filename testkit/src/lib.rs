//! The test kit of the supervisor: everything the integration tests and the benches share to run
//! the real `supervisor` binary on real processes. [`Daemon`] runs a daemon on a registry written
//! into a fresh temporary directory and waits for its JSON events with a deadline (never a bare
//! sleep); [`registry`] and [`standin_server`] write registries around the `standin` program
//! (this package's binary); the `/proc` readers look at processes from outside; [`skip!`] and
//! [`harness`] make a test that cannot run on this host say so and be counted.
//!
//! It must never be installed or published: it is a workspace member only so that one
//! `cargo build` builds `standin` too.

pub mod daemon;
pub mod events;
pub mod floods;
pub mod harness;
pub mod held;
pub mod lean;
pub mod procfs;
pub mod programs;
pub mod registry;
pub mod skip;
pub mod soak;

use std::time::Duration;

pub use daemon::{Daemon, daemon_command, events_of, pid_of};
pub use events::{
    eventually, eventually_within, monotonic_ns, read_json_when_ready, realtime_ns,
    seconds_between, timestamp_ns, timestamp_secs,
};
pub use procfs::{
    ProcStat, alive, catches_sigterm, children_of, descendants, fd_count, in_proc_table, kill,
    live_group_members, proc_args, proc_cmdline, proc_environment, proc_stat, proc_variable,
    processes, status_mask, tcp_listener_inode, zombie_children,
};
pub use programs::{standin, supervisor_bin, use_supervisor};
pub use registry::{
    FAST, NO_BACKOFF, cli_command, free_port, idle, killed_on_stop, registry, run_bounded,
    standin_server, supervisor, xml_escape,
};

/// How long any single wait may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(10);
