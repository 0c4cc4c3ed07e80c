//! Log lines on stderr: human-readable text (the default) or JSON, one object per line, each
//! event inside a request carrying the request's `trace_id` and `span_id`.

use std::fmt::Write as _;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::Context;

/// How many JSON line layers exist: while any does, requests keep their trace ids for
/// the lines (see [`ids_wanted`]).
static JSON_LAYERS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Whether some JSON line layer may write a request's trace ids, so the request span layer
/// makes them even when no span is exported.
#[cfg(feature = "otel")]
pub(crate) fn ids_wanted() -> bool {
    JSON_LAYERS.load(std::sync::atomic::Ordering::Relaxed) != 0
}

/// The trace and span ids of the current OpenTelemetry context: the request span's while a
/// request runs (its context is made current on every poll of the request), a tool's own
/// OpenTelemetry span's inside one.
#[cfg(feature = "otel")]
fn current_ids() -> Option<([u8; 16], [u8; 8])> {
    use opentelemetry::trace::TraceContextExt as _;
    opentelemetry::Context::map_current(|cx| {
        let span = cx.span();
        let context = span.span_context();
        context
            .is_valid()
            .then(|| (context.trace_id().to_bytes(), context.span_id().to_bytes()))
    })
}

#[cfg(not(feature = "otel"))]
fn current_ids() -> Option<([u8; 16], [u8; 8])> {
    None
}

/// `bytes` (at most 16) as lowercase hex, onto `out` in one copy.
fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut hex = [0u8; 32];
    for (pair, byte) in hex.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[usize::from(byte >> 4)];
        pair[1] = DIGITS[usize::from(byte & 0xf)];
    }
    let len = 2 * bytes.len().min(16);
    out.push_str(std::str::from_utf8(&hex[..len]).unwrap_or_default());
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
        JSON_LAYERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Self { make_writer }
    }
}

impl<W> Drop for JsonLines<W> {
    fn drop(&mut self) {
        JSON_LAYERS.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
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
    S: Subscriber,
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + 'static,
{
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let metadata = event.metadata();
        // The thread's buffers, reused line after line (fresh ones if an event is written
        // while another is: a writer that logs).
        let mut reused = BUFFERS.with(|b| b.take());
        let (line, message, rest) = &mut reused;
        line.clear();
        message.clear();
        rest.clear();
        let mut fields = JsonFields {
            message: false,
            out: message,
            rest,
        };
        event.record(&mut fields);
        let message = fields.message.then_some(&*fields.out);
        let rest = &*fields.rest;
        line.push_str("{\"timestamp\":\"");
        push_rfc3339_now(line);
        line.push_str("\",\"level\":\"");
        line.push_str(metadata.level().as_str());
        line.push_str("\",\"target\":");
        push_str(line, metadata.target());
        if let Some(message) = message {
            line.push_str(",\"message\":");
            line.push_str(message);
        }
        if let Some((trace_id, span_id)) = current_ids() {
            line.push_str(",\"trace_id\":\"");
            push_hex(line, &trace_id);
            line.push_str("\",\"span_id\":\"");
            push_hex(line, &span_id);
            line.push('"');
        }
        line.push_str(rest);
        line.push_str("}\n");
        let mut writer = self.make_writer.make_writer_for(metadata);
        let _ = std::io::Write::write_all(&mut writer, line.as_bytes());
        // An unusually long line does not keep its memory.
        if line.capacity() + reused.1.capacity() + reused.2.capacity() <= 64 << 10 {
            BUFFERS.with(|b| b.set(reused));
        }
    }
}

thread_local! {
    /// The line, message and fields buffers of the thread's last JSON line.
    static BUFFERS: std::cell::Cell<(String, String, String)> = const {
        std::cell::Cell::new((String::new(), String::new(), String::new()))
    };
}

/// An event's fields as JSON members: the message apart (it goes first, into `out`), the
/// others as `,"name":value` in the order recorded.
struct JsonFields<'a> {
    message: bool,
    out: &'a mut String,
    rest: &'a mut String,
}

impl JsonFields<'_> {
    /// Where the value of `field` goes, with its key written; `None` to leave it out.
    fn slot(&mut self, field: &Field) -> Option<&mut String> {
        let name = field.name();
        if name == "message" {
            self.message = true;
            self.out.clear();
            return Some(self.out);
        }
        if RESERVED.contains(&name) {
            return None;
        }
        self.rest.push(',');
        push_str(self.rest, name);
        self.rest.push(':');
        Some(self.rest)
    }
}

impl Visit for JsonFields<'_> {
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
        if !needs_escaping(text.as_bytes()) {
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

/// Whether `text` holds a quote, a backslash or a control character: eight bytes at a time
/// (a byte below 0x20, or equal to `"` or `\\`, found with the usual word tricks).
fn needs_escaping(text: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    let zero_byte = |x: u64| x.wrapping_sub(ONES) & !x & HIGH != 0;
    let special = |x: u64| {
        x.wrapping_sub(ONES * 0x20) & !x & HIGH != 0
            || zero_byte(x ^ (ONES * u64::from(b'"')))
            || zero_byte(x ^ (ONES * u64::from(b'\\')))
    };
    let mut chunks = text.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        if special(u64::from_ne_bytes(word)) {
            return true;
        }
    }
    // The last few bytes, padded with spaces (which need no escaping) to a word.
    let mut last = [b' '; 8];
    last[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    special(u64::from_ne_bytes(last))
}

/// Now as `2026-12-02T11:45:52.123456Z`.
pub(crate) fn rfc3339_now() -> String {
    let mut out = String::with_capacity(27);
    push_rfc3339_now(&mut out);
    out
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
    // Digit by digit into one buffer: `write!` with padding costs more than the rest of
    // the line.
    let mut text = *b"0000-00-00T00:00:00.000000Z";
    for (end, value, width) in [
        (4, year, 4),
        (7, month, 2),
        (10, day, 2),
        (13, rest / 3600, 2),
        (16, rest % 3600 / 60, 2),
        (19, rest % 60, 2),
        (26, u64::from(micros), 6),
    ] {
        put_digits(&mut text[end - width..end], value);
    }
    out.push_str(std::str::from_utf8(&text).unwrap_or_default());
}

#[cfg(test)]
fn rfc3339(seconds: u64, micros: u32) -> String {
    let mut out = String::new();
    push_rfc3339(&mut out, seconds, micros);
    out
}

/// The last `digits.len()` decimal digits of `value`, zero-padded, into `digits`.
fn put_digits(digits: &mut [u8], mut value: u64) {
    for digit in digits.iter_mut().rev() {
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
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
    fn the_word_scan_finds_what_the_byte_scan_finds() {
        let naive = |t: &[u8]| t.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\');
        let mut text = b"plain text, longer than a word or two; \xc3\xa9 too".to_vec();
        assert!(!needs_escaping(&text));
        for position in 0..text.len() {
            for special in [b'"', b'\\', b'\n', 0x00, 0x1f, 0x20, 0x7f, 0x80, 0xff] {
                let kept = text[position];
                text[position] = special;
                assert_eq!(
                    needs_escaping(&text),
                    naive(&text),
                    "{special:#x} at {position}"
                );
                text[position] = kept;
            }
        }
        let mut hex = String::new();
        push_hex(&mut hex, &[0x00, 0xab, 0xff]);
        assert_eq!(hex, "00abff");
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
