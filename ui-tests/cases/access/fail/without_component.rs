use platform_runtime::prelude::*;

/// Purge the cache.
#[requires_role("ops")]
fn purge() -> String {
    "purged".into()
}

fn main() {}
