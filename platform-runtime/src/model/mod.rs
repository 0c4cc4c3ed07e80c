//! The values tools, resources and prompts return — content blocks, prompt messages,
//! resource contents, multi-round results — and the protocol facts a request carries (its
//! era, log levels). A leaf layer: it names nothing above the error type.
//!
//! These are the framework's own types; they convert into the wire model of the MCP SDK
//! underneath, so an SDK upgrade does not change user code.

mod content;
mod input;
mod prompt;
mod protocol;
mod resource;

pub use content::{Content, ToolResult};
pub use input::InputRequired;
pub use prompt::{PromptMessage, PromptResult, Role};
pub use protocol::{Era, LogLevel};
pub use resource::ResourceContent;
