//! Asks a new binary, before anything changes, whether it reads this daemon's hand-over:
//! `PATH --handover-version` must answer `HANDOVER_VERSION VERSION` within a deadline.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::HANDOVER_VERSION;

/// How long the new binary has to answer.
const DEADLINE: Duration = Duration::from_secs(5);

/// The new binary's version, or why the upgrade is refused. Run it while the daemon's reaper
/// is paused: the answer is waited for by a thread of its own.
pub async fn probe(binary: &Path) -> Result<String, String> {
    let meta = std::fs::metadata(binary).map_err(|e| format!("{}: {e}", binary.display()))?;
    if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 {
        return Err(format!("{} is not an executable file", binary.display()));
    }
    let (answer, answered) = tokio::sync::oneshot::channel();
    let path = binary.to_path_buf();
    std::thread::Builder::new()
        .name("upgrade-probe".into())
        .spawn(move || {
            let _ = answer.send(Command::new(&path).arg("--handover-version").output());
        })
        .map_err(|e| format!("cannot ask the new binary: {e}"))?;
    let output = match tokio::time::timeout(DEADLINE, answered).await {
        Ok(Ok(Ok(output))) => output,
        Ok(Ok(Err(error))) => return Err(format!("{}: {error}", binary.display())),
        Ok(Err(_)) => return Err("the probe thread ended without an answer".into()),
        Err(_) => {
            return Err(format!(
                "{} --handover-version did not answer within {} s",
                binary.display(),
                DEADLINE.as_secs()
            ))
        }
    };
    let text = String::from_utf8_lossy(&output.stdout);
    let mut words = text.split_whitespace();
    match (output.status.success(), words.next().map(str::parse::<u32>)) {
        (true, Some(Ok(version))) if version == HANDOVER_VERSION => {
            Ok(words.next().unwrap_or("unknown").to_string())
        }
        (true, Some(Ok(version))) => Err(format!(
            "{} reads hand-over version {version}, this daemon writes {HANDOVER_VERSION}",
            binary.display()
        )),
        _ => Err(format!(
            "{} --handover-version gave no hand-over version ({})",
            binary.display(),
            output.status
        )),
    }
}
