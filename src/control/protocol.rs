//! The control protocol: one JSON request line from the client, one JSON reply line from the
//! daemon. Requests are a closed set; anything else is an error reply, never a dispatch by name.

use serde::{Deserialize, Serialize};

/// The longest request line accepted, in bytes.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// What a client may ask.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// The status of every component.
    Status {},
    /// Start the named components; answered once they are ready, or once the time is up.
    Start {
        /// Component (or group) ids.
        ids: Vec<String>,
        /// How long to wait for them (default: derived from their start conditions).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout_ms: Option<u64>,
    },
    /// Stop the named components; they stay stopped.
    Stop {
        /// Component (or group) ids.
        ids: Vec<String>,
    },
    /// Stop, then start, the named components; answered as `Start`.
    Restart {
        /// Component (or group) ids.
        ids: Vec<String>,
        /// How long to wait for them (default: derived from their start conditions).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout_ms: Option<u64>,
    },
    /// Re-read the registry and apply the difference; answered once what it started is ready
    /// (unless `no_wait`).
    Reload {
        /// Answer once applied, without waiting for what it started.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        no_wait: bool,
        /// How long to wait (default: derived from the start conditions of what it started).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout_ms: Option<u64>,
    },
    /// Orderly shutdown; answered once every component has stopped.
    Shutdown {},
    /// Answered once the tree is ready (SPEC's "ready"), or with what is not once `timeout_ms`
    /// has passed or the daemon gave up.
    WaitReady {
        /// How long to wait.
        timeout_ms: u64,
    },
    /// Send a signal to the process group of each named running component.
    Signal {
        /// Component ids.
        ids: Vec<String>,
        /// The signal's name (`HUP`, `SIGUSR1`) or number.
        signal: String,
    },
    /// Re-execute the daemon from `binary` (default: its own file) with the tree handed over;
    /// answered only when refused.
    Upgrade {
        /// The new executable.
        binary: Option<std::path::PathBuf>,
    },
    /// Answered by a daemon image an upgrade started: `Ok`, or why it was rolled back.
    Upgraded {},
}

/// Why a request failed, for the client's exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The request was not understood (malformed, unknown, too long, too slow).
    BadRequest,
    /// The peer may not talk to this daemon.
    Forbidden,
    /// A named component does not exist.
    UnknownId,
    /// The registry is invalid; nothing changed.
    InvalidRegistry,
    /// The daemon is shutting down or already busy with the same kind of work.
    Busy,
    /// A named component came to rest without starting, or was not ready in time.
    NotStarted,
    /// A named component has no process (for `signal`).
    NotRunning,
    /// An upgrade was refused (nothing changed).
    Refused,
    /// An upgrade was rolled back: the new binary could not restore the tree.
    RolledBack,
}

/// The daemon's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    /// Done.
    Ok,
    /// Not done, and why.
    Error {
        /// The kind, for the exit code.
        kind: ErrorKind,
        /// For the operator.
        message: String,
    },
    /// The answer to `status`.
    Status {
        /// One row per component, in start order.
        components: Vec<StatusRow>,
        /// The daemon's phase: `starting`, `running` or `stopping`. (Defaults to `running`, for
        /// a reply from a daemon older than it.)
        #[serde(default = "running")]
        phase: String,
    },
    /// The answer to `reload`.
    Reloaded {
        /// What changed.
        diff: ReloadSummary,
        /// The components it started that did not become ready, each with why.
        #[serde(default)]
        not_started: Vec<String>,
    },
}

fn running() -> String {
    "running".into()
}

impl Reply {
    /// An error reply.
    pub fn error(kind: ErrorKind, message: impl Into<String>) -> Reply {
        Reply::Error {
            kind,
            message: message.into(),
        }
    }
}

/// One component in `status --json` (exactly the keys of SPEC section 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusRow {
    /// Component id.
    pub id: String,
    /// Path of enclosing groups (`""` for the root).
    pub group: String,
    /// Description.
    pub description: String,
    /// `stopped`, `starting`, `running`, `backoff`, `stopping`, `exited` or `failed`.
    pub state: String,
    /// The process id, while there is a process.
    pub pid: Option<u32>,
    /// How long the process has been running.
    pub uptime_ms: u64,
    /// Resident memory of the component's process group.
    pub rss_bytes: u64,
    /// Restarts so far.
    pub restarts: u32,
    /// How the last process ended.
    pub last_exit: Option<LastExit>,
    /// The last error or verdict in words (`execve: ...`, `gave up`), if any. (Defaults to null,
    /// for a reply from a daemon older than it.)
    #[serde(default)]
    pub reason: Option<String>,
    /// The listening sockets the daemon holds for it (the key only for a component with any).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sockets: Vec<actors::process::sockets::SocketStatus>,
}

/// `{"code":N}` or `{"signal":N}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LastExit {
    /// Exited with this code.
    Code(i32),
    /// Killed by this signal.
    Signal(i32),
}

/// The ids a reload added, removed, changed and updated, how many it left alone, and the
/// `<config>` keys that apply only after a restart. (`updated` and `needs_restart` default to
/// empty, for a reply from a daemon older than they are.)
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReloadSummary {
    /// New components and groups.
    pub added: Vec<String>,
    /// Components and groups no longer in the registry.
    pub removed: Vec<String>,
    /// Components whose effective settings differ (restarted), and groups whose own settings
    /// (strategy, intensity) differ (applied in place: their children are listed on their own).
    pub changed: Vec<String>,
    /// Components whose new settings applied in place, without a new process.
    #[serde(default)]
    pub updated: Vec<String>,
    /// Components left running untouched.
    pub unchanged: usize,
    /// `<config>` keys (`tracelevel`, `tcpport`, ...) that differ from what the daemon runs with
    /// and apply only after a restart of the daemon.
    #[serde(default)]
    pub needs_restart: Vec<String>,
    /// `<config>` keys that differed and were applied at once (`tracestatsinterval`).
    #[serde(default)]
    pub applied: Vec<String>,
    /// `<config>` keys that apply live but could not be applied, each as `KEY: why` (a port
    /// that cannot be bound); what they configure stays as it was.
    #[serde(default)]
    pub not_applied: Vec<String>,
}

/// Decodes one request line.
pub fn decode(line: &[u8]) -> Result<Request, String> {
    if line.len() > MAX_REQUEST_BYTES {
        return Err(format!("request longer than {MAX_REQUEST_BYTES} bytes"));
    }
    let value: serde_json::Value =
        serde_json::from_slice(line).map_err(|error| format!("malformed request: {error}"))?;
    if !value.is_object() {
        return Err("malformed request: not a JSON object".into());
    }
    serde_json::from_value(value).map_err(|error| format!("malformed request: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip() {
        let requests = [
            Request::Status {},
            Request::Start {
                ids: vec!["is".into()],
                timeout_ms: None,
            },
            Request::Stop {
                ids: vec!["a".into(), "b".into()],
            },
            Request::Restart {
                ids: vec![],
                timeout_ms: Some(5000),
            },
            Request::Reload {
                no_wait: false,
                timeout_ms: None,
            },
            Request::Reload {
                no_wait: true,
                timeout_ms: Some(1),
            },
            Request::Shutdown {},
            Request::WaitReady { timeout_ms: 10 },
            Request::Signal {
                ids: vec!["a".into()],
                signal: "HUP".into(),
            },
        ];
        for request in requests {
            let line = serde_json::to_vec(&request).unwrap();
            assert_eq!(decode(&line).unwrap(), request);
        }
    }

    #[test]
    fn requests_of_an_older_client_still_decode() {
        assert_eq!(
            decode(br#"{"command":"reload"}"#).unwrap(),
            Request::Reload {
                no_wait: false,
                timeout_ms: None
            }
        );
        assert_eq!(
            decode(br#"{"command":"start","ids":["a"]}"#).unwrap(),
            Request::Start {
                ids: vec!["a".into()],
                timeout_ms: None
            }
        );
    }

    #[test]
    fn unknown_and_malformed_requests_are_errors() {
        for line in [
            &br#"{"command":"_exec"}"#[..],
            br#"{"command":"status","extra":1}"#,
            br#"{"command":"start"}"#,
            b"garbage",
            b"",
            br#"["status"]"#,
        ] {
            assert!(decode(line).is_err(), "{}", String::from_utf8_lossy(line));
        }
        assert!(
            decode(&vec![b' '; MAX_REQUEST_BYTES + 1])
                .unwrap_err()
                .contains("longer")
        );
    }

    #[test]
    fn reason_is_a_string_or_null_never_left_out() {
        let row = StatusRow {
            id: "ps".into(),
            group: "platform".into(),
            description: String::new(),
            state: "failed".into(),
            pid: None,
            uptime_ms: 0,
            rss_bytes: 0,
            restarts: 3,
            last_exit: None,
            reason: Some("gave up".into()),
            sockets: Vec::new(),
        };
        assert_eq!(serde_json::to_value(&row).unwrap()["reason"], "gave up");
        let none = serde_json::to_value(StatusRow {
            reason: None,
            ..row
        })
        .unwrap();
        assert!(none.as_object().unwrap()["reason"].is_null(), "{none}");
    }

    #[test]
    fn a_reload_summary_from_an_older_daemon_still_reads() {
        let old = r#"{"added":[],"removed":["a"],"changed":[],"unchanged":2}"#;
        let summary: ReloadSummary = serde_json::from_str(old).unwrap();
        assert_eq!(summary.removed, ["a"]);
        assert!(summary.updated.is_empty() && summary.needs_restart.is_empty());
    }

    #[test]
    fn last_exit_has_the_spec_shape() {
        assert_eq!(
            serde_json::to_string(&LastExit::Code(3)).unwrap(),
            r#"{"code":3}"#
        );
        assert_eq!(
            serde_json::to_string(&LastExit::Signal(9)).unwrap(),
            r#"{"signal":9}"#
        );
    }
}
