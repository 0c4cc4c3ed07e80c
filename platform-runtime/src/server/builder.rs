//! [`ServerBuilder`]: identity, state, components, middleware and limits, validated by
//! `build()`; the [`Settings`] it keeps so configuration can be applied later; and
//! `Server::with_config`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use super::compose::{self, Mount, MountPolicies, MountSource, Mountable};
use super::proxy::{Proxy, ProxySpec};
use super::{Endpoint, IntoComponents, Server, ServerInfo, ServerInner, ServerStats};
use crate::ToolError;
use crate::component::access::{Authorization, Unauthorized};
use crate::component::policy::RateLimit;
use crate::config::{Config, Secret};
use crate::handler::extract::Shared;
use crate::handler::mrtr::Sealer;
use crate::middleware::{
    CacheStore, DEFAULT_CACHE_BYTES, DEFAULT_MAX_KEYS, ErrorHandlingLayer, GlobalLimitLayer,
    InProcessCache, InProcessRateLimits, LayerFn, LoggingLayer, McpRequest, McpResponse,
    McpService, PolicyRuntime, RateLimitLayer, RateLimitStore, ResponseSizeLimitLayer, Routes,
    TimingLayer, erase_builtin, stack,
};
use crate::registry::{
    Components, PromptDef, Registry, RequestLimits, ResourceDef, StateRequirement, ToolDef,
};
use crate::state::{Sessions, StateMap};

/// Builds a [`Server`]: identity, shared state and components; [`ServerBuilder::build`]
/// validates names, duplicates and state requirements.
///
/// ```
/// use platform_runtime::prelude::*;
///
/// /// Add two integers.
/// #[tool]
/// fn add(a: i64, b: i64) -> i64 { a + b }
///
/// let server = Server::builder("calc")
///     .version("1.0.0")
///     .instructions("Use `add` for arithmetic.")
///     .tools(tools![add])
///     .build()?;
/// assert_eq!(server.info().name, "calc");
/// # Ok::<(), platform_runtime::BuildError>(())
/// ```
#[must_use = "a builder does nothing until `.build()`"]
pub struct ServerBuilder {
    info: ServerInfo,
    states: StateMap,
    components: Components,
    page_size: Option<usize>,
    problems: Vec<String>,
    settings: Settings,
    /// The prefixes mounted here, each once.
    prefixes: Vec<String>,
    /// Remote servers mounted here or below.
    proxies: Vec<ProxySpec>,
    /// `[upstreams]` of a configuration given to `config`, applied by `build()`.
    upstreams: Option<std::collections::BTreeMap<String, crate::config::UpstreamSection>>,
}

/// Everything the builder is given besides identity, state and components: the server
/// keeps it, so configuration loaded later (by `serve()`) is applied to the same recipe.
#[derive(Clone)]
pub(crate) struct Settings {
    layers: Vec<LayerFn>,
    default_middleware: bool,
    mask_internal_errors: bool,
    log_payloads: Option<usize>,
    rate_limit: Option<RateLimit>,
    timeout: Option<Duration>,
    max_in_flight: Option<usize>,
    max_response_bytes: Option<usize>,
    limits: RequestLimits,
    cache_max_bytes: u64,
    rate_limit_max_keys: usize,
    rate_limit_store: Option<Arc<dyn RateLimitStore>>,
    cache_store: Option<Arc<dyn CacheStore>>,
    sealing_key: Option<Secret>,
    /// `[redis]`: the shared stores, which replace the in-process ones.
    #[cfg(feature = "redis")]
    redis: Option<SharedStores>,
    authorization: Authorization,
    /// The policies of every mount with any, by mount path.
    pub(crate) mounts: Vec<MountPolicies>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            layers: Vec::new(),
            default_middleware: true,
            mask_internal_errors: true,
            log_payloads: None,
            rate_limit: None,
            timeout: None,
            max_in_flight: None,
            max_response_bytes: None,
            limits: RequestLimits::default(),
            cache_max_bytes: DEFAULT_CACHE_BYTES,
            rate_limit_max_keys: DEFAULT_MAX_KEYS,
            rate_limit_store: None,
            cache_store: None,
            sealing_key: None,
            #[cfg(feature = "redis")]
            redis: None,
            authorization: Authorization::default(),
            mounts: Vec::new(),
        }
    }
}

/// The Redis of `[redis]` and what each store does while it does not answer.
#[cfg(feature = "redis")]
#[derive(Clone)]
struct SharedStores {
    redis: crate::redis::Redis,
    rate_limit_fail: crate::middleware::FailMode,
    cache_fail: crate::middleware::FailMode,
    sessions_fail: crate::middleware::FailMode,
    tasks_fail: crate::middleware::FailMode,
}

#[cfg(feature = "redis")]
impl SharedStores {
    /// From `[redis]`, keys under the configured namespace or else `server`'s name.
    fn from_config(config: &Config, server: &str) -> Result<Option<Self>, String> {
        use crate::middleware::FailMode;
        let Some(url) = config.redis_url().map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        let section = &config.redis;
        let mut options = crate::redis::RedisOptions::new(
            section
                .namespace
                .clone()
                .unwrap_or_else(|| server.to_owned()),
        );
        if let Some(timeout) = section.connect_timeout {
            options.connect_timeout = timeout.0;
        }
        if let Some(timeout) = section.command_timeout {
            options.command_timeout = timeout.0;
        }
        let redis = crate::redis::Redis::open(url.expose(), options)
            .map_err(|e| format!("`[redis]`: {e}"))?;
        let mode = |value: &Option<String>| match value.as_deref() {
            Some("closed") => FailMode::Closed,
            _ => FailMode::Open,
        };
        Ok(Some(Self {
            redis,
            rate_limit_fail: mode(&section.rate_limit_fail),
            cache_fail: mode(&section.cache_fail),
            sessions_fail: mode(&section.sessions_fail),
            tasks_fail: mode(&section.tasks_fail),
        }))
    }
}

impl Settings {
    /// Take `[limits]`, `[telemetry]`, `[sealing]` and `[redis]` from a loaded configuration
    /// for the server named `server`; a value set there wins over the builder's.
    /// (`[telemetry] log` is the log filter, which `serve()` installs; `[transport]` is the
    /// transport's.)
    pub(crate) fn apply(&mut self, config: &Config, server: &str) -> Result<(), String> {
        #[cfg(feature = "redis")]
        if let Some(stores) = SharedStores::from_config(config, server)? {
            self.redis = Some(stores);
        }
        #[cfg(not(feature = "redis"))]
        let _ = server;
        let limits = &config.limits;
        if let Some(limit) = limits.max_in_flight {
            self.max_in_flight = Some(limit);
        }
        if let Some(max) = limits.max_response_bytes {
            self.max_response_bytes = Some(max);
        }
        if let Some(timeout) = limits.timeout {
            self.timeout = Some(timeout.0);
        }
        if let Some(max) = limits.max_uri_bytes {
            self.limits.max_uri_bytes = max;
        }
        if let Some(max) = limits.max_subscriptions {
            self.limits.max_subscriptions = max;
        }
        if let Some(max) = limits.cache_max_bytes {
            self.cache_max_bytes = max;
        }
        if let Some(max) = limits.rate_limit_max_keys {
            self.rate_limit_max_keys = max;
        }
        if let Some(max) = config.telemetry.log_payloads {
            self.log_payloads = Some(max);
        }
        if let Some(key) = config.sealing_key().map_err(|e| e.to_string())? {
            self.sealing_key = Some(key);
        }
        let auth = &config.auth;
        let authorization = &mut self.authorization;
        authorization.server = std::mem::take(&mut authorization.server)
            .any_role(auth.requires_role.iter().cloned())
            .scopes(auth.requires_scope.iter().cloned());
        match auth.unauthorized.as_deref() {
            Some("deny") => authorization.unauthorized = Unauthorized::Deny,
            Some("hide") => authorization.unauthorized = Unauthorized::Hide,
            _ => {}
        }
        for (tenant, section) in &auth.tenants {
            authorization
                .tenants
                .insert(tenant.clone(), section.allow.clone());
        }
        authorization
            .validate()
            .map_err(|e| format!("`[auth.tenants]`: {e}"))?;
        Ok(())
    }

    /// The settings made here that only a whole server honours (a mounted builder refuses
    /// them), by the builder method that sets each.
    fn only_for_servers(&self) -> Vec<&'static str> {
        let default = Settings::default();
        let mut set = Vec::new();
        let mut check = |differs: bool, name: &'static str| {
            if differs {
                set.push(name);
            }
        };
        check(!self.default_middleware, "without_default_middleware");
        check(!self.mask_internal_errors, "mask_internal_errors");
        check(self.log_payloads.is_some(), "log_payloads");
        check(self.max_in_flight.is_some(), "max_in_flight");
        check(self.max_response_bytes.is_some(), "max_response_bytes");
        check(
            self.limits.max_uri_bytes != default.limits.max_uri_bytes,
            "max_uri_bytes",
        );
        check(
            self.limits.max_subscriptions != default.limits.max_subscriptions,
            "max_subscriptions",
        );
        check(
            self.cache_max_bytes != default.cache_max_bytes,
            "cache_max_bytes",
        );
        check(
            self.rate_limit_max_keys != default.rate_limit_max_keys,
            "rate_limit_max_keys",
        );
        check(self.rate_limit_store.is_some(), "rate_limit_store");
        check(self.cache_store.is_some(), "cache_store");
        check(self.sealing_key.is_some(), "sealing_key");
        #[cfg(feature = "redis")]
        check(self.redis.is_some(), "config (`[redis]`)");
        check(
            self.authorization.unauthorized != default.authorization.unauthorized,
            "unauthorized",
        );
        check(!self.authorization.tenants.is_empty(), "tenant_allow");
        set
    }

    /// The stores and defaults per-tool policies use: `[redis]`'s when configured, else
    /// those given to the builder, else in process.
    fn policy_runtime(&self) -> PolicyRuntime {
        #[cfg(feature = "redis")]
        if let Some(stores) = &self.redis {
            return PolicyRuntime {
                rate_limits: Arc::new(stores.redis.rate_limits(stores.rate_limit_fail)),
                cache: Arc::new(stores.redis.cache(stores.cache_fail, self.cache_max_bytes)),
                default_timeout: self.timeout,
            };
        }
        PolicyRuntime {
            rate_limits: self.rate_limit_store.clone().unwrap_or_else(|| {
                Arc::new(InProcessRateLimits::with_max_keys(self.rate_limit_max_keys))
            }),
            cache: self
                .cache_store
                .clone()
                .unwrap_or_else(|| Arc::new(InProcessCache::with_max_bytes(self.cache_max_bytes))),
            default_timeout: self.timeout,
        }
    }

    /// Where tasks' records are kept for every replica: `[redis]`'s, if configured.
    fn task_records(&self) -> Option<Arc<dyn crate::state::TaskRecords>> {
        #[cfg(feature = "redis")]
        if let Some(stores) = &self.redis {
            return Some(Arc::new(crate::redis::RedisTasks::new(
                stores.redis.clone(),
                stores.tasks_fail,
            )));
        }
        None
    }

    /// Where legacy sessions are kept for every replica: `[redis]`'s, if configured.
    fn shared_sessions(&self) -> Option<Arc<dyn crate::state::SharedSessions>> {
        #[cfg(feature = "redis")]
        if let Some(stores) = &self.redis {
            return Some(Arc::new(crate::redis::RedisSessions::new(
                stores.redis.clone(),
                stores.sessions_fail,
            )));
        }
        None
    }

    fn authorization(&self) -> Arc<Authorization> {
        Arc::new(self.authorization.clone())
    }

    fn request_limits(&self) -> RequestLimits {
        RequestLimits {
            timeout: self.timeout,
            ..self.limits
        }
    }

    /// The sealer of multi-round state: from the configured key, else a random one.
    fn sealer(&self, server: &str) -> Result<Sealer, String> {
        match &self.sealing_key {
            Some(key) => Sealer::with_key(server, key.expose().as_bytes()),
            None => Sealer::random(server),
        }
        .map_err(|e| e.to_string())
    }

    /// The server-level pipeline around `inner`'s registry (`None`: no middleware).
    fn pipeline(
        &self,
        inner: &Arc<ServerInner>,
        rate_limits: &Arc<dyn RateLimitStore>,
    ) -> Option<McpService> {
        let stats = &inner.stats;
        // Outermost first: defaults, the user's layers, then the server-wide limits.
        let mut layers: Vec<LayerFn> = Vec::new();
        if self.default_middleware {
            // The request span first: everything after it, errors included, runs inside it.
            layers.push(erase_builtin(crate::observability::RequestSpanLayer::new()));
            layers.push(erase_builtin(
                ErrorHandlingLayer::new(stats.errors.clone())
                    .mask_internal_errors(self.mask_internal_errors),
            ));
            let logging = match self.log_payloads {
                Some(max) => LoggingLayer::new().with_payloads(max),
                None => LoggingLayer::new(),
            };
            layers.push(erase_builtin(logging));
            layers.push(erase_builtin(TimingLayer::new(stats.timings.clone())));
        }
        layers.extend(self.layers.iter().cloned());
        if let Some(limit) = self.max_in_flight {
            layers.push(erase_builtin(GlobalLimitLayer::new(limit)));
        }
        if let Some(limit) = &self.rate_limit {
            layers.push(erase_builtin(RateLimitLayer::new(
                limit.clone(),
                "*",
                rate_limits.clone(),
            )));
        }
        if let Some(max) = self.max_response_bytes {
            layers.push(erase_builtin(ResponseSizeLimitLayer::new(max)));
        }
        // Without middleware, requests go straight to the endpoint.
        (!layers.is_empty()).then(|| {
            let endpoint = McpService::new(Endpoint {
                inner: inner.clone(),
            });
            stack(endpoint, &layers)
        })
    }
}

impl Server {
    /// Where the HTTP transport keeps legacy sessions for every replica to find (`[redis]`);
    /// `None`: in this process only.
    pub(crate) fn shared_sessions(&self) -> Option<Arc<dyn crate::state::SharedSessions>> {
        self.settings.shared_sessions()
    }

    /// Apply a loaded configuration — `[limits]` (in-flight limit, response size, default
    /// timeout, URI length, subscriptions, cache and rate-limit bounds), `[telemetry]`
    /// (payload logging) and `[sealing]` (the key of multi-round state) —
    /// on top of what the builder set. `serve()` does this with the configuration it loads;
    /// call it when serving with [`crate::transport::http::start`] yourself.
    ///
    /// The server is updated in place: handles taken earlier see the same server.
    pub fn with_config(mut self, config: &Config) -> Result<Self, BuildError> {
        let mut settings = (*self.settings).clone();
        settings
            .apply(config, &self.inner.info.name)
            .map_err(BuildError::one)?;
        super::proxy::configure(&self.inner.proxies, &config.upstreams).map_err(BuildError::one)?;
        if let Some(audit) = &config.telemetry.audit {
            check_audit_arguments(&self.inner.registry(), &audit.arguments)
                .map_err(BuildError::one)?;
        }
        let sealer = settings
            .sealer(&self.inner.info.name)
            .map_err(BuildError::one)?;
        let runtime = settings.policy_runtime();
        let shared = self.inner.shared();
        *self.inner.shared.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(Shared {
            states: shared.states.clone(),
            sealer,
        });
        if let Some(store) = settings.task_records() {
            self.inner.tasks.set_store(store);
        }
        let rate_limits = runtime.rate_limits.clone();
        *self
            .inner
            .policy_runtime
            .write()
            .unwrap_or_else(|e| e.into_inner()) = runtime;
        // Every tool's stack is rebuilt with the new stores and defaults.
        self.inner
            .restack(settings.request_limits(), settings.authorization());
        self.inner.stack_mounts(&settings.mounts);
        self.pipeline = settings.pipeline(&self.inner, &rate_limits);
        self.settings = Arc::new(settings);
        Ok(self)
    }
}

impl ServerBuilder {
    pub(crate) fn new(name: String) -> Self {
        Self {
            info: ServerInfo::new(name, "0.0.0"),
            states: StateMap::default(),
            components: Components::default(),
            page_size: None,
            problems: Vec::new(),
            settings: Settings::default(),
            prefixes: Vec::new(),
            proxies: Vec::new(),
            upstreams: None,
        }
    }

    /// Add a server-level middleware (a tower [`Layer`](tower::Layer) over
    /// [`McpService`], or [`crate::middleware::from_fn`]). It wraps every request; the
    /// first layer added sees the request first, inside the default layers (error handling,
    /// logging, timing).
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
        self.settings.layers.push(crate::middleware::erase(layer));
        self
    }

    /// Leave out the default middleware (error handling, logging, timing). Internal errors
    /// are still masked when they reach the wire.
    pub fn without_default_middleware(mut self) -> Self {
        self.settings.default_middleware = false;
        self
    }

    /// Whether internal error messages are masked behind a log reference (default: yes).
    pub fn mask_internal_errors(mut self, mask: bool) -> Self {
        self.settings.mask_internal_errors = mask;
        self
    }

    /// Log arguments and results (redacted, truncated to `max_bytes`) with each request.
    pub fn log_payloads(mut self, max_bytes: usize) -> Self {
        self.settings.log_payloads = Some(max_bytes);
        self
    }

    /// A server-wide rate limit on every request (tools with `#[rate_limit]` have theirs
    /// too).
    pub fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.settings.rate_limit = Some(limit);
        self
    }

    /// The timeout of tool calls that declare no `#[timeout]`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.settings.timeout = Some(timeout);
        self
    }

    /// At most `limit` requests in flight; more are refused with a "busy" error.
    pub fn max_in_flight(mut self, limit: usize) -> Self {
        self.settings.max_in_flight = Some(limit);
        self
    }

    /// Refuse responses whose payload exceeds `max_bytes`.
    pub fn max_response_bytes(mut self, max_bytes: usize) -> Self {
        self.settings.max_response_bytes = Some(max_bytes);
        self
    }

    /// Apply the `[limits]`, `[telemetry]` and `[sealing]` sections of a loaded
    /// configuration (see [`Server::with_config`]); a problem with them is reported by
    /// `build()`.
    pub fn config(mut self, config: &Config) -> Self {
        if let Err(problem) = self.settings.apply(config, &self.info.name) {
            self.problems.push(problem);
        }
        self.upstreams = Some(config.upstreams.clone());
        self
    }

    /// The longest resource URI `resources/read` and `resources/subscribe` accept (default
    /// 8 KiB); longer ones are refused with `-32602`.
    pub fn max_uri_bytes(mut self, max: usize) -> Self {
        self.settings.limits.max_uri_bytes = max;
        self
    }

    /// The most resource subscriptions one legacy session may hold (default 64); more are
    /// refused with `-32602`.
    pub fn max_subscriptions(mut self, max: usize) -> Self {
        self.settings.limits.max_subscriptions = max;
        self
    }

    /// Bound the in-process response cache at `max_bytes` (default 64 MiB), keys and
    /// serialized results counted. Ignored with [`ServerBuilder::cache_store`].
    pub fn cache_max_bytes(mut self, max_bytes: u64) -> Self {
        self.settings.cache_max_bytes = max_bytes;
        self
    }

    /// Bound each in-process rate limiter at `max_keys` partitions (default 100 000; see
    /// [`InProcessRateLimits`]). Ignored with [`ServerBuilder::rate_limit_store`].
    pub fn rate_limit_max_keys(mut self, max_keys: usize) -> Self {
        self.settings.rate_limit_max_keys = max_keys;
        self
    }

    /// The key that seals multi-round request state ([`crate::Context::seal_state`]): at
    /// least 32 bytes, shared by every replica that should open what another sealed.
    /// Default: a random key per process, from the OS random source.
    pub fn sealing_key(mut self, key: Secret) -> Self {
        self.settings.sealing_key = Some(key);
        self
    }

    /// Keep rate-limit state in `store` (default: in process).
    pub fn rate_limit_store(mut self, store: Arc<dyn RateLimitStore>) -> Self {
        self.settings.rate_limit_store = Some(store);
        self
    }

    /// Keep cached responses in `store` (default: in process, 64 MiB).
    pub fn cache_store(mut self, store: Arc<dyn CacheStore>) -> Self {
        self.settings.cache_store = Some(store);
        self
    }

    /// Set the version announced to clients.
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.info.version = version.into();
        self
    }

    /// Set the human-readable title.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.info.title = Some(title.into());
        self
    }

    /// Describe what the server is for (`serverInfo.description`, and `--help`).
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.info.description = Some(description.into());
        self
    }

    /// Set the instructions sent to clients on `initialize` / `server/discover`.
    pub fn instructions(mut self, instructions: impl Into<String>) -> Self {
        self.info.instructions = Some(instructions.into());
        self
    }

    /// Add shared state, available to handlers as [`crate::State<T>`]; one value per type.
    pub fn state<T: Send + Sync + 'static>(mut self, value: T) -> Self {
        self.states.insert(value);
        self
    }

    /// Add tools (see [`crate::tools!`]).
    pub fn tools(mut self, tools: impl IntoIterator<Item = ToolDef>) -> Self {
        self.components.tools.extend(tools);
        self
    }

    /// Add one tool.
    pub fn tool(mut self, tool: ToolDef) -> Self {
        self.components.tools.push(tool);
        self
    }

    /// Add resources and resource templates (see [`crate::resources!`]).
    pub fn resources(mut self, resources: impl IntoIterator<Item = ResourceDef>) -> Self {
        self.components.resources.extend(resources);
        self
    }

    /// Add prompts (see [`crate::prompts!`]).
    pub fn prompts(mut self, prompts: impl IntoIterator<Item = PromptDef>) -> Self {
        self.components.prompts.extend(prompts);
        self
    }

    /// Add every component of a `#[server]` type under its own names.
    pub fn merge<S: IntoComponents>(mut self, server: S) -> Self {
        let Components {
            tools,
            resources,
            prompts,
        } = server.into_components();
        self.components.tools.extend(tools);
        self.components.resources.extend(resources);
        self.components.prompts.extend(prompts);
        self
    }

    /// Mount a `#[server]` type, or a whole [`ServerBuilder`], under `prefix`: its tools
    /// and prompts are renamed `{prefix}_{name}`, its resources and templates served at
    /// `scheme://{prefix}/…` for `scheme://…` (links to them in its tool results and prompts
    /// follow; its handlers still see their own URIs). A mounted builder brings its state,
    /// its layers and requirements (for its components only) and its own mounts, which
    /// nest: `a` mounted in `b` mounted under `c` is `c_b_a_tool`.
    ///
    /// Each prefix may be mounted once per builder; what two mounts name alike is a
    /// `build()` error naming both.
    pub fn mount(self, prefix: &str, server: impl Mountable) -> Self {
        self.mount_with(prefix, server, |m| m)
    }

    /// Mount `server` under `prefix` (as [`ServerBuilder::mount`]) with requirements and
    /// middleware of its own: `configure` receives a [`Mount`] and returns it with the roles,
    /// scopes, layers, rate limit and timeout that apply to this mount's components (and
    /// mounts inside it), on top of each component's own and the server's.
    ///
    /// ```
    /// use platform_runtime::component::policy::RateLimit;
    /// use platform_runtime::prelude::*;
    /// # struct Billing;
    /// # #[server] impl Billing {
    /// #     /// Refund.
    /// #     #[tool] fn refund(&self) -> String { "ok".into() }
    /// # }
    /// let server = Server::builder("acme")
    ///     .mount_with("billing", Billing, |m| {
    ///         m.requires_role(["finance"])
    ///             .rate_limit(RateLimit::new(60, std::time::Duration::from_secs(60)))
    ///     })
    ///     .build()
    ///     .unwrap();
    /// # let _ = server;
    /// ```
    pub fn mount_with(
        mut self,
        prefix: &str,
        server: impl Mountable,
        configure: impl FnOnce(Mount) -> Mount,
    ) -> Self {
        if !valid_name(prefix) {
            self.problems.push(format!(
                "mount prefix `{prefix}` is invalid: use 1-64 characters from A-Z, a-z, 0-9, `_`, `-`, `.`"
            ));
        }
        if self.prefixes.iter().any(|p| p == prefix) {
            self.problems.push(format!(
                "`{prefix}` is mounted twice; give each mount its own prefix"
            ));
        }
        self.prefixes.push(prefix.to_owned());
        let mount = configure(Mount::default());
        let MountSource {
            components,
            states,
            policies,
            problems,
            proxies,
        } = compose::mount(prefix, server.into_mount(), &mount);
        self.problems.extend(problems);
        self.proxies.extend(proxies);
        for name in self.states.merge(states) {
            self.problems.push(format!(
                "`{name}` is given as state both to this server and to mount `{prefix}`; give it once, to the outer server"
            ));
        }
        self.settings.mounts.extend(policies);
        let Components {
            tools,
            resources,
            prompts,
        } = components;
        self.components.tools.extend(tools);
        self.components.resources.extend(resources);
        self.components.prompts.extend(prompts);
        self
    }

    /// This builder as the source of a mount: its components with its server-wide
    /// requirements added, its state, its layers and rate limit as the mount's own policies,
    /// its default timeout on its tools that declare none, its mounts' policies; settings
    /// that only a whole server can honour are problems.
    pub(crate) fn into_mount_source(self) -> MountSource {
        let mut problems = self.problems;
        let settings = self.settings;
        for setting in settings.only_for_servers() {
            problems.push(format!(
                "`{setting}` applies to a whole server and cannot be set on a mounted builder; set it on the outer server"
            ));
        }
        if self.page_size.is_some() {
            problems.push(
                "`page_size` applies to a whole server and cannot be set on a mounted builder; set it on the outer server".to_owned(),
            );
        }
        let mut components = self.components;
        let access = &settings.authorization.server;
        for tool in &mut components.tools {
            tool.access = tool.access.clone().and(access);
            if tool.policies.timeout.is_none() {
                tool.policies.timeout = settings.timeout;
            }
        }
        for resource in &mut components.resources {
            resource.access = resource.access.clone().and(access);
        }
        for prompt in &mut components.prompts {
            prompt.access = prompt.access.clone().and(access);
        }
        let own = Mount {
            layers: settings.layers.clone(),
            rate_limit: settings.rate_limit.clone(),
            ..Mount::default()
        };
        let mut policies: Vec<MountPolicies> =
            MountPolicies::of(Vec::new(), &own).into_iter().collect();
        policies.extend(settings.mounts.iter().cloned());
        MountSource {
            components,
            states: self.states,
            policies,
            problems,
            proxies: self.proxies,
        }
    }

    /// Every component requires one of `roles`, besides its own requirements (and
    /// `[auth] requires_role` in configuration).
    pub fn requires_role<I: IntoIterator<Item = S>, S: Into<String>>(mut self, roles: I) -> Self {
        let server = std::mem::take(&mut self.settings.authorization.server);
        self.settings.authorization.server = server.any_role(roles);
        self
    }

    /// Every component requires all of `scopes`, besides its own requirements.
    pub fn requires_scope<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scopes: I) -> Self {
        let server = std::mem::take(&mut self.settings.authorization.server);
        self.settings.authorization.server = server.scopes(scopes);
        self
    }

    /// What a caller without access sees of a component: hidden from lists (the default)
    /// or listed and refused on use (`[auth] unauthorized`).
    pub fn unauthorized(mut self, mode: Unauthorized) -> Self {
        self.settings.authorization.unauthorized = mode;
        self
    }

    /// Callers of `tenant` may use only the components whose names (tools, prompts) or URIs
    /// (resources) match `patterns` (exact, or a prefix with a trailing `*`); `"*"` as the
    /// tenant applies to every tenant not listed (`[auth.tenants.<id>] allow`).
    pub fn tenant_allow<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        tenant: impl Into<String>,
        patterns: I,
    ) -> Self {
        self.settings.authorization.tenants.insert(
            tenant.into(),
            patterns.into_iter().map(Into::into).collect(),
        );
        self
    }

    /// Paginate list results, `size` items per page (default: everything on one page).
    pub fn page_size(mut self, size: usize) -> Self {
        self.page_size = Some(size.max(1));
        self
    }

    /// Validate and build the server.
    pub fn build(mut self) -> Result<Server, BuildError> {
        offer_highest_versions(&mut self.components.tools);
        let mut problems = self.problems;
        if self.info.name.trim().is_empty() {
            problems.push("the server name is empty".to_owned());
        }
        let components = &self.components;
        let mut seen = HashMap::new();
        for tool in &components.tools {
            if !valid_name(tool.name()) || tool.name().len() > 128 {
                problems.push(format!(
                    "tool name `{}` is invalid: use 1-128 characters from A-Z, a-z, 0-9, `_`, `-`, `.`",
                    tool.name()
                ));
            }
            if let Some(first) = seen.insert(tool.name(), &tool.mounted) {
                problems.push(format!(
                    "two tools are named `{}` ({}); tool names must be unique",
                    tool.name(),
                    origins(first, &tool.mounted),
                ));
            }
            check_states(
                &mut problems,
                "tool",
                tool.name(),
                &tool.states,
                &self.states,
            );
        }
        let mut seen = HashMap::new();
        for resource in &components.resources {
            if let Some(first) = seen.insert(resource.uri(), &resource.mounted) {
                problems.push(format!(
                    "two resources use the URI `{}` ({}); resource URIs must be unique",
                    resource.uri(),
                    origins(first, &resource.mounted),
                ));
            }
            check_states(
                &mut problems,
                "resource",
                resource.uri(),
                &resource.states,
                &self.states,
            );
        }
        let mut seen = HashMap::new();
        for prompt in &components.prompts {
            if !valid_name(prompt.name()) {
                problems.push(format!(
                    "prompt name `{}` is invalid: use characters from A-Z, a-z, 0-9, `_`, `-`, `.`",
                    prompt.name()
                ));
            }
            if let Some(first) = seen.insert(prompt.name(), &prompt.mounted) {
                problems.push(format!(
                    "two prompts are named `{}` ({}); prompt names must be unique",
                    prompt.name(),
                    origins(first, &prompt.mounted),
                ));
            }
            check_states(
                &mut problems,
                "prompt",
                prompt.name(),
                &prompt.states,
                &self.states,
            );
        }
        if !problems.is_empty() {
            return Err(BuildError { problems });
        }
        let settings = self.settings;
        let sealer = match settings.sealer(&self.info.name) {
            Ok(sealer) => sealer,
            Err(problem) => return Err(BuildError::one(problem)),
        };
        let runtime = settings.policy_runtime();
        let mut components = self.components;
        for tool in &mut components.tools {
            tool.refresh_info();
        }
        if let Err(problem) = settings.authorization.validate() {
            return Err(BuildError::one(problem));
        }
        let registry = Registry::new(
            components,
            settings.request_limits(),
            settings.authorization(),
        );
        let inner = Arc::new(ServerInner {
            info: self.info,
            routes: RwLock::new(Arc::new(Routes::new(registry, &runtime))),
            shared: RwLock::new(Arc::new(Shared {
                states: self.states,
                sealer,
            })),
            page_size: self.page_size,
            sessions: Arc::new(Sessions::default()),
            listeners: Mutex::new(Vec::new()),
            policy_runtime: RwLock::new(runtime.clone()),
            stats: ServerStats::default(),
            proxies: self.proxies.into_iter().map(Proxy::new).collect(),
            proxies_started: std::sync::Once::new(),
            dropped: tokio_util::sync::CancellationToken::new(),
            tasks: Arc::default(),
        });
        if let Some(store) = settings.task_records() {
            inner.tasks.set_store(store);
        }
        inner.stack_mounts(&settings.mounts);
        if let Some(upstreams) = &self.upstreams {
            super::proxy::configure(&inner.proxies, upstreams).map_err(BuildError::one)?;
        }
        let pipeline = settings.pipeline(&inner, &runtime.rate_limits);
        Ok(Server {
            inner,
            pipeline,
            settings: Arc::new(settings),
        })
    }
}

/// Where tools of one name all declare distinct versions, keep only the highest.
fn offer_highest_versions(tools: &mut Vec<ToolDef>) {
    let mut by_name: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, tool) in tools.iter().enumerate() {
        by_name.entry(tool.name()).or_default().push(i);
    }
    let mut dropped = vec![false; tools.len()];
    for indices in by_name.values().filter(|v| v.len() > 1) {
        let versions: Vec<&str> = indices
            .iter()
            .filter_map(|&i| tools[i].version.as_deref())
            .collect();
        let distinct: std::collections::HashSet<&str> = versions.iter().copied().collect();
        if versions.len() != indices.len() || distinct.len() != versions.len() {
            continue; // unversioned or repeated: reported as a collision
        }
        let highest = indices
            .iter()
            .copied()
            .max_by(|&a, &b| {
                compose::compare_versions(
                    tools[a].version.as_deref().unwrap_or_default(),
                    tools[b].version.as_deref().unwrap_or_default(),
                )
            })
            .unwrap_or(indices[0]);
        for &i in indices.iter().filter(|&&i| i != highest) {
            dropped[i] = true;
        }
    }
    let mut index = 0;
    tools.retain(|_| {
        index += 1;
        !dropped[index - 1]
    });
}

fn check_states(
    problems: &mut Vec<String>,
    kind: &str,
    name: &str,
    required: &[StateRequirement],
    states: &StateMap,
) {
    for requirement in required {
        if !states.contains(requirement.id) {
            problems.push(format!(
                "{kind} `{name}` takes `State<{ty}>` but the builder has no `{ty}`: add `.state(…)` with a `{ty}` value",
                ty = requirement.name
            ));
        }
    }
}

/// Where two colliding components came from, for the build error: the first one met, then
/// the second.
fn origins(first: &[String], second: &[String]) -> String {
    let origin = |mounted: &[String]| {
        if mounted.is_empty() {
            "added to the server directly".to_owned()
        } else {
            format!("from mount `{}`", mounted.join("/"))
        }
    };
    format!("one {}, one {}", origin(first), origin(second))
}

pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// Why a server could not be built: every problem found, one per line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildError {
    problems: Vec<String>,
}

impl BuildError {
    fn one(problem: String) -> Self {
        Self {
            problems: vec![problem],
        }
    }

    /// The problems found.
    pub fn problems(&self) -> &[String] {
        &self.problems
    }
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the server is not valid:")?;
        for problem in &self.problems {
            write!(f, "\n  - {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for BuildError {}

/// `[telemetry.audit.arguments]` names destructive tools of this server and arguments of
/// their input schemas; anything else is refused rather than silently never recorded.
fn check_audit_arguments(
    registry: &crate::registry::Registry,
    allowed: &std::collections::BTreeMap<String, Vec<String>>,
) -> Result<(), String> {
    for (name, arguments) in allowed {
        let Some(tool) = registry.tools.iter().find(|t| t.name() == name) else {
            return Err(format!(
                "`telemetry.audit.arguments.{name}`: this server has no tool `{name}`"
            ));
        };
        if !tool.info.is_destructive() {
            return Err(format!(
                "`telemetry.audit.arguments.{name}`: `{name}` is not destructive, and only calls to destructive tools are audited"
            ));
        }
        let properties = tool
            .input_schema()
            .get("properties")
            .and_then(|p| p.as_object());
        for argument in arguments {
            if !properties.is_some_and(|p| p.contains_key(argument)) {
                return Err(format!(
                    "`telemetry.audit.arguments.{name}`: `{name}` has no argument `{argument}`"
                ));
            }
        }
    }
    Ok(())
}
