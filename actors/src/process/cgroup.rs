//! One cgroup (v2) per component, where the host offers a writable cgroup2 hierarchy: a
//! process that leaves its process group with `setsid` cannot leave its cgroup, so
//! `cgroup.kill` ends everything a component started. Without cgroup2 (or without permission)
//! Supervisor falls back to process groups alone.
//!
//! Layout: `<our cgroup>/supervisor-<name>/<component id>`; `<name>` is fixed per run
//! directory, so the next daemon on the same run directory finds (and kills) what a crashed one
//! left in it.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use super::sys::SpawnMode;

/// The daemon's cgroup subtree.
#[derive(Debug, Clone)]
pub struct Cgroups {
    base: PathBuf,
    /// The component cgroups made so far: a restart does not `mkdir` again.
    made: HashMap<String, Arc<ComponentCgroup>>,
}

/// A component's cgroup: its directory and the files the daemon uses in it.
#[derive(Debug)]
pub struct ComponentCgroup {
    /// The cgroup's directory.
    pub path: PathBuf,
    /// The file a child enters by (see [`ComponentCgroup::entry`]) and `cgroup.events`, kept
    /// open after the first start while [`COMPONENTS_KEPT_OPEN`] allows: every start uses the
    /// first, every exit of the main process reads the second, and opening either walks the
    /// cgroup tree.
    kept: OnceLock<KeptFiles>,
    /// Whether `cgroup.kill` was (or may have been) written. Linux 6.18 (at least) SIGKILLs at
    /// birth every child created with `CLONE_INTO_CGROUP` in a cgroup killed before (it compares
    /// the cgroup's kill count with the parent's), so such a cgroup is made anew at the next
    /// start when it is empty ([`Cgroups::component`]), or joined by a write.
    killed: AtomicBool,
}

/// A component cgroup's files, open.
#[derive(Debug)]
struct KeptFiles {
    entry: File,
    /// Which way `entry` was opened for.
    mode: SpawnMode,
    events: File,
}

/// How many components keep their cgroup files open, two descriptors each (the ones started
/// first; the descriptors are part of the daemon's headroom).
pub const COMPONENTS_KEPT_OPEN: usize = 256;

/// How many components keep their files open now.
static KEPT_OPEN: AtomicUsize = AtomicUsize::new(0);

/// The file a child enters its cgroup by: kept by the component, or opened for this one start.
pub enum EntryFile<'a> {
    /// The component's kept file.
    Kept(&'a File),
    /// Opened for this start, closed after it.
    Opened(File),
}

impl AsFd for EntryFile<'_> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            EntryFile::Kept(file) => file.as_fd(),
            EntryFile::Opened(file) => file.as_fd(),
        }
    }
}

impl ComponentCgroup {
    /// What the next child enters by, and the way it must be created: born in the cgroup
    /// ([`SpawnMode::Clone3`]: the directory itself) unless the daemon creates children with
    /// `clone` or the cgroup was killed before; else by a write to `cgroup.procs`.
    pub fn entry(&self, mode: SpawnMode) -> io::Result<(EntryFile<'_>, SpawnMode)> {
        let mode = match mode {
            SpawnMode::Clone3 if self.killed.load(Ordering::Relaxed) => SpawnMode::Clone,
            mode => mode,
        };
        if let Some(kept) = self.keep_open(mode).filter(|kept| kept.mode == mode) {
            return Ok((EntryFile::Kept(&kept.entry), mode));
        }
        Ok((EntryFile::Opened(open_entry(&self.path, mode)?), mode))
    }

    /// SIGKILLs every process in the cgroup (`cgroup.kill`), if there is any: after the main
    /// process's exit there usually is none (its zombie does not count).
    pub fn kill(&self) {
        if self.populated() {
            self.killed.store(true, Ordering::Relaxed);
            kill(&self.path);
        }
    }

    /// The component's id: the cgroup's name.
    pub fn id(&self) -> Option<&str> {
        self.path.file_name()?.to_str()
    }

    /// Whether any live process is in the cgroup (`populated 1` in `cgroup.events`; yes when it
    /// cannot be read).
    fn populated(&self) -> bool {
        match self.kept.get() {
            Some(kept) => events_populated(&kept.events),
            None => populated(&self.path),
        }
    }

    /// The kept files, opened on first use while the budget lasts.
    fn keep_open(&self, mode: SpawnMode) -> Option<&KeptFiles> {
        if let Some(kept) = self.kept.get() {
            return Some(kept);
        }
        if KEPT_OPEN.fetch_add(1, Ordering::Relaxed) < COMPONENTS_KEPT_OPEN {
            let opened = open_entry(&self.path, mode).and_then(|entry| {
                let events = File::open(self.path.join("cgroup.events"))?;
                Ok(KeptFiles {
                    entry,
                    mode,
                    events,
                })
            });
            if let Ok(files) = opened {
                if self.kept.set(files).is_ok() {
                    return self.kept.get();
                }
            }
        }
        KEPT_OPEN.fetch_sub(1, Ordering::Relaxed);
        None
    }
}

impl Drop for ComponentCgroup {
    fn drop(&mut self) {
        if self.kept.get().is_some() {
            KEPT_OPEN.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// The cgroup directory at `path` (for `clone3`), or its `cgroup.procs` open for writing.
fn open_entry(path: &Path, mode: SpawnMode) -> io::Result<File> {
    match mode {
        SpawnMode::Clone3 => OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY)
            .open(path),
        SpawnMode::Clone => open_for_writing(&path.join("cgroup.procs")),
    }
}

fn open_for_writing(path: &Path) -> io::Result<File> {
    OpenOptions::new().write(true).open(path)
}

impl Cgroups {
    /// Creates (or reuses) `supervisor-<name>` under the daemon's own cgroup2 cgroup; `None`
    /// when the host has no cgroup2 mount or it cannot be written.
    pub fn open(name: &str) -> Option<Cgroups> {
        let mount = cgroup2_mount()?;
        let own = fs::read_to_string("/proc/self/cgroup").ok()?;
        let relative = own.lines().find_map(|line| line.strip_prefix("0::"))?;
        let base = mount
            .join(relative.trim_start_matches('/'))
            .join(format!("supervisor-{name}"));
        fs::create_dir_all(&base).ok()?;
        base.join("cgroup.kill").exists().then(|| Cgroups {
            base,
            made: HashMap::new(),
        })
    }

    /// The daemon's own cgroup subtree, `supervisor-<name>`: `cgroup.kill` there ends every
    /// component at once (the guardian's job).
    pub fn base(&self) -> &Path {
        &self.base
    }

    /// The cgroup of component `id`, created on first use (and again after [`Cgroups::forget`]).
    /// One that was killed, or found already there (left by a crashed daemon or a predecessor
    /// image, or not yet removed after a component that starts again during a shutdown) and so
    /// perhaps killed, is made anew while it is empty: a child born in a killed cgroup is
    /// SIGKILLed (see `ComponentCgroup::killed`), and a child joining one by a write waits for
    /// the kernel (10 ms here). Occupied, it is kept and taken as killed.
    pub fn component(&mut self, id: &str) -> io::Result<Arc<ComponentCgroup>> {
        if let Some(made) = self.made.get(id) {
            if !made.killed.load(Ordering::Relaxed) || fs::remove_dir(&made.path).is_err() {
                return Ok(Arc::clone(made));
            }
            self.made.remove(id);
        }
        let path = self.base.join(id);
        let fresh = |path: &Path| match fs::create_dir(path) {
            Ok(()) => Ok(true),
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => Ok(false),
            Err(error) => Err(error),
        };
        let made_now = fresh(&path)? || (fs::remove_dir(&path).is_ok() && fresh(&path)?);
        let made = Arc::new(ComponentCgroup {
            path,
            kept: OnceLock::new(),
            killed: AtomicBool::new(!made_now),
        });
        self.made.insert(id.to_owned(), Arc::clone(&made));
        Ok(made)
    }

    /// Component `id`'s cgroup as made and remembered, if it is.
    pub fn made(&self, id: &str) -> Option<&Arc<ComponentCgroup>> {
        self.made.get(id)
    }

    /// Forgets component `id`'s cgroup (a child could not join it: someone may have removed
    /// it), so that the next start makes it again.
    pub fn forget(&mut self, id: &str) {
        self.made.remove(id);
    }

    /// Kills every process left in any component cgroup (by a daemon that crashed) and
    /// removes the empty cgroups (an occupied one stays, killed, for its component's next
    /// start); returns how many cgroups held processes.
    pub fn kill_leftovers(&self) -> usize {
        let Ok(entries) = fs::read_dir(&self.base) else {
            return 0;
        };
        let mut occupied = 0;
        for path in entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()) {
            if fs::read_to_string(path.join("cgroup.procs")).is_ok_and(|p| !p.trim().is_empty()) {
                occupied += 1;
                kill(&path);
            } else {
                let _ = fs::remove_dir(&path);
            }
        }
        occupied
    }

    /// Starts removing the daemon's cgroups, on a helper thread, at the start of an orderly
    /// shutdown. Each component cgroup handed to the returned [`Retiring`] (its main process
    /// reaped, what it left killed by the reaper) is removed at once, while the other components
    /// are still stopping: each `rmdir` waits on the kernel's `cgroup_mutex` (0.07 ms each, 0.8 s
    /// for 10,000), and done after the last stop it added that much to every shutdown. The
    /// thread only removes: a cgroup that holds a process again (a component that restarted
    /// before its stop reached it) refuses the `rmdir` and is left for the end. Once the
    /// [`Retiring`] is dropped, the thread waits until the processes killed last have finished
    /// dying, removes what is left and the base, and ends; the daemon calls [`Removal::wait`]
    /// before it exits. `None` when no thread can be started.
    pub fn remove_in_background(&self) -> Option<(Retiring, Removal)> {
        let base = self.base.clone();
        let (retiring, retired) = mpsc::channel::<PathBuf>();
        let thread = std::thread::Builder::new()
            .name("cgroup-rmdir".into())
            .spawn(move || {
                for path in retired {
                    let _ = fs::remove_dir(path);
                }
                remove_tree(&base, EMPTY_WAIT);
            })
            .ok()?;
        Some((Retiring(retiring), Removal(thread)))
    }
}

/// Where the cgroups of components that ended during a shutdown go to be removed (see
/// [`Cgroups::remove_in_background`]).
#[derive(Debug)]
pub struct Retiring(mpsc::Sender<PathBuf>);

impl Retiring {
    /// Removes `cgroup` if it is empty by the time the removal thread gets to it.
    pub fn retire(&self, cgroup: &ComponentCgroup) {
        let _ = self.0.send(cgroup.path.clone());
    }
}

/// The removal of the daemon's cgroups under way (see [`Cgroups::remove_in_background`]).
#[must_use = "the daemon waits for the removal before it exits"]
pub struct Removal(JoinHandle<()>);

impl Removal {
    /// Waits until the removal has finished (the [`Retiring`] must be dropped first).
    pub fn wait(self) {
        let _ = self.0.join();
    }
}

/// How long removing a subtree waits for its killed processes to finish dying.
pub const EMPTY_WAIT: Duration = Duration::from_secs(2);

/// Waits (at most `limit`) until the cgroup at `path` holds no process, then removes its child
/// cgroups and itself; what still holds a process stays.
pub fn remove_tree(path: &Path, limit: Duration) {
    wait_empty(path, limit);
    if let Ok(entries) = fs::read_dir(path) {
        for child in entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()) {
            let _ = fs::remove_dir(child);
        }
    }
    let _ = fs::remove_dir(path);
}

/// Waits until the cgroup at `path` and its descendants hold no process (`populated 0` in
/// `cgroup.events`, which wakes `poll` on each change), at most `limit`; whether they are empty
/// (a cgroup that is gone is).
pub fn wait_empty(path: &Path, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        // Opened afresh each round: a read arms the change notification of that descriptor.
        let Ok(events) = File::open(path.join("cgroup.events")) else {
            return true;
        };
        let mut text = [0u8; 256];
        let Ok(length) = events.read_at(&mut text, 0) else {
            return true;
        };
        let populated = std::str::from_utf8(&text[..length])
            .ok()
            .and_then(|t| t.lines().find_map(|l| l.strip_prefix("populated ")))
            .is_none_or(|value| value.trim() != "0");
        if !populated {
            return true;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        let timeout = PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX);
        let mut wanted = [PollFd::new(events.as_fd(), PollFlags::POLLPRI)];
        if poll(&mut wanted, timeout).is_err() {
            return false;
        }
    }
}

/// Whether any live process is in the cgroup at `path` (yes when it cannot be read).
fn populated(path: &Path) -> bool {
    File::open(path.join("cgroup.events")).map_or(true, |events| events_populated(&events))
}

/// Whether `cgroup.events`, open in `events`, says `populated 1` (yes when it cannot be read).
fn events_populated(events: &File) -> bool {
    let mut text = [0u8; 128];
    events.read_at(&mut text, 0).map_or(true, |length| {
        !text[..length].windows(11).any(|w| w == b"populated 0")
    })
}

/// SIGKILLs every process in the cgroup at `path` (`cgroup.kill`).
pub fn kill(path: &Path) {
    let _ = fs::write(path.join("cgroup.kill"), "1");
}

/// Where the cgroup2 hierarchy is mounted (`/sys/fs/cgroup` or, on hybrid hosts,
/// `/sys/fs/cgroup/unified`).
fn cgroup2_mount() -> Option<PathBuf> {
    let mounts = fs::read_to_string("/proc/self/mountinfo").ok()?;
    mounts.lines().find_map(|line| {
        let (before, after) = line.split_once(" - ")?;
        let mount_point = before.split(' ').nth(4)?;
        (after.split(' ').next()? == "cgroup2").then(|| PathBuf::from(mount_point))
    })
}
