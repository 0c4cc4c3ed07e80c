//! Struct-based tools and prompts.

use platform_runtime::prelude::*;
use platform_runtime::schemars;
use platform_runtime::testing::TestClient;
use serde_json::json;

/// Repeat a word.
#[derive(Tool, serde::Deserialize, schemars::JsonSchema)]
#[mcp(name = "repeat", read_only, tags("text"))]
struct Repeat {
    /// The word to repeat.
    word: String,
    /// How many times (default 2).
    times: Option<u8>,
}

impl CallTool for Repeat {
    type Output = Vec<String>;
    async fn call(self, ctx: Context) -> Result<Vec<String>, ToolError> {
        let times = self.times.unwrap_or(2);
        if times > 10 {
            return Err(ToolError::new("`times` must be at most 10"));
        }
        let prefix = ctx.state::<String>().unwrap_or_default();
        Ok(vec![format!("{prefix}{}", self.word); usize::from(times)])
    }
}

/// Review a piece of code.
#[derive(Prompt, serde::Deserialize, schemars::JsonSchema)]
#[mcp(template = "Review this {language} code for {focus}:\n{code}\n{{end}}")]
struct CodeReview {
    /// The language.
    language: String,
    /// The code.
    code: String,
    /// What to focus on.
    focus: Option<String>,
}

fn server() -> Server {
    Server::builder("derive")
        .state(String::from("> "))
        .tools(tools![Repeat])
        .prompts(prompts![CodeReview])
        .build()
        .unwrap()
}

#[tokio::test]
async fn derived_tools_use_the_struct_as_input() {
    let client = TestClient::connect(server()).await.unwrap();
    let tools = client.list_tools().await.unwrap();
    assert_eq!(tools[0].name, "repeat");
    assert_eq!(tools[0].description.as_deref(), Some("Repeat a word."));
    assert_eq!(tools[0].input_schema["required"], json!(["word"]));
    assert_eq!(
        tools[0].input_schema["properties"]["times"]["description"],
        "How many times (default 2)."
    );
    assert_eq!(tools[0].annotations, Some(json!({ "readOnlyHint": true })));
    let result = client
        .call_tool("repeat", json!({ "word": "hi" }))
        .await
        .unwrap();
    assert_eq!(
        result.structured(),
        Some(&json!({ "result": ["> hi", "> hi"] }))
    );
    let error = client
        .call_tool("repeat", json!({ "word": "hi", "times": 11 }))
        .await
        .unwrap();
    assert!(error.is_error());
    assert_eq!(error.text(), "`times` must be at most 10");
    let bad = client
        .call_tool("repeat", json!({ "word": 3 }))
        .await
        .unwrap();
    assert!(bad.is_error());
    assert!(
        bad.text().starts_with("invalid argument `word`"),
        "{}",
        bad.text()
    );
}

#[tokio::test]
async fn derived_prompts_render_their_template() {
    let client = TestClient::connect(server()).await.unwrap();
    let prompts = client.list_prompts().await.unwrap();
    assert_eq!(prompts[0]["name"], "code_review");
    assert_eq!(prompts[0]["description"], "Review a piece of code.");
    assert_eq!(
        prompts[0]["arguments"][0],
        json!({ "name": "language", "description": "The language.", "required": true })
    );
    let prompt = client
        .get_prompt(
            "code_review",
            json!({ "language": "Rust", "code": "fn main() {}", "focus": "safety" }),
        )
        .await
        .unwrap();
    assert_eq!(
        prompt.messages()[0].text(),
        Some("Review this Rust code for safety:\nfn main() {}\n{end}")
    );
    let missing = client
        .get_prompt("code_review", json!({ "language": "Rust" }))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Some(-32602));
}

static PRICE_CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// Look up a price (counts its calls).
#[cache(ttl = "1m", scope = "public")]
#[rate_limit(2, per = "1m")]
#[derive(Tool, serde::Deserialize, schemars::JsonSchema)]
#[mcp(read_only)]
struct Price {
    item: String,
}

impl CallTool for Price {
    type Output = String;
    async fn call(self, _ctx: Context) -> Result<String, ToolError> {
        PRICE_CALLS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(format!("{}: 3", self.item))
    }
}

#[tokio::test]
async fn policies_on_a_derived_tool_are_enforced() {
    let server = Server::builder("derive")
        .tools(tools![Price])
        .build()
        .unwrap();
    let client = TestClient::connect(server).await.unwrap();
    let first = client
        .call_tool("price", json!({ "item": "tea" }))
        .await
        .unwrap();
    let second = client
        .call_tool("price", json!({ "item": "tea" }))
        .await
        .unwrap();
    assert_eq!(first.text(), "tea: 3");
    assert_eq!(second.text(), "tea: 3");
    // The second call was a cache hit: the handler ran once.
    assert_eq!(PRICE_CALLS.load(std::sync::atomic::Ordering::SeqCst), 1);
    // The rate limit sits outside the cache: two calls per minute, whatever they hit.
    let third = client
        .call_tool("price", json!({ "item": "tea" }))
        .await
        .unwrap();
    assert!(third.is_error(), "{third:?}");
}

/// Wait a while.
#[tool(read_only, idempotent)]
#[timeout("1m30s")]
#[cache(ttl = "250ms")]
#[retry(attempts = 2, backoff = "1h", max_backoff = "1d")]
#[circuit_breaker(window = "2m", cooldown = "45s")]
#[rate_limit(3, per = "1h30m")]
fn wait() -> &'static str {
    "waited"
}

#[test]
fn the_macros_and_the_runtime_read_durations_alike() {
    use platform_runtime::middleware::policy::parse_duration;
    let tool = tools![wait].remove(0);
    let p = tool.policy_set();
    let d = |text: &str| parse_duration(text).unwrap();
    assert_eq!(p.timeout, Some(d("1m30s")));
    assert_eq!(p.cache.as_ref().unwrap().ttl, d("250ms"));
    let retry = p.retry.as_ref().unwrap();
    assert_eq!((retry.backoff, retry.max_backoff), (d("1h"), d("1d")));
    let breaker = p.circuit_breaker.as_ref().unwrap();
    assert_eq!((breaker.window, breaker.cooldown), (d("2m"), d("45s")));
    assert_eq!(p.rate_limit.as_ref().unwrap().per, d("1h30m"));
}
