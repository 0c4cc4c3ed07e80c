use platform_runtime::prelude::*;
use platform_runtime::schemars;

/// Review code.
#[rate_limit(5, per = "1m")]
#[derive(Prompt, serde::Deserialize, schemars::JsonSchema)]
#[mcp(template = "Review {code}")]
struct Review {
    code: String,
}

fn main() {}
