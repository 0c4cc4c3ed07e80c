//! Request-level behaviour: cancellation, multi-round results, request metadata.

use std::sync::Arc;

use platform_runtime::prelude::*;
use platform_runtime::testing::TestClient;
use platform_runtime::{Era, InputRequired};
use serde_json::json;
use tokio::sync::Notify;

/// Signals between the test and a running tool.
#[derive(Clone, Default)]
struct Signals {
    started: Arc<Notify>,
    cancelled: Arc<Notify>,
}

/// Wait until cancelled.
#[tool]
async fn wait(ctx: Context, State(signals): State<Signals>) -> String {
    signals.started.notify_one();
    ctx.cancelled().await;
    signals.cancelled.notify_one();
    "cancelled".to_owned()
}

/// An empty result; a first call carries no multi-round state.
#[tool]
fn empty(ctx: Context) -> Result<ToolResult, ToolError> {
    match ctx.request_state() {
        None => Ok(ToolResult::new()),
        Some(state) => Err(ToolError::new(format!("unexpected state {state}"))),
    }
}

/// Ask for another round, statelessly.
#[tool]
fn again(ctx: Context) -> Result<InputRequired, ToolError> {
    match ctx.request_state() {
        Some(state) => Err(ToolError::new(format!("finished after {state}"))),
        None => Ok(InputRequired::with_request_state("round-1")),
    }
}

/// Who is calling, and with what metadata.
#[tool]
fn whoami(ctx: Context) -> String {
    let (name, _) = ctx.client().unwrap_or(("?", "?"));
    let has_token = ctx.meta().contains_key("progressToken");
    format!("{name} progress={has_token}")
}

fn server(signals: Signals) -> Server {
    Server::builder("requests")
        .state(signals)
        .tools(tools![wait, empty, again, whoami])
        .build()
        .unwrap()
}

#[tokio::test]
async fn cancelling_a_call_cancels_the_handler() {
    let signals = Signals::default();
    let client = TestClient::connect(server(signals.clone())).await.unwrap();
    let started = signals.started.notified();
    let call = client.start_call("wait", json!({})).await.unwrap();
    started.await;
    let cancelled = signals.cancelled.notified();
    call.cancel("the user gave up").await.unwrap();
    // Resolves only if the tool saw its Context cancelled.
    cancelled.await;
    // The server keeps serving.
    let again = client.call_tool("whoami", json!({})).await.unwrap();
    assert!(!again.is_error());
}

#[tokio::test]
async fn input_required_drives_another_round_on_2026_07_28() {
    let client = TestClient::connect_era(server(Signals::default()), Era::Modern)
        .await
        .unwrap();
    // The client echoes the state and retries; the second round answers.
    let result = client.call_tool("again", json!({})).await.unwrap();
    assert!(result.is_error());
    assert_eq!(result.text(), "finished after round-1");
}

#[tokio::test]
async fn input_required_is_refused_on_legacy_sessions() {
    let client = TestClient::connect(server(Signals::default()))
        .await
        .unwrap();
    let error = client.call_tool("again", json!({})).await.unwrap_err();
    assert_eq!(error.code(), Some(-32600), "{error}");
}

#[tokio::test]
async fn context_exposes_client_and_request_metadata() {
    for era in [Era::Legacy, Era::Modern] {
        let client = TestClient::connect_era(server(Signals::default()), era)
            .await
            .unwrap();
        let result = client.call_tool("whoami", json!({})).await.unwrap();
        assert_eq!(result.text(), "rmcp progress=true", "{era:?}");
        let empty = client.call_tool("empty", json!({})).await.unwrap();
        assert!(!empty.is_error() && empty.content().is_empty(), "{era:?}");
    }
}
