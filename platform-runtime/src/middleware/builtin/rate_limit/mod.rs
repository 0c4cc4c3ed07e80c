//! Rate limiting: GCRA (governor) behind the [`RateLimitStore`] trait, with an in-process
//! store by default. A limited call gets an error saying when to retry.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::clock::Clock;
use governor::{Quota, RateLimiter};
use tower::ServiceExt as _;

use super::{FailMode, Middleware, MiddlewareFuture, StoreFuture, impl_layer};
use crate::ToolError;
use crate::middleware::policy::{RateLimit, RateLimitKey};
use crate::middleware::{McpRequest, McpService};

/// A rate-limit decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    /// The call may proceed.
    Allowed,
    /// The call is over the limit; retry after the given time.
    Limited {
        /// When capacity is back.
        retry_after: Duration,
    },
}

/// Where rate-limit state lives: in process by default, in a shared store (Redis) when the
/// server runs as several replicas.
pub trait RateLimitStore: Send + Sync + 'static {
    /// Count one call of `key` against `limit` (`scope` names the limit: a tool, or the
    /// server-wide default), atomically.
    fn check<'a>(
        &'a self,
        scope: &'a str,
        limit: &'a RateLimit,
        key: &'a str,
    ) -> StoreFuture<'a, RateDecision>;

    /// What a call gets when [`RateLimitStore::check`] fails: let through (`Open`, the
    /// default) or refused as unavailable (`Closed`).
    fn on_failure(&self) -> FailMode {
        FailMode::Open
    }
}

/// The clock of the in-process limiter: tokio's, so paused-time tests control it.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TokioClock;

impl Clock for TokioClock {
    type Instant = std::time::Instant;

    fn now(&self) -> Self::Instant {
        tokio::time::Instant::now().into_std()
    }
}

type KeyedLimiter = RateLimiter<
    String,
    BoundedKeys,
    TokioClock,
    governor::middleware::NoOpMiddleware<std::time::Instant>,
>;

/// The partition key new callers share once a limiter holds its most keys.
const OVERFLOW_KEY: &str = "\u{0}overflow";

/// The default bound on the keys one limiter tracks.
pub const DEFAULT_MAX_KEYS: usize = 100_000;

/// The per-key state of one limiter, holding at most `max` keys: once full, a key it does
/// not hold yet counts against one shared overflow budget, until keys whose budget is back
/// to full are pruned (every 4096 checks). Memory stays bounded whatever keys callers
/// invent (`key = "client"` is the client's own claim).
struct BoundedKeys {
    keys: governor::state::keyed::DashMapStateStore<String>,
    max: usize,
    overflow: String,
}

impl governor::state::StateStore for BoundedKeys {
    type Key = String;

    fn measure_and_replace<T, F, E>(&self, key: &String, f: F) -> Result<T, E>
    where
        F: Fn(Option<governor::nanos::Nanos>) -> Result<(T, governor::nanos::Nanos), E>,
    {
        if !self.keys.contains_key(key) && self.keys.len() >= self.max {
            return self.keys.measure_and_replace(&self.overflow, f);
        }
        self.keys.measure_and_replace(key, f)
    }
}

impl governor::state::keyed::ShrinkableKeyedStateStore<String> for BoundedKeys {
    fn retain_recent(&self, drop_below: governor::nanos::Nanos) {
        self.keys.retain_recent(drop_below);
    }

    fn shrink_to_fit(&self) {
        self.keys.shrink_to_fit();
    }

    fn len(&self) -> usize {
        self.keys.len()
    }

    fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// The in-process store: one keyed GCRA limiter per scope and quota, each tracking at most
/// [`InProcessRateLimits::with_max_keys`] keys (100 000 by default). Keys whose budget is
/// back to full are pruned every 4096 checks.
pub struct InProcessRateLimits {
    /// Per scope, the limiters of each quota (requests, period, burst) and a check count.
    limiters: Mutex<HashMap<Box<str>, Vec<ScopedLimiter>>>,
    max_keys: usize,
}

impl Default for InProcessRateLimits {
    fn default() -> Self {
        Self::with_max_keys(DEFAULT_MAX_KEYS)
    }
}

/// One quota's limiter within a scope, with the number of checks made.
type ScopedLimiter = (Quota3, Arc<KeyedLimiter>, u64);

/// A quota's identity: requests, period, burst.
type Quota3 = (u32, Duration, u32);

impl InProcessRateLimits {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store whose limiters each track at most `max_keys` keys (at least 1).
    pub fn with_max_keys(max_keys: usize) -> Self {
        Self {
            limiters: Mutex::default(),
            max_keys: max_keys.max(1),
        }
    }

    /// The keys the limiter of `scope` with `limit` tracks now.
    pub fn key_count(&self, scope: &str, limit: &RateLimit) -> usize {
        let id: Quota3 = (limit.requests, limit.per, limit.burst_size());
        let limiters = self.limiters.lock().unwrap_or_else(|e| e.into_inner());
        limiters
            .get(scope)
            .and_then(|quotas| quotas.iter().find(|(q, _, _)| *q == id))
            .map_or(0, |(_, limiter, _)| limiter.len())
    }

    fn limiter(&self, scope: &str, limit: &RateLimit) -> Arc<KeyedLimiter> {
        let id: Quota3 = (limit.requests, limit.per, limit.burst_size());
        let mut limiters = self.limiters.lock().unwrap_or_else(|e| e.into_inner());
        if !limiters.contains_key(scope) {
            limiters.insert(scope.into(), Vec::new());
        }
        let Some(quotas) = limiters.get_mut(scope) else {
            unreachable!("inserted above")
        };
        let index = match quotas.iter().position(|(q, _, _)| *q == id) {
            Some(index) => index,
            None => {
                let period = limit.emission_interval().max(Duration::from_nanos(1));
                let burst = NonZeroU32::new(limit.burst_size()).unwrap_or(NonZeroU32::MIN);
                let quota = Quota::with_period(period)
                    .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
                    .allow_burst(burst);
                let keys = BoundedKeys {
                    keys: governor::state::keyed::DashMapStateStore::default(),
                    max: self.max_keys,
                    overflow: OVERFLOW_KEY.to_owned(),
                };
                quotas.push((id, Arc::new(RateLimiter::new(quota, keys, TokioClock)), 0));
                quotas.len() - 1
            }
        };
        let (_, limiter, checks) = &mut quotas[index];
        *checks += 1;
        if *checks % 4096 == 0 {
            limiter.retain_recent();
        }
        limiter.clone()
    }
}

impl RateLimitStore for InProcessRateLimits {
    fn check<'a>(
        &'a self,
        scope: &'a str,
        limit: &'a RateLimit,
        key: &'a str,
    ) -> StoreFuture<'a, RateDecision> {
        let limiter = self.limiter(scope, limit);
        let decision = match limiter.check_key(&key.to_owned()) {
            Ok(()) => RateDecision::Allowed,
            Err(not_until) => RateDecision::Limited {
                retry_after: not_until.wait_time_from(TokioClock.now()),
            },
        };
        Box::pin(std::future::ready(Ok(decision)))
    }
}

/// Enforces one [`RateLimit`] on the requests it wraps.
#[derive(Clone)]
pub struct RateLimitLayer {
    limit: RateLimit,
    scope: Arc<str>,
    store: Arc<dyn RateLimitStore>,
}

impl std::fmt::Debug for RateLimitLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimitLayer")
            .field("limit", &self.limit)
            .field("scope", &self.scope)
            .finish()
    }
}

impl RateLimitLayer {
    /// Enforce `limit`, named `scope` (a tool name, or `"*"` for a server-wide limit), with
    /// state in `store`.
    pub fn new(
        limit: RateLimit,
        scope: impl Into<Arc<str>>,
        store: Arc<dyn RateLimitStore>,
    ) -> Self {
        Self {
            limit,
            scope: scope.into(),
            store,
        }
    }
}

/// When a store failure was last logged (see [`super::throttled_warning`]).
static FAILURE_WARNED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Partition keys longer than this are replaced by their SHA-256.
const MAX_KEY_BYTES: usize = 64;

/// The partition of `limit` a request counts against, at most 64 bytes long.
fn partition(key: RateLimitKey, request: &McpRequest) -> String {
    let key = match key {
        RateLimitKey::Global => "*".to_owned(),
        RateLimitKey::Tool => request.target().unwrap_or("*").to_owned(),
        // A principal's budget is its tenant's: the same id in two tenants is two callers.
        RateLimitKey::Principal => match (request.principal(), request.tenant()) {
            (None, _) => "anonymous".to_owned(),
            (Some(p), None) => format!("p:{}", p.id()),
            (Some(p), Some(t)) => format!("t:{t}/p:{}", p.id()),
        },
        RateLimitKey::Tenant => request
            .tenant()
            .map_or_else(|| "none".to_owned(), |t| format!("t:{t}")),
        RateLimitKey::Client => request
            .client()
            .map_or_else(|| "unknown".to_owned(), |c| format!("c:{c}")),
    };
    if key.len() <= MAX_KEY_BYTES {
        key
    } else {
        format!(
            "h:{}",
            crate::digest::hex(&crate::digest::digest(&[key.as_bytes()], None))
        )
    }
}

impl Middleware for RateLimitLayer {
    fn handle(&self, request: McpRequest, next: McpService) -> MiddlewareFuture {
        let this = self.clone();
        Box::pin(async move {
            let key = partition(this.limit.key, &request);
            match this.store.check(&this.scope, &this.limit, &key).await {
                Ok(RateDecision::Allowed) => {}
                Ok(RateDecision::Limited { retry_after }) => {
                    let what = request
                        .target()
                        .map_or_else(|| "this server".to_owned(), |t| format!("`{t}`"));
                    tracing::info!(scope = &*this.scope, key, ?retry_after, "rate limited");
                    return Err(ToolError::rate_limited(&what, retry_after));
                }
                Err(error) => {
                    let mode = this.store.on_failure();
                    crate::metrics::store_failure("rate_limit", mode.as_str());
                    if super::throttled_warning(&FAILURE_WARNED) {
                        tracing::warn!(%error, scope = &*this.scope, fail = mode.as_str(), "rate-limit store failed; calls are {} while it fails", match mode {
                            FailMode::Open => "allowed",
                            FailMode::Closed => "refused",
                        });
                    }
                    if mode == FailMode::Closed {
                        return Err(ToolError::unavailable(
                            "rate limiting is unavailable right now; try again shortly",
                        ));
                    }
                }
            }
            next.oneshot(request).await
        })
    }
}

impl_layer!(RateLimitLayer);

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn limiters_track_a_bounded_number_of_keys() {
        let store = InProcessRateLimits::with_max_keys(100);
        let limit = RateLimit::new(1, Duration::from_secs(60));
        for i in 0..1_000 {
            store
                .check("tool", &limit, &format!("c:{i}"))
                .await
                .unwrap();
        }
        assert!(
            store.key_count("tool", &limit) <= 101,
            "{}",
            store.key_count("tool", &limit)
        );
        // A key held before the limiter filled keeps its own budget.
        let store = InProcessRateLimits::with_max_keys(2);
        assert_eq!(
            store.check("t", &limit, "a").await.unwrap(),
            RateDecision::Allowed
        );
        assert_eq!(
            store.check("t", &limit, "b").await.unwrap(),
            RateDecision::Allowed
        );
        // New keys now share the overflow budget: the first passes, the next is limited.
        assert_eq!(
            store.check("t", &limit, "c").await.unwrap(),
            RateDecision::Allowed
        );
        assert!(matches!(
            store.check("t", &limit, "d").await.unwrap(),
            RateDecision::Limited { .. }
        ));
        assert!(matches!(
            store.check("t", &limit, "a").await.unwrap(),
            RateDecision::Limited { .. }
        ));
    }
}
