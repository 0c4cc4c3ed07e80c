//! The same server answers both protocol eras.

use platform_runtime::Era;
use platform_runtime::prelude::*;
use platform_runtime::testing::TestClient;
use serde_json::json;

/// Report the protocol era the request arrived in.
#[tool]
fn era(ctx: Context) -> String {
    format!("{:?} {}", ctx.era(), ctx.protocol_version().unwrap_or("?"))
}

/// Echo a number.
#[tool]
fn number(n: i64) -> i64 {
    n
}

/// Greeting template.
#[resource("hello://{name}")]
fn hello(name: String) -> String {
    format!("hello {name}")
}

/// A one-line prompt.
#[prompt]
fn shout(word: String) -> String {
    word.to_uppercase()
}

fn server() -> Server {
    Server::builder("eras")
        .version("2.0.0")
        .instructions("Both eras.")
        .tools(tools![era, number])
        .resources(resources![hello])
        .prompts(prompts![shout])
        .build()
        .unwrap()
}

#[tokio::test]
async fn legacy_clients_negotiate_2025_11_25() {
    let client = TestClient::connect(server()).await.unwrap();
    assert_eq!(client.protocol_version().as_deref(), Some("2025-11-25"));
    assert_eq!(client.server_name(), Some(("eras".into(), "2.0.0".into())));
    assert_eq!(client.instructions().as_deref(), Some("Both eras."));
    let result = client.call_tool("era", json!({})).await.unwrap();
    assert_eq!(result.text(), "Legacy 2025-11-25");
}

#[tokio::test]
async fn modern_clients_are_served_statelessly() {
    let client = TestClient::connect_era(server(), Era::Modern)
        .await
        .unwrap();
    let result = client.call_tool("era", json!({})).await.unwrap();
    assert_eq!(result.text(), "Modern 2026-07-28");
    let number = client.call_tool("number", json!({ "n": 7 })).await.unwrap();
    assert_eq!(number.structured(), Some(&json!({ "result": 7 })));
    assert_eq!(client.list_tools().await.unwrap().len(), 2);
    let read = client.read_resource("hello://ada").await.unwrap();
    assert_eq!(read[0].1.as_text(), Some("hello ada"));
    let prompt = client
        .get_prompt("shout", json!({ "word": "hey" }))
        .await
        .unwrap();
    assert_eq!(prompt.messages()[0].text(), Some("HEY"));
    let missing = client.read_resource("hello://").await.unwrap_err();
    assert_eq!(
        missing.code(),
        Some(-32602),
        "2026-07-28 reports unknown resources as invalid params"
    );
}

#[tokio::test]
async fn modern_clients_hear_tool_changes_on_their_subscription() {
    let server = server();
    let client = TestClient::connect_modern(server.clone()).await.unwrap();
    let mut changes = client.listen_for_tool_changes().await.unwrap();
    assert!(server.handle().set_tool_enabled("number", false));
    assert!(
        changes.next().await,
        "a tools/list_changed arrives on the stream"
    );
    let names = crate::tool_names(&client).await;
    assert_eq!(names, ["era"]);
}
