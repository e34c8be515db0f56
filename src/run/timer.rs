//! Sleeping with sub-millisecond precision.
//!
//! tokio's timer wheel rounds every deadline up to the next millisecond (and
//! its poller can add about another), which adds up to 1–2 ms per `sleep` on a
//! critical path. Here one clock thread per process keeps every sleeper's
//! deadline in a heap, waits on a condition variable until the earliest one
//! (with the kernel's timer slack set to 1 µs, so the wait ends within tens of
//! microseconds of it) and wakes the sleepers whose deadlines have passed. No
//! run thread spins or blocks while it waits; a thousand sleepers cost one
//! waiting thread.

use std::cmp::Ordering as Order;
use std::collections::BinaryHeap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// What a sleeper and the clock thread share: whether the deadline has
/// passed, and whom to wake when it does.
#[derive(Default)]
struct Shared {
    fired: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

/// A deadline in the clock's heap, earliest first (ties in arrival order).
struct Entry {
    deadline: Instant,
    seq: u64,
    shared: Arc<Shared>,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.deadline, self.seq) == (other.deadline, other.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Order> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    /// Reversed: `BinaryHeap` pops its greatest, and the earliest must come first.
    fn cmp(&self, other: &Self) -> Order {
        (other.deadline, other.seq).cmp(&(self.deadline, self.seq))
    }
}

#[derive(Default)]
struct Heap {
    entries: BinaryHeap<Entry>,
    next_seq: u64,
}

struct Clock {
    heap: Mutex<Heap>,
    changed: Condvar,
}

impl Clock {
    /// The process's clock, its thread started on first use; `None` when
    /// the thread cannot start (the system's thread limit): sleeps then take
    /// tokio's timer, a millisecond or two less precise.
    fn get() -> Option<&'static Clock> {
        static CLOCK: OnceLock<Option<&'static Clock>> = OnceLock::new();
        *CLOCK.get_or_init(|| {
            let clock: &'static Clock = Box::leak(Box::new(Clock {
                heap: Mutex::new(Heap::default()),
                changed: Condvar::new(),
            }));
            std::thread::Builder::new()
                .name("flowc-clock".into())
                .spawn(move || clock.tick())
                .ok()
                .map(|_| clock)
        })
    }

    fn add(&self, deadline: Instant, shared: Arc<Shared>) {
        let mut heap = self.heap.lock().unwrap_or_else(PoisonError::into_inner);
        let seq = heap.next_seq;
        heap.next_seq += 1;
        heap.entries.push(Entry {
            deadline,
            seq,
            shared,
        });
        // Only a new earliest deadline changes how long the thread waits.
        if heap.entries.peek().is_some_and(|e| e.seq == seq) {
            self.changed.notify_one();
        }
    }

    /// The clock thread: wake whoever is due, then wait for the next deadline
    /// or for an earlier one to arrive.
    fn tick(&self) {
        #[cfg(target_os = "linux")]
        let _ = nix::sys::prctl::set_timerslack(1_000);
        let mut due: Vec<Arc<Shared>> = Vec::new();
        let mut heap = self.heap.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            let now = Instant::now();
            while heap.entries.peek().is_some_and(|e| e.deadline <= now) {
                if let Some(e) = heap.entries.pop() {
                    due.push(e.shared);
                }
            }
            if !due.is_empty() {
                // Woken without the heap's lock: a woken task may sleep again
                // at once, on another thread.
                drop(heap);
                for shared in due.drain(..) {
                    shared.fired.store(true, Ordering::SeqCst);
                    let waker = shared
                        .waker
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .take();
                    if let Some(w) = waker {
                        w.wake();
                    }
                }
                heap = self.heap.lock().unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            heap = match heap.entries.peek().map(|e| e.deadline) {
                None => self
                    .changed
                    .wait(heap)
                    .unwrap_or_else(PoisonError::into_inner),
                Some(at) => {
                    self.changed
                        .wait_timeout(heap, at.saturating_duration_since(now))
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
            };
        }
    }
}

/// A sleep until an instant; ready at once if it has passed.
pub struct Sleep {
    deadline: Instant,
    shared: Option<Arc<Shared>>,
    /// tokio's timer, when the clock's thread could not start.
    fallback: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let deadline = self.deadline;
        if let Some(f) = &mut self.fallback {
            return f.as_mut().poll(cx);
        }
        let shared = match &self.shared {
            Some(s) => s.clone(),
            None => {
                if Instant::now() >= deadline {
                    return Poll::Ready(());
                }
                let Some(clock) = Clock::get() else {
                    let mut f = Box::pin(tokio::time::sleep_until(deadline.into()));
                    let r = f.as_mut().poll(cx);
                    self.fallback = Some(f);
                    return r;
                };
                let s = Arc::new(Shared::default());
                *s.waker.lock().unwrap_or_else(PoisonError::into_inner) = Some(cx.waker().clone());
                self.shared = Some(s.clone());
                clock.add(deadline, s);
                return Poll::Pending;
            }
        };
        if shared.fired.load(Ordering::SeqCst) {
            return Poll::Ready(());
        }
        {
            let mut w = shared.waker.lock().unwrap_or_else(PoisonError::into_inner);
            match &*w {
                Some(old) if old.will_wake(cx.waker()) => {}
                _ => *w = Some(cx.waker().clone()),
            }
        }
        // The clock marks `fired` before it takes the waker: if it fired
        // between the first look and the waker's replacement, this sees it.
        if shared.fired.load(Ordering::SeqCst) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl Drop for Sleep {
    /// A sleep given up (a cancelled run, a lost race) leaves its deadline in
    /// the heap until it passes, but not its waker: the task it would wake
    /// is freed now, not when an hour-long sleep would have ended.
    fn drop(&mut self) {
        if let Some(s) = &self.shared {
            s.waker
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
        }
    }
}

/// Sleeps until `deadline`, accurate to tens of microseconds.
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep {
        deadline,
        shared: None,
        fallback: None,
    }
}

pub fn sleep(d: Duration) -> Sleep {
    sleep_until(Instant::now() + d)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sleepers registered out of order all wake, none before its deadline.
    #[test]
    fn sleepers_wake_at_their_deadlines_in_any_order() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let start = Instant::now();
            let lengths = [30u64, 5, 20, 1, 10, 0, 15];
            let woke = futures_util::future::join_all(lengths.iter().map(|&ms| async move {
                sleep(Duration::from_millis(ms)).await;
                (ms, start.elapsed())
            }))
            .await;
            for (ms, at) in woke {
                assert!(at >= Duration::from_millis(ms), "{ms} ms woke at {at:?}");
            }
        });
    }

    /// A dropped sleep lets its task go and does not disturb the others.
    #[test]
    fn a_dropped_sleep_does_not_stop_the_clock() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let mut long = Box::pin(sleep(Duration::from_secs(3600)));
            let mut cx = Context::from_waker(Waker::noop());
            assert!(long.as_mut().poll(&mut cx).is_pending());
            drop(long);
            let t = Instant::now();
            sleep(Duration::from_millis(3)).await;
            assert!(t.elapsed() >= Duration::from_millis(3));
        });
    }
}
