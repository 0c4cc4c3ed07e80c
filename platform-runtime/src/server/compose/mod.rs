//! Composition: a server's components mounted into another under a prefix.
//!
//! A mount renames what it takes in — tools and prompts become `{prefix}_{name}`, resources
//! and templates move under [`uri`]'s scheme (`scheme://prefix/rest`) — and records the
//! prefix on each component. What the mount requires ([`Mount`]: roles, scopes, middleware,
//! a rate limit, a timeout) is kept by mount path; the server builds one middleware stack
//! per mounted path from the policies of every mount above it, outermost first, and routes
//! a mounted component's calls through it ([`mount_stacks`]). A `#[server]` type and a whole
//! [`ServerBuilder`] can be mounted ([`Mountable`]); a builder brings its own mounts along,
//! so mounts nest.

mod transform;
pub(crate) mod uri;

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use rmcp::model::{ContentBlock, ResourceContents};

use super::{IntoComponents, ServerBuilder, ServerInner};
use crate::ToolError;
use crate::component::access::Access;
use crate::component::policy::RateLimit;
use crate::handler::output::ToolResponse;
use crate::middleware::{
    CircuitBreakerLayer, ConcurrencyLimitLayer, LayerFn, McpRequest, McpResponse, McpService,
    PolicyRuntime, RateLimitLayer, TimeoutLayer, erase, erase_builtin, stack,
};
use crate::registry::{Components, Registry, ResourceDef, UriTemplate};
use crate::server::proxy::ProxySpec;
use crate::state::StateMap;
pub(crate) use transform::Transforms;
pub(crate) use transform::compare_versions;
pub use transform::{ToolTransform, Transform};

/// What one mount requires of its callers and wraps around its components
/// ([`ServerBuilder::mount_with`]): roles and scopes, middleware, a rate limit shared by
/// all its components, a timeout. It applies to this mount's components only — mounts
/// nested inside it included — on top of each component's own policies and the server's.
#[derive(Clone, Default)]
#[must_use = "a mount configuration does nothing until it is returned to `mount_with`"]
pub struct Mount {
    pub(crate) access: Access,
    pub(crate) layers: Vec<LayerFn>,
    pub(crate) rate_limit: Option<RateLimit>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) transforms: Transforms,
}

impl Mount {
    /// Every component of the mount requires one of `roles`.
    pub fn requires_role<I: IntoIterator<Item = S>, S: Into<String>>(mut self, roles: I) -> Self {
        self.access = self.access.any_role(roles);
        self
    }

    /// Every component of the mount requires all of `roles`.
    pub fn requires_all_roles<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        roles: I,
    ) -> Self {
        self.access = self.access.all_roles(roles);
        self
    }

    /// Every component of the mount requires all of `scopes`.
    pub fn requires_scope<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scopes: I) -> Self {
        self.access = self.access.scopes(scopes);
        self
    }

    /// Every component of the mount requires `access`.
    pub fn access(mut self, access: Access) -> Self {
        self.access = self.access.and(&access);
        self
    }

    /// Wrap every call, read and prompt of this mount in a middleware (a tower
    /// [`Layer`](tower::Layer) over [`McpService`], or [`crate::middleware::from_fn`]),
    /// inside the server's layers and this mount's parents'. The first layer added sees
    /// the request first. Lists do not pass through mount layers.
    pub fn layer<L>(mut self, layer: L) -> Self
    where
        L: tower::Layer<McpService> + Send + Sync + 'static,
        L::Service: tower::Service<McpRequest, Response = McpResponse, Error = ToolError>
            + Clone
            + Send
            + Sync
            + 'static,
        <L::Service as tower::Service<McpRequest>>::Future: Send + 'static,
    {
        self.layers.push(erase(layer));
        self
    }

    /// A rate limit on every call, read and prompt of the mount, checked before the mount's
    /// layers; components keep their own. The limit's key partitions the budget as it does
    /// for `#[rate_limit]`: per component by default, one budget for the whole mount with
    /// [`RateLimitKey::Global`](crate::component::policy::RateLimitKey), per caller with
    /// `Principal`, per tenant with `Tenant`.
    pub fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = Some(limit);
        self
    }

    /// Every call, read and prompt of the mount ends with a timeout error after `timeout`,
    /// whatever the component's own (a shorter `#[timeout]` still applies).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Change the tool the source names `name` (before the prefix): rename it, describe it,
    /// tag it, hide it, hide, fix, rename or describe its arguments ([`ToolTransform`]).
    /// A name the source does not have is a `build()` error.
    pub fn tool(mut self, name: &str, change: impl FnOnce(ToolTransform) -> ToolTransform) -> Self {
        self.transforms
            .tools
            .push((name.to_owned(), change(ToolTransform::default())));
        self
    }

    /// Change the prompt the source names `name`: rename, retitle, describe or hide it.
    pub fn prompt(mut self, name: &str, change: impl FnOnce(Transform) -> Transform) -> Self {
        self.transforms
            .prompts
            .push((name.to_owned(), change(Transform::default())));
        self
    }

    /// Change the resource or template the source serves at `uri` (as it declares it):
    /// its name, title or description, or hide it.
    pub fn resource(mut self, uri: &str, change: impl FnOnce(Transform) -> Transform) -> Self {
        self.transforms
            .resources
            .push((uri.to_owned(), change(Transform::default())));
        self
    }

    /// Leave the tool `name` out of this mount.
    pub fn hide_tool(self, name: &str) -> Self {
        self.tool(name, ToolTransform::hide)
    }

    /// Offer `version` of the tool `name` (declared `#[tool(version = …)]`) rather than
    /// the highest; a version the source does not have is a `build()` error.
    pub fn version(mut self, name: &str, version: &str) -> Self {
        self.transforms
            .versions
            .push((name.to_owned(), version.to_owned()));
        self
    }
}

impl std::fmt::Debug for Mount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mount")
            .field("access", &self.access)
            .field("layers", &self.layers.len())
            .field("rate_limit", &self.rate_limit)
            .field("timeout", &self.timeout)
            .field("transforms", &self.transforms)
            .finish()
    }
}

/// The middleware and policies of one mount, by its path from the server (outermost
/// prefix first).
#[derive(Clone)]
pub(crate) struct MountPolicies {
    pub(crate) path: Vec<String>,
    layers: Vec<LayerFn>,
    rate_limit: Option<RateLimit>,
    timeout: Option<Duration>,
}

impl MountPolicies {
    /// The policies of `mount` (its access is applied to the components directly);
    /// `None` when it has none.
    pub(crate) fn of(path: Vec<String>, mount: &Mount) -> Option<Self> {
        (!mount.layers.is_empty() || mount.rate_limit.is_some() || mount.timeout.is_some()).then(
            || Self {
                path,
                layers: mount.layers.clone(),
                rate_limit: mount.rate_limit.clone(),
                timeout: mount.timeout,
            },
        )
    }

    /// The policies every call of a remote server passes, at the path it is mounted at
    /// (relative: empty until mounted): one in-flight bound and one circuit breaker for
    /// all its components.
    pub(crate) fn upstream(upstream: &crate::server::proxy::Upstream) -> Self {
        Self {
            path: Vec::new(),
            layers: vec![
                erase_builtin(ConcurrencyLimitLayer::new(upstream.max_in_flight)),
                erase_builtin(CircuitBreakerLayer::new(upstream.breaker.clone())),
            ],
            rate_limit: None,
            timeout: None,
        }
    }

    /// The layers, outermost first: the rate limit (refusing before any work), the
    /// timeout, then the mount's own layers.
    fn layers(&self, runtime: &PolicyRuntime) -> Vec<LayerFn> {
        let mut layers = Vec::with_capacity(self.layers.len() + 2);
        if let Some(limit) = &self.rate_limit {
            let scope = format!("mount:{}", self.path.join("/"));
            layers.push(erase_builtin(RateLimitLayer::new(
                limit.clone(),
                scope,
                runtime.rate_limits.clone(),
            )));
        }
        if let Some(timeout) = self.timeout {
            layers.push(erase_builtin(TimeoutLayer::new(timeout)));
        }
        layers.extend(self.layers.iter().cloned());
        layers
    }
}

/// What a mount takes in: components (named as their source names them), the shared state
/// they need, the policies of mounts inside the source (paths relative to it; an empty
/// path is the source's own), and problems to report at `build()`.
#[doc(hidden)]
pub struct MountSource {
    pub(crate) components: Components,
    pub(crate) states: StateMap,
    pub(crate) policies: Vec<MountPolicies>,
    pub(crate) problems: Vec<String>,
    /// Remote servers inside the source, with the mounts they passed so far.
    pub(crate) proxies: Vec<ProxySpec>,
}

/// What [`ServerBuilder::mount`] accepts: a `#[server]` type, or a whole [`ServerBuilder`]
/// with its state, middleware, requirements and mounts (so mounts nest).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be mounted",
    label = "not a `#[server]` type or a `ServerBuilder`",
    note = "mount a value of a type with a `#[server]` impl block, or a `Server::builder(…)`"
)]
pub trait Mountable {
    /// The components and policies this source contributes.
    #[doc(hidden)]
    fn into_mount(self) -> MountSource;
}

impl<T: IntoComponents> Mountable for T {
    fn into_mount(self) -> MountSource {
        MountSource {
            components: self.into_components(),
            states: StateMap::default(),
            policies: Vec::new(),
            problems: Vec::new(),
            proxies: Vec::new(),
        }
    }
}

impl Mountable for ServerBuilder {
    fn into_mount(self) -> MountSource {
        self.into_mount_source()
    }
}

/// Mount `source`'s components under `prefix` with `mount`'s requirements: the renamed
/// components, the policies of every mount now under the caller (paths absolute from the
/// caller), the state, and the problems found.
pub(crate) fn mount(prefix: &str, source: MountSource, mount: &Mount) -> MountSource {
    // A remote server's components are not known yet: its transforms are checked when
    // they arrive.
    let strict = source.proxies.is_empty();
    mount_as(prefix, source, mount, strict)
}

/// [`mount`], saying whether a transform naming a component the source does not have is
/// a problem (`strict`) or is left for components that arrive later.
pub(crate) fn mount_as(
    prefix: &str,
    source: MountSource,
    mount: &Mount,
    strict: bool,
) -> MountSource {
    let MountSource {
        mut components,
        states,
        policies: inner_policies,
        mut problems,
        mut proxies,
    } = source;
    for proxy in &mut proxies {
        proxy.steps.push((prefix.to_owned(), mount.clone()));
    }
    problems = problems
        .into_iter()
        .map(|p| format!("in mount `{prefix}`: {p}"))
        .collect();
    if !mount.transforms.is_empty() {
        mount
            .transforms
            .apply(prefix, &mut components, &mut problems, strict);
    }
    let links = Arc::new(OwnUris::of(&components.resources));
    let Components {
        tools,
        resources,
        prompts,
    } = components;
    let tools = tools
        .into_iter()
        .map(|mut tool| {
            tool.mounted.insert(0, prefix.to_owned());
            tool.access = tool.access.clone().and(&mount.access);
            if !links.is_empty() {
                tool.handler = links_in_tool_results(tool.handler, prefix, links.clone());
            }
            let name = format!("{prefix}_{}", tool.name());
            tool.renamed(name)
        })
        .collect();
    let resources = resources
        .into_iter()
        .filter_map(|resource| match mount_resource(prefix, resource) {
            Ok(mut resource) => {
                resource.access = resource.access.clone().and(&mount.access);
                Some(resource)
            }
            Err(problem) => {
                problems.push(problem);
                None
            }
        })
        .collect();
    let prompts = prompts
        .into_iter()
        .map(|mut prompt| {
            prompt.mounted.insert(0, prefix.to_owned());
            prompt.access = prompt.access.clone().and(&mount.access);
            if !links.is_empty() {
                prompt.handler = links_in_prompts(prompt.handler, prefix, links.clone());
            }
            let name = format!("{prefix}_{}", prompt.name());
            prompt.renamed(name)
        })
        .collect();
    // This mount's own policies are outside the source's (a builder's own layers, at its
    // empty path, then its mounts').
    let mut policies: Vec<MountPolicies> = MountPolicies::of(vec![prefix.to_owned()], mount)
        .into_iter()
        .collect();
    policies.extend(inner_policies.into_iter().map(|mut p| {
        p.path.insert(0, prefix.to_owned());
        p
    }));
    MountSource {
        components: Components {
            tools,
            resources,
            prompts,
        },
        states,
        policies,
        problems,
        proxies,
    }
}

/// The resource served under `prefix`: its URI (template) mounted, and its handler given
/// back the URI as the source declared it.
fn mount_resource(prefix: &str, mut resource: ResourceDef) -> Result<ResourceDef, String> {
    let mounted = uri::mount(prefix, resource.uri())?;
    resource.template = UriTemplate::parse(&mounted)
        .map_err(|e| format!("resource `{}` under mount `{prefix}`: {e}", resource.uri()))?;
    resource.mounted.insert(0, prefix.to_owned());
    let handler = resource.handler;
    let prefix: Arc<str> = prefix.into();
    resource.handler = Arc::new(move |mut parts| {
        if let Some(original) = uri::unmount(&prefix, &parts.component) {
            parts.component = original.into();
        }
        handler(parts)
    });
    Ok(resource)
}

/// The URIs a mounted source serves, as it names them: links to these in its tools'
/// results and prompts are rewritten to their mounted form.
struct OwnUris {
    statics: std::collections::HashSet<String>,
    templates: Vec<UriTemplate>,
}

impl OwnUris {
    fn of(resources: &[ResourceDef]) -> Self {
        let (templates, statics): (Vec<_>, Vec<_>) =
            resources.iter().partition(|r| r.is_template());
        Self {
            statics: statics.iter().map(|r| r.uri().to_owned()).collect(),
            templates: templates.iter().map(|r| r.template.clone()).collect(),
        }
    }

    fn is_empty(&self) -> bool {
        self.statics.is_empty() && self.templates.is_empty()
    }

    fn serves(&self, uri: &str) -> bool {
        self.statics.contains(uri) || self.templates.iter().any(|t| t.matches(uri).is_some())
    }

    /// Rewrite a content block's link or embedded resource, when it names one of these.
    fn rewrite(&self, prefix: &str, block: &mut ContentBlock) {
        let uri = match block {
            ContentBlock::ResourceLink(link) => &mut link.uri,
            ContentBlock::Resource(embedded) => match &mut embedded.resource {
                ResourceContents::TextResourceContents { uri, .. }
                | ResourceContents::BlobResourceContents { uri, .. } => uri,
                _ => return,
            },
            _ => return,
        };
        if self.serves(uri)
            && let Ok(mounted) = uri::mount(prefix, uri)
        {
            *uri = mounted;
        }
    }
}

fn links_in_tool_results(
    handler: crate::registry::ToolHandler,
    prefix: &str,
    own: Arc<OwnUris>,
) -> crate::registry::ToolHandler {
    let prefix: Arc<str> = prefix.into();
    Arc::new(move |parts| {
        let future = handler(parts);
        let (prefix, own) = (prefix.clone(), own.clone());
        Box::pin(async move {
            let mut response: ToolResponse = future.await?;
            if let rmcp::model::CallToolResponse::Complete(result) = &mut response.0 {
                for block in &mut result.content {
                    own.rewrite(&prefix, block);
                }
            }
            Ok(response)
        })
    })
}

fn links_in_prompts(
    handler: crate::registry::PromptHandler,
    prefix: &str,
    own: Arc<OwnUris>,
) -> crate::registry::PromptHandler {
    let prefix: Arc<str> = prefix.into();
    Arc::new(move |parts| {
        let future = handler(parts);
        let (prefix, own) = (prefix.clone(), own.clone());
        Box::pin(async move {
            let mut result = future.await?;
            for block in result.blocks_mut() {
                own.rewrite(&prefix, block);
            }
            Ok(result)
        })
    })
}

/// The middleware stack of each mounted path that has policies at or above it: the
/// policies of every mount on the path, outermost mount first, around the router (which
/// the stack re-enters, marked as through its mount). Keyed by the path components carry.
pub(crate) fn mount_stacks(
    policies: &[MountPolicies],
    components: &Registry,
    inner: &Arc<ServerInner>,
    runtime: &PolicyRuntime,
) -> HashMap<Vec<String>, McpService> {
    if policies.is_empty() {
        return HashMap::new();
    }
    // Every mounted path with components now, and every path with policies (a remote
    // server's components arrive later).
    let paths: std::collections::HashSet<&Vec<String>> = components
        .tools
        .iter()
        .map(|t| &t.mounted)
        .chain(components.resources.iter().map(|r| &r.mounted))
        .chain(components.prompts.iter().map(|p| &p.mounted))
        .chain(policies.iter().map(|p| &p.path))
        .filter(|path| !path.is_empty())
        .collect();
    let weak = Arc::downgrade(inner);
    paths
        .into_iter()
        .filter_map(|path| {
            let mut layers = Vec::new();
            for depth in 1..=path.len() {
                for policy in policies.iter().filter(|p| p.path[..] == path[..depth]) {
                    layers.extend(policy.layers(runtime));
                }
            }
            (!layers.is_empty()).then(|| {
                let endpoint = McpService::new(super::router::MountEndpoint {
                    inner: Weak::clone(&weak),
                });
                (path.clone(), stack(endpoint, &layers))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handler::output::OutputSpec;
    use crate::model::ToolResult;
    use crate::registry::ToolDef;

    fn link_tool() -> ToolDef {
        ToolDef::new(
            "links",
            "",
            rmcp::model::JsonObject::new(),
            OutputSpec::content(),
            |_| async {
                Ok(ToolResult::new()
                    .with_content(crate::model::Content::resource_link(
                        "weather://forecast/faro",
                        "faro",
                    ))
                    .into())
            },
        )
    }

    fn forecast() -> ResourceDef {
        ResourceDef::new(
            "weather://forecast/{city}",
            "forecast",
            rmcp::model::JsonObject::new(),
            |parts| async move {
                Ok(vec![crate::model::ResourceContent::text(
                    parts.component().to_owned(),
                )])
            },
        )
        .unwrap()
    }

    #[test]
    fn a_mount_renames_every_kind_and_records_its_policies() {
        let source = MountSource {
            components: Components::new().tool(link_tool()).resource(forecast()),
            states: StateMap::default(),
            policies: Vec::new(),
            problems: Vec::new(),
            proxies: Vec::new(),
        };
        let inner = mount(
            "inner",
            source,
            &Mount::default().timeout(Duration::from_secs(1)),
        );
        let outer = mount("outer", inner, &Mount::default().requires_role(["staff"]));
        let tool = &outer.components.tools[0];
        assert_eq!(tool.name(), "outer_inner_links");
        assert_eq!(tool.mounted, ["outer", "inner"]);
        assert!(!tool.access.is_open());
        let resource = &outer.components.resources[0];
        assert_eq!(resource.uri(), "weather://outer/inner/forecast/{city}");
        assert_eq!(outer.policies.len(), 1, "only the inner mount has policies");
        assert_eq!(outer.policies[0].path, ["outer", "inner"]);
        assert!(outer.problems.is_empty());
    }

    #[test]
    fn a_resource_without_a_scheme_is_a_problem_named_by_mount() {
        let resource = ResourceDef::new(
            "urn:isbn:{id}",
            "book",
            rmcp::model::JsonObject::new(),
            |_| async { Ok(vec![]) },
        )
        .unwrap();
        let source = MountSource {
            components: Components::new().resource(resource),
            states: StateMap::default(),
            policies: Vec::new(),
            problems: vec!["a problem inside".into()],
            proxies: Vec::new(),
        };
        let mounted = mount("books", source, &Mount::default());
        assert!(mounted.components.resources.is_empty());
        assert_eq!(mounted.problems.len(), 2);
        assert_eq!(mounted.problems[0], "in mount `books`: a problem inside");
        assert!(mounted.problems[1].contains("`urn:isbn:{id}` cannot be mounted under `books`"));
    }
}
