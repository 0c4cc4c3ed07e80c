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
                found.default |= meta.path.is_ident("default") && meta.input.is_empty()
                    || meta.path.is_ident("default") && meta.input.peek(syn::Token![,]);
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

fn strip_fields(fields: &mut syn::Fields) {
    for field in fields.iter_mut() {
        keep_serde(&mut field.attrs);
        field.vis = syn::Visibility::Inherited;
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
    let mut copy = input.clone();
    copy.ident = helper.clone();
    copy.vis = syn::Visibility::Inherited;
    keep_serde(&mut copy.attrs);
    match &mut copy.data {
        syn::Data::Struct(data) => strip_fields(&mut data.fields),
        syn::Data::Enum(data) => {
            for variant in &mut data.variants {
                keep_serde(&mut variant.attrs);
                strip_fields(&mut variant.fields);
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
    let implementation = match direction {
        Direction::Serialize => {
            match found.bound {
                Some(bound) => where_clause.predicates.extend(bound),
                None => {
                    where_clause.predicates.extend(type_params.iter().map(
                        |t| -> syn::WherePredicate { syn::parse_quote!(#t: #serde::Serialize) },
                    ))
                }
            }
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
            let lifetimes: Vec<syn::Lifetime> = input
                .generics
                .lifetimes()
                .map(|l| l.lifetime.clone())
                .collect();
            match found.bound {
                Some(bound) => where_clause.predicates.extend(bound),
                None => where_clause.predicates.extend(type_params.iter().map(
                    |t| -> syn::WherePredicate { syn::parse_quote!(#t: #serde::Deserialize<'de>) },
                )),
            }
            where_clause.predicates.extend(
                lifetimes
                    .iter()
                    .map(|l| -> syn::WherePredicate { syn::parse_quote!('de: #l) }),
            );
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
            let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
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
                        let __original = <#ident #ty_generics as ::core::default::Default>::default();
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
            #[serde(remote = #remote)]
            #copy

            #default

            #implementation
        };
    })
}
