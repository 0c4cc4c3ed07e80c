//! stdio on the platform's own loop: newline-delimited JSON-RPC read, checked and parsed
//! once, requests dispatched to the handler inline, and every line out through one buffered
//! writer.
//!
//! The SDK's stdio transport runs each message through its codec and its service loop: a
//! task per request, a cancellation token in a shared pool, and channel hops to the loop and
//! back to the writer, which flushes after every message. Here one task reads lines, runs
//! the requests it serves itself concurrently with reading (no task of their own), and
//! writes whatever is ready in as few writes as the sink allows, never blocking its reading
//! on a slow reader (up to a bound, past which it stops reading until the output drains).
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

// `Server::serve_io` lives with the loop it runs (the server layer does not reach up into
// the transports).
impl Server {
    /// Serve one MCP connection over any byte stream (a socket, a pipe, an in-memory
    /// duplex), speaking newline-delimited JSON-RPC as on stdio, until the peer closes it.
    ///
    /// `serve()` uses this for stdio; use it directly to embed a server in another program.
    pub async fn serve_io<IO>(&self, io: IO) -> Result<(), ServeError>
    where
        IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
    {
        let (input, output) = tokio::io::split(io);
        serve(self, input, output, StdioConfig::default()).await
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

/// Serve `server` on this process's standard input and output until the client closes
/// stdin; `serve()` does this for `--transport stdio`.
///
/// When stdin and stdout are pipes (as an MCP client starts a server), they are read and
/// written as non-blocking pipes on the runtime's I/O driver; otherwise (a terminal, a file)
/// through tokio's standard streams, which hand every read and write to a blocking thread.
///
/// # Errors
///
/// As [`serve`].
pub async fn serve_stdio(server: &Server, config: StdioConfig) -> Result<(), ServeError> {
    let (input, output) = process_streams();
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

/// This process's stdin and stdout: non-blocking pipes when both are pipes, tokio's
/// standard streams otherwise.
pub(crate) fn process_streams() -> (StdStream<tokio::io::Stdin>, StdStream<tokio::io::Stdout>) {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd as _;
        use tokio::net::unix::pipe;
        let pipes = (|| {
            let input = std::io::stdin().as_fd().try_clone_to_owned().ok()?;
            let output = std::io::stdout().as_fd().try_clone_to_owned().ok()?;
            let input = pipe::Receiver::from_owned_fd(input).ok()?;
            let output = pipe::Sender::from_owned_fd(output).ok()?;
            Some((input, output))
        })();
        if let Some((input, output)) = pipes {
            tracing::debug!("stdin and stdout are pipes: served without blocking threads");
            return (
                StdStream::Pipe(PipeEnd::Read(input)),
                StdStream::Pipe(PipeEnd::Write(output)),
            );
        }
    }
    (
        StdStream::Std(tokio::io::stdin()),
        StdStream::Std(tokio::io::stdout()),
    )
}

/// One of this process's standard streams: a non-blocking pipe, or tokio's stream.
pub(crate) enum StdStream<S> {
    #[cfg(unix)]
    Pipe(PipeEnd),
    Std(S),
}

/// The end of a pipe a standard stream is.
#[cfg(unix)]
pub(crate) enum PipeEnd {
    Read(tokio::net::unix::pipe::Receiver),
    Write(tokio::net::unix::pipe::Sender),
}

impl<S> StdStream<S> {
    /// The stream to read from; `None` for the write end of a pipe.
    fn reader(&mut self) -> Option<std::pin::Pin<&mut (dyn AsyncRead + Unpin)>>
    where
        S: AsyncRead + Unpin,
    {
        match self {
            #[cfg(unix)]
            StdStream::Pipe(PipeEnd::Read(pipe)) => Some(std::pin::Pin::new(pipe)),
            #[cfg(unix)]
            StdStream::Pipe(PipeEnd::Write(_)) => None,
            StdStream::Std(stream) => Some(std::pin::Pin::new(stream)),
        }
    }

    /// The stream to write to; `None` for the read end of a pipe.
    fn writer(&mut self) -> Option<std::pin::Pin<&mut (dyn AsyncWrite + Unpin)>>
    where
        S: AsyncWrite + Unpin,
    {
        match self {
            #[cfg(unix)]
            StdStream::Pipe(PipeEnd::Write(pipe)) => Some(std::pin::Pin::new(pipe)),
            #[cfg(unix)]
            StdStream::Pipe(PipeEnd::Read(_)) => None,
            StdStream::Std(stream) => Some(std::pin::Pin::new(stream)),
        }
    }
}

fn unsupported<T>() -> std::task::Poll<std::io::Result<T>> {
    std::task::Poll::Ready(Err(std::io::ErrorKind::Unsupported.into()))
}

impl<S: AsyncRead + Unpin> AsyncRead for StdStream<S> {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut().reader() {
            Some(reader) => reader.poll_read(cx, buf),
            None => unsupported(),
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for StdStream<S> {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        match self.get_mut().writer() {
            Some(writer) => writer.poll_write(cx, buf),
            None => unsupported(),
        }
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut().writer() {
            Some(writer) => writer.poll_flush(cx),
            None => std::task::Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut().writer() {
            Some(writer) => writer.poll_shutdown(cx),
            None => std::task::Poll::Ready(Ok(())),
        }
    }
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
/// output to be written.
const FINISH: Duration = Duration::from_secs(5);

/// Output held beyond this many bytes (a client that does not read its replies) stops the
/// loop reading more input until it drains.
const OUTPUT_LIMIT: usize = 1 << 20;

/// Serve one connection through `handler` until the input closes or `stop` completes.
///
/// One task does everything: it reads lines, runs the requests it serves (as futures it
/// polls, not tasks), takes what the SDK's loop sends, and writes — a write never blocks
/// reading, and output is flushed as soon as it is written.
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
    let mut output = Output::new(output);
    let (out, mut from_sdk) = mpsc::channel::<Vec<u8>>(1024);
    let (to_sdk, from_reader) = mpsc::channel::<ClientJsonRpcMessage>(64);
    let link = Link {
        incoming: from_reader,
        outgoing: out,
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
                    while let Ok(line) = from_sdk.try_recv() {
                        output.push(&line);
                    }
                    output.finish().await;
                    return Err(ServeError::Transport(error.to_string()));
                }
            },
            Some((id, reply)) = in_flight.next(), if !in_flight.is_empty() => {
                tokens.remove(&id);
                // What the SDK was handed before the reply was made goes out first: a log
                // line or progress a tool sent is ahead of its result.
                while let Ok(line) = from_sdk.try_recv() {
                    output.push(&line);
                }
                output.push(&encode(&reply));
            }
            Some(line) = from_sdk.recv() => output.push(&line),
            written = output.write_some(), if output.has_pending() => {
                if let Err(error) = written {
                    tracing::warn!(%error, "stdout failed; closing");
                    break Ended::Closed;
                }
            }
            line = reader.next(), if !output.full() => {
                let message = match line {
                    Ok(Line::Eof) => break Ended::Closed,
                    Ok(Line::Message(line)) => match classify(&line) {
                        Ok(Some(message)) => message,
                        Ok(None) => continue,
                        Err(reply) => {
                            output.push(&reply);
                            continue;
                        }
                    },
                    Ok(Line::TooLong(len)) => {
                        let max = config.max_message_bytes;
                        tracing::warn!(bytes = len, max, "message over the size limit on stdin; rejected");
                        output.push(&error_reply(
                            -32600,
                            &format!("Invalid request: message of {len} bytes exceeds the limit of {max} bytes"),
                        ));
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

    let finishing = async {
        if ended == Ended::Closed {
            // Requests already read are answered: a client that writes its requests and
            // closes its input still gets its replies.
            while let Some((id, reply)) = in_flight.next().await {
                tokens.remove(&id);
                while let Ok(line) = from_sdk.try_recv() {
                    output.push(&line);
                }
                output.push(&encode(&reply));
            }
        }
        drop(in_flight);
        // The SDK's loop ends when its input does, or at once when stopped; what it still
        // sends is written.
        drop(to_sdk);
        if let Some(running) = sdk {
            if ended == Ended::Stopped {
                running.cancellation_token().cancel();
            }
            let mut waiting = std::pin::pin!(running.waiting());
            loop {
                tokio::select! {
                    _ = &mut waiting => break,
                    Some(line) = from_sdk.recv() => output.push(&line),
                }
            }
        }
        while let Ok(line) = from_sdk.try_recv() {
            output.push(&line);
        }
        output.finish().await;
    };
    if tokio::time::timeout(FINISH, finishing).await.is_err() {
        tracing::warn!("requests or output still pending when stdio closed were abandoned");
    }
    Ok(ended)
}

/// Bytes waiting for the sink, written as the sink takes them.
struct Output<W> {
    sink: W,
    pending: Vec<u8>,
    written: usize,
}

impl<W: AsyncWrite + Unpin> Output<W> {
    fn new(sink: W) -> Self {
        Self {
            sink,
            pending: Vec::with_capacity(1 << 14),
            written: 0,
        }
    }

    fn push(&mut self, line: &[u8]) {
        self.pending.extend_from_slice(line);
    }

    fn has_pending(&self) -> bool {
        self.written < self.pending.len()
    }

    fn full(&self) -> bool {
        self.pending.len() - self.written > OUTPUT_LIMIT
    }

    /// Write what the sink takes now (cancel-safe: nothing is lost if another branch wins);
    /// flush once everything is out.
    async fn write_some(&mut self) -> std::io::Result<()> {
        let wrote = self.sink.write(&self.pending[self.written..]).await?;
        if wrote == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        self.written += wrote;
        if self.written == self.pending.len() {
            self.pending.clear();
            self.written = 0;
            self.sink.flush().await?;
        }
        Ok(())
    }

    /// Write and flush everything.
    async fn finish(&mut self) {
        while self.has_pending() {
            if let Err(error) = self.write_some().await {
                tracing::warn!(%error, "stdout closed; dropping output");
                return;
            }
        }
        let _ = self.sink.flush().await;
    }
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
    async fn output_is_written_in_order_and_whole_through_a_slow_sink() {
        let (sink, mut read) = tokio::io::duplex(16);
        let reader = tokio::spawn(async move {
            let mut out = String::new();
            read.read_to_string(&mut out).await.unwrap();
            out
        });
        let mut output = Output::new(sink);
        let mut expected = String::new();
        for i in 0..100 {
            let line = format!("{i}\n");
            output.push(line.as_bytes());
            expected.push_str(&line);
            if i % 7 == 0 {
                output.write_some().await.unwrap();
            }
        }
        output.finish().await;
        drop(output);
        assert_eq!(reader.await.unwrap(), expected);
    }
}
