//! The definition expression of one function component (`ToolDef`, `ResourceDef`,
//! `PromptDef`), from its checked model. Generates only: every rule was checked before.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned as _;

use crate::model::{Component, FnModel, Options, ParamKind, is_option};
use crate::parse::StringList;
use crate::paths::Runtime;

pub(crate) fn opt_bool(value: Option<bool>, private: &TokenStream) -> TokenStream {
    match value {
        Some(b) => quote!(#private::Some(#b)),
        None => quote!(#private::None),
    }
}

/// `.annotations(…)` on a tool definition from the four hints (unset ones stay `None`).
pub(crate) fn annotations(hints: [Option<bool>; 4], private: &TokenStream) -> TokenStream {
    let [r, d, i, o] = hints.map(|hint| opt_bool(hint, private));
    quote!(.annotations(#r, #d, #i, #o))
}

/// `.tags([…])` on a definition, when tags were given.
pub(crate) fn tags(tags: Option<&StringList>) -> Option<TokenStream> {
    tags.map(|t| {
        let tags = &t.0;
        quote!(.tags([#(#tags),*]))
    })
}

/// Generate the definition expression of a checked function component.
pub(crate) fn definition(
    c: &Component<'_>,
    model: &FnModel,
    runtime: &Runtime,
    policies: &TokenStream,
) -> TokenStream {
    let private = runtime.private();
    let in_server = model.has_receiver;
    // Tools and prompts are addressed by name; a resource by its URI, and its name (the
    // function's, or `name = …`) is only a label.
    let name = c.name();
    let description = c.description.clone().unwrap_or_default();

    // Registration: each parameter type is checked once, at a call spanned at that type,
    // which returns the function the request path uses.
    let mut setup = Vec::new();
    let mut bindings = Vec::new();
    let mut uses_object = false;
    // A handler that takes a `Context` may seal multi-round state, which is bound to a digest
    // of its arguments: it takes them with their digest. Others skip the hashing.
    let take = if model.takes_context() {
        format_ident!("__take_object_digested")
    } else {
        format_ident!("__take_object")
    };
    setup.push(quote!(let mut __platform_schema = #private::ObjectSchema::new();));
    let mut schema = quote!(__platform_schema.build());
    for (index, param) in model.params.iter().enumerate() {
        let binding = &param.binding;
        let ty = &param.ty;
        let span = ty.span();
        let helper = format_ident!("__platform_take{}", index);
        match &param.kind {
            ParamKind::Argument { name, doc } => {
                uses_object = true;
                let required = !is_option(ty);
                let doc = match doc {
                    Some(d) => quote!(#private::Some(#d)),
                    None => quote!(#private::None),
                };
                setup.push(quote_spanned! {span=>
                    let #helper = __platform_schema.property::<#ty>(#name, #doc, #required);
                });
                bindings.push(quote!(let #binding: #ty = #helper(&mut __platform_args, #name)?;));
            }
            ParamKind::Params { inner } => {
                setup.push(quote_spanned! {span=>
                    let (__platform_whole_schema, #helper) = #private::whole::<#inner>();
                });
                schema = quote!(__platform_whole_schema);
                bindings.push(quote_spanned! {span=>
                    let #binding: #ty = #private::Params(#helper(__platform_parts.#take())?);
                });
            }
            ParamKind::Extractor { .. } => {
                setup.push(quote_spanned! {span=>
                    let #helper = #private::extractor::<#ty>();
                });
                bindings.push(quote!(let #binding: #ty = #helper(&__platform_parts).await?;));
            }
        }
    }
    let take_object = if uses_object {
        quote!(let mut __platform_args = __platform_parts.#take();)
    } else {
        quote!()
    };
    let args = model.params.iter().map(|p| &p.binding);
    let ident = &model.ident;
    let call = if in_server {
        quote!(__platform_this.#ident(#(#args),*))
    } else {
        quote!(#ident(#(#args),*))
    };
    let call = if model.is_async {
        quote!(#call.await)
    } else {
        call
    };
    let ok = &model.output.ok;
    let out_span = model.output.span;
    let unwrap_result = if model.output.is_result {
        quote_spanned! {out_span=>
            let __platform_value = match __platform_out {
                #private::Ok(value) => value,
                #private::Err(error) => return #private::Err(#private::tool_error(error)),
            };
        }
    } else {
        quote!(let __platform_value = __platform_out;)
    };
    let clone_this = if in_server {
        quote!(let __platform_this = __platform_this.clone();)
    } else {
        quote!()
    };
    let body = quote! {
        #take_object
        #(#bindings)*
        let __platform_out = #call;
        #unwrap_result
    };
    let title = c
        .options
        .common()
        .title
        .as_ref()
        .map(|t| quote!(.title(#t)));
    let states: Vec<_> = model
        .states()
        .map(|ty| quote_spanned!(ty.span()=> .require_state::<#ty>()))
        .collect();

    match c.options {
        Options::Tool(args) => {
            let kind_expr = quote_spanned! {out_span=>
                {
                    #[allow(unused_imports)]
                    use #private::kinds::{ContentTag as _, StructuredTag as _};
                    #[allow(clippy::needless_borrow)]
                    let output = (&&&#private::kinds::Tag::<#ok>::new()).__platform_kind().output();
                    output
                }
            };
            let annotations = annotations(args.base.hints(), &private);
            let tags = tags(args.base.tags.as_ref());
            let icons = args.icons.as_ref().map(|list| {
                let icons = list.0.iter().map(|i| quote!(.icon(#i, #private::None)));
                quote!(#(#icons)*)
            });
            let meta = args.meta.as_ref().map(|m| {
                let entries = m.0.iter().map(|(k, v)| quote!((#k, #private::serde_json::json!(#v))));
                quote!(.meta(#private::serde_json::Value::Object(
                    [#(#entries),*].into_iter().map(|(k, v): (&str, #private::serde_json::Value)| (k.to_owned(), v)).collect()
                )))
            });
            let enabled = args.enabled.map(|e| quote!(.enabled(#e)));
            let version = args.version.as_ref().map(|v| quote!(.version(#v)));
            let task = args.task.as_ref().map(|t| {
                let support = if t.required {
                    quote!(Required)
                } else {
                    quote!(Optional)
                };
                quote!(.task_support(#private::TaskSupport::#support))
            });
            quote! {{
                #clone_this
                #(#setup)*
                let (__platform_spec, __platform_convert) = #kind_expr;
                let __platform_shape = __platform_spec.shape();
                #private::ToolDef::new(
                    #name,
                    #description,
                    #schema,
                    __platform_spec,
                    move |mut __platform_parts: #private::RequestParts| {
                        #clone_this
                        async move {
                            #body
                            __platform_convert(__platform_value, __platform_shape)
                        }
                    },
                )
                #title #annotations #tags #icons #meta #enabled #version #task #policies #(#states)*
            }}
        }
        Options::Resource(uri, args) => {
            let kind_expr = quote_spanned! {out_span=>
                {
                    #[allow(unused_imports)]
                    use #private::kinds::{ResourceContentsTag as _, JsonResourceTag as _};
                    #[allow(clippy::needless_borrow)]
                    let output = (&&&#private::kinds::Tag::<#ok>::new()).__platform_resource_kind().output();
                    output
                }
            };
            let mime = args.mime.as_ref().map(|m| quote!(.mime_type(#m)));
            let description = (!description.is_empty()).then(|| quote!(.description(#description)));
            quote! {{
                #clone_this
                #(#setup)*
                let (__platform_mime, __platform_convert) = #kind_expr;
                #private::resource_def(
                    #uri,
                    #name,
                    #schema,
                    move |mut __platform_parts: #private::RequestParts| {
                        #clone_this
                        async move {
                            #body
                            __platform_convert(__platform_value)
                        }
                    },
                )
                #title #description #mime
                .default_mime_type(__platform_mime)
                #policies
                #(#states)*
            }}
        }
        Options::Prompt(_) | Options::Derive(_) => {
            let description = (!description.is_empty()).then(|| quote!(.description(#description)));
            let converter = quote_spanned!(out_span=> #private::prompt_converter::<#ok>());
            quote! {{
                #clone_this
                #(#setup)*
                let __platform_convert = #converter;
                #private::PromptDef::new(
                    #name,
                    #schema,
                    move |mut __platform_parts: #private::RequestParts| {
                        #clone_this
                        async move {
                            #body
                            #private::Ok(__platform_convert(__platform_value))
                        }
                    },
                )
                #title #description #policies #(#states)*
            }}
        }
    }
}
