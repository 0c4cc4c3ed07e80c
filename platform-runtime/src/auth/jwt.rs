//! Bearer JWTs: which issuer signed a token, with which key and algorithm, for whom, and
//! when — and the principal its claims describe.

use std::time::Duration;

use base64::Engine as _;
use jsonwebtoken::{Algorithm, Validation};
use serde_json::{Map, Value};

use super::fetch::{Fetcher, checked_url};
use super::keys::{KeyError, KeySource, Keys, MAX_KID_BYTES};
use crate::identity::{AuthMethod, Principal, claim_at};

/// The asymmetric signature algorithms a JWT may be signed with. HMAC (`HS*`) is never
/// accepted: a resource server has no shared secret with an issuer, and accepting it is how
/// a public RSA key gets used as an HMAC secret. `none` is not an algorithm here at all.
const SIGNATURE_ALGORITHMS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// Where a principal's parts are read from in a token's claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimNames {
    /// The claim holding the stable id (default `sub`).
    pub subject: String,
    /// The claims holding roles, tried in order (default `roles`); dotted paths reach into
    /// objects (`realm_access.roles`). A list of strings, or one space-separated string.
    pub roles: Vec<String>,
    /// The claims holding scopes, tried in order (default `scope`, then `scp`).
    pub scopes: Vec<String>,
    /// The claim holding the tenant (default: none, so no tenant).
    pub tenant: Option<String>,
}

impl Default for ClaimNames {
    fn default() -> Self {
        Self {
            subject: "sub".into(),
            roles: vec!["roles".into()],
            scopes: vec!["scope".into(), "scp".into()],
            tenant: None,
        }
    }
}

impl ClaimNames {
    /// The principal a verified token's claims describe.
    pub(crate) fn principal(
        &self,
        claims: Map<String, Value>,
        method: AuthMethod,
    ) -> Option<Principal> {
        let id = claim_at(&claims, &self.subject)?.as_str()?.to_owned();
        if id.is_empty() {
            return None;
        }
        let roles = first_list(&claims, &self.roles);
        let scopes = first_list(&claims, &self.scopes);
        let mut principal = Principal::new(id)
            .with_roles(roles)
            .with_scopes(scopes)
            .with_method(method);
        if let Some(tenant) = self
            .tenant
            .as_deref()
            .and_then(|path| claim_at(&claims, path))
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
        {
            principal = principal.with_tenant(tenant);
        }
        Some(principal.with_claims(claims))
    }
}

/// The most roles or scopes read from one claim.
const MAX_LIST: usize = 256;

/// The strings of the first of `paths` present: a list of strings, or a space-separated
/// string (OAuth's `scope`).
fn first_list(claims: &Map<String, Value>, paths: &[String]) -> Vec<String> {
    for path in paths {
        match claim_at(claims, path) {
            Some(Value::Array(items)) => {
                return items
                    .iter()
                    .filter_map(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .take(MAX_LIST)
                    .map(str::to_owned)
                    .collect();
            }
            Some(Value::String(text)) => {
                return text
                    .split_ascii_whitespace()
                    .take(MAX_LIST)
                    .map(str::to_owned)
                    .collect();
            }
            _ => {}
        }
    }
    Vec::new()
}

/// One trusted issuer of JWTs: `[auth.jwt]` in configuration, or built in code.
///
/// ```
/// use platform_runtime::auth::JwtIssuer;
///
/// let issuer = JwtIssuer::new("https://idp.example.com/realms/acme")
///     .audience("https://mcp.example.com/mcp")
///     .roles_claim("realm_access.roles");
/// # let _ = issuer;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtIssuer {
    pub(crate) issuer: String,
    pub(crate) audiences: Vec<String>,
    pub(crate) algorithms: Vec<Algorithm>,
    pub(crate) jwks_uri: Option<String>,
    pub(crate) claims: ClaimNames,
    pub(crate) leeway: Duration,
    pub(crate) min_refresh: Duration,
    pub(crate) cache_ttl: Duration,
}

/// How long a verified token is remembered by default (never past its `exp`).
pub const DEFAULT_TOKEN_CACHE_TTL: Duration = Duration::from_secs(120);

/// The most verified tokens remembered per issuer.
const MAX_CACHED_TOKENS: usize = 10_000;

/// Clock skew allowed on `exp` and `nbf` by default.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);

impl JwtIssuer {
    /// Trust tokens whose `iss` is exactly `issuer`; its keys are found through its metadata
    /// (`/.well-known/openid-configuration`, or RFC 8414's) unless [`JwtIssuer::jwks_uri`]
    /// says where they are. The audience defaults to the server's resource URI.
    pub fn new(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audiences: Vec::new(),
            algorithms: vec![Algorithm::RS256],
            jwks_uri: None,
            claims: ClaimNames::default(),
            leeway: DEFAULT_LEEWAY,
            min_refresh: super::keys::MIN_REFRESH,
            cache_ttl: DEFAULT_TOKEN_CACHE_TTL,
        }
    }

    /// Remember a verified token (by its SHA-256, never the token) this long, and never past
    /// its `exp`, so a client repeating its token pays for one signature check, not one per
    /// request (default 2 minutes, at most 5; zero: verify every time). A key the issuer
    /// withdraws stops verifying new tokens at once and cached ones within this time.
    #[must_use]
    pub fn cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache_ttl = ttl;
        self
    }

    /// Refetch the keys for an unknown key id at most this often (default 30 s, at least
    /// 100 ms): a flood of tokens naming made-up key ids costs one fetch per interval.
    #[must_use]
    pub fn min_refresh(mut self, interval: Duration) -> Self {
        self.min_refresh = interval.max(Duration::from_millis(100));
        self
    }

    /// Accept tokens whose `aud` includes `audience` (may be given more than once; default:
    /// the server's canonical resource URI).
    #[must_use]
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// The signature algorithms accepted (default RS256). Only asymmetric ones are valid.
    #[must_use]
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algorithms.into_iter().collect();
        self
    }

    /// Fetch the keys from this JWKS URL instead of discovering it.
    #[must_use]
    pub fn jwks_uri(mut self, url: impl Into<String>) -> Self {
        self.jwks_uri = Some(url.into());
        self
    }

    /// Read roles from this claim (a dotted path; replaces the default `roles`).
    #[must_use]
    pub fn roles_claim(mut self, path: impl Into<String>) -> Self {
        self.claims.roles = vec![path.into()];
        self
    }

    /// Read scopes from this claim (replaces the default `scope`, then `scp`).
    #[must_use]
    pub fn scopes_claim(mut self, path: impl Into<String>) -> Self {
        self.claims.scopes = vec![path.into()];
        self
    }

    /// Read the tenant from this claim (`tid`, `org_id`, …).
    #[must_use]
    pub fn tenant_claim(mut self, path: impl Into<String>) -> Self {
        self.claims.tenant = Some(path.into());
        self
    }

    /// Read the stable id from this claim instead of `sub`.
    #[must_use]
    pub fn subject_claim(mut self, path: impl Into<String>) -> Self {
        self.claims.subject = path.into();
        self
    }

    /// Allow this much clock skew on `exp` and `nbf` (default 30 s; at most 5 minutes).
    #[must_use]
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The issuer.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Check the settings, with `resource` as the audience when none is given.
    pub(crate) fn verifier(
        mut self,
        resource: Option<&str>,
        fetcher: &Fetcher,
    ) -> Result<JwtVerifier, String> {
        let issuer = self.issuer.clone();
        checked_url(&issuer, "the JWT issuer")?;
        if self.audiences.is_empty() {
            match resource {
                Some(resource) => self.audiences.push(resource.to_owned()),
                None => {
                    return Err(format!(
                        "issuer `{issuer}` has no audience: set `auth.jwt.audience` (or `auth.resource`) to this server's URL, such as `https://mcp.example.com/mcp`, so tokens minted for other services are refused"
                    ));
                }
            }
        }
        if self.audiences.iter().any(String::is_empty) {
            return Err(format!("issuer `{issuer}` has an empty audience"));
        }
        if self.algorithms.is_empty() {
            return Err(format!("issuer `{issuer}` accepts no algorithm"));
        }
        if let Some(bad) = self
            .algorithms
            .iter()
            .find(|a| !SIGNATURE_ALGORITHMS.contains(a))
        {
            return Err(format!(
                "issuer `{issuer}`: algorithm {bad:?} is not accepted: only asymmetric signatures (RS*, PS*, ES256, ES384, EdDSA) are, never HMAC"
            ));
        }
        if self.cache_ttl > Duration::from_secs(300) {
            return Err(format!(
                "issuer `{issuer}`: a token cache of {} is too long (at most 5m)",
                platform_duration::format(self.cache_ttl)
            ));
        }
        if self.leeway > Duration::from_secs(300) {
            return Err(format!(
                "issuer `{issuer}`: a leeway of {} is too long (at most 5m)",
                platform_duration::format(self.leeway)
            ));
        }
        let source = match &self.jwks_uri {
            Some(url) => KeySource::Jwks(checked_url(url, "the JWKS URL")?),
            None => KeySource::Discover {
                issuer: issuer.clone(),
            },
        };
        let keys = Keys::new(source, fetcher.clone(), self.min_refresh);
        let verified = (!self.cache_ttl.is_zero())
            .then(|| super::verified::VerifiedTokens::new(MAX_CACHED_TOKENS, self.cache_ttl));
        Ok(JwtVerifier {
            config: self,
            keys,
            verified,
        })
    }
}

/// An issuer, ready to verify its tokens.
pub(crate) struct JwtVerifier {
    pub(crate) config: JwtIssuer,
    keys: Keys,
    /// Verified tokens by SHA-256, with their `exp`.
    verified: Option<super::verified::VerifiedTokens>,
}

/// Why a token was refused. The text is safe to show the caller and to log: it never
/// carries token material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenError {
    /// The token is not valid for this server.
    Invalid(String),
    /// The issuer's keys could not be fetched: the server cannot tell.
    Unavailable(String),
}

impl JwtVerifier {
    /// Verify a token's signature, issuer, audience and times; the principal it names. A
    /// token verified before (the same bytes, signature included) is answered from the
    /// cache while its `exp` has not passed.
    pub(crate) async fn verify(&self, token: &str) -> Result<Principal, TokenError> {
        let Some(cache) = &self.verified else {
            return self.verify_uncached(token).await;
        };
        use sha2::Digest as _;
        let digest: [u8; 32] = sha2::Sha256::digest(token.as_bytes()).into();
        let now = jsonwebtoken::get_current_timestamp();
        if let Some(principal) = cache.get(&digest, now, self.config.leeway.as_secs()) {
            return Ok(principal);
        }
        let principal = self.verify_uncached(token).await?;
        // `exp` is a required claim: every verified token has one.
        if let Some(exp) = principal.claims().get("exp").and_then(Value::as_u64) {
            cache.insert(digest, principal.clone(), exp);
        }
        Ok(principal)
    }

    async fn verify_uncached(&self, token: &str) -> Result<Principal, TokenError> {
        let invalid = |why: &str| TokenError::Invalid(why.to_owned());
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| invalid("the token is not a well-formed JWT"))?;
        if !self.config.algorithms.contains(&header.alg) {
            return Err(TokenError::Invalid(format!(
                "the token's algorithm {:?} is not accepted",
                header.alg
            )));
        }
        if header.kid.as_ref().is_some_and(|k| k.len() > MAX_KID_BYTES) {
            return Err(invalid("the token's key id is too long"));
        }
        let candidates = match self.keys.find(header.kid.as_deref()).await {
            Ok(keys) => keys,
            Err(KeyError::Unknown) => {
                return Err(invalid(
                    "the token is signed with a key the issuer does not publish",
                ));
            }
            Err(KeyError::Unavailable(why)) => return Err(TokenError::Unavailable(why)),
        };
        let mut validation = Validation::new(header.alg);
        validation.algorithms = vec![header.alg];
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_audience(&self.config.audiences);
        validation.leeway = self.config.leeway.as_secs();
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let mut last = invalid("the token's signature does not verify");
        for key in candidates {
            if key.alg.is_some_and(|alg| alg != header.alg)
                || key.key.family() != header.alg.family()
            {
                continue;
            }
            match jsonwebtoken::decode::<Map<String, Value>>(token, &key.key, &validation) {
                Ok(data) => {
                    let method = AuthMethod::Jwt {
                        issuer: self.config.issuer.clone(),
                    };
                    return self
                        .config
                        .claims
                        .principal(data.claims, method)
                        .ok_or_else(|| {
                            TokenError::Invalid(format!(
                                "the token has no `{}` claim naming the caller",
                                self.config.claims.subject
                            ))
                        });
                }
                Err(error) => {
                    use jsonwebtoken::errors::ErrorKind;
                    last = invalid(match error.kind() {
                        ErrorKind::ExpiredSignature => "the token has expired",
                        ErrorKind::ImmatureSignature => "the token is not valid yet",
                        ErrorKind::InvalidIssuer => "the token is from another issuer",
                        ErrorKind::InvalidAudience => {
                            "the token was issued for another resource (its audience is not this server)"
                        }
                        ErrorKind::MissingRequiredClaim(_) => {
                            "the token lacks a required claim (exp, iss or aud)"
                        }
                        ErrorKind::InvalidSignature => "the token's signature does not verify",
                        _ => "the token is not valid",
                    });
                    if !matches!(error.kind(), ErrorKind::InvalidSignature) {
                        // Signature verified (claims are checked after it): other keys
                        // would not change the answer.
                        break;
                    }
                }
            }
        }
        Err(last)
    }
}

/// The unverified `iss` of a compact JWT, to pick the issuer that must verify it; `None` if
/// the token is not a JWT or names none.
pub(crate) fn unverified_issuer(token: &str) -> Option<String> {
    let mut parts = token.split('.');
    let (_, payload, _) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    #[derive(serde::Deserialize)]
    struct Iss {
        iss: Option<String>,
    }
    serde_json::from_slice::<Iss>(&bytes).ok()?.iss
}

/// Whether a bearer token has the shape of a compact JWS: three dot-separated parts, the
/// first two not empty. (Their alphabet is checked when the token is decoded; a token
/// answered from the verified-token cache matched a verified one byte for byte.)
pub(crate) fn looks_like_jwt(token: &str) -> bool {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    !header.is_empty() && !payload.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_map_to_a_principal() {
        let claims = serde_json::json!({
            "sub": "u1",
            "realm_access": { "roles": ["ops", "admin"] },
            "scp": "files:read files:write",
            "tid": "acme",
        });
        let Value::Object(claims) = claims else {
            unreachable!()
        };
        let names = ClaimNames {
            roles: vec!["realm_access.roles".into()],
            tenant: Some("tid".into()),
            ..ClaimNames::default()
        };
        let principal = names.principal(claims, AuthMethod::ApiKey).unwrap();
        assert_eq!(principal.id(), "u1");
        assert_eq!(principal.roles(), ["ops", "admin"]);
        assert_eq!(principal.scopes(), ["files:read", "files:write"]);
        assert_eq!(principal.tenant(), Some("acme"));
        assert_eq!(principal.claim("realm_access.roles").unwrap()[0], "ops");
    }

    #[test]
    fn a_token_without_a_subject_names_nobody() {
        let Value::Object(claims) = serde_json::json!({ "roles": ["x"] }) else {
            unreachable!()
        };
        assert!(
            ClaimNames::default()
                .principal(claims, AuthMethod::ApiKey)
                .is_none()
        );
    }

    #[test]
    fn hmac_and_missing_audiences_are_refused_at_configuration() {
        let fetcher = Fetcher::new().unwrap();
        let hmac = JwtIssuer::new("https://idp.example.com")
            .audience("https://mcp.example.com/mcp")
            .algorithms([Algorithm::HS256]);
        let error = hmac.verifier(None, &fetcher).err().unwrap();
        assert!(error.contains("never HMAC"), "{error}");
        let error = JwtIssuer::new("https://idp.example.com")
            .verifier(None, &fetcher)
            .err()
            .unwrap();
        assert!(error.contains("has no audience"), "{error}");
        let plain = JwtIssuer::new("http://idp.example.com")
            .verifier(Some("https://mcp.example.com/mcp"), &fetcher)
            .err()
            .unwrap();
        assert!(plain.contains("must use https"), "{plain}");
    }

    #[test]
    fn the_issuer_is_read_before_verification_only_to_choose_a_verifier() {
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"iss":"https://a.example"}"#);
        assert_eq!(
            unverified_issuer(&format!("e30.{payload}.sig")).as_deref(),
            Some("https://a.example")
        );
        assert_eq!(unverified_issuer("a.b"), None);
        assert!(looks_like_jwt(&format!("e30.{payload}.sig")));
        assert!(!looks_like_jwt("an-api-key"));
        assert!(!looks_like_jwt("a.b.c.d"));
        assert!(!looks_like_jwt(".b.c"));
    }
}
