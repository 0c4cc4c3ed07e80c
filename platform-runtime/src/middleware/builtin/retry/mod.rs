//! `#[retry(attempts = 3, backoff = "100ms")]`: transient failures are retried with
//! exponential backoff and jitter. Only tools declared idempotent may retry (checked at
//! compile time); bad input, unknown names and rate limits are never retried.

use std::cell::Cell;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use tower::ServiceExt as _;

use super::{Middleware, MiddlewareFuture, impl_layer};
use crate::middleware::policy::RetryPolicy;
use crate::middleware::{McpRequest, McpService};

/// Retries transient failures of the requests it wraps.
#[derive(Debug, Clone)]
pub struct RetryLayer {
    policy: RetryPolicy,
}

impl RetryLayer {
    /// Retry by `policy`.
    pub fn new(policy: RetryPolicy) -> Self {
        Self { policy }
    }
}

/// A number in `[0, 1)`, from a per-thread xorshift seeded by the std hasher's random keys.
fn unit_random() -> f64 {
    thread_local! {
        static STATE: Cell<u64> = Cell::new({
            let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
            hasher.write_u64(0x9e37_79b9_7f4a_7c15);
            hasher.finish() | 1
        });
    }
    STATE.with(|state| {
        let mut x = state.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        state.set(x);
        (x >> 11) as f64 / (1u64 << 53) as f64
    })
}

/// The wait before retry number `retry` (1-based): `backoff · 2^(retry-1)`, capped, with
/// "equal jitter" (between half and all of it).
pub(crate) fn backoff(policy: &RetryPolicy, retry: u32) -> Duration {
    let exponential = policy
        .backoff
        .saturating_mul(1u32 << (retry.saturating_sub(1)).min(16));
    let capped = exponential.min(policy.max_backoff);
    capped.mul_f64(0.5 + 0.5 * unit_random())
}

impl Middleware for RetryLayer {
    fn handle(&self, request: McpRequest, next: McpService) -> MiddlewareFuture {
        let policy = self.policy.clone();
        Box::pin(async move {
            let cancel = request.cancellation_token();
            let what = request.target().unwrap_or("").to_owned();
            let mut attempt = 1;
            let mut current = request;
            loop {
                let spare = if attempt < policy.attempts {
                    current.try_clone()
                } else {
                    None
                };
                let result = next.clone().oneshot(current).await;
                let retryable = match &result {
                    Err(error) => error.kind().is_transient(),
                    Ok(_) => false,
                };
                let Some(again) = spare.filter(|_| retryable && !cancel.is_cancelled()) else {
                    return result;
                };
                let wait = backoff(&policy, attempt);
                tracing::info!(
                    component = what,
                    attempt,
                    ?wait,
                    error = result.err().map(|e| e.to_string()),
                    "retrying"
                );
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = cancel.cancelled() => {
                        return Err(crate::ToolError::new("cancelled while waiting to retry"));
                    }
                }
                attempt += 1;
                current = again;
            }
        })
    }
}

impl_layer!(RetryLayer);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_with_bounded_jitter() {
        let policy = RetryPolicy {
            attempts: 5,
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(350),
        };
        for _ in 0..100 {
            let first = backoff(&policy, 1);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
            let second = backoff(&policy, 2);
            assert!(second >= Duration::from_millis(100) && second <= Duration::from_millis(200));
            let capped = backoff(&policy, 4);
            assert!(capped >= Duration::from_millis(175) && capped <= Duration::from_millis(350));
        }
    }
}
