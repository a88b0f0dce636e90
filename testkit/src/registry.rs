//! Registry documents for the tests: the frame, stand-in servers, and the settings most tests
//! share; and the command lines that run the supervisor's CLI on them.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::{standin, supervisor_bin};

/// A root strategy that lets components restart often (50 restarts in 10 s) before it gives up.
pub const FAST: &str = r#"<restartStrategy type="one_for_one" intensity="50" period="10"/>"#;

/// Restarts without a backoff delay.
pub const NO_BACKOFF: &str = r#"<backoff initial="0"/>"#;

/// A registry document with `servers` inside `<servers>` and `head` (config, strategy) before.
pub fn registry(head: &str, servers: &str) -> String {
    format!("<supervisor>\n{head}\n<servers>\n{servers}\n</servers>\n</supervisor>\n")
}

/// A `<server>` running the stand-in with `args` (each a separate argument) and extra settings.
pub fn standin_server(id: &str, args: &[&str], settings: &str) -> String {
    let arguments: String = args
        .iter()
        .map(|a| format!("<argument>{}</argument>", xml_escape(a)))
        .collect();
    format!(
        "<server id=\"{id}\"><executable>{}</executable><arguments><argument>--name</argument><argument>{id}</argument>{arguments}</arguments>{settings}</server>\n",
        standin()
    )
}

/// A `<server>` running the stand-in with no arguments (it idles until stopped), restarted
/// without backoff.
pub fn idle(id: &str) -> String {
    standin_server(id, &[], NO_BACKOFF)
}

/// A `<server>` running the stand-in so that it ignores SIGTERM and is killed 0.3 s after its stop
/// signal, with extra `settings`: the control beside a check that no `component_killed` was
/// logged. Stop it only once it [`catches_sigterm`](crate::catches_sigterm).
pub fn killed_on_stop(id: &str, settings: &str) -> String {
    let settings = format!("<stopTimeout>0.3</stopTimeout>{settings}");
    standin_server(id, &["--ignore-term"], &settings)
}

/// Escapes text for an XML element body or a double-quoted attribute.
pub fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `supervisor --registry REGISTRY --run-dir RUN_DIR ARGS…`, not yet run, with
/// `SUPERVISOR_LOG_FORMAT` removed from its environment (the CLI picks its own log format).
pub fn cli_command(registry: &Path, run_dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(supervisor_bin());
    command
        .arg("--registry")
        .arg(registry)
        .arg("--run-dir")
        .arg(run_dir)
        .args(args)
        .env_remove("SUPERVISOR_LOG_FORMAT");
    command
}

/// Runs the supervisor binary with `args` to completion.
pub fn supervisor(args: &[&str]) -> std::process::Output {
    Command::new(supervisor_bin())
        .args(args)
        .output()
        .expect("run supervisor")
}

/// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released), for a
/// component to listen on.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

/// Runs `command` to completion (stdin /dev/null, output captured), failing the test if it takes
/// longer than `limit`.
pub fn run_bounded(mut command: Command, limit: Duration) -> Output {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn command");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stdout.read_to_end(&mut bytes);
        bytes
    });
    let err = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stderr.read_to_end(&mut bytes);
        bytes
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{command:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Output {
        status,
        stdout: out.join().expect("stdout reader"),
        stderr: err.join().expect("stderr reader"),
    }
}
