//! Who is calling: the principal (and its tenant) a transport or an authentication
//! middleware established for a request.

use crate::ToolError;
use crate::handler::{FromContext, RequestParts};

/// An authenticated caller.
///
/// Set by an authentication middleware with [`crate::middleware::McpRequest::set_principal`];
/// rate limits and caches keyed by `principal` or `tenant` use it, and handlers take it as a
/// parameter (`#[extract] caller: Principal`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    id: String,
    tenant: Option<String>,
    roles: Vec<String>,
    scopes: Vec<String>,
}

impl Principal {
    /// A principal with the given stable id (a user id, a service account, an API key id).
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            tenant: None,
            roles: Vec::new(),
            scopes: Vec::new(),
        }
    }

    /// Set the tenant.
    #[must_use]
    pub fn with_tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// Set the roles.
    #[must_use]
    pub fn with_roles<I: IntoIterator<Item = S>, S: Into<String>>(mut self, roles: I) -> Self {
        self.roles = roles.into_iter().map(Into::into).collect();
        self
    }

    /// Set the scopes.
    #[must_use]
    pub fn with_scopes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scopes: I) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// The stable id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The tenant.
    pub fn tenant(&self) -> Option<&str> {
        self.tenant.as_deref()
    }

    /// The roles.
    pub fn roles(&self) -> &[String] {
        &self.roles
    }

    /// The scopes.
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    /// Whether the principal has a role.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// Whether the principal was granted a scope.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
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
            .and_then(|principal| principal.tenant)
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
