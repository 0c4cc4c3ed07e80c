use platform_runtime::prelude::*;
use platform_runtime::testing::TestClient;
use serde_json::json;

/// Divide two numbers.
#[tool]
fn divide(a: f64, b: f64) -> Result<f64, ToolError> {
    if b == 0.0 {
        return Err(ToolError::new("`b` must not be zero"));
    }
    Ok(a / b)
}

/// Parse a number.
#[tool]
fn parse(text: String) -> Result<i64, std::num::ParseIntError> {
    text.parse()
}

/// Parse a number, explaining a failure to the model.
#[tool]
fn parse_explained(text: String) -> Result<i64, String> {
    text.parse()
        .map_err(|e| format!("`{text}` is not a whole number ({e})"))
}

/// Always panics.
#[tool]
async fn explode() -> String {
    panic!("secret internal detail")
}

fn server() -> Server {
    Server::builder("errors")
        .tools(tools![divide, parse, parse_explained, explode])
        .build()
        .unwrap()
}

#[tokio::test]
async fn tool_errors_are_results_with_is_error() {
    let client = TestClient::connect(server()).await.unwrap();
    let result = client
        .call_tool("divide", json!({ "a": 1, "b": 0 }))
        .await
        .unwrap();
    assert!(result.is_error());
    assert_eq!(result.text(), "`b` must not be zero");
    let result = client
        .call_tool("parse_explained", json!({ "text": "x" }))
        .await
        .unwrap();
    assert!(result.is_error());
    assert_eq!(
        result.text(),
        "`x` is not a whole number (invalid digit found in string)"
    );
}

#[tokio::test]
async fn an_error_that_is_not_a_message_is_internal_and_masked() {
    let server = server();
    let client = TestClient::connect(server.clone()).await.unwrap();
    let result = client
        .call_tool("parse", json!({ "text": "x" }))
        .await
        .unwrap();
    assert!(result.is_error());
    let text = result.text();
    assert!(
        text.starts_with("internal error in `parse` (reference "),
        "{text}"
    );
    assert!(!text.contains("invalid digit"), "masked: {text}");
    assert_eq!(
        server
            .stats()
            .errors
            .count(platform_runtime::ToolErrorKind::Internal),
        1
    );
    // With masking off (development), the message shows.
    let unmasked = Server::builder("errors")
        .mask_internal_errors(false)
        .tools(tools![parse])
        .build()
        .unwrap();
    let client = TestClient::connect(unmasked).await.unwrap();
    let result = client
        .call_tool("parse", json!({ "text": "x" }))
        .await
        .unwrap();
    assert!(
        result.text().contains("invalid digit found in string"),
        "{}",
        result.text()
    );
}

#[tokio::test]
async fn bad_arguments_name_the_field_and_the_expected_type() {
    let client = TestClient::connect(server()).await.unwrap();
    let result = client
        .call_tool("divide", json!({ "a": 1, "b": "zero" }))
        .await
        .unwrap();
    assert!(result.is_error());
    let text = result.text();
    assert_eq!(
        text,
        "invalid argument `b`: invalid type: string \"zero\", expected f64"
    );
    let result = client.call_tool("divide", json!({ "a": 1 })).await.unwrap();
    assert!(result.is_error());
    assert_eq!(result.text(), "missing required argument `b`");
}

#[tokio::test]
async fn unknown_tools_are_protocol_errors() {
    let client = TestClient::connect(server()).await.unwrap();
    let error = client.call_tool("nope", json!({})).await.unwrap_err();
    assert_eq!(error.code(), Some(-32602));
    assert!(error.to_string().contains("unknown tool: nope"));
}

#[tokio::test]
async fn a_panicking_tool_is_an_internal_error_and_the_server_survives() {
    let client = TestClient::connect(server()).await.unwrap();
    let result = client.call_tool("explode", json!({})).await.unwrap();
    assert!(result.is_error());
    assert!(
        result
            .text()
            .starts_with("internal error in `explode` (reference "),
        "{}",
        result.text()
    );
    assert!(
        !result.text().contains("secret"),
        "panic details are masked"
    );
    let ok = client
        .call_tool("divide", json!({ "a": 4, "b": 2 }))
        .await
        .unwrap();
    assert_eq!(ok.structured(), Some(&json!({ "result": 2.0 })));
}
