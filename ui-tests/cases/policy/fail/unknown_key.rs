use platform_runtime::prelude::*;

/// Search.
#[tool(read_only)]
#[rate_limit(60, pre = "1m")]
fn search(query: String) -> String {
    query
}

fn main() {}
