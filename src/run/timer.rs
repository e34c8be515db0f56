//! Sleeping with sub-millisecond precision.
//!
//! tokio's timer wheel rounds every deadline up to the next millisecond, which
//! adds up to 1 ms per `sleep` on a critical path. Here tokio sleeps until about
//! a millisecond before the deadline; the rest is slept precisely on the thread.

use std::time::{Duration, Instant};

/// Sleeps until `deadline`, accurate to tens of microseconds.
pub async fn sleep_until(deadline: Instant) {
    // tokio may wake up to about 2 ms late (its wheel and the poller round up).
    let margin = Duration::from_micros(2_500);
    let now = Instant::now();
    if deadline > now + margin {
        tokio::time::sleep_until((deadline - margin).into()).await;
    }
    // The last stretch: give way to other tasks until the deadline is close,
    // then sleep the remainder (well under a millisecond) on the thread.
    loop {
        let now = Instant::now();
        if now >= deadline {
            return;
        }
        let left = deadline - now;
        if left <= Duration::from_micros(200) {
            std::thread::sleep(left);
            return;
        }
        tokio::task::yield_now().await;
    }
}

pub async fn sleep(d: Duration) {
    sleep_until(Instant::now() + d).await;
}
