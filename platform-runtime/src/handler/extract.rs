//! Extractors: [`RequestParts`] (everything known about one request), the [`FromContext`]
//! trait, and the built-in [`State`] and [`Params`] extractors.

use std::any::type_name;
use std::future::Future;
use std::sync::Arc;

use rmcp::RoleServer;
use rmcp::model::JsonObject;
use rmcp::service::RequestContext;
use serde::de::DeserializeOwned;

use super::context::Context;
use crate::ToolError;
use crate::state::{SessionState, StateMap};

/// Everything known about one request, from which extractors take what they need.
///
/// Handlers never see this type directly: they name extractors ([`Context`], [`State`],
/// [`Params`] or their own [`FromContext`] types) as parameters.
pub struct RequestParts {
    pub(crate) rmcp: RequestContext<RoleServer>,
    pub(crate) session: Arc<SessionState>,
    pub(crate) shared: Arc<Shared>,
    /// `"tool"`, `"prompt"` or `"resource"`.
    pub(crate) kind: &'static str,
    pub(crate) component: Arc<str>,
    pub(crate) arguments: Option<JsonObject>,
    /// SHA-256 of the canonical arguments, noted when they are handed to a handler that
    /// takes a `Context` (all zeros otherwise): multi-round state is sealed for, and opens
    /// only with, the same arguments.
    pub(crate) arguments_digest: [u8; 32],
    /// Multi-round retries (2026-07-28): the state the server asked the client to echo.
    pub(crate) request_state: Option<String>,
    /// Multi-round retries: the client's answers, by input-request key.
    pub(crate) input_responses: Option<std::collections::BTreeMap<String, serde_json::Value>>,
    /// Who is calling, as sealed state is bound to it (the principal's method, id and
    /// tenant; empty for an anonymous caller): state sealed for one caller opens for no
    /// other.
    pub(crate) caller: Arc<str>,
}

impl RequestParts {
    /// The name of the tool or prompt, or the URI of the resource, being served.
    pub fn component(&self) -> &str {
        &self.component
    }

    /// The shared state of type `T` given to the server builder.
    pub fn state<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.shared.states.get::<T>()
    }

    /// The raw JSON arguments of a tool call (after extraction of typed arguments, `None`).
    pub fn arguments(&self) -> Option<&JsonObject> {
        self.arguments.as_ref()
    }

    /// A value stored in the request's extensions by the transport or a middleware, such as
    /// the HTTP request head.
    pub fn extension<T: Clone + Send + Sync + 'static>(&self) -> Option<T> {
        self.rmcp.extensions.get::<T>().cloned()
    }

    #[doc(hidden)]
    pub fn __take_object(&mut self) -> JsonObject {
        self.arguments.take().unwrap_or_default()
    }

    /// The arguments, after noting their digest (for handlers that may seal state).
    #[doc(hidden)]
    pub fn __take_object_digested(&mut self) -> JsonObject {
        let arguments = self.arguments.take().unwrap_or_default();
        self.arguments_digest = crate::digest::digest(&[], Some(&arguments));
        arguments
    }
}

/// What every request of one server shares: the typed state given to the builder, and the
/// sealer of multi-round request state.
pub(crate) struct Shared {
    pub(crate) states: StateMap,
    pub(crate) sealer: super::mrtr::Sealer,
}

/// Deserialize a JSON object into `T`, naming the offending field on failure.
pub(crate) fn parse_arguments<T: DeserializeOwned>(object: JsonObject) -> Result<T, ToolError> {
    let value = serde_json::Value::Object(object);
    serde_path_to_error::deserialize::<_, T>(value).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        if path.is_empty() || path == "." {
            ToolError::invalid_arguments(format!("invalid arguments: {inner}"))
        } else {
            ToolError::invalid_arguments(format!("invalid argument `{path}`: {inner}"))
        }
    })
}

/// A handler parameter taken from the request rather than from the client's arguments.
///
/// Implement it for your own types (an authenticated caller, a database handle, a tenant
/// configuration) and mark the parameter `#[extract]`; the built-in extractors
/// ([`Context`], [`State`], [`Params`]) need no marker.
///
/// ```
/// use platform_runtime::prelude::*;
/// use platform_runtime::{FromContext, RequestParts};
///
/// /// The caller's client name, from the request.
/// struct ClientName(String);
///
/// impl FromContext for ClientName {
///     async fn from_context(parts: &RequestParts) -> Result<Self, ToolError> {
///         Ok(ClientName(parts.component().to_owned()))
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an extractor",
    label = "marked `#[extract]` but does not implement `FromContext`",
    note = "implement `platform_runtime::FromContext` for `{Self}`, or remove `#[extract]` to make it a tool argument"
)]
pub trait FromContext: Sized + Send {
    /// Take the value from the request, or fail with an error the client sees.
    fn from_context(parts: &RequestParts) -> impl Future<Output = Result<Self, ToolError>> + Send;
}

impl FromContext for Context {
    async fn from_context(parts: &RequestParts) -> Result<Self, ToolError> {
        Ok(Context::new(parts))
    }
}

/// Shared state given to the server builder with `.state(value)`, cloned into the handler.
///
/// ```
/// use platform_runtime::prelude::*;
///
/// #[derive(Clone)]
/// struct Greeting(String);
///
/// /// Greet someone.
/// #[tool]
/// fn greet(State(greeting): State<Greeting>, name: String) -> String {
///     format!("{}, {name}!", greeting.0)
/// }
///
/// let server = Server::builder("demo")
///     .state(Greeting("Hello".into()))
///     .tools(tools![greet])
///     .build()
///     .unwrap();
/// # let _ = server;
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct State<T>(pub T);

impl<T: Clone + Send + Sync + 'static> FromContext for State<T> {
    async fn from_context(parts: &RequestParts) -> Result<Self, ToolError> {
        parts
            .shared
            .states
            .get::<T>()
            .cloned()
            .map(State)
            .ok_or_else(|| {
                ToolError::internal(format!(
                    "no state of type `{}` was given to the server builder",
                    type_name::<T>()
                ))
            })
    }
}

/// The whole argument object of a tool, deserialized into `T`; `T`'s JSON Schema becomes
/// the tool's input schema.
///
/// ```
/// use platform_runtime::prelude::*;
///
/// #[derive(Deserialize, JsonSchema)]
/// struct Search {
///     /// What to look for.
///     query: String,
///     /// How many results to return.
///     limit: Option<u32>,
/// }
///
/// /// Search the catalogue.
/// #[tool]
/// fn search(Params(search): Params<Search>) -> Vec<String> {
///     vec![search.query; search.limit.unwrap_or(1) as usize]
/// }
/// ```
#[derive(Debug, Clone, Default)]
pub struct Params<T>(pub T);
