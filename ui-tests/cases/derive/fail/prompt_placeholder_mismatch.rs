use platform_runtime::prelude::*;
use platform_runtime::schemars;

/// Review code.
#[derive(Prompt, serde::Deserialize, schemars::JsonSchema)]
#[mcp(template = "Review this {langauge} code:\n{code}")]
struct Review {
    language: String,
    code: String,
}

fn main() {}
