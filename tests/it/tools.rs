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
    if excited.unwrap_or(false) {
        format!("Hello, {name}!")
    } else {
        format!("Hello, {name}.")
    }
}

#[tokio::test]
async fn free_function_tools_list_and_call() {
    let server = Server::builder("t")
        .tools(tools![add, greet])
        .build()
        .unwrap();
    let client = TestClient::connect(server).await.unwrap();
    let tools = client.list_tools().await.unwrap();
    assert_eq!(tools.len(), 2);
    assert_eq!(tools[0].name, "add");
    assert_eq!(tools[0].description.as_deref(), Some("Add two integers."));
    assert_eq!(
        tools[0].input_schema["properties"]["a"]["description"],
        "left operand"
    );
    assert_eq!(tools[0].input_schema["required"], json!(["a", "b"]));
    assert_eq!(
        tools[0].annotations,
        Some(json!({ "readOnlyHint": true, "idempotentHint": true }))
    );
    assert_eq!(tools[1].input_schema["required"], json!(["name"]));

    let sum = client
        .call_tool("add", json!({ "a": 2, "b": 40 }))
        .await
        .unwrap();
    assert_eq!(sum.structured(), Some(&json!({ "result": 42 })));
    let hello = client
        .call_tool("greet", json!({ "name": "Ada" }))
        .await
        .unwrap();
    assert_eq!(hello.text(), "Hello, Ada.");
    assert!(hello.structured().is_none());
    assert_eq!(add(1, 2).await, 3, "the function stays a plain function");
}

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Search {
    /// What to look for.
    query: String,
    /// How many results.
    limit: Option<u32>,
}

#[derive(serde::Serialize, schemars::JsonSchema, PartialEq, Debug, serde::Deserialize)]
struct Hits {
    hits: Vec<String>,
}

/// Search the catalogue.
#[tool(
    name = "catalogue.search",
    title = "Search",
    tags("search", "catalogue")
)]
fn search(Params(search): Params<Search>) -> Hits {
    Hits {
        hits: vec![search.query; search.limit.unwrap_or(1) as usize],
    }
}

/// Render a tiny chart.
#[tool]
fn chart() -> Vec<Content> {
    vec![
        Content::text("a chart"),
        Content::image([1u8, 2, 3], "image/png"),
    ]
}

#[derive(Clone)]
struct Prefix(String);

/// Prefix a word with the configured prefix.
#[tool]
async fn prefixed(State(prefix): State<Prefix>, word: String, ctx: Context) -> String {
    format!("{}{word} ({})", prefix.0, ctx.component())
}

use platform_runtime::schemars;

#[tokio::test]
async fn params_structs_become_the_input_schema_and_objects_are_structured() {
    let server = Server::builder("t").tools(tools![search]).build().unwrap();
    let client = TestClient::connect(server).await.unwrap();
    let tools = client.list_tools().await.unwrap();
    assert_eq!(tools[0].name, "catalogue.search");
    assert_eq!(tools[0].title.as_deref(), Some("Search"));
    assert_eq!(
        tools[0].input_schema["properties"]["query"]["description"],
        "What to look for."
    );
    assert_eq!(tools[0].input_schema["required"], json!(["query"]));
    assert_eq!(
        tools[0].output_schema.as_ref().unwrap()["properties"]["hits"]["type"],
        "array"
    );
    let result = client
        .call_tool("catalogue.search", json!({ "query": "x", "limit": 2 }))
        .await
        .unwrap();
    assert_eq!(
        result.structured_as::<Hits>(),
        Some(Hits {
            hits: vec!["x".into(), "x".into()]
        })
    );
    assert_eq!(result.text(), r#"{"hits":["x","x"]}"#);
}

#[tokio::test]
async fn content_results_pass_through_without_output_schema() {
    let server = Server::builder("t").tools(tools![chart]).build().unwrap();
    let client = TestClient::connect(server).await.unwrap();
    assert!(
        client.list_tools().await.unwrap()[0]
            .output_schema
            .is_none()
    );
    let result = client.call_tool("chart", json!({})).await.unwrap();
    assert_eq!(result.content().len(), 2);
    assert_eq!(result.content()[1].as_image(), Some(("image/png", "AQID")));
}

#[tokio::test]
async fn state_and_context_are_extracted_not_arguments() {
    let server = Server::builder("t")
        .state(Prefix("pre-".into()))
        .tools(tools![prefixed])
        .build()
        .unwrap();
    let client = TestClient::connect(server).await.unwrap();
    let tools = client.list_tools().await.unwrap();
    assert_eq!(tools[0].input_schema["required"], json!(["word"]));
    assert_eq!(
        tools[0].input_schema["properties"]
            .as_object()
            .unwrap()
            .len(),
        1
    );
    let result = client
        .call_tool("prefixed", json!({ "word": "fix" }))
        .await
        .unwrap();
    assert_eq!(result.text(), "pre-fix (prefixed)");
}

#[tokio::test]
async fn missing_state_is_a_build_error_naming_the_type() {
    let error = Server::builder("t")
        .tools(tools![prefixed])
        .build()
        .unwrap_err();
    assert_eq!(error.problems().len(), 1);
    assert!(
        error.problems()[0].contains("tool `prefixed` takes `State<"),
        "{error}"
    );
    assert!(error.problems()[0].contains("Prefix"), "{error}");
}

#[tokio::test]
async fn invalid_and_duplicate_names_are_build_errors() {
    let error = Server::builder("t")
        .tools(tools![add, add])
        .build()
        .unwrap_err();
    assert!(
        error.to_string().contains("two tools are named `add`"),
        "{error}"
    );
}

/// A tool with every listing option.
#[tool(
    title = "Everything",
    destructive = false,
    open_world = false,
    icons("https://example.com/icon.png"),
    meta(team = "search", tier = 2),
    enabled = false
)]
fn everything() -> &'static str {
    "all"
}

#[tokio::test]
async fn listing_options_reach_the_wire_and_disabled_tools_can_be_enabled() {
    let server = Server::builder("t")
        .tools(tools![everything, add])
        .build()
        .unwrap();
    let client = TestClient::connect(server.clone()).await.unwrap();
    let names = crate::tool_names(&client).await;
    assert_eq!(
        names,
        ["add"],
        "a tool registered with enabled = false is hidden"
    );
    let error = client.call_tool("everything", json!({})).await.unwrap_err();
    assert_eq!(error.code(), Some(-32602));

    assert!(server.handle().set_tool_enabled("everything", true));
    assert_eq!(client.tools_changed(1).await, 1);
    let tools = client.list_tools().await.unwrap();
    let tool = tools.iter().find(|t| t.name == "everything").unwrap();
    assert_eq!(tool.title.as_deref(), Some("Everything"));
    assert_eq!(
        tool.annotations,
        Some(json!({ "title": "Everything", "destructiveHint": false, "openWorldHint": false }))
    );
    assert_eq!(
        tool.raw["icons"],
        json!([{ "src": "https://example.com/icon.png" }])
    );
    assert_eq!(tool.raw["_meta"], json!({ "team": "search", "tier": 2 }));
    assert_eq!(
        client
            .call_tool("everything", json!({}))
            .await
            .unwrap()
            .text(),
        "all"
    );
}
