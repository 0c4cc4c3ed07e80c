//! Streamable HTTP: both protocol eras on one endpoint (`/mcp` by default) through the SDK's
//! `StreamableHttpService`, served by axum with the protections a network server needs.
//!
//! - `Origin` is validated (403 for one not allowed; requests without `Origin` pass), and the
//!   `Host` allow-list defaults to loopback (DNS-rebinding protection).
//! - The server binds 127.0.0.1 by default; bodies over the limit get 413.
//! - JSON responses where the protocol allows; SSE when a request streams notifications.
//! - Legacy sessions are reaped after an idle period.
//! - `TCP_NODELAY` on every accepted socket (without it, keep-alive clients stall ~44 ms on
//!   every streamed response: Nagle against delayed ACKs).
//! - `/healthz` (alive) and `/readyz` (accepting work; 503 while draining).
//! - A body that is not JSON gets 400 with a JSON-RPC parse error (-32700), and JSON that is
//!   not a JSON-RPC message 400 with an invalid-request error (-32600), each with a log line;
//!   a session `DELETE` answers 200.
//! - Every request carries an `x-request-id`: the client's if it sent a usable one (1–128
//!   visible ASCII characters), a generated one otherwise; it is echoed on the response and
//!   readable by middleware ([`crate::middleware::McpRequest::http_request_id`]), and the
//!   logging middleware records it.
//! - Graceful shutdown: stop accepting, let in-flight requests finish within a grace period.
//! - Plain 2026-07-28 requests (ones that cannot stream a reply) are served directly, without
//!   the SDK's per-request session machinery; see [`HttpConfig::direct_dispatch`].

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use axum::routing::get;
use axum::serve::ListenerExt as _;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

use crate::server::{McpHandler, ServeError, Server};

mod direct;

/// How the HTTP transport is set up.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Where to listen (default `127.0.0.1:8000`).
    pub bind: SocketAddr,
    /// The MCP endpoint's path (default `/mcp`).
    pub path: String,
    /// Hosts (`name` or `name:port`) accepted in the `Host` header (default: loopback).
    pub allowed_hosts: Vec<String>,
    /// Browser origins accepted in the `Origin` header, with scheme (`https://app.example.com`,
    /// `http://localhost:*`). Default: loopback origins on any port.
    pub allowed_origins: Vec<String>,
    /// The largest request body (default 4 MiB); larger ones get 413.
    pub max_body_bytes: usize,
    /// Answer with plain JSON where the protocol allows (default: yes).
    pub json_response: bool,
    /// Close legacy sessions idle for this long (default 5 minutes).
    pub session_idle_timeout: Duration,
    /// How long in-flight requests may run after a shutdown signal (default 10 s).
    pub shutdown_grace: Duration,
    /// Serve plain 2026-07-28 requests directly (default: yes): a request that cannot
    /// stream its reply (no progress token, no log level), needs no session and passes
    /// every header check is dispatched inline and answered with one JSON body, instead
    /// of through the SDK's per-request serve loop, task and channel. Replies are the
    /// same either way; turn it off to route every request through the SDK.
    pub direct_dispatch: bool,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8000)),
            path: "/mcp".into(),
            allowed_hosts: vec![
                "localhost".into(),
                "127.0.0.1".into(),
                "::1".into(),
                "[::1]".into(),
            ],
            allowed_origins: vec![
                "http://localhost:*".into(),
                "http://127.0.0.1:*".into(),
                "http://[::1]:*".into(),
                "https://localhost:*".into(),
                "https://127.0.0.1:*".into(),
            ],
            max_body_bytes: 4 << 20,
            json_response: true,
            session_idle_timeout: Duration::from_secs(300),
            shutdown_grace: Duration::from_secs(10),
            direct_dispatch: true,
        }
    }
}

/// The axum router serving `server` over streamable HTTP, with health endpoints. `shutdown`
/// closes streams and sessions when cancelled; `draining` turns `/readyz` to 503.
pub fn router(
    server: &Server,
    config: &HttpConfig,
    shutdown: CancellationToken,
    draining: Arc<AtomicBool>,
) -> Router {
    build(server, config, shutdown, draining).0
}

/// The router, and the count of requests it served directly.
fn build(
    server: &Server,
    config: &HttpConfig,
    shutdown: CancellationToken,
    draining: Arc<AtomicBool>,
) -> (Router, Arc<AtomicU64>) {
    let mut sessions = LocalSessionManager::default();
    sessions.session_config.keep_alive = Some(config.session_idle_timeout);
    let mcp_config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(config.allowed_hosts.clone())
        .with_allowed_origins(config.allowed_origins.clone())
        .enforce_origin_validation()
        .with_json_response(config.json_response)
        .with_max_request_body_bytes(config.max_body_bytes)
        .with_cancellation_token(shutdown.clone());
    let served_directly = Arc::new(AtomicU64::new(0));
    let direct = config.direct_dispatch.then(|| {
        Arc::new(direct::Direct::new(
            server,
            &config.allowed_hosts,
            shutdown,
            served_directly.clone(),
        ))
    });
    let factory_server = server.clone();
    let service = StreamableHttpService::new(
        move || Ok(factory_server.session_handler()),
        Arc::new(sessions),
        mcp_config,
    );
    let front = Front {
        inner: Arc::new(service),
        limit: config.max_body_bytes,
        direct,
    };
    let router = Router::new()
        .route_service(&config.path, front)
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(move || {
                let draining = draining.clone();
                async move {
                    if draining.load(Ordering::Relaxed) {
                        (StatusCode::SERVICE_UNAVAILABLE, "draining")
                    } else {
                        (StatusCode::OK, "ready")
                    }
                }
            }),
        );
    (router, served_directly)
}

/// A JSON-RPC error body with a null id, for requests that never became a message.
fn jsonrpc_error(status: StatusCode, code: i32, message: String) -> Response {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": { "code": code, "message": message },
    });
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// In front of the SDK's service: assigns request ids, serves eligible requests directly
/// ([`direct`]), and fixes the statuses the SDK gets wrong for a network server: it answers
/// a malformed JSON body with 415 (`fail to deserialize request body: …`), and a session
/// `DELETE` with 202 (clients expect 200 or 204). Only those replies are touched; a
/// request that is not a direct candidate passes through without being buffered or copied.
#[derive(Clone)]
struct Front {
    /// Shared rather than cloned per request: the SDK's `call` clones the whole service,
    /// configuration included, every time.
    inner: Arc<SdkService>,
    limit: usize,
    direct: Option<Arc<direct::Direct>>,
}

/// The SDK's service for this server.
type SdkService = StreamableHttpService<McpHandler, LocalSessionManager>;

impl tower::Service<Request<Body>> for Front {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: Request<Body>) -> Self::Future {
        let request_id = match request.headers().get(REQUEST_ID) {
            Some(id) if usable_request_id(id.as_bytes()) => id.clone(),
            _ => {
                let id = next_request_id();
                request.headers_mut().insert(REQUEST_ID, id.clone());
                id
            }
        };
        let delete = request.method() == Method::DELETE;
        let post_json = request.method() == Method::POST
            && request
                .headers()
                .get(header::CONTENT_TYPE)
                .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
        let limit = self.limit;
        if let Some(direct) = self
            .direct
            .as_ref()
            .filter(|d| post_json && d.head_eligible(request.headers()))
        {
            let direct = direct.clone();
            let inner = self.inner.clone();
            return Box::pin(async move {
                let (parts, body) = request.into_parts();
                let body = match read_body(body, limit).await {
                    Ok(body) => body,
                    Err(response) => return Ok(with_request_id(response, request_id)),
                };
                let response = match direct.serve(parts, body).await {
                    Ok(response) => response,
                    Err((parts, body)) => {
                        let request = Request::from_parts(parts, Body::from(body));
                        let response = inner.handle(request).await.map(Body::new);
                        fix(response, delete, post_json, limit).await
                    }
                };
                Ok(with_request_id(response, request_id))
            });
        }
        let inner = self.inner.clone();
        Box::pin(async move {
            let response = inner.handle(request).await.map(Body::new);
            let response = fix(response, delete, post_json, limit).await;
            Ok(with_request_id(response, request_id))
        })
    }
}

/// The SDK's reply with its wrong statuses fixed.
async fn fix(mut response: Response, delete: bool, post_json: bool, limit: usize) -> Response {
    match response.status() {
        StatusCode::ACCEPTED if delete => {
            *response.status_mut() = StatusCode::OK;
            response
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE if post_json => {
            malformed_body(response.into_body(), limit).await
        }
        _ => response,
    }
}

fn with_request_id(mut response: Response, id: header::HeaderValue) -> Response {
    response.headers_mut().insert(REQUEST_ID, id);
    response
}

/// The whole body, or the SDK's 413 reply when it is over the limit.
async fn read_body(body: Body, limit: usize) -> Result<axum::body::Bytes, Response> {
    use http_body_util::BodyExt as _;
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => {
            tracing::warn!(limit, "request body over the limit");
            Err((
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("Payload Too Large: request body exceeds {limit} bytes"),
            )
                .into_response())
        }
        Err(error) => {
            tracing::warn!(%error, "request body could not be read");
            Err((
                StatusCode::BAD_REQUEST,
                format!("Bad Request: the body could not be read ({error})"),
            )
                .into_response())
        }
    }
}

/// The request id header.
const REQUEST_ID: header::HeaderName = header::HeaderName::from_static("x-request-id");

/// Whether a client-sent request id is worth keeping: 1–128 visible ASCII characters.
fn usable_request_id(id: &[u8]) -> bool {
    (1..=128).contains(&id.len()) && id.iter().all(|b| b.is_ascii_graphic())
}

/// A new request id: a random per-process prefix and a counter (unique within the process,
/// unpredictable across processes, and cheap: no randomness per request).
fn next_request_id() -> header::HeaderValue {
    static PREFIX: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| {
        let mut bytes = [0u8; 4];
        let _ = getrandom::fill(&mut bytes);
        u32::from_le_bytes(bytes) ^ std::process::id()
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let id = format!("{prefix:08x}-{n:x}");
    header::HeaderValue::from_str(&id).unwrap_or(header::HeaderValue::from_static("unknown"))
}

/// The JSON-RPC error for a POST whose JSON body the SDK could not take, with a log line.
async fn malformed_body(body: Body, limit: usize) -> Response {
    let body = axum::body::to_bytes(body, limit.min(64 << 10))
        .await
        .unwrap_or_default();
    let detail = String::from_utf8_lossy(&body);
    let detail = detail
        .strip_prefix("fail to deserialize request body")
        .unwrap_or(&detail)
        .trim_start_matches([':', ' ']);
    if is_data_error(detail) {
        tracing::warn!(error = %detail, "request body is JSON but not a JSON-RPC message");
        jsonrpc_error(
            StatusCode::BAD_REQUEST,
            -32600,
            format!("invalid request: the body is not a JSON-RPC message ({detail})"),
        )
    } else {
        tracing::warn!(error = %detail, "request body is not JSON");
        jsonrpc_error(
            StatusCode::BAD_REQUEST,
            -32700,
            format!("parse error: {detail}"),
        )
    }
}

/// Whether a serde_json error message describes well-formed JSON of the wrong shape (as
/// opposed to a syntax error): serde's data errors have these fixed openings, and the SDK
/// reports a JSON value that is no JSON-RPC message as "unrecognized JSON-RPC message".
fn is_data_error(message: &str) -> bool {
    [
        "invalid type",
        "invalid value",
        "invalid length",
        "missing field",
        "unknown field",
        "unknown variant",
        "duplicate field",
        "data did not match",
        "unrecognized JSON-RPC message",
    ]
    .iter()
    .any(|opening| message.contains(opening))
}

/// A running HTTP server: its address, and a handle to stop it.
pub struct HttpServer {
    addr: SocketAddr,
    served_directly: Arc<AtomicU64>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), ServeError>>,
}

impl HttpServer {
    /// The address it listens on (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many requests were served by direct dispatch so far (see
    /// [`HttpConfig::direct_dispatch`]); the others went through the SDK's service.
    pub fn served_directly(&self) -> u64 {
        self.served_directly.load(Ordering::Relaxed)
    }

    /// Stop accepting, let in-flight requests finish within the grace period, and wait.
    pub async fn shutdown(self) -> Result<(), ServeError> {
        self.stop.cancel();
        self.task
            .await
            .map_err(|e| ServeError::Transport(e.to_string()))?
    }

    /// Wait until the server stops (after [`HttpServer::shutdown`] or a signal handled by
    /// the caller).
    pub async fn wait(self) -> Result<(), ServeError> {
        self.task
            .await
            .map_err(|e| ServeError::Transport(e.to_string()))?
    }
}

/// Bind and start serving in the background.
pub async fn start(server: Server, config: HttpConfig) -> Result<HttpServer, ServeError> {
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .map_err(|e| ServeError::Transport(format!("cannot listen on {}: {e}", config.bind)))?;
    let addr = listener.local_addr()?;
    let stop = CancellationToken::new();
    let sessions_shutdown = CancellationToken::new();
    let draining = Arc::new(AtomicBool::new(false));
    let (app, served_directly) = build(
        &server,
        &config,
        sessions_shutdown.clone(),
        draining.clone(),
    );
    let listener = listener.tap_io(|tcp| {
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "TCP_NODELAY not set on an accepted socket");
        }
    });
    tracing::info!(%addr, path = config.path, "serving MCP over HTTP");
    let signal = stop.clone();
    let grace = config.shutdown_grace;
    let counted = served_directly.clone();
    let task = tokio::spawn(async move {
        let drained = {
            let draining = draining.clone();
            let signal = signal.clone();
            async move {
                signal.cancelled().await;
                draining.store(true, Ordering::Relaxed);
                tracing::info!(?grace, "draining in-flight requests");
            }
        };
        let serving = axum::serve(listener, app).with_graceful_shutdown(drained);
        let outcome = tokio::select! {
            outcome = serving => outcome.map_err(ServeError::Io),
            () = async { signal.cancelled().await; tokio::time::sleep(grace).await } => {
                tracing::warn!(?grace, "grace period over; closing the remaining connections");
                Ok(())
            }
        };
        sessions_shutdown.cancel();
        tracing::info!(
            served_directly = counted.load(Ordering::Relaxed),
            "HTTP server stopped"
        );
        outcome
    });
    Ok(HttpServer {
        addr,
        served_directly,
        stop,
        task,
    })
}
