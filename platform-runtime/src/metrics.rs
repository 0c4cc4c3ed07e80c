//! The metric instruments every layer records into: request durations and outcomes (the
//! request span layer), cache hits and misses and circuit-breaker state (the middleware),
//! sessions and authentication failures (the HTTP transport).
//!
//! A leaf, so that any layer may record; [`crate::observability`] installs the instruments
//! when `[telemetry.metrics]` or OTLP export asks for metrics, and until then every record
//! is one relaxed atomic load. Labels are bounded by construction: a tool name only when the
//! tool is registered, a protocol version from the known set, an error kind's name — never
//! an argument, a caller or a URI.

#[cfg(feature = "otel")]
pub(crate) use imp::*;

#[cfg(not(feature = "otel"))]
pub(crate) use off::*;

#[cfg(feature = "otel")]
/// The buckets of `mcp.server.operation.duration`, in seconds: the semantic conventions'
/// advice, with four below 10 ms for tools that answer in process.
pub(crate) const OPERATION_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0,
    120.0, 300.0,
];

#[cfg(feature = "otel")]
/// The buckets of `mcp.server.session.duration`, in seconds: a second to a day.
pub(crate) const SESSION_BUCKETS: &[f64] = &[
    1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 86400.0,
];

/// The protocol versions a label may carry; anything else is `other`.
pub(crate) fn version_label(version: Option<&str>) -> &'static str {
    match version {
        Some("2026-07-28") => "2026-07-28",
        Some("2025-11-25") => "2025-11-25",
        Some("2025-06-18") => "2025-06-18",
        Some("2025-03-26") => "2025-03-26",
        Some("2024-11-05") => "2024-11-05",
        Some(_) => "other",
        None => "",
    }
}

/// What one finished request contributes.
#[cfg_attr(not(feature = "otel"), allow(dead_code))]
pub(crate) struct Operation<'a> {
    /// `mcp.method.name` (a fixed set).
    pub method: &'static str,
    /// The registered tool's name for `tools/call`; `None` for unknown names.
    pub tool: Option<&'a str>,
    /// The error kind's name, `tool_error`, or `None` on success.
    pub error_type: Option<&'static str>,
    /// `tcp` or `pipe`.
    pub transport: &'static str,
    /// From [`version_label`].
    pub version: &'static str,
    /// How long it took, in seconds.
    pub seconds: f64,
}

#[cfg(feature = "otel")]
mod imp {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, RwLock};

    use opentelemetry::KeyValue;
    use opentelemetry::metrics::{Counter, Histogram, Meter, UpDownCounter};

    use super::{OPERATION_BUCKETS, Operation, SESSION_BUCKETS};

    /// The instruments, made from one meter.
    pub(crate) struct Instruments {
        operation: Histogram<f64>,
        session: Histogram<f64>,
        in_flight: UpDownCounter<i64>,
        rate_limited: Counter<u64>,
        denied: Counter<u64>,
        auth_failures: Counter<u64>,
        cache_hits: Counter<u64>,
        cache_misses: Counter<u64>,
        breakers_open: UpDownCounter<i64>,
        sessions_open: UpDownCounter<i64>,
    }

    impl Instruments {
        pub(crate) fn new(meter: &Meter) -> Self {
            Self {
                operation: meter
                    .f64_histogram("mcp.server.operation.duration")
                    .with_unit("s")
                    .with_description("How long MCP requests took, by method, tool and outcome.")
                    .with_boundaries(OPERATION_BUCKETS.to_vec())
                    .build(),
                session: meter
                    .f64_histogram("mcp.server.session.duration")
                    .with_unit("s")
                    .with_description("How long legacy-era MCP sessions lasted.")
                    .with_boundaries(SESSION_BUCKETS.to_vec())
                    .build(),
                in_flight: meter
                    .i64_up_down_counter("platform.requests.in_flight")
                    .with_unit("{request}")
                    .with_description("MCP requests being served now.")
                    .build(),
                rate_limited: meter
                    .u64_counter("platform.rate_limited")
                    .with_unit("{request}")
                    .with_description("Requests refused by a rate limit.")
                    .build(),
                denied: meter
                    .u64_counter("platform.denied")
                    .with_unit("{request}")
                    .with_description("Requests refused by an authorization policy.")
                    .build(),
                auth_failures: meter
                    .u64_counter("platform.auth.failures")
                    .with_unit("{request}")
                    .with_description("HTTP requests refused because they were not authenticated.")
                    .build(),
                cache_hits: meter
                    .u64_counter("platform.cache.hits")
                    .with_unit("{request}")
                    .with_description("Tool calls answered from the response cache.")
                    .build(),
                cache_misses: meter
                    .u64_counter("platform.cache.misses")
                    .with_unit("{request}")
                    .with_description("Cacheable tool calls the cache could not answer.")
                    .build(),
                breakers_open: meter
                    .i64_up_down_counter("platform.circuit_breaker.open")
                    .with_unit("{breaker}")
                    .with_description("1 while a tool's circuit breaker is open or half-open.")
                    .build(),
                sessions_open: meter
                    .i64_up_down_counter("platform.sessions.open")
                    .with_unit("{session}")
                    .with_description("Legacy-era MCP sessions open now.")
                    .build(),
            }
        }
    }

    static ENABLED: AtomicBool = AtomicBool::new(false);
    static CURRENT: RwLock<Option<Arc<Instruments>>> = RwLock::new(None);

    /// Record into `instruments` from now on.
    pub(crate) fn install(instruments: Arc<Instruments>) {
        *CURRENT.write().unwrap_or_else(|e| e.into_inner()) = Some(instruments);
        ENABLED.store(true, Ordering::Release);
    }

    /// Stop recording into `instruments` (unless others were installed since).
    pub(crate) fn uninstall(instruments: &Arc<Instruments>) {
        let mut current = CURRENT.write().unwrap_or_else(|e| e.into_inner());
        if current
            .as_ref()
            .is_some_and(|c| Arc::ptr_eq(c, instruments))
        {
            *current = None;
            ENABLED.store(false, Ordering::Release);
        }
    }

    fn current() -> Option<Arc<Instruments>> {
        if !ENABLED.load(Ordering::Relaxed) {
            return None;
        }
        CURRENT.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Whether anything records metrics.
    pub(crate) fn enabled() -> bool {
        ENABLED.load(Ordering::Relaxed)
    }

    fn tool(name: &str) -> KeyValue {
        KeyValue::new("gen_ai.tool.name", name.to_owned())
    }

    /// A request in flight; counted until dropped (finished or cancelled).
    pub(crate) struct InFlight(Option<Arc<Instruments>>);

    impl Drop for InFlight {
        fn drop(&mut self) {
            if let Some(instruments) = &self.0 {
                instruments.in_flight.add(-1, &[]);
            }
        }
    }

    /// A request started: `None` when nothing records metrics.
    pub(crate) fn started() -> Option<InFlight> {
        let instruments = current()?;
        instruments.in_flight.add(1, &[]);
        Some(InFlight(Some(instruments)))
    }

    impl InFlight {
        /// The request finished.
        pub(crate) fn finished(mut self, operation: &Operation<'_>) {
            let Some(instruments) = self.0.take() else {
                return;
            };
            instruments.in_flight.add(-1, &[]);
            let mut labels = Vec::with_capacity(5);
            labels.push(KeyValue::new("mcp.method.name", operation.method));
            if let Some(name) = operation.tool {
                labels.push(tool(name));
            }
            if let Some(kind) = operation.error_type {
                labels.push(KeyValue::new("error.type", kind));
            }
            labels.push(KeyValue::new("network.transport", operation.transport));
            if !operation.version.is_empty() {
                labels.push(KeyValue::new("mcp.protocol.version", operation.version));
            }
            instruments.operation.record(operation.seconds, &labels);
            let refusal = match operation.error_type {
                Some("rate_limited") => Some(&instruments.rate_limited),
                Some("forbidden") => Some(&instruments.denied),
                _ => None,
            };
            if let Some(counter) = refusal {
                match operation.tool {
                    Some(name) => counter.add(1, &[tool(name)]),
                    None => counter.add(1, &[]),
                }
            }
        }
    }

    /// A cacheable call was answered from the cache (`hit`) or not.
    pub(crate) fn cache(name: &str, hit: bool) {
        if let Some(instruments) = current() {
            let counter = if hit {
                &instruments.cache_hits
            } else {
                &instruments.cache_misses
            };
            counter.add(1, &[tool(name)]);
        }
    }

    /// A tool's circuit breaker opened (`true`) or closed again.
    pub(crate) fn breaker(name: &str, open: bool) {
        if let Some(instruments) = current() {
            instruments
                .breakers_open
                .add(if open { 1 } else { -1 }, &[tool(name)]);
        }
    }

    /// An HTTP request was refused as unauthenticated; `error` is the OAuth error code
    /// (`invalid_token`, …) or `none` for missing credentials.
    pub(crate) fn auth_failure(error: &'static str) {
        if let Some(instruments) = current() {
            instruments
                .auth_failures
                .add(1, &[KeyValue::new("error.type", error)]);
        }
    }

    /// A legacy session opened.
    pub(crate) fn session_opened() {
        if let Some(instruments) = current() {
            instruments
                .sessions_open
                .add(1, &[KeyValue::new("network.transport", "tcp")]);
        }
    }

    /// A legacy session ended after `seconds`.
    pub(crate) fn session_closed(seconds: f64) {
        if let Some(instruments) = current() {
            let transport = [KeyValue::new("network.transport", "tcp")];
            instruments.sessions_open.add(-1, &transport);
            instruments.session.record(seconds, &transport);
        }
    }
}

#[cfg(not(feature = "otel"))]
mod off {
    use super::Operation;

    /// Nothing records metrics without the `otel` feature.
    pub(crate) struct InFlight;

    pub(crate) fn started() -> Option<InFlight> {
        None
    }

    impl InFlight {
        pub(crate) fn finished(self, _: &Operation<'_>) {}
    }

    pub(crate) fn enabled() -> bool {
        false
    }

    pub(crate) fn cache(_: &str, _: bool) {}

    pub(crate) fn breaker(_: &str, _: bool) {}

    pub(crate) fn auth_failure(_: &'static str) {}

    pub(crate) fn session_opened() {}

    pub(crate) fn session_closed(_: f64) {}
}
