use platform_runtime::prelude::*;
use platform_runtime::schemars;

/// Repeat a word.
#[derive(Tool, serde::Deserialize, schemars::JsonSchema)]
struct Repeat {
    word: String,
}

fn main() {}
