//! Descriptors of tools, resources and prompts with their handlers — one file per kind — and
//! the immutable routing table (`Registry`) the server answers from, with the server-wide
//! request bounds (`RequestLimits`). The JSON-Schema walks over arguments are in
//! `json_schema`, the URI template matcher in `uri_template`. No policy or middleware type
//! appears here: the server builds each tool's policy stack from its declared policies.

mod json_schema;
mod prompt;
mod resource;
mod tool;
mod uri_template;

use std::any::TypeId;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use rmcp::model::JsonObject;
use serde_json::Value;

pub(crate) use json_schema::{coerce_strings, enum_values};
pub use prompt::PromptDef;
pub use resource::ResourceDef;
pub use tool::{TaskSupport, ToolDef};
pub use uri_template::{TemplateError, UriTemplate};

use crate::ToolError;
use crate::component::access::Authorization;
use crate::handler::RequestParts;
use crate::handler::output::ToolResponse;
use crate::model::{PromptResult, ResourceContent};

/// A boxed, sendable future.
pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

pub(crate) type ToolHandler =
    Arc<dyn Fn(RequestParts) -> BoxFuture<Result<ToolResponse, ToolError>> + Send + Sync>;
pub(crate) type ResourceHandler =
    Arc<dyn Fn(RequestParts) -> BoxFuture<Result<Vec<ResourceContent>, ToolError>> + Send + Sync>;
pub(crate) type PromptHandler =
    Arc<dyn Fn(RequestParts) -> BoxFuture<Result<PromptResult, ToolError>> + Send + Sync>;

/// A state type a component needs from the builder.
#[derive(Debug, Clone)]
pub(crate) struct StateRequirement {
    pub(crate) id: TypeId,
    pub(crate) name: &'static str,
}

impl StateRequirement {
    /// The requirement of a `State<T>` parameter.
    pub(crate) fn of<T: Send + Sync + 'static>() -> Self {
        Self {
            id: TypeId::of::<T>(),
            name: std::any::type_name::<T>(),
        }
    }
}

/// Tools, resources and prompts that travel together: what a `#[server]` type contributes
/// and what [`crate::Server::builder`] collects.
#[derive(Debug, Clone, Default)]
pub struct Components {
    pub(crate) tools: Vec<ToolDef>,
    pub(crate) resources: Vec<ResourceDef>,
    pub(crate) prompts: Vec<PromptDef>,
}

impl Components {
    /// No components.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a tool.
    #[must_use]
    pub fn tool(mut self, tool: ToolDef) -> Self {
        self.tools.push(tool);
        self
    }

    /// Add a resource.
    #[must_use]
    pub fn resource(mut self, resource: ResourceDef) -> Self {
        self.resources.push(resource);
        self
    }

    /// Add a prompt.
    #[must_use]
    pub fn prompt(mut self, prompt: PromptDef) -> Self {
        self.prompts.push(prompt);
        self
    }

    /// The tools.
    pub fn tools(&self) -> &[ToolDef] {
        &self.tools
    }

    /// The resources and templates.
    pub fn resources(&self) -> &[ResourceDef] {
        &self.resources
    }

    /// The prompts.
    pub fn prompts(&self) -> &[PromptDef] {
        &self.prompts
    }
}

/// Server-wide bounds the router applies to every request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RequestLimits {
    /// The timeout of resource reads and prompt gets (tools carry theirs in their stack).
    pub(crate) timeout: Option<std::time::Duration>,
    /// The longest resource URI accepted (`resources/read`, `resources/subscribe`).
    pub(crate) max_uri_bytes: usize,
    /// The most resource subscriptions one legacy session may hold.
    pub(crate) max_subscriptions: usize,
}

/// The default of [`RequestLimits::max_uri_bytes`]: 8 KiB.
pub(crate) const DEFAULT_MAX_URI_BYTES: usize = 8 << 10;

/// The default of [`RequestLimits::max_subscriptions`].
pub(crate) const DEFAULT_MAX_SUBSCRIPTIONS: usize = 64;

impl Default for RequestLimits {
    fn default() -> Self {
        Self {
            timeout: None,
            max_uri_bytes: DEFAULT_MAX_URI_BYTES,
            max_subscriptions: DEFAULT_MAX_SUBSCRIPTIONS,
        }
    }
}

impl RequestLimits {
    /// Refuse a URI over the limit with `-32602`, without echoing it.
    pub(crate) fn check_uri(&self, uri: &str) -> Result<(), ToolError> {
        if uri.len() > self.max_uri_bytes {
            tracing::warn!(
                bytes = uri.len(),
                max = self.max_uri_bytes,
                "resource URI over the limit"
            );
            return Err(ToolError::invalid_params(format!(
                "the resource URI is {} bytes long; the limit is {} bytes",
                uri.len(),
                self.max_uri_bytes
            )));
        }
        Ok(())
    }
}

/// The routing table the server answers from; immutable, swapped whole on change.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    pub(crate) limits: RequestLimits,
    /// Server-wide requirements, hide-or-deny, tenant allow-lists.
    pub(crate) authorization: Arc<Authorization>,
    /// Whether any caller may be refused anything: a component declares an access rule, or
    /// the server restricts access. When not, lists and calls skip every check.
    pub(crate) restricted: bool,
    pub(crate) tools: Vec<ToolDef>,
    tool_index: HashMap<String, usize>,
    pub(crate) resources: Vec<ResourceDef>,
    static_index: HashMap<String, usize>,
    pub(crate) prompts: Vec<PromptDef>,
    prompt_index: HashMap<String, usize>,
    /// By tool position: whether the input schema binds arguments to HTTP headers
    /// (`x-mcp-header`, SEP-2243), which the HTTP transport must then check.
    header_bound: Vec<bool>,
    /// Whether any enabled tool's calls may run as tasks.
    has_tasks: bool,
}

impl Registry {
    pub(crate) fn new(
        components: Components,
        limits: RequestLimits,
        authorization: Arc<Authorization>,
    ) -> Self {
        let Components {
            tools,
            resources,
            prompts,
        } = components;
        let tool_index = tools
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name().to_owned(), i))
            .collect();
        let static_index = resources
            .iter()
            .enumerate()
            .filter(|(_, r)| !r.is_template())
            .map(|(i, r)| (r.uri().to_owned(), i))
            .collect();
        let prompt_index = prompts
            .iter()
            .enumerate()
            .map(|(i, p)| (p.name.clone(), i))
            .collect();
        let header_bound = tools
            .iter()
            .map(|t| {
                t.descriptor.input_schema.iter().any(|(key, value)| {
                    key == "x-mcp-header" || json_schema::mentions_header_binding(value)
                })
            })
            .collect();
        let has_tasks = tools
            .iter()
            .any(|t| t.enabled && t.task != TaskSupport::Never);
        let restricted = !authorization.is_open()
            || tools.iter().any(|t| !t.access.is_open())
            || resources.iter().any(|r| !r.access.is_open())
            || prompts.iter().any(|p| !p.access.is_open());
        Self {
            limits,
            authorization,
            restricted,
            header_bound,
            has_tasks,
            tools,
            tool_index,
            resources,
            static_index,
            prompts,
            prompt_index,
        }
    }

    pub(crate) fn components(&self) -> Components {
        Components {
            tools: self.tools.clone(),
            resources: self.resources.clone(),
            prompts: self.prompts.clone(),
        }
    }

    /// Whether the tool `name`'s input schema binds arguments to HTTP headers.
    pub(crate) fn tool_binds_headers(&self, name: &str) -> bool {
        self.tool_index
            .get(name)
            .is_some_and(|&index| self.header_bound[index])
    }

    /// Whether any enabled tool's calls may run as tasks.
    pub(crate) fn has_tasks(&self) -> bool {
        self.has_tasks
    }

    /// The position of the tool `name` in [`Registry::tools`], enabled or not.
    pub(crate) fn position(&self, name: &str) -> Option<usize> {
        self.tool_index.get(name).copied()
    }

    /// The position of the enabled tool `name` in [`Registry::tools`].
    pub(crate) fn tool_index(&self, name: &str) -> Option<usize> {
        self.tool_index
            .get(name)
            .copied()
            .filter(|&i| self.tools[i].enabled)
    }

    pub(crate) fn tool(&self, name: &str) -> Option<&ToolDef> {
        // Enabled tools only: a disabled tool is unknown to clients.
        self.tool_index
            .get(name)
            .map(|&i| &self.tools[i])
            .filter(|t| t.enabled)
    }

    pub(crate) fn visible_tools(&self) -> impl Iterator<Item = &ToolDef> {
        self.tools.iter().filter(|t| t.enabled)
    }

    /// The enabled prompt `name`.
    pub(crate) fn prompt(&self, name: &str) -> Option<&PromptDef> {
        self.prompt_index
            .get(name)
            .map(|&i| &self.prompts[i])
            .filter(|p| p.enabled)
    }

    pub(crate) fn visible_prompts(&self) -> impl Iterator<Item = &PromptDef> {
        self.prompts.iter().filter(|p| p.enabled)
    }

    /// The enabled resources and templates.
    pub(crate) fn visible_resources(&self) -> impl Iterator<Item = &ResourceDef> {
        self.resources.iter().filter(|r| r.enabled)
    }

    /// Find the enabled resource serving `uri`: an exact static URI first, then templates
    /// in registration order.
    pub(crate) fn resource(&self, uri: &str) -> Option<(&ResourceDef, JsonObject)> {
        if let Some(&i) = self.static_index.get(uri)
            && self.resources[i].enabled
        {
            return Some((&self.resources[i], JsonObject::new()));
        }
        self.resources
            .iter()
            .filter(|r| r.is_template() && r.enabled)
            .find_map(|r| {
                let vars = r.template.matches(uri)?;
                let object: JsonObject = vars
                    .into_iter()
                    .map(|(k, v)| (k, Value::String(v)))
                    .collect();
                Some((r, coerce_strings(&r.variables_schema, object)))
            })
    }

    pub(crate) fn template(&self, template: &str) -> Option<&ResourceDef> {
        self.resources
            .iter()
            .find(|r| r.enabled && r.template.as_str() == template)
    }
}
