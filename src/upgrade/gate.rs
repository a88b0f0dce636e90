//! Holding the daemon's listeners still for the exec: right before `execve` the control socket
//! and the HTTP endpoint stop accepting, and the connections they took are answered first, so
//! that no client is cut off by the exec. A client that connects meanwhile waits in the
//! listener's backlog and is answered by the new image, which takes the listener over.
//!
//! A connection that waits on the tree (a request the daemon actor answers, a wait for
//! readiness) is answered `busy` as the gate closes ([`Gate::closed`]): the command was carried
//! out, its readiness is not awaited across the exec. `upgrade` itself ends with the old image
//! (its client waits for the new one). The wait is bounded ([`QUIET_WITHIN`]): a client that
//! never sends its request does not stop an upgrade.

use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::Poll;
use std::time::Duration;

use tokio::sync::Notify;

/// The longest the exec waits for the listeners to be quiet.
pub const QUIET_WITHIN: Duration = Duration::from_secs(1);

/// The gate of every accept loop in the daemon.
pub static GATE: Gate = Gate::new();

/// Whether accept loops may accept, and what they are doing.
pub struct Gate {
    closed: AtomicBool,
    /// Accept loops serving.
    loops: AtomicUsize,
    /// Accept loops that saw the gate closed and accept no more.
    parked: AtomicUsize,
    /// Connections accepted and not yet answered (or handed to the tree).
    busy: AtomicUsize,
    /// The gate opened or closed.
    changed: Notify,
    /// A loop parked or a connection was answered.
    settled: Notify,
}

/// One accept loop, counted while it serves.
pub struct Serving(&'static Gate);

/// One connection being answered, counted until dropped.
pub struct Busy(&'static Gate);

impl Gate {
    const fn new() -> Gate {
        Gate {
            closed: AtomicBool::new(false),
            loops: AtomicUsize::new(0),
            parked: AtomicUsize::new(0),
            busy: AtomicUsize::new(0),
            changed: Notify::const_new(),
            settled: Notify::const_new(),
        }
    }

    /// Counts an accept loop until the guard is dropped.
    pub fn serve(&'static self) -> Serving {
        self.loops.fetch_add(1, Ordering::SeqCst);
        Serving(self)
    }

    /// The next connection `accept` gives, taken only while the gate is open; it is counted
    /// busy until the guard is dropped.
    pub async fn admit<S, F, Fut>(&'static self, mut accept: F) -> (S, Busy)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = S>,
    {
        loop {
            self.wait_open().await;
            let mut changed = pin!(self.changed.notified());
            changed.as_mut().enable();
            if self.closed.load(Ordering::SeqCst) {
                continue;
            }
            let mut accepting = pin!(accept());
            // Whichever comes first: the gate closing, or a connection.
            let accepted = poll_fn(|cx| match changed.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(None),
                Poll::Pending => accepting.as_mut().poll(cx).map(Some),
            })
            .await;
            if let Some(stream) = accepted {
                self.busy.fetch_add(1, Ordering::SeqCst);
                return (stream, Busy(self));
            }
        }
    }

    /// Returns once the gate is closed: an exec is near, and whatever waits must answer now.
    pub async fn closed(&self) {
        loop {
            let mut changed = pin!(self.changed.notified());
            changed.as_mut().enable();
            if self.closed.load(Ordering::SeqCst) {
                return;
            }
            changed.await;
        }
    }

    /// `work`'s output, or `None` if the gate closes first.
    pub async fn unless_closed<T>(&self, work: impl Future<Output = T>) -> Option<T> {
        let (mut work, mut closed) = (pin!(work), pin!(self.closed()));
        poll_fn(|cx| match work.as_mut().poll(cx) {
            Poll::Ready(value) => Poll::Ready(Some(value)),
            Poll::Pending => closed.as_mut().poll(cx).map(|()| None),
        })
        .await
    }

    /// Returns once the gate is open; counted parked meanwhile.
    async fn wait_open(&self) {
        loop {
            let mut changed = pin!(self.changed.notified());
            changed.as_mut().enable();
            if !self.closed.load(Ordering::SeqCst) {
                return;
            }
            self.parked.fetch_add(1, Ordering::SeqCst);
            self.settled.notify_waiters();
            changed.await;
            self.parked.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Closes the gate and waits (at most `within`) until every loop accepts no more and every
    /// connection taken is answered.
    pub async fn close_and_wait(&self, within: Duration) {
        self.closed.store(true, Ordering::SeqCst);
        self.changed.notify_waiters();
        let quiet = async {
            loop {
                let mut settled = pin!(self.settled.notified());
                settled.as_mut().enable();
                let parked = self.parked.load(Ordering::SeqCst);
                if parked >= self.loops.load(Ordering::SeqCst)
                    && self.busy.load(Ordering::SeqCst) == 0
                {
                    return;
                }
                settled.await;
            }
        };
        let _ = tokio::time::timeout(within, quiet).await;
    }

    /// Opens the gate again (the upgrade did not happen).
    pub fn open(&self) {
        self.closed.store(false, Ordering::SeqCst);
        self.changed.notify_waiters();
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        self.0.loops.fetch_sub(1, Ordering::SeqCst);
        self.0.settled.notify_waiters();
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::SeqCst);
        self.0.settled.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exec_waits_for_the_connection_taken_not_for_the_backlog() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        runtime.block_on(waits_for_the_connection_taken());
    }

    async fn waits_for_the_connection_taken() {
        static TEST_GATE: Gate = Gate::new();
        let serving = TEST_GATE.serve();
        let (first, busy) = TEST_GATE.admit(|| async { 1 }).await;
        assert_eq!(first, 1);
        let closing = tokio::spawn(TEST_GATE.close_and_wait(Duration::from_secs(10)));
        // The loop comes back for the next connection and parks: the gate is closed.
        let next = tokio::spawn(TEST_GATE.admit(|| async { 2 }));
        tokio::task::yield_now().await;
        assert!(
            !closing.is_finished(),
            "the connection taken is not answered yet"
        );
        drop(busy);
        closing.await.unwrap();
        assert!(!next.is_finished(), "nothing is accepted while closed");
        TEST_GATE.open();
        assert_eq!(next.await.unwrap().0, 2);
        drop(serving);
    }
}
