//! A cap on the size of what tools, resources and prompts return, so one runaway result cannot flood a client
//! or a model's context.

use tower::ServiceExt as _;

use super::{Middleware, MiddlewareFuture, impl_layer};
use crate::ToolError;
use crate::middleware::{McpRequest, McpService, Method};

/// Refuses responses whose payload ([`crate::middleware::McpResponse::payload_size`]) exceeds
/// `max_bytes`.
#[derive(Debug, Clone)]
pub struct ResponseSizeLimitLayer {
    max_bytes: usize,
}

impl ResponseSizeLimitLayer {
    /// Allow at most `max_bytes`.
    pub fn new(max_bytes: usize) -> Self {
        Self { max_bytes }
    }
}

impl Middleware for ResponseSizeLimitLayer {
    fn handle(&self, request: McpRequest, next: McpService) -> MiddlewareFuture {
        let max = self.max_bytes;
        Box::pin(async move {
            // Payloads are what tools, resources and prompts return; the server's own
            // listings and handshakes are not limited.
            if !matches!(
                request.method(),
                Method::CallTool | Method::ReadResource | Method::GetPrompt
            ) {
                return next.oneshot(request).await;
            }
            let what = request
                .target()
                .map(str::to_owned)
                .unwrap_or_else(|| request.method().to_string());
            let response = next.oneshot(request).await?;
            let size = response.payload_size();
            if size > max {
                tracing::warn!(
                    component = what,
                    size,
                    max,
                    "response over the size limit; refused"
                );
                return Err(ToolError::new(format!(
                    "the response of `{what}` is {size} bytes, over the limit of {max} bytes; ask for less"
                )));
            }
            Ok(response)
        })
    }
}

impl_layer!(ResponseSizeLimitLayer);
