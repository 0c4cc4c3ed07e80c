use platform_runtime::prelude::*;

/// Not registered as a tool.
fn plain(a: i64) -> i64 {
    a
}

struct Settings;

fn main() {
    let _ = tools![plain];
    let _ = tools![Settings];
}
