use platform_runtime::prelude::*;
use platform_runtime::schemars;

/// Repeat a word.
#[derive(Tool, serde::Deserialize, schemars::JsonSchema)]
#[mcp(idempotnet)]
struct Repeat {
    word: String,
}

impl CallTool for Repeat {
    type Output = String;
    async fn call(self, _ctx: Context) -> Result<String, ToolError> {
        Ok(self.word)
    }
}

fn main() {}
