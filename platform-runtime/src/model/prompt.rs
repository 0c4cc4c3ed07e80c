//! Prompt messages ([`PromptMessage`], [`Role`]) and prompt results ([`PromptResult`]).

use rmcp::model::{GetPromptResult, Role as WireRole};

use super::Content;

/// Who speaks a [`PromptMessage`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The user.
    User,
    /// The assistant.
    Assistant,
}

/// One message of a prompt.
///
/// ```
/// use platform_runtime::model::{PromptMessage, Role};
///
/// let messages = vec![
///     PromptMessage::user("Summarise the alerts for Lisbon."),
///     PromptMessage::assistant("Here is the summary:"),
/// ];
/// assert_eq!(messages[0].role(), Role::User);
/// assert_eq!(messages[1].text(), Some("Here is the summary:"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct PromptMessage {
    role: Role,
    content: Content,
}

impl PromptMessage {
    /// A message with the given role and content block.
    pub fn new(role: Role, content: Content) -> Self {
        Self { role, content }
    }

    /// A text message from the user.
    pub fn user(text: impl Into<String>) -> Self {
        Self::new(Role::User, Content::text(text))
    }

    /// A text message from the assistant.
    pub fn assistant(text: impl Into<String>) -> Self {
        Self::new(Role::Assistant, Content::text(text))
    }

    /// The speaker.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The content block.
    pub fn content(&self) -> &Content {
        &self.content
    }

    /// The text, when the content is a text block.
    pub fn text(&self) -> Option<&str> {
        self.content.as_text()
    }

    pub(crate) fn into_wire(self) -> rmcp::model::PromptMessage {
        let role = match self.role {
            Role::User => WireRole::User,
            Role::Assistant => WireRole::Assistant,
        };
        rmcp::model::PromptMessage::new(role, self.content.0)
    }

    pub(crate) fn from_wire(message: rmcp::model::PromptMessage) -> Self {
        let role = match message.role {
            WireRole::User => Role::User,
            WireRole::Assistant => Role::Assistant,
        };
        Self {
            role,
            content: Content(message.content),
        }
    }
}

/// A rendered prompt: its messages and an optional description.
#[derive(Debug, Clone, Default)]
pub struct PromptResult {
    description: Option<String>,
    messages: Vec<PromptMessage>,
    /// Set when the prompt needs client input first (2026-07-28 multi-round).
    pub(crate) input_required: Option<super::InputRequired>,
}

impl PromptResult {
    /// A prompt result with the given messages.
    pub fn new(messages: Vec<PromptMessage>) -> Self {
        Self {
            description: None,
            messages,
            input_required: None,
        }
    }

    /// A result that asks the client for input first (protocol 2026-07-28): the client
    /// answers and gets the prompt again, with the answers in the prompt's
    /// [`crate::Context::input_response`].
    pub fn input_required(input: super::InputRequired) -> Self {
        let mut result = Self::new(Vec::new());
        result.input_required = Some(input);
        result
    }

    /// Set the description sent with the messages.
    #[must_use]
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// The messages.
    pub fn messages(&self) -> &[PromptMessage] {
        &self.messages
    }

    /// The text of every text message, joined with newlines: for the common prompt that
    /// renders one message, that message's text.
    pub fn text(&self) -> String {
        self.messages
            .iter()
            .filter_map(PromptMessage::text)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The description.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// Every message's content block, to rewrite in place (a mount's resource links).
    pub(crate) fn blocks_mut(&mut self) -> impl Iterator<Item = &mut rmcp::model::ContentBlock> {
        self.messages.iter_mut().map(|m| &mut m.content.0)
    }

    pub(crate) fn into_wire(self) -> GetPromptResult {
        let result = GetPromptResult::new(
            self.messages
                .into_iter()
                .map(PromptMessage::into_wire)
                .collect(),
        );
        match self.description {
            Some(description) => result.with_description(description),
            None => result,
        }
    }

    pub(crate) fn from_wire(result: GetPromptResult) -> Self {
        Self {
            description: result.description,
            messages: result
                .messages
                .into_iter()
                .map(PromptMessage::from_wire)
                .collect(),
            input_required: None,
        }
    }
}
