//! Who is calling: the principal (and its tenant) a transport or an authentication
//! middleware established for a request.

use crate::ToolError;
use crate::handler::{FromContext, RequestParts};

/// An authenticated caller.
///
/// Set by the HTTP transport's authentication layer ([`crate::auth`]) from a verified token
/// or API key, by stdio as the local operator, by [`crate::testing::TestClient::connect_as`],
/// or by a middleware with [`crate::middleware::McpRequest::set_principal`]. Rate limits and
/// caches keyed by `principal` or `tenant` use it, `#[requires_role]` and `#[requires_scope]`
/// check it, and handlers take it as a parameter (`#[extract] caller: Principal`).
///
/// Cheap to clone (one reference count): every request of a caller shares it.
#[derive(Clone)]
pub struct Principal {
    inner: std::sync::Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    id: String,
    tenant: Option<String>,
    roles: Vec<String>,
    scopes: Vec<String>,
    method: AuthMethod,
    claims: serde_json::Map<String, serde_json::Value>,
    /// What sealed state is bound to (see [`Principal::binding`]), made on first use.
    binding: std::sync::OnceLock<std::sync::Arc<str>>,
}

impl std::fmt::Debug for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = &self.inner;
        f.debug_struct("Principal")
            .field("id", &inner.id)
            .field("tenant", &inner.tenant)
            .field("roles", &inner.roles)
            .field("scopes", &inner.scopes)
            .field("method", &inner.method)
            .finish_non_exhaustive()
    }
}

impl PartialEq for Principal {
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (&self.inner, &other.inner);
        a.id == b.id
            && a.tenant == b.tenant
            && a.roles == b.roles
            && a.scopes == b.scopes
            && a.method == b.method
            && a.claims == b.claims
    }
}

impl Eq for Principal {}

/// How a [`Principal`] was established.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthMethod {
    /// A signed JWT bearer token, verified against the issuer's keys.
    Jwt {
        /// The token's issuer (`iss`).
        issuer: String,
    },
    /// An opaque bearer token, checked by the issuer's introspection endpoint (RFC 7662)
    /// or a provider's API.
    Introspection {
        /// The issuer or provider that vouched for it.
        issuer: String,
    },
    /// A static API key from the configuration.
    ApiKey,
    /// The local operator of a stdio server.
    Operator,
    /// Given in code: a test client, or a middleware of the application's own.
    Assigned,
}

impl AuthMethod {
    /// The issuer that vouched for the principal, for tokens.
    pub fn issuer(&self) -> Option<&str> {
        match self {
            AuthMethod::Jwt { issuer } | AuthMethod::Introspection { issuer } => Some(issuer),
            _ => None,
        }
    }

    /// A short name: `jwt`, `introspection`, `api_key`, `operator` or `assigned`.
    pub fn as_str(&self) -> &'static str {
        match self {
            AuthMethod::Jwt { .. } => "jwt",
            AuthMethod::Introspection { .. } => "introspection",
            AuthMethod::ApiKey => "api_key",
            AuthMethod::Operator => "operator",
            AuthMethod::Assigned => "assigned",
        }
    }
}

impl Principal {
    /// A principal with the given stable id (a user id, a service account, an API key id),
    /// established in code ([`AuthMethod::Assigned`]).
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            inner: std::sync::Arc::new(Inner {
                id: id.into(),
                tenant: None,
                roles: Vec::new(),
                scopes: Vec::new(),
                method: AuthMethod::Assigned,
                claims: serde_json::Map::new(),
                binding: std::sync::OnceLock::new(),
            }),
        }
    }

    /// Record how the principal was established.
    #[must_use]
    pub fn with_method(mut self, method: AuthMethod) -> Self {
        self.edit().method = method;
        self
    }

    /// Keep the verified token's claims (readable with [`Principal::claim`]).
    #[must_use]
    pub fn with_claims(mut self, claims: serde_json::Map<String, serde_json::Value>) -> Self {
        self.edit().claims = claims;
        self
    }

    /// How the principal was established.
    pub fn method(&self) -> &AuthMethod {
        &self.inner.method
    }

    /// The verified token's claims (empty for API keys, the operator and principals made in
    /// code).
    pub fn claims(&self) -> &serde_json::Map<String, serde_json::Value> {
        &self.inner.claims
    }

    /// One claim, by a dotted path into nested objects (`"realm_access.roles"`).
    pub fn claim(&self, path: &str) -> Option<&serde_json::Value> {
        claim_at(&self.inner.claims, path)
    }

    /// Set the tenant.
    #[must_use]
    pub fn with_tenant(mut self, tenant: impl Into<String>) -> Self {
        self.edit().tenant = Some(tenant.into());
        self
    }

    /// Set the roles.
    #[must_use]
    pub fn with_roles<I: IntoIterator<Item = S>, S: Into<String>>(mut self, roles: I) -> Self {
        self.edit().roles = roles.into_iter().map(Into::into).collect();
        self
    }

    /// Set the scopes.
    #[must_use]
    pub fn with_scopes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scopes: I) -> Self {
        self.edit().scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// The stable id.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// The tenant.
    pub fn tenant(&self) -> Option<&str> {
        self.inner.tenant.as_deref()
    }

    /// The roles.
    pub fn roles(&self) -> &[String] {
        &self.inner.roles
    }

    /// The scopes.
    pub fn scopes(&self) -> &[String] {
        &self.inner.scopes
    }

    /// The fields to change, copied first if the principal is shared; the binding made
    /// from the old ones is dropped.
    fn edit(&mut self) -> &mut Inner {
        let inner = std::sync::Arc::make_mut(&mut self.inner);
        inner.binding = std::sync::OnceLock::new();
        inner
    }

    /// What identifies the caller for state bound to it (sealed multi-round state): how it
    /// was authenticated, by which issuer, its id and its tenant. Made once per principal.
    pub(crate) fn binding(&self) -> std::sync::Arc<str> {
        self.inner
            .binding
            .get_or_init(|| {
                let inner = &self.inner;
                format!(
                    "{}\u{0}{}\u{0}{}\u{0}{}",
                    inner.method.as_str(),
                    inner.method.issuer().unwrap_or_default(),
                    inner.id,
                    inner.tenant.as_deref().unwrap_or_default()
                )
                .into()
            })
            .clone()
    }

    /// Whether the principal has a role.
    pub fn has_role(&self, role: &str) -> bool {
        self.inner.roles.iter().any(|r| r == role)
    }

    /// Whether the principal was granted a scope.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.inner.scopes.iter().any(|s| s == scope)
    }
}

/// The value at a dotted path (`"realm_access.roles"`) in a claims object. A key that itself
/// contains dots (Auth0's namespaced `"https://example.com/roles"`) is found whole first.
pub(crate) fn claim_at<'a>(
    claims: &'a serde_json::Map<String, serde_json::Value>,
    path: &str,
) -> Option<&'a serde_json::Value> {
    if let Some(value) = claims.get(path) {
        return Some(value);
    }
    let (head, rest) = path.split_once('.')?;
    match claims.get(head)? {
        serde_json::Value::Object(inner) => claim_at(inner, rest),
        _ => None,
    }
}

/// The caller's tenant, as a handler parameter (`#[extract] tenant: Tenant`): the tenant of
/// the request's [`Principal`]. A call without one is refused with a tool error, so a
/// handler that takes `Tenant` never runs unscoped.
///
/// ```
/// use platform_runtime::identity::Tenant;
/// use platform_runtime::prelude::*;
///
/// /// This tenant's invoices.
/// #[tool(read_only)]
/// fn invoices(#[extract] tenant: Tenant) -> String {
///     format!("invoices of {}", tenant.as_str())
/// }
/// # let _ = Server::builder("billing").tools(tools![invoices]).build().unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tenant(String);

impl Tenant {
    /// The tenant's id.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The tenant's id, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl std::fmt::Display for Tenant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromContext for Tenant {
    async fn from_context(parts: &RequestParts) -> Result<Self, ToolError> {
        parts
            .extension::<Principal>()
            .and_then(|principal| principal.tenant().map(str::to_owned))
            .map(Tenant)
            .ok_or_else(|| ToolError::new("this tool needs a caller with a tenant"))
    }
}

impl FromContext for Principal {
    async fn from_context(parts: &RequestParts) -> Result<Self, ToolError> {
        parts
            .extension::<Principal>()
            .ok_or_else(|| ToolError::new("this tool needs an authenticated caller"))
    }
}
