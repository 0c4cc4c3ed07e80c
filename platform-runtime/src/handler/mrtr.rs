//! Multi-round requests (protocol 2026-07-28): a tool, prompt or resource answers
//! [`InputRequired`] — elicitation, sampling or roots requests the client fulfils — and the
//! client retries with the answers. State carried across rounds is sealed with authenticated
//! encryption (XChaCha20-Poly1305): the client can neither read nor change it, and it opens
//! only for the same server, component and arguments, before its expiry.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use chacha20poly1305::aead::{Aead as _, Payload};
use chacha20poly1305::{KeyInit as _, XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::ToolError;

type HmacSha256 = Hmac<Sha256>;

/// The shortest sealing key accepted from configuration, in bytes.
pub(crate) const MIN_SEALING_KEY_BYTES: usize = 32;

/// The version tag of sealed state; a state of another version does not open.
const VERSION: &str = "v1";

/// Seals and opens multi-round request state for one server.
///
/// The key is either configured (a [`crate::config::Secret`] of at least 32 bytes, shared by
/// replicas so any of them opens what another sealed) or drawn from the OS random source at
/// start-up (state then opens only in this process). The cipher key is derived from it with
/// HMAC-SHA256, so the configured secret is never used as a key directly.
pub(crate) struct Sealer {
    cipher: XChaCha20Poly1305,
    server: String,
}

/// Why a sealer could not be made.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SealerError {
    /// The configured key is too short.
    #[error(
        "the sealing key must be at least {MIN_SEALING_KEY_BYTES} bytes long (it is {0}); generate one with `openssl rand -base64 48`"
    )]
    ShortKey(usize),
    /// The OS random source failed.
    #[error("the OS random source failed, so no sealing key could be made: {0}")]
    Random(String),
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

/// Which component a state belongs to, and the arguments it was sealed for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Binding<'a> {
    pub(crate) kind: &'a str,
    pub(crate) component: &'a str,
    /// SHA-256 of the canonical arguments.
    pub(crate) arguments: &'a [u8; 32],
    /// The caller it was sealed for (empty: anonymous).
    pub(crate) caller: &'a [u8],
}

impl Sealer {
    /// A sealer for `server` whose key is derived from `secret` (at least 32 bytes).
    pub(crate) fn with_key(server: &str, secret: &[u8]) -> Result<Self, SealerError> {
        if secret.len() < MIN_SEALING_KEY_BYTES {
            return Err(SealerError::ShortKey(secret.len()));
        }
        let Ok(mut kdf) = <HmacSha256 as hmac::KeyInit>::new_from_slice(secret) else {
            unreachable!("HMAC accepts any key length")
        };
        kdf.update(b"platform/sealed-request-state/v1");
        let key = kdf.finalize().into_bytes();
        let Ok(cipher) = XChaCha20Poly1305::new_from_slice(&key) else {
            unreachable!("a SHA-256 output is a 32-byte key")
        };
        Ok(Self {
            cipher,
            server: server.to_owned(),
        })
    }

    /// A sealer for `server` with a fresh key from the OS random source; fails (and the
    /// server does not start) if the random source does.
    pub(crate) fn random(server: &str) -> Result<Self, SealerError> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|e| SealerError::Random(e.to_string()))?;
        Self::with_key(server, &key)
    }

    /// The associated data every state is bound to.
    fn associated(&self, binding: Binding<'_>) -> Vec<u8> {
        let mut aad = Vec::with_capacity(64 + self.server.len() + binding.component.len());
        for part in [
            VERSION.as_bytes(),
            self.server.as_bytes(),
            binding.kind.as_bytes(),
            binding.component.as_bytes(),
            binding.arguments,
            binding.caller,
        ] {
            aad.extend_from_slice(&(part.len() as u64).to_le_bytes());
            aad.extend_from_slice(part);
        }
        aad
    }

    /// Seal `data` for `binding`, valid for `ttl_secs`.
    pub(crate) fn seal(
        &self,
        binding: Binding<'_>,
        data: &Value,
        ttl_secs: u64,
    ) -> Result<String, ToolError> {
        self.seal_until(binding, data, now().saturating_add(ttl_secs))
    }

    fn seal_until(
        &self,
        binding: Binding<'_>,
        data: &Value,
        expiry: u64,
    ) -> Result<String, ToolError> {
        let mut nonce = [0u8; 24];
        getrandom::fill(&mut nonce).map_err(|e| {
            ToolError::internal(format!(
                "the OS random source failed while sealing state: {e}"
            ))
        })?;
        let plaintext = json!({ "e": expiry, "d": data }).to_string();
        let aad = self.associated(binding);
        let sealed = self
            .cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: &aad,
                },
            )
            .map_err(|_| ToolError::internal("request state could not be sealed"))?;
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        Ok(format!("{VERSION}.{}", engine.encode(bytes)))
    }

    /// Open state sealed by [`Sealer::seal`] for `binding`; anything changed, sealed for
    /// another server, component or arguments, or expired is an invalid-params error.
    pub(crate) fn open(&self, binding: Binding<'_>, sealed: &str) -> Result<Value, ToolError> {
        let fail = || {
            ToolError::invalid_params(
                "the request state failed its integrity check; start the call again",
            )
        };
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let encoded = sealed
            .strip_prefix(VERSION)
            .and_then(|rest| rest.strip_prefix('.'))
            .ok_or_else(fail)?;
        let bytes = engine.decode(encoded).map_err(|_| fail())?;
        if bytes.len() < 24 {
            return Err(fail());
        }
        let (nonce, ciphertext) = bytes.split_at(24);
        let nonce = XNonce::try_from(nonce).map_err(|_| fail())?;
        let aad = self.associated(binding);
        let plaintext = self
            .cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| fail())?;
        let body: Value = serde_json::from_slice(&plaintext).map_err(|_| fail())?;
        if body["e"].as_u64().is_none_or(|expiry| expiry < now()) {
            return Err(ToolError::invalid_params(
                "the request state has expired; start the call again",
            ));
        }
        Ok(body["d"].clone())
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::InputRequired;

    const DIGEST: [u8; 32] = [7; 32];

    fn binding<'a>(component: &'a str, arguments: &'a [u8; 32]) -> Binding<'a> {
        Binding {
            kind: "tool",
            component,
            arguments,
            caller: b"jwt\0alice\0acme",
        }
    }

    #[test]
    fn sealed_state_round_trips_and_rejects_tampering() {
        let sealer = Sealer::random("srv").unwrap();
        let sealed = sealer
            .seal(
                binding("tool_a", &DIGEST),
                &json!({ "step": 2, "secret": "s3cr3t" }),
                60,
            )
            .unwrap();
        assert_eq!(
            sealer.open(binding("tool_a", &DIGEST), &sealed).unwrap(),
            json!({ "step": 2, "secret": "s3cr3t" })
        );
        // Confidential: nothing of the data is readable in the sealed form.
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let raw = engine.decode(sealed.strip_prefix("v1.").unwrap()).unwrap();
        assert!(!String::from_utf8_lossy(&raw).contains("s3cr3t"));
        assert!(!String::from_utf8_lossy(&raw).contains("step"));
        // Bound to the component, its kind, the arguments and the server.
        assert!(sealer.open(binding("tool_b", &DIGEST), &sealed).is_err());
        let other_kind = Binding {
            kind: "prompt",
            ..binding("tool_a", &DIGEST)
        };
        assert!(sealer.open(other_kind, &sealed).is_err());
        assert!(sealer.open(binding("tool_a", &[8; 32]), &sealed).is_err());
        // Sealed for one caller, it opens for no other (nor for an anonymous one).
        for caller in [&b"jwt\0mallory\0acme"[..], b"jwt\0alice\0other", b""] {
            let other_caller = Binding {
                caller,
                ..binding("tool_a", &DIGEST)
            };
            assert!(sealer.open(other_caller, &sealed).is_err());
        }
        let other_server = Sealer::random("other").unwrap();
        assert!(
            other_server
                .open(binding("tool_a", &DIGEST), &sealed)
                .is_err()
        );
        // Any change to any byte is refused.
        let mut bytes = sealed.clone().into_bytes();
        for i in 3..bytes.len() {
            let original = bytes[i];
            bytes[i] = if original == b'A' { b'B' } else { b'A' };
            let changed = String::from_utf8(bytes.clone()).unwrap();
            assert!(
                sealer.open(binding("tool_a", &DIGEST), &changed).is_err(),
                "byte {i}"
            );
            bytes[i] = original;
        }
        assert!(sealer.open(binding("tool_a", &DIGEST), "v1.").is_err());
        assert!(sealer.open(binding("tool_a", &DIGEST), "garbage").is_err());
        let expired = sealer
            .seal_until(binding("tool_a", &DIGEST), &json!(1), now() - 1)
            .unwrap();
        let error = sealer
            .open(binding("tool_a", &DIGEST), &expired)
            .unwrap_err();
        assert!(error.to_string().contains("expired"), "{error}");
    }

    #[test]
    fn a_configured_key_is_shared_and_must_be_long_enough() {
        let secret = b"0123456789abcdef0123456789abcdef";
        let a = Sealer::with_key("srv", secret).unwrap();
        let b = Sealer::with_key("srv", secret).unwrap();
        let sealed = a.seal(binding("t", &DIGEST), &json!("x"), 60).unwrap();
        assert_eq!(b.open(binding("t", &DIGEST), &sealed).unwrap(), json!("x"));
        let other = Sealer::with_key("srv", b"0123456789abcdef0123456789abcdeX").unwrap();
        assert!(other.open(binding("t", &DIGEST), &sealed).is_err());
        assert!(matches!(
            Sealer::with_key("srv", b"short"),
            Err(SealerError::ShortKey(5))
        ));
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
