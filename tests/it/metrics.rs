//! Metrics observed from outside: requests over a real socket, then `GET /metrics` on the
//! telemetry's own listener, parsed, checked by `promtool check metrics` and scraped by a
//! real Prometheus server queried through its HTTP API.
//!
//! `promtool` and `prometheus` come from Debian's `prometheus` package; `.ci/run` installs
//! it and sets `PLATFORM_REQUIRE_PROMETHEUS=1`, without which a machine lacking them skips
//! those two checks (with a line saying so).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use platform_runtime::auth::{ApiKey, Auth};
use platform_runtime::config::{MetricsSection, TelemetrySection};
use platform_runtime::observability::Telemetry;
use platform_runtime::prelude::*;
use platform_runtime::transport::http::HttpConfig;
use serde_json::{Value, json};

use crate::http::{ACCEPT, INITIALIZE, JSON, request, serve_with, stop};

/// Echo `text`.
#[tool]
fn echo(text: String) -> String {
    text
}

/// One call a minute.
#[tool]
#[rate_limit(1, per = "1m")]
fn limited() -> &'static str {
    "ok"
}

/// The same answer for a minute.
#[tool(read_only)]
#[cache(ttl = "60s", scope = "public")]
fn cached() -> &'static str {
    "cached"
}

/// Its upstream is always down; its breaker opens after two calls.
#[tool]
#[circuit_breaker(failure_ratio = 0.5, window = "30s", min_calls = 2, cooldown = "60s")]
fn flaky() -> Result<String, ToolError> {
    Err(ToolError::unavailable("the upstream is down"))
}

/// Operators only.
#[tool]
#[requires_role("ops")]
fn purge() -> &'static str {
    "purged"
}

const KEY: &str = "metrics-test-key";

async fn serve() -> platform_runtime::transport::http::HttpServer {
    let server = Server::builder("metrics")
        .tools(tools![echo, limited, cached, flaky, purge])
        .build()
        .unwrap();
    let auth = Auth::new().api_key(ApiKey::new("svc", ApiKey::hash(KEY)));
    serve_with(
        server,
        HttpConfig {
            auth: Some(auth.build().unwrap()),
            session_sleep_after: std::time::Duration::from_millis(300),
            ..HttpConfig::default()
        },
    )
    .await
}

/// The instruments are the process's: tests that install them run one at a time (under
/// `cargo test`; nextest runs each test in a process of its own).
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn telemetry() -> Telemetry {
    let section = TelemetrySection {
        metrics: Some(MetricsSection {
            bind: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        }),
        ..TelemetrySection::default()
    };
    let (telemetry, _dispatch) =
        Telemetry::with_writer(&section, "metrics-test", std::io::sink).unwrap();
    telemetry
}

/// A 2026-07-28 `tools/call` of `tool` with the API key; the JSON-RPC reply.
async fn call(addr: SocketAddr, tool: &str, arguments: Value) -> Value {
    let body = json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": { "name": tool, "arguments": arguments, "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {},
        }},
    })
    .to_string();
    let headers = [
        JSON,
        ACCEPT,
        ("x-api-key", KEY),
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", "tools/call"),
        ("mcp-name", tool),
    ];
    let reply = request(addr, "POST", "/mcp", &headers, body.as_bytes()).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    serde_json::from_str(&reply.body).unwrap()
}

/// One sample of the exposition: name, labels, value.
type Sample = (String, BTreeMap<String, String>, f64);

fn samples(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').unwrap();
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let labels = labels
                .split("\",")
                .filter(|p| !p.is_empty())
                .map(|pair| {
                    let (k, v) = pair.split_once('=').unwrap();
                    (k.to_owned(), v.trim_matches('"').to_owned())
                })
                .collect();
            let value = match value {
                "+Inf" => f64::INFINITY,
                v => v.parse().unwrap_or_else(|e| panic!("{e}: {line}")),
            };
            (name.to_owned(), labels, value)
        })
        .collect()
}

/// The sum of `name`'s samples carrying every label of `with`.
fn value(samples: &[Sample], name: &str, with: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|(n, labels, _)| {
            n == name
                && with
                    .iter()
                    .all(|(k, v)| labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|(_, _, v)| v)
        .sum()
}

async fn scrape(addr: SocketAddr) -> String {
    let reply = request(addr, "GET", "/metrics", &[], b"").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    reply.body
}

/// The path of a Debian `prometheus` package tool, or `None` (and a note) when it is not
/// installed and CI did not ask for it.
fn tool_path(name: &str) -> Option<String> {
    let found = std::process::Command::new(name)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Some(name.to_owned());
    }
    assert!(
        std::env::var_os("PLATFORM_REQUIRE_PROMETHEUS").is_none(),
        "`{name}` is required (PLATFORM_REQUIRE_PROMETHEUS is set): apt-get install prometheus"
    );
    eprintln!("skipping the `{name}` check: it is not installed (apt-get install prometheus)");
    None
}

#[tokio::test]
async fn requests_sessions_refusals_cache_and_breakers_show_in_the_exposition() {
    let _serial = SERIAL.lock().await;
    let telemetry = telemetry();
    let metrics = telemetry.metrics_addr().expect("a metrics listener");
    let http = serve().await;
    let addr = http.local_addr();

    for text in ["a", "b", "c"] {
        let reply = call(addr, "echo", json!({ "text": text })).await;
        assert_eq!(reply["result"]["content"][0]["text"], text);
    }
    // A name no tool has: counted, but never as a label.
    let made_up = "no-such-tool-4f2a";
    assert!(call(addr, made_up, json!({})).await.get("error").is_some());
    // Rate limited on the second call.
    call(addr, "limited", json!({})).await;
    let refused = call(addr, "limited", json!({})).await;
    assert!(refused.to_string().contains("rate"), "{refused}");
    // A miss, then a hit.
    call(addr, "cached", json!({})).await;
    call(addr, "cached", json!({})).await;
    // Two failures open the breaker; the third is refused by it.
    for _ in 0..3 {
        call(addr, "flaky", json!({})).await;
    }
    // The API key has no role: denied.
    let denied = call(addr, "purge", json!({})).await;
    assert!(denied.get("error").is_some(), "{denied}");
    // A wrong key: an authentication failure, before any MCP handling.
    let wrong = request(
        addr,
        "POST",
        "/mcp",
        &[JSON, ACCEPT, ("x-api-key", "guess")],
        INITIALIZE.as_bytes(),
    )
    .await;
    assert_eq!(wrong.status, 401);
    // A legacy session, open while scraped.
    let init = request(
        addr,
        "POST",
        "/mcp",
        &[JSON, ACCEPT, ("x-api-key", KEY)],
        INITIALIZE.as_bytes(),
    )
    .await;
    assert_eq!(init.status, 200, "{}", init.body);
    let session = init.header("mcp-session-id").unwrap().to_owned();

    let open = samples(&scrape(metrics).await);
    assert_eq!(value(&open, "platform_sessions_open", &[]), 1.0);
    // Left alone, it is put to sleep: still open, and asleep.
    crate::hostile::eventually("the session sleeps", || http.stats().asleep_sessions == 1).await;
    let asleep = samples(&scrape(metrics).await);
    assert_eq!(value(&asleep, "platform_sessions_open", &[]), 1.0);
    assert_eq!(value(&asleep, "platform_sessions_asleep", &[]), 1.0);
    // Its next request wakes it; then it is put to sleep again, and deleted asleep.
    let list = br#"{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{}}"#;
    let in_session = [
        JSON,
        ACCEPT,
        ("x-api-key", KEY),
        ("mcp-session-id", session.as_str()),
        ("mcp-protocol-version", "2025-11-25"),
    ];
    let listed = request(addr, "POST", "/mcp", &in_session, list).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    let awake = samples(&scrape(metrics).await);
    assert_eq!(value(&awake, "platform_sessions_asleep", &[]), 0.0);
    assert_eq!(value(&awake, "platform_sessions_open", &[]), 1.0);
    crate::hostile::eventually("the session sleeps again", || {
        http.stats().asleep_sessions == 1
    })
    .await;

    let closed = request(
        addr,
        "DELETE",
        "/mcp",
        &[("x-api-key", KEY), ("mcp-session-id", &session)],
        b"",
    )
    .await;
    assert!(closed.status < 300, "{}", closed.status);
    let text = scrape(metrics).await;
    let all = samples(&text);
    let operations = "mcp_server_operation_duration_seconds_count";
    let echo = [
        ("mcp_method_name", "tools/call"),
        ("gen_ai_tool_name", "echo"),
        ("network_transport", "tcp"),
        ("mcp_protocol_version", "2026-07-28"),
    ];
    assert_eq!(value(&all, operations, &echo), 3.0, "{text}");
    let buckets: Vec<&Sample> = all
        .iter()
        .filter(|(n, l, _)| {
            n == "mcp_server_operation_duration_seconds_bucket"
                && l.get("gen_ai_tool_name").map(String::as_str) == Some("echo")
        })
        .collect();
    assert_eq!(
        buckets.last().map(|b| b.2),
        Some(3.0),
        "+Inf holds all three"
    );
    assert!(buckets.windows(2).all(|w| w[0].2 <= w[1].2), "cumulative");
    assert!(!text.contains(made_up), "{text}");
    assert_eq!(
        value(
            &all,
            operations,
            &[
                ("mcp_method_name", "tools/call"),
                ("error_type", "invalid_params")
            ]
        ),
        1.0,
        "{text}"
    );
    for (name, tool, expected) in [
        ("platform_rate_limited_total", "limited", 1.0),
        ("platform_cache_hits_total", "cached", 1.0),
        ("platform_cache_misses_total", "cached", 1.0),
        ("platform_circuit_breaker_open", "flaky", 1.0),
        ("platform_denied_total", "purge", 1.0),
    ] {
        assert_eq!(
            value(&all, name, &[("gen_ai_tool_name", tool)]),
            expected,
            "{name}: {text}"
        );
    }
    assert_eq!(
        value(
            &all,
            operations,
            &[("gen_ai_tool_name", "flaky"), ("error_type", "unavailable")]
        ),
        3.0,
        "two failures and the breaker's refusal: {text}"
    );
    assert_eq!(
        value(
            &all,
            "platform_auth_failures_total",
            &[("error_type", "invalid_token")]
        ),
        1.0,
        "{text}"
    );
    assert_eq!(value(&all, "platform_requests_in_flight", &[]), 0.0);
    assert_eq!(value(&all, "platform_sessions_open", &[]), 0.0);
    assert_eq!(value(&all, "platform_sessions_asleep", &[]), 0.0, "{text}");
    assert_eq!(
        value(&all, "mcp_server_session_duration_seconds_count", &[]),
        1.0,
        "{text}"
    );
    assert_eq!(
        value(
            &all,
            operations,
            &[
                ("mcp_method_name", "initialize"),
                ("mcp_protocol_version", "2025-11-25")
            ]
        ),
        1.0,
        "{text}"
    );
    // No label names a caller.
    assert!(!text.contains("svc") && !text.contains(KEY), "{text}");

    if let Some(promtool) = tool_path("promtool") {
        let mut check = std::process::Command::new(promtool)
            .args(["check", "metrics"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write as _;
        check
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let out = check.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "promtool: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    the_deploy_files_use_only_these_metrics(&text);

    stop(http).await;
    tokio::task::spawn_blocking(move || telemetry.shutdown())
        .await
        .unwrap();
}

/// The Grafana dashboard and the alert rules name only metrics and labels the exposition
/// has, so they cannot drift from the code; `promtool check rules` accepts the rules.
fn the_deploy_files_use_only_these_metrics(exposition: &str) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dashboard = std::fs::read_to_string(root.join("deploy/grafana/platform-mcp.json")).unwrap();
    let rules_path = root.join("deploy/prometheus/alerts.yml");
    let rules = std::fs::read_to_string(&rules_path).unwrap();
    let dashboard: Value = serde_json::from_str(&dashboard).unwrap();
    let mut expressions: Vec<String> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["targets"].as_array().unwrap().clone())
        .map(|t| t["expr"].as_str().unwrap().to_owned())
        .collect();
    assert!(expressions.len() >= 10, "{expressions:?}");
    expressions.push(rules.clone());

    let mut series = std::collections::BTreeSet::new();
    let mut label_names: std::collections::BTreeSet<String> =
        ["le", "job", "instance"].map(String::from).into();
    for (name, labels, _) in samples(exposition) {
        series.insert(name);
        label_names.extend(labels.into_keys());
    }
    for expression in &expressions {
        let words = expression.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'));
        for word in words.filter(|w| w.starts_with("mcp_server_") || w.starts_with("platform_")) {
            assert!(
                series.contains(word),
                "`{word}` is not exposed: {expression}"
            );
        }
        for clause in expression.split("by (").skip(1) {
            let inside = clause.split(')').next().unwrap();
            for label in inside.split(',').map(str::trim) {
                assert!(
                    label_names.contains(label),
                    "no label `{label}`: {expression}"
                );
            }
        }
    }
    if let Some(promtool) = tool_path("promtool") {
        let out = std::process::Command::new(promtool)
            .args(["check", "rules"])
            .arg(&rules_path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool check rules: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[tokio::test]
async fn the_metrics_listener_answers_only_metrics_and_is_not_held_by_a_stalled_client() {
    let _serial = SERIAL.lock().await;
    let telemetry = telemetry();
    let metrics = telemetry.metrics_addr().unwrap();
    assert_eq!(request(metrics, "GET", "/", &[], b"").await.status, 404);
    let post = request(metrics, "POST", "/metrics", &[], b"x").await;
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow"), Some("GET, HEAD"));
    // A head larger than the listener's buffer is refused, not buffered.
    let huge = "a".repeat(64 * 1024);
    let big = request(metrics, "GET", "/metrics", &[("x-filler", &huge)], b"").await;
    assert_ne!(big.status, 200);
    // A client that sends half a request head and stalls does not hold up a scrape.
    let mut stalled = tokio::net::TcpStream::connect(metrics).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut stalled, b"GET /metr")
        .await
        .unwrap();
    let reply = request(metrics, "GET", "/metrics", &[], b"").await;
    assert_eq!(reply.status, 200);
    drop(stalled);
    // A taken port is an error at start, naming the key.
    let section = TelemetrySection {
        metrics: Some(MetricsSection {
            bind: Some(metrics),
        }),
        ..TelemetrySection::default()
    };
    let error = Telemetry::with_writer(&section, "t", std::io::sink).unwrap_err();
    assert!(
        error.to_string().contains("telemetry.metrics.bind"),
        "{error}"
    );
    // A section without `bind` is refused rather than ignored.
    let section = TelemetrySection {
        metrics: Some(MetricsSection::default()),
        ..TelemetrySection::default()
    };
    let error = Telemetry::with_writer(&section, "t", std::io::sink).unwrap_err();
    assert!(error.to_string().contains("no `bind`"), "{error}");
    tokio::task::spawn_blocking(move || telemetry.shutdown())
        .await
        .unwrap();
}

/// A real Prometheus server scrapes the endpoint; its query API then returns our series.
#[tokio::test]
async fn a_prometheus_server_scrapes_the_endpoint() {
    let Some(prometheus) = tool_path("prometheus") else {
        return;
    };
    let _serial = SERIAL.lock().await;
    let telemetry = telemetry();
    let metrics = telemetry.metrics_addr().unwrap();
    let http = serve().await;
    call(http.local_addr(), "echo", json!({ "text": "scraped" })).await;

    let dir = std::env::temp_dir().join(format!("platform-prometheus-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: platform\n    static_configs:\n      - targets: ['{metrics}']\n"
        ),
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut server = std::process::Command::new(prometheus)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address={port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let query = "/api/v1/query?query=mcp_server_operation_duration_seconds_count%7Bgen_ai_tool_name%3D%22echo%22%7D";
    let mut found = None;
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let Ok(stream) = tokio::net::TcpStream::connect(port).await else {
            continue;
        };
        drop(stream);
        let reply = request(port, "GET", query, &[], b"").await;
        if reply.status != 200 {
            continue;
        }
        let Some(body) = reply.body.find('{').map(|i| &reply.body[i..]) else {
            continue;
        };
        let Ok(answer) = serde_json::from_str::<Value>(body) else {
            continue;
        };
        if let Some(sample) = answer["data"]["result"].as_array().and_then(|r| r.first()) {
            found = Some(sample.clone());
            break;
        }
    }
    let _ = server.kill();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&dir);
    let sample = found.expect("Prometheus returned the series within 30 s");
    assert_eq!(sample["metric"]["job"], "platform");
    assert_eq!(sample["metric"]["mcp_method_name"], "tools/call");
    assert_eq!(sample["value"][1], "1");
    stop(http).await;
    tokio::task::spawn_blocking(move || telemetry.shutdown())
        .await
        .unwrap();
}
