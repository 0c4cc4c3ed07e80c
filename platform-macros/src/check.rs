//! Phase 3, check: every rule a component must satisfy, run on the one [`Component`]
//! model whichever place its attribute is written in (a free function, a `#[server]` method,
//! a derived struct), so no rule can differ between them. Every problem is pushed to the
//! one error list the macro reports; expansion (phase 4) never reports errors.

use std::collections::{BTreeSet, HashMap};

use proc_macro2::Span;

use crate::model::policy::{Millis, Policies};
use crate::model::{self, Component, FnModel, Kind, Options, Place, ReceiverShape};

type Errors = darling::error::Accumulator;

fn error(message: impl std::fmt::Display, span: Span) -> darling::Error {
    darling::Error::custom(message).with_span(&span)
}

/// Every rule about one component.
pub(crate) fn component(c: &Component<'_>, errors: &mut Errors) {
    if let Some(lit) = &c.options.common().name {
        name(c.kind, lit, errors);
    }
    if let Some(function) = c.function {
        signature(c, function, errors);
    }
    description(c, errors);
    if let (Options::Resource(uri, _), Some(function)) = (c.options, c.function) {
        template(uri, function, errors);
    }
    if let Options::Derive(args) = c.options {
        derive_options(c.kind, args, c.ident, errors);
    }
    if let (Options::Tool(args), Some(function)) = (c.options, c.function)
        && args.task.is_some()
        && !function.is_async
    {
        errors.push(error(
            "`task` on a function that is not `async`: a task is a call that goes on in the background, and a plain function always answers at once\nhelp: make the function `async fn`, or remove `task`",
            function.ident.span(),
        ));
    }
    policies(c, errors);
}

/// Generics, variadics, and the receiver each place allows.
fn signature(c: &Component<'_>, function: &FnModel, errors: &mut Errors) {
    let attr = c.kind.attr();
    if let Some(span) = function.generics {
        errors.push(error(
            format!(
                "a `#[{attr}]` function cannot be generic\nhelp: use concrete types; the input schema is generated from them"
            ),
            span,
        ));
    }
    if let Some(span) = function.variadic {
        errors.push(error("variadic parameters are not supported", span));
    }
    match (c.place, function.receiver) {
        (Place::Method, None) => errors.push(error(
            format!(
                "a `#[{attr}]` in a `#[server]` block must take `&self`\nhelp: add `&self`, or move the function out of the impl block and register it with `tools![…]`"
            ),
            function.ident.span(),
        )),
        (Place::Method, Some((ReceiverShape::Exclusive, span))) => errors.push(error(
            format!(
                "`#[{attr}]` methods take `&self`, not `&mut self`: requests run concurrently\nhelp: take `&self` and keep mutable state behind a `Mutex`, `RwLock` or atomics"
            ),
            span,
        )),
        (Place::Method, Some((ReceiverShape::Other, span))) => errors.push(error(
            format!("`#[{attr}]` methods take `&self`\nhelp: change the receiver to `&self`"),
            span,
        )),
        (Place::Function, Some((_, span))) => errors.push(error(
            format!(
                "`#[{attr}]` on a method needs `#[server]` on its `impl` block\nhelp: add `#[server]` above `impl …`"
            ),
            span,
        )),
        _ => {}
    }
}

/// A tool needs a description: the model reads it to decide when to call the tool.
fn description(c: &Component<'_>, errors: &mut Errors) {
    if c.kind != Kind::Tool || c.description.is_some() {
        return;
    }
    let (above, option) = match c.place {
        Place::Derive => ("the struct", "`#[mcp(description = \"…\")]`"),
        _ => ("the function", "`#[tool(description = \"…\")]`"),
    };
    errors.push(error(
        format!(
            "tool `{}` has no description: the model reads it to decide when to call the tool\nhelp: add a doc comment above {above} (`/// What the tool does.`) or {option}",
            c.name()
        ),
        c.ident.span(),
    ));
}

/// A resource template's variables and the function's plain parameters agree.
fn template(uri: &syn::LitStr, function: &FnModel, errors: &mut Errors) {
    let vars = match model::template_variables(uri) {
        Ok(vars) => vars,
        Err(reason) => {
            errors.push(error(format!("invalid URI template: {reason}"), uri.span()));
            return;
        }
    };
    let params: BTreeSet<&str> = function.arguments().map(|(_, n, _)| n).collect();
    for var in &vars {
        if !params.contains(var.as_str()) {
            errors.push(error(
                format!(
                    "the URI template has a variable `{{{var}}}` but the function has no parameter `{var}`\nhelp: add a parameter `{var}: String`, or remove `{{{var}}}` from the template"
                ),
                uri.span(),
            ));
        }
    }
    for (param, name, _) in function.arguments() {
        if vars.iter().any(|v| v == name)
            && let Some(what) = model::not_one_value(&param.ty)
        {
            errors.push(error(
                format!(
                    "the template variable `{{{name}}}` is one piece of text from the URI, which cannot become {what}\nhelp: take `{name}: String` (or a number, `bool` or enum of strings) and split or parse it in the function"
                ),
                syn::spanned::Spanned::span(&param.ty),
            ));
        }
        if !vars.iter().any(|v| v == name) {
            errors.push(error(
                format!(
                    "parameter `{name}` is not a variable of the URI template `{}`\nhelp: add `{{{name}}}` to the template, or make the parameter an extractor such as `Context`",
                    uri.value()
                ),
                syn::spanned::Spanned::span(&param.ty),
            ));
        }
    }
    if let Some(p) = function.params_type() {
        errors.push(error(
            "a resource takes its template variables as separate parameters, not `Params<T>`",
            syn::spanned::Spanned::span(p),
        ));
    }
}

/// `#[mcp(…)]` keys the derive does not use.
fn derive_options(
    kind: Kind,
    args: &crate::parse::DeriveArgs,
    ident: &syn::Ident,
    errors: &mut Errors,
) {
    match kind {
        Kind::Tool => {
            if let Some(template) = &args.template {
                errors.push(error(
                    "`template` belongs to `#[derive(Prompt)]`\nhelp: remove it; a tool's handler is its `impl CallTool`",
                    template.span(),
                ));
            }
        }
        _ => {
            let base = &args.base;
            let tool_only = base.hints().iter().any(Option::is_some) || base.tags.is_some();
            if tool_only {
                errors.push(error(
                    "`read_only`, `destructive`, `idempotent`, `open_world` and `tags` describe tools, not prompts\nhelp: remove them from `#[mcp(…)]`",
                    ident.span(),
                ));
            }
        }
    }
}

/// The template of a `#[derive(Prompt)]`: present, well formed, and every placeholder a
/// field. Returns the placeholders that are fields, in order, once each.
pub(crate) fn prompt_template(
    template: Option<&syn::LitStr>,
    fields: &[String],
    ident: &syn::Ident,
    errors: &mut Errors,
) -> Vec<String> {
    let Some(template) = template else {
        errors.push(error(
            "`#[derive(Prompt)]` needs a template\nhelp: add `#[mcp(template = \"Review this {code}\")]`, with `{field}` placeholders",
            ident.span(),
        ));
        return Vec::new();
    };
    let names = match model::placeholders(&template.value()) {
        Ok(names) => names,
        Err(reason) => {
            errors.push(error(
                format!("invalid template: {reason}"),
                template.span(),
            ));
            return Vec::new();
        }
    };
    let mut used = Vec::new();
    for placeholder in names {
        if fields.contains(&placeholder) {
            if !used.contains(&placeholder) {
                used.push(placeholder);
            }
            continue;
        }
        let hint = match nearest(&placeholder, fields) {
            Some(s) => format!("did you mean `{{{s}}}`?"),
            None if fields.is_empty() => "the struct has no fields".to_owned(),
            None => format!("the fields are: {}", fields.join(", ")),
        };
        errors.push(error(
            format!(
                "template placeholder `{{{placeholder}}}` is not a field of `{ident}`\nhelp: {hint}"
            ),
            template.span(),
        ));
    }
    used
}

/// The closest name, by edit distance.
fn nearest(name: &str, candidates: &[String]) -> Option<String> {
    candidates
        .iter()
        .map(|c| (strsim::levenshtein(name, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.clone())
}

/// Policies go on tools; `#[retry]` needs an idempotent tool and `#[cache]` one without
/// side effects; every value is in range.
fn policies(c: &Component<'_>, errors: &mut Errors) {
    let p = c.policies;
    access(p, errors);
    let Some(&(_, first)) = p.tool_policies().next() else {
        return;
    };
    if c.kind != Kind::Tool {
        let what = match c.place {
            Place::Derive => "`#[derive(Prompt)]`".to_owned(),
            _ => format!("`#[{}]`", c.kind.attr()),
        };
        errors.push(error(
            format!(
                "policy attributes apply to tools, not to a {what}\nhelp: remove them, or wrap the server with a middleware layer"
            ),
            first,
        ));
        return;
    }
    let [read_only, destructive, idempotent, _] = c.hints();
    let mark = match c.place {
        Place::Derive => "#[mcp(idempotent)]",
        _ => "#[tool(idempotent)]",
    };
    if let Some((span, _)) = &p.retry
        && idempotent != Some(true)
    {
        errors.push(error(
            format!(
                "`#[retry]` on a tool that is not idempotent: a retried call may run twice\nhelp: mark the tool `{mark}` if repeating it is safe, or remove `#[retry]`"
            ),
            *span,
        ));
    }
    if let Some((span, _)) = &p.cache
        && read_only != Some(true)
        && destructive != Some(false)
    {
        let reason = if destructive == Some(true) {
            "a destructive tool"
        } else {
            "a tool that may have side effects (a tool counts as destructive unless marked `read_only` or `destructive = false`)"
        };
        errors.push(error(
            format!(
                "`#[cache]` on {reason}: a call answered from the cache would skip the tool's side effects\nhelp: mark the tool `read_only` (or `destructive = false`) if repeating it is safe, or remove `#[cache]`"
            ),
            *span,
        ));
    }
    values(p, errors);
}

/// On a whole `#[server]` block, only the access attributes apply.
pub(crate) fn server_policies(p: &Policies, errors: &mut Errors) {
    if let Some(&(name, span)) = p.tool_policies().next() {
        errors.push(error(
            format!(
                "`#[{name}]` is a tool policy and cannot go on a whole `#[server]` block\nhelp: put it on each `#[tool]` method that needs it; only `#[requires_role]` and `#[requires_scope]` apply to every component of a server"
            ),
            span,
        ));
    }
    access(p, errors);
}

/// `#[requires_role]` names its roles in one form: strings, or variants of a
/// `#[derive(Roles)]` enum (whose existence the compiler checks).
pub(crate) fn access(p: &Policies, errors: &mut Errors) {
    use crate::parse::policy::RoleName;
    let roles = p
        .requires_role
        .as_ref()
        .map_or(&[][..], |(_, rule)| &rule.roles[..]);
    let typed = matches!(roles.first(), Some(RoleName::Variant(_)));
    if let Some(other) = roles
        .iter()
        .find(|r| matches!(r, RoleName::Variant(_)) != typed)
    {
        errors.push(error(
            "conflicting role forms: a string role and a typed role in one `#[requires_role]`\nhelp: write every role as a variant of your `#[derive(Roles)]` enum (`Role::Ops`), or every role as a string".to_owned(),
            other.span(),
        ));
    }
    for role in roles {
        if let RoleName::Str(s) = role
            && (s.value().trim().is_empty() || s.value().chars().any(char::is_whitespace))
        {
            errors.push(error(
                "a role name is one word without spaces, like `\"ops\"`".to_owned(),
                s.span(),
            ));
        }
    }
    if let Some((_, scopes)) = &p.requires_scope {
        for scope in scopes {
            if scope.value().is_empty() || scope.value().chars().any(char::is_whitespace) {
                errors.push(error(
                    "a scope is one token without spaces, like `\"files:read\"`; list several as `#[requires_scope(\"a\", \"b\")]`".to_owned(),
                    scope.span(),
                ));
            }
        }
    }
}

/// The ranges of policy values, policy by policy in the order written.
fn values(p: &Policies, errors: &mut Errors) {
    let positive = |durations: &[Millis], errors: &mut Errors| {
        for duration in durations.iter().filter(|d| d.ms == 0) {
            errors.push(error(
                "the duration must be greater than zero",
                duration.span,
            ));
        }
    };
    for (name, _) in &p.written {
        match *name {
            "rate_limit" => {
                let Some((_, limit)) = &p.rate_limit else {
                    continue;
                };
                if limit.requests.value == 0 {
                    errors.push(error(
                        "the number of requests must be at least 1",
                        limit.requests.span,
                    ));
                }
                if let Some(burst) = limit.burst.filter(|b| b.value == 0) {
                    errors.push(error("the burst must be at least 1", burst.span));
                }
                positive(&[limit.per], errors);
            }
            "cache" => {
                if let Some((_, cache)) = &p.cache {
                    positive(&[cache.ttl], errors);
                }
            }
            "timeout" => {
                if let Some((_, timeout)) = &p.timeout {
                    positive(&[*timeout], errors);
                }
            }
            "retry" => {
                let Some((_, retry)) = &p.retry else { continue };
                if !(2..=10).contains(&retry.attempts.value) {
                    errors.push(error(
                        "`attempts` counts the first try too: use 2 to 10",
                        retry.attempts.span,
                    ));
                }
                positive(&[retry.backoff, retry.max_backoff], errors);
            }
            "circuit_breaker" => {
                let Some((_, breaker)) = &p.circuit_breaker else {
                    continue;
                };
                let ratio = breaker.failure_ratio.value;
                if !(ratio > 0.0 && ratio <= 1.0) {
                    errors.push(error(
                        "`failure_ratio` must be above 0 and at most 1, like 0.5",
                        breaker.failure_ratio.span,
                    ));
                }
                positive(&[breaker.window, breaker.cooldown], errors);
            }
            "concurrency_limit" => {
                if let Some((span, limit)) = &p.concurrency_limit
                    && limit.value == 0
                {
                    errors.push(error("the limit must be at least 1", *span));
                }
            }
            _ => {}
        }
    }
}

/// No two components of one `#[server]` share a tool name, resource URI or prompt name.
#[derive(Default)]
pub(crate) struct Unique {
    seen: HashMap<(u8, String), Span>,
}

impl Unique {
    /// Note `c`; report it when its name or URI was seen. Returns whether it is new.
    pub(crate) fn add(&mut self, c: &Component<'_>, errors: &mut Errors) -> bool {
        let (key, span) = c.key();
        let (slot, what) = match c.kind {
            Kind::Tool => (0, "tool name"),
            Kind::Resource => (1, "resource URI"),
            Kind::Prompt => (2, "prompt name"),
        };
        if self.seen.contains_key(&(slot, key.clone())) {
            errors.push(error(
                format!(
                    "duplicate {what} `{key}` in this server\nhelp: give one of them another name with `name = \"…\"`"
                ),
                span,
            ));
            return false;
        }
        self.seen.insert((slot, key), span);
        true
    }
}

/// The impl block `#[server]` is written on: inherent, not generic.
pub(crate) fn server_block(block: &syn::ItemImpl, errors: &mut Errors) {
    if let Some((_, path, _)) = &block.trait_ {
        errors.push(
            darling::Error::custom(
                "`#[server]` goes on an inherent `impl` block, not a trait impl",
            )
            .with_span(path),
        );
    }
    if !block.generics.params.is_empty() {
        errors.push(
            darling::Error::custom("a `#[server]` type cannot be generic yet\nhelp: wrap the generic type in a concrete one")
                .with_span(&block.generics),
        );
    }
}

/// A method's attributes: at most one of `#[tool]`, `#[resource]`, `#[prompt]`, and
/// policies only with `#[tool]`.
pub(crate) fn method_attributes(
    method: &syn::ImplItemFn,
    components: &[syn::Attribute],
    policies: &Policies,
    errors: &mut Errors,
) {
    if components.is_empty() && policies.tool_policies().next().is_some() {
        errors.push(
            darling::Error::custom(
                "tool policies need `#[tool]` on the method\nhelp: add `#[tool]`, or remove the policy attributes",
            )
            .with_span(&method.sig.ident),
        );
    } else if components.is_empty() && policies.has_access() {
        errors.push(
            darling::Error::custom(
                "`#[requires_role]` and `#[requires_scope]` apply to a tool, resource or prompt\nhelp: add `#[tool]`, `#[resource]` or `#[prompt]` to the method, or put the requirement on the `#[server]` impl block to cover every component",
            )
            .with_span(&method.sig.ident),
        );
    }
    if let Some(second) = components.get(1) {
        errors.push(
            darling::Error::custom(
                "a method can be only one of `#[tool]`, `#[resource]`, `#[prompt]`",
            )
            .with_span(second),
        );
    }
}

/// Check a component name given with `name = "…"`.
fn name(kind: Kind, name: &syn::LitStr, errors: &mut Errors) {
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
