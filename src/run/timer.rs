//! Sleeping with sub-millisecond precision.
//!
//! tokio's timer wheel rounds every deadline up to the next millisecond, which
//! adds up to 1 ms per `sleep` on a critical path. Here tokio sleeps until about
//! a millisecond before the deadline; the rest is slept precisely on the thread.

use std::time::{Duration, Instant};

/// Sleeps until `deadline`, accurate to tens of microseconds.
pub async fn sleep_until(deadline: Instant) {
    let coarse = Duration::from_micros(1_500);
    let now = Instant::now();
    if deadline > now + coarse {
        tokio::time::sleep_until((deadline - Duration::from_millis(1)).into()).await;
    }
    let now = Instant::now();
    if deadline > now {
        // At most about a millisecond: block the thread rather than round up.
        std::thread::sleep(deadline - now);
    }
}

pub async fn sleep(d: Duration) {
    sleep_until(Instant::now() + d).await;
}
