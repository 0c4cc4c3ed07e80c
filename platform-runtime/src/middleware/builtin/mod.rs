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
