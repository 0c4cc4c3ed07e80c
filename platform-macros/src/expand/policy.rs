//! `.policies(Policies { … })` on a tool definition, from its checked, typed policies.

use proc_macro2::TokenStream;
use quote::quote;

use crate::model::policy::Policies;

fn duration(ms: u64) -> TokenStream {
    quote!(::core::time::Duration::from_millis(#ms))
}

/// The policies as builder calls (`.policies(…)` for a tool's policies, `.access(…)` for
/// its requirements), or nothing when none is declared.
pub(crate) fn tokens(policies: &Policies, private: &TokenStream) -> TokenStream {
    let access = access(policies, private);
    if !policies.any() {
        return access;
    }
    let policies = tool_policies(policies, private);
    quote!(#policies #access)
}

/// `.access(Access::anyone().any_role([…]).scopes([…]))`, or nothing.
pub(crate) fn access(policies: &Policies, private: &TokenStream) -> TokenStream {
    use crate::parse::policy::RoleName;
    if !policies.has_access() {
        return TokenStream::new();
    }
    let roles = policies.requires_role.as_ref().map(|(_, rule)| {
        let names = rule.roles.iter().map(|role| match role {
            RoleName::Str(s) => quote!(#s),
            // A misspelt variant is the compiler's "no variant named …"; a type that is not
            // a role enum fails the `Roles` bound with a note naming the derive.
            RoleName::Variant(path) => {
                quote::quote_spanned!(syn::spanned::Spanned::span(path)=> #private::role_name(&#path))
            }
        });
        if rule.all {
            quote!(.all_roles([#(#names),*]))
        } else {
            quote!(.any_role([#(#names),*]))
        }
    });
    let scopes = policies
        .requires_scope
        .as_ref()
        .map(|(_, scopes)| quote!(.scopes([#(#scopes),*])));
    quote!(.access(#private::Access::anyone() #roles #scopes))
}

fn tool_policies(policies: &Policies, private: &TokenStream) -> TokenStream {
    let mut fields = Vec::new();
    if let Some((span, limit)) = &policies.rate_limit {
        let requests = limit.requests.value;
        let per = duration(limit.per.ms);
        let burst = limit.burst.map(|b| {
            let b = b.value;
            quote!(.burst(#b))
        });
        let key = limit.key.map(|k| {
            let variant = syn::Ident::new(k, *span);
            quote!(.key(#private::RateLimitKey::#variant))
        });
        fields.push(quote!(rate_limit: #private::Some(#private::RateLimit::new(#requests, #per) #burst #key)));
    }
    if let Some((span, cache)) = &policies.cache {
        let ttl = duration(cache.ttl.ms);
        let scope = syn::Ident::new(cache.scope, *span);
        fields.push(quote!(cache: #private::Some(#private::CachePolicy { ttl: #ttl, scope: #private::CacheScope::#scope })));
    }
    if let Some((_, timeout)) = &policies.timeout {
        let d = duration(timeout.ms);
        fields.push(quote!(timeout: #private::Some(#d)));
    }
    if let Some((_, retry)) = &policies.retry {
        let attempts = retry.attempts.value;
        let (backoff, max_backoff) = (duration(retry.backoff.ms), duration(retry.max_backoff.ms));
        fields.push(quote!(retry: #private::Some(#private::RetryPolicy { attempts: #attempts, backoff: #backoff, max_backoff: #max_backoff })));
    }
    if let Some((_, breaker)) = &policies.circuit_breaker {
        let ratio = breaker.failure_ratio.value;
        let min_calls = breaker.min_calls;
        let (window, cooldown) = (duration(breaker.window.ms), duration(breaker.cooldown.ms));
        fields.push(
            quote!(circuit_breaker: #private::Some(#private::CircuitBreakerPolicy {
                failure_ratio: #ratio, window: #window, min_calls: #min_calls, cooldown: #cooldown
            })),
        );
    }
    if let Some((_, limit)) = &policies.concurrency_limit {
        let limit = limit.value;
        fields.push(quote!(concurrency_limit: #private::Some(#limit)));
    }
    quote!(.policies(#private::Policies { #(#fields,)* ..#private::Default::default() }))
}
