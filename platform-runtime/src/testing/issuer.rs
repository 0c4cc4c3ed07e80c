//! [`TestIssuer`]: a real OAuth issuer on loopback for tests — RSA and EC keys generated on
//! start, OpenID Connect discovery and a JWKS served over HTTP, and tokens signed with any
//! claims.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::routing::get;
use jsonwebtoken::jwk::{Jwk, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Map, Value, json};

/// A signing key of the issuer.
struct SigningKey {
    kid: String,
    alg: Algorithm,
    encoding: EncodingKey,
    jwk: Jwk,
    /// PKCS#1 DER of the public key (RSA keys only), for forging tests.
    public_der: Option<Vec<u8>>,
}

struct State {
    keys: Vec<SigningKey>,
    generation: u32,
}

/// An OAuth 2.1 / OpenID Connect issuer served on loopback, signing real JWTs.
///
/// It publishes `/.well-known/openid-configuration` and `/jwks` (an RSA key for RS256 and a
/// P-256 key for ES256), so a server configured with [`TestIssuer::issuer`] finds its keys
/// exactly as it would a real identity provider's.
///
/// ```no_run
/// use platform_runtime::testing::TestIssuer;
///
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// let issuer = TestIssuer::start().await?;
/// let token = issuer
///     .token("alice")
///     .audience("http://127.0.0.1:8000/mcp")
///     .roles(["admin"])
///     .sign();
/// # let _ = token; Ok(()) }
/// ```
pub struct TestIssuer {
    url: String,
    state: Arc<Mutex<State>>,
    jwks_fetches: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestIssuer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl std::fmt::Debug for TestIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestIssuer")
            .field("issuer", &self.url)
            .finish_non_exhaustive()
    }
}

impl TestIssuer {
    /// Generate keys and serve discovery and the key set on `127.0.0.1` (a free port).
    pub async fn start() -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let url = format!("http://{}", listener.local_addr()?);
        let keys = tokio::task::spawn_blocking(|| generate(1))
            .await
            .map_err(std::io::Error::other)?
            .map_err(std::io::Error::other)?;
        let state = Arc::new(Mutex::new(State {
            keys,
            generation: 1,
        }));
        let jwks_fetches = Arc::new(AtomicU64::new(0));
        let discovery = json!({
            "issuer": url,
            "jwks_uri": format!("{url}/jwks"),
            "authorization_endpoint": format!("{url}/authorize"),
            "token_endpoint": format!("{url}/token"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256", "ES256"],
            "code_challenge_methods_supported": ["S256"],
        })
        .to_string();
        let app = Router::new()
            .route(
                "/.well-known/openid-configuration",
                get(move || {
                    let body = discovery.clone();
                    async move { ([("content-type", "application/json")], body) }
                }),
            )
            .route(
                "/jwks",
                get({
                    let (state, fetches) = (state.clone(), jwks_fetches.clone());
                    move || {
                        fetches.fetch_add(1, Ordering::Relaxed);
                        let set = JwkSet {
                            keys: state
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .keys
                                .iter()
                                .map(|k| k.jwk.clone())
                                .collect(),
                        };
                        let body = serde_json::to_string(&set).unwrap_or_default();
                        async move { ([("content-type", "application/json")], body) }
                    }
                }),
            );
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            url,
            state,
            jwks_fetches,
            task,
        })
    }

    /// The issuer identifier (`http://127.0.0.1:<port>`), as tokens' `iss` carries it.
    pub fn issuer(&self) -> &str {
        &self.url
    }

    /// A token for `subject`, to adjust and [`TokenBuilder::sign`]. By default it is signed
    /// RS256 with the current key, issued now and valid for five minutes, with no audience.
    pub fn token(&self, subject: impl Into<String>) -> TokenBuilder<'_> {
        let now = now();
        let mut claims = Map::new();
        claims.insert("iss".into(), json!(self.url));
        claims.insert("sub".into(), json!(subject.into()));
        claims.insert("iat".into(), json!(now));
        claims.insert("exp".into(), json!(now + 300));
        TokenBuilder {
            issuer: self,
            claims,
            alg: Algorithm::RS256,
            kid: None,
        }
    }

    /// Replace the keys with new ones (new key ids); tokens signed before no longer verify.
    pub fn rotate(&self) {
        let generation = {
            let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            state.generation + 1
        };
        if let Ok(keys) = generate(generation) {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            state.keys = keys;
            state.generation = generation;
        }
    }

    /// How many times the key set was fetched.
    pub fn jwks_fetches(&self) -> u64 {
        self.jwks_fetches.load(Ordering::Relaxed)
    }

    /// The current RSA public key, PKCS#1 DER (what an attacker would use as an HMAC secret
    /// in an algorithm-confusion forgery).
    pub fn rsa_public_key_der(&self) -> Vec<u8> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state
            .keys
            .iter()
            .find_map(|k| k.public_der.clone())
            .unwrap_or_default()
    }

    /// The current RSA key's id.
    pub fn rsa_key_id(&self) -> String {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state
            .keys
            .iter()
            .find(|k| k.alg == Algorithm::RS256)
            .map(|k| k.kid.clone())
            .unwrap_or_default()
    }

    fn sign(&self, claims: &Map<String, Value>, alg: Algorithm, kid: Option<&str>) -> String {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let Some(key) = state.keys.iter().find(|k| k.alg == alg) else {
            return String::new();
        };
        let mut header = Header::new(alg);
        header.kid = Some(kid.unwrap_or(&key.kid).to_owned());
        jsonwebtoken::encode(&header, claims, &key.encoding).unwrap_or_default()
    }
}

/// A token being made by [`TestIssuer::token`].
#[must_use = "call `sign()` for the token"]
pub struct TokenBuilder<'a> {
    issuer: &'a TestIssuer,
    claims: Map<String, Value>,
    alg: Algorithm,
    kid: Option<String>,
}

impl TokenBuilder<'_> {
    /// Set `aud`.
    pub fn audience(self, audience: impl Into<String>) -> Self {
        self.claim("aud", json!(audience.into()))
    }

    /// Set `roles`.
    pub fn roles<I: IntoIterator<Item = S>, S: Into<String>>(self, roles: I) -> Self {
        let roles: Vec<String> = roles.into_iter().map(Into::into).collect();
        self.claim("roles", json!(roles))
    }

    /// Set `scope` (space-separated).
    pub fn scopes<I: IntoIterator<Item = S>, S: Into<String>>(self, scopes: I) -> Self {
        let scopes: Vec<String> = scopes.into_iter().map(Into::into).collect();
        self.claim("scope", json!(scopes.join(" ")))
    }

    /// Set `tenant`.
    pub fn tenant(self, tenant: impl Into<String>) -> Self {
        self.claim("tenant", json!(tenant.into()))
    }

    /// Valid for `ttl` from now (a zero or past `exp` makes an expired token: see
    /// [`TokenBuilder::expired`]).
    pub fn expires_in(self, ttl: Duration) -> Self {
        let exp = now() + ttl.as_secs();
        self.claim("exp", json!(exp))
    }

    /// Expired an hour ago.
    pub fn expired(self) -> Self {
        let exp = now().saturating_sub(3600);
        self.claim("exp", json!(exp))
    }

    /// Not valid before an hour from now.
    pub fn not_before_in_an_hour(self) -> Self {
        let nbf = now() + 3600;
        self.claim("nbf", json!(nbf))
    }

    /// Set any claim (`Value::Null` removes it).
    pub fn claim(mut self, name: impl Into<String>, value: Value) -> Self {
        let name = name.into();
        if value.is_null() {
            self.claims.remove(&name);
        } else {
            self.claims.insert(name, value);
        }
        self
    }

    /// Sign with ES256 (the P-256 key) instead of RS256.
    pub fn es256(mut self) -> Self {
        self.alg = Algorithm::ES256;
        self
    }

    /// Name this key id in the header instead of the signing key's.
    pub fn key_id(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// The signed compact JWT.
    pub fn sign(self) -> String {
        self.issuer
            .sign(&self.claims, self.alg, self.kid.as_deref())
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A fresh RSA-2048 key and a P-256 key, with key ids of this generation.
fn generate(generation: u32) -> Result<Vec<SigningKey>, String> {
    use rsa::Generate as _;
    use rsa::pkcs1::{EncodeRsaPrivateKey as _, EncodeRsaPublicKey as _};
    // 2048 bits, exponent 65537.
    let rsa =
        rsa::PrivateKey::try_generate().map_err(|e| format!("RSA key generation failed: {e}"))?;
    let der = rsa
        .to_pkcs1_der()
        .map_err(|e| format!("RSA key encoding failed: {e}"))?;
    let public_der = rsa
        .to_public_key()
        .to_pkcs1_der()
        .map_err(|e| format!("RSA key encoding failed: {e}"))?
        .as_bytes()
        .to_vec();
    let rsa_key = EncodingKey::from_rsa_der(der.as_bytes());
    let ec =
        p256::SecretKey::try_generate().map_err(|e| format!("EC key generation failed: {e}"))?;
    let ec_der = {
        use p256::pkcs8::EncodePrivateKey as _;
        ec.to_pkcs8_der()
            .map_err(|e| format!("EC key encoding failed: {e}"))?
    };
    let ec_key = EncodingKey::from_ec_der(ec_der.as_bytes());
    let mut keys = Vec::new();
    for (kid, alg, encoding, public_der) in [
        (
            format!("rsa-{generation}"),
            Algorithm::RS256,
            rsa_key,
            Some(public_der),
        ),
        (format!("ec-{generation}"), Algorithm::ES256, ec_key, None),
    ] {
        let mut jwk = Jwk::from_encoding_key(&encoding, alg)
            .map_err(|e| format!("JWK conversion failed: {e}"))?;
        jwk.common.key_id = Some(kid.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        jwk.common.key_algorithm = Some(match alg {
            Algorithm::ES256 => KeyAlgorithm::ES256,
            _ => KeyAlgorithm::RS256,
        });
        keys.push(SigningKey {
            kid,
            alg,
            encoding,
            jwk,
            public_der,
        });
    }
    Ok(keys)
}
