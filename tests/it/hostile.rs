//! Hostile input over real sockets: every structure a client controls is bounded in size,
//! count and time, and no request can stall the server.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use platform_runtime::middleware::InProcessCache;
use platform_runtime::prelude::*;
use platform_runtime::transport::http::{HttpConfig, HttpServer};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::Notify;

use super::http::{
    ACCEPT, INITIALIZE, JSON, Reply, legacy_session, request, request_from, serve_with, stop,
};

/// A note by id.
#[resource("notes://{id}")]
fn note(id: String) -> String {
    format!("note {id}")
}

/// Echo text; cached for everybody.
#[tool(read_only)]
#[cache(ttl = "60s", scope = "public")]
fn echo_cached(State(calls): State<Arc<AtomicU32>>, text: String) -> String {
    calls.fetch_add(1, Ordering::Relaxed);
    text
}

/// Fail, hang or succeed, as told.
#[tool]
#[circuit_breaker(failure_ratio = 0.5, window = "30s", min_calls = 2, cooldown = "300ms")]
async fn fragile(
    State(probe): State<Arc<Probe>>,
    ctx: Context,
    mode: String,
) -> Result<String, ToolError> {
    match mode.as_str() {
        "fail" => Err(ToolError::unavailable("the upstream is down")),
        "hang" => {
            let token = ctx.cancellation_token();
            let watcher = probe.clone();
            tokio::spawn(async move {
                token.cancelled().await;
                watcher.gone.notify_one();
            });
            probe.entered.notify_one();
            std::future::pending().await
        }
        _ => Ok("fine".into()),
    }
}

/// What the hanging probe saw.
#[derive(Default)]
struct Probe {
    entered: Notify,
    gone: Notify,
}

/// Read a file the database way: fails with an I/O error.
#[tool]
fn read_config() -> Result<String, std::io::Error> {
    Err(std::io::Error::other(
        "/etc/app/secret.toml: permission denied",
    ))
}

fn server(uri_limit: Option<usize>, cache: Arc<InProcessCache>) -> Server {
    let mut builder = Server::builder("hostile")
        .tools(tools![echo_cached, fragile, read_config])
        .resources(resources![note])
        .state(Arc::new(AtomicU32::new(0)))
        .state(Arc::new(Probe::default()))
        .cache_store(cache);
    if let Some(limit) = uri_limit {
        builder = builder.max_uri_bytes(limit);
    }
    builder.build().unwrap()
}

async fn serve(config: HttpConfig) -> HttpServer {
    serve_with(server(None, Arc::new(InProcessCache::default())), config).await
}

/// A 2026-07-28 request, as direct dispatch serves it.
async fn modern(addr: SocketAddr, method: &str, name: Option<&str>, params: Value) -> Reply {
    let body = modern_body(method, params);
    let mut headers = vec![
        JSON,
        ACCEPT,
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", method),
    ];
    if let Some(name) = name {
        headers.push(("mcp-name", name));
    }
    request(addr, "POST", "/mcp", &headers, body.as_bytes()).await
}

fn modern_body(method: &str, mut params: Value) -> String {
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
    });
    json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params }).to_string()
}

fn json_of(reply: &Reply) -> Value {
    // A JSON body, or the first `data:` line of an SSE one.
    let text = reply
        .body
        .lines()
        .find_map(|l| l.strip_prefix("data: ").filter(|d| d.starts_with('{')))
        .unwrap_or(reply.body.trim());
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {}", reply.body))
}

async fn call(addr: SocketAddr, tool: &str, arguments: Value) -> Value {
    let reply = modern(
        addr,
        "tools/call",
        Some(tool),
        json!({ "name": tool, "arguments": arguments }),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    json_of(&reply)
}

fn text_of(reply: &Value) -> &str {
    reply["result"]["content"][0]["text"].as_str().unwrap_or("")
}

async fn read(addr: SocketAddr, uri: &str) -> Value {
    let reply = modern(addr, "resources/read", Some(uri), json!({ "uri": uri })).await;
    json_of(&reply)
}

/// The best of three timings of `read(uri)`.
async fn time_read(addr: SocketAddr, uri: &str) -> Duration {
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let start = Instant::now();
        let reply = read(addr, uri).await;
        best = best.min(start.elapsed());
        assert!(reply["error"].is_object(), "{reply}");
    }
    best
}

#[tokio::test]
async fn long_uris_cost_linear_time_and_the_default_cap_refuses_them() {
    // Default: 8 KiB, refused with -32602 without echoing the URI.
    let http = serve(HttpConfig::default()).await;
    let long = format!("notes://{}", "a".repeat(9000));
    let refused = read(http.local_addr(), &long).await;
    assert_eq!(refused["error"]["code"], -32602, "{refused}");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(message.contains("limit is 8192 bytes"), "{message}");
    assert!(!message.contains("aaaa"), "{message}");
    // A value never carries path traversal.
    for uri in ["notes://..%2Fetc", "notes://%2e%2e", "notes://a%5Cb"] {
        let reply = read(http.local_addr(), uri).await;
        assert!(reply["error"].is_object(), "{uri}: {reply}");
    }
    assert_eq!(
        read(http.local_addr(), "notes://7").await["result"]["contents"][0]["text"],
        "note 7"
    );
    stop(http).await;

    // Lifted to 2 MiB, a URI that almost matches costs time in proportion to its length:
    // the old matcher rescanned the value for every candidate end (20k: 139 ms, 80k: 3.4 s).
    let http = serve_with(
        server(Some(2 << 20), Arc::new(InProcessCache::default())),
        HttpConfig::default(),
    )
    .await;
    let addr = http.local_addr();
    let uri = |n: usize| format!("notes://{}?", "a".repeat(n));
    time_read(addr, &uri(1000)).await; // warm up
    let short = time_read(addr, &uri(20_000)).await;
    let long = time_read(addr, &uri(80_000)).await;
    let ratio = long.as_secs_f64() / short.as_secs_f64();
    eprintln!("resources/read, no match: 20k {short:?}, 80k {long:?}, ratio {ratio:.2}");
    // Four times the length; a quadratic matcher would take sixteen times as long.
    assert!(
        ratio < 10.0,
        "20k: {short:?}, 80k: {long:?}, ratio {ratio:.1}"
    );
    // The server is free: a probe answers at once.
    assert_eq!(request(addr, "GET", "/healthz", &[], b"").await.status, 200);
    stop(http).await;
}

/// Write `bytes` one at a time, `every` apart, until the server closes the connection;
/// how many were written.
async fn trickle(stream: &mut TcpStream, bytes: &[u8], every: Duration) -> usize {
    let mut scratch = [0u8; 64];
    for (sent, byte) in bytes.iter().enumerate() {
        if stream.write_all(&[*byte]).await.is_err() {
            return sent;
        }
        // A read that returns 0 (or fails) means the server closed the connection.
        if let Ok(read) = tokio::time::timeout(every, stream.read(&mut scratch)).await {
            match read {
                Ok(0) | Err(_) => return sent + 1,
                Ok(_) => {}
            }
        }
    }
    bytes.len()
}

/// Wait until the server closes `stream` (a read returns nothing), bounded by `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Vec<u8> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = tokio::time::timeout(limit, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the server did not close the connection");
    seen
}

#[tokio::test]
async fn slow_clients_are_cut_off_by_the_connection_timeouts() {
    let http = serve(HttpConfig {
        header_read_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(1),
        body_read_timeout: Duration::from_secs(1),
        ..HttpConfig::default()
    })
    .await;
    let addr = http.local_addr();

    // Trickling a head one byte every 100 ms: the head is due a second after it began,
    // however busy the client keeps the connection.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /mcp HTTP/1.1\r\nhost: {addr}\r\nx-trickle: {}",
        "z".repeat(200)
    );
    let started = Instant::now();
    let sent = trickle(&mut stream, head.as_bytes(), Duration::from_millis(100)).await;
    assert!(sent < head.len(), "the trickling head was cut off");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "not before its time: {:?}",
        started.elapsed()
    );
    assert_eq!(http.stats().header_timeouts, 1);

    // A connection that never sends a byte: its first head is due from the opening.
    let mut silent = TcpStream::connect(addr).await.unwrap();
    closed_within(&mut silent, Duration::from_secs(10)).await;
    assert_eq!(http.stats().header_timeouts, 2);

    // A keep-alive connection idle after its request is closed too.
    let mut idle = TcpStream::connect(addr).await.unwrap();
    let probe = format!("GET /healthz HTTP/1.1\r\nhost: {addr}\r\n\r\n");
    idle.write_all(probe.as_bytes()).await.unwrap();
    let seen = closed_within(&mut idle, Duration::from_secs(10)).await;
    assert!(String::from_utf8_lossy(&seen).starts_with("HTTP/1.1 200"));
    assert_eq!(http.stats().idle_closed, 1);

    // A body that stops arriving gets 408.
    let mut slow_body = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /mcp HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\naccept: application/json, text/event-stream\r\ncontent-length: 100\r\n\r\n{{\"jsonrpc\""
    );
    slow_body.write_all(head.as_bytes()).await.unwrap();
    let seen = closed_within(&mut slow_body, Duration::from_secs(10)).await;
    let seen = String::from_utf8_lossy(&seen);
    assert!(seen.starts_with("HTTP/1.1 408"), "{seen}");

    // Meanwhile the server answers everyone else.
    assert_eq!(request(addr, "GET", "/healthz", &[], b"").await.status, 200);
    stop(http).await;
}

/// Poll `condition` (a few milliseconds apart) until it holds, for at most ten seconds.
pub(crate) async fn eventually(what: &str, condition: impl Fn() -> bool) {
    for _ in 0..2000 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("never happened: {what}");
}

/// A server that serves four connections at once, with heads due only after 30 s.
async fn serve_capped_at_four() -> HttpServer {
    serve(HttpConfig {
        max_connections: 4,
        header_read_timeout: Duration::from_secs(30),
        ..HttpConfig::default()
    })
    .await
}

#[tokio::test]
async fn the_connection_cap_holds_while_probes_answer() {
    let http = serve_capped_at_four().await;
    let addr = http.local_addr();
    // Four connections busy sending a head: none may be closed to make room.
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(format!("POST /mcp HTTP/1.1\r\nhost: {addr}\r\n").as_bytes())
            .await
            .unwrap();
        held.push(stream);
    }
    eventually("four connections held", || {
        http.stats().open_connections == 4
    })
    .await;

    // Full: probes still answer; MCP requests get 503 with Retry-After.
    assert_eq!(request(addr, "GET", "/healthz", &[], b"").await.status, 200);
    assert_eq!(request(addr, "GET", "/readyz", &[], b"").await.status, 200);
    let busy = modern(addr, "tools/list", None, json!({})).await;
    assert_eq!(busy.status, 503, "{}", busy.body);
    assert_eq!(busy.header("retry-after"), Some("1"));
    assert!(http.stats().overflowed >= 3);
    assert_eq!(http.stats().evicted, 0);

    // The probe-only reserve is bounded too: beyond it, connections are closed at once.
    let mut reserve = Vec::new();
    for _ in 0..platform_runtime::transport::http::OVERFLOW_CONNECTIONS {
        reserve.push(TcpStream::connect(addr).await.unwrap());
    }
    eventually("the reserve taken", || {
        http.stats().open_connections == 4 + platform_runtime::transport::http::OVERFLOW_CONNECTIONS
    })
    .await;
    let mut refused = TcpStream::connect(addr).await.unwrap();
    let seen = closed_within(&mut refused, Duration::from_secs(5)).await;
    assert!(seen.is_empty(), "closed without an answer");
    assert!(http.stats().refused >= 1);

    // Reserve connections that send nothing are let go within a second or two, and once
    // the held connections close, service resumes.
    drop(held);
    drop(reserve);
    eventually("connections released", || {
        http.stats().open_connections == 0
    })
    .await;
    let listed = modern(addr, "tools/list", None, json!({})).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    stop(http).await;
}

#[tokio::test]
async fn silent_connections_make_room_for_new_ones_at_the_cap() {
    let http = serve_capped_at_four().await;
    let addr = http.local_addr();
    // Four connections that never say anything fill the server (an attacker's, or idle
    // keep-alive connections)…
    let mut silent = Vec::new();
    for _ in 0..4 {
        silent.push(TcpStream::connect(addr).await.unwrap());
    }
    eventually("four connections held", || {
        http.stats().open_connections == 4
    })
    .await;
    // …yet, once they have been silent a moment, new clients are served in full: each
    // closes the longest-silent one instead of getting the probe-only answer.
    let mut served = false;
    for _ in 0..200 {
        let listed = modern(addr, "tools/list", None, json!({})).await;
        if listed.status == 200 {
            served = true;
            break;
        }
        assert_eq!(listed.status, 503, "{}", listed.body);
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(served, "{:?}", http.stats());
    assert!(http.stats().evicted >= 1, "{:?}", http.stats());
    let mut closed = 0;
    for stream in &mut silent {
        let mut buf = [0u8; 1];
        if let Ok(Ok(0) | Err(_)) =
            tokio::time::timeout(Duration::from_millis(200), stream.read(&mut buf)).await
        {
            closed += 1;
        }
    }
    assert!(closed >= 1, "a silent connection was closed to make room");
    stop(http).await;
}

async fn initialize_from(addr: SocketAddr, last: u8) -> Reply {
    request_from(
        Some(IpAddr::from([127, 0, 0, last])),
        addr,
        "POST",
        "/mcp",
        &[JSON, ACCEPT],
        INITIALIZE.as_bytes(),
    )
    .await
}

#[tokio::test]
async fn legacy_sessions_are_capped_in_total_and_per_client() {
    let http = serve(HttpConfig {
        max_sessions: 3,
        max_sessions_per_client: 2,
        ..HttpConfig::default()
    })
    .await;
    let addr = http.local_addr();
    let first = initialize_from(addr, 1).await;
    assert_eq!(first.status, 200);
    assert_eq!(initialize_from(addr, 1).await.status, 200);
    let over_share = initialize_from(addr, 1).await;
    assert_eq!(over_share.status, 429, "{}", over_share.body);
    assert_eq!(over_share.header("retry-after"), Some("10"));
    assert_eq!(json_of(&over_share)["error"]["code"], -32000);
    assert_eq!(initialize_from(addr, 2).await.status, 200, "another client");
    let full = initialize_from(addr, 3).await;
    assert_eq!(full.status, 503, "{}", full.body);
    assert!(full.header("retry-after").is_some());
    assert_eq!(http.stats().live_sessions, 3);

    // Closing a session gives its slot back.
    let session = first.header("mcp-session-id").unwrap().to_owned();
    let closed = request(
        addr,
        "DELETE",
        "/mcp",
        &[
            ("mcp-session-id", &session),
            ("mcp-protocol-version", "2025-11-25"),
        ],
        b"",
    )
    .await;
    assert_eq!(closed.status, 200);
    eventually("the slot is free", || http.stats().live_sessions == 2).await;
    assert_eq!(initialize_from(addr, 1).await.status, 200);
    stop(http).await;
}

#[tokio::test]
async fn subscriptions_are_bounded_and_must_name_a_resource() {
    let http = serve_with(
        Server::builder("subs")
            .resources(resources![note])
            .max_subscriptions(2)
            .build()
            .unwrap(),
        HttpConfig::default(),
    )
    .await;
    let addr = http.local_addr();
    let session = legacy_session(addr).await;
    let headers = [
        JSON,
        ACCEPT,
        ("mcp-session-id", session.as_str()),
        ("mcp-protocol-version", "2025-11-25"),
    ];
    let initialized = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    request(addr, "POST", "/mcp", &headers, initialized.as_bytes()).await;
    let subscribe = |uri: String| {
        let body = json!({ "jsonrpc": "2.0", "id": 5, "method": "resources/subscribe", "params": { "uri": uri } });
        async move {
            let reply = request(addr, "POST", "/mcp", &headers, body.to_string().as_bytes()).await;
            json_of(&reply)
        }
    };
    assert!(subscribe("notes://1".into()).await["result"].is_object());
    assert!(subscribe("notes://2".into()).await["result"].is_object());
    assert!(
        subscribe("notes://1".into()).await["result"].is_object(),
        "again: not another one"
    );
    let third = subscribe("notes://3".into()).await;
    assert_eq!(third["error"]["code"], -32602, "{third}");
    let unknown = subscribe("other://x".into()).await;
    assert_eq!(unknown["error"]["code"], -32602, "{unknown}");
    let long = subscribe(format!("notes://{}", "a".repeat(9000))).await;
    assert_eq!(long["error"]["code"], -32602, "{long}");
    stop(http).await;
}

#[tokio::test]
async fn the_response_cache_stays_within_its_byte_bound_with_large_arguments() {
    let cache = Arc::new(InProcessCache::with_max_bytes(256 << 10));
    let calls = Arc::new(AtomicU32::new(0));
    let server = Server::builder("cache")
        .tools(tools![echo_cached])
        .state(calls.clone())
        .cache_store(cache.clone())
        .build()
        .unwrap();
    let http = serve_with(server, HttpConfig::default()).await;
    let addr = http.local_addr();
    // A repeated call is answered from the cache.
    call(addr, "echo_cached", json!({ "text": "once" })).await;
    call(addr, "echo_cached", json!({ "text": "once" })).await;
    assert_eq!(
        calls.load(Ordering::Relaxed),
        1,
        "the second call was a hit"
    );
    for i in 0..40 {
        let text = format!("{i:04}{}", "x".repeat(16 << 10));
        let reply = call(addr, "echo_cached", json!({ "text": text })).await;
        assert_eq!(text_of(&reply).len(), text.len());
    }
    let held = cache.weighted_size();
    assert!(held <= 256 << 10, "{held} bytes held");
    assert!(held > 0, "responses were cached");
    // The keys are digests: 40 arguments of 16 KiB each are not held as keys.
    assert!(held < 40 * (16 << 10));
    stop(http).await;
}

#[tokio::test]
async fn bad_input_cannot_open_a_breaker_and_a_dropped_probe_is_released() {
    let probe = Arc::new(Probe::default());
    let server = Server::builder("breaker")
        .tools(tools![fragile])
        .state(probe.clone())
        .build()
        .unwrap();
    let http = serve_with(server, HttpConfig::default()).await;
    let addr = http.local_addr();
    for _ in 0..20 {
        let reply = call(addr, "fragile", json!({ "mode": 5 })).await;
        assert_eq!(reply["result"]["isError"], true, "{reply}");
    }
    assert_eq!(
        text_of(&call(addr, "fragile", json!({ "mode": "ok" })).await),
        "fine"
    );
    // One success and one upstream failure: half the calls failed, the circuit opens.
    let failed = call(addr, "fragile", json!({ "mode": "fail" })).await;
    assert_eq!(text_of(&failed), "the upstream is down");
    let open = call(addr, "fragile", json!({ "mode": "ok" })).await;
    assert!(text_of(&open).contains("circuit open"), "{open}");

    // After the cooldown a probe is let through; its client hangs up while it runs.
    let body = modern_body(
        "tools/call",
        json!({ "name": "fragile", "arguments": { "mode": "hang" } }),
    );
    let head = format!(
        "POST /mcp HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\naccept: application/json, text/event-stream\r\nmcp-protocol-version: 2026-07-28\r\nmcp-method: tools/call\r\nmcp-name: fragile\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    loop {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(head.as_bytes()).await.unwrap();
        let mut answer = [0u8; 1024];
        tokio::select! {
            () = probe.entered.notified() => {
                drop(stream);
                break;
            }
            read = stream.read(&mut answer) => {
                // Still open: "retry in …". Try again shortly.
                assert!(read.unwrap() > 0);
                assert!(String::from_utf8_lossy(&answer).contains("circuit open"));
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    tokio::time::timeout(Duration::from_secs(10), probe.gone.notified())
        .await
        .expect("the hung-up probe was cancelled");
    // The abandoned probe released its slot: the next call probes, succeeds, and closes it.
    assert_eq!(
        text_of(&call(addr, "fragile", json!({ "mode": "ok" })).await),
        "fine"
    );
    assert_eq!(
        text_of(&call(addr, "fragile", json!({ "mode": "ok" })).await),
        "fine"
    );
    stop(http).await;
}

#[tokio::test]
async fn an_error_that_is_not_a_tool_error_is_masked_over_http() {
    let http = serve(HttpConfig::default()).await;
    let reply = call(http.local_addr(), "read_config", json!({})).await;
    assert_eq!(reply["result"]["isError"], true);
    let text = text_of(&reply);
    assert!(
        text.starts_with("internal error in `read_config` (reference "),
        "{text}"
    );
    assert!(
        !text.contains("permission") && !text.contains("/etc"),
        "{text}"
    );
    stop(http).await;
}

#[tokio::test]
async fn the_content_type_check_is_exact_and_ignores_case() {
    let http = serve(HttpConfig::default()).await;
    let addr = http.local_addr();
    let body = modern_body("tools/list", json!({}));
    let with_type = |content_type: &'static str| {
        let body = body.clone();
        async move {
            request(
                addr,
                "POST",
                "/mcp",
                &[
                    ("content-type", content_type),
                    ACCEPT,
                    ("mcp-protocol-version", "2026-07-28"),
                    ("mcp-method", "tools/list"),
                ],
                body.as_bytes(),
            )
            .await
            .status
        }
    };
    assert_eq!(with_type("Application/JSON; charset=utf-8").await, 200);
    assert_eq!(with_type("application/json").await, 200);
    assert_eq!(with_type("application/jsonx").await, 415);
    assert_eq!(with_type("text/plain").await, 415);
    stop(http).await;
}

#[tokio::test]
async fn a_bad_endpoint_path_is_a_clear_start_up_error() {
    for (path, says) in [
        ("mcp", "must start with `/`"),
        ("/healthz", "is taken"),
        ("/readyz", "is taken"),
        ("/mcp/{x}", "must not contain"),
        ("/", "is taken"),
    ] {
        let error = platform_runtime::transport::http::start(
            server(None, Arc::new(InProcessCache::default())),
            HttpConfig {
                bind: SocketAddr::from(([127, 0, 0, 1], 0)),
                path: path.into(),
                ..HttpConfig::default()
            },
        )
        .await
        .err()
        .unwrap_or_else(|| panic!("`{path}` was accepted"));
        assert!(error.to_string().contains(says), "{path}: {error}");
    }
}

#[tokio::test]
async fn deep_nesting_and_malformed_bodies_leave_the_server_serving() {
    let http = serve(HttpConfig::default()).await;
    let addr = http.local_addr();
    let deep = format!("{}{}", "[".repeat(200_000), "]".repeat(200_000));
    let reply = request(addr, "POST", "/mcp", &[JSON, ACCEPT], deep.as_bytes()).await;
    assert_eq!(reply.status, 400);
    let reply = request(addr, "POST", "/mcp", &[JSON, ACCEPT], b"{\"jsonrpc\":").await;
    assert_eq!(reply.status, 400);
    assert_eq!(request(addr, "GET", "/healthz", &[], b"").await.status, 200);
    stop(http).await;
}
