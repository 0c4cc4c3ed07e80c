//! Cross-crate integration tests: real servers, real MCP, in memory.

mod tools;
