//! Canonical JSON digests: the same arguments give the same SHA-256 whatever the order of
//! their keys. Cache keys, rate-limit partitions and sealed request state use them, so none
//! of them holds or compares a client's whole document.

use serde_json::Value;

/// Feed JSON into `sink` with object keys sorted, so equal arguments give equal bytes
/// whatever their order.
pub(crate) fn canonical(value: &Value, sink: &mut impl FnMut(&[u8])) {
    match value {
        Value::Object(map) => canonical_object(map, sink),
        Value::Array(items) => {
            sink(b"[");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    sink(b",");
                }
                canonical(item, sink);
            }
            sink(b"]");
        }
        Value::String(text) => canonical_string(text, sink),
        other => sink(other.to_string().as_bytes()),
    }
}

/// A JSON object with its keys sorted.
pub(crate) fn canonical_object(map: &serde_json::Map<String, Value>, sink: &mut impl FnMut(&[u8])) {
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort_unstable();
    sink(b"{");
    for (i, key) in keys.into_iter().enumerate() {
        if i > 0 {
            sink(b",");
        }
        canonical_string(key, sink);
        sink(b":");
        canonical(&map[key], sink);
    }
    sink(b"}");
}

/// A JSON string, escaped as serde_json escapes it.
fn canonical_string(text: &str, sink: &mut impl FnMut(&[u8])) {
    struct Sink<'a, F>(&'a mut F);
    impl<F: FnMut(&[u8])> std::io::Write for Sink<'_, F> {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            (self.0)(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let _ = serde_json::to_writer(Sink(sink), text);
}

/// A SHA-256 digest of `parts` (each length-prefixed) and then `object` in canonical form
/// (`null` when absent).
pub(crate) fn digest(parts: &[&[u8]], object: Option<&serde_json::Map<String, Value>>) -> [u8; 32] {
    use sha2::Digest as _;
    let mut hasher = sha2::Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    match object {
        Some(object) => canonical_object(object, &mut |bytes| hasher.update(bytes)),
        None => hasher.update(b"null"),
    }
    hasher.finalize().into()
}

/// Lower-case hexadecimal.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_json_sorts_keys_recursively() {
        let a = serde_json::json!({ "b": 1, "a": { "d": [1, { "z": 0, "y": 1 }], "c": "x" } });
        let b = serde_json::json!({ "a": { "c": "x", "d": [1, { "y": 1, "z": 0 }] }, "b": 1 });
        let (mut ka, mut kb) = (Vec::new(), Vec::new());
        canonical(&a, &mut |bytes| ka.extend_from_slice(bytes));
        canonical(&b, &mut |bytes| kb.extend_from_slice(bytes));
        assert_eq!(ka, kb);
        assert_eq!(
            String::from_utf8(ka).unwrap(),
            r#"{"a":{"c":"x","d":[1,{"y":1,"z":0}]},"b":1}"#
        );
        let (a, b) = (a.as_object().unwrap(), b.as_object().unwrap());
        assert_eq!(digest(&[b"s"], Some(a)), digest(&[b"s"], Some(b)));
        assert_ne!(digest(&[b"s"], Some(a)), digest(&[b"t"], Some(a)));
        // Length prefixes keep part boundaries apart.
        assert_ne!(digest(&[b"ab", b"c"], None), digest(&[b"a", b"bc"], None));
    }
}
