//! `tower-mcp-echo stdio` or `tower-mcp-echo http 127.0.0.1:PORT`: an `echo` tool served by
//! tower-mcp over stdio or streamable HTTP (at `/`), with its defaults.

use serde::Deserialize;
use tower_mcp::{BoxError, CallToolResult, HttpTransport, McpRouter, StdioTransport, ToolBuilder};

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[schemars(crate = "tower_mcp::schemars")]
struct EchoInput {
    /// The text to echo.
    text: String,
}

fn router() -> McpRouter {
    let echo = ToolBuilder::new("echo")
        .description("Echo the text back.")
        .handler(|input: EchoInput| async move { Ok(CallToolResult::text(input.text)) })
        .build();
    McpRouter::new().server_info("tower-mcp-echo", "0.1.0").tool(echo)
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["stdio"] => StdioTransport::new(router()).run().await?,
        ["http", addr] => {
            HttpTransport::new(router())
                .allowed_hosts(vec!["127.0.0.1".into()])
                .serve(addr)
                .await?
        }
        _ => {
            eprintln!("usage: tower-mcp-echo stdio | tower-mcp-echo http 127.0.0.1:PORT");
            std::process::exit(2);
        }
    }
    Ok(())
}
