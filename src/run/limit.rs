//! Concurrency limits (`max_concurrent`, a tool's own limit): a count of
//! permits, and the steps waiting for one.
//!
//! When a limit holds steps back, the next free permit goes to the waiting
//! step with the longest chain of steps after it in its flow (its priority,
//! `ir::expr::BlockPlan::height`), and among equals to the one that asked
//! first. Starting the critical path first is what lets a limited DAG finish
//! in the time of its longest chain rather than later: on the benchmark kit's
//! `wide` workload, first-come-first-served takes 0.545 s at best, the
//! longest chain first 0.475 s, its lower bound (docs/performance.md).
//!
//! An interpreter runs on one thread, so a limit is a plain `Cell` count and
//! a heap of waiters, without atomics.

use std::cell::{Cell, RefCell};
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

/// The most permits a limit has (any `max_concurrent` above is this).
pub const MAX_PERMITS: usize = u32::MAX as usize;

/// One concurrency limit.
pub struct Limit {
    free: Cell<usize>,
    waiting: RefCell<BinaryHeap<Waiter>>,
    next_seq: Cell<u64>,
}

/// What a waiting step and the limit share.
#[derive(Default)]
struct Slot {
    /// It stopped waiting (it took a permit, or it was cancelled).
    gone: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

struct Waiter {
    priority: u32,
    seq: u64,
    slot: Rc<Slot>,
}

impl Waiter {
    fn rank(&self) -> (u32, std::cmp::Reverse<u64>) {
        (self.priority, std::cmp::Reverse(self.seq))
    }
}

impl PartialEq for Waiter {
    fn eq(&self, other: &Self) -> bool {
        self.rank() == other.rank()
    }
}
impl Eq for Waiter {}
impl PartialOrd for Waiter {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Waiter {
    /// The heap pops its greatest: the highest priority, then the earliest.
    fn cmp(&self, other: &Self) -> Ordering {
        self.rank().cmp(&other.rank())
    }
}

impl Limit {
    pub fn new(permits: usize) -> Limit {
        Limit {
            free: Cell::new(permits.min(MAX_PERMITS)),
            waiting: RefCell::new(BinaryHeap::new()),
            next_seq: Cell::new(0),
        }
    }

    /// Takes one permit, waiting for one when none is free; it is given back
    /// with [`Limit::give`]. A step of a higher `priority` is served first.
    pub fn take(&self, priority: u32) -> Take<'_> {
        Take {
            limit: self,
            priority,
            seq: None,
            slot: None,
        }
    }

    /// Takes one permit when [`Limit::take`] would take it on the spot (one
    /// is free, and no waiting step ranks before a new one of `priority`);
    /// `false`, taking none, when it would wait.
    pub fn try_take(&self, priority: u32) -> bool {
        let first = self.best().is_none_or(|(p, _)| priority > p);
        if self.free.get() == 0 || !first {
            return false;
        }
        self.free.set(self.free.get() - 1);
        // More permits free (several given back at once): the next waiter.
        self.wake_best();
        true
    }

    /// Gives a permit back, and wakes the best waiting step to take it.
    ///
    /// The permit is not handed over here: the step that gave it back may
    /// make a step ready that ranks higher than every waiting one (the next
    /// on a chain), and that one, asking before the woken step is polled,
    /// takes it first.
    pub fn give(&self) {
        self.free.set(self.free.get() + 1);
        self.wake_best();
    }

    /// The best waiting step still waiting, after dropping those gone.
    fn best(&self) -> Option<(u32, u64)> {
        let mut waiting = self.waiting.borrow_mut();
        while waiting.peek().is_some_and(|w| w.slot.gone.get()) {
            waiting.pop();
        }
        waiting.peek().map(|w| (w.priority, w.seq))
    }

    fn wake_best(&self) {
        if self.free.get() == 0 || self.best().is_none() {
            return;
        }
        let waker = self
            .waiting
            .borrow()
            .peek()
            .and_then(|w| w.slot.waker.borrow_mut().take());
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Permits free now (for tests).
    #[cfg(test)]
    fn available(&self) -> usize {
        self.free.get()
    }
}

/// A step waiting for a permit of a limit.
pub struct Take<'l> {
    limit: &'l Limit,
    priority: u32,
    /// Its place among equals: given at its first poll.
    seq: Option<u64>,
    slot: Option<Rc<Slot>>,
}

impl Future for Take<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let limit = self.limit;
        let seq = *self.seq.get_or_insert_with(|| {
            let s = limit.next_seq.get();
            limit.next_seq.set(s + 1);
            s
        });
        let ranks_first = match limit.best() {
            None => true,
            Some(best) => {
                (self.priority, std::cmp::Reverse(seq)) >= (best.0, std::cmp::Reverse(best.1))
            }
        };
        if limit.free.get() > 0 && ranks_first {
            limit.free.set(limit.free.get() - 1);
            if let Some(slot) = self.slot.take() {
                slot.gone.set(true);
            }
            // More permits free (several given back at once): the next waiter.
            limit.wake_best();
            return Poll::Ready(());
        }
        match &self.slot {
            Some(slot) => {
                let mut w = slot.waker.borrow_mut();
                if !w.as_ref().is_some_and(|o| o.will_wake(cx.waker())) {
                    *w = Some(cx.waker().clone());
                }
            }
            None => {
                let slot = Rc::new(Slot::default());
                *slot.waker.borrow_mut() = Some(cx.waker().clone());
                limit.waiting.borrow_mut().push(Waiter {
                    priority: self.priority,
                    seq,
                    slot: slot.clone(),
                });
                self.slot = Some(slot);
            }
        }
        Poll::Pending
    }
}

impl Drop for Take<'_> {
    /// A step cancelled while it waited leaves the queue; if it had been
    /// woken to take a free permit, the next one is woken instead.
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            slot.gone.set(true);
            self.limit.wake_best();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    fn poll(t: &mut Pin<Box<Take<'_>>>) -> bool {
        let mut cx = Context::from_waker(Waker::noop());
        t.as_mut().poll(&mut cx).is_ready()
    }

    #[test]
    fn the_longest_chain_goes_first_then_the_earliest() {
        let l = Limit::new(1);
        let mut first = Box::pin(l.take(0));
        assert!(poll(&mut first));
        let mut low = Box::pin(l.take(1));
        let mut high = Box::pin(l.take(5));
        let mut high_later = Box::pin(l.take(5));
        assert!(!poll(&mut low) && !poll(&mut high) && !poll(&mut high_later));
        l.give();
        assert!(!poll(&mut low) && !poll(&mut high_later) && poll(&mut high));
        l.give();
        assert!(!poll(&mut low) && poll(&mut high_later));
        l.give();
        assert!(poll(&mut low));
        l.give();
        assert_eq!(l.available(), 1);
    }

    #[test]
    fn try_take_takes_what_take_would_take_at_once_and_nothing_else() {
        let l = Limit::new(2);
        assert!(l.try_take(0));
        let mut waiting = Box::pin(l.take(3));
        assert!(poll(&mut waiting));
        // None free: none taken.
        assert!(!l.try_take(9));
        assert_eq!(l.available(), 0);
        let mut queued = Box::pin(l.take(3));
        assert!(!poll(&mut queued));
        l.give();
        // A free permit that a waiting step of a higher or equal rank is
        // woken for is left to it; a higher rank takes it first.
        assert!(!l.try_take(3) && !l.try_take(1));
        assert!(l.try_take(4));
        assert!(!poll(&mut queued));
        l.give();
        assert!(poll(&mut queued));
    }

    #[test]
    fn a_step_made_ready_by_the_giver_can_take_its_permit_first() {
        let l = Limit::new(1);
        let mut giver = Box::pin(l.take(3));
        assert!(poll(&mut giver));
        let mut waiting = Box::pin(l.take(0));
        assert!(!poll(&mut waiting));
        l.give();
        // The giver's successor asks before the woken step is polled.
        let mut next = Box::pin(l.take(2));
        assert!(poll(&mut next) && !poll(&mut waiting));
        l.give();
        assert!(poll(&mut waiting));
    }

    #[test]
    fn a_cancelled_waiter_leaves_the_queue() {
        let l = Limit::new(1);
        let mut holder = Box::pin(l.take(0));
        assert!(poll(&mut holder));
        let mut a = Box::pin(l.take(9));
        let mut b = Box::pin(l.take(1));
        assert!(!poll(&mut a) && !poll(&mut b));
        // `a` is woken to take the permit, then dropped before it is polled.
        l.give();
        drop(a);
        assert!(poll(&mut b));
        l.give();
        assert_eq!(l.available(), 1);
    }
}
