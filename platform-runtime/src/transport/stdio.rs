//! A guard in front of the SDK's line-delimited JSON transport.
//!
//! The SDK drops a line that is not JSON without a word and reads lines of any length. The
//! guard answers a malformed line with a JSON-RPC parse error (`-32700`), rejects lines over
//! the size limit without buffering them, logs both, and passes everything else through
//! untouched. One writer task owns the output so error replies never interleave with
//! responses mid-line.

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// The tasks of a guarded pipe; `finish` waits for pending output to be written.
pub(crate) struct Guard {
    input: JoinHandle<()>,
    output: JoinHandle<()>,
    writer: JoinHandle<()>,
}

impl Guard {
    /// Stop reading input and wait (bounded) until everything the server wrote is out.
    pub(crate) async fn finish(self) {
        self.input.abort();
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), async {
            let _ = self.output.await;
            let _ = self.writer.await;
        })
        .await;
    }
}

/// Put the guard between `input`/`output` and the server; the server speaks on the
/// returned stream.
pub(crate) fn guard<R, W>(input: R, sink: W, max: usize) -> (tokio::io::DuplexStream, Guard)
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (server_side, our_side) = tokio::io::duplex(1 << 16);
    let (from_server, mut to_server) = tokio::io::split(our_side);
    let (lines_tx, mut lines_rx) = mpsc::channel::<Vec<u8>>(64);

    let errors = lines_tx.clone();
    let input = tokio::spawn(async move {
        let mut reader = BufReader::new(input);
        loop {
            match read_line(&mut reader, max).await {
                Ok(Line::Eof) => break,
                Ok(Line::Message(line)) => {
                    if line.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    match serde_json::from_slice::<serde::de::IgnoredAny>(&line) {
                        Ok(_) => {
                            let mut line = line;
                            line.push(b'\n');
                            if to_server.write_all(&line).await.is_err() {
                                break;
                            }
                        }
                        Err(error) => {
                            tracing::warn!(%error, bytes = line.len(), "malformed JSON on stdin; answered with a parse error");
                            let reply = error_reply(-32700, &format!("Parse error: {error}"));
                            if errors.send(reply).await.is_err() {
                                break;
                            }
                        }
                    }
                }
                Ok(Line::TooLong(len)) => {
                    tracing::warn!(
                        bytes = len,
                        max,
                        "message over the size limit on stdin; rejected"
                    );
                    let reply = error_reply(
                        -32600,
                        &format!(
                            "Invalid request: message of {len} bytes exceeds the limit of {max} bytes"
                        ),
                    );
                    if errors.send(reply).await.is_err() {
                        break;
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "stdin failed");
                    break;
                }
            }
        }
        let _ = to_server.shutdown().await;
    });

    let output = tokio::spawn(async move {
        let mut reader = BufReader::new(from_server);
        loop {
            let mut line = Vec::new();
            match reader.read_until(b'\n', &mut line).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if lines_tx.send(line).await.is_err() {
                        break;
                    }
                }
            }
        }
    });

    let writer = tokio::spawn(async move {
        let mut sink = sink;
        while let Some(line) = lines_rx.recv().await {
            if sink.write_all(&line).await.is_err() || sink.flush().await.is_err() {
                tracing::warn!("stdout closed; dropping output");
                break;
            }
        }
    });

    (
        server_side,
        Guard {
            input,
            output,
            writer,
        },
    )
}

enum Line {
    Message(Vec<u8>),
    TooLong(usize),
    Eof,
}

/// Read one line (without its newline), never buffering more than `max` bytes of it.
async fn read_line<R: AsyncBufRead + Unpin>(reader: &mut R, max: usize) -> std::io::Result<Line> {
    let mut line = Vec::new();
    let mut total = 0usize;
    loop {
        let buffer = reader.fill_buf().await?;
        if buffer.is_empty() {
            return Ok(match (total, total > max) {
                (0, _) => Line::Eof,
                (len, true) => Line::TooLong(len),
                (_, false) => Line::Message(line),
            });
        }
        let (chunk, found) = match buffer.iter().position(|&b| b == b'\n') {
            Some(i) => (&buffer[..i], Some(i + 1)),
            None => (buffer, None),
        };
        total += chunk.len();
        if total <= max {
            line.extend_from_slice(chunk);
        } else {
            line = Vec::new();
        }
        let consumed = found.unwrap_or(buffer.len());
        reader.consume(consumed);
        if found.is_some() {
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            return Ok(if total > max {
                Line::TooLong(total)
            } else {
                Line::Message(line)
            });
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

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// Feed `input` through the guard with an echo "server"; return what reached the output.
    async fn through_guard(input: &[u8], max: usize) -> String {
        let (mut client_in, guard_in) = tokio::io::duplex(1 << 16);
        let (guard_out, mut client_out) = tokio::io::duplex(1 << 16);
        let (server, guard) = guard(guard_in, guard_out, max);
        let (mut server_read, mut server_write) = tokio::io::split(server);
        let echo = tokio::spawn(async move {
            let mut received = Vec::new();
            let _ = server_read.read_to_end(&mut received).await;
            let _ = server_write.write_all(&received).await;
            let _ = server_write.shutdown().await;
        });
        client_in.write_all(input).await.unwrap();
        client_in.shutdown().await.unwrap();
        drop(client_in);
        echo.await.unwrap();
        guard.finish().await;
        let mut out = String::new();
        client_out.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn valid_messages_pass_through() {
        let out = through_guard(b"{\"a\":1}\r\n\n{\"b\":2}", 1024).await;
        assert_eq!(out, "{\"a\":1}\n{\"b\":2}\n");
    }

    #[tokio::test]
    async fn malformed_json_gets_a_parse_error() {
        let out = through_guard(b"{not json\n{\"ok\":true}\n", 1024).await;
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{out}");
        let error = lines
            .iter()
            .find(|l| l.contains("-32700"))
            .expect("a parse error");
        let error: serde_json::Value = serde_json::from_str(error).unwrap();
        assert_eq!(error["id"], serde_json::Value::Null);
        assert!(lines.contains(&"{\"ok\":true}"));
    }

    #[tokio::test]
    async fn oversized_lines_are_rejected_without_buffering() {
        let mut input = vec![b'x'; 5000];
        input.extend_from_slice(b"\n{\"ok\":true}\n");
        let out = through_guard(&input, 1024).await;
        assert!(out.contains("exceeds the limit of 1024 bytes"), "{out}");
        assert!(out.contains("{\"ok\":true}"), "{out}");
    }
}
