use platform_runtime::prelude::*;

/// Add a pair.
#[tool]
fn add((a, b): (i64, i64), label: &str) -> String {
    format!("{label}: {}", a + b)
}

fn main() {}
