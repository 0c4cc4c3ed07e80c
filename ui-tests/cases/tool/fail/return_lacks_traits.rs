use platform_runtime::prelude::*;

struct Report {
    lines: Vec<String>,
}

/// Build a report.
#[tool]
fn report() -> Report {
    Report { lines: vec![] }
}

fn main() {}
