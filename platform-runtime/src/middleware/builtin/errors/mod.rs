//! Error handling: one mapping for every failure, internal details masked behind a
//! reference the operator finds in the logs, panics in middleware isolated, errors counted.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures::FutureExt as _;
use tower::ServiceExt as _;

use super::{Middleware, MiddlewareFuture, impl_layer};
use crate::error::{ToolError, ToolErrorKind};
use crate::middleware::{McpRequest, McpService};

/// Error counts by kind; cheap to clone, shared.
#[derive(Debug, Clone, Default)]
pub struct ErrorStats {
    counts: Arc<Mutex<HashMap<&'static str, u64>>>,
}

impl ErrorStats {
    /// How many errors of `kind` were seen.
    pub fn count(&self, kind: ToolErrorKind) -> u64 {
        self.counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(kind.as_str())
            .copied()
            .unwrap_or(0)
    }

    /// Errors seen, all kinds.
    pub fn total(&self) -> u64 {
        self.counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .sum()
    }

    fn add(&self, kind: ToolErrorKind) {
        *self
            .counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(kind.as_str())
            .or_default() += 1;
    }
}

/// A reference an operator can find in the logs.
pub(crate) fn new_reference() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!(
        "{:x}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The panic message of a payload.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_owned())
}

/// Counts errors, masks internal ones (by default) and turns a panic in the layers it wraps
/// into an internal error.
#[derive(Debug, Clone)]
pub struct ErrorHandlingLayer {
    stats: ErrorStats,
    mask_internal: bool,
}

impl Default for ErrorHandlingLayer {
    fn default() -> Self {
        Self {
            stats: ErrorStats::default(),
            mask_internal: true,
        }
    }
}

impl ErrorHandlingLayer {
    /// Count into `stats`, masking internal errors.
    pub fn new(stats: ErrorStats) -> Self {
        Self {
            stats,
            mask_internal: true,
        }
    }

    /// Whether internal error messages are replaced by a generic one with a reference
    /// (default: yes). Turn off only where clients are trusted, such as development.
    #[must_use]
    pub fn mask_internal_errors(mut self, mask: bool) -> Self {
        self.mask_internal = mask;
        self
    }
}

impl Middleware for ErrorHandlingLayer {
    fn handle(&self, request: McpRequest, next: McpService) -> MiddlewareFuture {
        let stats = self.stats.clone();
        let mask = self.mask_internal;
        let method = request.method();
        let what = request.target.clone();
        Box::pin(async move {
            let result = match AssertUnwindSafe(next.oneshot(request)).catch_unwind().await {
                Ok(result) => result,
                Err(payload) => Err(ToolError::internal(format!(
                    "middleware panicked: {}",
                    panic_message(payload.as_ref())
                ))),
            };
            let error = match result {
                Ok(response) => {
                    if response.is_tool_error() {
                        stats.add(ToolErrorKind::Tool);
                    }
                    return Ok(response);
                }
                Err(error) => error,
            };
            stats.add(error.kind());
            if error.kind() != ToolErrorKind::Internal || error.reference().is_some() {
                return Err(error);
            }
            let reference = new_reference();
            tracing::error!(%method, component = what.as_deref(), reference, error = error.message(), "internal error");
            Err(if mask {
                let public = match &what {
                    Some(name) => format!("internal error in `{name}` (reference {reference})"),
                    None => format!("internal error (reference {reference})"),
                };
                error.masked(reference, public)
            } else {
                error.referenced(reference)
            })
        })
    }
}

impl_layer!(ErrorHandlingLayer);
