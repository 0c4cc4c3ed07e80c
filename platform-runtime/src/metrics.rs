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
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, RwLock};

    use opentelemetry::KeyValue;
    use opentelemetry::metrics::{BoundHistogram, Counter, Histogram, Meter, UpDownCounter};

    use super::{OPERATION_BUCKETS, Operation, SESSION_BUCKETS};

    /// The most label sets of `mcp.server.operation.duration` kept bound; past it, a
    /// duration is recorded with its labels (the SDK's own cardinality limit, 2 000, then
    /// folds it into its overflow series).
    pub(crate) const MAX_BOUND: usize = 2000;

    /// The instruments, made from one meter.
    pub(crate) struct Instruments {
        operation: Histogram<f64>,
        /// `operation` bound to each label set seen so far.
        bound: RwLock<BoundSets>,
        session: Histogram<f64>,
        in_flight: UpDownCounter<i64>,
        rate_limited: Counter<u64>,
        denied: Counter<u64>,
        auth_failures: Counter<u64>,
        cache_hits: Counter<u64>,
        cache_misses: Counter<u64>,
        breakers_open: UpDownCounter<i64>,
        sessions_open: UpDownCounter<i64>,
        sessions_asleep: UpDownCounter<i64>,
        store_failures: Counter<u64>,
        redis_up: UpDownCounter<i64>,
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
                bound: RwLock::new(BoundSets::default()),
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
                sessions_asleep: meter
                    .i64_up_down_counter("platform.sessions.asleep")
                    .with_unit("{session}")
                    .with_description(
                        "Of the open legacy-era sessions, those asleep: a record without the SDK's worker.",
                    )
                    .build(),
                store_failures: meter
                    .u64_counter("platform.store.failures")
                    .with_unit("{operation}")
                    .with_description(
                        "Shared-store operations that failed, by store and what the request got (open: served, closed: refused, write: result not stored).",
                    )
                    .build(),
                redis_up: meter
                    .i64_up_down_counter("platform.redis.up")
                    .with_unit("{connection}")
                    .with_description("1 while the shared Redis answers, 0 while it does not.")
                    .build(),
            }
        }
    }

    impl Instruments {
        /// Record one request's duration: through the histogram bound to its labels (one
        /// cheap hash of a few short strings), binding it the first time those labels come.
        pub(crate) fn record(&self, operation: &Operation<'_>) {
            let hash = label_hash(operation);
            let found = self
                .bound
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .find(hash, operation)
                .cloned();
            if let Some(bound) = found {
                bound.record(operation.seconds);
                return;
            }
            let attributes = attributes(operation);
            let mut sets = self.bound.write().unwrap_or_else(|e| e.into_inner());
            if let Some(bound) = sets.find(hash, operation) {
                bound.record(operation.seconds);
            } else if sets.len < MAX_BOUND {
                let bound = self.operation.bind(&attributes);
                bound.record(operation.seconds);
                sets.insert(hash, LabelSet::of(operation), bound);
            } else {
                drop(sets);
                self.operation.record(operation.seconds, &attributes);
            }
        }
    }

    #[cfg(test)]
    impl Instruments {
        pub(crate) fn bound_len(&self) -> usize {
            self.bound.read().unwrap_or_else(|e| e.into_inner()).len
        }
    }

    /// The label sets of `mcp.server.operation.duration` bound so far, by [`label_hash`].
    /// Every label comes from a set the server chose (methods, registered tool names, error
    /// kinds, transports, known protocol versions), so no client can pick colliding keys.
    #[derive(Default)]
    struct BoundSets {
        by_hash: HashMap<u64, Vec<BoundSet>, std::hash::BuildHasherDefault<AsIs>>,
        len: usize,
    }

    /// One label set and the histogram bound to it.
    type BoundSet = (LabelSet, BoundHistogram<f64>);

    impl BoundSets {
        fn find(&self, hash: u64, operation: &Operation<'_>) -> Option<&BoundHistogram<f64>> {
            self.by_hash
                .get(&hash)?
                .iter()
                .find(|(set, _)| set.matches(operation))
                .map(|(_, bound)| bound)
        }

        fn insert(&mut self, hash: u64, labels: LabelSet, bound: BoundHistogram<f64>) {
            self.by_hash.entry(hash).or_default().push((labels, bound));
            self.len += 1;
        }
    }

    /// Keys already hashed by [`label_hash`], used as they are.
    #[derive(Default)]
    struct AsIs(u64);

    impl std::hash::Hasher for AsIs {
        fn finish(&self) -> u64 {
            self.0
        }
        fn write(&mut self, bytes: &[u8]) {
            for &byte in bytes {
                self.0 = (self.0 << 8) | u64::from(byte);
            }
        }
        fn write_u64(&mut self, value: u64) {
            self.0 = value;
        }
    }

    /// The labels of a bound duration: an [`Operation`]'s, without its time.
    struct LabelSet {
        method: &'static str,
        tool: Option<Box<str>>,
        error_type: Option<&'static str>,
        transport: &'static str,
        version: &'static str,
    }

    impl LabelSet {
        fn of(operation: &Operation<'_>) -> Self {
            Self {
                method: operation.method,
                tool: operation.tool.map(Box::from),
                error_type: operation.error_type,
                transport: operation.transport,
                version: operation.version,
            }
        }

        fn matches(&self, operation: &Operation<'_>) -> bool {
            self.method == operation.method
                && self.tool.as_deref() == operation.tool
                && self.error_type == operation.error_type
                && self.transport == operation.transport
                && self.version == operation.version
        }
    }

    /// A multiply-rotate hash of an operation's labels, a word at a time (the labels are
    /// few, short and chosen by the server).
    fn label_hash(operation: &Operation<'_>) -> u64 {
        let mut hash = 0u64;
        let mut add = |text: &str| {
            let mut chunks = text.as_bytes().chunks_exact(8);
            for chunk in &mut chunks {
                let word = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
                hash = (hash.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
            }
            let mut last = [0u8; 8];
            last[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
            // The length ends each label, so ("ab", "c") and ("a", "bc") differ.
            let word = u64::from_le_bytes(last) ^ ((text.len() as u64) << 56);
            hash = (hash.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
        };
        add(operation.method);
        add(operation.tool.unwrap_or("\0"));
        add(operation.error_type.unwrap_or("\0"));
        add(operation.transport);
        add(operation.version);
        hash
    }

    /// An operation's labels as attributes, in the order the SDK keeps them (sorted by key).
    fn attributes(operation: &Operation<'_>) -> Vec<KeyValue> {
        let mut labels = Vec::with_capacity(5);
        if let Some(kind) = operation.error_type {
            labels.push(KeyValue::new("error.type", kind));
        }
        if let Some(name) = operation.tool {
            labels.push(tool(name));
        }
        labels.push(KeyValue::new("mcp.method.name", operation.method));
        if !operation.version.is_empty() {
            labels.push(KeyValue::new("mcp.protocol.version", operation.version));
        }
        labels.push(KeyValue::new("network.transport", operation.transport));
        labels
    }

    /// A manual reader shared between a meter provider and whoever collects from it (the
    /// Prometheus listener; tests).
    #[derive(Debug, Clone)]
    pub(crate) struct SharedReader(pub(crate) Arc<opentelemetry_sdk::metrics::ManualReader>);

    impl opentelemetry_sdk::metrics::reader::MetricReader for SharedReader {
        fn register_pipeline(
            &self,
            pipeline: std::sync::Weak<opentelemetry_sdk::metrics::Pipeline>,
        ) {
            self.0.register_pipeline(pipeline);
        }
        fn collect(
            &self,
            rm: &mut opentelemetry_sdk::metrics::data::ResourceMetrics,
        ) -> opentelemetry_sdk::error::OTelSdkResult {
            self.0.collect(rm)
        }
        fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
            self.0.force_flush()
        }
        fn shutdown_with_timeout(
            &self,
            timeout: std::time::Duration,
        ) -> opentelemetry_sdk::error::OTelSdkResult {
            self.0.shutdown_with_timeout(timeout)
        }
        fn temporality(
            &self,
            kind: opentelemetry_sdk::metrics::InstrumentKind,
        ) -> opentelemetry_sdk::metrics::Temporality {
            self.0.temporality(kind)
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
            instruments.record(operation);
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

    /// An operation on a shared store failed; `outcome` is what the request got (`open`,
    /// `closed`, `write`).
    pub(crate) fn store_failure(store: &'static str, outcome: &'static str) {
        if let Some(instruments) = current() {
            instruments.store_failures.add(
                1,
                &[
                    KeyValue::new("store", store),
                    KeyValue::new("outcome", outcome),
                ],
            );
        }
    }

    /// The shared Redis started answering (`true`) or stopped (`false`).
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn redis_up(up: bool) {
        if let Some(instruments) = current() {
            instruments.redis_up.add(if up { 1 } else { -1 }, &[]);
        }
    }

    /// A legacy session was put to sleep (`true`), or one asleep woke or ended (`false`).
    pub(crate) fn session_asleep(asleep: bool) {
        if let Some(instruments) = current() {
            instruments.sessions_asleep.add(
                if asleep { 1 } else { -1 },
                &[KeyValue::new("network.transport", "tcp")],
            );
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

    pub(crate) fn session_asleep(_: bool) {}

    pub(crate) fn store_failure(_: &'static str, _: &'static str) {}

    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn redis_up(_: bool) {}
}

#[cfg(test)]
#[cfg(feature = "otel")]
mod tests {
    use opentelemetry::metrics::MeterProvider as _;
    use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
    use opentelemetry_sdk::metrics::reader::MetricReader as _;
    use opentelemetry_sdk::metrics::{ManualReader, SdkMeterProvider};

    use super::imp::{Instruments, MAX_BOUND, SharedReader as Shared};
    use super::{Operation, version_label};

    /// `(attributes as "key=value" pairs, count)` of every operation-duration point.
    fn operation_points(reader: &Shared) -> Vec<(Vec<String>, u64)> {
        let mut data = ResourceMetrics::default();
        reader.collect(&mut data).unwrap();
        let mut points = Vec::new();
        for scope in data.scope_metrics() {
            for metric in scope.metrics() {
                if metric.name() != "mcp.server.operation.duration" {
                    continue;
                }
                let AggregatedMetrics::F64(MetricData::Histogram(histogram)) = metric.data() else {
                    panic!("a histogram of f64");
                };
                for point in histogram.data_points() {
                    let mut labels: Vec<String> = point
                        .attributes()
                        .map(|kv| format!("{}={}", kv.key, kv.value))
                        .collect();
                    labels.sort();
                    points.push((labels, point.count()));
                }
            }
        }
        points
    }

    fn call<'a>(tool: &'a str, error_type: Option<&'static str>) -> Operation<'a> {
        Operation {
            method: "tools/call",
            tool: Some(tool),
            error_type,
            transport: "tcp",
            version: version_label(Some("2026-07-28")),
            seconds: 0.001,
        }
    }

    #[test]
    fn durations_land_in_one_series_per_label_set_and_past_the_cap_still_count() {
        let reader = Shared(std::sync::Arc::new(ManualReader::builder().build()));
        let provider = SdkMeterProvider::builder()
            .with_reader(reader.clone())
            .build();
        let instruments = Instruments::new(&provider.meter("test"));
        // Labels that would run together if a label's end were not marked.
        instruments.record(&call("ab", None));
        instruments.record(&call("ab", None));
        instruments.record(&call("ab", Some("timeout")));
        instruments.record(&call("abtimeout", None));
        instruments.record(&Operation {
            tool: None,
            transport: "pipe",
            version: "",
            ..call("", None)
        });
        let points = operation_points(&reader);
        let count = |labels: &[&str]| {
            points
                .iter()
                .find(|(l, _)| l.iter().map(String::as_str).eq(labels.iter().copied()))
                .map(|(_, n)| *n)
        };
        let base = [
            "gen_ai.tool.name=ab",
            "mcp.method.name=tools/call",
            "mcp.protocol.version=2026-07-28",
            "network.transport=tcp",
        ];
        assert_eq!(count(&base), Some(2), "{points:?}");
        assert_eq!(
            count(&[
                "error.type=timeout",
                "gen_ai.tool.name=ab",
                "mcp.method.name=tools/call",
                "mcp.protocol.version=2026-07-28",
                "network.transport=tcp",
            ]),
            Some(1),
            "{points:?}"
        );
        assert_eq!(
            count(&["mcp.method.name=tools/call", "network.transport=pipe"]),
            Some(1),
            "{points:?}"
        );
        assert_eq!(points.len(), 4, "{points:?}");

        // Past the cap, durations are recorded with their labels: none is lost.
        let names: Vec<String> = (0..MAX_BOUND + 10).map(|i| format!("t{i}")).collect();
        for name in &names {
            instruments.record(&call(name, None));
        }
        assert_eq!(instruments.bound_len(), MAX_BOUND);
        let total: u64 = operation_points(&reader).iter().map(|(_, n)| n).sum();
        assert_eq!(total, 5 + names.len() as u64);
    }
}
