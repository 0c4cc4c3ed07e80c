//! [`ResourceDef`]: a resource or resource template (RFC 6570 `{var}`, `{var*}`), its
//! metadata and its handler.

use std::future::Future;
use std::sync::Arc;

use rmcp::model::{JsonObject, Resource, ResourceTemplate};
use serde_json::Value;

use super::uri_template::{TemplateError, UriTemplate};
use super::{ResourceHandler, StateRequirement};
use crate::ToolError;
use crate::component::access::Access;
use crate::handler::RequestParts;
use crate::model::ResourceContent;

/// A resource or resource template: its URI (template), metadata and handler.
#[derive(Clone)]
pub struct ResourceDef {
    pub(crate) template: UriTemplate,
    pub(crate) name: String,
    pub(crate) title: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) mime_type: Option<String>,
    pub(crate) variables_schema: JsonObject,
    pub(crate) handler: ResourceHandler,
    pub(crate) states: Vec<StateRequirement>,
    pub(crate) access: Access,
    /// The mount prefixes it came through, outermost first (empty: added directly).
    pub(crate) mounted: Vec<String>,
    /// Whether it is listed and served.
    pub(crate) enabled: bool,
}

impl ResourceDef {
    /// A resource at `uri`, which may be an RFC 6570 template (`{var}`, `{var*}`).
    /// `variables_schema` is the JSON Schema of the template variables, used to convert the
    /// matched text into typed values; the handler reads them as its arguments.
    pub fn new<F, Fut>(
        uri: &str,
        name: impl Into<String>,
        variables_schema: JsonObject,
        handler: F,
    ) -> Result<Self, TemplateError>
    where
        F: Fn(RequestParts) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<ResourceContent>, ToolError>> + Send + 'static,
    {
        Ok(Self {
            template: UriTemplate::parse(uri)?,
            name: name.into(),
            title: None,
            description: None,
            mime_type: None,
            variables_schema,
            handler: Arc::new(move |parts| Box::pin(handler(parts))),
            states: Vec::new(),
            access: Access::default(),
            mounted: Vec::new(),
            enabled: true,
        })
    }

    /// Who may use it: the roles and scopes a caller needs (what `#[requires_role]` and
    /// `#[requires_scope]` generate). Added to any requirement already set.
    #[must_use]
    pub fn access(mut self, access: Access) -> Self {
        self.access = self.access.and(&access);
        self
    }

    /// Who may use it.
    pub fn access_rule(&self) -> &Access {
        &self.access
    }

    /// Set the title.
    #[must_use]
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// Set the description.
    #[must_use]
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into()).filter(|d: &String| !d.is_empty());
        self
    }

    /// Set the MIME type.
    #[must_use]
    pub fn mime_type(mut self, mime_type: impl Into<String>) -> Self {
        self.mime_type = Some(mime_type.into());
        self
    }

    /// Set the MIME type unless one was declared.
    #[must_use]
    pub fn default_mime_type(mut self, mime_type: Option<&str>) -> Self {
        if self.mime_type.is_none() {
            self.mime_type = mime_type.map(str::to_owned);
        }
        self
    }

    /// Declare that the handler takes [`crate::State<T>`].
    #[must_use]
    pub fn require_state<T: Send + Sync + 'static>(mut self) -> Self {
        self.states.push(StateRequirement::of::<T>());
        self
    }

    /// The URI or URI template.
    pub fn uri(&self) -> &str {
        self.template.as_str()
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether this is a template (it has variables).
    pub fn is_template(&self) -> bool {
        !self.template.is_static()
    }

    pub(crate) fn as_resource(&self) -> Resource {
        let mut raw = Resource::new(self.template.as_str(), self.name.clone());
        raw.title = self.title.clone();
        raw.description = self.description.clone();
        raw.mime_type = self.mime_type.clone();
        raw
    }

    pub(crate) fn as_template(&self) -> ResourceTemplate {
        let mut raw = ResourceTemplate::new(self.template.as_str(), self.name.clone());
        raw.title = self.title.clone();
        raw.description = self.description.clone();
        raw.mime_type = self.mime_type.clone();
        raw
    }

    pub(crate) fn to_json(&self) -> Value {
        if self.is_template() {
            serde_json::to_value(self.as_template()).unwrap_or(Value::Null)
        } else {
            serde_json::to_value(self.as_resource()).unwrap_or(Value::Null)
        }
    }
}

impl std::fmt::Debug for ResourceDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResourceDef")
            .field("uri", &self.template.as_str())
            .finish_non_exhaustive()
    }
}
