use platform_runtime::prelude::*;
use platform_runtime::schemars;

/// Delete a file.
#[cache(ttl = "30s")]
#[derive(Tool, serde::Deserialize, schemars::JsonSchema)]
#[mcp(destructive)]
struct Delete {
    path: String,
}

impl CallTool for Delete {
    type Output = String;
    async fn call(self, _ctx: Context) -> Result<String, ToolError> {
        Ok(self.path)
    }
}

/// Send an email.
#[cache(ttl = "30s")]
#[derive(Tool, serde::Deserialize, schemars::JsonSchema)]
struct Send {
    to: String,
}

impl CallTool for Send {
    type Output = String;
    async fn call(self, _ctx: Context) -> Result<String, ToolError> {
        Ok(self.to)
    }
}

fn main() {}
