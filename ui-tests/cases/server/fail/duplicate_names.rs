use platform_runtime::prelude::*;

struct Calc;

#[server]
impl Calc {
    /// Add two integers.
    #[tool]
    fn add(&self, a: i64, b: i64) -> i64 {
        a + b
    }

    /// Add two floats.
    #[tool(name = "add")]
    fn add_floats(&self, a: f64, b: f64) -> f64 {
        a + b
    }
}

fn main() {}
