//! Attribute parsing with darling: every option of `#[tool]`, `#[resource]`, `#[prompt]`
//! and `#[server]`, with typo suggestions for unknown keys.

use darling::FromMeta;
use darling::ast::NestedMeta;
use proc_macro2::{Span, TokenStream};
use syn::spanned::Spanned as _;

/// A list of strings: `tags("a", "b")` or `tags = ["a", "b"]`.
#[derive(Debug, Default, Clone)]
pub(crate) struct StringList(pub(crate) Vec<syn::LitStr>);

impl FromMeta for StringList {
    fn from_list(items: &[NestedMeta]) -> darling::Result<Self> {
        let mut errors = darling::Error::accumulator();
        let mut out = Vec::new();
        for item in items {
            match item {
                NestedMeta::Lit(syn::Lit::Str(s)) => out.push(s.clone()),
                other => errors.push(
                    darling::Error::custom("expected a string literal, like `\"search\"`")
                        .with_span(other),
                ),
            }
        }
        errors.finish_with(StringList(out))
    }

    fn from_expr(expr: &syn::Expr) -> darling::Result<Self> {
        match expr {
            syn::Expr::Array(array) => {
                let items: Vec<NestedMeta> =
                    array
                        .elems
                        .iter()
                        .map(|e| match e {
                            syn::Expr::Lit(lit) => Ok(NestedMeta::Lit(lit.lit.clone())),
                            other => Err(darling::Error::custom("expected a string literal")
                                .with_span(other)),
                        })
                        .collect::<darling::Result<_>>()?;
                Self::from_list(&items)
            }
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) => Ok(StringList(vec![s.clone()])),
            other => Err(darling::Error::custom(
                "expected a list of strings, like `(\"a\", \"b\")`",
            )
            .with_span(other)),
        }
    }
}

/// `meta(key = "value", …)`: string pairs for the component's `_meta`.
#[derive(Debug, Default, Clone)]
pub(crate) struct MetaPairs(pub(crate) Vec<(String, syn::Lit)>);

impl FromMeta for MetaPairs {
    fn from_list(items: &[NestedMeta]) -> darling::Result<Self> {
        let mut errors = darling::Error::accumulator();
        let mut out = Vec::new();
        for item in items {
            match item {
                NestedMeta::Meta(syn::Meta::NameValue(nv)) => match &nv.value {
                    syn::Expr::Lit(lit) => {
                        let key = nv
                            .path
                            .segments
                            .iter()
                            .map(|s| s.ident.to_string())
                            .collect::<Vec<_>>()
                            .join("/");
                        out.push((key, lit.lit.clone()));
                    }
                    other => errors
                        .push(darling::Error::custom("expected a literal value").with_span(other)),
                },
                other => errors
                    .push(darling::Error::custom("expected `key = \"value\"`").with_span(other)),
            }
        }
        errors.finish_with(MetaPairs(out))
    }
}

/// Options of `#[tool(…)]`.
#[derive(Debug, Default, FromMeta)]
pub(crate) struct ToolArgs {
    pub(crate) name: Option<syn::LitStr>,
    pub(crate) title: Option<syn::LitStr>,
    pub(crate) description: Option<syn::LitStr>,
    pub(crate) read_only: Option<bool>,
    pub(crate) destructive: Option<bool>,
    pub(crate) idempotent: Option<bool>,
    pub(crate) open_world: Option<bool>,
    pub(crate) tags: Option<StringList>,
    pub(crate) icons: Option<StringList>,
    pub(crate) meta: Option<MetaPairs>,
    pub(crate) enabled: Option<bool>,
    #[darling(rename = "crate")]
    pub(crate) krate: Option<syn::Path>,
}

/// Options of `#[resource("uri", …)]` after the URI.
#[derive(Debug, Default, FromMeta)]
pub(crate) struct ResourceArgs {
    pub(crate) name: Option<syn::LitStr>,
    pub(crate) title: Option<syn::LitStr>,
    pub(crate) description: Option<syn::LitStr>,
    pub(crate) mime: Option<syn::LitStr>,
    #[darling(rename = "crate")]
    pub(crate) krate: Option<syn::Path>,
}

/// Options of `#[prompt(…)]`.
#[derive(Debug, Default, FromMeta)]
pub(crate) struct PromptArgs {
    pub(crate) name: Option<syn::LitStr>,
    pub(crate) title: Option<syn::LitStr>,
    pub(crate) description: Option<syn::LitStr>,
    #[darling(rename = "crate")]
    pub(crate) krate: Option<syn::Path>,
}

/// Options of `#[server(…)]`.
#[derive(Debug, Default, FromMeta)]
pub(crate) struct ServerArgs {
    pub(crate) name: Option<syn::LitStr>,
    pub(crate) version: Option<syn::LitStr>,
    pub(crate) title: Option<syn::LitStr>,
    pub(crate) instructions: Option<syn::LitStr>,
    #[darling(rename = "crate")]
    pub(crate) krate: Option<syn::Path>,
}

/// Parse the tokens inside an attribute's parentheses.
pub(crate) fn nested(tokens: TokenStream) -> darling::Result<Vec<NestedMeta>> {
    NestedMeta::parse_meta_list(tokens).map_err(darling::Error::from)
}

/// `#[resource("uri", …)]`: the URI literal first, then options.
pub(crate) fn resource_args(
    tokens: TokenStream,
    span: Span,
) -> darling::Result<(syn::LitStr, ResourceArgs)> {
    let items = nested(tokens)?;
    let Some((first, rest)) = items.split_first() else {
        return Err(darling::Error::custom(
            "`#[resource]` needs a URI: `#[resource(\"scheme://path/{var}\")]`",
        )
        .with_span(&span));
    };
    let uri = match first {
        NestedMeta::Lit(syn::Lit::Str(s)) => s.clone(),
        other => {
            return Err(darling::Error::custom(
                "the first argument of `#[resource]` is the URI, a string literal like `\"weather://{city}/alerts\"`",
            )
            .with_span(&other.span()));
        }
    };
    let args = ResourceArgs::from_list(rest)?;
    Ok((uri, args))
}

/// Options of `#[mcp(…)]` on a `#[derive(Tool)]` or `#[derive(Prompt)]` struct.
#[derive(Debug, Default, FromMeta)]
pub(crate) struct DeriveArgs {
    pub(crate) name: Option<syn::LitStr>,
    pub(crate) title: Option<syn::LitStr>,
    pub(crate) description: Option<syn::LitStr>,
    pub(crate) read_only: Option<bool>,
    pub(crate) destructive: Option<bool>,
    pub(crate) idempotent: Option<bool>,
    pub(crate) open_world: Option<bool>,
    pub(crate) tags: Option<StringList>,
    pub(crate) template: Option<syn::LitStr>,
    #[darling(rename = "crate")]
    pub(crate) krate: Option<syn::Path>,
}
