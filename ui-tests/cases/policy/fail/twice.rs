use platform_runtime::prelude::*;

/// Search.
#[tool(read_only)]
#[timeout("5s")]
#[timeout("10s")]
fn search(query: String) -> String {
    query
}

fn main() {}
