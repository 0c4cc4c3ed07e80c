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
}

/// Parse a duration literal: `"250ms"`, `"5s"`, `"1m"`, `"2h"`, `"1d"`, or a sum such as
/// `"1m30s"`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let mut total = Duration::ZERO;
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err("empty duration".into());
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!("expected a number in `{text}`"));
        }
        let number: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("number too large in `{text}`"))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let part = match unit {
            "ms" => Duration::from_millis(number),
            "s" => Duration::from_secs(number),
            "m" => Duration::from_secs(number.saturating_mul(60)),
            "h" => Duration::from_secs(number.saturating_mul(3600)),
            "d" => Duration::from_secs(number.saturating_mul(86_400)),
            "" => return Err(format!("missing unit in `{text}`: use ms, s, m, h or d")),
            other => {
                return Err(format!(
                    "unknown unit `{other}` in `{text}`: use ms, s, m, h or d"
                ));
            }
        };
        total = total.saturating_add(part);
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("5 weeks").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn rate_limit_arithmetic() {
        let limit = RateLimit::new(60, Duration::from_secs(60)).burst(10);
        assert_eq!(limit.emission_interval(), Duration::from_secs(1));
        assert_eq!(limit.burst_size(), 10);
        assert_eq!(RateLimit::new(5, Duration::from_secs(1)).burst_size(), 5);
    }
}
