//! Structured logging with `tracing`: one event per request with method, component,
//! duration and outcome. Payloads are off by default; when on, they are truncated and every
//! value under a secret-looking key is redacted.

use serde_json::Value;
use tower::ServiceExt as _;

use super::{Middleware, MiddlewareFuture, impl_layer};
use crate::middleware::{McpRequest, McpService};

/// The target of the per-request events: filter them with `platform_runtime::requests=…`.
pub(crate) const TARGET: &str = "platform_runtime::requests";

/// Whether a key names a secret (the configuration's list of secret names).
fn secret_key(key: &str) -> bool {
    crate::config::secret_name(key)
}

/// Whether a string value is itself a credential (`Bearer …`, `Basic …`), whatever its key.
fn secret_value(value: &str) -> bool {
    let head = value.trim_start().as_bytes();
    [&b"bearer "[..], b"basic "].iter().any(|scheme| {
        head.len() > scheme.len() && head[..scheme.len()].eq_ignore_ascii_case(scheme)
    })
}

/// Logs every request.
#[derive(Debug, Clone)]
pub struct LoggingLayer {
    payloads: bool,
    max_payload_bytes: usize,
}

impl Default for LoggingLayer {
    fn default() -> Self {
        Self {
            payloads: false,
            max_payload_bytes: 1024,
        }
    }
}

impl LoggingLayer {
    /// Method, component, duration and outcome; no payloads.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also log arguments and results (redacted, truncated to `max_bytes` each).
    #[must_use]
    pub fn with_payloads(mut self, max_bytes: usize) -> Self {
        self.payloads = true;
        self.max_payload_bytes = max_bytes;
        self
    }
}

/// Replace the values of secret-looking keys, recursively.
pub(crate) fn redact(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    if secret_key(k) {
                        (k.clone(), Value::String("[redacted]".into()))
                    } else {
                        (k.clone(), redact(v))
                    }
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact).collect()),
        Value::String(text) if secret_value(text) => Value::String("[redacted]".into()),
        other => other.clone(),
    }
}

/// `text` cut to at most `max` bytes on a character boundary, marked when cut.
pub(crate) fn truncate(text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &text[..end], text.len())
}

impl Middleware for LoggingLayer {
    fn handle(&self, request: McpRequest, next: McpService) -> MiddlewareFuture {
        let payloads = self.payloads;
        let max = self.max_payload_bytes;
        let method = request.method();
        let component = request.target.clone();
        // Formatted only when some subscriber may want these events. `level_enabled!`, not
        // `enabled!`: with per-layer filters, an `enabled!` that no event follows leaves its
        // verdict behind for the next event, which then skips layers it should reach.
        let (request_id, http_request_id) = if tracing::level_enabled!(tracing::Level::INFO) {
            (
                request.request_id(),
                request.http_request_id().map(str::to_owned),
            )
        } else {
            (String::new(), None)
        };
        if payloads {
            let arguments = request
                .arguments()
                .map(|a| truncate(redact(&Value::Object(a.clone())).to_string(), max));
            tracing::debug!(target: TARGET, %method, component = component.as_deref(), request_id, http_request_id = http_request_id.as_deref(), arguments, "request started");
        } else {
            tracing::debug!(target: TARGET, %method, component = component.as_deref(), request_id, http_request_id = http_request_id.as_deref(), "request started");
        }
        Box::pin(async move {
            let start = tokio::time::Instant::now();
            let result = next.oneshot(request).await;
            let duration_us = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
            match &result {
                Ok(response) => {
                    let outcome = if response.is_tool_error() {
                        "tool_error"
                    } else {
                        "ok"
                    };
                    if payloads {
                        let result = truncate(redact(&response.to_json()).to_string(), max);
                        tracing::info!(target: TARGET, %method, component = component.as_deref(), request_id, http_request_id = http_request_id.as_deref(), duration_us, outcome, result, "request finished");
                    } else {
                        tracing::info!(target: TARGET, %method, component = component.as_deref(), request_id, http_request_id = http_request_id.as_deref(), duration_us, outcome, "request finished");
                    }
                }
                Err(error) => {
                    tracing::info!(
                        target: TARGET,
                        %method,
                        component = component.as_deref(),
                        request_id,
                        http_request_id = http_request_id.as_deref(),
                        duration_us,
                        outcome = error.kind().as_str(),
                        error = error.message(),
                        "request failed"
                    );
                }
            }
            result
        })
    }
}

impl_layer!(LoggingLayer);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_at_any_depth() {
        let value = serde_json::json!({
            "city": "Lisbon",
            "apiKey": "k-123",
            "nested": { "Authorization": "Bearer x", "list": [{ "password": "p" }] }
        });
        let redacted = redact(&value).to_string();
        assert!(
            !redacted.contains("k-123")
                && !redacted.contains("Bearer")
                && !redacted.contains("\"p\"")
        );
        assert!(redacted.contains("Lisbon"));
    }

    #[test]
    fn every_common_credential_name_is_redacted() {
        for key in [
            "authorization",
            "Authorization",
            "bearer",
            "bearer_token",
            "api_key",
            "x-api-key",
            "X-API-Key",
            "apiKey",
            "access_key",
            "aws-access-key",
            "accessKey",
            "pwd",
            "db_pwd",
            "secret",
            "client_secret",
            "token",
            "refreshToken",
            "password",
            "private-key",
        ] {
            let value = serde_json::json!({ key: "s3cr3t", "city": "Lisbon" });
            let redacted = redact(&value).to_string();
            assert!(!redacted.contains("s3cr3t"), "`{key}` leaked: {redacted}");
            assert!(redacted.contains("Lisbon"));
        }
        let value =
            serde_json::json!({ "header": "Bearer eyJhbGciOi", "other": ["basic dXNlcjpw"] });
        let redacted = redact(&value).to_string();
        assert!(
            !redacted.contains("eyJ") && !redacted.contains("dXNl"),
            "{redacted}"
        );
        assert_eq!(
            redact(&serde_json::json!({ "note": "bearer" })),
            serde_json::json!({ "note": "bearer" })
        );
    }

    #[test]
    fn truncation_respects_character_boundaries() {
        assert_eq!(truncate("héllo".into(), 2), "h… (6 bytes)");
        assert_eq!(truncate("short".into(), 10), "short");
    }
}
