//! The built-in middleware, one folder each. Server-level ones are installed with
//! [`ServerBuilder::layer`](crate::ServerBuilder::layer) (logging, error handling and timing
//! by default); per-tool ones come from the policy attributes.

mod cache;
mod circuit_breaker;
mod concurrency;
mod errors;
mod logging;
mod rate_limit;
mod retry;
mod size_limit;
pub(crate) mod timeout;
mod timing;
mod wrapped;

use std::future::Future;
use std::pin::Pin;

use super::{McpRequest, McpResponse, McpService};
use crate::ToolError;
pub use cache::{CacheLayer, CacheStore, CachedResponse, DEFAULT_CACHE_BYTES, InProcessCache};
pub use circuit_breaker::CircuitBreakerLayer;
pub use concurrency::{ConcurrencyLimitLayer, GlobalLimitLayer};
pub use errors::{ErrorHandlingLayer, ErrorStats};
pub(crate) use errors::{new_reference, panic_message as errors_panic_message};
pub use logging::LoggingLayer;
pub use rate_limit::{
    DEFAULT_MAX_KEYS, InProcessRateLimits, RateDecision, RateLimitLayer, RateLimitStore,
};
pub use retry::RetryLayer;
pub use size_limit::ResponseSizeLimitLayer;
pub use timeout::TimeoutLayer;
pub use timing::{TimingLayer, TimingStats, Timings};

/// A boxed future of a middleware's answer.
pub type MiddlewareFuture = Pin<Box<dyn Future<Output = Result<McpResponse, ToolError>> + Send>>;

/// Why a shared store (rate limits, cache) failed: the caller decides whether to fail open.
#[derive(Debug, Clone, thiserror::Error)]
#[error("store error: {0}")]
pub struct StoreError(pub String);

/// What a request gets when a shared store fails (Redis unreachable, a command timed out):
/// served as if the store were absent (`Open`), or refused with a retryable `unavailable`
/// error (`Closed`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailMode {
    /// Serve on: a rate limit lets the call through, the cache calls the tool.
    #[default]
    Open,
    /// Refuse the request until the store answers again.
    Closed,
}

impl FailMode {
    /// `open` or `closed`, as configured.
    pub fn as_str(self) -> &'static str {
        match self {
            FailMode::Open => "open",
            FailMode::Closed => "closed",
        }
    }
}

/// Whether a warning whose last logging time `last` records may be logged now: at most one
/// a second, so a store that fails on every request does not flood the log (the failures
/// are all counted in `platform_store_failures_total`).
pub(crate) fn throttled_warning(last: &std::sync::atomic::AtomicU64) -> bool {
    use std::sync::atomic::Ordering;
    static EPOCH: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let epoch = *EPOCH.get_or_init(std::time::Instant::now);
    // Milliseconds since the epoch, plus one second so that the first warning is never held.
    let now = u64::try_from(epoch.elapsed().as_millis())
        .unwrap_or(u64::MAX)
        .saturating_add(1000);
    let seen = last.load(Ordering::Relaxed);
    now.saturating_sub(seen) >= 1000
        && last
            .compare_exchange(seen, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
}

/// What a shared store's operations return (rate limits, cache).
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A built-in middleware: what it does with one request and the rest of the pipeline.
pub(crate) trait Middleware: Clone + Send + Sync + 'static {
    fn handle(&self, request: McpRequest, next: McpService) -> MiddlewareFuture;
}

macro_rules! impl_layer {
    ($($ty:ty),* $(,)?) => {$(
        impl tower::Layer<crate::middleware::McpService> for $ty {
            type Service = crate::middleware::builtin::wrapped::Wrapped<$ty>;

            fn layer(&self, inner: crate::middleware::McpService) -> Self::Service {
                crate::middleware::builtin::wrapped::Wrapped::new(self.clone(), inner)
            }
        }
    )*};
}
pub(crate) use impl_layer;

/// Apply a built-in layer to a boxed service.
pub(crate) fn wrap<M: Middleware>(middleware: &M, inner: McpService) -> McpService {
    McpService::from_call(wrapped::Wrapped::new(middleware.clone(), inner))
}

/// A built-in middleware as a server-level layer, called without the tower round trip.
pub(crate) fn erase_builtin<M: Middleware>(middleware: M) -> super::LayerFn {
    std::sync::Arc::new(move |inner| wrap(&middleware, inner))
}
