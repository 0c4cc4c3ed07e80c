//! `#[derive(Tool)]` and `#[derive(Prompt)]`: a struct is the input; options come from the
//! `#[mcp(…)]` helper attribute (named apart from `#[tool]`/`#[prompt]`, which are attribute
//! macros of their own), policies from the `#[mcp_policy(…)]` helpers the policy
//! attributes leave on the struct. The same parse → model → check → expand as functions.

use darling::FromMeta as _;
use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned as _;

use super::def;
use crate::check;
use crate::docs;
use crate::model::{self, Component, Kind, Options, Place, is_option};
use crate::parse::{self, DeriveArgs};
use crate::paths::Runtime;

fn helper_args(attrs: &[syn::Attribute], errors: &mut darling::error::Accumulator) -> DeriveArgs {
    let mut merged = Vec::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident("mcp")) {
        match &attr.meta {
            syn::Meta::List(list) => {
                if let Some(items) = errors.handle(parse::nested(list.tokens.clone())) {
                    merged.extend(items);
                }
            }
            other => errors.push(
                darling::Error::custom("write the options in parentheses: `#[mcp(name = \"…\")]`")
                    .with_span(other),
            ),
        }
    }
    errors
        .handle(DeriveArgs::from_list(&merged))
        .unwrap_or_default()
}

/// The struct's named fields (none for a unit struct), with an error for any other shape
/// of input and for generic parameters.
fn named_fields<'a>(
    input: &'a syn::DeriveInput,
    what: &str,
    errors: &mut darling::error::Accumulator,
) -> Vec<&'a syn::Field> {
    if !input.generics.params.is_empty() {
        errors.push(
            darling::Error::custom(format!("a `#[derive({what})]` struct cannot be generic"))
                .with_span(&input.generics),
        );
    }
    match &input.data {
        syn::Data::Struct(syn::DataStruct {
            fields: syn::Fields::Named(named),
            ..
        }) => named.named.iter().collect(),
        syn::Data::Struct(syn::DataStruct {
            fields: syn::Fields::Unit,
            ..
        }) => Vec::new(),
        _ => {
            errors.push(
                darling::Error::custom(format!(
                    "`#[derive({what})]` needs a struct with named fields: the fields are the arguments"
                ))
                .with_span(&input.ident),
            );
            Vec::new()
        }
    }
}

/// The model of a derived component: the struct's name, its `#[mcp(…)]` options, its
/// description (`description = …`, else the doc comment's) and its policies.
fn derived<'a>(
    kind: Kind,
    input: &'a syn::DeriveInput,
    options: &'a Options,
    policies: &'a model::policy::Policies,
) -> Component<'a> {
    Component {
        kind,
        place: Place::Derive,
        ident: &input.ident,
        options,
        description: options
            .common()
            .description
            .as_ref()
            .map(syn::LitStr::value)
            .or_else(|| docs::parse(&input.attrs).description),
        function: None,
        policies,
    }
}

/// The registration impl around the definition, or around the errors and a stub.
fn finish(
    errors: darling::error::Accumulator,
    body: TokenStream,
    imp: impl FnOnce(TokenStream) -> TokenStream,
) -> TokenStream {
    imp(super::body_or_errors(errors, body))
}

/// `#[derive(Tool)]`.
pub(crate) fn tool(item: TokenStream) -> TokenStream {
    let input: syn::DeriveInput = match syn::parse2(item) {
        Ok(i) => i,
        Err(e) => return e.to_compile_error(),
    };
    let mut errors = darling::Error::accumulator();
    // Parse.
    let options = Options::Derive(helper_args(&input.attrs, &mut errors));
    let policy_attrs = parse::policy::from_helpers(&input.attrs, &mut errors);
    // Model.
    let policies = model::policy::build(policy_attrs, &mut errors);
    let _ = named_fields(&input, "Tool", &mut errors);
    let ident = &input.ident;
    let component = derived(Kind::Tool, &input, &options, &policies);
    // Check.
    check::component(&component, &mut errors);
    // Expand.
    let runtime = Runtime::new(options.krate());
    let private = runtime.private();
    let name = component.name();
    let description = component.description.clone().unwrap_or_default();
    let title = options.common().title.as_ref().map(|t| quote!(.title(#t)));
    let annotations = def::annotations(component.hints(), &private);
    let tags = options.tool().and_then(|t| def::tags(t.tags.as_ref()));
    let policies = super::policy::tokens(&policies, &private);
    let span = ident.span();
    let body = quote_spanned! {span=>
        let (__platform_schema, __platform_take) = #private::whole::<#ident>();
        let __platform_handler = #private::call_tool_handler::<#ident>();
        let (__platform_spec, __platform_convert) = {
            #[allow(unused_imports)]
            use #private::kinds::{ContentTag as _, StructuredTag as _};
            #[allow(clippy::needless_borrow)]
            let output = (&&&#private::kinds::Tag::<<#ident as #private::CallTool>::Output>::new())
                .__platform_kind()
                .output();
            output
        };
        let __platform_shape = __platform_spec.shape();
        #private::ToolDef::new(
            #name,
            #description,
            __platform_schema,
            __platform_spec,
            move |mut __platform_parts: #private::RequestParts| async move {
                // The handler gets a `Context`, so it may seal state bound to the arguments.
                let __platform_input = __platform_take(__platform_parts.__take_object_digested())?;
                let __platform_value = __platform_handler(__platform_input, &__platform_parts).await?;
                __platform_convert(__platform_value, __platform_shape)
            },
        )
        #title #annotations #tags #policies
    };
    finish(errors, body, |body| {
        quote! {
            const _: () = {
                impl #private::ToolFactory for #ident {
                    fn tool_def() -> #private::ToolDef {
                        #body
                    }
                }
            };
        }
    })
}

/// `#[derive(Prompt)]`.
pub(crate) fn prompt(item: TokenStream) -> TokenStream {
    let input: syn::DeriveInput = match syn::parse2(item) {
        Ok(i) => i,
        Err(e) => return e.to_compile_error(),
    };
    let mut errors = darling::Error::accumulator();
    // Parse.
    let options = Options::Derive(helper_args(&input.attrs, &mut errors));
    let policy_attrs = parse::policy::from_helpers(&input.attrs, &mut errors);
    // Model.
    let policies = model::policy::build(policy_attrs, &mut errors);
    let fields = named_fields(&input, "Prompt", &mut errors);
    let ident = &input.ident;
    let field_names: Vec<String> = fields
        .iter()
        .filter_map(|f| {
            f.ident
                .as_ref()
                .map(|i| i.to_string().trim_start_matches("r#").to_owned())
        })
        .collect();
    let component = derived(Kind::Prompt, &input, &options, &policies);
    let access = super::policy::access(&policies, &Runtime::new(options.krate()).private());
    // Check.
    check::component(&component, &mut errors);
    let template = match &options {
        Options::Derive(args) => args.template.clone(),
        _ => None,
    };
    let used = check::prompt_template(template.as_ref(), &field_names, ident, &mut errors);
    // Expand.
    let template = template.unwrap_or_else(|| syn::LitStr::new("", ident.span()));
    let runtime = Runtime::new(options.krate());
    let private = runtime.private();
    let name = component.name();
    let description = component
        .description
        .clone()
        .filter(|d| !d.is_empty())
        .map(|d| quote!(.description(#d)));
    let title = options.common().title.as_ref().map(|t| quote!(.title(#t)));
    // `used` holds only placeholders that matched a named field above.
    let used_fields = fields.iter().filter_map(|f| {
        let member = f.ident.as_ref()?;
        let name = member.to_string().trim_start_matches("r#").to_owned();
        used.contains(&name).then_some((f, member, name))
    });
    let renders = used_fields.map(|(field, member, name)| {
        let arg = format_ident!("{}", name);
        let ty = &field.ty;
        if is_option(ty) {
            quote_spanned! {ty.span()=>
                #arg = match &__platform_input.#member {
                    #private::Some(value) => ::std::string::ToString::to_string(value),
                    #private::None => #private::String::new(),
                }
            }
        } else {
            quote_spanned!(ty.span()=> #arg = &__platform_input.#member)
        }
    });
    let span = ident.span();
    let body = quote_spanned! {span=>
        let (__platform_schema, __platform_take) = #private::whole::<#ident>();
        #private::PromptDef::new(
            #name,
            __platform_schema,
            move |mut __platform_parts: #private::RequestParts| async move {
                let __platform_input: #ident = __platform_take(__platform_parts.__take_object())
                    .map_err(|e| #private::ToolError::invalid_params(e.message().to_owned()))?;
                let __platform_text = ::std::format!(#template, #(#renders),*);
                #private::Ok(#private::prompt_converter::<#private::String>()(__platform_text))
            },
        )
        #title #description #access
    };
    finish(errors, body, |body| {
        quote! {
            const _: () = {
                impl #private::PromptFactory for #ident {
                    fn prompt_def() -> #private::PromptDef {
                        #body
                    }
                }
            };
        }
    })
}
