//! `#[derive(Serialize)]` and `#[derive(Deserialize)]` from the runtime's prelude, for crates
//! that do not depend on serde themselves.
//!
//! serde's derive names its crate as `serde` unless the type says `#[serde(crate = "…")]`,
//! and a derive cannot add that attribute to the user's type. So these derives run serde's
//! own derive on a private copy of the type, marked `#[serde(remote = "Type")]` with the
//! runtime's serde path, and implement the trait for the user's type by calling the copy.
//! The copy keeps every `#[serde]` attribute (and `#[cfg]`), so renames, defaults, tags and
//! `with` modules behave exactly as serde documents them; it lives in an anonymous `const`
//! block in the type's own module, so private fields stay reachable.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::punctuated::Punctuated;

use crate::paths::Runtime;

/// Which serde trait to derive.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    Serialize,
    Deserialize,
}

/// The expansion of `#[derive(Serialize)]` or `#[derive(Deserialize)]`.
pub(crate) fn derive(direction: Direction, item: TokenStream) -> TokenStream {
    match expand(direction, item) {
        Ok(tokens) => tokens,
        Err(error) => error.to_compile_error(),
    }
}

/// What the type's own `#[serde(…)]` container attributes say that the bridge needs.
#[derive(Default)]
struct Container {
    /// `#[serde(crate = "…")]`, kept as written.
    krate: Option<syn::Path>,
    /// `#[serde(bound = "…")]` or `#[serde(bound(serialize = "…", deserialize = "…"))]`
    /// for this direction.
    bound: Option<Vec<syn::WherePredicate>>,
    /// `#[serde(default)]`: serde fills missing fields from the copy's `Default`, which is
    /// the type's own.
    default: bool,
}

fn container(attrs: &[syn::Attribute], direction: Direction) -> syn::Result<Container> {
    let mut found = Container::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("crate") {
                let text: syn::LitStr = meta.value()?.parse()?;
                found.krate = Some(text.parse()?);
            } else if meta.path.is_ident("bound") {
                if meta.input.peek(syn::Token![=]) {
                    let text: syn::LitStr = meta.value()?.parse()?;
                    found.bound = Some(predicates(&text)?);
                } else {
                    meta.parse_nested_meta(|inner| {
                        let text: syn::LitStr = inner.value()?.parse()?;
                        let wanted = match direction {
                            Direction::Serialize => "serialize",
                            Direction::Deserialize => "deserialize",
                        };
                        if inner.path.is_ident(wanted) {
                            found.bound = Some(predicates(&text)?);
                        }
                        Ok(())
                    })?;
                }
            } else {
                // `default` alone (not `default = "path"`, which serde calls itself).
                found.default |= meta.path.is_ident("default") && !meta.input.peek(syn::Token![=]);
                skip_value(&meta)?;
            }
            Ok(())
        })?;
    }
    Ok(found)
}

fn predicates(text: &syn::LitStr) -> syn::Result<Vec<syn::WherePredicate>> {
    let parsed =
        text.parse_with(Punctuated::<syn::WherePredicate, syn::Token![,]>::parse_terminated)?;
    Ok(parsed.into_iter().collect())
}

/// Step over a key's `= value` or `(…)`, which serde itself checks.
fn skip_value(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(syn::Token![=]) {
        let _: syn::Expr = meta.value()?.parse()?;
    } else if meta.input.peek(syn::token::Paren) {
        let _content;
        syn::parenthesized!(_content in meta.input);
    }
    Ok(())
}

/// Only what serde reads, and what decides whether a field exists.
fn keep_serde(attrs: &mut Vec<syn::Attribute>) {
    attrs.retain(|a| a.path().is_ident("serde") || a.path().is_ident("cfg"));
}

/// Keep each field's serde attributes and type; `Self` in a type means the user's type, as it
/// did where it was written (in the copy it would mean the copy).
fn strip_fields(fields: &mut syn::Fields, original: &syn::Type) {
    for field in fields.iter_mut() {
        keep_serde(&mut field.attrs);
        field.vis = syn::Visibility::Inherited;
        syn::visit_mut::VisitMut::visit_type_mut(&mut SelfIs(original), &mut field.ty);
    }
}

struct SelfIs<'a>(&'a syn::Type);

impl syn::visit_mut::VisitMut for SelfIs<'_> {
    fn visit_type_mut(&mut self, ty: &mut syn::Type) {
        if let syn::Type::Path(path) = ty
            && path.qself.is_none()
            && path.path.is_ident("Self")
        {
            *ty = self.0.clone();
            return;
        }
        syn::visit_mut::visit_type_mut(self, ty);
    }
}

fn expand(direction: Direction, item: TokenStream) -> syn::Result<TokenStream> {
    let input: syn::DeriveInput = syn::parse2(item)?;
    if let syn::Data::Union(union) = &input.data {
        let name = match direction {
            Direction::Serialize => "Serialize",
            Direction::Deserialize => "Deserialize",
        };
        return Err(syn::Error::new_spanned(
            union.union_token,
            format!(
                "`{name}` cannot be derived for a union (serde does not know which field holds the value): use a struct or an enum"
            ),
        ));
    }
    let found = container(&input.attrs, direction)?;
    let serde = match &found.krate {
        Some(path) => quote!(#path),
        None => {
            let private = Runtime::new(None).private();
            quote!(#private::serde)
        }
    };

    // The copy serde derives on: same shape, same serde attributes, no visibility.
    let helper = format_ident!("__PlatformSerdeRemote");
    let original: syn::Type = {
        let ident = &input.ident;
        let (_, ty_generics, _) = input.generics.split_for_impl();
        syn::parse_quote!(#ident #ty_generics)
    };
    let mut copy = input.clone();
    copy.ident = helper.clone();
    copy.vis = syn::Visibility::Inherited;
    keep_serde(&mut copy.attrs);
    match &mut copy.data {
        syn::Data::Struct(data) => strip_fields(&mut data.fields, &original),
        syn::Data::Enum(data) => {
            for variant in &mut data.variants {
                keep_serde(&mut variant.attrs);
                strip_fields(&mut variant.fields, &original);
            }
        }
        syn::Data::Union(_) => {}
    }
    let remote = syn::LitStr::new(&input.ident.to_string(), input.ident.span());
    let crate_attr = found.krate.is_none().then(|| {
        let path = syn::LitStr::new(&serde.to_string().replace(' ', ""), Span::call_site());
        quote!(#[serde(crate = #path)])
    });
    let derive = match direction {
        Direction::Serialize => quote!(#serde::Serialize),
        Direction::Deserialize => quote!(#serde::Deserialize),
    };

    let ident = &input.ident;
    let (_, ty_generics, _) = input.generics.split_for_impl();
    let turbofish = ty_generics.as_turbofish();
    let mut generics = input.generics.clone();
    let where_clause = generics.make_where_clause();
    let type_params: Vec<syn::Ident> = input
        .generics
        .type_params()
        .map(|p| p.ident.clone())
        .collect();
    // The impl's bounds, and the same bounds on the copy (unless the type wrote its own
    // `bound`), so serde's code in the copy and the impl that calls it agree: each type
    // parameter serializes (deserializes), and with `#[serde(default)]` the type has a
    // `Default` (recursive types need it where serde would not infer it).
    let inferred: Vec<syn::WherePredicate> = match direction {
        Direction::Serialize => type_params
            .iter()
            .map(|t| syn::parse_quote!(#t: #serde::Serialize))
            .collect(),
        Direction::Deserialize => {
            let mut bounds: Vec<syn::WherePredicate> = type_params
                .iter()
                .map(|t| syn::parse_quote!(#t: #serde::Deserialize<'de>))
                .collect();
            if found.default && !bounds.is_empty() {
                bounds.push(syn::parse_quote!(#original: ::core::default::Default));
            }
            bounds
        }
    };
    let bound_attr = (found.bound.is_none() && !inferred.is_empty()).then(|| {
        let text = inferred
            .iter()
            .map(|p| quote!(#p).to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let text = syn::LitStr::new(&text, Span::call_site());
        match direction {
            Direction::Serialize => quote!(#[serde(bound(serialize = #text))]),
            Direction::Deserialize => quote!(#[serde(bound(deserialize = #text))]),
        }
    });
    where_clause
        .predicates
        .extend(found.bound.clone().unwrap_or(inferred));
    let implementation = match direction {
        Direction::Serialize => {
            let (impl_generics, _, where_clause) = generics.split_for_impl();
            quote! {
                #[automatically_derived]
                impl #impl_generics #serde::Serialize for #ident #ty_generics #where_clause {
                    fn serialize<__S>(
                        &self,
                        __serializer: __S,
                    ) -> ::core::result::Result<__S::Ok, __S::Error>
                    where
                        __S: #serde::Serializer,
                    {
                        #helper #turbofish::serialize(self, __serializer)
                    }
                }
            }
        }
        Direction::Deserialize => {
            where_clause
                .predicates
                .extend(input.generics.lifetimes().map(|l| -> syn::WherePredicate {
                    let l = &l.lifetime;
                    syn::parse_quote!('de: #l)
                }));
            generics.params.insert(0, syn::parse_quote!('de));
            let (impl_generics, _, where_clause) = generics.split_for_impl();
            quote! {
                #[automatically_derived]
                impl #impl_generics #serde::Deserialize<'de> for #ident #ty_generics #where_clause {
                    fn deserialize<__D>(
                        __deserializer: __D,
                    ) -> ::core::result::Result<Self, __D::Error>
                    where
                        __D: #serde::Deserializer<'de>,
                    {
                        #helper #turbofish::deserialize(__deserializer)
                    }
                }
            }
        }
    };
    // `#[serde(default)]` asks the copy for `Default`: take the type's own, field by field.
    let default = match (
        &input.data,
        found.default && direction == Direction::Deserialize,
    ) {
        (syn::Data::Struct(data), true) => {
            let mut generics = input.generics.clone();
            generics
                .make_where_clause()
                .predicates
                .push(syn::parse_quote!(#original: ::core::default::Default));
            let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
            let members: Vec<syn::Member> = data
                .fields
                .iter()
                .enumerate()
                .map(|(index, field)| match &field.ident {
                    Some(name) => syn::Member::Named(name.clone()),
                    None => syn::Member::Unnamed(index.into()),
                })
                .collect();
            Some(quote! {
                impl #impl_generics ::core::default::Default for #helper #ty_generics #where_clause {
                    fn default() -> Self {
                        let __original = <#original as ::core::default::Default>::default();
                        #helper { #(#members: __original.#members),* }
                    }
                }
            })
        }
        _ => None,
    };
    Ok(quote! {
        #[doc(hidden)]
        #[allow(non_upper_case_globals, dead_code, clippy::all)]
        const _: () = {
            #[derive(#derive)]
            #crate_attr
            #bound_attr
            #[serde(remote = #remote)]
            #copy

            #default

            #implementation
        };
    })
}
