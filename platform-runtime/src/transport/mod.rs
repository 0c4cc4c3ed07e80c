//! Transports: stdio (guarded) here; the in-memory pipe lives in [`crate::testing`].

pub(crate) mod stdio;
