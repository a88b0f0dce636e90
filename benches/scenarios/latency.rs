//! Restart latency as a user sees it: SIGKILL the running `stamp`, and time the kill until the
//! replacement's first instruction (its stamp), one crash at a time with a pause between them (a
//! hot loop of kills hides costs that a real crash pays). The same measurement for every target:
//! the floor (`minimal`), the supervisor, the peers.

use std::path::Path;
use std::time::Duration;

use nix::sys::signal::Signal;
use testkit::lean::signal;
use testkit::realtime_ns;

use crate::stamps::Stamps;
use crate::stats::{ms, percentile};

/// Sorted kill → stamp latencies, in ns.
#[derive(Clone)]
pub struct Latencies(pub Vec<u64>);

impl Latencies {
    pub fn p50(&self) -> u64 {
        percentile(&self.0, 50.0)
    }

    pub fn p99(&self) -> u64 {
        percentile(&self.0, 99.0)
    }

    /// `p50 · p99 · max (N kills)`.
    pub fn summary(&self) -> String {
        format!(
            "p50 {} · p99 {} · max {} ({} kills)",
            ms(self.p50()),
            ms(self.p99()),
            ms(self.0.last().copied().unwrap_or(0)),
            self.0.len()
        )
    }
}

/// Kills whatever `stamp` writes to `stamps` runs now, `kills` times, `gap` after each
/// replacement; the longest wait for a replacement is `patience`.
pub fn measure(
    stamps: &Path,
    kills: usize,
    gap: Duration,
    patience: Duration,
) -> Result<Latencies, String> {
    let mut measured = measure_alternating(&[stamps], kills, gap, patience)?;
    Ok(measured.remove(0))
}

/// [`measure`] for several targets at once, a kill of each in turn (so that what the host does
/// meanwhile weighs on each alike): their latencies, in the order of `stamps`.
pub fn measure_alternating(
    stamps: &[&Path],
    kills: usize,
    gap: Duration,
    patience: Duration,
) -> Result<Vec<Latencies>, String> {
    let mut targets = Vec::with_capacity(stamps.len());
    for path in stamps {
        let mut stamps = Stamps::new(path.to_path_buf());
        let Some((pid, _)) = stamps.next_after(None, Duration::from_secs(10)) else {
            return Err(format!(
                "no stamp in {} within 10 s of the start",
                path.display()
            ));
        };
        targets.push((stamps, pid, Vec::with_capacity(kills)));
    }
    for kill in 1..=kills {
        for (stamps, pid, latencies) in &mut targets {
            std::thread::sleep(gap);
            let killed_ns = realtime_ns();
            signal(*pid, Signal::SIGKILL);
            let Some((next, stamped_ns)) = stamps.next_after(Some(*pid), patience) else {
                return Err(format!(
                    "kill #{kill}: no replacement within {} s",
                    patience.as_secs()
                ));
            };
            latencies.push(stamped_ns.saturating_sub(killed_ns));
            *pid = next;
        }
    }
    Ok(targets
        .into_iter()
        .map(|(_, _, mut latencies)| {
            latencies.sort_unstable();
            Latencies(latencies)
        })
        .collect())
}
