//! Timing: the duration of every request, aggregated per method and component.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tower::ServiceExt as _;

use super::{Middleware, MiddlewareFuture, impl_layer};
use crate::middleware::{McpRequest, McpService, Method};

/// Aggregated timings of one method and component.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimingStats {
    /// Requests measured.
    pub count: u64,
    /// Requests that ended in an error.
    pub errors: u64,
    /// Their total duration.
    pub total: Duration,
    /// The longest one.
    pub max: Duration,
}

impl TimingStats {
    /// The mean duration.
    pub fn mean(&self) -> Duration {
        if self.count == 0 {
            Duration::ZERO
        } else {
            self.total / u32::try_from(self.count).unwrap_or(u32::MAX)
        }
    }
}

/// The timings a [`TimingLayer`] records; cheap to clone, shared.
#[derive(Debug, Clone, Default)]
pub struct Timings {
    entries: Arc<Mutex<HashMap<TimingKey, TimingStats>>>,
}

/// A method and the component it targeted.
type TimingKey = (Method, Option<Arc<str>>);

impl Timings {
    /// The timings of `method` on `component` (`None` for requests without a component).
    pub fn get(&self, method: Method, component: Option<&str>) -> TimingStats {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .iter()
            .find(|((m, c), _)| *m == method && c.as_deref() == component)
            .map(|(_, stats)| *stats)
            .unwrap_or_default()
    }

    /// Every entry.
    pub fn snapshot(&self) -> Vec<(Method, Option<String>, TimingStats)> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .iter()
            .map(|((m, c), s)| (*m, c.as_deref().map(str::to_owned), *s))
            .collect()
    }

    fn record(&self, method: Method, component: Option<Arc<str>>, elapsed: Duration, failed: bool) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let stats = entries.entry((method, component)).or_default();
        stats.count += 1;
        stats.errors += u64::from(failed);
        stats.total += elapsed;
        stats.max = stats.max.max(elapsed);
    }
}

/// Measures every request into [`Timings`] and logs requests slower than a threshold.
#[derive(Debug, Clone, Default)]
pub struct TimingLayer {
    timings: Timings,
    slow: Option<Duration>,
}

impl TimingLayer {
    /// Record into `timings`.
    pub fn new(timings: Timings) -> Self {
        Self {
            timings,
            slow: None,
        }
    }

    /// Log a warning for requests slower than `threshold`.
    #[must_use]
    pub fn warn_slower_than(mut self, threshold: Duration) -> Self {
        self.slow = Some(threshold);
        self
    }
}

impl Middleware for TimingLayer {
    fn handle(&self, request: McpRequest, next: McpService) -> MiddlewareFuture {
        let timings = self.timings.clone();
        let slow = self.slow;
        let method = request.method();
        let component = request.target.clone();
        Box::pin(async move {
            let start = tokio::time::Instant::now();
            let result = next.oneshot(request).await;
            let elapsed = start.elapsed();
            let failed = result.as_ref().map(|r| r.is_tool_error()).unwrap_or(true);
            if slow.is_some_and(|threshold| elapsed > threshold) {
                tracing::warn!(%method, component = component.as_deref(), ?elapsed, "slow request");
            }
            timings.record(method, component, elapsed, failed);
            result
        })
    }
}

impl_layer!(TimingLayer);
