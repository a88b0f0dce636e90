//! Wake-ups of other threads, put off until the actors' thread has nothing left to do.
//!
//! A restart is one burst of work on the actors' thread: the exit is reaped, told to its
//! component and its group, and the replacement is spawned. Waking the journal thread or the
//! log writer in the middle of it costs the burst a futex call and, when the other CPUs sleep,
//! an inter-processor interrupt: up to 20 µs each on the path a user waits on (measured with
//! the kernel's `sched_waking` and `sys_enter` trace events). On a thread that said so with
//! [`defer_here`] (the actors' thread), [`wake`] queues the wake-up instead; on any other thread
//! it wakes at once. The queue is carried out ([`run_pending`]) by the runtime before it parks,
//! after each spawn, and between the chunks of an output flood: a thread that is never idle
//! still wakes the others.

use std::cell::RefCell;
use std::sync::Arc;

/// A wake-up of another thread: cheap to call more than once.
pub type Wake = Arc<dyn Fn() + Send + Sync>;

thread_local! {
    /// The wake-ups queued on this thread; `None` where wake-ups are not put off.
    static PENDING: RefCell<Option<Vec<Wake>>> = const { RefCell::new(None) };
}

/// From now on, wake-ups asked for on the calling thread wait for [`run_pending`]. Only for a
/// thread that calls it before every park (and [`stop_deferring`] before it ends).
pub fn defer_here() {
    PENDING.with_borrow_mut(|pending| {
        pending.get_or_insert_with(Vec::new);
    });
}

/// Calls `wake` now or, on a thread that defers, before it next parks (once however often it
/// was asked for meanwhile).
pub fn wake(wake: &Wake) {
    let queued = PENDING.with_borrow_mut(|pending| match pending {
        Some(pending) => {
            if !pending.iter().any(|queued| Arc::ptr_eq(queued, wake)) {
                pending.push(Arc::clone(wake));
            }
            true
        }
        None => false,
    });
    if !queued {
        wake();
    }
}

/// Carries out the wake-ups queued on this thread (the runtime's hook before it parks).
pub fn run_pending() {
    // Taken out first: a wake-up that logs must not find the queue borrowed.
    let queued = PENDING.with_borrow_mut(|pending| pending.as_mut().map(std::mem::take));
    let Some(mut queued) = queued else { return };
    for wake in queued.drain(..) {
        wake();
    }
    // The emptied vector goes back, so the next burst does not allocate.
    PENDING.with_borrow_mut(|pending| {
        if let Some(pending) = pending
            && pending.is_empty()
        {
            *pending = queued;
        }
    });
}

/// Carries out what is queued and wakes at once from now on: for a thread that will not park
/// again (its runtime has ended).
pub fn stop_deferring() {
    run_pending();
    PENDING.with_borrow_mut(|pending| *pending = None);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn counter() -> (Arc<AtomicU32>, Wake) {
        let count = Arc::new(AtomicU32::new(0));
        let counted = Arc::clone(&count);
        let wake: Wake = Arc::new(move || {
            counted.fetch_add(1, Ordering::SeqCst);
        });
        (count, wake)
    }

    #[test]
    fn a_thread_that_does_not_defer_wakes_at_once() {
        std::thread::spawn(|| {
            let (count, wake) = counter();
            super::wake(&wake);
            assert_eq!(count.load(Ordering::SeqCst), 1);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn a_deferring_thread_wakes_once_per_burst_before_it_parks() {
        std::thread::spawn(|| {
            defer_here();
            let (count, wake) = counter();
            let (other, other_wake) = counter();
            for _ in 0..5 {
                super::wake(&wake);
            }
            super::wake(&other_wake);
            assert_eq!(count.load(Ordering::SeqCst), 0, "nothing before the park");
            run_pending();
            assert_eq!(count.load(Ordering::SeqCst), 1, "once for the burst");
            assert_eq!(other.load(Ordering::SeqCst), 1, "every wake-up asked for");
            super::wake(&wake);
            run_pending();
            assert_eq!(count.load(Ordering::SeqCst), 2, "again in the next burst");
            super::wake(&wake);
            stop_deferring();
            assert_eq!(
                count.load(Ordering::SeqCst),
                3,
                "what was queued runs at the end"
            );
            super::wake(&wake);
            assert_eq!(count.load(Ordering::SeqCst), 4, "and later ones at once");
        })
        .join()
        .unwrap();
    }
}
