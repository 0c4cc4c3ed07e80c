//! RFC 6570 URI templates, the subset resources use: `{var}` (one path segment) and
//! `{var*}` (the rest of the path, slashes included).

use percent_encoding::percent_decode_str;

/// A parsed URI template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UriTemplate {
    source: String,
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Var { name: String, explode: bool },
}

/// Why a URI template is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid URI template `{template}`: {reason}")]
pub struct TemplateError {
    template: String,
    reason: String,
}

impl UriTemplate {
    /// Parse a template.
    pub fn parse(template: &str) -> Result<Self, TemplateError> {
        let fail = |reason: String| TemplateError {
            template: template.to_owned(),
            reason,
        };
        let mut parts = Vec::new();
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                parts.push(Part::Literal(rest[..open].to_owned()));
            }
            let after = &rest[open + 1..];
            let close = after
                .find('}')
                .ok_or_else(|| fail("`{` without a closing `}`".into()))?;
            let mut name = &after[..close];
            let explode = name.ends_with('*');
            if explode {
                name = &name[..name.len() - 1];
            }
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(fail(format!(
                    "`{{{}}}` is not supported; use `{{name}}` or `{{name*}}` with a Rust identifier",
                    &after[..close]
                )));
            }
            if matches!(parts.last(), Some(Part::Var { .. })) {
                return Err(fail(
                    "two variables must be separated by literal text".into(),
                ));
            }
            if parts
                .iter()
                .any(|p| matches!(p, Part::Var { name: n, .. } if n == name))
            {
                return Err(fail(format!("variable `{name}` appears twice")));
            }
            parts.push(Part::Var {
                name: name.to_owned(),
                explode,
            });
            rest = &after[close + 1..];
        }
        if rest.contains('}') {
            return Err(fail("`}` without an opening `{`".into()));
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_owned()));
        }
        Ok(Self {
            source: template.to_owned(),
            parts,
        })
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The variable names, in order.
    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Var { name, .. } => Some(name.as_str()),
            Part::Literal(_) => None,
        })
    }

    /// Whether the template has no variables (a static resource URI).
    pub fn is_static(&self) -> bool {
        self.variables().next().is_none()
    }

    /// Match a URI, returning the percent-decoded variable values in template order.
    pub fn matches(&self, uri: &str) -> Option<Vec<(String, String)>> {
        let mut out = Vec::new();
        if match_parts(&self.parts, uri, &mut out) {
            out.reverse();
            Some(out)
        } else {
            None
        }
    }
}

fn match_parts(parts: &[Part], input: &str, out: &mut Vec<(String, String)>) -> bool {
    let Some((first, rest)) = parts.split_first() else {
        return input.is_empty();
    };
    match first {
        Part::Literal(literal) => input
            .strip_prefix(literal.as_str())
            .is_some_and(|tail| match_parts(rest, tail, out)),
        Part::Var { name, explode } => {
            // Try the longest value first so `{path*}` takes as much as the rest allows.
            let limit = if *explode {
                input.len()
            } else {
                input.find('/').unwrap_or(input.len())
            };
            let mut ends: Vec<usize> = input[..limit]
                .char_indices()
                .map(|(i, c)| i + c.len_utf8())
                .collect();
            ends.reverse();
            for end in ends {
                let raw = &input[..end];
                if !*explode && raw.contains(['?', '#']) {
                    continue;
                }
                if match_parts(rest, &input[end..], out) {
                    let value = percent_decode_str(raw).decode_utf8_lossy().into_owned();
                    out.push((name.clone(), value));
                    return true;
                }
            }
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(template: &str, uri: &str) -> Option<Vec<(String, String)>> {
        UriTemplate::parse(template).unwrap().matches(uri)
    }

    #[test]
    fn simple_variables_match_one_segment() {
        assert_eq!(
            vars("weather://{city}/alerts", "weather://lisbon/alerts"),
            Some(vec![("city".into(), "lisbon".into())])
        );
        assert_eq!(
            vars("weather://{city}/alerts", "weather://a/b/alerts"),
            None
        );
        assert_eq!(vars("weather://{city}/alerts", "weather:///alerts"), None);
    }

    #[test]
    fn values_are_percent_decoded() {
        assert_eq!(
            vars("weather://{city}", "weather://S%C3%A3o%20Paulo"),
            Some(vec![("city".into(), "São Paulo".into())])
        );
    }

    #[test]
    fn exploded_variables_take_slashes() {
        assert_eq!(
            vars("file:///{path*}", "file:///etc/app/config.toml"),
            Some(vec![("path".into(), "etc/app/config.toml".into())])
        );
        assert_eq!(
            vars("repo://{owner}/{path*}/raw", "repo://acme/src/lib.rs/raw"),
            Some(vec![
                ("owner".into(), "acme".into()),
                ("path".into(), "src/lib.rs".into())
            ])
        );
    }

    #[test]
    fn invalid_templates_are_rejected() {
        assert!(UriTemplate::parse("x://{a").is_err());
        assert!(UriTemplate::parse("x://{+a}").is_err());
        assert!(UriTemplate::parse("x://{a}{b}").is_err());
        assert!(UriTemplate::parse("x://{a}/{a}").is_err());
        assert!(UriTemplate::parse("x://a}").is_err());
        assert!(UriTemplate::parse("x://static").unwrap().is_static());
    }
}
