use platform_runtime::prelude::*;
use platform_runtime::schemars;

/// Look something up.
#[retry(attempts = 20, backoff = "0s")]
#[concurrency_limit(0)]
#[derive(Tool, serde::Deserialize, schemars::JsonSchema)]
#[mcp(read_only, idempotent)]
struct Lookup {
    key: String,
}

impl CallTool for Lookup {
    type Output = String;
    async fn call(self, _ctx: Context) -> Result<String, ToolError> {
        Ok(self.key)
    }
}

fn main() {}
