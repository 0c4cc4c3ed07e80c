//! The server: a builder that collects and validates components ([`ServerBuilder`]), the
//! routes it owns (the registry and each tool's policy stack), the router at the end of the
//! pipeline, the one MCP handler that serves both protocol eras, and [`ServerHandle`] to
//! change tools at run time. `serve()` lives above it, in the application shell.

mod authorize;
mod builder;
mod compose;
mod handler;
mod proxy;
mod router;
pub(crate) mod tasks;

use std::sync::{Arc, Mutex, RwLock};

pub(crate) use builder::Settings;
pub use builder::{BuildError, ServerBuilder};
pub use compose::{Mount, MountSource, Mountable, ToolTransform, Transform};
pub(crate) use handler::{McpHandler, SessionLink};
pub use proxy::Upstream;
pub(crate) use router::Endpoint;

use crate::component::access::Authorization;
use crate::handler::extract::Shared;
use crate::middleware::{PolicyRuntime, Routes};
use crate::registry::{Components, Registry, RequestLimits, ToolDef};
use crate::state::Sessions;

/// Why `serve()` stopped with an error.
///
/// Its `Debug` output is its message, so `main` returning `Result<(), Box<dyn Error>>`
/// prints `Error: <what went wrong>` rather than the enum's structure.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The server definition is invalid.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// The transport failed to start or broke.
    #[error("transport error: {0}")]
    Transport(String),
    /// Writing output (such as the manifest) failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
}

impl std::fmt::Debug for ServeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// Identity and instructions a server announces to clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerInfo {
    /// The server's name.
    pub name: String,
    /// The server's version.
    pub version: String,
    /// A human-readable title.
    pub title: Option<String>,
    /// What the server is for, in a sentence or two (`serverInfo.description`; the
    /// command line's `--help` shows it).
    pub description: Option<String>,
    /// Instructions for the model on how to use the server.
    pub instructions: Option<String>,
}

impl ServerInfo {
    /// A server identity with the given name and version.
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            version: version.into(),
            title: None,
            description: None,
            instructions: None,
        }
    }
}

/// A type whose `#[tool]`, `#[resource]` and `#[prompt]` methods make up an MCP server:
/// implemented by `#[server]`.
///
/// Such a type can be served on its own (`serve(Weather::new())`) or mounted into a larger
/// server (`Server::builder("acme").mount("weather", Weather::new())`).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an MCP server",
    label = "this type has no `#[server]` impl block",
    note = "add `#[server]` to an `impl {Self}` block holding its `#[tool]`, `#[resource]` and `#[prompt]` methods"
)]
pub trait IntoComponents: Send + Sync + Sized + 'static {
    /// The identity from `#[server(name = …, version = …, instructions = …)]`.
    fn server_info() -> ServerInfo;
    /// The components, with handlers bound to this value.
    fn into_components(self) -> Components;

    /// A builder holding this server's components and its name, version, title, description
    /// and instructions, to add layers, policies, state or other components before `build()`:
    /// `Weather::new().into_builder().layer(…).build()?`.
    fn into_builder(self) -> ServerBuilder {
        let info = Self::server_info();
        let mut builder = Server::builder(info.name).version(info.version);
        if let Some(title) = info.title {
            builder = builder.title(title);
        }
        if let Some(description) = info.description {
            builder = builder.description(description);
        }
        if let Some(instructions) = info.instructions {
            builder = builder.instructions(instructions);
        }
        builder.merge(self)
    }
}

/// Anything `serve()` accepts: a built [`Server`] or a `#[server]` type.
pub trait IntoServer {
    /// Build the server.
    fn into_server(self) -> Result<Server, BuildError>;
}

impl IntoServer for Server {
    fn into_server(self) -> Result<Server, BuildError> {
        Ok(self)
    }
}

impl IntoServer for ServerBuilder {
    fn into_server(self) -> Result<Server, BuildError> {
        self.build()
    }
}

impl<T: IntoComponents> IntoServer for T {
    fn into_server(self) -> Result<Server, BuildError> {
        self.into_builder().build()
    }
}

/// A built, validated MCP server. Cheap to clone; clones share the registry.
#[derive(Clone)]
pub struct Server {
    pub(crate) inner: Arc<ServerInner>,
    /// The server-level middleware around the registry (`None`: no middleware).
    pub(crate) pipeline: Option<crate::middleware::McpService>,
    /// What the builder was given, kept so configuration can be applied later.
    pub(crate) settings: Arc<Settings>,
}

/// What the built-in middleware measured: timings per method and component, error counts.
#[derive(Debug, Clone, Default)]
pub struct ServerStats {
    /// Timings recorded by the timing middleware.
    pub timings: crate::middleware::Timings,
    /// Errors counted by the error-handling middleware.
    pub errors: crate::middleware::ErrorStats,
}

pub(crate) struct ServerInner {
    pub(crate) info: ServerInfo,
    /// The registry and the policy stack of each tool, swapped whole on change.
    pub(crate) routes: RwLock<Arc<Routes>>,
    /// The builder's typed state and the sealer of multi-round state.
    pub(crate) shared: RwLock<Arc<Shared>>,
    pub(crate) page_size: Option<usize>,
    /// Initialized legacy sessions, for list-changed and resource-updated notifications.
    pub(crate) sessions: Arc<Sessions>,
    /// 2026-07-28 `subscriptions/listen` streams that asked for any list change.
    pub(crate) listeners: Mutex<Vec<rmcp::service::SubscriptionSink>>,
    pub(crate) policy_runtime: RwLock<PolicyRuntime>,
    pub(crate) stats: ServerStats,
    /// Remote servers mounted here, each kept connected by its own task once started.
    pub(crate) proxies: Vec<Arc<proxy::Proxy>>,
    pub(crate) proxies_started: std::sync::Once,
    /// Cancelled when the server is dropped: its proxies' tasks end and close their
    /// sessions.
    pub(crate) dropped: tokio_util::sync::CancellationToken,
    /// Calls running as tasks, and where tasks' records are kept.
    pub(crate) tasks: Arc<tasks::Tasks>,
}

impl Drop for ServerInner {
    fn drop(&mut self) {
        self.dropped.cancel();
    }
}

impl ServerInner {
    pub(crate) fn routes(&self) -> Arc<Routes> {
        self.routes
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The current registry: one reference count, taken under the read lock.
    pub(crate) fn registry(&self) -> Arc<Registry> {
        self.routes
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .registry
            .clone()
    }

    pub(crate) fn shared(&self) -> Arc<Shared> {
        self.shared
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Rebuild the routes from their components after `change` (when it says it changed
    /// something). A tool that did not change keeps its policy stack; a new or replaced one
    /// gets a stack from the policy runtime. Returns what `change` returned.
    pub(crate) fn rebuild_routes(&self, change: impl FnOnce(&mut Components) -> bool) -> bool {
        let runtime = self.policy_runtime();
        let mut guard = self.routes.write().unwrap_or_else(|e| e.into_inner());
        let mut components = guard.registry.components();
        let changed = change(&mut components);
        if changed {
            let registry = Registry::new(
                components,
                guard.registry.limits,
                guard.registry.authorization.clone(),
            );
            *guard = Arc::new(guard.changed(registry, &runtime));
        }
        changed
    }

    /// Rebuild the routes with new `limits` and every tool's policy stack built anew from
    /// the (new) policy runtime: configuration was applied.
    pub(crate) fn restack(&self, limits: RequestLimits, authorization: Arc<Authorization>) {
        let runtime = self.policy_runtime();
        let mut guard = self.routes.write().unwrap_or_else(|e| e.into_inner());
        let registry = Registry::new(guard.registry.components(), limits, authorization);
        *guard = Arc::new(Routes::new(registry, &runtime));
    }

    /// Build the middleware stack of every mount with policies (`policies`, by mount path)
    /// from the current policy runtime, and route mounted components through them.
    pub(crate) fn stack_mounts(self: &Arc<Self>, policies: &[compose::MountPolicies]) {
        if policies.is_empty() {
            return;
        }
        let runtime = self.policy_runtime();
        let mut guard = self.routes.write().unwrap_or_else(|e| e.into_inner());
        let stacks = compose::mount_stacks(policies, &guard.registry, self, &runtime);
        *guard = Arc::new(guard.with_mounts(Arc::new(stacks)));
    }

    /// Start the task of every remote server mounted here (once; a no-op outside a tokio
    /// runtime, to be retried by the next caller inside one).
    pub(crate) fn start_proxies(self: &Arc<Self>) {
        if self.proxies.is_empty() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        self.proxies_started.call_once(|| {
            for proxy in &self.proxies {
                runtime.spawn(
                    proxy
                        .clone()
                        .supervise(Arc::downgrade(self), self.dropped.clone()),
                );
            }
        });
    }

    /// Why the remote server whose components `name` (a tool or prompt name, or a
    /// resource URI) would be cannot serve it now; `None` when no remote server would.
    pub(crate) fn proxy_unavailable(&self, name: &str) -> Option<String> {
        self.proxies
            .iter()
            .filter(|p| p.would_serve(name))
            .find_map(|p| p.unavailable())
    }

    pub(crate) fn policy_runtime(&self) -> PolicyRuntime {
        self.policy_runtime
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Server {
    /// Start building a server with the given name.
    pub fn builder(name: impl Into<String>) -> ServerBuilder {
        ServerBuilder::new(name.into())
    }

    /// The server's identity.
    pub fn info(&self) -> &ServerInfo {
        &self.inner.info
    }

    /// What the built-in middleware measured so far.
    pub fn stats(&self) -> &ServerStats {
        &self.inner.stats
    }

    /// Start connecting to the remote servers mounted here and wait until each has been
    /// tried once (connected and listed, or found unreachable: bounded by its connect and
    /// call timeouts). `serve()` and the test client do this; a server served another way
    /// starts its remote servers with its first connection.
    pub async fn ready(&self) {
        self.inner.start_proxies();
        for proxy in &self.inner.proxies {
            proxy.settled().await;
        }
    }

    /// A handle to change the server's tools while it runs.
    pub fn handle(&self) -> ServerHandle {
        ServerHandle {
            inner: self.inner.clone(),
        }
    }

    /// The manifest `inspect` prints: every tool, resource and prompt with its schemas,
    /// annotations and tags, and each tool's declared policies (`"policies"`, see
    /// [`Policies::to_json`](crate::component::policy::Policies::to_json)), as JSON.
    pub fn manifest(&self) -> serde_json::Value {
        let registry = self.inner.registry();
        let info = &self.inner.info;
        let tools: Vec<_> = registry
            .tools
            .iter()
            .map(|t| {
                let mut json = t.to_json();
                if let Some(object) = json.as_object_mut() {
                    object.insert("tags".into(), serde_json::json!(t.tags));
                    object.insert("enabled".into(), serde_json::json!(t.enabled));
                    if let Some(version) = &t.version {
                        object.insert("version".into(), serde_json::json!(version));
                    }
                    object.insert("policies".into(), t.policy_set().to_json());
                    if !t.access_rule().is_open() {
                        object.insert("requires".into(), t.access_rule().to_json());
                    }
                }
                json
            })
            .collect();
        let resources: Vec<_> = registry
            .resources
            .iter()
            .filter(|r| !r.is_template())
            .map(|r| with_requirements(r.to_json(), r.access_rule()))
            .collect();
        let templates: Vec<_> = registry
            .resources
            .iter()
            .filter(|r| r.is_template())
            .map(|r| with_requirements(r.to_json(), r.access_rule()))
            .collect();
        let prompts: Vec<_> = registry
            .prompts
            .iter()
            .map(|p| {
                let json = serde_json::to_value(p.as_prompt()).unwrap_or_default();
                with_requirements(json, p.access_rule())
            })
            .collect();
        serde_json::json!({
            "server": {
                "name": info.name,
                "version": info.version,
                "title": info.title,
                "description": info.description,
                "instructions": info.instructions,
            },
            "tools": tools,
            "resources": resources,
            "resourceTemplates": templates,
            "prompts": prompts,
        })
    }

    /// A fresh MCP handler for one connection (stdio process, HTTP session, test client).
    pub(crate) fn session_handler(&self) -> McpHandler {
        self.inner.start_proxies();
        McpHandler::new(self.inner.clone(), self.pipeline.clone())
    }
}

/// A manifest entry with its `"requires"` (roles and scopes), when it has any.
fn with_requirements(
    mut json: serde_json::Value,
    access: &crate::component::access::Access,
) -> serde_json::Value {
    if !access.is_open()
        && let Some(object) = json.as_object_mut()
    {
        object.insert("requires".into(), access.to_json());
    }
    json
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("info", &self.inner.info)
            .finish_non_exhaustive()
    }
}

/// Changes a running server's components; connected clients get the matching
/// `notifications/{tools,prompts,resources}/list_changed` (legacy sessions directly,
/// 2026-07-28 clients on their `subscriptions/listen` stream, when they asked for it).
///
/// ```
/// use platform_runtime::prelude::*;
///
/// /// Say hello.
/// #[tool]
/// fn hello() -> &'static str { "hello" }
///
/// let server = Server::builder("demo").tools(tools![hello]).build().unwrap();
/// let handle = server.handle();
/// assert!(handle.set_tool_enabled("hello", false));
/// assert!(!handle.set_tool_enabled("missing", false));
/// assert!(!handle.set_mount_enabled("billing", false), "nothing is mounted there");
/// ```
#[derive(Clone)]
pub struct ServerHandle {
    inner: Arc<ServerInner>,
}

/// Which lists a change touched.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Changed {
    pub(crate) tools: bool,
    pub(crate) prompts: bool,
    pub(crate) resources: bool,
}

impl Changed {
    pub(crate) fn any(self) -> bool {
        self.tools || self.prompts || self.resources
    }
}

impl ServerHandle {
    pub(crate) fn from_inner(inner: Arc<ServerInner>) -> Self {
        Self { inner }
    }

    /// Enable or disable a tool; returns whether the tool exists. A disabled tool is
    /// neither listed nor callable.
    pub fn set_tool_enabled(&self, name: &str, enabled: bool) -> bool {
        self.find_and_set(|components| {
            let mut found = Found::default();
            for tool in components.tools.iter_mut().filter(|t| t.name() == name) {
                found.tools.note(&mut tool.enabled, enabled);
            }
            found
        })
    }

    /// Enable or disable a prompt; returns whether the prompt exists.
    pub fn set_prompt_enabled(&self, name: &str, enabled: bool) -> bool {
        self.find_and_set(|components| {
            let mut found = Found::default();
            for prompt in components.prompts.iter_mut().filter(|p| p.name() == name) {
                found.prompts.note(&mut prompt.enabled, enabled);
            }
            found
        })
    }

    /// Enable or disable the resource or template at `uri` (as listed); returns whether it
    /// exists.
    pub fn set_resource_enabled(&self, uri: &str, enabled: bool) -> bool {
        self.find_and_set(|components| {
            let mut found = Found::default();
            for resource in components.resources.iter_mut().filter(|r| r.uri() == uri) {
                found.resources.note(&mut resource.enabled, enabled);
            }
            found
        })
    }

    /// Enable or disable every component of the mount at `path` (`"billing"`, or
    /// `"team/forecast"` for a mount inside a mount) and of the mounts inside it; returns
    /// whether anything is mounted there. Components disabled one by one inside it are
    /// enabled with it.
    pub fn set_mount_enabled(&self, path: &str, enabled: bool) -> bool {
        let path: Vec<&str> = path.split('/').collect();
        let under = |mounted: &[String]| {
            mounted.len() >= path.len() && mounted.iter().zip(&path).all(|(a, b)| a == b)
        };
        self.find_and_set(|components| {
            let mut found = Found::default();
            for tool in components.tools.iter_mut().filter(|t| under(&t.mounted)) {
                found.tools.note(&mut tool.enabled, enabled);
            }
            for prompt in components.prompts.iter_mut().filter(|p| under(&p.mounted)) {
                found.prompts.note(&mut prompt.enabled, enabled);
            }
            for resource in components
                .resources
                .iter_mut()
                .filter(|r| under(&r.mounted))
            {
                found.resources.note(&mut resource.enabled, enabled);
            }
            found
        })
    }

    /// Add a tool, or replace the one with the same name.
    pub fn add_tool(&self, mut tool: ToolDef) {
        tool.refresh_info();
        self.update(|components| {
            components.tools.retain(|t| t.name() != tool.name());
            components.tools.push(tool);
            Changed {
                tools: true,
                ..Changed::default()
            }
        });
    }

    /// Remove a tool; returns whether it existed.
    pub fn remove_tool(&self, name: &str) -> bool {
        self.update(|components| {
            let before = components.tools.len();
            components.tools.retain(|t| t.name() != name);
            Changed {
                tools: components.tools.len() != before,
                ..Changed::default()
            }
        })
    }

    /// Tell the sessions subscribed to `uri` (`resources/subscribe`) that it changed.
    pub fn notify_resource_updated(&self, uri: &str) {
        let peers = self.inner.sessions.peers(|s| s.is_subscribed(uri));
        if peers.is_empty() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let uri = uri.to_owned();
        runtime.spawn(async move {
            for peer in peers {
                let param = rmcp::model::ResourceUpdatedNotificationParam::new(uri.clone());
                if let Err(error) = peer.notify_resource_updated(param).await {
                    tracing::debug!(%error, "resources/updated not delivered");
                }
            }
        });
    }

    /// Apply `set` (which reports what it found and what it changed); returns whether it
    /// found anything.
    fn find_and_set(&self, set: impl FnOnce(&mut Components) -> Found) -> bool {
        let mut exists = false;
        self.update(|components| {
            let found = set(components);
            exists = found.tools.exists || found.prompts.exists || found.resources.exists;
            Changed {
                tools: found.tools.changed,
                prompts: found.prompts.changed,
                resources: found.resources.changed,
            }
        });
        exists
    }

    fn update(&self, change: impl FnOnce(&mut Components) -> Changed) -> bool {
        let mut changed = Changed::default();
        self.inner.rebuild_routes(|components| {
            changed = change(components);
            changed.any()
        });
        if changed.any() {
            self.notify_lists_changed(changed);
        }
        changed.any()
    }

    pub(crate) fn notify_lists_changed(&self, changed: Changed) {
        let peers = self.inner.sessions.peers(|_| true);
        let listeners: Vec<_> = self
            .inner
            .listeners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if peers.is_empty() && listeners.is_empty() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!("a list changed outside a tokio runtime; clients were not notified");
            return;
        };
        runtime.spawn(async move {
            for peer in peers {
                let sent = async {
                    if changed.tools {
                        peer.notify_tool_list_changed().await?;
                    }
                    if changed.prompts {
                        peer.notify_prompt_list_changed().await?;
                    }
                    if changed.resources {
                        peer.notify_resource_list_changed().await?;
                    }
                    Ok::<_, rmcp::service::ServiceError>(())
                };
                if let Err(error) = sent.await {
                    tracing::debug!(%error, "list_changed not delivered");
                }
            }
            for listener in listeners {
                let accepted = listener.accepted().clone();
                let sent = async {
                    if changed.tools && accepted.tools_list_changed == Some(true) {
                        listener.notify_tool_list_changed().await?;
                    }
                    if changed.prompts && accepted.prompts_list_changed == Some(true) {
                        listener.notify_prompt_list_changed().await?;
                    }
                    if changed.resources && accepted.resources_list_changed == Some(true) {
                        listener.notify_resource_list_changed().await?;
                    }
                    Ok::<_, rmcp::service::SubscriptionSendError>(())
                };
                if let Err(error) = sent.await {
                    tracing::debug!(%error, "list_changed not delivered to a subscription");
                }
            }
        });
    }
}

/// What a search for components found, per kind.
#[derive(Default)]
struct Found {
    tools: FoundKind,
    prompts: FoundKind,
    resources: FoundKind,
}

#[derive(Default)]
struct FoundKind {
    exists: bool,
    changed: bool,
}

impl FoundKind {
    /// One component was found: set its `enabled` flag to `to`.
    fn note(&mut self, enabled: &mut bool, to: bool) {
        self.exists = true;
        self.changed |= *enabled != to;
        *enabled = to;
    }
}
