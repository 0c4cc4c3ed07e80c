//! [`McpHandler`]: the SDK's `ServerHandler` for both protocol eras. It turns each MCP
//! method into one [`McpRequest`](crate::middleware::McpRequest), runs it through the
//! server-level pipeline to the router, and turns the reply back into the method's result.

#![allow(deprecated)] // logging/setLevel is deprecated by SEP-2577 but part of the legacy era.

use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, CompleteRequestParams, CompleteResult,
    ContentBlock, DiscoverResult, GetPromptRequestParams, GetPromptResponse, Implementation,
    InitializeRequestParams, InitializeResult, ListPromptsResult, ListResourceTemplatesResult,
    ListResourcesResult, ListToolsResult, PaginatedRequestParams, ReadResourceRequestParams,
    ReadResourceResponse, ServerCapabilities, ServerConfig, SetLevelRequestParams,
    SubscriptionFilter, Tool,
};
use rmcp::model::{CancelTaskParams, GetTaskParams, GetTaskResult, UpdateTaskParams};
use rmcp::service::{RequestContext, SubscriptionContext};

use crate::identity::Principal;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use tower::ServiceExt as _;

use super::ServerInner;
use crate::ToolError;
use crate::error::ToolErrorKind;
use crate::handler::LogLevel;
use crate::middleware::request::{Params, Reply};
use crate::middleware::{McpRequest, McpResponse, McpService, Method, new_reference};
use crate::registry::TaskSupport;
use crate::state::{SessionState, SubscribeError};

/// The one rmcp `ServerHandler` of a platform server: every MCP method becomes an
/// [`McpRequest`] sent through the middleware pipeline to the registry. One instance per
/// connection; all instances share the server.
#[derive(Clone)]
pub(crate) struct McpHandler {
    inner: Arc<ServerInner>,
    /// The server-level middleware; `None` when there is none, and requests go straight to
    /// the endpoint without boxing or cloning a service.
    pipeline: Option<McpService>,
    session: Arc<SessionState>,
    /// Who every request of this connection acts as, unless the transport or a middleware
    /// says otherwise (a test client's principal; later, stdio's operator).
    principal: Option<Principal>,
}

/// A slot an HTTP transport puts on an `initialize` request's head: the session's
/// `initialize` fills it with the session's handler and the SDK's peer for it, so the
/// transport can serve the session's later requests that need no stream itself, through the
/// same handler (its log level, subscriptions and owner) and the same peer (notifications a
/// tool sends still reach the session's stream).
#[derive(Clone, Default)]
pub(crate) struct SessionLink(Arc<std::sync::OnceLock<(McpHandler, rmcp::Peer<RoleServer>)>>);

impl SessionLink {
    /// The session's handler and peer, once its `initialize` has run.
    pub(crate) fn get(&self) -> Option<&(McpHandler, rmcp::Peer<RoleServer>)> {
        self.0.get()
    }
}

/// What a session is bound to: the caller's binding, empty for an anonymous caller.
fn caller_key(principal: Option<&Principal>) -> Arc<str> {
    principal.map_or_else(|| Arc::from(""), Principal::binding)
}

/// `-32021` for a capability the client did not declare.
fn missing_capability(capability: &str) -> ErrorData {
    let capabilities =
        serde_json::from_value(serde_json::json!({ capability: {} })).unwrap_or_default();
    ErrorData::missing_required_client_capability(capabilities)
}

/// A call's answer when it runs as a task: as in the request, except that an internal
/// failure (a panic, an error the tool did not expect) is a JSON-RPC error, so the task
/// fails rather than completing with `isError` (SEP-2663 keeps `failed` for protocol-level
/// errors).
fn task_answer(
    tool: &str,
    outcome: Result<McpResponse, ToolError>,
) -> Result<CallToolResponse, ErrorData> {
    match outcome {
        Ok(response) => CallToolResponse::from_reply(response.reply)
            .ok_or_else(|| wrong_reply(Method::CallTool)),
        Err(error) if error.kind() == ToolErrorKind::Internal => {
            let message = match error.reference() {
                Some(_) => error.message().to_owned(),
                None => {
                    let reference = new_reference();
                    tracing::error!(
                        tool,
                        reference,
                        error = error.message(),
                        "a task's tool failed internally"
                    );
                    format!("internal error in `{tool}` (reference {reference})")
                }
            };
            Err(ErrorData::internal_error(message, None))
        }
        Err(error) => tool_failure(tool, error),
    }
}

/// A tool failure as the client sees it: a result with `isError: true` for failures the
/// model may act on, a JSON-RPC error for protocol errors.
pub(crate) fn tool_failure(tool: &str, error: ToolError) -> Result<CallToolResponse, ErrorData> {
    let message = match error.kind() {
        ToolErrorKind::MissingClientCapability => return Err(missing_capability(error.message())),
        ToolErrorKind::Forbidden => return Err(forbidden(&error)),
        ToolErrorKind::InvalidParams | ToolErrorKind::NotFound => {
            return Err(ErrorData::invalid_params(
                error.message().to_owned(),
                error.data().cloned(),
            ));
        }
        ToolErrorKind::Internal if error.reference().is_none() => {
            // No error-handling layer masked it: never let internal details out.
            let reference = new_reference();
            tracing::error!(
                tool,
                reference,
                error = error.message(),
                "tool failed internally"
            );
            format!("internal error in `{tool}` (reference {reference})")
        }
        _ => error.message().to_owned(),
    };
    tracing::debug!(tool, message, "tool returned an error");
    let mut result = CallToolResult::error(vec![ContentBlock::text(message)]);
    if error.kind() != ToolErrorKind::Internal {
        result.structured_content = error.data().cloned();
    }
    Ok(CallToolResponse::Complete(result))
}

/// An authorization refusal: JSON-RPC error [`crate::error::FORBIDDEN`] with what is needed.
fn forbidden(error: &ToolError) -> ErrorData {
    ErrorData::new(
        rmcp::model::ErrorCode(crate::error::FORBIDDEN),
        error.message().to_owned(),
        error.data().cloned(),
    )
}

/// A failure of any other method: a JSON-RPC error.
fn protocol_failure(method: Method, target: Option<&str>, error: ToolError) -> ErrorData {
    match error.kind() {
        ToolErrorKind::MissingClientCapability => missing_capability(error.message()),
        ToolErrorKind::Forbidden => forbidden(&error),
        ToolErrorKind::InvalidParams | ToolErrorKind::InvalidArguments => {
            ErrorData::invalid_params(error.message().to_owned(), error.data().cloned())
        }
        ToolErrorKind::NotFound => ErrorData::resource_not_found(
            error.message().to_owned(),
            Some(serde_json::json!({ "uri": target.unwrap_or_default() })),
        ),
        ToolErrorKind::Internal if error.reference().is_none() => {
            let reference = new_reference();
            tracing::error!(%method, target, reference, error = error.message(), "request failed internally");
            ErrorData::internal_error(format!("internal error (reference {reference})"), None)
        }
        _ => ErrorData::internal_error(error.message().to_owned(), error.data().cloned()),
    }
}

fn wrong_reply(method: Method) -> ErrorData {
    ErrorData::internal_error(
        format!("a middleware answered {method} with another method's result"),
        None,
    )
}

impl McpHandler {
    pub(crate) fn new(inner: Arc<ServerInner>, pipeline: Option<McpService>) -> Self {
        Self {
            inner,
            pipeline,
            session: Arc::default(),
            principal: None,
        }
    }

    /// Every request of this connection acts as `principal` unless the transport or a
    /// middleware sets another.
    pub(crate) fn acting_as(mut self, principal: Principal) -> Self {
        self.principal = Some(principal);
        self
    }

    fn request(
        &self,
        method: Method,
        target: Option<Arc<str>>,
        arguments: Option<rmcp::model::JsonObject>,
        params: Params,
        mut ctx: RequestContext<RoleServer>,
    ) -> McpRequest {
        // The HTTP transport's authentication leaves the verified principal on the request
        // head the SDK passes along; otherwise the connection's own (a test client's,
        // stdio's operator).
        if ctx.extensions.get::<Principal>().is_none()
            && let Some(principal) = self.caller(&ctx)
        {
            ctx.extensions.insert(principal);
        }
        let resolved = match (method, target.as_deref()) {
            (Method::CallTool, Some(name)) => {
                let routes = self.inner.routes();
                let index = routes.registry.tool_index(name);
                index.map(|index| (routes, index))
            }
            _ => None,
        };
        let component = resolved
            .as_ref()
            .map(|(routes, index)| routes.registry.tools[*index].info.clone());
        McpRequest {
            method,
            target,
            component,
            arguments,
            params,
            ctx,
            session: self.session.clone(),
            shared: self.inner.shared(),
            resolved,
            through_mount: false,
        }
    }

    /// The caller of a request handled outside the pipeline: the principal in its
    /// extensions, on its HTTP head, or the connection's.
    fn caller(&self, ctx: &RequestContext<RoleServer>) -> Option<Principal> {
        ctx.extensions
            .get::<Principal>()
            .or_else(|| {
                ctx.extensions
                    .get::<axum::http::request::Parts>()
                    .and_then(|parts| parts.extensions.get::<Principal>())
            })
            .cloned()
            .or_else(|| self.principal.clone())
    }

    async fn run(&self, request: McpRequest) -> Result<McpResponse, ToolError> {
        self.check_owner(request.principal())?;
        match &self.pipeline {
            Some(pipeline) => pipeline.clone().oneshot(request).await,
            None => super::router::dispatch(self.inner.clone(), request).await,
        }
    }

    /// The session's state as another replica needs it, and how many changes it has seen.
    pub(crate) fn portable(&self) -> (crate::state::Portable, u64) {
        // Counted first: a change made meanwhile is saved again later, never lost.
        let changes = self.session.changes();
        (self.session.portable(), changes)
    }

    /// How many changes another replica would need to learn the session has seen.
    pub(crate) fn session_changes(&self) -> u64 {
        self.session.changes()
    }

    /// Serve a session another replica opened: take on its owner, log level and
    /// subscriptions.
    pub(crate) fn adopt(&self, portable: crate::state::Portable) {
        self.session.restore(portable);
    }

    /// The request of a `tools/call` of `name`.
    fn call_request(
        &self,
        name: Arc<str>,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> McpRequest {
        let params = Params::Call {
            request_state: request.request_state,
            input_responses: request.input_responses,
        };
        self.request(
            Method::CallTool,
            Some(name),
            request.arguments,
            params,
            context,
        )
    }

    /// A call of a task tool from a client that declared the tasks extension: answered in
    /// the request if it answers at once (its future ready when first polled), otherwise
    /// recorded as a task and run on in the background under a token of its own (not the
    /// request's, which ends with the handle).
    async fn call_as_task(
        &self,
        name: Arc<str>,
        mut mcp: McpRequest,
    ) -> Result<CallToolResponse, ErrorData> {
        let token = tokio_util::sync::CancellationToken::new();
        mcp.ctx.ct = token.clone();
        let owner = caller_key(mcp.principal());
        let arguments = mcp.arguments().cloned();
        let this = self.clone();
        let tool = name.clone();
        let mut call = Box::pin(async move { task_answer(&tool, this.run(mcp).await) });
        if let std::task::Poll::Ready(answer) = futures::poll!(call.as_mut()) {
            // Answered at once: a result, or questions before any work (a first round).
            return answer;
        }
        let (id, handle) = match self
            .inner
            .tasks
            .create(owner.to_string(), &name, arguments, token.clone())
            .await
        {
            super::tasks::Created::Task(id, handle) => (id, handle),
            super::tasks::Created::Refused(error) => return Err(error),
            // The store fails and fails open: the client gets its answer in the request.
            super::tasks::Created::InRequest => return call.await,
        };
        tracing::debug!(tool = &*name, "a call goes on as a task");
        tokio::spawn(
            self.inner
                .tasks
                .clone()
                .run(id, owner.to_string(), call, token),
        );
        Ok(CallToolResponse::Task(handle))
    }

    /// Forget the session's peer for notifications: the session is put to sleep (its
    /// worker ends, the peer with it) and registers a new one when it wakes.
    pub(crate) fn forget_peer(&self) {
        self.inner.sessions.forget(&self.session);
    }

    /// Whether this connection's session serves `principal`: its owner, or anyone before
    /// it is bound.
    pub(crate) fn serves(&self, principal: Option<&Principal>) -> bool {
        let binding = principal.map(Principal::binding);
        self.session.serves(binding.as_deref().unwrap_or_default())
    }

    /// A legacy session serves only the caller that initialized it: for anyone else, an
    /// audit line and a forbidden error.
    pub(crate) fn check_owner(&self, principal: Option<&Principal>) -> Result<(), ToolError> {
        if self.serves(principal) {
            return Ok(());
        }
        tracing::warn!(
            target: "platform::audit",
            event = "session",
            decision = "deny",
            principal = principal.map(Principal::id),
            "a session was used by a caller other than the one that opened it"
        );
        Err(ToolError::forbidden(
            "this session belongs to another caller; open your own with `initialize`",
        ))
    }

    /// Whether the tool `name`'s input schema binds arguments to HTTP headers.
    pub(crate) fn tool_binds_headers(&self, name: &str) -> bool {
        self.inner.registry().tool_binds_headers(name)
    }

    /// Run a request other than a tool call; its reply as the method's result type.
    async fn run_as<T: FromReply>(&self, request: McpRequest) -> Result<T, ErrorData> {
        let method = request.method;
        let target = request.target.clone();
        match self.run(request).await {
            Ok(response) => T::from_reply(response.reply).ok_or_else(|| wrong_reply(method)),
            Err(error) => Err(protocol_failure(method, target.as_deref(), error)),
        }
    }

    /// One page of a list, of the result type the method's reply carries.
    async fn list<T: FromReply>(
        &self,
        method: Method,
        page: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<T, ErrorData> {
        self.run_as(self.request(method, None, None, Params::Page(page), context))
            .await
    }
}

/// A method's result taken out of the pipeline's reply (`None`: a middleware answered with
/// another method's result).
trait FromReply: Sized {
    fn from_reply(reply: Reply) -> Option<Self>;
}

macro_rules! from_reply {
    ($($result:ty => $variant:ident),* $(,)?) => {$(
        impl FromReply for $result {
            fn from_reply(reply: Reply) -> Option<Self> {
                match reply {
                    Reply::$variant(result) => Some(result),
                    _ => None,
                }
            }
        }
    )*};
}

from_reply!(
    InitializeResult => Initialize,
    DiscoverResult => Discover,
    CallToolResponse => Call,
    ReadResourceResponse => Read,
    GetPromptResponse => Prompt,
    CompleteResult => Complete,
    ListToolsResult => Tools,
    ListResourcesResult => Resources,
    ListResourceTemplatesResult => Templates,
    ListPromptsResult => Prompts,
);

impl ServerHandler for McpHandler {
    fn get_info(&self) -> ServerConfig {
        let info = &self.inner.info;
        let mut implementation = Implementation::new(info.name.clone(), info.version.clone());
        if let Some(title) = &info.title {
            implementation = implementation.with_title(title.clone());
        }
        implementation.description = info.description.clone();
        let builder = ServerCapabilities::builder()
            .enable_tools()
            .enable_tool_list_changed()
            .enable_resources()
            .enable_resources_subscribe()
            .enable_resources_list_changed()
            .enable_prompts()
            .enable_prompts_list_changed()
            .enable_completions()
            .enable_logging();
        // The tasks extension, when a tool's calls may run as tasks.
        let capabilities = if self.inner.registry().has_tasks() {
            builder.enable_tasks().build()
        } else {
            builder.build()
        };
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
        if let Some(link) = context
            .extensions
            .get::<axum::http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<SessionLink>())
        {
            let _ = link.0.set((self.clone(), context.peer.clone()));
        }
        let negotiated = self.negotiate_initialize(&request)?;
        if context
            .extensions
            .get::<rmcp::transport::streamable_http_server::session::SessionRestoreMarker>()
            .is_some()
        {
            // A session woken from sleep: the SDK replays the client's `initialize` to the
            // session's own handler, with a new peer. The owner stays; the middleware saw
            // the handshake the first time; only the peer for notifications is new.
            self.inner
                .sessions
                .register(context.peer.clone(), &self.session);
            return Ok(negotiated);
        }
        self.session
            .bind_owner(caller_key(self.caller(&context).as_ref()));
        let request = self.request(
            Method::Initialize,
            None,
            None,
            Params::Initialized(Box::new(negotiated)),
            context,
        );
        self.run_as(request).await
    }

    async fn discover(
        &self,
        context: RequestContext<RoleServer>,
    ) -> Result<DiscoverResult, ErrorData> {
        let result = DiscoverResult::from_server_info(
            self.supported_protocol_versions().into_owned(),
            self.get_info(),
        );
        let request = self.request(
            Method::Discover,
            None,
            None,
            Params::Discovered(Box::new(result)),
            context,
        );
        self.run_as(request).await
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        // List changes are what this server announces (`ServerHandle`); rmcp intersects the
        // answer with the request and the advertised capabilities.
        let mut accepted = SubscriptionFilter::new();
        accepted.tools_list_changed = requested.tools_list_changed;
        accepted.prompts_list_changed = requested.prompts_list_changed;
        accepted.resources_list_changed = requested.resources_list_changed;
        Some(accepted)
    }

    async fn listen(&self, context: SubscriptionContext) -> Result<(), ErrorData> {
        let sink = context.sink().clone();
        let id = sink.id().clone();
        let accepted = sink.accepted();
        if [
            accepted.tools_list_changed,
            accepted.prompts_list_changed,
            accepted.resources_list_changed,
        ]
        .contains(&Some(true))
        {
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

    async fn subscribe(
        &self,
        request: rmcp::model::SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let registry = self.inner.registry();
        let limits = registry.limits;
        limits
            .check_uri(&request.uri)
            .map_err(|e| protocol_failure(Method::ReadResource, None, e))?;
        let Some((resource, _)) = registry.resource(&request.uri) else {
            tracing::debug!(
                bytes = request.uri.len(),
                "subscription to an unknown resource refused"
            );
            return Err(ErrorData::invalid_params(
                "no resource matches this URI; subscribe to a listed resource or one of the resource templates",
                None,
            ));
        };
        // Only what the caller may read, in its own session.
        let principal = self.caller(&context);
        self.check_owner(principal.as_ref())
            .map_err(|e| protocol_failure(Method::ReadResource, None, e))?;
        super::authorize::authorize(
            &registry,
            principal.as_ref(),
            crate::component::ComponentKind::Resource,
            resource.uri(),
            &resource.access,
        )
        .map_err(|e| protocol_failure(Method::ReadResource, None, e))?;
        self.session
            .subscribe(request.uri, limits.max_subscriptions)
            .map_err(|SubscribeError::Full(max)| {
                tracing::warn!(max, "subscription refused: the session holds the most it may");
                ErrorData::invalid_params(
                    format!("this session already holds {max} subscriptions, the most it may; unsubscribe from one first"),
                    None,
                )
            })
    }

    async fn unsubscribe(
        &self,
        request: rmcp::model::UnsubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.check_owner(self.caller(&context).as_ref())
            .map_err(|e| protocol_failure(Method::ReadResource, None, e))?;
        self.session.unsubscribe(&request.uri);
        Ok(())
    }

    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.check_owner(self.caller(&context).as_ref())
            .map_err(|e| protocol_failure(Method::ReadResource, None, e))?;
        self.session
            .set_log_level(LogLevel::from_wire(request.level));
        Ok(())
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        self.list(Method::ListTools, request, context).await
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.inner
            .registry()
            .tool(name)
            .map(|t| t.descriptor.clone())
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let name: Arc<str> = request.name.as_ref().into();
        let mcp = self.call_request(name.clone(), request, context);
        // The tool the request resolved to says whether its calls may run as tasks.
        let task = mcp
            .resolved
            .as_ref()
            .map_or(TaskSupport::Never, |(routes, index)| {
                routes.registry.tools[*index].task
            });
        if task != TaskSupport::Never {
            let declared = mcp
                .ctx
                .client_capabilities()
                .is_some_and(|caps| caps.supports_tasks());
            if declared {
                return self.call_as_task(name, mcp).await;
            }
            if task == TaskSupport::Required {
                return Err(ErrorData::missing_required_client_capability(
                    rmcp::model::ClientCapabilities::builder()
                        .enable_tasks()
                        .build(),
                ));
            }
        }
        match self.run(mcp).await {
            Ok(response) => CallToolResponse::from_reply(response.reply)
                .ok_or_else(|| wrong_reply(Method::CallTool)),
            Err(error) => tool_failure(&name, error),
        }
    }

    async fn get_task(
        &self,
        request: GetTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetTaskResult, ErrorData> {
        let owner = caller_key(self.caller(&context).as_ref());
        self.inner.tasks.get(&request.task_id, &owner).await
    }

    async fn cancel_task(
        &self,
        request: CancelTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let owner = caller_key(self.caller(&context).as_ref());
        self.inner.tasks.cancel(&request.task_id, &owner).await
    }

    async fn update_task(
        &self,
        request: UpdateTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let owner = caller_key(self.caller(&context).as_ref());
        let id = request.task_id;
        let Some(next) = self
            .inner
            .tasks
            .answer(&id, &owner, request.input_responses)
            .await?
        else {
            return Ok(()); // questions still pending
        };
        // Every question answered: the tool's next round runs here, in the background.
        let name: Arc<str> = next.tool.as_str().into();
        let token = tokio_util::sync::CancellationToken::new();
        let mut context = context;
        context.ct = token.clone();
        let params = Params::Call {
            request_state: next.state,
            input_responses: Some(next.answers),
        };
        let mcp = self.request(
            Method::CallTool,
            Some(name.clone()),
            next.arguments,
            params,
            context,
        );
        let this = self.clone();
        let call = async move { task_answer(&name, this.run(mcp).await) };
        self.inner.tasks.resume(&id, token.clone());
        tokio::spawn(
            self.inner
                .tasks
                .clone()
                .run(id, owner.to_string(), call, token),
        );
        Ok(())
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        self.list(Method::ListResources, request, context).await
    }

    async fn list_resource_templates(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        self.list(Method::ListResourceTemplates, request, context)
            .await
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let request = self.request(
            Method::ReadResource,
            Some(request.uri.as_str().into()),
            None,
            Params::None,
            context,
        );
        self.run_as(request).await
    }

    async fn list_prompts(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        self.list(Method::ListPrompts, request, context).await
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let params = Params::Call {
            request_state: request.request_state,
            input_responses: request.input_responses,
        };
        let request = self.request(
            Method::GetPrompt,
            Some(request.name.as_str().into()),
            request.arguments,
            params,
            context,
        );
        self.run_as(request).await
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        let request = self.request(
            Method::Complete,
            None,
            None,
            Params::Complete(Box::new(request)),
            context,
        );
        self.run_as(request).await
    }
}
