//! What a component is, as the layers above see it: its kind, its declared behaviour
//! ([`ComponentInfo`]) and the policies declared on it ([`policy`]). A leaf layer: plain
//! data, naming nothing else in the crate.

pub mod access;
pub mod policy;

use std::sync::Arc;

use access::Access;
use policy::Policies;

/// What kind of component a request targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ComponentKind {
    /// A tool.
    Tool,
    /// A resource or resource template.
    Resource,
    /// A prompt.
    Prompt,
}

/// The matched component's descriptor and policy metadata, as middleware sees it.
#[derive(Debug, Clone)]
pub struct ComponentInfo {
    pub(crate) kind: ComponentKind,
    pub(crate) name: Arc<str>,
    pub(crate) read_only: bool,
    pub(crate) destructive: bool,
    pub(crate) idempotent: bool,
    pub(crate) open_world: bool,
    pub(crate) tags: Vec<String>,
    pub(crate) policies: Policies,
    pub(crate) access: Access,
}

impl ComponentInfo {
    /// The kind of component.
    pub fn kind(&self) -> ComponentKind {
        self.kind
    }
    /// The tool or prompt name, or the resource's URI (template).
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Declared read-only (`readOnlyHint`).
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }
    /// Declared destructive (`destructiveHint`; the protocol default for tools is true
    /// unless the tool is read-only).
    pub fn is_destructive(&self) -> bool {
        self.destructive
    }
    /// Declared idempotent (`idempotentHint`).
    pub fn is_idempotent(&self) -> bool {
        self.idempotent
    }
    /// Declared open-world (`openWorldHint`).
    pub fn is_open_world(&self) -> bool {
        self.open_world
    }
    /// The tags.
    pub fn tags(&self) -> &[String] {
        &self.tags
    }
    /// The declared policies.
    pub fn policies(&self) -> &Policies {
        &self.policies
    }
    /// Who may use it (`#[requires_role]`, `#[requires_scope]`, and what the server, its
    /// mount and the configuration add).
    pub fn access(&self) -> &Access {
        &self.access
    }
}
