//! Phase 2, model: what the parsed attributes and the item mean. A function becomes an
//! [`FnModel`] (its parameters sorted into arguments and extractors, its receiver, output
//! and docs); every component, wherever its attribute is written, becomes a
//! [`Component`]; policies become typed [`policy::Policies`]. A value that cannot be typed
//! is reported here; the rules are in `check`.

mod component;
pub(crate) mod policy;

pub(crate) use crate::parse::{Kind, Options};
pub(crate) use component::{Component, Place, to_snake};

use proc_macro2::Span;
use quote::format_ident;
use syn::spanned::Spanned;

use crate::docs::{self, Docs};

/// How a parameter is filled.
pub(crate) enum ParamKind {
    /// A property of the input schema, taken from the client's arguments.
    Argument { name: String, doc: Option<String> },
    /// The whole argument object (`Params<T>`).
    Params { inner: syn::Type },
    /// Taken from the request (`Context`, `State<T>`, `#[extract]` types).
    Extractor { state: Option<syn::Type> },
}

pub(crate) struct Param {
    pub(crate) kind: ParamKind,
    /// The binding the generated code passes to the function.
    pub(crate) binding: syn::Ident,
    pub(crate) ty: syn::Type,
}

/// The function's return value: the success type and whether it is a `Result`.
pub(crate) struct Output {
    pub(crate) ok: syn::Type,
    pub(crate) is_result: bool,
    pub(crate) span: Span,
}

/// How a method takes `self`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReceiverShape {
    /// `&self`.
    Shared,
    /// `&mut self`.
    Exclusive,
    /// `self`, `mut self` or `self: Type`.
    Other,
}

pub(crate) struct FnModel {
    pub(crate) ident: syn::Ident,
    pub(crate) is_async: bool,
    pub(crate) has_receiver: bool,
    /// The receiver's shape and span, for a method.
    pub(crate) receiver: Option<(ReceiverShape, Span)>,
    /// The generic parameters, if any (a component cannot be generic).
    pub(crate) generics: Option<Span>,
    /// The variadic parameter, if any.
    pub(crate) variadic: Option<Span>,
    pub(crate) params: Vec<Param>,
    pub(crate) output: Output,
    pub(crate) docs: Docs,
}

impl FnModel {
    pub(crate) fn arguments(&self) -> impl Iterator<Item = (&Param, &str, Option<&str>)> {
        self.params.iter().filter_map(|p| match &p.kind {
            ParamKind::Argument { name, doc } => Some((p, name.as_str(), doc.as_deref())),
            _ => None,
        })
    }

    pub(crate) fn params_type(&self) -> Option<&syn::Type> {
        self.params.iter().find_map(|p| match &p.kind {
            ParamKind::Params { inner } => Some(inner),
            _ => None,
        })
    }

    /// Whether the handler takes a `Context`, and so may seal multi-round state bound to
    /// its arguments.
    pub(crate) fn takes_context(&self) -> bool {
        self.params.iter().any(|p| {
            matches!(p.kind, ParamKind::Extractor { state: None })
                && last_segment(&p.ty).is_some_and(|s| s.ident == "Context")
        })
    }

    pub(crate) fn states(&self) -> impl Iterator<Item = &syn::Type> {
        self.params.iter().filter_map(|p| match &p.kind {
            ParamKind::Extractor { state } => state.as_ref(),
            _ => None,
        })
    }
}

fn last_segment(ty: &syn::Type) -> Option<&syn::PathSegment> {
    match ty {
        syn::Type::Path(p) if p.qself.is_none() => p.path.segments.last(),
        syn::Type::Group(g) => last_segment(&g.elem),
        syn::Type::Paren(p) => last_segment(&p.elem),
        _ => None,
    }
}

fn first_type_arg(segment: &syn::PathSegment) -> Option<&syn::Type> {
    match &segment.arguments {
        syn::PathArguments::AngleBracketed(args) => args.args.iter().find_map(|a| match a {
            syn::GenericArgument::Type(t) => Some(t),
            _ => None,
        }),
        _ => None,
    }
}

/// Remove `#[extract]` markers from the parameters, reporting which ones carried it.
pub(crate) fn strip_extract_markers(sig: &mut syn::Signature) -> Vec<bool> {
    sig.inputs
        .iter_mut()
        .map(|input| match input {
            syn::FnArg::Typed(pat) => {
                let before = pat.attrs.len();
                pat.attrs.retain(|a| !a.path().is_ident("extract"));
                pat.attrs.len() != before
            }
            syn::FnArg::Receiver(_) => false,
        })
        .collect()
}

/// Build the model of a function, reporting parameters that cannot be arguments.
pub(crate) fn analyze(
    kind: Kind,
    attrs: &[syn::Attribute],
    sig: &syn::Signature,
    marked: &[bool],
    errors: &mut darling::error::Accumulator,
) -> FnModel {
    let generics = (!sig.generics.params.is_empty()).then(|| sig.generics.span());
    let variadic = sig.variadic.as_ref().map(Spanned::span);
    let docs = docs::parse(attrs);
    let mut receiver = None;
    let mut params = Vec::new();
    for (index, input) in sig.inputs.iter().enumerate() {
        match input {
            syn::FnArg::Receiver(r) => {
                let shape = if r.reference.is_some() && r.colon_token.is_none() {
                    if r.mutability.is_some() {
                        ReceiverShape::Exclusive
                    } else {
                        ReceiverShape::Shared
                    }
                } else {
                    ReceiverShape::Other
                };
                receiver = Some((shape, r.span()));
            }
            syn::FnArg::Typed(pat_type) => {
                let binding = format_ident!("__platform_p{}", index);
                let ty = (*pat_type.ty).clone();
                let marked_extract = marked.get(index).copied().unwrap_or(false);
                let segment = last_segment(&ty).map(|s| s.ident.to_string());
                let param_kind = match segment.as_deref() {
                    _ if marked_extract => ParamKind::Extractor { state: None },
                    Some("Context") => ParamKind::Extractor { state: None },
                    Some("State") => ParamKind::Extractor {
                        state: last_segment(&ty).and_then(first_type_arg).cloned(),
                    },
                    Some("Params") => match last_segment(&ty).and_then(first_type_arg) {
                        Some(inner) => ParamKind::Params {
                            inner: inner.clone(),
                        },
                        None => {
                            errors.push(
                                darling::Error::custom("`Params` needs its type: `Params<MyArgs>`")
                                    .with_span(&ty),
                            );
                            continue;
                        }
                    },
                    _ => match argument(kind, pat_type, &ty, errors) {
                        Some(name) => ParamKind::Argument {
                            doc: docs.arguments.get(&name).cloned(),
                            name,
                        },
                        None => continue,
                    },
                };
                params.push(Param {
                    kind: param_kind,
                    binding,
                    ty,
                });
            }
        }
    }
    let uses_params = params
        .iter()
        .filter(|p| matches!(p.kind, ParamKind::Params { .. }))
        .count();
    let plain = params
        .iter()
        .filter(|p| matches!(p.kind, ParamKind::Argument { .. }))
        .count();
    if uses_params > 1 || (uses_params == 1 && plain > 0) {
        let span = params
            .iter()
            .find(|p| matches!(p.kind, ParamKind::Params { .. }))
            .map(|p| p.ty.span())
            .unwrap_or_else(Span::call_site);
        errors.push(
            darling::Error::custom(
                "`Params<T>` takes the whole argument object, so it cannot be combined with other arguments\nhelp: move the other arguments into the `Params` struct as fields",
            )
            .with_span(&span),
        );
    }
    let output = output(sig, errors);
    FnModel {
        ident: sig.ident.clone(),
        is_async: sig.asyncness.is_some(),
        has_receiver: receiver.is_some(),
        receiver,
        generics,
        variadic,
        params,
        output,
        docs,
    }
}

/// A plain parameter: it must be `name: OwnedType`.
fn argument(
    kind: Kind,
    pat_type: &syn::PatType,
    ty: &syn::Type,
    errors: &mut darling::error::Accumulator,
) -> Option<String> {
    let what = match kind {
        Kind::Tool => "tool argument",
        Kind::Resource => "template variable",
        Kind::Prompt => "prompt argument",
    };
    let name = match &*pat_type.pat {
        syn::Pat::Ident(ident) if ident.by_ref.is_none() && ident.subpat.is_none() => {
            ident.ident.to_string().trim_start_matches("r#").to_owned()
        }
        other => {
            errors.push(
                darling::Error::custom(format!(
                    "a {what} must be a plain name, not a pattern: the name becomes the argument's name\nhelp: bind it to a plain name, like `city: String`; destructuring works only for extractors such as `State(x): State<T>`"
                ))
                .with_span(other),
            );
            return None;
        }
    };
    match ty {
        syn::Type::Reference(reference) => {
            let help = match &*reference.elem {
                syn::Type::Path(p) if p.path.is_ident("str") => {
                    "use `String` instead of `&str`".to_owned()
                }
                _ => {
                    "take the value by ownership, for example `Vec<T>` instead of `&[T]`".to_owned()
                }
            };
            errors.push(
                darling::Error::custom(format!(
                    "a {what} cannot be a reference: arguments are deserialized into owned values\nhelp: {help}"
                ))
                .with_span(ty),
            );
            None
        }
        syn::Type::ImplTrait(_) => {
            errors.push(
                darling::Error::custom(format!(
                    "a {what} cannot be `impl Trait`: its JSON Schema is generated from a concrete type\nhelp: name a concrete type that implements `Deserialize` and `JsonSchema`"
                ))
                .with_span(ty),
            );
            None
        }
        syn::Type::Infer(_)
        | syn::Type::Never(_)
        | syn::Type::BareFn(_)
        | syn::Type::TraitObject(_) => {
            errors.push(
                darling::Error::custom(format!(
                    "this type cannot be a {what}\nhelp: use a type that implements `Deserialize` and `JsonSchema` (derive both from `platform_runtime::prelude`)"
                ))
                .with_span(ty),
            );
            None
        }
        _ => Some(name),
    }
}

fn output(sig: &syn::Signature, errors: &mut darling::error::Accumulator) -> Output {
    let ty = match &sig.output {
        syn::ReturnType::Default => {
            return Output {
                ok: syn::parse_quote!(()),
                is_result: false,
                span: sig.ident.span(),
            };
        }
        syn::ReturnType::Type(_, ty) => (**ty).clone(),
    };
    let span = ty.span();
    if let syn::Type::ImplTrait(_) = ty {
        errors.push(
            darling::Error::custom(
                "a component cannot return `impl Trait`\nhelp: write an `async fn` returning the concrete type",
            )
            .with_span(&ty),
        );
        return Output {
            ok: syn::parse_quote!(()),
            is_result: false,
            span,
        };
    }
    if let Some(segment) = last_segment(&ty).filter(|s| s.ident == "Result")
        && let Some(ok) = first_type_arg(segment)
    {
        return Output {
            ok: ok.clone(),
            is_result: true,
            span,
        };
    }
    Output {
        ok: ty,
        is_result: false,
        span,
    }
}

/// The variables of a URI template, checked with the runtime's grammar.
pub(crate) fn template_variables(uri: &syn::LitStr) -> Result<Vec<String>, String> {
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

/// The `{name}` placeholders of a template; `{{` and `}}` are literal braces.
pub(crate) fn placeholders(template: &str) -> Result<Vec<String>, String> {
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

/// Why a type cannot hold one URI template variable (one piece of text from the URI), if
/// its spelling shows it: a tuple, an array or slice, a collection, a map or a JSON value.
/// `Option<T>` is judged by `T`.
pub(crate) fn not_one_value(ty: &syn::Type) -> Option<&'static str> {
    match ty {
        syn::Type::Tuple(t) if !t.elems.is_empty() => Some("a tuple"),
        syn::Type::Array(_) | syn::Type::Slice(_) => Some("an array"),
        syn::Type::Group(g) => not_one_value(&g.elem),
        syn::Type::Paren(p) => not_one_value(&p.elem),
        syn::Type::Path(_) => {
            let segment = last_segment(ty)?;
            match segment.ident.to_string().as_str() {
                "Option" => first_type_arg(segment).and_then(not_one_value),
                "Vec" | "VecDeque" | "LinkedList" | "HashSet" | "BTreeSet" => Some("a collection"),
                "HashMap" | "BTreeMap" | "Map" => Some("a map"),
                "Value" => Some("any JSON value"),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Whether a type is spelled `Option<…>` (an optional argument or field).
pub(crate) fn is_option(ty: &syn::Type) -> bool {
    match ty {
        syn::Type::Path(p) if p.qself.is_none() => {
            p.path.segments.last().is_some_and(|s| s.ident == "Option")
        }
        syn::Type::Group(g) => is_option(&g.elem),
        syn::Type::Paren(p) => is_option(&p.elem),
        _ => false,
    }
}
