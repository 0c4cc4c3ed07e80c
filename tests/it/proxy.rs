//! Remote servers mounted through the proxy: a child process over stdio (the
//! `stdio-upstream` binary of this package) and platform servers served over HTTP on
//! 127.0.0.1 in this process. Names and URIs under the prefix in both eras, progress and
//! cancellation forwarded, the upstream's list changes followed, an upstream down at start
//! or dying mid-call answered with a clear error while the rest serves, and the proxy's own
//! credential — never the caller's — on every upstream request.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use platform_runtime::config::Secret;
use platform_runtime::middleware::{McpRequest, Next, from_fn};
use platform_runtime::model::Era;
use platform_runtime::prelude::*;
use platform_runtime::server::Upstream;
use platform_runtime::testing::TestClient;
use platform_runtime::transport::http::HttpConfig;

use crate::http::{ACCEPT, JSON, request, serve_with, stop};

fn stdio_upstream() -> Upstream {
    Upstream::stdio(env!("CARGO_BIN_EXE_stdio-upstream"))
}

/// Add two integers.
#[tool]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

/// What a call answered: the result's text, or the error's.
fn outcome_text(outcome: Result<ToolResult, platform_runtime::testing::TestError>) -> String {
    match outcome {
        Ok(result) => result.text(),
        Err(error) => error.to_string(),
    }
}

/// Call `name` until it succeeds (the proxy reconnects with backoff), for up to 15 s.
async fn eventually_ok(client: &TestClient, name: &str, arguments: Value) -> ToolResult {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        match client.call_tool(name, arguments.clone()).await {
            Ok(result) if !result.is_error() => return result,
            other => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "`{name}` never came back: {other:?}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

#[tokio::test]
async fn a_stdio_upstream_serves_every_kind_under_its_prefix_in_both_eras() {
    assert!(
        std::env::var("CARGO_MANIFEST_DIR").is_ok(),
        "the parent has a variable the child must not see"
    );
    let server = Server::builder("acme")
        .tools(tools![add])
        .mount(
            "remote",
            stdio_upstream().env("GIVEN", Secret::new("to the child".into())),
        )
        .build()
        .unwrap();
    for era in [Era::Legacy, Era::Modern] {
        let client = TestClient::connect_era(server.clone(), era).await.unwrap();
        assert_eq!(
            crate::tool_names(&client).await,
            [
                "add",
                "remote_echo",
                "remote_count",
                "remote_env",
                "remote_pid",
                "remote_crash"
            ]
        );
        let echoed = client
            .call_tool("remote_echo", json!({ "text": "hi" }))
            .await
            .unwrap();
        assert_eq!(echoed.text(), "upstream: hi");
        let given = client
            .call_tool("remote_env", json!({ "name": "GIVEN" }))
            .await
            .unwrap();
        assert_eq!(given.text(), "to the child");
        let leaked = client
            .call_tool("remote_env", json!({ "name": "CARGO_MANIFEST_DIR" }))
            .await
            .unwrap();
        assert_eq!(
            leaked.text(),
            "<unset>",
            "the child's environment is its own"
        );

        assert_eq!(
            crate::uris(&client.list_resources().await.unwrap()),
            ["notes://remote/readme"]
        );
        assert_eq!(
            crate::uris(&client.list_resource_templates().await.unwrap()),
            ["notes://remote/pages/{page}"]
        );
        let page = client
            .read_resource("notes://remote/pages/7")
            .await
            .unwrap();
        assert_eq!(page.text(), "page 7 at notes://pages/7");
        assert_eq!(page.uri(), Some("notes://remote/pages/7"));
        let prompt = client
            .get_prompt("remote_greet", json!({ "name": "Ana" }))
            .await
            .unwrap();
        assert_eq!(prompt.text(), "Say hello to Ana.");
        let prompts = client.list_prompts().await.unwrap();
        assert_eq!(prompts[0]["arguments"][0]["name"], "name");
    }
    // Progress from the upstream reaches the caller.
    let client = TestClient::connect(server).await.unwrap();
    let counted = client
        .call_tool("remote_count", json!({ "n": 3 }))
        .await
        .unwrap();
    assert_eq!(counted.structured(), Some(&json!({ "result": 3 })));
    let steps: Vec<f64> = client
        .progress(3)
        .await
        .iter()
        .map(|p| p.progress)
        .collect();
    assert_eq!(steps, [1.0, 2.0, 3.0]);
}

#[tokio::test]
async fn an_upstream_that_dies_mid_call_is_a_clear_error_and_comes_back() {
    let server = Server::builder("acme")
        .tools(tools![add])
        .mount("remote", stdio_upstream())
        .build()
        .unwrap();
    let client = TestClient::connect(server).await.unwrap();
    let crashed = client.call_tool("remote_crash", json!({})).await;
    let message = outcome_text(crashed);
    assert!(message.contains("upstream `remote`"), "{message}");
    // The rest of the server is untouched, and the upstream is started again.
    let sum = client
        .call_tool("add", json!({ "a": 1, "b": 2 }))
        .await
        .unwrap();
    assert_eq!(sum.text(), "3");
    let echoed = eventually_ok(&client, "remote_echo", json!({ "text": "again" })).await;
    assert_eq!(echoed.text(), "upstream: again");
}

/// What an HTTP upstream saw and can be made to do.
#[derive(Default)]
struct Seen {
    headers: Mutex<Vec<(String, String)>>,
    cancelled: AtomicBool,
}

#[derive(Clone)]
struct Remote {
    seen: Arc<Seen>,
}

/// A platform server reached over HTTP.
#[server(name = "remote")]
impl Remote {
    /// Say who called.
    #[tool]
    fn whoami(&self) -> String {
        "remote".into()
    }

    /// Count to `n`, reporting progress.
    #[tool]
    async fn count(&self, n: u32, ctx: Context) -> u32 {
        for step in 1..=n {
            ctx.progress(f64::from(step), Some(f64::from(n)), None)
                .await;
        }
        n
    }

    /// Wait until cancelled.
    #[tool]
    async fn wait(&self, ctx: Context) -> String {
        ctx.cancelled().await;
        self.seen.cancelled.store(true, Ordering::SeqCst);
        "cancelled".into()
    }

    /// Echo with a prefix.
    #[tool]
    fn echo(&self, text: String, prefix: Option<String>) -> String {
        format!("{}{text}", prefix.unwrap_or_default())
    }
}

/// Serve `Remote` over HTTP on `bind`, recording every request's headers.
async fn remote_over_http(
    seen: &Arc<Seen>,
    bind: SocketAddr,
) -> (Server, platform_runtime::transport::http::HttpServer) {
    let record = seen.clone();
    let server = Remote { seen: seen.clone() }
        .into_builder()
        .layer(from_fn(move |request: McpRequest, next: Next| {
            let record = record.clone();
            async move {
                if let Some(parts) = request.extension::<axum::http::request::Parts>() {
                    let mut headers = record.headers.lock().unwrap();
                    for (name, value) in &parts.headers {
                        headers.push((
                            name.as_str().to_owned(),
                            value.to_str().unwrap_or("").to_owned(),
                        ));
                    }
                }
                next.run(request).await
            }
        }))
        .build()
        .unwrap();
    let http = platform_runtime::transport::http::start(
        server.clone(),
        HttpConfig {
            bind,
            // Stopping cuts the proxy's open streams at once.
            shutdown_grace: Duration::from_millis(100),
            ..HttpConfig::default()
        },
    )
    .await
    .unwrap();
    (server, http)
}

/// `Remote` over HTTP on a free loopback port: what it sees, the server, its HTTP server and
/// its URL.
async fn remote_on_loopback() -> (
    Arc<Seen>,
    Server,
    platform_runtime::transport::http::HttpServer,
    String,
) {
    let seen = Arc::new(Seen::default());
    let (remote, http) = remote_over_http(&seen, loopback()).await;
    let url = format!("http://{}/mcp", http.local_addr());
    (seen, remote, http, url)
}

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

#[tokio::test]
async fn progress_cancellation_and_list_changes_cross_an_http_proxy() {
    let (seen, remote, http, url) = remote_on_loopback().await;
    let server = Server::builder("front")
        .tools(tools![add])
        .mount_with("remote", Upstream::http(&url), |m| {
            m.tool("echo", |t| t.fix_argument("prefix", json!("via proxy: ")))
        })
        .build()
        .unwrap();
    let client = TestClient::connect(server).await.unwrap();
    assert_eq!(
        crate::tool_names(&client).await,
        [
            "add",
            "remote_whoami",
            "remote_count",
            "remote_wait",
            "remote_echo"
        ]
    );

    // A transform applies to a proxied tool as to a local one.
    let tools = client.list_tools().await.unwrap();
    let echo = tools.iter().find(|t| t.name == "remote_echo").unwrap();
    assert!(echo.input_schema["properties"].get("prefix").is_none());
    let echoed = client
        .call_tool("remote_echo", json!({ "text": "hi" }))
        .await
        .unwrap();
    assert_eq!(echoed.text(), "via proxy: hi");

    let counted = client
        .call_tool("remote_count", json!({ "n": 3 }))
        .await
        .unwrap();
    assert_eq!(counted.structured(), Some(&json!({ "result": 3 })));
    assert_eq!(client.progress(3).await.len(), 3);

    // The caller's cancellation reaches the upstream's tool.
    let pending = client.start_call("remote_wait", json!({})).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    pending.cancel("no longer needed").await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !seen.cancelled.load(Ordering::SeqCst) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the upstream never saw the cancellation"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // A tool added upstream appears downstream, and the client is told.
    let before = client.tools_changed(0).await;
    for tool in tools![fresh] {
        remote.handle().add_tool(tool);
    }
    assert!(client.tools_changed(before + 1).await > before);
    let fresh = client.call_tool("remote_fresh", json!({})).await.unwrap();
    assert_eq!(fresh.text(), "fresh from upstream");
    // Dropping the server closes its upstream sessions, so the upstream stops at once.
    client.close().await;
    stop(http).await;
}

/// Added to the upstream while the proxy runs.
#[tool]
fn fresh() -> &'static str {
    "fresh from upstream"
}

#[tokio::test]
async fn an_upstream_down_at_start_is_a_clear_error_until_it_comes_up() {
    // A port nothing listens on, until the upstream starts on it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let server = Server::builder("front")
        .tools(tools![add])
        .mount(
            "remote",
            Upstream::http(format!("http://{port}/mcp")).connect_timeout(Duration::from_secs(2)),
        )
        .build()
        .unwrap();
    let client = TestClient::connect(server).await.unwrap();
    assert_eq!(crate::tool_names(&client).await, ["add"]);
    let down = client.call_tool("remote_whoami", json!({})).await;
    let message = outcome_text(down);
    assert!(
        message.contains("upstream `remote` is unavailable"),
        "{message}"
    );
    let sum = client
        .call_tool("add", json!({ "a": 2, "b": 2 }))
        .await
        .unwrap();
    assert_eq!(sum.text(), "4");

    let seen = Arc::new(Seen::default());
    let (_remote, http) = remote_over_http(&seen, port).await;
    let whoami = eventually_ok(&client, "remote_whoami", json!({})).await;
    assert_eq!(whoami.text(), "remote");
    assert!(
        client.tools_changed(1).await >= 1,
        "the new tools were announced"
    );
    client.close().await;
    stop(http).await;
}

/// A token endpoint on 127.0.0.1 that records the form it was sent and grants `cc-token`.
async fn token_endpoint(forms: Arc<Mutex<Vec<String>>>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind(loopback()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().route(
        "/token",
        axum::routing::post(move |body: String| {
            let forms = forms.clone();
            async move {
                forms.lock().unwrap().push(body);
                (
                    [("content-type", "application/json")],
                    json!({
                        "access_token": "cc-token",
                        "token_type": "Bearer",
                        "expires_in": 3600
                    })
                    .to_string(),
                )
            }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

#[tokio::test]
async fn the_upstream_sees_only_the_proxy_s_credential() {
    let forms = Arc::new(Mutex::new(Vec::new()));
    let token_addr = token_endpoint(forms.clone()).await;
    for credential in ["api key", "bearer", "client credentials"] {
        let seen = Arc::new(Seen::default());
        let (_remote, upstream) = remote_over_http(&seen, loopback()).await;
        let url = format!("http://{}/mcp", upstream.local_addr());
        let proxy = match credential {
            "api key" => Upstream::http(&url).api_key("x-api-key", Secret::new("proxy-key".into())),
            "bearer" => Upstream::http(&url).bearer(Secret::new("proxy-token".into())),
            _ => Upstream::http(&url).client_credentials(
                format!("http://{token_addr}/token"),
                "the-proxy",
                Secret::new("proxy-secret".into()),
                ["mcp:call"],
            ),
        };
        let front = Server::builder("front")
            .mount("remote", proxy)
            .build()
            .unwrap();
        front.ready().await;
        let http = serve_with(front, HttpConfig::default()).await;
        let call = r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"remote_whoami","arguments":{},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}"#;
        let reply = request(
            http.local_addr(),
            "POST",
            "/mcp",
            &[
                JSON,
                ACCEPT,
                ("mcp-protocol-version", "2026-07-28"),
                ("mcp-method", "tools/call"),
                ("mcp-name", "remote_whoami"),
                ("authorization", "Bearer caller-token"),
                ("x-api-key", "caller-key"),
            ],
            call.as_bytes(),
        )
        .await;
        assert_eq!(reply.status, 200, "{credential}: {}", reply.body);
        assert!(
            reply.body.contains("remote"),
            "{credential}: {}",
            reply.body
        );

        let headers = seen.headers.lock().unwrap().clone();
        assert!(
            !headers.is_empty(),
            "{credential}: the upstream was reached"
        );
        for (name, value) in &headers {
            assert!(
                !value.contains("caller-token") && !value.contains("caller-key"),
                "{credential}: the caller's credential reached the upstream in `{name}`"
            );
        }
        let values = |wanted: &str| -> Vec<&str> {
            headers
                .iter()
                .filter(|(n, _)| n == wanted)
                .map(|(_, v)| v.as_str())
                .collect()
        };
        match credential {
            "api key" => {
                assert!(values("x-api-key").iter().all(|v| *v == "proxy-key"));
                assert!(!values("x-api-key").is_empty());
                assert!(values("authorization").is_empty());
            }
            "bearer" => {
                assert!(!values("authorization").is_empty());
                assert!(
                    values("authorization")
                        .iter()
                        .all(|v| *v == "Bearer proxy-token")
                );
            }
            _ => {
                assert!(!values("authorization").is_empty());
                assert!(
                    values("authorization")
                        .iter()
                        .all(|v| *v == "Bearer cc-token")
                );
                let form = forms.lock().unwrap().last().cloned().unwrap();
                for part in [
                    "grant_type=client_credentials",
                    "client_id=the%2Dproxy",
                    "client_secret=proxy%2Dsecret",
                    "scope=mcp%3Acall",
                ] {
                    assert!(form.contains(part), "{part} in {form}");
                }
            }
        }
        stop(http).await;
        stop(upstream).await;
    }
}

/// A configuration from `vars` alone (no file, no process environment).
fn config_from(vars: &[(&str, &str)]) -> Result<platform_runtime::config::Config, String> {
    let empty = std::env::temp_dir().join(format!("platform-proxy-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    platform_runtime::config::ConfigSource::default()
        .dir(&empty)
        .environment(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())))
        .load()
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn configuration_points_a_mounted_upstream_elsewhere_or_is_refused() {
    let (seen, _remote, http, url) = remote_on_loopback().await;
    let build = || {
        Server::builder("front")
            .mount("remote", stdio_upstream())
            .build()
            .unwrap()
    };
    // In code a child process; configuration sends it to the HTTP server, with a key.
    let config = config_from(&[
        ("PLATFORM_UPSTREAMS__REMOTE__URL", url.as_str()),
        ("PLATFORM_UPSTREAMS__REMOTE__API_KEY", "configured-key"),
        ("PLATFORM_UPSTREAMS__REMOTE__API_KEY_HEADER", "x-api-key"),
        ("PLATFORM_UPSTREAMS__REMOTE__CALL_TIMEOUT", "5s"),
    ])
    .unwrap();
    assert!(
        !config.to_redacted_toml().contains("configured-key"),
        "the key is a secret"
    );
    let server = build().with_config(&config).unwrap();
    let client = TestClient::connect(server).await.unwrap();
    assert_eq!(
        crate::tool_names(&client).await,
        [
            "remote_whoami",
            "remote_count",
            "remote_wait",
            "remote_echo"
        ]
    );
    client.call_tool("remote_whoami", json!({})).await.unwrap();
    assert!(
        seen.headers
            .lock()
            .unwrap()
            .iter()
            .any(|(n, v)| n == "x-api-key" && v == "configured-key")
    );
    client.close().await;

    for (vars, expected) in [
        (
            vec![("PLATFORM_UPSTREAMS__NOWHERE__URL", "http://127.0.0.1:1/mcp")],
            "`upstreams.nowhere`: no remote server is mounted at `nowhere`; mounted: remote",
        ),
        (
            vec![
                ("PLATFORM_UPSTREAMS__REMOTE__URL", "http://127.0.0.1:1/mcp"),
                ("PLATFORM_UPSTREAMS__REMOTE__COMMAND", "mcp-files"),
            ],
            "`upstreams.remote`: set `url` or `command`, not both",
        ),
        (
            vec![("PLATFORM_UPSTREAMS__REMOTE__API_KEY", "k")],
            "`upstreams.remote.api_key` needs `upstreams.remote.api_key_header`",
        ),
        (
            vec![("PLATFORM_UPSTREAMS__REMOTE__URL", "ftp://example.com")],
            "is not an http:// or https:// URL",
        ),
        (
            vec![("PLATFORM_UPSTREAMS__REMOTE__POOL_SIZE", "99")],
            "`upstreams.remote.pool_size` is 99: use 1 to 16",
        ),
    ] {
        let config = config_from(&vars).unwrap();
        let error = build().with_config(&config).unwrap_err().to_string();
        assert!(error.contains(expected), "{expected}\nin: {error}");
    }
    let unknown_key = config_from(&[("PLATFORM_UPSTREAMS__REMOTE__URI", "http://x")]).unwrap_err();
    assert!(unknown_key.contains("uri"), "{unknown_key}");
    stop(http).await;
}

#[tokio::test]
async fn a_pool_spreads_calls_over_its_sessions() {
    let server = Server::builder("acme")
        .mount("remote", stdio_upstream().pool_size(2))
        .build()
        .unwrap();
    let client = TestClient::connect(server).await.unwrap();
    let mut pids = std::collections::BTreeSet::new();
    for _ in 0..4 {
        let pid = client.call_tool("remote_pid", json!({})).await.unwrap();
        pids.insert(pid.text());
    }
    assert_eq!(pids.len(), 2, "two child processes answered: {pids:?}");
}

#[tokio::test]
async fn a_slow_upstream_call_times_out_and_is_cancelled_upstream() {
    let (seen, _remote, http, url) = remote_on_loopback().await;
    let server = Server::builder("front")
        .mount(
            "remote",
            Upstream::http(&url).call_timeout(Duration::from_millis(300)),
        )
        .build()
        .unwrap();
    let client = TestClient::connect(server).await.unwrap();
    let timed_out = client.call_tool("remote_wait", json!({})).await;
    let message = outcome_text(timed_out);
    assert!(message.contains("did not answer within"), "{message}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !seen.cancelled.load(Ordering::SeqCst) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the upstream was not told to stop"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    client.close().await;
    stop(http).await;
}

#[tokio::test]
async fn a_failing_upstream_opens_its_circuit() {
    use platform_runtime::component::policy::CircuitBreakerPolicy;
    let (_seen, _remote, http, url) = remote_on_loopback().await;
    let server = Server::builder("front")
        .mount(
            "remote",
            Upstream::http(&url)
                .connect_timeout(Duration::from_secs(1))
                .circuit_breaker(CircuitBreakerPolicy {
                    failure_ratio: 0.5,
                    window: Duration::from_secs(30),
                    min_calls: 2,
                    cooldown: Duration::from_secs(60),
                }),
        )
        .build()
        .unwrap();
    let client = TestClient::connect(server).await.unwrap();
    client.call_tool("remote_whoami", json!({})).await.unwrap();
    // The upstream goes away; its tools stay listed and fail, until the circuit opens.
    stop(http).await;
    let mut messages = Vec::new();
    for _ in 0..4 {
        let outcome = client.call_tool("remote_whoami", json!({})).await;
        messages.push(outcome_text(outcome));
    }
    assert!(messages[0].contains("upstream `remote`"), "{messages:?}");
    assert!(
        messages[3].contains("circuit open"),
        "the breaker fails fast once open: {messages:?}"
    );
    assert!(
        crate::tool_names(&client)
            .await
            .contains(&"remote_whoami".to_owned())
    );
}

#[tokio::test]
async fn a_2026_07_28_upstream_is_proxied_and_followed() {
    let (seen, remote, http, url) = remote_on_loopback().await;
    let server = Server::builder("front")
        .mount("remote", Upstream::http(&url).era(Era::Modern))
        .build()
        .unwrap();
    let client = TestClient::connect(server).await.unwrap();
    let whoami = client.call_tool("remote_whoami", json!({})).await.unwrap();
    assert_eq!(whoami.text(), "remote");
    assert!(
        seen.headers
            .lock()
            .unwrap()
            .iter()
            .any(|(n, v)| n == "mcp-protocol-version" && v == "2026-07-28"),
        "the proxy spoke 2026-07-28"
    );
    let before = client.tools_changed(0).await;
    for tool in tools![fresh] {
        remote.handle().add_tool(tool);
    }
    assert!(client.tools_changed(before + 1).await > before);
    let fresh = client.call_tool("remote_fresh", json!({})).await.unwrap();
    assert_eq!(fresh.text(), "fresh from upstream");
    client.close().await;
    stop(http).await;
}

/// A local tool with the name a proxied one would get.
#[tool(name = "remote_whoami")]
fn local_whoami() -> &'static str {
    "local"
}

#[tokio::test]
async fn an_upstream_cannot_shadow_a_local_component() {
    let (_seen, _remote, http, url) = remote_on_loopback().await;
    let server = Server::builder("front")
        .tools(tools![local_whoami])
        .mount("remote", Upstream::http(&url))
        .build()
        .unwrap();
    let client = TestClient::connect(server).await.unwrap();
    let names = crate::tool_names(&client).await;
    assert_eq!(
        names.iter().filter(|n| *n == "remote_whoami").count(),
        1,
        "{names:?}"
    );
    assert!(names.contains(&"remote_count".to_owned()), "{names:?}");
    let whoami = client.call_tool("remote_whoami", json!({})).await.unwrap();
    assert_eq!(whoami.text(), "local");
    client.close().await;
    stop(http).await;
}
