//! What runs a request: extractors that give a handler its inputs, and the conversions
//! that turn its return value into an MCP result.

pub(crate) mod args;
mod call;
mod context;
pub(crate) mod extract;
pub(crate) mod mrtr;
pub(crate) mod output;

pub use crate::model::{Era, LogLevel};
pub use call::{CallTool, CallToolHandler, call_tool_handler};
pub use context::Context;
pub(crate) use context::ProgressRoute;
pub use extract::{FromContext, Params, RequestParts, State};
pub use output::{OutputShape, OutputSpec, ToolResponse};
