use platform_runtime::prelude::*;

enum Role {
    Ops,
}

/// Purge the cache.
#[tool]
#[requires_role(Role::Ops)]
fn purge() -> String {
    "purged".into()
}

fn main() {}
