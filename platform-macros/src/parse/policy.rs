//! The policy attributes as written: `#[rate_limit]`, `#[cache]`, `#[timeout]`, `#[retry]`,
//! `#[circuit_breaker]`, `#[concurrency_limit]` — one darling receiver each. On a function
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
];

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
