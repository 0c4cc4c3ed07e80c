//! One span per MCP request, named and attributed as the OpenTelemetry semantic conventions
//! for MCP describe a server span: `{mcp.method.name} {target}`, kind server, with the
//! method, tool or prompt name, resource URI, JSON-RPC id, session, protocol version and
//! transport, and `error.type` when the request fails. The span continues the client's trace
//! (the `traceparent` in the request's `_meta`, else in the HTTP headers) and is current
//! while the request runs, so the tool's own spans and outbound calls join the trace.

use tower::ServiceExt as _;
use tracing::Instrument as _;
use tracing::field::Empty;

use crate::middleware::builtin::{Middleware, MiddlewareFuture};
use crate::middleware::{McpRequest, McpService, Method};

/// The target of request spans: filter them with `platform::request=…`.
pub const TARGET: &str = "platform::request";

/// Opens the request span around the rest of the pipeline. Installed first (outermost) by
/// the default middleware; costs one disabled-span check when no subscriber wants spans.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RequestSpanLayer;

impl RequestSpanLayer {
    pub(crate) fn new() -> Self {
        Self
    }
}

/// The `error.type` of a failed request: `tool_error` for the tool's own failure (a result
/// with `isError: true`), else the error kind's name (`timeout`, `rate_limited`, …); low
/// cardinality either way.
pub(crate) fn error_type(
    result: &Result<crate::middleware::McpResponse, crate::ToolError>,
) -> Option<&'static str> {
    match result {
        Ok(response) if response.is_tool_error() => Some("tool_error"),
        Ok(_) => None,
        Err(error) if error.kind() == crate::ToolErrorKind::Tool => Some("tool_error"),
        Err(error) => Some(error.kind().as_str()),
    }
}

/// `tcp` over HTTP, `pipe` over stdio and in memory.
pub(crate) fn transport(request: &McpRequest) -> (&'static str, Option<&'static str>) {
    if request.http_parts().is_some() {
        ("tcp", Some("http"))
    } else {
        ("pipe", None)
    }
}

impl Middleware for RequestSpanLayer {
    fn handle(&self, request: McpRequest, next: McpService) -> MiddlewareFuture {
        let span = request_span(&request);
        let metrics = crate::metrics::started();
        // `level_enabled!`, not `enabled!` (see the logging middleware).
        let audit = if tracing::level_enabled!(tracing::Level::INFO) {
            super::audit::ToolCall::of(&request)
        } else {
            None
        };
        let trace = traced(&request);
        if span.is_disabled() && metrics.is_none() && audit.is_none() && trace.is_none() {
            return Box::pin(next.oneshot(request));
        }
        let labels = metrics.map(|in_flight| (in_flight, Labels::of(&request)));
        let started = std::time::Instant::now();
        #[cfg(feature = "otel")]
        let context = trace.as_ref().map(Traced::context);
        let future = async move {
            let result = next.oneshot(request).await;
            let kind = error_type(&result);
            if let Some(kind) = kind {
                let span = tracing::Span::current();
                span.record("error.type", kind);
                span.record("otel.status_code", "ERROR");
            }
            if let Some(trace) = trace {
                trace.finish(kind);
            }
            if let Some(audit) = audit {
                audit.finished(kind);
            }
            if let Some((in_flight, labels)) = labels {
                in_flight.finished(&crate::metrics::Operation {
                    method: labels.method,
                    tool: labels.tool.as_deref(),
                    error_type: kind,
                    transport: labels.transport,
                    version: labels.version,
                    seconds: started.elapsed().as_secs_f64(),
                });
            }
            result
        };
        // The request's span is the current OpenTelemetry context inside: the tool's own
        // spans and outbound calls continue it, and JSON lines carry its ids.
        #[cfg(feature = "otel")]
        if let Some(context) = context {
            use opentelemetry::context::FutureExt as _;
            return Box::pin(future.with_context(context).instrument(span));
        }
        Box::pin(future.instrument(span))
    }
}

/// The request's trace, when something wants it: span export, or JSON lines (which carry
/// its ids).
#[cfg(feature = "otel")]
fn traced(request: &McpRequest) -> Option<Traced> {
    let export = super::export::current();
    if export.is_none() && !super::logs::ids_wanted() {
        return None;
    }
    let method = request.method();
    let known = request.component().and(request.target());
    let mut trace = super::export::RequestTrace::start(
        export,
        super::propagation::parent(request),
        method.as_str(),
        known.filter(|_| names_component(method)),
    );
    if trace.exported() {
        attributes(request, &mut trace);
    }
    Some(Traced(trace))
}

#[cfg(not(feature = "otel"))]
fn traced(_: &McpRequest) -> Option<Traced> {
    None
}

/// A request's trace.
#[cfg(feature = "otel")]
struct Traced(super::export::RequestTrace);

#[cfg(feature = "otel")]
impl Traced {
    fn context(&self) -> opentelemetry::Context {
        self.0.context()
    }

    fn finish(self, error_type: Option<&'static str>) {
        self.0.finish(error_type);
    }
}

/// Nothing is traced without the `otel` feature.
#[cfg(not(feature = "otel"))]
enum Traced {}

#[cfg(not(feature = "otel"))]
impl Traced {
    fn finish(self, _: Option<&'static str>) {
        match self {}
    }
}

/// Whether the method's spans are named after the component (tools and prompts).
#[cfg(feature = "otel")]
fn names_component(method: Method) -> bool {
    matches!(method, Method::CallTool | Method::GetPrompt)
}

/// The exported span's attributes, following the MCP semantic conventions.
#[cfg(feature = "otel")]
fn attributes(request: &McpRequest, trace: &mut super::export::RequestTrace) {
    let method = request.method();
    let known = request.component().and(request.target());
    trace.attribute("mcp.method.name", method.as_str());
    match (method, known) {
        (Method::CallTool, Some(name)) => {
            trace.attribute("gen_ai.operation.name", "execute_tool");
            trace.attribute("gen_ai.tool.name", name);
        }
        (Method::GetPrompt, Some(name)) => trace.attribute("gen_ai.prompt.name", name),
        _ => {}
    }
    if method == Method::ReadResource
        && let Some(uri) = request.target()
    {
        trace.attribute("mcp.resource.uri", uri);
    }
    trace.attribute("jsonrpc.request.id", &request.request_id());
    if let Some(session) = request.session_id() {
        trace.attribute("mcp.session.id", &session_label(session));
    }
    if let Some(version) = request.protocol_version() {
        trace.attribute("mcp.protocol.version", version.as_str());
    }
    let (transport, protocol) = transport(request);
    trace.attribute("network.transport", transport);
    if let Some(protocol) = protocol {
        trace.attribute("network.protocol.name", protocol);
    }
}

/// A request's metric labels, taken before the request moves on: all from fixed sets, and
/// a tool's name only when the tool is registered.
struct Labels {
    method: &'static str,
    tool: Option<std::sync::Arc<str>>,
    transport: &'static str,
    version: &'static str,
}

impl Labels {
    fn of(request: &McpRequest) -> Self {
        let method = request.method();
        let tool = match method {
            Method::CallTool => request.component().map(|c| c.name.clone()),
            _ => None,
        };
        let version = request.protocol_version();
        Self {
            method: method.as_str(),
            tool,
            transport: transport(request).0,
            version: crate::metrics::version_label(version.as_ref().map(|v| v.as_str())),
        }
    }
}

/// The request's span, every attribute given at once (one pass through the subscriber's
/// layers; the values are computed only when the span is enabled).
fn request_span(request: &McpRequest) -> tracing::Span {
    let method = request.method();
    // The span name carries a tool's or prompt's name only when it is a registered one: the
    // client chooses the name it sends, and an unknown name in a span name would let it mint
    // unbounded span names. Never a resource URI (unbounded too); that is an attribute.
    let known = request.component().and(request.target());
    let tool = known.filter(|_| method == Method::CallTool);
    let prompt = known.filter(|_| method == Method::GetPrompt);
    let uri = request.target().filter(|_| method == Method::ReadResource);
    let (transport, protocol) = transport(request);
    tracing::info_span!(
        target: TARGET,
        "mcp.request",
        otel.name = span_name(method, tool.or(prompt)).as_ref(),
        otel.kind = "server",
        otel.status_code = Empty,
        mcp.method.name = method.as_str(),
        gen_ai.operation.name = tool.map(|_| "execute_tool"),
        gen_ai.tool.name = tool,
        gen_ai.prompt.name = prompt,
        mcp.resource.uri = uri,
        jsonrpc.request.id = request.request_id().as_str(),
        mcp.session.id = request.session_id().map(session_label).as_deref(),
        mcp.protocol.version = request.protocol_version().as_ref().map(|v| v.as_str()),
        network.transport = transport,
        network.protocol.name = protocol,
        error.type = Empty,
    )
}

/// `{method} {name}` for a registered tool or prompt, else the method.
fn span_name(method: Method, name: Option<&str>) -> std::borrow::Cow<'static, str> {
    match name {
        Some(name) => format!("{method} {name}").into(),
        None => method.as_str().into(),
    }
}

/// A legacy session id stands in for the caller's credentials while the session lives, so
/// spans carry a digest of it: enough to group a session's requests, useless to replay.
pub(crate) fn session_label(session: &str) -> String {
    let digest = crate::digest::digest(&[b"mcp.session.id\0", session.as_bytes()], None);
    crate::digest::hex(&digest[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_labels_are_stable_short_and_not_the_id() {
        let label = session_label("b3f1c2d4-0000-4000-8000-000000000000");
        assert_eq!(label.len(), 16);
        assert_eq!(label, session_label("b3f1c2d4-0000-4000-8000-000000000000"));
        assert_ne!(label, session_label("b3f1c2d4-0000-4000-8000-000000000001"));
        assert!(!"b3f1c2d4-0000-4000-8000-000000000000".contains(&label));
    }
}
