//! Reading the registry file: regular files only, and never holding the caller past a deadline.
//!
//! The daemon re-reads its registry on `reload` and SIGHUP from the actors' thread; a FIFO or a
//! hung network mount in the registry's place must not freeze that thread (killed children would
//! stay unreaped). So the file is opened with `O_NONBLOCK` (opening a FIFO does not wait for a
//! writer), checked with `fstat` (anything but a regular file is refused, by kind), and the read,
//! parse and resolve run on a thread of their own, awaited with a deadline. An overdue thread is
//! abandoned: a plain `std::thread`, not the runtime's blocking pool, whose shutdown would wait
//! for it.

use std::fs::{FileType, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{MAX_BYTES, Registry, RegistryError, at_start, too_big};

/// How long a read of the registry may take, at start-up and on reload.
pub const READ_DEADLINE: Duration = Duration::from_secs(10);

/// The file's bytes: a regular file only, refusing more than [`MAX_BYTES`] before reading any.
pub fn read_capped(path: &Path) -> Result<Vec<u8>, RegistryError> {
    let cannot = |e: std::io::Error| at_start(path, format!("cannot read the registry: {e}"));
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(cannot)?;
    let metadata = file.metadata().map_err(cannot)?;
    if let Some(kind) = irregular(metadata.file_type()) {
        return Err(at_start(path, format!("not a regular file ({kind})")));
    }
    if metadata.len() > MAX_BYTES {
        return Err(too_big(path, metadata.len()));
    }
    let mut bytes = Vec::new();
    file.take(MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(too_big(path, bytes.len() as u64));
    }
    Ok(bytes)
}

/// What a file that is not a regular one is, in words; `None` for a regular file.
fn irregular(kind: FileType) -> Option<&'static str> {
    let kinds = [
        (kind.is_dir(), "a directory"),
        (kind.is_fifo(), "a FIFO"),
        (kind.is_socket(), "a socket"),
        (kind.is_char_device(), "a character device"),
        (kind.is_block_device(), "a block device"),
    ];
    match kinds.iter().find(|(is, _)| *is) {
        Some(&(_, name)) => Some(name),
        None if kind.is_file() => None,
        None => Some("not a file"),
    }
}

/// [`load_off_thread`] for a caller with no runtime (the command line, before any actor runs):
/// blocks the calling thread until the read is done or `deadline` has passed. A reader done in
/// time has exited when this returns, so a daemon starting has one thread until it starts its
/// own (see `limits::reserve_table`); an overdue one is left be.
pub fn load_within(path: &Path, deadline: Duration) -> Result<Registry, RegistryError> {
    let (sender, receiver) = std::sync::mpsc::channel();
    let owned = path.to_path_buf();
    let reader = spawn_reader(path, move || drop(sender.send(super::load(&owned))))?;
    let answer = receiver.recv_timeout(deadline);
    if answer.is_ok() {
        // It has answered: only its exit is left to wait for.
        let _ = reader.join();
    }
    answer.unwrap_or_else(|_| Err(overdue(path, deadline)))
}

/// [`load`](super::load) on a thread of its own, awaited for at most `deadline`: the calling
/// thread (the actors') goes on with its work meanwhile.
pub async fn load_off_thread(path: PathBuf, deadline: Duration) -> Result<Registry, RegistryError> {
    let owned = path.clone();
    awaited(&path, deadline, move || {
        let registry = super::load(&owned)?;
        // Here, not on the actors' thread, the descriptor table grows at once for a registry
        // that needs more: one wait for the kernel, not one per doubling as its pipes open.
        let needed = crate::limits::needed(&registry.tree.root).total();
        let _ = crate::limits::reserve_table(needed);
        Ok(registry)
    })
    .await
}

/// Runs `work` on a thread of its own; awaits its result at most `deadline`.
async fn awaited<T: Send + 'static>(
    path: &Path,
    deadline: Duration,
    work: impl FnOnce() -> Result<T, RegistryError> + Send + 'static,
) -> Result<T, RegistryError> {
    let (sender, receiver) = tokio::sync::oneshot::channel();
    // An overdue reader is left be: a plain thread, detached.
    spawn_reader(path, move || drop(sender.send(work())))?;
    match tokio::time::timeout(deadline, receiver).await {
        Ok(Ok(result)) => result,
        Ok(Err(_)) | Err(_) => Err(overdue(path, deadline)),
    }
}

fn spawn_reader(
    path: &Path,
    read: impl FnOnce() + Send + 'static,
) -> Result<std::thread::JoinHandle<()>, RegistryError> {
    std::thread::Builder::new()
        .name("registry-read".into())
        .spawn(read)
        .map_err(|e| {
            at_start(
                path,
                format!("cannot start a thread to read the registry: {e}"),
            )
        })
}

/// A read that did not finish in time (or whose thread died without an answer).
fn overdue(path: &Path, deadline: Duration) -> RegistryError {
    let message = format!(
        "the registry was not read within {deadline:?} (a hung file system?); nothing was applied"
    );
    at_start(path, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fifo(dir: &Path) -> PathBuf {
        let path = dir.join("fifo.xml");
        nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        path
    }

    #[test]
    fn a_fifo_is_refused_at_once_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = fifo(dir.path());
        let error = read_capped(&path).unwrap_err().to_string();
        assert_eq!(
            error,
            format!("{}:1:1: not a regular file (a FIFO)", path.display())
        );
    }

    #[test]
    fn a_directory_is_refused_and_a_regular_file_read() {
        let dir = tempfile::tempdir().unwrap();
        let error = read_capped(dir.path()).unwrap_err().to_string();
        assert!(
            error.ends_with(":1:1: not a regular file (a directory)"),
            "{error}"
        );
        let file = dir.path().join("r.xml");
        std::fs::write(&file, "<supervisor/>").unwrap();
        assert_eq!(read_capped(&file).unwrap(), b"<supervisor/>");
    }

    #[test]
    fn a_character_device_is_refused() {
        let error = read_capped(Path::new("/dev/null")).unwrap_err().to_string();
        assert!(
            error.ends_with("not a regular file (a character device)"),
            "{error}"
        );
    }

    /// Work that finishes only when the returned sender is dropped.
    fn stuck() -> (
        std::sync::mpsc::Sender<()>,
        impl FnOnce() -> Result<(), RegistryError> + Send + 'static,
    ) {
        let (release, wait) = std::sync::mpsc::channel::<()>();
        (release, move || {
            let _ = wait.recv();
            Ok(())
        })
    }

    #[test]
    fn an_overdue_read_is_an_error_naming_the_path_and_a_prompt_one_loads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.xml");
        std::fs::write(&path, "<supervisor><servers/></supervisor>").unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        // Positive control: a regular file loads within the deadline, both ways.
        assert!(load_within(&path, READ_DEADLINE).is_ok());
        let off_thread = load_off_thread(path.clone(), READ_DEADLINE);
        assert!(runtime.block_on(off_thread).is_ok());
        // Work that never finishes: the waiter gives up at its deadline and says so.
        let short = Duration::from_millis(50);
        let (_release, work) = stuck();
        let error = runtime
            .block_on(awaited(&path, short, work))
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with(&format!("{}:1:1: ", path.display())),
            "{error}"
        );
        assert!(error.contains("was not read within 50ms"), "{error}");
    }
}
