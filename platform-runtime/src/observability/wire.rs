//! OTLP trace messages written straight to protobuf bytes (`opentelemetry/proto/trace/v1`):
//! a span is encoded once, where it ends, into bytes the exporter only has to frame and
//! send. No intermediate message structs, no per-span copies of the resource and scope.
//!
//! Field numbers follow `trace.proto`, `common.proto` and `resource.proto`; protobuf lets
//! a message's fields come in any order, so a span is written in two parts (what is known
//! when it starts, then its end time, outcome and status).

use std::time::SystemTime;

use opentelemetry::trace::{SpanKind, Status};
use opentelemetry::{Array, KeyValue, Value};
use opentelemetry_sdk::trace::SpanData;

const VARINT: u8 = 0;
const FIXED64: u8 = 1;
pub(super) const LEN: u8 = 2;
const FIXED32: u8 = 5;

/// `Span` field numbers.
pub(super) mod span {
    pub(crate) const TRACE_ID: u32 = 1;
    pub(crate) const SPAN_ID: u32 = 2;
    pub(crate) const TRACE_STATE: u32 = 3;
    pub(crate) const PARENT_SPAN_ID: u32 = 4;
    pub(crate) const NAME: u32 = 5;
    pub(crate) const KIND: u32 = 6;
    pub(crate) const START: u32 = 7;
    pub(crate) const END: u32 = 8;
    pub(crate) const ATTRIBUTES: u32 = 9;
    pub(crate) const DROPPED_ATTRIBUTES: u32 = 10;
    pub(crate) const EVENTS: u32 = 11;
    pub(crate) const DROPPED_EVENTS: u32 = 12;
    pub(crate) const LINKS: u32 = 13;
    pub(crate) const DROPPED_LINKS: u32 = 14;
    pub(crate) const STATUS: u32 = 15;
    pub(crate) const FLAGS: u32 = 16;
}

/// `SpanKind::SPAN_KIND_SERVER`.
pub(super) const KIND_SERVER: u64 = 2;
/// `Status.code`: `STATUS_CODE_ERROR`.
const STATUS_ERROR: u64 = 2;
/// `SpanFlags`: the flags say whether the parent is remote, and it is.
const HAS_IS_REMOTE: u32 = 0x100;
const IS_REMOTE: u32 = 0x200;

#[inline]
pub(super) fn varint(buf: &mut Vec<u8>, value: u64) {
    // Tags and the lengths of names and values are nearly always one byte.
    if value < 0x80 {
        buf.push(value as u8);
        return;
    }
    let (bytes, len) = varint_bytes(value);
    buf.extend_from_slice(&bytes[..len]);
}

/// `value` as a varint: its bytes and how many of them there are.
fn varint_bytes(mut value: u64) -> ([u8; 10], usize) {
    let mut bytes = [0u8; 10];
    let mut len = 0;
    while value >= 0x80 {
        bytes[len] = (value as u8) | 0x80;
        value >>= 7;
        len += 1;
    }
    bytes[len] = value as u8;
    (bytes, len + 1)
}

#[inline]
pub(super) fn tag(buf: &mut Vec<u8>, field: u32, wire: u8) {
    varint(buf, (u64::from(field) << 3) | u64::from(wire));
}

pub(super) fn bytes(buf: &mut Vec<u8>, field: u32, value: &[u8]) {
    tag(buf, field, LEN);
    varint(buf, value.len() as u64);
    buf.extend_from_slice(value);
}

pub(super) fn string(buf: &mut Vec<u8>, field: u32, value: &str) {
    bytes(buf, field, value.as_bytes());
}

pub(super) fn uint(buf: &mut Vec<u8>, field: u32, value: u64) {
    if value != 0 {
        tag(buf, field, VARINT);
        varint(buf, value);
    }
}

pub(super) fn fixed64(buf: &mut Vec<u8>, field: u32, value: u64) {
    tag(buf, field, FIXED64);
    buf.extend_from_slice(&value.to_le_bytes());
}

pub(super) fn fixed32(buf: &mut Vec<u8>, field: u32, value: u32) {
    tag(buf, field, FIXED32);
    buf.extend_from_slice(&value.to_le_bytes());
}

/// A nested message: its tag, then its length, then what `body` writes. The length is
/// known only afterwards, so the body is moved up by the length's size (nested messages
/// here are small; the outer request frames its spans without this).
pub(super) fn message(buf: &mut Vec<u8>, field: u32, body: impl FnOnce(&mut Vec<u8>)) {
    tag(buf, field, LEN);
    let start = buf.len();
    body(buf);
    let (prefix, len) = varint_bytes((buf.len() - start) as u64);
    buf.splice(start..start, prefix[..len].iter().copied());
}

/// The length of `value` as a varint.
pub(super) fn varint_len(value: u64) -> usize {
    (64 - (value | 1).leading_zeros() as usize).div_ceil(7)
}

/// Nanoseconds since the Unix epoch (0 before it).
pub(super) fn unix_nanos(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// A string attribute: `KeyValue { key, value: AnyValue { string_value } }`.
pub(super) fn str_attribute(buf: &mut Vec<u8>, field: u32, key: &str, value: &str) {
    let any = 1 + varint_len(value.len() as u64) + value.len();
    let pair = 1 + varint_len(key.len() as u64) + key.len() + 1 + varint_len(any as u64) + any;
    buf.reserve(pair + 2);
    tag(buf, field, LEN);
    varint(buf, pair as u64);
    string(buf, 1, key);
    tag(buf, 2, LEN);
    varint(buf, any as u64);
    string(buf, 1, value);
}

/// Any attribute (`KeyValue`).
fn attribute(buf: &mut Vec<u8>, field: u32, attribute: &KeyValue) {
    if let Value::String(value) = &attribute.value {
        str_attribute(buf, field, attribute.key.as_str(), value.as_str());
        return;
    }
    message(buf, field, |buf| {
        string(buf, 1, attribute.key.as_str());
        message(buf, 2, |buf| any_value(buf, &attribute.value));
    });
}

/// The fields of an `AnyValue`.
fn any_value(buf: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Bool(b) => {
            tag(buf, 2, VARINT);
            varint(buf, u64::from(*b));
        }
        Value::I64(i) => {
            tag(buf, 3, VARINT);
            varint(buf, *i as u64);
        }
        Value::F64(f) => fixed64(buf, 4, f.to_bits()),
        Value::String(s) => string(buf, 1, s.as_str()),
        Value::Array(array) => message(buf, 5, |buf| {
            // `ArrayValue { repeated AnyValue values = 1 }`
            let each =
                |buf: &mut Vec<u8>, value: Value| message(buf, 1, |buf| any_value(buf, &value));
            match array {
                Array::Bool(v) => v.iter().for_each(|b| each(buf, Value::Bool(*b))),
                Array::I64(v) => v.iter().for_each(|i| each(buf, Value::I64(*i))),
                Array::F64(v) => v.iter().for_each(|f| each(buf, Value::F64(*f))),
                Array::String(v) => v.iter().for_each(|s| {
                    message(buf, 1, |buf| string(buf, 1, s.as_str()));
                }),
                // A kind of array this encoder does not know: its text, not nothing.
                other => string(buf, 1, &other.to_string()),
            }
        }),
        // A kind of value this encoder does not know: its text, not nothing.
        other => string(buf, 1, &other.to_string()),
    }
}

/// The `flags` of a span or link: the W3C trace flags, and whether the parent is remote.
pub(super) fn flags(trace_flags: u8, parent_is_remote: bool) -> u32 {
    u32::from(trace_flags) | HAS_IS_REMOTE | if parent_is_remote { IS_REMOTE } else { 0 }
}

/// The end of a span: end time, `error.type` and the error status when it failed.
pub(super) fn end(buf: &mut Vec<u8>, end: SystemTime, error_type: Option<&str>) {
    fixed64(buf, span::END, unix_nanos(end));
    if let Some(kind) = error_type {
        str_attribute(buf, span::ATTRIBUTES, "error.type", kind);
        // `Status { code = 3 }` (an empty message is left out)
        tag(buf, span::STATUS, LEN);
        varint(buf, 2);
        tag(buf, 3, VARINT);
        varint(buf, STATUS_ERROR);
    }
}

/// A whole span from the SDK (the tool's own spans, through the `tracing` bridge).
pub(super) fn sdk_span(buf: &mut Vec<u8>, span: &SpanData) {
    let context = &span.span_context;
    bytes(buf, span::TRACE_ID, &context.trace_id().to_bytes());
    bytes(buf, span::SPAN_ID, &context.span_id().to_bytes());
    let state = context.trace_state().header();
    if !state.is_empty() {
        string(buf, span::TRACE_STATE, &state);
    }
    if span.parent_span_id != opentelemetry::trace::SpanId::INVALID {
        bytes(buf, span::PARENT_SPAN_ID, &span.parent_span_id.to_bytes());
    }
    fixed32(
        buf,
        span::FLAGS,
        flags(context.trace_flags().to_u8(), span.parent_span_is_remote),
    );
    string(buf, span::NAME, &span.name);
    let kind = match span.span_kind {
        SpanKind::Internal => 1,
        SpanKind::Server => 2,
        SpanKind::Client => 3,
        SpanKind::Producer => 4,
        SpanKind::Consumer => 5,
    };
    uint(buf, span::KIND, kind);
    fixed64(buf, span::START, unix_nanos(span.start_time));
    fixed64(buf, span::END, unix_nanos(span.end_time));
    for kv in &span.attributes {
        attribute(buf, span::ATTRIBUTES, kv);
    }
    uint(
        buf,
        span::DROPPED_ATTRIBUTES,
        u64::from(span.dropped_attributes_count),
    );
    for event in &span.events.events {
        // `Event { time_unix_nano = 1, name = 2, attributes = 3, dropped_attributes_count = 4 }`
        message(buf, span::EVENTS, |buf| {
            fixed64(buf, 1, unix_nanos(event.timestamp));
            string(buf, 2, &event.name);
            for kv in &event.attributes {
                attribute(buf, 3, kv);
            }
            uint(buf, 4, u64::from(event.dropped_attributes_count));
        });
    }
    uint(
        buf,
        span::DROPPED_EVENTS,
        u64::from(span.events.dropped_count),
    );
    for link in &span.links.links {
        // `Link { trace_id = 1, span_id = 2, trace_state = 3, attributes = 4,
        // dropped_attributes_count = 5, flags = 6 }`
        message(buf, span::LINKS, |buf| {
            let linked = &link.span_context;
            bytes(buf, 1, &linked.trace_id().to_bytes());
            bytes(buf, 2, &linked.span_id().to_bytes());
            let state = linked.trace_state().header();
            if !state.is_empty() {
                string(buf, 3, &state);
            }
            for kv in &link.attributes {
                attribute(buf, 4, kv);
            }
            uint(buf, 5, u64::from(link.dropped_attributes_count));
            fixed32(
                buf,
                6,
                flags(linked.trace_flags().to_u8(), linked.is_remote()),
            );
        });
    }
    uint(
        buf,
        span::DROPPED_LINKS,
        u64::from(span.links.dropped_count),
    );
    match &span.status {
        Status::Unset => {}
        Status::Ok => message(buf, span::STATUS, |buf| uint(buf, 3, 1)),
        Status::Error { description } => message(buf, span::STATUS, |buf| {
            if !description.is_empty() {
                string(buf, 2, description);
            }
            uint(buf, 3, STATUS_ERROR);
        }),
    }
}

/// A `Resource` message's body: its attributes.
pub(super) fn resource(resource: &opentelemetry_sdk::Resource) -> Vec<u8> {
    let mut buf = Vec::new();
    for (key, value) in resource.iter() {
        attribute(&mut buf, 1, &KeyValue::new(key.clone(), value.clone()));
    }
    buf
}

/// An `InstrumentationScope` message's body: its name and version.
pub(super) fn scope(name: &str, version: &str) -> Vec<u8> {
    let mut buf = Vec::new();
    string(&mut buf, 1, name);
    string(&mut buf, 2, version);
    buf
}

/// An `ExportTraceServiceRequest` around `spans` (each already framed as field 2 of
/// `ScopeSpans`): one `ResourceSpans` with one `ScopeSpans`.
pub(super) fn request(resource: &[u8], scope: &[u8], spans: &[u8], out: &mut Vec<u8>) {
    let scope_field = 1 + varint_len(scope.len() as u64) + scope.len();
    let scope_spans = scope_field + spans.len();
    let resource_field = 1 + varint_len(resource.len() as u64) + resource.len();
    let resource_spans = resource_field + 1 + varint_len(scope_spans as u64) + scope_spans;
    out.clear();
    out.reserve(resource_spans + 8);
    tag(out, 1, LEN);
    varint(out, resource_spans as u64);
    bytes(out, 1, resource);
    tag(out, 2, LEN);
    varint(out, scope_spans as u64);
    bytes(out, 1, scope);
    out.extend_from_slice(spans);
}

/// Frame an encoded span as one of `ScopeSpans.spans` (field 2).
pub(super) fn frame(buf: &mut Vec<u8>, span: &[u8]) {
    bytes(buf, 2, span);
}

/// The length of the first `count` framed spans of `frames` (all of it when it holds fewer).
pub(super) fn frames_len(frames: &[u8], count: usize) -> usize {
    let mut at = 0;
    for _ in 0..count {
        // The tag (one byte), the span's length, the span.
        let Some((len, size)) = frames.get(at + 1..).and_then(read_varint) else {
            return frames.len();
        };
        at = at
            .saturating_add(1 + size)
            .saturating_add(usize::try_from(len).unwrap_or(usize::MAX));
        if at >= frames.len() {
            return frames.len();
        }
    }
    at
}

/// The varint at the start of `bytes`, and how many bytes it took.
fn read_varint(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (i, byte) in bytes.iter().take(10).enumerate() {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_at_span_boundaries() {
        let spans: Vec<Vec<u8>> = [3usize, 200, 0, 130]
            .iter()
            .map(|&n| vec![7u8; n])
            .collect();
        let mut frames = Vec::new();
        let mut ends = vec![0];
        for span in &spans {
            frame(&mut frames, span);
            ends.push(frames.len());
        }
        for (count, &end) in ends.iter().enumerate() {
            assert_eq!(frames_len(&frames, count), end, "{count}");
        }
        assert_eq!(frames_len(&frames, 9), frames.len());
        // A cut frame ends the walk at the end of what there is.
        assert_eq!(frames_len(&frames[..ends[2] - 1], 3), ends[2] - 1);
    }

    #[test]
    fn varints_and_their_lengths_agree() {
        for value in [
            0u64,
            1,
            127,
            128,
            300,
            16_383,
            16_384,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            let mut buf = Vec::new();
            varint(&mut buf, value);
            assert_eq!(buf.len(), varint_len(value), "{value}");
        }
        let mut buf = Vec::new();
        varint(&mut buf, 300);
        assert_eq!(buf, [0xac, 0x02]);
    }

    #[test]
    fn a_nested_message_is_prefixed_with_its_length() {
        let mut buf = Vec::new();
        message(&mut buf, 1, |buf| buf.extend_from_slice(&[7u8; 200]));
        assert_eq!(&buf[..3], &[0x0a, 0xc8, 0x01]);
        assert_eq!(buf.len(), 203);
        let mut direct = Vec::new();
        str_attribute(&mut direct, 9, "k", "v");
        let mut nested = Vec::new();
        message(&mut nested, 9, |buf| {
            string(buf, 1, "k");
            message(buf, 2, |buf| string(buf, 1, "v"));
        });
        assert_eq!(direct, nested);
    }

    #[test]
    fn sdk_spans_decode_as_the_otlp_messages_they_stand_for() {
        use opentelemetry::trace::{
            Event, Link, SpanContext, SpanId, TraceFlags, TraceId, TraceState,
        };
        use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
        use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
        use prost::Message as _;
        use std::time::Duration;

        let start = SystemTime::UNIX_EPOCH + Duration::from_nanos(1_700_000_000_123_456_789);
        let state = TraceState::from_key_value([("vendor", "x")]).unwrap();
        let context = SpanContext::new(
            TraceId::from_bytes([7; 16]),
            SpanId::from_bytes([8; 8]),
            TraceFlags::SAMPLED,
            false,
            state,
        );
        let linked = SpanContext::new(
            TraceId::from_bytes([3; 16]),
            SpanId::from_bytes([4; 8]),
            TraceFlags::default(),
            true,
            TraceState::default(),
        );
        let mut events = opentelemetry_sdk::trace::SpanEvents::default();
        events.events.push(Event::new(
            "retrying",
            start + Duration::from_millis(1),
            vec![KeyValue::new("attempt", 2_i64)],
            1,
        ));
        let mut links = opentelemetry_sdk::trace::SpanLinks::default();
        links
            .links
            .push(Link::new(linked, vec![KeyValue::new("why", "batch")], 0));
        let span = SpanData {
            span_context: context,
            parent_span_id: SpanId::from_bytes([9; 8]),
            parent_span_is_remote: false,
            span_kind: SpanKind::Client,
            name: "lookup é".into(),
            start_time: start,
            end_time: start + Duration::from_millis(5),
            attributes: vec![
                KeyValue::new("city", "Paris"),
                KeyValue::new("n", -3_i64),
                KeyValue::new("ok", true),
                KeyValue::new("ratio", 0.5),
                KeyValue::new(
                    "tags",
                    Value::Array(Array::String(vec!["a".into(), "b".into()])),
                ),
                KeyValue::new("long", "x".repeat(300)),
            ],
            dropped_attributes_count: 2,
            events,
            links,
            status: Status::error("it broke"),
            instrumentation_scope: opentelemetry::InstrumentationScope::builder("t").build(),
        };
        let mut encoded = Vec::new();
        sdk_span(&mut encoded, &span);
        let mut framed = Vec::new();
        frame(&mut framed, &encoded);
        let resource = resource(
            &opentelemetry_sdk::Resource::builder_empty()
                .with_service_name("svc")
                .build(),
        );
        let mut body = Vec::new();
        request(&resource, &scope("platform", "1.2.3"), &framed, &mut body);

        let decoded = ExportTraceServiceRequest::decode(body.as_slice()).unwrap();
        let resource_spans = &decoded.resource_spans[0];
        let service = &resource_spans.resource.as_ref().unwrap().attributes[0];
        assert_eq!(service.key, "service.name");
        let scope_spans = &resource_spans.scope_spans[0];
        let scope = scope_spans.scope.as_ref().unwrap();
        assert_eq!(
            (scope.name.as_str(), scope.version.as_str()),
            ("platform", "1.2.3")
        );
        let out = &scope_spans.spans[0];
        assert_eq!(out.trace_id, vec![7; 16]);
        assert_eq!(out.span_id, vec![8; 8]);
        assert_eq!(out.parent_span_id, vec![9; 8]);
        assert_eq!(out.trace_state, "vendor=x");
        assert_eq!(out.flags, 0x101, "sampled, parent known to be local");
        assert_eq!(out.name, "lookup é");
        assert_eq!(out.kind, 3);
        assert_eq!(out.start_time_unix_nano, 1_700_000_000_123_456_789);
        assert_eq!(out.end_time_unix_nano, 1_700_000_000_128_456_789);
        let value = |key: &str| {
            out.attributes
                .iter()
                .find(|a| a.key == key)
                .and_then(|a| a.value.as_ref()?.value.clone())
        };
        assert_eq!(value("city"), Some(Any::StringValue("Paris".into())));
        assert_eq!(value("n"), Some(Any::IntValue(-3)));
        assert_eq!(value("ok"), Some(Any::BoolValue(true)));
        assert_eq!(value("ratio"), Some(Any::DoubleValue(0.5)));
        assert_eq!(value("long"), Some(Any::StringValue("x".repeat(300))));
        let Some(Any::ArrayValue(tags)) = value("tags") else {
            panic!("tags: {:?}", value("tags"));
        };
        assert_eq!(tags.values.len(), 2);
        assert_eq!(tags.values[1].value, Some(Any::StringValue("b".into())));
        assert_eq!(out.dropped_attributes_count, 2);
        let event = &out.events[0];
        assert_eq!(event.name, "retrying");
        assert_eq!(event.time_unix_nano, 1_700_000_000_124_456_789);
        assert_eq!(event.attributes[0].key, "attempt");
        assert_eq!(event.dropped_attributes_count, 1);
        let link = &out.links[0];
        assert_eq!(
            (link.trace_id.clone(), link.span_id.clone()),
            (vec![3; 16], vec![4; 8])
        );
        assert_eq!(link.flags, 0x300, "not sampled, remote");
        assert_eq!(link.attributes[0].key, "why");
        let status = out.status.as_ref().unwrap();
        assert_eq!((status.code, status.message.as_str()), (2, "it broke"));
    }
}
