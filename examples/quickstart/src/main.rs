//! The quickstart: a stdio MCP server with a tool, a resource template and a prompt.
//!
//! Run it:            cargo run -p quickstart
//! Print its manifest: cargo run -p quickstart -- inspect
//! Talk to it with the MCP Inspector:
//!     npx @modelcontextprotocol/inspector --cli ./target/debug/quickstart --method tools/list

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    platform_runtime::serve(quickstart::server()?).await?;
    Ok(())
}
