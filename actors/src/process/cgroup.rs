//! One cgroup (v2) per component, where the host offers a writable cgroup2 hierarchy: a
//! process that leaves its process group with `setsid` cannot leave its cgroup, so
//! `cgroup.kill` ends everything a component started. Without cgroup2 (or without permission)
//! Supervisor falls back to process groups alone.
//!
//! Layout: `<our cgroup>/supervisor-<name>/<component id>`; `<name>` is fixed per run
//! directory, so the next daemon on the same run directory finds (and kills) what a crashed one
//! left in it.

use std::collections::HashMap;
use std::ffi::CString;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

/// The daemon's cgroup subtree.
#[derive(Debug, Clone)]
pub struct Cgroups {
    base: PathBuf,
    /// The component cgroups made so far: a restart does not `mkdir` again.
    made: HashMap<String, Arc<ComponentCgroup>>,
}

/// A component's cgroup: its directory, and the `cgroup.procs` file its processes join.
#[derive(Debug)]
pub struct ComponentCgroup {
    /// The cgroup's directory.
    pub path: PathBuf,
    /// `cgroup.procs` in it, ready for a child to join before `exec`.
    pub procs: CString,
    /// `cgroup.kill`, kept open after its first use while [`KILL_FILES_KEPT`] allows: every
    /// exit of the component's main process writes it, and opening it walks the cgroup tree.
    kill_file: OnceLock<File>,
}

/// How many components keep their `cgroup.kill` open (the ones that exit first; the
/// descriptors are part of the daemon's headroom).
pub const KILL_FILES_KEPT: usize = 256;

/// How many `cgroup.kill` files are open now.
static KILL_FILES_OPEN: AtomicUsize = AtomicUsize::new(0);

impl ComponentCgroup {
    /// SIGKILLs every process in the cgroup (`cgroup.kill`).
    pub fn kill(&self) {
        if let Some(file) = self.kill_file.get() {
            let _ = file.write_at(b"1", 0);
            return;
        }
        let path = self.path.join("cgroup.kill");
        if KILL_FILES_OPEN.fetch_add(1, Ordering::Relaxed) < KILL_FILES_KEPT {
            if let Ok(file) = OpenOptions::new().write(true).open(&path) {
                let _ = file.write_at(b"1", 0);
                if self.kill_file.set(file).is_ok() {
                    return;
                }
            }
        }
        KILL_FILES_OPEN.fetch_sub(1, Ordering::Relaxed);
        kill(&self.path);
    }
}

impl Drop for ComponentCgroup {
    fn drop(&mut self) {
        if self.kill_file.get().is_some() {
            KILL_FILES_OPEN.fetch_sub(1, Ordering::Relaxed);
        }
    }
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

    /// The cgroup of component `id`, created on first use (and again after [`Cgroups::forget`]).
    pub fn component(&mut self, id: &str) -> io::Result<Arc<ComponentCgroup>> {
        if let Some(made) = self.made.get(id) {
            return Ok(Arc::clone(made));
        }
        let path = self.base.join(id);
        match fs::create_dir(&path) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {}
            Err(error) => return Err(error),
        }
        let procs = CString::new(path.join("cgroup.procs").as_os_str().as_bytes())
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        let made = Arc::new(ComponentCgroup {
            path,
            procs,
            kill_file: OnceLock::new(),
        });
        self.made.insert(id.to_owned(), Arc::clone(&made));
        Ok(made)
    }

    /// Forgets component `id`'s cgroup (a child could not join it: someone may have removed
    /// it), so that the next start makes it again.
    pub fn forget(&mut self, id: &str) {
        self.made.remove(id);
    }

    /// Kills every process left in any component cgroup (by a daemon that crashed) and
    /// removes the empty cgroups; returns how many cgroups held processes.
    pub fn kill_leftovers(&self) -> usize {
        let Ok(entries) = fs::read_dir(&self.base) else {
            return 0;
        };
        let mut occupied = 0;
        for path in entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()) {
            if fs::read_to_string(path.join("cgroup.procs")).is_ok_and(|p| !p.trim().is_empty()) {
                occupied += 1;
                kill(&path);
            }
        }
        occupied
    }

    /// Removes every (empty) component cgroup and the base (on an orderly exit).
    pub fn remove(&self) {
        if let Ok(entries) = fs::read_dir(&self.base) {
            for path in entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()) {
                let _ = fs::remove_dir(path);
            }
        }
        let _ = fs::remove_dir(&self.base);
    }
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
