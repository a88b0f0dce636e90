//! The readers' gate for a hand-over. Closed, every reader stops at its next safe point (all it
//! has read delivered, before its next read), reports its line under way and waits; nothing more
//! is read from any pipe until the gate opens again (the upgrade did not go ahead, or the
//! successor re-queued what it was handed). The bytes left in a pipe stay in the pipe, except
//! in the pipes of a process that has exited meanwhile: released, they are read to their end
//! (no successor reads them: only a live process's pipes are handed over). A released pipe
//! read empty is caught up: all its process wrote is delivered, and only a descendant that
//! escaped the component (without cgroups nothing kills it) keeps it open; neither a hand-over
//! nor a shutdown waits for its end, which may never come.

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
    /// The pipes of processes that have exited: the gate never holds them.
    /// `true` once caught up: read empty since the release.
    released: Mutex<HashMap<RawFd, bool>>,
    /// A reader parked or ended.
    changed: Notify,
}

impl Gate {
    /// An open gate.
    pub fn new() -> Self {
        Gate {
            closed: watch::Sender::new(false),
            parked: Mutex::default(),
            released: Mutex::default(),
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

    /// Whether the reader of `fd` is to stop (the gate is closed, its pipe not released).
    pub fn holds(&self, fd: RawFd) -> bool {
        self.is_closed() && !self.is_released(fd)
    }

    fn is_released(&self, fd: RawFd) -> bool {
        self.released().contains_key(&fd)
    }

    fn released(&self) -> MutexGuard<'_, HashMap<RawFd, bool>> {
        self.released.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Resolves once the gate holds the reader of `fd` (never, once its pipe is released).
    pub async fn holding(&self, fd: RawFd) {
        let mut closed = self.closed.subscribe();
        let _ = closed
            .wait_for(|closed| *closed && !self.is_released(fd))
            .await;
    }

    /// Parks the reader of `fd` with its line under way until the gate opens or its pipe is
    /// released.
    pub async fn park(&self, fd: RawFd, partial: Partial) {
        let mut open = self.closed.subscribe();
        self.parked().insert(fd, partial);
        self.changed.notify_waiters();
        let _ = open
            .wait_for(|closed| !*closed || self.is_released(fd))
            .await;
        self.parked().remove(&fd);
    }

    /// The process writing into `pipes` has exited: their readers go on to each pipe's end,
    /// the gate closed or not (a parked one is woken).
    pub fn release(&self, pipes: &[RawFd]) {
        let mut released = self.released();
        for &fd in pipes {
            released.entry(fd).or_insert(false);
        }
        drop(released);
        // Every reader waits on the gate: waking them all at each exit cost a shutdown of
        // 10,000 components 10,000 wake-ups an exit. Only a closed gate holds anyone back.
        if self.is_closed() {
            // Wakes every waiter to look again: the value is the same.
            self.closed.send_modify(|_| {});
        }
    }

    fn is_closed(&self) -> bool {
        *self.closed.borrow()
    }

    /// The reader of the released pipe `fd` read it empty and delivered all it read: no
    /// longer waited for.
    pub fn caught_up(&self, fd: RawFd) {
        if let Some(caught) = self.released().get_mut(&fd) {
            *caught = true;
        }
        self.changed.notify_waiters();
    }

    /// The reader of `fd` delivered its last line and took its pipe off the live ones: it is no
    /// longer waited for (nor released: the number may be reused once the pipe closes).
    pub fn ended(&self, fd: RawFd) {
        self.released().remove(&fd);
        self.changed.notify_waiters();
    }

    /// The pipes of `live` still waited for: those not caught up.
    fn waited_for(&self, live: &[RawFd]) -> Vec<RawFd> {
        let released = self.released();
        let caught = |fd: &&RawFd| released.get(*fd).copied().unwrap_or(false);
        live.iter().filter(|fd| !caught(fd)).copied().collect()
    }

    /// Waits until every pipe `live` lists is caught up: every reader has delivered its last
    /// line (the gate open, none parks), or read its exited process's pipe empty.
    pub async fn all_ended(&self, live: impl Fn() -> Vec<RawFd>) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if self.waited_for(&live()).is_empty() {
                return;
            }
            changed.await;
        }
    }

    /// Waits until every pipe that `live` lists is parked or caught up (a reader past its pipe's
    /// end keeps the pipe listed until its last line is delivered); the parked ones' lines
    /// under way.
    pub async fn all_parked(&self, live: impl Fn() -> Vec<RawFd>) -> HashMap<RawFd, Partial> {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let pipes = self.waited_for(&live());
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

    /// The pipes of `live` neither parked nor caught up (yet): for a refusal's reason.
    pub fn unparked(&self, live: &[RawFd]) -> Vec<RawFd> {
        let waited = self.waited_for(live);
        let parked = self.parked();
        waited
            .iter()
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
        gate.ended(4);
        let partials = tokio::time::timeout(Duration::from_secs(10), waiting)
            .await
            .expect("the hand-over ended once pipe 4 was off")
            .unwrap();
        assert_eq!(partials.keys().copied().collect::<Vec<_>>(), [3]);
        gate.open();
        parked.await.unwrap();
    }

    /// A parked reader whose process exited is let go while the gate stays closed, and the
    /// gate never holds its pipe again until that pipe ends; the other reader stays parked.
    #[actix_rt::test]
    async fn a_released_pipe_is_read_on_behind_a_closed_gate() {
        let gate = Arc::new(Gate::new());
        gate.close();
        let park = |fd| {
            let gate = Arc::clone(&gate);
            actix_rt::spawn(async move { gate.park(fd, Partial::default()).await })
        };
        let (dead, live) = (park(5), park(6));
        while gate.parked().len() < 2 {
            tokio::task::yield_now().await;
        }
        gate.release(&[5]);
        tokio::time::timeout(Duration::from_secs(10), dead)
            .await
            .expect("the released reader goes on")
            .unwrap();
        assert!(!gate.holds(5) && gate.holds(6));
        let mut live = live;
        let still = tokio::time::timeout(Duration::from_millis(50), &mut live).await;
        assert!(still.is_err(), "the other reader stays parked");
        gate.ended(5);
        assert!(gate.holds(5), "a number reused later is held again");
        gate.open();
        live.await.unwrap();
    }

    /// An exit wakes the readers only while the gate is closed: open, nothing holds them, and
    /// waking every reader at each exit made a shutdown of 10,000 components quadratic.
    #[test]
    fn a_release_wakes_the_readers_only_behind_a_closed_gate() {
        let gate = Gate::new();
        let watcher = gate.closed.subscribe();
        gate.release(&[7]);
        assert!(!watcher.has_changed().unwrap(), "open: nobody woken");
        gate.close();
        let mut watcher = gate.closed.subscribe();
        watcher.mark_unchanged();
        gate.release(&[8]);
        assert!(
            watcher.has_changed().unwrap(),
            "closed: the readers look again"
        );
        assert!(
            !gate.holds(7) && !gate.holds(8),
            "both released all the same"
        );
    }

    /// A released pipe read empty is waited for by neither a drain nor a hand-over; a pipe
    /// still delivering is (the control).
    #[actix_rt::test]
    async fn a_caught_up_pipe_is_not_waited_for() {
        let gate = Gate::new();
        gate.release(&[3]);
        gate.caught_up(3);
        let soon = Duration::from_millis(50);
        let waiting = tokio::time::timeout(soon, gate.all_ended(|| vec![3, 4])).await;
        assert!(waiting.is_err(), "pipe 4 is waited for");
        assert_eq!(gate.unparked(&[3, 4]), [4]);
        let deadline = Duration::from_secs(10);
        (tokio::time::timeout(deadline, gate.all_ended(|| vec![3])).await)
            .expect("a drain does not wait for pipe 3");
        gate.close();
        let handed = tokio::time::timeout(deadline, gate.all_parked(|| vec![3])).await;
        assert!(
            handed.expect("nor a hand-over").is_empty(),
            "nothing handed"
        );
    }
}
