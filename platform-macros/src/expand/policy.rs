//! `.policies(Policies { … })` on a tool definition, from its checked, typed policies.

use proc_macro2::TokenStream;
use quote::quote;

use crate::model::policy::Policies;

fn duration(ms: u64) -> TokenStream {
    quote!(::core::time::Duration::from_millis(#ms))
}

/// The policies as a builder call, or nothing when none is declared.
pub(crate) fn tokens(policies: &Policies, private: &TokenStream) -> TokenStream {
    if !policies.any() {
        return TokenStream::new();
    }
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
