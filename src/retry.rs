//! The one backoff of the program: exponential with full jitter; and the
//! limits of retrying a transient HTTP failure, with `Retry-After`.
//!
//! Full jitter (a uniform delay between zero and the exponential ceiling)
//! keeps many runners that failed together from retrying together. The
//! registry client uses it between transient failures and while waiting for
//! an image; the write-back uses it between attempts that lost a race. Only
//! the constants differ, so each caller names its own.

use std::time::{Duration, SystemTime};

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

/// Transient failures (5xx, connection errors, timeouts) are retried this
/// many times after the first attempt; then the error is reported.
pub(crate) const MAX_RETRIES: u32 = 3;
/// Longest we honour a `Retry-After`; longer asks are reported, not slept on.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Parses `Retry-After`: delta-seconds or an HTTP date (RFC 9110 IMF-fixdate,
/// `Sun, 06 Nov 1994 08:49:37 GMT`). A date in the past means "now".
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = parse_http_date(value)?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

fn parse_http_date(s: &str) -> Option<SystemTime> {
    // "Sun, 06 Nov 1994 08:49:37 GMT"
    let (_weekday, rest) = s.split_once(", ")?;
    let mut parts = rest.split(' ');
    let day: u64 = parts.next()?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: i64 = parts.next()?.parse().ok()?;
    let mut hms = parts.next()?.split(':').map(|n| n.parse::<u64>().ok());
    let (h, m, sec) = (hms.next()??, hms.next()??, hms.next()??);
    if parts.next()? != "GMT" || day == 0 || day > 31 || h > 23 || m > 59 || sec > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day as i64);
    let secs = u64::try_from(days).ok()? * 86_400 + h * 3600 + m * 60 + sec;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
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

    #[test]
    fn retry_after_accepts_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        let cases = [
            ("0", Some(0)),
            ("7", Some(7)),
            (" 120 ", Some(120)),
            ("Sun, 06 Nov 1994 08:49:37 GMT", Some(0)),
            ("Sun, 06 Nov 1994 08:49:47 GMT", Some(10)),
            ("Mon, 07 Nov 1994 08:49:37 GMT", Some(86_400)),
            ("Sat, 05 Nov 1994 08:49:37 GMT", Some(0)),
            ("Thu, 01 Jan 1970 00:00:00 GMT", Some(0)),
            ("soon", None),
            ("-5", None),
            ("Sun, 06 Foo 1994 08:49:37 GMT", None),
            ("Sun, 06 Nov 1994 08:49:37 CET", None),
        ];
        for (value, want) in cases {
            assert_eq!(
                parse_retry_after(value, now),
                want.map(Duration::from_secs),
                "{value}"
            );
        }
    }
}
