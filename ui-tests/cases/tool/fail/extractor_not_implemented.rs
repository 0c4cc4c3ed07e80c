use platform_runtime::prelude::*;

struct Caller(String);

/// Who is calling.
#[tool]
fn whoami(#[extract] caller: Caller) -> String {
    caller.0
}

fn main() {}
