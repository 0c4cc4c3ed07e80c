//! Descriptors of tools, resources and prompts with their handlers, and the registry that
//! routes requests to them.

mod uri_template;

use std::any::{TypeId, type_name};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use rmcp::model::{
    Icon, JsonObject, MetaObject, Prompt, PromptArgument, Resource, ResourceTemplate, Tool,
    ToolAnnotations,
};
use serde_json::Value;

pub use uri_template::{TemplateError, UriTemplate};

use crate::ToolError;
use crate::handler::RequestParts;
use crate::handler::output::{OutputSpec, ToolResponse};
use crate::middleware::{ComponentInfo, ComponentKind, McpService, Policies};
use crate::model::{PromptResult, ResourceContent};

/// A boxed, sendable future.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

pub(crate) type ToolHandler =
    Arc<dyn Fn(RequestParts) -> BoxFuture<Result<ToolResponse, ToolError>> + Send + Sync>;
type ResourceHandler =
    Arc<dyn Fn(RequestParts) -> BoxFuture<Result<Vec<ResourceContent>, ToolError>> + Send + Sync>;
type PromptHandler =
    Arc<dyn Fn(RequestParts) -> BoxFuture<Result<PromptResult, ToolError>> + Send + Sync>;

/// A state type a component needs from the builder.
#[derive(Debug, Clone)]
pub(crate) struct StateRequirement {
    pub(crate) id: TypeId,
    pub(crate) name: &'static str,
}

/// A tool: its descriptor (name, schemas, annotations) and its handler.
///
/// The `#[tool]` macro builds these; [`ToolDef::new`] builds one by hand for tools defined at
/// run time.
#[derive(Clone)]
pub struct ToolDef {
    /// The name, shared with every request's parts without allocating.
    pub(crate) key: Arc<str>,
    pub(crate) descriptor: Tool,
    pub(crate) handler: ToolHandler,
    pub(crate) tags: Vec<String>,
    pub(crate) enabled: bool,
    pub(crate) states: Vec<StateRequirement>,
    pub(crate) policies: Policies,
    /// The policy stack around the handler, built with the server (`None`: no policy).
    pub(crate) stack: Option<McpService>,
    /// What middleware sees of this tool.
    pub(crate) info: Arc<ComponentInfo>,
}

impl ToolDef {
    /// A tool with the given name, description, input schema, output contract and handler.
    ///
    /// The handler receives the request's [`RequestParts`]; take typed arguments with
    /// `parts.__take_arguments::<T>()` as the macros do, or read [`RequestParts::arguments`].
    pub fn new<F, Fut>(
        name: impl Into<String>,
        description: impl Into<String>,
        input_schema: JsonObject,
        output: OutputSpec,
        handler: F,
    ) -> Self
    where
        F: Fn(RequestParts) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<ToolResponse, ToolError>> + Send + 'static,
    {
        let description: String = description.into();
        let name: String = name.into();
        let key: Arc<str> = name.as_str().into();
        let mut descriptor = Tool::new_with_raw(
            name,
            (!description.is_empty()).then_some(description.into()),
            Arc::new(input_schema),
        );
        descriptor.output_schema = output.schema.clone();
        Self {
            key,
            descriptor,
            handler: Arc::new(move |parts| Box::pin(handler(parts))),
            tags: Vec::new(),
            enabled: true,
            states: Vec::new(),
            policies: Policies::default(),
            stack: None,
            info: Arc::new(ComponentInfo {
                kind: ComponentKind::Tool,
                name: Arc::from(""),
                read_only: false,
                destructive: true,
                idempotent: false,
                open_world: true,
                tags: Vec::new(),
                policies: Policies::default(),
            }),
        }
    }

    /// Set the human-readable title.
    #[must_use]
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.descriptor.title = Some(title.into());
        self
    }

    /// Set the policies the runtime enforces around this tool (what the policy attributes
    /// generate).
    #[must_use]
    pub fn policies(mut self, policies: Policies) -> Self {
        self.policies = policies;
        self
    }

    /// The declared policies.
    pub fn policy_set(&self) -> &Policies {
        &self.policies
    }

    /// Refresh what middleware sees of this tool from its descriptor.
    pub(crate) fn refresh_info(&mut self) {
        let annotations = self.descriptor.annotations.as_ref();
        let read_only = annotations.and_then(|a| a.read_only_hint).unwrap_or(false);
        self.info = Arc::new(ComponentInfo {
            kind: ComponentKind::Tool,
            name: self.key.clone(),
            read_only,
            destructive: !read_only && annotations.and_then(|a| a.destructive_hint).unwrap_or(true),
            idempotent: annotations.and_then(|a| a.idempotent_hint).unwrap_or(false),
            open_world: annotations.and_then(|a| a.open_world_hint).unwrap_or(true),
            tags: self.tags.clone(),
            policies: self.policies.clone(),
        });
    }

    /// Set the behaviour hints: read-only, destructive, idempotent, open-world. `None`
    /// leaves a hint at the protocol default.
    #[must_use]
    pub fn annotations(
        mut self,
        read_only: Option<bool>,
        destructive: Option<bool>,
        idempotent: Option<bool>,
        open_world: Option<bool>,
    ) -> Self {
        if read_only.is_none()
            && destructive.is_none()
            && idempotent.is_none()
            && open_world.is_none()
        {
            return self;
        }
        let title = self.descriptor.title.clone();
        self.descriptor.annotations = Some(ToolAnnotations::from_raw(
            title,
            read_only,
            destructive,
            idempotent,
            open_world,
        ));
        self
    }

    /// Add tags (shown in the manifest and `_meta`, usable for filtering).
    #[must_use]
    pub fn tags<I: IntoIterator<Item = S>, S: Into<String>>(mut self, tags: I) -> Self {
        self.tags.extend(tags.into_iter().map(Into::into));
        self
    }

    /// Add an icon by URL, with an optional MIME type.
    #[must_use]
    pub fn icon(mut self, src: impl Into<String>, mime_type: Option<&str>) -> Self {
        let mut icon = Icon::new(src);
        if let Some(mime) = mime_type {
            icon = icon.with_mime_type(mime);
        }
        self.descriptor
            .icons
            .get_or_insert_with(Vec::new)
            .push(icon);
        self
    }

    /// Set the tool's `_meta` object.
    #[must_use]
    pub fn meta(mut self, meta: Value) -> Self {
        if let Value::Object(object) = meta {
            self.descriptor.meta = Some(MetaObject(object));
        }
        self
    }

    /// Whether the tool is listed and callable (it can be enabled later through the
    /// server handle).
    #[must_use]
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }

    /// Declare that the handler takes [`crate::State<T>`]; `build()` then checks the
    /// builder was given a `T`.
    #[must_use]
    pub fn require_state<T: Send + Sync + 'static>(mut self) -> Self {
        self.states.push(StateRequirement {
            id: TypeId::of::<T>(),
            name: type_name::<T>(),
        });
        self
    }

    /// The tool's name.
    pub fn name(&self) -> &str {
        &self.descriptor.name
    }

    /// The tool's description.
    pub fn description(&self) -> Option<&str> {
        self.descriptor.description.as_deref()
    }

    /// The input schema.
    pub fn input_schema(&self) -> &JsonObject {
        &self.descriptor.input_schema
    }

    /// The output schema, when the tool returns structured output.
    pub fn output_schema(&self) -> Option<&JsonObject> {
        self.descriptor.output_schema.as_deref()
    }

    /// The tags.
    pub fn tag_list(&self) -> &[String] {
        &self.tags
    }

    /// The tool as listed on the wire, in JSON.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(&self.descriptor).unwrap_or(Value::Null)
    }

    pub(crate) fn renamed(mut self, name: String) -> Self {
        self.key = name.as_str().into();
        self.descriptor.name = name.into();
        self
    }
}

impl std::fmt::Debug for ToolDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolDef")
            .field("name", &self.descriptor.name)
            .finish_non_exhaustive()
    }
}

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
        })
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
        self.states.push(StateRequirement {
            id: TypeId::of::<T>(),
            name: type_name::<T>(),
        });
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

/// A prompt: its name, arguments and handler.
#[derive(Clone)]
pub struct PromptDef {
    pub(crate) key: Arc<str>,
    pub(crate) name: String,
    pub(crate) title: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) arguments_schema: JsonObject,
    pub(crate) handler: PromptHandler,
    pub(crate) states: Vec<StateRequirement>,
}

impl PromptDef {
    /// A prompt whose arguments are described by `arguments_schema` (an object schema; its
    /// properties become the prompt's arguments, `required` marks the required ones).
    pub fn new<F, Fut>(name: impl Into<String>, arguments_schema: JsonObject, handler: F) -> Self
    where
        F: Fn(RequestParts) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<PromptResult, ToolError>> + Send + 'static,
    {
        let name: String = name.into();
        Self {
            key: name.as_str().into(),
            name,
            title: None,
            description: None,
            arguments_schema,
            handler: Arc::new(move |parts| Box::pin(handler(parts))),
            states: Vec::new(),
        }
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

    /// Declare that the handler takes [`crate::State<T>`].
    #[must_use]
    pub fn require_state<T: Send + Sync + 'static>(mut self) -> Self {
        self.states.push(StateRequirement {
            id: TypeId::of::<T>(),
            name: type_name::<T>(),
        });
        self
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn arguments(&self) -> Vec<PromptArgument> {
        let required = required_names(&self.arguments_schema);
        properties(&self.arguments_schema)
            .map(|(name, schema)| {
                let mut argument = PromptArgument::new(name.clone())
                    .with_required(required.iter().any(|r| r == name));
                if let Some(description) = schema.get("description").and_then(Value::as_str) {
                    argument = argument.with_description(description);
                }
                argument
            })
            .collect()
    }

    pub(crate) fn as_prompt(&self) -> Prompt {
        let mut prompt = Prompt::new(
            self.name.clone(),
            self.description.clone(),
            Some(self.arguments()).filter(|a| !a.is_empty()),
        );
        prompt.title = self.title.clone();
        prompt
    }

    pub(crate) fn renamed(mut self, name: String) -> Self {
        self.key = name.as_str().into();
        self.name = name;
        self
    }
}

impl std::fmt::Debug for PromptDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PromptDef")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

fn properties(schema: &JsonObject) -> impl Iterator<Item = (&String, &JsonObject)> {
    schema
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|p| p.iter())
        .filter_map(|(k, v)| v.as_object().map(|o| (k, o)))
}

fn required_names(schema: &JsonObject) -> Vec<String> {
    schema
        .get("required")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Resolve a property schema through a local `$ref` (`#/$defs/Name`).
fn resolve<'a>(root: &'a JsonObject, schema: &'a JsonObject) -> &'a JsonObject {
    schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/$defs/"))
        .and_then(|name| root.get("$defs")?.get(name)?.as_object())
        .unwrap_or(schema)
}

/// Whether a value valid for `schema` may be a string: a `string` type, a union or enum
/// with a string in it, or no constraint at all (`{}`, what a `serde_json::Value` parameter
/// gets). Unions are followed at most 32 levels deep, so a recursive schema ends.
fn accepts_string(root: &JsonObject, schema: &JsonObject) -> bool {
    accepts_string_within(root, schema, 32)
}

fn accepts_string_within(root: &JsonObject, schema: &JsonObject, depth: u32) -> bool {
    let schema = resolve(root, schema);
    match schema.get("type") {
        Some(Value::String(t)) => t == "string",
        Some(Value::Array(types)) => types.iter().any(|t| t == "string"),
        Some(_) => false,
        None => {
            const CONSTRAINTS: &[&str] = &[
                "anyOf",
                "oneOf",
                "allOf",
                "not",
                "enum",
                "const",
                "$ref",
                "properties",
                "additionalProperties",
                "items",
                "required",
            ];
            if !CONSTRAINTS.iter().any(|key| schema.contains_key(*key)) {
                return true;
            }
            depth > 0
                && ["anyOf", "oneOf"].iter().any(|key| {
                    schema
                        .get(*key)
                        .and_then(Value::as_array)
                        .is_some_and(|variants| {
                            variants
                                .iter()
                                .filter_map(Value::as_object)
                                .any(|v| accepts_string_within(root, v, depth - 1))
                        })
                })
                || schema
                    .get("enum")
                    .and_then(Value::as_array)
                    .is_some_and(|values| values.iter().all(Value::is_string))
                || schema.get("const").is_some_and(Value::is_string)
        }
    }
}

/// Turn string-valued arguments (prompt arguments, URI template variables) into the JSON
/// the schema expects: numbers and booleans are parsed, strings stay strings.
pub(crate) fn coerce_strings(schema: &JsonObject, values: JsonObject) -> JsonObject {
    let props = schema.get("properties").and_then(Value::as_object);
    values
        .into_iter()
        .map(|(name, value)| {
            let value = match value {
                Value::String(text) => {
                    let wants_string = props
                        .and_then(|p| p.get(&name))
                        .and_then(Value::as_object)
                        .is_none_or(|prop| accepts_string(schema, prop));
                    if wants_string {
                        Value::String(text)
                    } else {
                        serde_json::from_str(&text).unwrap_or(Value::String(text))
                    }
                }
                other => other,
            };
            (name, value)
        })
        .collect()
}

/// The completion candidates of one property: its enum values, if it is an enum.
pub(crate) fn enum_values(schema: &JsonObject, property: &str) -> Vec<String> {
    let Some(prop) = schema
        .get("properties")
        .and_then(|p| p.get(property))
        .and_then(Value::as_object)
    else {
        return Vec::new();
    };
    let prop = resolve(schema, prop);
    let mut values: Vec<String> = prop
        .get("enum")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    for key in ["oneOf", "anyOf"] {
        if let Some(variants) = prop.get(key).and_then(Value::as_array) {
            for variant in variants.iter().filter_map(Value::as_object) {
                let variant = resolve(schema, variant);
                if let Some(c) = variant.get("const").and_then(Value::as_str) {
                    values.push(c.to_owned());
                }
                if let Some(e) = variant.get("enum").and_then(Value::as_array) {
                    values.extend(e.iter().filter_map(|v| v.as_str().map(str::to_owned)));
                }
            }
        }
    }
    values
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
    pub(crate) tools: Vec<ToolDef>,
    tool_index: HashMap<String, usize>,
    pub(crate) resources: Vec<ResourceDef>,
    static_index: HashMap<String, usize>,
    pub(crate) prompts: Vec<PromptDef>,
    prompt_index: HashMap<String, usize>,
    /// By tool position: whether the input schema binds arguments to HTTP headers
    /// (`x-mcp-header`, SEP-2243), which the HTTP transport must then check.
    header_bound: Vec<bool>,
}

/// Whether a JSON Schema mentions `x-mcp-header` anywhere.
fn mentions_header_binding(schema: &serde_json::Value) -> bool {
    match schema {
        serde_json::Value::Object(object) => object
            .iter()
            .any(|(key, value)| key == "x-mcp-header" || mentions_header_binding(value)),
        serde_json::Value::Array(items) => items.iter().any(mentions_header_binding),
        _ => false,
    }
}

impl Registry {
    pub(crate) fn new(components: Components, limits: RequestLimits) -> Self {
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
                t.descriptor
                    .input_schema
                    .iter()
                    .any(|(key, value)| key == "x-mcp-header" || mentions_header_binding(value))
            })
            .collect();
        Self {
            limits,
            header_bound,
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

    pub(crate) fn prompt(&self, name: &str) -> Option<&PromptDef> {
        self.prompt_index.get(name).map(|&i| &self.prompts[i])
    }

    /// Find the resource serving `uri`: an exact static URI first, then templates in
    /// registration order.
    pub(crate) fn resource(&self, uri: &str) -> Option<(&ResourceDef, JsonObject)> {
        if let Some(&i) = self.static_index.get(uri) {
            return Some((&self.resources[i], JsonObject::new()));
        }
        self.resources
            .iter()
            .filter(|r| r.is_template())
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
            .find(|r| r.template.as_str() == template)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_coerced_to_the_schema_types() {
        let schema: JsonObject = serde_json::from_value(serde_json::json!({
            "type": "object",
            "properties": {
                "id": { "type": "integer" },
                "name": { "type": "string" },
                "flag": { "type": ["boolean", "null"] },
                "code": { "type": "string", "enum": ["a", "b"] }
            }
        }))
        .unwrap();
        let input: JsonObject = serde_json::from_value(serde_json::json!({
            "id": "42", "name": "42", "flag": "true", "code": "a", "extra": "7"
        }))
        .unwrap();
        let out = coerce_strings(&schema, input);
        assert_eq!(
            Value::Object(out),
            serde_json::json!({ "id": 42, "name": "42", "flag": true, "code": "a", "extra": "7" })
        );
        // An unconstrained property (a `serde_json::Value` parameter) keeps its string,
        // even one that reads as JSON.
        let any: JsonObject =
            serde_json::from_value(serde_json::json!({ "properties": { "v": {} } })).unwrap();
        let input: JsonObject =
            serde_json::from_value(serde_json::json!({ "v": "\"quoted\"" })).unwrap();
        assert_eq!(
            Value::Object(coerce_strings(&any, input)),
            serde_json::json!({ "v": "\"quoted\"" })
        );
        // A recursive union ends.
        let recursive: JsonObject = serde_json::from_value(serde_json::json!({
            "properties": { "v": { "$ref": "#/$defs/A" } },
            "$defs": { "A": { "anyOf": [{ "$ref": "#/$defs/A" }] } }
        }))
        .unwrap();
        let input: JsonObject = serde_json::from_value(serde_json::json!({ "v": "1" })).unwrap();
        assert_eq!(
            Value::Object(coerce_strings(&recursive, input)),
            serde_json::json!({ "v": 1 })
        );
        assert_eq!(enum_values(&schema, "code"), vec!["a", "b"]);
        assert!(enum_values(&schema, "name").is_empty());
    }
}
