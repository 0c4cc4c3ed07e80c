//! Log lines on stderr: human-readable text (the default) or JSON, one object per line, each
//! event inside a request carrying the request's `trace_id` and `span_id`.

use std::fmt::Write as _;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// The trace and span ids of a request span, kept in its extensions for the JSON lines of
/// the events inside it.
#[derive(Debug, Clone, Copy)]
struct TraceIds {
    trace_id: [u8; 16],
    span_id: [u8; 8],
}

#[cfg(feature = "otel")]
/// Keep the ids on `span`, straight in the registry's extensions (a field recorded on the
/// span would go through every layer, and out as an exported attribute).
pub(crate) fn remember_ids(span: &tracing::Span, trace_id: [u8; 16], span_id: [u8; 8]) {
    span.with_subscriber(|(id, dispatch)| {
        if let Some(registry) = dispatch.downcast_ref::<tracing_subscriber::Registry>()
            && let Some(data) = registry.span(id)
        {
            data.extensions_mut()
                .replace(TraceIds { trace_id, span_id });
        }
    });
}

/// `bytes` as lowercase hex, onto `out`.
fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
}

/// Writes each event as one JSON object: `timestamp` (RFC 3339, UTC), `level`, `target`,
/// `message`, `trace_id`/`span_id` inside a traced request, then the event's fields (a field
/// named like one of those is left out). Written straight into the line, escaped on the way,
/// with no intermediate JSON values.
///
/// A layer of its own rather than a format of `tracing_subscriber::fmt`: that layer formats
/// every span's fields when the span opens, for lines that never show them here.
pub(crate) struct JsonLines<W> {
    make_writer: W,
}

impl<W> JsonLines<W> {
    pub(crate) fn new(make_writer: W) -> Self {
        Self { make_writer }
    }
}

/// Keys the line itself sets; an event field of the same name is left out.
const RESERVED: [&str; 6] = [
    "timestamp",
    "level",
    "target",
    "message",
    "trace_id",
    "span_id",
];

impl<S, W> tracing_subscriber::Layer<S> for JsonLines<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + 'static,
{
    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let metadata = event.metadata();
        let mut fields = JsonFields {
            message: None,
            rest: String::new(),
        };
        event.record(&mut fields);
        let mut line = String::with_capacity(192 + fields.rest.len());
        line.push_str("{\"timestamp\":\"");
        push_rfc3339_now(&mut line);
        line.push_str("\",\"level\":\"");
        line.push_str(metadata.level().as_str());
        line.push_str("\",\"target\":");
        push_str(&mut line, metadata.target());
        if let Some(message) = &fields.message {
            line.push_str(",\"message\":");
            line.push_str(message);
        }
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope {
                if let Some(ids) = span.extensions().get::<TraceIds>() {
                    line.push_str(",\"trace_id\":\"");
                    push_hex(&mut line, &ids.trace_id);
                    line.push_str("\",\"span_id\":\"");
                    push_hex(&mut line, &ids.span_id);
                    line.push('"');
                    break;
                }
            }
        }
        line.push_str(&fields.rest);
        line.push_str("}\n");
        let mut writer = self.make_writer.make_writer_for(metadata);
        let _ = std::io::Write::write_all(&mut writer, line.as_bytes());
    }
}

/// An event's fields as JSON members: the message apart (it goes first), the others as
/// `,"name":value` in the order recorded.
struct JsonFields {
    message: Option<String>,
    rest: String,
}

impl JsonFields {
    /// Where the value of `field` goes, with its key written; `None` to leave it out.
    fn slot(&mut self, field: &Field) -> Option<&mut String> {
        let name = field.name();
        if name == "message" {
            return Some(self.message.insert(String::new()));
        }
        if RESERVED.contains(&name) {
            return None;
        }
        self.rest.push(',');
        push_str(&mut self.rest, name);
        self.rest.push(':');
        Some(&mut self.rest)
    }
}

impl Visit for JsonFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if let Some(out) = self.slot(field) {
            push_str(out, value);
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        if let Some(out) = self.slot(field) {
            out.push_str(if value { "true" } else { "false" });
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if let Some(out) = self.slot(field) {
            let _ = write!(out, "{value}");
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if let Some(out) = self.slot(field) {
            let _ = write!(out, "{value}");
        }
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        if let Some(out) = self.slot(field) {
            if value.is_finite() {
                let _ = write!(out, "{value}");
            } else {
                out.push_str("null");
            }
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        if let Some(out) = self.slot(field) {
            out.push('"');
            let _ = write!(Escaped(out), "{value}");
            out.push('"');
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if let Some(out) = self.slot(field) {
            out.push('"');
            let _ = write!(Escaped(out), "{value:?}");
            out.push('"');
        }
    }
}

/// `value` as a JSON string.
fn push_str(out: &mut String, value: &str) {
    out.push('"');
    let _ = Escaped(out).write_str(value);
    out.push('"');
}

/// Writes text into a JSON string's body, escaping quotes, backslashes and control
/// characters.
struct Escaped<'a>(&'a mut String);

impl std::fmt::Write for Escaped<'_> {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        let out = &mut *self.0;
        // Most text needs no escaping: one scan, one copy.
        if !text.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
            out.push_str(text);
            return Ok(());
        }
        let mut start = 0;
        for (i, byte) in text.bytes().enumerate() {
            let escape = match byte {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0..=0x1f => "",
                _ => continue,
            };
            out.push_str(&text[start..i]);
            if escape.is_empty() {
                let _ = write!(out, "\\u{byte:04x}");
            } else {
                out.push_str(escape);
            }
            start = i + 1;
        }
        out.push_str(&text[start..]);
        Ok(())
    }
}

/// Now as `2026-12-02T11:45:52.123456Z`, onto `out`.
fn push_rfc3339_now(out: &mut String) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    push_rfc3339(out, now.as_secs(), now.subsec_micros());
}

/// Seconds since the Unix epoch (UTC) as RFC 3339 with microseconds.
fn push_rfc3339(out: &mut String, seconds: u64, micros: u32) {
    let days = seconds / 86_400;
    let rest = seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    // Digit by digit: `write!` with padding costs more than the rest of the line.
    push_digits(out, year, 4);
    for (separator, value, width) in [
        ('-', month, 2),
        ('-', day, 2),
        ('T', rest / 3600, 2),
        (':', rest % 3600 / 60, 2),
        (':', rest % 60, 2),
        ('.', u64::from(micros), 6),
    ] {
        out.push(separator);
        push_digits(out, value, width);
    }
    out.push('Z');
}

#[cfg(test)]
fn rfc3339(seconds: u64, micros: u32) -> String {
    let mut out = String::new();
    push_rfc3339(&mut out, seconds, micros);
    out
}

/// The last `width` decimal digits of `value`, zero-padded.
fn push_digits(out: &mut String, value: u64, width: u32) {
    for power in (0..width).rev() {
        let digit = value / 10u64.pow(power) % 10;
        out.push(char::from(b'0' + u8::try_from(digit).unwrap_or(0)));
    }
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_gives_valid_json() {
        let mut out = String::new();
        push_str(&mut out, "a\"b\\c\nd\u{1}e\u{7f}é");
        let back: String = serde_json::from_str(&out).unwrap();
        assert_eq!(back, "a\"b\\c\nd\u{1}e\u{7f}é");
        assert_eq!(out, "\"a\\\"b\\\\c\\nd\\u0001e\u{7f}é\"");
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000000Z");
        // 2026-12-02T11:45:52Z
        assert_eq!(
            rfc3339(1_796_211_952, 123_456),
            "2026-12-02T11:45:52.123456Z"
        );
        // A leap day.
        assert_eq!(rfc3339(951_782_400, 0), "2000-02-29T00:00:00.000000Z");
        assert_eq!(
            rfc3339(4_102_444_799, 999_999),
            "2099-12-31T23:59:59.999999Z"
        );
    }
}
