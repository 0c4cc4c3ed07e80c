//! The definition expression of one component (`ToolDef`, `ResourceDef`, `PromptDef`).

use std::collections::BTreeSet;

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned as _;

use crate::model::{FnModel, Kind, ParamKind, check_name, is_option};
use crate::parse::{PromptArgs, ResourceArgs, StringList, ToolArgs};
use crate::paths::Runtime;

/// The parsed options of a component attribute.
pub(crate) enum ComponentAttrs {
    Tool(ToolArgs),
    Resource(syn::LitStr, ResourceArgs),
    Prompt(PromptArgs),
}

impl ComponentAttrs {
    pub(crate) fn empty(kind: Kind) -> Self {
        match kind {
            Kind::Tool => Self::Tool(ToolArgs::default()),
            Kind::Resource => Self::Resource(
                syn::LitStr::new("invalid://", Span::call_site()),
                ResourceArgs::default(),
            ),
            Kind::Prompt => Self::Prompt(PromptArgs::default()),
        }
    }

    pub(crate) fn krate(&self) -> Option<&syn::Path> {
        match self {
            Self::Tool(a) => a.krate.as_ref(),
            Self::Resource(_, a) => a.krate.as_ref(),
            Self::Prompt(a) => a.krate.as_ref(),
        }
    }

    fn name(&self) -> Option<&syn::LitStr> {
        match self {
            Self::Tool(a) => a.name.as_ref(),
            Self::Resource(_, a) => a.name.as_ref(),
            Self::Prompt(a) => a.name.as_ref(),
        }
    }

    fn title(&self) -> Option<&syn::LitStr> {
        match self {
            Self::Tool(a) => a.title.as_ref(),
            Self::Resource(_, a) => a.title.as_ref(),
            Self::Prompt(a) => a.title.as_ref(),
        }
    }

    fn description(&self) -> Option<&syn::LitStr> {
        match self {
            Self::Tool(a) => a.description.as_ref(),
            Self::Resource(_, a) => a.description.as_ref(),
            Self::Prompt(a) => a.description.as_ref(),
        }
    }
}

/// The component's name and the span to report a duplicate at: the tool or prompt name,
/// or the resource URI.
pub(crate) fn identity(attrs: &ComponentAttrs, model: &FnModel) -> (String, Span) {
    if let ComponentAttrs::Resource(uri, _) = attrs {
        return (uri.value(), uri.span());
    }
    match attrs.name() {
        Some(name) => (name.value(), name.span()),
        None => (
            model.ident.to_string().trim_start_matches("r#").to_owned(),
            model.ident.span(),
        ),
    }
}

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

/// The variables of a URI template, checked with the runtime's grammar.
fn template_variables(uri: &syn::LitStr) -> Result<Vec<String>, String> {
    let text = uri.value();
    let mut vars = Vec::new();
    let mut rest = text.as_str();
    let mut last_was_var = false;
    let mut started = false;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            last_was_var = false;
        }
        if started && open == 0 && last_was_var {
            return Err("two variables must be separated by literal text, like `{a}/{b}`".into());
        }
        let after = &rest[open + 1..];
        let close = after.find('}').ok_or("`{` without a closing `}`")?;
        let raw = &after[..close];
        let name = raw.strip_suffix('*').unwrap_or(raw);
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!(
                "`{{{raw}}}` is not supported: use `{{name}}` for one path segment or `{{name*}}` for the rest of the path"
            ));
        }
        if vars.iter().any(|v| v == name) {
            return Err(format!("variable `{name}` appears twice"));
        }
        vars.push(name.to_owned());
        last_was_var = true;
        started = true;
        rest = &after[close + 1..];
    }
    if rest.contains('}') {
        return Err("`}` without an opening `{`".into());
    }
    if !text.contains("://") && !text.contains(':') {
        return Err(
            "a resource URI needs a scheme, like `docs://{name}` or `file:///{path*}`".into(),
        );
    }
    Ok(vars)
}

/// Generate the definition expression.
pub(crate) fn definition(
    kind: Kind,
    attrs: &ComponentAttrs,
    model: &FnModel,
    runtime: &Runtime,
    in_server: bool,
    policies: &TokenStream,
    errors: &mut darling::error::Accumulator,
) -> TokenStream {
    let private = runtime.private();
    // Tools and prompts are addressed by name; a resource by its URI, and its name (the
    // function's, or `name = …`) is only a label.
    let name = match attrs.name() {
        Some(name) => name.value(),
        None => model.ident.to_string().trim_start_matches("r#").to_owned(),
    };
    if let Some(lit) = attrs.name() {
        check_name(kind, lit, errors);
    }
    let description = attrs
        .description()
        .map(syn::LitStr::value)
        .or_else(|| model.docs.description.clone());
    if kind == Kind::Tool && description.is_none() {
        errors.push(
            darling::Error::custom(format!(
                "tool `{name}` has no description: the model reads it to decide when to call the tool\nhelp: add a doc comment above the function (`/// What the tool does.`) or `#[tool(description = \"…\")]`"
            ))
            .with_span(&model.ident),
        );
    }
    let description = description.unwrap_or_default();

    // Resource templates: the variables and the plain parameters must agree.
    if let ComponentAttrs::Resource(uri, _) = attrs {
        match template_variables(uri) {
            Err(reason) => errors.push(
                darling::Error::custom(format!("invalid URI template: {reason}")).with_span(uri),
            ),
            Ok(vars) => {
                let params: BTreeSet<&str> = model.arguments().map(|(_, n, _)| n).collect();
                for var in &vars {
                    if !params.contains(var.as_str()) {
                        errors.push(
                            darling::Error::custom(format!(
                                "the URI template has a variable `{{{var}}}` but the function has no parameter `{var}`\nhelp: add a parameter `{var}: String`, or remove `{{{var}}}` from the template"
                            ))
                            .with_span(uri),
                        );
                    }
                }
                for (param, name, _) in model.arguments() {
                    if !vars.iter().any(|v| v == name) {
                        errors.push(
                            darling::Error::custom(format!(
                                "parameter `{name}` is not a variable of the URI template `{}`\nhelp: add `{{{name}}}` to the template, or make the parameter an extractor such as `Context`",
                                uri.value()
                            ))
                            .with_span(&param.ty),
                        );
                    }
                }
                if let Some(p) = model.params_type() {
                    errors.push(
                        darling::Error::custom("a resource takes its template variables as separate parameters, not `Params<T>`")
                            .with_span(p),
                    );
                }
            }
        }
    }

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
    let title = attrs.title().map(|t| quote!(.title(#t)));
    let states: Vec<_> = model
        .states()
        .map(|ty| quote_spanned!(ty.span()=> .require_state::<#ty>()))
        .collect();

    match attrs {
        ComponentAttrs::Tool(args) => {
            let kind_expr = quote_spanned! {out_span=>
                {
                    #[allow(unused_imports)]
                    use #private::kinds::{ContentTag as _, StructuredTag as _};
                    #[allow(clippy::needless_borrow)]
                    let output = (&&&#private::kinds::Tag::<#ok>::new()).__platform_kind().output();
                    output
                }
            };
            let annotations = annotations(
                [
                    args.read_only,
                    args.destructive,
                    args.idempotent,
                    args.open_world,
                ],
                &private,
            );
            let tags = tags(args.tags.as_ref());
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
                #title #annotations #tags #icons #meta #enabled #policies #(#states)*
            }}
        }
        ComponentAttrs::Resource(uri, args) => {
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
                #(#states)*
            }}
        }
        ComponentAttrs::Prompt(_) => {
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
                #title #description #(#states)*
            }}
        }
    }
}
