use platform_runtime::prelude::*;
use platform_runtime::schemars;

/// Charge a card.
#[derive(Tool, serde::Deserialize, schemars::JsonSchema)]
#[mcp(idempotent)]
#[retry(attempts = 3)]
struct Charge {
    cents: u64,
}

impl CallTool for Charge {
    type Output = String;
    async fn call(self, _ctx: Context) -> Result<String, ToolError> {
        Ok(format!("charged {}", self.cents))
    }
}

fn main() {}
