//! The readers' gate for a hand-over. Closed, every reader stops at its next safe point (all it
//! has read delivered, before its next read), reports its line under way and waits; nothing more
//! is read from any pipe until the gate opens again (the upgrade did not go ahead, or the
//! successor re-queued what it was handed). The bytes left in a pipe stay in the pipe.

use std::collections::HashMap;
use std::os::fd::RawFd;
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::{Notify, watch};

use super::lines::Partial;

/// Shared by the readers and the hand-over.
pub struct Gate {
    closed: watch::Sender<bool>,
    /// The parked readers' lines under way, by pipe.
    parked: Mutex<HashMap<RawFd, Partial>>,
    /// A reader parked or ended.
    changed: Notify,
}

impl Gate {
    /// An open gate.
    pub fn new() -> Self {
        Gate {
            closed: watch::Sender::new(false),
            parked: Mutex::default(),
            changed: Notify::new(),
        }
    }

    fn parked(&self) -> MutexGuard<'_, HashMap<RawFd, Partial>> {
        self.parked.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stops the readers at their next safe point.
    pub fn close(&self) {
        self.closed.send_replace(true);
    }

    /// Lets the readers go on.
    pub fn open(&self) {
        self.closed.send_replace(false);
    }

    /// Whether the readers are to stop.
    pub fn is_closed(&self) -> bool {
        *self.closed.borrow()
    }

    /// Resolves once the gate is closed.
    pub async fn closing(&self) {
        let _ = self.closed.subscribe().wait_for(|closed| *closed).await;
    }

    /// Parks the reader of `fd` with its line under way until the gate opens.
    pub async fn park(&self, fd: RawFd, partial: Partial) {
        let mut open = self.closed.subscribe();
        self.parked().insert(fd, partial);
        self.changed.notify_waiters();
        let _ = open.wait_for(|closed| !*closed).await;
        self.parked().remove(&fd);
    }

    /// A reader delivered its last line and took its pipe off the live ones: it is no longer
    /// waited for.
    pub fn ended(&self) {
        self.changed.notify_waiters();
    }

    /// Waits until `live` lists no pipe: every reader has delivered its last line (the gate
    /// open, none parks).
    pub async fn all_ended(&self, live: impl Fn() -> Vec<RawFd>) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if live().is_empty() {
                return;
            }
            changed.await;
        }
    }

    /// Waits until every pipe that `live` lists is parked (a reader past its pipe's end keeps
    /// the pipe listed until its last line is delivered); their lines under way.
    pub async fn all_parked(&self, live: impl Fn() -> Vec<RawFd>) -> HashMap<RawFd, Partial> {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let pipes = live();
            {
                let parked = self.parked();
                if pipes.iter().all(|fd| parked.contains_key(fd)) {
                    return pipes
                        .iter()
                        .filter_map(|fd| Some((*fd, parked.get(fd)?.clone())))
                        .collect();
                }
            }
            changed.await;
        }
    }

    /// The pipes of `live` not parked (yet): for a refusal's reason.
    pub fn unparked(&self, live: &[RawFd]) -> Vec<RawFd> {
        let parked = self.parked();
        live.iter()
            .filter(|fd| !parked.contains_key(fd))
            .copied()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    /// A hand-over waits for every live pipe: one parked, one whose reader is still delivering
    /// its last line; it ends once that reader takes its pipe off the live ones.
    #[actix_rt::test]
    async fn a_hand_over_waits_for_a_reader_at_its_pipe_s_end() {
        let gate = Arc::new(Gate::new());
        let live = Arc::new(Mutex::new(vec![3, 4]));
        gate.close();
        let parked = actix_rt::spawn({
            let gate = Arc::clone(&gate);
            async move { gate.park(3, Partial::default()).await }
        });
        let waiting = actix_rt::spawn({
            let (gate, live) = (Arc::clone(&gate), Arc::clone(&live));
            async move { gate.all_parked(|| live.lock().unwrap().clone()).await }
        });
        // Pipe 4's reader is past its end: nothing it does can park it.
        let early = tokio::time::timeout(Duration::from_millis(50), async {
            while !waiting.is_finished() {
                tokio::task::yield_now().await;
            }
        });
        assert!(
            early.await.is_err(),
            "the hand-over did not wait for pipe 4"
        );
        live.lock().unwrap().retain(|&fd| fd != 4);
        gate.ended();
        let partials = tokio::time::timeout(Duration::from_secs(10), waiting)
            .await
            .expect("the hand-over ended once pipe 4 was off")
            .unwrap();
        assert_eq!(partials.keys().copied().collect::<Vec<_>>(), [3]);
        gate.open();
        parked.await.unwrap();
    }
}
