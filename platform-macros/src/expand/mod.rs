//! The macros' pipeline, and phase 4, expand. Each entry point runs parse → model → check
//! and, with every problem collected in one error list, generates code: one definition
//! expression per component, wrapped for free functions (a hidden factory beside the
//! function), for `#[server]` impl blocks, or for derived structs. Expansion never reports an
//! error; with errors it still emits the user's item and a registration stub, so one
//! mistake gives one error.

mod def;
pub(crate) mod derive;
mod policy;
pub(crate) mod roles;
pub(crate) mod serde;
#[cfg(test)]
mod tests;

use darling::FromMeta as _;
use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned as _;

use crate::check;
use crate::model::{self, Component, Kind, Options, Place};
use crate::parse::{self, ServerArgs};
use crate::paths::Runtime;

/// The registration body: the definition, or on errors the errors and an unreachable stub.
fn body_or_errors(errors: darling::error::Accumulator, body: TokenStream) -> TokenStream {
    match errors.finish() {
        Ok(()) => body,
        Err(error) => {
            let error = written(error);
            quote!({ #error ::core::unreachable!() })
        }
    }
}

/// Every collected error as a `compile_error!`, darling's own messages put in the words the
/// rest use (lower case, "option" for what the attributes call keys): `Unknown field:
/// `pre`. Available values: …` becomes ``unknown option `pre`; the options are …``.
fn written(error: darling::Error) -> TokenStream {
    error
        .flatten()
        .into_iter()
        .map(|one| syn::Error::new(one.span(), restyled(&one.to_string())).to_compile_error())
        .collect()
}

fn restyled(text: &str) -> String {
    const OPENINGS: [(&str, &str); 9] = [
        ("Unknown field: ", "unknown option "),
        ("Duplicate field ", "option given twice: "),
        ("Missing field ", "missing option "),
        (
            "Unexpected meta-item format ",
            "this option cannot be written as ",
        ),
        ("Unexpected type ", "unexpected type "),
        ("Unknown literal value ", "unknown value "),
        ("Unexpected literal type ", "unexpected kind of literal: "),
        (
            "Too few items: Expected at least ",
            "too few items: give at least ",
        ),
        (
            "Too many items: Expected no more than ",
            "too many items: give at most ",
        ),
    ];
    let mut text = text.to_owned();
    if let Some((darling, ours)) = OPENINGS.iter().find(|(d, _)| text.starts_with(d)) {
        text = format!("{ours}{}", &text[darling.len()..]);
    }
    text.replacen(". Did you mean ", "; did you mean ", 1)
        .replacen(". Available values: ", "; the options are ", 1)
}

/// `#[tool]`, `#[resource]` or `#[prompt]` on a free function.
pub(crate) fn component(kind: Kind, attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut function: syn::ItemFn = match syn::parse2(item.clone()) {
        Ok(f) => f,
        Err(_) => {
            let message = format!(
                "`#[{}]` goes on a function, or on a method inside a `#[server]` impl block",
                kind.attr()
            );
            let error = syn::Error::new(Span::call_site(), message).to_compile_error();
            return quote!(#error #item);
        }
    };
    let mut errors = darling::Error::accumulator();
    // Parse.
    let options = errors
        .handle(parse::component_options(
            kind,
            attr,
            function.sig.ident.span(),
        ))
        .unwrap_or_else(|| Options::empty(kind));
    let marked = model::strip_extract_markers(&mut function.sig);
    let policy_attrs = parse::policy::take(&mut function.attrs, &mut errors);
    // Model.
    let policies = model::policy::build(policy_attrs, &mut errors);
    let model = model::analyze(kind, &function.attrs, &function.sig, &marked, &mut errors);
    let component = Component {
        kind,
        place: Place::Function,
        ident: &function.sig.ident,
        options: &options,
        description: description(&options, model.docs.description.clone()),
        function: Some(&model),
        policies: &policies,
    };
    // Check.
    check::component(&component, &mut errors);
    if model.has_receiver {
        // A method outside `#[server]`: the error says so; no factory, which could not be
        // placed inside an impl block anyway.
        let error = errors.finish().err().map(written);
        return quote!(#error #function);
    }
    // Expand.
    let runtime = Runtime::new(options.krate());
    let private = runtime.private();
    let def = def::definition(
        &component,
        &model,
        &runtime,
        &policy::tokens(&policies, &private),
    );
    let ident = &function.sig.ident;
    let vis = &function.vis;
    let (factory, method, def_ty) = match kind {
        Kind::Tool => (quote!(ToolFactory), quote!(tool_def), quote!(ToolDef)),
        Kind::Resource => (
            quote!(ResourceFactory),
            quote!(resource_def),
            quote!(ResourceDef),
        ),
        Kind::Prompt => (quote!(PromptFactory), quote!(prompt_def), quote!(PromptDef)),
    };
    // On errors the factory stays, so `tools![…]` at the call site adds no second error.
    let body = body_or_errors(errors, def);
    let doc = format!(
        "Registration of the `{ident}` {} (generated by `#[{}]`).",
        kind.attr(),
        kind.attr()
    );
    quote! {
        #function

        #[doc = #doc]
        #[doc(hidden)]
        #[allow(non_camel_case_types, dead_code, unreachable_pub)]
        #vis struct #ident {}

        const _: () = {
            impl #private::#factory for #ident {
                fn #method() -> #private::#def_ty {
                    #body
                }
            }
        };
    }
}

/// The description: `description = …`, else the doc comment's.
fn description(options: &Options, docs: Option<String>) -> Option<String> {
    options
        .common()
        .description
        .as_ref()
        .map(syn::LitStr::value)
        .or(docs)
}

/// A method's parts after parse and model, before the checks.
struct Method {
    ident: syn::Ident,
    kind: Kind,
    options: Options,
    model: model::FnModel,
    policies: model::policy::Policies,
}

/// `#[server]` on an `impl` block.
pub(crate) fn server(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut block: syn::ItemImpl = match syn::parse2(item.clone()) {
        Ok(b) => b,
        Err(_) => {
            let error = syn::Error::new(
                Span::call_site(),
                "`#[server]` goes on an inherent `impl` block: `#[server] impl MyServer { … }`",
            )
            .to_compile_error();
            return quote!(#error #item);
        }
    };
    let mut errors = darling::Error::accumulator();
    let args = errors
        .handle(parse::nested(attr).and_then(|n| ServerArgs::from_list(&n)))
        .unwrap_or_default();
    check::server_block(&block, &mut errors);
    // Requirements on the whole block apply to every component.
    let block_policies = model::policy::build(
        parse::policy::take_block(&mut block.attrs, &mut errors),
        &mut errors,
    );
    check::server_policies(&block_policies, &mut errors);
    // Parse and model every method; the component attributes come off the items.
    let mut methods = Vec::new();
    for item in &mut block.items {
        let syn::ImplItem::Fn(method) = item else {
            continue;
        };
        let mut found: Vec<syn::Attribute> = Vec::new();
        method
            .attrs
            .retain(|attr| match parse::component_kind(attr) {
                Some(_) => {
                    found.push(attr.clone());
                    false
                }
                None => true,
            });
        let marked = model::strip_extract_markers(&mut method.sig);
        let policy_attrs = parse::policy::take(&mut method.attrs, &mut errors);
        let policies = model::policy::build(policy_attrs, &mut errors);
        check::method_attributes(method, &found, &policies, &mut errors);
        let Some(attr) = found.first() else {
            continue;
        };
        let kind = parse::component_kind(attr).unwrap_or(Kind::Tool);
        let Some(options) = errors.handle(parse::component_options(
            kind,
            parse::attr_tokens(attr),
            attr.span(),
        )) else {
            continue;
        };
        let model = model::analyze(kind, &method.attrs, &method.sig, &marked, &mut errors);
        methods.push(Method {
            ident: method.sig.ident.clone(),
            kind,
            options,
            model,
            policies,
        });
    }
    // Check every component, and their names together.
    let mut unique = check::Unique::default();
    let mut components = Vec::new();
    for method in &methods {
        let component = Component {
            kind: method.kind,
            place: Place::Method,
            ident: &method.ident,
            options: &method.options,
            description: description(&method.options, method.model.docs.description.clone()),
            function: Some(&method.model),
            policies: &method.policies,
        };
        check::component(&component, &mut errors);
        if unique.add(&component, &mut errors) {
            components.push((component, method));
        }
    }
    // Expand.
    let runtime = Runtime::new(args.krate.as_ref());
    let private = runtime.private();
    let server_access = policy::access(&block_policies, &private);
    let defs: Vec<TokenStream> = components
        .iter()
        .map(|(component, method)| {
            let def = def::definition(
                component,
                &method.model,
                &runtime,
                &policy::tokens(&method.policies, &private),
            );
            let adder = match method.kind {
                Kind::Tool => quote!(tool),
                Kind::Resource => quote!(resource),
                Kind::Prompt => quote!(prompt),
            };
            quote!(.#adder(#def #server_access))
        })
        .collect();
    let self_ty = &block.self_ty;
    let name = match &args.name {
        Some(name) => quote!(#name),
        None => quote!(::core::env!("CARGO_PKG_NAME")),
    };
    let version = match &args.version {
        Some(version) => quote!(#version),
        None => quote!(::core::env!("CARGO_PKG_VERSION")),
    };
    let title = match &args.title {
        Some(t) => quote!(#private::Some(#t.to_owned())),
        None => quote!(#private::None),
    };
    let instructions = match &args.instructions {
        Some(t) => quote!(#private::Some(#t.to_owned())),
        None => quote!(#private::None),
    };
    // The description: `description = "…"`, else the impl block's doc comment.
    let description = match (
        &args.description,
        crate::docs::parse(&block.attrs).description,
    ) {
        (Some(t), _) => quote!(#private::Some(#t.to_owned())),
        (None, Some(doc)) => quote!(#private::Some(#doc.to_owned())),
        (None, None) => quote!(#private::None),
    };
    let body = body_or_errors(
        errors,
        quote! {
            let __platform_this = #private::Arc::new(self);
            #private::Components::new() #(#defs)*
        },
    );
    let span = self_ty.span();
    let impl_tokens = quote_spanned! {span=>
        const _: () = {
            impl #private::IntoComponents for #self_ty {
                fn server_info() -> #private::ServerInfo {
                    let mut info = #private::ServerInfo::new(#name, #version);
                    info.title = #title;
                    info.instructions = #instructions;
                    info.description = #description;
                    info
                }

                fn into_components(self) -> #private::Components {
                    #body
                }
            }
        };
    };
    quote! {
        #block
        #impl_tokens
    }
}

/// A policy attribute expanded on its own: it came before `#[tool]` on a function, or it is
/// on a struct (which `#[derive(Tool)]` reads).
pub(crate) fn policy_attribute(
    name: &'static str,
    args: TokenStream,
    item: TokenStream,
) -> TokenStream {
    if let Ok(input) = syn::parse2::<syn::DeriveInput>(item.clone()) {
        return policy_on_struct(name, args, input);
    }
    if let Ok(mut block) = syn::parse2::<syn::ItemImpl>(item.clone()) {
        // Above `#[server]`: left as a helper for it to read.
        let server = block.attrs.iter().any(|a| {
            a.path()
                .segments
                .last()
                .is_some_and(|s| s.ident == "server")
        });
        if !server {
            let message = format!(
                "`#[{name}]` on an impl block needs `#[server]` on the block\nhelp: add `#[server]`, or put `#[{name}]` on the block's `#[tool]`, `#[resource]` and `#[prompt]` methods"
            );
            let error = syn::Error::new(Span::call_site(), message).to_compile_error();
            return quote!(#error #block);
        }
        let ident = syn::Ident::new(name, Span::call_site());
        let helper = syn::Ident::new(parse::policy::HELPER, Span::call_site());
        block
            .attrs
            .push(syn::parse_quote!(#[#helper(#ident(#args))]));
        return quote!(#block);
    }
    let mut function: syn::ItemFn = match syn::parse2(item.clone()) {
        Ok(f) => f,
        Err(_) => {
            let message = format!(
                "`#[{name}]` goes on a `#[tool]` function or method, or on a `#[derive(Tool)]` struct"
            );
            let error = syn::Error::new(Span::call_site(), message).to_compile_error();
            return quote!(#error #item);
        }
    };
    // Put this policy back among the attributes and expand the component attribute, which
    // reads them all.
    let Some(position) = function
        .attrs
        .iter()
        .position(|a| parse::component_kind(a).is_some())
    else {
        let message = if parse::policy::ACCESS.contains(&name) {
            format!(
                "`#[{name}]` applies to a tool, resource or prompt, but this function is none of them\nhelp: add `#[tool]`, `#[resource(…)]` or `#[prompt]` to the function (or put `#[{name}]` on a `#[server]` impl block), or remove `#[{name}]`"
            )
        } else {
            format!(
                "`#[{name}]` is a tool policy, but this function is not a tool\nhelp: add `#[tool]` to the function, or remove `#[{name}]`"
            )
        };
        let error = syn::Error::new(Span::call_site(), message).to_compile_error();
        return quote!(#error #function);
    };
    let attr = function.attrs.remove(position);
    let kind = parse::component_kind(&attr).unwrap_or(Kind::Tool);
    let ident = syn::Ident::new(name, Span::call_site());
    function.attrs.push(syn::parse_quote!(#[#ident(#args)]));
    component(kind, parse::attr_tokens(&attr), quote!(#function))
}

/// A policy on a struct becomes the inert `#[mcp_policy(name(…))]` the derive reads (the
/// derive's checks then apply: tools only, the same rules as on functions).
fn policy_on_struct(
    name: &'static str,
    args: TokenStream,
    mut input: syn::DeriveInput,
) -> TokenStream {
    let derived = input.attrs.iter().any(|attr| {
        attr.path().is_ident("derive")
            && attr
                .parse_args_with(
                    syn::punctuated::Punctuated::<syn::Path, syn::Token![,]>::parse_terminated,
                )
                .is_ok_and(|paths| {
                    paths.iter().any(|p| {
                        p.segments
                            .last()
                            .is_some_and(|s| s.ident == "Tool" || s.ident == "Prompt")
                    })
                })
    });
    if !derived {
        let message = if parse::policy::ACCESS.contains(&name) {
            format!(
                "`#[{name}]` on a struct goes above `#[derive(Tool)]` or `#[derive(Prompt)]`\nhelp: move it above `#[derive(…)]` (an attribute below the derive is not seen by it), or derive `Tool` or `Prompt`"
            )
        } else {
            format!(
                "`#[{name}]` is a tool policy: on a struct it goes above `#[derive(Tool)]`\nhelp: move it above `#[derive(…)]` (an attribute below the derive is not seen by it), derive `Tool`, or put it on a `#[tool]` function"
            )
        };
        let error = syn::Error::new(Span::call_site(), message).to_compile_error();
        return quote!(#error #input);
    }
    let ident = syn::Ident::new(name, Span::call_site());
    let helper = syn::Ident::new(parse::policy::HELPER, Span::call_site());
    input
        .attrs
        .push(syn::parse_quote!(#[#helper(#ident(#args))]));
    quote!(#input)
}
