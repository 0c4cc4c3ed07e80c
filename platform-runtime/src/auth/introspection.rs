//! Opaque bearer tokens: checked by the issuer's RFC 7662 introspection endpoint, or (for
//! GitHub) by asking the provider's user API who the token belongs to. Answers are cached by
//! the token's hash — never the token — for a bounded time, and never past the token's `exp`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest as _, Sha256};
use url::Url;

use super::fetch::{Fetcher, checked_url};
use super::jwt::{ClaimNames, TokenError};
use crate::config::Secret;
use crate::identity::{AuthMethod, Principal};

/// Introspection's cache, at most this many tokens.
const MAX_CACHED: u64 = 10_000;

/// The longest time an answer is cached.
pub const MAX_CACHE_TTL: Duration = Duration::from_secs(300);

/// How opaque tokens are checked: `[auth.introspection]`.
#[derive(Clone)]
pub struct Introspection {
    pub(crate) endpoint: String,
    pub(crate) client_id: Option<String>,
    pub(crate) client_secret: Option<Secret>,
    pub(crate) issuer: Option<String>,
    pub(crate) cache_ttl: Duration,
    pub(crate) claims: ClaimNames,
    pub(crate) kind: IntrospectionKind,
}

impl std::fmt::Debug for Introspection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Introspection")
            .field("endpoint", &self.endpoint)
            .field("client_id", &self.client_id)
            .field("issuer", &self.issuer)
            .field("cache_ttl", &self.cache_ttl)
            .finish_non_exhaustive()
    }
}

/// Which protocol the endpoint speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IntrospectionKind {
    /// RFC 7662.
    Rfc7662,
    /// GitHub's `GET /user` with the token: 200 names the user, 401 means invalid.
    GitHubUser,
}

impl Introspection {
    /// RFC 7662 introspection at `endpoint`, authenticating as `client_id` with
    /// `client_secret` (HTTP basic).
    pub fn new(endpoint: impl Into<String>) -> Self {
        Self {
            endpoint: endpoint.into(),
            client_id: None,
            client_secret: None,
            issuer: None,
            cache_ttl: Duration::from_secs(60),
            claims: ClaimNames::default(),
            kind: IntrospectionKind::Rfc7662,
        }
    }

    /// GitHub: opaque tokens are checked with `GET {api}/user` (default
    /// `https://api.github.com`); the principal is the user's numeric id, with `login` among
    /// its claims. GitHub tokens name no audience: use it only for servers meant for GitHub
    /// users at large.
    pub fn github(api: Option<&str>) -> Self {
        let api = api
            .unwrap_or("https://api.github.com")
            .trim_end_matches('/');
        Self {
            endpoint: format!("{api}/user"),
            issuer: Some("https://github.com".into()),
            claims: ClaimNames {
                subject: "id".into(),
                roles: Vec::new(),
                scopes: Vec::new(),
                tenant: None,
            },
            kind: IntrospectionKind::GitHubUser,
            ..Self::new("")
        }
    }

    /// Authenticate to the endpoint as this client.
    #[must_use]
    pub fn client(mut self, id: impl Into<String>, secret: Secret) -> Self {
        self.client_id = Some(id.into());
        self.client_secret = Some(secret);
        self
    }

    /// Cache answers this long (default 60 s, at most 5 minutes).
    #[must_use]
    pub fn cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache_ttl = ttl;
        self
    }

    /// Where roles, scopes and the tenant are in the introspection response.
    #[must_use]
    pub fn claims(mut self, claims: ClaimNames) -> Self {
        self.claims = claims;
        self
    }

    pub(crate) fn checker(
        self,
        audiences: Vec<String>,
        fetcher: &Fetcher,
    ) -> Result<Introspector, String> {
        let url = checked_url(&self.endpoint, "the introspection endpoint")?;
        if self.cache_ttl > MAX_CACHE_TTL {
            return Err(format!(
                "`auth.introspection.cache_ttl` of {} is too long (at most 5m): a revoked token would stay usable",
                platform_duration::format(self.cache_ttl)
            ));
        }
        if self.kind == IntrospectionKind::Rfc7662 && self.client_id.is_none() {
            return Err("`auth.introspection` needs `client_id` and `client_secret`: RFC 7662 endpoints authenticate their callers".into());
        }
        let cache = moka::sync::Cache::builder()
            .max_capacity(MAX_CACHED)
            .time_to_live(self.cache_ttl.max(Duration::from_millis(1)))
            .build();
        Ok(Introspector {
            url,
            config: self,
            audiences,
            fetcher: fetcher.clone(),
            cache,
        })
    }
}

/// Checks opaque tokens.
pub(crate) struct Introspector {
    url: Url,
    config: Introspection,
    audiences: Vec<String>,
    fetcher: Fetcher,
    cache: moka::sync::Cache<[u8; 32], Result<Principal, String>>,
}

impl Introspector {
    /// The authorization server vouching for the tokens, when known.
    pub(crate) fn issuer(&self) -> Option<String> {
        self.config.issuer.clone()
    }

    pub(crate) async fn check(&self, token: &str) -> Result<Principal, TokenError> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(answer) = self.cache.get(&digest) {
            return match answer {
                Ok(principal) if !expired(&principal) => Ok(principal),
                Ok(_) => Err(TokenError::Invalid("the token has expired".into())),
                Err(why) => Err(TokenError::Invalid(why)),
            };
        }
        let answer = match self.config.kind {
            IntrospectionKind::Rfc7662 => self.introspect(token).await?,
            IntrospectionKind::GitHubUser => self.github(token).await?,
        };
        if self.config.cache_ttl > Duration::ZERO {
            self.cache.insert(digest, answer.clone());
        }
        answer.map_err(TokenError::Invalid)
    }

    async fn introspect(&self, token: &str) -> Result<Result<Principal, String>, TokenError> {
        let basic = match (&self.config.client_id, &self.config.client_secret) {
            (Some(id), Some(secret)) => Some((id.as_str(), secret.expose())),
            _ => None,
        };
        let response = self
            .fetcher
            .post_form(
                &self.url,
                &[("token", token), ("token_type_hint", "access_token")],
                basic,
            )
            .await
            .map_err(|e| TokenError::Unavailable(e.0))?;
        let serde_json::Value::Object(claims) = response else {
            return Err(TokenError::Unavailable(format!(
                "{} did not answer a JSON object",
                self.url
            )));
        };
        if claims.get("active") != Some(&serde_json::Value::Bool(true)) {
            return Ok(Err("the token is not active".into()));
        }
        if let Some(issuer) = &self.config.issuer
            && claims.get("iss").and_then(|v| v.as_str()) != Some(issuer.as_str())
        {
            return Ok(Err("the token is from another issuer".into()));
        }
        let audience_ok = match claims.get("aud") {
            Some(serde_json::Value::String(aud)) => self.audiences.contains(aud),
            Some(serde_json::Value::Array(auds)) => auds
                .iter()
                .filter_map(|a| a.as_str())
                .any(|a| self.audiences.iter().any(|ours| ours == a)),
            _ => false,
        };
        if !audience_ok {
            return Ok(Err(
                "the token was issued for another resource (its audience is not this server)"
                    .into(),
            ));
        }
        let issuer = self
            .config
            .issuer
            .clone()
            .unwrap_or_else(|| self.url.origin().ascii_serialization());
        let principal = self
            .config
            .claims
            .principal(claims, AuthMethod::Introspection { issuer });
        Ok(match principal {
            Some(p) if expired(&p) => Err("the token has expired".into()),
            Some(p) => Ok(p),
            None => Err("the introspection answer names no caller".into()),
        })
    }

    async fn github(&self, token: &str) -> Result<Result<Principal, String>, TokenError> {
        let (status, body) = self
            .fetcher
            .get_json_with_token(&self.url, token)
            .await
            .map_err(|e| TokenError::Unavailable(e.0))?;
        match status {
            200 => {}
            401 | 403 => return Ok(Err("GitHub does not accept the token".into())),
            other => {
                return Err(TokenError::Unavailable(format!(
                    "{} answered {other}",
                    self.url
                )));
            }
        }
        let serde_json::Value::Object(mut claims) = body else {
            return Err(TokenError::Unavailable(format!(
                "{} did not answer a user",
                self.url
            )));
        };
        // The numeric id is stable; logins can be renamed.
        if let Some(id) = claims.get("id").and_then(serde_json::Value::as_u64) {
            claims.insert("id".into(), serde_json::Value::String(id.to_string()));
        }
        let principal = self.config.claims.principal(
            claims,
            AuthMethod::Introspection {
                issuer: "https://github.com".into(),
            },
        );
        Ok(principal.ok_or_else(|| "GitHub's answer names no user".to_owned()))
    }
}

/// Whether the principal's `exp` claim (seconds since the epoch) has passed.
fn expired(principal: &Principal) -> bool {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    principal
        .claims()
        .get("exp")
        .and_then(serde_json::Value::as_u64)
        .is_some_and(|exp| exp <= now)
}
