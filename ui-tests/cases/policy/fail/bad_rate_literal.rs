use platform_runtime::prelude::*;

/// Search.
#[tool(read_only)]
#[rate_limit("sixty", per = "1m")]
fn search(query: String) -> String {
    query
}

/// Lookup.
#[tool(read_only)]
#[rate_limit(60, per = "1m", key = "principle")]
fn lookup(query: String) -> String {
    query
}

fn main() {}
