//! Layers, lowest first:
//! 1. `digest`, `error`, `metrics`, `schema` — leaves: argument digests, the error type, the metric instruments every layer records into, JSON Schemas
//! 2. `model` — the values handlers return and the protocol facts a request carries
//! 3. `component`, `config`, `state` — component metadata and policies; the configuration; per-connection and shared state
//! 4. `handler` — extractors and output conversions: what a handler takes and returns
//! 5. `identity` — the authenticated caller, an extractor
//! 6. `registry` — tools, resources and prompts with their handlers; the routing table
//! 7. `middleware` — the request and response every layer sees, the built-in layers, per-tool policy stacks
//! 8. `auth`, `observability`, `redis` — credentials to principals: JWTs, API keys, introspection, resource metadata; request spans, trace context, log formats, export, metrics, audit events; the shared stores in Redis
//! 9. `server` — the builder, the router, the MCP handler, handles
//! 10. `testing`, `transport` — the in-memory client and test issuer; stdio and HTTP
//! 11. `app` — `serve()`: command line, configuration, signals, the choice of transport
//!
//! A module names only modules of lower layers (`tests/it/architecture.rs` checks it, and
//! that no two modules name each other); `docs/architecture.md` draws the data path.
#![doc = include_str!("../../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod app;
pub mod auth;
pub mod component;
pub mod config;
mod digest;
pub mod error;
pub mod handler;
pub mod identity;
mod metrics;
pub mod middleware;
pub mod model;
pub mod observability;
#[cfg(feature = "redis")]
pub mod redis;
pub mod registry;
mod schema;
pub mod server;
mod state;
pub mod testing;
pub mod transport;

pub use error::{IntoToolError, ToolError, ToolErrorKind};
pub use handler::{CallTool, Context, Era, FromContext, LogLevel, Params, RequestParts, State};
pub use handler::{OutputSpec, ToolResponse};
pub use model::InputRequired;
/// Turn a function into an MCP tool.
///
/// The function stays an ordinary function; a registration is generated beside it, collected
/// with [`tools!`]. Its doc comment (up to the first `#` section) is the description, and its
/// `# Arguments` list describes the parameters. Plain parameters become the input schema;
/// `Option<T>` ones are optional; [`Context`], [`State`], [`Params`] and `#[extract]`
/// parameters come from the request. The return value becomes text, structured output with
/// an `outputSchema`, content blocks, or — for `Err` — a tool error.
///
/// Options: `name`, `title`, `description`, `read_only`, `destructive`, `idempotent`,
/// `open_world`, `tags(…)`, `icons(…)`, `meta(key = "value")`, `enabled`, `crate = path`.
///
/// ```
/// use platform_runtime::prelude::*;
///
/// /// Divide two numbers.
/// ///
/// /// # Arguments
/// /// * `a` - the dividend
/// /// * `b` - the divisor, not zero
/// #[tool(read_only, idempotent)]
/// fn divide(a: f64, b: f64) -> Result<f64, ToolError> {
///     if b == 0.0 {
///         return Err(ToolError::new("`b` must not be zero"));
///     }
///     Ok(a / b)
/// }
///
/// assert_eq!(divide(6.0, 3.0).unwrap(), 2.0);
/// let server = Server::builder("calc").tools(tools![divide]).build().unwrap();
/// # let _ = server;
/// ```
///
/// More in the tools guide, `docs/guide/tools.md`.
pub use platform_macros::tool;

/// Serve a function as an MCP resource (a fixed URI) or resource template (RFC 6570
/// `{var}` / `{var*}` variables, each a parameter of the same name, checked at compile time).
///
/// Options after the URI: `name`, `title`, `description`, `mime`, `crate = path`. Returns
/// text (`String`), bytes (`Vec<u8>`), [`model::ResourceContent`] or any `Serialize` value
/// (JSON).
///
/// ```
/// use platform_runtime::prelude::*;
///
/// /// A note by id.
/// #[resource("notes://{id}", mime = "text/plain")]
/// fn note(id: u32) -> Result<String, ToolError> {
///     match id {
///         1 => Ok("Buy milk".into()),
///         _ => Err(ToolError::not_found(format!("no note {id}"))),
///     }
/// }
///
/// let server = Server::builder("notes").resources(resources![note]).build().unwrap();
/// # let _ = server;
/// ```
pub use platform_macros::resource;

/// Serve a function as an MCP prompt; its plain parameters are the prompt's arguments.
/// Returns messages, one message, text (one user message) or a [`model::PromptResult`].
///
/// Options: `name`, `title`, `description`, `crate = path`.
///
/// ```
/// use platform_runtime::prelude::*;
///
/// /// Ask for a summary.
/// ///
/// /// # Arguments
/// /// * `topic` - what to summarise
/// #[prompt]
/// fn summarise(topic: String) -> Vec<PromptMessage> {
///     vec![PromptMessage::user(format!("Summarise {topic}."))]
/// }
///
/// let server = Server::builder("prompts").prompts(prompts![summarise]).build().unwrap();
/// # let _ = server;
/// ```
pub use platform_macros::prompt;

/// Make an `impl` block's `#[tool]`, `#[resource]` and `#[prompt]` methods an MCP server.
///
/// Methods take `&self` (never `&mut self`: requests run concurrently). The type can be
/// served on its own or mounted into a larger server. Options: `name` and `version`
/// (default: the crate's), `title`, `description` (default: the impl block's doc comment),
/// `instructions`, `crate = path`.
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use platform_runtime::prelude::*;
///
/// #[derive(Default)]
/// struct Counter {
///     hits: AtomicU64,
/// }
///
/// #[server(name = "counter", version = "1.0.0")]
/// impl Counter {
///     /// Count one more hit and return the total.
///     #[tool]
///     fn hit(&self) -> u64 {
///         self.hits.fetch_add(1, Ordering::Relaxed) + 1
///     }
/// }
///
/// let server = Server::builder("acme").mount("counter", Counter::default()).build().unwrap();
/// assert_eq!(server.manifest()["tools"][0]["name"], "counter_hit");
/// ```
pub use platform_macros::server;

/// Limit how often a `#[tool]` may be called: GCRA, `requests` per `per` (default `"1s"`),
/// bursts of `burst` (default: `requests`), counted per `key` — `"tool"` (default),
/// `"global"`, `"principal"`, `"tenant"` or `"client"`. A limited call gets a tool error saying
/// when to retry. Goes above or below `#[tool]`, in any order with other policies.
///
/// ```
/// use platform_runtime::prelude::*;
///
/// /// Search the catalogue.
/// #[tool(read_only)]
/// #[rate_limit(60, per = "1m", burst = 10, key = "principal")]
/// fn search(query: String) -> Vec<String> {
///     vec![query]
/// }
/// # let _ = Server::builder("s").tools(tools![search]).build().unwrap();
/// ```
pub use platform_macros::rate_limit;

/// Cache a `#[tool]`'s successful results for `ttl`, shared within `scope` — `"principal"`
/// (default), `"tenant"` or `"public"`. The tool must be `read_only` (or
/// `destructive = false`): a cached call skips its side effects.
///
/// ```
/// use platform_runtime::prelude::*;
///
/// /// Exchange rate.
/// #[tool(read_only)]
/// #[cache(ttl = "30s", scope = "public")]
/// fn rate(currency: String) -> f64 {
///     if currency == "EUR" { 1.0 } else { 1.1 }
/// }
/// # let _ = Server::builder("s").tools(tools![rate]).build().unwrap();
/// ```
pub use platform_macros::cache;

/// Cancel a `#[tool]` call that runs longer than the given duration; the client gets a
/// timeout error. `#[timeout("5s")]`. The server default is
/// [`ServerBuilder::timeout`].
pub use platform_macros::timeout;

/// Retry an idempotent `#[tool]` on transient failures (tool and internal errors, timeouts,
/// unavailability): `attempts` tries in all (default 3), waiting `backoff` (default
/// `"100ms"`), doubling up to `max_backoff` (default `"10s"`), with jitter. A tool not
/// marked `idempotent` does not compile with `#[retry]`.
pub use platform_macros::retry;

/// Fail fast while a `#[tool]` keeps failing: when at least `min_calls` (default 10) calls in
/// `window` (default `"30s"`) fail at `failure_ratio` or more (default 0.5), calls fail at
/// once for `cooldown` (default `"10s"`); then one probe is let through and its success
/// closes the circuit.
pub use platform_macros::circuit_breaker;

/// At most `n` calls of a `#[tool]` in flight; more are refused at once with a "busy" error
/// rather than queued. `#[concurrency_limit(4)]`.
pub use platform_macros::concurrency_limit;

/// Who may use a `#[tool]`, `#[resource]` or `#[prompt]` (or, on a `#[server]` impl block,
/// every component of it), by role: one role, `any(…)` of several, or `all(…)` of them,
/// written as strings or as variants of a [`Roles`](derive@Roles) enum. A caller without
/// the role does not see the component in lists (or, with `[auth] unauthorized = "deny"`,
/// sees it and is refused) and gets a JSON-RPC error
/// [`FORBIDDEN`](crate::error::FORBIDDEN) on a direct call. Roles come from the verified
/// token (see [`crate::auth`]), an API key's configuration, or stdio's `[auth.operator]`.
///
/// ```
/// use platform_runtime::prelude::*;
///
/// #[derive(Roles)]
/// enum Role {
///     Ops,
///     Admin,
/// }
///
/// /// Purge the cache.
/// #[tool]
/// #[requires_role(Role::Ops)]
/// fn purge() -> String {
///     "purged".into()
/// }
///
/// /// Rotate the keys.
/// #[tool]
/// #[requires_role(all(Role::Ops, Role::Admin))]
/// fn rotate_keys() -> String {
///     "rotated".into()
/// }
///
/// /// Read the audit log.
/// #[resource("audit://log")]
/// #[requires_role(any("auditor", "admin"))]
/// fn audit_log() -> String {
///     String::new()
/// }
/// # let _ = Server::builder("s").tools(tools![purge, rotate_keys]).resources(resources![audit_log]).build().unwrap();
/// ```
pub use platform_macros::requires_role;

/// Who may use a `#[tool]`, `#[resource]` or `#[prompt]` (or a whole `#[server]` block), by
/// OAuth scope: every scope listed is required. Over HTTP a token without them gets **403**
/// with `WWW-Authenticate: Bearer error="insufficient_scope", scope="…"` naming every scope
/// the request needs.
///
/// ```
/// use platform_runtime::prelude::*;
///
/// /// Read a file.
/// #[tool(read_only)]
/// #[requires_scope("files:read")]
/// fn read_file(path: String) -> String {
///     path
/// }
/// # let _ = Server::builder("s").tools(tools![read_file]).build().unwrap();
/// ```
pub use platform_macros::requires_scope;

/// Typed role names for [`macro@requires_role`]: on an enum of unit variants, each role
/// named after its variant in snake case (`BillingAdmin` → `"billing_admin"`) unless
/// `#[role(name = "…")]` says otherwise.
///
/// ```
/// use platform_runtime::prelude::*;
///
/// #[derive(Roles)]
/// enum Role {
///     Ops,
///     BillingAdmin,
///     #[role(name = "sre-oncall")]
///     OnCall,
/// }
///
/// assert_eq!(Role::BillingAdmin.name(), "billing_admin");
/// assert_eq!(Role::OnCall.name(), "sre-oncall");
/// assert_eq!(Role::all().len(), 3);
/// ```
pub use platform_macros::Roles;

/// Make a struct the input of an MCP tool; `impl` [`CallTool`] holds the handler. Options go
/// in `#[mcp(…)]`, with the keys of [`macro@tool`]. See [`CallTool`] for an example.
pub use platform_macros::Tool;

pub use app::{serve, serve_from};
/// Make a struct the arguments of an MCP prompt rendered from
/// `#[mcp(template = "…{field}…")]`; placeholders are checked against the fields at compile
/// time, `{{`/`}}` are literal braces.
///
/// ```
/// use platform_runtime::prelude::*;
///
/// /// Review code.
/// #[derive(Prompt, Deserialize, JsonSchema)]
/// #[mcp(template = "Review this {language} code:\n{code}")]
/// struct Review {
///     /// The language.
///     language: String,
///     /// The code.
///     code: String,
/// }
///
/// let server = Server::builder("review").prompts(prompts![Review]).build().unwrap();
/// # let _ = server;
/// ```
pub use platform_macros::Prompt;
pub use registry::{Components, PromptDef, ResourceDef, TaskSupport, ToolDef, UriTemplate};
pub use server::{
    BuildError, IntoComponents, IntoServer, Mount, Mountable, ServeError, Server, ServerBuilder,
    ServerHandle, ServerInfo, ServerStats,
};

/// The schemars the framework reads schemas with. The prelude's `JsonSchema` derive refers to
/// it; a crate that also depends on schemars itself should use the same major version.
pub use schemars;

/// JSON, as handlers and tests exchange it (`platform_runtime::serde_json::Value`); the
/// prelude brings `json!` and `Value`.
pub use serde_json;

/// The names most servers need: `use platform_runtime::prelude::*;`.
///
/// Besides the macros and the types handlers take and return, the prelude brings the
/// derives a tool's own input and output types need — `Serialize`, `Deserialize` (serde's,
/// run through the runtime's serde) and `JsonSchema` (schemars') — so a server crate needs
/// no `serde` or `schemars` dependency of its own:
///
/// ```
/// use platform_runtime::prelude::*;
///
/// /// A ticket in the queue.
/// #[derive(Debug, Serialize, Deserialize, JsonSchema)]
/// #[serde(rename_all = "camelCase")]
/// struct Ticket {
///     /// Its number.
///     id: u32,
///     /// Who asked.
///     opened_by: String,
/// }
///
/// /// Every open ticket.
/// #[tool(read_only)]
/// fn open_tickets() -> Vec<Ticket> {
///     vec![Ticket { id: 7, opened_by: "ada".into() }]
/// }
///
/// let server = Server::builder("desk").tools(tools![open_tickets]).build().unwrap();
/// let schema = &server.manifest()["tools"][0]["outputSchema"];
/// assert_eq!(schema["properties"]["result"]["type"], "array");
/// ```
///
/// The prelude also names the `schemars` crate, which the `JsonSchema` derive's expansion
/// refers to; a module that derives `JsonSchema` without the prelude needs
/// `use platform_runtime::schemars;`.
pub mod prelude {
    pub use crate::__prelude_traits::*;
    pub use crate::component::access::Roles;
    pub use crate::identity::{Principal, Tenant};
    pub use crate::model::{
        Content, PromptMessage, PromptResult, ResourceContent, Role, ToolResult,
    };
    pub use crate::schemars;
    pub use crate::server::IntoComponents;
    pub use crate::{
        CallTool, Context, InputRequired, Params, Prompt, Server, State, Tool, ToolError,
        ToolResponse, cache, circuit_breaker, concurrency_limit, prompt, prompts, rate_limit,
        requires_role, requires_scope, resource, resources, retry, server, timeout, tool, tools,
    };
    /// serde's `Deserialize` derive, through the runtime's serde (`#[serde(…)]` attributes
    /// work as serde documents them).
    pub use platform_macros::Deserialize;
    /// Typed role names for `#[requires_role(Role::Ops)]` (see [`crate::Roles`]).
    pub use platform_macros::Roles;
    /// serde's `Serialize` derive, through the runtime's serde (`#[serde(…)]` attributes
    /// work as serde documents them).
    pub use platform_macros::Serialize;
    pub use serde_json::{Value, json};
}

/// The traits behind the prelude's derives (and schemars' `JsonSchema` derive), glob-imported
/// by the prelude so its own `Serialize` and `Deserialize` derives take precedence over
/// serde's, which need a `serde` dependency.
#[doc(hidden)]
pub mod __prelude_traits {
    pub use schemars::JsonSchema;
    pub use serde::{Deserialize, Serialize};
}

/// Collect `#[tool]` functions into the list [`ServerBuilder::tools`] takes.
///
/// Name each function by its path, as you would call it; the functions stay ordinary Rust
/// functions.
///
/// ```
/// use platform_runtime::prelude::*;
///
/// mod math {
///     use platform_runtime::prelude::*;
///     /// Add two integers.
///     #[tool]
///     pub fn add(a: i64, b: i64) -> i64 { a + b }
/// }
///
/// /// Echo the input.
/// #[tool]
/// fn echo(text: String) -> String { text }
///
/// let tools = tools![math::add, echo];
/// assert_eq!(tools.len(), 2);
/// assert_eq!(math::add(2, 3), 5);
/// ```
#[macro_export]
macro_rules! tools {
    ($($path:path),* $(,)?) => {
        ::std::vec![$(<$path as $crate::__private::ToolFactory>::tool_def()),*]
    };
}

/// Collect `#[resource]` functions into the list [`ServerBuilder::resources`] takes.
#[macro_export]
macro_rules! resources {
    ($($path:path),* $(,)?) => {
        ::std::vec![$(<$path as $crate::__private::ResourceFactory>::resource_def()),*]
    };
}

/// Collect `#[prompt]` functions into the list [`ServerBuilder::prompts`] takes.
#[macro_export]
macro_rules! prompts {
    ($($path:path),* $(,)?) => {
        ::std::vec![$(<$path as $crate::__private::PromptFactory>::prompt_def()),*]
    };
}

/// Entry points for the fuzz targets in `fuzz/`, each checking its own invariants (a
/// failed check panics, which the fuzzer reports). Not public API.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod __fuzz {
    use serde_json::Value;

    /// Authentication's handling of the credentials a client sends (see
    /// `auth::fuzz_credentials`): the first byte splits the input into the `Authorization`
    /// value, the `X-API-Key` value and the query string.
    pub fn credentials(data: &[u8]) {
        let Some((&split, rest)) = data.split_first() else {
            return;
        };
        let at = (split as usize).min(rest.len());
        let (authorization, rest) = rest.split_at(at);
        let middle = rest.len() / 2;
        let (api_key, query) = rest.split_at(middle);
        crate::auth::fuzz_credentials(authorization, api_key, &String::from_utf8_lossy(query));
    }

    /// The HTTP front's classification of a POST body (the JSON-RPC method in one pass, and
    /// the request direct dispatch would serve): no panic, and the two agree; and the stdio
    /// loop's reading of the same bytes as a line: a message, nothing, or one error reply.
    pub fn classify_body(body: &[u8]) {
        crate::transport::http::fuzz_classify(body);
        crate::transport::stdio::fuzz_classify(body);
    }

    /// Match `uri` against `template`: linear-time spans equal the exhaustive search's
    /// (for short URIs), and every value handed out is safe as a path component.
    pub fn match_template(template: &str, uri: &str) {
        let Ok(parsed) = crate::registry::UriTemplate::parse(template) else {
            return;
        };
        let spans = parsed.spans(uri);
        if uri.len() <= 48 && parsed.variables().count() <= 3 {
            assert_eq!(
                spans,
                parsed.exhaustive_spans(uri),
                "{template} against {uri}"
            );
        }
        let Some(values) = parsed.matches(uri) else {
            return;
        };
        assert!(spans.is_some(), "values without spans");
        for ((name, value), explode) in values.iter().zip(template_explodes(template)) {
            assert!(!value.contains('\0'), "{name}: NUL");
            let segments: Vec<&str> = value.split(['/', '\\']).collect();
            assert!(
                !segments.iter().any(|s| *s == "." || *s == ".."),
                "{name}: dot segment in {value:?}"
            );
            if !explode {
                assert_eq!(segments.len(), 1, "{name}: separator in {value:?}");
            }
        }
    }

    fn template_explodes(template: &str) -> Vec<bool> {
        template
            .split('{')
            .skip(1)
            .map(|rest| rest.split('}').next().is_some_and(|v| v.ends_with('*')))
            .collect()
    }

    /// Coerce string arguments by a schema (as prompt arguments and template variables
    /// are), then take them as typed arguments: no panic, the same keys come out, and a
    /// value either stays as it was or becomes the JSON its text reads as (and a property
    /// without constraints keeps its string).
    pub fn coerce(schema: &[u8], values: &[u8]) {
        use crate::handler::args::Argument as _;
        let (Ok(Value::Object(schema)), Ok(Value::Object(values))) = (
            serde_json::from_slice::<Value>(schema),
            serde_json::from_slice::<Value>(values),
        ) else {
            return;
        };
        let out = crate::registry::coerce_strings(&schema, values.clone());
        assert_eq!(
            out.keys().collect::<Vec<_>>(),
            values.keys().collect::<Vec<_>>(),
            "keys changed"
        );
        for (key, value) in &out {
            if value != &values[key] {
                let Value::String(text) = &values[key] else {
                    panic!("{key}: a value that is not a string changed");
                };
                assert_eq!(
                    serde_json::from_str::<Value>(text).ok().as_ref(),
                    Some(value),
                    "{key}: changed into something its text does not read as"
                );
                let unconstrained = schema
                    .get("properties")
                    .and_then(|p| p.get(key))
                    .and_then(Value::as_object)
                    .is_some_and(serde_json::Map::is_empty);
                assert!(
                    !unconstrained,
                    "{key}: an unconstrained property lost its string"
                );
            }
            let _ = i64::from_argument(value.clone(), "i");
            let _ = f64::from_argument(value.clone(), "f");
            let _ = String::from_argument(value.clone(), "s");
            let _ = Option::<u32>::from_argument(value.clone(), "o");
            let _ = Vec::<bool>::from_argument(value.clone(), "v");
            let _ =
                std::collections::BTreeMap::<String, Vec<i8>>::from_argument(value.clone(), "m");
        }
    }
}

/// What macro expansions use. Not public API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    pub use ::core::{
        default::Default,
        future::Future,
        marker::{Send, Sync},
        option::Option::{self, None, Some},
        result::Result::{self, Err, Ok},
    };
    pub use ::schemars;
    pub use ::serde;
    pub use ::serde_json;
    pub use ::std::{boxed::Box, string::String, sync::Arc, vec::Vec};

    pub use crate::handler::output::kinds;
    pub use crate::handler::output::{
        Converter, IntoPromptResult, IntoResourceContents, IntoToolOutput, JsonResource,
        OutputShape, OutputSpec, ResourceConverter, StructuredOutput, structured_response,
    };
    pub use crate::model::{PromptResult, ResourceContent};
    pub use crate::registry::{Components, PromptDef, ResourceDef, TaskSupport, ToolDef};
    pub use crate::schema::input_schema_for;
    pub use crate::server::{IntoComponents, ServerInfo};
    pub use crate::{Context, FromContext, IntoToolError, Params, RequestParts, State, ToolError};

    /// Implemented by the hidden item `#[tool]` puts beside a free function, and by
    /// `#[derive(Tool)]`.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` is not a tool",
        label = "`tools![…]` takes `#[tool]` functions and `#[derive(Tool)]` structs",
        note = "add `#[tool]` to the function, or `#[derive(Tool)]` (with `impl CallTool`) to the struct"
    )]
    pub trait ToolFactory {
        /// The tool's definition.
        fn tool_def() -> ToolDef;
    }

    /// Implemented by the hidden item `#[resource]` puts beside a free function.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` is not a resource",
        label = "`resources![…]` takes `#[resource]` functions",
        note = "add `#[resource(\"scheme://…\")]` to the function"
    )]
    pub trait ResourceFactory {
        /// The resource's definition.
        fn resource_def() -> ResourceDef;
    }

    /// Implemented by the hidden item `#[prompt]` puts beside a free function, and by
    /// `#[derive(Prompt)]`.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` is not a prompt",
        label = "`prompts![…]` takes `#[prompt]` functions and `#[derive(Prompt)]` structs",
        note = "add `#[prompt]` to the function, or `#[derive(Prompt)]` to the struct"
    )]
    pub trait PromptFactory {
        /// The prompt's definition.
        fn prompt_def() -> PromptDef;
    }

    pub use crate::component::access::{Access, Roles};
    pub use crate::component::policy::{
        CachePolicy, CacheScope, CircuitBreakerPolicy, Policies, RateLimit, RateLimitKey,
        RetryPolicy,
    };

    /// The name of a typed role (`Role::Ops` → `"ops"`).
    pub fn role_name<R: Roles>(role: &R) -> &'static str {
        role.name()
    }
    pub use crate::handler::args::{
        Argument, Extractor, ObjectSchema, Taker, WholeTaker, extractor, whole,
    };
    pub use crate::handler::{CallTool, call_tool_handler};

    /// Convert a handler's error.
    pub fn tool_error<E: IntoToolError>(error: E) -> ToolError {
        error.into_tool_error()
    }

    /// Check a prompt's return type once and return its converter.
    pub fn prompt_converter<T: IntoPromptResult>() -> fn(T) -> PromptResult {
        T::into_prompt_result
    }

    /// A resource definition from a URI the macro already validated.
    pub fn resource_def<F, Fut>(
        uri: &'static str,
        name: &'static str,
        variables_schema: serde_json::Map<String, serde_json::Value>,
        handler: F,
    ) -> ResourceDef
    where
        F: Fn(RequestParts) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<ResourceContent>, ToolError>> + Send + 'static,
    {
        match ResourceDef::new(uri, name, variables_schema, handler) {
            Ok(def) => def,
            // The macro parsed the same template with the same rules at compile time.
            Err(error) => unreachable!("{error}"),
        }
    }
}
