//! Tasks (the `io.modelcontextprotocol/tasks` extension) over streamable HTTP on loopback:
//! when a call becomes a task, what `tasks/get`, `tasks/update` and `tasks/cancel` answer,
//! and who may see a task. The conformance suite's tasks scenarios run against the fixture
//! server in CI as well (`tests/conformance/run.sh`).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use platform_runtime::prelude::*;
use platform_runtime::transport::http::HttpConfig;
use platform_runtime::{InputRequired, ToolResponse};
use serde_json::{Value, json};

use crate::http::{ACCEPT, JSON, request, serve_with, stop};

/// Set when `watch`'s call saw its cancellation.
static SAW_CANCEL: AtomicBool = AtomicBool::new(false);

/// Waits `ms` milliseconds, then says so.
#[tool(task)]
async fn wait(ms: u64) -> String {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    format!("waited {ms} ms")
}

/// Answers at once, though it may run as a task.
#[tool(task)]
async fn quick() -> &'static str {
    "at once"
}

/// Runs only as a task.
#[tool(task = "required")]
async fn only_task() -> &'static str {
    tokio::time::sleep(Duration::from_millis(20)).await;
    "done"
}

/// Waits until cancelled, noting the cancellation.
#[tool(task)]
async fn watch(ctx: Context) -> &'static str {
    struct Flag;
    impl Drop for Flag {
        fn drop(&mut self) {
            SAW_CANCEL.store(true, Ordering::SeqCst);
        }
    }
    let _flag = Flag;
    ctx.cancelled().await;
    "cancelled"
}

/// Checks something, then asks for a colour.
#[tool(task)]
async fn paint(ctx: Context) -> ToolResponse {
    tokio::time::sleep(Duration::from_millis(10)).await;
    match ctx.input_response("colour") {
        Some(answer) => ToolResult::new()
            .with_content(Content::text(format!(
                "painted {}",
                answer["content"]["colour"].as_str().unwrap_or("?")
            )))
            .into(),
        None => InputRequired::new()
            .elicit(
                "colour",
                "Which colour?",
                json!({ "type": "object", "properties": { "colour": { "type": "string" } } }),
            )
            .into(),
    }
}

/// Fails the way a tool fails.
#[tool(task)]
async fn refuse() -> Result<String, ToolError> {
    tokio::time::sleep(Duration::from_millis(10)).await;
    Err(ToolError::new("not today"))
}

/// Breaks inside.
#[tool(task)]
async fn crash() -> String {
    tokio::time::sleep(Duration::from_millis(10)).await;
    panic!("broken")
}

fn server() -> Server {
    Server::builder("tasks")
        .tools(tools![wait, quick, only_task, watch, paint, refuse, crash])
        .build()
        .unwrap()
}

/// A 2026-07-28 request from a client that declared the tasks extension (or not).
async fn send(addr: SocketAddr, method: &str, mut params: Value, tasks: bool) -> Value {
    let capabilities = if tasks {
        json!({ "elicitation": {}, "extensions": { "io.modelcontextprotocol/tasks": {} } })
    } else {
        json!({})
    };
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": capabilities,
    });
    let name = params
        .get("name")
        .or_else(|| params.get("taskId"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let body = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
    let mut headers = vec![
        JSON,
        ACCEPT,
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", method),
    ];
    if let Some(name) = &name {
        headers.push(("mcp-name", name.as_str()));
    }
    let reply = request(addr, "POST", "/mcp", &headers, body.to_string().as_bytes()).await;
    serde_json::from_str(&reply.body).unwrap_or_else(|e| panic!("{e}: {}", reply.body))
}

async fn call(addr: SocketAddr, tool: &str, arguments: Value, tasks: bool) -> Value {
    send(
        addr,
        "tools/call",
        json!({ "name": tool, "arguments": arguments }),
        tasks,
    )
    .await
}

async fn get(addr: SocketAddr, id: &str) -> Value {
    send(addr, "tasks/get", json!({ "taskId": id }), true).await
}

/// Polls `tasks/get` until the task's status is one of `statuses` (bounded: a task that
/// never gets there fails the test).
async fn until(addr: SocketAddr, id: &str, statuses: &[&str]) -> Value {
    for _ in 0..200 {
        let got = get(addr, id).await;
        if statuses.contains(&got["result"]["status"].as_str().unwrap_or_default()) {
            return got["result"].clone();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("task {id} never reached {statuses:?}");
}

fn task_id(reply: &Value) -> String {
    let result = &reply["result"];
    assert_eq!(result["resultType"], "task", "{reply}");
    assert!(result.get("task").is_none(), "flat: {reply}");
    result["taskId"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_that_waits_becomes_a_task_and_one_that_answers_at_once_does_not() {
    let http = serve_with(server(), HttpConfig::default()).await;
    let addr = http.local_addr();
    // The server advertises the extension.
    let discovered = send(addr, "server/discover", json!({}), true).await;
    assert!(
        discovered["result"]["capabilities"]["extensions"]["io.modelcontextprotocol/tasks"]
            .is_object(),
        "{discovered}"
    );

    let reply = call(addr, "wait", json!({ "ms": 200 }), true).await;
    let id = task_id(&reply);
    let handle = &reply["result"];
    assert_eq!(handle["status"], "working");
    assert_eq!(handle["ttlMs"], 3_600_000);
    assert!(handle["createdAt"].as_str().unwrap().ends_with('Z'));
    assert!(handle.get("requestState").is_none());
    // Readable at once, then completed with the tool's result inlined.
    let working = get(addr, &id).await;
    assert_eq!(working["result"]["taskId"], id.as_str(), "{working}");
    assert_eq!(working["result"]["resultType"], "complete");
    let done = until(addr, &id, &["completed"]).await;
    assert_eq!(
        done["result"]["content"][0]["text"], "waited 200 ms",
        "{done}"
    );

    // A call that answers at once is answered in the request.
    let at_once = call(addr, "quick", json!({}), true).await;
    assert_eq!(at_once["result"]["resultType"], "complete", "{at_once}");
    assert_eq!(at_once["result"]["content"][0]["text"], "at once");
    // A client without the extension is answered in the request; a task-only tool refuses it.
    let plain = call(addr, "wait", json!({ "ms": 10 }), false).await;
    assert_eq!(
        plain["result"]["content"][0]["text"], "waited 10 ms",
        "{plain}"
    );
    let refused = call(addr, "only_task", json!({}), false).await;
    assert_eq!(refused["error"]["code"], -32021, "{refused}");
    assert!(
        refused["error"]["data"]["requiredCapabilities"]["extensions"]
            ["io.modelcontextprotocol/tasks"]
            .is_object(),
        "{refused}"
    );
    // Task methods need the extension too, and an unknown id is -32602.
    let gated = send(addr, "tasks/get", json!({ "taskId": id }), false).await;
    assert_eq!(gated["error"]["code"], -32021, "{gated}");
    for unknown in [
        "0123456789abcdef0123456789abcdef",
        "not a task id",
        &"f".repeat(5000),
    ] {
        let missing = get(addr, unknown).await;
        assert_eq!(missing["error"]["code"], -32602, "{missing}");
    }
    stop(http).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_errors_complete_a_task_and_internal_failures_fail_it() {
    let http = serve_with(server(), HttpConfig::default()).await;
    let addr = http.local_addr();
    let id = task_id(&call(addr, "refuse", json!({}), true).await);
    let refused = until(addr, &id, &["completed", "failed"]).await;
    assert_eq!(refused["status"], "completed", "{refused}");
    assert_eq!(refused["result"]["isError"], true);
    assert_eq!(refused["result"]["content"][0]["text"], "not today");

    let id = task_id(&call(addr, "crash", json!({}), true).await);
    let crashed = until(addr, &id, &["completed", "failed"]).await;
    assert_eq!(crashed["status"], "failed", "{crashed}");
    assert_eq!(crashed["error"]["code"], -32603);
    assert!(crashed.get("result").is_none());
    assert!(
        !crashed.to_string().contains("broken"),
        "the panic's message stays in the logs: {crashed}"
    );
    stop(http).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_task_stops_its_call_and_it_stays_cancelled() {
    let http = serve_with(server(), HttpConfig::default()).await;
    let addr = http.local_addr();
    let id = task_id(&call(addr, "watch", json!({}), true).await);
    let ack = send(addr, "tasks/cancel", json!({ "taskId": id }), true).await;
    assert_eq!(ack["result"], json!({ "resultType": "complete" }), "{ack}");
    let cancelled = until(addr, &id, &["cancelled", "completed"]).await;
    assert_eq!(cancelled["status"], "cancelled");
    for _ in 0..200 {
        if SAW_CANCEL.load(Ordering::SeqCst) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(SAW_CANCEL.load(Ordering::SeqCst), "the call was stopped");
    // Cancelling again, or a finished task, is acknowledged and changes nothing.
    let again = send(addr, "tasks/cancel", json!({ "taskId": id }), true).await;
    assert_eq!(again["result"]["resultType"], "complete");
    let id = task_id(&call(addr, "wait", json!({ "ms": 20 }), true).await);
    until(addr, &id, &["completed"]).await;
    send(addr, "tasks/cancel", json!({ "taskId": id }), true).await;
    assert_eq!(get(addr, &id).await["result"]["status"], "completed");
    stop(http).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_asks_for_input_and_resumes_with_the_answer() {
    let http = serve_with(server(), HttpConfig::default()).await;
    let addr = http.local_addr();
    let id = task_id(&call(addr, "paint", json!({}), true).await);
    let parked = until(addr, &id, &["input_required"]).await;
    assert_eq!(
        parked["inputRequests"]["colour"]["method"], "elicitation/create",
        "{parked}"
    );
    assert!(parked.get("requestState").is_none());
    let answers = json!({ "colour": { "action": "accept", "content": { "colour": "teal" } } });
    let ack = send(
        addr,
        "tasks/update",
        json!({ "taskId": id, "inputResponses": answers }),
        true,
    )
    .await;
    assert_eq!(ack["result"], json!({ "resultType": "complete" }), "{ack}");
    let done = until(addr, &id, &["completed"]).await;
    assert_eq!(
        done["result"]["content"][0]["text"], "painted teal",
        "{done}"
    );
    stop(http).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_belongs_to_the_caller_that_started_it() {
    use platform_runtime::auth::{ApiKey, Auth};
    let auth = Auth::new()
        .api_key(ApiKey::new("alice", ApiKey::hash("alice-key-0123456789")))
        .api_key(ApiKey::new(
            "mallory",
            ApiKey::hash("mallory-key-0123456789"),
        ));
    let http = serve_with(
        server(),
        HttpConfig {
            auth: Some(auth.build().unwrap()),
            ..HttpConfig::default()
        },
    )
    .await;
    let addr = http.local_addr();
    let as_caller = |key: &'static str, method: &'static str, params: Value| async move {
        let mut params = params;
        params["_meta"] = json!({
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": { "extensions": { "io.modelcontextprotocol/tasks": {} } },
        });
        let name = params
            .get("name")
            .or_else(|| params.get("taskId"))
            .and_then(Value::as_str)
            .unwrap()
            .to_owned();
        let body = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
        let reply = request(
            addr,
            "POST",
            "/mcp",
            &[
                JSON,
                ACCEPT,
                ("x-api-key", key),
                ("mcp-protocol-version", "2026-07-28"),
                ("mcp-method", method),
                ("mcp-name", &name),
            ],
            body.to_string().as_bytes(),
        )
        .await;
        serde_json::from_str::<Value>(&reply.body).unwrap()
    };
    let started = as_caller(
        "alice-key-0123456789",
        "tools/call",
        json!({ "name": "wait", "arguments": { "ms": 5000 } }),
    )
    .await;
    let id = task_id(&started);
    // Another caller neither sees nor cancels it: the same answer as for an unknown id.
    for method in ["tasks/get", "tasks/cancel"] {
        let probed = as_caller("mallory-key-0123456789", method, json!({ "taskId": id })).await;
        assert_eq!(probed["error"]["code"], -32602, "{method}: {probed}");
    }
    let own = as_caller("alice-key-0123456789", "tasks/get", json!({ "taskId": id })).await;
    assert_eq!(own["result"]["status"], "working", "{own}");
    as_caller(
        "alice-key-0123456789",
        "tasks/cancel",
        json!({ "taskId": id }),
    )
    .await;
    stop(http).await;
}
