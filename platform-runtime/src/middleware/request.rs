//! The one request and response type every middleware sees.

use std::sync::Arc;

use rmcp::RoleServer;
use rmcp::model::{
    CallToolResponse, CompleteRequestParams, CompleteResult, DiscoverResult, GetPromptResponse,
    InitializeResult, JsonObject, ListPromptsResult, ListResourceTemplatesResult,
    ListResourcesResult, ListToolsResult, PaginatedRequestParams, ReadResourceResponse, RequestId,
};
use rmcp::service::RequestContext;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::component::ComponentInfo;
use crate::handler::RequestParts;
use crate::handler::extract::Shared;
use crate::identity::Principal;
use crate::model::Era;
use crate::model::ToolResult;
use crate::state::SessionState;

/// The MCP method of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Method {
    /// `initialize` (legacy era).
    Initialize,
    /// `server/discover` (2026-07-28).
    Discover,
    /// `tools/list`.
    ListTools,
    /// `tools/call`.
    CallTool,
    /// `resources/list`.
    ListResources,
    /// `resources/templates/list`.
    ListResourceTemplates,
    /// `resources/read`.
    ReadResource,
    /// `prompts/list`.
    ListPrompts,
    /// `prompts/get`.
    GetPrompt,
    /// `completion/complete`.
    Complete,
}

impl Method {
    /// The method's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Initialize => "initialize",
            Method::Discover => "server/discover",
            Method::ListTools => "tools/list",
            Method::CallTool => "tools/call",
            Method::ListResources => "resources/list",
            Method::ListResourceTemplates => "resources/templates/list",
            Method::ReadResource => "resources/read",
            Method::ListPrompts => "prompts/list",
            Method::GetPrompt => "prompts/get",
            Method::Complete => "completion/complete",
        }
    }

    /// Whether this is a list method (`*/list`).
    pub fn is_list(self) -> bool {
        matches!(
            self,
            Method::ListTools
                | Method::ListResources
                | Method::ListResourceTemplates
                | Method::ListPrompts
        )
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Method-specific parameters the endpoint needs.
pub(crate) enum Params {
    None,
    Page(Option<PaginatedRequestParams>),
    Call {
        request_state: Option<String>,
        input_responses: Option<std::collections::BTreeMap<String, Value>>,
    },
    Complete(Box<CompleteRequestParams>),
    /// `initialize`, already negotiated by the handler.
    Initialized(Box<InitializeResult>),
    /// `server/discover`, already built by the handler.
    Discovered(Box<DiscoverResult>),
}

/// One MCP request, whatever its method: what middleware inspects, rewrites or answers.
pub struct McpRequest {
    pub(crate) method: Method,
    pub(crate) target: Option<Arc<str>>,
    pub(crate) component: Option<Arc<ComponentInfo>>,
    pub(crate) arguments: Option<JsonObject>,
    pub(crate) params: Params,
    pub(crate) ctx: RequestContext<RoleServer>,
    pub(crate) session: Arc<SessionState>,
    pub(crate) shared: Arc<Shared>,
    /// The tool looked up when the request was built: the routes it was found in, and its
    /// position there (so the router does not look it up again).
    pub(crate) resolved: Option<(Arc<super::Routes>, usize)>,
    /// Set once the request entered its component's mount stack, so the router, reached
    /// again at the stack's end, calls the component.
    pub(crate) through_mount: bool,
}

impl McpRequest {
    /// The method.
    pub fn method(&self) -> Method {
        self.method
    }

    /// The tool or prompt name, or resource URI, the request names (before lookup).
    pub fn target(&self) -> Option<&str> {
        self.target.as_deref()
    }

    /// The matched component with its policies; `None` for lists and unknown names.
    pub fn component(&self) -> Option<&ComponentInfo> {
        self.component.as_deref()
    }

    /// The tool arguments, prompt arguments or resource template variables.
    pub fn arguments(&self) -> Option<&JsonObject> {
        self.arguments.as_ref()
    }

    /// The arguments, to rewrite them before the handler sees them.
    pub fn arguments_mut(&mut self) -> &mut Option<JsonObject> {
        &mut self.arguments
    }

    /// The authenticated caller, if a middleware or transport established one.
    pub fn principal(&self) -> Option<&Principal> {
        self.ctx.extensions.get::<Principal>()
    }

    /// Set the caller (an authentication middleware does this).
    pub fn set_principal(&mut self, principal: Principal) {
        self.ctx.extensions.insert(principal);
    }

    /// The caller's tenant, from the principal.
    pub fn tenant(&self) -> Option<&str> {
        self.principal().and_then(Principal::tenant)
    }

    /// The client's name and version (`clientInfo`), as one string `name/version`.
    pub fn client(&self) -> Option<String> {
        self.ctx
            .client_info()
            .map(|info| format!("{}/{}", info.name, info.version))
    }

    /// The JSON-RPC id, as text.
    pub fn request_id(&self) -> String {
        match &self.ctx.id {
            RequestId::Number(n) => n.to_string(),
            RequestId::String(s) => s.to_string(),
        }
    }

    /// The `x-request-id` of the HTTP request that carried this message (the client's, or
    /// one the HTTP transport assigned); `None` on other transports.
    pub fn http_request_id(&self) -> Option<&str> {
        self.http_parts()?
            .headers
            .get("x-request-id")?
            .to_str()
            .ok()
    }

    /// The head of the HTTP request that carried this message; `None` on other transports.
    pub(crate) fn http_parts(&self) -> Option<&axum::http::request::Parts> {
        self.ctx.extensions.get::<axum::http::request::Parts>()
    }

    /// The legacy session's id (`Mcp-Session-Id`), over HTTP.
    pub(crate) fn session_id(&self) -> Option<&str> {
        self.http_parts()?
            .headers
            .get("mcp-session-id")?
            .to_str()
            .ok()
    }

    /// The protocol version: the request's own (2026-07-28), else the session's.
    pub(crate) fn protocol_version(&self) -> Option<rmcp::model::ProtocolVersion> {
        self.ctx.protocol_version()
    }

    /// The request's `_meta`.
    pub fn meta(&self) -> &JsonObject {
        &self.ctx.meta.0.0
    }

    /// The protocol era.
    pub fn era(&self) -> Era {
        Era::of(self.ctx.protocol_version().as_ref())
    }

    /// Cancelled when the client cancels the request or the server shuts down.
    pub fn cancellation_token(&self) -> CancellationToken {
        self.ctx.ct.clone()
    }

    /// A value stored in the request's extensions (by the transport or a middleware).
    pub fn extension<T: Clone + Send + Sync + 'static>(&self) -> Option<T> {
        self.ctx.extensions.get::<T>().cloned()
    }

    /// Store a value in the request's extensions; handlers read it with
    /// [`crate::RequestParts::extension`].
    pub fn insert_extension<T: Clone + Send + Sync + 'static>(&mut self, value: T) {
        self.ctx.extensions.insert(value);
    }

    /// What the handler of `component` (a `"tool"`, `"prompt"` or `"resource"`) receives: this
    /// request's context, session and shared state, the given `arguments`, and on a
    /// multi-round retry the state and answers the client sent back.
    pub(crate) fn into_parts(
        self,
        kind: &'static str,
        component: Arc<str>,
        arguments: Option<JsonObject>,
    ) -> RequestParts {
        let caller: Arc<str> = match self.principal() {
            Some(principal) => principal.binding(),
            None => {
                static ANONYMOUS: std::sync::OnceLock<Arc<str>> = std::sync::OnceLock::new();
                ANONYMOUS.get_or_init(|| Arc::from("")).clone()
            }
        };
        let (request_state, input_responses) = match self.params {
            Params::Call {
                request_state,
                input_responses,
            } => (request_state, input_responses),
            _ => (None, None),
        };
        RequestParts {
            rmcp: self.ctx,
            session: self.session,
            shared: self.shared,
            kind,
            component,
            arguments,
            arguments_digest: [0; 32],
            request_state,
            input_responses,
            caller,
        }
    }

    /// A copy of this request for a retry; `None` once the arguments were taken.
    pub(crate) fn try_clone(&self) -> Option<Self> {
        let params = match &self.params {
            Params::None => Params::None,
            Params::Page(p) => Params::Page(p.clone()),
            Params::Call {
                request_state,
                input_responses,
            } => Params::Call {
                request_state: request_state.clone(),
                input_responses: input_responses.clone(),
            },
            Params::Complete(c) => Params::Complete(c.clone()),
            Params::Initialized(i) => Params::Initialized(i.clone()),
            Params::Discovered(d) => Params::Discovered(d.clone()),
        };
        Some(Self {
            method: self.method,
            target: self.target.clone(),
            component: self.component.clone(),
            arguments: self.arguments.clone(),
            params,
            ctx: self.ctx.clone(),
            session: self.session.clone(),
            shared: self.shared.clone(),
            resolved: self.resolved.clone(),
            through_mount: self.through_mount,
        })
    }
}

impl std::fmt::Debug for McpRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpRequest")
            .field("method", &self.method)
            .field("target", &self.target)
            .field("request_id", &self.request_id())
            .finish_non_exhaustive()
    }
}

/// What the server answers.
#[derive(Debug, Clone)]
pub(crate) enum Reply {
    Initialize(InitializeResult),
    Discover(DiscoverResult),
    Tools(ListToolsResult),
    Call(CallToolResponse),
    Resources(ListResourcesResult),
    Templates(ListResourceTemplatesResult),
    Read(ReadResourceResponse),
    Prompts(ListPromptsResult),
    Prompt(GetPromptResponse),
    Complete(CompleteResult),
}

/// One MCP response: what middleware inspects, rewrites or caches.
#[derive(Debug, Clone)]
pub struct McpResponse {
    pub(crate) reply: Reply,
}

impl McpResponse {
    pub(crate) fn new(reply: Reply) -> Self {
        Self { reply }
    }

    /// A tool response built by a middleware (to short-circuit a `tools/call`).
    pub fn tool_result(result: ToolResult) -> Self {
        Self::new(Reply::Call(CallToolResponse::Complete(result.into_wire())))
    }

    /// Whether this is a tool result with `isError: true`.
    pub fn is_tool_error(&self) -> bool {
        matches!(&self.reply, Reply::Call(CallToolResponse::Complete(r)) if r.is_error == Some(true))
    }

    /// The tool result, converted for inspection (`None` for other methods).
    pub fn to_tool_result(&self) -> Option<ToolResult> {
        match &self.reply {
            Reply::Call(CallToolResponse::Complete(result)) => {
                Some(ToolResult::from_wire(result.clone()))
            }
            _ => None,
        }
    }

    /// Replace a tool result (for middleware that rewrites results).
    pub fn map_tool_result(&mut self, f: impl FnOnce(ToolResult) -> ToolResult) {
        if let Reply::Call(CallToolResponse::Complete(result)) = &mut self.reply {
            let taken = std::mem::take(result);
            *result = f(ToolResult::from_wire(taken)).into_wire();
        }
    }

    /// Keep only the listed tools whose name passes `keep` (per-caller filtering).
    pub fn retain_tools(&mut self, mut keep: impl FnMut(&str) -> bool) {
        if let Reply::Tools(list) = &mut self.reply {
            list.tools.retain(|t| keep(&t.name));
        }
    }

    /// Keep only the listed prompts whose name passes `keep`.
    pub fn retain_prompts(&mut self, mut keep: impl FnMut(&str) -> bool) {
        if let Reply::Prompts(list) = &mut self.reply {
            list.prompts.retain(|p| keep(&p.name));
        }
    }

    /// Keep only the listed resources and templates whose URI passes `keep`.
    pub fn retain_resources(&mut self, mut keep: impl FnMut(&str) -> bool) {
        match &mut self.reply {
            Reply::Resources(list) => list.resources.retain(|r| keep(&r.uri)),
            Reply::Templates(list) => list.resource_templates.retain(|t| keep(&t.uri_template)),
            _ => {}
        }
    }

    /// The response as JSON, in the wire format (for logging and caching).
    pub fn to_json(&self) -> Value {
        let value = match &self.reply {
            Reply::Initialize(r) => serde_json::to_value(r),
            Reply::Discover(r) => serde_json::to_value(r),
            Reply::Tools(r) => serde_json::to_value(r),
            Reply::Call(CallToolResponse::Complete(r)) => serde_json::to_value(r),
            Reply::Call(CallToolResponse::InputRequired(r)) => serde_json::to_value(r),
            Reply::Call(_) => Ok(Value::Null),
            Reply::Resources(r) => serde_json::to_value(r),
            Reply::Templates(r) => serde_json::to_value(r),
            Reply::Read(ReadResourceResponse::Complete(r)) => serde_json::to_value(r),
            Reply::Read(ReadResourceResponse::InputRequired(r)) => serde_json::to_value(r),
            Reply::Read(_) => Ok(Value::Null),
            Reply::Prompts(r) => serde_json::to_value(r),
            Reply::Prompt(GetPromptResponse::Complete(r)) => serde_json::to_value(r),
            Reply::Prompt(GetPromptResponse::InputRequired(r)) => serde_json::to_value(r),
            Reply::Prompt(_) => Ok(Value::Null),
            Reply::Complete(r) => serde_json::to_value(r),
        };
        value.unwrap_or(Value::Null)
    }

    /// The size of the response's payload in bytes: text and binary content, and structured
    /// content serialized when there is no text copy of it.
    pub fn payload_size(&self) -> usize {
        use rmcp::model::{ContentBlock, ResourceContents};
        fn block_size(block: &ContentBlock) -> usize {
            if let Some(t) = block.as_text() {
                return t.text.len();
            }
            if let Some(i) = block.as_image() {
                return i.data.len();
            }
            if let Some(a) = block.as_audio() {
                return a.data.len();
            }
            if let Some(r) = block.as_resource() {
                return contents_size(&r.resource);
            }
            0
        }
        fn contents_size(contents: &ResourceContents) -> usize {
            match contents {
                ResourceContents::TextResourceContents { text, .. } => text.len(),
                ResourceContents::BlobResourceContents { blob, .. } => blob.len(),
                _ => 0,
            }
        }
        match &self.reply {
            Reply::Call(CallToolResponse::Complete(r)) => {
                let content: usize = r.content.iter().map(block_size).sum();
                let structured = match (&r.structured_content, content) {
                    (Some(v), 0) => serde_json::to_vec(v).map(|b| b.len()).unwrap_or(0),
                    _ => 0,
                };
                content + structured
            }
            Reply::Read(ReadResourceResponse::Complete(r)) => {
                r.contents.iter().map(contents_size).sum()
            }
            Reply::Prompt(GetPromptResponse::Complete(r)) => {
                r.messages.iter().map(|m| block_size(&m.content)).sum()
            }
            _ => self.to_json().to_string().len(),
        }
    }
}
