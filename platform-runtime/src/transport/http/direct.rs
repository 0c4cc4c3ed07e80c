//! Direct dispatch: plain 2026-07-28 requests served without the SDK's per-request session.
//!
//! For a 2026-07-28 request the SDK's `StreamableHttpService` builds a whole service per
//! POST: a one-shot transport, a serve loop in a task of its own, the handler in another,
//! and a channel back to the HTTP response. That machinery exists for replies that stream
//! (progress, log messages), and it costs more than the rest of the request.
//!
//! A request that cannot stream — no progress token, no log level in its `_meta` — and
//! that passes every check the SDK would make is parsed once here, dispatched to the same
//! handler inline, and answered with one JSON body. Everything else (sessions, `initialize`,
//! `server/discover`, subscriptions, streaming requests, browser `Origin`s, `Mcp-Param-*`
//! bindings, anything malformed or doubtful) goes to the SDK unchanged, with the buffered
//! body. The checks below only ever *narrow* what is served here: a request the SDK would
//! refuse is never one this path accepts.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts};
use axum::response::Response;
use rmcp::RoleServer;
use rmcp::model::{
    ClientRequest, ErrorCode, GetMeta as _, JsonRpcMessage, JsonRpcRequest, ProtocolVersion,
    RequestId, ServerJsonRpcMessage,
};
use rmcp::service::{Peer, RequestContext, RunningService};
use tokio_util::sync::CancellationToken;

use super::sessions::Engine;
use crate::handler::ProgressRoute;
use crate::server::{McpHandler, Server};
use crate::transport::dispatch::context_for;
pub(super) use crate::transport::dispatch::{method, parse_request, target};

/// The only protocol version served directly.
const MODERN: &str = "2026-07-28";

/// Serves eligible requests inline. One per HTTP server.
pub(super) struct Direct {
    /// One handler for every direct request: its per-session state (legacy log level,
    /// legacy resource subscriptions) is never used on this path.
    handler: McpHandler,
    /// A peer handle for the request contexts, made on first use (it needs a runtime).
    peer: OnceLock<Peer<RoleServer>>,
    allowed_hosts: Vec<Authority>,
    shutdown: CancellationToken,
    served: Arc<AtomicU64>,
}

/// A `Host` (or allowed host) as compared: lower-case host without brackets, port if any.
#[derive(Debug, PartialEq, Eq)]
struct Authority {
    host: String,
    port: Option<u16>,
}

impl Authority {
    fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        let (host, port) = match axum::http::uri::Authority::try_from(text) {
            Ok(authority) => (authority.host().to_owned(), authority.port_u16()),
            Err(_) => (text.to_owned(), None),
        };
        Some(Self {
            host: host
                .trim_matches('[')
                .trim_matches(']')
                .to_ascii_lowercase(),
            port,
        })
    }
}

impl Direct {
    pub(super) fn new(
        server: &Server,
        allowed_hosts: &[String],
        shutdown: CancellationToken,
        served: Arc<AtomicU64>,
    ) -> Self {
        Self {
            handler: server.session_handler(),
            peer: OnceLock::new(),
            allowed_hosts: allowed_hosts
                .iter()
                .filter_map(|h| Authority::parse(h))
                .collect(),
            shutdown,
            served,
        }
    }

    /// Whether the request head allows direct dispatch: a POST of JSON to this endpoint,
    /// accepting JSON and SSE, naming 2026-07-28 once, with no session, no `Origin`, and
    /// an allowed `Host`.
    pub(super) fn head_eligible(&self, parts: &HeaderMap) -> bool {
        single(parts, "mcp-protocol-version").is_some_and(|v| v == MODERN)
            && !parts.contains_key("mcp-session-id")
            && !parts.contains_key(header::ORIGIN)
            && accepts_json_and_sse(parts)
            && super::is_json(parts)
            && self.host_allowed(parts)
    }

    fn host_allowed(&self, headers: &HeaderMap) -> bool {
        let Some(host) = single(headers, header::HOST.as_str()).and_then(Authority::parse) else {
            return false;
        };
        self.allowed_hosts.is_empty()
            || self.allowed_hosts.iter().any(|allowed| {
                allowed.host == host.host && allowed.port.is_none_or(|p| host.port == Some(p))
            })
    }

    /// Serve the request if it is eligible; otherwise hand its head and body back.
    pub(super) async fn serve(
        self: Arc<Self>,
        parts: Parts,
        body: Bytes,
    ) -> Result<Response, (Parts, Bytes)> {
        let Some(mut request) = self.eligible(&parts, &body) else {
            tracing::trace!("request handed to the SDK's service");
            return Err((parts, body));
        };
        self.served.fetch_add(1, Ordering::Relaxed);
        let context = context_for(&mut request, self.peer(), Some(parts));
        // The context's token is its own (a child of the shutdown token would make every
        // request contend on one lock); it is cancelled when the reply is ready or the
        // client goes away (this future dropped), as the SDK does.
        let _cancel_on_exit = context.ct.clone().drop_guard();
        Ok(self
            .answer(&self.handler, request, context, Era::Modern)
            .await)
    }

    /// Serve a request inside a legacy session if it is eligible: one answered through the
    /// session's handler and peer without the SDK's session worker — any request but a tool
    /// call, prompt or read in a session whose client may be asked for something mid-call
    /// (sampling, elicitation, roots). The reply is one JSON body; with a progress token it
    /// becomes an event stream at the handler's first progress notification. Otherwise hand
    /// the head and body back (a `notifications/cancelled` for a request served here
    /// cancels it on the way).
    pub(super) async fn serve_session(
        self: Arc<Self>,
        engine: Arc<Engine>,
        parts: Parts,
        body: Bytes,
    ) -> Result<Response, (Parts, Bytes)> {
        // A session asleep has no peer: the SDK wakes it, and serves this request.
        let peer = engine.peer();
        let request = (peer.is_some() && self.session_head_eligible(&parts.headers, &engine))
            .then(|| session_eligible(&self.handler, &engine, &body))
            .flatten()
            .filter(|request| routing_headers_match(&parts.headers, request));
        let (Some(mut request), Some(peer)) = (request, peer) else {
            // Only the session's owner cancels its requests.
            if let Some(id) = cancelled_request(&body)
                && engine
                    .handler
                    .serves(parts.extensions.get::<crate::identity::Principal>())
                && engine.cancel(&id)
            {
                tracing::debug!(request = %id, "a request served directly was cancelled by the client");
            }
            tracing::trace!("session request handed to the SDK's service");
            return Err((parts, body));
        };
        self.served.fetch_add(1, Ordering::Relaxed);
        let mut context = context_for(&mut request, peer, Some(parts));
        let cancel_on_exit = context.ct.clone().drop_guard();
        let in_flight = engine.begin(request.id.clone(), context.ct.clone());
        if context.meta.get_progress_token().is_none() {
            let _guards = (cancel_on_exit, in_flight);
            return Ok(self
                .answer(&engine.handler, request, context, Era::Legacy)
                .await);
        }
        // With a progress token, the reply is one JSON body unless the handler reports
        // progress before it finishes; then it becomes an event stream: the progress so far,
        // the rest as it comes, the response last.
        let (route, mut progress) = tokio::sync::mpsc::channel(PROGRESS_BUFFER);
        context.extensions.insert(ProgressRoute(route));
        let this = self.clone();
        let handler = engine.handler.clone();
        let mut handled = Box::pin(async move {
            let reply = this.reply(&handler, request, context, Era::Legacy).await;
            drop(in_flight);
            reply
        });
        let first = tokio::select! {
            biased;
            reply = &mut handled => {
                drop(cancel_on_exit);
                let Some(reply) = reply else {
                    return Ok(shutting_down());
                };
                // Progress reported on the way to a reply that came at once still goes out,
                // ahead of the reply.
                let mut events = Vec::new();
                while let Ok(more) = progress.try_recv() {
                    events.extend_from_slice(&progress_event(more));
                }
                if events.is_empty() {
                    return Ok(json_response(&reply, Era::Legacy));
                }
                events.extend_from_slice(&sse_event(&reply));
                return Ok(event_stream(Body::from(events)));
            }
            Some(first) = progress.recv() => first,
        };
        let (events, body) =
            tokio::sync::mpsc::channel::<Result<Bytes, std::convert::Infallible>>(PROGRESS_BUFFER);
        tokio::spawn(async move {
            // Dropped when the client goes away (its body with it): the request is cancelled.
            let _cancel_on_exit = cancel_on_exit;
            let mut next = Some(progress_event(first));
            loop {
                if let Some(event) = next.take()
                    && events.send(Ok(event)).await.is_err()
                {
                    return;
                }
                tokio::select! {
                    biased;
                    Some(more) = progress.recv() => next = Some(progress_event(more)),
                    reply = &mut handled => {
                        while let Ok(more) = progress.try_recv() {
                            if events.send(Ok(progress_event(more))).await.is_err() {
                                return;
                            }
                        }
                        if let Some(reply) = reply {
                            let _ = events.send(Ok(sse_event(&reply))).await;
                        }
                        return;
                    }
                }
            }
        });
        let stream = futures::stream::unfold(body, |mut body| async move {
            body.recv().await.map(|event| (event, body))
        });
        Ok(event_stream(Body::from_stream(stream)))
    }

    /// Whether a request head inside a session allows direct dispatch: JSON and SSE
    /// accepted, no `Origin`, an allowed `Host`, no protocol version but the session's, and
    /// of the SEP-2243 headers at most `Mcp-Method` and `Mcp-Name` (checked against the
    /// body by [`routing_headers_match`]; `Mcp-Param-*` bindings are left to the SDK).
    fn session_head_eligible(&self, headers: &HeaderMap, engine: &Engine) -> bool {
        let version_fits = match headers.get("mcp-protocol-version") {
            None => true,
            Some(_) => single(headers, "mcp-protocol-version")
                .is_some_and(|version| version == engine.version.as_str()),
        };
        version_fits
            && !headers.contains_key(header::ORIGIN)
            && accepts_json_and_sse(headers)
            && self.host_allowed(headers)
            && headers.keys().all(|name| {
                let name = name.as_str();
                !name.starts_with("mcp-")
                    || matches!(
                        name,
                        "mcp-session-id" | "mcp-protocol-version" | "mcp-method" | "mcp-name"
                    )
            })
    }

    /// Run `request` through `handler` and answer with one JSON body; 503 when the server
    /// shuts down first.
    async fn answer(
        &self,
        handler: &McpHandler,
        request: JsonRpcRequest<ClientRequest>,
        context: RequestContext<RoleServer>,
        era: Era,
    ) -> Response {
        match self.reply(handler, request, context, era).await {
            Some(reply) => json_response(&reply, era),
            None => shutting_down(),
        }
    }

    /// Run `request` through `handler`; its reply, or `None` when the server shut down
    /// before it finished. In a legacy session a handler whose client stops waiting runs on
    /// (for a while) to see the cancellation, as under the SDK; on 2026-07-28 it is dropped
    /// with the request, releasing what it holds at once.
    async fn reply(
        &self,
        handler: &McpHandler,
        request: JsonRpcRequest<ClientRequest>,
        context: RequestContext<RoleServer>,
        era: Era,
    ) -> Option<ServerJsonRpcMessage> {
        let handled = match era {
            Era::Legacy => futures::future::Either::Left(super::super::dispatch::handle_owned(
                handler.clone(),
                request,
                context,
            )),
            Era::Modern => futures::future::Either::Right(super::super::dispatch::handle(
                handler, request, context,
            )),
        };
        // The handler first: one that finishes at once never registers for shutdown.
        tokio::select! {
            biased;
            reply = handled => Some(reply),
            () = self.shutdown.cancelled() => {
                tracing::warn!("request abandoned: the server shut down before it finished");
                None
            }
        }
    }

    /// The parsed request, when it is one this path serves exactly as the SDK would.
    fn eligible(&self, parts: &Parts, body: &[u8]) -> Option<JsonRpcRequest<ClientRequest>> {
        let request = parse_request(body)?;
        // Requests whose replies cannot stream, and that need no session.
        let name = match &request.request {
            ClientRequest::CallToolRequest(call) => {
                if self.handler.tool_binds_headers(&call.params.name) {
                    return None;
                }
                Some(call.params.name.as_ref())
            }
            ClientRequest::GetPromptRequest(get) => Some(get.params.name.as_str()),
            ClientRequest::ReadResourceRequest(read) => Some(read.params.uri.as_str()),
            ClientRequest::ListToolsRequest(_)
            | ClientRequest::ListPromptsRequest(_)
            | ClientRequest::ListResourcesRequest(_)
            | ClientRequest::ListResourceTemplatesRequest(_)
            | ClientRequest::CompleteRequest(_)
            | ClientRequest::PingRequest(_) => None,
            _ => return None,
        };
        let meta = request.request.get_meta();
        if meta.protocol_version() != Some(ProtocolVersion::V_2026_07_28)
            || !meta
                .missing_required_keys(&ProtocolVersion::V_2026_07_28)
                .is_empty()
            || meta.get_progress_token().is_some()
            || meta.log_level().is_some()
        {
            return None;
        }
        // SEP-2243: the routing headers must match the body exactly (encoded values, and
        // any mismatch, are left to the SDK to decode or refuse).
        let headers = &parts.headers;
        if single(headers, "mcp-method") != Some(request.request.method()) {
            return None;
        }
        if let Some(name) = name {
            match single(headers, "mcp-name") {
                Some(value) if value == name && !value.starts_with("=?") => {}
                _ => return None,
            }
        }
        Some(request)
    }

    fn peer(&self) -> Peer<RoleServer> {
        self.peer
            .get_or_init(|| {
                // A peer for request contexts only. Direct requests never send anything to
                // the client (no progress token, no log level; server-to-client requests are
                // refused on 2026-07-28), and their protocol version, client capabilities
                // and client info come from each request's `_meta`, which `RequestContext`
                // reads first. The transport is closed at once, so anything sent by mistake
                // fails instead of going anywhere.
                let (transport, _closed) = tokio::io::duplex(64);
                let running: RunningService<RoleServer, McpHandler> =
                    rmcp::service::serve_directly(self.handler.clone(), transport, None);
                let peer = running.peer().clone();
                running.cancellation_token().cancel();
                peer
            })
            .clone()
    }
}

/// Which era's rules give a direct reply its HTTP status.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Era {
    /// 2026-07-28: protocol errors carry their HTTP status.
    Modern,
    /// A legacy session: every reply is 200, as on the SDK's stream.
    Legacy,
}

/// The parsed request, when it is one a legacy session serves directly exactly as the SDK
/// would: a request whose reply cannot stream, naming no protocol version or log level of
/// its own (the SDK checks those against the headers).
fn session_eligible(
    handler: &McpHandler,
    engine: &Engine,
    body: &[u8],
) -> Option<JsonRpcRequest<ClientRequest>> {
    let request = parse_request(body)?;
    match &request.request {
        ClientRequest::CallToolRequest(call) => {
            if engine.answers_requests || handler.tool_binds_headers(&call.params.name) {
                return None;
            }
        }
        ClientRequest::GetPromptRequest(_) | ClientRequest::ReadResourceRequest(_) => {
            if engine.answers_requests {
                return None;
            }
        }
        ClientRequest::ListToolsRequest(_)
        | ClientRequest::ListPromptsRequest(_)
        | ClientRequest::ListResourcesRequest(_)
        | ClientRequest::ListResourceTemplatesRequest(_)
        | ClientRequest::CompleteRequest(_)
        | ClientRequest::PingRequest(_) => {}
        _ => return None,
    }
    let meta = request.request.get_meta();
    if meta.protocol_version().is_some() || meta.log_level().is_some() {
        return None;
    }
    Some(request)
}

/// Whether the SEP-2243 routing headers a session request carries, if any, match its body
/// exactly: `Mcp-Method` its method, `Mcp-Name` its tool or prompt name or URI (encoded
/// values, repeats and any mismatch are left to the SDK to decode or refuse).
fn routing_headers_match(headers: &HeaderMap, request: &JsonRpcRequest<ClientRequest>) -> bool {
    let method_fits = !headers.contains_key("mcp-method")
        || single(headers, "mcp-method") == Some(request.request.method());
    let name = match &request.request {
        ClientRequest::CallToolRequest(call) => Some(call.params.name.as_ref()),
        ClientRequest::GetPromptRequest(get) => Some(get.params.name.as_str()),
        ClientRequest::ReadResourceRequest(read) => Some(read.params.uri.as_str()),
        ClientRequest::GetTaskRequest(get) => Some(get.params.task_id.as_str()),
        ClientRequest::UpdateTaskRequest(update) => Some(update.params.task_id.as_str()),
        ClientRequest::CancelTaskRequest(cancel) => Some(cancel.params.task_id.as_str()),
        _ => None,
    };
    let name_fits = !headers.contains_key("mcp-name")
        || match (single(headers, "mcp-name"), name) {
            (Some(value), Some(name)) => value == name && !value.starts_with("=?"),
            _ => false,
        };
    method_fits && name_fits
}

/// The request a `notifications/cancelled` body cancels; `None` for any other body.
fn cancelled_request(body: &[u8]) -> Option<RequestId> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Params {
        request_id: RequestId,
    }
    #[derive(serde::Deserialize)]
    struct Cancelled {
        params: Params,
    }
    if method(body)? != "notifications/cancelled" {
        return None;
    }
    serde_json::from_slice::<Cancelled>(body)
        .ok()
        .map(|cancelled| cancelled.params.request_id)
}

/// The single value of header `name`, as text; `None` when absent, repeated or not text.
fn single<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let mut values = headers.get_all(name).iter();
    let first = values.next()?;
    if values.next().is_some() {
        return None;
    }
    first.to_str().ok()
}

/// Whether `Accept` lists both `application/json` and `text/event-stream`.
fn accepts_json_and_sse(headers: &HeaderMap) -> bool {
    let (mut json, mut sse) = (false, false);
    for value in headers.get_all(header::ACCEPT) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let essence = item.split(';').next().unwrap_or_default().trim();
            json |= essence.eq_ignore_ascii_case("application/json");
            sse |= essence.eq_ignore_ascii_case("text/event-stream");
        }
    }
    json && sse
}

/// Progress notifications a streaming direct reply holds before they are written.
const PROGRESS_BUFFER: usize = 32;

/// 503 for a request the server shut down under.
fn shutting_down() -> Response {
    let mut response = Response::new(Body::from("Service Unavailable: shutting down"));
    *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    response
}

/// `body` as an event stream.
fn event_stream(body: Body) -> Response {
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// A message as one server-sent event.
fn sse_event(message: &ServerJsonRpcMessage) -> Bytes {
    let json = serde_json::to_string(message).unwrap_or_else(|error| {
        tracing::error!(%error, "a reply could not be serialized");
        r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32603,"message":"reply could not be serialized"}}"#.to_owned()
    });
    Bytes::from(format!("event: message\ndata: {json}\n\n"))
}

/// A progress notification as one server-sent event.
fn progress_event(param: rmcp::model::ProgressNotificationParam) -> Bytes {
    let notification =
        ServerJsonRpcMessage::notification(rmcp::model::ServerNotification::ProgressNotification(
            rmcp::model::Notification::new(param),
        ));
    sse_event(&notification)
}

/// The reply as one JSON body: on 2026-07-28 with the status the protocol gives its error
/// codes, in a legacy session with 200.
fn json_response(message: &ServerJsonRpcMessage, era: Era) -> Response {
    let status = match message {
        JsonRpcMessage::Error(error) if era == Era::Modern => match error.error.code {
            ErrorCode::UNSUPPORTED_PROTOCOL_VERSION
            | ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY
            | ErrorCode::HEADER_MISMATCH => StatusCode::BAD_REQUEST,
            ErrorCode::METHOD_NOT_FOUND => StatusCode::NOT_FOUND,
            _ => StatusCode::OK,
        },
        _ => StatusCode::OK,
    };
    match serde_json::to_vec(message) {
        Ok(body) => {
            let mut response = Response::new(Body::from(body));
            *response.status_mut() = status;
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        Err(error) => {
            tracing::error!(%error, "a reply could not be serialized");
            let mut response = Response::new(Body::from("reply could not be serialized"));
            *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            response
        }
    }
}
