//! Cross-crate integration tests: real servers, real MCP, in memory.

mod eras;
mod errors;
mod server;
mod tools;
