//! Remote MCP servers mounted as if they were local: [`Upstream`] says where the server is
//! (a streamable HTTP URL, or a command started as a child process speaking stdio), how the
//! proxy authenticates to it (its own credential, never the caller's) and how long and how
//! much it waits.
//!
//! Mounted like any server (`.mount("remote", Upstream::http(url))`), an upstream becomes a
//! proxy the server runs: a supervisor task connects (a bounded pool of sessions), lists the
//! upstream's tools, prompts, resources and templates, turns each into a component whose
//! handler forwards the request (progress and cancellation included), names them through
//! the mounts above it like any mounted component, and installs them in the registry. The
//! upstream's `list_changed` makes it list again; a lost connection leaves the last list in
//! place, answers calls with a clear "unavailable" error and reconnects with backoff. Every
//! call of the upstream passes one circuit breaker and one in-flight bound.

mod client;
mod supervise;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub(crate) use supervise::Proxy;

use super::compose::{Mount, MountPolicies, MountSource, Mountable};
use crate::component::policy::CircuitBreakerPolicy;
use std::collections::BTreeMap;

use crate::config::{Secret, UpstreamSection};
use crate::model::Era;
use crate::registry::Components;
use crate::state::StateMap;

/// A remote MCP server to mount: reached over streamable HTTP ([`Upstream::http`]) or
/// started as a child process speaking stdio ([`Upstream::stdio`]).
///
/// ```
/// use platform_runtime::prelude::*;
/// use platform_runtime::config::Secret;
/// use platform_runtime::server::Upstream;
/// use std::time::Duration;
///
/// let search = Upstream::http("https://search.internal.example/mcp")
///     .bearer(Secret::new("token-of-the-proxy".into()))
///     .call_timeout(Duration::from_secs(10));
/// let files = Upstream::stdio("mcp-files").arg("--root").arg("/srv/files");
/// let server = Server::builder("platform")
///     .mount("search", search)
///     .mount("files", files)
///     .build()
///     .unwrap();
/// # let _ = server;
/// ```
#[derive(Clone)]
#[must_use = "an upstream does nothing until it is mounted"]
pub struct Upstream {
    pub(crate) target: Target,
    pub(crate) credential: Option<Credential>,
    pub(crate) era: Era,
    pub(crate) call_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) pool_size: usize,
    pub(crate) max_in_flight: usize,
    pub(crate) breaker: CircuitBreakerPolicy,
    pub(crate) max_components: usize,
}

/// Where the upstream is.
#[derive(Clone)]
pub(crate) enum Target {
    Http {
        url: String,
    },
    Stdio {
        command: String,
        args: Vec<String>,
        env: Vec<(String, Secret)>,
        current_dir: Option<PathBuf>,
    },
}

/// How the proxy proves who it is to an HTTP upstream.
#[derive(Clone)]
pub(crate) enum Credential {
    /// `Authorization: Bearer <token>`.
    Bearer(Secret),
    /// A header of the upstream's choosing (`x-api-key: <key>`).
    Header { name: String, value: Secret },
    /// OAuth 2.0 client credentials: a token from `token_url`, renewed before it expires.
    ClientCredentials {
        token_url: String,
        client_id: String,
        client_secret: Secret,
        scopes: Vec<String>,
    },
}

/// Calls in flight to one upstream by default.
const DEFAULT_MAX_IN_FLIGHT: usize = 64;

/// The most tools, prompts, resources or templates taken from one upstream, each.
const DEFAULT_MAX_COMPONENTS: usize = 1_000;

impl Upstream {
    fn new(target: Target) -> Self {
        Self {
            target,
            credential: None,
            era: Era::Legacy,
            call_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            pool_size: 1,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            breaker: CircuitBreakerPolicy {
                failure_ratio: 0.5,
                window: Duration::from_secs(30),
                min_calls: 5,
                cooldown: Duration::from_secs(10),
            },
            max_components: DEFAULT_MAX_COMPONENTS,
        }
    }

    /// An MCP server at a streamable HTTP endpoint (`https://host/mcp`).
    pub fn http(url: impl Into<String>) -> Self {
        Self::new(Target::Http { url: url.into() })
    }

    /// An MCP server started as a child process speaking newline-delimited JSON-RPC on its
    /// standard input and output. The child starts with an empty environment apart from
    /// `PATH` and what [`Upstream::env`] gives it, so this process's secrets do not leak
    /// into it; its standard error goes to this process's.
    pub fn stdio(command: impl Into<String>) -> Self {
        Self::new(Target::Stdio {
            command: command.into(),
            args: Vec::new(),
            env: Vec::new(),
            current_dir: None,
        })
    }

    /// Add an argument to the child process's command line (stdio upstreams).
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        if let Target::Stdio { args, .. } = &mut self.target {
            args.push(arg.into());
        }
        self
    }

    /// Add arguments to the child process's command line (stdio upstreams).
    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, more: I) -> Self {
        if let Target::Stdio { args, .. } = &mut self.target {
            args.extend(more.into_iter().map(Into::into));
        }
        self
    }

    /// Set an environment variable of the child process (stdio upstreams): how a stdio
    /// server is given its credentials.
    pub fn env(mut self, name: impl Into<String>, value: Secret) -> Self {
        if let Target::Stdio { env, .. } = &mut self.target {
            env.push((name.into(), value));
        }
        self
    }

    /// The child process's working directory (stdio upstreams).
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        if let Target::Stdio { current_dir, .. } = &mut self.target {
            *current_dir = Some(dir.into());
        }
        self
    }

    /// Authenticate to an HTTP upstream with `Authorization: Bearer <token>`.
    pub fn bearer(mut self, token: Secret) -> Self {
        self.credential = Some(Credential::Bearer(token));
        self
    }

    /// Authenticate to an HTTP upstream with a key in a header of its choosing
    /// (`x-api-key`).
    pub fn api_key(mut self, header: impl Into<String>, key: Secret) -> Self {
        self.credential = Some(Credential::Header {
            name: header.into(),
            value: key,
        });
        self
    }

    /// Authenticate to an HTTP upstream with an OAuth 2.0 access token obtained from
    /// `token_url` by the client-credentials grant (`client_secret_post`), with `scopes`;
    /// the session is renewed with a new token before the old one expires.
    pub fn client_credentials<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        token_url: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: Secret,
        scopes: I,
    ) -> Self {
        self.credential = Some(Credential::ClientCredentials {
            token_url: token_url.into(),
            client_id: client_id.into(),
            client_secret,
            scopes: scopes.into_iter().map(Into::into).collect(),
        });
        self
    }

    /// The protocol era to speak to the upstream: [`Era::Legacy`] (`initialize`, the
    /// default: what most servers speak) or [`Era::Modern`] (2026-07-28).
    pub fn era(mut self, era: Era) -> Self {
        self.era = era;
        self
    }

    /// How long one forwarded request may take (default 30 s); past it the upstream is told
    /// to cancel and the caller gets a timeout error.
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = timeout;
        self
    }

    /// How long connecting (and the handshake) may take (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How many sessions (connections, or child processes) to keep open to the upstream,
    /// calls spread over them in turn (default 1, at most 16).
    pub fn pool_size(mut self, size: usize) -> Self {
        self.pool_size = size.clamp(1, 16);
        self
    }

    /// At most `limit` calls in flight to the upstream (default 64); more are refused at
    /// once with a "busy" error.
    pub fn max_in_flight(mut self, limit: usize) -> Self {
        self.max_in_flight = limit.max(1);
        self
    }

    /// The circuit breaker every call of the upstream passes (default: open at half the
    /// calls failing in 30 s, from 5 calls, for 10 s).
    pub fn circuit_breaker(mut self, policy: CircuitBreakerPolicy) -> Self {
        self.breaker = policy;
        self
    }

    /// At most `max` tools, and as many prompts, resources and templates, taken from the
    /// upstream (default 1 000 each); past it the rest are left out with a warning.
    pub fn max_components(mut self, max: usize) -> Self {
        self.max_components = max;
        self
    }

    /// Where it is, for logs and errors: the URL, or the command.
    pub(crate) fn describe(&self) -> String {
        match &self.target {
            Target::Http { url } => url.clone(),
            Target::Stdio { command, .. } => format!("`{command}` over stdio"),
        }
    }

    /// What is wrong with this configuration, if anything.
    pub(crate) fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        match &self.target {
            Target::Http { url } => {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    problems.push(format!(
                        "the upstream URL `{url}` is not an http:// or https:// URL"
                    ));
                }
            }
            Target::Stdio { command, .. } => {
                if command.trim().is_empty() {
                    problems.push("the upstream command is empty".to_owned());
                }
                if self.credential.is_some() {
                    problems.push(
                        "a stdio upstream takes its credentials through `env`, not `bearer`, `api_key` or `client_credentials`".to_owned(),
                    );
                }
            }
        }
        if let Some(Credential::Header { name, .. }) = &self.credential
            && axum::http::HeaderName::from_bytes(name.as_bytes()).is_err()
        {
            problems.push(format!("`{name}` is not a valid header name"));
        }
        if self.call_timeout.is_zero() || self.connect_timeout.is_zero() {
            problems.push("the upstream timeouts must be above zero".to_owned());
        }
        problems
    }
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Where, not how: no credential or environment value.
        f.debug_struct("Upstream")
            .field("target", &self.describe())
            .field("era", &self.era)
            .finish_non_exhaustive()
    }
}

/// Apply `[upstreams.<mount>]` to the proxies: each section names a mounted remote
/// server by its mount path and replaces what it sets; anything that cannot apply is
/// refused.
pub(crate) fn configure(
    proxies: &[Arc<Proxy>],
    upstreams: &BTreeMap<String, UpstreamSection>,
) -> Result<(), String> {
    for (name, section) in upstreams {
        let key = |k: &str| format!("`upstreams.{name}.{k}`");
        let Some(proxy) = proxies.iter().find(|p| p.name() == name) else {
            let mounted: Vec<&str> = proxies.iter().map(|p| p.name()).collect();
            return Err(if mounted.is_empty() {
                format!("`upstreams.{name}`: no remote server is mounted in this server")
            } else {
                format!(
                    "`upstreams.{name}`: no remote server is mounted at `{name}`; mounted: {}",
                    mounted.join(", ")
                )
            });
        };
        let mut upstream = (*proxy.upstream()).clone();
        match (&section.url, &section.command) {
            (Some(_), Some(_)) => {
                return Err(format!(
                    "`upstreams.{name}`: set `url` or `command`, not both"
                ));
            }
            (Some(url), None) => {
                if !section.args.is_empty() {
                    return Err(format!("{} applies only with `command`", key("args")));
                }
                upstream.target = Target::Http { url: url.clone() };
            }
            (None, Some(command)) => {
                let (env, current_dir) = match &upstream.target {
                    Target::Stdio {
                        env, current_dir, ..
                    } => (env.clone(), current_dir.clone()),
                    Target::Http { .. } => (Vec::new(), None),
                };
                upstream.target = Target::Stdio {
                    command: command.clone(),
                    args: section.args.clone(),
                    env,
                    current_dir,
                };
                // A credential for HTTP does not go to a child process.
                upstream.credential = None;
            }
            (None, None) => {
                if !section.args.is_empty() {
                    return Err(format!("{} applies only with `command`", key("args")));
                }
            }
        }
        let bearer = section.bearer_token(name).map_err(|e| e.to_string())?;
        match (bearer, &section.api_key, &section.api_key_header) {
            (Some(_), Some(_), _) => {
                return Err(format!(
                    "`upstreams.{name}`: set `bearer` or `api_key`, not both"
                ));
            }
            (Some(token), None, None) => upstream.credential = Some(Credential::Bearer(token)),
            (None, Some(key_value), Some(header)) => {
                upstream.credential = Some(Credential::Header {
                    name: header.clone(),
                    value: key_value.clone(),
                });
            }
            (None, Some(_), None) => {
                return Err(format!(
                    "{} needs {}: the header the key goes in",
                    key("api_key"),
                    key("api_key_header")
                ));
            }
            (_, None, Some(_)) => {
                return Err(format!(
                    "{} applies only with {}",
                    key("api_key_header"),
                    key("api_key")
                ));
            }
            (None, None, None) => {}
        }
        if let Some(timeout) = section.call_timeout {
            upstream.call_timeout = timeout.0;
        }
        if let Some(timeout) = section.connect_timeout {
            upstream.connect_timeout = timeout.0;
        }
        if let Some(size) = section.pool_size {
            if !(1..=16).contains(&size) {
                return Err(format!("{} is {size}: use 1 to 16", key("pool_size")));
            }
            upstream.pool_size = size;
        }
        let problems = upstream.problems();
        if !problems.is_empty() {
            return Err(format!("`upstreams.{name}`: {}", problems.join("; ")));
        }
        proxy.set_upstream(upstream);
    }
    Ok(())
}

/// A proxy to build: the upstream, and the mounts it passes on its way to the server,
/// innermost first (each names, restricts and transforms its components).
#[derive(Clone)]
pub(crate) struct ProxySpec {
    pub(crate) upstream: Arc<Upstream>,
    pub(crate) steps: Vec<(String, Mount)>,
}

impl ProxySpec {
    /// The mount path of its components, outermost prefix first.
    pub(crate) fn path(&self) -> Vec<String> {
        self.steps.iter().rev().map(|(p, _)| p.clone()).collect()
    }
}

impl Mountable for Upstream {
    fn into_mount(self) -> MountSource {
        MountSource {
            problems: self.problems(),
            components: Components::default(),
            states: StateMap::default(),
            policies: vec![MountPolicies::upstream(&self)],
            proxies: vec![ProxySpec {
                upstream: Arc::new(self),
                steps: Vec::new(),
            }],
        }
    }
}
