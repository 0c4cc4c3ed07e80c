use platform_runtime::prelude::*;

/// A file.
#[resource("file:///{+path}")]
fn file(path: String) -> String {
    path
}

fn main() {}
