//! Circuit breaker: when too many recent calls of a component fail, further calls fail fast
//! for a cooldown; then one probe is let through, and its success closes the circuit.
//!
//! What counts as a failure is what the component cannot help: internal errors (unexpected
//! error types and panics included), timeouts and unavailability. Bad input — invalid
//! arguments or parameters, unknown names — and tool errors (a message for the model, most
//! often about its input) count as neither success nor failure, so a client cannot open a
//! breaker by sending garbage, nor hold one closed with it. Outcomes are counted in ten time
//! buckets per window: constant work and memory per call, whatever the traffic.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;
use tower::ServiceExt as _;

use super::{Middleware, MiddlewareFuture, impl_layer};
use crate::error::{ToolError, ToolErrorKind};
use crate::middleware::policy::CircuitBreakerPolicy;
use crate::middleware::{McpRequest, McpResponse, McpService};

/// Buckets per window.
const BUCKETS: u32 = 10;

#[derive(Debug)]
enum State {
    Closed(Window),
    Open { until: Instant },
    HalfOpen { probing: bool },
}

/// Calls and failures in the last window, in time buckets.
#[derive(Debug, Default)]
struct Window {
    /// `(bucket number, calls, failures)`, oldest first; at most [`BUCKETS`].
    buckets: std::collections::VecDeque<(u64, u32, u32)>,
    calls: u32,
    failures: u32,
}

impl Window {
    /// Count one outcome at `bucket`, dropping buckets older than the window.
    fn record(&mut self, bucket: u64, failed: bool) {
        while self
            .buckets
            .front()
            .is_some_and(|(b, _, _)| *b + u64::from(BUCKETS) <= bucket)
        {
            if let Some((_, calls, failures)) = self.buckets.pop_front() {
                self.calls -= calls;
                self.failures -= failures;
            }
        }
        match self.buckets.back_mut() {
            Some((b, calls, failures)) if *b == bucket => {
                *calls += 1;
                *failures += u32::from(failed);
            }
            _ => self.buckets.push_back((bucket, 1, u32::from(failed))),
        }
        self.calls += 1;
        self.failures += u32::from(failed);
    }
}

/// The breaker's state, shared by every call of one component.
#[derive(Debug, Clone)]
pub struct CircuitBreakerLayer {
    policy: CircuitBreakerPolicy,
    state: Arc<Mutex<State>>,
    /// The clock's origin, for bucket numbers.
    epoch: Instant,
}

enum Admission {
    Call { probe: bool },
    Reject { retry_in: Duration },
}

/// What one call says about the component's health.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Success,
    Failure,
    /// Says nothing about the component (bad input, a tool error, a rate limit).
    Neutral,
}

impl Outcome {
    fn of(result: &Result<McpResponse, ToolError>) -> Self {
        match result {
            Ok(response) if response.is_tool_error() => Outcome::Neutral,
            Ok(_) => Outcome::Success,
            Err(error) => match error.kind() {
                ToolErrorKind::Internal | ToolErrorKind::Timeout | ToolErrorKind::Unavailable => {
                    Outcome::Failure
                }
                _ => Outcome::Neutral,
            },
        }
    }
}

/// Releases the half-open probe if its call never reports (its future was dropped: the
/// client hung up, an outer timeout fired), so the next call may probe.
struct ProbeGuard<'a> {
    breaker: &'a CircuitBreakerLayer,
    armed: bool,
}

impl Drop for ProbeGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.breaker.release_probe();
        }
    }
}

impl CircuitBreakerLayer {
    /// A closed breaker with `policy`.
    pub fn new(policy: CircuitBreakerPolicy) -> Self {
        Self {
            policy,
            state: Arc::new(Mutex::new(State::Closed(Window::default()))),
            epoch: Instant::now(),
        }
    }

    /// Whether the circuit is open (failing fast) right now.
    pub fn is_open(&self) -> bool {
        matches!(&*self.lock(), State::Open { until } if Instant::now() < *until)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn admit(&self) -> Admission {
        let mut state = self.lock();
        let now = Instant::now();
        match &mut *state {
            State::Closed(_) => Admission::Call { probe: false },
            State::Open { until } if now < *until => Admission::Reject {
                retry_in: *until - now,
            },
            State::Open { .. } => {
                *state = State::HalfOpen { probing: true };
                Admission::Call { probe: true }
            }
            State::HalfOpen { probing: true } => Admission::Reject {
                retry_in: Duration::ZERO,
            },
            State::HalfOpen { probing } => {
                *probing = true;
                Admission::Call { probe: true }
            }
        }
    }

    /// The probe ended without a verdict: let the next call probe.
    fn release_probe(&self) {
        let mut state = self.lock();
        if let State::HalfOpen { probing } = &mut *state {
            *probing = false;
        }
    }

    fn bucket(&self, now: Instant) -> u64 {
        let width = (self.policy.window / BUCKETS).max(Duration::from_millis(1));
        u64::try_from(now.duration_since(self.epoch).as_nanos() / width.as_nanos())
            .unwrap_or(u64::MAX)
    }

    /// Record a call's outcome; `name` labels the open-breaker gauge when metrics are on.
    fn record(&self, probe: bool, outcome: Outcome, name: Option<&str>) {
        if outcome == Outcome::Neutral {
            if probe {
                self.release_probe();
            }
            return;
        }
        let success = outcome == Outcome::Success;
        let now = Instant::now();
        let bucket = self.bucket(now);
        let mut state = self.lock();
        let policy = &self.policy;
        if probe {
            *state = if success {
                tracing::info!("circuit closed: the probe succeeded");
                if let Some(name) = name {
                    crate::metrics::breaker(name, false);
                }
                State::Closed(Window::default())
            } else {
                tracing::warn!(cooldown = ?policy.cooldown, "circuit reopened: the probe failed");
                State::Open {
                    until: now + policy.cooldown,
                }
            };
            return;
        }
        let State::Closed(window) = &mut *state else {
            return;
        };
        window.record(bucket, !success);
        let (calls, failures) = (window.calls, window.failures);
        if calls >= policy.min_calls
            && f64::from(failures) / f64::from(calls) >= policy.failure_ratio
        {
            tracing::warn!(calls, failures, cooldown = ?policy.cooldown, "circuit opened");
            if let Some(name) = name {
                crate::metrics::breaker(name, true);
            }
            *state = State::Open {
                until: now + policy.cooldown,
            };
        }
    }
}

impl Middleware for CircuitBreakerLayer {
    fn handle(&self, request: McpRequest, next: McpService) -> MiddlewareFuture {
        let this = self.clone();
        Box::pin(async move {
            let probe = match this.admit() {
                Admission::Call { probe } => probe,
                Admission::Reject { retry_in } => {
                    let what = request.target().unwrap_or("this tool");
                    return Err(ToolError::unavailable(format!(
                        "`{what}` is failing and temporarily disabled (circuit open); retry in {:.1}s",
                        retry_in.as_secs_f64()
                    )));
                }
            };
            let mut guard = ProbeGuard {
                breaker: &this,
                armed: probe,
            };
            // Policies attach to registered tools only: a bounded label.
            let name = crate::metrics::enabled()
                .then(|| request.component().map(|c| c.name().to_owned()))
                .flatten();
            let result = next.oneshot(request).await;
            guard.armed = false;
            this.record(probe, Outcome::of(&result), name.as_deref());
            result
        })
    }
}

impl_layer!(CircuitBreakerLayer);
