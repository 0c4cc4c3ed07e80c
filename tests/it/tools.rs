use platform_runtime::prelude::*;
use platform_runtime::testing::TestClient;
use serde_json::json;

/// Add two integers.
///
/// # Arguments
/// * `a` - left operand
/// * `b` - right operand
#[tool(read_only, idempotent)]
async fn add(a: i64, b: i64) -> i64 {
    a + b
}

/// Greet someone.
#[tool]
fn greet(name: String, excited: Option<bool>) -> String {
    if excited.unwrap_or(false) { format!("Hello, {name}!") } else { format!("Hello, {name}.") }
}

#[tokio::test]
async fn free_function_tools_list_and_call() {
    let server = Server::builder("t").tools(tools![add, greet]).build().unwrap();
    let client = TestClient::connect(server).await.unwrap();
    let tools = client.list_tools().await.unwrap();
    assert_eq!(tools.len(), 2);
    assert_eq!(tools[0].name, "add");
    assert_eq!(tools[0].description.as_deref(), Some("Add two integers."));
    assert_eq!(tools[0].input_schema["properties"]["a"]["description"], "left operand");
    assert_eq!(tools[0].input_schema["required"], json!(["a", "b"]));
    assert_eq!(tools[0].annotations, Some(json!({ "readOnlyHint": true, "idempotentHint": true })));
    assert_eq!(tools[1].input_schema["required"], json!(["name"]));

    let sum = client.call_tool("add", json!({ "a": 2, "b": 40 })).await.unwrap();
    assert_eq!(sum.structured(), Some(&json!({ "result": 42 })));
    let hello = client.call_tool("greet", json!({ "name": "Ada" })).await.unwrap();
    assert_eq!(hello.text(), "Hello, Ada.");
    assert!(hello.structured().is_none());
    assert_eq!(add(1, 2).await, 3, "the function stays a plain function");
}
