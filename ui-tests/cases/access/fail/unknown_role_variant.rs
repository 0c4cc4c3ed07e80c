use platform_runtime::prelude::*;

#[derive(Roles)]
enum Role {
    Ops,
    Admin,
}

/// Purge the cache.
#[tool]
#[requires_role(Role::Opps)]
fn purge() -> String {
    "purged".into()
}

fn main() {}
