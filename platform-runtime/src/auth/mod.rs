//! Authentication for HTTP: the OAuth 2.1 resource server the MCP authorization
//! specification asks for, and static API keys.
//!
//! One [`Authenticator`] sits in front of everything the HTTP transport serves on the MCP
//! endpoint — the SDK's path and direct dispatch alike — and turns each request's
//! credentials into a verified [`Principal`] or a refusal:
//!
//! - **Bearer JWTs** from one or more [`JwtIssuer`]s: keys found by discovery (OpenID Connect
//!   or RFC 8414) and cached with rotation; an algorithm allow-list per issuer (asymmetric
//!   only: never `none`, never HMAC); `iss`, `aud` (this server's resource URI, RFC 8707),
//!   `exp` and `nbf` checked with a small leeway.
//! - **Opaque bearer tokens** through RFC 7662 introspection ([`Introspection`]), cached by
//!   hash for a bounded time.
//! - **API keys** ([`ApiKey`]), as `Authorization: Bearer <key>` or `X-API-Key: <key>`,
//!   stored as SHA-256 hashes and compared in constant time.
//!
//! A refused request gets **401** with `WWW-Authenticate: Bearer resource_metadata="…"`
//! pointing at the RFC 9728 Protected Resource Metadata this server publishes at
//! `/.well-known/oauth-protected-resource{path}` (and at the root well-known URL); a token
//! lacking a scope the request needs gets **403** `insufficient_scope` naming every scope
//! needed. Tokens in the query string are refused, oversized ones are refused before any
//! parsing, and no token material reaches a log line or an error message. The caller's
//! token is never forwarded anywhere: handlers see the [`Principal`], not the credential.
//!
//! Configuration: `[auth.jwt]`, `[[auth.issuers]]`, `[[auth.api_keys]]`,
//! `[auth.introspection]` (see `docs/guide/auth.md`).

mod api_key;
mod fetch;
mod introspection;
mod jwt;
mod keys;
mod provider;
mod verified;

use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse as _, Response};

pub use api_key::ApiKey;
pub use introspection::{Introspection, MAX_CACHE_TTL};
pub use jsonwebtoken::Algorithm;
pub use jwt::{ClaimNames, DEFAULT_LEEWAY, DEFAULT_TOKEN_CACHE_TTL, JwtIssuer};
pub use keys::MIN_REFRESH;
pub use provider::Provider;

use crate::identity::Principal;
use fetch::Fetcher;
use jwt::{JwtVerifier, TokenError};

/// The longest credential read (a bearer token or an API key), in bytes. Longer ones are
/// refused before any parsing.
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 8 << 10;

/// The header an API key may be sent in (besides `Authorization: Bearer`).
pub const API_KEY_HEADER: &str = "x-api-key";

/// What to authenticate with: issuers, API keys, introspection, and what this server is
/// called. Made from `[auth]` by `serve()`, or in code for
/// [`crate::transport::http::HttpConfig::auth`].
///
/// ```
/// use platform_runtime::auth::{Auth, JwtIssuer};
///
/// let auth = Auth::new()
///     .resource("https://mcp.example.com/mcp")
///     .jwt(JwtIssuer::new("https://idp.example.com/realms/acme"))
///     .build()
///     .unwrap();
/// # let _ = auth;
/// ```
#[derive(Debug, Clone, Default)]
pub struct Auth {
    resource: Option<String>,
    issuers: Vec<JwtIssuer>,
    api_keys: Vec<ApiKey>,
    introspection: Option<Introspection>,
    scopes_supported: Vec<String>,
    required_scopes: Vec<String>,
    tenant_header: Option<String>,
    max_token_bytes: Option<usize>,
    resource_name: Option<String>,
}

impl Auth {
    /// Nothing configured yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// This server's canonical resource URI (`https://mcp.example.com/mcp`): the audience
    /// tokens must name, and the `resource` of its metadata. Default: the first issuer's
    /// first audience.
    #[must_use]
    pub fn resource(mut self, uri: impl Into<String>) -> Self {
        self.resource = Some(uri.into());
        self
    }

    /// Trust JWTs from this issuer (may be called for several issuers).
    #[must_use]
    pub fn jwt(mut self, issuer: JwtIssuer) -> Self {
        self.issuers.push(issuer);
        self
    }

    /// Accept this API key.
    #[must_use]
    pub fn api_key(mut self, key: ApiKey) -> Self {
        self.api_keys.push(key);
        self
    }

    /// Check opaque tokens this way.
    #[must_use]
    pub fn introspection(mut self, introspection: Introspection) -> Self {
        self.introspection = Some(introspection);
        self
    }

    /// Scopes listed in the metadata's `scopes_supported` and in challenges.
    #[must_use]
    pub fn scopes_supported<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        scopes: I,
    ) -> Self {
        self.scopes_supported = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Scopes every request needs (403 `insufficient_scope` without them).
    #[must_use]
    pub fn required_scopes<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        scopes: I,
    ) -> Self {
        self.required_scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Take the tenant from this request header, set by a trusted gateway in front of the
    /// server (only when configured; a token's own tenant must agree with it).
    #[must_use]
    pub fn tenant_header(mut self, name: impl Into<String>) -> Self {
        self.tenant_header = Some(name.into());
        self
    }

    /// Refuse credentials longer than this many bytes (default 8 KiB).
    #[must_use]
    pub fn max_token_bytes(mut self, max: usize) -> Self {
        self.max_token_bytes = Some(max);
        self
    }

    /// A human-readable name for the metadata's `resource_name`.
    #[must_use]
    pub fn resource_name(mut self, name: impl Into<String>) -> Self {
        self.resource_name = Some(name.into());
        self
    }

    /// Whether anything is configured (an issuer, an API key or introspection).
    pub fn is_enabled(&self) -> bool {
        !self.issuers.is_empty() || !self.api_keys.is_empty() || self.introspection.is_some()
    }

    /// Check the settings and make the authenticator.
    pub fn build(self) -> Result<Authenticator, String> {
        if !self.is_enabled() {
            return Err("authentication has nothing to check tokens with: configure `[auth.jwt]`, `[[auth.api_keys]]` or `[auth.introspection]`".into());
        }
        let fetcher = Fetcher::new()?;
        let resource = match &self.resource {
            Some(resource) => Some(canonical_resource(resource)?),
            None => self
                .issuers
                .first()
                .and_then(|i| i.audiences.first())
                .map(|a| canonical_resource(a))
                .transpose()?,
        };
        let mut verifiers = Vec::new();
        for issuer in self.issuers {
            if verifiers
                .iter()
                .any(|v: &JwtVerifier| v.config.issuer == issuer.issuer)
            {
                return Err(format!("issuer `{}` is configured twice", issuer.issuer));
            }
            verifiers.push(issuer.verifier(resource.as_deref(), &fetcher)?);
        }
        let introspector = match self.introspection {
            Some(introspection) => {
                let audiences = resource.iter().cloned().collect::<Vec<_>>();
                if audiences.is_empty()
                    && introspection.kind == introspection::IntrospectionKind::Rfc7662
                {
                    return Err("`auth.introspection` needs `auth.resource` (this server's URL): introspected tokens must name it as their audience".into());
                }
                Some(introspection.checker(audiences, &fetcher)?)
            }
            None => None,
        };
        let tenant_header = match self.tenant_header {
            Some(name) => Some(
                header::HeaderName::try_from(name.as_str())
                    .map_err(|_| format!("`auth.tenant_header` `{name}` is not a header name"))?,
            ),
            None => None,
        };
        let max_token_bytes = self.max_token_bytes.unwrap_or(DEFAULT_MAX_TOKEN_BYTES);
        if !(64..=(64 << 10)).contains(&max_token_bytes) {
            return Err("`auth.max_token_bytes` must be between 64 and 65536".into());
        }
        let mut authorization_servers: Vec<String> =
            verifiers.iter().map(|v| v.config.issuer.clone()).collect();
        if let Some(issuer) = introspector.as_ref().and_then(|i| i.issuer()) {
            authorization_servers.push(issuer);
        }
        let mut scopes_supported = self.scopes_supported;
        for scope in &self.required_scopes {
            if !scopes_supported.contains(scope) {
                scopes_supported.push(scope.clone());
            }
        }
        Ok(Authenticator {
            inner: Arc::new(Inner {
                resource,
                resource_name: self.resource_name,
                verifiers,
                api_keys: api_key::ApiKeys::new(self.api_keys)?,
                introspector,
                authorization_servers,
                scopes_supported,
                required_scopes: self.required_scopes,
                tenant_header,
                max_token_bytes,
            }),
        })
    }
}

/// The resource URI in canonical form (RFC 8707: absolute, lower-case scheme and host, no
/// fragment); refused if it is not one.
fn canonical_resource(uri: &str) -> Result<String, String> {
    let url = url::Url::parse(uri)
        .map_err(|e| format!("the resource URI `{uri}` is not an absolute URL: {e}"))?;
    if !matches!(url.scheme(), "https" | "http") || url.host().is_none() {
        return Err(format!(
            "the resource URI `{uri}` must be an http(s) URL with a host"
        ));
    }
    if url.fragment().is_some() {
        return Err(format!("the resource URI `{uri}` must not have a fragment"));
    }
    let mut text = url.to_string();
    // `Url` adds a `/` to a bare origin; the canonical form has none unless it was written.
    if url.path() == "/" && !uri.ends_with('/') {
        text.pop();
    }
    Ok(text)
}

/// Verifies credentials. Cheap to clone.
#[derive(Clone)]
pub struct Authenticator {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("resource", &self.inner.resource)
            .field("issuers", &self.inner.authorization_servers)
            .finish_non_exhaustive()
    }
}

struct Inner {
    resource: Option<String>,
    resource_name: Option<String>,
    verifiers: Vec<JwtVerifier>,
    api_keys: api_key::ApiKeys,
    introspector: Option<introspection::Introspector>,
    authorization_servers: Vec<String>,
    scopes_supported: Vec<String>,
    required_scopes: Vec<String>,
    tenant_header: Option<header::HeaderName>,
    max_token_bytes: usize,
}

/// Why a request was not authenticated: the status, the OAuth error code and a description
/// safe to show (no token material).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// 400, 401, 403 or 503.
    pub status: StatusCode,
    /// `invalid_request`, `invalid_token`, `insufficient_scope`, or none (no credentials).
    pub error: Option<&'static str>,
    /// What was wrong.
    pub description: String,
    /// The scopes the request needs (for `insufficient_scope`).
    pub scopes: Vec<String>,
}

impl Refusal {
    fn unauthorized(error: Option<&'static str>, description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            error,
            description: description.into(),
            scopes: Vec::new(),
        }
    }

    /// 403 `insufficient_scope`, naming every scope `needed`.
    pub fn insufficient_scope(needed: Vec<String>) -> Self {
        Self {
            status: StatusCode::FORBIDDEN,
            error: Some("insufficient_scope"),
            description: format!("this request needs the scopes: {}", needed.join(" ")),
            scopes: needed,
        }
    }
}

impl Authenticator {
    /// This server's canonical resource URI, if it has one.
    pub fn resource(&self) -> Option<&str> {
        self.inner.resource.as_deref()
    }

    /// The scopes every request needs.
    pub fn required_scopes(&self) -> &[String] {
        &self.inner.required_scopes
    }

    /// Authenticate one request from its headers and query string.
    pub async fn authenticate(
        &self,
        headers: &HeaderMap,
        query: Option<&str>,
    ) -> Result<Principal, Refusal> {
        if query.is_some_and(has_query_token) {
            return Err(Refusal {
                status: StatusCode::UNAUTHORIZED,
                error: Some("invalid_request"),
                description: "access tokens are not accepted in the query string; send `Authorization: Bearer <token>`".into(),
                scopes: Vec::new(),
            });
        }
        let token = self.credential(headers)?;
        let principal = self.verify(&token).await?;
        let principal = self.with_gateway_tenant(principal, headers)?;
        let missing: Vec<String> = self
            .inner
            .required_scopes
            .iter()
            .filter(|s| !principal.has_scope(s))
            .cloned()
            .collect();
        if !missing.is_empty() {
            return Err(Refusal::insufficient_scope(
                self.inner.required_scopes.clone(),
            ));
        }
        Ok(principal)
    }

    /// The one credential the request carries: `Authorization: Bearer …` or `X-API-Key`.
    fn credential<'h>(&self, headers: &'h HeaderMap) -> Result<Credential<'h>, Refusal> {
        let max = self.inner.max_token_bytes;
        let mut authorization = headers.get_all(header::AUTHORIZATION).iter();
        let first = authorization.next();
        if authorization.next().is_some() {
            return Err(Refusal::unauthorized(
                Some("invalid_request"),
                "more than one Authorization header",
            ));
        }
        if let Some(value) = first {
            if value.len() > max + 16 {
                return Err(Refusal::unauthorized(
                    Some("invalid_token"),
                    format!("the token is longer than {max} bytes"),
                ));
            }
            let text = value.to_str().map_err(|_| {
                Refusal::unauthorized(
                    Some("invalid_request"),
                    "the Authorization header is not text",
                )
            })?;
            let (scheme, token) = text.split_once(' ').unwrap_or((text, ""));
            if !scheme.eq_ignore_ascii_case("bearer") {
                return Err(Refusal::unauthorized(
                    Some("invalid_request"),
                    "the Authorization scheme must be Bearer",
                ));
            }
            let token = token.trim();
            if token.is_empty() {
                return Err(Refusal::unauthorized(
                    Some("invalid_request"),
                    "the bearer token is empty",
                ));
            }
            if token.len() > max {
                return Err(Refusal::unauthorized(
                    Some("invalid_token"),
                    format!("the token is longer than {max} bytes"),
                ));
            }
            return Ok(Credential::Bearer(token));
        }
        let mut keys = headers.get_all(API_KEY_HEADER).iter();
        match (keys.next(), keys.next()) {
            (Some(key), None) if !self.inner.api_keys.is_empty() => {
                if key.len() > max {
                    return Err(Refusal::unauthorized(
                        Some("invalid_token"),
                        format!("the API key is longer than {max} bytes"),
                    ));
                }
                let key = key.to_str().map_err(|_| {
                    Refusal::unauthorized(Some("invalid_request"), "the API key is not text")
                })?;
                Ok(Credential::ApiKey(key.trim()))
            }
            (Some(_), Some(_)) => Err(Refusal::unauthorized(
                Some("invalid_request"),
                "more than one X-API-Key header",
            )),
            _ => Err(Refusal::unauthorized(
                None,
                "this server needs an access token",
            )),
        }
    }

    async fn verify(&self, credential: &Credential<'_>) -> Result<Principal, Refusal> {
        let invalid = |why: String| Refusal::unauthorized(Some("invalid_token"), why);
        let unavailable = |why: String| {
            tracing::error!(
                error = why,
                "a token could not be checked: the issuer is unreachable"
            );
            Refusal {
                status: StatusCode::SERVICE_UNAVAILABLE,
                error: None,
                description:
                    "the token could not be checked now (the issuer is unreachable); retry shortly"
                        .into(),
                scopes: Vec::new(),
            }
        };
        let token = match credential {
            Credential::ApiKey(key) => {
                return self
                    .inner
                    .api_keys
                    .check(key)
                    .ok_or_else(|| invalid("the API key is not valid".into()));
            }
            Credential::Bearer(token) => token,
        };
        if jwt::looks_like_jwt(token) && !self.inner.verifiers.is_empty() {
            // With one issuer there is nothing to choose; with several, the unverified `iss`
            // only picks which one verifies.
            let verifier = match self.inner.verifiers.as_slice() {
                [only] => Some(only),
                several => jwt::unverified_issuer(token)
                    .and_then(|iss| several.iter().find(|v| v.config.issuer == iss)),
            };
            let Some(verifier) = verifier else {
                return Err(invalid(
                    "the token is from an issuer this server does not trust".into(),
                ));
            };
            return match verifier.verify(token).await {
                Ok(principal) => Ok(principal),
                Err(TokenError::Invalid(why)) => Err(invalid(why)),
                Err(TokenError::Unavailable(why)) => Err(unavailable(why)),
            };
        }
        if let Some(principal) = self.inner.api_keys.check(token) {
            return Ok(principal);
        }
        if let Some(introspector) = &self.inner.introspector {
            return match introspector.check(token).await {
                Ok(principal) => Ok(principal),
                Err(TokenError::Invalid(why)) => Err(invalid(why)),
                Err(TokenError::Unavailable(why)) => Err(unavailable(why)),
            };
        }
        Err(invalid("the token is not valid".into()))
    }

    fn with_gateway_tenant(
        &self,
        principal: Principal,
        headers: &HeaderMap,
    ) -> Result<Principal, Refusal> {
        let Some(name) = &self.inner.tenant_header else {
            return Ok(principal);
        };
        let mut values = headers.get_all(name).iter();
        let value = match (values.next(), values.next()) {
            (None, _) => return Ok(principal),
            (Some(value), None) => value,
            (Some(_), Some(_)) => {
                return Err(Refusal::unauthorized(
                    Some("invalid_request"),
                    format!("more than one `{name}` header"),
                ));
            }
        };
        let tenant = value
            .to_str()
            .ok()
            .filter(|t| (1..=128).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_graphic()))
            .ok_or_else(|| {
                Refusal::unauthorized(
                    Some("invalid_request"),
                    format!("the `{name}` header is not a tenant id (1–128 visible characters)"),
                )
            })?;
        match principal.tenant() {
            Some(own) if own != tenant => Err(Refusal {
                status: StatusCode::FORBIDDEN,
                error: None,
                description: format!("the `{name}` header names another tenant than the token"),
                scopes: Vec::new(),
            }),
            Some(_) => Ok(principal),
            None => Ok(principal.with_tenant(tenant)),
        }
    }

    /// The URL of this server's Protected Resource Metadata (RFC 9728): the well-known
    /// path inserted before the resource's path.
    pub fn metadata_url(&self) -> Option<String> {
        let resource = url::Url::parse(self.inner.resource.as_deref()?).ok()?;
        let path = resource.path().trim_end_matches('/');
        Some(format!(
            "{}{METADATA_PATH}{path}",
            resource.origin().ascii_serialization()
        ))
    }

    /// The Protected Resource Metadata document, if this server has a resource URI.
    pub fn metadata(&self) -> Option<serde_json::Value> {
        let resource = self.inner.resource.as_deref()?;
        let mut document = serde_json::json!({
            "resource": resource,
            "authorization_servers": self.inner.authorization_servers,
            "bearer_methods_supported": ["header"],
        });
        if !self.inner.scopes_supported.is_empty() {
            document["scopes_supported"] = serde_json::json!(self.inner.scopes_supported);
        }
        if let Some(name) = &self.inner.resource_name {
            document["resource_name"] = serde_json::json!(name);
        }
        Some(document)
    }

    /// The HTTP answer to a refusal: the status, a `WWW-Authenticate` challenge pointing at
    /// the metadata, and a small JSON body.
    pub fn challenge(&self, refusal: &Refusal) -> Response {
        let mut params = Vec::new();
        if let Some(error) = refusal.error {
            params.push(format!("error=\"{error}\""));
        }
        if !refusal.description.is_empty() {
            params.push(format!(
                "error_description=\"{}\"",
                quoted(&refusal.description)
            ));
        }
        let scopes = if refusal.scopes.is_empty() {
            &self.inner.scopes_supported
        } else {
            &refusal.scopes
        };
        if !scopes.is_empty() {
            params.push(format!("scope=\"{}\"", quoted(&scopes.join(" "))));
        }
        if let Some(url) = self.metadata_url() {
            params.push(format!("resource_metadata=\"{}\"", quoted(&url)));
        }
        let challenge = if params.is_empty() {
            "Bearer".to_owned()
        } else {
            format!("Bearer {}", params.join(", "))
        };
        let body = serde_json::json!({
            "error": refusal.error.unwrap_or("unauthorized"),
            "error_description": refusal.description,
        });
        let mut response = (
            refusal.status,
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response();
        if matches!(
            refusal.status,
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
        ) && let Ok(value) = HeaderValue::from_str(&challenge)
        {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        if refusal.status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response
    }
}

/// The synchronous part of authentication, on attacker bytes: the query check, the
/// credential's extraction from `Authorization` and `X-API-Key`, the JWT shape and header
/// reads and the API key match. No panic, a JWT-shaped token has three parts, and no refusal
/// repeats the credential.
#[cfg(feature = "fuzzing")]
pub(crate) fn fuzz_credentials(authorization: &[u8], api_key: &[u8], query: &str) {
    static AUTH: std::sync::OnceLock<Option<Authenticator>> = std::sync::OnceLock::new();
    let Some(auth) = AUTH
        .get_or_init(|| {
            Auth::new()
                .api_key(ApiKey::new("fuzz", ApiKey::hash("fuzz-key")))
                .build()
                .ok()
        })
        .as_ref()
    else {
        return;
    };
    let _ = has_query_token(query);
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_bytes(authorization) {
        headers.insert(header::AUTHORIZATION, value);
    }
    if let Ok(value) = HeaderValue::from_bytes(api_key) {
        headers.insert(API_KEY_HEADER, value);
    }
    match auth.credential(&headers) {
        Ok(Credential::Bearer(token)) => {
            if jwt::looks_like_jwt(token) {
                assert_eq!(token.matches('.').count(), 2, "{token:?}");
                let _ = jwt::unverified_issuer(token);
                let _ = jsonwebtoken::decode_header(token);
            }
            let _ = auth.inner.api_keys.check(token);
        }
        Ok(Credential::ApiKey(key)) => {
            let _ = auth.inner.api_keys.check(key);
        }
        Err(refusal) => {
            // Refusals are fixed texts (with a byte count at most): nothing of the input.
            const KNOWN: &[&str] = &[
                "more than one Authorization header",
                "the token is longer than  bytes",
                "the Authorization header is not text",
                "the Authorization scheme must be Bearer",
                "the bearer token is empty",
                "the API key is longer than  bytes",
                "the API key is not text",
                "more than one X-API-Key header",
                "this server needs an access token",
            ];
            let shape: String = refusal
                .description
                .chars()
                .filter(|c| !c.is_ascii_digit())
                .collect();
            assert!(KNOWN.contains(&shape.as_str()), "{:?}", refusal.description);
        }
    }
}

/// The well-known path of Protected Resource Metadata (RFC 9728).
pub const METADATA_PATH: &str = "/.well-known/oauth-protected-resource";

/// The credential a request carries, borrowed from its headers.
enum Credential<'h> {
    Bearer(&'h str),
    ApiKey(&'h str),
}

/// Whether a query string carries an access token (`access_token=…`, any case).
fn has_query_token(query: &str) -> bool {
    query.split('&').any(|pair| {
        let name = pair.split('=').next().unwrap_or_default();
        let name = percent_encoding::percent_decode_str(name).decode_utf8_lossy();
        name.eq_ignore_ascii_case("access_token")
    })
}

/// Text for a quoted-string parameter: quotes and backslashes dropped, control characters
/// and non-ASCII replaced.
fn quoted(text: &str) -> String {
    text.chars()
        .filter(|c| !matches!(c, '"' | '\\'))
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c
            } else {
                '?'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_uris_are_canonical() {
        assert_eq!(
            canonical_resource("HTTPS://MCP.Example.com/mcp").unwrap(),
            "https://mcp.example.com/mcp"
        );
        assert_eq!(
            canonical_resource("https://mcp.example.com").unwrap(),
            "https://mcp.example.com"
        );
        assert!(canonical_resource("mcp.example.com/mcp").is_err());
        assert!(canonical_resource("https://mcp.example.com/mcp#x").is_err());
    }

    #[test]
    fn query_tokens_are_recognised_in_any_spelling() {
        assert!(has_query_token("access_token=abc"));
        assert!(has_query_token("a=1&ACCESS_TOKEN=abc"));
        assert!(has_query_token("access%5Ftoken=abc"));
        assert!(!has_query_token("token_hint=1"));
    }

    #[test]
    fn the_metadata_url_inserts_the_well_known_path_before_the_resource_path() {
        let auth = Auth::new()
            .resource("https://mcp.example.com/tenants/a/mcp")
            .api_key(ApiKey::new("k", ApiKey::hash("k")))
            .build()
            .unwrap();
        assert_eq!(
            auth.metadata_url().unwrap(),
            "https://mcp.example.com/.well-known/oauth-protected-resource/tenants/a/mcp"
        );
    }

    #[test]
    fn nothing_to_check_with_is_an_error() {
        assert!(
            Auth::new()
                .build()
                .unwrap_err()
                .contains("nothing to check")
        );
    }
}

mod from_config;

/// The principal a stdio client acts as: the local operator of `[auth.operator]` (id
/// `operator`, no roles, by default), so role and scope requirements apply on stdio too.
pub fn operator(section: &crate::config::AuthSection) -> Principal {
    let operator = section.operator.clone().unwrap_or_default();
    let mut principal = Principal::new(operator.id)
        .with_roles(operator.roles)
        .with_scopes(operator.scopes)
        .with_method(crate::identity::AuthMethod::Operator);
    if let Some(tenant) = operator.tenant {
        principal = principal.with_tenant(tenant);
    }
    principal
}
