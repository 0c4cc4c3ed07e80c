//! Errors a tool, resource or prompt returns to its caller.

use std::borrow::Cow;
use std::fmt;

/// An error a tool returns to the model as a tool result with `isError: true`.
///
/// The message is shown to the client as written, so write it for the model: say what was
/// wrong and what to do instead. A plain message (`String`, `&str`) returned as a handler's
/// error becomes a `ToolError` carrying it; any other error type (`std::io::Error`,
/// `anyhow::Error`, a database error) is an internal error, masked on the wire and logged in
/// full (see [`IntoToolError`]).
///
/// ```
/// use platform_runtime::ToolError;
///
/// fn divide(a: f64, b: f64) -> Result<f64, ToolError> {
///     if b == 0.0 {
///         return Err(ToolError::new("`b` must not be zero; pass a non-zero divisor"));
///     }
///     Ok(a / b)
/// }
/// assert_eq!(divide(1.0, 0.0).unwrap_err().message(), "`b` must not be zero; pass a non-zero divisor");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ToolError {
    message: Cow<'static, str>,
    kind: ToolErrorKind,
    /// The rarely used parts, boxed to keep `Result<T, ToolError>` small.
    extra: Option<Box<Extra>>,
}

#[derive(Debug, Clone, Default, PartialEq)]
struct Extra {
    data: Option<serde_json::Value>,
    /// Set once the error was logged with a reference the client may see.
    reference: Option<String>,
    retry_after: Option<std::time::Duration>,
}

/// What kind of failure a [`ToolError`] reports; it decides how the error reaches the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ToolErrorKind {
    /// A failure the model should see and may correct (bad input, a business rule, an
    /// upstream API error): a result with `isError: true`.
    Tool,
    /// The arguments did not match the input schema: a result with `isError: true`
    /// naming the argument, so the model can retry.
    InvalidArguments,
    /// The request itself was malformed (a missing prompt argument, a bad resource URI):
    /// a JSON-RPC `-32602` error.
    InvalidParams,
    /// The requested resource does not exist: a JSON-RPC resource-not-found error.
    NotFound,
    /// A fault inside the server. The message is replaced by a generic one on the wire and
    /// logged in full.
    Internal,
    /// A rate limit refused the call; [`ToolError::retry_after`] says when to retry.
    RateLimited,
    /// The call did not finish within its timeout.
    Timeout,
    /// The server or the component cannot take the call now (busy, circuit open).
    Unavailable,
    /// The client did not declare a capability the call needs (`-32021`); the message is
    /// the capability's name.
    MissingClientCapability,
    /// The caller may not use the component (a role or scope it lacks, or its tenant's
    /// allow-list): a JSON-RPC error with code [`FORBIDDEN`], never retried.
    Forbidden,
}

/// The JSON-RPC error code of an authorization refusal ([`ToolErrorKind::Forbidden`]):
/// outside the range the JSON-RPC and MCP specifications reserve (`-32768..=-32000`).
pub const FORBIDDEN: i32 = -31403;

impl ToolErrorKind {
    /// Whether a retry may succeed: timeouts, unavailability, internal and tool failures.
    /// Bad input, unknown names and rate limits are not retried.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            Self::Tool | Self::Internal | Self::Timeout | Self::Unavailable
        )
    }

    /// The kind's name in logs and statistics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tool => "tool",
            Self::InvalidArguments => "invalid_arguments",
            Self::InvalidParams => "invalid_params",
            Self::NotFound => "not_found",
            Self::Internal => "internal",
            Self::RateLimited => "rate_limited",
            Self::Timeout => "timeout",
            Self::Unavailable => "unavailable",
            Self::MissingClientCapability => "missing_client_capability",
            Self::Forbidden => "forbidden",
        }
    }
}

impl ToolError {
    /// An error of the given kind.
    pub fn of(kind: ToolErrorKind, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            message: message.into(),
            kind,
            extra: None,
        }
    }

    /// A rate-limit refusal; the message says when to retry.
    pub fn rate_limited(what: &str, retry_after: std::time::Duration) -> Self {
        let seconds = retry_after.as_secs_f64().max(0.001);
        let mut error = Self::of(
            ToolErrorKind::RateLimited,
            format!("rate limit exceeded for {what}; retry in {seconds:.3}s"),
        );
        let extra = error.extra_mut();
        extra.retry_after = Some(retry_after);
        extra.data = Some(serde_json::json!({
            "retryAfterMs": u64::try_from(retry_after.as_millis()).unwrap_or(u64::MAX)
        }));
        error
    }

    /// A timeout.
    pub fn timeout(message: impl Into<Cow<'static, str>>) -> Self {
        Self::of(ToolErrorKind::Timeout, message)
    }

    /// The server or component cannot take the call now.
    pub fn unavailable(message: impl Into<Cow<'static, str>>) -> Self {
        Self::of(ToolErrorKind::Unavailable, message)
    }

    /// The client did not declare `capability` (`"elicitation"`, `"sampling"`, `"roots"`):
    /// a `-32021` error naming it.
    pub fn missing_client_capability(capability: &str) -> Self {
        Self::of(
            ToolErrorKind::MissingClientCapability,
            capability.to_owned(),
        )
    }

    /// A tool error with the given message, shown to the client as written.
    pub fn new(message: impl Into<Cow<'static, str>>) -> Self {
        Self::of(ToolErrorKind::Tool, message)
    }

    /// An error for arguments that do not match the input schema.
    pub fn invalid_arguments(message: impl Into<Cow<'static, str>>) -> Self {
        Self::of(ToolErrorKind::InvalidArguments, message)
    }

    /// A protocol-level "invalid params" error (`-32602`).
    pub fn invalid_params(message: impl Into<Cow<'static, str>>) -> Self {
        Self::of(ToolErrorKind::InvalidParams, message)
    }

    /// A resource-not-found error.
    pub fn not_found(message: impl Into<Cow<'static, str>>) -> Self {
        Self::of(ToolErrorKind::NotFound, message)
    }

    /// The caller may not use this (see [`ToolErrorKind::Forbidden`]).
    pub fn forbidden(message: impl Into<Cow<'static, str>>) -> Self {
        Self::of(ToolErrorKind::Forbidden, message)
    }

    /// An internal server fault; the client sees a generic message.
    pub fn internal(message: impl Into<Cow<'static, str>>) -> Self {
        Self::of(ToolErrorKind::Internal, message)
    }

    /// Attach structured data to the error (sent as the JSON-RPC error's `data`, or as the
    /// tool result's `structuredContent`).
    #[must_use]
    pub fn with_data(mut self, data: serde_json::Value) -> Self {
        self.extra_mut().data = Some(data);
        self
    }

    fn extra_mut(&mut self) -> &mut Extra {
        self.extra.get_or_insert_with(Box::default)
    }

    /// The message as written by the handler.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The kind of failure.
    pub fn kind(&self) -> ToolErrorKind {
        self.kind
    }

    /// The structured data attached with [`ToolError::with_data`].
    pub fn data(&self) -> Option<&serde_json::Value> {
        self.extra.as_ref().and_then(|e| e.data.as_ref())
    }

    /// When a rate-limited call may be retried.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        self.extra.as_ref().and_then(|e| e.retry_after)
    }

    /// The log reference of an error already logged and made safe to show.
    pub fn reference(&self) -> Option<&str> {
        self.extra.as_ref().and_then(|e| e.reference.as_deref())
    }

    /// Mark the error as logged under `reference`, replacing the message with `public`.
    pub(crate) fn masked(mut self, reference: String, public: String) -> Self {
        self.message = public.into();
        let extra = self.extra_mut();
        extra.data = None;
        extra.reference = Some(reference);
        self
    }

    /// Mark the error as logged under `reference`, keeping its message.
    pub(crate) fn referenced(mut self, reference: String) -> Self {
        self.extra_mut().reference = Some(reference);
        self
    }
}

impl fmt::Display for ToolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ToolError {}

/// Conversion of a handler's error type into a [`ToolError`].
///
/// Implemented for every `E: Display + 'static`:
///
/// - a [`ToolError`] passes through unchanged;
/// - a plain message (`String`, `&'static str`, `Cow<'static, str>`, `Box<str>`,
///   `Arc<str>`) becomes a tool error the model sees as written;
/// - any other error (`std::io::Error`, a database error, `anyhow::Error`, …) is a fault
///   inside the server: an internal error. The client sees a generic message with a
///   reference, and the full text (with its chain of causes, as `{:#}` shows it) is logged
///   under that reference, as for a panic — unless masking is turned off for development
///   ([`crate::ServerBuilder::mask_internal_errors`]). Return a [`ToolError`] (or a message)
///   for failures the model should see.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned as a tool error",
    label = "this error type does not implement `Display`",
    note = "return `Result<T, platform_runtime::ToolError>`, or implement `std::fmt::Display` for `{Self}`"
)]
pub trait IntoToolError {
    /// Convert into a [`ToolError`].
    fn into_tool_error(self) -> ToolError;
}

impl<E: fmt::Display + 'static> IntoToolError for E {
    fn into_tool_error(self) -> ToolError {
        let any: Box<dyn std::any::Any> = Box::new(self);
        let any = match any.downcast::<ToolError>() {
            Ok(error) => return *error,
            Err(any) => any,
        };
        let message = |text: &dyn fmt::Display| ToolError::new(text.to_string());
        if let Some(text) = any.downcast_ref::<String>() {
            return message(text);
        }
        if let Some(text) = any.downcast_ref::<&'static str>() {
            return message(text);
        }
        if let Some(text) = any.downcast_ref::<Cow<'static, str>>() {
            return message(text);
        }
        if let Some(text) = any.downcast_ref::<Box<str>>() {
            return message(text);
        }
        if let Some(text) = any.downcast_ref::<std::sync::Arc<str>>() {
            return message(text);
        }
        match any.downcast::<E>() {
            Ok(error) => ToolError::internal(format!("{error:#} ({})", std::any::type_name::<E>())),
            // Unreachable: the box was built from an `E` just above.
            Err(_) => ToolError::internal("error of an unexpected type"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_error_passes_through_unchanged() {
        let original = ToolError::invalid_params("missing `city`").with_data(serde_json::json!(1));
        assert_eq!(original.clone().into_tool_error(), original);
    }

    #[test]
    fn plain_messages_are_tool_errors() {
        for error in [
            "boom".to_string().into_tool_error(),
            "boom".into_tool_error(),
            Cow::<'static, str>::Borrowed("boom").into_tool_error(),
            Box::<str>::from("boom").into_tool_error(),
            std::sync::Arc::<str>::from("boom").into_tool_error(),
        ] {
            assert_eq!(error.kind(), ToolErrorKind::Tool);
            assert_eq!(error.message(), "boom");
        }
    }

    #[test]
    fn other_errors_are_internal_with_their_full_text() {
        let io = std::io::Error::other("disk full").into_tool_error();
        assert_eq!(io.kind(), ToolErrorKind::Internal);
        assert_eq!(io.message(), "disk full (std::io::error::Error)");
        let parse = "x".parse::<u8>().unwrap_err().into_tool_error();
        assert_eq!(parse.kind(), ToolErrorKind::Internal);
        assert!(parse.message().contains("invalid digit"), "{parse}");
    }
}
