use platform_runtime::prelude::*;
use platform_runtime::schemars;

/// Search.
#[timeout("5s")]
#[timeout("10s")]
#[derive(Tool, serde::Deserialize, schemars::JsonSchema)]
#[mcp(read_only)]
struct Search {
    query: String,
}

impl CallTool for Search {
    type Output = String;
    async fn call(self, _ctx: Context) -> Result<String, ToolError> {
        Ok(self.query)
    }
}

fn main() {}
