//! Multi-round results (protocol 2026-07-28): what a tool, prompt or resource returns when it
//! needs input from the client before it can finish.

use rmcp::model::{InputRequest, InputRequiredResult};
use serde_json::{Value, json};

use crate::ToolError;

/// A multi-round result (protocol 2026-07-28): the tool needs input from the client
/// (elicitation, sampling, roots) before it can finish, and the client retries the call with
/// the answers.
#[derive(Debug, Clone)]
pub struct InputRequired {
    pub(crate) result: InputRequiredResult,
    /// Why a request added with the builder is not a valid MCP request, if one is not: the
    /// result then becomes an internal error instead of reaching the client.
    pub(crate) invalid: Option<String>,
}

impl InputRequired {
    /// Wrap a result built with the MCP SDK's model types.
    pub fn from_sdk(result: InputRequiredResult) -> Self {
        Self {
            result,
            invalid: None,
        }
    }

    /// Ask the client only to echo the given opaque state on its retry.
    pub fn with_request_state(state: impl Into<String>) -> Self {
        Self::from_sdk(InputRequiredResult::from_request_state(state))
    }

    /// The wire result, or an internal error (logged in full, masked for the client) when
    /// the builder was given a request the protocol cannot carry.
    pub(crate) fn into_result(self) -> Result<InputRequiredResult, ToolError> {
        match self.invalid {
            None => Ok(self.result),
            Some(problem) => Err(ToolError::internal(problem)),
        }
    }
}

impl InputRequired {
    /// A multi-round result with no requests yet; add them with the builder methods.
    pub fn new() -> Self {
        Self::from_sdk(InputRequiredResult::new(Some(Default::default()), None))
    }

    /// Add `method(params)` under `key`; a request the protocol cannot carry (an elicitation
    /// schema that is not a flat object of primitive properties, say) marks the result
    /// invalid, which surfaces as an internal error naming the key.
    fn with_request(mut self, key: &str, method: &str, params: Value) -> Self {
        if self.invalid.is_some() {
            return self;
        }
        let request = json!({ "method": method, "params": params });
        match serde_json::from_value::<InputRequest>(request) {
            Ok(request) => {
                self.result
                    .input_requests
                    .get_or_insert_with(Default::default)
                    .insert(key.to_owned(), request);
            }
            Err(error) => {
                self.invalid = Some(format!(
                    "the input request `{key}` ({method}) is not a valid MCP request: {error}"
                ));
            }
        }
        self
    }

    /// Ask the user, through the client, for input matching `schema` (form elicitation):
    /// an object schema whose `properties` are strings, numbers, booleans or enums, as the
    /// protocol requires. Any other schema makes the result an internal error naming `key`.
    #[must_use]
    pub fn elicit(self, key: &str, message: &str, schema: Value) -> Self {
        self.with_request(
            key,
            "elicitation/create",
            json!({ "message": message, "requestedSchema": schema }),
        )
    }

    /// Ask the client's model to answer `prompt`.
    #[must_use]
    pub fn sample(self, key: &str, prompt: &str, max_tokens: u32) -> Self {
        self.with_request(
            key,
            "sampling/createMessage",
            json!({
                "messages": [{ "role": "user", "content": { "type": "text", "text": prompt } }],
                "maxTokens": max_tokens
            }),
        )
    }

    /// Ask the client for its roots.
    #[must_use]
    pub fn list_roots(self, key: &str) -> Self {
        self.with_request(key, "roots/list", json!({}))
    }

    /// Ask the client to echo `state` on its retry (seal it with
    /// [`crate::Context::seal_state`] if it matters).
    #[must_use]
    pub fn state(mut self, state: impl Into<String>) -> Self {
        self.result.request_state = Some(state.into());
        self
    }
}

impl Default for InputRequired {
    fn default() -> Self {
        Self::new()
    }
}
