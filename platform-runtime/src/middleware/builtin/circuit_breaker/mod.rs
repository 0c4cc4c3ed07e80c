//! Circuit breaker: when too many recent calls of a component fail, further calls fail fast
//! for a cooldown; then one probe is let through, and its success closes the circuit.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::time::Instant;
use tower::ServiceExt as _;

use super::{Middleware, MiddlewareFuture, impl_layer};
use crate::ToolError;
use crate::middleware::policy::CircuitBreakerPolicy;
use crate::middleware::{McpRequest, McpService};

#[derive(Debug)]
enum State {
    Closed { outcomes: VecDeque<(Instant, bool)> },
    Open { until: Instant },
    HalfOpen { probing: bool },
}

/// The breaker's state, shared by every call of one component.
#[derive(Debug, Clone)]
pub struct CircuitBreakerLayer {
    policy: CircuitBreakerPolicy,
    state: Arc<Mutex<State>>,
}

enum Admission {
    Call { probe: bool },
    Reject { retry_in: std::time::Duration },
}

impl CircuitBreakerLayer {
    /// A closed breaker with `policy`.
    pub fn new(policy: CircuitBreakerPolicy) -> Self {
        Self {
            policy,
            state: Arc::new(Mutex::new(State::Closed {
                outcomes: VecDeque::new(),
            })),
        }
    }

    /// Whether the circuit is open (failing fast) right now.
    pub fn is_open(&self) -> bool {
        matches!(&*self.state.lock().unwrap_or_else(|e| e.into_inner()), State::Open { until } if Instant::now() < *until)
    }

    fn admit(&self) -> Admission {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        match &mut *state {
            State::Closed { .. } => Admission::Call { probe: false },
            State::Open { until } if now < *until => Admission::Reject {
                retry_in: *until - now,
            },
            State::Open { .. } => {
                *state = State::HalfOpen { probing: true };
                Admission::Call { probe: true }
            }
            State::HalfOpen { probing: true } => Admission::Reject {
                retry_in: std::time::Duration::ZERO,
            },
            State::HalfOpen { probing } => {
                *probing = true;
                Admission::Call { probe: true }
            }
        }
    }

    fn record(&self, probe: bool, success: bool) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let policy = &self.policy;
        if probe {
            *state = if success {
                tracing::info!("circuit closed: the probe succeeded");
                State::Closed {
                    outcomes: VecDeque::new(),
                }
            } else {
                tracing::warn!(cooldown = ?policy.cooldown, "circuit reopened: the probe failed");
                State::Open {
                    until: now + policy.cooldown,
                }
            };
            return;
        }
        let State::Closed { outcomes } = &mut *state else {
            return;
        };
        outcomes.push_back((now, success));
        while outcomes
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) > policy.window)
        {
            outcomes.pop_front();
        }
        let calls = outcomes.len();
        let failures = outcomes.iter().filter(|(_, ok)| !ok).count();
        if calls >= policy.min_calls as usize
            && failures as f64 / calls as f64 >= policy.failure_ratio
        {
            tracing::warn!(calls, failures, cooldown = ?policy.cooldown, "circuit opened");
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
            let what = request.target().unwrap_or("this tool").to_owned();
            let probe = match this.admit() {
                Admission::Call { probe } => probe,
                Admission::Reject { retry_in } => {
                    return Err(ToolError::unavailable(format!(
                        "`{what}` is failing and temporarily disabled (circuit open); retry in {:.1}s",
                        retry_in.as_secs_f64()
                    )));
                }
            };
            let result = next.oneshot(request).await;
            let success = match &result {
                Ok(response) => !response.is_tool_error(),
                Err(error) => !error.kind().is_transient(),
            };
            this.record(probe, success);
            result
        })
    }
}

impl_layer!(CircuitBreakerLayer);
