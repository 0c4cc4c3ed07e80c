//! What both transports' own hot paths share: reading a JSON-RPC request once, building the
//! handler's context for it, and running it through the handler to one reply message.
//!
//! The SDK's service loop does the same for every message it receives, with a task, a
//! cancellation token in a shared pool and two channel hops per request; the transports use
//! these for the requests they serve themselves (see `http::direct` and [`super::stdio`]).

use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures::FutureExt as _;
use rmcp::model::{
    CallToolRequest, ClientJsonRpcMessage, ClientRequest, GetExtensions as _, GetMeta as _,
    JsonRpcMessage, JsonRpcRequest, ServerJsonRpcMessage,
};
use rmcp::service::{Peer, RequestContext};
use rmcp::{RoleServer, Service as _};

use crate::server::McpHandler;

/// The handler's context for `request`: its `_meta` and extensions moved in, the HTTP head
/// added when there is one, and `peer` to reach the client.
pub(crate) fn context_for(
    request: &mut JsonRpcRequest<ClientRequest>,
    peer: Peer<RoleServer>,
    head: Option<axum::http::request::Parts>,
) -> RequestContext<RoleServer> {
    let mut context = RequestContext::new(request.id.clone(), peer);
    std::mem::swap(&mut context.meta, request.request.get_meta_mut());
    std::mem::swap(&mut context.extensions, request.request.extensions_mut());
    if let Some(head) = head {
        context.extensions.insert(head);
    }
    context
}

/// Run `request` through `handler` with `context`; the reply as a message. A panic that
/// escapes the middleware (a server without the error-handling layer) becomes an internal
/// error for this request, with a reference in the log, not a lost connection.
pub(crate) async fn handle(
    handler: &McpHandler,
    request: JsonRpcRequest<ClientRequest>,
    context: RequestContext<RoleServer>,
) -> ServerJsonRpcMessage {
    let id = request.id;
    let outcome = AssertUnwindSafe(handler.handle_request(request.request, context))
        .catch_unwind()
        .await;
    let reply = outcome.unwrap_or_else(|payload| {
        let reference = crate::middleware::new_reference();
        tracing::error!(
            reference,
            panic = crate::middleware::errors_panic_message(payload.as_ref()),
            "request handling panicked"
        );
        Err(rmcp::ErrorData::internal_error(
            format!("internal error (reference {reference})"),
            None,
        ))
    });
    match reply {
        Ok(result) => ServerJsonRpcMessage::response(result, id),
        Err(error) => ServerJsonRpcMessage::error(error, Some(id)),
    }
}

/// [`handle`] for a transport that may stop waiting (the client went away): dropped before
/// it finishes, it cancels the request and lets the handler run on in a task of its own to
/// see the cancellation — as the SDK's task per request does — instead of dropping the
/// handler mid-step (cleanup after `ctx.cancelled()` runs). A handler that has not finished
/// [`RUN_ON`] later is dropped, releasing what it holds.
pub(crate) fn handle_owned(
    handler: McpHandler,
    request: JsonRpcRequest<ClientRequest>,
    context: RequestContext<RoleServer>,
) -> Handling {
    let token = context.ct.clone();
    Handling {
        future: Some(Box::pin(
            async move { handle(&handler, request, context).await },
        )),
        token,
    }
}

/// How long a handler whose client stopped waiting may run on to see the cancellation.
pub(crate) const RUN_ON: std::time::Duration = std::time::Duration::from_secs(10);

/// A request being handled; see [`handle_owned`].
pub(crate) struct Handling {
    future: Option<std::pin::Pin<Box<dyn Future<Output = ServerJsonRpcMessage> + Send>>>,
    token: tokio_util::sync::CancellationToken,
}

impl Future for Handling {
    type Output = ServerJsonRpcMessage;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<ServerJsonRpcMessage> {
        let Some(future) = self.future.as_mut() else {
            return std::task::Poll::Pending;
        };
        let reply = std::task::ready!(future.as_mut().poll(cx));
        self.future = None;
        std::task::Poll::Ready(reply)
    }
}

impl Drop for Handling {
    fn drop(&mut self) {
        if let Some(future) = self.future.take() {
            self.token.cancel();
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    if tokio::time::timeout(RUN_ON, future).await.is_err() {
                        tracing::warn!(
                            "a cancelled request's handler did not finish within {RUN_ON:?}; dropped"
                        );
                    }
                });
            }
        }
    }
}

/// The body as a JSON-RPC request, parsed as the SDK parses it; `None` for anything else.
///
/// The SDK's parser tries each message shape and then each request type in turn. A first,
/// allocation-free pass reads the method and checks the shape (a request carries no
/// `result` or `error`); `tools/call` is then parsed as exactly that request type, and other
/// methods as the SDK does.
pub(crate) fn parse_request(body: &[u8]) -> Option<JsonRpcRequest<ClientRequest>> {
    if method(body)? == "tools/call" {
        let request: JsonRpcRequest<CallToolRequest> = serde_json::from_slice(body).ok()?;
        return Some(JsonRpcRequest {
            jsonrpc: request.jsonrpc,
            id: request.id,
            request: ClientRequest::CallToolRequest(request.request),
        });
    }
    match serde_json::from_slice::<ClientJsonRpcMessage>(body) {
        Ok(JsonRpcMessage::Request(request)) => Some(request),
        _ => None,
    }
}

/// The method of a body that is one JSON-RPC request (an object with a `method` and no
/// `result` or `error`), read in one allocation-free pass; `None` for anything else.
pub(crate) fn method(body: &[u8]) -> Option<std::borrow::Cow<'_, str>> {
    #[derive(serde::Deserialize)]
    struct Shape<'a> {
        #[serde(borrow)]
        method: Option<std::borrow::Cow<'a, str>>,
        result: Option<serde::de::IgnoredAny>,
        error: Option<serde::de::IgnoredAny>,
    }
    let shape: Shape<'_> = serde_json::from_slice(body).ok()?;
    if shape.result.is_some() || shape.error.is_some() {
        return None;
    }
    shape.method
}

/// The method of a body that is one JSON-RPC request, and the component it names
/// (`params.name`, or `params.uri`), read in one pass; `None` for anything else.
pub(crate) fn target(
    body: &[u8],
) -> Option<(std::borrow::Cow<'_, str>, std::borrow::Cow<'_, str>)> {
    #[derive(serde::Deserialize)]
    struct Params<'a> {
        #[serde(borrow)]
        name: Option<std::borrow::Cow<'a, str>>,
        #[serde(borrow)]
        uri: Option<std::borrow::Cow<'a, str>>,
    }
    #[derive(serde::Deserialize)]
    struct Shape<'a> {
        #[serde(borrow)]
        method: std::borrow::Cow<'a, str>,
        #[serde(borrow)]
        params: Option<Params<'a>>,
    }
    let shape: Shape<'_> = serde_json::from_slice(body).ok()?;
    let params = shape.params?;
    Some((shape.method, params.name.or(params.uri)?))
}
