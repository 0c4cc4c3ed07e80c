//! Multi-round requests (protocol 2026-07-28): a tool, prompt or resource answers
//! [`InputRequired`] — elicitation, sampling or roots requests the client fulfils — and the
//! client retries with the answers. State carried across rounds is sealed: an HMAC binds it
//! to the component and an expiry, so a client cannot forge or replay it elsewhere.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use rmcp::model::{InputRequest, InputRequiredResult};

use super::output::InputRequired;
use crate::ToolError;

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

type HmacSha256 = Hmac<Sha256>;

/// The process's sealing key: random, so sealed state does not survive a restart (a later
/// issue shares a configured key between replicas).
fn key() -> &'static [u8; 32] {
    static KEY: OnceLock<[u8; 32]> = OnceLock::new();
    KEY.get_or_init(|| {
        let mut key = [0u8; 32];
        if getrandom::fill(&mut key).is_err() {
            // No OS randomness: fall back to hashing time and address, still unpredictable
            // enough per process that a client cannot guess it.
            let seed = format!("{:?}{:p}", SystemTime::now(), &key);
            key.copy_from_slice(&<Sha256 as sha2::Digest>::digest(seed.as_bytes())[..32]);
        }
        key
    })
}

/// The process key's HMAC over `payload`, ready to finalize (sealing) or verify (opening).
fn mac(payload: &str) -> HmacSha256 {
    let Ok(mut mac) = <HmacSha256 as KeyInit>::new_from_slice(key()) else {
        unreachable!("HMAC accepts any key length")
    };
    mac.update(payload.as_bytes());
    mac
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Seal `data` for `component`, valid for `ttl_secs`.
pub(crate) fn seal(component: &str, data: &Value, ttl_secs: u64) -> String {
    seal_until(component, data, now().saturating_add(ttl_secs))
}

/// Seal `data` for `component`, valid until `expiry` (seconds since the Unix epoch).
fn seal_until(component: &str, data: &Value, expiry: u64) -> String {
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let payload = engine.encode(json!({ "c": component, "e": expiry, "d": data }).to_string());
    let signature = engine.encode(mac(&payload).finalize().into_bytes());
    format!("{payload}.{signature}")
}

/// Open state sealed by [`seal`] for `component`; any change, another component or an
/// expired state is an invalid-params error.
pub(crate) fn open(component: &str, sealed: &str) -> Result<Value, ToolError> {
    let fail = || {
        ToolError::invalid_params(
            "the request state failed its integrity check; start the call again",
        )
    };
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let (payload, signature) = sealed.split_once('.').ok_or_else(fail)?;
    let signature = engine.decode(signature).map_err(|_| fail())?;
    mac(payload).verify_slice(&signature).map_err(|_| fail())?;
    let body: Value = engine
        .decode(payload)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(fail)?;
    if body["c"] != component {
        return Err(fail());
    }
    if body["e"].as_u64().is_none_or(|expiry| expiry < now()) {
        return Err(ToolError::invalid_params(
            "the request state has expired; start the call again",
        ));
    }
    Ok(body["d"].clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_state_round_trips_and_rejects_tampering() {
        let sealed = seal("tool_a", &json!({ "step": 2 }), 60);
        assert_eq!(open("tool_a", &sealed).unwrap(), json!({ "step": 2 }));
        assert!(open("tool_b", &sealed).is_err(), "bound to its component");
        assert!(open("tool_a", &format!("{sealed}-TAMPERED")).is_err());
        let (payload, signature) = sealed.split_once('.').unwrap();
        let forged = format!("{}x.{signature}", payload);
        assert!(open("tool_a", &forged).is_err());
        let expired = seal_until("tool_a", &json!(1), now() - 1);
        let error = open("tool_a", &expired).unwrap_err();
        assert!(error.to_string().contains("expired"), "{error}");
    }

    #[test]
    fn the_builder_produces_the_wire_shape() {
        let input = InputRequired::new()
            .elicit(
                "user_name",
                "What is your name?",
                json!({ "type": "object", "properties": { "name": { "type": "string" } } }),
            )
            .sample("greeting", "Say hi", 50)
            .list_roots("client_roots")
            .state("s1");
        let wire = serde_json::to_value(&input.result).unwrap();
        assert_eq!(wire["resultType"], "input_required");
        assert_eq!(
            wire["inputRequests"]["user_name"]["method"],
            "elicitation/create"
        );
        assert_eq!(wire["inputRequests"]["greeting"]["params"]["maxTokens"], 50);
        assert_eq!(
            wire["inputRequests"]["client_roots"]["method"],
            "roots/list"
        );
        assert_eq!(wire["requestState"], "s1");
    }

    #[test]
    fn an_invalid_request_becomes_an_internal_error_not_a_panic() {
        let input = InputRequired::new()
            .elicit(
                "ok",
                "fine",
                json!({ "type": "object", "properties": { "x": { "type": "string" } } }),
            )
            .elicit("bad", "not a schema", json!(5))
            .list_roots("roots");
        let error = input.into_result().unwrap_err();
        assert!(error.to_string().contains("`bad`"), "{error}");
    }
}
