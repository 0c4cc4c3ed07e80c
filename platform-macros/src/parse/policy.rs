//! The policy attributes as written: `#[rate_limit]`, `#[cache]`, `#[timeout]`, `#[retry]`,
//! `#[circuit_breaker]`, `#[concurrency_limit]` — one darling receiver each — and the access
//! attributes `#[requires_role]` and `#[requires_scope]`. On a function
//! they sit among its attributes; on a derived struct the attribute macro leaves them as
//! `#[mcp_policy(name(…))]` for the derive to read.

use darling::FromMeta;
use darling::ast::NestedMeta;
use proc_macro2::{Span, TokenStream};
use syn::spanned::Spanned as _;

/// The attribute names, as written.
pub(crate) const NAMES: &[&str] = &[
    "rate_limit",
    "cache",
    "timeout",
    "retry",
    "circuit_breaker",
    "concurrency_limit",
    "requires_role",
    "requires_scope",
];

/// The attributes that say who may use a component (on tools, resources and prompts alike,
/// and on a whole `#[server]` block), as opposed to the tool policies.
pub(crate) const ACCESS: &[&str] = &["requires_role", "requires_scope"];

/// One role as written: a string, or a variant of a `#[derive(Roles)]` enum.
#[derive(Debug, Clone)]
pub(crate) enum RoleName {
    /// `"ops"`.
    Str(syn::LitStr),
    /// `Role::Ops`.
    Variant(syn::Path),
}

impl RoleName {
    pub(crate) fn span(&self) -> Span {
        match self {
            RoleName::Str(s) => s.span(),
            RoleName::Variant(p) => p.span(),
        }
    }
}

/// `#[requires_role(…)]`: one role, `any(…)` or `all(…)`.
#[derive(Debug, Clone)]
pub(crate) struct RoleAttr {
    /// `all(…)`: every role; otherwise any one.
    pub(crate) all: bool,
    pub(crate) roles: Vec<RoleName>,
}

/// The inert helper a policy attribute becomes on a derived struct.
pub(crate) const HELPER: &str = "mcp_policy";

/// Whether an attribute is a policy (by its last path segment).
pub(crate) fn is_policy(attr: &syn::Attribute) -> Option<&'static str> {
    let last = attr.path().segments.last()?.ident.to_string();
    NAMES.iter().copied().find(|n| *n == last)
}

/// `#[rate_limit(60, per = "1m", burst = 10, key = "principal")]` after the count.
#[derive(Debug, Default, FromMeta)]
pub(crate) struct RateLimitArgs {
    pub(crate) per: Option<syn::LitStr>,
    pub(crate) burst: Option<syn::LitInt>,
    pub(crate) key: Option<syn::LitStr>,
}

/// `#[rate_limit(…)]`: the number of requests first, then options.
#[derive(Debug)]
pub(crate) struct RateLimitAttr {
    pub(crate) requests: syn::LitInt,
    pub(crate) args: RateLimitArgs,
}

/// `#[cache(ttl = "30s", scope = "principal")]`.
#[derive(Debug, Default, FromMeta)]
pub(crate) struct CacheArgs {
    pub(crate) ttl: Option<syn::LitStr>,
    pub(crate) scope: Option<syn::LitStr>,
}

/// `#[retry(attempts = 3, backoff = "100ms", max_backoff = "10s")]`.
#[derive(Debug, Default, FromMeta)]
pub(crate) struct RetryArgs {
    pub(crate) attempts: Option<syn::LitInt>,
    pub(crate) backoff: Option<syn::LitStr>,
    pub(crate) max_backoff: Option<syn::LitStr>,
}

/// `#[circuit_breaker(failure_ratio = 0.5, window = "30s", min_calls = 10, cooldown = "10s")]`.
#[derive(Debug, Default, FromMeta)]
pub(crate) struct CircuitBreakerArgs {
    pub(crate) failure_ratio: Option<syn::LitFloat>,
    pub(crate) window: Option<syn::LitStr>,
    pub(crate) min_calls: Option<syn::LitInt>,
    pub(crate) cooldown: Option<syn::LitStr>,
}

/// The policy attributes of one component, each with the span of its name.
#[derive(Debug, Default)]
pub(crate) struct PolicyAttrs {
    pub(crate) rate_limit: Option<(Span, RateLimitAttr)>,
    pub(crate) cache: Option<(Span, CacheArgs)>,
    /// `#[timeout("5s")]`.
    pub(crate) timeout: Option<(Span, syn::LitStr)>,
    pub(crate) retry: Option<(Span, RetryArgs)>,
    pub(crate) circuit_breaker: Option<(Span, CircuitBreakerArgs)>,
    /// `#[concurrency_limit(4)]`.
    pub(crate) concurrency_limit: Option<(Span, syn::LitInt)>,
    pub(crate) requires_role: Option<(Span, RoleAttr)>,
    /// `#[requires_scope("a", "b")]`.
    pub(crate) requires_scope: Option<(Span, Vec<syn::LitStr>)>,
    /// Every policy written (also those that did not parse), for "given twice" and "only on
    /// tools".
    pub(crate) written: Vec<(&'static str, Span)>,
}

impl PolicyAttrs {
    /// Parse one policy attribute (`name` with its parenthesized `tokens`) into the set.
    pub(crate) fn add(
        &mut self,
        name: &'static str,
        span: Span,
        tokens: TokenStream,
        errors: &mut darling::error::Accumulator,
    ) {
        if self.written.iter().any(|(n, _)| *n == name) {
            errors.push(
                darling::Error::custom(format!(
                    "`#[{name}]` is given twice\nhelp: keep one `#[{name}(…)]` with all its options"
                ))
                .with_span(&span),
            );
            return;
        }
        self.written.push((name, span));
        let Some(items) = errors.handle(super::nested(tokens)) else {
            return;
        };
        match name {
            "rate_limit" => {
                let (first, rest) = positional(&items);
                let requests = match first {
                    Some(syn::Lit::Int(n)) => Some(n.clone()),
                    Some(other) => {
                        errors.push(darling::Error::custom("the first argument is the number of requests, like `#[rate_limit(60, per = \"1m\")]`").with_span(other));
                        None
                    }
                    None => {
                        errors.push(darling::Error::custom("`#[rate_limit]` needs a number of requests: `#[rate_limit(60, per = \"1m\")]`").with_span(&span));
                        None
                    }
                };
                let args = errors.handle(RateLimitArgs::from_list(rest));
                if let (Some(requests), Some(args)) = (requests, args) {
                    self.rate_limit = Some((span, RateLimitAttr { requests, args }));
                }
            }
            "cache" => {
                self.cache = errors
                    .handle(CacheArgs::from_list(&items))
                    .map(|args| (span, args));
            }
            "timeout" => match positional(&items) {
                (Some(syn::Lit::Str(s)), []) => self.timeout = Some((span, s.clone())),
                _ => errors.push(
                    darling::Error::custom("write the timeout as a duration: `#[timeout(\"5s\")]`")
                        .with_span(&span),
                ),
            },
            "retry" => {
                self.retry = errors
                    .handle(RetryArgs::from_list(&items))
                    .map(|args| (span, args));
            }
            "circuit_breaker" => {
                self.circuit_breaker = errors
                    .handle(CircuitBreakerArgs::from_list(&items))
                    .map(|args| (span, args));
            }
            "concurrency_limit" => match positional(&items) {
                (Some(syn::Lit::Int(n)), []) => self.concurrency_limit = Some((span, n.clone())),
                _ => errors.push(
                    darling::Error::custom(
                        "write the limit as a number: `#[concurrency_limit(4)]`",
                    )
                    .with_span(&span),
                ),
            },
            "requires_role" => {
                self.requires_role = role_attr(&items, span, errors).map(|rule| (span, rule));
            }
            "requires_scope" => {
                let mut scopes = Vec::new();
                for item in &items {
                    match item {
                        NestedMeta::Lit(syn::Lit::Str(s)) => scopes.push(s.clone()),
                        other => errors.push(
                            darling::Error::custom(
                                "write scopes as strings: `#[requires_scope(\"files:read\")]`",
                            )
                            .with_span(other),
                        ),
                    }
                }
                if items.is_empty() {
                    errors.push(
                        darling::Error::custom(
                            "`#[requires_scope]` needs a scope: `#[requires_scope(\"files:read\")]`",
                        )
                        .with_span(&span),
                    );
                } else if !scopes.is_empty() {
                    self.requires_scope = Some((span, scopes));
                }
            }
            _ => {}
        }
    }

    /// Parse one attribute written on a function (`#[retry(…)]`).
    fn add_attribute(
        &mut self,
        name: &'static str,
        attr: &syn::Attribute,
        errors: &mut darling::error::Accumulator,
    ) {
        let span = attr.path().span();
        let tokens = match &attr.meta {
            syn::Meta::List(list) => list.tokens.clone(),
            syn::Meta::Path(_) => TokenStream::new(),
            syn::Meta::NameValue(nv) => {
                self.written.push((name, span));
                errors.push(darling::Error::custom(format!("write `#[{name}(…)]`")).with_span(nv));
                return;
            }
        };
        self.add(name, span, tokens, errors);
    }
}

/// `#[requires_role("ops")]`, `#[requires_role(Role::Ops)]`, `#[requires_role(any(…))]`,
/// `#[requires_role(all(…))]`.
fn role_attr(
    items: &[NestedMeta],
    span: Span,
    errors: &mut darling::error::Accumulator,
) -> Option<RoleAttr> {
    let one = |item: &NestedMeta| match item {
        NestedMeta::Lit(syn::Lit::Str(s)) => Some(RoleName::Str(s.clone())),
        NestedMeta::Meta(syn::Meta::Path(path)) => Some(RoleName::Variant(path.clone())),
        _ => None,
    };
    let shape = "write one role (`\"ops\"` or `Role::Ops`), `any(…)` for either of several, or `all(…)` for every one";
    match items {
        [] => {
            errors.push(
                darling::Error::custom(format!("`#[requires_role]` needs a role: {shape}"))
                    .with_span(&span),
            );
            None
        }
        [NestedMeta::Meta(syn::Meta::List(list))]
            if list.path.is_ident("any") || list.path.is_ident("all") =>
        {
            let all = list.path.is_ident("all");
            let inner = errors.handle(super::nested(list.tokens.clone()))?;
            let mut roles = Vec::new();
            for item in &inner {
                match one(item) {
                    Some(role) => roles.push(role),
                    None => errors.push(
                        darling::Error::custom(
                            "a role is a string (`\"ops\"`) or a variant of a `#[derive(Roles)]` enum (`Role::Ops`)",
                        )
                        .with_span(item),
                    ),
                }
            }
            if inner.is_empty() {
                errors.push(
                    darling::Error::custom(format!(
                        "`{}()` lists no role",
                        if all { "all" } else { "any" }
                    ))
                    .with_span(list),
                );
                return None;
            }
            Some(RoleAttr { all, roles })
        }
        [item] => match one(item) {
            Some(role) => Some(RoleAttr {
                all: false,
                roles: vec![role],
            }),
            None => {
                errors.push(darling::Error::custom(shape).with_span(item));
                None
            }
        },
        [_, second, ..] => {
            errors.push(
                darling::Error::custom(format!(
                    "`#[requires_role]` takes one role or one list\nhelp: {shape}, like `#[requires_role(any(\"ops\", \"admin\"))]`"
                ))
                .with_span(second),
            );
            None
        }
    }
}

fn positional(items: &[NestedMeta]) -> (Option<&syn::Lit>, &[NestedMeta]) {
    match items.split_first() {
        Some((NestedMeta::Lit(lit), rest)) => (Some(lit), rest),
        _ => (None, items),
    }
}

/// Take the policy attributes off a function or method, parsing each.
pub(crate) fn take(
    attrs: &mut Vec<syn::Attribute>,
    errors: &mut darling::error::Accumulator,
) -> PolicyAttrs {
    let mut set = PolicyAttrs::default();
    attrs.retain(|attr| match is_policy(attr) {
        Some(name) => {
            set.add_attribute(name, attr, errors);
            false
        }
        None => true,
    });
    set
}

/// Take the policy attributes off a `#[server]` impl block: those written below `#[server]`
/// and the helpers those written above it left (see `expand::policy_attribute`).
pub(crate) fn take_block(
    attrs: &mut Vec<syn::Attribute>,
    errors: &mut darling::error::Accumulator,
) -> PolicyAttrs {
    let mut set = from_helpers(attrs, errors);
    attrs.retain(|attr| !attr.path().is_ident(HELPER));
    attrs.retain(|attr| match is_policy(attr) {
        Some(name) => {
            set.add_attribute(name, attr, errors);
            false
        }
        None => true,
    });
    set
}

/// Read the `#[mcp_policy(name(…))]` helpers a derived struct carries.
pub(crate) fn from_helpers(
    attrs: &[syn::Attribute],
    errors: &mut darling::error::Accumulator,
) -> PolicyAttrs {
    let mut set = PolicyAttrs::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident(HELPER)) {
        let parsed = attr.parse_args::<syn::MetaList>();
        let Ok(list) = parsed else {
            errors.push(
                darling::Error::custom("write policies as attributes: `#[retry(…)]`")
                    .with_span(attr),
            );
            continue;
        };
        let Some(name) = list
            .path
            .get_ident()
            .and_then(|i| NAMES.iter().copied().find(|n| i == n))
        else {
            errors.push(darling::Error::custom("not a policy").with_span(&list.path));
            continue;
        };
        set.add(name, list.path.span(), list.tokens, errors);
    }
    set
}
