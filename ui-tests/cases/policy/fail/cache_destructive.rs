use platform_runtime::prelude::*;

/// Delete a file.
#[tool(destructive)]
#[cache(ttl = "30s")]
fn delete(path: String) -> String {
    path
}

/// Send an email.
#[tool]
#[cache(ttl = "30s")]
fn send(to: String) -> String {
    to
}

fn main() {}
