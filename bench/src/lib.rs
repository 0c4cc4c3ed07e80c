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
    let mut args = serde_json::Map::new();
    args.insert("text".into(), serde_json::Value::String("hello".into()));
    let params = CallToolRequestParams::new("echo").with_arguments(args);
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
