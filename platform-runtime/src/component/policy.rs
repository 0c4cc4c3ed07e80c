//! Per-component policies: the data `#[rate_limit]`, `#[cache]`, `#[timeout]`, `#[retry]`,
//! `#[circuit_breaker]` and `#[concurrency_limit]` generate, which the runtime enforces.
//!
//! A tool's policies wrap its handler in this order, outermost first:
//!
//! 1. rate limit — refused calls cost nothing else;
//! 2. cache — a hit answers without taking a slot or touching the breaker;
//! 3. circuit breaker — an open circuit fails fast; one outcome per call, after retries;
//! 4. concurrency limit — a slot is held for the call, retries included;
//! 5. retry — each attempt runs inside the slot;
//! 6. timeout — per attempt;
//! 7. the handler.

use std::time::Duration;

/// What a rate limit counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateLimitKey {
    /// One budget for everybody.
    Global,
    /// One budget per authenticated principal (anonymous callers share one).
    Principal,
    /// One budget per tenant.
    Tenant,
    /// One budget per tool (the default).
    Tool,
    /// One budget per client (`clientInfo` name and version).
    Client,
}

impl RateLimitKey {
    /// The key's name as written in `key = "…"`.
    pub fn as_str(self) -> &'static str {
        match self {
            RateLimitKey::Global => "global",
            RateLimitKey::Principal => "principal",
            RateLimitKey::Tenant => "tenant",
            RateLimitKey::Tool => "tool",
            RateLimitKey::Client => "client",
        }
    }
}

/// `#[rate_limit(60, per = "1m", burst = 10, key = "principal")]`: a GCRA limit of `requests`
/// per `per`, allowing bursts of `burst` (default: `requests`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests allowed per period.
    pub requests: u32,
    /// The period.
    pub per: Duration,
    /// The burst size.
    pub burst: Option<u32>,
    /// What the budget is counted against.
    pub key: RateLimitKey,
}

impl RateLimit {
    /// `requests` per `per`, per tool, bursts of `requests`.
    pub fn new(requests: u32, per: Duration) -> Self {
        Self {
            requests: requests.max(1),
            per,
            burst: None,
            key: RateLimitKey::Tool,
        }
    }

    /// Allow bursts of `burst` requests.
    #[must_use]
    pub fn burst(mut self, burst: u32) -> Self {
        self.burst = Some(burst.max(1));
        self
    }

    /// Count against `key`.
    #[must_use]
    pub fn key(mut self, key: RateLimitKey) -> Self {
        self.key = key;
        self
    }

    /// The burst size in effect.
    pub fn burst_size(&self) -> u32 {
        self.burst.unwrap_or(self.requests)
    }

    /// The interval at which one request's capacity is restored.
    pub fn emission_interval(&self) -> Duration {
        self.per / self.requests.max(1)
    }
}

/// Whose calls may share a cached response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CacheScope {
    /// Only the same principal (the default).
    Principal,
    /// The same tenant.
    Tenant,
    /// Everybody.
    Public,
}

impl CacheScope {
    /// The scope's name as written in `scope = "…"`.
    pub fn as_str(self) -> &'static str {
        match self {
            CacheScope::Principal => "principal",
            CacheScope::Tenant => "tenant",
            CacheScope::Public => "public",
        }
    }
}

/// `#[cache(ttl = "30s", scope = "principal")]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachePolicy {
    /// How long a response stays fresh.
    pub ttl: Duration,
    /// Who may share it.
    pub scope: CacheScope,
}

/// `#[retry(attempts = 3, backoff = "100ms")]`: up to `attempts` tries in all, waiting
/// `backoff`, then twice that, and so on (with jitter) between them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts, the first included.
    pub attempts: u32,
    /// The first wait.
    pub backoff: Duration,
    /// The longest wait.
    pub max_backoff: Duration,
}

/// `#[circuit_breaker(failure_ratio = 0.5, window = "30s", min_calls = 10, cooldown = "10s")]`.
#[derive(Debug, Clone, PartialEq)]
pub struct CircuitBreakerPolicy {
    /// The failure ratio in the window that opens the circuit.
    pub failure_ratio: f64,
    /// The window the ratio is computed over.
    pub window: Duration,
    /// The fewest calls in the window before the ratio counts.
    pub min_calls: u32,
    /// How long the circuit stays open before a probe is let through.
    pub cooldown: Duration,
}

/// The policies declared on one component.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Policies {
    /// `#[rate_limit]`.
    pub rate_limit: Option<RateLimit>,
    /// `#[cache]`.
    pub cache: Option<CachePolicy>,
    /// `#[timeout]`.
    pub timeout: Option<Duration>,
    /// `#[retry]`.
    pub retry: Option<RetryPolicy>,
    /// `#[circuit_breaker]`.
    pub circuit_breaker: Option<CircuitBreakerPolicy>,
    /// `#[concurrency_limit]`.
    pub concurrency_limit: Option<usize>,
}

impl Policies {
    /// Whether no policy is declared.
    pub fn is_empty(&self) -> bool {
        *self == Policies::default()
    }

    /// The declared policies as JSON, keyed by attribute name with the values as they are
    /// written (`{"rate_limit": {"requests": 60, "per": "1m", …}, "timeout": "5s"}`); what
    /// `inspect` prints for each tool.
    pub fn to_json(&self) -> serde_json::Value {
        use platform_duration::format;
        use serde_json::json;
        let mut out = serde_json::Map::new();
        if let Some(limit) = &self.rate_limit {
            out.insert(
                "rate_limit".into(),
                json!({
                    "requests": limit.requests,
                    "per": format(limit.per),
                    "burst": limit.burst_size(),
                    "key": limit.key.as_str(),
                }),
            );
        }
        if let Some(cache) = &self.cache {
            out.insert(
                "cache".into(),
                json!({ "ttl": format(cache.ttl), "scope": cache.scope.as_str() }),
            );
        }
        if let Some(timeout) = self.timeout {
            out.insert("timeout".into(), json!(format(timeout)));
        }
        if let Some(retry) = &self.retry {
            out.insert(
                "retry".into(),
                json!({
                    "attempts": retry.attempts,
                    "backoff": format(retry.backoff),
                    "max_backoff": format(retry.max_backoff),
                }),
            );
        }
        if let Some(breaker) = &self.circuit_breaker {
            out.insert(
                "circuit_breaker".into(),
                json!({
                    "failure_ratio": breaker.failure_ratio,
                    "window": format(breaker.window),
                    "min_calls": breaker.min_calls,
                    "cooldown": format(breaker.cooldown),
                }),
            );
        }
        if let Some(limit) = self.concurrency_limit {
            out.insert("concurrency_limit".into(), json!(limit));
        }
        serde_json::Value::Object(out)
    }
}

/// Parse a duration literal: `"250ms"`, `"5s"`, `"1m"`, `"2h"`, `"1d"`, or a sum such as
/// `"1m30s"` — the grammar the policy attributes are checked with at compile time (one
/// implementation, in the `platform-duration` crate).
pub use platform_duration::{DurationError, parse as parse_duration};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_arithmetic() {
        let limit = RateLimit::new(60, Duration::from_secs(60)).burst(10);
        assert_eq!(limit.emission_interval(), Duration::from_secs(1));
        assert_eq!(limit.burst_size(), 10);
        assert_eq!(RateLimit::new(5, Duration::from_secs(1)).burst_size(), 5);
    }
}
