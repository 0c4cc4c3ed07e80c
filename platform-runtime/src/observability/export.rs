//! Request spans made by the platform: the request span layer makes each request's
//! OpenTelemetry span itself — ids, sampling decision, attributes — and encodes it to OTLP
//! protobuf as it goes ([`super::wire`]): what is known at the start when the request
//! starts, its end and outcome when it ends. The finished bytes join the span queue
//! ([`super::batch`]) that also takes the tool's own `tracing` spans. Going through the
//! `tracing` bridge cost more than the rest of a request, and the SDK's span records and
//! their conversion to OTLP more than the span itself; this costs ids, a sampling decision
//! and one buffer.
//!
//! While the request runs, its span's context is the current OpenTelemetry context, so the
//! tool's own spans become its children and [`super::trace_headers`] passes it on.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use opentelemetry::Context;
use opentelemetry::trace::{SpanContext, TraceContextExt as _, TraceFlags, TraceId};
use opentelemetry_sdk::trace::{IdGenerator as _, RandomIdGenerator, Sampler};

use super::batch::Batcher;
use super::wire;

/// Which traces are sampled: the choices of `OTEL_TRACES_SAMPLER` (and
/// `[telemetry.otlp] sample_ratio`), decided without building a context per request.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Sampling {
    AlwaysOn,
    AlwaysOff,
    /// This share of traces, by trace id (the same trace sampled on every service).
    Ratio(f64),
    /// The client's decision when it sent a trace context, else the root's.
    ParentBased(Box<Sampling>),
}

impl Sampling {
    /// Whether a span of `trace_id` under `parent` (valid, when given) is sampled.
    fn sampled(&self, parent: Option<&SpanContext>, trace_id: TraceId) -> bool {
        match self {
            Sampling::AlwaysOn => true,
            Sampling::AlwaysOff => false,
            Sampling::Ratio(ratio) => {
                // The lower 63 bits of the trace id's last eight bytes against the
                // share of 2^63, as the specification's TraceIdRatioBased sampler does.
                let bound = (ratio.clamp(0.0, 1.0) * (1u64 << 63) as f64) as u64;
                let low =
                    u64::from_be_bytes(trace_id.to_bytes()[8..].try_into().unwrap_or_default());
                (low >> 1) < bound
            }
            Sampling::ParentBased(root) => match parent {
                Some(parent) => parent.is_sampled(),
                None => root.sampled(None, trace_id),
            },
        }
    }

    /// The same choice as the SDK's sampler, for the tracer provider (the tool's own
    /// spans, whose parent is the request span).
    pub(super) fn sdk(&self) -> Sampler {
        match self {
            Sampling::AlwaysOn => Sampler::AlwaysOn,
            Sampling::AlwaysOff => Sampler::AlwaysOff,
            Sampling::Ratio(ratio) => Sampler::TraceIdRatioBased(*ratio),
            Sampling::ParentBased(root) => Sampler::ParentBased(Box::new(root.sdk())),
        }
    }
}

/// Where request spans go: the span queue, and the sampling choice.
#[derive(Debug)]
pub(super) struct Exporter {
    batcher: Arc<Batcher>,
    sampling: Sampling,
}

impl Exporter {
    pub(super) fn new(batcher: Arc<Batcher>, sampling: Sampling) -> Self {
        Self { batcher, sampling }
    }
}

/// The installed exporter. Read on every request, so read without a shared lock or
/// reference count: each thread keeps the exporter it last saw with the generation it saw
/// it in, and reads the lock only when the generation moved. An exporter, once installed,
/// lives as long as the process (a few hundred bytes per installation; programs install
/// one).
static EXPORTER: RwLock<Option<&'static Exporter>> = RwLock::new(None);
static GENERATION: AtomicU64 = AtomicU64::new(1);

thread_local! {
    static SEEN: Cell<(u64, Option<&'static Exporter>)> = const { Cell::new((0, None)) };
}

fn replace(exporter: Option<&'static Exporter>, only_if: Option<&'static Exporter>) {
    let mut current = EXPORTER.write().unwrap_or_else(|e| e.into_inner());
    let matches = match only_if {
        Some(expected) => current.is_some_and(|c| std::ptr::eq(c, expected)),
        None => true,
    };
    if matches {
        *current = exporter;
        GENERATION.fetch_add(1, Ordering::AcqRel);
    }
}

/// Export request spans through `exporter` from now on; it is kept for the process's life.
pub(super) fn install(exporter: Exporter) -> &'static Exporter {
    let exporter: &'static Exporter = Box::leak(Box::new(exporter));
    replace(Some(exporter), None);
    exporter
}

/// Stop exporting through `exporter` (unless another was installed since).
pub(super) fn uninstall(exporter: &'static Exporter) {
    replace(None, Some(exporter));
}

/// The installed exporter, if request spans are exported.
pub(super) fn current() -> Option<&'static Exporter> {
    let generation = GENERATION.load(Ordering::Acquire);
    SEEN.with(|seen| {
        let (seen_in, exporter) = seen.get();
        if seen_in == generation {
            return exporter;
        }
        let exporter = *EXPORTER.read().unwrap_or_else(|e| e.into_inner());
        seen.set((generation, exporter));
        exporter
    })
}

/// The span of one request: its ids (continuing the client's trace when it sent one), and,
/// when it is sampled and exported, the span's protobuf encoding so far.
pub(crate) struct RequestTrace {
    span_context: SpanContext,
    export: Option<(&'static Exporter, Vec<u8>)>,
}

impl RequestTrace {
    /// Start the span of a request named `{method} {target}` (or `{method}`) under `parent`
    /// (the client's, if valid), exported through `export` when it is sampled.
    pub(crate) fn start(
        export: Option<&'static Exporter>,
        parent: Option<SpanContext>,
        method: &str,
        target: Option<&str>,
    ) -> Self {
        let ids = RandomIdGenerator::default();
        let parent = parent.filter(SpanContext::is_valid);
        let trace_id = parent
            .as_ref()
            .map_or_else(|| ids.new_trace_id(), SpanContext::trace_id);
        let sampled = match (&export, &parent) {
            (Some(export), parent) => export.sampling.sampled(parent.as_ref(), trace_id),
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
        let span_context = SpanContext::new(trace_id, ids.new_span_id(), flags, false, state);
        let export = export.filter(|_| sampled).map(|export| {
            let mut buf = Vec::with_capacity(384);
            wire::bytes(&mut buf, wire::span::TRACE_ID, &trace_id.to_bytes());
            wire::bytes(
                &mut buf,
                wire::span::SPAN_ID,
                &span_context.span_id().to_bytes(),
            );
            if let Some(parent) = &parent {
                let state = parent.trace_state().header();
                if !state.is_empty() {
                    wire::string(&mut buf, wire::span::TRACE_STATE, &state);
                }
                wire::bytes(
                    &mut buf,
                    wire::span::PARENT_SPAN_ID,
                    &parent.span_id().to_bytes(),
                );
            }
            wire::fixed32(
                &mut buf,
                wire::span::FLAGS,
                wire::flags(flags.to_u8(), parent.is_some()),
            );
            let len = method.len() + target.map_or(0, |t| t.len() + 1);
            wire::tag(&mut buf, wire::span::NAME, wire::LEN);
            wire::varint(&mut buf, len as u64);
            buf.extend_from_slice(method.as_bytes());
            if let Some(target) = target {
                buf.push(b' ');
                buf.extend_from_slice(target.as_bytes());
            }
            wire::uint(&mut buf, wire::span::KIND, wire::KIND_SERVER);
            wire::fixed64(
                &mut buf,
                wire::span::START,
                wire::unix_nanos(SystemTime::now()),
            );
            (export, buf)
        });
        Self {
            span_context,
            export,
        }
    }

    /// Whether the span will be exported (so its attributes are worth collecting).
    pub(crate) fn exported(&self) -> bool {
        self.export.is_some()
    }

    /// Add a string attribute to the exported span (nothing when it is not exported).
    pub(crate) fn attribute(&mut self, key: &str, value: &str) {
        if let Some((_, buf)) = &mut self.export {
            wire::str_attribute(buf, wire::span::ATTRIBUTES, key, value);
        }
    }

    /// The OpenTelemetry context to make current while the request runs.
    pub(crate) fn context(&self) -> Context {
        Context::new().with_remote_span_context(self.span_context.clone())
    }

    /// End the span: queue it, when sampled, with `error_type` when the request failed.
    pub(crate) fn finish(self, error_type: Option<&'static str>) {
        let Some((export, mut buf)) = self.export else {
            return;
        };
        wire::end(&mut buf, SystemTime::now(), error_type);
        export.batcher.push(&buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_sampling_follows_the_trace_id_and_parents_decide_under_parent_based() {
        let id = |low: u64| {
            TraceId::from_bytes({
                let mut bytes = [0u8; 16];
                bytes[8..].copy_from_slice(&low.to_be_bytes());
                bytes
            })
        };
        let half = Sampling::Ratio(0.5);
        assert!(half.sampled(None, id(0)));
        assert!(half.sampled(None, id((1 << 63) - 2)));
        assert!(!half.sampled(None, id(1 << 63)));
        assert!(!half.sampled(None, id(u64::MAX)));
        assert!(!Sampling::Ratio(0.0).sampled(None, id(0)));
        assert!(Sampling::Ratio(1.0).sampled(None, id(u64::MAX)));
        let parent = |sampled: bool| {
            SpanContext::new(
                id(1),
                opentelemetry::trace::SpanId::from_bytes([1; 8]),
                if sampled {
                    TraceFlags::SAMPLED
                } else {
                    TraceFlags::default()
                },
                true,
                Default::default(),
            )
        };
        let based = Sampling::ParentBased(Box::new(Sampling::AlwaysOff));
        assert!(based.sampled(Some(&parent(true)), id(1)));
        assert!(!based.sampled(Some(&parent(false)), id(1)));
        assert!(!based.sampled(None, id(1)));
    }
}
