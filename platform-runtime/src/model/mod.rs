//! The values tools, resources and prompts return: content blocks, prompt messages and
//! resource contents.
//!
//! These are the framework's own types; they convert into the wire model of the MCP SDK
//! underneath, so an SDK upgrade does not change user code.

mod content;
mod prompt;
mod resource;

pub use content::{Content, ToolResult};
pub use prompt::{PromptMessage, PromptResult, Role};
pub use resource::ResourceContent;
