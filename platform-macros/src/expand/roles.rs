//! `#[derive(Roles)]`: an enum of unit variants becomes a set of typed role names for
//! `#[requires_role(Role::Ops)]` (a misspelt variant is then a compile error). Each role's
//! name is the variant's in snake case (`BillingAdmin` → `"billing_admin"`), or
//! `#[role(name = "…")]`.

use proc_macro2::TokenStream;
use quote::quote;
use syn::spanned::Spanned as _;

use crate::model::to_snake;
use crate::paths::Runtime;

/// `#[derive(Roles)]`.
pub(crate) fn derive(item: TokenStream) -> TokenStream {
    let input: syn::DeriveInput = match syn::parse2(item) {
        Ok(i) => i,
        Err(e) => return e.to_compile_error(),
    };
    let syn::Data::Enum(data) = &input.data else {
        return syn::Error::new(
            input.ident.span(),
            "`#[derive(Roles)]` goes on an enum of unit variants, one per role: `enum Role { Ops, Admin }`",
        )
        .to_compile_error();
    };
    let mut errors = Vec::new();
    let mut names: Vec<(syn::Ident, String)> = Vec::new();
    for variant in &data.variants {
        if !matches!(variant.fields, syn::Fields::Unit) {
            errors.push(syn::Error::new(
                variant.fields.span(),
                "a role is a unit variant: remove the fields",
            ));
            continue;
        }
        let mut name = to_snake(&variant.ident.to_string());
        for attr in variant.attrs.iter().filter(|a| a.path().is_ident("role")) {
            let parsed = attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("name") {
                    let value: syn::LitStr = meta.value()?.parse()?;
                    if value.value().is_empty() || value.value().chars().any(char::is_whitespace) {
                        return Err(meta.error("a role name is one word without spaces"));
                    }
                    name = value.value();
                    Ok(())
                } else {
                    Err(meta.error("the option of `#[role(…)]` is `name = \"…\"`"))
                }
            });
            if let Err(error) = parsed {
                errors.push(error);
            }
        }
        if let Some((other, _)) = names.iter().find(|(_, n)| *n == name) {
            errors.push(syn::Error::new(
                variant.ident.span(),
                format!(
                    "`{}` and `{other}` are both the role `{name}`",
                    variant.ident
                ),
            ));
        }
        names.push((variant.ident.clone(), name));
    }
    if data.variants.is_empty() {
        errors.push(syn::Error::new(
            input.ident.span(),
            "`#[derive(Roles)]` needs at least one variant",
        ));
    }
    if let Some(first) = errors.into_iter().reduce(|mut a, b| {
        a.combine(b);
        a
    }) {
        return first.to_compile_error();
    }
    let private = Runtime::new(None).private();
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let arms = names
        .iter()
        .map(|(variant, name)| quote!(Self::#variant => #name));
    let all = names.iter().map(|(variant, _)| quote!(Self::#variant));
    quote! {
        const _: () = {
            impl #impl_generics #private::Roles for #ident #ty_generics #where_clause {
                fn name(&self) -> &'static str {
                    match self {
                        #(#arms,)*
                    }
                }

                fn all() -> &'static [Self] {
                    &[#(#all),*]
                }
            }
        };
    }
}
