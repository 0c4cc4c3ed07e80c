use platform_runtime::prelude::*;

/// Charge a card.
#[tool]
#[retry(attempts = 3)]
fn charge(cents: u64) -> String {
    format!("charged {cents}")
}

fn main() {}
