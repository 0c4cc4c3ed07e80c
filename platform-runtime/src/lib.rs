#![doc = include_str!("../../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod error;
pub mod handler;
pub mod model;
pub mod registry;
mod schema;
pub mod server;
pub mod testing;
mod transport;

pub use error::{IntoToolError, ToolError, ToolErrorKind};
pub use handler::output::{InputRequired, OutputSpec, ToolResponse};
pub use handler::{CallTool, Context, Era, FromContext, LogLevel, Params, RequestParts, State};
pub use platform_macros::{Prompt, Tool, prompt, resource, server, tool};
pub use registry::{Components, PromptDef, ResourceDef, ToolDef, UriTemplate};
pub use server::{
    BuildError, IntoComponents, IntoServer, ServeError, Server, ServerBuilder, ServerHandle,
    ServerInfo, serve, serve_from,
};

/// Re-exported so user types derive the same `JsonSchema` the framework reads: use
/// `#[derive(schemars::JsonSchema)]` through `platform_runtime::schemars` to avoid a version
/// skew.
pub use schemars;

/// The names most servers need: `use platform_runtime::prelude::*;`.
pub mod prelude {
    pub use crate::model::{
        Content, PromptMessage, PromptResult, ResourceContent, Role, ToolResult,
    };
    pub use crate::{
        CallTool, Context, Params, Prompt, Server, State, Tool, ToolError, prompt, prompts,
        resource, resources, server, tool, tools,
    };
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

/// What macro expansions use. Not public API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    pub use ::core::{
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
    pub use crate::handler::output::{IntoPromptResult, OutputShape, OutputSpec};
    pub use crate::model::{PromptResult, ResourceContent};
    pub use crate::registry::{Components, PromptDef, ResourceDef, ToolDef};
    pub use crate::schema::input_schema_for;
    pub use crate::server::{IntoComponents, ServerInfo};
    pub use crate::{Context, FromContext, IntoToolError, Params, RequestParts, State, ToolError};

    /// Implemented by the hidden item `#[tool]` puts beside a free function.
    pub trait ToolFactory {
        /// The tool's definition.
        fn tool_def() -> ToolDef;
    }

    /// Implemented by the hidden item `#[resource]` puts beside a free function.
    pub trait ResourceFactory {
        /// The resource's definition.
        fn resource_def() -> ResourceDef;
    }

    /// Implemented by the hidden item `#[prompt]` puts beside a free function.
    pub trait PromptFactory {
        /// The prompt's definition.
        fn prompt_def() -> PromptDef;
    }

    pub use crate::handler::args::{ObjectSchema, extractor, whole};
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
