//! The output's part of a hand-over: no line lost or written twice across an upgrade.
//!
//! The old daemon closes the readers' gate: each reader stops at its next safe point (every
//! line it read delivered to the log and to the file queue), reports the bytes of its line under
//! way and reads no more; the bytes not read stay in the pipe, which is kept open. Then the file
//! queue drains: every queued line holds permits of the queue's byte budget, so the budget whole
//! again means every line was written, or held (its file fails, a full disk) to be handed over.
//! The successor starts its readers from the handed lines under way, writes the held lines
//! first, and only then opens its gate. A hand-over that does not go ahead opens the gate again.

use std::os::fd::RawFd;
use std::sync::{Arc, PoisonError};

use serde::{Deserialize, Serialize};

use super::files::{FileLine, HeldLine};
use super::lines::Partial;
use super::{OutputService, QUEUE_BYTES, QUEUE_LINES};

/// What a hand-over or a drain still waits for (see [`OutputService::pending`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pending {
    /// Pipes still delivering.
    pub pipes: usize,
    /// Lines queued for files, not written yet.
    pub lines: usize,
    /// Their bytes.
    pub bytes: usize,
}

impl std::fmt::Display for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Pending {
            pipes,
            lines,
            bytes,
        } = self;
        write!(
            f,
            "{pipes} output pipes still delivering, {lines} lines ({bytes} bytes) still queued \
             for files"
        )
    }
}

/// What the output hands its successor.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandedOutput {
    /// Each pipe's line under way, by descriptor number (kept across `execve`).
    pub partials: Vec<(RawFd, Partial)>,
    /// File lines that could not be written before the exec, in their order.
    pub held: Vec<HeldLine>,
}

impl OutputService {
    /// Stops every reader at its next safe point and drains the file queue; what is left to
    /// hand over. Nothing is read until [`OutputService::go_on`]. Wrap in a deadline: a file
    /// whose write never returns keeps it from ending ([`OutputService::pending`] says why).
    pub async fn hand_over(&self) -> HandedOutput {
        self.holding.start();
        self.gate.close();
        let partials = self.gate.all_parked(|| self.live_pipes()).await;
        let budget = u32::try_from(QUEUE_BYTES).unwrap_or(u32::MAX);
        // The whole budget back: no line is queued any more (written, or held).
        drop(self.files.bytes.acquire_many(budget).await);
        HandedOutput {
            partials: partials.into_iter().collect(),
            held: self.holding.held(),
        }
    }

    /// Waits until every component's output has gone where it goes: each reader has read its
    /// pipe to the end (the components stopped) and the file queue is empty (each line written,
    /// or dropped and counted for a failing file). The daemon's last step before it exits; wrap in a deadline, as
    /// [`OutputService::hand_over`].
    pub async fn drain(&self) {
        self.gate.all_ended(|| self.live_pipes()).await;
        let budget = u32::try_from(QUEUE_BYTES).unwrap_or(u32::MAX);
        drop(self.files.bytes.acquire_many(budget).await);
    }

    /// Why [`OutputService::hand_over`] (or [`OutputService::drain`]) has not ended: the pipes
    /// still delivering, the lines and bytes still queued for files.
    pub fn pending(&self) -> Pending {
        Pending {
            pipes: self.gate.unparked(&self.live_pipes()).len(),
            lines: QUEUE_LINES.saturating_sub(self.files.lines.capacity()),
            bytes: QUEUE_BYTES.saturating_sub(self.files.bytes.available_permits()),
        }
    }

    /// Takes up a predecessor's output: readers started from now on go on from its lines under
    /// way, and read only once its held lines are queued (call before the tree is restored).
    pub fn restore(&self, handed: &HandedOutput) {
        self.gate.close();
        self.handed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(handed.partials.iter().cloned());
        self.go_on(handed.held.clone());
    }

    /// Goes on reading after a hand-over (one that did not go ahead, or a predecessor's):
    /// queues the `held` lines and those still held here, then opens the gate.
    pub fn go_on(&self, mut held: Vec<HeldLine>) {
        held.extend(self.holding.stop());
        let files = self.files.clone();
        let gate = Arc::clone(&self.gate);
        let handed = Arc::clone(&self.handed);
        actix::spawn(async move {
            for line in held {
                let cost = u32::try_from(line.bytes.len()).unwrap_or(u32::MAX);
                let Ok(budget) = Arc::clone(&files.bytes).acquire_many_owned(cost).await else {
                    break;
                };
                let line = FileLine {
                    template: line.template.into(),
                    max_size: line.max_size,
                    keep: line.keep,
                    bytes: line.bytes,
                    budget,
                };
                if files.lines.send(line).await.is_err() {
                    break;
                }
            }
            // A line under way not taken by a reader by now belongs to no pipe of this tree.
            handed
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clear();
            gate.open();
        });
    }

    /// The line under way a predecessor handed over for the pipe `fd` (empty if none).
    pub(super) fn handed_partial(&self, fd: RawFd) -> Partial {
        let mut handed = self.handed.lock().unwrap_or_else(PoisonError::into_inner);
        handed.remove(&fd).unwrap_or_default()
    }

    /// Every pipe being read.
    pub(super) fn live_pipes(&self) -> Vec<RawFd> {
        let live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        (live.values().flatten()).map(|(_, fd)| *fd).collect()
    }
}
