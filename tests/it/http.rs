//! Streamable HTTP: the protections the spec requires and the probes operators use, over
//! real sockets on 127.0.0.1 with a minimal HTTP/1.1 client.

use std::net::SocketAddr;
use std::time::Duration;

use platform_runtime::prelude::*;
use platform_runtime::transport::http::{HttpConfig, HttpServer, start};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Add two integers.
#[tool(read_only)]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

async fn serve(config: HttpConfig) -> HttpServer {
    serve_with(
        Server::builder("http").tools(tools![add]).build().unwrap(),
        config,
    )
    .await
}

/// Serve `server` on a free loopback port.
pub(crate) async fn serve_with(server: Server, config: HttpConfig) -> HttpServer {
    start(
        server,
        HttpConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            ..config
        },
    )
    .await
    .unwrap()
}

/// Stop `http` without the drain delay (tests that look at draining use `shutdown`).
pub(crate) async fn stop(http: HttpServer) {
    http.shutdown_after(Duration::ZERO).await.unwrap();
}

/// The status code, headers (lowercased names) and as much body as arrived.
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
}

impl Reply {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

pub(crate) async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    request_from(None, addr, method, path, headers, body).await
}

/// [`request`] from a given loopback address (`127.0.0.2`, …), as another client.
pub(crate) async fn request_from(
    from: Option<std::net::IpAddr>,
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let mut stream = match from {
        None => TcpStream::connect(addr).await.unwrap(),
        Some(ip) => {
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.bind(SocketAddr::new(ip, 0)).unwrap();
            socket.connect(addr).await.unwrap()
        }
    };
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let _ = stream.write_all(body).await; // the server may answer before reading it all
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await;
        match read {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => raw.extend_from_slice(&buf[..n]),
            Err(_) => break, // a streaming (SSE) body: what arrived is enough
        }
        if raw.windows(4).any(|w| w == b"\r\n\r\n") && !raw.starts_with(b"HTTP/1.1 100") {
            let text = String::from_utf8_lossy(&raw);
            // An SSE body is complete enough once an event carrying a message has ended (a
            // priming event with empty data comes first).
            if text.contains("text/event-stream")
                && text
                    .rsplit_once("data: {")
                    .is_some_and(|(_, event)| event.contains("\n\n"))
            {
                break;
            }
        }
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let text = text
        .strip_prefix("HTTP/1.1 100 Continue\r\n\r\n")
        .unwrap_or(&text)
        .to_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Reply {
        status,
        headers,
        body: body.to_owned(),
    }
}

/// A new legacy session's id (`initialize` answered with `Mcp-Session-Id`).
pub(crate) async fn legacy_session(addr: SocketAddr) -> String {
    let init = request(addr, "POST", "/mcp", &[JSON, ACCEPT], INITIALIZE.as_bytes()).await;
    assert_eq!(init.status, 200, "{}", init.body);
    init.header("mcp-session-id")
        .expect("initialize answers with a session id")
        .to_owned()
}

pub(crate) const JSON: (&str, &str) = ("content-type", "application/json");
pub(crate) const ACCEPT: (&str, &str) = ("accept", "application/json, text/event-stream");
pub(crate) const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;
const MODERN_LIST: &str = r#"{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}"#;

#[tokio::test]
async fn health_and_readiness_probes_answer() {
    let http = serve(HttpConfig::default()).await;
    assert_eq!(
        request(http.local_addr(), "GET", "/healthz", &[], b"")
            .await
            .status,
        200
    );
    assert_eq!(
        request(http.local_addr(), "GET", "/readyz", &[], b"")
            .await
            .status,
        200
    );
    stop(http).await;
}

#[tokio::test]
async fn both_eras_are_served_on_one_endpoint() {
    let http = serve(HttpConfig::default()).await;
    let addr = http.local_addr();
    let legacy = request(addr, "POST", "/mcp", &[JSON, ACCEPT], INITIALIZE.as_bytes()).await;
    assert_eq!(legacy.status, 200);
    assert!(
        legacy.header("mcp-session-id").is_some(),
        "legacy initialize opens a session"
    );
    let modern = request(
        addr,
        "POST",
        "/mcp",
        &[
            JSON,
            ACCEPT,
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "tools/list"),
        ],
        MODERN_LIST.as_bytes(),
    )
    .await;
    assert_eq!(modern.status, 200);
    assert_eq!(
        modern.header("content-type"),
        Some("application/json"),
        "plain JSON, no SSE"
    );
    assert!(modern.body.contains(r#""name":"add""#), "{}", modern.body);
    assert!(
        modern.header("mcp-session-id").is_none(),
        "2026-07-28 is stateless"
    );
    stop(http).await;
}

#[tokio::test]
async fn a_bad_origin_with_a_good_host_is_forbidden() {
    let http = serve(HttpConfig::default()).await;
    let addr = http.local_addr();
    let evil = request(
        addr,
        "POST",
        "/mcp",
        &[JSON, ACCEPT, ("origin", "http://evil.example")],
        INITIALIZE.as_bytes(),
    )
    .await;
    assert_eq!(evil.status, 403);
    let local = request(
        addr,
        "POST",
        "/mcp",
        &[JSON, ACCEPT, ("origin", "http://localhost:3000")],
        INITIALIZE.as_bytes(),
    )
    .await;
    assert_eq!(local.status, 200, "loopback origins are allowed by default");
    stop(http).await;
}

#[tokio::test]
async fn a_disallowed_host_is_forbidden_and_an_allowed_one_passes() {
    let config = HttpConfig {
        allowed_hosts: vec!["mcp.example.com".into()],
        ..HttpConfig::default()
    };
    let http = serve(config).await;
    let addr = http.local_addr();
    // The request line's Host is overridden by the explicit header below.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let body = INITIALIZE;
    let head = format!(
        "POST /mcp HTTP/1.1\r\nhost: evil.example\r\nconnection: close\r\ncontent-type: application/json\r\naccept: application/json, text/event-stream\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut raw = vec![0u8; 64];
    let n = stream.read(&mut raw).await.unwrap();
    assert!(String::from_utf8_lossy(&raw[..n]).starts_with("HTTP/1.1 403"));
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = head.replace("host: evil.example", "host: mcp.example.com");
    stream.write_all(head.as_bytes()).await.unwrap();
    let n = stream.read(&mut raw).await.unwrap();
    assert!(String::from_utf8_lossy(&raw[..n]).starts_with("HTTP/1.1 200"));
    stop(http).await;
}

#[tokio::test]
async fn an_oversized_body_gets_413() {
    let http = serve(HttpConfig {
        max_body_bytes: 1024,
        ..HttpConfig::default()
    })
    .await;
    let big = vec![b'a'; 4096];
    let reply = request(http.local_addr(), "POST", "/mcp", &[JSON, ACCEPT], &big).await;
    assert_eq!(reply.status, 413);
    stop(http).await;
}

#[tokio::test]
async fn shutdown_turns_readiness_off_before_closing_the_listener() {
    let http = serve(HttpConfig {
        shutdown_grace: Duration::from_secs(2),
        drain_delay: Duration::from_secs(3),
        ..HttpConfig::default()
    })
    .await;
    let addr = http.local_addr();
    assert_eq!(request(addr, "GET", "/readyz", &[], b"").await.status, 200);
    let stopping = tokio::spawn(http.shutdown());
    // During the drain delay the server still accepts, and says it is not ready.
    let mut draining = false;
    for _ in 0..200 {
        let reply = request(addr, "GET", "/readyz", &[], b"").await;
        if reply.status == 503 {
            assert_eq!(reply.body, "draining");
            draining = true;
            break;
        }
        assert_eq!(reply.status, 200);
        tokio::task::yield_now().await;
    }
    assert!(draining, "/readyz turned 503 while the listener was open");
    assert_eq!(request(addr, "GET", "/healthz", &[], b"").await.status, 200);
    tokio::time::timeout(Duration::from_secs(10), stopping)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "the listener is closed"
    );
}

/// The body of a JSON-RPC error reply, parsed.
fn error_code(reply: &Reply) -> Option<i64> {
    let value: serde_json::Value = serde_json::from_str(reply.body.trim()).ok()?;
    value["error"]["code"].as_i64()
}

#[tokio::test]
async fn the_legacy_session_lifecycle_answers_with_the_spec_statuses() {
    let http = serve(HttpConfig::default()).await;
    let addr = http.local_addr();
    let session = legacy_session(addr).await;
    let in_session = |version: &'static str| {
        [
            JSON,
            ACCEPT,
            ("mcp-session-id", session.as_str()),
            ("mcp-protocol-version", version),
        ]
    };
    let initialized = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    let list = r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#;

    let notified = request(
        addr,
        "POST",
        "/mcp",
        &in_session("2025-11-25"),
        initialized.as_bytes(),
    )
    .await;
    assert_eq!(
        notified.status, 202,
        "a notification is accepted without a body"
    );
    let listed = request(
        addr,
        "POST",
        "/mcp",
        &in_session("2025-11-25"),
        list.as_bytes(),
    )
    .await;
    assert_eq!(listed.status, 200);
    assert!(listed.body.contains(r#""name":"add""#), "{}", listed.body);

    let bad_version = request(
        addr,
        "POST",
        "/mcp",
        &in_session("1999-01-01"),
        list.as_bytes(),
    )
    .await;
    assert_eq!(
        bad_version.status, 400,
        "an unsupported MCP-Protocol-Version"
    );
    let no_session = request(addr, "POST", "/mcp", &[JSON, ACCEPT], list.as_bytes()).await;
    assert_eq!(no_session.status, 400, "a legacy request needs its session");
    let unknown = request(
        addr,
        "POST",
        "/mcp",
        &[JSON, ACCEPT, ("mcp-session-id", "no-such-session")],
        list.as_bytes(),
    )
    .await;
    assert_eq!(unknown.status, 404, "an unknown session is not found");

    let deleted = request(
        addr,
        "DELETE",
        "/mcp",
        &[("mcp-session-id", session.as_str())],
        b"",
    )
    .await;
    assert_eq!(deleted.status, 200, "the client ends its session");
    let after = request(
        addr,
        "POST",
        "/mcp",
        &in_session("2025-11-25"),
        list.as_bytes(),
    )
    .await;
    assert_eq!(after.status, 404, "a deleted session is gone");
    stop(http).await;
}

#[tokio::test]
async fn malformed_bodies_get_json_rpc_errors_not_media_type_errors() {
    let http = serve(HttpConfig::default()).await;
    let addr = http.local_addr();
    let broken = request(addr, "POST", "/mcp", &[JSON, ACCEPT], br#"{"jsonrpc":"#).await;
    assert_eq!(broken.status, 400);
    assert_eq!(error_code(&broken), Some(-32700), "{}", broken.body);
    let not_rpc = request(addr, "POST", "/mcp", &[JSON, ACCEPT], br#"{"foo":1}"#).await;
    assert_eq!(not_rpc.status, 400);
    assert_eq!(error_code(&not_rpc), Some(-32600), "{}", not_rpc.body);
    let wrong_type = request(
        addr,
        "POST",
        "/mcp",
        &[("content-type", "text/plain"), ACCEPT],
        INITIALIZE.as_bytes(),
    )
    .await;
    assert_eq!(wrong_type.status, 415, "only JSON bodies are accepted");
    let no_accept = request(addr, "POST", "/mcp", &[JSON], INITIALIZE.as_bytes()).await;
    assert_eq!(no_accept.status, 406, "the client must accept JSON and SSE");
    // The server still serves.
    let init = request(addr, "POST", "/mcp", &[JSON, ACCEPT], INITIALIZE.as_bytes()).await;
    assert_eq!(init.status, 200);
    stop(http).await;
}

#[tokio::test]
async fn modern_requests_must_name_their_method_in_the_headers() {
    let http = serve(HttpConfig::default()).await;
    let addr = http.local_addr();
    let modern = |method: &'static str| {
        [
            JSON,
            ACCEPT,
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", method),
        ]
    };
    let mismatch = request(
        addr,
        "POST",
        "/mcp",
        &modern("tools/call"),
        MODERN_LIST.as_bytes(),
    )
    .await;
    assert_eq!(mismatch.status, 400, "Mcp-Method must match the body");
    let cancelled =
        r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":9}}"#;
    let notified = request(
        addr,
        "POST",
        "/mcp",
        &modern("notifications/cancelled"),
        cancelled.as_bytes(),
    )
    .await;
    assert_eq!(notified.status, 202);
    let call = r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"add","arguments":{"a":2,"b":3},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}"#;
    let mut headers = modern("tools/call").to_vec();
    headers.push(("mcp-name", "add"));
    let called = request(addr, "POST", "/mcp", &headers, call.as_bytes()).await;
    assert_eq!(called.status, 200, "{}", called.body);
    assert!(called.body.contains(r#""text":"5""#), "{}", called.body);
    let wrong_name = {
        let mut headers = modern("tools/call").to_vec();
        headers.push(("mcp-name", "subtract"));
        request(addr, "POST", "/mcp", &headers, call.as_bytes()).await
    };
    assert_eq!(wrong_name.status, 400, "Mcp-Name must match the tool");
    stop(http).await;
}

#[tokio::test]
async fn every_request_carries_a_request_id_that_middleware_can_read() {
    use platform_runtime::middleware::{McpRequest, Next, from_fn};
    use std::sync::{Arc, Mutex};
    let seen: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
    let record = seen.clone();
    let server = Server::builder("http")
        .tools(tools![add])
        .layer(from_fn(move |request: McpRequest, next: Next| {
            record
                .lock()
                .unwrap()
                .push(request.http_request_id().map(str::to_owned));
            next.run(request)
        }))
        .build()
        .unwrap();
    let http = serve_with(server, HttpConfig::default()).await;
    let addr = http.local_addr();
    let modern = [
        JSON,
        ACCEPT,
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", "tools/list"),
    ];
    let mut with_id = modern.to_vec();
    with_id.push(("x-request-id", "trace-abc-123"));
    let echoed = request(addr, "POST", "/mcp", &with_id, MODERN_LIST.as_bytes()).await;
    assert_eq!(echoed.status, 200);
    assert_eq!(echoed.header("x-request-id"), Some("trace-abc-123"));

    let assigned = request(addr, "POST", "/mcp", &modern, MODERN_LIST.as_bytes()).await;
    let first = assigned.header("x-request-id").unwrap().to_owned();
    let again = request(addr, "POST", "/mcp", &modern, MODERN_LIST.as_bytes()).await;
    assert_ne!(
        again.header("x-request-id"),
        Some(first.as_str()),
        "ids are unique"
    );

    let long = "x".repeat(200);
    let mut unusable = modern.to_vec();
    unusable.push(("x-request-id", long.as_str()));
    let replaced = request(addr, "POST", "/mcp", &unusable, MODERN_LIST.as_bytes()).await;
    let replaced_id = replaced.header("x-request-id").unwrap();
    assert!(
        replaced_id != long && !replaced_id.is_empty(),
        "an oversized id is replaced"
    );

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert_eq!(seen[0].as_deref(), Some("trace-abc-123"));
    assert_eq!(
        seen[1].as_deref(),
        Some(first.as_str()),
        "middleware sees the assigned id"
    );
    stop(http).await;
}

#[tokio::test]
async fn get_and_delete_follow_each_era_and_versions_must_agree() {
    let http = serve(HttpConfig::default()).await;
    let addr = http.local_addr();
    let session = legacy_session(addr).await;
    let sse = ("accept", "text/event-stream");

    // GET: a legacy session's server-to-client stream; nothing for 2026-07-28.
    let stream = request(
        addr,
        "GET",
        "/mcp",
        &[
            sse,
            ("mcp-session-id", session.as_str()),
            ("mcp-protocol-version", "2025-11-25"),
        ],
        b"",
    )
    .await;
    assert_eq!(stream.status, 200);
    assert_eq!(stream.header("content-type"), Some("text/event-stream"));
    let no_session = request(addr, "GET", "/mcp", &[sse], b"").await;
    assert_eq!(no_session.status, 400, "a legacy GET needs its session");
    let modern_get = request(
        addr,
        "GET",
        "/mcp",
        &[sse, ("mcp-protocol-version", "2026-07-28")],
        b"",
    )
    .await;
    assert_eq!(modern_get.status, 405);
    assert_eq!(modern_get.header("allow"), Some("POST"));

    // DELETE: ends a legacy session; there is none to end on 2026-07-28.
    let no_session = request(addr, "DELETE", "/mcp", &[], b"").await;
    assert_eq!(no_session.status, 400);
    let modern_delete = request(
        addr,
        "DELETE",
        "/mcp",
        &[("mcp-protocol-version", "2026-07-28")],
        b"",
    )
    .await;
    assert_eq!(modern_delete.status, 405);
    assert_eq!(modern_delete.header("allow"), Some("POST"));

    // 2026-07-28: the header and the body's _meta must both name the version, and agree.
    let list_headers = |version: Option<&'static str>| {
        let mut headers = vec![JSON, ACCEPT, ("mcp-method", "tools/list")];
        headers.extend(version.map(|v| ("mcp-protocol-version", v)));
        headers
    };
    let missing_header = request(
        addr,
        "POST",
        "/mcp",
        &list_headers(None),
        MODERN_LIST.as_bytes(),
    )
    .await;
    assert_eq!(missing_header.status, 400);
    assert!(
        missing_header.body.contains("-32020"),
        "{}",
        missing_header.body
    );
    let disagreeing = request(
        addr,
        "POST",
        "/mcp",
        &list_headers(Some("2025-11-25")),
        MODERN_LIST.as_bytes(),
    )
    .await;
    assert_eq!(disagreeing.status, 400);
    assert!(
        disagreeing.body.contains("does not match"),
        "{}",
        disagreeing.body
    );
    let no_meta = r#"{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{}}"#;
    let missing_meta = request(
        addr,
        "POST",
        "/mcp",
        &list_headers(Some("2026-07-28")),
        no_meta.as_bytes(),
    )
    .await;
    assert_eq!(missing_meta.status, 400);
    assert!(
        missing_meta.body.contains("-32602"),
        "{}",
        missing_meta.body
    );
    assert_eq!(
        http.served_directly(),
        0,
        "none of these is served directly"
    );
    stop(http).await;
}

#[tokio::test]
async fn an_idle_legacy_session_is_reaped() {
    let http = serve(HttpConfig {
        session_idle_timeout: Duration::from_millis(100),
        ..HttpConfig::default()
    })
    .await;
    let addr = http.local_addr();
    let session = legacy_session(addr).await;
    let headers = [
        JSON,
        ACCEPT,
        ("mcp-session-id", session.as_str()),
        ("mcp-protocol-version", "2025-11-25"),
    ];
    let list = r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#;
    let live = request(addr, "POST", "/mcp", &headers, list.as_bytes()).await;
    assert_eq!(live.status, 200, "a fresh session serves");
    // Left alone, the session ends. Each check is activity, so checks are spaced well
    // beyond the idle period; bounded, without timing assertions.
    let reaped = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            tokio::time::sleep(Duration::from_millis(400)).await;
            let reply = request(addr, "POST", "/mcp", &headers, list.as_bytes()).await;
            if reply.status == 404 {
                return;
            }
        }
    })
    .await;
    assert!(reaped.is_ok(), "an idle session is closed and then unknown");
    stop(http).await;
}
