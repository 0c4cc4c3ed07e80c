//! Static API keys for service-to-service callers: kept as SHA-256 hashes (never the keys),
//! compared in constant time, each mapped to a principal.

use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use crate::identity::{AuthMethod, Principal};

/// One API key: `[[auth.api_keys]]` in configuration, or built in code.
///
/// ```
/// use platform_runtime::auth::ApiKey;
///
/// // The hash of the key, as `platform-runtime`'s `ApiKey::hash` (or `sha256sum`) prints it.
/// let key = ApiKey::new("deployer", ApiKey::hash("k3y-for-the-deployer"))
///     .roles(["deploy"])
///     .tenant("acme");
/// # let _ = key;
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub(crate) id: String,
    pub(crate) sha256: String,
    pub(crate) roles: Vec<String>,
    pub(crate) scopes: Vec<String>,
    pub(crate) tenant: Option<String>,
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKey")
            .field("id", &self.id)
            .field("roles", &self.roles)
            .field("scopes", &self.scopes)
            .field("tenant", &self.tenant)
            .finish_non_exhaustive()
    }
}

impl ApiKey {
    /// A key known by its id (the principal's id) and the hex SHA-256 of the key itself.
    pub fn new(id: impl Into<String>, sha256_hex: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            sha256: sha256_hex.into(),
            roles: Vec::new(),
            scopes: Vec::new(),
            tenant: None,
        }
    }

    /// The hex SHA-256 of a key, as configuration stores it.
    pub fn hash(key: &str) -> String {
        Sha256::digest(key.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The principal's roles.
    #[must_use]
    pub fn roles<I: IntoIterator<Item = S>, S: Into<String>>(mut self, roles: I) -> Self {
        self.roles = roles.into_iter().map(Into::into).collect();
        self
    }

    /// The principal's scopes.
    #[must_use]
    pub fn scopes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scopes: I) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// The principal's tenant.
    #[must_use]
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }
}

/// The configured keys, ready to check.
pub(crate) struct ApiKeys {
    /// Each key's hash and the principal it stands for, made once.
    keys: Vec<([u8; 32], Principal)>,
}

impl ApiKeys {
    pub(crate) fn new(keys: Vec<ApiKey>) -> Result<Self, String> {
        let mut checked = Vec::with_capacity(keys.len());
        for key in keys {
            if key.id.is_empty() {
                return Err("an API key has an empty `id`".into());
            }
            let digest = parse_hex(&key.sha256).ok_or_else(|| {
                format!(
                    "API key `{}`: `sha256` must be 64 hex digits (the SHA-256 of the key, as `sha256sum` prints it), not the key itself",
                    key.id
                )
            })?;
            if checked.iter().any(|(d, _)| *d == digest) {
                return Err(format!(
                    "API key `{}` has the same hash as another key",
                    key.id
                ));
            }
            let mut principal = Principal::new(key.id.clone())
                .with_roles(key.roles.iter().cloned())
                .with_scopes(key.scopes.iter().cloned())
                .with_method(AuthMethod::ApiKey);
            if let Some(tenant) = &key.tenant {
                principal = principal.with_tenant(tenant.clone());
            }
            checked.push((digest, principal));
        }
        Ok(Self { keys: checked })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The principal of a presented key. Every configured hash is compared, in constant
    /// time, whether or not an earlier one matched.
    pub(crate) fn check(&self, presented: &str) -> Option<Principal> {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut found = None;
        for (hash, principal) in &self.keys {
            if bool::from(hash.ct_eq(&digest)) {
                found = Some(principal);
            }
        }
        found.cloned()
    }
}

fn parse_hex(text: &str) -> Option<[u8; 32]> {
    let text = text.strip_prefix("sha256:").unwrap_or(text);
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_matched_by_hash() {
        let keys = ApiKeys::new(vec![
            ApiKey::new("ci", ApiKey::hash("ci-key")).roles(["deploy"]),
            ApiKey::new("ops", format!("sha256:{}", ApiKey::hash("ops-key"))).tenant("acme"),
        ])
        .unwrap();
        let ci = keys.check("ci-key").unwrap();
        assert_eq!((ci.id(), ci.roles()), ("ci", &["deploy".to_owned()][..]));
        assert_eq!(ci.method(), &AuthMethod::ApiKey);
        assert_eq!(keys.check("ops-key").unwrap().tenant(), Some("acme"));
        assert!(keys.check("ci-key ").is_none());
        assert!(keys.check("").is_none());
    }

    #[test]
    fn a_key_written_in_the_clear_is_refused() {
        let error = ApiKeys::new(vec![ApiKey::new("ci", "hunter2")])
            .err()
            .unwrap();
        assert!(error.contains("not the key itself"), "{error}");
        assert!(!error.contains("hunter2"));
        let twice = ApiKeys::new(vec![
            ApiKey::new("a", ApiKey::hash("k")),
            ApiKey::new("b", ApiKey::hash("k")),
        ]);
        assert!(twice.is_err());
    }
}
