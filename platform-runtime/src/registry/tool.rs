//! [`ToolDef`]: a tool's descriptor (name, schemas, annotations, tags), its declared
//! policies, and its handler.

use std::future::Future;
use std::sync::Arc;

use rmcp::model::{Icon, JsonObject, MetaObject, Tool, ToolAnnotations};
use serde_json::Value;

use super::{StateRequirement, ToolHandler};
use crate::ToolError;
use crate::component::access::Access;
use crate::component::policy::Policies;
use crate::component::{ComponentInfo, ComponentKind};
use crate::handler::RequestParts;
use crate::handler::output::{OutputSpec, ToolResponse};

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
    pub(crate) access: Access,
    /// What middleware sees of this tool.
    pub(crate) info: Arc<ComponentInfo>,
    /// The mount prefixes it came through, outermost first (empty: added directly).
    pub(crate) mounted: Vec<String>,
    /// The version, when several versions of the tool may be offered.
    pub(crate) version: Option<String>,
    /// Whether a call may run as a task (the tasks extension).
    pub(crate) task: TaskSupport,
}

/// Whether a tool's calls may run as tasks (the `io.modelcontextprotocol/tasks` extension):
/// a client that declared the extension gets a task handle for a call that does not answer
/// at once, and polls `tasks/get` for its result. `#[tool(task)]`, `#[tool(task =
/// "required")]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TaskSupport {
    /// Calls are always answered in the request (the default).
    #[default]
    Never,
    /// A call from a client that declared the extension runs as a task unless it answers at
    /// once; other clients are answered in the request.
    Optional,
    /// As `Optional`, and a client that did not declare the extension is refused (-32021).
    Required,
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
            access: Access::default(),
            info: Arc::new(ComponentInfo {
                kind: ComponentKind::Tool,
                name: Arc::from(""),
                read_only: false,
                destructive: true,
                idempotent: false,
                open_world: true,
                tags: Vec::new(),
                policies: Policies::default(),
                access: Access::default(),
            }),
            mounted: Vec::new(),
            version: None,
            task: TaskSupport::Never,
        }
    }

    /// Let calls run as tasks for clients that declared the tasks extension
    /// (`#[tool(task)]`); see [`TaskSupport`].
    #[must_use]
    pub fn task_support(mut self, task: TaskSupport) -> Self {
        self.task = task;
        self
    }

    /// Whether calls may run as tasks.
    pub fn task(&self) -> TaskSupport {
        self.task
    }

    /// Mark this tool as one version of several with the same name (`#[tool(version =
    /// "2")]`): a server offers the highest version of each name unless a mount selects
    /// another ([`crate::Mount::version`]). Versions compare by their dot-separated parts,
    /// numerically where both parts are numbers.
    #[must_use]
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = Some(version.into());
        self
    }

    /// The version, when the tool declares one.
    pub fn version_str(&self) -> Option<&str> {
        self.version.as_deref()
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
            access: self.access.clone(),
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
        self.states.push(StateRequirement::of::<T>());
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

    /// The input schema, to rewrite (a mount's argument transforms).
    pub(crate) fn input_schema_mut(&mut self) -> &mut JsonObject {
        std::sync::Arc::make_mut(&mut self.descriptor.input_schema)
    }

    /// Set the description (a mount's transform).
    pub(crate) fn set_description(&mut self, description: String) {
        self.descriptor.description = Some(description.into());
    }
}

impl std::fmt::Debug for ToolDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolDef")
            .field("name", &self.descriptor.name)
            .finish_non_exhaustive()
    }
}
