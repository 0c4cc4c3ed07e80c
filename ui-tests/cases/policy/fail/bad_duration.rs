use platform_runtime::prelude::*;

/// Search.
#[tool(read_only)]
#[timeout("5 seconds")]
#[cache(ttl = "30")]
fn search(query: String) -> String {
    query
}

fn main() {}
