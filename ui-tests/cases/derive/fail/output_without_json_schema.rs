use platform_runtime::prelude::*;
use platform_runtime::schemars;

#[derive(serde::Serialize)]
struct Quote {
    price: u32,
}

/// Quote a price.
#[derive(Tool, serde::Deserialize, schemars::JsonSchema)]
struct Price {
    item: String,
}

impl CallTool for Price {
    type Output = Quote;
    async fn call(self, _ctx: Context) -> Result<Quote, ToolError> {
        Ok(Quote { price: self.item.len() as u32 })
    }
}

fn main() {}
