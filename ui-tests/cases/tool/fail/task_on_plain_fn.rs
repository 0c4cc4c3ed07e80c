use platform_runtime::prelude::*;

/// Export the report.
#[tool(task)]
fn export(report: String) -> String {
    report
}

/// Export the report, under a mistyped mode.
#[tool(task = "sometimes")]
async fn export_later(report: String) -> String {
    report
}

fn main() {}
