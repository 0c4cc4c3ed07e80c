//! Policy attributes: `#[rate_limit]`, `#[cache]`, `#[timeout]`, `#[retry]`,
//! `#[circuit_breaker]`, `#[concurrency_limit]`. They generate data on the tool's definition;
//! the runtime enforces it. They work above or below `#[tool]`, and inside `#[server]`.

use darling::FromMeta;
use darling::ast::NestedMeta;
use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::spanned::Spanned as _;

use crate::parse;

/// The attribute names, as written.
pub(crate) const NAMES: &[&str] = &[
    "rate_limit",
    "cache",
    "timeout",
    "retry",
    "circuit_breaker",
    "concurrency_limit",
];

/// Whether an attribute is one of ours (by its last path segment).
pub(crate) fn is_policy(attr: &syn::Attribute) -> Option<&'static str> {
    let last = attr.path().segments.last()?.ident.to_string();
    NAMES.iter().copied().find(|n| *n == last)
}

/// A duration in milliseconds, parsed from a literal like `"250ms"`, `"5s"`, `"1m30s"`.
fn duration_ms(lit: &syn::LitStr, errors: &mut darling::error::Accumulator) -> u64 {
    match parse_duration_ms(&lit.value()) {
        Ok(ms) if ms > 0 => ms,
        Ok(_) => {
            errors.push(
                darling::Error::custom("the duration must be greater than zero").with_span(lit),
            );
            1
        }
        Err(reason) => {
            errors.push(
                darling::Error::custom(format!(
                    "`{}` is not a duration: {reason}\nhelp: write a number and a unit, like \"250ms\", \"5s\", \"1m\" or \"1m30s\"",
                    lit.value()
                ))
                .with_span(lit),
            );
            1
        }
    }
}

/// The grammar of `platform_runtime::middleware::policy::parse_duration`, in milliseconds.
pub(crate) fn parse_duration_ms(text: &str) -> Result<u64, String> {
    let mut total: u64 = 0;
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err("it is empty".into());
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err("expected a number".into());
        }
        let number: u64 = rest[..digits]
            .parse()
            .map_err(|_| "the number is too large".to_owned())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let factor = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "" => return Err("the unit is missing (ms, s, m, h or d)".into()),
            other => return Err(format!("`{other}` is not a unit (ms, s, m, h or d)")),
        };
        total = total.saturating_add(number.saturating_mul(factor));
    }
    Ok(total)
}

#[derive(Debug, Default, FromMeta)]
struct RateLimitArgs {
    per: Option<syn::LitStr>,
    burst: Option<syn::LitInt>,
    key: Option<syn::LitStr>,
}

#[derive(Debug, Default, FromMeta)]
struct CacheArgs {
    ttl: Option<syn::LitStr>,
    scope: Option<syn::LitStr>,
}

#[derive(Debug, Default, FromMeta)]
struct RetryArgs {
    attempts: Option<syn::LitInt>,
    backoff: Option<syn::LitStr>,
    max_backoff: Option<syn::LitStr>,
}

#[derive(Debug, Default, FromMeta)]
struct CircuitBreakerArgs {
    failure_ratio: Option<syn::LitFloat>,
    window: Option<syn::LitStr>,
    min_calls: Option<syn::LitInt>,
    cooldown: Option<syn::LitStr>,
}

/// The policies of one component, as tokens for the runtime and facts for the checks.
#[derive(Default)]
pub(crate) struct PolicySet {
    fields: Vec<TokenStream>,
    pub(crate) retry: Option<Span>,
    pub(crate) cache: Option<Span>,
    seen: Vec<&'static str>,
}

fn int<T: std::str::FromStr>(
    lit: &syn::LitInt,
    what: &str,
    errors: &mut darling::error::Accumulator,
) -> Option<T>
where
    T::Err: std::fmt::Display,
{
    match lit.base10_parse::<T>() {
        Ok(v) => Some(v),
        Err(e) => {
            errors.push(darling::Error::custom(format!("{what}: {e}")).with_span(lit));
            None
        }
    }
}

fn one_of(
    lit: &syn::LitStr,
    options: &[&str],
    what: &str,
    errors: &mut darling::error::Accumulator,
) -> Option<String> {
    let value = lit.value();
    if options.contains(&value.as_str()) {
        return Some(value);
    }
    let hint = options
        .iter()
        .map(|o| (strsim::levenshtein(&value, o), o))
        .min_by_key(|(d, _)| *d)
        .filter(|(d, _)| *d <= 2)
        .map(|(_, o)| format!("did you mean \"{o}\"? "))
        .unwrap_or_default();
    errors.push(
        darling::Error::custom(format!(
            "`{value}` is not a {what}\nhelp: {hint}use one of: {}",
            options
                .iter()
                .map(|o| format!("\"{o}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .with_span(lit),
    );
    None
}

fn positional(items: &[NestedMeta]) -> (Option<&syn::Lit>, &[NestedMeta]) {
    match items.split_first() {
        Some((NestedMeta::Lit(lit), rest)) => (Some(lit), rest),
        _ => (None, items),
    }
}

impl PolicySet {
    /// Parse one policy attribute into the set.
    pub(crate) fn add(
        &mut self,
        name: &'static str,
        attr: &syn::Attribute,
        private: &TokenStream,
        errors: &mut darling::error::Accumulator,
    ) {
        if self.seen.contains(&name) {
            errors.push(
                darling::Error::custom(format!(
                    "`#[{name}]` is given twice\nhelp: keep one `#[{name}(…)]` with all its options"
                ))
                .with_span(attr.path()),
            );
            return;
        }
        self.seen.push(name);
        let tokens = match &attr.meta {
            syn::Meta::List(list) => list.tokens.clone(),
            syn::Meta::Path(_) => TokenStream::new(),
            syn::Meta::NameValue(nv) => {
                errors.push(darling::Error::custom(format!("write `#[{name}(…)]`")).with_span(nv));
                return;
            }
        };
        let Some(items) = errors.handle(parse::nested(tokens)) else {
            return;
        };
        let span = attr.path().span();
        let duration = |ms: u64| quote!(::core::time::Duration::from_millis(#ms));
        match name {
            "rate_limit" => {
                let (first, rest) = positional(&items);
                let requests: Option<u32> = match first {
                    Some(syn::Lit::Int(n)) => int(n, "the number of requests", errors),
                    Some(other) => {
                        errors.push(darling::Error::custom("the first argument is the number of requests, like `#[rate_limit(60, per = \"1m\")]`").with_span(other));
                        None
                    }
                    None => {
                        errors.push(darling::Error::custom("`#[rate_limit]` needs a number of requests: `#[rate_limit(60, per = \"1m\")]`").with_span(attr.path()));
                        None
                    }
                };
                let Some(args) = errors.handle(RateLimitArgs::from_list(rest)) else {
                    return;
                };
                let per = args.per.as_ref().map_or(1_000, |p| duration_ms(p, errors));
                let burst = args
                    .burst
                    .as_ref()
                    .and_then(|b| int::<u32>(b, "the burst", errors));
                let key = args.key.as_ref().and_then(|k| {
                    one_of(
                        k,
                        &["global", "principal", "tenant", "tool", "client"],
                        "rate-limit key",
                        errors,
                    )
                });
                let Some(requests) = requests else { return };
                if requests == 0 {
                    errors.push(
                        darling::Error::custom("the number of requests must be at least 1")
                            .with_span(&span),
                    );
                }
                let per = duration(per);
                let burst = burst.map(|b| quote!(.burst(#b)));
                let key = key.map(|k| {
                    let variant = syn::Ident::new(
                        match k.as_str() {
                            "global" => "Global",
                            "principal" => "Principal",
                            "tenant" => "Tenant",
                            "client" => "Client",
                            _ => "Tool",
                        },
                        span,
                    );
                    quote!(.key(#private::RateLimitKey::#variant))
                });
                self.fields.push(quote!(rate_limit: #private::Some(#private::RateLimit::new(#requests, #per) #burst #key)));
            }
            "cache" => {
                let Some(args) = errors.handle(CacheArgs::from_list(&items)) else {
                    return;
                };
                let ttl = match &args.ttl {
                    Some(t) => duration_ms(t, errors),
                    None => {
                        errors.push(
                            darling::Error::custom(
                                "`#[cache]` needs a lifetime: `#[cache(ttl = \"30s\")]`",
                            )
                            .with_span(attr.path()),
                        );
                        return;
                    }
                };
                let scope = args
                    .scope
                    .as_ref()
                    .and_then(|s| {
                        one_of(s, &["principal", "tenant", "public"], "cache scope", errors)
                    })
                    .unwrap_or_else(|| "principal".to_owned());
                let variant = syn::Ident::new(
                    match scope.as_str() {
                        "tenant" => "Tenant",
                        "public" => "Public",
                        _ => "Principal",
                    },
                    span,
                );
                let ttl = duration(ttl);
                self.cache = Some(span);
                self.fields.push(quote!(cache: #private::Some(#private::CachePolicy { ttl: #ttl, scope: #private::CacheScope::#variant })));
            }
            "timeout" => {
                let ms = match positional(&items) {
                    (Some(syn::Lit::Str(s)), []) => duration_ms(s, errors),
                    _ => {
                        errors.push(
                            darling::Error::custom(
                                "write the timeout as a duration: `#[timeout(\"5s\")]`",
                            )
                            .with_span(attr.path()),
                        );
                        return;
                    }
                };
                let d = duration(ms);
                self.fields.push(quote!(timeout: #private::Some(#d)));
            }
            "retry" => {
                let Some(args) = errors.handle(RetryArgs::from_list(&items)) else {
                    return;
                };
                let attempts = args
                    .attempts
                    .as_ref()
                    .and_then(|a| int::<u32>(a, "attempts", errors))
                    .unwrap_or(3);
                if !(2..=10).contains(&attempts) {
                    let at = args.attempts.as_ref().map_or(span, |a| a.span());
                    errors.push(
                        darling::Error::custom("`attempts` counts the first try too: use 2 to 10")
                            .with_span(&at),
                    );
                }
                let backoff = args
                    .backoff
                    .as_ref()
                    .map_or(100, |b| duration_ms(b, errors));
                let max_backoff = args
                    .max_backoff
                    .as_ref()
                    .map_or(10_000, |b| duration_ms(b, errors));
                let (backoff, max_backoff) = (duration(backoff), duration(max_backoff));
                self.retry = Some(span);
                self.fields.push(quote!(retry: #private::Some(#private::RetryPolicy { attempts: #attempts, backoff: #backoff, max_backoff: #max_backoff })));
            }
            "circuit_breaker" => {
                let Some(args) = errors.handle(CircuitBreakerArgs::from_list(&items)) else {
                    return;
                };
                let ratio = match &args.failure_ratio {
                    Some(r) => match r.base10_parse::<f64>() {
                        Ok(v) if v > 0.0 && v <= 1.0 => v,
                        _ => {
                            errors.push(
                                darling::Error::custom(
                                    "`failure_ratio` is a fraction in (0, 1], like 0.5",
                                )
                                .with_span(r),
                            );
                            0.5
                        }
                    },
                    None => 0.5,
                };
                let window = duration(
                    args.window
                        .as_ref()
                        .map_or(30_000, |w| duration_ms(w, errors)),
                );
                let cooldown = duration(
                    args.cooldown
                        .as_ref()
                        .map_or(10_000, |c| duration_ms(c, errors)),
                );
                let min_calls = args
                    .min_calls
                    .as_ref()
                    .and_then(|m| int::<u32>(m, "min_calls", errors))
                    .unwrap_or(10);
                self.fields.push(quote!(circuit_breaker: #private::Some(#private::CircuitBreakerPolicy {
                    failure_ratio: #ratio, window: #window, min_calls: #min_calls, cooldown: #cooldown
                })));
            }
            "concurrency_limit" => {
                let limit = match positional(&items) {
                    (Some(syn::Lit::Int(n)), []) => int::<usize>(n, "the limit", errors),
                    _ => {
                        errors.push(
                            darling::Error::custom(
                                "write the limit as a number: `#[concurrency_limit(4)]`",
                            )
                            .with_span(attr.path()),
                        );
                        None
                    }
                };
                if let Some(limit) = limit {
                    if limit == 0 {
                        errors.push(
                            darling::Error::custom("the limit must be at least 1")
                                .with_span(attr.path()),
                        );
                    }
                    self.fields
                        .push(quote!(concurrency_limit: #private::Some(#limit)));
                }
            }
            _ => {}
        }
    }

    /// `.policies(Policies { … })`, or nothing.
    pub(crate) fn tokens(&self, private: &TokenStream) -> TokenStream {
        if self.fields.is_empty() {
            return TokenStream::new();
        }
        let fields = &self.fields;
        quote!(.policies(#private::Policies { #(#fields,)* ..#private::Default::default() }))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

/// Take the policy attributes off an item, parsing them into a set.
pub(crate) fn extract(
    attrs: &mut Vec<syn::Attribute>,
    private: &TokenStream,
    errors: &mut darling::error::Accumulator,
) -> PolicySet {
    let mut set = PolicySet::default();
    attrs.retain(|attr| match is_policy(attr) {
        Some(name) => {
            set.add(name, attr, private, errors);
            false
        }
        None => true,
    });
    set
}

/// A policy attribute expanded on its own (it came before `#[tool]`): find the component
/// attribute, put this policy back among the item's attributes, and expand the component.
pub(crate) fn standalone(name: &'static str, args: TokenStream, item: TokenStream) -> TokenStream {
    let function: syn::ItemFn = match syn::parse2(item.clone()) {
        Ok(f) => f,
        Err(_) => {
            let message = format!("`#[{name}]` goes on a `#[tool]` function or method");
            let error = syn::Error::new(Span::call_site(), message).to_compile_error();
            return quote!(#error #item);
        }
    };
    let mut function = function;
    let position = function
        .attrs
        .iter()
        .position(|a| crate::expand::component_kind(a).is_some());
    let Some(position) = position else {
        let message = format!(
            "`#[{name}]` is a tool policy, but this function is not a tool\nhelp: add `#[tool]` to the function, or remove `#[{name}]`"
        );
        let error = syn::Error::new(Span::call_site(), message).to_compile_error();
        return quote!(#error #function);
    };
    let component = function.attrs.remove(position);
    let kind = crate::expand::component_kind(&component).unwrap_or(crate::model::Kind::Tool);
    let ident = syn::Ident::new(name, Span::call_site());
    function.attrs.push(syn::parse_quote!(#[#ident(#args)]));
    let component_args = match &component.meta {
        syn::Meta::List(list) => list.tokens.clone(),
        _ => TokenStream::new(),
    };
    crate::expand::component(kind, component_args, quote!(#function))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_match_the_runtime_grammar() {
        assert_eq!(parse_duration_ms("250ms"), Ok(250));
        assert_eq!(parse_duration_ms("1m30s"), Ok(90_000));
        assert!(parse_duration_ms("5").is_err());
        assert!(parse_duration_ms("5 sec").is_err());
    }
}
