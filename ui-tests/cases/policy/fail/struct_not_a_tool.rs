use platform_runtime::prelude::*;

/// Not a tool: no `#[derive(Tool)]`.
#[rate_limit(5)]
struct Settings {
    level: u8,
}

fn main() {
    let _ = Settings { level: 1 }.level;
}
