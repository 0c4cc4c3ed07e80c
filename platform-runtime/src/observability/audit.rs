//! Audit events: who did what, as whom, with what outcome — structured records on the
//! `platform::audit` tracing target, written (with `[telemetry.audit] file`) as JSON lines
//! to a file of their own.
//!
//! Three kinds, told apart by the `event` field:
//! - `authentication`: an HTTP request refused before any MCP handling (emitted by the
//!   HTTP transport; `client` address, `status`, `error`, `reason`, `request_id`);
//! - `authorization`: a decision on a restricted server (`decision` allow or deny, the
//!   `principal`, `tenant`, `kind`, `component`, `reason`);
//! - `tool_call`: every call to a destructive tool (`principal`, `tenant`, `tool`,
//!   `outcome`, `jsonrpc_id`, `request_id`, and only the arguments the operator named in
//!   `[telemetry.audit.arguments]`).
//!
//! Events inside a request carry its `trace_id` and `span_id`. No event holds a credential:
//! reasons describe what was wrong, never the token, and argument values appear only when
//! allowed per tool and argument.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use crate::middleware::McpRequest;

/// The target of audit events: route them with `platform::audit=…`.
pub const TARGET: &str = "platform::audit";

/// The longest argument value an audit record keeps, in bytes (longer ones are cut).
const MAX_ARGUMENT_BYTES: usize = 256;

/// Tool → the arguments whose values its audit records may carry.
type Allowed = HashMap<String, Vec<String>>;

/// Per destructive tool, the arguments whose values audit records may carry.
static ALLOWED: RwLock<Option<Arc<Allowed>>> = RwLock::new(None);

/// Allow the values of these arguments (tool → argument names) in `tool_call` records.
pub(crate) fn allow_arguments(allowed: &BTreeMap<String, Vec<String>>) {
    let map = allowed
        .iter()
        .map(|(tool, arguments)| (tool.clone(), arguments.clone()))
        .collect();
    *ALLOWED.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(map));
}

/// The allowed arguments of `request`, as a JSON object (`None` when nothing is allowed).
fn allowed_arguments(request: &McpRequest, tool: &str) -> Option<String> {
    let allowed = ALLOWED.read().unwrap_or_else(|e| e.into_inner()).clone()?;
    let names = allowed.get(tool)?;
    let arguments = request.arguments()?;
    let mut kept = serde_json::Map::new();
    for name in names {
        if let Some(value) = arguments.get(name) {
            let mut text = match value {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            if text.len() > MAX_ARGUMENT_BYTES {
                let mut cut = MAX_ARGUMENT_BYTES;
                while !text.is_char_boundary(cut) {
                    cut -= 1;
                }
                text.truncate(cut);
                text.push('…');
            }
            kept.insert(name.clone(), serde_json::Value::String(text));
        }
    }
    Some(serde_json::Value::Object(kept).to_string())
}

/// What a destructive call's record needs, taken before the request moves on.
pub(crate) struct ToolCall {
    tool: String,
    principal: Option<String>,
    method: Option<&'static str>,
    tenant: Option<String>,
    jsonrpc_id: String,
    request_id: Option<String>,
    arguments: Option<String>,
}

impl ToolCall {
    /// The record of `request` when it calls a registered destructive tool.
    pub(crate) fn of(request: &McpRequest) -> Option<Self> {
        let component = request.component()?;
        if request.method() != crate::middleware::Method::CallTool || !component.is_destructive() {
            return None;
        }
        let principal = request.principal();
        Some(Self {
            tool: component.name().to_owned(),
            principal: principal.map(|p| p.id().to_owned()),
            method: principal.map(|p| p.method().as_str()),
            tenant: request.tenant().map(str::to_owned),
            jsonrpc_id: request.request_id(),
            request_id: request.http_request_id().map(str::to_owned),
            arguments: allowed_arguments(request, component.name()),
        })
    }

    /// Emit the record with the call's outcome (`ok` or the error type).
    pub(crate) fn finished(self, outcome: Option<&'static str>) {
        tracing::info!(
            target: TARGET,
            event = "tool_call",
            destructive = true,
            tool = self.tool,
            principal = self.principal,
            auth_method = self.method,
            tenant = self.tenant,
            outcome = outcome.unwrap_or("ok"),
            jsonrpc_id = self.jsonrpc_id,
            request_id = self.request_id,
            arguments = self.arguments,
            "destructive tool called"
        );
    }
}
