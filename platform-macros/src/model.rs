//! The validated model of one component function: its parameters sorted into arguments
//! and extractors, its output, its docs. Every check that needs only the function lives here.

use proc_macro2::Span;
use quote::format_ident;
use syn::spanned::Spanned as _;

use crate::docs::{self, Docs};

/// Which macro is reading the function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Tool,
    Resource,
    Prompt,
}

impl Kind {
    pub(crate) fn attr(self) -> &'static str {
        match self {
            Kind::Tool => "tool",
            Kind::Resource => "resource",
            Kind::Prompt => "prompt",
        }
    }
}

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

pub(crate) struct FnModel {
    pub(crate) ident: syn::Ident,
    pub(crate) is_async: bool,
    pub(crate) has_receiver: bool,
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

/// Build the model of a function, accumulating every problem.
pub(crate) fn analyze(
    kind: Kind,
    attrs: &[syn::Attribute],
    sig: &syn::Signature,
    marked: &[bool],
    in_server: bool,
    errors: &mut darling::error::Accumulator,
) -> FnModel {
    let attr = kind.attr();
    if !sig.generics.params.is_empty() {
        errors.push(
            darling::Error::custom(format!(
                "a `#[{attr}]` function cannot be generic\nhelp: use concrete types; the input schema is generated from them"
            ))
            .with_span(&sig.generics),
        );
    }
    if let Some(v) = &sig.variadic {
        errors.push(darling::Error::custom("variadic parameters are not supported").with_span(v));
    }
    let docs = docs::parse(attrs);
    let mut has_receiver = false;
    let mut params = Vec::new();
    for (index, input) in sig.inputs.iter().enumerate() {
        match input {
            syn::FnArg::Receiver(receiver) => {
                has_receiver = true;
                if !in_server {
                    errors.push(
                        darling::Error::custom(format!(
                            "`#[{attr}]` on a method needs `#[server]` on its `impl` block\nhelp: add `#[server]` above `impl …`"
                        ))
                        .with_span(receiver),
                    );
                } else if receiver.mutability.is_some() && receiver.reference.is_some() {
                    errors.push(
                        darling::Error::custom(format!(
                            "`#[{attr}]` methods take `&self`, not `&mut self`: requests run concurrently\nhelp: take `&self` and keep mutable state behind a `Mutex`, `RwLock` or atomics"
                        ))
                        .with_span(receiver),
                    );
                } else if receiver.reference.is_none() || receiver.colon_token.is_some() {
                    errors.push(
                        darling::Error::custom(format!(
                            "`#[{attr}]` methods take `&self`\nhelp: change the receiver to `&self`"
                        ))
                        .with_span(receiver),
                    );
                }
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
        has_receiver,
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
                    "this parameter pattern is not supported for a {what}: its name becomes the argument's name\nhelp: bind it to a plain name, like `city: String`; destructuring works only for extractors such as `State(x): State<T>`"
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
                    "this type cannot be a {what}\nhelp: use a type that implements `serde::Deserialize` and `schemars::JsonSchema`"
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

/// Check a component name given with `name = "…"`.
pub(crate) fn check_name(kind: Kind, name: &syn::LitStr, errors: &mut darling::error::Accumulator) {
    let value = name.value();
    let valid = !value.is_empty()
        && value.len() <= 128
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if !valid {
        let attr = kind.attr();
        errors.push(
            darling::Error::custom(format!(
                "`{value}` is not a valid {attr} name: use 1-128 characters from A-Z, a-z, 0-9, `_`, `-` and `.`\nhelp: for example `name = \"{}\"`",
                suggest_name(&value)
            ))
            .with_span(name),
        );
    }
}

fn suggest_name(value: &str) -> String {
    let cleaned: String = value
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .take(128)
        .collect();
    if cleaned.is_empty() {
        "my_tool".to_owned()
    } else {
        cleaned
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
