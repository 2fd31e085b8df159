//! The one backoff of the program: exponential with full jitter.
//!
//! Full jitter (a uniform delay between zero and the exponential ceiling)
//! keeps many runners that failed together from retrying together. The
//! registry client uses it between transient failures and while waiting for
//! an image; the write-back uses it between attempts that lost a race. Only
//! the constants differ, so each caller names its own.

use std::time::Duration;

use rand::Rng;

/// Exponential backoff with full jitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Backoff {
    pub base: Duration,
    pub cap: Duration,
}

impl Backoff {
    /// Between transient-failure retries of one registry request.
    pub(crate) const TRANSIENT: Backoff = Backoff {
        base: Duration::from_millis(200),
        cap: Duration::from_secs(5),
    };
    /// Between polls for an image that is not pushed yet.
    pub(crate) const WAIT: Backoff = Backoff {
        base: Duration::from_millis(500),
        cap: Duration::from_secs(15),
    };
    /// Between write-back attempts that lost a race. Small on purpose: every
    /// next attempt starts with a fetch of the new tip, which already spaces
    /// the racers out by one round trip, and a long sleep only leaves the
    /// branch idle while the losers wait (measured in benches/load.sh).
    pub(crate) const PUSH: Backoff = Backoff {
        base: Duration::from_millis(100),
        cap: Duration::from_millis(1500),
    };

    /// The delay before retry number `attempt` (0-based): uniform in
    /// `[0, min(cap, base·2^attempt)]`.
    pub(crate) fn delay(&self, attempt: u32) -> Duration {
        let millis = u64::try_from(self.ceiling(attempt).as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rand::rng().random_range(0..=millis))
    }

    /// The upper bound of [`Backoff::delay`].
    pub(crate) fn ceiling(&self, attempt: u32) -> Duration {
        self.base
            .saturating_mul(2u32.saturating_pow(attempt.min(16)))
            .min(self.cap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_are_full_jitter_under_an_exponential_ceiling() {
        let b = Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_millis(1000),
        };
        // (retry number, ceiling in ms)
        for (attempt, ceiling) in [
            (0, 100),
            (1, 200),
            (2, 400),
            (3, 800),
            (4, 1000),
            (40, 1000),
        ] {
            assert_eq!(b.ceiling(attempt), Duration::from_millis(ceiling));
            let delays: Vec<Duration> = (0..200).map(|_| b.delay(attempt)).collect();
            assert!(delays.iter().all(|d| *d <= Duration::from_millis(ceiling)));
            // Spread over the whole range, not bunched at the top.
            let low = delays
                .iter()
                .filter(|d| **d < Duration::from_millis(ceiling / 2))
                .count();
            assert!((20..=180).contains(&low), "{attempt}: {low} of 200 low");
        }
    }
}
