//! [`PromptDef`]: a prompt, its arguments (from an object schema) and its handler.

use std::future::Future;
use std::sync::Arc;

use rmcp::model::{JsonObject, Prompt, PromptArgument};
use serde_json::Value;

use super::json_schema::{properties, required_names};
use super::{PromptHandler, StateRequirement};
use crate::ToolError;
use crate::component::access::Access;
use crate::handler::RequestParts;
use crate::model::PromptResult;

/// A prompt: its name, arguments and handler.
#[derive(Clone)]
pub struct PromptDef {
    pub(crate) key: Arc<str>,
    pub(crate) name: String,
    pub(crate) title: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) arguments_schema: JsonObject,
    pub(crate) handler: PromptHandler,
    pub(crate) states: Vec<StateRequirement>,
    pub(crate) access: Access,
    /// The mount prefixes it came through, outermost first (empty: added directly).
    pub(crate) mounted: Vec<String>,
    /// Whether it is listed and served.
    pub(crate) enabled: bool,
}

impl PromptDef {
    /// A prompt whose arguments are described by `arguments_schema` (an object schema; its
    /// properties become the prompt's arguments, `required` marks the required ones).
    pub fn new<F, Fut>(name: impl Into<String>, arguments_schema: JsonObject, handler: F) -> Self
    where
        F: Fn(RequestParts) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<PromptResult, ToolError>> + Send + 'static,
    {
        let name: String = name.into();
        Self {
            key: name.as_str().into(),
            name,
            title: None,
            description: None,
            arguments_schema,
            handler: Arc::new(move |parts| Box::pin(handler(parts))),
            states: Vec::new(),
            access: Access::default(),
            mounted: Vec::new(),
            enabled: true,
        }
    }

    /// Who may use it: the roles and scopes a caller needs (what `#[requires_role]` and
    /// `#[requires_scope]` generate). Added to any requirement already set.
    #[must_use]
    pub fn access(mut self, access: Access) -> Self {
        self.access = self.access.and(&access);
        self
    }

    /// Who may use it.
    pub fn access_rule(&self) -> &Access {
        &self.access
    }

    /// Set the title.
    #[must_use]
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// Set the description.
    #[must_use]
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into()).filter(|d: &String| !d.is_empty());
        self
    }

    /// Declare that the handler takes [`crate::State<T>`].
    #[must_use]
    pub fn require_state<T: Send + Sync + 'static>(mut self) -> Self {
        self.states.push(StateRequirement::of::<T>());
        self
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn arguments(&self) -> Vec<PromptArgument> {
        let required = required_names(&self.arguments_schema);
        properties(&self.arguments_schema)
            .map(|(name, schema)| {
                let mut argument = PromptArgument::new(name.clone())
                    .with_required(required.iter().any(|r| r == name));
                if let Some(description) = schema.get("description").and_then(Value::as_str) {
                    argument = argument.with_description(description);
                }
                argument
            })
            .collect()
    }

    pub(crate) fn as_prompt(&self) -> Prompt {
        let mut prompt = Prompt::new(
            self.name.clone(),
            self.description.clone(),
            Some(self.arguments()).filter(|a| !a.is_empty()),
        );
        prompt.title = self.title.clone();
        prompt
    }

    pub(crate) fn renamed(mut self, name: String) -> Self {
        self.key = name.as_str().into();
        self.name = name;
        self
    }
}

impl std::fmt::Debug for PromptDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PromptDef")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}
