use platform_runtime::prelude::*;

/// Add two integers.
#[tool(read_olny)]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

fn main() {}
