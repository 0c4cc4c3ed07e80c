//! Every `#[tool]` option, extractors and all return forms compile.
use platform_runtime::model::{Content, ToolResult};
use platform_runtime::prelude::*;

#[derive(Clone)]
struct Db;

struct Caller;

impl platform_runtime::FromContext for Caller {
    async fn from_context(_parts: &platform_runtime::RequestParts) -> Result<Self, ToolError> {
        Ok(Caller)
    }
}

/// Everything at once.
#[tool(
    name = "everything",
    title = "Everything",
    read_only,
    destructive = false,
    idempotent,
    open_world = false,
    tags("a", "b"),
    icons("https://example.com/i.png"),
    meta(team = "search"),
    enabled = true
)]
async fn everything(
    ctx: Context,
    State(_db): State<Db>,
    #[extract] _caller: Caller,
    query: String,
) -> Result<Vec<Content>, std::io::Error> {
    let _ = ctx.is_cancelled();
    Ok(vec![Content::text(query)])
}

/// A full result.
#[tool]
fn full() -> ToolResult {
    ToolResult::new().with_content(Content::text("x"))
}

/// Nothing returned.
#[tool(description = "Does nothing.")]
fn nothing() {}

fn main() {
    let _ = Server::builder("x").state(Db).tools(tools![everything, full, nothing]).build();
}
