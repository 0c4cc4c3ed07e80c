//! Errors a tool, resource or prompt returns to its caller.

use std::borrow::Cow;
use std::fmt;

/// An error a tool returns to the model as a tool result with `isError: true`.
///
/// The message is shown to the client as written, so write it for the model: say what was
/// wrong and what to do instead. Any `E: Display` returned from a handler's `Result` becomes a
/// `ToolError` carrying its display text.
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
    data: Option<serde_json::Value>,
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
}

impl ToolError {
    /// A tool error with the given message, shown to the client as written.
    pub fn new(message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            message: message.into(),
            kind: ToolErrorKind::Tool,
            data: None,
        }
    }

    /// An error for arguments that do not match the input schema.
    pub fn invalid_arguments(message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            message: message.into(),
            kind: ToolErrorKind::InvalidArguments,
            data: None,
        }
    }

    /// A protocol-level "invalid params" error (`-32602`).
    pub fn invalid_params(message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            message: message.into(),
            kind: ToolErrorKind::InvalidParams,
            data: None,
        }
    }

    /// A resource-not-found error.
    pub fn not_found(message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            message: message.into(),
            kind: ToolErrorKind::NotFound,
            data: None,
        }
    }

    /// An internal server fault; the client sees a generic message.
    pub fn internal(message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            message: message.into(),
            kind: ToolErrorKind::Internal,
            data: None,
        }
    }

    /// Attach structured data to the error (sent as the JSON-RPC error's `data`, or as the
    /// tool result's `structuredContent`).
    #[must_use]
    pub fn with_data(mut self, data: serde_json::Value) -> Self {
        self.data = Some(data);
        self
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
        self.data.as_ref()
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
/// Implemented for every `E: Display + 'static`; a [`ToolError`] passes through unchanged,
/// any other error becomes a tool error carrying its display text.
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
        match any.downcast::<ToolError>() {
            Ok(error) => *error,
            Err(any) => match any.downcast::<E>() {
                Ok(error) => ToolError::new(error.to_string()),
                // Unreachable: the box was built from an `E` just above.
                Err(_) => ToolError::internal("error of an unexpected type"),
            },
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
    fn display_errors_keep_their_text() {
        let error = "boom".to_string().into_tool_error();
        assert_eq!(error.kind(), ToolErrorKind::Tool);
        assert_eq!(error.message(), "boom");
        let io = std::io::Error::other("disk full").into_tool_error();
        assert_eq!(io.message(), "disk full");
    }
}
