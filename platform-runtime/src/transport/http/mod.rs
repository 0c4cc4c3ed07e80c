//! Streamable HTTP: both protocol eras on one endpoint (`/mcp` by default) through the SDK's
//! `StreamableHttpService`, routed by axum and served by our own HTTP/1.1 connection layer
//! over hyper, with the protections a network server needs.
//!
//! - Every connection is bounded in time: the request head, the body and idle keep-alive
//!   each have a timeout, and at most [`HttpConfig::max_connections`] are served at once
//!   (beyond that, probes still answer).
//! - Legacy sessions are capped in total and per client address (503 / 429 with
//!   `Retry-After` beyond), and reaped when idle.
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
//! - Graceful shutdown: `/readyz` turns 503, the listener stays open for the drain delay (so a
//!   load balancer notices), then stops accepting and lets in-flight requests finish within
//!   a grace period.
//! - Plain 2026-07-28 requests (ones that cannot stream a reply) and legacy session requests
//!   that need no stream are served directly, without the SDK's per-request session or
//!   session worker; see [`HttpConfig::direct_dispatch`].

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
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

use crate::config::TransportSection;
use crate::server::{McpHandler, ServeError, Server};

pub use conn::{BodyTimeout, ClientAddress, OVERFLOW_CONNECTIONS};

mod conn;
mod direct;
mod sessions;

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
    /// Put legacy sessions unused for this long, with no stream open, to sleep (default
    /// 30 s; zero: never): the SDK's worker, channels and caches for the session are
    /// freed, and the platform keeps a record of about a kilobyte, from which the next
    /// request wakes the session transparently. See the HTTP guide's "Sessions at rest".
    pub session_sleep_after: Duration,
    /// At most this many legacy sessions live at once (default 1024); an `initialize` beyond
    /// it gets **503** with `Retry-After`.
    pub max_sessions: usize,
    /// At most this many live legacy sessions per client address (default 128); beyond it
    /// **429** with `Retry-After`. Behind a reverse proxy every client has the proxy's
    /// address: raise it to `max_sessions` there.
    pub max_sessions_per_client: usize,
    /// How long a client may take to send a request head (default 10 s): from the
    /// connection's opening for the first request, from the first byte for later ones.
    pub header_read_timeout: Duration,
    /// Close a keep-alive connection with no request in progress and no traffic for this
    /// long (default 60 s).
    pub idle_timeout: Duration,
    /// How long a client may take to send a request body, from its head (default 30 s);
    /// **408** after that.
    pub body_read_timeout: Duration,
    /// At most this many connections served at once (default 1024). At the cap a new
    /// connection closes the longest-silent one and takes its place; when every connection
    /// is busy, a few more are answered in probe-only mode (`/healthz`, `/readyz`; 503 for
    /// the rest) and the others closed at once.
    pub max_connections: usize,
    /// How long in-flight requests may run after a shutdown signal (default 10 s).
    pub shutdown_grace: Duration,
    /// On shutdown, how long `/readyz` answers 503 while the server still accepts, before
    /// the listener closes (default 5 s), so load balancers stop sending first. `serve()`
    /// skips it on ctrl-c.
    pub drain_delay: Duration,
    /// Serve plain requests directly (default: yes): a 2026-07-28 request that cannot
    /// stream its reply (no progress token, no log level) and passes every header check,
    /// and a request inside a legacy session that needs no stream from the SDK, is
    /// dispatched inline and answered with one JSON body (a legacy request with a progress
    /// token turns into an event stream at its first progress), instead of through the
    /// SDK's per-request serve loop or session worker, tasks and channels. Replies are the
    /// same either way; turn it off to route every request through the SDK. See the HTTP
    /// guide's "Direct dispatch".
    pub direct_dispatch: bool,
    /// Authenticate every request to the MCP endpoint (default: none, so anyone who can
    /// reach the server may call it). With it, a request without valid credentials gets
    /// 401 and a `WWW-Authenticate` challenge, the verified [`crate::identity::Principal`]
    /// reaches middleware and handlers, and the Protected Resource Metadata is served. See
    /// [`crate::auth`].
    pub auth: Option<crate::auth::Authenticator>,
}

impl Default for HttpConfig {
    /// The defaults of `[transport]` ([`TransportSection::default`]).
    fn default() -> Self {
        Self::from(&TransportSection::default())
    }
}

impl From<&TransportSection> for HttpConfig {
    /// The HTTP settings a `[transport]` section describes; its `allowed_hosts` and
    /// `allowed_origins` are accepted besides loopback.
    fn from(section: &TransportSection) -> Self {
        let mut allowed_hosts: Vec<String> = ["localhost", "127.0.0.1", "::1", "[::1]"]
            .map(String::from)
            .into();
        allowed_hosts.extend(section.allowed_hosts.iter().cloned());
        let mut allowed_origins: Vec<String> = [
            "http://localhost:*",
            "http://127.0.0.1:*",
            "http://[::1]:*",
            "https://localhost:*",
            "https://127.0.0.1:*",
        ]
        .map(String::from)
        .into();
        allowed_origins.extend(section.allowed_origins.iter().cloned());
        Self {
            bind: section.bind,
            path: section.path.clone(),
            allowed_hosts,
            allowed_origins,
            max_body_bytes: section.max_body_bytes,
            json_response: true,
            session_idle_timeout: section.session_idle_timeout.0,
            session_sleep_after: section.session_sleep_after.0,
            max_sessions: section.max_sessions,
            max_sessions_per_client: section.max_sessions_per_client,
            header_read_timeout: section.header_read_timeout.0,
            idle_timeout: section.idle_timeout.0,
            body_read_timeout: section.body_read_timeout.0,
            max_connections: section.max_connections,
            shutdown_grace: section.shutdown_grace.0,
            drain_delay: section.drain_delay.0,
            direct_dispatch: section.direct_dispatch,
            auth: None,
        }
    }
}

impl HttpConfig {
    /// Check what would otherwise fail late or panic: the endpoint path and the bounds.
    pub fn validate(&self) -> Result<(), String> {
        let path = &self.path;
        if !path.starts_with('/') {
            return Err(format!(
                "the MCP endpoint path `{path}` must start with `/` (for example `/mcp`)"
            ));
        }
        if path.len() > 1 && path.ends_with('/') {
            return Err(format!(
                "the MCP endpoint path `{path}` must not end with `/`"
            ));
        }
        if let Some(bad) = path.chars().find(|c| {
            matches!(c, '{' | '}' | '*' | '?' | '#' | '%') || c.is_whitespace() || c.is_control()
        }) {
            return Err(format!(
                "the MCP endpoint path `{path}` must not contain `{}`",
                bad.escape_default()
            ));
        }
        if path == "/" || PROBES.contains(&path.as_str()) || path.starts_with("/.well-known/") {
            return Err(format!(
                "the MCP endpoint path `{path}` is taken: `/healthz` and `/readyz` are the probes and `/.well-known/` holds metadata; use another, such as `/mcp`"
            ));
        }
        let positive = [
            ("max_connections", self.max_connections),
            ("max_sessions", self.max_sessions),
            ("max_sessions_per_client", self.max_sessions_per_client),
            ("max_body_bytes", self.max_body_bytes),
        ];
        if let Some((name, _)) = positive.iter().find(|(_, value)| *value == 0) {
            return Err(format!("`transport.{name}` must be at least 1"));
        }
        let timeouts = [
            ("header_read_timeout", self.header_read_timeout),
            ("idle_timeout", self.idle_timeout),
            ("body_read_timeout", self.body_read_timeout),
        ];
        if let Some((name, _)) = timeouts.iter().find(|(_, value)| value.is_zero()) {
            return Err(format!("`transport.{name}` must be longer than 0s"));
        }
        Ok(())
    }
}

/// The front's view of a POST body: its method from the one-pass read, and the request
/// direct dispatch would parse from it; they must agree.
#[cfg(feature = "fuzzing")]
pub(crate) fn fuzz_classify(body: &[u8]) {
    let method = direct::method(body);
    if let Some(request) = direct::parse_request(body) {
        assert_eq!(
            method.as_deref(),
            Some(request.request.method()),
            "the one-pass method and the full parse disagree"
        );
    }
}

/// The probe paths, which the MCP endpoint may not take.
const PROBES: &[&str] = &["/healthz", "/readyz"];

/// How long a refused `initialize` is told to wait.
const SESSION_RETRY_AFTER_SECS: u64 = 10;

/// The axum router serving `server` over streamable HTTP, with health endpoints. `shutdown`
/// closes streams and sessions when cancelled; `draining` turns `/readyz` to 503.
///
/// It holds the MCP endpoint's protections that live in the request path (origin, host,
/// body size, session caps), not the connection layer's timeouts and cap, which
/// [`start`] adds.
pub fn router(
    server: &Server,
    config: &HttpConfig,
    shutdown: CancellationToken,
    draining: Arc<AtomicBool>,
) -> Router {
    build(server, config, shutdown, draining).router
}

/// What [`build`] makes.
struct Built {
    router: Router,
    probes: Router,
    served_directly: Arc<AtomicU64>,
    sessions: Arc<sessions::SessionTable>,
}

/// The probe routes, shared by the full router and the probe-only one.
fn probe_routes(draining: Arc<AtomicBool>) -> Router {
    Router::new()
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
        )
}

fn build(
    server: &Server,
    config: &HttpConfig,
    shutdown: CancellationToken,
    draining: Arc<AtomicBool>,
) -> Built {
    let mut local = LocalSessionManager::default();
    // The table reaps idle sessions: requests served directly never reach the SDK's worker,
    // whose own timer would close a session in use.
    local.session_config.keep_alive = None;
    // Completed request streams are kept only briefly for late resumption: a session's
    // memory does not grow with how many requests it made in the last minute.
    local.session_config.completed_cache_ttl = COMPLETED_CACHE_TTL;
    let table = sessions::SessionTable::new(
        config.max_sessions,
        config.max_sessions_per_client,
        server
            .shared_sessions()
            .map(|store| (store, config.session_idle_timeout)),
    );
    let sessions = sessions::Counted::new(
        local,
        table.clone(),
        config.session_idle_timeout,
        config.session_sleep_after,
        shutdown.clone(),
    );
    let mut mcp_config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(config.allowed_hosts.clone())
        .with_allowed_origins(config.allowed_origins.clone())
        .enforce_origin_validation()
        .with_json_response(config.json_response)
        .with_max_request_body_bytes(config.max_body_bytes)
        .with_cancellation_token(shutdown.clone());
    // A session put to sleep is woken from the table's record of it.
    mcp_config.session_store = Some(Arc::new(sessions::Record(table.clone())));
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
        // A new session's handler, or the session's own when a request wakes it.
        move || Ok(sessions::waking_handler().unwrap_or_else(|| factory_server.session_handler())),
        sessions,
        mcp_config,
    );
    let front = Front {
        server: server.clone(),
        inner: Arc::new(service),
        limit: config.max_body_bytes,
        direct,
        sessions: table.clone(),
        auth: config.auth.clone(),
    };
    let mut router = probe_routes(draining.clone()).route_service(&config.path, front);
    if let Some(document) = config.auth.as_ref().and_then(|a| a.metadata()) {
        router = metadata_routes(router, &config.path, document);
    }
    let probes = probe_routes(draining).fallback(|| async {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "1"), (header::CONNECTION, "close")],
            "Service Unavailable: the server is at its connection limit; retry shortly",
        )
    });
    Built {
        router,
        probes,
        served_directly,
        sessions: table,
    }
}

/// The Protected Resource Metadata (RFC 9728) at the path-specific well-known URL and at the
/// root one, readable from any origin (it is public, and browser clients fetch it).
fn metadata_routes(router: Router, path: &str, document: serde_json::Value) -> Router {
    let body = document.to_string();
    let serve = move || {
        let body = body.clone();
        async move {
            (
                [
                    (header::CONTENT_TYPE, "application/json"),
                    (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
                    (header::CACHE_CONTROL, "public, max-age=3600"),
                ],
                body,
            )
        }
    };
    let specific = format!("{}{path}", crate::auth::METADATA_PATH);
    router
        .route(&specific, get(serve.clone()))
        .route(crate::auth::METADATA_PATH, get(serve))
}

/// How long the SDK keeps a completed request's stream for resumption (its default: 60 s).
const COMPLETED_CACHE_TTL: Duration = Duration::from_secs(10);

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

/// The client's address, from a request's extensions (`0.0.0.0` when the transport did not
/// record one).
fn client_ip(extensions: &axum::http::Extensions) -> std::net::IpAddr {
    extensions
        .get::<ClientAddress>()
        .map_or(std::net::IpAddr::from([0, 0, 0, 0]), |a| a.0.ip())
}

/// The answer to a request of a session another replica ended (its shared record is gone):
/// 404, as for any unknown session, so the client starts a new one.
fn session_ended() -> Response {
    jsonrpc_error(
        StatusCode::NOT_FOUND,
        rmcp::model::ErrorCode::INVALID_REQUEST.0,
        "session not found: it was ended; start a new one with `initialize`".into(),
    )
}

/// In front of the SDK's service: assigns request ids, reads POST bodies (bounded in size and
/// time), serves eligible requests directly ([`direct`]), admits new legacy sessions
/// ([`sessions`]), and fixes the statuses the SDK gets wrong for a network server: it answers
/// a malformed JSON body with 415 (`fail to deserialize request body: …`), and a session
/// `DELETE` with 202 (clients expect 200 or 204).
#[derive(Clone)]
struct Front {
    /// The server, for the scopes a request needs.
    server: Server,
    /// Shared rather than cloned per request: the SDK's `call` clones the whole service,
    /// configuration included, every time.
    inner: Arc<SdkService>,
    limit: usize,
    direct: Option<Arc<direct::Direct>>,
    sessions: Arc<sessions::SessionTable>,
    auth: Option<crate::auth::Authenticator>,
}

/// The SDK's service for this server.
type SdkService = StreamableHttpService<McpHandler, sessions::Counted<LocalSessionManager>>;

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
        // One future per request, authentication included: an outer future awaiting `serve`
        // copied the larger inner one on every call (+1.4 % of the CPU in `memmove`).
        Box::pin(self.clone().serve(request, request_id))
    }
}

impl Front {
    /// 403 `insufficient_scope` when the authenticated caller lacks a scope the request's
    /// component needs, naming every scope it needs (RFC 6750; the MCP authorization
    /// specification's runtime scope challenge).
    fn insufficient_scope(
        &self,
        parts: &axum::http::request::Parts,
        body: &[u8],
    ) -> Option<Response> {
        let auth = self.auth.as_ref()?;
        let principal = parts.extensions.get::<crate::identity::Principal>()?;
        if !self.server.is_restricted() {
            return None;
        }
        let (method, target) = direct::target(body)?;
        let needed = self.server.scopes_for(&method, &target);
        if needed.iter().all(|scope| principal.has_scope(scope)) {
            return None;
        }
        tracing::info!(
            target: "platform::audit",
            event = "authorization",
            decision = "deny",
            principal = principal.id(),
            tenant = principal.tenant(),
            method = &*method,
            component = &*target,
            reason = "insufficient_scope",
            "authorization refused"
        );
        Some(auth.challenge(&crate::auth::Refusal::insufficient_scope(needed)))
    }

    /// Authenticate the request where that is configured, then serve it.
    async fn serve(
        self,
        mut request: Request<Body>,
        request_id: header::HeaderValue,
    ) -> Result<Response, Infallible> {
        if let Some(auth) = &self.auth {
            match auth
                .authenticate(request.headers(), request.uri().query())
                .await
            {
                Ok(principal) => {
                    request.extensions_mut().insert(principal);
                }
                Err(refusal) => {
                    let client = request
                        .extensions()
                        .get::<ClientAddress>()
                        .map(|a| a.0.ip());
                    crate::metrics::auth_failure(refusal.error.unwrap_or("none"));
                    // The reason only: never the credential.
                    tracing::warn!(
                        target: "platform::auth",
                        status = refusal.status.as_u16(),
                        error = refusal.error.unwrap_or("none"),
                        reason = refusal.description,
                        client = ?client,
                        request_id = request_id.to_str().unwrap_or_default(),
                        "request refused: not authenticated"
                    );
                    tracing::info!(
                        target: crate::observability::AUDIT_TARGET,
                        event = "authentication",
                        outcome = "refused",
                        status = refusal.status.as_u16(),
                        error = refusal.error.unwrap_or("none"),
                        reason = refusal.description,
                        client = client.map(|ip| ip.to_string()),
                        request_id = request_id.to_str().unwrap_or_default(),
                        "authentication refused"
                    );
                    return Ok(with_request_id(auth.challenge(&refusal), request_id));
                }
            }
        }
        let response = self.route(request).await;
        Ok(with_request_id(response, request_id))
    }

    /// Serve an authenticated request: a session's requests through its engine (taking on
    /// a session another replica opened, when sessions are shared), others directly or
    /// through the SDK.
    async fn route(&self, request: Request<Body>) -> Response {
        let front = self;
        // Every request naming a live session marks it used (the table reaps idle ones).
        let engine = match request.headers().get("mcp-session-id") {
            Some(id) => match id.to_str().ok() {
                Some(id) => match front.sessions.touch(id) {
                    Some(engine) => Some(engine),
                    None => match front
                        .adopt(
                            id,
                            request
                                .extensions()
                                .get::<crate::identity::Principal>()
                                .cloned(),
                            client_ip(request.extensions()),
                        )
                        .await
                    {
                        Ok(engine) => engine,
                        Err(response) => return response,
                    },
                },
                None => None,
            },
            None => None,
        };
        if let Some(engine) = &engine
            && engine.ended()
        {
            return session_ended();
        }
        let deleting = (request.method() == Method::DELETE)
            .then(|| request.headers().get("mcp-session-id")?.to_str().ok())
            .flatten()
            .map(str::to_owned);
        let response = front.dispatch(request, engine.clone()).await;
        match (deleting, engine) {
            // The client ended its session: no replica serves it any more.
            (Some(id), Some(_)) if response.status().is_success() => {
                front.sessions.remove_shared(&id).await;
            }
            (_, Some(engine)) if front.sessions.sharing().is_some() => {
                // A streamed reply (the SDK's) is written while its request runs.
                use axum::body::HttpBody as _;
                use futures::StreamExt as _;
                if response.body().size_hint().exact().is_some() {
                    front.sessions.sync(&engine).await;
                } else {
                    let (parts, body) = response.into_parts();
                    // A change the request made is shared before the chunk carrying its
                    // reply goes out; the record is kept alive once the stream has ended.
                    let (table, each) = (front.sessions.clone(), engine.clone());
                    let chunks = body.into_data_stream().then(move |chunk| {
                        let (table, engine) = (table.clone(), each.clone());
                        async move {
                            table.save_changes(&engine).await;
                            chunk
                        }
                    });
                    let table = front.sessions.clone();
                    let synced = futures::stream::once(async move {
                        table.sync(&engine).await;
                        None::<Result<axum::body::Bytes, axum::Error>>
                    })
                    .filter_map(std::future::ready);
                    let body = Body::from_stream(chunks.chain(synced));
                    return Response::from_parts(parts, body);
                }
            }
            _ => {}
        }
        response
    }

    /// Serve a request, its session's engine (if any) found.
    async fn dispatch(
        &self,
        request: Request<Body>,
        engine: Option<Arc<sessions::Engine>>,
    ) -> Response {
        let delete = request.method() == Method::DELETE;
        let post_json = request.method() == Method::POST && is_json(request.headers());
        let front = self;
        if !post_json {
            // GET, DELETE, and POSTs the SDK refuses without reading the body.
            let response = front.sdk(request, engine.as_deref()).await;
            return fix(response, delete, false, front.limit).await;
        }
        let (parts, body) = request.into_parts();
        let body = match read_body(body, front.limit).await {
            Ok(body) => body,
            Err(response) => return response,
        };
        if let Some(refused) = front.insufficient_scope(&parts, &body) {
            return refused;
        }
        let (mut parts, body) = match (&front.direct, engine.clone()) {
            (Some(direct), Some(engine)) => {
                match direct.clone().serve_session(engine, parts, body).await {
                    Ok(response) => return response,
                    Err(handed_back) => handed_back,
                }
            }
            (Some(direct), None) if direct.head_eligible(&parts.headers) => {
                match direct.clone().serve(parts, body).await {
                    Ok(response) => return response,
                    Err(handed_back) => handed_back,
                }
            }
            _ => (parts, body),
        };
        if !parts.headers.contains_key("mcp-session-id")
            && direct::method(&body).as_deref() == Some("initialize")
        {
            let client = client_ip(&parts.extensions);
            match front.sessions.reserve(client) {
                Ok(reservation) => {
                    parts.extensions.insert(reservation);
                    parts
                        .extensions
                        .insert(crate::server::SessionLink::default());
                }
                Err(refusal) => {
                    return session_refused(refusal, client);
                }
            }
        }
        let request = Request::from_parts(parts, Body::from(body));
        let response = front.sdk(request, engine.as_deref()).await;
        fix(response, delete, true, front.limit).await
    }

    /// The engine of session `id`, which this replica does not hold: taken on from the
    /// shared store when another replica opened it and the caller is its owner (`None`
    /// when there is no such session, for the SDK to answer 404). A stranger gets 403 and a
    /// full table 503/429 before anything is kept; a failing store 503 when sessions fail
    /// closed.
    async fn adopt(
        &self,
        id: &str,
        principal: Option<crate::identity::Principal>,
        client: std::net::IpAddr,
    ) -> Result<Option<Arc<sessions::Engine>>, Response> {
        let Some(sharing) = self.sessions.sharing() else {
            return Ok(None);
        };
        if !sessions::plausible_id(id) {
            return Ok(None);
        }
        let record = match sharing.load(id).await {
            Ok(Some(record)) => record,
            Ok(None) => return Ok(None),
            Err(error) => {
                if sharing.fail_closed() {
                    tracing::warn!(%error, "a session could not be looked up; refused (sessions fail closed)");
                    return Err(jsonrpc_error(
                        StatusCode::SERVICE_UNAVAILABLE,
                        rmcp::model::ErrorCode::INTERNAL_ERROR.0,
                        "sessions are unavailable right now; retry shortly".into(),
                    ));
                }
                tracing::debug!(%error, "a session could not be looked up; answered as unknown");
                return Ok(None);
            }
        };
        let Some(engine) = sessions::Engine::adopted(id, self.server.session_handler(), &record)
        else {
            tracing::warn!("a shared session record could not be read; answered as unknown");
            return Ok(None);
        };
        if let Err(refused) = engine.handler.check_owner(principal.as_ref()) {
            return Err(jsonrpc_error(
                StatusCode::FORBIDDEN,
                crate::error::FORBIDDEN,
                refused.message().to_owned(),
            ));
        }
        match self.sessions.adopt(id, client, engine) {
            Ok(engine) => {
                tracing::debug!("serving a session another replica opened");
                Ok(Some(engine))
            }
            Err(refusal) => Err(session_refused(refusal, client)),
        }
    }

    /// Hand `request` to the SDK's service. A request of an initialized session keeps it
    /// awake until the SDK has answered its head, and wakes it if it is asleep: the SDK,
    /// finding no worker for it, restores it from the table's record through the session's
    /// own handler. A caller other than the session's owner gets 403 here, whatever the
    /// method: it neither wakes the session, nor opens its GET stream (which carries the
    /// owner's notifications), nor deletes it.
    ///
    /// Boxed: the SDK's future is large, and inline it would be part of (and copied with)
    /// every request's future, the ones served directly included.
    fn sdk<'a>(
        &'a self,
        request: Request<Body>,
        engine: Option<&'a sessions::Engine>,
    ) -> futures::future::BoxFuture<'a, axum::http::Response<Body>> {
        Box::pin(self.sdk_unboxed(request, engine))
    }

    async fn sdk_unboxed(
        &self,
        mut request: Request<Body>,
        engine: Option<&sessions::Engine>,
    ) -> axum::http::Response<Body> {
        let Some(engine) = engine else {
            return self.inner.handle(request).await.map(Body::new);
        };
        let principal = request.extensions().get::<crate::identity::Principal>();
        if let Err(refused) = engine.handler.check_owner(principal) {
            return jsonrpc_error(
                StatusCode::FORBIDDEN,
                crate::error::FORBIDDEN,
                refused.message().to_owned(),
            );
        }
        // One request wakes the session while the others wait: the SDK lists a session
        // being restored before its handshake is replayed, and a request reaching the
        // worker first would be lost.
        let _waking = loop {
            let awake = engine.enter().await;
            if !engine.asleep() {
                return self.inner.handle(request).await.map(Body::new);
            }
            drop(awake);
            let waking = engine.wake().await;
            if engine.asleep() {
                break waking;
            }
        };
        request
            .extensions_mut()
            .insert(crate::server::SessionLink::default());
        sessions::waking(engine, self.inner.handle(request))
            .await
            .map(Body::new)
    }
}

/// Whether the request's `Content-Type` is JSON: its media type is `application/json`
/// exactly (any case, parameters such as `charset` allowed), as the SDK checks it.
fn is_json(headers: &header::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

/// The answer to an `initialize` over a session cap: 503 when the server is full, 429 when
/// this client holds its share; both say when to retry.
fn session_refused(refusal: sessions::Refusal, client: std::net::IpAddr) -> Response {
    let (status, message) = match refusal {
        sessions::Refusal::Full(max) => {
            tracing::warn!(
                max,
                "legacy session refused: the server holds its most sessions"
            );
            (
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "the server holds its most sessions ({max}); retry later, or close unused sessions with DELETE"
                ),
            )
        }
        sessions::Refusal::ClientFull(max) => {
            tracing::warn!(%client, max, "legacy session refused: the client holds its most sessions");
            (
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "this client holds its most sessions ({max}); close unused sessions with DELETE, or retry later"
                ),
            )
        }
    };
    let mut response = jsonrpc_error(status, -32000, message);
    response.headers_mut().insert(
        header::RETRY_AFTER,
        header::HeaderValue::from(SESSION_RETRY_AFTER_SECS),
    );
    response
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

/// The whole body; 413 (as the SDK words it) when it is over the limit, 408 when it did
/// not arrive in time.
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
        Err(error) if timed_out(error.as_ref()) => Err((
            StatusCode::REQUEST_TIMEOUT,
            [(header::CONNECTION, "close")],
            format!("Request Timeout: {error}"),
        )
            .into_response()),
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

/// Whether a body error is (or wraps) the connection layer's [`BodyTimeout`].
fn timed_out(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(error) = current {
        if error.is::<BodyTimeout>() {
            return true;
        }
        current = error.source();
    }
    false
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

/// A running HTTP server: its address, what it counted, and a handle to stop it.
pub struct HttpServer {
    addr: SocketAddr,
    served_directly: Arc<AtomicU64>,
    counters: Arc<conn::Counters>,
    sessions: Arc<sessions::SessionTable>,
    stop: CancellationToken,
    drain_delay: Arc<std::sync::Mutex<Duration>>,
    task: tokio::task::JoinHandle<Result<(), ServeError>>,
}

/// What an [`HttpServer`] has counted so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpStats {
    /// Connections open now.
    pub open_connections: usize,
    /// Legacy sessions live now (with slots reserved for ones being created).
    pub live_sessions: usize,
    /// Of the live sessions, those asleep: kept as a record, without the SDK's worker
    /// (see [`HttpConfig::session_sleep_after`]).
    pub asleep_sessions: usize,
    /// Connections closed because a request head did not arrive in time.
    pub header_timeouts: u64,
    /// Keep-alive connections closed for idleness.
    pub idle_closed: u64,
    /// Connections over the cap answered in probe-only mode.
    pub overflowed: u64,
    /// Connections over the cap and its probe-only reserve, closed at once.
    pub refused: u64,
    /// Silent or idle connections closed to make room for a new one at the cap.
    pub evicted: u64,
    /// Requests served by direct dispatch.
    pub served_directly: u64,
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

    /// What the server has counted so far.
    pub fn stats(&self) -> HttpStats {
        let counters = &self.counters;
        HttpStats {
            open_connections: counters.open.load(Ordering::Relaxed),
            live_sessions: self.sessions.len(),
            asleep_sessions: self.sessions.asleep(),
            header_timeouts: counters.header_timeouts.load(Ordering::Relaxed),
            idle_closed: counters.idle_closed.load(Ordering::Relaxed),
            overflowed: counters.overflowed.load(Ordering::Relaxed),
            refused: counters.refused.load(Ordering::Relaxed),
            evicted: counters.evicted.load(Ordering::Relaxed),
            served_directly: self.served_directly(),
        }
    }

    /// Drain and stop: `/readyz` answers 503 for the drain delay while the server still
    /// accepts, then the listener closes and in-flight requests finish within the grace
    /// period. Waits until it is done.
    pub async fn shutdown(self) -> Result<(), ServeError> {
        let delay = *self.drain_delay.lock().unwrap_or_else(|e| e.into_inner());
        self.shutdown_after(delay).await
    }

    /// [`HttpServer::shutdown`] with another drain delay (`Duration::ZERO`: close the
    /// listener at once, as `serve()` does on ctrl-c).
    pub async fn shutdown_after(self, drain_delay: Duration) -> Result<(), ServeError> {
        *self.drain_delay.lock().unwrap_or_else(|e| e.into_inner()) = drain_delay;
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

/// After the grace period, how long requests abandoned with 503 get to have it written.
const LAST_WORDS: Duration = Duration::from_secs(1);

/// Bind and start serving in the background.
///
/// The configuration is checked first ([`HttpConfig::validate`]); apply a loaded
/// [`crate::config::Config`] to the server with [`Server::with_config`] before calling this.
pub async fn start(server: Server, config: HttpConfig) -> Result<HttpServer, ServeError> {
    config.validate().map_err(ServeError::Transport)?;
    server.inner.start_proxies();
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .map_err(|e| ServeError::Transport(format!("cannot listen on {}: {e}", config.bind)))?;
    let addr = listener.local_addr()?;
    let stop = CancellationToken::new();
    let sessions_shutdown = CancellationToken::new();
    let draining = Arc::new(AtomicBool::new(false));
    let built = build(
        &server,
        &config,
        sessions_shutdown.clone(),
        draining.clone(),
    );
    tracing::info!(%addr, path = config.path, "serving MCP over HTTP");
    let limits = conn::Limits {
        header_read_timeout: config.header_read_timeout,
        idle_timeout: config.idle_timeout,
        body_read_timeout: config.body_read_timeout,
        max_connections: config.max_connections,
    };
    let counters = Arc::new(conn::Counters::default());
    let drain = CancellationToken::new();
    let drain_delay = Arc::new(std::sync::Mutex::new(config.drain_delay));
    let grace = config.shutdown_grace;
    let served_directly = built.served_directly.clone();
    let task = {
        let (stop, drain_delay, counters) = (stop.clone(), drain_delay.clone(), counters.clone());
        tokio::spawn(async move {
            let serving = conn::serve(
                listener,
                built.router,
                built.probes,
                limits,
                drain.clone(),
                counters,
            );
            tokio::pin!(serving);
            tokio::select! {
                () = &mut serving => {}
                () = stop.cancelled() => {}
            }
            draining.store(true, Ordering::Relaxed);
            let delay = *drain_delay.lock().unwrap_or_else(|e| e.into_inner());
            tracing::info!(
                ?delay,
                ?grace,
                "draining: /readyz answers 503; the listener closes after the delay"
            );
            tokio::select! {
                () = &mut serving => {}
                () = tokio::time::sleep(delay) => {}
            }
            drain.cancel();
            let finished = tokio::select! {
                () = &mut serving => true,
                () = tokio::time::sleep(grace) => false,
            };
            sessions_shutdown.cancel();
            if !finished {
                tracing::warn!(
                    ?grace,
                    "grace period over; abandoning the remaining requests"
                );
                let _ = tokio::time::timeout(LAST_WORDS, &mut serving).await;
            }
            tracing::info!(
                served_directly = served_directly.load(Ordering::Relaxed),
                "HTTP server stopped"
            );
            Ok(())
        })
    };
    Ok(HttpServer {
        addr,
        served_directly: built.served_directly,
        counters,
        sessions: built.sessions,
        stop,
        drain_delay,
        task,
    })
}
