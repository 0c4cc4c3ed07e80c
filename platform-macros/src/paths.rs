//! The one place that names the runtime crate in generated code.

use proc_macro2::TokenStream;
use quote::quote;

/// Where generated code finds the runtime: `::platform_runtime` or a `crate = path`
/// override (for crates that re-export the runtime under another name).
#[derive(Clone)]
pub(crate) struct Runtime {
    root: TokenStream,
}

impl Runtime {
    pub(crate) fn new(krate: Option<&syn::Path>) -> Self {
        let root = match krate {
            Some(path) => quote!(#path),
            None => quote!(::platform_runtime),
        };
        Self { root }
    }

    /// `<root>::__private`.
    pub(crate) fn private(&self) -> TokenStream {
        let root = &self.root;
        quote!(#root::__private)
    }
}
