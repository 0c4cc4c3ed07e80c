//! What a request is routed to: the registry, and the policy stack of each of its tools
//! ([`Routes`], swapped whole when the tools change), built here from the policies each
//! tool declares and the server's stores ([`PolicyRuntime`]); and the innermost service of
//! every stack, which calls the handler ([`invoke_tool`]).

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::FutureExt as _;

use super::builtin::{
    CacheLayer, CacheStore, CircuitBreakerLayer, ConcurrencyLimitLayer, RateLimitLayer,
    RateLimitStore, RetryLayer, TimeoutLayer, wrap,
};
use super::request::Reply;
use super::{McpRequest, McpResponse, McpService};
use crate::ToolError;
use crate::registry::{Registry, ToolDef, ToolHandler};

/// The registry and, by tool position, each tool's policy stack (`None`: the tool declares
/// no policy and its handler is called directly). Owned by the server; immutable, swapped
/// whole when tools change.
#[derive(Debug, Default)]
pub(crate) struct Routes {
    pub(crate) registry: Arc<Registry>,
    stacks: Vec<Option<McpService>>,
    /// The middleware of each mounted path that has any, by the path components carry
    /// (built by the server; empty when no mount has policies).
    pub(crate) mounts: Arc<HashMap<Vec<String>, McpService>>,
}

impl Routes {
    /// The routes of `registry`, with a stack built for each tool from `runtime`.
    pub(crate) fn new(registry: Registry, runtime: &PolicyRuntime) -> Self {
        let stacks = registry
            .tools
            .iter()
            .map(|tool| tool_stack(tool, runtime))
            .collect();
        Self {
            registry: Arc::new(registry),
            stacks,
            mounts: Arc::default(),
        }
    }

    /// These routes with `mounts` as the mount stacks.
    pub(crate) fn with_mounts(&self, mounts: Arc<HashMap<Vec<String>, McpService>>) -> Self {
        Self {
            registry: self.registry.clone(),
            stacks: self.stacks.clone(),
            mounts,
        }
    }

    /// The mount stack a request for a component mounted at `path` passes through, unless
    /// it already did.
    pub(crate) fn mount_stack(&self, path: &[String], request: &McpRequest) -> Option<&McpService> {
        if self.mounts.is_empty() || path.is_empty() || request.through_mount {
            return None;
        }
        self.mounts.get(path)
    }

    /// The routes of `registry` after a change of tools: a tool that was here before, with
    /// the same handler and policies, keeps its stack (and so its circuit state and its
    /// calls in flight); others get a new one from `runtime`.
    pub(crate) fn changed(&self, registry: Registry, runtime: &PolicyRuntime) -> Self {
        let stacks = registry
            .tools
            .iter()
            .map(|tool| {
                let kept = self.registry.position(tool.name()).filter(|&i| {
                    let before = &self.registry.tools[i];
                    Arc::ptr_eq(&before.handler, &tool.handler) && before.policies == tool.policies
                });
                match kept {
                    Some(i) => self.stacks.get(i).cloned().flatten(),
                    None => tool_stack(tool, runtime),
                }
            })
            .collect();
        Self {
            registry: Arc::new(registry),
            stacks,
            mounts: self.mounts.clone(),
        }
    }

    /// The tool at `index` and its policy stack.
    pub(crate) fn tool(&self, index: usize) -> (&ToolDef, Option<&McpService>) {
        (
            &self.registry.tools[index],
            self.stacks.get(index).and_then(Option::as_ref),
        )
    }
}

/// Where per-tool policies keep their shared state, and the server's defaults for tools.
#[derive(Clone)]
pub(crate) struct PolicyRuntime {
    pub(crate) rate_limits: Arc<dyn RateLimitStore>,
    pub(crate) cache: Arc<dyn CacheStore>,
    pub(crate) default_timeout: Option<std::time::Duration>,
}

/// The policy stack of one tool, in the order documented in [`policy`]; `None` when the tool
/// declares no policy (it is then called directly, paying nothing).
fn tool_stack(tool: &ToolDef, runtime: &PolicyRuntime) -> Option<McpService> {
    let policies = &tool.policies;
    let timeout = policies.timeout.or(runtime.default_timeout);
    if policies.rate_limit.is_none()
        && policies.cache.is_none()
        && policies.circuit_breaker.is_none()
        && policies.concurrency_limit.is_none()
        && policies.retry.is_none()
        && timeout.is_none()
    {
        return None;
    }
    let key = tool.key.clone();
    let handler = tool.handler.clone();
    let core = tower::service_fn(move |request: McpRequest| {
        let key = key.clone();
        let handler = handler.clone();
        async move { invoke_tool(&key, &handler, request).await }
    });
    let mut service = McpService::new(core);
    if let Some(duration) = timeout {
        service = wrap(&TimeoutLayer::new(duration), service);
    }
    if let Some(retry) = &policies.retry {
        service = wrap(&RetryLayer::new(retry.clone()), service);
    }
    if let Some(limit) = policies.concurrency_limit {
        service = wrap(&ConcurrencyLimitLayer::new(limit), service);
    }
    if let Some(breaker) = &policies.circuit_breaker {
        service = wrap(&CircuitBreakerLayer::new(breaker.clone()), service);
    }
    if let Some(cache) = &policies.cache {
        service = wrap(
            &CacheLayer::new(cache.clone(), runtime.cache.clone()),
            service,
        );
    }
    if let Some(limit) = &policies.rate_limit {
        let layer =
            RateLimitLayer::new(limit.clone(), tool.key.clone(), runtime.rate_limits.clone());
        service = wrap(&layer, service);
    }
    Some(service)
}

/// Call a tool's handler with the request; the innermost service of a tool's policy stack.
pub(crate) async fn invoke_tool(
    key: &Arc<str>,
    handler: &ToolHandler,
    mut request: McpRequest,
) -> Result<McpResponse, ToolError> {
    let arguments = request.arguments.take();
    let parts = request.into_parts("tool", key.clone(), arguments);
    let handler = handler.clone();
    let response = guarded("tool", key, async move { handler(parts).await }).await?;
    Ok(McpResponse::new(Reply::Call(response.0)))
}

/// Run a handler future, turning a panic into an internal error.
pub(crate) async fn guarded<T>(
    kind: &str,
    name: &str,
    future: impl Future<Output = Result<T, ToolError>>,
) -> Result<T, ToolError> {
    match AssertUnwindSafe(future).catch_unwind().await {
        Ok(result) => result,
        Err(payload) => {
            let message = super::builtin::errors_panic_message(payload.as_ref());
            tracing::error!(kind, name, panic = message, "handler panicked");
            Err(ToolError::internal(format!("handler panicked: {message}")))
        }
    }
}
