//! The middleware pipeline: every MCP request, whatever its method, travels as one
//! [`McpRequest`] through tower [`Layer`]s to the registry and back as an
//! [`McpResponse`].
//!
//! - **Server-level** middleware ([`ServerBuilder::layer`](crate::ServerBuilder::layer),
//!   [`from_fn`]) wraps every request: lists, calls, reads, gets, completion, initialize and
//!   discover. The first layer added sees the request first.
//! - **Per-component policies** (`#[rate_limit]`, `#[cache]`, `#[timeout]`, `#[retry]`,
//!   `#[circuit_breaker]`, `#[concurrency_limit]`) wrap only that component's handler, in a
//!   fixed order documented in [`policy`]. A component without policies is called directly.
//!
//! The server owns the `Routes` (built here): the registry and each tool's stack.
//!
//! A middleware may pass the request on ([`Next::run`]), short-circuit with its own response
//! or error, rewrite the result, or filter list results per caller
//! ([`McpResponse::retain_tools`]).

pub mod builtin;
pub(crate) mod request;
mod routes;

use std::future::Future;
use std::task::{Context as TaskContext, Poll};

pub use crate::component::policy;
pub use crate::component::{ComponentInfo, ComponentKind};
pub(crate) use builtin::erase_builtin;
pub(crate) use builtin::new_reference;
pub(crate) use builtin::throttled_warning;
pub use builtin::*;
pub use policy::Policies;
pub use request::{McpRequest, McpResponse, Method};
pub(crate) use routes::{PolicyRuntime, Routes, guarded, invoke_tool};
use tower::{Layer, Service, ServiceExt as _};

use crate::ToolError;

/// The pipeline's service type: an MCP request in, a response or an error out.
///
/// A shared handle: cloning it (as every layer does for every request it passes on) costs a
/// reference count, not a copy of the stack beneath it. Any tower service of MCP requests
/// becomes one with [`McpService::new`].
#[derive(Clone)]
pub struct McpService(std::sync::Arc<dyn Call>);

/// A service callable through a shared reference.
pub(crate) trait Call: Send + Sync + 'static {
    fn call(&self, request: McpRequest) -> MiddlewareFuture;
}

/// A tower service behind [`McpService`]: cloned per call, as tower services expect.
struct TowerCall<S>(S);

impl<S> Call for TowerCall<S>
where
    S: Service<McpRequest, Response = McpResponse, Error = ToolError>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    fn call(&self, request: McpRequest) -> MiddlewareFuture {
        Box::pin(self.0.clone().oneshot(request))
    }
}

impl McpService {
    /// Any tower service of MCP requests (cloned for each request, then made ready and
    /// called).
    pub fn new<S>(service: S) -> Self
    where
        S: Service<McpRequest, Response = McpResponse, Error = ToolError>
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        Self(std::sync::Arc::new(TowerCall(service)))
    }

    pub(crate) fn from_call(call: impl Call) -> Self {
        Self(std::sync::Arc::new(call))
    }
}

impl std::fmt::Debug for McpService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("McpService")
    }
}

impl Service<McpRequest> for McpService {
    type Response = McpResponse;
    type Error = ToolError;
    type Future = MiddlewareFuture;

    fn poll_ready(&mut self, _cx: &mut TaskContext<'_>) -> Poll<Result<(), ToolError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: McpRequest) -> MiddlewareFuture {
        self.0.call(request)
    }
}

/// The rest of the pipeline, handed to a [`from_fn`] middleware.
pub struct Next {
    inner: McpService,
}

impl Next {
    /// Pass the request on and return what the rest of the pipeline answered.
    pub async fn run(self, request: McpRequest) -> Result<McpResponse, ToolError> {
        self.inner.oneshot(request).await
    }
}

/// A middleware written as an async function of the request and the rest of the pipeline.
///
/// ```
/// use platform_runtime::middleware::{McpRequest, Method, Next, from_fn};
/// use platform_runtime::prelude::*;
///
/// /// Add two integers.
/// #[tool]
/// fn add(a: i64, b: i64) -> i64 { a + b }
///
/// // Refuse calls on weekends (here: whenever the caller sets `_meta.weekend`).
/// let guard = from_fn(|request: McpRequest, next: Next| async move {
///     if request.method() == Method::CallTool && request.meta().contains_key("weekend") {
///         return Err(ToolError::new("closed on weekends"));
///     }
///     next.run(request).await
/// });
/// let server = Server::builder("calc").layer(guard).tools(tools![add]).build().unwrap();
/// # let _ = server;
/// ```
pub fn from_fn<F, Fut>(f: F) -> FromFnLayer<F>
where
    F: Fn(McpRequest, Next) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<McpResponse, ToolError>> + Send + 'static,
{
    FromFnLayer { f }
}

/// The layer [`from_fn`] returns.
#[derive(Clone)]
pub struct FromFnLayer<F> {
    f: F,
}

impl<F: Clone> Layer<McpService> for FromFnLayer<F> {
    type Service = FromFn<F>;

    fn layer(&self, inner: McpService) -> Self::Service {
        FromFn {
            f: self.f.clone(),
            inner,
        }
    }
}

/// The service [`FromFnLayer`] builds.
#[derive(Clone)]
pub struct FromFn<F> {
    f: F,
    inner: McpService,
}

impl<F, Fut> Service<McpRequest> for FromFn<F>
where
    F: Fn(McpRequest, Next) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<McpResponse, ToolError>> + Send + 'static,
{
    type Response = McpResponse;
    type Error = ToolError;
    type Future = Fut;

    fn poll_ready(&mut self, _cx: &mut TaskContext<'_>) -> Poll<Result<(), ToolError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: McpRequest) -> Self::Future {
        (self.f)(
            request,
            Next {
                inner: self.inner.clone(),
            },
        )
    }
}

/// A layer stored by the builder: it wraps the pipeline built so far.
pub(crate) type LayerFn = std::sync::Arc<dyn Fn(McpService) -> McpService + Send + Sync>;

/// Erase a tower layer into a [`LayerFn`].
pub(crate) fn erase<L>(layer: L) -> LayerFn
where
    L: Layer<McpService> + Send + Sync + 'static,
    L::Service: Service<McpRequest, Response = McpResponse, Error = ToolError>
        + Clone
        + Send
        + Sync
        + 'static,
    <L::Service as Service<McpRequest>>::Future: Send + 'static,
{
    std::sync::Arc::new(move |inner| McpService::new(layer.layer(inner)))
}

/// Wrap `service` in `layers`, the first layer outermost.
pub(crate) fn stack(service: McpService, layers: &[LayerFn]) -> McpService {
    layers
        .iter()
        .rev()
        .fold(service, |inner, layer| layer(inner))
}
