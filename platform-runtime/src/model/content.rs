//! Content blocks ([`Content`]) and tool results ([`ToolResult`]), with their conversions to
//! and from the SDK's wire model.

use base64::Engine as _;
use rmcp::model::{CallToolResult, ContentBlock, Resource, ResourceContents};

/// One block of tool output: text, an image, audio, an embedded resource or a link to one.
///
/// Return a `Content`, a `Vec<Content>` or a [`ToolResult`] from a tool to control the
/// content blocks exactly; return any `Serialize + JsonSchema` value to get structured
/// output instead.
///
/// ```
/// use platform_runtime::model::Content;
///
/// let blocks = vec![
///     Content::text("a chart of the last hour"),
///     Content::image(vec![0x89, b'P', b'N', b'G'], "image/png"),
///     Content::resource_link("file:///reports/latest.csv", "latest.csv"),
/// ];
/// assert_eq!(blocks[0].as_text(), Some("a chart of the last hour"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Content(pub(crate) ContentBlock);

impl Content {
    /// A text block.
    pub fn text(text: impl Into<String>) -> Self {
        Self(ContentBlock::text(text))
    }

    /// An image block from raw bytes (base64-encoded on the wire).
    pub fn image(bytes: impl AsRef<[u8]>, mime_type: impl Into<String>) -> Self {
        Self(ContentBlock::image(encode(bytes.as_ref()), mime_type))
    }

    /// An image block from data that is already base64-encoded.
    pub fn image_base64(data: impl Into<String>, mime_type: impl Into<String>) -> Self {
        Self(ContentBlock::image(data, mime_type))
    }

    /// An audio block from raw bytes (base64-encoded on the wire).
    pub fn audio(bytes: impl AsRef<[u8]>, mime_type: impl Into<String>) -> Self {
        Self(ContentBlock::audio(encode(bytes.as_ref()), mime_type))
    }

    /// An audio block from data that is already base64-encoded.
    pub fn audio_base64(data: impl Into<String>, mime_type: impl Into<String>) -> Self {
        Self(ContentBlock::audio(data, mime_type))
    }

    /// An embedded text resource.
    pub fn embedded_text(
        uri: impl Into<String>,
        mime_type: impl Into<String>,
        text: impl Into<String>,
    ) -> Self {
        Self(ContentBlock::resource(
            ResourceContents::text(text, uri).with_mime_type(mime_type),
        ))
    }

    /// An embedded binary resource (base64-encoded on the wire).
    pub fn embedded_blob(
        uri: impl Into<String>,
        mime_type: impl Into<String>,
        bytes: impl AsRef<[u8]>,
    ) -> Self {
        Self(ContentBlock::resource(
            ResourceContents::blob(encode(bytes.as_ref()), uri).with_mime_type(mime_type),
        ))
    }

    /// A link to a resource the client may read later.
    pub fn resource_link(uri: impl Into<String>, name: impl Into<String>) -> Self {
        Self(ContentBlock::resource_link(Resource::new(uri, name)))
    }

    /// A link to a resource, with its MIME type and description.
    pub fn resource_link_with(
        uri: impl Into<String>,
        name: impl Into<String>,
        mime_type: impl Into<String>,
        description: impl Into<String>,
    ) -> Self {
        Self(ContentBlock::resource_link(
            Resource::new(uri, name)
                .with_mime_type(mime_type)
                .with_description(description),
        ))
    }

    /// The text of a text block.
    pub fn as_text(&self) -> Option<&str> {
        self.0.as_text().map(|t| t.text.as_str())
    }

    /// The MIME type and base64 data of an image block.
    pub fn as_image(&self) -> Option<(&str, &str)> {
        self.0
            .as_image()
            .map(|i| (i.mime_type.as_str(), i.data.as_str()))
    }

    /// The MIME type and base64 data of an audio block.
    pub fn as_audio(&self) -> Option<(&str, &str)> {
        self.0
            .as_audio()
            .map(|a| (a.mime_type.as_str(), a.data.as_str()))
    }

    /// The URI of an embedded resource or a resource link.
    pub fn resource_uri(&self) -> Option<&str> {
        if let Some(link) = self.0.as_resource_link() {
            return Some(link.uri.as_str());
        }
        self.0.as_resource().and_then(|r| match &r.resource {
            ResourceContents::TextResourceContents { uri, .. }
            | ResourceContents::BlobResourceContents { uri, .. } => Some(uri.as_str()),
            _ => None,
        })
    }

    /// This block as JSON, in the wire format.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.0).unwrap_or(serde_json::Value::Null)
    }
}

pub(crate) fn encode(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A complete tool result: content blocks, optional structured content and the error flag.
///
/// ```
/// use platform_runtime::model::{Content, ToolResult};
///
/// let result = ToolResult::new()
///     .with_content(Content::text("3 matches"))
///     .with_structured(serde_json::json!({ "count": 3 }));
/// assert!(!result.is_error());
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ToolResult {
    content: Vec<Content>,
    structured: Option<serde_json::Value>,
    is_error: bool,
}

impl ToolResult {
    /// An empty, successful result.
    pub fn new() -> Self {
        Self::default()
    }

    /// A failed result carrying one text block.
    pub fn error(message: impl Into<String>) -> Self {
        Self {
            content: vec![Content::text(message)],
            structured: None,
            is_error: true,
        }
    }

    /// Append a content block.
    #[must_use]
    pub fn with_content(mut self, content: Content) -> Self {
        self.content.push(content);
        self
    }

    /// Set the structured content (`structuredContent` on the wire).
    #[must_use]
    pub fn with_structured(mut self, value: serde_json::Value) -> Self {
        self.structured = Some(value);
        self
    }

    /// Whether this result reports a failure (`isError: true`).
    pub fn is_error(&self) -> bool {
        self.is_error
    }

    /// The content blocks.
    pub fn content(&self) -> &[Content] {
        &self.content
    }

    /// The structured content.
    pub fn structured(&self) -> Option<&serde_json::Value> {
        self.structured.as_ref()
    }

    pub(crate) fn into_wire(self) -> CallToolResult {
        let content = self.content.into_iter().map(|c| c.0).collect();
        let mut result = if self.is_error {
            CallToolResult::error(content)
        } else {
            CallToolResult::success(content)
        };
        result.structured_content = self.structured;
        result
    }

    pub(crate) fn from_wire(result: CallToolResult) -> Self {
        Self {
            content: result.content.into_iter().map(Content).collect(),
            structured: result.structured_content,
            is_error: result.is_error.unwrap_or(false),
        }
    }
}
