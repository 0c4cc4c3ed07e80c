//! stdio on the platform's own loop: the same replies as the SDK's service loop gives, in
//! the same order with the notifications a tool sends; cancellation, requests to the client,
//! pipelined input and bad lines handled.

use std::sync::Arc;
use std::time::Duration;

use platform_runtime::prelude::*;
use platform_runtime::transport::stdio::{StdioConfig, serve};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader, DuplexStream};
use tokio::sync::Notify;

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

/// Who is calling, in which protocol version.
#[tool]
fn whoami(ctx: Context) -> String {
    format!("{:?} {:?}", ctx.client(), ctx.protocol_version())
}

/// Log, report progress twice, then answer.
#[tool]
async fn busy(ctx: Context) -> i64 {
    ctx.info("busy was here").await;
    ctx.progress(1.0, Some(2.0), None).await;
    ctx.progress(2.0, Some(2.0), None).await;
    2
}

/// Ask the user for a name.
#[tool]
async fn ask_name(ctx: Context) -> Result<String, ToolError> {
    let schema = json!({ "type": "object", "properties": { "name": { "type": "string" } } });
    let (action, content) = ctx.elicit("Your name?", schema).await?;
    Ok(format!("{action} {}", content.unwrap_or_default()))
}

/// Never finish; say so when the request is cancelled.
#[tool]
async fn wait_for_cancel(ctx: Context, State(seen): State<Arc<Notify>>) -> String {
    let token = ctx.cancellation_token();
    tokio::spawn(async move {
        token.cancelled().await;
        seen.notify_one();
    });
    std::future::pending::<String>().await
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

fn server(seen: Arc<Notify>) -> Server {
    Server::builder("stdio")
        .tools(tools![
            add,
            refuse,
            crash,
            whoami,
            busy,
            ask_name,
            wait_for_cancel
        ])
        .resources(resources![hello])
        .prompts(prompts![shout])
        .state(seen)
        .build()
        .unwrap()
}

/// A client's ends of a stdio connection to a server served on its own task.
struct Pipe {
    input: DuplexStream,
    output: BufReader<DuplexStream>,
    served: tokio::task::JoinHandle<Result<(), platform_runtime::ServeError>>,
}

impl Pipe {
    fn start(server: Server, direct: bool) -> Self {
        Self::start_with(
            server,
            StdioConfig {
                direct_dispatch: direct,
                ..StdioConfig::default()
            },
        )
    }

    fn start_with(server: Server, config: StdioConfig) -> Self {
        let (input, server_in) = tokio::io::duplex(1 << 20);
        let (server_out, output) = tokio::io::duplex(1 << 20);
        let served =
            tokio::spawn(async move { serve(&server, server_in, server_out, config).await });
        Self {
            input,
            output: BufReader::new(output),
            served,
        }
    }

    async fn send(&mut self, line: &str) {
        self.input.write_all(line.as_bytes()).await.unwrap();
        self.input.write_all(b"\n").await.unwrap();
    }

    /// The next line from the server, as JSON.
    async fn recv(&mut self) -> Value {
        let mut line = String::new();
        let read = tokio::time::timeout(Duration::from_secs(5), self.output.read_line(&mut line))
            .await
            .expect("a line within 5 s")
            .unwrap();
        assert!(read > 0, "the server closed its output");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
    }

    /// Lines until the reply to request `id`, that reply last.
    async fn until_reply(&mut self, id: i64) -> Vec<Value> {
        let mut seen = Vec::new();
        loop {
            let message = self.recv().await;
            let done = message["id"] == id && message.get("method").is_none();
            seen.push(message);
            if done {
                return seen;
            }
        }
    }

    async fn initialize(&mut self, capabilities: Value) {
        let initialize = json!({
            "jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": capabilities,
                "clientInfo": { "name": "stdio-parity", "version": "3.0" },
            },
        });
        self.send(&initialize.to_string()).await;
        let reply = self.recv().await;
        assert_eq!(reply["result"]["protocolVersion"], "2025-11-25", "{reply}");
        self.send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
            .await;
    }

    /// Close the input and wait for the server to finish.
    async fn close(self) -> Vec<Value> {
        let Self {
            input,
            mut output,
            served,
        } = self;
        drop(input);
        tokio::time::timeout(Duration::from_secs(10), served)
            .await
            .expect("the server ends when its input closes")
            .unwrap()
            .unwrap();
        let mut rest = Vec::new();
        let mut line = String::new();
        while output.read_line(&mut line).await.unwrap() > 0 {
            rest.push(serde_json::from_str(&line).unwrap());
            line.clear();
        }
        rest
    }
}

fn request(id: i64, method: &str, params: Value) -> String {
    json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }).to_string()
}

/// Error references differ from run to run; everything else must not.
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

fn parity_requests() -> Vec<String> {
    let call = |id, tool: &str, arguments: Value| {
        request(
            id,
            "tools/call",
            json!({ "name": tool, "arguments": arguments }),
        )
    };
    vec![
        call(1, "add", json!({ "a": 2, "b": 3 })),
        call(2, "nope", json!({})),
        call(3, "add", json!({ "a": "two", "b": 3 })),
        call(4, "refuse", json!({ "reason": "not today" })),
        call(5, "crash", json!({})),
        call(6, "whoami", json!({})),
        call(7, "ask_name", json!({})),
        request(8, "tools/list", json!({})),
        request(9, "prompts/list", json!({})),
        request(10, "resources/list", json!({})),
        request(11, "resources/templates/list", json!({})),
        request(12, "resources/read", json!({ "uri": "hello://ada" })),
        request(13, "resources/read", json!({ "uri": "nothing://here" })),
        request(
            14,
            "prompts/get",
            json!({ "name": "shout", "arguments": { "word": "hey" } }),
        ),
        request(
            15,
            "completion/complete",
            json!({
                "ref": { "type": "ref/resource", "uri": "hello://{name}" },
                "argument": { "name": "name", "value": "a" },
            }),
        ),
        request(16, "ping", json!({})),
        request(
            17,
            "tools/call",
            json!({ "name": "busy", "arguments": {}, "_meta": { "progressToken": "p1" } }),
        ),
        request(18, "logging/setLevel", json!({ "level": "warning" })),
        request(19, "tools/call", json!({ "name": "busy", "arguments": {} })),
        request(20, "resources/subscribe", json!({ "uri": "hello://ada" })),
        request(21, "no/such/method", json!({})),
    ]
}

/// Every line the server writes for `parity_requests`, one request at a time.
async fn transcript(direct: bool) -> Vec<Value> {
    let mut pipe = Pipe::start(server(Arc::new(Notify::new())), direct);
    pipe.initialize(json!({})).await;
    let mut lines = Vec::new();
    for (at, line) in parity_requests().iter().enumerate() {
        pipe.send(line).await;
        let id = i64::try_from(at).unwrap() + 1;
        lines.extend(pipe.until_reply(id).await);
    }
    lines.extend(pipe.close().await);
    lines.iter_mut().for_each(blank_references);
    lines
}

#[tokio::test]
async fn the_own_loop_answers_exactly_as_the_sdk_loop_with_notifications_in_order() {
    let own = transcript(true).await;
    let sdk = transcript(false).await;
    assert_eq!(own.len(), sdk.len(), "{own:#?}\n{sdk:#?}");
    for (mine, theirs) in own.iter().zip(&sdk) {
        assert_eq!(mine, theirs);
    }
    // What the handlers made, not only agreement.
    let reply = |id: i64| {
        own.iter()
            .find(|m| m["id"] == id && m.get("method").is_none())
            .unwrap()
    };
    assert_eq!(reply(1)["result"]["content"][0]["text"], "5");
    assert_eq!(
        reply(6)["result"]["content"][0]["text"],
        r#"Some(("stdio-parity", "3.0")) Some("2025-11-25")"#
    );
    assert_eq!(reply(21)["error"]["code"], -32601);
    // The progress call: its log line and both progress notifications before its result.
    let at = |predicate: &dyn Fn(&Value) -> bool| own.iter().position(predicate).unwrap();
    let result = at(&|m| m["id"] == 17 && m.get("method").is_none());
    let log = at(&|m| m["method"] == "notifications/message");
    let progress: Vec<usize> = own
        .iter()
        .enumerate()
        .filter(|(_, m)| m["method"] == "notifications/progress")
        .map(|(i, _)| i)
        .collect();
    assert_eq!(progress.len(), 2);
    assert!(log < progress[0] && progress[1] < result, "{own:#?}");
    // After `logging/setLevel warning`, the info line of the second call is not sent.
    let logs = own
        .iter()
        .filter(|m| m["method"] == "notifications/message")
        .count();
    assert_eq!(logs, 1);
}

#[tokio::test]
async fn a_tool_on_the_loop_asks_the_client_and_gets_its_answer() {
    let mut pipe = Pipe::start(server(Arc::new(Notify::new())), true);
    pipe.initialize(json!({ "elicitation": {} })).await;
    pipe.send(&request(
        1,
        "tools/call",
        json!({ "name": "ask_name", "arguments": {} }),
    ))
    .await;
    let ask = pipe.recv().await;
    assert_eq!(ask["method"], "elicitation/create", "{ask}");
    let answer = json!({
        "jsonrpc": "2.0", "id": ask["id"],
        "result": { "action": "accept", "content": { "name": "Ada" } },
    });
    pipe.send(&answer.to_string()).await;
    let reply = pipe.recv().await;
    assert_eq!(reply["id"], 1);
    assert_eq!(
        reply["result"]["content"][0]["text"],
        r#"accept {"name":"Ada"}"#
    );
    pipe.close().await;
}

#[tokio::test]
async fn a_cancelled_notification_cancels_a_request_on_the_loop() {
    let seen = Arc::new(Notify::new());
    let mut pipe = Pipe::start(server(seen.clone()), true);
    pipe.initialize(json!({})).await;
    pipe.send(&request(
        1,
        "tools/call",
        json!({ "name": "wait_for_cancel", "arguments": {} }),
    ))
    .await;
    // Another request is answered while the first waits: the loop is not blocked.
    pipe.send(&request(2, "ping", json!({}))).await;
    assert_eq!(pipe.recv().await["id"], 2);
    pipe.send(
        r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1,"reason":"enough"}}"#,
    )
    .await;
    tokio::time::timeout(Duration::from_secs(5), seen.notified())
        .await
        .expect("the notification cancels the request's token");
    let served = pipe.served;
    served.abort();
}

#[tokio::test]
async fn requests_written_before_the_input_closes_are_all_answered() {
    let mut pipe = Pipe::start(server(Arc::new(Notify::new())), true);
    pipe.initialize(json!({})).await;
    for id in 1..=200 {
        pipe.send(&request(
            id,
            "tools/call",
            json!({ "name": "add", "arguments": { "a": id, "b": 1 } }),
        ))
        .await;
    }
    let replies = pipe.close().await;
    let mut answered: Vec<(i64, String)> = replies
        .iter()
        .map(|r| {
            (
                r["id"].as_i64().unwrap(),
                r["result"]["content"][0]["text"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )
        })
        .collect();
    answered.sort();
    let expected: Vec<(i64, String)> = (1..=200).map(|id| (id, (id + 1).to_string())).collect();
    assert_eq!(answered, expected);
}

#[tokio::test]
async fn bad_lines_get_errors_and_the_connection_goes_on() {
    let mut pipe = Pipe::start_with(
        server(Arc::new(Notify::new())),
        StdioConfig {
            max_message_bytes: 1024,
            ..StdioConfig::default()
        },
    );
    pipe.initialize(json!({})).await;
    pipe.send("{not json").await;
    assert_eq!(pipe.recv().await["error"]["code"], -32700);
    pipe.send("[1,2,3]").await;
    assert_eq!(pipe.recv().await["error"]["code"], -32600);
    pipe.send(&"x".repeat(5000)).await;
    let refused = pipe.recv().await;
    assert_eq!(refused["error"]["code"], -32600);
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("exceeds the limit of 1024 bytes")
    );
    pipe.send(r#"{"jsonrpc":"2.0","method":"notifications/not-a-thing"}"#)
        .await;
    pipe.send(&request(
        1,
        "tools/call",
        json!({ "name": "add", "arguments": { "a": 1, "b": 1 } }),
    ))
    .await;
    assert_eq!(pipe.recv().await["result"]["content"][0]["text"], "2");
    pipe.close().await;
}

#[tokio::test]
async fn a_2026_07_28_client_is_served_without_initialize() {
    let mut pipe = Pipe::start(server(Arc::new(Notify::new())), true);
    let call = request(
        1,
        "tools/call",
        json!({
            "name": "whoami", "arguments": {},
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {},
                "io.modelcontextprotocol/clientInfo": { "name": "modern", "version": "1" },
            },
        }),
    );
    pipe.send(&call).await;
    let reply = pipe.recv().await;
    assert_eq!(
        reply["result"]["content"][0]["text"], r#"Some(("modern", "1")) Some("2026-07-28")"#,
        "{reply}"
    );
    pipe.close().await;
}
