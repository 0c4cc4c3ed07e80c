//! Audit events in their own file: authentication failures, authorization decisions and
//! destructive calls, sent over a real socket, read back as JSON lines — with trace ids,
//! without credentials, and with argument values only where configured.

use std::collections::BTreeMap;

use platform_runtime::auth::{ApiKey, Auth};
use platform_runtime::config::{AuditSection, Config, ConfigSource, LogFormat, TelemetrySection};
use platform_runtime::observability::Telemetry;
use platform_runtime::prelude::*;
use platform_runtime::transport::http::HttpConfig;
use serde_json::{Value, json};

use crate::http::{ACCEPT, INITIALIZE, JSON, request, serve_with, stop};

/// Roll out `service`; `token` is a credential for the rollout system.
#[tool]
fn deploy(service: String, token: String) -> String {
    format!("deployed {service} ({} byte token)", token.len())
}

/// What is running (changes nothing).
#[tool(read_only)]
fn status() -> &'static str {
    "green"
}

/// Operators only.
#[tool]
#[requires_role("ops")]
fn purge() -> &'static str {
    "purged"
}

const KEY: &str = "audit-test-key-7d1e";
const SECRET: &str = "s3cr3t-rollout-token";
const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

fn server() -> Server {
    Server::builder("audit")
        .tools(tools![deploy, status, purge])
        .build()
        .unwrap()
}

fn section(file: Option<std::path::PathBuf>, arguments: &[(&str, &[&str])]) -> TelemetrySection {
    TelemetrySection {
        format: LogFormat::Json,
        audit: Some(AuditSection {
            file,
            arguments: arguments
                .iter()
                .map(|(tool, names)| {
                    (
                        (*tool).to_owned(),
                        names.iter().map(|n| (*n).to_owned()).collect(),
                    )
                })
                .collect::<BTreeMap<_, _>>(),
        }),
        ..TelemetrySection::default()
    }
}

/// A configuration with nothing but `telemetry`.
fn config(telemetry: TelemetrySection) -> Config {
    let empty = std::env::temp_dir().join(format!("platform-audit-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let mut config = ConfigSource::default()
        .dir(&empty)
        .env_prefix("PTEST_AUDIT_")
        .environment(Vec::<(String, String)>::new())
        .load()
        .unwrap();
    config.telemetry = telemetry;
    config
}

async fn call(addr: std::net::SocketAddr, tool: &str, arguments: Value) -> Value {
    let body = json!({
        "jsonrpc": "2.0", "id": 9, "method": "tools/call",
        "params": { "name": tool, "arguments": arguments, "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {},
            "traceparent": format!("00-{TRACE}-00f067aa0ba902b7-01"),
        }},
    })
    .to_string();
    let headers = [
        JSON,
        ACCEPT,
        ("x-api-key", KEY),
        ("x-request-id", "req-audit-1"),
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", "tools/call"),
        ("mcp-name", tool),
    ];
    let reply = request(addr, "POST", "/mcp", &headers, body.as_bytes()).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    serde_json::from_str(&reply.body).unwrap()
}

#[tokio::test]
async fn audit_events_go_to_their_file_with_trace_ids_and_no_secrets() {
    let path = std::env::temp_dir().join(format!("platform-audit-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let section = section(Some(path.clone()), &[("deploy", &["service"])]);
    let config = config(section.clone());
    let (telemetry, dispatch) =
        Telemetry::with_writer(&section, "audit-test", std::io::sink).unwrap();
    let guard = tracing::dispatcher::set_default(&dispatch);
    let auth = Auth::new().api_key(ApiKey::new("deployer", ApiKey::hash(KEY)).tenant("acme"));
    let http = serve_with(
        server().with_config(&config).unwrap(),
        HttpConfig {
            auth: Some(auth.build().unwrap()),
            ..HttpConfig::default()
        },
    )
    .await;
    let addr = http.local_addr();

    let wrong = request(
        addr,
        "POST",
        "/mcp",
        &[
            JSON,
            ACCEPT,
            ("x-api-key", "guess-9f2c"),
            ("x-request-id", "req-bad"),
        ],
        INITIALIZE.as_bytes(),
    )
    .await;
    assert_eq!(wrong.status, 401);
    let deployed = call(addr, "deploy", json!({ "service": "api", "token": SECRET })).await;
    assert!(deployed["result"].is_object(), "{deployed}");
    assert!(call(addr, "purge", json!({})).await.get("error").is_some());
    call(addr, "status", json!({})).await;
    stop(http).await;
    drop(guard);
    tokio::task::spawn_blocking(move || telemetry.shutdown())
        .await
        .unwrap();

    let text = std::fs::read_to_string(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    for secret in [KEY, SECRET, "guess-9f2c"] {
        assert!(!text.contains(secret), "`{secret}` leaked: {text}");
    }
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(
        lines.iter().all(|l| l["target"] == "platform::audit"),
        "only audit events: {text}"
    );
    let find = |event: &str, extra: &dyn Fn(&Value) -> bool| -> Value {
        lines
            .iter()
            .find(|l| l["event"] == event && extra(l))
            .cloned()
            .unwrap_or_else(|| panic!("no `{event}` event in {text}"))
    };
    let refused = find("authentication", &|_| true);
    assert_eq!(refused["outcome"], "refused");
    assert_eq!(refused["status"], 401);
    assert_eq!(refused["request_id"], "req-bad");
    assert_eq!(refused["client"], "127.0.0.1");

    let call = find("tool_call", &|l| l["tool"] == "deploy");
    assert_eq!(call["tool"], "deploy");
    assert_eq!(call["principal"], "deployer");
    assert_eq!(call["auth_method"], "api_key");
    assert_eq!(call["tenant"], "acme");
    assert_eq!(call["outcome"], "ok");
    assert_eq!(call["jsonrpc_id"], "9");
    assert_eq!(call["request_id"], "req-audit-1");
    assert_eq!(call["trace_id"], TRACE);
    let arguments: Value = serde_json::from_str(call["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(arguments, json!({ "service": "api" }));

    let denied = find("authorization", &|l| l["decision"] == "deny");
    assert_eq!(denied["component"], "purge");
    assert_eq!(denied["principal"], "deployer");
    assert_eq!(denied["trace_id"], TRACE);
    // Allow decisions are debug events: in the audit file, not in an info log.
    let allowed = find("authorization", &|l| l["component"] == "status");
    assert_eq!(allowed["decision"], "allow");
    // The refused purge is still an attempted destructive call; status is read-only.
    let attempted = find("tool_call", &|l| l["tool"] == "purge");
    assert_eq!(attempted["outcome"], "forbidden");
    assert_eq!(attempted.get("arguments"), None);
    assert_eq!(
        lines.iter().filter(|l| l["event"] == "tool_call").count(),
        2,
        "{text}"
    );
}

#[test]
fn audit_arguments_must_name_destructive_tools_and_their_arguments() {
    let refused = |arguments: &[(&str, &[&str])]| -> String {
        let config = config(section(None, arguments));
        match server().with_config(&config) {
            Ok(_) => panic!("{arguments:?} was accepted"),
            Err(error) => error.to_string(),
        }
    };
    assert!(refused(&[("nope", &["x"])]).contains("no tool `nope`"));
    assert!(refused(&[("status", &[])]).contains("not destructive"));
    assert!(refused(&[("deploy", &["region"])]).contains("no argument `region`"));
    let config = config(section(None, &[("deploy", &["service"])]));
    assert!(server().with_config(&config).is_ok());
    // A section that sets nothing is refused too.
    let error = Telemetry::with_writer(&section(None, &[]), "t", std::io::sink).unwrap_err();
    assert!(error.to_string().contains("neither"), "{error}");
}
