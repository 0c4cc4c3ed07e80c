use platform_runtime::prelude::*;

#[derive(Roles)]
enum Role {
    Ops,
    Team(String),
    #[role(name = "ops")]
    Operations,
}

fn main() {}
