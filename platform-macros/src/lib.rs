//! Attribute macros of the platform MCP framework. Use them through `platform-runtime`,
//! which re-exports them and owns the paths the expansions call.
//!
//! The crate is split by phase, as serde_derive is, each module naming only those before
//! it: `parse` reads attributes (darling) and `docs` rustdoc; `model` types what they mean
//! (one `Component` model wherever an attribute is written); `check` holds every rule and
//! collects every problem into one error list; `expand` runs the pipeline and generates code
//! (never reporting errors); `paths` is the one place that names the runtime.
//!
//! Layers, lowest first:
//! 1. `docs`, `paths` — rustdoc parsing; the path of the runtime
//! 2. `parse` — darling receivers for every attribute
//! 3. `model` — typed components, functions and policies
//! 4. `check` — every rule, into one error list
//! 5. `expand` — the pipeline and code generation

use proc_macro::TokenStream;

mod check;
mod docs;
mod expand;
mod model;
mod parse;
mod paths;

/// Turn a function into an MCP tool (documented on `platform_runtime::tool`).
#[proc_macro_attribute]
pub fn tool(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::component(model::Kind::Tool, attr.into(), item.into()).into()
}

/// Turn a function into an MCP resource or template (documented on `platform_runtime::resource`).
#[proc_macro_attribute]
pub fn resource(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::component(model::Kind::Resource, attr.into(), item.into()).into()
}

/// Turn a function into an MCP prompt (documented on `platform_runtime::prompt`).
#[proc_macro_attribute]
pub fn prompt(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::component(model::Kind::Prompt, attr.into(), item.into()).into()
}

/// Make an `impl` block's components an MCP server (documented on `platform_runtime::server`).
#[proc_macro_attribute]
pub fn server(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::server(attr.into(), item.into()).into()
}

/// Make a struct the input of an MCP tool; `impl CallTool for …` holds the handler.
#[proc_macro_derive(Tool, attributes(mcp, mcp_policy))]
pub fn derive_tool(item: TokenStream) -> TokenStream {
    expand::derive::tool(item.into()).into()
}

/// Make a struct the arguments of an MCP prompt rendered from `#[mcp(template = "…")]`.
#[proc_macro_derive(Prompt, attributes(mcp, mcp_policy))]
pub fn derive_prompt(item: TokenStream) -> TokenStream {
    expand::derive::prompt(item.into()).into()
}

/// serde's `Serialize` for crates without a serde dependency (documented on
/// `platform_runtime::prelude`).
#[proc_macro_derive(Serialize, attributes(serde))]
pub fn derive_serialize(item: TokenStream) -> TokenStream {
    expand::serde::derive(expand::serde::Direction::Serialize, item.into()).into()
}

/// serde's `Deserialize` for crates without a serde dependency (documented on
/// `platform_runtime::prelude`).
#[proc_macro_derive(Deserialize, attributes(serde))]
pub fn derive_deserialize(item: TokenStream) -> TokenStream {
    expand::serde::derive(expand::serde::Direction::Deserialize, item.into()).into()
}

/// Typed role names for `#[requires_role]` (documented on `platform_runtime::Roles`).
#[proc_macro_derive(Roles, attributes(role))]
pub fn derive_roles(item: TokenStream) -> TokenStream {
    expand::roles::derive(item.into()).into()
}

/// Who may use a tool, resource or prompt, by role (documented on
/// `platform_runtime::requires_role`).
#[proc_macro_attribute]
pub fn requires_role(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::policy_attribute("requires_role", attr.into(), item.into()).into()
}

/// Who may use a tool, resource or prompt, by OAuth scope (documented on
/// `platform_runtime::requires_scope`).
#[proc_macro_attribute]
pub fn requires_scope(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::policy_attribute("requires_scope", attr.into(), item.into()).into()
}

/// A rate limit on a `#[tool]` (documented on `platform_runtime::rate_limit`).
#[proc_macro_attribute]
pub fn rate_limit(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::policy_attribute("rate_limit", attr.into(), item.into()).into()
}

/// Cache a `#[tool]`'s results (documented on `platform_runtime::cache`).
#[proc_macro_attribute]
pub fn cache(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::policy_attribute("cache", attr.into(), item.into()).into()
}

/// A timeout on a `#[tool]` (documented on `platform_runtime::timeout`).
#[proc_macro_attribute]
pub fn timeout(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::policy_attribute("timeout", attr.into(), item.into()).into()
}

/// Retry an idempotent `#[tool]` (documented on `platform_runtime::retry`).
#[proc_macro_attribute]
pub fn retry(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::policy_attribute("retry", attr.into(), item.into()).into()
}

/// A circuit breaker on a `#[tool]` (documented on `platform_runtime::circuit_breaker`).
#[proc_macro_attribute]
pub fn circuit_breaker(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::policy_attribute("circuit_breaker", attr.into(), item.into()).into()
}

/// A concurrency limit on a `#[tool]` (documented on `platform_runtime::concurrency_limit`).
#[proc_macro_attribute]
pub fn concurrency_limit(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::policy_attribute("concurrency_limit", attr.into(), item.into()).into()
}
