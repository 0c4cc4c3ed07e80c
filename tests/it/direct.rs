//! Direct dispatch over HTTP of plain 2026-07-28 requests and of legacy session requests:
//! the same replies as the SDK's service gives (in one JSON body instead of a stream), for
//! exactly the requests that cannot stream; everything else handed over.

use std::sync::Arc;
use std::time::Duration;

use platform_runtime::prelude::*;
use platform_runtime::transport::http::{HttpConfig, HttpServer};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt as _;
use tokio::sync::Notify;

use super::http::{ACCEPT, JSON, Reply, request, serve_with};

/// Add two integers.
#[tool(read_only)]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

/// Refuse with the given reason.
#[tool]
fn refuse(reason: String) -> Result<String, ToolError> {
    Err(ToolError::new(reason))
}

/// Fail internally.
#[tool]
fn crash() -> Result<String, ToolError> {
    Err(ToolError::internal("the disk is on fire"))
}

/// Needs a capability no test client declares.
#[tool]
fn needs_elicitation() -> Result<String, ToolError> {
    Err(ToolError::missing_client_capability("elicitation"))
}

/// Who is calling, in which protocol version, with which request-id header.
#[tool]
fn whoami(ctx: Context) -> String {
    format!("{:?} {:?}", ctx.client(), ctx.protocol_version())
}

/// Report progress, then answer.
#[tool]
async fn slow_count(ctx: Context) -> i64 {
    ctx.progress(1.0, Some(2.0), None).await;
    ctx.progress(2.0, Some(2.0), None).await;
    2
}

/// Never finish; say so when the request is cancelled (from work outliving the handler,
/// which is dropped with the request).
#[tool]
async fn wait_for_cancel(ctx: Context, State(seen): State<Arc<Notify>>) -> String {
    let token = ctx.cancellation_token();
    tokio::spawn(async move {
        token.cancelled().await;
        seen.notify_one();
    });
    std::future::pending::<String>().await
}

/// Report progress, wait, report again, then answer.
#[tool]
async fn paced_count(ctx: Context) -> i64 {
    ctx.progress(1.0, Some(2.0), Some("first")).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    ctx.progress(2.0, Some(2.0), Some("second")).await;
    2
}

/// Log a line to the client, then answer.
#[tool]
async fn chatty(ctx: Context) -> String {
    ctx.info("chatty was here").await;
    "said".to_owned()
}

/// Log an error line to the client, then answer.
#[tool]
async fn alarm(ctx: Context) -> String {
    ctx.error("alarm raised").await;
    "raised".to_owned()
}

/// Greeting template.
#[resource("hello://{name}")]
fn hello(name: String) -> String {
    format!("hello {name}")
}

/// Shout a word.
#[prompt]
fn shout(word: String) -> String {
    word.to_uppercase()
}

fn server() -> Server {
    server_noting_cancellation(Arc::new(Notify::new()))
}

fn server_noting_cancellation(seen: Arc<Notify>) -> Server {
    Server::builder("direct")
        .tools(tools![
            add,
            refuse,
            crash,
            needs_elicitation,
            whoami,
            slow_count,
            wait_for_cancel,
            chatty,
            alarm,
            paced_count
        ])
        .resources(resources![hello])
        .prompts(prompts![shout])
        .state(seen)
        .build()
        .unwrap()
}

async fn serve(direct: bool) -> HttpServer {
    serve_with(
        server(),
        HttpConfig {
            direct_dispatch: direct,
            ..HttpConfig::default()
        },
    )
    .await
}

/// A 2026-07-28 request body: `params` with the required `_meta` plus `meta`.
fn body(method: &str, params: Value, meta: Value) -> String {
    let mut all = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": { "name": "parity", "version": "1.0" },
    });
    if let (Some(all), Some(extra)) = (all.as_object_mut(), meta.as_object()) {
        for (key, value) in extra {
            if value.is_null() {
                all.remove(key);
            } else {
                all.insert(key.clone(), value.clone());
            }
        }
    }
    let mut params = params;
    params["_meta"] = all;
    json!({ "jsonrpc": "2.0", "id": 7, "method": method, "params": params }).to_string()
}

/// One request of the parity table.
struct Case {
    what: &'static str,
    method: &'static str,
    name: Option<&'static str>,
    params: Value,
    meta: Value,
    /// Headers beyond content type, accept, protocol version, method and name.
    extra: Vec<(&'static str, &'static str)>,
    /// Whether direct dispatch serves it (otherwise it is handed to the SDK).
    direct: bool,
}

fn case(
    what: &'static str,
    method: &'static str,
    name: Option<&'static str>,
    params: Value,
) -> Case {
    Case {
        what,
        method,
        name,
        params,
        meta: json!({}),
        extra: Vec::new(),
        direct: true,
    }
}

fn cases() -> Vec<Case> {
    let call = |what, tool: &'static str, arguments: Value| {
        case(
            what,
            "tools/call",
            Some(tool),
            json!({ "name": tool, "arguments": arguments }),
        )
    };
    let handed_over = |mut case: Case| {
        case.direct = false;
        case
    };
    vec![
        call("a call", "add", json!({ "a": 2, "b": 3 })),
        call("a call of an unknown tool", "nope", json!({})),
        call("wrong argument types", "add", json!({ "a": "two", "b": 3 })),
        call("a tool error", "refuse", json!({ "reason": "not today" })),
        call("an internal error", "crash", json!({})),
        call(
            "a missing client capability",
            "needs_elicitation",
            json!({}),
        ),
        call("the caller as handlers see it", "whoami", json!({})),
        case("tools/list", "tools/list", None, json!({})),
        case("prompts/list", "prompts/list", None, json!({})),
        case("resources/list", "resources/list", None, json!({})),
        case(
            "resources/templates/list",
            "resources/templates/list",
            None,
            json!({}),
        ),
        case(
            "a read",
            "resources/read",
            Some("hello://ada"),
            json!({ "uri": "hello://ada" }),
        ),
        case(
            "a read of an unknown resource",
            "resources/read",
            Some("nothing://here"),
            json!({ "uri": "nothing://here" }),
        ),
        case(
            "a prompt",
            "prompts/get",
            Some("shout"),
            json!({ "name": "shout", "arguments": { "word": "hey" } }),
        ),
        case(
            "a completion",
            "completion/complete",
            None,
            json!({
                "ref": { "type": "ref/resource", "uri": "hello://{name}" },
                "argument": { "name": "name", "value": "a" },
            }),
        ),
        case("a ping", "ping", None, json!({})),
        // Handed to the SDK: replies that may stream, doubtful headers, malformed metadata.
        handed_over(Case {
            meta: json!({ "progressToken": "p1" }),
            ..call("a call with a progress token", "slow_count", json!({}))
        }),
        handed_over(Case {
            meta: json!({ "io.modelcontextprotocol/logLevel": "debug" }),
            ..call(
                "a call asking for log messages",
                "add",
                json!({ "a": 1, "b": 1 }),
            )
        }),
        handed_over(Case {
            name: Some("subtract"),
            ..call("a mismatched Mcp-Name", "add", json!({ "a": 1, "b": 1 }))
        }),
        handed_over(Case {
            meta: json!({ "io.modelcontextprotocol/clientCapabilities": null }),
            ..call(
                "metadata without capabilities",
                "add",
                json!({ "a": 1, "b": 1 }),
            )
        }),
        handed_over(Case {
            extra: vec![("origin", "http://localhost:3000")],
            ..call("a browser origin", "add", json!({ "a": 1, "b": 1 }))
        }),
        handed_over(Case {
            extra: vec![("mcp-method", "tools/call")],
            ..call("a repeated Mcp-Method", "add", json!({ "a": 1, "b": 1 }))
        }),
        handed_over(case("server/discover", "server/discover", None, json!({}))),
    ]
}

async fn send(http: &HttpServer, case: &Case) -> Reply {
    let mut headers = vec![
        JSON,
        ACCEPT,
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", case.method),
    ];
    if let Some(name) = case.name {
        headers.push(("mcp-name", name));
    }
    headers.extend(case.extra.iter().copied());
    let body = body(case.method, case.params.clone(), case.meta.clone());
    request(http.local_addr(), "POST", "/mcp", &headers, body.as_bytes()).await
}

/// The reply with what legitimately differs between two servers (error references,
/// generated request ids) blanked out.
fn comparable(reply: &Reply) -> (u16, Option<String>, Value) {
    fn blank_references(value: &mut Value) {
        match value {
            Value::String(text) => {
                if let Some(at) = text.find("(reference ") {
                    text.truncate(at);
                }
            }
            Value::Array(items) => items.iter_mut().for_each(blank_references),
            Value::Object(object) => object.values_mut().for_each(blank_references),
            _ => {}
        }
    }
    let content_type = reply
        .header("content-type")
        .map(|v| v.split(';').next().unwrap_or_default().to_owned());
    let mut body = if content_type.as_deref() == Some("text/event-stream") {
        // The SSE payloads, in order.
        Value::Array(
            reply
                .body
                .lines()
                .filter_map(|line| line.strip_prefix("data:"))
                .filter_map(|data| serde_json::from_str(data.trim()).ok())
                .collect(),
        )
    } else {
        serde_json::from_str(&reply.body).unwrap_or(Value::String(reply.body.clone()))
    };
    blank_references(&mut body);
    (reply.status, content_type, body)
}

#[tokio::test]
async fn direct_dispatch_answers_exactly_as_the_sdk_and_only_where_it_may() {
    let direct = serve(true).await;
    let sdk = serve(false).await;
    for case in cases() {
        let before = direct.served_directly();
        let fast = send(&direct, &case).await;
        let served = direct.served_directly() - before;
        let slow = send(&sdk, &case).await;
        assert_eq!(
            served,
            u64::from(case.direct),
            "{}: served directly {served} times",
            case.what
        );
        assert_eq!(
            comparable(&fast),
            comparable(&slow),
            "{}: direct and SDK replies differ",
            case.what
        );
        assert!(fast.status != 0, "{}: no reply", case.what);
    }
    assert_eq!(sdk.served_directly(), 0, "direct dispatch off means off");
    crate::http::stop(direct).await;
    crate::http::stop(sdk).await;
}

#[tokio::test]
async fn an_oversized_direct_candidate_gets_the_same_413() {
    let limited = |direct| HttpConfig {
        direct_dispatch: direct,
        max_body_bytes: 1024,
        ..HttpConfig::default()
    };
    let direct = serve_with(server(), limited(true)).await;
    let sdk = serve_with(server(), limited(false)).await;
    let big = Case {
        params: json!({ "name": "refuse", "arguments": { "reason": "x".repeat(2000) } }),
        ..case("an oversized call", "tools/call", Some("refuse"), json!({}))
    };
    let fast = send(&direct, &big).await;
    let slow = send(&sdk, &big).await;
    assert_eq!(fast.status, 413);
    assert_eq!((fast.status, &fast.body), (slow.status, &slow.body));
    assert_eq!(direct.served_directly(), 0);
    crate::http::stop(direct).await;
    crate::http::stop(sdk).await;
}

#[tokio::test]
async fn direct_replies_carry_the_results_the_handlers_made() {
    let http = serve(true).await;
    let all = cases();
    let by_name = |what: &str| all.iter().find(|c| c.what == what).unwrap();

    let added = send(&http, by_name("a call")).await;
    assert_eq!(added.status, 200);
    assert_eq!(added.header("content-type"), Some("application/json"));
    let added: Value = serde_json::from_str(&added.body).unwrap();
    assert_eq!(added["id"], 7);
    assert_eq!(added["result"]["content"][0]["text"], "5");

    let whoami = send(&http, by_name("the caller as handlers see it")).await;
    let whoami: Value = serde_json::from_str(&whoami.body).unwrap();
    assert_eq!(
        whoami["result"]["content"][0]["text"], r#"Some(("parity", "1.0")) Some("2026-07-28")"#,
        "client info and version come from the request's _meta"
    );

    let missing = send(&http, by_name("a missing client capability")).await;
    assert_eq!(missing.status, 400, "-32021 is a 400 on 2026-07-28");
    let missing: Value = serde_json::from_str(&missing.body).unwrap();
    assert_eq!(missing["error"]["code"], -32021);

    let refused = send(&http, by_name("a tool error")).await;
    let refused: Value = serde_json::from_str(&refused.body).unwrap();
    assert_eq!(refused["result"]["isError"], true);

    let crashed = send(&http, by_name("an internal error")).await;
    assert!(
        !crashed.body.contains("on fire"),
        "internal details stay masked: {}",
        crashed.body
    );

    let progress = send(&http, by_name("a call with a progress token")).await;
    assert_eq!(
        progress.header("content-type"),
        Some("text/event-stream"),
        "a call that may stream goes to the SDK and streams"
    );
    crate::http::stop(http).await;
}

/// Send a `wait_for_cancel` call on a new connection and return once direct dispatch has it.
async fn start_waiting_call(http: &HttpServer) -> tokio::net::TcpStream {
    let call = body(
        "tools/call",
        json!({ "name": "wait_for_cancel", "arguments": {} }),
        json!({}),
    );
    let headers = "mcp-protocol-version: 2026-07-28\r\nmcp-method: tools/call\r\nmcp-name: wait_for_cancel\r\n";
    send_until_dispatched(http, headers, &call).await
}

/// POST `call` with `headers` (lines ending in `\r\n`) on a new connection; the connection,
/// once direct dispatch has the request.
pub(crate) async fn send_until_dispatched(
    http: &HttpServer,
    headers: &str,
    call: &str,
) -> tokio::net::TcpStream {
    let before = http.served_directly();
    let raw = format!(
        "POST /mcp HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\naccept: application/json, text/event-stream\r\n{headers}content-length: {}\r\n\r\n{call}",
        http.local_addr(),
        call.len()
    );
    let mut stream = tokio::net::TcpStream::connect(http.local_addr())
        .await
        .unwrap();
    stream.write_all(raw.as_bytes()).await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), async {
        while http.served_directly() == before {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await
    .expect("the call reaches direct dispatch");
    stream
}

#[tokio::test]
async fn a_client_that_goes_away_cancels_its_direct_request() {
    let seen = Arc::new(Notify::new());
    let http = serve_with(
        server_noting_cancellation(seen.clone()),
        HttpConfig::default(),
    )
    .await;
    let stream = start_waiting_call(&http).await;
    drop(stream);
    tokio::time::timeout(Duration::from_secs(5), seen.notified())
        .await
        .expect("hanging up cancels the request's token");
    crate::http::stop(http).await;
}

#[tokio::test]
async fn shutdown_abandons_a_direct_request_after_the_grace_period_with_503() {
    use tokio::io::AsyncReadExt as _;
    let seen = Arc::new(Notify::new());
    let http = serve_with(
        server_noting_cancellation(seen.clone()),
        HttpConfig {
            shutdown_grace: Duration::from_millis(50),
            ..HttpConfig::default()
        },
    )
    .await;
    let mut stream = start_waiting_call(&http).await;
    crate::http::stop(http).await;
    let mut reply = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut reply))
        .await
        .expect("the connection is answered and closed")
        .unwrap();
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("HTTP/1.1 503"), "{reply}");
    tokio::time::timeout(Duration::from_secs(5), seen.notified())
        .await
        .expect("the abandoned request's token is cancelled");
}

#[tokio::test]
async fn a_panic_past_the_middleware_is_an_internal_error_not_a_dropped_connection() {
    use platform_runtime::middleware::{McpRequest, Next, from_fn};
    let server = Server::builder("panicky")
        .without_default_middleware()
        .tools(tools![add])
        .layer(from_fn(|request: McpRequest, next: Next| async move {
            if request.target() == Some("add") {
                panic!("a middleware bug");
            }
            next.run(request).await
        }))
        .build()
        .unwrap();
    let http = serve_with(server, HttpConfig::default()).await;
    let all = cases();
    let call = all.iter().find(|c| c.what == "a call").unwrap();
    let reply = send(&http, call).await;
    assert_eq!(http.served_directly(), 1);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let reply: Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(reply["error"]["code"], -32603);
    let message = reply["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("internal error (reference "),
        "{message}"
    );
    assert!(
        !message.contains("middleware bug"),
        "details stay in the log"
    );
    // The server is still serving.
    let listed = send(&http, all.iter().find(|c| c.what == "tools/list").unwrap()).await;
    assert_eq!(listed.status, 200);
    crate::http::stop(http).await;
}

#[tokio::test]
async fn a_malformed_body_with_a_modern_head_is_handed_over_and_answered_as_ever() {
    let http = serve(true).await;
    let headers = [
        JSON,
        ACCEPT,
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", "tools/call"),
        ("mcp-name", "add"),
    ];
    let addr = http.local_addr();
    let broken = request(addr, "POST", "/mcp", &headers, b"{\"jsonrpc\":\"2.0\",").await;
    assert_eq!(broken.status, 400, "{}", broken.body);
    assert!(broken.body.contains("-32700"), "{}", broken.body);
    let not_rpc = request(addr, "POST", "/mcp", &headers, b"[1,2,3]").await;
    assert_eq!(not_rpc.status, 400, "{}", not_rpc.body);
    assert!(not_rpc.body.contains("-32600"), "{}", not_rpc.body);
    assert_eq!(http.served_directly(), 0);
    crate::http::stop(http).await;
}

// Legacy sessions (2025-11-25): requests that need no stream are served directly through the
// session's own handler and peer and answered with one JSON body.

const LEGACY: &str = "2025-11-25";

/// Open a legacy session whose client declares `capabilities`; its id.
async fn open_session(http: &HttpServer, capabilities: Value) -> String {
    let initialize = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {
            "protocolVersion": LEGACY,
            "capabilities": capabilities,
            "clientInfo": { "name": "legacy-parity", "version": "2.0" },
        },
    })
    .to_string();
    let addr = http.local_addr();
    let init = request(addr, "POST", "/mcp", &[JSON, ACCEPT], initialize.as_bytes()).await;
    assert_eq!(init.status, 200, "{}", init.body);
    let session = init.header("mcp-session-id").unwrap().to_owned();
    let initialized = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    let headers = session_headers(&session, &[]);
    let ack = request(addr, "POST", "/mcp", &headers, initialized.as_bytes()).await;
    assert_eq!(ack.status, 202, "{}", ack.body);
    session
}

fn session_headers<'a>(session: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut headers = vec![
        JSON,
        ACCEPT,
        ("mcp-session-id", session),
        ("mcp-protocol-version", LEGACY),
    ];
    headers.extend_from_slice(extra);
    headers
}

/// A legacy request body (no protocol metadata in `_meta`; `meta` as given, if any).
fn legacy_body(method: &str, params: Value, meta: &Value) -> String {
    let mut params = params;
    if meta.as_object().is_some_and(|m| !m.is_empty()) {
        params["_meta"] = meta.clone();
    }
    json!({ "jsonrpc": "2.0", "id": 7, "method": method, "params": params }).to_string()
}

async fn send_in_session(http: &HttpServer, session: &str, case: &Case) -> Reply {
    let headers = session_headers(session, &case.extra);
    let body = legacy_body(case.method, case.params.clone(), &case.meta);
    request(http.local_addr(), "POST", "/mcp", &headers, body.as_bytes()).await
}

/// The JSON-RPC messages of a reply, from a JSON body or an SSE stream alike, with error
/// references blanked; and its status.
fn messages(reply: &Reply) -> (u16, Vec<Value>) {
    let (status, _, body) = comparable(reply);
    let messages = match body {
        Value::Array(items) if reply.header("content-type") == Some("text/event-stream") => items,
        other => vec![other],
    };
    (status, messages)
}

fn legacy_cases() -> Vec<Case> {
    let call = |what, tool: &'static str, arguments: Value| {
        case(
            what,
            "tools/call",
            None,
            json!({ "name": tool, "arguments": arguments }),
        )
    };
    let handed_over = |mut case: Case| {
        case.direct = false;
        case
    };
    let mut all: Vec<Case> = cases()
        .into_iter()
        .filter(|c| c.direct)
        .map(|c| Case { name: None, ..c })
        .collect();
    all.extend([
        Case {
            meta: json!({ "progressToken": "p1" }),
            ..call("a call with a progress token", "slow_count", json!({}))
        },
        Case {
            meta: json!({ "progressToken": "p2" }),
            ..call(
                "a progress token and no progress",
                "add",
                json!({ "a": 1, "b": 1 }),
            )
        },
        handed_over(Case {
            extra: vec![("origin", "http://localhost:3000")],
            ..call("a browser origin", "add", json!({ "a": 1, "b": 1 }))
        }),
        Case {
            extra: vec![("mcp-method", "tools/call"), ("mcp-name", "add")],
            ..call(
                "routing headers that match",
                "add",
                json!({ "a": 1, "b": 1 }),
            )
        },
        handed_over(Case {
            extra: vec![("mcp-method", "tools/call"), ("mcp-name", "subtract")],
            ..call(
                "an Mcp-Name that does not match",
                "add",
                json!({ "a": 1, "b": 1 }),
            )
        }),
        handed_over(Case {
            extra: vec![("mcp-method", "prompts/get")],
            ..call(
                "an Mcp-Method that does not match",
                "add",
                json!({ "a": 1, "b": 1 }),
            )
        }),
        handed_over(Case {
            extra: vec![("mcp-param-region", "eu")],
            ..call("an Mcp-Param header", "add", json!({ "a": 1, "b": 1 }))
        }),
        handed_over(case(
            "a subscription",
            "resources/subscribe",
            None,
            json!({ "uri": "hello://ada" }),
        )),
        handed_over(case(
            "a log level",
            "logging/setLevel",
            None,
            json!({ "level": "debug" }),
        )),
    ]);
    all
}

#[tokio::test]
async fn session_requests_are_answered_directly_exactly_as_the_sdk_streams_them() {
    let direct = serve(true).await;
    let sdk = serve(false).await;
    let fast_session = open_session(&direct, json!({})).await;
    let slow_session = open_session(&sdk, json!({})).await;
    for case in legacy_cases() {
        let before = direct.served_directly();
        let fast = send_in_session(&direct, &fast_session, &case).await;
        let served = direct.served_directly() - before;
        let slow = send_in_session(&sdk, &slow_session, &case).await;
        assert_eq!(
            served,
            u64::from(case.direct),
            "{}: served directly {served} times",
            case.what
        );
        assert_eq!(
            messages(&fast),
            messages(&slow),
            "{}: direct and SDK replies differ",
            case.what
        );
        // A direct reply streams only once the handler reports progress.
        let expected = if case.direct && case.what != "a call with a progress token" {
            "application/json"
        } else {
            "text/event-stream"
        };
        assert_eq!(
            fast.header("content-type"),
            Some(expected),
            "{}: {}",
            case.what,
            fast.body
        );
        assert_eq!(
            slow.header("content-type"),
            Some("text/event-stream"),
            "{}",
            case.what
        );
    }
    // The caller as handlers see it: the session's client and negotiated version.
    let whoami = legacy_cases()
        .into_iter()
        .find(|c| c.what == "the caller as handlers see it")
        .unwrap();
    let (_, reply) = messages(&send_in_session(&direct, &fast_session, &whoami).await);
    assert_eq!(
        reply[0]["result"]["content"][0]["text"],
        r#"Some(("legacy-parity", "2.0")) Some("2025-11-25")"#
    );
    // A protocol version header other than the session's, and an unknown session, go to the
    // SDK, which decides.
    let list = legacy_body("tools/list", json!({}), &json!({}));
    let before = direct.served_directly();
    let addr = direct.local_addr();
    let mut other_version = session_headers(&fast_session, &[]);
    other_version[3] = ("mcp-protocol-version", "2025-06-18");
    let reply = request(addr, "POST", "/mcp", &other_version, list.as_bytes()).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("text/event-stream"));
    let unknown = session_headers("no-such-session", &[]);
    let reply = request(addr, "POST", "/mcp", &unknown, list.as_bytes()).await;
    assert_eq!(reply.status, 404);
    assert_eq!(direct.served_directly(), before);
    assert_eq!(sdk.served_directly(), 0, "direct dispatch off means off");
    crate::http::stop(direct).await;
    crate::http::stop(sdk).await;
}

#[tokio::test]
async fn a_session_whose_client_may_be_asked_keeps_its_calls_on_the_stream() {
    let http = serve(true).await;
    let session = open_session(&http, json!({ "elicitation": {} })).await;
    let all = legacy_cases();
    let by_name = |what: &str| all.iter().find(|c| c.what == what).unwrap();
    let before = http.served_directly();
    let call = send_in_session(&http, &session, by_name("a call")).await;
    assert_eq!(call.header("content-type"), Some("text/event-stream"));
    let prompt = send_in_session(&http, &session, by_name("a prompt")).await;
    assert_eq!(prompt.header("content-type"), Some("text/event-stream"));
    assert_eq!(http.served_directly(), before, "a tool might elicit");
    let list = send_in_session(&http, &session, by_name("tools/list")).await;
    assert_eq!(list.header("content-type"), Some("application/json"));
    assert_eq!(http.served_directly(), before + 1, "a list cannot");
    crate::http::stop(http).await;
}

#[tokio::test]
async fn a_session_is_served_only_to_its_owner_on_the_direct_path_too() {
    let http = serve(true).await;
    let session = open_session(&http, json!({})).await;
    let all = legacy_cases();
    let call = all.iter().find(|c| c.what == "a call").unwrap();
    let mine = send_in_session(&http, &session, call).await;
    let (_, mine) = messages(&mine);
    assert_eq!(mine[0]["result"]["content"][0]["text"], "5");
    // A session is addressed by its id alone: a wrong id is unknown, not someone else's.
    let forged = format!("{session}x");
    let reply = send_in_session(&http, &forged, call).await;
    assert_eq!(reply.status, 404);
    crate::http::stop(http).await;
}

/// Read an SSE response on `stream` until a `data:` line contains `needle`; the line.
async fn read_event_with(stream: &mut tokio::net::TcpStream, needle: &str) -> String {
    let seen = read_until_event_with(stream, needle).await;
    seen.lines()
        .find(|line| line.starts_with("data:") && line.contains(needle))
        .unwrap()
        .to_owned()
}

/// Everything read from an event stream up to and including the first event containing
/// `needle`.
async fn read_until_event_with(stream: &mut tokio::net::TcpStream, needle: &str) -> String {
    use tokio::io::AsyncReadExt as _;
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let read = stream.read(&mut buf).await.unwrap();
        assert!(
            read > 0,
            "the stream ended: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buf[..read]);
        let text = String::from_utf8_lossy(&seen);
        if text
            .lines()
            .any(|line| line.starts_with("data:") && line.contains(needle))
        {
            return text.into_owned();
        }
    }
}

/// Open the session's GET stream; returns once its head has arrived.
async fn open_get_stream(http: &HttpServer, session: &str) -> tokio::net::TcpStream {
    let addr = http.local_addr();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let get = format!(
        "GET /mcp HTTP/1.1\r\nhost: {addr}\r\naccept: text/event-stream\r\nmcp-session-id: {session}\r\nmcp-protocol-version: {LEGACY}\r\n\r\n"
    );
    stream.write_all(get.as_bytes()).await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), async {
        use tokio::io::AsyncReadExt as _;
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            assert_eq!(stream.read(&mut byte).await.unwrap(), 1);
            head.push(byte[0]);
        }
        assert!(String::from_utf8_lossy(&head).starts_with("HTTP/1.1 200"));
    })
    .await
    .expect("the GET stream opens");
    stream
}

#[tokio::test]
async fn a_log_line_from_a_direct_call_reaches_the_sessions_get_stream() {
    let http = serve(true).await;
    let session = open_session(&http, json!({})).await;
    let mut stream = open_get_stream(&http, &session).await;
    let before = http.served_directly();
    let call = case(
        "a chatty call",
        "tools/call",
        None,
        json!({ "name": "chatty", "arguments": {} }),
    );
    let reply = send_in_session(&http, &session, &call).await;
    assert_eq!(http.served_directly(), before + 1);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let (_, reply) = messages(&reply);
    assert_eq!(reply[0]["result"]["content"][0]["text"], "said");
    let event = tokio::time::timeout(
        Duration::from_secs(5),
        read_event_with(&mut stream, "chatty was here"),
    )
    .await
    .expect("the log line arrives on the GET stream");
    assert!(event.contains("notifications/message"), "{event}");
    drop(stream);
    crate::http::stop(http).await;
}

#[tokio::test]
async fn a_cancelled_notification_cancels_a_request_served_directly() {
    let seen = Arc::new(Notify::new());
    let http = serve_with(
        server_noting_cancellation(seen.clone()),
        HttpConfig::default(),
    )
    .await;
    let session = open_session(&http, json!({})).await;
    let call = legacy_body(
        "tools/call",
        json!({ "name": "wait_for_cancel", "arguments": {} }),
        &json!({}),
    );
    let headers = format!("mcp-session-id: {session}\r\nmcp-protocol-version: {LEGACY}\r\n");
    let waiting = send_until_dispatched(&http, &headers, &call).await;
    let cancel = r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":7,"reason":"enough"}}"#;
    let headers = session_headers(&session, &[]);
    let ack = request(
        http.local_addr(),
        "POST",
        "/mcp",
        &headers,
        cancel.as_bytes(),
    )
    .await;
    assert_eq!(ack.status, 202);
    tokio::time::timeout(Duration::from_secs(5), seen.notified())
        .await
        .expect("the notification cancels the request's token");
    drop(waiting);
    crate::http::stop(http).await;
}

#[tokio::test]
async fn a_session_in_use_only_through_direct_requests_is_not_reaped() {
    let http = serve_with(
        server(),
        HttpConfig {
            session_idle_timeout: Duration::from_millis(400),
            ..HttpConfig::default()
        },
    )
    .await;
    let session = open_session(&http, json!({})).await;
    let list = legacy_cases()
        .into_iter()
        .find(|c| c.what == "tools/list")
        .unwrap();
    let before = http.served_directly();
    // Well past the idle timeout in all, each request well within it of the last.
    for _ in 0..30 {
        tokio::time::sleep(Duration::from_millis(40)).await;
        let reply = send_in_session(&http, &session, &list).await;
        assert_eq!(reply.status, 200, "a session in use stays open");
    }
    assert_eq!(http.served_directly(), before + 30);
    assert_eq!(http.stats().live_sessions, 1);
    crate::http::stop(http).await;
}

#[tokio::test]
async fn a_direct_session_reply_turns_into_a_stream_at_the_first_progress() {
    use tokio::io::AsyncReadExt as _;
    let http = serve(true).await;
    let session = open_session(&http, json!({})).await;
    let before = http.served_directly();
    let call = legacy_body(
        "tools/call",
        json!({ "name": "paced_count", "arguments": {} }),
        &json!({ "progressToken": "pace" }),
    );
    let raw = format!(
        "POST /mcp HTTP/1.1\r\nhost: {}\r\nconnection: close\r\ncontent-type: application/json\r\naccept: application/json, text/event-stream\r\nmcp-session-id: {session}\r\nmcp-protocol-version: {LEGACY}\r\ncontent-length: {}\r\n\r\n{call}",
        http.local_addr(),
        call.len()
    );
    let mut stream = tokio::net::TcpStream::connect(http.local_addr())
        .await
        .unwrap();
    stream.write_all(raw.as_bytes()).await.unwrap();
    let mut reply = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut reply))
        .await
        .expect("the stream ends with the response")
        .unwrap();
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.contains("content-type: text/event-stream"), "{reply}");
    let messages: Vec<Value> = reply
        .lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .map(|data| serde_json::from_str(data).unwrap())
        .collect();
    assert_eq!(messages.len(), 3, "{reply}");
    assert_eq!(messages[0]["params"]["message"], "first");
    assert_eq!(messages[0]["params"]["progressToken"], "pace");
    assert_eq!(messages[1]["params"]["message"], "second");
    assert_eq!(messages[2]["id"], 7);
    assert_eq!(messages[2]["result"]["content"][0]["text"], "2");
    assert_eq!(http.served_directly(), before + 1);
    crate::http::stop(http).await;
}

/// A server whose legacy sessions sleep after 250 ms unused.
async fn serve_sleepy() -> HttpServer {
    serve_with(
        server(),
        HttpConfig {
            session_sleep_after: Duration::from_millis(250),
            ..HttpConfig::default()
        },
    )
    .await
}

async fn fall_asleep(http: &HttpServer, sessions: usize) {
    crate::hostile::eventually("the unused sessions are put to sleep", || {
        http.stats().asleep_sessions == sessions
    })
    .await;
}

fn call_tool(tool: &'static str, arguments: Value) -> Case {
    case(
        tool,
        "tools/call",
        None,
        json!({ "name": tool, "arguments": arguments }),
    )
}

#[tokio::test]
async fn a_session_put_to_sleep_wakes_on_its_next_request_and_answers_as_before() {
    let http = serve_sleepy().await;
    let session = open_session(&http, json!({})).await;
    let add = call_tool("add", json!({ "a": 2, "b": 3 }));
    let (status, awake) = messages(&send_in_session(&http, &session, &add).await);
    assert_eq!(status, 200);
    fall_asleep(&http, 1).await;
    assert_eq!(http.stats().live_sessions, 1, "asleep is still live");
    // The first request after the sleep goes to the SDK, which wakes the session from its
    // record; it answers exactly as before.
    let before = http.served_directly();
    let (status, woken) = messages(&send_in_session(&http, &session, &add).await);
    assert_eq!((status, &woken), (200, &awake));
    assert_eq!(http.served_directly(), before);
    assert_eq!(http.stats().asleep_sessions, 0);
    // Awake again, its requests are served directly, through the new worker's peer.
    let reply = send_in_session(&http, &session, &add).await;
    assert_eq!(messages(&reply), (200, awake.clone()));
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(http.served_directly(), before + 1);
    // It sleeps and wakes as often as it is left alone and used.
    for _ in 0..3 {
        fall_asleep(&http, 1).await;
        assert_eq!(
            messages(&send_in_session(&http, &session, &add).await),
            (200, awake.clone())
        );
    }
    // A session asleep ends with DELETE like any other; then its id is unknown.
    fall_asleep(&http, 1).await;
    let headers = session_headers(&session, &[]);
    let deleted = request(http.local_addr(), "DELETE", "/mcp", &headers, b"").await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    assert_eq!(http.stats().live_sessions, 0);
    assert_eq!(send_in_session(&http, &session, &add).await.status, 404);
    crate::http::stop(http).await;
}

#[tokio::test]
async fn a_woken_session_keeps_its_log_level_and_sends_to_its_new_stream() {
    let http = serve_sleepy().await;
    let session = open_session(&http, json!({})).await;
    let quiet = case(
        "errors only",
        "logging/setLevel",
        None,
        json!({ "level": "error" }),
    );
    assert_eq!(send_in_session(&http, &session, &quiet).await.status, 200);
    fall_asleep(&http, 1).await;
    // A GET stream needs the SDK: opening one wakes the session.
    let mut stream = open_get_stream(&http, &session).await;
    assert_eq!(http.stats().asleep_sessions, 0);
    // An info line is below the level the client set before the sleep; an error line is
    // not, and reaches the new stream from a call served directly.
    let before = http.served_directly();
    for tool in ["chatty", "alarm"] {
        let reply = send_in_session(&http, &session, &call_tool(tool, json!({}))).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    assert_eq!(http.served_directly(), before + 2);
    let seen = tokio::time::timeout(
        Duration::from_secs(5),
        read_until_event_with(&mut stream, "alarm raised"),
    )
    .await
    .expect("the error line arrives on the GET stream");
    assert!(!seen.contains("chatty was here"), "{seen}");
    // While the stream is open the session stays awake, however long it goes unused.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(http.stats().asleep_sessions, 0);
    drop(stream);
    fall_asleep(&http, 1).await;
    crate::http::stop(http).await;
}

#[tokio::test]
async fn many_sessions_sleep_and_wake_at_once() {
    let http = serve_sleepy().await;
    let mut sessions = Vec::new();
    for _ in 0..20 {
        sessions.push(open_session(&http, json!({})).await);
    }
    fall_asleep(&http, 20).await;
    // Every session woken by three requests at once: each gets its own answer.
    /// A call's body, its session's headers, and the argument it sends.
    type Call<'a> = (String, Vec<(&'a str, &'a str)>, u64);
    let calls: Vec<Call<'_>> = sessions
        .iter()
        .flat_map(|session| (1..=3).map(move |a| (session, a)))
        .map(|(session, a)| {
            let call = json!({
                "jsonrpc": "2.0", "id": a, "method": "tools/call",
                "params": { "name": "add", "arguments": { "a": a, "b": 100 } },
            });
            (call.to_string(), session_headers(session, &[]), a)
        })
        .collect();
    let replies = futures::future::join_all(calls.iter().map(|(body, headers, _)| {
        request(http.local_addr(), "POST", "/mcp", headers, body.as_bytes())
    }))
    .await;
    for (reply, (_, _, a)) in replies.iter().zip(&calls) {
        let (status, messages) = messages(reply);
        assert_eq!(status, 200, "{}", reply.body);
        assert_eq!(messages.len(), 1, "{}", reply.body);
        assert_eq!(messages[0]["id"], *a);
        assert_eq!(
            messages[0]["result"]["content"][0]["text"],
            (a + 100).to_string()
        );
    }
    assert_eq!(http.stats().live_sessions, 20);
    crate::http::stop(http).await;
}
