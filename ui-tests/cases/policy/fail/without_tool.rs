use platform_runtime::prelude::*;

/// Not a tool.
#[rate_limit(5, per = "1s")]
fn helper() -> u32 {
    1
}

fn main() {
    let _ = helper();
}
