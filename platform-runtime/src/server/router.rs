//! The router, the innermost service of the server pipeline: routes an [`McpRequest`] to the
//! registry, and a tool call to the tool's own policy stack (or straight to its handler).

use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use rmcp::model::{
    CacheScope, CompleteResult, CompletionInfo, ListPromptsResult, ListResourceTemplatesResult,
    ListResourcesResult, ListToolsResult, PaginatedRequestParams, ReadResourceResponse,
    ReadResourceResult, Reference,
};
use tower::{Service, ServiceExt as _};

use super::ServerInner;
use super::authorize::{authorize, visible};
use crate::ToolError;
use crate::component::ComponentKind;
use crate::middleware::builtin::MiddlewareFuture;
use crate::middleware::request::{Params, Reply};
use crate::middleware::{McpRequest, McpResponse, Method, Routes, guarded, invoke_tool};
use crate::model::Era;
use crate::registry::enum_values;

/// Routes requests to the registry.
#[derive(Clone)]
pub(crate) struct Endpoint {
    pub(crate) inner: Arc<ServerInner>,
}

impl Service<McpRequest> for Endpoint {
    type Response = McpResponse;
    type Error = ToolError;
    type Future = MiddlewareFuture;

    fn poll_ready(&mut self, _cx: &mut TaskContext<'_>) -> Poll<Result<(), ToolError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: McpRequest) -> Self::Future {
        let inner = self.inner.clone();
        // Tool calls get their own small future: the routing of every other method would
        // otherwise be part of the state moved into the box on each call.
        if request.method == Method::CallTool {
            return Box::pin(call_tool(inner, request));
        }
        Box::pin(route(inner, request))
    }
}

/// The end of a mount's middleware stack: routes the request (marked as through its mount)
/// on to its component. Holds the server weakly: the stacks live in the server's routes.
#[derive(Clone)]
pub(crate) struct MountEndpoint {
    pub(crate) inner: std::sync::Weak<ServerInner>,
}

impl Service<McpRequest> for MountEndpoint {
    type Response = McpResponse;
    type Error = ToolError;
    type Future = MiddlewareFuture;

    fn poll_ready(&mut self, _cx: &mut TaskContext<'_>) -> Poll<Result<(), ToolError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: McpRequest) -> Self::Future {
        let Some(inner) = self.inner.upgrade() else {
            return Box::pin(async { Err(ToolError::internal("the server was dropped")) });
        };
        request.through_mount = true;
        Box::pin(dispatch(inner, request))
    }
}

/// Route a request without a pipeline around the endpoint (no server-level middleware).
pub(crate) async fn dispatch(
    inner: Arc<ServerInner>,
    request: McpRequest,
) -> Result<McpResponse, ToolError> {
    // Boxed: awaited inline, these states would be copied with every poll of the caller's
    // future.
    if request.method == Method::CallTool {
        Box::pin(call_tool(inner, request)).await
    } else {
        Box::pin(route(inner, request)).await
    }
}

/// Run a resource read or prompt get within the server's default timeout, dropping (so
/// cancelling) its work when the time is up.
async fn limited<T>(
    timeout: Option<std::time::Duration>,
    what: &str,
    work: impl Future<Output = Result<T, ToolError>>,
) -> Result<T, ToolError> {
    match timeout {
        Some(duration) => crate::middleware::builtin::timeout::within(duration, what, work).await,
        None => work.await,
    }
}

/// One page of `items`, and the cursor of the next. A cursor that is not one this server
/// gave out is a `-32602` error that does not repeat it.
pub(crate) fn page<T>(
    mut items: Vec<T>,
    cursor: Option<&str>,
    size: Option<usize>,
) -> Result<(Vec<T>, Option<String>), ToolError> {
    let start = match cursor {
        None => 0,
        Some(cursor) => cursor
            .parse::<usize>()
            .ok()
            .filter(|&offset| offset <= items.len())
            .ok_or_else(|| {
                tracing::debug!(bytes = cursor.len(), "invalid pagination cursor");
                ToolError::invalid_params(
                    "invalid cursor: pass the `nextCursor` of the previous page, or none",
                )
            })?,
    };
    let end = size.map_or(items.len(), |size| {
        start.saturating_add(size).min(items.len())
    });
    let next = (end < items.len()).then(|| end.to_string());
    items.truncate(end);
    items.drain(..start);
    Ok((items, next))
}

fn cursor(params: &Params) -> Option<&str> {
    match params {
        Params::Page(Some(PaginatedRequestParams { cursor, .. })) => cursor.as_deref(),
        _ => None,
    }
}

async fn call_tool(
    inner: Arc<ServerInner>,
    mut request: McpRequest,
) -> Result<McpResponse, ToolError> {
    {
        // The handler usually resolved the tool already.
        let resolved = match request.resolved.take() {
            Some(resolved) => Some(resolved),
            None => {
                let routes = inner.routes();
                let name = request.target.as_deref().unwrap_or_default();
                routes
                    .registry
                    .tool_index(name)
                    .map(|index| (routes.clone(), index))
            }
        };
        let Some((routes, index)) = resolved else {
            let name = request.target.as_deref().unwrap_or_default();
            if let Some(reason) = inner.proxy_unavailable(name) {
                return Err(ToolError::unavailable(reason));
            }
            tracing::debug!(tool = name, "call to an unknown tool");
            return Err(ToolError::invalid_params(format!("unknown tool: {name}")));
        };
        let (tool, _) = routes.tool(index);
        authorize(
            &routes.registry,
            request.principal(),
            ComponentKind::Tool,
            tool.name(),
            &tool.access,
        )?;
        if let Some(mount) = routes.mount_stack(&tool.mounted, &request) {
            let mount = mount.clone();
            request.resolved = Some((routes.clone(), index));
            return mount.oneshot(request).await;
        }
        match routes.tool(index) {
            (_, Some(stack)) => stack.clone().oneshot(request).await,
            (tool, None) => invoke_tool(&tool.key, &tool.handler, request).await,
        }
    }
}

async fn route(inner: Arc<ServerInner>, mut request: McpRequest) -> Result<McpResponse, ToolError> {
    let routes = inner.routes();
    let registry = &routes.registry;
    let modern = request.era() == Era::Modern;
    let page_size = inner.page_size;
    // Cloned only where anything is restricted: the request is consumed below.
    let principal = registry
        .restricted
        .then(|| request.principal().cloned())
        .flatten();
    let principal = principal.as_ref();
    // Lists that depend on who asks are cacheable only by that caller.
    let list_scope = if registry.restricted {
        CacheScope::Private
    } else {
        CacheScope::Public
    };
    // One page of a list as the `$result` type (the SDK's list results share fields, not a
    // type), cacheable on 2026-07-28.
    macro_rules! list_reply {
        ($result:ident, $reply:ident, $items:expr) => {{
            let (items, next) = page($items, cursor(&request.params), page_size)?;
            let mut result = $result::with_all_items(items);
            if modern {
                result = result.with_ttl_ms(0).with_cache_scope(list_scope);
            }
            result.next_cursor = next;
            Ok(McpResponse::new(Reply::$reply(result)))
        }};
    }
    match request.method {
        // Reached only if a caller bypassed `Endpoint::call`; boxed to keep this future small.
        Method::CallTool => Box::pin(call_tool(inner.clone(), request)).await,
        Method::ListTools => {
            let tools: Vec<_> = registry
                .visible_tools()
                .filter(|t| visible(registry, principal, t.name(), &t.access))
                .map(|t| t.descriptor.clone())
                .collect();
            list_reply!(ListToolsResult, Tools, tools)
        }
        Method::ListResources => {
            let items: Vec<_> = registry
                .visible_resources()
                .filter(|r| !r.is_template())
                .filter(|r| visible(registry, principal, r.uri(), &r.access))
                .map(|r| r.as_resource())
                .collect();
            list_reply!(ListResourcesResult, Resources, items)
        }
        Method::ListResourceTemplates => {
            let items: Vec<_> = registry
                .visible_resources()
                .filter(|r| r.is_template())
                .filter(|r| visible(registry, principal, r.uri(), &r.access))
                .map(|r| r.as_template())
                .collect();
            list_reply!(ListResourceTemplatesResult, Templates, items)
        }
        Method::ReadResource => read_resource(&inner, &routes, request, modern).await,
        Method::ListPrompts => {
            let items: Vec<_> = registry
                .visible_prompts()
                .filter(|p| visible(registry, principal, p.name(), &p.access))
                .map(|p| p.as_prompt())
                .collect();
            list_reply!(ListPromptsResult, Prompts, items)
        }
        Method::GetPrompt => {
            let name = request.target.clone().unwrap_or_default();
            let Some(prompt) = registry.prompt(&name) else {
                if let Some(reason) = inner.proxy_unavailable(&name) {
                    return Err(ToolError::unavailable(reason));
                }
                return Err(ToolError::invalid_params(format!("unknown prompt: {name}")));
            };
            authorize(
                registry,
                principal,
                ComponentKind::Prompt,
                prompt.name(),
                &prompt.access,
            )?;
            if let Some(mount) = routes.mount_stack(&prompt.mounted, &request) {
                return mount.clone().oneshot(request).await;
            }
            let arguments = crate::registry::coerce_strings(
                &prompt.arguments_schema,
                request.arguments.take().unwrap_or_default(),
            );
            let parts = request.into_parts("prompt", prompt.key.clone(), Some(arguments));
            let handler = prompt.handler.clone();
            let work = guarded("prompt", &name, async move { handler(parts).await });
            let mut result = limited(registry.limits.timeout, &name, work).await?;
            if let Some(input) = result.input_required.take() {
                return Ok(McpResponse::new(Reply::Prompt(
                    rmcp::model::GetPromptResponse::InputRequired(input.into_result()?),
                )));
            }
            Ok(McpResponse::new(Reply::Prompt(
                rmcp::model::GetPromptResponse::Complete(result.into_wire()),
            )))
        }
        Method::Complete => {
            let Params::Complete(params) = request.params else {
                return Err(ToolError::internal("completion request without parameters"));
            };
            let argument = &params.argument;
            let candidates = match &params.r#ref {
                Reference::Prompt(reference) => {
                    let prompt = registry.prompt(&reference.name).ok_or_else(|| {
                        ToolError::invalid_params(format!("unknown prompt: {}", reference.name))
                    })?;
                    authorize(
                        registry,
                        principal,
                        ComponentKind::Prompt,
                        prompt.name(),
                        &prompt.access,
                    )?;
                    enum_values(&prompt.arguments_schema, &argument.name)
                }
                Reference::Resource(reference) => {
                    let resource = registry.template(&reference.uri).ok_or_else(|| {
                        ToolError::invalid_params(format!(
                            "unknown resource template: {}",
                            reference.uri
                        ))
                    })?;
                    authorize(
                        registry,
                        principal,
                        ComponentKind::Resource,
                        resource.uri(),
                        &resource.access,
                    )?;
                    enum_values(&resource.variables_schema, &argument.name)
                }
                _ => Vec::new(),
            };
            let matching: Vec<String> = candidates
                .into_iter()
                .filter(|c| c.starts_with(argument.value.as_str()))
                .collect();
            let total = matching.len();
            let values: Vec<String> = matching.into_iter().take(100).collect();
            let mut info = CompletionInfo::new(values).map_err(ToolError::internal)?;
            info.total = u32::try_from(total).ok();
            info.has_more = Some(total > 100);
            Ok(McpResponse::new(Reply::Complete(CompleteResult::new(info))))
        }
        Method::Initialize => match request.params {
            Params::Initialized(result) => {
                // Remember the session's peer for `notifications/tools/list_changed`.
                // Registering here rather than on `notifications/initialized` means a change
                // made right after the handshake is never missed.
                inner
                    .sessions
                    .register(request.ctx.peer.clone(), &request.session);
                Ok(McpResponse::new(Reply::Initialize(*result)))
            }
            _ => Err(ToolError::internal(
                "initialize request without a negotiated result",
            )),
        },
        Method::Discover => match request.params {
            Params::Discovered(result) => Ok(McpResponse::new(Reply::Discover(*result))),
            _ => Err(ToolError::internal("discover request without a result")),
        },
    }
}

async fn read_resource(
    inner: &ServerInner,
    routes: &Routes,
    request: McpRequest,
    modern: bool,
) -> Result<McpResponse, ToolError> {
    let registry = &routes.registry;
    let uri: Arc<str> = request.target.clone().unwrap_or_default();
    registry.limits.check_uri(&uri)?;
    let Some((resource, variables)) = registry.resource(&uri) else {
        if let Some(reason) = inner.proxy_unavailable(&uri) {
            return Err(ToolError::unavailable(reason));
        }
        tracing::debug!(uri = &*uri, "read of an unknown resource");
        return Err(ToolError::not_found(format!("resource not found: {uri}")));
    };
    authorize(
        registry,
        request.principal(),
        ComponentKind::Resource,
        resource.uri(),
        &resource.access,
    )?;
    if let Some(mount) = routes.mount_stack(&resource.mounted, &request) {
        return mount.clone().oneshot(request).await;
    }
    let parts = request.into_parts("resource", uri.clone(), Some(variables));
    let handler = resource.handler.clone();
    let work = guarded("resource", &uri, async move { handler(parts).await });
    let contents = limited(registry.limits.timeout, &uri, work).await?;
    if contents.is_empty() {
        return Err(ToolError::not_found(format!("resource not found: {uri}")));
    }
    let mime = resource.mime_type.as_deref();
    let contents = contents
        .into_iter()
        .map(|c| c.into_wire(&uri, mime))
        .collect();
    let mut result = ReadResourceResult::new(contents);
    if modern {
        result = result.with_ttl_ms(0).with_cache_scope(CacheScope::Private);
    }
    Ok(McpResponse::new(Reply::Read(
        ReadResourceResponse::Complete(result),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_follow_cursors_to_the_end() {
        let items: Vec<u32> = (0..5).collect();
        let (first, next) = page(items.clone(), None, Some(2)).unwrap();
        assert_eq!((first, next.as_deref()), (vec![0, 1], Some("2")));
        let (second, next) = page(items.clone(), Some("2"), Some(2)).unwrap();
        assert_eq!((second, next.as_deref()), (vec![2, 3], Some("4")));
        let (last, next) = page(items.clone(), Some("4"), Some(2)).unwrap();
        assert_eq!((last, next), (vec![4], None));
        let bad = page(items.clone(), Some("nope-<script>"), Some(2)).unwrap_err();
        assert_eq!(bad.kind(), crate::ToolErrorKind::InvalidParams);
        assert!(
            !bad.message().contains("nope"),
            "the cursor is not echoed: {bad}"
        );
        assert!(page(items.clone(), Some("99"), Some(2)).is_err());
        assert!(page(items.clone(), Some("-1"), Some(2)).is_err());
        // No overflow at the edges of the arithmetic.
        let (all, next) = page(items.clone(), Some("1"), Some(usize::MAX)).unwrap();
        assert_eq!((all, next), (vec![1, 2, 3, 4], None));
        let (rest, next) = page(items.clone(), Some("5"), Some(usize::MAX)).unwrap();
        assert_eq!((rest, next), (vec![], None));
        let (unpaged, next) = page(items, Some("3"), None).unwrap();
        assert_eq!((unpaged, next), (vec![3, 4], None));
    }
}
