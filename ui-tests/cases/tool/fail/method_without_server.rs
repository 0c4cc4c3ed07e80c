use platform_runtime::prelude::*;

struct Calc;

impl Calc {
    /// Add two integers.
    #[tool]
    fn add(&self, a: i64, b: i64) -> i64 {
        a + b
    }
}

fn main() {}
