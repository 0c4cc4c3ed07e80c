//! stdio on the platform's own loop: newline-delimited JSON-RPC read, checked and parsed
//! once, requests dispatched to the handler inline, and every line out through one buffered
//! writer.
//!
//! The SDK's stdio transport runs each message through its codec and its service loop: a
//! task per request, a cancellation token in a shared pool, and channel hops to the loop and
//! back to the writer, which flushes after every message. Here one task reads lines and runs
//! the requests it serves itself concurrently with reading (no task of their own), and one
//! writer task writes whatever is ready and flushes only when nothing more is.
//!
//! The SDK still owns the session: the `initialize` handshake, every notification and
//! response from the client (progress, cancellation, answers to sampling, elicitation and
//! roots requests), and what a tool sends through its peer (log lines, progress,
//! list-changed notifications, requests to the client), which reach the same writer in the
//! order they were sent. Requests go to the SDK too before the handshake has finished, on a
//! 2026-07-28 connection, and when direct dispatch is off; every other request is served here
//! through the same handler and middleware.
//!
//! Input is guarded as before: a line that is not JSON is answered with a parse error
//! (`-32700`), JSON that is not a JSON-RPC message with an invalid-request error (`-32600`),
//! a line over the size limit is refused without being buffered, and each is logged.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use futures::StreamExt as _;
use futures::stream::FuturesUnordered;
use rmcp::RoleServer;
use rmcp::model::{
    ClientJsonRpcMessage, ClientNotification, ClientRequest, GetMeta as _, JsonRpcMessage,
    JsonRpcRequest, RequestId, ServerJsonRpcMessage,
};
use rmcp::service::{Peer, RunningService};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::server::{McpHandler, ServeError, Server};
use crate::transport::dispatch;

/// How a stdio connection is served.
#[derive(Debug, Clone)]
pub struct StdioConfig {
    /// The largest message, in bytes (`[transport] max_body_bytes`, default 4 MiB); a longer
    /// line is refused with an invalid-request error and never buffered.
    pub max_message_bytes: usize,
    /// Serve requests on the platform's own loop (default); off, every request goes through
    /// the SDK's service loop, as plain rmcp serves it (`[transport] direct_dispatch`).
    pub direct_dispatch: bool,
}

impl Default for StdioConfig {
    fn default() -> Self {
        Self {
            max_message_bytes: 4 << 20,
            direct_dispatch: true,
        }
    }
}

/// Serve `server` to one client speaking newline-delimited JSON-RPC on `input` and `output`
/// (a process's stdin and stdout, a pipe, a socket) until the client closes `input`.
///
/// # Errors
///
/// [`ServeError::Transport`] when the client's first message cannot open a session or
/// reading fails.
pub async fn serve<R, W>(
    server: &Server,
    input: R,
    output: W,
    config: StdioConfig,
) -> Result<(), ServeError>
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    serve_handler(
        server.session_handler(),
        input,
        output,
        &config,
        std::future::pending(),
    )
    .await
    .map(drop)
}

/// Why a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    /// The client closed its input.
    Closed,
    /// `stop` completed.
    Stopped,
}

/// At most this many requests are served on the loop at once; beyond it, requests go to the
/// SDK's loop (each in a task of its own, as before), so a request never waits for a line
/// the loop is not reading.
const MAX_IN_FLIGHT: usize = 256;

/// How long requests still running when the input closes may take to answer, and the
/// writer to write what it holds.
const FINISH: Duration = Duration::from_secs(5);

/// Serve one connection through `handler` until the input closes or `stop` completes.
pub(crate) async fn serve_handler<R, W>(
    handler: McpHandler,
    input: R,
    output: W,
    config: &StdioConfig,
    stop: impl Future<Output = ()>,
) -> Result<Ended, ServeError>
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (out, lines) = mpsc::channel::<Vec<u8>>(1024);
    let writer = tokio::spawn(write_lines(output, lines));
    let (to_sdk, from_reader) = mpsc::channel::<ClientJsonRpcMessage>(64);
    let link = Link {
        incoming: from_reader,
        outgoing: out.clone(),
    };
    let mut handshake = Box::pin(rmcp::serve_server(handler.clone(), link));
    let mut sdk: Option<RunningService<RoleServer, McpHandler>> = None;
    // The peer requests are served here with: a legacy session's, once initialized.
    let mut peer: Option<Peer<RoleServer>> = None;
    let mut reader = Lines::new(input, config.max_message_bytes);
    let mut in_flight = FuturesUnordered::new();
    let mut tokens: HashMap<RequestId, CancellationToken> = HashMap::new();
    let mut stop = std::pin::pin!(stop);

    let ended = loop {
        tokio::select! {
            biased;
            () = &mut stop => break Ended::Stopped,
            started = &mut handshake, if sdk.is_none() => match started {
                Ok(running) => {
                    peer = (config.direct_dispatch && running.peer().peer_info().is_some())
                        .then(|| running.peer().clone());
                    sdk = Some(running);
                }
                Err(error) => {
                    tracing::warn!(%error, "the stdio client did not open a session");
                    drop(to_sdk);
                    finish_writing(out, writer).await;
                    return Err(ServeError::Transport(error.to_string()));
                }
            },
            Some((id, reply)) = in_flight.next(), if !in_flight.is_empty() => {
                tokens.remove(&id);
                if out.send(encode(&reply)).await.is_err() {
                    break Ended::Closed;
                }
            }
            line = reader.next() => {
                let message = match line {
                    Ok(Line::Eof) => break Ended::Closed,
                    Ok(Line::Message(line)) => match classify(&line) {
                        Ok(Some(message)) => message,
                        Ok(None) => continue,
                        Err(reply) => {
                            if out.send(reply).await.is_err() {
                                break Ended::Closed;
                            }
                            continue;
                        }
                    },
                    Ok(Line::TooLong(len)) => {
                        let max = config.max_message_bytes;
                        tracing::warn!(bytes = len, max, "message over the size limit on stdin; rejected");
                        let reply = error_reply(
                            -32600,
                            &format!("Invalid request: message of {len} bytes exceeds the limit of {max} bytes"),
                        );
                        if out.send(reply).await.is_err() {
                            break Ended::Closed;
                        }
                        continue;
                    }
                    Err(error) => {
                        tracing::warn!(%error, "stdin failed");
                        break Ended::Closed;
                    }
                };
                let message = match (message, &peer) {
                    (JsonRpcMessage::Request(request), Some(peer))
                        if in_flight.len() < MAX_IN_FLIGHT && served_here(&request) =>
                    {
                        let mut request = request;
                        let context = dispatch::context_for(&mut request, peer.clone(), None);
                        tokens.insert(request.id.clone(), context.ct.clone());
                        let handler = &handler;
                        in_flight.push(async move {
                            let id = request.id.clone();
                            let _cancel_on_exit = context.ct.clone().drop_guard();
                            (id, dispatch::handle(handler, request, context).await)
                        });
                        continue;
                    }
                    (message, _) => message,
                };
                if let JsonRpcMessage::Notification(notification) = &message
                    && let ClientNotification::CancelledNotification(cancelled) =
                        &notification.notification
                    && let Some(token) =
                        cancelled.params.request_id.as_ref().and_then(|id| tokens.get(id))
                {
                    token.cancel();
                }
                if to_sdk.send(message).await.is_err() {
                    tracing::warn!("the session ended; closing stdio");
                    break Ended::Closed;
                }
            }
        }
    };

    if ended == Ended::Closed {
        // Requests already read are answered (bounded): a client that writes its requests
        // and closes its input still gets its replies.
        let answered = tokio::time::timeout(FINISH, async {
            while let Some((id, reply)) = in_flight.next().await {
                tokens.remove(&id);
                if out.send(encode(&reply)).await.is_err() {
                    break;
                }
            }
        })
        .await;
        if answered.is_err() {
            tracing::warn!(
                requests = in_flight.len(),
                "requests still running when stdin closed were abandoned"
            );
        }
    }
    drop(in_flight);
    // The SDK's loop ends when its input does, or at once when stopped.
    drop(to_sdk);
    if let Some(running) = sdk {
        if ended == Ended::Stopped {
            running.cancellation_token().cancel();
        }
        let _ = tokio::time::timeout(FINISH, running.waiting()).await;
    }
    finish_writing(out, writer).await;
    Ok(ended)
}

/// Whether this loop serves `request` itself (the connection is an initialized legacy
/// session): any request but one that carries its own protocol version, or that the SDK
/// handles specially (the handshake, subscriptions, tasks).
fn served_here(request: &JsonRpcRequest<ClientRequest>) -> bool {
    let plain = matches!(
        request.request,
        ClientRequest::CallToolRequest(_)
            | ClientRequest::GetPromptRequest(_)
            | ClientRequest::ReadResourceRequest(_)
            | ClientRequest::ListToolsRequest(_)
            | ClientRequest::ListPromptsRequest(_)
            | ClientRequest::ListResourcesRequest(_)
            | ClientRequest::ListResourceTemplatesRequest(_)
            | ClientRequest::CompleteRequest(_)
            | ClientRequest::PingRequest(_)
    );
    plain && request.request.get_meta().protocol_version().is_none()
}

/// A line as a message; `Ok(None)` for a line to skip; `Err` with the error reply to send.
fn classify(line: &[u8]) -> Result<Option<ClientJsonRpcMessage>, Vec<u8>> {
    const BOM: &[u8] = b"\xEF\xBB\xBF";
    let line = line.strip_prefix(BOM).unwrap_or(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    if let Some(request) = dispatch::parse_request(line) {
        return Ok(Some(JsonRpcMessage::Request(request)));
    }
    match serde_json::from_slice::<ClientJsonRpcMessage>(line) {
        Ok(message) => Ok(Some(message)),
        Err(error) if error.is_syntax() || error.is_eof() => {
            tracing::warn!(%error, bytes = line.len(), "malformed JSON on stdin; answered with a parse error");
            Err(error_reply(-32700, &format!("Parse error: {error}")))
        }
        Err(error) => {
            #[derive(serde::Deserialize)]
            struct Shape {
                id: Option<serde::de::IgnoredAny>,
            }
            let is_notification =
                serde_json::from_slice::<Shape>(line).is_ok_and(|shape| shape.id.is_none());
            if is_notification {
                // Unknown or malformed notifications are dropped, as every SDK does: a
                // notification has no reply.
                tracing::debug!(%error, "notification not understood on stdin; ignored");
                return Ok(None);
            }
            tracing::warn!(%error, "a JSON value on stdin is not a JSON-RPC message; answered with an invalid-request error");
            Err(error_reply(-32600, "Invalid request"))
        }
    }
}

/// The SDK's side of the connection: messages the loop hands it, and the writer.
struct Link {
    incoming: mpsc::Receiver<ClientJsonRpcMessage>,
    outgoing: mpsc::Sender<Vec<u8>>,
}

impl rmcp::transport::Transport<RoleServer> for Link {
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: ServerJsonRpcMessage,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let line = encode(&item);
        let outgoing = self.outgoing.clone();
        async move {
            outgoing
                .send(line)
                .await
                .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "stdout closed"))
        }
    }

    fn receive(&mut self) -> impl Future<Output = Option<ClientJsonRpcMessage>> + Send {
        self.incoming.recv()
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        self.incoming.close();
        Ok(())
    }
}

/// A message as one line.
fn encode(message: &ServerJsonRpcMessage) -> Vec<u8> {
    match serde_json::to_vec(message) {
        Ok(mut line) => {
            line.push(b'\n');
            line
        }
        Err(error) => {
            tracing::error!(%error, "a reply could not be serialized");
            error_reply(-32603, "Internal error: the reply could not be serialized")
        }
    }
}

/// Write lines as they come, flushing when no more are ready.
async fn write_lines<W: AsyncWrite + Unpin>(sink: W, mut lines: mpsc::Receiver<Vec<u8>>) {
    let mut sink = tokio::io::BufWriter::with_capacity(1 << 16, sink);
    while let Some(line) = lines.recv().await {
        let mut written = sink.write_all(&line).await;
        while written.is_ok()
            && let Ok(line) = lines.try_recv()
        {
            written = sink.write_all(&line).await;
        }
        if written.is_err() || sink.flush().await.is_err() {
            tracing::warn!("stdout closed; dropping output");
            return;
        }
    }
}

/// Let the writer write what it holds (bounded), then stop it.
async fn finish_writing(out: mpsc::Sender<Vec<u8>>, writer: tokio::task::JoinHandle<()>) {
    drop(out);
    let abort = writer.abort_handle();
    if tokio::time::timeout(FINISH, writer).await.is_err() {
        tracing::warn!("stdout did not take the last output in time; dropped");
        abort.abort();
    }
}

enum Line {
    Message(Vec<u8>),
    TooLong(usize),
    Eof,
}

/// Lines of at most `max` bytes, read without ever buffering more of one. Cancel-safe: a
/// line read in part is kept until the rest arrives.
struct Lines<R> {
    reader: BufReader<R>,
    max: usize,
    line: Vec<u8>,
    total: usize,
}

impl<R: AsyncRead + Unpin> Lines<R> {
    fn new(input: R, max: usize) -> Self {
        Self {
            reader: BufReader::with_capacity(1 << 16, input),
            max,
            line: Vec::new(),
            total: 0,
        }
    }

    /// The next line (without its newline or carriage return).
    async fn next(&mut self) -> std::io::Result<Line> {
        loop {
            let buffer = self.reader.fill_buf().await?;
            if buffer.is_empty() {
                let line = std::mem::take(&mut self.line);
                let total = std::mem::take(&mut self.total);
                return Ok(match total {
                    0 => Line::Eof,
                    len if len > self.max => Line::TooLong(len),
                    _ => Line::Message(line),
                });
            }
            let (chunk, found) = match buffer.iter().position(|&b| b == b'\n') {
                Some(i) => (&buffer[..i], Some(i + 1)),
                None => (buffer, None),
            };
            self.total += chunk.len();
            if self.total <= self.max {
                self.line.extend_from_slice(chunk);
            } else {
                self.line = Vec::new();
            }
            let consumed = found.unwrap_or(buffer.len());
            self.reader.consume(consumed);
            if found.is_some() {
                let mut line = std::mem::take(&mut self.line);
                let total = std::mem::take(&mut self.total);
                if total > self.max {
                    return Ok(Line::TooLong(total));
                }
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(Line::Message(line));
            }
        }
    }
}

fn error_reply(code: i32, message: &str) -> Vec<u8> {
    let mut reply = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": { "code": code, "message": message },
    })
    .to_string()
    .into_bytes();
    reply.push(b'\n');
    reply
}

/// Read `line` as the loop does (for the fuzz target): a message, nothing, or one error
/// reply that is itself one line of JSON.
#[cfg(feature = "fuzzing")]
pub(crate) fn fuzz_classify(line: &[u8]) {
    if let Err(reply) = classify(line) {
        assert_eq!(reply.iter().filter(|&&b| b == b'\n').count(), 1);
        assert!(serde_json::from_slice::<serde_json::Value>(&reply).is_ok());
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    async fn lines_of(input: &[u8], max: usize) -> Vec<String> {
        let mut lines = Lines::new(input, max);
        let mut out = Vec::new();
        loop {
            match lines.next().await.unwrap() {
                Line::Eof => return out,
                Line::Message(line) => out.push(String::from_utf8(line).unwrap()),
                Line::TooLong(len) => out.push(format!("too long: {len}")),
            }
        }
    }

    #[tokio::test]
    async fn lines_are_split_trimmed_and_bounded_without_buffering() {
        let mut input = b"{\"a\":1}\r\n\n".to_vec();
        input.extend(vec![b'x'; 5000]);
        input.extend_from_slice(b"\n{\"b\":2}");
        assert_eq!(
            lines_of(&input, 1024).await,
            ["{\"a\":1}", "", "too long: 5000", "{\"b\":2}"]
        );
    }

    #[tokio::test]
    async fn a_line_read_in_part_survives_a_cancelled_read() {
        let (mut client, server) = tokio::io::duplex(64);
        let mut lines = Lines::new(server, 1024);
        client.write_all(b"{\"half\":").await.unwrap();
        let cancelled = tokio::time::timeout(Duration::from_millis(20), lines.next()).await;
        assert!(cancelled.is_err(), "no whole line yet");
        client.write_all(b"true}\n").await.unwrap();
        match lines.next().await.unwrap() {
            Line::Message(line) => assert_eq!(line, b"{\"half\":true}"),
            _ => panic!("expected the whole line"),
        }
    }

    #[test]
    fn each_kind_of_bad_line_gets_its_answer() {
        let reply = |line: &[u8]| {
            let reply = classify(line).unwrap_err();
            serde_json::from_slice::<serde_json::Value>(&reply).unwrap()
        };
        assert_eq!(reply(b"{not json")["error"]["code"], -32700);
        assert_eq!(reply(b"[1,2,3]")["error"]["code"], -32600);
        assert_eq!(
            reply(br#"{"jsonrpc":"2.0","id":1}"#)["error"]["code"],
            -32600
        );
        assert!(classify(b"   ").unwrap().is_none());
        assert!(
            classify(br#"{"jsonrpc":"1.0","method":"notifications/cancelled"}"#)
                .unwrap()
                .is_none(),
            "a notification not understood is ignored"
        );
        let bom = b"\xEF\xBB\xBF{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}";
        assert!(matches!(
            classify(bom),
            Ok(Some(JsonRpcMessage::Request(_)))
        ));
    }

    #[tokio::test]
    async fn the_writer_writes_every_line_in_order() {
        let (tx, rx) = mpsc::channel(4);
        let (sink, mut read) = tokio::io::duplex(1 << 16);
        let writer = tokio::spawn(write_lines(sink, rx));
        for i in 0..10 {
            tx.send(format!("{i}\n").into_bytes()).await.unwrap();
        }
        finish_writing(tx, writer).await;
        let mut out = String::new();
        read.read_to_string(&mut out).await.unwrap();
        assert_eq!(out, "0\n1\n2\n3\n4\n5\n6\n7\n8\n9\n");
    }
}
