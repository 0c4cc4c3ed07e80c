//! `#[derive(Tool)]` and `#[derive(Prompt)]`: a struct is the input; options come from the
//! `#[mcp(…)]` helper attribute (named apart from `#[tool]`/`#[prompt]`, which are attribute
//! macros of their own).

use darling::FromMeta as _;
use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned as _;

use super::def;
use crate::docs;
use crate::model::{Kind, check_name, is_option};
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

/// The component's name: the one given (checked), or the struct's name in snake case.
fn component_name(
    given: Option<&syn::LitStr>,
    kind: Kind,
    ident: &syn::Ident,
    errors: &mut darling::error::Accumulator,
) -> String {
    match given {
        Some(lit) => {
            check_name(kind, lit, errors);
            lit.value()
        }
        None => to_snake(&ident.to_string()),
    }
}

fn finish(
    errors: darling::error::Accumulator,
    body: TokenStream,
    imp: impl FnOnce(TokenStream) -> TokenStream,
) -> TokenStream {
    match errors.finish() {
        Ok(()) => imp(body),
        Err(error) => {
            let error = error.write_errors();
            imp(quote!({ #error ::core::unreachable!() }))
        }
    }
}

/// `#[derive(Tool)]`.
pub(crate) fn tool(item: TokenStream) -> TokenStream {
    let input: syn::DeriveInput = match syn::parse2(item) {
        Ok(i) => i,
        Err(e) => return e.to_compile_error(),
    };
    let mut errors = darling::Error::accumulator();
    let args = helper_args(&input.attrs, &mut errors);
    if args.template.is_some() {
        errors.push(
            darling::Error::custom("`template` belongs to `#[derive(Prompt)]`")
                .with_span(&input.ident),
        );
    }
    let _ = named_fields(&input, "Tool", &mut errors);
    let runtime = Runtime::new(args.krate.as_ref());
    let private = runtime.private();
    let ident = &input.ident;
    let name = component_name(args.name.as_ref(), Kind::Tool, ident, &mut errors);
    let description = args
        .description
        .as_ref()
        .map(syn::LitStr::value)
        .or_else(|| docs::parse(&input.attrs).description);
    if description.is_none() {
        errors.push(
            darling::Error::custom(format!(
                "tool `{name}` has no description: the model reads it to decide when to call the tool\nhelp: add a doc comment above the struct (`/// What the tool does.`) or `#[mcp(description = \"…\")]`"
            ))
            .with_span(ident),
        );
    }
    let description = description.unwrap_or_default();
    let title = args.title.as_ref().map(|t| quote!(.title(#t)));
    let annotations = def::annotations(
        [
            args.read_only,
            args.destructive,
            args.idempotent,
            args.open_world,
        ],
        &private,
    );
    let tags = def::tags(args.tags.as_ref());
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
        #title #annotations #tags
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
    let args = helper_args(&input.attrs, &mut errors);
    let fields = named_fields(&input, "Prompt", &mut errors);
    let runtime = Runtime::new(args.krate.as_ref());
    let private = runtime.private();
    let ident = &input.ident;
    let name = component_name(args.name.as_ref(), Kind::Prompt, ident, &mut errors);
    let field_names: Vec<String> = fields
        .iter()
        .filter_map(|f| {
            f.ident
                .as_ref()
                .map(|i| i.to_string().trim_start_matches("r#").to_owned())
        })
        .collect();
    let template = match &args.template {
        Some(t) => t.clone(),
        None => {
            errors.push(
                darling::Error::custom(
                    "`#[derive(Prompt)]` needs a template\nhelp: add `#[mcp(template = \"Review this {code}\")]`, with `{field}` placeholders",
                )
                .with_span(ident),
            );
            syn::LitStr::new("", ident.span())
        }
    };
    let mut used = Vec::new();
    match placeholders(&template.value()) {
        Err(reason) => errors.push(
            darling::Error::custom(format!("invalid template: {reason}")).with_span(&template),
        ),
        Ok(names) => {
            for placeholder in names {
                if field_names.contains(&placeholder) {
                    if !used.contains(&placeholder) {
                        used.push(placeholder);
                    }
                } else {
                    let hint = match darling_suggest(&placeholder, &field_names) {
                        Some(s) => format!("did you mean `{{{s}}}`?"),
                        None if field_names.is_empty() => "the struct has no fields".to_owned(),
                        None => format!("the fields are: {}", field_names.join(", ")),
                    };
                    errors.push(
                        darling::Error::custom(format!(
                            "template placeholder `{{{placeholder}}}` is not a field of `{ident}`\nhelp: {hint}"
                        ))
                        .with_span(&template),
                    );
                }
            }
        }
    }
    let description = args
        .description
        .as_ref()
        .map(syn::LitStr::value)
        .or_else(|| docs::parse(&input.attrs).description);
    let description = description
        .filter(|d| !d.is_empty())
        .map(|d| quote!(.description(#d)));
    let title = args.title.as_ref().map(|t| quote!(.title(#t)));
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
        #title #description
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

/// The `{name}` placeholders of a template; `{{` and `}}` are literal braces.
fn placeholders(template: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
            }
            '{' => {
                let mut name = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(c) => name.push(c),
                        None => {
                            return Err(
                                "`{` without a closing `}` (write `{{` for a literal brace)".into(),
                            );
                        }
                    }
                }
                if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
                    return Err(format!(
                        "`{{{name}}}` is not a placeholder: use `{{field}}` with a field name, or `{{{{` for a literal brace"
                    ));
                }
                out.push(name);
            }
            '}' => {
                return Err("`}` without an opening `{` (write `}}` for a literal brace)".into());
            }
            _ => {}
        }
    }
    Ok(out)
}

/// The closest field name, by edit distance.
fn darling_suggest(name: &str, candidates: &[String]) -> Option<String> {
    candidates
        .iter()
        .map(|c| (strsim::levenshtein(name, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.clone())
}

/// `SearchCatalogue` → `search_catalogue`.
fn to_snake(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_found_and_braces_escape() {
        assert_eq!(
            placeholders("Review {code} in {lang} {{not}}").unwrap(),
            ["code", "lang"]
        );
        assert!(placeholders("open {").is_err());
        assert!(placeholders("{a b}").is_err());
    }

    #[test]
    fn suggestions_pick_the_nearest_field() {
        let fields = vec!["language".to_owned(), "code".to_owned()];
        assert_eq!(
            darling_suggest("langauge", &fields).as_deref(),
            Some("language")
        );
        assert_eq!(darling_suggest("zzzzzz", &fields), None);
        assert_eq!(to_snake("SearchCatalogue"), "search_catalogue");
    }
}
