//! Multi-round tool calls (2026-07-28) driven round by round with the test client.

use platform_runtime::prelude::*;
use platform_runtime::testing::{Round, TestClient};
use serde_json::json;

/// Deploy a service, after the user confirms.
#[tool]
fn deploy(ctx: Context, service: String) -> Result<ToolResponse, ToolError> {
    if let Some(state) = ctx.open_state()? {
        let confirmed = ctx
            .input_response("confirm")
            .is_some_and(|a| a["content"]["ok"] == true);
        let text = if confirmed {
            format!("deploying {}", state["service"].as_str().unwrap_or("?"))
        } else {
            "cancelled".into()
        };
        return Ok(ToolResult::new().with_content(Content::text(text)).into());
    }
    let schema = json!({ "type": "object", "properties": { "ok": { "type": "boolean" } } });
    let state = ctx.seal_state(&json!({ "service": service }), 300)?;
    Ok(InputRequired::new()
        .elicit("confirm", &format!("Deploy {service}?"), schema)
        .sample("summary", "Summarise the release notes", 64)
        .state(state)
        .into())
}

/// Reads sealed state that was sealed for `deploy`.
#[tool]
fn rollback(ctx: Context) -> Result<String, ToolError> {
    Ok(format!("{:?}", ctx.open_state()?))
}

fn server() -> Server {
    Server::builder("mrtr")
        .tools(tools![deploy, rollback])
        .build()
        .unwrap()
}

async fn first_round(client: &TestClient) -> platform_runtime::testing::InputAsked {
    match client
        .call_tool_round("deploy", json!({ "service": "api" }), None)
        .await
        .unwrap()
    {
        Round::InputRequired(asked) => asked,
        other => panic!("expected input_required, got {other:?}"),
    }
}

#[tokio::test]
async fn a_tool_asks_then_finishes_with_the_answers_and_its_sealed_state() {
    let client = TestClient::connect_modern(server()).await.unwrap();
    let asked = first_round(&client).await;
    assert_eq!(asked.method("confirm"), Some("elicitation/create"));
    assert_eq!(asked.method("summary"), Some("sampling/createMessage"));
    assert_eq!(
        asked.requests["confirm"]["params"]["message"],
        "Deploy api?"
    );
    let state = asked.request_state.clone().expect("sealed state");
    assert!(
        !state.contains("api"),
        "the state is not plain JSON: {state}"
    );

    let retry = asked
        .answer("confirm", json!({ "action": "accept", "content": { "ok": true } }))
        .answer("summary", json!({ "role": "assistant", "content": { "type": "text", "text": "ok" }, "model": "m" }));
    let Round::Complete(result) = client
        .call_tool_round("deploy", json!({ "service": "api" }), Some(retry))
        .await
        .unwrap()
    else {
        panic!("expected a final result");
    };
    assert_eq!(result.text(), "deploying api");

    let declined = asked.answer("confirm", json!({ "action": "decline" }));
    let Round::Complete(result) = client
        .call_tool_round("deploy", json!({ "service": "api" }), Some(declined))
        .await
        .unwrap()
    else {
        panic!("expected a final result");
    };
    assert_eq!(result.text(), "cancelled");
}

#[tokio::test]
async fn altered_or_foreign_state_is_invalid_params() {
    let client = TestClient::connect_modern(server()).await.unwrap();
    let asked = first_round(&client).await;
    let state = asked.request_state.clone().unwrap();

    let mut altered = state.clone().into_bytes();
    altered[3] = if altered[3] == b'A' { b'B' } else { b'A' };
    let tampered = asked
        .answer(
            "confirm",
            json!({ "action": "accept", "content": { "ok": true } }),
        )
        .state(String::from_utf8(altered).unwrap());
    let error = client
        .call_tool_round("deploy", json!({ "service": "api" }), Some(tampered))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some(-32602), "{error}");

    // State sealed for `deploy` does not open in another tool.
    let foreign = asked.answer("confirm", json!({}));
    let error = client
        .call_tool_round("rollback", json!({}), Some(foreign))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some(-32602), "{error}");
}

#[tokio::test]
async fn state_opens_only_for_the_arguments_it_was_sealed_for() {
    let client = TestClient::connect_modern(server()).await.unwrap();
    let asked = first_round(&client).await;
    // The client keeps the approval for `api` and asks to deploy `billing` with it.
    let swapped = asked.answer(
        "confirm",
        json!({ "action": "accept", "content": { "ok": true } }),
    );
    let error = client
        .call_tool_round("deploy", json!({ "service": "billing" }), Some(swapped))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some(-32602), "{error}");
}

#[tokio::test]
async fn replicas_sharing_a_sealing_key_open_each_others_state() {
    use platform_runtime::config::Secret;
    let key = || Secret::new("a shared sealing key, 32 bytes or longer".into());
    let replica = || {
        Server::builder("mrtr")
            .tools(tools![deploy])
            .sealing_key(key())
            .build()
            .unwrap()
    };
    let a = TestClient::connect_modern(replica()).await.unwrap();
    let b = TestClient::connect_modern(replica()).await.unwrap();
    let asked = first_round(&a).await;
    let retry = asked.answer(
        "confirm",
        json!({ "action": "accept", "content": { "ok": true } }),
    );
    let Round::Complete(result) = b
        .call_tool_round("deploy", json!({ "service": "api" }), Some(retry))
        .await
        .unwrap()
    else {
        panic!("expected a final result");
    };
    assert_eq!(result.text(), "deploying api");
    // A server with its own (random) key does not.
    let other = TestClient::connect_modern(server()).await.unwrap();
    let retry = asked.answer(
        "confirm",
        json!({ "action": "accept", "content": { "ok": true } }),
    );
    let error = other
        .call_tool_round("deploy", json!({ "service": "api" }), Some(retry))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some(-32602), "{error}");
    // A short key is refused when the server is built.
    let short = Server::builder("mrtr")
        .sealing_key(Secret::new("too short".into()))
        .build()
        .unwrap_err();
    assert!(short.to_string().contains("at least 32 bytes"), "{short}");
}

#[tokio::test]
async fn legacy_sessions_cannot_take_an_input_required_result() {
    let client = TestClient::connect(server()).await.unwrap();
    let error = client
        .call_tool("deploy", json!({ "service": "api" }))
        .await
        .unwrap_err();
    assert!(error.code().is_some(), "a protocol error, got {error}");
}

/// Asks with a schema the protocol cannot carry.
#[tool]
fn confused() -> ToolResponse {
    InputRequired::new()
        .elicit("x", "pick", json!({ "type": "array" }))
        .into()
}

#[tokio::test]
async fn an_invalid_input_request_is_an_error_result_not_a_panic() {
    let server = Server::builder("mrtr")
        .tools(tools![confused])
        .build()
        .unwrap();
    let client = TestClient::connect_modern(server).await.unwrap();
    let Round::Complete(result) = client
        .call_tool_round("confused", json!({}), None)
        .await
        .unwrap()
    else {
        panic!("expected an error result");
    };
    assert!(result.is_error());
    assert!(result.text().contains("`x`"), "{}", result.text());
    // The server keeps serving.
    assert!(client.list_tools().await.is_ok());
}
