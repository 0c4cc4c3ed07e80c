use platform_runtime::prelude::*;

struct Payments;

#[server]
impl Payments {
    /// Charge a card.
    #[tool]
    #[retry(attempts = 3)]
    fn charge(&self, cents: u64) -> String {
        format!("charged {cents}")
    }
}

fn main() {}
