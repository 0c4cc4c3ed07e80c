//! `#[concurrency_limit(n)]` per tool, and a server-wide in-flight limit. Both shed load:
//! a call that finds no free slot gets a clear "busy" error at once instead of waiting in an
//! unbounded queue.

use std::sync::Arc;

use tokio::sync::Semaphore;
use tower::ServiceExt as _;

use super::{Middleware, MiddlewareFuture, impl_layer};
use crate::ToolError;
use crate::middleware::{McpRequest, McpService};

/// At most `limit` calls of one tool in flight.
#[derive(Debug, Clone)]
pub struct ConcurrencyLimitLayer {
    slots: Arc<Semaphore>,
    limit: usize,
}

impl ConcurrencyLimitLayer {
    /// Allow `limit` concurrent calls.
    pub fn new(limit: usize) -> Self {
        let limit = limit.max(1);
        Self {
            slots: Arc::new(Semaphore::new(limit)),
            limit,
        }
    }
}

impl Middleware for ConcurrencyLimitLayer {
    fn handle(&self, request: McpRequest, next: McpService) -> MiddlewareFuture {
        let slots = self.slots.clone();
        let limit = self.limit;
        Box::pin(async move {
            let Ok(_permit) = slots.try_acquire_owned() else {
                let what = request.target().unwrap_or("this tool").to_owned();
                tracing::warn!(
                    component = what,
                    limit,
                    "concurrency limit reached; call shed"
                );
                return Err(ToolError::unavailable(format!(
                    "`{what}` is busy ({limit} calls in flight); retry shortly"
                )));
            };
            next.oneshot(request).await
        })
    }
}

/// At most `limit` requests in flight in the whole server (list, read and get requests
/// included); more are shed with a "busy" error.
#[derive(Debug, Clone)]
pub struct GlobalLimitLayer {
    slots: Arc<Semaphore>,
    limit: usize,
}

impl GlobalLimitLayer {
    /// Allow `limit` requests in flight.
    pub fn new(limit: usize) -> Self {
        let limit = limit.max(1);
        Self {
            slots: Arc::new(Semaphore::new(limit)),
            limit,
        }
    }
}

impl Middleware for GlobalLimitLayer {
    fn handle(&self, request: McpRequest, next: McpService) -> MiddlewareFuture {
        let slots = self.slots.clone();
        let limit = self.limit;
        Box::pin(async move {
            let Ok(_permit) = slots.try_acquire_owned() else {
                tracing::warn!(method = %request.method(), limit, "server in-flight limit reached; request shed");
                return Err(ToolError::unavailable(format!(
                    "the server is busy ({limit} requests in flight); retry shortly"
                )));
            };
            next.oneshot(request).await
        })
    }
}

impl_layer!(ConcurrencyLimitLayer, GlobalLimitLayer);
