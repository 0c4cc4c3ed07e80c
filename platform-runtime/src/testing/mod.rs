//! Test servers in memory: [`TestClient`] speaks real MCP (JSON-RPC over an in-memory
//! pipe, serialized exactly like stdio) to the real server, in either protocol era.
//!
//! ```
//! use platform_runtime::prelude::*;
//! use platform_runtime::testing::TestClient;
//!
//! /// Add two integers.
//! #[tool]
//! fn add(a: i64, b: i64) -> i64 { a + b }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = Server::builder("calc").tools(tools![add]).build()?;
//! let client = TestClient::connect(server).await?;
//! let result = client.call_tool("add", serde_json::json!({ "a": 2, "b": 40 })).await?;
//! assert_eq!(result.structured(), Some(&serde_json::json!({ "result": 42 })));
//! assert_eq!(result.text(), "42");
//! # Ok(()) }
//! ```

#![allow(deprecated)] // client logging notifications (SEP-2577)

mod issuer;

pub use issuer::{TestIssuer, TokenBuilder};

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, ClientRequest, GetPromptRequestParams, LoggingMessageNotificationParam,
    ProgressNotificationParam, ProtocolVersion, ReadResourceRequestParams, ServerResult,
    SetLevelRequestParams,
};
use rmcp::service::{
    ClientLifecycleMode, ClientServiceExt as _, NotificationContext, PeerRequestOptions,
    RequestHandle, RunningService, ServiceError,
};
use rmcp::{ClientHandler, RoleClient, ServiceExt as _};
use serde_json::Value;
use tokio::sync::Notify;

use crate::handler::{Era, LogLevel};
use crate::identity::Principal;
use crate::model::{PromptResult, ResourceContent, ToolResult};
use crate::server::{IntoServer, Server};

/// The outcome of one round of a multi-round tool call ([`TestClient::call_tool_round`]).
#[derive(Debug)]
#[non_exhaustive]
pub enum Round {
    /// The tool finished.
    Complete(ToolResult),
    /// The tool needs input before it can finish.
    InputRequired(InputAsked),
}

/// What a tool asked for in an `input_required` result.
#[derive(Debug, Clone)]
pub struct InputAsked {
    /// The requests by key, as JSON (`{"method": "elicitation/create", "params": {...}}`).
    pub requests: std::collections::BTreeMap<String, Value>,
    /// The state the client must echo on its retry.
    pub request_state: Option<String>,
}

impl InputAsked {
    /// The method of the request under `key` (`"elicitation/create"`,
    /// `"sampling/createMessage"`, `"roots/list"`).
    pub fn method(&self, key: &str) -> Option<&str> {
        self.requests.get(key)?.get("method")?.as_str()
    }

    /// A retry carrying this round's state and `response` as the answer to `key`; add more
    /// answers with [`Retry::answer`].
    pub fn answer(&self, key: &str, response: Value) -> Retry {
        Retry {
            input_responses: Default::default(),
            request_state: self.request_state.clone(),
        }
        .answer(key, response)
    }
}

/// The answers and state a client sends when it retries a multi-round call.
#[derive(Debug, Clone, Default)]
pub struct Retry {
    /// The client's results by request key.
    pub input_responses: std::collections::BTreeMap<String, Value>,
    /// The state echoed from the previous round.
    pub request_state: Option<String>,
}

impl Retry {
    /// Add the answer to the request under `key`.
    #[must_use]
    pub fn answer(mut self, key: &str, response: Value) -> Self {
        self.input_responses.insert(key.to_owned(), response);
        self
    }

    /// Replace the echoed state (to test how a tool treats altered state).
    #[must_use]
    pub fn state(mut self, state: impl Into<String>) -> Self {
        self.request_state = Some(state.into());
        self
    }
}

/// The `tools/call` parameters for `name` with `arguments` (an object, or null for none).
fn call_params(name: &str, arguments: Value) -> Result<CallToolRequestParams, TestError> {
    let mut params = CallToolRequestParams::new(name.to_owned());
    params.arguments = match arguments {
        Value::Object(map) => Some(map),
        Value::Null => None,
        other => return Err(TestError::NotAnObject(other)),
    };
    Ok(params)
}

/// Why a test client call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestError {
    /// The server answered with a JSON-RPC error.
    #[error("protocol error {code}: {message}")]
    Protocol {
        /// The JSON-RPC error code (`-32602` invalid params, `-32002` resource not found, …).
        code: i32,
        /// The error message.
        message: String,
        /// The error data.
        data: Option<Value>,
    },
    /// The server definition is invalid.
    #[error(transparent)]
    Build(#[from] crate::BuildError),
    /// The in-memory connection failed.
    #[error("connection error: {0}")]
    Connection(String),
    /// The arguments were not a JSON object.
    #[error("arguments must be a JSON object, got {0}")]
    NotAnObject(Value),
}

impl TestError {
    /// The JSON-RPC error code, for protocol errors.
    pub fn code(&self) -> Option<i32> {
        match self {
            TestError::Protocol { code, .. } => Some(*code),
            _ => None,
        }
    }
}

impl From<ServiceError> for TestError {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::McpError(e) => TestError::Protocol {
                code: e.code.0,
                message: e.message.into_owned(),
                data: e.data,
            },
            other => TestError::Connection(other.to_string()),
        }
    }
}

/// A progress notification the client received.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// Progress so far.
    pub progress: f64,
    /// The total, when known.
    pub total: Option<f64>,
    /// The human-readable message.
    pub message: Option<String>,
}

/// A log notification the client received.
#[derive(Debug, Clone, PartialEq)]
pub struct LogMessage {
    /// Its level.
    pub level: LogLevel,
    /// The logger (the component that logged).
    pub logger: Option<String>,
    /// The payload.
    pub data: Value,
}

/// A tool as listed by the server.
#[derive(Debug, Clone, PartialEq)]
pub struct ListedTool {
    /// The name.
    pub name: String,
    /// The title.
    pub title: Option<String>,
    /// The description.
    pub description: Option<String>,
    /// The input schema.
    pub input_schema: Value,
    /// The output schema.
    pub output_schema: Option<Value>,
    /// The annotations (`readOnlyHint`, …), as sent.
    pub annotations: Option<Value>,
    /// The whole descriptor as sent.
    pub raw: Value,
}

#[derive(Default)]
struct Events {
    progress: Mutex<Vec<Progress>>,
    logs: Mutex<Vec<LogMessage>>,
    tools_changed: Mutex<usize>,
    prompts_changed: Mutex<usize>,
    resources_changed: Mutex<usize>,
    notify: Notify,
}

#[derive(Clone)]
struct Recorder(Arc<Events>);

impl ClientHandler for Recorder {
    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.0
            .progress
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Progress {
                progress: params.progress,
                total: params.total,
                message: params.message,
            });
        self.0.notify.notify_waiters();
    }

    async fn on_logging_message(
        &self,
        params: LoggingMessageNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.0
            .logs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(LogMessage {
                level: LogLevel::from_wire(params.level),
                logger: params.logger,
                data: params.data,
            });
        self.0.notify.notify_waiters();
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.count(&self.0.tools_changed);
    }

    async fn on_prompt_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.count(&self.0.prompts_changed);
    }

    async fn on_resource_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.count(&self.0.resources_changed);
    }
}

impl Recorder {
    fn count(&self, counter: &Mutex<usize>) {
        *counter.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.0.notify.notify_waiters();
    }
}

/// An MCP client connected in memory to a server; see the [module docs](self).
pub struct TestClient {
    service: RunningService<RoleClient, Recorder>,
    events: Arc<Events>,
    era: Era,
    server: Server,
}

impl TestClient {
    /// Connect with the legacy `initialize` handshake (protocol 2025-11-25).
    pub async fn connect(server: impl IntoServer) -> Result<Self, TestError> {
        Self::connect_era(server, Era::Legacy).await
    }

    /// Connect statelessly with `server/discover` (protocol 2026-07-28).
    pub async fn connect_modern(server: impl IntoServer) -> Result<Self, TestError> {
        Self::connect_era(server, Era::Modern).await
    }

    /// Connect in the given era.
    pub async fn connect_era(server: impl IntoServer, era: Era) -> Result<Self, TestError> {
        Self::connect_with(server, era, None).await
    }

    /// Connect (legacy handshake) as `principal`: every request acts as that caller, as if a
    /// transport had authenticated it, so principal-keyed limits and caches, `Principal`
    /// parameters and middleware that read [`McpRequest::principal`] see it.
    ///
    /// [`McpRequest::principal`]: crate::middleware::McpRequest::principal
    pub async fn connect_as(
        server: impl IntoServer,
        principal: Principal,
    ) -> Result<Self, TestError> {
        Self::connect_with(server, Era::Legacy, Some(principal)).await
    }

    /// [`connect_as`](Self::connect_as) in the given era.
    pub async fn connect_era_as(
        server: impl IntoServer,
        era: Era,
        principal: Principal,
    ) -> Result<Self, TestError> {
        Self::connect_with(server, era, Some(principal)).await
    }

    async fn connect_with(
        server: impl IntoServer,
        era: Era,
        principal: Option<Principal>,
    ) -> Result<Self, TestError> {
        let server = server.into_server()?;
        server.ready().await;
        let (client_io, server_io) = tokio::io::duplex(1 << 20);
        let handler = match principal {
            Some(principal) => server.session_handler().acting_as(principal),
            None => server.session_handler(),
        };
        tokio::spawn(async move {
            match handler.serve(server_io).await {
                Ok(running) => {
                    let _ = running.waiting().await;
                }
                Err(error) => tracing::debug!(%error, "test server stopped before serving"),
            }
        });
        let events = Arc::new(Events::default());
        let recorder = Recorder(events.clone());
        let lifecycle = match era {
            Era::Legacy => ClientLifecycleMode::Initialize,
            Era::Modern => ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            },
        };
        let service = recorder
            .serve_with_lifecycle(client_io, lifecycle)
            .await
            .map_err(|e| TestError::Connection(e.to_string()))?;
        Ok(Self {
            service,
            events,
            era,
            server,
        })
    }

    /// The era this client speaks.
    pub fn era(&self) -> Era {
        self.era
    }

    /// The server under test (to change it through [`Server::handle`] mid-test).
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// The protocol version agreed with the server (`initialize` or `server/discover`).
    pub fn protocol_version(&self) -> Option<String> {
        self.service
            .peer_info()
            .map(|i| i.protocol_version.as_str().to_owned())
    }

    /// The server's name and version, from its `initialize` or `server/discover` result.
    pub fn server_name(&self) -> Option<(String, String)> {
        let info = self.service.peer_info()?;
        let server = info.server_info.as_ref()?;
        Some((server.name.clone(), server.version.clone()))
    }

    /// The description the server sent in its `serverInfo`.
    pub fn server_description(&self) -> Option<String> {
        let info = self.service.peer_info()?;
        info.server_info.as_ref()?.description.clone()
    }

    /// The instructions the server sent.
    pub fn instructions(&self) -> Option<String> {
        self.service
            .peer_info()
            .and_then(|i| i.instructions.clone())
    }

    /// Every tool, following pagination.
    pub async fn list_tools(&self) -> Result<Vec<ListedTool>, TestError> {
        let tools = self.service.list_all_tools().await?;
        Ok(tools
            .into_iter()
            .map(|t| {
                let raw = serde_json::to_value(&t).unwrap_or(Value::Null);
                ListedTool {
                    name: t.name.to_string(),
                    title: t.title.clone(),
                    description: t.description.as_deref().map(str::to_owned),
                    input_schema: Value::Object((*t.input_schema).clone()),
                    output_schema: t
                        .output_schema
                        .as_ref()
                        .map(|s| Value::Object((**s).clone())),
                    annotations: raw.get("annotations").cloned(),
                    raw,
                }
            })
            .collect())
    }

    /// The first page of tools and the cursor of the next (for pagination tests).
    pub async fn list_tools_page(
        &self,
        cursor: Option<String>,
    ) -> Result<(Vec<String>, Option<String>), TestError> {
        let params = rmcp::model::PaginatedRequestParams::default().with_cursor(cursor);
        let page = self.service.list_tools(Some(params)).await?;
        Ok((
            page.tools.into_iter().map(|t| t.name.to_string()).collect(),
            page.next_cursor,
        ))
    }

    /// Call a tool with a JSON object of arguments.
    pub async fn call_tool(&self, name: &str, arguments: Value) -> Result<ToolResult, TestError> {
        let params = call_params(name, arguments)?;
        let result = self.service.call_tool(params).await?;
        Ok(ToolResult::from_wire(result))
    }

    /// One round of a multi-round (2026-07-28) tool call: send `retry`'s answers and state,
    /// if any, and return either the final result or the input the tool asked for. Drive the
    /// rounds yourself to test what a tool asks, and how it treats answers and state.
    ///
    /// ```no_run
    /// # use platform_runtime::testing::{Retry, Round, TestClient};
    /// # async fn demo(client: TestClient) -> Result<(), Box<dyn std::error::Error>> {
    /// let Round::InputRequired(asked) = client.call_tool_round("deploy", serde_json::json!({}), None).await? else {
    ///     panic!("expected a question");
    /// };
    /// assert_eq!(asked.method("confirm"), Some("elicitation/create"));
    /// let retry = asked.answer("confirm", serde_json::json!({ "action": "accept", "content": { "ok": true } }));
    /// let Round::Complete(result) = client.call_tool_round("deploy", serde_json::json!({}), Some(retry)).await? else {
    ///     panic!("expected a result");
    /// };
    /// # Ok(()) }
    /// ```
    pub async fn call_tool_round(
        &self,
        name: &str,
        arguments: Value,
        retry: Option<Retry>,
    ) -> Result<Round, TestError> {
        let mut params = call_params(name, arguments)?;
        if let Some(retry) = retry {
            params.input_responses = Some(retry.input_responses);
            params.request_state = retry.request_state;
        }
        match self.service.call_tool_once(params).await? {
            rmcp::model::CallToolResponse::Complete(result) => {
                Ok(Round::Complete(ToolResult::from_wire(result)))
            }
            rmcp::model::CallToolResponse::InputRequired(result) => {
                let requests = result
                    .input_requests
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(key, request)| {
                        (key, serde_json::to_value(request).unwrap_or(Value::Null))
                    })
                    .collect();
                Ok(Round::InputRequired(InputAsked {
                    requests,
                    request_state: result.request_state,
                }))
            }
            _ => Err(TestError::Connection(
                "the server answered with a task, which the test client does not poll".into(),
            )),
        }
    }

    /// Start a tool call without waiting for it, to cancel it or to overlap calls.
    pub async fn start_call(&self, name: &str, arguments: Value) -> Result<PendingCall, TestError> {
        let params = call_params(name, arguments)?;
        let request = ClientRequest::CallToolRequest(rmcp::model::Request::new(params));
        let handle = self
            .service
            .send_cancellable_request(request, PeerRequestOptions::no_options())
            .await?;
        Ok(PendingCall { handle })
    }

    /// Open a `subscriptions/listen` stream for tool list changes (2026-07-28 clients, which
    /// receive list changes only on such a stream).
    pub async fn listen_for_tool_changes(&self) -> Result<ToolChanges, TestError> {
        let mut filter = rmcp::model::SubscriptionFilter::new();
        filter.tools_list_changed = Some(true);
        let subscription = self.service.listen(filter).await?;
        Ok(ToolChanges { subscription })
    }

    /// Open a `subscriptions/listen` stream for tool, prompt and resource list changes
    /// (2026-07-28).
    pub async fn listen_for_list_changes(&self) -> Result<ListChanges, TestError> {
        let mut filter = rmcp::model::SubscriptionFilter::new();
        filter.tools_list_changed = Some(true);
        filter.prompts_list_changed = Some(true);
        filter.resources_list_changed = Some(true);
        let subscription = self.service.listen(filter).await?;
        Ok(ListChanges { subscription })
    }

    /// Every resource URI (static resources).
    pub async fn list_resources(&self) -> Result<Vec<Value>, TestError> {
        let resources = self.service.list_all_resources().await?;
        Ok(resources
            .iter()
            .map(|r| serde_json::to_value(r).unwrap_or(Value::Null))
            .collect())
    }

    /// Every resource template.
    pub async fn list_resource_templates(&self) -> Result<Vec<Value>, TestError> {
        let templates = self.service.list_all_resource_templates().await?;
        Ok(templates
            .iter()
            .map(|r| serde_json::to_value(r).unwrap_or(Value::Null))
            .collect())
    }

    /// Read a resource: its contents, each with the URI it was served under; `.text()` and
    /// `.json::<T>()` read the common single-content case.
    pub async fn read_resource(&self, uri: &str) -> Result<ResourceRead, TestError> {
        let result = self
            .service
            .read_resource(ReadResourceRequestParams::new(uri))
            .await?;
        Ok(ResourceRead {
            contents: result
                .contents
                .into_iter()
                .map(ResourceContent::from_wire)
                .collect(),
        })
    }

    /// Every prompt, as sent.
    pub async fn list_prompts(&self) -> Result<Vec<Value>, TestError> {
        let prompts = self.service.list_all_prompts().await?;
        Ok(prompts
            .iter()
            .map(|p| serde_json::to_value(p).unwrap_or(Value::Null))
            .collect())
    }

    /// Get a prompt with a JSON object of (string) arguments.
    pub async fn get_prompt(
        &self,
        name: &str,
        arguments: Value,
    ) -> Result<PromptResult, TestError> {
        let mut params = GetPromptRequestParams::new(name);
        params.arguments = match arguments {
            Value::Object(map) => Some(map),
            Value::Null => None,
            other => return Err(TestError::NotAnObject(other)),
        };
        let result = self.service.get_prompt(params).await?;
        Ok(PromptResult::from_wire(result))
    }

    /// Completion candidates for a prompt argument.
    pub async fn complete_prompt_argument(
        &self,
        prompt: &str,
        argument: &str,
        value: &str,
    ) -> Result<Vec<String>, TestError> {
        let info = self
            .service
            .complete_prompt_argument(prompt, argument, value, None)
            .await?;
        Ok(info.values)
    }

    /// Completion candidates for a variable of a resource template.
    pub async fn complete_resource_argument(
        &self,
        uri_template: &str,
        variable: &str,
        value: &str,
    ) -> Result<Vec<String>, TestError> {
        let info = self
            .service
            .complete_resource_argument(uri_template, variable, value, None)
            .await?;
        Ok(info.values)
    }

    /// Ask for log notifications at `level` and above (legacy era: `logging/setLevel`).
    pub async fn set_log_level(&self, level: LogLevel) -> Result<(), TestError> {
        let wire = match level {
            LogLevel::Debug => rmcp::model::LoggingLevel::Debug,
            LogLevel::Info => rmcp::model::LoggingLevel::Info,
            LogLevel::Notice => rmcp::model::LoggingLevel::Notice,
            LogLevel::Warning => rmcp::model::LoggingLevel::Warning,
            LogLevel::Error => rmcp::model::LoggingLevel::Error,
            LogLevel::Critical => rmcp::model::LoggingLevel::Critical,
            LogLevel::Alert => rmcp::model::LoggingLevel::Alert,
            LogLevel::Emergency => rmcp::model::LoggingLevel::Emergency,
        };
        self.service
            .set_level(SetLevelRequestParams::new(wire))
            .await?;
        Ok(())
    }

    /// The progress notifications received so far, waiting (up to five seconds) until at
    /// least `at_least` have arrived: notifications travel independently of the response.
    pub async fn progress(&self, at_least: usize) -> Vec<Progress> {
        self.wait(
            |e| e.progress.lock().unwrap_or_else(|p| p.into_inner()).clone(),
            at_least,
        )
        .await
    }

    /// The log notifications received so far, waiting for at least `at_least`.
    pub async fn logs(&self, at_least: usize) -> Vec<LogMessage> {
        self.wait(
            |e| e.logs.lock().unwrap_or_else(|p| p.into_inner()).clone(),
            at_least,
        )
        .await
    }

    /// How many `tools/list_changed` notifications arrived, waiting (up to five seconds)
    /// for at least `at_least`.
    pub async fn tools_changed(&self, at_least: usize) -> usize {
        self.count(|e| &e.tools_changed, at_least).await
    }

    /// How many `prompts/list_changed` notifications arrived, waiting for at least
    /// `at_least`.
    pub async fn prompts_changed(&self, at_least: usize) -> usize {
        self.count(|e| &e.prompts_changed, at_least).await
    }

    /// How many `resources/list_changed` notifications arrived, waiting for at least
    /// `at_least`.
    pub async fn resources_changed(&self, at_least: usize) -> usize {
        self.count(|e| &e.resources_changed, at_least).await
    }

    async fn count(&self, counter: impl Fn(&Events) -> &Mutex<usize>, at_least: usize) -> usize {
        let count = self
            .wait(
                |e| vec![(); *counter(e).lock().unwrap_or_else(|p| p.into_inner())],
                at_least,
            )
            .await;
        count.len()
    }

    async fn wait<T>(&self, read: impl Fn(&Events) -> Vec<T>, at_least: usize) -> Vec<T> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let notified = self.events.notify.notified();
            let items = read(&self.events);
            if items.len() >= at_least {
                return items;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return read(&self.events);
            }
        }
    }

    /// Close the connection.
    pub async fn close(self) {
        let _ = self.service.cancel().await;
    }
}

/// A `subscriptions/listen` stream of tool list changes, from
/// [`TestClient::listen_for_tool_changes`].
pub struct ToolChanges {
    subscription: rmcp::service::Subscription,
}

impl ToolChanges {
    /// Wait (up to five seconds) for the next `notifications/tools/list_changed`; `false` if
    /// none came or the stream ended.
    pub async fn next(&mut self) -> bool {
        let next = tokio::time::timeout(Duration::from_secs(5), self.subscription.next()).await;
        matches!(
            next,
            Ok(Ok(Some(
                rmcp::model::ServerNotification::ToolListChangedNotification(_)
            )))
        )
    }
}

/// Which list a `list_changed` notification is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKind {
    /// `notifications/tools/list_changed`.
    Tools,
    /// `notifications/prompts/list_changed`.
    Prompts,
    /// `notifications/resources/list_changed`.
    Resources,
}

/// A `subscriptions/listen` stream of list changes, from
/// [`TestClient::listen_for_list_changes`].
pub struct ListChanges {
    subscription: rmcp::service::Subscription,
}

impl ListChanges {
    /// Wait (up to `wait`) for the next list change; `None` if none came in time or the
    /// stream ended. Other notifications on the stream are skipped.
    pub async fn next_within(&mut self, wait: Duration) -> Option<ListKind> {
        use rmcp::model::ServerNotification as N;
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let next = tokio::time::timeout_at(deadline, self.subscription.next()).await;
            match next {
                Ok(Ok(Some(N::ToolListChangedNotification(_)))) => return Some(ListKind::Tools),
                Ok(Ok(Some(N::PromptListChangedNotification(_)))) => {
                    return Some(ListKind::Prompts);
                }
                Ok(Ok(Some(N::ResourceListChangedNotification(_)))) => {
                    return Some(ListKind::Resources);
                }
                Ok(Ok(Some(_))) => {}
                _ => return None,
            }
        }
    }
}

/// What [`TestClient::read_resource`] returned: the contents, each with the URI it was served
/// under. Most resources serve one text content: read it with [`text`](Self::text), or parse
/// it with [`json`](Self::json).
#[derive(Debug, Clone)]
pub struct ResourceRead {
    contents: Vec<(String, ResourceContent)>,
}

impl ResourceRead {
    /// Every content with the URI it was served under, in the order sent.
    pub fn contents(&self) -> &[(String, ResourceContent)] {
        &self.contents
    }

    /// The URI of the first content (a template's expanded URI, for instance).
    pub fn uri(&self) -> Option<&str> {
        self.contents.first().map(|(uri, _)| uri.as_str())
    }

    /// The text of every text content, joined with newlines (empty when all are binary).
    pub fn text(&self) -> String {
        self.contents
            .iter()
            .filter_map(|(_, content)| content.as_text())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The bytes of the first binary content.
    pub fn bytes(&self) -> Option<&[u8]> {
        self.contents
            .iter()
            .find_map(|(_, content)| content.as_bytes())
    }

    /// The text (see [`text`](Self::text)) parsed as JSON into `T`.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(&self.text())
    }
}

impl std::ops::Index<usize> for ResourceRead {
    type Output = (String, ResourceContent);

    fn index(&self, index: usize) -> &Self::Output {
        &self.contents[index]
    }
}

/// A tool call in flight, from [`TestClient::start_call`].
pub struct PendingCall {
    handle: RequestHandle<RoleClient>,
}

impl PendingCall {
    /// Send `notifications/cancelled` for this call; the server's handler sees its
    /// [`crate::Context`] cancelled, and the response, if any, is dropped.
    pub async fn cancel(self, reason: &str) -> Result<(), TestError> {
        self.handle.cancel(Some(reason.to_owned())).await?;
        Ok(())
    }

    /// Wait for the result.
    pub async fn result(self) -> Result<ToolResult, TestError> {
        match self.handle.await_response().await? {
            ServerResult::CallToolResult(result) => Ok(ToolResult::from_wire(result)),
            other => Err(TestError::Connection(format!(
                "unexpected response: {other:?}"
            ))),
        }
    }
}

impl ToolResult {
    /// The text of every text block, joined with newlines.
    pub fn text(&self) -> String {
        self.content()
            .iter()
            .filter_map(|c| c.as_text())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The structured content deserialized into `T`. A tool returning something other than
    /// an object (a list, a number, a string) sends it wrapped as `{"result": …}`, as the
    /// protocol requires an object; that wrapper is taken off when `T` does not read the
    /// whole object, so `structured_as::<Vec<Ticket>>()` reads a `Vec<Ticket>` tool's output.
    pub fn structured_as<T: serde::de::DeserializeOwned>(&self) -> Option<T> {
        let structured = self.structured()?;
        if let Ok(whole) = T::deserialize(structured) {
            return Some(whole);
        }
        match structured.as_object() {
            Some(object) if object.len() == 1 => T::deserialize(object.get("result")?).ok(),
            _ => None,
        }
    }
}
