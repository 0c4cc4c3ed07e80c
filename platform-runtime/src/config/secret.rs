//! [`Secret`]: a configuration value that is never parsed from a file in the clear, printed or
//! logged; and the names that mark a key as secret.

use secrecy::{ExposeSecret as _, SecretString};

/// Names that hold secrets (matched case-insensitively, anywhere in the name, with `-` read
/// as `_`: `x-api-key`, `X-Access-Key` and `accessKey` all match). Logged payloads redact
/// their values, and configuration errors never show them.
const SECRET_NAMES: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "authorization",
    "bearer",
    "api_key",
    "apikey",
    "access_key",
    "accesskey",
    "cookie",
    "credential",
    "private_key",
    "privatekey",
    "session",
    "signature",
];

/// Whether `name` (a JSON key, a header name) names a secret.
pub(crate) fn secret_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase().replace('-', "_");
    SECRET_NAMES.iter().any(|s| lower.contains(s))
}

/// Whether a configuration key holds a secret: one named `key` (`sealing.key`) or `url`
/// (which may carry a password), or one naming a password, secret, token or credential.
pub(crate) fn secret_config_key(name: &str) -> bool {
    let lower = name.to_ascii_lowercase().replace('-', "_");
    lower == "key"
        || lower == "url"
        || [
            "password",
            "passwd",
            "secret",
            "token",
            "api_key",
            "apikey",
            "credential",
            "private_key",
        ]
        .iter()
        .any(|s| lower.contains(s))
}
use serde::{Deserialize, Serialize};

/// A secret string (a password, a token, a URL with credentials): its `Debug`, `Display`
/// and serialized forms are `[redacted]`; read it with [`Secret::expose`].
#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    /// Wrap a value.
    pub fn new(value: String) -> Self {
        Self(SecretString::from(value))
    }

    /// The value. Keep it out of logs and error messages.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("[redacted]")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret::new)
    }
}
