use platform_runtime::prelude::*;

#[derive(Roles)]
enum Role {
    Ops,
    Admin,
}

/// Purge the cache.
#[tool]
#[requires_role(any(Role::Ops, "admin"))]
fn purge() -> String {
    "purged".into()
}

/// Rotate the keys.
#[tool]
#[requires_role("ops", "admin")]
fn rotate() -> String {
    "rotated".into()
}

fn main() {}
