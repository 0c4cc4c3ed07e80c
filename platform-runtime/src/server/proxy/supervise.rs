//! One proxy at run time: its sessions, its status, the task that connects, lists,
//! installs and reconnects, and the handlers that forward each request.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use rmcp::model::{
    CallToolRequestParams, ClientRequest, GetPromptRequestParams, JsonObject,
    ReadResourceRequestParams, ServerResult,
};
use rmcp::service::{Peer, PeerRequestOptions, RoleClient, ServiceError};
use serde_json::Value;
use tokio::sync::watch;

use super::client::{self, Session, Shared};
use super::{ProxySpec, Upstream};
use crate::ToolError;
use crate::handler::output::{OutputSpec, ToolResponse};
use crate::handler::{Context, RequestParts};
use crate::model::{PromptResult, ResourceContent};
use crate::registry::{Components, PromptDef, ResourceDef, ToolDef};
use crate::server::compose::{self, MountSource};
use crate::server::{Changed, ServerInner};
use crate::state::StateMap;

/// The least time between two listings of an upstream.
const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(1);

/// Where a proxy stands.
#[derive(Debug, Clone)]
enum Status {
    /// Not connected yet.
    Starting,
    Up,
    /// Why the upstream cannot be reached now.
    Down(String),
}

/// A proxy: the spec it was built from, its live sessions and its status.
pub(crate) struct Proxy {
    spec: ProxySpec,
    /// Where and how to reach the upstream: the spec's, or what configuration set.
    upstream: Mutex<Arc<Upstream>>,
    /// The name it is known by in logs and errors: its mount path.
    name: Arc<str>,
    /// The path of its components, outermost first.
    pub(crate) path: Vec<String>,
    shared: Arc<Shared>,
    peers: Mutex<Vec<Peer<RoleClient>>>,
    next: AtomicUsize,
    status: Mutex<Status>,
    /// Set once the first attempt to connect and list has ended, either way.
    settled: watch::Sender<bool>,
}

impl Proxy {
    pub(crate) fn new(spec: ProxySpec) -> Arc<Self> {
        let path = spec.path();
        Arc::new(Self {
            name: path.join("/").into(),
            path,
            upstream: Mutex::new(spec.upstream.clone()),
            spec,
            shared: Arc::default(),
            peers: Mutex::default(),
            next: AtomicUsize::new(0),
            status: Mutex::new(Status::Starting),
            settled: watch::channel(false).0,
        })
    }

    /// Its mount path, `/`-separated (how configuration names it).
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Where and how the upstream is reached now.
    pub(crate) fn upstream(&self) -> Arc<Upstream> {
        self.upstream
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Reach the upstream as `upstream` says from the next connection on.
    pub(crate) fn set_upstream(&self, upstream: Upstream) {
        *self.upstream.lock().unwrap_or_else(|e| e.into_inner()) = Arc::new(upstream);
    }

    /// Wait until the first attempt to connect and list has ended.
    pub(crate) async fn settled(&self) {
        let mut settled = self.settled.subscribe();
        let _ = settled.wait_for(|s| *s).await;
    }

    /// Why the proxy's components cannot be served now, if they cannot.
    pub(crate) fn unavailable(&self) -> Option<String> {
        match &*self.status.lock().unwrap_or_else(|e| e.into_inner()) {
            Status::Up => None,
            Status::Starting => Some(format!("upstream `{}` is still connecting", self.name)),
            Status::Down(reason) => {
                Some(format!("upstream `{}` is unavailable: {reason}", self.name))
            }
        }
    }

    /// Whether a tool or prompt named `name`, or a resource at `uri`, would be one of this
    /// proxy's (the names it gives them start with its prefixes).
    pub(crate) fn would_serve(&self, name_or_uri: &str) -> bool {
        let prefix = format!("{}_", self.path.join("_"));
        if name_or_uri.starts_with(&prefix) {
            return true;
        }
        let mut uri = name_or_uri.to_owned();
        for segment in &self.path {
            match compose::uri::unmount(segment, &uri) {
                Some(inner) => uri = inner,
                None => return false,
            }
        }
        true
    }

    fn set_status(&self, status: Status) {
        *self.status.lock().unwrap_or_else(|e| e.into_inner()) = status;
    }

    /// The next session to send on, in turn.
    fn peer(&self) -> Result<Peer<RoleClient>, ToolError> {
        if let Some(reason) = self.unavailable() {
            return Err(ToolError::unavailable(reason));
        }
        let peers = self.peers.lock().unwrap_or_else(|e| e.into_inner());
        let live: Vec<&Peer<RoleClient>> =
            peers.iter().filter(|p| !p.is_transport_closed()).collect();
        if live.is_empty() {
            return Err(ToolError::unavailable(format!(
                "upstream `{}` is unavailable: its connection closed",
                self.name
            )));
        }
        let turn = self.next.fetch_add(1, Ordering::Relaxed) % live.len();
        Ok(live[turn].clone())
    }

    /// Send `request` upstream within the call timeout, forwarding progress to `ctx` and
    /// the caller's cancellation upstream.
    async fn forward(
        self: &Arc<Self>,
        request: ClientRequest,
        ctx: &Context,
    ) -> Result<ServerResult, ToolError> {
        let peer = self.peer()?;
        let timeout = self.upstream().call_timeout;
        let options = PeerRequestOptions::with_timeout(timeout);
        let handle = peer
            .send_request_with_option(request, options)
            .await
            .map_err(|e| self.failed(&e))?;
        let _progress = self
            .shared
            .forward_progress(handle.progress_token.0.clone(), ctx.clone());
        let id = handle.id.clone();
        tokio::select! {
            result = handle.await_response() => result.map_err(|e| self.failed(&e)),
            () = ctx.cancelled() => {
                let notification = rmcp::model::CancelledNotification::new(
                    rmcp::model::CancelledNotificationParam::new(
                        Some(id),
                        Some("the caller cancelled".into()),
                    ),
                );
                if let Err(error) = peer.send_notification(notification.into()).await {
                    tracing::debug!(upstream = &*self.name, %error, "cancellation not forwarded");
                }
                Err(ToolError::unavailable("cancelled"))
            }
        }
    }

    /// The caller's error for a failed upstream request.
    fn failed(&self, error: &ServiceError) -> ToolError {
        match error {
            ServiceError::McpError(data) => {
                let message = format!("upstream `{}`: {}", self.name, data.message);
                match data.code.0 {
                    -32602 => ToolError::invalid_params(message),
                    -32002 => ToolError::not_found(message),
                    _ => ToolError::unavailable(message),
                }
            }
            ServiceError::Timeout { timeout } => ToolError::timeout(format!(
                "upstream `{}` did not answer within {timeout:?}",
                self.name
            )),
            other => {
                tracing::warn!(upstream = &*self.name, error = %other, "upstream request failed");
                self.shared.refresh.notify_one();
                ToolError::unavailable(format!("upstream `{}` is unavailable: {other}", self.name))
            }
        }
    }

    /// Keep the proxy connected for as long as the server lives: connect, list, install;
    /// list again on the upstream's `list_changed`; reconnect with backoff (1 s doubling
    /// to 30 s) when the sessions close or cannot be opened.
    pub(crate) async fn supervise(
        self: Arc<Self>,
        server: Weak<ServerInner>,
        dropped: tokio_util::sync::CancellationToken,
    ) {
        // Whatever ends this task (a panic included) leaves the proxy settled and down,
        // so nothing waits on it forever.
        let _stopped = Stopped(&self);
        let mut backoff = Duration::from_secs(1);
        loop {
            if dropped.is_cancelled() {
                return;
            }
            let connected = tokio::select! {
                connected = self.connect_all() => connected,
                () = dropped.cancelled() => return,
            };
            match connected {
                Ok((sessions, renew_at)) => {
                    backoff = Duration::from_secs(1);
                    let closed = self.watch_sessions(sessions);
                    self.set_status(Status::Up);
                    let listening = self.listen_for_changes().await;
                    tracing::info!(upstream = &*self.name, at = %self.upstream().describe(), "upstream connected");
                    self.refresh(&server).await;
                    self.settled.send_replace(true);
                    self.serve_until_closed(&server, closed, renew_at, &dropped)
                        .await;
                    if let Some(listening) = listening {
                        listening.abort();
                    }
                }
                Err(reason) => {
                    tracing::error!(upstream = &*self.name, %reason, retry_in = ?backoff, "upstream unreachable");
                    self.set_status(Status::Down(reason));
                    self.settled.send_replace(true);
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {}
                        () = dropped.cancelled() => return,
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                }
            }
        }
    }

    /// Open the pool's sessions.
    async fn connect_all(&self) -> Result<(Vec<Session>, Option<Instant>), String> {
        let upstream = self.upstream();
        let mut sessions = Vec::with_capacity(upstream.pool_size);
        let mut renew = None;
        for _ in 0..upstream.pool_size {
            let (session, renew_at) = client::connect(&upstream, &self.name, &self.shared).await?;
            renew = match (renew, renew_at) {
                (Some(a), Some(b)) => Some(std::cmp::min(a, b)),
                (a, b) => a.or(b),
            };
            sessions.push(session);
        }
        Ok((sessions, renew))
    }

    /// Keep the sessions' peers for calls, and watch the sessions end: the receiver says
    /// when the first one did.
    fn watch_sessions(&self, sessions: Vec<Session>) -> SessionsWatch {
        let (closed_tx, closed) = tokio::sync::mpsc::channel(sessions.len().max(1));
        let mut tokens = Vec::new();
        let mut peers = Vec::new();
        for session in sessions {
            peers.push(session.peer().clone());
            tokens.push(session.cancellation_token());
            let closed_tx = closed_tx.clone();
            tokio::spawn(async move {
                let _ = session.waiting().await;
                let _ = closed_tx.send(()).await;
            });
        }
        *self.peers.lock().unwrap_or_else(|e| e.into_inner()) = peers;
        SessionsWatch { closed, tokens }
    }

    /// A 2026-07-28 upstream announces list changes only on a `subscriptions/listen`
    /// stream: open one on the first session and turn what it says into refreshes.
    async fn listen_for_changes(&self) -> Option<tokio::task::JoinHandle<()>> {
        if self.upstream().era != crate::model::Era::Modern {
            return None;
        }
        let peer = self.peer().ok()?;
        let mut filter = rmcp::model::SubscriptionFilter::new();
        filter.tools_list_changed = Some(true);
        filter.prompts_list_changed = Some(true);
        filter.resources_list_changed = Some(true);
        let mut subscription = match peer.listen(filter).await {
            Ok(subscription) => subscription,
            Err(error) => {
                tracing::warn!(upstream = &*self.name, %error, "the upstream offers no list-change subscription; its lists are read once per connection");
                return None;
            }
        };
        let shared = Arc::downgrade(&self.shared);
        Some(tokio::spawn(async move {
            while let Ok(Some(_)) = subscription.next().await {
                match shared.upgrade() {
                    Some(shared) => shared.refresh.notify_one(),
                    None => return,
                }
            }
        }))
    }

    async fn serve_until_closed(
        self: &Arc<Self>,
        server: &Weak<ServerInner>,
        mut watch: SessionsWatch,
        renew_at: Option<Instant>,
        dropped: &tokio_util::sync::CancellationToken,
    ) {
        let renew = async {
            match renew_at {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(renew);
        let mut last_refresh = Instant::now();
        loop {
            tokio::select! {
                () = self.shared.refresh.notified() => {
                    if self.peers_closed() {
                        break;
                    }
                    // However often the upstream says its lists changed, they are read
                    // at most once a second (the signals in between coalesce).
                    let next = last_refresh + MIN_REFRESH_INTERVAL;
                    tokio::time::sleep_until(next.into()).await;
                    last_refresh = Instant::now();
                    self.refresh(server).await;
                }
                _ = watch.closed.recv() => {
                    tracing::warn!(upstream = &*self.name, "upstream connection closed");
                    break;
                }
                () = &mut renew => {
                    tracing::info!(upstream = &*self.name, "renewing the upstream session before its token expires");
                    break;
                }
                () = dropped.cancelled() => break,
            }
        }
        self.set_status(Status::Down(
            "its connection closed; reconnecting".to_owned(),
        ));
        for token in watch.tokens {
            token.cancel();
        }
        self.peers.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    fn peers_closed(&self) -> bool {
        self.peers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .all(Peer::is_transport_closed)
    }

    /// List the upstream's components and install them in the server, replacing the last
    /// list; a failed listing keeps the last list.
    async fn refresh(self: &Arc<Self>, server: &Weak<ServerInner>) {
        let components = match self.list().await {
            Ok(components) => components,
            Err(reason) => {
                tracing::warn!(upstream = &*self.name, %reason, "upstream listing failed; the last list stays");
                return;
            }
        };
        let Some(server) = server.upgrade() else {
            return;
        };
        self.install(&server, components);
    }

    /// Every tool, prompt, resource and template of the upstream as forwarding components,
    /// named through the mounts above the proxy.
    async fn list(self: &Arc<Self>) -> Result<Components, String> {
        let peer = self.peer().map_err(|e| e.to_string())?;
        let upstream = self.upstream();
        let max = upstream.max_components;
        let timeout = upstream.call_timeout;
        async fn within<T>(
            timeout: Duration,
            what: impl Future<Output = Result<T, ServiceError>>,
        ) -> Result<T, String> {
            tokio::time::timeout(timeout, what)
                .await
                .map_err(|_| format!("listing took over {timeout:?}"))?
                .map_err(|e| e.to_string())
        }
        let capabilities = peer.peer_info().map(|info| info.capabilities.clone());
        let has = |kind: fn(&rmcp::model::ServerCapabilities) -> bool| {
            capabilities.as_ref().is_none_or(kind)
        };
        let mut components = Components::default();
        if has(|c| c.tools.is_some()) {
            let tools = within(timeout, peer.list_all_tools()).await?;
            for tool in self.bounded("tools", tools, max) {
                components.tools.push(self.tool(tool));
            }
        }
        if has(|c| c.prompts.is_some()) {
            let prompts = within(timeout, peer.list_all_prompts()).await?;
            for prompt in self.bounded("prompts", prompts, max) {
                components.prompts.push(self.prompt(prompt));
            }
        }
        if has(|c| c.resources.is_some()) {
            let resources = within(timeout, peer.list_all_resources()).await?;
            for resource in self.bounded("resources", resources, max) {
                match self.resource(&resource.uri, &resource.name) {
                    Ok(def) => components.resources.push(with_resource_fields(
                        def,
                        resource.title.clone(),
                        resource.description.clone(),
                        resource.mime_type.clone(),
                    )),
                    Err(reason) => {
                        tracing::warn!(upstream = &*self.name, %reason, "upstream resource left out");
                    }
                }
            }
            let templates = within(timeout, peer.list_all_resource_templates()).await?;
            for template in self.bounded("resource templates", templates, max) {
                match self.resource(&template.uri_template, &template.name) {
                    Ok(def) => components.resources.push(with_resource_fields(
                        def,
                        template.title.clone(),
                        template.description.clone(),
                        template.mime_type.clone(),
                    )),
                    Err(reason) => {
                        tracing::warn!(upstream = &*self.name, %reason, "upstream template left out");
                    }
                }
            }
        }
        // Named, restricted and transformed by every mount on the way, innermost first.
        let mut source = MountSource {
            components,
            states: StateMap::default(),
            policies: Vec::new(),
            problems: Vec::new(),
            proxies: Vec::new(),
        };
        // The first mount names only this upstream's components: what it transforms must be
        // among them. Mounts further out hold other components too.
        for (depth, (prefix, mount)) in self.spec.steps.iter().enumerate() {
            source = compose::mount_as(prefix, source, mount, depth == 0);
        }
        for problem in &source.problems {
            tracing::warn!(upstream = &*self.name, problem = %problem, "upstream component left out");
        }
        let mut components = source.components;
        for tool in &mut components.tools {
            tool.refresh_info();
        }
        Ok(components)
    }

    fn bounded<T>(&self, what: &str, mut items: Vec<T>, max: usize) -> Vec<T> {
        if items.len() > max {
            tracing::warn!(
                upstream = &*self.name,
                what,
                listed = items.len(),
                max,
                "upstream lists more than the proxy takes; the rest are left out"
            );
            items.truncate(max);
        }
        items
    }

    /// Replace this proxy's components in the server with `components`, keeping each
    /// one's enabled flag by name, and tell clients which lists changed.
    fn install(&self, server: &Arc<ServerInner>, mut components: Components) {
        let path = &self.path;
        let mut changed = Changed::default();
        server.rebuild_routes(|current| {
            self.admit(current, &mut components);
            let disabled = |mounted: &Vec<String>, enabled: bool| mounted == path && !enabled;
            let disabled_tools: HashSet<String> = current
                .tools
                .iter()
                .filter(|t| disabled(&t.mounted, t.enabled))
                .map(|t| t.name().to_owned())
                .collect();
            let disabled_prompts: HashSet<String> = current
                .prompts
                .iter()
                .filter(|p| disabled(&p.mounted, p.enabled))
                .map(|p| p.name().to_owned())
                .collect();
            let disabled_resources: HashSet<String> = current
                .resources
                .iter()
                .filter(|r| disabled(&r.mounted, r.enabled))
                .map(|r| r.uri().to_owned())
                .collect();
            for tool in &mut components.tools {
                tool.enabled = !disabled_tools.contains(tool.name());
            }
            for prompt in &mut components.prompts {
                prompt.enabled = !disabled_prompts.contains(prompt.name());
            }
            for resource in &mut components.resources {
                resource.enabled = !disabled_resources.contains(resource.uri());
            }
            changed = Changed {
                tools: differs(
                    current.tools.iter().filter(|t| &t.mounted == path),
                    &components.tools,
                    ToolDef::to_json,
                ),
                prompts: differs(
                    current.prompts.iter().filter(|p| &p.mounted == path),
                    &components.prompts,
                    |p| serde_json::to_value(p.as_prompt()).unwrap_or_default(),
                ),
                resources: differs(
                    current.resources.iter().filter(|r| &r.mounted == path),
                    &components.resources,
                    ResourceDef::to_json,
                ),
            };
            current.tools.retain(|t| &t.mounted != path);
            current.prompts.retain(|p| &p.mounted != path);
            current.resources.retain(|r| &r.mounted != path);
            current.tools.append(&mut components.tools);
            current.prompts.append(&mut components.prompts);
            current.resources.append(&mut components.resources);
            // Handlers are new on every listing: the routes are rebuilt either way.
            true
        });
        if changed.any() {
            tracing::info!(
                upstream = &*self.name,
                ?changed,
                "upstream components installed"
            );
            crate::server::ServerHandle::from_inner(server.clone()).notify_lists_changed(changed);
        }
    }

    /// Leave out what the upstream sent that this server cannot take: a tool or prompt
    /// name that is not a valid name, and a name or URI the upstream repeats or the rest of
    /// the server already uses (a hostile or careless upstream cannot shadow a local
    /// component).
    fn admit(&self, current: &Components, components: &mut Components) {
        let path = &self.path;
        let upstream = &*self.name;
        let named = |name: &str| crate::server::builder::valid_name(name) && name.len() <= 128;
        admit_unique(
            upstream,
            "tool",
            current
                .tools
                .iter()
                .filter(|t| &t.mounted != path)
                .map(ToolDef::name),
            &mut components.tools,
            ToolDef::name,
            named,
        );
        admit_unique(
            upstream,
            "prompt",
            current
                .prompts
                .iter()
                .filter(|p| &p.mounted != path)
                .map(PromptDef::name),
            &mut components.prompts,
            PromptDef::name,
            named,
        );
        admit_unique(
            upstream,
            "resource",
            current
                .resources
                .iter()
                .filter(|r| &r.mounted != path)
                .map(ResourceDef::uri),
            &mut components.resources,
            ResourceDef::uri,
            |_| true,
        );
    }

    /// A forwarding tool for the upstream's `tool`.
    fn tool(self: &Arc<Self>, tool: rmcp::model::Tool) -> ToolDef {
        let proxy = self.clone();
        let name: Arc<str> = tool.name.as_ref().into();
        let mut def = ToolDef::new(
            tool.name.to_string(),
            "",
            (*tool.input_schema).clone(),
            OutputSpec::content(),
            move |parts: RequestParts| {
                let proxy = proxy.clone();
                let name = name.clone();
                async move {
                    let ctx = Context::new(&parts);
                    let mut params = CallToolRequestParams::new(name.to_string());
                    params.arguments = parts.arguments;
                    let request =
                        ClientRequest::CallToolRequest(rmcp::model::CallToolRequest::new(params));
                    match proxy.forward(request, &ctx).await? {
                        ServerResult::CallToolResult(result) => Ok(ToolResponse(
                            rmcp::model::CallToolResponse::Complete(result),
                        )),
                        _ => Err(ToolError::unavailable(format!(
                            "upstream `{}` answered a tool call with something else",
                            proxy.name
                        ))),
                    }
                }
            },
        );
        def.descriptor = tool;
        def.enabled = true;
        def
    }

    /// A forwarding prompt for the upstream's `prompt`.
    fn prompt(self: &Arc<Self>, prompt: rmcp::model::Prompt) -> PromptDef {
        let proxy = self.clone();
        let name: Arc<str> = prompt.name.as_str().into();
        let mut properties = JsonObject::new();
        let mut required = Vec::new();
        for argument in prompt.arguments.iter().flatten() {
            let mut schema = JsonObject::new();
            schema.insert("type".into(), Value::from("string"));
            if let Some(description) = &argument.description {
                schema.insert("description".into(), Value::from(description.clone()));
            }
            properties.insert(argument.name.clone(), Value::Object(schema));
            if argument.required == Some(true) {
                required.push(Value::from(argument.name.clone()));
            }
        }
        let mut schema = JsonObject::new();
        schema.insert("type".into(), Value::from("object"));
        schema.insert("properties".into(), Value::Object(properties));
        if !required.is_empty() {
            schema.insert("required".into(), Value::Array(required));
        }
        let mut def = PromptDef::new(prompt.name.clone(), schema, move |parts: RequestParts| {
            let proxy = proxy.clone();
            let name = name.clone();
            async move {
                let ctx = Context::new(&parts);
                let mut params = GetPromptRequestParams::new(name.to_string());
                params.arguments = parts.arguments;
                let request =
                    ClientRequest::GetPromptRequest(rmcp::model::GetPromptRequest::new(params));
                match proxy.forward(request, &ctx).await? {
                    ServerResult::GetPromptResult(result) => Ok(PromptResult::from_wire(result)),
                    _ => Err(ToolError::unavailable(format!(
                        "upstream `{}` answered a prompt with something else",
                        proxy.name
                    ))),
                }
            }
        });
        def.title = prompt.title.clone();
        def.description = prompt.description.clone();
        def
    }

    /// A forwarding resource or template at the upstream's `uri`.
    fn resource(self: &Arc<Self>, uri: &str, name: &str) -> Result<ResourceDef, String> {
        let proxy = self.clone();
        ResourceDef::new(
            uri,
            name.to_owned(),
            JsonObject::new(),
            move |parts: RequestParts| {
                let proxy = proxy.clone();
                async move {
                    let ctx = Context::new(&parts);
                    // The mount gave the handler the URI as the upstream names it.
                    let params = ReadResourceRequestParams::new(parts.component().to_owned());
                    let request = ClientRequest::ReadResourceRequest(
                        rmcp::model::ReadResourceRequest::new(params),
                    );
                    match proxy.forward(request, &ctx).await? {
                        ServerResult::ReadResourceResult(result) => Ok(result
                            .contents
                            .into_iter()
                            .map(|c| ResourceContent::from_wire(c).1)
                            .collect()),
                        _ => Err(ToolError::unavailable(format!(
                            "upstream `{}` answered a read with something else",
                            proxy.name
                        ))),
                    }
                }
            },
        )
        .map_err(|e| format!("`{uri}`: {e}"))
    }
}

/// Keep the `items` whose key is `valid`, not `taken` by the rest of the server and not
/// repeated; log each one left out.
fn admit_unique<'a, T>(
    upstream: &str,
    kind: &str,
    taken: impl Iterator<Item = &'a str>,
    items: &mut Vec<T>,
    key: impl Fn(&T) -> &str,
    valid: impl Fn(&str) -> bool,
) {
    let mut seen: HashSet<String> = taken.map(str::to_owned).collect();
    items.retain(|item| {
        let key = key(item);
        let admitted = valid(key) && seen.insert(key.to_owned());
        if !admitted {
            tracing::warn!(
                upstream,
                kind,
                bytes = key.len(),
                "upstream component left out: invalid, repeated or taken name"
            );
        }
        admitted
    });
}

/// Whether `after` lists anything other than `before`, as clients see each.
fn differs<'a, T: 'a>(
    before: impl Iterator<Item = &'a T>,
    after: &[T],
    listed: impl Fn(&T) -> Value,
) -> bool {
    let before: Vec<Value> = before.map(&listed).collect();
    let after: Vec<Value> = after.iter().map(&listed).collect();
    before != after
}

fn with_resource_fields(
    mut def: ResourceDef,
    title: Option<String>,
    description: Option<String>,
    mime_type: Option<String>,
) -> ResourceDef {
    def.title = title;
    def.description = description;
    def.mime_type = mime_type;
    def
}

/// Marks a proxy down and settled when its task ends.
struct Stopped<'a>(&'a Proxy);

impl Drop for Stopped<'_> {
    fn drop(&mut self) {
        let proxy = self.0;
        if std::thread::panicking() {
            tracing::error!(upstream = &*proxy.name, "the proxy task failed");
        }
        proxy.set_status(Status::Down("the proxy stopped".to_owned()));
        proxy.settled.send_replace(true);
    }
}

/// The end of a proxy's sessions, and how to close them.
struct SessionsWatch {
    closed: tokio::sync::mpsc::Receiver<()>,
    tokens: Vec<rmcp::service::RunningServiceCancellationToken>,
}
