//! How a handler's return value becomes an MCP result.
//!
//! Tools: any `Serialize + JsonSchema` value becomes structured output with an `outputSchema`
//! (strings become plain text; non-object values are wrapped as `{"result": …}`); content
//! types ([`Content`], `Vec<Content>`, [`ToolResult`], [`InputRequired`]) pass through as
//! written. Resources: text, bytes, [`ResourceContent`] or JSON. Prompts: messages or text.
//!
//! The macros pick the conversion at compile time from the concrete return type (the
//! "autoref" dispatch in [`kinds`]), so no conversion decision is made per call.

use std::sync::Arc;

use rmcp::model::{CallToolResponse, CallToolResult, ContentBlock, JsonObject};
use serde::Serialize;
use serde_json::Value;

use crate::ToolError;
use crate::model::InputRequired;
use crate::model::{Content, PromptMessage, PromptResult, ResourceContent, ToolResult};
use crate::schema;

/// What a tool handler produces: a complete result or a multi-round request. Built from a
/// [`ToolResult`] or an [`InputRequired`] with `into()`.
#[derive(Debug, Clone)]
pub struct ToolResponse(pub(crate) CallToolResponse);

impl From<ToolResult> for ToolResponse {
    fn from(result: ToolResult) -> Self {
        Self(CallToolResponse::Complete(result.into_wire()))
    }
}

impl From<InputRequired> for ToolResponse {
    /// An invalid input request (see [`InputRequired::elicit`]) becomes a failed tool result
    /// naming the problem, and an error log line.
    fn from(input: InputRequired) -> Self {
        match input.into_result() {
            Ok(result) => Self(CallToolResponse::InputRequired(result)),
            Err(error) => {
                tracing::error!(%error, "a tool built an invalid input_required result");
                complete(CallToolResult::error(vec![ContentBlock::text(
                    error.to_string(),
                )]))
            }
        }
    }
}

fn complete(result: CallToolResult) -> ToolResponse {
    ToolResponse(CallToolResponse::Complete(result))
}

/// How a tool's structured output is shaped on the wire; decided once per tool from the
/// output type's JSON Schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputShape {
    /// No output (`()`): an empty content list.
    Empty,
    /// A string: one text block, no structured content.
    Text,
    /// A JSON object: `structuredContent` as is, plus its JSON text.
    Object,
    /// Any other JSON value: `structuredContent` is `{"result": value}`.
    Wrapped,
    /// Content types that build the result themselves.
    Content,
}

/// The output contract of one tool: its `outputSchema` and wire shape.
#[derive(Debug, Clone)]
pub struct OutputSpec {
    pub(crate) schema: Option<Arc<JsonObject>>,
    pub(crate) shape: OutputShape,
}

impl OutputSpec {
    /// The output contract of a structured value of type `T`.
    pub fn structured<T: StructuredOutput>() -> Self {
        let root = T::structured_schema();
        match root.get("type").and_then(Value::as_str) {
            Some("string") => Self {
                schema: None,
                shape: OutputShape::Text,
            },
            Some("null") => Self {
                schema: None,
                shape: OutputShape::Empty,
            },
            Some("object") if !root.contains_key("anyOf") && !root.contains_key("oneOf") => Self {
                schema: Some(Arc::new(root)),
                shape: OutputShape::Object,
            },
            _ => Self {
                schema: Some(Arc::new(schema::wrap_result(root))),
                shape: OutputShape::Wrapped,
            },
        }
    }

    /// The output contract of a content type (no `outputSchema`).
    pub fn content() -> Self {
        Self {
            schema: None,
            shape: OutputShape::Content,
        }
    }

    /// The `outputSchema`, when the tool declares one.
    pub fn schema(&self) -> Option<&Arc<JsonObject>> {
        self.schema.as_ref()
    }

    /// The wire shape.
    pub fn shape(&self) -> OutputShape {
        self.shape
    }
}

/// A value returned as structured tool output: anything `Serialize + JsonSchema`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned from a tool",
    label = "this type is not a tool output",
    note = "add `#[derive(Serialize, JsonSchema)]` to `{Self}` (both in `platform_runtime::prelude`) to return it as structured output",
    note = "or return `String`, `platform_runtime::model::Content`, `Vec<Content>` or `ToolResult`"
)]
pub trait StructuredOutput {
    /// The JSON Schema of the value (serialize contract).
    fn structured_schema() -> JsonObject;
    /// The value as JSON.
    fn to_structured(&self) -> Result<Value, serde_json::Error>;
}

impl<T: Serialize + schemars::JsonSchema> StructuredOutput for T {
    fn structured_schema() -> JsonObject {
        schema::output_schema_for::<T>()
    }

    fn to_structured(&self) -> Result<Value, serde_json::Error> {
        serde_json::to_value(self)
    }
}

/// Converts a returned tool value into the wire response.
pub type Converter<T> = fn(T, OutputShape) -> Result<ToolResponse, ToolError>;

/// A value that builds its tool result itself: content blocks, a full [`ToolResult`], or a
/// multi-round [`InputRequired`].
pub trait IntoToolOutput {
    /// Convert into the wire response.
    fn into_tool_response(self) -> Result<ToolResponse, ToolError>;
}

impl IntoToolOutput for Content {
    fn into_tool_response(self) -> Result<ToolResponse, ToolError> {
        Ok(complete(CallToolResult::success(vec![self.0])))
    }
}

impl IntoToolOutput for Vec<Content> {
    fn into_tool_response(self) -> Result<ToolResponse, ToolError> {
        let blocks: Vec<ContentBlock> = self.into_iter().map(|c| c.0).collect();
        Ok(complete(CallToolResult::success(blocks)))
    }
}

impl IntoToolOutput for ToolResult {
    fn into_tool_response(self) -> Result<ToolResponse, ToolError> {
        Ok(self.into())
    }
}

impl IntoToolOutput for ToolResponse {
    fn into_tool_response(self) -> Result<ToolResponse, ToolError> {
        Ok(self)
    }
}

impl IntoToolOutput for InputRequired {
    fn into_tool_response(self) -> Result<ToolResponse, ToolError> {
        Ok(ToolResponse(CallToolResponse::InputRequired(
            self.into_result()?,
        )))
    }
}

/// Convert a structured value according to its [`OutputSpec`].
pub fn structured_response<T: StructuredOutput>(
    value: T,
    shape: OutputShape,
) -> Result<ToolResponse, ToolError> {
    let json = value
        .to_structured()
        .map_err(|e| ToolError::internal(format!("tool output could not be serialized: {e}")))?;
    let result = match shape {
        OutputShape::Empty => CallToolResult::success(Vec::new()),
        OutputShape::Text | OutputShape::Content => match json {
            Value::String(text) => CallToolResult::success(vec![ContentBlock::text(text)]),
            Value::Null => CallToolResult::success(Vec::new()),
            other => CallToolResult::success(vec![ContentBlock::text(other.to_string())]),
        },
        OutputShape::Object => {
            let text = json.to_string();
            let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
            result.structured_content = Some(json);
            result
        }
        OutputShape::Wrapped => {
            let text = match &json {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
            let mut wrapped = serde_json::Map::with_capacity(1);
            wrapped.insert("result".to_owned(), json);
            result.structured_content = Some(Value::Object(wrapped));
            result
        }
    };
    Ok(complete(result))
}

/// A value a resource function returns: text, bytes, [`ResourceContent`] or a list of them.
pub trait IntoResourceContents {
    /// Convert into one or more contents.
    fn into_resource_contents(self) -> Vec<ResourceContent>;
    /// The MIME type used when the resource declares none.
    fn default_mime_type() -> Option<&'static str> {
        None
    }
}

impl IntoResourceContents for String {
    fn into_resource_contents(self) -> Vec<ResourceContent> {
        vec![ResourceContent::text(self)]
    }
    fn default_mime_type() -> Option<&'static str> {
        Some("text/plain")
    }
}

impl IntoResourceContents for &'static str {
    fn into_resource_contents(self) -> Vec<ResourceContent> {
        vec![ResourceContent::text(self)]
    }
    fn default_mime_type() -> Option<&'static str> {
        Some("text/plain")
    }
}

impl IntoResourceContents for Vec<u8> {
    fn into_resource_contents(self) -> Vec<ResourceContent> {
        vec![ResourceContent::bytes(self)]
    }
    fn default_mime_type() -> Option<&'static str> {
        Some("application/octet-stream")
    }
}

impl IntoResourceContents for &'static [u8] {
    fn into_resource_contents(self) -> Vec<ResourceContent> {
        vec![ResourceContent::bytes(self.to_vec())]
    }
    fn default_mime_type() -> Option<&'static str> {
        Some("application/octet-stream")
    }
}

impl IntoResourceContents for ResourceContent {
    fn into_resource_contents(self) -> Vec<ResourceContent> {
        vec![self]
    }
}

impl IntoResourceContents for Vec<ResourceContent> {
    fn into_resource_contents(self) -> Vec<ResourceContent> {
        self
    }
}

/// A value returned as a JSON resource: anything `Serialize`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned from a resource",
    label = "this type is not resource contents",
    note = "return `String` (text), `Vec<u8>` (bytes), `ResourceContent`, or add `#[derive(Serialize)]` to `{Self}` (from `platform_runtime::prelude`) to return it as JSON"
)]
pub trait JsonResource {
    /// The value as JSON text.
    fn to_json_text(&self) -> Result<String, serde_json::Error>;
}

impl<T: Serialize> JsonResource for T {
    fn to_json_text(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }
}

/// Converts a returned resource value into contents.
pub type ResourceConverter<T> = fn(T) -> Result<Vec<ResourceContent>, ToolError>;

/// A value a prompt function returns: messages, one message, text (one user message) or a
/// full [`PromptResult`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned from a prompt",
    label = "this type is not a prompt result",
    note = "return `Vec<PromptMessage>`, `PromptMessage`, `String` or `PromptResult`"
)]
pub trait IntoPromptResult {
    /// Convert into a prompt result.
    fn into_prompt_result(self) -> PromptResult;
}

impl IntoPromptResult for InputRequired {
    fn into_prompt_result(self) -> PromptResult {
        PromptResult::input_required(self)
    }
}

impl IntoPromptResult for PromptResult {
    fn into_prompt_result(self) -> PromptResult {
        self
    }
}

impl IntoPromptResult for Vec<PromptMessage> {
    fn into_prompt_result(self) -> PromptResult {
        PromptResult::new(self)
    }
}

impl IntoPromptResult for PromptMessage {
    fn into_prompt_result(self) -> PromptResult {
        PromptResult::new(vec![self])
    }
}

impl IntoPromptResult for String {
    fn into_prompt_result(self) -> PromptResult {
        PromptResult::new(vec![PromptMessage::user(self)])
    }
}

impl IntoPromptResult for &'static str {
    fn into_prompt_result(self) -> PromptResult {
        PromptResult::new(vec![PromptMessage::user(self)])
    }
}

/// Compile-time selection of a return value's conversion ("autoref specialization").
///
/// Generated code writes `(&&&Tag::<T>::new()).__platform_kind()`; method resolution picks
/// the most specific kind the concrete type `T` supports. Nothing here is called per request
/// except the chosen kind's `convert`.
pub mod kinds {
    use std::marker::PhantomData;

    use super::{
        Converter, IntoResourceContents, IntoToolOutput, JsonResource, OutputSpec,
        ResourceConverter, StructuredOutput, structured_response,
    };
    use crate::ToolError;
    use crate::model::ResourceContent;

    /// A type tag; see the module docs.
    pub struct Tag<T: ?Sized>(PhantomData<fn() -> Box<T>>);

    impl<T: ?Sized> Tag<T> {
        /// The tag of `T`.
        #[allow(clippy::new_without_default)]
        pub fn new() -> Self {
            Self(PhantomData)
        }
    }

    /// Tool output that builds its own result.
    pub struct ContentKind<T>(PhantomData<fn() -> T>);
    /// Tool output serialized as structured content.
    pub struct StructuredKind<T>(PhantomData<fn() -> T>);

    /// Picks [`ContentKind`] (higher priority).
    pub trait ContentTag {
        /// The kind.
        type Kind;
        /// Select the kind.
        fn __platform_kind(&self) -> Self::Kind;
    }
    /// Picks [`StructuredKind`] (fallback).
    pub trait StructuredTag {
        /// The kind.
        type Kind;
        /// Select the kind.
        fn __platform_kind(&self) -> Self::Kind;
    }

    impl<T: IntoToolOutput> ContentTag for &&Tag<T> {
        type Kind = ContentKind<T>;
        fn __platform_kind(&self) -> Self::Kind {
            ContentKind(PhantomData)
        }
    }

    impl<T> StructuredTag for &Tag<T> {
        type Kind = StructuredKind<T>;
        fn __platform_kind(&self) -> Self::Kind {
            StructuredKind(PhantomData)
        }
    }

    impl<T: IntoToolOutput> ContentKind<T> {
        /// The output contract and the converter, checked once.
        pub fn output(&self) -> (OutputSpec, Converter<T>) {
            (OutputSpec::content(), |value, _| value.into_tool_response())
        }
    }

    impl<T> StructuredKind<T> {
        /// The output contract and the converter, checked once.
        pub fn output(&self) -> (OutputSpec, Converter<T>)
        where
            T: StructuredOutput,
        {
            (OutputSpec::structured::<T>(), structured_response::<T>)
        }
    }

    /// Resource output with its own contents type.
    pub struct ResourceContentsKind<T>(PhantomData<fn() -> T>);
    /// Resource output serialized as JSON.
    pub struct JsonResourceKind<T>(PhantomData<fn() -> T>);

    /// Picks [`ResourceContentsKind`] (higher priority).
    pub trait ResourceContentsTag {
        /// The kind.
        type Kind;
        /// Select the kind.
        fn __platform_resource_kind(&self) -> Self::Kind;
    }
    /// Picks [`JsonResourceKind`] (fallback).
    pub trait JsonResourceTag {
        /// The kind.
        type Kind;
        /// Select the kind.
        fn __platform_resource_kind(&self) -> Self::Kind;
    }

    impl<T: IntoResourceContents> ResourceContentsTag for &&Tag<T> {
        type Kind = ResourceContentsKind<T>;
        fn __platform_resource_kind(&self) -> Self::Kind {
            ResourceContentsKind(PhantomData)
        }
    }

    impl<T> JsonResourceTag for &Tag<T> {
        type Kind = JsonResourceKind<T>;
        fn __platform_resource_kind(&self) -> Self::Kind {
            JsonResourceKind(PhantomData)
        }
    }

    impl<T: IntoResourceContents> ResourceContentsKind<T> {
        /// The default MIME type and the converter, checked once.
        pub fn output(&self) -> (Option<&'static str>, ResourceConverter<T>) {
            (T::default_mime_type(), |value| {
                Ok(value.into_resource_contents())
            })
        }
    }

    impl<T> JsonResourceKind<T> {
        /// The default MIME type and the converter, checked once.
        pub fn output(&self) -> (Option<&'static str>, ResourceConverter<T>)
        where
            T: JsonResource,
        {
            (Some("application/json"), |value| {
                value
                    .to_json_text()
                    .map(|text| vec![ResourceContent::text(text)])
                    .map_err(|e| {
                        ToolError::internal(format!("resource could not be serialized: {e}"))
                    })
            })
        }
    }
}

#[cfg(test)]
#[allow(clippy::needless_borrow)] // the autoref depth is the point of these tests
mod tests {
    use super::kinds::*;
    use super::*;

    fn complete(response: ToolResponse) -> CallToolResult {
        match response.0 {
            CallToolResponse::Complete(result) => result,
            other => panic!("expected a complete result, got {other:?}"),
        }
    }

    #[test]
    fn strings_are_plain_text_without_schema() {
        let (spec, convert) = (&&&Tag::<String>::new()).__platform_kind().output();
        assert!(spec.schema().is_none());
        let result = complete(convert("hi".to_owned(), spec.shape()).unwrap());
        assert_eq!(result.content[0].as_text().unwrap().text, "hi");
        assert!(result.structured_content.is_none());
    }

    #[test]
    fn numbers_are_wrapped_in_result() {
        let (spec, convert) = (&&&Tag::<i64>::new()).__platform_kind().output();
        assert_eq!(spec.shape(), OutputShape::Wrapped);
        let schema = spec.schema().unwrap();
        assert_eq!(schema["properties"]["result"]["type"], "integer");
        let result = complete(convert(42, spec.shape()).unwrap());
        assert_eq!(
            result.structured_content,
            Some(serde_json::json!({ "result": 42 }))
        );
        assert_eq!(result.content[0].as_text().unwrap().text, "42");
    }

    #[test]
    fn content_types_pass_through() {
        let (spec, convert) = (&&&Tag::<Vec<Content>>::new()).__platform_kind().output();
        assert!(spec.schema().is_none());
        let blocks = vec![Content::text("a"), Content::text("b")];
        assert_eq!(
            complete(convert(blocks, spec.shape()).unwrap())
                .content
                .len(),
            2
        );
    }

    #[test]
    fn unit_is_empty() {
        let (spec, convert) = (&&&Tag::<()>::new()).__platform_kind().output();
        assert_eq!(spec.shape(), OutputShape::Empty);
        assert!(
            complete(convert((), spec.shape()).unwrap())
                .content
                .is_empty()
        );
    }

    #[test]
    fn resource_kinds_pick_bytes_text_and_json() {
        let (mime, _) = (&&&Tag::<Vec<u8>>::new())
            .__platform_resource_kind()
            .output();
        assert_eq!(mime, Some("application/octet-stream"));
        let (mime, _) = (&&&Tag::<String>::new())
            .__platform_resource_kind()
            .output();
        assert_eq!(mime, Some("text/plain"));
        let (mime, convert) = (&&&Tag::<Vec<u32>>::new())
            .__platform_resource_kind()
            .output();
        assert_eq!(mime, Some("application/json"));
        assert_eq!(convert(vec![1, 2]).unwrap()[0].as_text(), Some("[1,2]"));
    }
}
