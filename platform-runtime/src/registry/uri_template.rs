//! RFC 6570 URI templates, the subset resources use: `{var}` (one path segment) and
//! `{var*}` (the rest of the path, slashes included).
//!
//! Matching is linear in the length of the URI (for a given template): each literal between
//! variables is located once with a prefix-function search, the positions where every
//! variable may end are computed in one sweep from the right, and the values are then chosen
//! in one sweep from the left. A client-chosen URI never makes the server try every split.
//!
//! Values handed to handlers are percent-decoded and safe to use as path components: a
//! `{var}` value never contains `/` or `\` (encoded ones included) and is never `.` or `..`;
//! an `{var*}` value has no `.` or `..` segment; neither contains NUL or invalid UTF-8. A
//! URI that would need any of these does not match the template.

use percent_encoding::percent_decode_str;

/// A parsed URI template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UriTemplate {
    source: String,
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(Literal),
    Var { name: String, explode: bool },
}

/// Literal text, with its prefix function for searching.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Literal {
    text: String,
    /// `prefix[i]`: the length of the longest proper prefix of `text[..=i]` that is also its
    /// suffix (Knuth–Morris–Pratt).
    prefix: Vec<usize>,
}

impl Literal {
    fn new(text: &str) -> Self {
        let bytes = text.as_bytes();
        let mut prefix = vec![0; bytes.len()];
        let mut k = 0;
        for i in 1..bytes.len() {
            while k > 0 && bytes[i] != bytes[k] {
                k = prefix[k - 1];
            }
            if bytes[i] == bytes[k] {
                k += 1;
            }
            prefix[i] = k;
        }
        Self {
            text: text.to_owned(),
            prefix,
        }
    }

    fn len(&self) -> usize {
        self.text.len()
    }

    /// Mark every position of `haystack` where this literal starts, overlapping ones
    /// included, in one pass.
    fn mark_occurrences(&self, haystack: &[u8], marks: &mut [bool]) {
        let needle = self.text.as_bytes();
        if needle.is_empty() {
            return;
        }
        let mut k = 0;
        for (i, &byte) in haystack.iter().enumerate() {
            while k > 0 && byte != needle[k] {
                k = self.prefix[k - 1];
            }
            if byte == needle[k] {
                k += 1;
            }
            if k == needle.len() {
                marks[i + 1 - k] = true;
                k = self.prefix[k - 1];
            }
        }
    }
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
                parts.push(Part::Literal(Literal::new(&rest[..open])));
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
            parts.push(Part::Literal(Literal::new(rest)));
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
    ///
    /// When a URI can be split more than one way, each variable takes the longest value
    /// that lets the rest match, left to right (`{path*}/raw` against `a/raw/raw` gives
    /// `a/raw`). Runs in time linear in the URI's length.
    pub fn matches(&self, uri: &str) -> Option<Vec<(String, String)>> {
        let spans = self.spans(uri)?;
        spans
            .into_iter()
            .zip(self.variable_parts())
            .map(|((from, to), (name, explode))| {
                decode(&uri[from..to], explode).map(|value| (name.to_owned(), value))
            })
            .collect()
    }

    /// The variables with whether each explodes, in order.
    fn variable_parts(&self) -> impl Iterator<Item = (&str, bool)> {
        self.parts.iter().filter_map(|p| match p {
            Part::Var { name, explode } => Some((name.as_str(), *explode)),
            Part::Literal(_) => None,
        })
    }

    /// Where each variable's value lies in `uri` (byte ranges, before decoding), if the
    /// template matches it.
    pub(crate) fn spans(&self, uri: &str) -> Option<Vec<(usize, usize)>> {
        let (head, vars, tail) = self.shape();
        let bytes = uri.as_bytes();
        let start = match head {
            Some(literal) => {
                if !uri.starts_with(literal.text.as_str()) {
                    return None;
                }
                literal.len()
            }
            None => 0,
        };
        if vars.is_empty() {
            return (start == bytes.len()).then(Vec::new);
        }
        let end = match tail {
            Some(literal) => {
                if !uri.ends_with(literal.text.as_str()) || bytes.len() < start + literal.len() {
                    return None;
                }
                bytes.len() - literal.len()
            }
            None => bytes.len(),
        };
        if end <= start {
            return None;
        }
        split(bytes, start, end, &vars)
    }

    /// The spans the previous matcher found by trying every end of every variable,
    /// longest first (exponential: for tests and fuzzing on short inputs only).
    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn exhaustive_spans(&self, uri: &str) -> Option<Vec<(usize, usize)>> {
        fn go(parts: &[Part], input: &str, at: usize, out: &mut Vec<(usize, usize)>) -> bool {
            let Some((first, rest)) = parts.split_first() else {
                return at == input.len();
            };
            match first {
                Part::Literal(literal) => {
                    input[at..].starts_with(literal.text.as_str())
                        && go(rest, input, at + literal.len(), out)
                }
                Part::Var { explode, .. } => {
                    let tail = &input[at..];
                    let limit = if *explode {
                        tail.len()
                    } else {
                        tail.find(['/', '?', '#']).unwrap_or(tail.len())
                    };
                    for end in (1..=limit).rev() {
                        if !tail.is_char_boundary(end) {
                            continue;
                        }
                        out.push((at, at + end));
                        if go(rest, input, at + end, out) {
                            return true;
                        }
                        out.pop();
                    }
                    false
                }
            }
        }
        let mut out = Vec::new();
        go(&self.parts, uri, 0, &mut out).then_some(out)
    }

    /// The template as: an optional leading literal; each variable with whether it
    /// explodes and the literal after it (none for a variable at the end); an optional
    /// trailing literal (the one after the last variable).
    #[allow(clippy::type_complexity)]
    fn shape(
        &self,
    ) -> (
        Option<&Literal>,
        Vec<(&str, bool, Option<&Literal>)>,
        Option<&Literal>,
    ) {
        let mut parts = self.parts.iter().peekable();
        let head = match parts.peek() {
            Some(Part::Literal(literal)) => {
                parts.next();
                Some(literal)
            }
            _ => None,
        };
        let mut vars = Vec::new();
        while let Some(part) = parts.next() {
            if let Part::Var { name, explode } = part {
                let after = match parts.peek() {
                    Some(Part::Literal(literal)) => {
                        parts.next();
                        Some(literal)
                    }
                    _ => None,
                };
                vars.push((name.as_str(), *explode, after));
            }
        }
        // The literal after the last variable is the tail, anchored at the end.
        let tail = vars.last_mut().and_then(|last| last.2.take());
        (head, vars, tail)
    }
}

/// Whether a byte may appear in a `{var}` value as written (before decoding).
fn segment_byte(byte: u8) -> bool {
    !matches!(byte, b'/' | b'?' | b'#')
}

/// The span of each variable's value in `bytes[start..end]`, or `None` when the variables
/// and the literals between them cannot cover it. `O(len · vars)`.
fn split(
    bytes: &[u8],
    start: usize,
    end: usize,
    vars: &[(&str, bool, Option<&Literal>)],
) -> Option<Vec<(usize, usize)>> {
    let len = end;
    // `next_stop[i]`: the first position at or after `i` holding a byte a `{var}` value
    // cannot contain (or `len`).
    let mut next_stop = vec![len; len + 1];
    for i in (0..len).rev() {
        next_stop[i] = if segment_byte(bytes[i]) {
            next_stop[i + 1]
        } else {
            i
        };
    }
    // Right to left: for each variable, the positions where its value may end (`ends`)
    // such that everything after it matches, and from those the positions where it may
    // start (`starts`), which the literal before it must reach.
    let mut ends_per_var = vec![Vec::new(); vars.len()];
    let mut starts_next: Vec<bool> = Vec::new();
    for (index, (_, explode, after)) in vars.iter().enumerate().rev() {
        let mut ends = vec![false; len + 1];
        match after {
            None => ends[end] = true,
            Some(literal) => {
                let mut occurs = vec![false; len + 1];
                literal.mark_occurrences(&bytes[..len], &mut occurs);
                for (position, occurs) in occurs.iter().enumerate() {
                    let next = position + literal.len();
                    if *occurs && next <= len && starts_next[next] {
                        ends[position] = true;
                    }
                }
            }
        }
        let mut starts = vec![false; len + 1];
        // The nearest possible end after each position, swept from the right.
        let mut nearest_end = usize::MAX;
        for position in (0..len).rev() {
            if ends[position + 1] {
                nearest_end = position + 1;
            }
            starts[position] = if *explode {
                nearest_end != usize::MAX
            } else {
                nearest_end <= next_stop[position]
            };
        }
        ends_per_var[index] = ends;
        starts_next = starts;
    }
    if !starts_next.get(start).copied().unwrap_or(false) {
        return None;
    }
    // Left to right: each variable takes the longest value that lets the rest match.
    let mut spans = Vec::with_capacity(vars.len());
    let mut position = start;
    for ((_, explode, after), ends) in vars.iter().zip(&ends_per_var) {
        let limit = if *explode { len } else { next_stop[position] };
        let value_end = (position + 1..=limit).rev().find(|&e| ends[e])?;
        spans.push((position, value_end));
        position = value_end + after.map_or(0, |literal| literal.len());
    }
    Some(spans)
}

/// A variable's value, percent-decoded, if it is safe to hand to a handler.
fn decode(raw: &str, explode: bool) -> Option<String> {
    let value = percent_decode_str(raw).decode_utf8().ok()?;
    if value.contains('\0') {
        return None;
    }
    let dot_segment = |segment: &str| segment == "." || segment == "..";
    if explode {
        if value.split(['/', '\\']).any(dot_segment) {
            return None;
        }
    } else if value.contains(['/', '\\']) || dot_segment(&value) {
        return None;
    }
    Some(value.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(template: &str, uri: &str) -> Option<Vec<(String, String)>> {
        UriTemplate::parse(template).unwrap().matches(uri)
    }

    fn pairs(items: &[(&str, &str)]) -> Option<Vec<(String, String)>> {
        Some(
            items
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn simple_variables_match_one_segment() {
        assert_eq!(
            vars("weather://{city}/alerts", "weather://lisbon/alerts"),
            pairs(&[("city", "lisbon")])
        );
        assert_eq!(
            vars("weather://{city}/alerts", "weather://a/b/alerts"),
            None
        );
        assert_eq!(vars("weather://{city}/alerts", "weather:///alerts"), None);
        assert_eq!(vars("notes://{id}", "notes://"), None);
        assert_eq!(vars("notes://{id}", "notes://a?b"), None);
        assert_eq!(vars("notes://{id}", "other://a"), None);
    }

    #[test]
    fn values_are_percent_decoded() {
        assert_eq!(
            vars("weather://{city}", "weather://S%C3%A3o%20Paulo"),
            pairs(&[("city", "São Paulo")])
        );
    }

    #[test]
    fn exploded_variables_take_slashes() {
        assert_eq!(
            vars("file:///{path*}", "file:///etc/app/config.toml"),
            pairs(&[("path", "etc/app/config.toml")])
        );
        assert_eq!(
            vars("repo://{owner}/{path*}/raw", "repo://acme/src/lib.rs/raw"),
            pairs(&[("owner", "acme"), ("path", "src/lib.rs")])
        );
    }

    #[test]
    fn each_variable_takes_the_longest_value_the_rest_allows() {
        assert_eq!(
            vars("x://{path*}/raw", "x://a/raw/raw"),
            pairs(&[("path", "a/raw")])
        );
        assert_eq!(
            vars("x://{name}.{ext}", "x://archive.tar.gz"),
            pairs(&[("name", "archive.tar"), ("ext", "gz")])
        );
        // Overlapping occurrences of a literal are all candidates.
        assert_eq!(
            vars("x://{a}aa{b}", "x://baaab"),
            pairs(&[("a", "ba"), ("b", "b")])
        );
        assert_eq!(
            vars("x://{a}-{b*}-{c}", "x://1-2/3-4-5"),
            pairs(&[("a", "1"), ("b", "2/3-4"), ("c", "5")])
        );
        // A simple variable cannot reach past a slash for a later literal.
        assert_eq!(vars("x://{a}.json", "x://a/b.json"), None);
    }

    #[test]
    fn decoded_values_never_carry_path_traversal() {
        // An encoded slash or backslash does not sneak into a one-segment variable.
        assert_eq!(vars("notes://{id}", "notes://a%2Fb"), None);
        assert_eq!(vars("notes://{id}", "notes://a%2fb"), None);
        assert_eq!(vars("notes://{id}", "notes://..%5Cetc"), None);
        assert_eq!(vars("notes://{id}", "notes://.."), None);
        assert_eq!(vars("notes://{id}", "notes://%2E%2E"), None);
        assert_eq!(vars("notes://{id}", "notes://."), None);
        assert_eq!(vars("notes://{id}", "notes://a%00"), None);
        assert_eq!(vars("notes://{id}", "notes://%FF"), None, "invalid UTF-8");
        assert_eq!(vars("notes://{id}", "notes://..a"), pairs(&[("id", "..a")]));
        // Exploded variables keep slashes but no dot segments.
        assert_eq!(vars("file:///{path*}", "file:///docs/../etc/passwd"), None);
        assert_eq!(vars("file:///{path*}", "file:///docs/%2e%2e/etc"), None);
        assert_eq!(vars("file:///{path*}", "file:///./a"), None);
        assert_eq!(
            vars("file:///{path*}", "file:///docs/a..b/c"),
            pairs(&[("path", "docs/a..b/c")])
        );
    }

    #[test]
    fn static_templates_match_exactly() {
        assert_eq!(vars("x://static", "x://static"), Some(Vec::new()));
        assert_eq!(vars("x://static", "x://static/"), None);
    }

    #[test]
    fn splits_agree_with_exhaustive_search() {
        let templates = [
            "x://{a}",
            "x://{a}/{b}",
            "x://{a}.{b}",
            "x://{a*}/{b}",
            "x://{a}ab{b*}",
            "{a}:{b*}:{c}",
            "x://{a*}-{b}-{c*}.z",
        ];
        // Every string of length up to 6 over a small alphabet, after each template's head.
        let alphabet = ['a', 'b', '/', '.', ':', '-', 'z'];
        for template in templates {
            let parsed = UriTemplate::parse(template).unwrap();
            let prefix = template.split('{').next().unwrap_or("");
            let mut stack = vec![String::new()];
            while let Some(body) = stack.pop() {
                let uri = format!("{prefix}{body}");
                assert_eq!(
                    parsed.spans(&uri),
                    parsed.exhaustive_spans(&uri),
                    "{template} against {uri}"
                );
                if body.len() < 6 {
                    for c in alphabet {
                        stack.push(format!("{body}{c}"));
                    }
                }
            }
        }
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
