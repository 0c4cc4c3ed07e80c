//! Identity-provider presets: where each provider's issuer, keys, roles, scopes and tenant
//! are, so a configuration names the provider and its few coordinates.

use super::introspection::Introspection;
use super::jwt::{ClaimNames, JwtIssuer};

/// A known identity provider (`[auth.jwt] provider = "…"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Provider {
    /// Auth0: issuer `https://{domain}/`; roles from `roles` or the RBAC `permissions`
    /// claim as scopes; the tenant from `org_id` (Organizations).
    Auth0,
    /// Microsoft Entra ID: issuer `https://login.microsoftonline.com/{tenant_id}/v2.0`; app
    /// roles from `roles`, delegated scopes from `scp`, the tenant from `tid`.
    Entra,
    /// Google: issuer `https://accounts.google.com`; no roles; the tenant from `hd` (the
    /// Workspace domain).
    Google,
    /// Okta: issuer `https://{domain}/oauth2/default` (or the authorization server given as
    /// `issuer`); roles from `groups`, scopes from `scp`.
    Okta,
    /// Keycloak: issuer `https://{domain}/realms/{realm}`; roles from
    /// `realm_access.roles`, scopes from `scope`, the tenant from `organization`.
    Keycloak,
    /// WorkOS AuthKit: issuer `https://api.workos.com/user_management/{client_id}`, keys at
    /// `https://api.workos.com/sso/jwks/{client_id}`; the role from `role`, scopes from
    /// `permissions`, the tenant from `org_id`.
    WorkOs,
    /// GitHub: opaque tokens, checked with GitHub's user API; the principal is the user's
    /// numeric id.
    GitHub,
}

/// The coordinates a preset needs.
#[derive(Debug, Clone, Default)]
pub(crate) struct Coordinates {
    pub(crate) issuer: Option<String>,
    pub(crate) domain: Option<String>,
    pub(crate) tenant_id: Option<String>,
    pub(crate) realm: Option<String>,
    pub(crate) client_id: Option<String>,
}

impl Provider {
    /// Every provider, with its configuration name.
    pub const ALL: &'static [(&'static str, Provider)] = &[
        ("auth0", Provider::Auth0),
        ("entra", Provider::Entra),
        ("google", Provider::Google),
        ("okta", Provider::Okta),
        ("keycloak", Provider::Keycloak),
        ("workos", Provider::WorkOs),
        ("github", Provider::GitHub),
    ];

    /// The provider called `name` in configuration.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, p)| *p)
    }

    /// The name used in configuration.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, p)| *p == self)
            .map_or("", |(n, _)| n)
    }

    /// Where the provider puts a principal's parts in its tokens.
    pub fn claims(self) -> ClaimNames {
        let mut names = ClaimNames::default();
        match self {
            Provider::Auth0 => {
                names.scopes = vec!["scope".into(), "permissions".into()];
                names.tenant = Some("org_id".into());
            }
            Provider::Entra => {
                names.scopes = vec!["scp".into()];
                names.tenant = Some("tid".into());
            }
            Provider::Google => {
                names.roles = Vec::new();
                names.tenant = Some("hd".into());
            }
            Provider::Okta => {
                names.roles = vec!["groups".into()];
                names.scopes = vec!["scp".into(), "scope".into()];
            }
            Provider::Keycloak => {
                names.roles = vec!["realm_access.roles".into()];
                names.tenant = Some("organization".into());
            }
            Provider::WorkOs => {
                names.roles = vec!["roles".into(), "role".into()];
                names.scopes = vec!["permissions".into()];
                names.tenant = Some("org_id".into());
            }
            Provider::GitHub => {
                names.subject = "id".into();
                names.roles = Vec::new();
                names.scopes = Vec::new();
            }
        }
        names
    }

    /// The issuer of a JWT provider, from its coordinates.
    pub(crate) fn jwt_issuer(self, at: &Coordinates) -> Result<JwtIssuer, String> {
        let name = self.name();
        let need = |value: &Option<String>, key: &str| {
            value.clone().ok_or_else(|| {
                format!("provider `{name}` needs `auth.jwt.{key}` (or `auth.jwt.issuer`)")
            })
        };
        let issuer = match (self, &at.issuer) {
            (Provider::GitHub, _) => {
                return Err("provider `github` issues opaque tokens, not JWTs: configure it under `[auth.introspection] provider = \"github\"`".into());
            }
            (_, Some(issuer)) => issuer.clone(),
            (Provider::Auth0, None) => format!("https://{}/", need(&at.domain, "domain")?),
            (Provider::Entra, None) => format!(
                "https://login.microsoftonline.com/{}/v2.0",
                need(&at.tenant_id, "tenant_id")?
            ),
            (Provider::Google, None) => "https://accounts.google.com".into(),
            (Provider::Okta, None) => {
                format!("https://{}/oauth2/default", need(&at.domain, "domain")?)
            }
            (Provider::Keycloak, None) => format!(
                "https://{}/realms/{}",
                need(&at.domain, "domain")?,
                need(&at.realm, "realm")?
            ),
            (Provider::WorkOs, None) => format!(
                "https://api.workos.com/user_management/{}",
                need(&at.client_id, "client_id")?
            ),
        };
        let mut jwt = JwtIssuer::new(issuer);
        jwt.claims = self.claims();
        if self == Provider::WorkOs
            && let Some(client_id) = &at.client_id
        {
            jwt.jwks_uri = Some(format!("https://api.workos.com/sso/jwks/{client_id}"));
        }
        Ok(jwt)
    }

    /// The introspection of an opaque-token provider.
    pub(crate) fn introspection(self, api: Option<&str>) -> Result<Introspection, String> {
        match self {
            Provider::GitHub => Ok(Introspection::github(api)),
            other => Err(format!(
                "provider `{}` issues JWTs: configure it under `[auth.jwt]`",
                other.name()
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_derive_their_issuers() {
        let at = Coordinates {
            domain: Some("acme.eu.auth0.com".into()),
            tenant_id: Some("72f988bf".into()),
            realm: Some("staff".into()),
            client_id: Some("client_01".into()),
            issuer: None,
        };
        let issuer = |p: Provider| p.jwt_issuer(&at).unwrap().issuer;
        assert_eq!(issuer(Provider::Auth0), "https://acme.eu.auth0.com/");
        assert_eq!(
            issuer(Provider::Entra),
            "https://login.microsoftonline.com/72f988bf/v2.0"
        );
        assert_eq!(issuer(Provider::Google), "https://accounts.google.com");
        assert_eq!(
            issuer(Provider::Okta),
            "https://acme.eu.auth0.com/oauth2/default"
        );
        assert_eq!(
            issuer(Provider::Keycloak),
            "https://acme.eu.auth0.com/realms/staff"
        );
        let workos = Provider::WorkOs.jwt_issuer(&at).unwrap();
        assert_eq!(
            workos.jwks_uri.as_deref(),
            Some("https://api.workos.com/sso/jwks/client_01")
        );
        assert_eq!(
            Provider::Keycloak.claims().roles,
            ["realm_access.roles".to_owned()]
        );
        let missing = Provider::Entra
            .jwt_issuer(&Coordinates::default())
            .unwrap_err();
        assert!(missing.contains("auth.jwt.tenant_id"), "{missing}");
        assert!(Provider::GitHub.jwt_issuer(&at).is_err());
        assert_eq!(Provider::from_name("WorkOS"), Some(Provider::WorkOs));
    }
}
