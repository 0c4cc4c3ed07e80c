//! The typed policies of one component: durations in milliseconds (by the grammar of
//! `platform-duration`, which the runtime's configuration shares), counts as integers, keys
//! and scopes as variants. A value that cannot be typed is an error here; the rules about
//! values and about which tools may carry which policy are in `check`.

use proc_macro2::Span;

use crate::parse::policy::PolicyAttrs;

/// A duration literal, in milliseconds, with the literal's span.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Millis {
    pub(crate) ms: u64,
    pub(crate) span: Span,
}

impl Millis {
    fn default(ms: u64, span: Span) -> Self {
        Self { ms, span }
    }
}

/// A count with the span it was written at.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Count<T> {
    pub(crate) value: T,
    pub(crate) span: Span,
}

#[derive(Debug)]
pub(crate) struct RateLimit {
    pub(crate) requests: Count<u32>,
    pub(crate) per: Millis,
    pub(crate) burst: Option<Count<u32>>,
    /// `Global`, `Principal`, `Tenant`, `Tool` or `Client`.
    pub(crate) key: Option<&'static str>,
}

#[derive(Debug)]
pub(crate) struct Cache {
    pub(crate) ttl: Millis,
    /// `Principal`, `Tenant` or `Public`.
    pub(crate) scope: &'static str,
}

#[derive(Debug)]
pub(crate) struct Retry {
    pub(crate) attempts: Count<u32>,
    pub(crate) backoff: Millis,
    pub(crate) max_backoff: Millis,
}

#[derive(Debug)]
pub(crate) struct CircuitBreaker {
    pub(crate) failure_ratio: Count<f64>,
    pub(crate) window: Millis,
    pub(crate) min_calls: u32,
    pub(crate) cooldown: Millis,
}

/// The policies of one component; each with the span of its attribute's name.
#[derive(Debug, Default)]
pub(crate) struct Policies {
    pub(crate) rate_limit: Option<(Span, RateLimit)>,
    pub(crate) cache: Option<(Span, Cache)>,
    pub(crate) timeout: Option<(Span, Millis)>,
    pub(crate) retry: Option<(Span, Retry)>,
    pub(crate) circuit_breaker: Option<(Span, CircuitBreaker)>,
    pub(crate) concurrency_limit: Option<(Span, Count<usize>)>,
    /// `#[requires_role]` (checked for one form of role in `check`).
    pub(crate) requires_role: Option<(Span, crate::parse::policy::RoleAttr)>,
    /// `#[requires_scope]`.
    pub(crate) requires_scope: Option<(Span, Vec<syn::LitStr>)>,
    /// Every policy attribute written, typed or not.
    pub(crate) written: Vec<(&'static str, Span)>,
}

impl Policies {
    /// The tool policies written (everything but the access attributes).
    pub(crate) fn tool_policies(&self) -> impl Iterator<Item = &(&'static str, Span)> {
        self.written
            .iter()
            .filter(|(name, _)| !crate::parse::policy::ACCESS.contains(name))
    }

    /// Whether `#[requires_role]` or `#[requires_scope]` is written.
    pub(crate) fn has_access(&self) -> bool {
        self.requires_role.is_some() || self.requires_scope.is_some()
    }

    /// Whether a typed policy would be emitted.
    pub(crate) fn any(&self) -> bool {
        self.rate_limit.is_some()
            || self.cache.is_some()
            || self.timeout.is_some()
            || self.retry.is_some()
            || self.circuit_breaker.is_some()
            || self.concurrency_limit.is_some()
    }
}

/// Type the parsed attributes, reporting each value that cannot be typed.
pub(crate) fn build(attrs: PolicyAttrs, errors: &mut darling::error::Accumulator) -> Policies {
    let mut attrs = attrs;
    let written = std::mem::take(&mut attrs.written);
    let mut out = Policies::default();
    // In the order written, so errors come in source order.
    for &(name, _) in &written {
        match name {
            "rate_limit" => rate_limit(attrs.rate_limit.take(), &mut out, errors),
            "cache" => cache(attrs.cache.take(), &mut out, errors),
            "timeout" => {
                if let Some((span, lit)) = attrs.timeout.take() {
                    out.timeout = millis(&lit, errors).map(|d| (span, d));
                }
            }
            "retry" => retry(attrs.retry.take(), &mut out, errors),
            "circuit_breaker" => circuit_breaker(attrs.circuit_breaker.take(), &mut out, errors),
            "concurrency_limit" => {
                if let Some((span, lit)) = attrs.concurrency_limit.take() {
                    out.concurrency_limit =
                        int::<usize>(&lit, "the limit", errors).map(|c| (span, c));
                }
            }
            "requires_role" => out.requires_role = attrs.requires_role.take(),
            "requires_scope" => out.requires_scope = attrs.requires_scope.take(),
            _ => {}
        }
    }
    out.written = written;
    out
}

fn rate_limit(
    attr: Option<(Span, crate::parse::policy::RateLimitAttr)>,
    out: &mut Policies,
    errors: &mut darling::error::Accumulator,
) {
    if let Some((span, attr)) = attr {
        let requests = int::<u32>(&attr.requests, "the number of requests", errors);
        let per = attr
            .args
            .per
            .as_ref()
            .map_or(Some(Millis::default(1_000, span)), |p| millis(p, errors));
        let burst = attr
            .args
            .burst
            .as_ref()
            .map(|b| int::<u32>(b, "the burst", errors));
        let key = attr.args.key.as_ref().map(|k| {
            one_of(
                k,
                &[
                    ("global", "Global"),
                    ("principal", "Principal"),
                    ("tenant", "Tenant"),
                    ("tool", "Tool"),
                    ("client", "Client"),
                ],
                "rate-limit key",
                errors,
            )
        });
        if let (Some(requests), Some(per), Some(burst), Some(key)) = (
            requests,
            per,
            burst.map_or(Some(None), |b| b.map(Some)),
            key.map_or(Some(None), |k| k.map(Some)),
        ) {
            out.rate_limit = Some((
                span,
                RateLimit {
                    requests,
                    per,
                    burst,
                    key,
                },
            ));
        }
    }
}

fn cache(
    args: Option<(Span, crate::parse::policy::CacheArgs)>,
    out: &mut Policies,
    errors: &mut darling::error::Accumulator,
) {
    if let Some((span, args)) = args {
        let ttl = match &args.ttl {
            Some(t) => millis(t, errors),
            None => {
                errors.push(
                    darling::Error::custom(
                        "`#[cache]` needs a lifetime: `#[cache(ttl = \"30s\")]`",
                    )
                    .with_span(&span),
                );
                None
            }
        };
        let scope = match &args.scope {
            Some(s) => one_of(
                s,
                &[
                    ("principal", "Principal"),
                    ("tenant", "Tenant"),
                    ("public", "Public"),
                ],
                "cache scope",
                errors,
            ),
            None => Some("Principal"),
        };
        if let (Some(ttl), Some(scope)) = (ttl, scope) {
            out.cache = Some((span, Cache { ttl, scope }));
        }
    }
}

fn retry(
    args: Option<(Span, crate::parse::policy::RetryArgs)>,
    out: &mut Policies,
    errors: &mut darling::error::Accumulator,
) {
    if let Some((span, args)) = args {
        let attempts = match &args.attempts {
            Some(a) => int::<u32>(a, "attempts", errors),
            None => Some(Count { value: 3, span }),
        };
        let backoff = args
            .backoff
            .as_ref()
            .map_or(Some(Millis::default(100, span)), |b| millis(b, errors));
        let max_backoff = args
            .max_backoff
            .as_ref()
            .map_or(Some(Millis::default(10_000, span)), |b| millis(b, errors));
        if let (Some(attempts), Some(backoff), Some(max_backoff)) = (attempts, backoff, max_backoff)
        {
            out.retry = Some((
                span,
                Retry {
                    attempts,
                    backoff,
                    max_backoff,
                },
            ));
        }
    }
}

fn circuit_breaker(
    args: Option<(Span, crate::parse::policy::CircuitBreakerArgs)>,
    out: &mut Policies,
    errors: &mut darling::error::Accumulator,
) {
    if let Some((span, args)) = args {
        let failure_ratio = match &args.failure_ratio {
            Some(r) => match r.base10_parse::<f64>() {
                Ok(value) => Some(Count {
                    value,
                    span: r.span(),
                }),
                Err(e) => {
                    errors.push(darling::Error::custom(format!("failure_ratio: {e}")).with_span(r));
                    None
                }
            },
            None => Some(Count { value: 0.5, span }),
        };
        let window = args
            .window
            .as_ref()
            .map_or(Some(Millis::default(30_000, span)), |w| millis(w, errors));
        let cooldown = args
            .cooldown
            .as_ref()
            .map_or(Some(Millis::default(10_000, span)), |c| millis(c, errors));
        let min_calls = match &args.min_calls {
            Some(m) => int::<u32>(m, "min_calls", errors).map(|c| c.value),
            None => Some(10),
        };
        if let (Some(failure_ratio), Some(window), Some(cooldown), Some(min_calls)) =
            (failure_ratio, window, cooldown, min_calls)
        {
            out.circuit_breaker = Some((
                span,
                CircuitBreaker {
                    failure_ratio,
                    window,
                    min_calls,
                    cooldown,
                },
            ));
        }
    }
}

/// A duration literal in milliseconds.
fn millis(lit: &syn::LitStr, errors: &mut darling::error::Accumulator) -> Option<Millis> {
    match platform_duration::parse_millis(&lit.value()) {
        Ok(ms) => Some(Millis {
            ms,
            span: lit.span(),
        }),
        Err(reason) => {
            errors.push(
                darling::Error::custom(format!(
                    "`{}` is not a duration: {reason}\nhelp: write a number and a unit, like \"250ms\", \"5s\", \"1m\" or \"1m30s\"",
                    lit.value()
                ))
                .with_span(lit),
            );
            None
        }
    }
}

fn int<T: std::str::FromStr>(
    lit: &syn::LitInt,
    what: &str,
    errors: &mut darling::error::Accumulator,
) -> Option<Count<T>>
where
    T::Err: std::fmt::Display,
{
    match lit.base10_parse::<T>() {
        Ok(value) => Some(Count {
            value,
            span: lit.span(),
        }),
        Err(e) => {
            errors.push(darling::Error::custom(format!("{what}: {e}")).with_span(lit));
            None
        }
    }
}

/// One of the names in `options` (as written → variant), with the nearest as a hint.
fn one_of(
    lit: &syn::LitStr,
    options: &[(&str, &'static str)],
    what: &str,
    errors: &mut darling::error::Accumulator,
) -> Option<&'static str> {
    let value = lit.value();
    if let Some((_, variant)) = options.iter().find(|(name, _)| *name == value) {
        return Some(variant);
    }
    let hint = options
        .iter()
        .map(|(o, _)| (strsim::levenshtein(&value, o), o))
        .min_by_key(|(d, _)| *d)
        .filter(|(d, _)| *d <= 2)
        .map(|(_, o)| format!("did you mean \"{o}\"? "))
        .unwrap_or_default();
    errors.push(
        darling::Error::custom(format!(
            "`{value}` is not a {what}\nhelp: {hint}use one of: {}",
            options
                .iter()
                .map(|(o, _)| format!("\"{o}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .with_span(lit),
    );
    None
}
