//! `#[tokio::test]` as the guides' doctests see it.
//!
//! rustdoc compiles a doctest as a program, where `#[test]` functions are dropped before
//! type checking, so a guide's test would never be compiled, let alone run. This attribute
//! takes the same arguments and builds the same runtime as tokio's (current-thread, all
//! drivers, `start_paused` when asked) but leaves an ordinary function the doctest calls.

use proc_macro::TokenStream;
use quote::quote;
use syn::punctuated::Punctuated;

/// `#[tokio::test]`, `#[tokio::test(start_paused = true)]`: an `async fn` becomes a plain
/// function that runs its body on a current-thread runtime.
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    match expand(args.into(), item.into()) {
        Ok(tokens) => tokens.into(),
        Err(error) => error.to_compile_error().into(),
    }
}

fn expand(
    args: proc_macro2::TokenStream,
    item: proc_macro2::TokenStream,
) -> syn::Result<proc_macro2::TokenStream> {
    let mut function: syn::ItemFn = syn::parse2(item)?;
    let args = syn::parse::Parser::parse2(
        Punctuated::<syn::MetaNameValue, syn::Token![,]>::parse_terminated,
        args,
    )?;
    let mut paused = false;
    for arg in args {
        if arg.path.is_ident("start_paused") {
            let syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Bool(value),
                ..
            }) = &arg.value
            else {
                return Err(syn::Error::new_spanned(
                    arg.value,
                    "expected `true` or `false`",
                ));
            };
            paused = value.value;
        } else if !arg.path.is_ident("flavor") {
            return Err(syn::Error::new_spanned(
                arg.path,
                "the guides use `start_paused` and `flavor` only",
            ));
        }
    }
    if function.sig.asyncness.take().is_none() {
        return Err(syn::Error::new_spanned(
            function.sig.fn_token,
            "`#[tokio::test]` goes on an `async fn`",
        ));
    }
    let paused = paused.then(|| quote!(.start_paused(true)));
    let body = &function.block;
    let syn::ItemFn {
        attrs, vis, sig, ..
    } = &function;
    Ok(quote! {
        #(#attrs)*
        #vis #sig {
            let body = async move #body;
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                #paused
                .build()
                .expect("a test runtime")
                .block_on(body)
        }
    })
}
