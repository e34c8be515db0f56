//! `max_memory` (docs/language.md, "Memory and time limits"): the bytes held by the values
//! of a run's `let`s, counted approximately, and the waiting of new steps while they pass
//! the budget. Values built by pure computation are held to it too: a list, record,
//! string, `++` or built-in function's result larger than the budget — with what the
//! `for`s and `loop`s under way have built so far (their results, their state) — fails
//! its step with `policy_violation`.
//!
//! A value's size is estimated from its shape — 16 bytes a scalar, a string's
//! length plus 24, 24 a list or 48 a record plus their elements (and keys) — which
//! is close to what `serde_json` allocates for it. A value is counted from when
//! its `let` finishes until the last statement that reads it has finished (or its
//! block ends).

use std::cell::Cell;

use serde_json::Value;
use tokio::sync::Notify;

#[derive(Default)]
pub struct Memory {
    held: Cell<u64>,
    /// Bytes the `for`s and `loop`s under way have built so far.
    building: Cell<u64>,
    /// Values refused for passing the budget so far.
    refusals: Cell<u64>,
    running: Cell<usize>,
    released: Notify,
}

impl Memory {
    /// Bytes held now.
    pub fn held(&self) -> u64 {
        self.held.get()
    }

    /// Bytes the `for`s and `loop`s under way have built so far.
    pub fn building(&self) -> u64 {
        self.building.get()
    }

    /// Values refused for passing the budget so far.
    pub fn refusals(&self) -> u64 {
        self.refusals.get()
    }

    /// Notes a value refused for passing the budget.
    pub fn refuse(&self) {
        self.refusals.set(self.refusals.get() + 1);
    }

    pub fn hold(&self, bytes: u64) {
        self.held.set(self.held.get().saturating_add(bytes));
    }

    pub fn release(&self, bytes: u64) {
        if bytes > 0 {
            self.held.set(self.held.get().saturating_sub(bytes));
            self.released.notify_waiters();
        }
    }

    /// Waits until a new step may start under `budget`: while more than the
    /// budget is held, steps start one at a time (when no other is running), so
    /// the run goes on and the values its steps release bring it back under.
    pub async fn admit(&self, budget: u64) -> Running<'_> {
        loop {
            let released = self.released.notified();
            if self.held.get() <= budget || self.running.get() == 0 {
                self.running.set(self.running.get() + 1);
                return Running { memory: self };
            }
            released.await;
        }
    }
}

/// A step admitted by [`Memory::admit`]; its end lets a waiting step look again.
pub struct Running<'a> {
    memory: &'a Memory,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.memory.running.set(self.memory.running.get() - 1);
        self.memory.released.notify_waiters();
    }
}

/// Bytes a `for` (its results so far) or a `loop` (its state) has built, counted
/// in [`Memory::building`] for as long as it lives.
pub struct Held<'a> {
    memory: &'a Memory,
    bytes: u64,
}

impl<'a> Held<'a> {
    pub fn new(memory: &'a Memory) -> Held<'a> {
        Held { memory, bytes: 0 }
    }

    pub fn add(&mut self, bytes: u64) {
        let b = &self.memory.building;
        b.set(b.get().saturating_add(bytes));
        self.bytes = self.bytes.saturating_add(bytes);
    }

    /// Holds `bytes` in place of what it held.
    pub fn set(&mut self, bytes: u64) {
        let b = &self.memory.building;
        b.set(b.get().saturating_sub(std::mem::take(&mut self.bytes)));
        self.add(bytes);
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        let b = &self.memory.building;
        b.set(b.get().saturating_sub(self.bytes));
    }
}

/// The approximate bytes a value takes in memory.
pub fn size(v: &Value) -> u64 {
    match v {
        Value::Null | Value::Bool(_) | Value::Number(_) => 16,
        Value::String(s) => 24 + s.len() as u64,
        Value::Array(items) => 24 + items.iter().map(size).sum::<u64>(),
        Value::Object(m) => {
            48 + m
                .iter()
                .map(|(k, x)| 24 + k.len() as u64 + size(x))
                .sum::<u64>()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt;
    use serde_json::json;

    #[test]
    fn sizes_follow_the_shape_of_a_value() {
        assert_eq!(size(&json!("abcd")), 28);
        assert_eq!(size(&json!([1, 2])), 24 + 32);
        assert_eq!(size(&json!({"ab": null})), 48 + 26 + 16);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn over_the_budget_steps_start_one_at_a_time() {
        let m = Memory::default();
        m.hold(100);
        // Nothing runs: one step may start, even over the budget.
        let first = m.admit(10).await;
        let mut second = std::pin::pin!(m.admit(10));
        assert!(
            second.as_mut().now_or_never().is_none(),
            "waits over the budget"
        );
        m.release(95);
        assert!(second.as_mut().now_or_never().is_some(), "starts under it");
        drop(first);
    }
}
