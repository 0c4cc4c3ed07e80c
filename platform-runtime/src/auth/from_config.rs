//! [`Auth`] from `[auth]`.

use super::provider::{Coordinates, Provider};
use super::{ApiKey, Auth, Introspection, JwtIssuer};
use crate::config::{Config, JwtSection};

impl Auth {
    /// The authentication `[auth]` describes for HTTP; `None` when it configures no issuer,
    /// API key or introspection. Errors name the key.
    pub fn from_config(config: &Config) -> Result<Option<Auth>, String> {
        let section = &config.auth;
        let mut auth = Auth::new();
        if let Some(resource) = &section.resource {
            auth = auth.resource(resource.clone());
        }
        if let Some(name) = &section.resource_name {
            auth = auth.resource_name(name.clone());
        }
        auth = auth
            .scopes_supported(section.scopes_supported.iter().cloned())
            .required_scopes(section.required_scopes.iter().cloned());
        if let Some(header) = &section.tenant_header {
            auth = auth.tenant_header(header.clone());
        }
        if let Some(max) = section.max_token_bytes {
            auth = auth.max_token_bytes(max);
        }
        if let Some(jwt) = &section.jwt {
            auth = auth.jwt(issuer(jwt, "auth.jwt")?);
        }
        for (i, jwt) in section.issuers.iter().enumerate() {
            auth = auth.jwt(issuer(jwt, &format!("auth.issuers[{i}]"))?);
        }
        for key in &section.api_keys {
            let mut api_key = ApiKey::new(key.id.clone(), key.sha256.clone())
                .roles(key.roles.iter().cloned())
                .scopes(key.scopes.iter().cloned());
            if let Some(tenant) = &key.tenant {
                api_key = api_key.tenant(tenant.clone());
            }
            auth = auth.api_key(api_key);
        }
        if let Some(section) = &section.introspection {
            let mut introspection = match section.provider.as_deref() {
                Some(name) => Provider::from_name(name)
                    .ok_or_else(|| unknown_provider(name, "auth.introspection.provider"))?
                    .introspection(section.endpoint.as_deref())?,
                None => Introspection::new(section.endpoint.clone().ok_or(
                    "`auth.introspection` needs `endpoint` (the RFC 7662 introspection URL)",
                )?),
            };
            if let Some(id) = &section.client_id {
                let secret = config
                    .introspection_secret()
                    .map_err(|e| e.to_string())?
                    .ok_or("`auth.introspection.client_id` needs `client_secret` (or `client_secret_file`)")?;
                introspection = introspection.client(id.clone(), secret);
            }
            if let Some(issuer) = &section.issuer {
                introspection.issuer = Some(issuer.clone());
            }
            if let Some(ttl) = section.cache_ttl {
                introspection = introspection.cache_ttl(ttl.0);
            }
            let mut claims = introspection.claims.clone();
            if let Some(path) = &section.roles_claim {
                claims.roles = vec![path.clone()];
            }
            if let Some(path) = &section.scopes_claim {
                claims.scopes = vec![path.clone()];
            }
            if let Some(path) = &section.tenant_claim {
                claims.tenant = Some(path.clone());
            }
            auth = auth.introspection(introspection.claims(claims));
        }
        Ok(auth.is_enabled().then_some(auth))
    }
}

fn unknown_provider(name: &str, key: &str) -> String {
    let names: Vec<&str> = Provider::ALL.iter().map(|(n, _)| *n).collect();
    format!(
        "`{key}` is `{name}`, which is not a known provider; use one of {}",
        names.join(", ")
    )
}

fn issuer(section: &JwtSection, key: &str) -> Result<JwtIssuer, String> {
    let mut issuer = match section.provider.as_deref() {
        Some(name) => {
            let provider = Provider::from_name(name)
                .ok_or_else(|| unknown_provider(name, &format!("{key}.provider")))?;
            provider.jwt_issuer(&Coordinates {
                issuer: section.issuer.clone(),
                domain: section.domain.clone(),
                tenant_id: section.tenant_id.clone(),
                realm: section.realm.clone(),
                client_id: section.client_id.clone(),
            })?
        }
        None => {
            for (name, value) in [
                ("domain", &section.domain),
                ("tenant_id", &section.tenant_id),
                ("realm", &section.realm),
                ("client_id", &section.client_id),
            ] {
                if value.is_some() {
                    return Err(format!(
                        "`{key}.{name}` is used only with a `provider`; set `{key}.provider`, or give `{key}.issuer` alone"
                    ));
                }
            }
            JwtIssuer::new(
                section
                    .issuer
                    .clone()
                    .ok_or_else(|| format!("`{key}` needs `issuer` (or a `provider`)"))?,
            )
        }
    };
    for audience in &section.audience {
        issuer = issuer.audience(audience.clone());
    }
    if !section.algorithms.is_empty() {
        let mut algorithms = Vec::new();
        for name in &section.algorithms {
            let alg: jsonwebtoken::Algorithm = name
                .parse()
                .map_err(|_| format!("`{key}.algorithms`: `{name}` is not a JWT algorithm"))?;
            algorithms.push(alg);
        }
        issuer = issuer.algorithms(algorithms);
    }
    if let Some(uri) = &section.jwks_uri {
        issuer = issuer.jwks_uri(uri.clone());
    }
    if let Some(path) = &section.roles_claim {
        issuer = issuer.roles_claim(path.clone());
    }
    if let Some(path) = &section.scopes_claim {
        issuer = issuer.scopes_claim(path.clone());
    }
    if let Some(path) = &section.tenant_claim {
        issuer = issuer.tenant_claim(path.clone());
    }
    if let Some(path) = &section.subject_claim {
        issuer = issuer.subject_claim(path.clone());
    }
    issuer = issuer.leeway(section.leeway.map_or(super::DEFAULT_LEEWAY, |l| l.0));
    if let Some(ttl) = section.cache_ttl {
        issuer = issuer.cache_ttl(ttl.0);
    }
    Ok(issuer)
}

#[cfg(test)]
mod tests {
    use crate::config::tests::{dir, source};

    #[test]
    fn the_simplest_auth_configuration_comes_from_two_environment_variables() {
        let config = source(&dir(&[]), "PTEST_JWT_")
            .environment([
                ("PTEST_JWT_TRANSPORT__KIND", "http"),
                (
                    "PTEST_JWT_AUTH__JWT__ISSUER",
                    "https://idp.example.com/realms/acme",
                ),
                (
                    "PTEST_JWT_AUTH__JWT__AUDIENCE",
                    "https://mcp.example.com/mcp",
                ),
            ])
            .load()
            .unwrap();
        let jwt = config.auth.jwt.as_ref().unwrap();
        assert_eq!(
            jwt.issuer.as_deref(),
            Some("https://idp.example.com/realms/acme")
        );
        assert_eq!(jwt.audience, ["https://mcp.example.com/mcp"]);
        let auth = super::super::Auth::from_config(&config)
            .unwrap()
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(auth.resource(), Some("https://mcp.example.com/mcp"));
        // A list of audiences is accepted too.
        let d = dir(&[(
            "platform.toml",
            "[transport]\nkind = \"http\"\n[auth.jwt]\nprovider = \"keycloak\"\ndomain = \"kc.example.com\"\nrealm = \"acme\"\naudience = [\"https://a.example/mcp\", \"https://b.example/mcp\"]\nleeway = \"10s\"\n",
        )]);
        let config = source(&d, "PTEST_JWT2_").load().unwrap();
        assert_eq!(config.auth.jwt.as_ref().unwrap().audience.len(), 2);
        assert!(super::super::Auth::from_config(&config).unwrap().is_some());
    }

    #[test]
    fn auth_keys_apply_to_their_transport_only() {
        let d = dir(&[(
            "platform.toml",
            "[auth.jwt]\nissuer = \"https://idp.example.com\"\naudience = \"https://mcp.example.com/mcp\"\n",
        )]);
        let error = source(&d, "PTEST_AUTHSTDIO_")
            .load()
            .unwrap_err()
            .to_string();
        assert!(error.contains("`auth.jwt`"), "{error}");
        assert!(error.contains("only to the http transport"), "{error}");
        let d = dir(&[("platform.toml", "[auth.operator]\nroles = [\"admin\"]\n")]);
        let stdio = source(&d, "PTEST_OPERATOR_").load().unwrap();
        let operator = super::super::operator(&stdio.auth);
        assert_eq!(
            (operator.id(), operator.roles()),
            ("operator", &["admin".to_owned()][..])
        );
        let error = source(&d, "PTEST_OPERATOR2_")
            .set("transport.kind", "http")
            .load()
            .unwrap_err()
            .to_string();
        assert!(error.contains("only to the stdio transport"), "{error}");
        let d = dir(&[("platform.toml", "[auth]\nunauthorized = \"ignore\"\n")]);
        let error = source(&d, "PTEST_UNAUTH_").load().unwrap_err().to_string();
        assert!(error.contains("`auth.unauthorized` is `ignore`"), "{error}");
    }

    #[test]
    fn a_provider_without_its_coordinates_is_refused_by_name() {
        let d = dir(&[(
            "platform.toml",
            "[transport]\nkind = \"http\"\n[auth.jwt]\nprovider = \"entra\"\naudience = \"api://mcp\"\n",
        )]);
        let config = source(&d, "PTEST_PROVIDER_").load().unwrap();
        let error = super::super::Auth::from_config(&config).unwrap_err();
        assert!(error.contains("auth.jwt.tenant_id"), "{error}");
        let d = dir(&[(
            "platform.toml",
            "[transport]\nkind = \"http\"\n[auth.jwt]\nprovider = \"authzero\"\n",
        )]);
        let config = source(&d, "PTEST_PROVIDER2_").load().unwrap();
        let error = super::super::Auth::from_config(&config).unwrap_err();
        assert!(error.contains("not a known provider"), "{error}");
    }
}
