//! `RATE_LIMIT`: requests per second per key per instance, with a burst of
//! as many (governor's GCRA, one cell per key name); `0` is off.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use crate::shutdown::Shutdown;

type Limiter = RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock>;

/// The rate limit of one instance, shared by its HTTP workers.
#[derive(Clone)]
pub struct RateLimit(Option<Arc<Limiter>>);

impl RateLimit {
    pub fn new(per_second: u32) -> Self {
        Self(
            NonZeroU32::new(per_second)
                .map(|n| Arc::new(RateLimiter::keyed(Quota::per_second(n).allow_burst(n)))),
        )
    }

    pub fn is_on(&self) -> bool {
        self.0.is_some()
    }

    /// Counts one request of `key`; over the limit, the whole seconds to wait
    /// (at least 1), for `Retry-After`.
    pub fn check(&self, key: &str) -> Result<(), u64> {
        let Some(limiter) = &self.0 else {
            return Ok(());
        };
        limiter.check_key(&key.to_owned()).map_err(|not_until| {
            let wait = not_until.wait_time_from(limiter.clock().now());
            (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
        })
    }

    /// Drops the state of keys that are back under their limit.
    fn forget_idle(&self) {
        if let Some(limiter) = &self.0 {
            limiter.retain_recent();
        }
    }
}

/// Keeps the limiter's memory to the keys in use, until told to stop.
pub async fn forget_idle(limit: RateLimit, mut shutdown: Shutdown) {
    while !shutdown.sleep(Duration::from_secs(60)).await {
        limit.forget_idle();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_the_limit_passes_and_the_next_waits_at_least_a_second() {
        let limit = RateLimit::new(3);
        for _ in 0..3 {
            assert_eq!(limit.check("a"), Ok(()));
        }
        assert!(matches!(limit.check("a"), Err(wait) if wait >= 1));
        // Another key has its own allowance.
        assert_eq!(limit.check("b"), Ok(()));
    }

    #[test]
    fn zero_is_off() {
        let limit = RateLimit::new(0);
        assert!(!limit.is_on());
        for _ in 0..1000 {
            assert_eq!(limit.check("a"), Ok(()));
        }
    }
}
