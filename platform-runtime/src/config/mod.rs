//! Layered configuration: defaults < `platform.toml` < `platform.<profile>.toml` <
//! environment (`PLATFORM_…`, nested with `__`) < command-line flags.
//!
//! Typed sections for the framework (`transport`, `limits`, `telemetry`, `sealing`) reject
//! unknown keys with the key path and a suggestion; other top-level sections belong to the
//! application and are read with [`Config::section`]. Configuration is applied or refused:
//! every framework key is applied by `serve()`, a key that applies only to a transport not in
//! use is an error, and so is `[redis]` in a build without the `redis` feature. Secrets are
//! [`Secret`]s: from the environment or a `*_file` path,
//! never shown by `Debug`, logs, error messages or the `config` command.

mod secret;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Format as _, Serialized, Toml};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub use secret::Secret;
use secret::secret_config_key;
pub(crate) use secret::secret_name;

/// The framework's sections, in order.
const SECTIONS: &[&str] = &[
    "transport",
    "limits",
    "telemetry",
    "sealing",
    "auth",
    "upstreams",
    "redis",
];

/// Sections whose names are kept for features not built in: setting any key in them is an
/// error, never a silent no-op.
#[cfg(not(feature = "redis"))]
const RESERVED: &[(&str, &str)] = &[(
    "redis",
    "this build of the server has no Redis support (the `redis` feature of platform-runtime is off); every store is in process",
)];
#[cfg(feature = "redis")]
const RESERVED: &[(&str, &str)] = &[];

/// `[transport]` keys that only the HTTP transport applies.
const HTTP_KEYS: &[&str] = &[
    "bind",
    "path",
    "allowed_hosts",
    "allowed_origins",
    "shutdown_grace",
    "drain_delay",
    "session_idle_timeout",
    "session_sleep_after",
    "header_read_timeout",
    "idle_timeout",
    "body_read_timeout",
    "max_connections",
    "max_sessions",
    "max_sessions_per_client",
];

/// A duration written as `"10s"`, `"250ms"`, `"1m30s"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigDuration(pub Duration);

impl<'de> Deserialize<'de> for ConfigDuration {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        platform_duration::parse(&text)
            .map(ConfigDuration)
            .map_err(|e| serde::de::Error::custom(format!("`{text}` is not a duration: {e}")))
    }
}

impl Serialize for ConfigDuration {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&platform_duration::format(self.0))
    }
}

/// `[transport]`: how the server is reached.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct TransportSection {
    /// `"stdio"` (default) or `"http"`.
    pub kind: String,
    /// Where HTTP listens.
    pub bind: std::net::SocketAddr,
    /// The HTTP endpoint's path.
    pub path: String,
    /// `Host` names accepted besides loopback.
    pub allowed_hosts: Vec<String>,
    /// `Origin`s accepted besides loopback.
    pub allowed_origins: Vec<String>,
    /// The largest request body (HTTP) or message (stdio), in bytes.
    pub max_body_bytes: usize,
    /// How long in-flight requests may finish after a shutdown signal.
    pub shutdown_grace: ConfigDuration,
    /// On SIGTERM, how long `/readyz` answers 503 before the listener closes.
    pub drain_delay: ConfigDuration,
    /// How long an idle legacy session lives.
    pub session_idle_timeout: ConfigDuration,
    /// How long a legacy session goes unused, with no stream open, before it is put to sleep
    /// (its SDK worker freed, a compact record kept); `"0s"`: never.
    pub session_sleep_after: ConfigDuration,
    /// Serve plain requests on the platform's own path: over HTTP, 2026-07-28 requests and
    /// requests in legacy sessions without the SDK's per-request session or session worker
    /// (see [`crate::transport::http::HttpConfig::direct_dispatch`]); on stdio, requests
    /// on the platform's loop (see [`crate::transport::stdio::StdioConfig::direct_dispatch`]).
    pub direct_dispatch: bool,
    /// How long a client may take to send a request's head, from its first byte (or from
    /// the connection's opening, for the first request).
    pub header_read_timeout: ConfigDuration,
    /// How long a keep-alive connection may sit idle between requests.
    pub idle_timeout: ConfigDuration,
    /// How long a client may take to send a request's body, from its head.
    pub body_read_timeout: ConfigDuration,
    /// The most connections served at once.
    pub max_connections: usize,
    /// The most legacy sessions live at once.
    pub max_sessions: usize,
    /// The most legacy sessions live at once from one client address.
    pub max_sessions_per_client: usize,
}

impl Default for TransportSection {
    /// The defaults of both transports (`HttpConfig::default()` is made from these).
    fn default() -> Self {
        Self {
            kind: "stdio".into(),
            bind: std::net::SocketAddr::from(([127, 0, 0, 1], 8000)),
            path: "/mcp".into(),
            allowed_hosts: Vec::new(),
            allowed_origins: Vec::new(),
            max_body_bytes: 4 << 20,
            shutdown_grace: ConfigDuration(Duration::from_secs(10)),
            drain_delay: ConfigDuration(Duration::from_secs(5)),
            session_idle_timeout: ConfigDuration(Duration::from_secs(300)),
            session_sleep_after: ConfigDuration(Duration::from_secs(30)),
            direct_dispatch: true,
            header_read_timeout: ConfigDuration(Duration::from_secs(10)),
            idle_timeout: ConfigDuration(Duration::from_secs(60)),
            body_read_timeout: ConfigDuration(Duration::from_secs(30)),
            max_connections: 1024,
            max_sessions: 1024,
            max_sessions_per_client: 128,
        }
    }
}

/// `[limits]`: server-wide limits, applied by `serve()` over what the builder set.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsSection {
    /// Requests in flight (every method) before load shedding.
    pub max_in_flight: Option<usize>,
    /// The largest tool, resource or prompt payload, in bytes.
    pub max_response_bytes: Option<usize>,
    /// The timeout of tools that declare none, and of every resource read and prompt get.
    pub timeout: Option<ConfigDuration>,
    /// The longest resource URI accepted (default 8192 bytes).
    pub max_uri_bytes: Option<usize>,
    /// The most resource subscriptions one legacy session may hold (default 64).
    pub max_subscriptions: Option<usize>,
    /// The in-process response cache's bound, in bytes (default 64 MiB).
    pub cache_max_bytes: Option<u64>,
    /// The most partitions each in-process rate limiter tracks (default 100 000).
    pub rate_limit_max_keys: Option<usize>,
}

/// `[telemetry]`: logs, traces and metrics (see `docs/guide/observability.md`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetrySection {
    /// The stderr log filter.
    pub log: String,
    /// Log payloads truncated to this many bytes (off when absent).
    pub log_payloads: Option<usize>,
    /// How stderr log lines are written: `"text"` (default, for people) or `"json"` (one
    /// object per line, for a log pipeline, with each request's `trace_id` and `span_id`).
    pub format: LogFormat,
    /// `[telemetry.otlp]`: export traces over OTLP (feature `otel`). The standard
    /// `OTEL_EXPORTER_OTLP_*` variables turn export on as well.
    pub otlp: Option<OtlpSection>,
    /// `[telemetry.metrics]`: the Prometheus endpoint (feature `otel`).
    pub metrics: Option<MetricsSection>,
    /// `[telemetry.audit]`: where audit events go and which argument values they may hold.
    pub audit: Option<AuditSection>,
}

/// `[telemetry.audit]`: audit events (authentication failures, authorization decisions,
/// destructive tool calls) on the `platform::audit` target, optionally to a file of their
/// own.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AuditSection {
    /// Append every audit event, allow decisions included, as JSON lines to this file.
    pub file: Option<PathBuf>,
    /// Per destructive tool, the arguments whose values its `tool_call` records may carry
    /// (`deploy = ["service", "region"]`); no value is recorded otherwise. Each tool must
    /// exist and be destructive, and each argument must be in its input schema.
    pub arguments: BTreeMap<String, Vec<String>>,
}

/// `[telemetry.metrics]`: request, session, cache, rate-limit and authentication metrics
/// served for Prometheus on a listener of their own.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsSection {
    /// Where `GET /metrics` is served (`127.0.0.1:9464`, the OpenTelemetry Prometheus
    /// port). Keep it off the public interface: it says what tools exist and how they fare.
    pub bind: Option<std::net::SocketAddr>,
}

impl Default for TelemetrySection {
    fn default() -> Self {
        Self {
            log: "info,rmcp=warn".into(),
            log_payloads: None,
            format: LogFormat::Text,
            otlp: None,
            metrics: None,
            audit: None,
        }
    }
}

/// The stderr log format.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

impl LogFormat {
    /// The format's name, as configured.
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }
}

/// `[telemetry.otlp]`: where and how traces are exported. Every key falls back to its
/// standard `OTEL_*` variable, then to the OpenTelemetry default.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct OtlpSection {
    /// The collector's base URL (`http://127.0.0.1:4318`); traces go to `{endpoint}/v1/traces`
    /// (OTLP over HTTP with protobuf). Else `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (the full
    /// URL) or `OTEL_EXPORTER_OTLP_ENDPOINT`, else `http://localhost:4318`.
    pub endpoint: Option<String>,
    /// Headers sent with every export (an API key for a hosted collector); values are
    /// secrets. Added to those of `OTEL_EXPORTER_OTLP_[TRACES_]HEADERS`
    /// (`key=value,key2=value2`, values percent-encoded); a header named in both takes the
    /// value given here.
    pub headers: BTreeMap<String, Secret>,
    /// The `service.name` resource attribute. Else `OTEL_SERVICE_NAME`, else the server's
    /// name.
    pub service_name: Option<String>,
    /// The share of new traces recorded, 0.0–1.0 (default 1.0); a request that continues a
    /// client's trace follows the client's sampling decision. Else `OTEL_TRACES_SAMPLER_ARG`
    /// with `OTEL_TRACES_SAMPLER=parentbased_traceidratio`.
    pub sample_ratio: Option<f64>,
    /// How long one export may take (default 10 s). Else
    /// `OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT` (milliseconds).
    pub timeout: Option<ConfigDuration>,
}

/// `[sealing]`: the key that seals multi-round request state.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SealingSection {
    /// At least 32 bytes, shared by replicas that must open each other's state (default: a
    /// random key per process). From `PLATFORM_SEALING__KEY` or a file.
    pub key: Option<Secret>,
    /// A file holding the key.
    pub key_file: Option<PathBuf>,
}

/// `[redis]`: shared stores for servers running as several replicas (see `docs/deploy.md`).
/// With `url` set, rate limits and the response cache live in Redis; without it, in process.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RedisSection {
    /// `redis://[user:password@]host:port[/db]`, `rediss://…` (TLS) or `unix:///path`; a
    /// secret (it may hold a password): from `PLATFORM_REDIS__URL` or `url_file`.
    pub url: Option<Secret>,
    /// A file holding the URL.
    pub url_file: Option<PathBuf>,
    /// The prefix of every key; replicas of one server share it (default: the server's
    /// name).
    pub namespace: Option<String>,
    /// How long connecting may take (default 2s).
    pub connect_timeout: Option<ConfigDuration>,
    /// How long one command may take before it counts as a failure (default 500ms).
    pub command_timeout: Option<ConfigDuration>,
    /// While Redis does not answer, rate-limited calls are `"open"` (allowed; the default)
    /// or `"closed"` (refused as unavailable).
    pub rate_limit_fail: Option<String>,
    /// While Redis does not answer, cacheable calls are `"open"` (the tool is called; the
    /// default) or `"closed"` (refused as unavailable).
    pub cache_fail: Option<String>,
    /// While Redis does not answer, legacy sessions are `"open"` (new ones are served by the
    /// replica that opened them alone; the default) or `"closed"` (new ones are refused, and
    /// a session this replica does not hold gets 503 rather than 404). HTTP only.
    pub sessions_fail: Option<String>,
    /// While Redis does not answer, a call that would become a task is `"open"` (answered
    /// in the request, as for a client without tasks; the default) or `"closed"` (refused
    /// as unavailable). `tasks/*` requests are refused either way.
    pub tasks_fail: Option<String>,
}

/// `[upstreams.<mount>]`: where a remote server mounted in code is reached, and how (see
/// `docs/guide/composition.md`). The key is the mount path (`remote`, or `"team/remote"`
/// for a remote server mounted inside a mount); what is set here replaces what the code
/// gave, per key.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct UpstreamSection {
    /// Reach the upstream at this streamable HTTP URL.
    pub url: Option<String>,
    /// Start this command as a child process speaking stdio instead.
    pub command: Option<String>,
    /// The command's arguments (with `command`).
    pub args: Vec<String>,
    /// Authenticate with `Authorization: Bearer <bearer>` (HTTP).
    pub bearer: Option<Secret>,
    /// A file holding the bearer token.
    pub bearer_file: Option<PathBuf>,
    /// Authenticate with this key in `api_key_header` (HTTP).
    pub api_key: Option<Secret>,
    /// The header the API key goes in (with `api_key`).
    pub api_key_header: Option<String>,
    /// How long one forwarded request may take.
    pub call_timeout: Option<ConfigDuration>,
    /// How long connecting and the handshake may take.
    pub connect_timeout: Option<ConfigDuration>,
    /// How many sessions to keep open to the upstream.
    pub pool_size: Option<usize>,
}

impl UpstreamSection {
    /// The bearer token, from `bearer` or `bearer_file` (`name`: the section's key, for
    /// errors).
    pub fn bearer_token(&self, name: &str) -> Result<Option<Secret>, ConfigError> {
        secret_or_file(
            &self.bearer,
            &self.bearer_file,
            &format!("upstreams.{name}.bearer"),
        )
    }
}

/// `[auth]`: who may call the server (see `docs/guide/auth.md`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSection {
    /// This server's canonical URL (`https://mcp.example.com/mcp`): the audience tokens must
    /// name. Default: `auth.jwt.audience`. HTTP only.
    pub resource: Option<String>,
    /// A human-readable name in the Protected Resource Metadata.
    pub resource_name: Option<String>,
    /// Scopes listed in the metadata and challenges.
    pub scopes_supported: Vec<String>,
    /// Scopes every request needs.
    pub required_scopes: Vec<String>,
    /// A header a trusted gateway sets to the caller's tenant (only when set).
    pub tenant_header: Option<String>,
    /// The longest credential accepted, in bytes (default 8192).
    pub max_token_bytes: Option<usize>,
    /// One trusted JWT issuer (`[auth.jwt]`).
    pub jwt: Option<JwtSection>,
    /// More trusted JWT issuers (`[[auth.issuers]]`).
    pub issuers: Vec<JwtSection>,
    /// Static API keys (`[[auth.api_keys]]`).
    pub api_keys: Vec<ApiKeySection>,
    /// Opaque tokens through introspection (`[auth.introspection]`).
    pub introspection: Option<IntrospectionSection>,
    /// Who a stdio client acts as (`[auth.operator]`; stdio only).
    pub operator: Option<OperatorSection>,
    /// What a caller without access sees of a component: `"hide"` (default: left out of
    /// lists) or `"deny"` (listed; calls refused).
    pub unauthorized: Option<String>,
    /// Roles every component requires (any one of them), besides its own.
    pub requires_role: Vec<String>,
    /// Scopes every component requires (all of them), besides its own.
    pub requires_scope: Vec<String>,
    /// Per-tenant allow-lists: `[auth.tenants.acme] allow = ["weather_*", "billing_invoice"]`.
    pub tenants: BTreeMap<String, TenantSection>,
}

/// `[auth.jwt]` (and each `[[auth.issuers]]`): one trusted issuer of JWTs.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct JwtSection {
    /// A preset: `auth0`, `entra`, `google`, `okta`, `keycloak`, `workos`.
    pub provider: Option<String>,
    /// The issuer (`iss`), `https://…` (plain `http` only on loopback).
    pub issuer: Option<String>,
    /// The audience(s) tokens must name (default: `auth.resource`): one string or a list.
    #[serde(deserialize_with = "one_or_many")]
    pub audience: Vec<String>,
    /// Accepted signature algorithms (default `["RS256"]`, or the preset's).
    pub algorithms: Vec<String>,
    /// The JWKS URL (default: discovered from the issuer's metadata).
    pub jwks_uri: Option<String>,
    /// The claim holding roles (default `roles`; e.g. `realm_access.roles`).
    pub roles_claim: Option<String>,
    /// The claim holding scopes (default `scope`, then `scp`).
    pub scopes_claim: Option<String>,
    /// The claim holding the tenant (default: none).
    pub tenant_claim: Option<String>,
    /// The claim holding the stable id (default `sub`).
    pub subject_claim: Option<String>,
    /// Clock skew allowed on `exp`/`nbf` (default 30s, at most 5m).
    pub leeway: Option<ConfigDuration>,
    /// How long a verified token is remembered (default 2m, at most 5m; `0s`: never).
    pub cache_ttl: Option<ConfigDuration>,
    /// Preset coordinate: the provider's domain (Auth0, Okta, Keycloak).
    pub domain: Option<String>,
    /// Preset coordinate: the directory (tenant) id (Entra).
    pub tenant_id: Option<String>,
    /// Preset coordinate: the realm (Keycloak).
    pub realm: Option<String>,
    /// Preset coordinate: the client id (WorkOS).
    pub client_id: Option<String>,
}

/// A list written as one string or as a list of strings.
fn one_or_many<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(one) => vec![one],
        OneOrMany::Many(many) => many,
    })
}

/// `[[auth.api_keys]]`: one static API key, by its hash.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ApiKeySection {
    /// The principal's id.
    pub id: String,
    /// The hex SHA-256 of the key (`printf %s "$KEY" | sha256sum`).
    pub sha256: String,
    /// The principal's roles.
    pub roles: Vec<String>,
    /// The principal's scopes.
    pub scopes: Vec<String>,
    /// The principal's tenant.
    pub tenant: Option<String>,
}

/// `[auth.introspection]`: opaque tokens checked by RFC 7662 introspection (or a provider).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct IntrospectionSection {
    /// A preset: `github`.
    pub provider: Option<String>,
    /// The introspection endpoint (for `github`: its API base, default
    /// `https://api.github.com`).
    pub endpoint: Option<String>,
    /// The client id the server authenticates to the endpoint with.
    pub client_id: Option<String>,
    /// Its secret (from `PLATFORM_AUTH__INTROSPECTION__CLIENT_SECRET` or a file).
    pub client_secret: Option<Secret>,
    /// A file holding the secret.
    pub client_secret_file: Option<PathBuf>,
    /// The issuer active tokens must name (`iss`).
    pub issuer: Option<String>,
    /// How long an answer is cached (default 60s, at most 5m).
    pub cache_ttl: Option<ConfigDuration>,
    /// The field holding roles.
    pub roles_claim: Option<String>,
    /// The field holding scopes (default `scope`).
    pub scopes_claim: Option<String>,
    /// The field holding the tenant.
    pub tenant_claim: Option<String>,
}

/// `[auth.operator]`: the principal a stdio client acts as (the local operator).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct OperatorSection {
    /// Its id (default `operator`).
    pub id: String,
    /// Its roles.
    pub roles: Vec<String>,
    /// Its scopes.
    pub scopes: Vec<String>,
    /// Its tenant.
    pub tenant: Option<String>,
}

impl Default for OperatorSection {
    fn default() -> Self {
        Self {
            id: "operator".into(),
            roles: Vec::new(),
            scopes: Vec::new(),
            tenant: None,
        }
    }
}

/// `[auth.tenants.<id>]`: what one tenant may use.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct TenantSection {
    /// Component names (tools, prompts) and resource URIs this tenant may use; a trailing
    /// `*` matches a prefix. Anything else is hidden from and refused to it.
    pub allow: Vec<String>,
}

/// `[auth]` keys that only the HTTP transport applies.
const HTTP_AUTH_KEYS: &[&str] = &[
    "resource",
    "resource_name",
    "scopes_supported",
    "required_scopes",
    "tenant_header",
    "max_token_bytes",
    "jwt",
    "issuers",
    "api_keys",
    "introspection",
];

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {message}")]
pub struct ConfigError {
    message: String,
}

impl ConfigError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    fn from_figment(error: figment::Error, section: &str) -> Self {
        let mut messages = Vec::new();
        for error in error {
            // Inside a section, figment reports the field path followed by the section name.
            let mut parts: Vec<&str> = error.path.iter().map(String::as_str).collect();
            if parts.last() == Some(&section) {
                parts.pop();
            }
            let path = if section.is_empty() {
                parts.join(".")
            } else {
                std::iter::once(section)
                    .chain(parts)
                    .collect::<Vec<_>>()
                    .join(".")
            };
            let secret = path.rsplit('.').next().is_some_and(secret_config_key);
            let mut text = match &error.kind {
                // The value itself stays out of the message when the key holds a secret.
                figment::error::Kind::InvalidType(_, expected)
                | figment::error::Kind::InvalidValue(_, expected)
                    if secret =>
                {
                    format!("invalid value (not shown: a secret); expected {expected}")
                }
                figment::error::Kind::Message(_) | figment::error::Kind::InvalidLength(..)
                    if secret =>
                {
                    "invalid value (not shown: a secret)".to_owned()
                }
                kind => kind.to_string(),
            };
            if let figment::error::Kind::UnknownField(field, expected) = &error.kind {
                text = format!("`{field}` is not a setting of `[{section}]`");
                match closest(field, expected) {
                    Some(suggestion) => {
                        let variable = error
                            .metadata
                            .as_ref()
                            .filter(|m| m.name.starts_with(ENV_ORIGIN))
                            .map(|m| {
                                let mut keys: Vec<&str> = path.split('.').collect();
                                keys.pop();
                                keys.push(suggestion);
                                let profile = error.profile.clone().unwrap_or_default();
                                format!(" (`{}`)", m.interpolate(&profile, &keys))
                            })
                            .unwrap_or_default();
                        text.push_str(&format!("; did you mean `{suggestion}`{variable}?"));
                    }
                    None => text.push_str(&format!(
                        "; its settings are {}",
                        expected
                            .iter()
                            .map(|k| format!("`{k}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                }
            }
            let source = error
                .metadata
                .as_ref()
                .map(|m| format!(" ({})", origin(m)))
                .unwrap_or_default();
            messages.push(if path.is_empty() {
                format!("{text}{source}")
            } else {
                format!("`{path}`{source}: {text}")
            });
        }
        Self::new(messages.join("; "))
    }
}

/// How the metadata of an environment variable's provider is named: this, then the name.
const ENV_ORIGIN: &str = "environment variable ";

/// Where a value came from, in words: `set by environment variable PLATFORM_X`,
/// `in ./platform.toml`, `set on the command line`.
fn origin(metadata: &figment::Metadata) -> String {
    if let Some(figment::Source::File(path)) = &metadata.source {
        return format!("in {}", path.display());
    }
    format!("set by {}", metadata.name)
}

/// A provider under a name of our choosing, so errors say which environment variable or
/// flag a bad value came from (figment would name the Rust type that carried it).
struct Named<P> {
    provider: P,
    name: String,
    /// For an environment variable: the prefix, so an error can name the variable that sets
    /// another key (`PLATFORM_` and `transport.bind` make `PLATFORM_TRANSPORT__BIND`).
    env_prefix: Option<String>,
}

impl<P: figment::Provider> figment::Provider for Named<P> {
    fn metadata(&self) -> figment::Metadata {
        let metadata = figment::Metadata::named(self.name.clone());
        match self.env_prefix.clone() {
            Some(prefix) => metadata.interpolater(move |_: &figment::Profile, keys: &[&str]| {
                let key = keys.join("__").to_ascii_uppercase();
                format!("{prefix}{key}")
            }),
            None => metadata,
        }
    }

    fn data(
        &self,
    ) -> Result<figment::value::Map<figment::Profile, figment::value::Dict>, figment::Error> {
        self.provider.data()
    }
}

fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::levenshtein(word, c), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3) && *d > 0)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Where configuration comes from.
#[derive(Debug, Clone)]
pub struct ConfigSource {
    dir: PathBuf,
    profile: Option<String>,
    env_prefix: String,
    /// The environment to read; `None`: the process's.
    environment: Option<Vec<(String, String)>>,
    overrides: Vec<(String, toml::Value)>,
}

impl Default for ConfigSource {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("."),
            profile: None,
            env_prefix: "PLATFORM_".into(),
            environment: None,
            overrides: Vec::new(),
        }
    }
}

impl ConfigSource {
    /// Read `platform.toml` and `platform.<profile>.toml` from `dir` (default: the working
    /// directory).
    #[must_use]
    pub fn dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.dir = dir.as_ref().to_owned();
        self
    }

    /// The profile (`dev`, `staging`, `prod`, …); default: `PLATFORM_PROFILE`, else none.
    #[must_use]
    pub fn profile(mut self, profile: Option<String>) -> Self {
        self.profile = profile;
        self
    }

    /// The environment prefix (default `PLATFORM_`).
    #[must_use]
    pub fn env_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.env_prefix = prefix.into();
        self
    }

    /// Read these variables instead of the process environment (for tests and embedding).
    #[must_use]
    pub fn environment<I, K, V>(mut self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        self.environment = Some(
            vars.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        );
        self
    }

    /// Set a key (dotted path, like `transport.bind`) above every other layer, as a
    /// command-line flag does.
    #[must_use]
    pub fn set(mut self, key: impl Into<String>, value: impl Into<toml::Value>) -> Self {
        self.overrides.push((key.into(), value.into()));
        self
    }

    /// Load and validate.
    pub fn load(self) -> Result<Config, ConfigError> {
        let environment = self
            .environment
            .unwrap_or_else(|| std::env::vars().collect());
        let profile_var = format!("{}PROFILE", self.env_prefix);
        let profile = self
            .profile
            .or_else(|| {
                environment
                    .iter()
                    .find(|(k, _)| *k == profile_var)
                    .map(|(_, v)| v.clone())
            })
            .filter(|p| !p.is_empty());
        let mut figment = Figment::new().merge(Toml::file(self.dir.join("platform.toml")));
        if let Some(profile) = &profile {
            let path = self.dir.join(format!("platform.{profile}.toml"));
            if !path.exists() {
                return Err(ConfigError::new(format!(
                    "profile `{profile}` has no file {}",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file(path));
        }
        // `PLATFORM_TRANSPORT__BIND=…` sets `transport.bind`; values parse as TOML scalars or
        // arrays where they can (`8000`, `true`, `["a","b"]`), else stay strings. A secret
        // (`PLATFORM_SEALING__KEY=12345678`) is always the string as given.
        for (name, value) in &environment {
            let Some(rest) = name.strip_prefix(&self.env_prefix) else {
                continue;
            };
            if name == &profile_var || rest.is_empty() {
                continue;
            }
            let key = rest
                .split("__")
                .map(str::to_ascii_lowercase)
                .collect::<Vec<_>>()
                .join(".");
            let secret = key.rsplit('.').next().is_some_and(secret_config_key);
            let parsed = (!secret)
                .then(|| format!("v = {value}").parse::<toml::Table>().ok())
                .flatten()
                .and_then(|mut t| t.remove("v"))
                .filter(|v| !matches!(v, toml::Value::Table(_)))
                .unwrap_or_else(|| toml::Value::String(value.clone()));
            figment = figment.merge(Named {
                provider: Serialized::global(&key, parsed),
                name: format!("{ENV_ORIGIN}{name}"),
                env_prefix: Some(self.env_prefix.clone()),
            });
        }
        for (key, value) in &self.overrides {
            figment = figment.merge(Named {
                provider: Serialized::global(key, value),
                name: format!("a command-line flag (`{key}`)"),
                env_prefix: None,
            });
        }
        let config = Config {
            transport: section(&figment, "transport")?,
            limits: section(&figment, "limits")?,
            telemetry: section(&figment, "telemetry")?,
            sealing: section(&figment, "sealing")?,
            auth: section(&figment, "auth")?,
            upstreams: section(&figment, "upstreams")?,
            redis: section(&figment, "redis")?,
            profile,
            figment,
        };
        config.check_top_level()?;
        config.check_applied()?;
        Ok(config)
    }
}

fn section<T: DeserializeOwned + Default>(figment: &Figment, name: &str) -> Result<T, ConfigError> {
    if !figment.contains(name) {
        return Ok(T::default());
    }
    figment
        .extract_inner::<T>(name)
        .map_err(|e| ConfigError::from_figment(e, name))
}

/// The effective configuration.
#[derive(Clone)]
pub struct Config {
    /// `[transport]`.
    pub transport: TransportSection,
    /// `[limits]`.
    pub limits: LimitsSection,
    /// `[telemetry]`.
    pub telemetry: TelemetrySection,
    /// `[sealing]`.
    pub sealing: SealingSection,
    /// `[auth]`.
    pub auth: AuthSection,
    /// `[upstreams.<mount>]`.
    pub upstreams: BTreeMap<String, UpstreamSection>,
    /// `[redis]`.
    pub redis: RedisSection,
    profile: Option<String>,
    figment: Figment,
}

impl std::fmt::Debug for Config {
    // The raw layers are left out: they hold secrets as plain strings.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("transport", &self.transport)
            .field("limits", &self.limits)
            .field("telemetry", &self.telemetry)
            .field("sealing", &self.sealing)
            .field("auth", &self.auth)
            .field("upstreams", &self.upstreams)
            .field("redis", &self.redis)
            .field("profile", &self.profile)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Load from the working directory, the environment and nothing else.
    pub fn load() -> Result<Self, ConfigError> {
        ConfigSource::default().load()
    }

    /// The active profile.
    pub fn profile(&self) -> Option<&str> {
        self.profile.as_deref()
    }

    /// An application section (`[weather]` → `config.section::<WeatherConfig>("weather")`);
    /// errors name the key path. A missing section is `T::default()`.
    pub fn section<T: DeserializeOwned + Default>(&self, name: &str) -> Result<T, ConfigError> {
        section(&self.figment, name)
    }

    /// The introspection client secret, from `auth.introspection.client_secret` or its file.
    pub fn introspection_secret(&self) -> Result<Option<Secret>, ConfigError> {
        match &self.auth.introspection {
            Some(section) => secret_or_file(
                &section.client_secret,
                &section.client_secret_file,
                "auth.introspection.client_secret",
            ),
            None => Ok(None),
        }
    }

    /// The sealing key, from `sealing.key` or the file named by `sealing.key_file`.
    pub fn sealing_key(&self) -> Result<Option<Secret>, ConfigError> {
        secret_or_file(&self.sealing.key, &self.sealing.key_file, "sealing.key")
    }

    /// The Redis URL, from `redis.url` or the file named by `redis.url_file`.
    pub fn redis_url(&self) -> Result<Option<Secret>, ConfigError> {
        secret_or_file(&self.redis.url, &self.redis.url_file, "redis.url")
    }

    /// The effective configuration as TOML, every secret shown as `"[redacted]"`.
    pub fn to_redacted_toml(&self) -> String {
        #[derive(Serialize)]
        struct View<'a> {
            transport: &'a TransportSection,
            limits: &'a LimitsSection,
            telemetry: &'a TelemetrySection,
            sealing: &'a SealingSection,
            auth: &'a AuthSection,
            #[serde(skip_serializing_if = "BTreeMap::is_empty")]
            upstreams: &'a BTreeMap<String, UpstreamSection>,
            #[serde(skip_serializing_if = "is_default")]
            redis: &'a RedisSection,
        }
        fn is_default(section: &&RedisSection) -> bool {
            **section == RedisSection::default()
        }
        let view = View {
            transport: &self.transport,
            limits: &self.limits,
            telemetry: &self.telemetry,
            sealing: &self.sealing,
            auth: &self.auth,
            upstreams: &self.upstreams,
            redis: &self.redis,
        };
        let mut text = toml::to_string_pretty(&view).unwrap_or_default();
        if let Some(profile) = &self.profile {
            text = format!("# profile: {profile}\n{text}");
        }
        text
    }

    /// Top-level keys that look like a misspelt framework section are errors, not silently
    /// an application section.
    fn check_top_level(&self) -> Result<(), ConfigError> {
        let Ok(figment::value::Value::Dict(_, top)) = self.figment.find_value("") else {
            return Ok(());
        };
        for key in top.keys() {
            if SECTIONS.contains(&key.as_str()) {
                continue;
            }
            if let Some(section) = closest(key, SECTIONS) {
                return Err(ConfigError::new(format!(
                    "unknown section `{key}`; did you mean `{section}`?"
                )));
            }
        }
        Ok(())
    }
}

impl Config {
    /// Every key set is applied: reserved sections are empty, and HTTP-only keys are not
    /// set for another transport.
    fn check_applied(&self) -> Result<(), ConfigError> {
        for (section, why) in RESERVED {
            let Ok(value) = self.figment.find_value(section) else {
                continue;
            };
            let keys = match value {
                figment::value::Value::Dict(_, dict) => dict
                    .keys()
                    .map(|k| format!("`{section}.{k}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                _ => format!("`{section}`"),
            };
            if keys.is_empty() {
                continue;
            }
            return Err(ConfigError::new(format!(
                "{keys} is set, but {why}: remove it (`[{section}]` is reserved)"
            )));
        }
        if self.transport.kind != "http" {
            for key in HTTP_KEYS {
                let path = format!("transport.{key}");
                if self.figment.find_value(&path).is_ok() {
                    let source = self
                        .figment
                        .find_metadata(&path)
                        .map(|m| format!(" ({})", origin(m)))
                        .unwrap_or_default();
                    return Err(ConfigError::new(format!(
                        "`{path}`{source} applies only to the HTTP transport, and the transport is `{}`: remove it, or serve with `--transport http` (`transport.kind = \"http\"`)",
                        self.transport.kind
                    )));
                }
            }
        }
        let other_transport = |path: &str, needs: &str| {
            let source = self
                .figment
                .find_metadata(path)
                .map(|m| format!(" ({})", origin(m)))
                .unwrap_or_default();
            ConfigError::new(format!(
                "`{path}`{source} applies only to the {needs} transport, and the transport is `{}`: remove it, or serve with `--transport {needs}`",
                self.transport.kind
            ))
        };
        if self.transport.kind == "http" {
            if self.figment.find_value("auth.operator").is_ok() {
                return Err(other_transport("auth.operator", "stdio"));
            }
        } else {
            for key in HTTP_AUTH_KEYS {
                let path = format!("auth.{key}");
                if self.figment.find_value(&path).is_ok() {
                    return Err(other_transport(&path, "http"));
                }
            }
        }
        if let Some(mode) = &self.auth.unauthorized
            && !["hide", "deny"].contains(&mode.as_str())
        {
            return Err(ConfigError::new(format!(
                "`auth.unauthorized` is `{mode}`: use `hide` (leave what a caller cannot use out of lists) or `deny` (list it, refuse calls)"
            )));
        }
        for (key, mode) in [
            ("rate_limit_fail", &self.redis.rate_limit_fail),
            ("cache_fail", &self.redis.cache_fail),
            ("sessions_fail", &self.redis.sessions_fail),
            ("tasks_fail", &self.redis.tasks_fail),
        ] {
            if let Some(mode) = mode
                && !["open", "closed"].contains(&mode.as_str())
            {
                return Err(ConfigError::new(format!(
                    "`redis.{key}` is `{mode}`: use `open` (serve while Redis does not answer) or `closed` (refuse)"
                )));
            }
        }
        if self.transport.kind != "http" && self.redis.sessions_fail.is_some() {
            return Err(other_transport("redis.sessions_fail", "http"));
        }
        if self.redis.url.is_none()
            && self.redis.url_file.is_none()
            && self.redis != RedisSection::default()
        {
            return Err(ConfigError::new(
                "`[redis]` has settings but no `url` (or `url_file`): set `redis.url` (`PLATFORM_REDIS__URL`) to use Redis, or remove the section",
            ));
        }
        if !["stdio", "http"].contains(&self.transport.kind.as_str()) {
            return Err(ConfigError::new(format!(
                "`transport.kind` is `{}`: use `stdio` or `http`",
                self.transport.kind
            )));
        }
        Ok(())
    }
}

fn secret_or_file(
    value: &Option<Secret>,
    file: &Option<PathBuf>,
    key: &str,
) -> Result<Option<Secret>, ConfigError> {
    match (value, file) {
        (Some(_), Some(_)) => Err(ConfigError::new(format!(
            "`{key}` and `{key}_file` are both set; keep one"
        ))),
        (Some(value), None) => Ok(Some(value.clone())),
        (None, Some(path)) => std::fs::read_to_string(path)
            .map(|text| Some(Secret::new(text.trim_end_matches(['\n', '\r']).to_owned())))
            .map_err(|e| {
                ConfigError::new(format!("`{key}_file`: cannot read {}: {e}", path.display()))
            }),
        (None, None) => Ok(None),
    }
}

/// Application sections must be plain data; this alias documents the expectation.
pub type Sections = BTreeMap<String, toml::Value>;

#[cfg(test)]
pub(crate) mod tests;
