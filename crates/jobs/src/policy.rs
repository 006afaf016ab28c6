//! One retry and dead-letter policy, configured per job kind.

use std::time::Duration;

/// How often and how late a failing job of one kind is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts (the first run included) before the job is dead-lettered.
    pub max_attempts: i32,
    /// The first retry's delay; each further retry doubles it, up to `max_delay`.
    pub base_delay: Duration,
    /// The longest retry delay.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// 8 attempts, 1 s doubling up to 5 min (about 6 min from the first failure to the last).
    fn default() -> Self {
        Self {
            max_attempts: 8,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// The delay before the retry that follows failed attempt number `attempts` (1-based):
    /// `base_delay · 2^(attempts−1)`, capped at `max_delay`.
    #[must_use]
    pub fn delay(&self, attempts: i32) -> Duration {
        let exp = u32::try_from(attempts.saturating_sub(1))
            .unwrap_or(0)
            .min(20);
        self.base_delay
            .saturating_mul(2u32.saturating_pow(exp))
            .min(self.max_delay)
    }

    /// Whether a job that failed on attempt number `attempts` is dead-lettered.
    #[must_use]
    pub fn exhausted(&self, attempts: i32) -> bool {
        attempts >= self.max_attempts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap() {
        let p = RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(10),
        };
        let delays: Vec<u64> = (1..=5).map(|n| p.delay(n).as_secs()).collect();
        assert_eq!(delays, [2, 4, 8, 10, 10]);
        assert!(!p.exhausted(4));
        assert!(p.exhausted(5));
        assert_eq!(p.delay(i32::MAX), Duration::from_secs(10));
    }
}
