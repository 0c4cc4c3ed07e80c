//! [`Component`]: one tool, resource or prompt as the checks and the expansion see it,
//! whichever place its attribute was written in — a free function, a method of a
//! `#[server]` impl block, or a derived struct. Because every place builds this one model,
//! every rule in `check` holds in all of them.

use proc_macro2::Span;

use super::policy::Policies;
use super::{FnModel, Kind};
use crate::parse::{Options, ToolArgs, ToolCommonArgs};

/// Where the component's attribute is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// `#[tool]` on a free function.
    Function,
    /// `#[tool]` on a method of a `#[server]` impl block.
    Method,
    /// `#[derive(Tool)]` or `#[derive(Prompt)]` on a struct.
    Derive,
}

/// One component, wherever declared.
pub(crate) struct Component<'a> {
    pub(crate) kind: Kind,
    pub(crate) place: Place,
    /// The function's or struct's name: the default name and where errors point.
    pub(crate) ident: &'a syn::Ident,
    pub(crate) options: &'a Options,
    /// The description: `description = …`, else the doc comment's.
    pub(crate) description: Option<String>,
    /// The function, when the component is one.
    pub(crate) function: Option<&'a FnModel>,
    pub(crate) policies: &'a Policies,
}

impl Component<'_> {
    /// The tool or prompt name (the resource's label): `name = …`, or the function's name,
    /// or the struct's name in snake case.
    pub(crate) fn name(&self) -> String {
        match &self.options.common().name {
            Some(name) => name.value(),
            None if self.place == Place::Derive => to_snake(&self.ident.to_string()),
            None => self.ident.to_string().trim_start_matches("r#").to_owned(),
        }
    }

    /// What makes the component unique in a server, and where to report a duplicate: the
    /// tool or prompt name, or the resource URI.
    pub(crate) fn key(&self) -> (String, Span) {
        if let Options::Resource(uri, _) = self.options {
            return (uri.value(), uri.span());
        }
        let (name, span) = match &self.options.common().name {
            Some(name) => (name.value(), name.span()),
            None => (self.name(), self.ident.span()),
        };
        // Versions of one tool share its name.
        match self.options {
            Options::Tool(ToolArgs {
                version: Some(version),
                ..
            }) => (format!("{name}@{}", version.value()), span),
            _ => (name, span),
        }
    }

    /// The behaviour hints as written (all `None` for resources and prompts).
    pub(crate) fn hints(&self) -> [Option<bool>; 4] {
        self.options.tool().map_or([None; 4], ToolCommonArgs::hints)
    }
}

/// `SearchCatalogue` → `search_catalogue`.
pub(crate) fn to_snake(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::to_snake;

    #[test]
    fn struct_names_become_snake_case() {
        assert_eq!(to_snake("SearchCatalogue"), "search_catalogue");
        assert_eq!(to_snake("Add"), "add");
    }
}
