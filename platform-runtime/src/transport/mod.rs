//! Transports: stdio and streamable HTTP, each serving plain requests on the platform's own
//! path and handing the rest to the SDK; the in-memory pipe lives in [`crate::testing`].

pub(crate) mod dispatch;
pub mod http;
pub mod stdio;
