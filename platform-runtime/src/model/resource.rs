//! Resource contents ([`ResourceContent`]): text or bytes, with an optional URI and MIME type.

use rmcp::model::ResourceContents;

use super::content::encode;

/// The contents of a resource: text or bytes, with a MIME type.
///
/// Resource functions usually return `String` (text), `Vec<u8>` (bytes) or any
/// `Serialize` value (JSON); return `ResourceContent` to choose the MIME type per read.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceContent {
    pub(crate) body: Body,
    pub(crate) mime_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Body {
    Text(String),
    Bytes(Vec<u8>),
}

impl ResourceContent {
    /// Text contents.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            body: Body::Text(text.into()),
            mime_type: None,
        }
    }

    /// Binary contents (base64-encoded on the wire).
    pub fn bytes(bytes: impl Into<Vec<u8>>) -> Self {
        Self {
            body: Body::Bytes(bytes.into()),
            mime_type: None,
        }
    }

    /// Set the MIME type, overriding the one declared on the resource.
    #[must_use]
    pub fn with_mime_type(mut self, mime_type: impl Into<String>) -> Self {
        self.mime_type = Some(mime_type.into());
        self
    }

    /// The text, for text contents.
    pub fn as_text(&self) -> Option<&str> {
        match &self.body {
            Body::Text(text) => Some(text),
            Body::Bytes(_) => None,
        }
    }

    /// The bytes, for binary contents.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match &self.body {
            Body::Text(_) => None,
            Body::Bytes(bytes) => Some(bytes),
        }
    }

    /// The MIME type.
    pub fn mime_type(&self) -> Option<&str> {
        self.mime_type.as_deref()
    }

    pub(crate) fn into_wire(self, uri: &str, default_mime: Option<&str>) -> ResourceContents {
        let mime = self.mime_type.or_else(|| default_mime.map(str::to_owned));
        let contents = match self.body {
            Body::Text(text) => ResourceContents::text(text, uri),
            Body::Bytes(bytes) => ResourceContents::blob(encode(&bytes), uri),
        };
        match mime {
            Some(mime) => contents.with_mime_type(mime),
            None => contents,
        }
    }

    pub(crate) fn from_wire(contents: ResourceContents) -> (String, Self) {
        use base64::Engine as _;
        match contents {
            ResourceContents::TextResourceContents {
                uri,
                mime_type,
                text,
                ..
            } => (
                uri,
                Self {
                    body: Body::Text(text),
                    mime_type,
                },
            ),
            ResourceContents::BlobResourceContents {
                uri,
                mime_type,
                blob,
                ..
            } => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(blob.as_bytes())
                    .unwrap_or_default();
                (
                    uri,
                    Self {
                        body: Body::Bytes(bytes),
                        mime_type,
                    },
                )
            }
            _ => (
                String::new(),
                Self {
                    body: Body::Text(String::new()),
                    mime_type: None,
                },
            ),
        }
    }
}
