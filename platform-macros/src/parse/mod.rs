//! Phase 1, parse: darling receivers for every option of `#[tool]`, `#[resource]`,
//! `#[prompt]`, `#[server]` and `#[mcp(…)]` (the fields every component shares flattened
//! once, in [`CommonArgs`]), with typo suggestions for unknown keys; the policy attributes
//! in [`policy`]. Parsing reports only what cannot be read; the rules are in `check`.

pub(crate) mod policy;

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

/// The options every component attribute takes: `name`, `title`, `description`,
/// `crate = path`. Flattened into each component's options.
#[derive(Debug, Default, FromMeta)]
pub(crate) struct CommonArgs {
    pub(crate) name: Option<syn::LitStr>,
    pub(crate) title: Option<syn::LitStr>,
    pub(crate) description: Option<syn::LitStr>,
    #[darling(rename = "crate")]
    pub(crate) krate: Option<syn::Path>,
}

/// The options of a tool wherever it is declared (`#[tool(…)]`, `#[mcp(…)]` on a derived
/// struct): the common ones, the four behaviour hints and tags.
#[derive(Debug, Default, FromMeta)]
pub(crate) struct ToolCommonArgs {
    #[darling(flatten)]
    pub(crate) common: CommonArgs,
    pub(crate) read_only: Option<bool>,
    pub(crate) destructive: Option<bool>,
    pub(crate) idempotent: Option<bool>,
    pub(crate) open_world: Option<bool>,
    pub(crate) tags: Option<StringList>,
}

impl ToolCommonArgs {
    /// The hints as written: read-only, destructive, idempotent, open-world.
    pub(crate) fn hints(&self) -> [Option<bool>; 4] {
        [
            self.read_only,
            self.destructive,
            self.idempotent,
            self.open_world,
        ]
    }
}

/// `task` or `task = "optional" | "required"`: whether a tool's calls may run as tasks.
#[derive(Debug, Clone)]
pub(crate) struct TaskArg {
    pub(crate) required: bool,
}

impl FromMeta for TaskArg {
    fn from_word() -> darling::Result<Self> {
        Ok(Self { required: false })
    }

    fn from_value(value: &syn::Lit) -> darling::Result<Self> {
        let syn::Lit::Str(text) = value else {
            return Err(darling::Error::custom(
                "expected `task`, `task = \"optional\"` or `task = \"required\"`",
            )
            .with_span(value));
        };
        match text.value().as_str() {
            "optional" => Ok(Self { required: false }),
            "required" => Ok(Self { required: true }),
            other => Err(darling::Error::custom(format!(
                "`task = \"{other}\"`: expected `\"optional\"` (a task when the client supports tasks) or `\"required\"` (clients must support tasks)"
            ))
            .with_span(text)),
        }
    }
}

/// Options of `#[tool(…)]`.
#[derive(Debug, Default, FromMeta)]
pub(crate) struct ToolArgs {
    #[darling(flatten)]
    pub(crate) base: ToolCommonArgs,
    pub(crate) icons: Option<StringList>,
    pub(crate) meta: Option<MetaPairs>,
    pub(crate) enabled: Option<bool>,
    /// `version = "2"`: one version of several under one name.
    pub(crate) version: Option<syn::LitStr>,
    /// `task`: calls may run as tasks.
    pub(crate) task: Option<TaskArg>,
}

/// Options of `#[resource("uri", …)]` after the URI.
#[derive(Debug, Default, FromMeta)]
pub(crate) struct ResourceArgs {
    #[darling(flatten)]
    pub(crate) common: CommonArgs,
    pub(crate) mime: Option<syn::LitStr>,
}

/// Options of `#[prompt(…)]`.
#[derive(Debug, Default, FromMeta)]
pub(crate) struct PromptArgs {
    #[darling(flatten)]
    pub(crate) common: CommonArgs,
}

/// Options of `#[server(…)]`.
#[derive(Debug, Default, FromMeta)]
pub(crate) struct ServerArgs {
    pub(crate) name: Option<syn::LitStr>,
    pub(crate) version: Option<syn::LitStr>,
    pub(crate) title: Option<syn::LitStr>,
    pub(crate) description: Option<syn::LitStr>,
    pub(crate) instructions: Option<syn::LitStr>,
    #[darling(rename = "crate")]
    pub(crate) krate: Option<syn::Path>,
}

/// Which component attribute is being read.
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

/// The parsed options of a component attribute.
pub(crate) enum Options {
    Tool(ToolArgs),
    Resource(syn::LitStr, ResourceArgs),
    Prompt(PromptArgs),
    Derive(DeriveArgs),
}

impl Options {
    /// No options: what an attribute that did not parse stands for.
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

    pub(crate) fn common(&self) -> &CommonArgs {
        match self {
            Self::Tool(a) => &a.base.common,
            Self::Resource(_, a) => &a.common,
            Self::Prompt(a) => &a.common,
            Self::Derive(a) => &a.base.common,
        }
    }

    /// The tool options (hints, tags), where the attribute takes them.
    pub(crate) fn tool(&self) -> Option<&ToolCommonArgs> {
        match self {
            Self::Tool(a) => Some(&a.base),
            Self::Derive(a) => Some(&a.base),
            _ => None,
        }
    }

    pub(crate) fn krate(&self) -> Option<&syn::Path> {
        self.common().krate.as_ref()
    }
}

/// The component attribute among a method's or function's attributes (by last segment).
pub(crate) fn component_kind(attr: &syn::Attribute) -> Option<Kind> {
    let last = attr.path().segments.last()?.ident.to_string();
    match last.as_str() {
        "tool" => Some(Kind::Tool),
        "resource" => Some(Kind::Resource),
        "prompt" => Some(Kind::Prompt),
        _ => None,
    }
}

/// Parse the options of one component attribute (`tokens`: what is inside its
/// parentheses).
pub(crate) fn component_options(
    kind: Kind,
    tokens: TokenStream,
    span: Span,
) -> darling::Result<Options> {
    match kind {
        Kind::Tool => Ok(Options::Tool(ToolArgs::from_list(&nested(tokens)?)?)),
        Kind::Prompt => Ok(Options::Prompt(PromptArgs::from_list(&nested(tokens)?)?)),
        Kind::Resource => {
            let (uri, args) = resource_args(tokens, span)?;
            Ok(Options::Resource(uri, args))
        }
    }
}

/// The tokens inside an attribute's parentheses (none for a bare `#[tool]`).
pub(crate) fn attr_tokens(attr: &syn::Attribute) -> TokenStream {
    match &attr.meta {
        syn::Meta::List(list) => list.tokens.clone(),
        _ => TokenStream::new(),
    }
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

/// Options of `#[mcp(…)]` on a `#[derive(Tool)]` or `#[derive(Prompt)]` struct: a tool's
/// options and a prompt's `template` (the checks refuse the ones the derive does not use).
#[derive(Debug, Default, FromMeta)]
pub(crate) struct DeriveArgs {
    #[darling(flatten)]
    pub(crate) base: ToolCommonArgs,
    pub(crate) template: Option<syn::LitStr>,
}
