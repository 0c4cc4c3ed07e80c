//! The example binary served over HTTP, configured by environment variables only, against
//! a real issuer on loopback (`TestIssuer`): what the README walks through.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use platform_runtime::testing::TestIssuer;
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// The server process, killed when dropped.
struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One HTTP/1.1 request; the status and the body.
async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String, String) {
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
    stream.write_all(body.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut raw))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_ascii_lowercase(), body.to_owned())
}

/// A 2026-07-28 `tools/call`, with a bearer token when given.
async fn call(addr: SocketAddr, tool: &str, token: Option<&str>) -> (u16, String, String) {
    let body = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"{tool}","arguments":{{}},"_meta":{{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{{}}}}}}}}"#
    );
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![
        ("content-type", "application/json"),
        ("accept", "application/json, text/event-stream"),
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", "tools/call"),
        ("mcp-name", tool),
    ];
    if let Some(auth) = &auth {
        headers.push(("authorization", auth));
    }
    http(addr, "POST", "/mcp", &headers, &body).await
}

fn text(body: &str) -> String {
    let reply: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("{body}"));
    match reply["result"]["content"][0]["text"].as_str() {
        Some(text) => text.to_owned(),
        None => reply["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_verified_callers_get_in_and_only_admins_reset_the_cache() {
    let issuer = TestIssuer::start().await.unwrap();
    let port = free_port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let audience = format!("http://127.0.0.1:{port}/mcp");
    let empty = std::env::temp_dir().join(format!("auth-http-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let _server = Served(
        Command::new(env!("CARGO_BIN_EXE_auth-http"))
            .current_dir(&empty)
            .env("PLATFORM_TRANSPORT__KIND", "http")
            .env("PLATFORM_TRANSPORT__BIND", addr.to_string())
            .env("PLATFORM_AUTH__JWT__ISSUER", issuer.issuer())
            .env("PLATFORM_AUTH__JWT__AUDIENCE", &audience)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut ready = false;
    for _ in 0..100 {
        if TcpStream::connect(addr).await.is_ok() {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "the server did not start");

    let (status, head, _) = call(addr, "whoami", None).await;
    assert_eq!(status, 401);
    assert!(
        head.contains(&format!(
            "resource_metadata=\"http://127.0.0.1:{port}/.well-known/oauth-protected-resource/mcp\""
        )),
        "{head}"
    );
    let (status, _, metadata) = http(
        addr,
        "GET",
        "/.well-known/oauth-protected-resource/mcp",
        &[],
        "",
    )
    .await;
    assert_eq!(status, 200);
    let metadata: Value = serde_json::from_str(&metadata).unwrap();
    assert_eq!(metadata["resource"], audience);
    assert_eq!(metadata["authorization_servers"][0], issuer.issuer());

    let alice = issuer.token("alice").audience(&audience).sign();
    let (status, _, body) = call(addr, "whoami", Some(&alice)).await;
    assert_eq!((status, text(&body)), (200, "alice".to_owned()), "{body}");
    let (_, _, body) = call(addr, "reset_cache", Some(&alice)).await;
    assert_eq!(text(&body), "the tool `reset_cache` needs the role `admin`");
    let root = issuer
        .token("root")
        .audience(&audience)
        .roles(["admin"])
        .sign();
    let (_, _, body) = call(addr, "reset_cache", Some(&root)).await;
    assert_eq!(text(&body), "cache reset by root (reset #1)");
    let elsewhere = issuer
        .token("alice")
        .audience("https://other.example/mcp")
        .sign();
    assert_eq!(call(addr, "whoami", Some(&elsewhere)).await.0, 401);
    let _ = std::fs::remove_dir_all(&empty);
}

/// The tools a stdio client sees, with `environment` set for the server.
fn stdio_tools(environment: &[(&str, &str)]) -> Vec<String> {
    use std::io::{BufRead as _, BufReader, Write as _};
    let empty = std::env::temp_dir().join(format!("auth-http-stdio-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_auth-http"));
    command
        .current_dir(&empty)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (name, value) in environment {
        command.env(name, value);
    }
    let mut served = Served(command.spawn().unwrap());
    let mut stdin = served.0.stdin.take().unwrap();
    let mut stdout = BufReader::new(served.0.stdout.take().unwrap());
    let messages = [
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#,
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#,
    ];
    for message in messages {
        writeln!(stdin, "{message}").unwrap();
    }
    stdin.flush().unwrap();
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "the server closed stdout"
        );
        let reply: Value = serde_json::from_str(&line).unwrap();
        if reply["id"] == 2 {
            return reply["result"]["tools"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["name"].as_str().unwrap().to_owned())
                .collect();
        }
    }
}

#[test]
fn over_stdio_the_local_operator_s_roles_apply() {
    assert_eq!(stdio_tools(&[]), ["whoami"]);
    assert_eq!(
        stdio_tools(&[("PLATFORM_AUTH__OPERATOR__ROLES", r#"["admin"]"#)]),
        ["whoami", "reset_cache"]
    );
}
