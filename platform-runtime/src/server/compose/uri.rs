//! The URI scheme of mounted resources: `scheme://rest` mounted under `prefix` is served as
//! `scheme://prefix/rest`, and a URI carrying the prefix maps back by removing it.
//!
//! The mapping is exact text: the prefix is inserted right after the first `://`, with one
//! `/` after it, whatever follows (an authority, a path, an empty authority as in
//! `file:///x` → `file://prefix//x`, or template expressions). Reversal removes the same
//! text, so `unmount(prefix, mount(prefix, uri)) == uri` for every URI that can be mounted,
//! and nested mounts nest (`scheme://outer/inner/rest`).

/// The mounted form of `uri` under `prefix`; an error (for the build) when `uri` has no
/// literal `scheme://` before any template expression.
pub(crate) fn mount(prefix: &str, uri: &str) -> Result<String, String> {
    let at = scheme_end(uri).ok_or_else(|| {
        format!(
            "resource `{uri}` cannot be mounted under `{prefix}`: its URI has no `scheme://` (mounted resources are served as `scheme://{prefix}/…`)"
        )
    })?;
    let mut mounted = String::with_capacity(uri.len() + prefix.len() + 1);
    mounted.push_str(&uri[..at]);
    mounted.push_str(prefix);
    mounted.push('/');
    mounted.push_str(&uri[at..]);
    Ok(mounted)
}

/// `uri` without `prefix`, when it is the mounted form of some URI under `prefix`.
pub(crate) fn unmount(prefix: &str, uri: &str) -> Option<String> {
    let at = scheme_end(uri)?;
    let rest = uri[at..].strip_prefix(prefix)?.strip_prefix('/')?;
    let mut original = String::with_capacity(uri.len() - prefix.len() - 1);
    original.push_str(&uri[..at]);
    original.push_str(rest);
    Some(original)
}

/// The position just past `scheme://`, when `uri` starts with a valid scheme
/// (RFC 3986: a letter, then letters, digits, `+`, `-`, `.`) followed by `://`.
fn scheme_end(uri: &str) -> Option<usize> {
    let colon = uri.find(':')?;
    let scheme = &uri.as_bytes()[..colon];
    let valid = scheme.first().is_some_and(u8::is_ascii_alphabetic)
        && scheme
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    (valid && uri[colon..].starts_with("://")).then_some(colon + 3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounting_inserts_the_prefix_after_the_scheme_and_reverses() {
        let cases = [
            ("weather://readme", "weather://weather/readme"),
            (
                "weather://forecast/{city}",
                "weather://weather/forecast/{city}",
            ),
            ("file:///etc/motd", "file://weather//etc/motd"),
            (
                "https://example.com/a?b=c",
                "https://weather/example.com/a?b=c",
            ),
            ("x+y.z-1://", "x+y.z-1://weather/"),
        ];
        for (uri, mounted) in cases {
            assert_eq!(mount("weather", uri).unwrap(), mounted, "{uri}");
            assert_eq!(unmount("weather", mounted).as_deref(), Some(uri), "{uri}");
        }
        // Nested mounts nest, and unwind one level at a time.
        let inner = mount("inner", "data://rows/{id}").unwrap();
        let outer = mount("outer", &inner).unwrap();
        assert_eq!(outer, "data://outer/inner/rows/{id}");
        assert_eq!(unmount("outer", &outer).as_deref(), Some(inner.as_str()));
    }

    #[test]
    fn only_uris_with_a_literal_scheme_mount_and_only_mounted_ones_unmount() {
        for uri in [
            "urn:isbn:123",
            "{scheme}://x",
            "://x",
            "1abc://x",
            "no scheme",
            "",
        ] {
            let error = mount("weather", uri).unwrap_err();
            assert!(error.contains("no `scheme://`"), "{uri}: {error}");
        }
        assert_eq!(unmount("weather", "weather://other/readme"), None);
        assert_eq!(unmount("weather", "weather://weatherman/readme"), None);
        assert_eq!(unmount("weather", "weather://weather"), None);
        assert_eq!(unmount("weather", "urn:weather/x"), None);
    }
}
