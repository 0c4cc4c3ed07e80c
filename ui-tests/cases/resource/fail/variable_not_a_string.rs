use platform_runtime::prelude::*;

/// Notes by tags.
#[resource("notes://{tags}")]
fn by_tags(tags: Vec<String>) -> String {
    tags.join(",")
}

/// Notes by position.
#[resource("grid://{cell}")]
fn cell(cell: (u32, u32)) -> String {
    format!("{cell:?}")
}

fn main() {}
