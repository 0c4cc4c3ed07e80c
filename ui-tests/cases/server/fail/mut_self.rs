use platform_runtime::prelude::*;

struct Counter {
    n: u64,
}

#[server]
impl Counter {
    /// Increment the counter.
    #[tool]
    fn increment(&mut self) -> u64 {
        self.n += 1;
        self.n
    }
}

fn main() {}
