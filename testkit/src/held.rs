//! A pipe kept open after its process exited, as a descendant that escaped its component
//! keeps it where no cgroup kills it: the test itself opens the component's stdout through
//! `/proc/PID/fd/1` while the process runs, then stops the component.

use std::fs::{File, OpenOptions};
use std::io::Write;

use crate::{DEADLINE, Daemon, xml_escape};

/// The line the component of [`last_words`] leaves under way (no newline).
pub const LAST_WORDS: &str = "last words";

/// A `temporary` `<server>` `id` that prints [`LAST_WORDS`] without a newline, then sleeps.
pub fn last_words(id: &str) -> String {
    let script = format!("printf '{LAST_WORDS}'; exec sleep 1000");
    format!(
        "<server id=\"{id}\"><executable>/bin/sh</executable><arguments>\
         <argument>-c</argument><argument>{}</argument></arguments>\
         <restart>temporary</restart></server>",
        xml_escape(&script)
    )
}

/// Opens the stdout pipe of process `pid` for writing, as a descendant of it would hold it.
pub fn hold_stdout(pid: u32) -> File {
    OpenOptions::new()
        .write(true)
        .open(format!("/proc/{pid}/fd/1"))
        .expect("open the process's stdout pipe through /proc")
}

/// Whether the daemon no longer reads the pipe `holder` writes to: a write fails with `EPIPE`.
pub fn abandoned(holder: &mut File) -> bool {
    let write = holder.write_all(b"after\n");
    write.is_err_and(|error| error.kind() == std::io::ErrorKind::BrokenPipe)
}

/// Opens the stdout pipe of [`last_words`] component `id` (started) for writing, stops the
/// component, and waits until its line under way is delivered as its last: the pipe is still
/// open (the returned holder) and its process is gone.
pub fn hold_stdout_and_stop(daemon: &mut Daemon, id: &str) -> File {
    let pid = daemon.started_pid(id);
    let holder = hold_stdout(pid);
    let out = daemon.cli(&["stop", id], DEADLINE);
    assert!(out.status.success(), "stop {id}: {out:?}");
    daemon.wait_event("component_stopped", id);
    daemon.wait_for("the line under way, delivered as the last", |e| {
        e["event"] == "component_output" && e["component"] == id && e["line"] == LAST_WORDS
    });
    holder
}
