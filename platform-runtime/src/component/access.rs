//! Who may use a component: the roles and scopes `#[requires_role]` and `#[requires_scope]`
//! declare (and the server, a mount or the configuration add), as plain data. The check
//! takes the caller's roles and scopes; the router applies it to every list and call.

/// One requirement.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Requirement {
    /// At least one of these roles (`#[requires_role("ops")]`,
    /// `#[requires_role(any("ops", "admin"))]`).
    AnyRole(Vec<String>),
    /// Every one of these roles (`#[requires_role(all("ops", "billing"))]`).
    AllRoles(Vec<String>),
    /// Every one of these scopes (`#[requires_scope("files:read")]`).
    Scopes(Vec<String>),
}

/// What a component requires of its caller: every requirement must hold. Empty: anyone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Access {
    requirements: Vec<Requirement>,
}

/// Why a caller may not use a component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    /// The requirement that failed.
    pub requirement: Requirement,
    /// The scopes the component needs in all (for an `insufficient_scope` challenge).
    pub scopes: Vec<String>,
}

impl std::fmt::Display for Denied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list = |items: &[String]| {
            items
                .iter()
                .map(|i| format!("`{i}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match &self.requirement {
            Requirement::AnyRole(roles) if roles.len() == 1 => {
                write!(f, "needs the role {}", list(roles))
            }
            Requirement::AnyRole(roles) => write!(f, "needs one of the roles {}", list(roles)),
            Requirement::AllRoles(roles) => write!(f, "needs all of the roles {}", list(roles)),
            Requirement::Scopes(_) => write!(f, "needs the scopes {}", list(&self.scopes)),
        }
    }
}

impl Access {
    /// Anyone may use it.
    pub fn anyone() -> Self {
        Self::default()
    }

    /// Require one of `roles`.
    #[must_use]
    pub fn any_role<I: IntoIterator<Item = S>, S: Into<String>>(self, roles: I) -> Self {
        self.with(Requirement::AnyRole(
            roles.into_iter().map(Into::into).collect(),
        ))
    }

    /// Require all of `roles`.
    #[must_use]
    pub fn all_roles<I: IntoIterator<Item = S>, S: Into<String>>(self, roles: I) -> Self {
        self.with(Requirement::AllRoles(
            roles.into_iter().map(Into::into).collect(),
        ))
    }

    /// Require all of `scopes`.
    #[must_use]
    pub fn scopes<I: IntoIterator<Item = S>, S: Into<String>>(self, scopes: I) -> Self {
        self.with(Requirement::Scopes(
            scopes.into_iter().map(Into::into).collect(),
        ))
    }

    /// Add a requirement (an empty list requires nothing and is dropped).
    #[must_use]
    pub fn with(mut self, requirement: Requirement) -> Self {
        let empty = match &requirement {
            Requirement::AnyRole(items)
            | Requirement::AllRoles(items)
            | Requirement::Scopes(items) => items.is_empty(),
        };
        if !empty && !self.requirements.contains(&requirement) {
            self.requirements.push(requirement);
        }
        self
    }

    /// Both this and `other`.
    #[must_use]
    pub fn and(mut self, other: &Access) -> Self {
        for requirement in &other.requirements {
            self = self.with(requirement.clone());
        }
        self
    }

    /// Whether anyone may use it.
    pub fn is_open(&self) -> bool {
        self.requirements.is_empty()
    }

    /// The requirements.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// Every scope required.
    pub fn required_scopes(&self) -> Vec<String> {
        let mut scopes: Vec<String> = Vec::new();
        for requirement in &self.requirements {
            if let Requirement::Scopes(items) = requirement {
                for scope in items {
                    if !scopes.contains(scope) {
                        scopes.push(scope.clone());
                    }
                }
            }
        }
        scopes
    }

    /// Check a caller with these roles and scopes (none: an anonymous caller, who passes only
    /// an open component).
    pub fn check(&self, caller: Option<(&[String], &[String])>) -> Result<(), Denied> {
        let (roles, scopes) = caller.unwrap_or((&[], &[]));
        let has = |set: &[String], item: &String| set.iter().any(|s| s == item);
        for requirement in &self.requirements {
            let ok = match requirement {
                Requirement::AnyRole(wanted) => wanted.iter().any(|r| has(roles, r)),
                Requirement::AllRoles(wanted) => wanted.iter().all(|r| has(roles, r)),
                Requirement::Scopes(wanted) => wanted.iter().all(|s| has(scopes, s)),
            };
            if !ok {
                return Err(Denied {
                    requirement: requirement.clone(),
                    scopes: self.required_scopes(),
                });
            }
        }
        Ok(())
    }

    /// As JSON for the manifest: `{"any_role": [...], "all_roles": [...], "scopes": [...]}`
    /// (each key once per requirement, in a list).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Array(
            self.requirements
                .iter()
                .map(|r| match r {
                    Requirement::AnyRole(items) => serde_json::json!({ "any_role": items }),
                    Requirement::AllRoles(items) => serde_json::json!({ "all_roles": items }),
                    Requirement::Scopes(items) => serde_json::json!({ "scopes": items }),
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn every_requirement_must_hold() {
        let access = Access::anyone()
            .any_role(["ops", "admin"])
            .scopes(["files:read"]);
        let (ops, read) = (strings(&["ops"]), strings(&["files:read"]));
        assert!(access.check(Some((&ops, &read))).is_ok());
        let denied = access.check(Some((&ops, &[]))).unwrap_err();
        assert_eq!(denied.to_string(), "needs the scopes `files:read`");
        let denied = access.check(Some((&[], &read))).unwrap_err();
        assert_eq!(denied.to_string(), "needs one of the roles `ops`, `admin`");
        assert!(access.check(None).is_err());
        let all = Access::anyone().all_roles(["ops", "billing"]);
        assert!(all.check(Some((&ops, &[]))).is_err());
        assert!(
            all.check(Some((&strings(&["billing", "ops"]), &[])))
                .is_ok()
        );
        assert!(Access::anyone().check(None).is_ok());
        assert!(Access::anyone().any_role(Vec::<String>::new()).is_open());
    }
}

/// Typed role names: implemented by `#[derive(Roles)]` on an enum of unit variants, so
/// `#[requires_role(Role::Ops)]` names a role the compiler knows (a misspelt variant does not
/// compile).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a role enum",
    label = "`#[requires_role]` takes strings or variants of a `#[derive(Roles)]` enum",
    note = "add `#[derive(Roles)]` to the enum, or write the role as a string"
)]
pub trait Roles: Sized + 'static {
    /// The role's name, as tokens and principals carry it (`Role::BillingAdmin` →
    /// `"billing_admin"` unless renamed with `#[role(name = "…")]`).
    fn name(&self) -> &'static str;
    /// Every role of the enum.
    fn all() -> &'static [Self];
}

/// What a caller without access sees of a component (`[auth] unauthorized`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Unauthorized {
    /// Left out of every list; a direct call is refused (the default).
    #[default]
    Hide,
    /// Listed; a call is refused.
    Deny,
}

/// The server's authorization settings: requirements for every component, what a caller
/// without access sees, and per-tenant allow-lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Authorization {
    /// Required of every component's caller, besides the component's own.
    pub server: Access,
    /// Hide or deny.
    pub unauthorized: Unauthorized,
    /// Per tenant, the names (tools, prompts) and URIs it may use; a trailing `*` matches a
    /// prefix. `"*"` applies to every tenant not listed.
    pub tenants: std::collections::BTreeMap<String, Vec<String>>,
}

/// The most patterns in one tenant's allow-list.
pub const MAX_TENANT_PATTERNS: usize = 1024;

impl Authorization {
    /// Whether nothing is restricted server-wide.
    pub fn is_open(&self) -> bool {
        self.server.is_open() && self.tenants.is_empty()
    }

    /// Whether a caller of `tenant` may use the component `name` (a tool or prompt name,
    /// or a resource URI or template). Linear in the tenant's patterns.
    pub fn tenant_allows(&self, tenant: Option<&str>, name: &str) -> bool {
        if self.tenants.is_empty() {
            return true;
        }
        let patterns = tenant
            .and_then(|t| self.tenants.get(t))
            .or_else(|| self.tenants.get("*"));
        match patterns {
            None => true,
            Some(patterns) => patterns.iter().any(|p| match p.strip_suffix('*') {
                Some(prefix) => name.starts_with(prefix),
                None => p == name,
            }),
        }
    }

    /// Check the settings: allow-lists bounded and free of empty patterns.
    pub fn validate(&self) -> Result<(), String> {
        for (tenant, patterns) in &self.tenants {
            if patterns.len() > MAX_TENANT_PATTERNS {
                return Err(format!(
                    "tenant `{tenant}` has {} allow-list entries; at most {MAX_TENANT_PATTERNS}",
                    patterns.len()
                ));
            }
            if patterns.iter().any(String::is_empty) {
                return Err(format!("tenant `{tenant}` has an empty allow-list entry"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tenant_tests {
    use super::*;

    #[test]
    fn tenants_see_only_their_allow_list() {
        let mut authorization = Authorization::default();
        assert!(authorization.tenant_allows(Some("acme"), "anything"));
        authorization
            .tenants
            .insert("acme".into(), vec!["weather_*".into(), "invoice".into()]);
        assert!(authorization.tenant_allows(Some("acme"), "weather_current"));
        assert!(authorization.tenant_allows(Some("acme"), "invoice"));
        assert!(!authorization.tenant_allows(Some("acme"), "invoices"));
        assert!(!authorization.tenant_allows(Some("acme"), "billing_refund"));
        // Tenants not listed are unrestricted, unless `*` restricts them.
        assert!(authorization.tenant_allows(Some("globex"), "billing_refund"));
        authorization.tenants.insert("*".into(), vec![]);
        assert!(!authorization.tenant_allows(Some("globex"), "billing_refund"));
        assert!(!authorization.tenant_allows(None, "billing_refund"));
    }
}
