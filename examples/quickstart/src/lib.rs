//! The quickstart server: a tool, a resource template and a prompt. `main.rs` serves it;
//! the integration tests and schema snapshots use it from here.

use platform_runtime::prelude::*;

/// A note kept by the server.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Note {
    /// The note's id.
    pub id: u32,
    /// The note's text.
    pub text: String,
}

/// Add two integers.
///
/// # Arguments
/// * `a` - left operand
/// * `b` - right operand
#[tool(read_only, idempotent)]
#[timeout("5s")]
pub async fn add(a: i64, b: i64) -> i64 {
    a + b
}

/// Look up a note by id.
#[resource("notes://{id}", mime = "application/json")]
pub async fn note(id: u32) -> Result<Note, ToolError> {
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
pub fn summarise(topic: String) -> Vec<PromptMessage> {
    vec![PromptMessage::user(format!(
        "Summarise what you know about {topic} in three bullet points."
    ))]
}

/// The quickstart server.
pub fn server() -> Result<Server, platform_runtime::BuildError> {
    Server::builder("quickstart")
        .version(env!("CARGO_PKG_VERSION"))
        .instructions("A calculator, a notebook and a summary prompt.")
        .tools(tools![add])
        .resources(resources![note])
        .prompts(prompts![summarise])
        .build()
}
