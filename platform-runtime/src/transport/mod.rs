//! Transports: stdio (guarded) and streamable HTTP; the in-memory pipe lives in
//! [`crate::testing`].

pub mod http;
pub(crate) mod stdio;
