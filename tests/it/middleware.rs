//! The middleware pipeline and its built-ins, through TestClient. Time-dependent tests run
//! on paused tokio time: no sleeps, no timing assertions.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use platform_runtime::identity::Principal;
use platform_runtime::middleware::policy::RateLimit;
use platform_runtime::middleware::{McpRequest, Method, Next, from_fn};
use platform_runtime::prelude::*;
use platform_runtime::testing::TestClient;
use platform_runtime::{ToolErrorKind, model::ToolResult};
use serde_json::json;
use tokio::sync::Notify;

/// Counts calls per tool.
#[derive(Clone, Default)]
struct Calls(Arc<AtomicU32>);

impl Calls {
    fn bump(&self) -> u32 {
        self.0.fetch_add(1, Ordering::SeqCst) + 1
    }
    fn get(&self) -> u32 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Echo the text.
#[tool(read_only)]
fn echo(text: String) -> String {
    text
}

/// Sleep ten seconds.
#[tool]
#[timeout("1s")]
async fn slow() -> String {
    tokio::time::sleep(Duration::from_secs(10)).await;
    "done".into()
}

/// Limited to two calls a minute.
#[rate_limit(2, per = "1m")]
#[tool(read_only)]
fn limited() -> &'static str {
    "ok"
}

/// Count calls, cached.
#[tool(read_only)]
#[cache(ttl = "30s")]
fn cached(State(calls): State<Calls>, city: String, units: Option<String>) -> String {
    format!("{city}/{} #{}", units.unwrap_or_default(), calls.bump())
}

/// Signals between a test and a blocked tool.
#[derive(Default)]
struct Gate {
    entered: Notify,
    release: Notify,
}

/// Block until released.
#[tool]
#[concurrency_limit(1)]
async fn exclusive(State(gate): State<Arc<Gate>>) -> &'static str {
    gate.entered.notify_one();
    gate.release.notified().await;
    "released"
}

/// Fail while the flag is set.
#[tool]
#[circuit_breaker(failure_ratio = 0.5, window = "30s", min_calls = 2, cooldown = "10s")]
fn flaky(State(calls): State<Calls>, fail: bool) -> Result<&'static str, ToolError> {
    calls.bump();
    if fail {
        Err(ToolError::unavailable("upstream failed"))
    } else {
        Ok("fine")
    }
}

/// Fails twice, then succeeds.
#[tool(idempotent)]
#[retry(attempts = 3, backoff = "100ms")]
fn unreliable(State(calls): State<Calls>) -> Result<u32, ToolError> {
    let n = calls.bump();
    if n < 3 {
        Err(ToolError::internal(format!("attempt {n} failed")))
    } else {
        Ok(n)
    }
}

/// Internal failure with a secret.
#[tool]
fn leaky() -> Result<String, ToolError> {
    Err(ToolError::internal("database password is hunter2"))
}

fn base() -> platform_runtime::ServerBuilder {
    Server::builder("mw")
        .state(Calls::default())
        .state(Arc::new(Gate::default()))
}

#[tokio::test]
async fn layers_run_in_order_and_see_the_matched_component() {
    let log: Arc<Mutex<Vec<String>>> = Arc::default();
    let (a, b) = (log.clone(), log.clone());
    let server = base()
        .layer(from_fn(move |request: McpRequest, next: Next| {
            let log = a.clone();
            async move {
                let component = request
                    .component()
                    .map(|c| (c.name().to_owned(), c.is_read_only()));
                log.lock()
                    .unwrap()
                    .push(format!("a> {} {component:?}", request.method()));
                let response = next.run(request).await;
                log.lock().unwrap().push("a<".into());
                response
            }
        }))
        .layer(from_fn(move |request: McpRequest, next: Next| {
            let log = b.clone();
            async move {
                log.lock().unwrap().push("b>".into());
                let response = next.run(request).await;
                log.lock().unwrap().push("b<".into());
                response
            }
        }))
        .tools(tools![echo])
        .build()
        .unwrap();
    let client = TestClient::connect(server).await.unwrap();
    log.lock().unwrap().clear(); // initialize went through the pipeline too
    client
        .call_tool("echo", json!({ "text": "hi" }))
        .await
        .unwrap();
    assert_eq!(
        *log.lock().unwrap(),
        ["a> tools/call Some((\"echo\", true))", "b>", "b<", "a<"]
    );
}

#[tokio::test]
async fn middleware_can_short_circuit_rewrite_and_filter() {
    let server = base()
        .layer(from_fn(|request: McpRequest, next: Next| async move {
            if request.method() == Method::CallTool && request.target() == Some("leaky") {
                return Ok(platform_runtime::middleware::McpResponse::tool_result(
                    ToolResult::error("blocked by policy"),
                ));
            }
            let mut response = next.run(request).await?;
            response.map_tool_result(|r| r.with_content(Content::text("(checked)")));
            response.retain_tools(|name| name != "leaky");
            Ok(response)
        }))
        .tools(tools![echo, leaky])
        .build()
        .unwrap();
    let client = TestClient::connect(server).await.unwrap();
    let names = crate::tool_names(&client).await;
    assert_eq!(names, ["echo"]);
    let blocked = client.call_tool("leaky", json!({})).await.unwrap();
    assert!(blocked.is_error());
    assert_eq!(blocked.text(), "blocked by policy");
    let echoed = client
        .call_tool("echo", json!({ "text": "hi" }))
        .await
        .unwrap();
    assert_eq!(echoed.text(), "hi\n(checked)");
}

#[tokio::test(start_paused = true)]
async fn timeouts_cancel_the_call() {
    let client = TestClient::connect(base().tools(tools![slow]).build().unwrap())
        .await
        .unwrap();
    let result = client.call_tool("slow", json!({})).await.unwrap();
    assert!(result.is_error());
    assert_eq!(result.text(), "`slow` timed out after 1s");
}

#[tokio::test(start_paused = true)]
async fn the_server_default_timeout_applies_to_tools_without_their_own() {
    /// Sleep a minute.
    #[tool]
    async fn nap() -> String {
        tokio::time::sleep(Duration::from_secs(60)).await;
        "rested".into()
    }
    let server = base()
        .timeout(Duration::from_secs(5))
        .tools(tools![nap, slow])
        .build()
        .unwrap();
    let client = TestClient::connect(server).await.unwrap();
    assert_eq!(
        client.call_tool("nap", json!({})).await.unwrap().text(),
        "`nap` timed out after 5s"
    );
    assert_eq!(
        client.call_tool("slow", json!({})).await.unwrap().text(),
        "`slow` timed out after 1s"
    );
}

#[tokio::test(start_paused = true)]
async fn rate_limits_refuse_with_a_retry_time_and_recover() {
    let server = base().tools(tools![limited]).build().unwrap();
    let stats = server.stats().clone();
    let client = TestClient::connect(server).await.unwrap();
    for _ in 0..2 {
        assert!(
            !client
                .call_tool("limited", json!({}))
                .await
                .unwrap()
                .is_error()
        );
    }
    let refused = client.call_tool("limited", json!({})).await.unwrap();
    assert!(refused.is_error());
    assert!(
        refused
            .text()
            .starts_with("rate limit exceeded for `limited`; retry in 30."),
        "{}",
        refused.text()
    );
    assert_eq!(
        refused.structured(),
        Some(&json!({ "retryAfterMs": 30000 }))
    );
    assert_eq!(stats.errors.count(ToolErrorKind::RateLimited), 1);
    tokio::time::advance(Duration::from_secs(30)).await;
    assert!(
        !client
            .call_tool("limited", json!({}))
            .await
            .unwrap()
            .is_error()
    );
}

#[tokio::test(start_paused = true)]
async fn a_server_wide_rate_limit_covers_every_request() {
    let server = base()
        .rate_limit(RateLimit::new(1, Duration::from_secs(60)))
        .tools(tools![echo])
        .build()
        .unwrap();
    let client = TestClient::connect(server).await.unwrap();
    // `initialize` spent the budget; the next request is refused with a protocol error.
    let error = client.list_tools().await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("rate limit exceeded for this server"),
        "{error}"
    );
}

#[tokio::test(start_paused = true)]
async fn cache_hits_skip_the_handler_until_the_ttl_passes() {
    let server = base().tools(tools![cached]).build().unwrap();
    let client = TestClient::connect(server).await.unwrap();
    let first = client
        .call_tool("cached", json!({ "city": "Porto", "units": "c" }))
        .await
        .unwrap();
    assert_eq!(first.text(), "Porto/c #1");
    // The same arguments in another order are the same key.
    let again = client
        .call_tool("cached", json!({ "units": "c", "city": "Porto" }))
        .await
        .unwrap();
    assert_eq!(again.text(), "Porto/c #1");
    let other = client
        .call_tool("cached", json!({ "city": "Faro" }))
        .await
        .unwrap();
    assert_eq!(other.text(), "Faro/ #2");
    tokio::time::advance(Duration::from_secs(31)).await;
    let expired = client
        .call_tool("cached", json!({ "city": "Porto", "units": "c" }))
        .await
        .unwrap();
    assert_eq!(expired.text(), "Porto/c #3");
}

#[tokio::test]
async fn cache_entries_are_not_shared_across_principals() {
    let server = base()
        .layer(from_fn(|mut request: McpRequest, next: Next| async move {
            let user = request
                .arguments_mut()
                .as_mut()
                .and_then(|a| a.remove("user"));
            if let Some(user) = user.as_ref().and_then(|u| u.as_str()) {
                request.set_principal(Principal::new(user));
            }
            next.run(request).await
        }))
        .tools(tools![cached])
        .build()
        .unwrap();
    let client = TestClient::connect(server).await.unwrap();
    let ada = client
        .call_tool("cached", json!({ "city": "Porto", "user": "ada" }))
        .await
        .unwrap();
    let bob = client
        .call_tool("cached", json!({ "city": "Porto", "user": "bob" }))
        .await
        .unwrap();
    let ada_again = client
        .call_tool("cached", json!({ "city": "Porto", "user": "ada" }))
        .await
        .unwrap();
    assert_eq!(
        (ada.text(), bob.text(), ada_again.text()),
        ("Porto/ #1".into(), "Porto/ #2".into(), "Porto/ #1".into())
    );
}

#[tokio::test]
async fn concurrency_limits_shed_load_instead_of_queueing() {
    let gate = Arc::new(Gate::default());
    let server = Server::builder("mw")
        .state(gate.clone())
        .tools(tools![exclusive])
        .build()
        .unwrap();
    let client = TestClient::connect(server).await.unwrap();
    let entered = gate.entered.notified();
    let first = client.start_call("exclusive", json!({})).await.unwrap();
    entered.await; // the first call holds the only slot
    let second = client.call_tool("exclusive", json!({})).await.unwrap();
    assert!(second.is_error());
    assert_eq!(
        second.text(),
        "`exclusive` is busy (1 calls in flight); retry shortly"
    );
    gate.release.notify_one();
    assert_eq!(first.result().await.unwrap().text(), "released");
}

#[tokio::test(start_paused = true)]
async fn circuit_breakers_open_fail_fast_and_close_after_a_good_probe() {
    let calls = Calls::default();
    let server = Server::builder("mw")
        .state(calls.clone())
        .tools(tools![flaky])
        .build()
        .unwrap();
    let client = TestClient::connect(server).await.unwrap();
    for _ in 0..2 {
        let failed = client
            .call_tool("flaky", json!({ "fail": true }))
            .await
            .unwrap();
        assert_eq!(failed.text(), "upstream failed");
    }
    let fast = client
        .call_tool("flaky", json!({ "fail": false }))
        .await
        .unwrap();
    assert!(fast.text().contains("circuit open"), "{}", fast.text());
    assert_eq!(calls.get(), 2, "an open circuit does not call the tool");
    tokio::time::advance(Duration::from_secs(10)).await;
    let probe = client
        .call_tool("flaky", json!({ "fail": false }))
        .await
        .unwrap();
    assert_eq!(probe.text(), "fine");
    let closed = client
        .call_tool("flaky", json!({ "fail": false }))
        .await
        .unwrap();
    assert_eq!(closed.text(), "fine");
    assert_eq!(calls.get(), 4);
}

#[tokio::test(start_paused = true)]
async fn retries_recover_from_transient_failures() {
    let calls = Calls::default();
    let server = Server::builder("mw")
        .state(calls.clone())
        .tools(tools![unreliable])
        .build()
        .unwrap();
    let client = TestClient::connect(server).await.unwrap();
    let result = client.call_tool("unreliable", json!({})).await.unwrap();
    assert_eq!(result.structured(), Some(&json!({ "result": 3 })));
    assert_eq!(calls.get(), 3);
}

#[tokio::test]
async fn bad_arguments_are_not_retried() {
    /// Needs a number.
    #[tool(idempotent)]
    #[retry(attempts = 5)]
    fn strict(State(calls): State<Calls>, n: u32) -> u32 {
        calls.bump();
        n
    }
    let calls = Calls::default();
    let server = Server::builder("mw")
        .state(calls.clone())
        .tools(tools![strict])
        .build()
        .unwrap();
    let client = TestClient::connect(server).await.unwrap();
    let result = client
        .call_tool("strict", json!({ "n": "x" }))
        .await
        .unwrap();
    assert!(result.is_error());
    assert_eq!(calls.get(), 0);
}

#[tokio::test]
async fn internal_errors_are_masked_counted_and_logged_with_a_reference() {
    let server = base().tools(tools![leaky]).build().unwrap();
    let stats = server.stats().clone();
    let client = TestClient::connect(server).await.unwrap();
    let result = client.call_tool("leaky", json!({})).await.unwrap();
    assert!(result.is_error());
    assert!(
        result
            .text()
            .starts_with("internal error in `leaky` (reference "),
        "{}",
        result.text()
    );
    assert!(!result.text().contains("hunter2"));
    assert_eq!(stats.errors.count(ToolErrorKind::Internal), 1);

    let open = base()
        .mask_internal_errors(false)
        .tools(tools![leaky])
        .build()
        .unwrap();
    let client = TestClient::connect(open).await.unwrap();
    let result = client.call_tool("leaky", json!({})).await.unwrap();
    assert_eq!(result.text(), "database password is hunter2");
}

#[tokio::test]
async fn a_panicking_middleware_is_an_internal_error() {
    let server = base()
        .layer(from_fn(|request: McpRequest, next: Next| async move {
            if request.method() == Method::CallTool {
                panic!("middleware bug");
            }
            next.run(request).await
        }))
        .tools(tools![echo])
        .build()
        .unwrap();
    let client = TestClient::connect(server).await.unwrap();
    let result = client
        .call_tool("echo", json!({ "text": "x" }))
        .await
        .unwrap();
    assert!(result.is_error());
    assert!(
        result.text().starts_with("internal error in `echo`"),
        "{}",
        result.text()
    );
    assert_eq!(
        client.list_tools().await.unwrap().len(),
        1,
        "the server keeps serving"
    );
}

#[tokio::test]
async fn the_in_flight_limit_sheds_and_the_size_limit_refuses() {
    let gate = Arc::new(Gate::default());
    let server = Server::builder("mw")
        .state(gate.clone())
        .max_in_flight(1)
        .max_response_bytes(8)
        .tools(tools![exclusive, echo])
        .build()
        .unwrap();
    let client = TestClient::connect(server).await.unwrap();
    let entered = gate.entered.notified();
    let first = client.start_call("exclusive", json!({})).await.unwrap();
    entered.await;
    let busy = client.list_tools().await.unwrap_err();
    assert!(
        busy.to_string()
            .contains("the server is busy (1 requests in flight)"),
        "{busy}"
    );
    gate.release.notify_one();
    first.result().await.unwrap();
    let small = client
        .call_tool("echo", json!({ "text": "tiny" }))
        .await
        .unwrap();
    assert_eq!(small.text(), "tiny");
    let big = client
        .call_tool("echo", json!({ "text": "far too long" }))
        .await
        .unwrap();
    assert!(big.is_error());
    assert!(
        big.text().contains("over the limit of 8 bytes"),
        "{}",
        big.text()
    );
}

#[tokio::test]
async fn timing_records_every_request() {
    let server = base().tools(tools![echo]).build().unwrap();
    let stats = server.stats().clone();
    let client = TestClient::connect(server).await.unwrap();
    for _ in 0..3 {
        client
            .call_tool("echo", json!({ "text": "x" }))
            .await
            .unwrap();
    }
    client.call_tool("nope", json!({})).await.unwrap_err();
    let echo = stats.timings.get(Method::CallTool, Some("echo"));
    assert_eq!((echo.count, echo.errors), (3, 0));
    assert!(echo.max >= echo.mean());
    assert_eq!(stats.timings.get(Method::CallTool, Some("nope")).errors, 1);
    assert_eq!(stats.timings.get(Method::Initialize, None).count, 1);
}

/// Look up a secret-bearing record.
#[tool(read_only)]
fn lookup(name: String, api_key: String) -> String {
    format!("{name}:{}", api_key.len())
}

#[tokio::test]
async fn logged_payloads_are_truncated_and_never_show_secrets() {
    let captured = crate::Captured::default();
    let writer = captured.clone();
    // The framework's own events; the SDK logs whole messages at debug and is filtered out
    // by `serve()` unless asked for by name.
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_env_filter("platform_runtime=debug")
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = base()
        .log_payloads(40)
        .tools(tools![lookup])
        .build()
        .unwrap();
    let client = TestClient::connect(server).await.unwrap();
    let long = "x".repeat(100);
    client
        .call_tool("lookup", json!({ "name": long, "api_key": "sk-live-123" }))
        .await
        .unwrap();
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("request finished"), "{logs}");
    assert!(
        logs.contains("method=tools/call") && logs.contains("component=\"lookup\""),
        "{logs}"
    );
    assert!(
        !logs.contains("sk-live-123"),
        "the key's value is never logged: {logs}"
    );
    assert!(logs.contains("bytes)"), "payloads are truncated: {logs}");
}

/// Limited per caller.
#[tool(read_only)]
#[rate_limit(1, per = "1m", key = "principal")]
fn personal() -> &'static str {
    "mine"
}

/// Cached for everybody.
#[tool(read_only)]
#[cache(ttl = "1m", scope = "public")]
fn shared(State(calls): State<Calls>) -> u32 {
    calls.bump()
}

/// Cached per tenant.
#[tool(read_only)]
#[cache(ttl = "1m", scope = "tenant")]
fn per_tenant(State(calls): State<Calls>) -> u32 {
    calls.bump()
}

/// Cached per caller.
#[tool(read_only)]
#[cache(ttl = "1m", scope = "principal")]
fn per_caller(State(calls): State<Calls>) -> u32 {
    calls.bump()
}

#[tokio::test(start_paused = true)]
async fn principal_rate_limits_and_cache_scopes_partition_by_caller() {
    // Sets the caller from a `user@tenant` argument, as an authentication layer would.
    let as_caller = from_fn(|mut request: McpRequest, next: Next| async move {
        let who = request
            .arguments_mut()
            .as_mut()
            .and_then(|a| a.remove("who"));
        if let Some((user, tenant)) = who
            .as_ref()
            .and_then(|w| w.as_str())
            .and_then(|w| w.split_once('@'))
        {
            request.set_principal(Principal::new(user).with_tenant(tenant));
        }
        next.run(request).await
    });
    let calls = Calls::default();
    let server = Server::builder("mw")
        .state(calls.clone())
        .layer(as_caller)
        .tools(tools![personal, shared, per_tenant, per_caller])
        .build()
        .unwrap();
    let client = TestClient::connect(server).await.unwrap();
    let call = |tool: &'static str, who: &'static str| {
        let client = &client;
        async move { client.call_tool(tool, json!({ "who": who })).await.unwrap() }
    };
    assert!(!call("personal", "ada@acme").await.is_error());
    assert!(
        call("personal", "ada@acme").await.is_error(),
        "ada's budget is spent"
    );
    assert!(
        !call("personal", "bob@acme").await.is_error(),
        "bob has his own"
    );
    assert!(
        !call("personal", "ada@globex").await.is_error(),
        "the same id in another tenant is another caller"
    );

    let a = call("shared", "ada@acme").await.text();
    let b = call("shared", "bob@globex").await.text();
    assert_eq!(a, b, "a public entry is shared by everybody");

    let acme = call("per_tenant", "ada@acme").await.text();
    let acme_again = call("per_tenant", "bob@acme").await.text();
    let globex = call("per_tenant", "eve@globex").await.text();
    assert_eq!(acme, acme_again, "one tenant shares its entries");
    assert_ne!(acme, globex, "tenants never share");

    let ada = call("per_caller", "ada@acme").await.text();
    assert_eq!(ada, call("per_caller", "ada@acme").await.text());
    assert_ne!(
        ada,
        call("per_caller", "ada@globex").await.text(),
        "a principal's entries are its tenant's"
    );
}

/// A plain tower layer (not `from_fn`): counts the tool calls that pass.
#[derive(Clone)]
struct CountCalls {
    calls: Calls,
}

#[derive(Clone)]
struct Counted {
    inner: platform_runtime::middleware::McpService,
    calls: Calls,
}

impl tower::Layer<platform_runtime::middleware::McpService> for CountCalls {
    type Service = Counted;

    fn layer(&self, inner: platform_runtime::middleware::McpService) -> Counted {
        Counted {
            inner,
            calls: self.calls.clone(),
        }
    }
}

impl tower::Service<McpRequest> for Counted {
    type Response = platform_runtime::middleware::McpResponse;
    type Error = ToolError;
    type Future = <platform_runtime::middleware::McpService as tower::Service<McpRequest>>::Future;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), ToolError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: McpRequest) -> Self::Future {
        if request.method() == Method::CallTool {
            self.calls.bump();
        }
        self.inner.call(request)
    }
}

#[tokio::test]
async fn a_plain_tower_layer_runs_in_the_pipeline_with_the_built_ins() {
    let calls = Calls::default();
    let server = Server::builder("tower")
        .layer(CountCalls {
            calls: calls.clone(),
        })
        .tools(tools![echo])
        .build()
        .unwrap();
    let client = TestClient::connect(server.clone()).await.unwrap();
    for text in ["one", "two"] {
        let result = client
            .call_tool("echo", json!({ "text": text }))
            .await
            .unwrap();
        assert_eq!(result.text(), text);
    }
    assert_eq!(calls.get(), 2);
    assert!(client.call_tool("nope", json!({})).await.is_err());
    assert_eq!(calls.get(), 3, "errors pass through the layer too");
    assert_eq!(
        server
            .stats()
            .timings
            .get(Method::CallTool, Some("echo"))
            .count,
        2,
        "the default timing layer around it saw the same calls"
    );
}

#[tokio::test]
async fn changing_other_tools_keeps_a_tools_policy_state() {
    let gate = Arc::new(Gate::default());
    let server = Server::builder("mw")
        .state(gate.clone())
        .state(Calls::default())
        .tools(tools![exclusive, leaky])
        .build()
        .unwrap();
    let client = TestClient::connect(server.clone()).await.unwrap();
    let entered = gate.entered.notified();
    let first = client.start_call("exclusive", json!({})).await.unwrap();
    entered.await; // the first call holds the only slot
    // Disabling and enabling another tool rebuilds the routes; `exclusive` keeps its stack,
    // so its slot is still taken.
    assert!(server.handle().set_tool_enabled("leaky", false));
    assert!(server.handle().set_tool_enabled("leaky", true));
    // Had the slot been lost, the second call would enter the tool and wait at the gate.
    let second = tokio::select! {
        result = client.call_tool("exclusive", json!({})) => result.unwrap(),
        () = gate.entered.notified() => panic!("a second call entered: the slot was lost"),
    };
    assert_eq!(
        second.text(),
        "`exclusive` is busy (1 calls in flight); retry shortly"
    );
    gate.release.notify_one();
    assert_eq!(first.result().await.unwrap().text(), "released");
}
