use platform_runtime::prelude::*;

/// Read a file.
#[tool(read_only)]
#[requires_scope("files:read files:write")]
fn read_file() -> String {
    String::new()
}

/// Write a file.
#[tool]
#[requires_scope(files)]
fn write_file() -> String {
    String::new()
}

fn main() {}
