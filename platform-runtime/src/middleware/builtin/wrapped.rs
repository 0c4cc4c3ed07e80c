//! The service every built-in layer builds: the middleware and the rest of the pipeline.
//! Public only as the `Service` type of the built-in layers; not nameable from outside.

use std::task::{Context as TaskContext, Poll};

use tower::Service;

use super::{Middleware, MiddlewareFuture};
use crate::ToolError;
use crate::middleware::{Call, McpRequest, McpResponse, McpService};

/// The service a built-in middleware layer builds.
#[derive(Clone)]
pub struct Wrapped<M> {
    middleware: M,
    inner: McpService,
}

impl<M: Middleware> Service<McpRequest> for Wrapped<M> {
    type Response = McpResponse;
    type Error = ToolError;
    type Future = MiddlewareFuture;

    fn poll_ready(&mut self, _cx: &mut TaskContext<'_>) -> Poll<Result<(), ToolError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: McpRequest) -> Self::Future {
        self.middleware.handle(request, self.inner.clone())
    }
}

impl<M> Wrapped<M> {
    pub(super) fn new(middleware: M, inner: McpService) -> Self {
        Self { middleware, inner }
    }
}

impl<M: Middleware> Call for Wrapped<M> {
    fn call(&self, request: McpRequest) -> MiddlewareFuture {
        self.middleware.handle(request, self.inner.clone())
    }
}
