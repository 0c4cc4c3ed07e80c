//! [`Context`]: the request a handler is serving — progress, client logging, cancellation,
//! metadata, multi-round state.
#![allow(deprecated)] // MCP logging is deprecated by SEP-2577 but still part of both eras.

use std::sync::Arc;

use rmcp::RoleServer;
use rmcp::model::{
    LoggingMessageNotificationParam, ProgressNotificationParam, ProgressToken, ProtocolVersion,
    RequestId,
};
use rmcp::service::Peer;
use tokio_util::sync::CancellationToken;

use super::extract::{RequestParts, Shared};
use super::mrtr::Binding;
use crate::ToolError;
use crate::model::{Era, LogLevel};

/// Where a request's progress goes when its transport carries it itself (a legacy session
/// request answered directly: its reply turns into a stream at the first progress
/// notification) rather than through the SDK's peer. Put in the request's extensions by the
/// transport.
#[derive(Clone, Debug)]
pub(crate) struct ProgressRoute(pub(crate) tokio::sync::mpsc::Sender<ProgressNotificationParam>);

/// The request a handler is serving: progress, client logging, cancellation and metadata.
///
/// Add a `ctx: Context` parameter to any tool, resource or prompt function; it is not part
/// of the input schema.
///
/// ```
/// use platform_runtime::prelude::*;
///
/// /// Count to three, reporting progress.
/// #[tool]
/// async fn count(ctx: Context) -> Result<u32, ToolError> {
///     for step in 1..=3 {
///         if ctx.is_cancelled() {
///             return Err(ToolError::new("cancelled"));
///         }
///         ctx.progress(step as f64, Some(3.0), None).await;
///     }
///     ctx.info("counted to three").await;
///     Ok(3)
/// }
/// ```
#[derive(Clone)]
pub struct Context {
    peer: Peer<RoleServer>,
    ct: CancellationToken,
    id: RequestId,
    progress_token: Option<ProgressToken>,
    progress_route: Option<ProgressRoute>,
    era: Era,
    protocol_version: Option<ProtocolVersion>,
    /// Modern era: the level the request asked for; legacy: the session's level.
    log_level: Option<LogLevel>,
    shared: Arc<Shared>,
    kind: &'static str,
    component: Arc<str>,
    arguments_digest: [u8; 32],
    meta: rmcp::model::JsonObject,
    client: Option<(String, String)>,
    request_state: Option<String>,
    input_responses: Option<std::collections::BTreeMap<String, serde_json::Value>>,
    caller: Arc<str>,
    client_capabilities: Option<rmcp::model::ClientCapabilities>,
    last_progress: Arc<std::sync::Mutex<Option<f64>>>,
}

impl Context {
    pub(crate) fn new(parts: &RequestParts) -> Self {
        let rmcp = &parts.rmcp;
        let protocol_version = rmcp.protocol_version();
        let era = Era::of(protocol_version.as_ref());
        let log_level = match era {
            Era::Modern => rmcp.meta.log_level().map(LogLevel::from_wire),
            Era::Legacy => parts.session.log_level(),
        };
        Self {
            peer: rmcp.peer.clone(),
            ct: rmcp.ct.clone(),
            id: rmcp.id.clone(),
            progress_token: rmcp.meta.get_progress_token(),
            progress_route: rmcp.extensions.get::<ProgressRoute>().cloned(),
            era,
            protocol_version,
            log_level,
            shared: parts.shared.clone(),
            kind: parts.kind,
            component: parts.component.clone(),
            arguments_digest: parts.arguments_digest,
            meta: rmcp.meta.0.0.clone(),
            client: rmcp.client_info().map(|info| (info.name, info.version)),
            request_state: parts.request_state.clone(),
            input_responses: parts.input_responses.clone(),
            caller: parts.caller.clone(),
            client_capabilities: rmcp.client_capabilities(),
            last_progress: Arc::default(),
        }
    }

    /// A clone of the shared state of type `T` given to the server builder.
    pub fn state<T: Clone + Send + Sync + 'static>(&self) -> Option<T> {
        self.shared.states.get::<T>().cloned()
    }

    /// The request's `_meta` object, as sent (progress token, protocol metadata on
    /// 2026-07-28, trace context, and any custom keys).
    pub fn meta(&self) -> &rmcp::model::JsonObject {
        &self.meta
    }

    /// The calling client's name and version, when it sent them.
    pub fn client(&self) -> Option<(&str, &str)> {
        self.client
            .as_ref()
            .map(|(name, version)| (name.as_str(), version.as_str()))
    }

    /// On a multi-round retry (2026-07-28), the state this tool asked the client to echo
    /// with [`crate::InputRequired`]. Treat it as untrusted input: seal anything that grants
    /// access.
    pub fn request_state(&self) -> Option<&str> {
        self.request_state.as_deref()
    }

    /// On a multi-round retry, the client's answer to the input request named `key`.
    pub fn input_response(&self, key: &str) -> Option<&serde_json::Value> {
        self.input_responses
            .as_ref()
            .and_then(|responses| responses.get(key))
    }

    /// Ask the client's model to complete `prompt` (MCP sampling) and return its text.
    ///
    /// Legacy sessions only, and only when the client declared the `sampling` capability;
    /// on 2026-07-28 a tool asks through [`crate::InputRequired`] instead.
    pub async fn sample(&self, prompt: &str, max_tokens: u32) -> Result<String, ToolError> {
        #![allow(deprecated)] // sampling is deprecated by SEP-2577, still part of both eras
        use rmcp::model::{CreateMessageRequestParams, SamplingMessage};
        if self.era == Era::Modern {
            return Err(ToolError::new(
                "sampling is not available on protocol 2026-07-28; return InputRequired instead",
            ));
        }
        if self
            .client_capabilities
            .as_ref()
            .is_none_or(|c| c.sampling.is_none())
        {
            return Err(ToolError::new("the client does not support sampling"));
        }
        let params =
            CreateMessageRequestParams::new(vec![SamplingMessage::user_text(prompt)], max_tokens);
        let result = self
            .peer
            .create_message(params)
            .await
            .map_err(|e| ToolError::new(format!("sampling failed: {e}")))?;
        let text = serde_json::to_value(&result.message.content)
            .ok()
            .and_then(|c| {
                let block = if c.is_array() { c.get(0).cloned()? } else { c };
                block
                    .get("text")
                    .and_then(|t| t.as_str())
                    .map(str::to_owned)
            })
            .unwrap_or_default();
        Ok(text)
    }

    /// Ask the user, through the client, for input matching `schema` (a flat object schema
    /// of primitive properties, MCP form elicitation). Returns the action (`accept`,
    /// `decline`, `cancel`) and, when accepted, the content.
    ///
    /// Legacy sessions only, and only when the client declared the `elicitation`
    /// capability; on 2026-07-28 a tool asks through [`crate::InputRequired`] instead.
    pub async fn elicit(
        &self,
        message: &str,
        schema: serde_json::Value,
    ) -> Result<(String, Option<serde_json::Value>), ToolError> {
        use rmcp::model::{ElicitRequestParams, ElicitationSchema};
        if self.era == Era::Modern {
            return Err(ToolError::new(
                "elicitation requests are not available on protocol 2026-07-28; return InputRequired instead",
            ));
        }
        if self
            .client_capabilities
            .as_ref()
            .is_none_or(|c| c.elicitation.is_none())
        {
            return Err(ToolError::new("the client does not support elicitation"));
        }
        let requested_schema: ElicitationSchema = serde_json::from_value(schema)
            .map_err(|e| ToolError::internal(format!("invalid elicitation schema: {e}")))?;
        let params = ElicitRequestParams::FormElicitationParams {
            meta: None,
            message: message.to_owned(),
            requested_schema,
        };
        let result = self
            .peer
            .create_elicitation(params)
            .await
            .map_err(|e| ToolError::new(format!("elicitation failed: {e}")))?;
        let action = serde_json::to_value(&result.action)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        Ok((action, result.content))
    }

    /// Whether the client declared a capability (`"elicitation"`, `"sampling"`, `"roots"`,
    /// …) — on 2026-07-28 for this request, on legacy sessions at `initialize`.
    pub fn client_supports(&self, capability: &str) -> bool {
        self.client_capabilities
            .as_ref()
            .and_then(|c| serde_json::to_value(c).ok())
            .is_some_and(|c| c.get(capability).is_some_and(|v| !v.is_null()))
    }

    /// Seal `data` as multi-round request state for this component and these arguments,
    /// valid for `ttl_secs`: encrypted and authenticated, so the client can neither read nor
    /// change it, nor use it with another server, component or set of arguments. Fails only
    /// if the OS random source does.
    pub fn seal_state(&self, data: &serde_json::Value, ttl_secs: u64) -> Result<String, ToolError> {
        self.shared.sealer.seal(self.binding(), data, ttl_secs)
    }

    /// The data sealed in this retry's request state, or `None` on a first call. Changed,
    /// foreign (another server, component or arguments) or expired state is an
    /// invalid-params error.
    pub fn open_state(&self) -> Result<Option<serde_json::Value>, ToolError> {
        match &self.request_state {
            None => Ok(None),
            Some(sealed) => self.shared.sealer.open(self.binding(), sealed).map(Some),
        }
    }

    fn binding(&self) -> Binding<'_> {
        Binding {
            kind: self.kind,
            component: &self.component,
            arguments: &self.arguments_digest,
            caller: self.caller.as_bytes(),
        }
    }

    /// The protocol era of this request.
    pub fn era(&self) -> Era {
        self.era
    }

    /// The negotiated protocol version, such as `"2025-11-25"` or `"2026-07-28"`.
    pub fn protocol_version(&self) -> Option<&str> {
        self.protocol_version.as_ref().map(ProtocolVersion::as_str)
    }

    /// The JSON-RPC id of this request, as text.
    pub fn request_id(&self) -> String {
        match &self.id {
            RequestId::Number(n) => n.to_string(),
            RequestId::String(s) => s.to_string(),
        }
    }

    /// The tool or prompt name, or resource URI, being served.
    pub fn component(&self) -> &str {
        &self.component
    }

    /// Whether the client cancelled this request (or the server is shutting down).
    pub fn is_cancelled(&self) -> bool {
        self.ct.is_cancelled()
    }

    /// Resolves when the request is cancelled; use it in `tokio::select!` around slow work.
    pub async fn cancelled(&self) {
        self.ct.cancelled().await;
    }

    /// A token that is cancelled with the request, to hand to spawned work.
    pub fn cancellation_token(&self) -> CancellationToken {
        self.ct.clone()
    }

    /// Whether the client asked for progress notifications on this request.
    pub fn wants_progress(&self) -> bool {
        self.progress_token.is_some()
    }

    /// Report progress. Sent only when the client supplied a progress token, and only when
    /// `progress` increases, as the protocol requires; otherwise a no-op. Delivery failures
    /// (a client that went away) are logged, not returned: progress is advisory.
    pub async fn progress(&self, progress: f64, total: Option<f64>, message: Option<&str>) {
        let Some(token) = self.progress_token.clone() else {
            return;
        };
        {
            let mut last = self.last_progress.lock().unwrap_or_else(|e| e.into_inner());
            if last.is_some_and(|previous| progress <= previous) {
                tracing::debug!(progress, "progress must increase; notification skipped");
                return;
            }
            *last = Some(progress);
        }
        let mut param = ProgressNotificationParam::new(token, progress);
        if let Some(total) = total {
            param = param.with_total(total);
        }
        if let Some(message) = message {
            param.message = Some(message.to_owned());
        }
        if let Some(route) = &self.progress_route {
            if route.0.send(param).await.is_err() {
                tracing::debug!("progress notification not delivered: the reply has ended");
            }
            return;
        }
        if let Err(error) = self.peer.notify_progress(param).await {
            tracing::debug!(%error, "progress notification not delivered");
        }
    }

    /// Send a log message to the client, if the client asked for this level (legacy:
    /// `logging/setLevel`; 2026-07-28: the request's `logLevel`).
    pub async fn log(&self, level: LogLevel, data: impl Into<serde_json::Value>) {
        let wanted = match (self.era, self.log_level) {
            (_, Some(threshold)) => level >= threshold,
            // Legacy sessions that never set a level receive every message.
            (Era::Legacy, None) => true,
            // 2026-07-28: no level on the request means no log notifications.
            (Era::Modern, None) => false,
        };
        if !wanted {
            return;
        }
        let param = LoggingMessageNotificationParam::new(level.to_wire(), data.into())
            .with_logger(self.component.to_string());
        if let Err(error) = self.peer.notify_logging_message(param).await {
            tracing::debug!(%error, "log notification not delivered");
        }
    }

    /// Log at debug level; see [`Context::log`].
    pub async fn debug(&self, message: impl Into<String>) {
        self.log(LogLevel::Debug, message.into()).await;
    }

    /// Log at info level; see [`Context::log`].
    pub async fn info(&self, message: impl Into<String>) {
        self.log(LogLevel::Info, message.into()).await;
    }

    /// Log at warning level; see [`Context::log`].
    pub async fn warning(&self, message: impl Into<String>) {
        self.log(LogLevel::Warning, message.into()).await;
    }

    /// Log at error level; see [`Context::log`].
    pub async fn error(&self, message: impl Into<String>) {
        self.log(LogLevel::Error, message.into()).await;
    }
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("component", &self.component)
            .field("request_id", &self.id)
            .field("era", &self.era)
            .finish_non_exhaustive()
    }
}
