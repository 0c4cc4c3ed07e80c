//! Rustdoc as descriptions: the doc comment up to its first `#` section describes the item;
//! its `# Arguments` list describes the parameters.

use std::collections::HashMap;

/// The description and per-parameter descriptions found in an item's doc comment.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Docs {
    pub(crate) description: Option<String>,
    pub(crate) arguments: HashMap<String, String>,
}

/// The text of the `#[doc = "…"]` attributes, one line each.
pub(crate) fn doc_lines(attrs: &[syn::Attribute]) -> Vec<String> {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(s.value()),
                _ => None,
            },
            _ => None,
        })
        .flat_map(|s| {
            s.lines()
                .map(|l| l.strip_prefix(' ').unwrap_or(l).to_owned())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Split a doc comment into the description and the `# Arguments` entries.
pub(crate) fn parse(attrs: &[syn::Attribute]) -> Docs {
    let lines = doc_lines(attrs);
    let mut description = Vec::new();
    let mut arguments: HashMap<String, String> = HashMap::new();
    let mut in_arguments = false;
    let mut seen_heading = false;
    let mut current: Option<String> = None;
    for line in &lines {
        let trimmed = line.trim();
        if let Some(heading) = trimmed.strip_prefix('#') {
            let heading = heading.trim_start_matches('#').trim().to_ascii_lowercase();
            in_arguments = matches!(heading.as_str(), "arguments" | "parameters" | "args");
            seen_heading = true;
            current = None;
            continue;
        }
        if !in_arguments {
            // The description is the text before the first section (`# Examples`, …).
            if !seen_heading {
                description.push(line.clone());
            }
            continue;
        }
        if let Some((name, text)) = argument_entry(trimmed) {
            arguments.insert(name.clone(), text);
            current = Some(name);
        } else if let Some(name) = &current {
            if trimmed.is_empty() {
                current = None;
            } else if let Some(text) = arguments.get_mut(name) {
                text.push(' ');
                text.push_str(trimmed);
            }
        }
    }
    let text = description.join("\n").trim().to_owned();
    Docs {
        description: (!text.is_empty()).then_some(text),
        arguments,
    }
}

/// `* `name` - text`, `- name: text`, `* name — text` → (name, text).
fn argument_entry(line: &str) -> Option<(String, String)> {
    let rest = line
        .strip_prefix('*')
        .or_else(|| line.strip_prefix('-'))?
        .trim_start();
    let (name, after) = if let Some(quoted) = rest.strip_prefix('`') {
        let end = quoted.find('`')?;
        (&quoted[..end], &quoted[end + 1..])
    } else {
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        (&rest[..end], &rest[end..])
    };
    if name.is_empty() {
        return None;
    }
    let after = after.trim_start();
    let text = after
        .strip_prefix("--")
        .or_else(|| after.strip_prefix('-'))
        .or_else(|| after.strip_prefix(':'))
        .or_else(|| after.strip_prefix('—'))
        .or_else(|| after.strip_prefix('–'))?
        .trim();
    Some((name.trim_start_matches("r#").to_owned(), text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docs(src: &str) -> Docs {
        let item: syn::ItemFn = syn::parse_str(&format!("{src}\nfn f() {{}}")).unwrap();
        parse(&item.attrs)
    }

    #[test]
    fn description_and_arguments_are_split() {
        let d = docs(
            "/// Add two integers.\n///\n/// # Arguments\n/// * `a` - left operand\n/// * `b` - right\n///   operand, continued\n",
        );
        assert_eq!(d.description.as_deref(), Some("Add two integers."));
        assert_eq!(d.arguments["a"], "left operand");
        assert_eq!(d.arguments["b"], "right operand, continued");
    }

    #[test]
    fn other_bullet_styles_are_read() {
        let d = docs(
            "/// Search.\n/// # Arguments\n/// - query: what to find\n/// * limit — how many\n/// # Errors\n/// When it fails.",
        );
        assert_eq!(d.arguments["query"], "what to find");
        assert_eq!(d.arguments["limit"], "how many");
        assert_eq!(d.description.as_deref(), Some("Search."));
    }

    #[test]
    fn no_docs_means_no_description() {
        assert_eq!(docs("").description, None);
    }
}
