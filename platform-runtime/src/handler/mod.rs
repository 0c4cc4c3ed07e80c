//! What runs a request: extractors that give a handler its inputs, and the conversions
//! that turn its return value into an MCP result.

pub mod args;
mod call;
mod context;
pub(crate) mod extract;
pub(crate) mod mrtr;
pub mod output;

pub use call::{CallTool, CallToolHandler, call_tool_handler};
pub use context::{Context, Era, LogLevel};
pub use extract::{FromContext, Params, RequestParts, State};
