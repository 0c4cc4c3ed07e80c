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
    let server = Server::builder("http").tools(tools![add]).build().unwrap();
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

/// The status code, headers (lowercased names) and as much body as arrived.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let mut stream = TcpStream::connect(addr).await.unwrap();
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
            if text.contains("text/event-stream") && text.contains("\n\n") {
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

const JSON: (&str, &str) = ("content-type", "application/json");
const ACCEPT: (&str, &str) = ("accept", "application/json, text/event-stream");
const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;
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
    http.shutdown().await.unwrap();
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
    http.shutdown().await.unwrap();
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
    http.shutdown().await.unwrap();
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
    http.shutdown().await.unwrap();
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
    http.shutdown().await.unwrap();
}

#[tokio::test]
async fn shutdown_drains_and_returns() {
    let http = serve(HttpConfig {
        shutdown_grace: Duration::from_secs(2),
        ..HttpConfig::default()
    })
    .await;
    let addr = http.local_addr();
    assert_eq!(request(addr, "GET", "/healthz", &[], b"").await.status, 200);
    tokio::time::timeout(Duration::from_secs(5), http.shutdown())
        .await
        .unwrap()
        .unwrap();
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "the listener is closed"
    );
}
