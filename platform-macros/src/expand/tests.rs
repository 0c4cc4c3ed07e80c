//! Expansion snapshots: what the macros generate, formatted, reviewed in `snapshots/`.

use quote::quote;

use super::{component, derive, server};
use crate::model::Kind;

fn pretty(tokens: proc_macro2::TokenStream) -> String {
    match syn::parse2::<syn::File>(tokens.clone()) {
        Ok(file) => prettyplease::unparse(&file),
        Err(error) => panic!("expansion does not parse: {error}\n{tokens}"),
    }
}

#[test]
fn free_function_tool() {
    let out = component(
        Kind::Tool,
        quote!(read_only, idempotent),
        quote! {
            /// Add two integers.
            ///
            /// # Arguments
            /// * `a` - left operand
            /// * `b` - right operand
            async fn add(a: i64, b: Option<i64>, ctx: Context) -> Result<i64, ToolError> {
                Ok(a + b.unwrap_or(0))
            }
        },
    );
    insta::assert_snapshot!(pretty(out));
}

#[test]
fn server_impl_block() {
    let out = server(
        quote!(name = "weather", version = "1.0.0"),
        quote! {
            impl Weather {
                /// Current conditions.
                #[tool]
                fn current(&self, city: String) -> String { city }

                /// Alerts.
                #[resource("weather://{city}/alerts", mime = "application/json")]
                async fn alerts(&self, city: String) -> Vec<String> { vec![city] }

                /// Briefing.
                #[prompt]
                fn briefing(&self, #[extract] caller: Caller, city: String) -> String { city }
            }
        },
    );
    insta::assert_snapshot!(pretty(out));
}

#[test]
fn derived_prompt() {
    let out = derive::prompt(quote! {
        /// Review code.
        #[mcp(template = "Review {code}")]
        struct Review { code: String, note: Option<String> }
    });
    insta::assert_snapshot!(pretty(out));
}

#[test]
fn an_error_still_emits_the_function_and_its_factory() {
    let out = component(
        Kind::Tool,
        quote!(read_olny),
        quote! {
            /// Add.
            fn add(a: i64) -> i64 { a }
        },
    );
    let text = out.to_string();
    assert!(text.contains("fn add"), "{text}");
    assert!(text.contains("ToolFactory for add"), "{text}");
    assert!(text.contains("compile_error"), "{text}");
}

#[test]
fn derived_tool_with_policies() {
    let out = derive::tool(quote! {
        /// Look up a price.
        #[mcp(read_only, tags("shop"))]
        #[mcp_policy(cache(ttl = "1m", scope = "public"))]
        #[mcp_policy(rate_limit(60, per = "1m", key = "principal"))]
        struct Price { item: String }
    });
    insta::assert_snapshot!(pretty(out));
}

#[test]
fn a_rule_gives_the_same_error_in_every_place() {
    let message = "`#[retry]` on a tool that is not idempotent";
    let free = component(
        Kind::Tool,
        quote!(),
        quote! {
            /// Charge.
            #[retry(attempts = 3)]
            fn charge(cents: u64) -> u64 { cents }
        },
    );
    let method = server(
        quote!(),
        quote! {
            impl Payments {
                /// Charge.
                #[tool]
                #[retry(attempts = 3)]
                fn charge(&self, cents: u64) -> u64 { cents }
            }
        },
    );
    let derived = derive::tool(quote! {
        /// Charge.
        #[mcp_policy(retry(attempts = 3))]
        struct Charge { cents: u64 }
    });
    for out in [free, method, derived] {
        let text = out.to_string();
        assert!(text.contains(message), "{text}");
    }
}

#[test]
fn darling_messages_are_restyled() {
    assert_eq!(
        super::restyled("Unknown field: `pre`. Available values: `burst`, `key`, `per`"),
        "unknown option `pre`; the options are `burst`, `key`, `per`"
    );
    assert_eq!(
        super::restyled("Unknown field: `read_olny`. Did you mean `read_only`?"),
        "unknown option `read_olny`; did you mean `read_only`?"
    );
    assert_eq!(
        super::restyled("Duplicate field `name`"),
        "option given twice: `name`"
    );
    let ours = "`#[timeout]` is given twice";
    assert_eq!(super::restyled(ours), ours, "our own messages are kept");
}
