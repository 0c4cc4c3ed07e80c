//! An issuer's signing keys: found through its metadata (OpenID Connect discovery or RFC
//! 8414), fetched from its JWKS, cached, and refreshed when they age or a token names a key
//! id not seen yet — at most once per [`MIN_REFRESH`] (by default), so a flood of tokens with made-up key
//! ids costs one fetch, not one each.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{Jwk, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use url::Url;

use super::fetch::{FetchError, Fetcher, checked_url};

/// The least time between two fetches of one key set, by default.
pub const MIN_REFRESH: Duration = Duration::from_secs(30);

/// After this long, the keys are fetched again on next use (the old ones are served if the
/// fetch fails).
pub(crate) const MAX_AGE: Duration = Duration::from_secs(600);

/// The longest one refresh may take, discovery and key set together; requests waiting for
/// it wait no longer.
pub(crate) const REFRESH_BUDGET: Duration = Duration::from_secs(8);

/// The most keys kept from one key set.
const MAX_KEYS: usize = 64;

/// A key id at most this long; longer ones are never looked up.
pub(crate) const MAX_KID_BYTES: usize = 256;

/// One usable verification key.
#[derive(Clone)]
pub(crate) struct Key {
    pub(crate) key: DecodingKey,
    /// The algorithm the key is pinned to by its `alg`, if it names one.
    pub(crate) alg: Option<Algorithm>,
}

/// The keys, by id (keys without an id under the empty string).
#[derive(Default)]
struct KeySet {
    keys: HashMap<String, Vec<Key>>,
    fetched: Option<Instant>,
}

/// Where the keys come from.
#[derive(Debug, Clone)]
pub(crate) enum KeySource {
    /// A JWKS URL given in the configuration.
    Jwks(Url),
    /// Found from the issuer's metadata on first use.
    Discover { issuer: String },
}

/// An issuer's keys, cached.
pub(crate) struct Keys {
    source: KeySource,
    min_refresh: Duration,
    fetcher: Fetcher,
    set: RwLock<Arc<KeySet>>,
    /// The JWKS URL once known, and when a fetch was last tried (held across the fetch, so
    /// concurrent misses wait for one fetch instead of each making their own).
    refresh: tokio::sync::Mutex<Refresh>,
}

#[derive(Default)]
struct Refresh {
    jwks: Option<Url>,
    tried: Option<Instant>,
    last_error: Option<String>,
}

/// Why a key could not be found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeyError {
    /// The issuer has no such key (after a refresh, if one was allowed).
    Unknown,
    /// The issuer's keys could not be fetched at all.
    Unavailable(String),
}

impl Keys {
    pub(crate) fn new(source: KeySource, fetcher: Fetcher, min_refresh: Duration) -> Self {
        let jwks = match &source {
            KeySource::Jwks(url) => Some(url.clone()),
            KeySource::Discover { .. } => None,
        };
        Self {
            source,
            min_refresh,
            fetcher,
            set: RwLock::default(),
            refresh: tokio::sync::Mutex::new(Refresh {
                jwks,
                ..Refresh::default()
            }),
        }
    }

    /// The candidate keys for a token's `kid` (none given: every key without an id, or the
    /// only key when there is just one).
    pub(crate) async fn find(&self, kid: Option<&str>) -> Result<Vec<Key>, KeyError> {
        let (found, stale) = self.lookup(kid);
        if let Some(found) = found
            && !stale
        {
            return Ok(found);
        }
        // Unknown key id, or keys too old: refresh, at most once per `min_refresh`.
        let mut refresh = self.refresh.lock().await;
        let (found_now, stale_now) = self.lookup(kid);
        if let Some(found) = &found_now
            && !stale_now
        {
            return Ok(found.clone());
        }
        let may_fetch = refresh
            .tried
            .is_none_or(|t| t.elapsed() >= self.min_refresh);
        if may_fetch {
            refresh.tried = Some(Instant::now());
            let fetched = tokio::time::timeout(REFRESH_BUDGET, self.fetch(&mut refresh))
                .await
                .unwrap_or_else(|_| {
                    Err(FetchError(format!(
                        "the issuer's metadata and keys did not arrive within {}",
                        platform_duration::format(REFRESH_BUDGET)
                    )))
                });
            match fetched {
                Ok(set) => {
                    refresh.last_error = None;
                    *self.set.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(set);
                }
                Err(error) => {
                    tracing::warn!(error = %error.0, "the issuer's signing keys could not be fetched");
                    refresh.last_error = Some(error.0);
                }
            }
        }
        match self.lookup(kid) {
            (Some(found), _) => Ok(found),
            (None, _) => {
                let fetched = self
                    .set
                    .read()
                    .unwrap_or_else(|e| e.into_inner())
                    .fetched
                    .is_some();
                match &refresh.last_error {
                    Some(error) if !fetched => Err(KeyError::Unavailable(error.clone())),
                    _ => Err(KeyError::Unknown),
                }
            }
        }
    }

    /// The keys for `kid` in the cache, and whether the cache is due for a refresh.
    fn lookup(&self, kid: Option<&str>) -> (Option<Vec<Key>>, bool) {
        let set = self.set.read().unwrap_or_else(|e| e.into_inner()).clone();
        let stale = set.fetched.is_none_or(|t| t.elapsed() >= MAX_AGE);
        let found = match kid {
            Some(kid) => set.keys.get(kid).cloned(),
            None => match set.keys.get("") {
                Some(keys) => Some(keys.clone()),
                None if set.keys.len() == 1 => set.keys.values().next().cloned(),
                None => None,
            },
        };
        (found.filter(|k| !k.is_empty()), stale)
    }

    async fn fetch(&self, refresh: &mut Refresh) -> Result<KeySet, FetchError> {
        let jwks = match &refresh.jwks {
            Some(url) => url.clone(),
            None => {
                let KeySource::Discover { issuer } = &self.source else {
                    return Err(FetchError("no key set URL".into()));
                };
                let url = discover_jwks(&self.fetcher, issuer).await?;
                refresh.jwks = Some(url.clone());
                url
            }
        };
        let document = self.fetcher.get_json(&jwks).await?;
        let set: JwkSet = serde_json::from_value(document)
            .map_err(|e| FetchError(format!("{jwks} is not a JSON Web Key Set: {e}")))?;
        let mut keys: HashMap<String, Vec<Key>> = HashMap::new();
        let mut count = 0;
        for jwk in &set.keys {
            if count == MAX_KEYS {
                tracing::warn!(%jwks, max = MAX_KEYS, "key set truncated: it holds more keys than are kept");
                break;
            }
            let Some(key) = usable(jwk) else { continue };
            let kid = jwk.common.key_id.clone().unwrap_or_default();
            if kid.len() > MAX_KID_BYTES {
                continue;
            }
            keys.entry(kid).or_default().push(key);
            count += 1;
        }
        tracing::debug!(%jwks, keys = count, "fetched the issuer's signing keys");
        Ok(KeySet {
            keys,
            fetched: Some(Instant::now()),
        })
    }
}

/// A JWK as a verification key: public signature keys only (never a symmetric `oct` key,
/// so no HMAC secret can be taken from a public key set), of a supported algorithm.
fn usable(jwk: &Jwk) -> Option<Key> {
    use jsonwebtoken::jwk::AlgorithmParameters;
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return None;
    }
    if matches!(jwk.algorithm, AlgorithmParameters::OctetKey(_)) {
        return None;
    }
    let alg = match jwk.common.key_algorithm {
        Some(alg) => Some(signature_algorithm(alg)?),
        None => None,
    };
    let key = DecodingKey::from_jwk(jwk).ok()?;
    Some(Key { key, alg })
}

/// The signature algorithm a JWK's `alg` names; `None` for HMAC and encryption algorithms.
fn signature_algorithm(alg: KeyAlgorithm) -> Option<Algorithm> {
    Some(match alg {
        KeyAlgorithm::RS256 => Algorithm::RS256,
        KeyAlgorithm::RS384 => Algorithm::RS384,
        KeyAlgorithm::RS512 => Algorithm::RS512,
        KeyAlgorithm::PS256 => Algorithm::PS256,
        KeyAlgorithm::PS384 => Algorithm::PS384,
        KeyAlgorithm::PS512 => Algorithm::PS512,
        KeyAlgorithm::ES256 => Algorithm::ES256,
        KeyAlgorithm::ES384 => Algorithm::ES384,
        KeyAlgorithm::EdDSA => Algorithm::EdDSA,
        _ => return None,
    })
}

/// The issuer's `jwks_uri`, from its OpenID Connect discovery document or, failing that, its
/// RFC 8414 authorization server metadata. The document must name the same issuer.
pub(crate) async fn discover_jwks(fetcher: &Fetcher, issuer: &str) -> Result<Url, FetchError> {
    let mut tried = Vec::new();
    for url in metadata_urls(issuer).map_err(FetchError)? {
        match fetcher.get_json(&url).await {
            Ok(document) => {
                let named = document.get("issuer").and_then(|v| v.as_str());
                if named != Some(issuer) {
                    return Err(FetchError(format!(
                        "{url} names issuer {}, not `{issuer}`",
                        named.map_or("none".to_owned(), |n| format!("`{n}`"))
                    )));
                }
                let jwks = document
                    .get("jwks_uri")
                    .and_then(|v| v.as_str())
                    .ok_or_else(|| FetchError(format!("{url} has no `jwks_uri`")))?;
                return checked_url(jwks, "the issuer's `jwks_uri`").map_err(FetchError);
            }
            Err(error) => tried.push(error.0),
        }
    }
    Err(FetchError(format!(
        "no metadata found for issuer `{issuer}`: {}",
        tried.join("; ")
    )))
}

/// Where an issuer publishes its metadata: OpenID Connect's
/// `{issuer}/.well-known/openid-configuration`, then RFC 8414's
/// `/.well-known/oauth-authorization-server{path}` (and the OIDC form with the path after).
pub(crate) fn metadata_urls(issuer: &str) -> Result<Vec<Url>, String> {
    let base = checked_url(issuer, "the issuer")?;
    let path = base.path().trim_end_matches('/');
    let origin = base.origin().ascii_serialization();
    let mut urls = vec![format!("{origin}{path}/.well-known/openid-configuration")];
    urls.push(format!(
        "{origin}/.well-known/oauth-authorization-server{path}"
    ));
    if !path.is_empty() {
        urls.push(format!("{origin}/.well-known/openid-configuration{path}"));
    }
    urls.iter()
        .map(|u| Url::parse(u).map_err(|e| format!("issuer metadata URL `{u}`: {e}")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_is_looked_for_where_both_specifications_put_it() {
        let urls: Vec<String> = metadata_urls("https://idp.example.com/realms/acme")
            .unwrap()
            .iter()
            .map(Url::to_string)
            .collect();
        assert_eq!(
            urls,
            [
                "https://idp.example.com/realms/acme/.well-known/openid-configuration",
                "https://idp.example.com/.well-known/oauth-authorization-server/realms/acme",
                "https://idp.example.com/.well-known/openid-configuration/realms/acme",
            ]
        );
        let root: Vec<String> = metadata_urls("https://tenant.auth0.com/")
            .unwrap()
            .iter()
            .map(Url::to_string)
            .collect();
        assert_eq!(
            root,
            [
                "https://tenant.auth0.com/.well-known/openid-configuration",
                "https://tenant.auth0.com/.well-known/oauth-authorization-server",
            ]
        );
    }

    #[test]
    fn symmetric_and_encryption_keys_are_never_used() {
        let oct: Jwk = serde_json::from_value(serde_json::json!({
            "kty": "oct", "kid": "h", "alg": "HS256", "k": "c2VjcmV0"
        }))
        .unwrap();
        assert!(usable(&oct).is_none());
        let hs_labelled_rsa: Jwk = serde_json::from_value(serde_json::json!({
            "kty": "RSA", "kid": "r", "alg": "HS256", "n": "AQAB", "e": "AQAB"
        }))
        .unwrap();
        assert!(usable(&hs_labelled_rsa).is_none());
    }
}
