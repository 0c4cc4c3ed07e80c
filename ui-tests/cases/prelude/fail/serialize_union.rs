use platform_runtime::prelude::*;

#[derive(Serialize)]
union Bits {
    int: u32,
    float: f32,
}

fn main() {}
