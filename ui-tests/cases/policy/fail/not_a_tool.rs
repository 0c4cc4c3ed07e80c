use platform_runtime::prelude::*;

/// A note.
#[resource("notes://{id}")]
#[timeout("5s")]
fn note(id: String) -> String {
    id
}

/// Greet someone.
#[rate_limit(5)]
#[prompt]
fn greet(name: String) -> String {
    format!("Greet {name}.")
}

fn main() {}
