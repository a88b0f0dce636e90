//! Component files that cannot be written (a full disk, a removed directory, a read-only
//! remount): such a file rests [`RETRY`] between tries, and while it rests its lines are dropped
//! where they are read, without reaching the file thread (a flood into a full disk costs that
//! thread nearly nothing). The file thread warns at most once per [`WARN_EVERY`] per file with the
//! number of lines lost since the last warning (`output_write_failed`), and says when the file
//! is written again (`output_write_resumed`, with the lines lost in all). Times are nanoseconds
//! on the monotonic clock since the first use ([`now`]), passed in by the callers.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use crate::events;

/// How long a failed file rests before the next line is tried.
pub const RETRY: Duration = Duration::from_secs(1);

/// At most one warning per file this often.
pub const WARN_EVERY: Duration = Duration::from_secs(60);

/// Now, in nanoseconds since the first call (monotonic).
pub fn now() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    u64::try_from(EPOCH.get_or_init(Instant::now).elapsed().as_nanos()).unwrap_or(u64::MAX)
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// Whether one file rests, shared by its readers and the file thread.
#[derive(Debug, Default)]
pub struct Rest {
    /// No line is tried before this time.
    until: AtomicU64,
    /// Lines the readers dropped while the file rested, not yet counted by the file thread.
    skipped: AtomicU64,
}

impl Rest {
    /// Whether a line for this file is to be dropped at `now` (it rests); counts it.
    pub fn skip(&self, now: u64) -> bool {
        if now >= self.until.load(Ordering::Relaxed) {
            return false;
        }
        self.skipped.fetch_add(1, Ordering::Relaxed);
        true
    }
}

/// The rest of every file written so far, by path template.
#[derive(Debug, Default)]
pub struct Rests(Mutex<HashMap<PathBuf, Arc<Rest>>>);

impl Rests {
    /// The rest of `template`'s file (one per template, made on first use).
    pub fn of(&self, template: &Path) -> Arc<Rest> {
        let mut rests = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(rests.entry(template.to_path_buf()).or_default())
    }
}

/// A file that failed, and what was lost since.
#[derive(Debug)]
struct Failure {
    rest: Arc<Rest>,
    /// When the last warning was logged.
    warned_at: u64,
    /// Lines lost since that warning (not yet reported).
    unreported: u64,
    /// Lines lost since the file failed.
    lost: u64,
}

impl Failure {
    /// Counts `lines` lost, and what the readers dropped meanwhile.
    fn lose(&mut self, lines: u64) {
        let skipped = self.rest.skipped.swap(0, Ordering::Relaxed) + lines;
        self.unreported += skipped;
        self.lost += skipped;
    }
}

/// The file thread's account of the failing files.
#[derive(Debug)]
pub struct Failures {
    rests: Arc<Rests>,
    failing: HashMap<PathBuf, Failure>,
}

impl Failures {
    /// The account, sharing `rests` with the readers.
    pub fn new(rests: Arc<Rests>) -> Self {
        Failures {
            rests,
            failing: HashMap::new(),
        }
    }

    /// Whether `template`'s file failed and is not written again yet.
    pub fn failing(&self, template: &Path) -> bool {
        self.failing.contains_key(template)
    }

    /// Whether `template`'s line is to be dropped without a try (a line queued before its file
    /// began to rest).
    pub fn resting(&mut self, template: &Path, now: u64) -> bool {
        match self.failing.get_mut(template) {
            Some(failure) if failure.rest.skip(now) => {
                failure.lose(0);
                true
            }
            Some(_) | None => false,
        }
    }

    /// A line of `template` could not be written: counted lost; the file rests for [`RETRY`];
    /// the first failure warns at once, later ones once a minute.
    pub fn failed(&mut self, template: &Path, error: &io::Error, now: u64) {
        let fresh = !self.failing.contains_key(template);
        let rests = &self.rests;
        let failure = self
            .failing
            .entry(template.to_path_buf())
            .or_insert_with(|| Failure {
                rest: rests.of(template),
                warned_at: now,
                unreported: 0,
                lost: 0,
            });
        failure.lose(1);
        failure
            .rest
            .until
            .store(now.saturating_add(nanos(RETRY)), Ordering::Relaxed);
        if fresh || now.saturating_sub(failure.warned_at) >= nanos(WARN_EVERY) {
            warn(template, failure, error, now);
        }
    }

    /// A line of `template` was written: if the file had failed, it is back.
    pub fn written(&mut self, template: &Path) {
        if let Some(mut failure) = self.failing.remove(template) {
            failure.lose(0);
            tracing::info!(
                event = events::OUTPUT_WRITE_RESUMED,
                file = %template.display(),
                lost = failure.lost,
                "component output is written to {} again; {} lines were lost",
                template.display(),
                failure.lost
            );
        }
    }
}

fn warn(template: &Path, failure: &mut Failure, error: &io::Error, now: u64) {
    tracing::warn!(
        event = events::OUTPUT_WRITE_FAILED,
        file = %template.display(),
        error = %error,
        lost = failure.unreported,
        "cannot write component output to {}: {} lines lost since the last warning",
        template.display(),
        failure.unreported
    );
    failure.unreported = 0;
    failure.warned_at = now;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A failing file rests a second between tries; its readers drop lines meanwhile, which
    /// the next warning (a minute later) and the recovery count.
    #[test]
    fn a_failed_file_rests_and_counts_what_it_loses() {
        let rests = Arc::new(Rests::default());
        let mut failures = Failures::new(Arc::clone(&rests));
        let file = Path::new("/var/log/c.log");
        let reader = rests.of(file);
        let start = 1_000;
        assert!(!reader.skip(start), "a file that never failed is tried");
        failures.failed(file, &io::Error::other("no space"), start);
        for n in 1..=1000 {
            assert!(reader.skip(start + n));
        }
        assert!(
            failures.resting(file, start + 1001),
            "a line queued before the rest"
        );
        assert!(
            !reader.skip(start + nanos(RETRY)),
            "tried again after a second"
        );
        assert!(!failures.resting(file, start + nanos(RETRY)));
        failures.failed(file, &io::Error::other("no space"), start + nanos(RETRY));
        let failure = &failures.failing[file];
        assert_eq!(failure.lost, 1003);
        assert_eq!(
            failure.unreported, 1002,
            "warned once; the next warning is a minute away"
        );
        failures.failed(
            file,
            &io::Error::other("no space"),
            start + nanos(WARN_EVERY),
        );
        assert_eq!(
            failures.failing[file].unreported, 0,
            "the minute's warning was given"
        );
        failures.written(file);
        assert!(failures.failing.is_empty(), "back to normal");
    }
}
