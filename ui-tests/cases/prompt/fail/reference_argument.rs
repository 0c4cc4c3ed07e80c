use platform_runtime::prelude::*;

/// Greet someone.
#[prompt]
fn greet(name: &str) -> String {
    format!("Greet {name}")
}

fn main() {}
