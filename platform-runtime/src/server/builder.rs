use std::collections::HashSet;
use std::sync::{Arc, Mutex, RwLock};

use super::{IntoComponents, Server, ServerInfo, ServerInner};
use crate::handler::extract::StateMap;
use crate::registry::{Components, PromptDef, Registry, ResourceDef, StateRequirement, ToolDef};

/// Builds a [`Server`]: identity, shared state and components; [`ServerBuilder::build`]
/// validates names, duplicates and state requirements.
///
/// ```
/// use platform_runtime::prelude::*;
///
/// /// Add two integers.
/// #[tool]
/// fn add(a: i64, b: i64) -> i64 { a + b }
///
/// let server = Server::builder("calc")
///     .version("1.0.0")
///     .instructions("Use `add` for arithmetic.")
///     .tools(tools![add])
///     .build()?;
/// assert_eq!(server.info().name, "calc");
/// # Ok::<(), platform_runtime::BuildError>(())
/// ```
#[must_use = "a builder does nothing until `.build()`"]
pub struct ServerBuilder {
    info: ServerInfo,
    states: StateMap,
    components: Components,
    page_size: Option<usize>,
    problems: Vec<String>,
}

impl ServerBuilder {
    pub(crate) fn new(name: String) -> Self {
        Self {
            info: ServerInfo::new(name, "0.0.0"),
            states: StateMap::default(),
            components: Components::default(),
            page_size: None,
            problems: Vec::new(),
        }
    }

    /// Set the version announced to clients.
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.info.version = version.into();
        self
    }

    /// Set the human-readable title.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.info.title = Some(title.into());
        self
    }

    /// Set the instructions sent to clients on `initialize` / `server/discover`.
    pub fn instructions(mut self, instructions: impl Into<String>) -> Self {
        self.info.instructions = Some(instructions.into());
        self
    }

    /// Add shared state, available to handlers as [`crate::State<T>`]; one value per type.
    pub fn state<T: Send + Sync + 'static>(mut self, value: T) -> Self {
        self.states.insert(value);
        self
    }

    /// Add tools (see [`crate::tools!`]).
    pub fn tools(mut self, tools: impl IntoIterator<Item = ToolDef>) -> Self {
        self.components.tools.extend(tools);
        self
    }

    /// Add one tool.
    pub fn tool(mut self, tool: ToolDef) -> Self {
        self.components.tools.push(tool);
        self
    }

    /// Add resources and resource templates (see [`crate::resources!`]).
    pub fn resources(mut self, resources: impl IntoIterator<Item = ResourceDef>) -> Self {
        self.components.resources.extend(resources);
        self
    }

    /// Add prompts (see [`crate::prompts!`]).
    pub fn prompts(mut self, prompts: impl IntoIterator<Item = PromptDef>) -> Self {
        self.components.prompts.extend(prompts);
        self
    }

    /// Add every component of a `#[server]` type under its own names.
    pub fn merge<S: IntoComponents>(mut self, server: S) -> Self {
        let Components {
            tools,
            resources,
            prompts,
        } = server.into_components();
        self.components.tools.extend(tools);
        self.components.resources.extend(resources);
        self.components.prompts.extend(prompts);
        self
    }

    /// Mount a `#[server]` type under a prefix: its tools and prompts are renamed
    /// `{prefix}_{name}`; its resource URIs are kept (they are already namespaced by scheme).
    pub fn mount<S: IntoComponents>(mut self, prefix: &str, server: S) -> Self {
        if !valid_name(prefix) {
            self.problems.push(format!(
                "mount prefix `{prefix}` is invalid: use 1-64 characters from A-Z, a-z, 0-9, `_`, `-`, `.`"
            ));
        }
        let Components {
            tools,
            resources,
            prompts,
        } = server.into_components();
        self.components.tools.extend(tools.into_iter().map(|t| {
            let name = format!("{prefix}_{}", t.name());
            t.renamed(name)
        }));
        self.components.resources.extend(resources);
        self.components.prompts.extend(prompts.into_iter().map(|p| {
            let name = format!("{prefix}_{}", p.name());
            p.renamed(name)
        }));
        self
    }

    /// Paginate list results, `size` items per page (default: everything on one page).
    pub fn page_size(mut self, size: usize) -> Self {
        self.page_size = Some(size.max(1));
        self
    }

    /// Validate and build the server.
    pub fn build(self) -> Result<Server, BuildError> {
        let mut problems = self.problems;
        if self.info.name.trim().is_empty() {
            problems.push("the server name is empty".to_owned());
        }
        let components = &self.components;
        let mut seen = HashSet::new();
        for tool in &components.tools {
            if !valid_name(tool.name()) || tool.name().len() > 128 {
                problems.push(format!(
                    "tool name `{}` is invalid: use 1-128 characters from A-Z, a-z, 0-9, `_`, `-`, `.`",
                    tool.name()
                ));
            }
            if !seen.insert(tool.name()) {
                problems.push(format!(
                    "two tools are named `{}`; tool names must be unique",
                    tool.name()
                ));
            }
            check_states(
                &mut problems,
                "tool",
                tool.name(),
                &tool.states,
                &self.states,
            );
        }
        let mut seen = HashSet::new();
        for resource in &components.resources {
            if !seen.insert(resource.uri()) {
                problems.push(format!(
                    "two resources use the URI `{}`; resource URIs must be unique",
                    resource.uri()
                ));
            }
            check_states(
                &mut problems,
                "resource",
                resource.uri(),
                &resource.states,
                &self.states,
            );
        }
        let mut seen = HashSet::new();
        for prompt in &components.prompts {
            if !valid_name(prompt.name()) {
                problems.push(format!(
                    "prompt name `{}` is invalid: use characters from A-Z, a-z, 0-9, `_`, `-`, `.`",
                    prompt.name()
                ));
            }
            if !seen.insert(prompt.name()) {
                problems.push(format!(
                    "two prompts are named `{}`; prompt names must be unique",
                    prompt.name()
                ));
            }
            check_states(
                &mut problems,
                "prompt",
                prompt.name(),
                &prompt.states,
                &self.states,
            );
        }
        if !problems.is_empty() {
            return Err(BuildError { problems });
        }
        Ok(Server {
            inner: Arc::new(ServerInner {
                info: self.info,
                registry: RwLock::new(Arc::new(Registry::new(self.components))),
                states: Arc::new(self.states),
                page_size: self.page_size,
                peers: Mutex::new(Vec::new()),
                listeners: Mutex::new(Vec::new()),
            }),
        })
    }
}

fn check_states(
    problems: &mut Vec<String>,
    kind: &str,
    name: &str,
    required: &[StateRequirement],
    states: &StateMap,
) {
    for requirement in required {
        if !states.contains(requirement.id) {
            problems.push(format!(
                "{kind} `{name}` takes `State<{ty}>` but the builder has no `{ty}`: add `.state(…)` with a `{ty}` value",
                ty = requirement.name
            ));
        }
    }
}

pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// Why a server could not be built: every problem found, one per line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildError {
    problems: Vec<String>,
}

impl BuildError {
    /// The problems found.
    pub fn problems(&self) -> &[String] {
        &self.problems
    }
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the server is not valid:")?;
        for problem in &self.problems {
            write!(f, "\n  - {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for BuildError {}
