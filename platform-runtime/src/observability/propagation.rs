//! W3C trace context in and out: a request continues the trace its client started (the
//! `traceparent`/`tracestate` in the request's `_meta`, as the MCP semantic conventions
//! recommend, else in the HTTP headers), and a tool passes the trace on to the services it
//! calls ([`trace_headers`], [`inject_trace_context`]).
//!
//! Without the `otel` feature nothing is continued or injected.

use axum::http::HeaderMap;

#[cfg(feature = "otel")]
use crate::middleware::McpRequest;

/// The client's span, when the request carries a valid `traceparent`: from its `_meta` (as
/// the MCP semantic conventions recommend), else from its HTTP headers. A malformed one is
/// no parent: the request starts a trace of its own.
#[cfg(feature = "otel")]
pub(crate) fn parent(request: &McpRequest) -> Option<opentelemetry::trace::SpanContext> {
    use opentelemetry::propagation::TextMapPropagator as _;
    use opentelemetry::trace::TraceContextExt as _;

    let propagator = opentelemetry_sdk::propagation::TraceContextPropagator::new();
    let meta = request.meta();
    let context = if meta.contains_key(TRACEPARENT) {
        propagator.extract(&Meta(meta))
    } else {
        let parts = request
            .http_parts()
            .filter(|parts| parts.headers.contains_key(TRACEPARENT))?;
        propagator.extract(&Headers(&parts.headers))
    };
    let span_context = context.span().span_context().clone();
    span_context.is_valid().then_some(span_context)
}

#[cfg(feature = "otel")]
const TRACEPARENT: &str = "traceparent";

/// The most bytes of a `tracestate` taken from a request (W3C: 32 members of at most 256
/// bytes each would be far more; vendors keep it under 512).
#[cfg(feature = "otel")]
const MAX_TRACESTATE_BYTES: usize = 512;

/// A request's `_meta` as a propagation carrier: string values of the W3C keys.
#[cfg(feature = "otel")]
struct Meta<'a>(&'a rmcp::model::JsonObject);

#[cfg(feature = "otel")]
impl opentelemetry::propagation::Extractor for Meta<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        let value = self.0.get(key)?.as_str()?;
        (key != "tracestate" || value.len() <= MAX_TRACESTATE_BYTES).then_some(value)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

/// HTTP headers as a propagation carrier.
#[cfg(feature = "otel")]
struct Headers<'a>(&'a HeaderMap);

#[cfg(feature = "otel")]
impl opentelemetry::propagation::Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        let value = self.0.get(key)?.to_str().ok()?;
        (key != "tracestate" || value.len() <= MAX_TRACESTATE_BYTES).then_some(value)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|name| name.as_str()).collect()
    }
}

/// The W3C trace context headers (`traceparent`, and `tracestate` when there is one) of the
/// current span, for an outbound request a tool makes: the called service's spans then join
/// the MCP request's trace. Empty outside a traced request or without the `otel` feature.
///
/// ```
/// # async fn call() {
/// let headers = platform_runtime::observability::trace_headers();
/// // reqwest: client.get(url).headers(headers)
/// # let _ = headers;
/// # }
/// ```
pub fn trace_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    inject_trace_context(&mut headers);
    headers
}

/// `future` carrying the current request's trace, for a task a tool spawns: the task's log
/// lines carry the request's `trace_id` and `span_id`, its spans join the request's trace,
/// and [`trace_headers`] inside it continue the trace.
///
/// ```
/// # async fn tool() {
/// use platform_runtime::observability::in_current_trace;
/// tokio::spawn(in_current_trace(async {
///     tracing::info!("warming the cache");
/// }));
/// # }
/// ```
pub fn in_current_trace<F: std::future::Future>(
    future: F,
) -> impl std::future::Future<Output = F::Output> {
    use tracing::Instrument as _;
    #[cfg(feature = "otel")]
    let future = opentelemetry::context::FutureExt::with_current_context(future);
    future.in_current_span()
}

/// Add the current span's W3C trace context to `headers` (see [`trace_headers`]).
#[cfg(feature = "otel")]
pub fn inject_trace_context(headers: &mut HeaderMap) {
    use opentelemetry::propagation::TextMapPropagator as _;
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;

    struct Injector<'a>(&'a mut HeaderMap);
    impl opentelemetry::propagation::Injector for Injector<'_> {
        fn set(&mut self, key: &str, value: String) {
            if let (Ok(name), Ok(value)) = (
                axum::http::HeaderName::from_bytes(key.as_bytes()),
                axum::http::HeaderValue::from_str(&value),
            ) {
                self.0.insert(name, value);
            }
        }
    }
    use opentelemetry::trace::TraceContextExt as _;

    // The innermost span the bridge knows (a span the tool opened itself), else the
    // request's span, current as an OpenTelemetry context while the request runs.
    let mut context = tracing::Span::current().context();
    if !context.span().span_context().is_valid() {
        context = opentelemetry::Context::current();
    }
    opentelemetry_sdk::propagation::TraceContextPropagator::new()
        .inject_context(&context, &mut Injector(headers));
}

/// Add the current span's W3C trace context to `headers` (see [`trace_headers`]).
#[cfg(not(feature = "otel"))]
pub fn inject_trace_context(_headers: &mut HeaderMap) {}
