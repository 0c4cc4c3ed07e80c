//! Request spans, trace context and log formats, observed from outside: JSON log lines
//! captured from a real subscriber, spans exported over OTLP/HTTP to a receiver this test
//! runs on loopback, requests sent over a real socket.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::metrics::v1::{Metric, metric};
use opentelemetry_proto::tonic::trace::v1::Span;
use platform_runtime::config::{LogFormat, OtlpSection, TelemetrySection};
use platform_runtime::observability::{Telemetry, trace_headers};
use platform_runtime::prelude::*;
use platform_runtime::transport::http::HttpConfig;
use prost::Message as _;
use serde_json::{Value, json};

use crate::Captured;
use crate::http::{ACCEPT, JSON, request, serve_with, stop};

/// Echo `text`.
#[tool]
fn echo(text: String) -> String {
    text
}

/// Always fails.
#[tool]
fn broken() -> Result<String, ToolError> {
    Err(ToolError::new("it broke"))
}

/// The `traceparent` this tool would send to a service it calls.
#[tool]
fn outbound() -> String {
    trace_headers()
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// Looks something up inside a span of its own, warning on the way.
#[tool]
fn lookup() -> String {
    let span = tracing::info_span!("lookup", city = "Paris", attempts = 3_i64, cached = false);
    let _entered = span.enter();
    tracing::warn!(reason = "slow", "upstream slow");
    "found".into()
}

/// Logs from two tasks of its own: one spawned in the request's trace, one not.
#[tool]
async fn spawns() -> String {
    let traced = tokio::spawn(platform_runtime::observability::in_current_trace(async {
        tracing::info!("in a traced task");
    }));
    let untraced = tokio::spawn(async {
        tracing::info!("in an untraced task");
    });
    let _ = tokio::join!(traced, untraced);
    "spawned".into()
}

fn server() -> Server {
    Server::builder("telemetry")
        .tools(tools![echo, broken, outbound, lookup, spawns])
        .build()
        .unwrap()
}

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT: &str = "00f067aa0ba902b7";

/// A 2026-07-28 `tools/call` with `extra` merged into its `_meta`.
fn call(tool: &str, arguments: Value, extra: Value) -> String {
    let mut meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
    });
    if let (Some(meta), Some(extra)) = (meta.as_object_mut(), extra.as_object()) {
        meta.extend(extra.clone());
    }
    json!({
        "jsonrpc": "2.0", "id": 7, "method": "tools/call",
        "params": { "name": tool, "arguments": arguments, "_meta": meta },
    })
    .to_string()
}

async fn post(addr: SocketAddr, tool: &str, body: &str, extra: &[(&str, &str)]) -> String {
    let mut headers = vec![
        JSON,
        ACCEPT,
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", "tools/call"),
        ("mcp-name", tool),
    ];
    headers.extend_from_slice(extra);
    let reply = request(addr, "POST", "/mcp", &headers, body.as_bytes()).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body
}

/// A metric's name and its data points' attributes (`key=value`).
type Received = (String, Vec<String>);

/// An OTLP/HTTP trace receiver on loopback: every span it was sent.
#[derive(Clone, Default)]
struct Receiver {
    spans: Arc<Mutex<Vec<Span>>>,
    /// The headers of every trace export.
    headers: Arc<Mutex<Vec<axum::http::HeaderMap>>>,
    /// How many spans each trace export held.
    batches: Arc<Mutex<Vec<usize>>>,
    /// The names of the metrics received, with their data points' attributes.
    metrics: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    async fn start() -> (Self, String) {
        let (open, gate) = tokio::sync::watch::channel(true);
        let (receiver, url) = Self::start_gated(gate).await;
        drop(open);
        (receiver, url)
    }

    /// A receiver that holds every trace export until `gate` turns true.
    async fn start_gated(gate: tokio::sync::watch::Receiver<bool>) -> (Self, String) {
        let receiver = Self::default();
        let spans = receiver.spans.clone();
        let headers = receiver.headers.clone();
        let batches = receiver.batches.clone();
        let metrics = receiver.metrics.clone();
        let app = axum::Router::new()
            .route(
                "/v1/metrics",
                axum::routing::post(move |body: axum::body::Bytes| {
                    let metrics = metrics.clone();
                    async move {
                        let export = ExportMetricsServiceRequest::decode(body).unwrap();
                        let mut metrics = metrics.lock().unwrap();
                        for resource in export.resource_metrics {
                            for scope in resource.scope_metrics {
                                for metric in scope.metrics {
                                    let attributes = metric_attributes(&metric);
                                    metrics.push((metric.name, attributes));
                                }
                            }
                        }
                        (
                            [("content-type", "application/x-protobuf")],
                            Vec::<u8>::new(),
                        )
                    }
                }),
            )
            .route(
                "/v1/traces",
                axum::routing::post(
                    move |sent: axum::http::HeaderMap, body: axum::body::Bytes| {
                        let spans = spans.clone();
                        let headers = headers.clone();
                        let batches = batches.clone();
                        let mut gate = gate.clone();
                        async move {
                            // A closed sender leaves the last value: an open gate stays open.
                            let _ = gate.wait_for(|open| *open).await;
                            headers.lock().unwrap().push(sent);
                            let export = ExportTraceServiceRequest::decode(body).unwrap();
                            let mut spans = spans.lock().unwrap();
                            let before = spans.len();
                            for resource in export.resource_spans {
                                for scope in resource.scope_spans {
                                    spans.extend(scope.spans);
                                }
                            }
                            batches.lock().unwrap().push(spans.len() - before);
                            (
                                [("content-type", "application/x-protobuf")],
                                Vec::<u8>::new(),
                            )
                        }
                    },
                ),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (receiver, url)
    }

    fn span(&self, name: &str) -> Span {
        let spans = self.spans.lock().unwrap();
        spans
            .iter()
            .find(|s| s.name == name)
            .cloned()
            .unwrap_or_else(|| {
                panic!(
                    "no span `{name}` among {:?}",
                    spans.iter().map(|s| &s.name).collect::<Vec<_>>()
                )
            })
    }
}

/// `key=value` for every attribute of a histogram's data points.
fn metric_attributes(metric: &Metric) -> Vec<String> {
    let Some(metric::Data::Histogram(histogram)) = &metric.data else {
        return Vec::new();
    };
    histogram
        .data_points
        .iter()
        .flat_map(|point| &point.attributes)
        .map(
            |kv| match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(Any::StringValue(s)) => format!("{}={s}", kv.key),
                other => format!("{}={other:?}", kv.key),
            },
        )
        .collect()
}

fn attribute(span: &Span, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
            Any::StringValue(s) => Some(s.clone()),
            Any::IntValue(i) => Some(i.to_string()),
            Any::BoolValue(b) => Some(b.to_string()),
            other => Some(format!("{other:?}")),
        })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The JSON log lines captured, parsed.
fn lines(captured: &Captured) -> Vec<Value> {
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect()
}

fn telemetry(format: LogFormat, otlp: Option<String>) -> (Telemetry, tracing::Dispatch, Captured) {
    let section = TelemetrySection {
        format,
        otlp: otlp.map(|endpoint| OtlpSection {
            endpoint: Some(endpoint),
            ..OtlpSection::default()
        }),
        ..TelemetrySection::default()
    };
    let captured = Captured::default();
    let writer = captured.clone();
    let (telemetry, dispatch) =
        Telemetry::with_writer(&section, "telemetry-test", move || writer.clone()).unwrap();
    (telemetry, dispatch, captured)
}

#[tokio::test]
async fn a_traceparent_in_meta_is_the_parent_of_the_exported_span_and_tags_the_json_lines() {
    let (receiver, url) = Receiver::start().await;
    let (telemetry, dispatch, captured) = telemetry(LogFormat::Json, Some(url));
    let guard = tracing::dispatcher::set_default(&dispatch);
    let http = serve_with(server(), HttpConfig::default()).await;
    let traceparent = format!("00-{TRACE}-{PARENT}-01");
    let body = call(
        "echo",
        json!({ "text": "hi" }),
        json!({ "traceparent": traceparent, "tracestate": "vendor=1" }),
    );
    let reply = post(http.local_addr(), "echo", &body, &[]).await;
    assert!(reply.contains(r#""text":"hi""#), "{reply}");
    stop_and_flush(http, guard, telemetry).await;

    let span = receiver.span("tools/call echo");
    assert_eq!(hex(&span.trace_id), TRACE);
    assert_eq!(hex(&span.parent_span_id), PARENT);
    assert_eq!(span.kind, 2, "kind server");
    assert_eq!(span.trace_state, "vendor=1");
    for (key, value) in [
        ("mcp.method.name", "tools/call"),
        ("gen_ai.tool.name", "echo"),
        ("gen_ai.operation.name", "execute_tool"),
        ("jsonrpc.request.id", "7"),
        ("mcp.protocol.version", "2026-07-28"),
        ("network.transport", "tcp"),
        ("network.protocol.name", "http"),
    ] {
        assert_eq!(attribute(&span, key).as_deref(), Some(value), "{key}");
    }
    assert_eq!(attribute(&span, "error.type"), None);

    let lines = lines(&captured);
    let finished = lines
        .iter()
        .find(|l| l["message"] == "request finished")
        .unwrap_or_else(|| panic!("no `request finished` line in {lines:#?}"));
    assert_eq!(finished["trace_id"], TRACE);
    assert_eq!(finished["span_id"], hex(&span.span_id));
    assert_eq!(finished["level"], "INFO");

    // Metrics went the same way, pushed at shutdown.
    let metrics = receiver.metrics.lock().unwrap();
    let (_, attributes) = metrics
        .iter()
        .find(|(name, _)| name == "mcp.server.operation.duration")
        .unwrap_or_else(|| panic!("no operation duration among {metrics:?}"));
    for expected in [
        "mcp.method.name=tools/call",
        "gen_ai.tool.name=echo",
        "network.transport=tcp",
    ] {
        assert!(
            attributes.iter().any(|a| a == expected),
            "{expected} in {attributes:?}"
        );
    }
    assert_eq!(finished["method"], "tools/call");
    assert!(finished["timestamp"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn json_lines_carry_the_ids_without_export_in_the_tool_and_in_tasks_it_spawns_traced() {
    let (telemetry, dispatch, captured) = telemetry(LogFormat::Json, None);
    let guard = tracing::dispatcher::set_default(&dispatch);
    let http = serve_with(server(), HttpConfig::default()).await;
    let traceparent = format!("00-{TRACE}-{PARENT}-01");
    for tool in ["lookup", "spawns"] {
        let body = call(tool, json!({}), json!({ "traceparent": traceparent }));
        post(http.local_addr(), tool, &body, &[]).await;
    }
    stop_and_flush(http, guard, telemetry).await;

    let lines = lines(&captured);
    let line = |message: &str| {
        lines
            .iter()
            .find(|l| l["message"] == message)
            .unwrap_or_else(|| panic!("no `{message}` line in {lines:#?}"))
    };
    // Inside the tool's own span, and in the task spawned in the trace.
    for message in ["upstream slow", "in a traced task"] {
        assert_eq!(line(message)["trace_id"], TRACE, "{message}");
    }
    assert!(line("in an untraced task").get("trace_id").is_none());
    // Each request's own span id; never the client's.
    let finished: Vec<&Value> = lines
        .iter()
        .filter(|l| l["message"] == "request finished")
        .collect();
    assert_eq!(finished.len(), 2, "{finished:#?}");
    assert_ne!(finished[0]["span_id"], finished[1]["span_id"]);
    assert_ne!(finished[0]["span_id"], PARENT);
    assert_eq!(line("upstream slow")["span_id"], finished[0]["span_id"]);
    assert_eq!(line("in a traced task")["span_id"], finished[1]["span_id"]);
}

#[tokio::test]
async fn the_http_traceparent_header_is_used_when_meta_has_none_and_meta_wins_over_it() {
    let (telemetry, dispatch, captured) = telemetry(LogFormat::Json, None);
    let guard = tracing::dispatcher::set_default(&dispatch);
    let http = serve_with(server(), HttpConfig::default()).await;
    let header = format!("00-{TRACE}-{PARENT}-01");
    post(
        http.local_addr(),
        "echo",
        &call("echo", json!({ "text": "by header" }), json!({})),
        &[("traceparent", &header)],
    )
    .await;
    let other = "0af7651916cd43dd8448eb211c80319c";
    post(
        http.local_addr(),
        "echo",
        &call(
            "echo",
            json!({ "text": "by meta" }),
            json!({ "traceparent": format!("00-{other}-b7ad6b7169203331-01") }),
        ),
        &[("traceparent", &header)],
    )
    .await;
    // A malformed traceparent starts a new trace rather than failing the request.
    post(
        http.local_addr(),
        "echo",
        &call(
            "echo",
            json!({ "text": "malformed" }),
            json!({ "traceparent": "00-zz-yy-01" }),
        ),
        &[],
    )
    .await;
    stop(http).await;
    drop(guard);
    telemetry.shutdown();

    let finished: Vec<Value> = lines(&captured)
        .into_iter()
        .filter(|l| l["message"] == "request finished")
        .collect();
    assert_eq!(finished.len(), 3, "{finished:#?}");
    assert_eq!(finished[0]["trace_id"], TRACE);
    assert_eq!(finished[1]["trace_id"], other);
    let fresh = finished[2]["trace_id"].as_str().unwrap();
    assert_eq!(fresh.len(), 32);
    assert!(fresh != TRACE && fresh != other);
}

#[tokio::test]
async fn a_tool_passes_the_trace_on_and_a_failure_marks_the_span() {
    let (receiver, url) = Receiver::start().await;
    let (telemetry, dispatch, _captured) = telemetry(LogFormat::Text, Some(url));
    let guard = tracing::dispatcher::set_default(&dispatch);
    let http = serve_with(server(), HttpConfig::default()).await;
    let traceparent = format!("00-{TRACE}-{PARENT}-01");
    let meta = json!({ "traceparent": traceparent });
    let reply = post(
        http.local_addr(),
        "outbound",
        &call("outbound", json!({}), meta.clone()),
        &[],
    )
    .await;
    post(
        http.local_addr(),
        "broken",
        &call("broken", json!({}), meta),
        &[],
    )
    .await;
    stop_and_flush(http, guard, telemetry).await;

    let server_span = receiver.span("tools/call outbound");
    let sent: Value = serde_json::from_str(&reply).unwrap();
    let sent = sent["result"]["content"][0]["text"].as_str().unwrap();
    assert_eq!(
        sent,
        format!("00-{TRACE}-{}-01", hex(&server_span.span_id)),
        "the outbound call's parent is the request span"
    );

    let failed = receiver.span("tools/call broken");
    assert_eq!(
        attribute(&failed, "error.type").as_deref(),
        Some("tool_error")
    );
    assert_eq!(failed.status.map(|s| s.code), Some(2), "status error");
}

#[tokio::test]
async fn the_tool_s_own_spans_are_children_of_the_request_span_and_the_collector_gets_its_key() {
    let (receiver, url) = Receiver::start().await;
    let section = TelemetrySection {
        otlp: Some(OtlpSection {
            endpoint: Some(url),
            headers: [(
                "x-api-key".to_owned(),
                platform_runtime::config::Secret::new("collector-key".into()),
            )]
            .into(),
            ..OtlpSection::default()
        }),
        ..TelemetrySection::default()
    };
    let (telemetry, dispatch) =
        Telemetry::with_writer(&section, "telemetry-test", std::io::sink).unwrap();
    let guard = tracing::dispatcher::set_default(&dispatch);
    let http = serve_with(server(), HttpConfig::default()).await;
    let meta = json!({ "traceparent": format!("00-{TRACE}-{PARENT}-01") });
    post(
        http.local_addr(),
        "lookup",
        &call("lookup", json!({}), meta),
        &[],
    )
    .await;
    stop_and_flush(http, guard, telemetry).await;

    let request = receiver.span("tools/call lookup");
    let own = receiver.span("lookup");
    assert_eq!(hex(&own.trace_id), TRACE);
    assert_eq!(
        own.parent_span_id, request.span_id,
        "a child of the request span"
    );
    assert_eq!(attribute(&own, "city").as_deref(), Some("Paris"));
    assert_eq!(attribute(&own, "attempts").as_deref(), Some("3"));
    assert_eq!(attribute(&own, "cached").as_deref(), Some("false"));
    assert!(own.start_time_unix_nano >= request.start_time_unix_nano);
    assert!(own.end_time_unix_nano <= request.end_time_unix_nano);
    let warning = own
        .events
        .iter()
        .find(|e| e.name == "upstream slow")
        .unwrap_or_else(|| panic!("no warning event in {:?}", own.events));
    assert!(
        warning.attributes.iter().any(|kv| kv.key == "reason"
            && kv.value.as_ref().and_then(|v| v.value.clone())
                == Some(Any::StringValue("slow".into()))),
        "{warning:?}"
    );
    let headers = receiver.headers.lock().unwrap();
    assert!(!headers.is_empty());
    for sent in headers.iter() {
        assert_eq!(sent["x-api-key"], "collector-key");
        assert_eq!(sent["content-type"], "application/x-protobuf");
    }
}

#[tokio::test]
async fn text_lines_leave_the_request_span_out() {
    let (telemetry, dispatch, captured) = telemetry(LogFormat::Text, None);
    let guard = tracing::dispatcher::set_default(&dispatch);
    let http = serve_with(server(), HttpConfig::default()).await;
    post(
        http.local_addr(),
        "echo",
        &call("echo", json!({ "text": "plain" }), json!({})),
        &[],
    )
    .await;
    stop(http).await;
    drop(guard);
    telemetry.shutdown();
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("request finished"))
        .unwrap_or_else(|| panic!("no `request finished` line in {text}"));
    assert!(line.contains("method=tools/call"), "{line}");
    assert!(
        !line.contains("mcp.request") && !line.contains("otel."),
        "{line}"
    );
    assert!(!text.trim_start().starts_with('{'), "{text}");
}

#[tokio::test]
async fn unknown_names_stay_out_of_span_names_and_an_oversized_tracestate_is_dropped() {
    let (receiver, url) = Receiver::start().await;
    let (telemetry, dispatch, _captured) = telemetry(LogFormat::Text, Some(url));
    let guard = tracing::dispatcher::set_default(&dispatch);
    let http = serve_with(server(), HttpConfig::default()).await;
    let traceparent = format!("00-{TRACE}-{PARENT}-01");
    // A client-chosen name that no tool has: it must not become a span name.
    let made_up = "made-up-name-0123456789";
    let body = call(made_up, json!({}), json!({ "traceparent": traceparent }));
    let reply = post(http.local_addr(), made_up, &body, &[]).await;
    assert!(reply.contains("error"), "{reply}");
    // A tracestate over 512 bytes is ignored; the traceparent still counts.
    let huge = format!("vendor={}", "a".repeat(600));
    post(
        http.local_addr(),
        "echo",
        &call(
            "echo",
            json!({ "text": "big state" }),
            json!({ "traceparent": traceparent, "tracestate": huge }),
        ),
        &[],
    )
    .await;
    stop_and_flush(http, guard, telemetry).await;

    let names: Vec<String> = receiver
        .spans
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.name.clone())
        .collect();
    assert!(names.iter().all(|n| !n.contains(made_up)), "{names:?}");
    let unknown = receiver.span("tools/call");
    assert_eq!(attribute(&unknown, "gen_ai.tool.name"), None);
    assert!(attribute(&unknown, "error.type").is_some());
    assert_eq!(hex(&unknown.parent_span_id), PARENT);

    let echoed = receiver.span("tools/call echo");
    assert_eq!(hex(&echoed.trace_id), TRACE);
    assert_eq!(hex(&echoed.parent_span_id), PARENT);
    assert_eq!(
        echoed.trace_state, "",
        "the oversized tracestate is dropped"
    );
}

/// Stop serving, leave the test's subscriber, and shut telemetry down (which exports what
/// is queued; blocking, so off the runtime's threads).
async fn stop_and_flush(
    http: platform_runtime::transport::http::HttpServer,
    guard: tracing::dispatcher::DefaultGuard,
    telemetry: Telemetry,
) {
    stop(http).await;
    drop(guard);
    tokio::task::spawn_blocking(move || telemetry.shutdown())
        .await
        .unwrap();
}

/// Twenty echo calls over HTTP under `dispatch`, each answered in full.
async fn echo_twenty_times(dispatch: &tracing::Dispatch) {
    let guard = tracing::dispatcher::set_default(dispatch);
    let http = serve_with(server(), HttpConfig::default()).await;
    for i in 0..20 {
        let text = format!("call {i}");
        let reply = post(
            http.local_addr(),
            "echo",
            &call("echo", json!({ "text": text }), json!({})),
            &[],
        )
        .await;
        assert!(reply.contains(&text), "{reply}");
    }
    stop(http).await;
    drop(guard);
}

#[tokio::test]
async fn a_dead_collector_costs_requests_nothing() {
    // A port that was just free: nothing listens there.
    let dead = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let (telemetry, dispatch, _captured) = telemetry(LogFormat::Json, Some(dead));
    echo_twenty_times(&dispatch).await;
    // Shutting down flushes into the dead endpoint: it reports the failure and returns.
    tokio::task::spawn_blocking(move || telemetry.shutdown())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_collector_that_never_answers_is_cut_off_by_the_export_timeout() {
    // Accepts connections, reads nothing, answers nothing.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(Mutex::new(0usize));
    let count = accepted.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            *count.lock().unwrap() += 1;
            held.push(stream);
        }
    });
    let section = TelemetrySection {
        otlp: Some(OtlpSection {
            endpoint: Some(url),
            timeout: Some(platform_runtime::config::ConfigDuration(
                std::time::Duration::from_millis(300),
            )),
            ..OtlpSection::default()
        }),
        ..TelemetrySection::default()
    };
    let (telemetry, dispatch) =
        Telemetry::with_writer(&section, "telemetry-test", std::io::sink).unwrap();
    echo_twenty_times(&dispatch).await;
    // The last export waits for the timeout, then shutdown returns: it does not hang on a
    // collector that holds the connection open.
    tokio::task::spawn_blocking(move || telemetry.shutdown())
        .await
        .unwrap();
    assert!(
        *accepted.lock().unwrap() >= 1,
        "the export reached the collector"
    );
}

#[tokio::test]
async fn a_stalled_collector_bounds_the_span_queue_and_requests_go_on() {
    // The collector holds the first export while 4 000 requests arrive over HTTP. The spans
    // held — queued, or taken by the exporter and not yet sent — are at most 2 048
    // (`OTEL_BSP_MAX_QUEUE_SIZE`'s default); the rest are dropped, not queued.
    const CALLS: usize = 4000;
    let (open, gate) = tokio::sync::watch::channel(false);
    let (receiver, url) = Receiver::start_gated(gate).await;
    let (telemetry, dispatch, _captured) = telemetry(LogFormat::Text, Some(url));
    let guard = tracing::dispatcher::set_default(&dispatch);
    let http = serve_with(server(), HttpConfig::default()).await;
    let addr = http.local_addr();
    let mut clients = tokio::task::JoinSet::new();
    for client in 0..8 {
        // On the test's thread (a current-thread runtime), under its subscriber.
        clients.spawn(async move {
            for i in (client..CALLS).step_by(8) {
                let text = format!("call {i}");
                let body = call("echo", json!({ "text": text }), json!({}));
                let reply = post(addr, "echo", &body, &[]).await;
                assert!(reply.contains(&text), "{reply}");
            }
        });
    }
    while let Some(done) = clients.join_next().await {
        done.unwrap();
    }
    assert!(
        receiver.spans.lock().unwrap().is_empty(),
        "the collector is still holding the first export"
    );
    open.send(true).unwrap();
    stop_and_flush(http, guard, telemetry).await;
    let received = receiver.spans.lock().unwrap().len();
    assert_eq!(
        received, 2048,
        "spans that reached the collector out of {CALLS}"
    );
    // Every export within `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` (512).
    let batches = receiver.batches.lock().unwrap();
    assert!(
        batches.iter().all(|&n| (1..=512).contains(&n)),
        "{batches:?}"
    );
}
