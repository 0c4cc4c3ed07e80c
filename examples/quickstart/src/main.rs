//! The quickstart: a stdio MCP server with a tool, a resource template and a prompt.
//!
//! Run it:            cargo run -p quickstart
//! Print its manifest: cargo run -p quickstart -- inspect
//! Talk to it with the MCP Inspector:
//!     npx @modelcontextprotocol/inspector --cli ./target/debug/quickstart --method tools/list

use platform_runtime::prelude::*;
use platform_runtime::schemars;

/// A note kept by the server.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
struct Note {
    /// The note's id.
    id: u32,
    /// The note's text.
    text: String,
}

/// Add two integers.
///
/// # Arguments
/// * `a` - left operand
/// * `b` - right operand
#[tool(read_only, idempotent)]
async fn add(a: i64, b: i64) -> i64 {
    a + b
}

/// Look up a note by id.
#[resource("notes://{id}", mime = "application/json")]
async fn note(id: u32) -> Result<Note, ToolError> {
    match id {
        1 => Ok(Note {
            id,
            text: "Buy milk".into(),
        }),
        2 => Ok(Note {
            id,
            text: "Call Ada".into(),
        }),
        _ => Err(ToolError::not_found(format!("there is no note {id}"))),
    }
}

/// Ask the model to summarise a topic.
///
/// # Arguments
/// * `topic` - what to summarise
#[prompt]
fn summarise(topic: String) -> Vec<PromptMessage> {
    vec![PromptMessage::user(format!(
        "Summarise what you know about {topic} in three bullet points."
    ))]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let server = Server::builder("quickstart")
        .version(env!("CARGO_PKG_VERSION"))
        .instructions("A calculator, a notebook and a summary prompt.")
        .tools(tools![add])
        .resources(resources![note])
        .prompts(prompts![summarise])
        .build()?;
    platform_runtime::serve(server).await?;
    Ok(())
}
