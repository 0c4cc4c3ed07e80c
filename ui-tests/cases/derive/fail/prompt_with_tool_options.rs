use platform_runtime::prelude::*;
use platform_runtime::schemars;

/// Review code.
#[derive(Prompt, serde::Deserialize, schemars::JsonSchema)]
#[mcp(template = "Review {code}", read_only, tags("review"))]
struct Review {
    code: String,
}

/// Repeat a word.
#[derive(Tool, serde::Deserialize, schemars::JsonSchema)]
#[mcp(template = "Repeat {word}")]
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
