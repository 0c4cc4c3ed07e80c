#![allow(deprecated)] // logging/setLevel is deprecated by SEP-2577 but part of the legacy era.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::FutureExt as _;
use rmcp::model::{
    CacheScope, CallToolRequestParams, CallToolResponse, CallToolResult, CompleteRequestParams,
    CompleteResult, CompletionInfo, ContentBlock, GetPromptRequestParams, GetPromptResponse,
    Implementation, InitializeRequestParams, InitializeResult, JsonObject, ListPromptsResult,
    ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
    ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult, Reference,
    ServerCapabilities, ServerConfig, SetLevelRequestParams, SubscriptionFilter, Tool,
};
use rmcp::service::{RequestContext, SubscriptionContext};
use rmcp::{ErrorData, RoleServer, ServerHandler};

use super::{ServerInner, SessionState};
use crate::ToolError;
use crate::error::ToolErrorKind;
use crate::handler::{Era, LogLevel, RequestParts};
use crate::registry::{Registry, enum_values};

/// The one rmcp `ServerHandler` of a platform server: routes every MCP method through the
/// registry. One instance per connection; all instances share the server.
#[derive(Clone)]
pub(crate) struct McpHandler {
    inner: Arc<ServerInner>,
    session: Arc<SessionState>,
}

impl McpHandler {
    pub(crate) fn new(inner: Arc<ServerInner>) -> Self {
        Self {
            inner,
            session: Arc::default(),
        }
    }

    fn parts(
        &self,
        rmcp: RequestContext<RoleServer>,
        component: Arc<str>,
        arguments: Option<JsonObject>,
    ) -> RequestParts {
        RequestParts {
            rmcp,
            session: self.session.clone(),
            states: self.inner.states.clone(),
            component,
            arguments,
            request_state: None,
            input_responses: None,
        }
    }
}

/// A reference an operator can find in the logs when an internal error was masked.
fn error_reference() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!(
        "{:x}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("non-string panic payload")
}

/// A tool failure as the client sees it: a result with `isError: true`, or for protocol
/// errors a JSON-RPC error.
fn tool_failure(tool: &str, error: ToolError) -> Result<CallToolResponse, ErrorData> {
    let message = match error.kind() {
        ToolErrorKind::Tool | ToolErrorKind::InvalidArguments => error.message().to_owned(),
        ToolErrorKind::InvalidParams | ToolErrorKind::NotFound => {
            return Err(ErrorData::invalid_params(
                error.message().to_owned(),
                error.data().cloned(),
            ));
        }
        ToolErrorKind::Internal => {
            let reference = error_reference();
            tracing::error!(
                tool,
                reference,
                error = error.message(),
                "tool failed internally"
            );
            format!("internal error in tool `{tool}` (reference {reference})")
        }
    };
    tracing::debug!(tool, message, "tool returned an error");
    let mut result = CallToolResult::error(vec![ContentBlock::text(message)]);
    if error.kind() != ToolErrorKind::Internal {
        result.structured_content = error.data().cloned();
    }
    Ok(CallToolResponse::Complete(result))
}

/// A resource or prompt failure: always a JSON-RPC error.
fn protocol_failure(kind: &str, name: &str, error: ToolError) -> ErrorData {
    match error.kind() {
        ToolErrorKind::InvalidParams | ToolErrorKind::InvalidArguments => {
            ErrorData::invalid_params(error.message().to_owned(), error.data().cloned())
        }
        ToolErrorKind::NotFound => ErrorData::resource_not_found(
            error.message().to_owned(),
            Some(serde_json::json!({ "uri": name })),
        ),
        ToolErrorKind::Tool => {
            ErrorData::internal_error(error.message().to_owned(), error.data().cloned())
        }
        ToolErrorKind::Internal => {
            let reference = error_reference();
            tracing::error!(
                kind,
                name,
                reference,
                error = error.message(),
                "handler failed internally"
            );
            ErrorData::internal_error(format!("internal error (reference {reference})"), None)
        }
    }
}

/// Run a handler future, turning a panic into an internal error.
async fn guarded<T>(
    kind: &str,
    name: &str,
    future: impl Future<Output = Result<T, ToolError>>,
) -> Result<T, ToolError> {
    match AssertUnwindSafe(future).catch_unwind().await {
        Ok(result) => result,
        Err(payload) => {
            let message = panic_message(payload.as_ref()).to_owned();
            tracing::error!(kind, name, panic = message, "handler panicked");
            Err(ToolError::internal(format!("handler panicked: {message}")))
        }
    }
}

/// One page of `items`, and the cursor of the next.
fn page<T: Clone>(
    items: Vec<T>,
    cursor: Option<&str>,
    size: Option<usize>,
) -> Result<(Vec<T>, Option<String>), ErrorData> {
    let start = match cursor {
        None => 0,
        Some(cursor) => cursor
            .parse::<usize>()
            .ok()
            .filter(|&offset| offset <= items.len())
            .ok_or_else(|| ErrorData::invalid_params(format!("invalid cursor `{cursor}`"), None))?,
    };
    let Some(size) = size else {
        return Ok((items.into_iter().skip(start).collect(), None));
    };
    let end = (start + size).min(items.len());
    let next = (end < items.len()).then(|| end.to_string());
    Ok((items[start..end].to_vec(), next))
}

/// Whether the request speaks 2026-07-28, whose results carry cache hints.
fn is_modern(context: &RequestContext<RoleServer>) -> bool {
    Era::of(context.protocol_version().as_ref()) == Era::Modern
}

fn cursor(request: &Option<PaginatedRequestParams>) -> Option<&str> {
    request.as_ref().and_then(|r| r.cursor.as_deref())
}

impl McpHandler {
    fn registry(&self) -> Arc<Registry> {
        self.inner.registry()
    }
}

impl ServerHandler for McpHandler {
    fn get_info(&self) -> ServerConfig {
        let info = &self.inner.info;
        let mut implementation = Implementation::new(info.name.clone(), info.version.clone());
        if let Some(title) = &info.title {
            implementation = implementation.with_title(title.clone());
        }
        let capabilities = ServerCapabilities::builder()
            .enable_tools()
            .enable_tool_list_changed()
            .enable_resources()
            .enable_prompts()
            .enable_completions()
            .enable_logging()
            .build();
        let config = ServerConfig::new(capabilities).with_server_info(implementation);
        match &info.instructions {
            Some(instructions) => config.with_instructions(instructions.clone()),
            None => config,
        }
    }

    async fn initialize(
        &self,
        request: InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<InitializeResult, ErrorData> {
        context.peer.set_peer_info(request.clone());
        // Remember the session's peer for `notifications/tools/list_changed`. Registering
        // here rather than on `notifications/initialized` means a change made right after the
        // handshake is never missed.
        {
            let mut peers = self.inner.peers.lock().unwrap_or_else(|e| e.into_inner());
            peers.retain(|p| !p.is_transport_closed());
            peers.push(context.peer.clone());
        }
        self.negotiate_initialize(&request)
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        // Tool list changes are what this server announces; rmcp intersects the answer with
        // the request and the advertised capabilities.
        let mut accepted = SubscriptionFilter::new();
        accepted.tools_list_changed = requested.tools_list_changed;
        Some(accepted)
    }

    async fn listen(&self, context: SubscriptionContext) -> Result<(), ErrorData> {
        let sink = context.sink().clone();
        let id = sink.id().clone();
        if sink.accepted().tools_list_changed == Some(true) {
            self.inner
                .listeners
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(sink);
        }
        context.cancelled().await;
        self.inner
            .listeners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|listener| listener.id() != &id);
        Ok(())
    }

    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.session
            .set_log_level(LogLevel::from_wire(request.level));
        Ok(())
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let registry = self.registry();
        let tools: Vec<Tool> = registry
            .visible_tools()
            .map(|t| t.descriptor.clone())
            .collect();
        let (tools, next) = page(tools, cursor(&request), self.inner.page_size)?;
        let mut result = ListToolsResult::with_all_items(tools);
        if is_modern(&context) {
            result = result.with_ttl_ms(0).with_cache_scope(CacheScope::Public);
        }
        result.next_cursor = next;
        Ok(result)
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.registry().tool(name).map(|t| t.descriptor.clone())
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let registry = self.registry();
        let name = request.name.as_ref();
        let Some(tool) = registry.tool(name) else {
            tracing::debug!(tool = name, "call to an unknown tool");
            return Err(ErrorData::invalid_params(
                format!("unknown tool: {name}"),
                None,
            ));
        };
        let mut parts = self.parts(context, tool.key.clone(), request.arguments);
        parts.request_state = request.request_state;
        parts.input_responses = request.input_responses;
        let handler = tool.handler.clone();
        match guarded("tool", name, async move { handler(parts).await }).await {
            Ok(response) => Ok(response.0),
            Err(error) => tool_failure(name, error),
        }
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let registry = self.registry();
        let items: Vec<_> = registry
            .resources
            .iter()
            .filter(|r| !r.is_template())
            .map(|r| r.as_resource())
            .collect();
        let (items, next) = page(items, cursor(&request), self.inner.page_size)?;
        let mut result = ListResourcesResult::with_all_items(items);
        if is_modern(&context) {
            result = result.with_ttl_ms(0).with_cache_scope(CacheScope::Public);
        }
        result.next_cursor = next;
        Ok(result)
    }

    async fn list_resource_templates(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        let registry = self.registry();
        let items: Vec<_> = registry
            .resources
            .iter()
            .filter(|r| r.is_template())
            .map(|r| r.as_template())
            .collect();
        let (items, next) = page(items, cursor(&request), self.inner.page_size)?;
        let mut result = ListResourceTemplatesResult::with_all_items(items);
        if is_modern(&context) {
            result = result.with_ttl_ms(0).with_cache_scope(CacheScope::Public);
        }
        result.next_cursor = next;
        Ok(result)
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let registry = self.registry();
        let modern = is_modern(&context);
        let uri = request.uri.as_str();
        let Some((resource, variables)) = registry.resource(uri) else {
            tracing::debug!(uri, "read of an unknown resource");
            return Err(ErrorData::resource_not_found(
                format!("resource not found: {uri}"),
                Some(serde_json::json!({ "uri": uri })),
            ));
        };
        let parts = self.parts(context, uri.into(), Some(variables));
        let handler = resource.handler.clone();
        let contents = guarded("resource", uri, async move { handler(parts).await })
            .await
            .map_err(|error| protocol_failure("resource", uri, error))?;
        if contents.is_empty() {
            return Err(ErrorData::resource_not_found(
                format!("resource not found: {uri}"),
                Some(serde_json::json!({ "uri": uri })),
            ));
        }
        let mime = resource.mime_type.as_deref();
        let contents = contents
            .into_iter()
            .map(|c| c.into_wire(uri, mime))
            .collect();
        let mut result = ReadResourceResult::new(contents);
        if modern {
            result = result.with_ttl_ms(0).with_cache_scope(CacheScope::Private);
        }
        Ok(ReadResourceResponse::Complete(result))
    }

    async fn list_prompts(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        let registry = self.registry();
        let items: Vec<_> = registry.prompts.iter().map(|p| p.as_prompt()).collect();
        let (items, next) = page(items, cursor(&request), self.inner.page_size)?;
        let mut result = ListPromptsResult::with_all_items(items);
        if is_modern(&context) {
            result = result.with_ttl_ms(0).with_cache_scope(CacheScope::Public);
        }
        result.next_cursor = next;
        Ok(result)
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let registry = self.registry();
        let name = request.name.as_str();
        let Some(prompt) = registry.prompt(name) else {
            return Err(ErrorData::invalid_params(
                format!("unknown prompt: {name}"),
                None,
            ));
        };
        let arguments = crate::registry::coerce_strings(
            &prompt.arguments_schema,
            request.arguments.unwrap_or_default(),
        );
        let parts = self.parts(context, prompt.key.clone(), Some(arguments));
        let handler = prompt.handler.clone();
        let result = guarded("prompt", name, async move { handler(parts).await })
            .await
            .map_err(|error| protocol_failure("prompt", name, error))?;
        Ok(GetPromptResponse::Complete(result.into_wire()))
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        let registry = self.registry();
        let argument = &request.argument;
        let candidates = match &request.r#ref {
            Reference::Prompt(reference) => {
                let prompt = registry.prompt(&reference.name).ok_or_else(|| {
                    ErrorData::invalid_params(format!("unknown prompt: {}", reference.name), None)
                })?;
                enum_values(&prompt.arguments_schema, &argument.name)
            }
            Reference::Resource(reference) => {
                let resource = registry.template(&reference.uri).ok_or_else(|| {
                    ErrorData::invalid_params(
                        format!("unknown resource template: {}", reference.uri),
                        None,
                    )
                })?;
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
        let mut info =
            CompletionInfo::new(values).map_err(|e| ErrorData::internal_error(e, None))?;
        info.total = u32::try_from(total).ok();
        info.has_more = Some(total > 100);
        Ok(CompleteResult::new(info))
    }
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
        assert!(page(items.clone(), Some("nope"), Some(2)).is_err());
        assert!(page(items, Some("99"), Some(2)).is_err());
    }
}
