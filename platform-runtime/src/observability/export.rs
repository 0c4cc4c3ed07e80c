//! Request spans straight to the span processor: the request span layer makes each
//! request's OpenTelemetry span itself — ids, sampling decision, attributes — and hands the
//! finished span to the batch processor that also serves the tracer provider (the tool's own
//! `tracing` spans, through `tracing-opentelemetry`). Going through the `tracing` bridge cost
//! more than the rest of a request; this costs an id, a sampling decision and one
//! `SpanData`.
//!
//! While the request runs, its span's context is the current OpenTelemetry context, so the
//! tool's own spans become its children and [`super::trace_headers`] passes it on.

use std::borrow::Cow;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceContextExt as _, TraceFlags,
};
use opentelemetry::{Context, InstrumentationScope, KeyValue};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    BatchSpanProcessor, IdGenerator as _, RandomIdGenerator, Sampler, SamplingDecision,
    ShouldSample as _, SpanData, SpanEvents, SpanLinks, SpanProcessor,
};

/// Where request spans go: the batch processor, the sampler, the instrumentation scope.
#[derive(Debug)]
pub(super) struct Exporter {
    processor: Arc<BatchSpanProcessor>,
    sampler: Sampler,
    scope: InstrumentationScope,
}

impl Exporter {
    pub(super) fn new(processor: Arc<BatchSpanProcessor>, sampler: Sampler) -> Self {
        Self {
            processor,
            sampler,
            scope: InstrumentationScope::builder("platform").build(),
        }
    }
}

static EXPORTER: RwLock<Option<Arc<Exporter>>> = RwLock::new(None);

/// Export request spans through `exporter` from now on.
pub(super) fn install(exporter: Arc<Exporter>) {
    *EXPORTER.write().unwrap_or_else(|e| e.into_inner()) = Some(exporter);
}

/// Stop exporting through `exporter` (unless another was installed since).
pub(super) fn uninstall(exporter: &Arc<Exporter>) {
    let mut current = EXPORTER.write().unwrap_or_else(|e| e.into_inner());
    if current.as_ref().is_some_and(|c| Arc::ptr_eq(c, exporter)) {
        *current = None;
    }
}

fn current() -> Option<Arc<Exporter>> {
    EXPORTER.read().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Whether request spans are exported.
pub(super) fn exporting() -> bool {
    EXPORTER.read().unwrap_or_else(|e| e.into_inner()).is_some()
}

/// The batch processor, shared by the request spans and the tracer provider. Its resource
/// is set before it is shared.
#[derive(Debug)]
pub(super) struct Shared(pub(super) Arc<BatchSpanProcessor>);

impl SpanProcessor for Shared {
    fn on_start(&self, span: &mut opentelemetry_sdk::trace::Span, cx: &Context) {
        self.0.on_start(span, cx);
    }
    fn on_end(&self, span: SpanData) {
        self.0.on_end(span);
    }
    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }
}

/// The span of one request: its ids (continuing the client's trace when it sent one), and,
/// when it is sampled and exported, what the exported span needs at the end.
pub(crate) struct RequestTrace {
    span_context: SpanContext,
    parent: Option<SpanContext>,
    start: SystemTime,
    export: Option<Arc<Exporter>>,
}

impl RequestTrace {
    /// Start the span of a request named `name` under `parent` (the client's, if valid).
    pub(crate) fn start(parent: Option<SpanContext>, name: &str) -> Self {
        let ids = RandomIdGenerator::default();
        let parent = parent.filter(SpanContext::is_valid);
        let trace_id = parent
            .as_ref()
            .map_or_else(|| ids.new_trace_id(), SpanContext::trace_id);
        let export = current();
        let sampled = match (&export, &parent) {
            (Some(export), parent) => {
                let parent = parent
                    .as_ref()
                    .map(|p| Context::new().with_remote_span_context(p.clone()));
                let decision = export
                    .sampler
                    .should_sample(parent.as_ref(), trace_id, name, &SpanKind::Server, &[], &[])
                    .decision;
                decision == SamplingDecision::RecordAndSample
            }
            (None, Some(parent)) => parent.is_sampled(),
            (None, None) => true,
        };
        let flags = if sampled {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::default()
        };
        let state = parent
            .as_ref()
            .map(|p| p.trace_state().clone())
            .unwrap_or_default();
        Self {
            span_context: SpanContext::new(trace_id, ids.new_span_id(), flags, false, state),
            parent,
            start: SystemTime::now(),
            export: export.filter(|_| sampled),
        }
    }

    /// Whether the span will be exported (so its attributes are worth collecting).
    pub(crate) fn exported(&self) -> bool {
        self.export.is_some()
    }

    /// The trace and span ids.
    pub(crate) fn ids(&self) -> ([u8; 16], [u8; 8]) {
        (
            self.span_context.trace_id().to_bytes(),
            self.span_context.span_id().to_bytes(),
        )
    }

    /// The OpenTelemetry context to make current while the request runs.
    pub(crate) fn context(&self) -> Context {
        Context::new().with_remote_span_context(self.span_context.clone())
    }

    /// End the span: export it, when sampled, with `attributes` and `error_type`.
    pub(crate) fn finish(
        self,
        name: Cow<'static, str>,
        mut attributes: Vec<KeyValue>,
        error_type: Option<&'static str>,
    ) {
        let Some(export) = self.export else {
            return;
        };
        let status = match error_type {
            Some(kind) => {
                attributes.push(KeyValue::new("error.type", kind));
                Status::error("")
            }
            None => Status::Unset,
        };
        export.processor.on_end(SpanData {
            span_context: self.span_context,
            parent_span_id: self
                .parent
                .as_ref()
                .map_or(SpanId::INVALID, SpanContext::span_id),
            parent_span_is_remote: self.parent.is_some(),
            span_kind: SpanKind::Server,
            name,
            start_time: self.start,
            end_time: SystemTime::now(),
            attributes,
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status,
            instrumentation_scope: export.scope.clone(),
        });
    }
}
