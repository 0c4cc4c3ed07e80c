//! The two servers the benchmarks compare, built the same way: one trivial `echo` tool.
//!
//! - [`plain`]: a plain rmcp server written with rmcp's own `#[tool_router]` macros.
//! - [`platform`]: the same tool written with platform's `#[tool]`.
//!
//! Both are served over the same in-memory duplex pipe (newline-delimited JSON, exactly like
//! stdio) to the same rmcp client, so the difference is the server side alone.

use rmcp::model::CallToolRequestParams;
use rmcp::service::RunningService;
use rmcp::{RoleClient, ServiceExt as _};

/// The plain rmcp server.
pub mod plain {
    use rmcp::handler::server::router::tool::ToolRouter;
    use rmcp::handler::server::wrapper::Parameters;
    use rmcp::{ServerHandler, tool, tool_handler, tool_router};

    /// The echo tool's arguments.
    #[derive(serde::Deserialize, rmcp::schemars::JsonSchema)]
    #[schemars(crate = "rmcp::schemars")]
    pub struct EchoArgs {
        /// The text to echo.
        pub text: String,
    }

    /// A plain rmcp server with one tool, its router built once.
    #[derive(Clone)]
    pub struct Plain {
        tool_router: ToolRouter<Self>,
    }

    impl Default for Plain {
        fn default() -> Self {
            Self {
                tool_router: Self::tool_router(),
            }
        }
    }

    #[tool_router]
    impl Plain {
        /// Echo the text.
        #[tool(description = "Echo the text.")]
        async fn echo(&self, Parameters(EchoArgs { text }): Parameters<EchoArgs>) -> String {
            text
        }
    }

    #[tool_handler(router = self.tool_router)]
    impl ServerHandler for Plain {}
}

/// The same tool on platform.
pub mod platform {
    use platform_runtime::prelude::*;

    /// Echo the text.
    ///
    /// # Arguments
    /// * `text` - the text to echo
    #[tool]
    pub async fn echo(text: String) -> String {
        text
    }

    /// Which server-level middleware the platform server runs.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Stack {
        /// No middleware at all.
        Bare,
        /// Error handling only.
        Errors,
        /// Logging only.
        Logging,
        /// Timing only.
        Timing,
        /// A (generous) server-wide rate limit only.
        RateLimit,
        /// The default stack (error handling, logging, timing) plus a rate-limit check.
        Default,
    }

    /// The platform server with the given middleware.
    pub fn server(stack: Stack) -> Server {
        use platform_runtime::middleware::policy::RateLimit;
        use platform_runtime::middleware::{ErrorHandlingLayer, LoggingLayer, TimingLayer};
        let limit = RateLimit::new(1_000_000_000, std::time::Duration::from_secs(1));
        let builder = Server::builder("bench").tools(tools![echo]);
        let builder = match stack {
            Stack::Bare => builder.without_default_middleware(),
            Stack::Errors => builder
                .without_default_middleware()
                .layer(ErrorHandlingLayer::default()),
            Stack::Logging => builder
                .without_default_middleware()
                .layer(LoggingLayer::new()),
            Stack::Timing => builder
                .without_default_middleware()
                .layer(TimingLayer::default()),
            Stack::RateLimit => builder.without_default_middleware().rate_limit(limit),
            Stack::Default => builder.rate_limit(limit),
        };
        match builder.build() {
            Ok(server) => server,
            Err(error) => panic!("the benchmark server is valid: {error}"),
        }
    }
}

/// Which server to connect to.
#[derive(Debug, Clone, Copy)]
pub enum Target {
    /// Plain rmcp.
    Plain,
    /// Platform with the given middleware.
    Platform(platform::Stack),
}

impl Target {
    /// Parse `plain`, `bare`, `errors`, `logging`, `timing`, `rate-limit` or `default`.
    pub fn parse(name: &str) -> Option<Self> {
        use platform::Stack;
        Some(match name {
            "plain" => Target::Plain,
            "bare" | "platform" => Target::Platform(Stack::Bare),
            "errors" => Target::Platform(Stack::Errors),
            "logging" => Target::Platform(Stack::Logging),
            "timing" => Target::Platform(Stack::Timing),
            "rate-limit" => Target::Platform(Stack::RateLimit),
            "default" => Target::Platform(Stack::Default),
            _ => return None,
        })
    }
}

/// Connect an rmcp client to a fresh server over an in-memory duplex.
pub async fn connect(target: Target) -> RunningService<RoleClient, ()> {
    let (client_io, server_io) = tokio::io::duplex(1 << 20);
    match target {
        Target::Plain => {
            tokio::spawn(async move {
                if let Ok(running) = plain::Plain::default().serve(server_io).await {
                    let _ = running.waiting().await;
                }
            });
        }
        Target::Platform(stack) => {
            let server = platform::server(stack);
            tokio::spawn(async move {
                let _ = server.serve_io(server_io).await;
            });
        }
    }
    match ().serve(client_io).await {
        Ok(client) => client,
        Err(error) => panic!("client connects in memory: {error}"),
    }
}

/// One `echo` call, checking the answer.
pub async fn echo(client: &RunningService<RoleClient, ()>) {
    echo_as(client, "echo").await;
}

/// One call of an echo tool named `name` (`echo` mounted or proxied), checking the answer.
pub async fn echo_as(client: &RunningService<RoleClient, ()>, name: &'static str) {
    let mut args = serde_json::Map::new();
    args.insert("text".into(), serde_json::Value::String("hello".into()));
    let params = CallToolRequestParams::new(name).with_arguments(args);
    match client.call_tool(params).await {
        Ok(result) => {
            let text = result
                .content
                .first()
                .and_then(|c| c.as_text())
                .map(|t| t.text.as_str());
            assert_eq!(text, Some("hello"), "echo answered {result:?}");
        }
        Err(error) => panic!("echo failed: {error}"),
    }
}

/// A minimal HTTP/1.1 client for the load generator and the soak: one request at a time on
/// a connection, replies read by content length or chunked encoding.
pub mod client {
    use std::net::{IpAddr, SocketAddr};

    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::TcpStream;

    /// A reply: status, the headers the benchmarks look at, and the body.
    #[derive(Debug, Clone)]
    pub struct Reply {
        /// The status code.
        pub status: u16,
        /// `Mcp-Session-Id`, if sent.
        pub session: Option<String>,
        /// `Retry-After`, if sent.
        pub retry_after: Option<String>,
        /// The body (a JSON body, or the SSE events that arrived).
        pub body: String,
    }

    /// One connection.
    pub struct Conn {
        stream: TcpStream,
        buf: Vec<u8>,
    }

    impl Conn {
        /// Connect to `addr`.
        pub async fn open(addr: SocketAddr) -> std::io::Result<Self> {
            Self::from_stream(TcpStream::connect(addr).await?)
        }

        /// Connect to `addr` from the loopback address `from` (another client).
        pub async fn open_from(from: IpAddr, addr: SocketAddr) -> std::io::Result<Self> {
            let socket = tokio::net::TcpSocket::new_v4()?;
            socket.bind(SocketAddr::new(from, 0))?;
            Self::from_stream(socket.connect(addr).await?)
        }

        fn from_stream(stream: TcpStream) -> std::io::Result<Self> {
            stream.set_nodelay(true)?;
            Ok(Self {
                stream,
                buf: Vec::with_capacity(8192),
            })
        }

        /// POST `body` to `path` as JSON with `headers` (each line ending in `\r\n`).
        pub async fn post(
            &mut self,
            path: &str,
            headers: &str,
            body: &str,
            close: bool,
        ) -> std::io::Result<Reply> {
            let connection = if close { "close" } else { "keep-alive" };
            let request = format!(
                "POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: {connection}\r\ncontent-type: application/json\r\naccept: application/json, text/event-stream\r\n{headers}content-length: {}\r\n\r\n{body}",
                body.len()
            );
            self.send(request.as_bytes()).await
        }

        /// Send a whole request as written and read its reply.
        pub async fn send(&mut self, request: &[u8]) -> std::io::Result<Reply> {
            self.stream.write_all(request).await?;
            self.read_reply().await
        }

        async fn read_reply(&mut self) -> std::io::Result<Reply> {
            self.buf.clear();
            let head_end = loop {
                if let Some(at) = find(&self.buf, b"\r\n\r\n") {
                    break at + 4;
                }
                self.fill().await?;
            };
            // Header names compare case-insensitively; values (the session id) keep their case.
            let head = String::from_utf8_lossy(&self.buf[..head_end]).into_owned();
            let status = head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
            let header = |wanted: &str| {
                head.lines().find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case(wanted)
                        .then(|| value.trim().to_owned())
                })
            };
            let mut body = Vec::new();
            let mut at = head_end;
            if let Some(length) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
                while self.buf.len() < at + length {
                    self.fill().await?;
                }
                body.extend_from_slice(&self.buf[at..at + length]);
            } else if header("transfer-encoding")
                .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
            {
                loop {
                    let line_end = loop {
                        if let Some(end) = find(&self.buf[at..], b"\r\n") {
                            break at + end;
                        }
                        self.fill().await?;
                    };
                    let size_text = String::from_utf8_lossy(&self.buf[at..line_end]).to_string();
                    let size =
                        usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                            .map_err(|_| {
                                std::io::Error::other(format!("bad chunk size {size_text:?}"))
                            })?;
                    while self.buf.len() < line_end + 2 + size + 2 {
                        self.fill().await?;
                    }
                    body.extend_from_slice(&self.buf[line_end + 2..line_end + 2 + size]);
                    at = line_end + 2 + size + 2;
                    if size == 0 {
                        break;
                    }
                }
            }
            Ok(Reply {
                status,
                session: header("mcp-session-id"),
                retry_after: header("retry-after"),
                body: String::from_utf8_lossy(&body).into_owned(),
            })
        }

        async fn fill(&mut self) -> std::io::Result<()> {
            let mut chunk = [0u8; 8192];
            let n = self.stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "connection closed",
                ));
            }
            self.buf.extend_from_slice(&chunk[..n]);
            Ok(())
        }

        /// The socket, for writing byte by byte.
        pub fn stream(&mut self) -> &mut TcpStream {
            &mut self.stream
        }
    }

    fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
        haystack.windows(needle.len()).position(|w| w == needle)
    }
}

/// What the load generators measure with.
pub mod measure {
    /// CPU time this process has used (user and system), from `/proc/self/stat`; `None`
    /// where that file does not exist. Only one server is loaded at a time, so the
    /// difference over a cell is what its calls cost the client and that server together.
    pub fn cpu_seconds() -> Option<f64> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
        let mut fields = stat.rsplit_once(')')?.1.split_whitespace().skip(11);
        let user: f64 = fields.next()?.parse().ok()?;
        let system: f64 = fields.next()?.parse().ok()?;
        // Linux reports these in USER_HZ, 100 per second on every architecture it supports.
        Some((user + system) / 100.0)
    }

    /// The upper median of `values` (NaN for none).
    pub fn median(mut values: Vec<f64>) -> f64 {
        values.sort_by(f64::total_cmp);
        values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
    }
}

/// Telemetry set-ups for measuring its cost.
pub mod telemetry {
    use platform_runtime::config::{LogFormat, MetricsSection, OtlpSection, TelemetrySection};

    /// An OTLP/HTTP receiver on loopback that accepts and drops everything, on a thread of
    /// its own; its base URL.
    pub fn otlp_sink() -> std::io::Result<String> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let url = format!("http://{}", listener.local_addr()?);
        listener.set_nonblocking(true)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        std::thread::spawn(move || {
            runtime.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                    return;
                };
                let app = axum::Router::new().fallback(|_body: axum::body::Bytes| async {
                    (
                        [("content-type", "application/x-protobuf")],
                        Vec::<u8>::new(),
                    )
                });
                let _ = axum::serve(listener, app).await;
            });
        });
        Ok(url)
    }

    /// `[telemetry]` with the named parts on: `json` (JSON log lines), `otlp` (spans and
    /// metrics exported to `sink`), `metrics` (the Prometheus listener on a free port), or
    /// `full` (all three).
    pub fn section(parts: &str, sink: &str) -> TelemetrySection {
        let all = parts == "full";
        let on = |part: &str| all || parts.split(',').any(|p| p == part);
        TelemetrySection {
            format: if on("json") {
                LogFormat::Json
            } else {
                LogFormat::Text
            },
            otlp: on("otlp").then(|| OtlpSection {
                endpoint: Some(sink.to_owned()),
                ..OtlpSection::default()
            }),
            metrics: on("metrics").then(|| MetricsSection {
                bind: Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0))),
            }),
            ..TelemetrySection::default()
        }
    }
}
