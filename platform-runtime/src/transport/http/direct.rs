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

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts};
use axum::response::Response;
use futures::FutureExt as _;
use rmcp::model::{
    CallToolRequest, ClientJsonRpcMessage, ClientRequest, ErrorCode, GetExtensions as _,
    GetMeta as _, JsonRpcMessage, JsonRpcRequest, ProtocolVersion, ServerJsonRpcMessage,
};
use rmcp::service::{Peer, RequestContext, RunningService};
use rmcp::{RoleServer, Service as _};
use tokio_util::sync::CancellationToken;

use crate::server::{McpHandler, Server};

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
        let id = request.id.clone();
        let mut context = RequestContext::new(id.clone(), self.peer());
        // The context's token is its own (a child of the shutdown token would make every
        // request contend on one lock); it is cancelled when the reply is ready or the
        // client goes away (this future dropped), as the SDK does.
        std::mem::swap(&mut context.meta, request.request.get_meta_mut());
        std::mem::swap(&mut context.extensions, request.request.extensions_mut());
        context.extensions.insert(parts);
        let _cancel_on_exit = context.ct.clone().drop_guard();
        // A panic that escapes the middleware (a server without the error-handling layer)
        // becomes an internal error for this request, not a dropped connection.
        let handled = AssertUnwindSafe(self.handler.handle_request(request.request, context))
            .catch_unwind()
            .map(|outcome| {
                outcome.unwrap_or_else(|payload| {
                    let reference = crate::middleware::new_reference();
                    tracing::error!(
                        reference,
                        panic = crate::middleware::errors_panic_message(payload.as_ref()),
                        "request handling panicked"
                    );
                    Err(rmcp::ErrorData::internal_error(
                        format!("internal error (reference {reference})"),
                        None,
                    ))
                })
            });
        // The handler first: one that finishes at once never registers for shutdown.
        let reply = tokio::select! {
            biased;
            reply = handled => reply,
            () = self.shutdown.cancelled() => {
                tracing::warn!("request abandoned: the server shut down before it finished");
                let mut response = Response::new(Body::from("Service Unavailable: shutting down"));
                *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
                return Ok(response);
            }
        };
        let message = match reply {
            Ok(result) => ServerJsonRpcMessage::response(result, id),
            Err(error) => ServerJsonRpcMessage::error(error, Some(id)),
        };
        Ok(json_response(&message))
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

/// The body as a JSON-RPC request, parsed as the SDK parses it; `None` for anything else.
///
/// The SDK's parser tries each message shape and then each request type in turn. A first,
/// allocation-free pass reads the method and checks the shape (a request carries no
/// `result` or `error`); `tools/call` is then parsed as exactly that request type, and other
/// methods as the SDK does.
pub(super) fn parse_request(body: &[u8]) -> Option<JsonRpcRequest<ClientRequest>> {
    if method(body)? == "tools/call" {
        let request: JsonRpcRequest<CallToolRequest> = serde_json::from_slice(body).ok()?;
        return Some(JsonRpcRequest {
            jsonrpc: request.jsonrpc,
            id: request.id,
            request: ClientRequest::CallToolRequest(request.request),
        });
    }
    match serde_json::from_slice::<ClientJsonRpcMessage>(body) {
        Ok(JsonRpcMessage::Request(request)) => Some(request),
        _ => None,
    }
}

/// The method of a body that is one JSON-RPC request (an object with a `method` and no
/// `result` or `error`), read in one allocation-free pass; `None` for anything else.
pub(super) fn method(body: &[u8]) -> Option<std::borrow::Cow<'_, str>> {
    #[derive(serde::Deserialize)]
    struct Shape<'a> {
        #[serde(borrow)]
        method: Option<std::borrow::Cow<'a, str>>,
        result: Option<serde::de::IgnoredAny>,
        error: Option<serde::de::IgnoredAny>,
    }
    let shape: Shape<'_> = serde_json::from_slice(body).ok()?;
    if shape.result.is_some() || shape.error.is_some() {
        return None;
    }
    shape.method
}

/// The method of a body that is one JSON-RPC request, and the component it names
/// (`params.name`, or `params.uri`), read in one pass; `None` for anything else.
pub(super) fn target(
    body: &[u8],
) -> Option<(std::borrow::Cow<'_, str>, std::borrow::Cow<'_, str>)> {
    #[derive(serde::Deserialize)]
    struct Params<'a> {
        #[serde(borrow)]
        name: Option<std::borrow::Cow<'a, str>>,
        #[serde(borrow)]
        uri: Option<std::borrow::Cow<'a, str>>,
    }
    #[derive(serde::Deserialize)]
    struct Shape<'a> {
        #[serde(borrow)]
        method: std::borrow::Cow<'a, str>,
        #[serde(borrow)]
        params: Option<Params<'a>>,
    }
    let shape: Shape<'_> = serde_json::from_slice(body).ok()?;
    let params = shape.params?;
    Some((shape.method, params.name.or(params.uri)?))
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

/// The reply as one JSON body, with the status the protocol gives its error codes.
fn json_response(message: &ServerJsonRpcMessage) -> Response {
    let status = match message {
        JsonRpcMessage::Error(error) => match error.error.code {
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
