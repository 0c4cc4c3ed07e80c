//! Authentication over real HTTP: an issuer on loopback (`TestIssuer`), tokens verified on
//! both the SDK's path and direct dispatch, the Protected Resource Metadata, and the JWT
//! attack suite — every forged, stale or misdirected credential refused with 401 and a
//! `resource_metadata` challenge, and nothing of it in the logs.

use std::sync::Arc;

use base64::Engine as _;
use platform_runtime::auth::{ApiKey, Auth, JwtIssuer};
use platform_runtime::identity::Principal;
use platform_runtime::prelude::*;
use platform_runtime::testing::TestIssuer;
use platform_runtime::transport::http::{HttpConfig, HttpServer};
use serde_json::{Value, json};

use super::Captured;
use super::http::{ACCEPT, INITIALIZE, JSON, Reply, request, serve_with, stop};

/// The server's canonical resource URI, the audience its tokens must name.
const RESOURCE: &str = "https://mcp.example.test/mcp";

/// Who is calling.
#[tool(read_only)]
fn whoami(#[extract] caller: Principal) -> Value {
    json!({
        "id": caller.id(),
        "roles": caller.roles(),
        "scopes": caller.scopes(),
        "tenant": caller.tenant(),
        "method": caller.method().as_str(),
    })
}

/// Read a file: needs the `files:read` scope.
#[tool(read_only)]
#[requires_scope("files:read")]
fn read_file() -> &'static str {
    "contents"
}

/// Purge: needs the `ops` role.
#[tool]
#[requires_role("ops")]
fn purge() -> &'static str {
    "purged"
}

/// Told when a `linger` call is cancelled.
static LINGER_CANCELLED: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// Never finish; say so when the request is cancelled.
#[tool]
async fn linger(ctx: Context) -> String {
    let token = ctx.cancellation_token();
    tokio::spawn(async move {
        token.cancelled().await;
        LINGER_CANCELLED.notify_one();
    });
    std::future::pending::<String>().await
}

async fn serve(auth: Auth) -> HttpServer {
    serve_configured(auth, HttpConfig::default()).await
}

async fn serve_configured(auth: Auth, config: HttpConfig) -> HttpServer {
    let server = Server::builder("auth")
        .tools(tools![whoami, read_file, purge, linger])
        .build()
        .unwrap();
    serve_with(
        server,
        HttpConfig {
            auth: Some(auth.build().unwrap()),
            ..config
        },
    )
    .await
}

async fn protected(issuer: &TestIssuer) -> HttpServer {
    protected_with(issuer, HttpConfig::default()).await
}

async fn protected_with(issuer: &TestIssuer, config: HttpConfig) -> HttpServer {
    serve_configured(
        Auth::new()
            .resource(RESOURCE)
            .scopes_supported(["mcp:tools"])
            .jwt(
                JwtIssuer::new(issuer.issuer())
                    .algorithms([
                        platform_runtime::auth::Algorithm::RS256,
                        platform_runtime::auth::Algorithm::ES256,
                    ])
                    .tenant_claim("tenant"),
            ),
        config,
    )
    .await
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

const CALL_WHOAMI: &str = r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"whoami","arguments":{},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}"#;

/// A 2026-07-28 `tools/call whoami` with the given extra headers (served directly).
async fn call_whoami(http: &HttpServer, extra: &[(&str, &str)]) -> Reply {
    let mut headers = vec![
        JSON,
        ACCEPT,
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", "tools/call"),
        ("mcp-name", "whoami"),
    ];
    headers.extend_from_slice(extra);
    request(
        http.local_addr(),
        "POST",
        "/mcp",
        &headers,
        CALL_WHOAMI.as_bytes(),
    )
    .await
}

/// What `whoami` answered (its text content, as JSON).
fn structured(reply: &Reply) -> Value {
    let body: Value =
        serde_json::from_str(&reply.body).unwrap_or_else(|_| panic!("not JSON: {}", reply.body));
    let text = body["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or("null");
    serde_json::from_str(text).unwrap_or(Value::Null)
}

#[tokio::test]
async fn a_verified_token_names_the_caller_on_both_paths() {
    let issuer = TestIssuer::start().await.unwrap();
    let http = protected(&issuer).await;
    let token = issuer
        .token("alice")
        .audience(RESOURCE)
        .roles(["ops"])
        .scopes(["mcp:tools", "files:read"])
        .tenant("acme")
        .sign();
    let auth = bearer(&token);

    // Direct dispatch (2026-07-28).
    let direct = call_whoami(&http, &[("authorization", &auth)]).await;
    assert_eq!(direct.status, 200, "{}", direct.body);
    let who = structured(&direct);
    assert_eq!(who["id"], "alice");
    assert_eq!(who["roles"], json!(["ops"]));
    assert_eq!(who["scopes"], json!(["mcp:tools", "files:read"]));
    assert_eq!(who["method"], "jwt");
    assert_eq!(http.served_directly(), 1);

    // The SDK's path: a legacy session, every request authenticated.
    let addr = http.local_addr();
    let init = request(
        addr,
        "POST",
        "/mcp",
        &[JSON, ACCEPT, ("authorization", &auth)],
        INITIALIZE.as_bytes(),
    )
    .await;
    assert_eq!(init.status, 200, "{}", init.body);
    let session = init.header("mcp-session-id").unwrap().to_owned();
    let session_headers = [
        JSON,
        ACCEPT,
        ("authorization", auth.as_str()),
        ("mcp-session-id", session.as_str()),
        ("mcp-protocol-version", "2025-11-25"),
    ];
    let initialized = br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    assert_eq!(
        request(addr, "POST", "/mcp", &session_headers, initialized)
            .await
            .status,
        202
    );
    let call = br#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"whoami","arguments":{}}}"#;
    let reply = request(addr, "POST", "/mcp", &session_headers, call).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(
        reply.body.contains(r#"\"id\":\"alice\""#) || reply.body.contains(r#""id":"alice""#),
        "{}",
        reply.body
    );
    assert!(reply.body.contains("acme"), "{}", reply.body);

    // The session does not stand in for the token: without it, the same session is refused.
    let without = [
        session_headers[0],
        session_headers[1],
        session_headers[3],
        session_headers[4],
    ];
    let refused = request(addr, "POST", "/mcp", &without, call).await;
    assert_eq!(refused.status, 401, "{}", refused.body);

    // An ES256 token from the same issuer is as good.
    let es = issuer.token("bob").audience(RESOURCE).es256().sign();
    let reply = call_whoami(&http, &[("authorization", &bearer(&es))]).await;
    assert_eq!(structured(&reply)["id"], "bob", "{}", reply.body);
    stop(http).await;
}

#[tokio::test]
async fn protected_resource_metadata_is_served_at_both_well_known_urls() {
    let issuer = TestIssuer::start().await.unwrap();
    let http = protected(&issuer).await;
    let addr = http.local_addr();
    for path in [
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource",
    ] {
        // Metadata is public: no token needed.
        let reply = request(addr, "GET", path, &[], b"").await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.body);
        let document: Value = serde_json::from_str(&reply.body).unwrap();
        assert_eq!(document["resource"], RESOURCE);
        assert_eq!(document["authorization_servers"], json!([issuer.issuer()]));
        assert_eq!(document["scopes_supported"], json!(["mcp:tools"]));
        assert_eq!(document["bearer_methods_supported"], json!(["header"]));
    }
    let missing = request(addr, "POST", "/mcp", &[JSON, ACCEPT], INITIALIZE.as_bytes()).await;
    assert_eq!(missing.status, 401);
    let challenge = missing.header("www-authenticate").unwrap();
    assert_eq!(
        challenge,
        "Bearer error_description=\"this server needs an access token\", scope=\"mcp:tools\", resource_metadata=\"https://mcp.example.test/.well-known/oauth-protected-resource/mcp\""
    );
    stop(http).await;
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A token signed HS256 with `secret` (the algorithm-confusion forgery).
fn hs256(secret: &[u8], header: &Value, claims: &Value) -> String {
    use hmac::{KeyInit as _, Mac as _};
    let signing_input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
    mac.update(signing_input.as_bytes());
    format!("{signing_input}.{}", b64(&mac.finalize().into_bytes()))
}

#[tokio::test]
async fn the_jwt_attack_suite_is_refused_with_a_challenge_and_nothing_leaks() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_env_filter("trace")
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let issuer = TestIssuer::start().await.unwrap();
    let http = protected(&issuer).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let good_claims = json!({
        "iss": issuer.issuer(), "sub": "mallory", "aud": RESOURCE, "exp": now + 300, "iat": now,
    });
    let good = issuer.token("mallory").audience(RESOURCE).sign();
    let (head, payload) = {
        let mut parts = good.split('.');
        (
            parts.next().unwrap().to_owned(),
            parts.next().unwrap().to_owned(),
        )
    };
    let signature = good.rsplit('.').next().unwrap().to_owned();

    let mut tampered_claims = good_claims.clone();
    tampered_claims["sub"] = json!("admin");
    let tampered = format!(
        "{head}.{}.{signature}",
        b64(tampered_claims.to_string().as_bytes())
    );
    let none = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT"}"#),
        b64(good_claims.to_string().as_bytes())
    );
    let confused = hs256(
        &issuer.rsa_public_key_der(),
        &json!({ "alg": "HS256", "typ": "JWT", "kid": issuer.rsa_key_id() }),
        &good_claims,
    );
    let oversized = format!("{head}.{}.{signature}", "A".repeat(20_000));
    type Case<'a> = (&'a str, Vec<(&'a str, String)>, &'a str, u16);
    let cases: Vec<Case<'_>> = vec![
        ("missing token", vec![], "", 401),
        ("alg none", vec![("authorization", bearer(&none))], "", 401),
        (
            "HS256 signed with the RSA public key",
            vec![("authorization", bearer(&confused))],
            "",
            401,
        ),
        (
            "expired",
            vec![(
                "authorization",
                bearer(&issuer.token("m").audience(RESOURCE).expired().sign()),
            )],
            "",
            401,
        ),
        (
            "not yet valid",
            vec![(
                "authorization",
                bearer(
                    &issuer
                        .token("m")
                        .audience(RESOURCE)
                        .not_before_in_an_hour()
                        .sign(),
                ),
            )],
            "",
            401,
        ),
        (
            "wrong issuer",
            vec![(
                "authorization",
                bearer(
                    &issuer
                        .token("m")
                        .audience(RESOURCE)
                        .claim("iss", json!("https://evil.example"))
                        .sign(),
                ),
            )],
            "",
            401,
        ),
        (
            "wrong audience",
            vec![(
                "authorization",
                bearer(
                    &issuer
                        .token("m")
                        .audience("https://other.example/mcp")
                        .sign(),
                ),
            )],
            "",
            401,
        ),
        (
            "no audience",
            vec![("authorization", bearer(&issuer.token("m").sign()))],
            "",
            401,
        ),
        (
            "unknown kid",
            vec![(
                "authorization",
                bearer(
                    &issuer
                        .token("m")
                        .audience(RESOURCE)
                        .key_id("not-a-key")
                        .sign(),
                ),
            )],
            "",
            401,
        ),
        (
            "tampered payload",
            vec![("authorization", bearer(&tampered))],
            "",
            401,
        ),
        (
            "oversized token",
            vec![("authorization", bearer(&oversized))],
            "",
            401,
        ),
        (
            "malformed token",
            vec![("authorization", "Bearer not.a.jwt!".to_owned())],
            "",
            401,
        ),
        (
            "basic scheme",
            vec![("authorization", "Basic YWxpY2U6cHc=".to_owned())],
            "",
            401,
        ),
        (
            "token only in the query string",
            vec![],
            "?access_token=PLACEHOLDER",
            401,
        ),
    ];
    let addr = http.local_addr();
    let mut secrets = vec![payload.clone(), signature.clone()];
    for (what, headers, query, status) in &cases {
        let mut all: Vec<(&str, &str)> = vec![JSON, ACCEPT];
        all.extend(headers.iter().map(|(n, v)| (*n, v.as_str())));
        let path = format!("/mcp{}", query.replace("PLACEHOLDER", &good));
        let reply = request(addr, "POST", &path, &all, INITIALIZE.as_bytes()).await;
        assert_eq!(reply.status, *status, "{what}: {}", reply.body);
        let challenge = reply.header("www-authenticate").unwrap_or_default();
        assert!(
            challenge.starts_with("Bearer ")
                && challenge.contains("resource_metadata=\"https://mcp.example.test/.well-known/oauth-protected-resource/mcp\""),
            "{what}: {challenge}"
        );
        if !headers.is_empty() || !query.is_empty() {
            assert!(challenge.contains("error=\""), "{what}: {challenge}");
        }
        for (_, value) in headers {
            if let Some(token) = value.strip_prefix("Bearer ") {
                for part in token.split('.').filter(|p| p.len() > 8) {
                    secrets.push(part.to_owned());
                }
                assert!(
                    !reply.body.contains(token),
                    "{what}: the body repeats the token"
                );
            }
        }
    }
    // The right token still works, and the unknown key id cost at most one refetch.
    let fetches = issuer.jwks_fetches();
    assert!(fetches <= 2, "the key set was fetched {fetches} times");
    let ok = call_whoami(&http, &[("authorization", &bearer(&good))]).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    stop(http).await;
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("request refused: not authenticated"),
        "{logs}"
    );
    for secret in secrets.iter().filter(|s| s.len() > 8) {
        assert!(
            !logs.contains(secret.as_str()),
            "token material in the logs: {secret}"
        );
    }
}

#[tokio::test]
async fn unknown_key_ids_refetch_at_most_once_per_interval() {
    let issuer = TestIssuer::start().await.unwrap();
    let http = protected(&issuer).await; // the default interval: 30 s
    let first = issuer.token("a").audience(RESOURCE).sign();
    assert_eq!(
        call_whoami(&http, &[("authorization", &bearer(&first))])
            .await
            .status,
        200
    );
    assert_eq!(issuer.jwks_fetches(), 1);
    // A flood of made-up key ids within the interval costs no fetch.
    for i in 0..20 {
        let forged = issuer
            .token("a")
            .audience(RESOURCE)
            .key_id(format!("made-up-{i}"))
            .sign();
        assert_eq!(
            call_whoami(&http, &[("authorization", &bearer(&forged))])
                .await
                .status,
            401
        );
    }
    assert_eq!(
        issuer.jwks_fetches(),
        1,
        "unknown key ids refetch at most once per interval"
    );
    stop(http).await;
}

#[tokio::test]
async fn rotated_keys_are_fetched_when_a_token_names_a_new_key_id() {
    let issuer = TestIssuer::start().await.unwrap();
    let interval = std::time::Duration::from_millis(200);
    let http = serve(
        Auth::new().resource(RESOURCE).jwt(
            JwtIssuer::new(issuer.issuer())
                .min_refresh(interval)
                .cache_ttl(std::time::Duration::ZERO),
        ),
    )
    .await;
    let first = issuer.token("a").audience(RESOURCE).sign();
    assert_eq!(
        call_whoami(&http, &[("authorization", &bearer(&first))])
            .await
            .status,
        200
    );
    assert_eq!(issuer.jwks_fetches(), 1);
    // The issuer rotates its keys; once the interval has passed, a token with the new key
    // id makes the server fetch them, and the old key is gone.
    issuer.rotate();
    tokio::time::sleep(interval).await;
    let after = issuer.token("a").audience(RESOURCE).sign();
    assert_eq!(
        call_whoami(&http, &[("authorization", &bearer(&after))])
            .await
            .status,
        200
    );
    assert_eq!(issuer.jwks_fetches(), 2);
    assert_eq!(
        call_whoami(&http, &[("authorization", &bearer(&first))])
            .await
            .status,
        401
    );
    stop(http).await;
}

#[tokio::test]
async fn api_keys_authenticate_service_callers_by_hash() {
    let http = serve(
        Auth::new().api_key(
            ApiKey::new("deployer", ApiKey::hash("s3rvice-key"))
                .roles(["deploy"])
                .tenant("acme"),
        ),
    )
    .await;
    for header in [
        ("x-api-key", "s3rvice-key".to_owned()),
        ("authorization", bearer("s3rvice-key")),
    ] {
        let reply = call_whoami(&http, &[(header.0, &header.1)]).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let who = structured(&reply);
        assert_eq!(
            (who["id"].as_str(), who["method"].as_str()),
            (Some("deployer"), Some("api_key"))
        );
        assert_eq!(who["tenant"], "acme");
    }
    let wrong = call_whoami(&http, &[("x-api-key", "guess")]).await;
    assert_eq!(wrong.status, 401);
    // Without an issuer there is no metadata to point at, but still a Bearer challenge.
    assert!(
        wrong
            .header("www-authenticate")
            .unwrap()
            .starts_with("Bearer error=\"invalid_token\"")
    );
    stop(http).await;
}

#[tokio::test]
async fn required_scopes_are_refused_with_403_naming_them_all() {
    let issuer = TestIssuer::start().await.unwrap();
    let http = serve(
        Auth::new()
            .resource(RESOURCE)
            .required_scopes(["mcp:tools", "mcp:read"])
            .jwt(JwtIssuer::new(issuer.issuer())),
    )
    .await;
    let partial = issuer
        .token("a")
        .audience(RESOURCE)
        .scopes(["mcp:tools"])
        .sign();
    let reply = call_whoami(&http, &[("authorization", &bearer(&partial))]).await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    let challenge = reply.header("www-authenticate").unwrap();
    assert!(
        challenge.contains("error=\"insufficient_scope\""),
        "{challenge}"
    );
    assert!(
        challenge.contains("scope=\"mcp:tools mcp:read\""),
        "{challenge}"
    );
    assert!(challenge.contains("resource_metadata="), "{challenge}");
    let full = issuer
        .token("a")
        .audience(RESOURCE)
        .scopes(["mcp:read", "mcp:tools"])
        .sign();
    assert_eq!(
        call_whoami(&http, &[("authorization", &bearer(&full))])
            .await
            .status,
        200
    );
    stop(http).await;
}

#[tokio::test]
async fn an_unreachable_issuer_is_a_503_not_a_401() {
    // A port nothing listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let issuer = TestIssuer::start().await.unwrap();
    let token = issuer
        .token("a")
        .audience(RESOURCE)
        .claim("iss", json!(dead))
        .sign();
    let http = serve(Auth::new().resource(RESOURCE).jwt(JwtIssuer::new(&dead))).await;
    let reply = call_whoami(&http, &[("authorization", &bearer(&token))]).await;
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert!(reply.header("retry-after").is_some());
    stop(http).await;
}

#[tokio::test]
async fn a_component_s_scopes_are_challenged_with_403_on_both_paths() {
    let issuer = TestIssuer::start().await.unwrap();
    let http = protected(&issuer).await;
    let addr = http.local_addr();
    let token = issuer
        .token("a")
        .audience(RESOURCE)
        .scopes(["mcp:tools"])
        .sign();
    let auth = bearer(&token);
    let call = |meta: bool| {
        let meta = if meta {
            r#","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}"#
        } else {
            ""
        };
        format!(
            r#"{{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{{"name":"read_file","arguments":{{}}{meta}}}}}"#
        )
    };
    let modern = [
        JSON,
        ACCEPT,
        ("authorization", auth.as_str()),
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", "tools/call"),
        ("mcp-name", "read_file"),
    ];
    let reply = request(addr, "POST", "/mcp", &modern, call(true).as_bytes()).await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    let challenge = reply.header("www-authenticate").unwrap();
    assert!(
        challenge.contains("error=\"insufficient_scope\"")
            && challenge.contains("scope=\"files:read\""),
        "{challenge}"
    );
    // The legacy path: the same challenge inside a session.
    let init = request(
        addr,
        "POST",
        "/mcp",
        &[JSON, ACCEPT, ("authorization", &auth)],
        INITIALIZE.as_bytes(),
    )
    .await;
    let session = init.header("mcp-session-id").unwrap().to_owned();
    let legacy = [
        JSON,
        ACCEPT,
        ("authorization", auth.as_str()),
        ("mcp-session-id", session.as_str()),
        ("mcp-protocol-version", "2025-11-25"),
    ];
    let reply = request(addr, "POST", "/mcp", &legacy, call(false).as_bytes()).await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    // With the scope, the call goes through; a role is checked in the protocol.
    let scoped = issuer
        .token("a")
        .audience(RESOURCE)
        .scopes(["files:read"])
        .sign();
    let scoped = bearer(&scoped);
    let mut headers = modern;
    headers[2] = ("authorization", scoped.as_str());
    let reply = request(addr, "POST", "/mcp", &headers, call(true).as_bytes()).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply.body.contains("contents"), "{}", reply.body);
    let purge = call(true).replace("read_file", "purge");
    headers[5] = ("mcp-name", "purge");
    let reply = request(addr, "POST", "/mcp", &headers, purge.as_bytes()).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(
        reply.body.contains("-31403") && reply.body.contains("needs the role `ops`"),
        "{}",
        reply.body
    );
    stop(http).await;
}

#[tokio::test]
async fn a_verified_token_is_remembered_but_never_past_its_expiry() {
    let issuer = TestIssuer::start().await.unwrap();
    let http = serve(
        Auth::new().resource(RESOURCE).jwt(
            JwtIssuer::new(issuer.issuer())
                .leeway(std::time::Duration::ZERO)
                .min_refresh(std::time::Duration::from_millis(100)),
        ),
    )
    .await;
    let short = issuer
        .token("a")
        .audience(RESOURCE)
        .expires_in(std::time::Duration::from_secs(1))
        .sign();
    let long = issuer.token("b").audience(RESOURCE).sign();
    for token in [&short, &long] {
        assert_eq!(
            call_whoami(&http, &[("authorization", &bearer(token))])
                .await
                .status,
            200
        );
    }
    // Remembered: the issuer withdraws its keys, and the tokens verified before still pass
    // (for the cache's lifetime, two minutes by default)…
    issuer.rotate();
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    assert_eq!(
        call_whoami(&http, &[("authorization", &bearer(&long))])
            .await
            .status,
        200
    );
    // …but a tampered copy is another token, verified afresh and refused…
    let signature_at = long.rfind('.').unwrap() + 1;
    let flipped = if long.as_bytes()[signature_at] == b'A' {
        "B"
    } else {
        "A"
    };
    let tampered = format!(
        "{}{flipped}{}",
        &long[..signature_at],
        &long[signature_at + 1..]
    );
    assert_eq!(
        call_whoami(&http, &[("authorization", &bearer(&tampered))])
            .await
            .status,
        401
    );
    // …and no token outlives its `exp`.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let expired = call_whoami(&http, &[("authorization", &bearer(&short))]).await;
    assert_eq!(expired.status, 401, "{}", expired.body);
    stop(http).await;
}

/// An issuer on loopback that answers every request with `body` after `delay`.
async fn hostile_issuer(body: String, delay: std::time::Duration) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                continue;
            };
            let body = body.clone();
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                tokio::time::sleep(delay).await;
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes()).await;
                let _ = stream.write_all(body.as_bytes()).await;
            });
        }
    });
    url
}

#[tokio::test]
async fn a_hostile_issuer_is_bounded_in_size_and_time() {
    let issuer = TestIssuer::start().await.unwrap();
    // A discovery document of 1 MiB, and one that takes a minute to come.
    let huge = hostile_issuer(
        format!("{{\"pad\":\"{}\"}}", "x".repeat(1 << 20)),
        std::time::Duration::ZERO,
    )
    .await;
    let slow = hostile_issuer("{}".into(), std::time::Duration::from_secs(60)).await;
    for (what, url) in [("huge", huge), ("slow", slow)] {
        let http = serve(Auth::new().resource(RESOURCE).jwt(JwtIssuer::new(&url))).await;
        let token = issuer
            .token("a")
            .audience(RESOURCE)
            .claim("iss", json!(url))
            .sign();
        let (status, elapsed) = patient_call(http.local_addr(), &token).await;
        assert_eq!(status, 503, "{what}");
        // The refresh gives up after its budget (8 s); nothing waits for the minute.
        assert!(
            elapsed < std::time::Duration::from_secs(30),
            "{what}: {elapsed:?}"
        );
        stop(http).await;
    }
}

#[tokio::test]
async fn oversized_authorization_headers_are_refused_over_the_socket() {
    let issuer = TestIssuer::start().await.unwrap();
    let http = protected(&issuer).await;
    for size in [9 << 10, 64 << 10, 1 << 20] {
        let huge = format!("Bearer {}", "A".repeat(size));
        let reply = call_whoami(&http, &[("authorization", &huge)]).await;
        assert!(
            [400, 401, 413, 431].contains(&reply.status),
            "{size} bytes: {} {}",
            reply.status,
            reply.body
        );
        assert!(
            !reply.body.contains("AAAAAAAA"),
            "{size} bytes: the body repeats the token"
        );
    }
    // The server still serves.
    let good = issuer.token("a").audience(RESOURCE).sign();
    assert_eq!(
        call_whoami(&http, &[("authorization", &bearer(&good))])
            .await
            .status,
        200
    );
    stop(http).await;
}

/// The status of a 2026-07-28 `whoami` call with `token`, waiting up to a minute for it, and
/// how long it took.
async fn patient_call(addr: std::net::SocketAddr, token: &str) -> (u16, std::time::Duration) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let started = std::time::Instant::now();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST /mcp HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\nauthorization: Bearer {token}\r\ncontent-type: application/json\r\naccept: application/json, text/event-stream\r\nmcp-protocol-version: 2026-07-28\r\nmcp-method: tools/call\r\nmcp-name: whoami\r\ncontent-length: {}\r\n\r\n{CALL_WHOAMI}",
        CALL_WHOAMI.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut reply = String::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(60),
        stream.read_to_string(&mut reply),
    )
    .await
    .unwrap()
    .unwrap();
    (reply[9..12].parse().unwrap(), started.elapsed())
}

/// Alice's and Mallory's bearer credentials, and a legacy session Alice opened.
async fn alice_s_session(http: &HttpServer, issuer: &TestIssuer) -> (String, String, String) {
    let alice = bearer(&issuer.token("alice").audience(RESOURCE).sign());
    let mallory = bearer(&issuer.token("mallory").audience(RESOURCE).sign());
    let init = request(
        http.local_addr(),
        "POST",
        "/mcp",
        &[JSON, ACCEPT, ("authorization", &alice)],
        INITIALIZE.as_bytes(),
    )
    .await;
    let session = init.header("mcp-session-id").unwrap().to_owned();
    let initialized = br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    let ack = in_session(http, &alice, &session, initialized).await;
    assert_eq!(ack.status, 202, "{}", ack.body);
    (alice, mallory, session)
}

/// The head of a request in `session` with `credential`, one `name: value` line each.
fn session_head(credential: &str, session: &str) -> String {
    format!(
        "authorization: {credential}\r\nmcp-session-id: {session}\r\nmcp-protocol-version: 2025-11-25\r\n"
    )
}

/// POST `body` in `session` with `credential`.
async fn in_session(http: &HttpServer, credential: &str, session: &str, body: &[u8]) -> Reply {
    let head = session_head(credential, session);
    let mut headers: Vec<(&str, &str)> = head
        .lines()
        .filter_map(|line| line.split_once(": "))
        .collect();
    headers.extend([JSON, ACCEPT]);
    request(http.local_addr(), "POST", "/mcp", &headers, body).await
}

#[tokio::test]
async fn a_legacy_session_serves_only_the_caller_that_opened_it() {
    let issuer = TestIssuer::start().await.unwrap();
    let http = protected_with(
        &issuer,
        HttpConfig {
            session_sleep_after: std::time::Duration::from_millis(250),
            ..HttpConfig::default()
        },
    )
    .await;
    let (alice, mallory, session) = alice_s_session(&http, &issuer).await;
    let call = br#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"whoami","arguments":{}}}"#;
    let own = in_session(&http, &alice, &session, call).await;
    assert!(own.body.contains("alice"), "{}", own.body);
    // Mallory holds a valid token of her own and Alice's session id.
    let reply = in_session(&http, &mallory, &session, call).await;
    assert!(
        reply.body.contains("-31403") && reply.body.contains("belongs to another caller"),
        "{}",
        reply.body
    );
    assert!(!reply.body.contains("alice"), "{}", reply.body);
    // Nor may she open its GET stream (the owner's notifications) or delete it.
    let head = session_head(&mallory, &session);
    let mut headers: Vec<(&str, &str)> = head
        .lines()
        .filter_map(|line| line.split_once(": "))
        .collect();
    headers.push(("accept", "text/event-stream"));
    let addr = http.local_addr();
    for method in ["GET", "DELETE"] {
        let reply = request(addr, method, "/mcp", &headers, b"").await;
        assert_eq!(reply.status, 403, "{method}: {}", reply.body);
        assert!(
            reply.body.contains("belongs to another caller"),
            "{}",
            reply.body
        );
    }
    assert_eq!(http.stats().live_sessions, 1);
    // Asleep, the session is not woken by her either: refused before the SDK sees it.
    crate::hostile::eventually("the session sleeps", || http.stats().asleep_sessions == 1).await;
    let reply = in_session(&http, &mallory, &session, call).await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert!(
        reply.body.contains("-31403") && reply.body.contains("belongs to another caller"),
        "{}",
        reply.body
    );
    assert_eq!(http.stats().asleep_sessions, 1);
    // Its owner wakes it.
    let own = in_session(&http, &alice, &session, call).await;
    assert!(own.body.contains("alice"), "{}", own.body);
    stop(http).await;
}

#[tokio::test]
async fn only_a_session_s_owner_cancels_its_requests() {
    let issuer = TestIssuer::start().await.unwrap();
    let http = protected(&issuer).await;
    let (alice, mallory, session) = alice_s_session(&http, &issuer).await;
    let call = r#"{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"linger","arguments":{}}}"#;
    let head = session_head(&alice, &session);
    let lingering = crate::direct::send_until_dispatched(&http, &head, call).await;
    let cancel =
        br#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":9}}"#;
    // Mallory holds Alice's session id and a valid token of her own: her cancellation is
    // not Alice's.
    in_session(&http, &mallory, &session, cancel).await;
    let early = tokio::time::timeout(
        std::time::Duration::from_millis(300),
        LINGER_CANCELLED.notified(),
    )
    .await;
    assert!(
        early.is_err(),
        "another caller cancelled the session's request"
    );
    let ack = in_session(&http, &alice, &session, cancel).await;
    assert_eq!(ack.status, 202, "{}", ack.body);
    tokio::time::timeout(
        std::time::Duration::from_secs(5),
        LINGER_CANCELLED.notified(),
    )
    .await
    .expect("the owner's cancellation cancels the request");
    drop(lingering);
    stop(http).await;
}

#[tokio::test]
async fn several_issuers_are_trusted_each_with_its_own_keys() {
    let a = TestIssuer::start().await.unwrap();
    let b = TestIssuer::start().await.unwrap();
    let http = serve(
        Auth::new()
            .resource(RESOURCE)
            .jwt(JwtIssuer::new(a.issuer()))
            .jwt(JwtIssuer::new(b.issuer())),
    )
    .await;
    for (issuer, who) in [(&a, "from-a"), (&b, "from-b")] {
        let token = issuer.token(who).audience(RESOURCE).sign();
        let reply = call_whoami(&http, &[("authorization", &bearer(&token))]).await;
        assert_eq!(structured(&reply)["id"], who, "{}", reply.body);
    }
    // A token that names issuer A but is signed with B's key: A's keys do not verify it.
    let forged = b
        .token("mallory")
        .audience(RESOURCE)
        .claim("iss", json!(a.issuer()))
        .sign();
    assert_eq!(
        call_whoami(&http, &[("authorization", &bearer(&forged))])
            .await
            .status,
        401
    );
    // An issuer nobody configured.
    let stranger = TestIssuer::start().await.unwrap();
    let token = stranger.token("x").audience(RESOURCE).sign();
    let reply = call_whoami(&http, &[("authorization", &bearer(&token))]).await;
    assert_eq!(reply.status, 401);
    assert!(reply.body.contains("does not trust"), "{}", reply.body);
    stop(http).await;
}

/// An RFC 7662 introspection endpoint (and a GitHub-like `/user`) on loopback: `good` is
/// active for this server, `elsewhere` is active for another resource, anything else is
/// inactive. It counts the calls and checks the server's client credentials.
async fn introspection_endpoint() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    use axum::routing::{get, post};
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = calls.clone();
    let app = axum::Router::new()
        .route(
            "/introspect",
            post(move |headers: axum::http::HeaderMap, body: String| {
                let counter = counter.clone();
                async move {
                    counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    // Basic base64("mcp-server:s3cret")
                    let basic = headers.get("authorization").and_then(|v| v.to_str().ok());
                    if basic != Some("Basic bWNwLXNlcnZlcjpzM2NyZXQ=") {
                        return (axum::http::StatusCode::UNAUTHORIZED, String::new());
                    }
                    let token = body
                        .split('&')
                        .find_map(|p| p.strip_prefix("token="))
                        .unwrap_or_default()
                        .to_owned();
                    let answer = match token.as_str() {
                        "good" => json!({
                            "active": true, "sub": "svc", "aud": RESOURCE,
                            "scope": "mcp:tools files:read", "iss": "https://idp.example.test",
                            "exp": 4102444800u64,
                        }),
                        "elsewhere" => json!({
                            "active": true, "sub": "svc", "aud": "https://other.example/mcp",
                        }),
                        _ => json!({ "active": false }),
                    };
                    (axum::http::StatusCode::OK, answer.to_string())
                }
            }),
        )
        .route(
            "/user",
            get(|headers: axum::http::HeaderMap| async move {
                match headers.get("authorization").and_then(|v| v.to_str().ok()) {
                    Some("Bearer gho_good") => (
                        axum::http::StatusCode::OK,
                        json!({ "id": 583231, "login": "octocat" }).to_string(),
                    ),
                    _ => (axum::http::StatusCode::UNAUTHORIZED, "{}".to_owned()),
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, calls)
}

#[tokio::test]
async fn opaque_tokens_are_introspected_and_answers_cached() {
    use platform_runtime::auth::Introspection;
    use platform_runtime::config::Secret;
    let (url, calls) = introspection_endpoint().await;
    let http = serve(
        Auth::new().resource(RESOURCE).introspection(
            Introspection::new(format!("{url}/introspect"))
                .client("mcp-server", Secret::new("s3cret".into())),
        ),
    )
    .await;
    let reply = call_whoami(&http, &[("authorization", "Bearer good")]).await;
    let who = structured(&reply);
    assert_eq!(
        (who["id"].as_str(), who["method"].as_str()),
        (Some("svc"), Some("introspection")),
        "{}",
        reply.body
    );
    assert_eq!(who["scopes"], json!(["mcp:tools", "files:read"]));
    // Answered from the cache the second time.
    assert_eq!(
        call_whoami(&http, &[("authorization", "Bearer good")])
            .await
            .status,
        200
    );
    assert_eq!(calls.load(std::sync::atomic::Ordering::Relaxed), 1);
    for token in ["elsewhere", "revoked"] {
        let reply = call_whoami(&http, &[("authorization", &bearer(token))]).await;
        assert_eq!(reply.status, 401, "{token}: {}", reply.body);
    }
    stop(http).await;

    // GitHub: the token is checked with its user API.
    let http = serve(Auth::new().introspection(Introspection::github(Some(&url)))).await;
    let reply = call_whoami(&http, &[("authorization", "Bearer gho_good")]).await;
    assert_eq!(structured(&reply)["id"], "583231", "{}", reply.body);
    assert_eq!(
        call_whoami(&http, &[("authorization", "Bearer gho_bad")])
            .await
            .status,
        401
    );
    stop(http).await;
}

#[tokio::test]
async fn a_trusted_gateway_s_tenant_header_is_read_only_when_configured() {
    let issuer = TestIssuer::start().await.unwrap();
    let token = issuer.token("a").audience(RESOURCE).sign();
    let acme_token = issuer.token("a").audience(RESOURCE).tenant("acme").sign();
    // Not configured: the header means nothing.
    let http = protected(&issuer).await;
    let reply = call_whoami(
        &http,
        &[("authorization", &bearer(&token)), ("x-tenant-id", "acme")],
    )
    .await;
    assert_eq!(structured(&reply)["tenant"], Value::Null, "{}", reply.body);
    stop(http).await;
    // Configured: the header names the tenant; a token's own tenant must agree.
    let http = serve(
        Auth::new()
            .resource(RESOURCE)
            .tenant_header("x-tenant-id")
            .jwt(JwtIssuer::new(issuer.issuer()).tenant_claim("tenant")),
    )
    .await;
    let reply = call_whoami(
        &http,
        &[("authorization", &bearer(&token)), ("x-tenant-id", "acme")],
    )
    .await;
    assert_eq!(structured(&reply)["tenant"], "acme", "{}", reply.body);
    let reply = call_whoami(
        &http,
        &[
            ("authorization", &bearer(&acme_token)),
            ("x-tenant-id", "globex"),
        ],
    )
    .await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    stop(http).await;
}
