//! `#[timeout("5s")]` and the server default: the handler's future is dropped (cancelled)
//! when the time is up and the client gets a timeout error.

use std::time::Duration;

use tower::ServiceExt as _;

use super::{Middleware, MiddlewareFuture, impl_layer};
use crate::ToolError;
use crate::middleware::{McpRequest, McpService};

/// Fails a request that takes longer than `duration`, cancelling its work.
#[derive(Debug, Clone)]
pub struct TimeoutLayer {
    duration: Duration,
}

impl TimeoutLayer {
    /// Time out after `duration`.
    pub fn new(duration: Duration) -> Self {
        Self { duration }
    }
}

impl Middleware for TimeoutLayer {
    fn handle(&self, request: McpRequest, next: McpService) -> MiddlewareFuture {
        let duration = self.duration;
        let what = request
            .target()
            .map(str::to_owned)
            .unwrap_or_else(|| request.method().to_string());
        Box::pin(async move {
            match tokio::time::timeout(duration, next.oneshot(request)).await {
                Ok(result) => result,
                Err(_) => {
                    tracing::warn!(
                        component = what,
                        ?duration,
                        "request timed out; its work was cancelled"
                    );
                    Err(ToolError::timeout(format!(
                        "`{what}` timed out after {duration:?}"
                    )))
                }
            }
        })
    }
}

impl_layer!(TimeoutLayer);
