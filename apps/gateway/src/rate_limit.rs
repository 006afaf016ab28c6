//! Request rate limits per organization and per organization API key (issue 23 §5;
//! docs/integrating.md, "Rate limits").
//!
//! Every request a user, an organization key or an app key authenticated counts against its
//! organization's bucket (`RATE_LIMIT_ORG_PER_MIN`), and a request made with an organization key
//! also against that key's bucket (`RATE_LIMIT_KEY_PER_MIN`). A bucket holds a minute's worth of
//! requests and refills continuously (GCRA, the `governor` crate). Over the limit the request is
//! answered before its handler: 429 `rate_limited` with `Retry-After` (whole seconds, at least
//! 1). The buckets live in each instance's memory: with N instances behind a balancer a client
//! gets up to N times the figure, and a restart forgets them.

use std::num::NonZeroU32;
use std::time::Duration;

use actix_web::http::StatusCode;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use uuid::Uuid;

use crate::error::ApiError;

/// Requests per minute per organization and per key; 0 turns a limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitConfig {
    /// `RATE_LIMIT_ORG_PER_MIN`: default 6,000.
    pub org_per_minute: u32,
    /// `RATE_LIMIT_KEY_PER_MIN`: default 1,200.
    pub key_per_minute: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            org_per_minute: 6_000,
            key_per_minute: 1_200,
        }
    }
}

/// The buckets of one instance.
#[derive(Debug)]
pub struct RateLimits {
    org: Option<DefaultKeyedRateLimiter<Uuid>>,
    key: Option<DefaultKeyedRateLimiter<Uuid>>,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self::new(RateLimitConfig::default())
    }
}

/// Keys kept before idle buckets are dropped.
const PRUNE_ABOVE: usize = 100_000;

fn limiter(per_minute: u32) -> Option<DefaultKeyedRateLimiter<Uuid>> {
    NonZeroU32::new(per_minute).map(|n| RateLimiter::keyed(Quota::per_minute(n)))
}

fn take(limiter: Option<&DefaultKeyedRateLimiter<Uuid>>, id: Uuid) -> Result<(), Duration> {
    let Some(limiter) = limiter else {
        return Ok(());
    };
    if limiter.len() > PRUNE_ABOVE {
        limiter.retain_recent();
    }
    limiter
        .check_key(&id)
        .map_err(|refused| refused.wait_time_from(DefaultClock::default().now()))
}

impl RateLimits {
    /// Buckets of `config`'s sizes.
    #[must_use]
    pub fn new(config: RateLimitConfig) -> Self {
        Self {
            org: limiter(config.org_per_minute),
            key: limiter(config.key_per_minute),
        }
    }

    /// Counts one request of organization `org` (made with organization key `key`, if any).
    ///
    /// # Errors
    /// 429 `rate_limited` with `Retry-After` when a bucket is empty (the key's is checked
    /// first, so a busy key does not spend its organization's requests on refusals).
    pub fn admit(&self, org: Uuid, key: Option<Uuid>) -> Result<(), ApiError> {
        if let Some(key) = key {
            take(self.key.as_ref(), key).map_err(|wait| limited("this API key", wait))?;
        }
        take(self.org.as_ref(), org).map_err(|wait| limited("this organization", wait))
    }
}

fn limited(whose: &str, wait: Duration) -> ApiError {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let secs = secs.max(1);
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!("too many requests for {whose}; retry after {secs} s"),
    )
    .with_header("retry-after", secs.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_and_its_organization_run_out_separately() {
        let limits = RateLimits::new(RateLimitConfig {
            org_per_minute: 5,
            key_per_minute: 2,
        });
        let (org, key) = (Uuid::new_v4(), Uuid::new_v4());
        assert!(limits.admit(org, Some(key)).is_ok());
        assert!(limits.admit(org, Some(key)).is_ok());
        let refused = limits.admit(org, Some(key)).unwrap_err();
        assert_eq!(refused.code(), "rate_limited");
        // The organization still has room for its users.
        assert!(limits.admit(org, None).is_ok());
        assert!(limits.admit(org, None).is_ok());
        assert!(limits.admit(org, None).is_ok());
        assert!(limits.admit(org, None).is_err());
        // Another organization is untouched; a zero limit is off.
        assert!(limits.admit(Uuid::new_v4(), None).is_ok());
        let off = RateLimits::new(RateLimitConfig {
            org_per_minute: 0,
            key_per_minute: 0,
        });
        assert!((0..100).all(|_| off.admit(org, Some(key)).is_ok()));
    }
}
