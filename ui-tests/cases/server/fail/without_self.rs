use platform_runtime::prelude::*;

struct Clock;

#[server]
impl Clock {
    /// The time.
    #[tool]
    fn now() -> u64 {
        0
    }
}

fn main() {}
