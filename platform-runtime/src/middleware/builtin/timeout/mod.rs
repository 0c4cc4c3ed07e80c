//! `#[timeout("5s")]` and the server default: the handler's future is dropped (cancelled)
//! when the time is up and the client gets a timeout error.

use std::future::Future;
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

/// Run `work` for at most `duration`, dropping (so cancelling) it when the time is up; the
/// error names `what` timed out.
pub(crate) async fn within<T>(
    duration: Duration,
    what: &str,
    work: impl Future<Output = Result<T, ToolError>>,
) -> Result<T, ToolError> {
    match tokio::time::timeout(duration, work).await {
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
}

impl Middleware for TimeoutLayer {
    fn handle(&self, request: McpRequest, next: McpService) -> MiddlewareFuture {
        let duration = self.duration;
        let what = request
            .target()
            .map(str::to_owned)
            .unwrap_or_else(|| request.method().to_string());
        Box::pin(async move { within(duration, &what, next.oneshot(request)).await })
    }
}

impl_layer!(TimeoutLayer);
