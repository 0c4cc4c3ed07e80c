//! Log lines on stderr: human-readable text (the default) or JSON, one object per line, each
//! event inside a request carrying the request's `trace_id` and `span_id`.

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// The trace and span ids a request span recorded, kept on the span for the JSON lines of
/// the events inside it.
#[derive(Debug, Clone, Default)]
struct TraceIds {
    trace_id: Option<String>,
    span_id: Option<String>,
}

impl Visit for TraceIds {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "trace_id" => self.trace_id = Some(value.to_owned()),
            "span_id" => self.span_id = Some(value.to_owned()),
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if matches!(field.name(), "trace_id" | "span_id") {
            self.record_str(field, &format!("{value:?}"));
        }
    }
}

/// Keeps each request span's trace and span ids where [`JsonLines`] finds them.
pub(crate) struct TraceIdsLayer;

impl<S> tracing_subscriber::Layer<S> for TraceIdsLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_record(
        &self,
        id: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        ctx: Context<'_, S>,
    ) {
        // Only the request span records these; every other record is one visit.
        let mut recorded = TraceIds::default();
        values.record(&mut recorded);
        if recorded.trace_id.is_none() && recorded.span_id.is_none() {
            return;
        }
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        match extensions.get_mut::<TraceIds>() {
            Some(ids) => {
                ids.trace_id = recorded.trace_id.or(ids.trace_id.take());
                ids.span_id = recorded.span_id.or(ids.span_id.take());
            }
            None => extensions.insert(recorded),
        }
    }
}

/// Writes each event as one JSON object: `timestamp` (RFC 3339, UTC), `level`, `target`,
/// `message`, the event's fields, and `trace_id`/`span_id` inside a traced request.
pub(crate) struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let metadata = event.metadata();
        let mut object = Map::new();
        object.insert("timestamp".into(), Value::String(rfc3339_now()));
        object.insert("level".into(), Value::String(metadata.level().to_string()));
        object.insert("target".into(), Value::String(metadata.target().to_owned()));
        let mut fields = JsonFields(Map::new());
        event.record(&mut fields);
        if let Some(message) = fields.0.remove("message") {
            object.insert("message".into(), message);
        }
        if let Some(scope) = ctx.event_scope() {
            for span in scope {
                if let Some(ids) = span.extensions().get::<TraceIds>() {
                    if let Some(trace_id) = &ids.trace_id {
                        object.insert("trace_id".into(), Value::String(trace_id.clone()));
                    }
                    if let Some(span_id) = &ids.span_id {
                        object.insert("span_id".into(), Value::String(span_id.clone()));
                    }
                    break;
                }
            }
        }
        for (key, value) in fields.0 {
            object.entry(key).or_insert(value);
        }
        let line = Value::Object(object).to_string();
        writer.write_str(&line)?;
        writer.write_char('\n')
    }
}

/// An event's fields as JSON values.
struct JsonFields(Map<String, Value>);

impl Visit for JsonFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0
            .insert(field.name().to_owned(), Value::String(value.to_owned()));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_owned(), Value::Bool(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_owned(), value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), value.into());
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_owned(), value.into());
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0
            .insert(field.name().to_owned(), Value::String(value.to_string()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().to_owned(), Value::String(format!("{value:?}")));
    }
}

/// Now as `2026-12-02T11:45:52.123456Z`.
fn rfc3339_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(now.as_secs(), now.subsec_micros())
}

/// Seconds since the Unix epoch (UTC) as RFC 3339 with microseconds.
fn rfc3339(seconds: u64, micros: u32) -> String {
    let days = seconds / 86_400;
    let rest = seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{micros:06}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
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
