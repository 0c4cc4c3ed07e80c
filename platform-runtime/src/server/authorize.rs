//! Authorization decisions: whether the request's caller may see and use a component, by
//! the component's requirements, the server's, and the caller's tenant allow-list. Every
//! decision on a restricted server is an audit event (`target: "platform::audit"`).

use crate::ToolError;
use crate::component::ComponentKind;
use crate::component::access::{Access, Denied, Unauthorized};
use crate::identity::Principal;
use crate::registry::Registry;

/// Why a caller may not use a component.
enum Refusal {
    /// Its tenant's allow-list leaves the component out.
    Tenant,
    /// A requirement fails.
    Access(Denied),
}

fn decide(
    registry: &Registry,
    principal: Option<&Principal>,
    name: &str,
    access: &Access,
) -> Result<(), Refusal> {
    let authorization = &registry.authorization;
    if !authorization.tenant_allows(principal.and_then(Principal::tenant), name) {
        return Err(Refusal::Tenant);
    }
    let caller = principal.map(|p| (p.roles(), p.scopes()));
    authorization
        .server
        .check(caller)
        .map_err(Refusal::Access)?;
    access.check(caller).map_err(Refusal::Access)
}

/// Whether the caller sees the component in a list: everything on an unrestricted server;
/// otherwise what it may use, plus (in `deny` mode) what its requirements refuse it — but
/// never another tenant's components.
pub(crate) fn visible(
    registry: &Registry,
    principal: Option<&Principal>,
    name: &str,
    access: &Access,
) -> bool {
    if !registry.restricted {
        return true;
    }
    match decide(registry, principal, name, access) {
        Ok(()) => true,
        Err(Refusal::Tenant) => false,
        Err(Refusal::Access(_)) => registry.authorization.unauthorized == Unauthorized::Deny,
    }
}

/// Whether the caller may use the component; a [`crate::error::FORBIDDEN`] error saying
/// what it lacks otherwise. Both outcomes are audit events on a restricted server.
pub(crate) fn authorize(
    registry: &Registry,
    principal: Option<&Principal>,
    kind: ComponentKind,
    name: &str,
    access: &Access,
) -> Result<(), ToolError> {
    if !registry.restricted {
        return Ok(());
    }
    let id = principal.map(Principal::id);
    let tenant = principal.and_then(Principal::tenant);
    let kind_name = match kind {
        ComponentKind::Tool => "tool",
        ComponentKind::Resource => "resource",
        ComponentKind::Prompt => "prompt",
    };
    match decide(registry, principal, name, access) {
        Ok(()) => {
            tracing::debug!(
                target: "platform::audit",
                event = "authorization",
                decision = "allow",
                principal = id,
                tenant,
                kind = kind_name,
                component = name,
                "authorized"
            );
            Ok(())
        }
        Err(refusal) => {
            let (reason, error) = match refusal {
                Refusal::Tenant => (
                    "tenant".to_owned(),
                    ToolError::forbidden(format!(
                        "the {kind_name} `{name}` is not available to this caller's tenant"
                    )),
                ),
                Refusal::Access(denied) => {
                    let who = if principal.is_some() {
                        ""
                    } else {
                        " (the request is not authenticated)"
                    };
                    let mut needed = access.clone();
                    needed = needed.and(&registry.authorization.server);
                    (
                        denied.to_string(),
                        ToolError::forbidden(format!("the {kind_name} `{name}` {denied}{who}"))
                            .with_data(serde_json::json!({
                                kind_name: name,
                                "requires": needed.to_json(),
                                "scopes": denied.scopes,
                            })),
                    )
                }
            };
            tracing::info!(
                target: "platform::audit",
                event = "authorization",
                decision = "deny",
                principal = id,
                tenant,
                kind = kind_name,
                component = name,
                reason,
                "authorization refused"
            );
            Err(error)
        }
    }
}

/// Every scope a request for `target` by `method` needs (the component's and the
/// server's), for the HTTP transport's `insufficient_scope` challenge; empty when it needs
/// none or names no component.
pub(crate) fn scopes_for(registry: &Registry, method: &str, target: &str) -> Vec<String> {
    if !registry.restricted {
        return Vec::new();
    }
    let access = match method {
        "tools/call" => registry.tool(target).map(|t| &t.access),
        "prompts/get" => registry.prompt(target).map(|p| &p.access),
        "resources/read" | "resources/subscribe" if registry.limits.check_uri(target).is_ok() => {
            registry.resource(target).map(|(r, _)| &r.access)
        }
        _ => None,
    };
    match access {
        Some(access) => access
            .clone()
            .and(&registry.authorization.server)
            .required_scopes(),
        None => registry.authorization.server.required_scopes(),
    }
}

impl crate::server::Server {
    /// The scopes a request needs (see [`scopes_for`]).
    pub(crate) fn scopes_for(&self, method: &str, target: &str) -> Vec<String> {
        scopes_for(&self.inner.registry(), method, target)
    }

    /// Whether any caller may be refused anything.
    pub(crate) fn is_restricted(&self) -> bool {
        self.inner.registry().restricted
    }
}
