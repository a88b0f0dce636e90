//! Component files that cannot be written (a full disk, a removed directory, a read-only
//! remount): the file thread tries such a file again at most once per [`RETRY`], drops the lines
//! meanwhile without a system call, warns at most once per [`WARN_EVERY`] per file with the
//! number of lines lost since the last warning (`output_write_failed`), and says when the file
//! is written again (`output_write_resumed`, with the lines lost in all). Pure bookkeeping: the
//! caller passes `now`.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::events;

/// How long a failed file rests before the next line is tried.
pub const RETRY: Duration = Duration::from_secs(1);

/// At most one warning per file this often.
pub const WARN_EVERY: Duration = Duration::from_secs(60);

/// A file that failed, and what was lost since.
#[derive(Debug)]
struct Failure {
    /// When the last warning was logged.
    warned_at: Instant,
    /// Lines lost since that warning (not yet reported).
    unreported: u64,
    /// Lines lost since the file failed.
    lost: u64,
    /// No line is tried before this.
    retry_at: Instant,
}

/// The failing files, by path template.
#[derive(Debug, Default)]
pub struct Failures {
    failing: HashMap<PathBuf, Failure>,
}

impl Failures {
    /// Whether `template`'s line must be dropped without a try (its file failed less than
    /// [`RETRY`] ago); a dropped line is counted, and may bring the minute's warning.
    pub fn resting(&mut self, template: &Path, now: Instant) -> bool {
        let Some(failure) = self.failing.get_mut(template) else {
            return false;
        };
        if now >= failure.retry_at {
            return false;
        }
        failure.lost += 1;
        failure.unreported += 1;
        if now.duration_since(failure.warned_at) >= WARN_EVERY {
            warn(template, failure, None, now);
        }
        true
    }

    /// A line of `template` could not be written: counted lost; the file rests for [`RETRY`];
    /// the first failure warns at once, later ones once a minute.
    pub fn failed(&mut self, template: &Path, error: &io::Error, now: Instant) {
        let failure = self.failing.entry(template.to_path_buf());
        let fresh = matches!(failure, std::collections::hash_map::Entry::Vacant(_));
        let failure = failure.or_insert(Failure {
            warned_at: now,
            unreported: 0,
            lost: 0,
            retry_at: now,
        });
        failure.lost += 1;
        failure.unreported += 1;
        failure.retry_at = now + RETRY;
        if fresh || now.duration_since(failure.warned_at) >= WARN_EVERY {
            warn(template, failure, Some(error), now);
        }
    }

    /// A line of `template` was written: if the file had failed, it is back.
    pub fn written(&mut self, template: &Path) {
        if let Some(failure) = self.failing.remove(template) {
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

fn warn(template: &Path, failure: &mut Failure, error: Option<&io::Error>, now: Instant) {
    tracing::warn!(
        event = events::OUTPUT_WRITE_FAILED,
        file = %template.display(),
        error = error.map(tracing::field::display),
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

    /// A failing file rests a second between tries, drops lines meanwhile, and counts them.
    #[test]
    fn a_failed_file_rests_and_counts_what_it_loses() {
        let mut failures = Failures::default();
        let file = Path::new("/var/log/c.log");
        let now = Instant::now();
        assert!(
            !failures.resting(file, now),
            "a file that never failed is tried"
        );
        failures.failed(file, &io::Error::other("no space"), now);
        for n in 1..=1000 {
            assert!(failures.resting(file, now + Duration::from_micros(n)));
        }
        assert!(
            !failures.resting(file, now + RETRY),
            "tried again after a second"
        );
        let failure = &failures.failing[file];
        assert_eq!(failure.lost, 1001);
        assert_eq!(
            failure.unreported, 1000,
            "the first warning was given; the next is a minute away"
        );
        failures.failed(file, &io::Error::other("no space"), now + WARN_EVERY);
        assert_eq!(
            failures.failing[file].unreported, 0,
            "the minute's warning was given"
        );
        assert_eq!(failures.failing[file].lost, 1002);
        failures.written(file);
        assert!(!failures.resting(file, now + WARN_EVERY), "back to normal");
    }
}
