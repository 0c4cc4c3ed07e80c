//! The application shell: `serve()` and `serve_from()` — the command line (`serve`,
//! `inspect`, `version`), configuration loading, logging set-up, signals, and the choice of
//! transport. The top layer: it names the server, the transports and the configuration,
//! and nothing names it.

use std::ffi::OsString;
use std::io::Write as _;

use clap::{CommandFactory as _, FromArgMatches as _, Parser, Subcommand};

use crate::config::{Config, ConfigSource};
use crate::server::{IntoServer, ServeError, Server};

/// The command line. Its name, version and description are the server's (see
/// [`Cli::command_for`]); `--help`, `--version` and usage errors are clap's.
#[derive(Debug, Parser)]
#[command(
    help_template = "{name} {version}\n{about-with-newline}\n{usage-heading} {usage}\n\n{all-args}{after-help}"
)]
struct Cli {
    /// The configuration profile (reads `platform.<profile>.toml`); default `PLATFORM_PROFILE`.
    #[arg(long, global = true)]
    profile: Option<String>,

    /// The directory holding `platform.toml` (default: the working directory).
    #[arg(long, global = true, value_name = "DIR")]
    config_dir: Option<std::path::PathBuf>,

    /// Log filter for stderr (tracing syntax: `info`, `platform_runtime=debug`, …); sets
    /// `telemetry.log`.
    /// Defaults to the `RUST_LOG` environment variable, then `info,rmcp=warn`. The SDK's own
    /// events (which include whole messages) stay at `warn` unless the filter names `rmcp`.
    #[arg(long, global = true, value_name = "FILTER")]
    log: Option<String>,

    /// Log line format on stderr: `text` (default) or `json` (one object per line, with each
    /// request's trace and span ids); sets `telemetry.format`.
    #[arg(long, global = true, value_name = "FORMAT", value_parser = ["text", "json"])]
    log_format: Option<String>,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve MCP (over stdio by default).
    Serve(ServeArgs),
    /// Print the manifest: every tool, resource and prompt with its schemas, as JSON.
    Inspect,
    /// Print the server's name and version.
    Version,
    /// Print the effective configuration (files, environment, flags), secrets redacted.
    Config(ServeArgs),
    /// Check the HTTP server running here: `GET /healthz` (`/readyz` with `--ready`) on the
    /// configured bind address; exit status 0 when it answers 200. For container health
    /// checks, with no HTTP client in the image.
    Health(HealthArgs),
}

#[derive(Debug, Default, clap::Args)]
struct HealthArgs {
    /// The address to check (default: `transport.bind`; an unspecified address such as
    /// `0.0.0.0:8000` is checked on loopback).
    #[arg(long)]
    bind: Option<std::net::SocketAddr>,
    /// Check readiness (`/readyz`: 503 while draining) instead of liveness (`/healthz`).
    #[arg(long)]
    ready: bool,
}

#[derive(Debug, Default, clap::Args)]
struct ServeArgs {
    /// The transport: `stdio` (default) or `http` (streamable HTTP). Overrides
    /// `transport.kind`.
    #[arg(long, value_parser = ["stdio", "http"])]
    transport: Option<String>,
    /// Where to listen with `--transport http` (default `127.0.0.1:8000`).
    #[arg(long)]
    bind: Option<std::net::SocketAddr>,
    /// The MCP endpoint's path with `--transport http` (default `/mcp`).
    #[arg(long)]
    path: Option<String>,
    /// A host (name or name:port) to accept in the `Host` header besides loopback; repeat
    /// for several. Needed when clients reach the server by another name.
    #[arg(long = "allow-host", value_name = "HOST")]
    allowed_hosts: Vec<String>,
    /// A browser origin (with scheme) to accept besides loopback; repeat for several.
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    allowed_origins: Vec<String>,
}

/// Run the server as a command-line program: parse the command line, install logging to
/// stderr, and serve MCP over stdio until the client disconnects or the process receives
/// ctrl-c / SIGTERM.
///
/// Commands: `serve` (default), `inspect` (print the manifest as JSON, with each tool's
/// policies), `config` (the effective configuration), `health` (check the HTTP server
/// running here, for container health checks), `version`, and `--help` / `--version`,
/// which name the server and describe it with its instructions. As with any clap program,
/// `--help` and `--version` exit with status 0 and a usage error prints clap's message and
/// exits with status 2; other errors (configuration, transport) are returned.
///
/// ```no_run
/// use platform_runtime::prelude::*;
///
/// /// Add two integers.
/// #[tool]
/// fn add(a: i64, b: i64) -> i64 { a + b }
///
/// #[tokio::main]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let server = Server::builder("calc").tools(tools![add]).build()?;
///     platform_runtime::serve(server).await?;
///     Ok(())
/// }
/// ```
pub async fn serve(server: impl IntoServer) -> Result<(), ServeError> {
    serve_from(server, std::env::args_os()).await
}

/// [`serve`] with an explicit command line (the first item is the program name).
pub async fn serve_from<I, T>(server: impl IntoServer, args: I) -> Result<(), ServeError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let server = server.into_server()?;
    let mut cli = Cli::parse_for(server.info(), args);
    match cli
        .command
        .take()
        .unwrap_or_else(|| Command::Serve(ServeArgs::default()))
    {
        Command::Config(args) => {
            let config = args.load(&cli)?;
            let mut stdout = std::io::stdout().lock();
            write!(stdout, "{}", config.to_redacted_toml())?;
            Ok(())
        }
        Command::Inspect => {
            let manifest = serde_json::to_string_pretty(&server.manifest())
                .map_err(|e| ServeError::Io(std::io::Error::other(e)))?;
            let mut stdout = std::io::stdout().lock();
            writeln!(stdout, "{manifest}")?;
            Ok(())
        }
        Command::Health(args) => {
            let bind = match args.bind {
                Some(bind) => bind,
                None => {
                    let mut source = ConfigSource::default()
                        .profile(cli.profile.clone())
                        .set("transport.kind", "http");
                    if let Some(dir) = &cli.config_dir {
                        source = source.dir(dir.clone());
                    }
                    source.load().map_err(ServeError::Config)?.transport.bind
                }
            };
            let path = if args.ready { "/readyz" } else { "/healthz" };
            let status = probe(bind, path).await?;
            writeln!(std::io::stdout().lock(), "{path} on {bind}: {status}")?;
            Ok(())
        }
        Command::Version => {
            let mut stdout = std::io::stdout().lock();
            writeln!(stdout, "{} {}", server.info().name, server.info().version)?;
            Ok(())
        }
        Command::Serve(args) => {
            let config = args.load(&cli)?;
            let telemetry =
                crate::observability::Telemetry::install(&config.telemetry, &server.info().name)
                    .map_err(|error| {
                        ServeError::Config(crate::config::ConfigError::new(error.to_string()))
                    })?;
            // Listen for signals before serving: one that arrives right after start-up is
            // still a graceful shutdown.
            let signals = Signals::install()?;
            // `[limits]`, `[telemetry]` and `[sealing]` apply to the server itself.
            let server = server.with_config(&config)?;
            // Remote servers mounted here are tried once before the first client arrives
            // (an unreachable one is logged and retried in the background).
            server.ready().await;
            let served = if config.transport.kind == "http" {
                serve_http(server, &config, signals).await
            } else {
                let operator = crate::auth::operator(&config.auth);
                let stdio = crate::transport::stdio::StdioConfig {
                    max_message_bytes: config.transport.max_body_bytes,
                    direct_dispatch: config.transport.direct_dispatch,
                };
                serve_stdio(server, operator, stdio, signals).await
            };
            // Export the spans still buffered; blocking, so off the runtime's workers.
            let _ = tokio::task::spawn_blocking(move || telemetry.shutdown()).await;
            served
        }
    }
}

/// `GET path` on the server at `bind` (on loopback if `bind` is unspecified), within 3 s:
/// the status line if it is 200, else an error saying what came back.
async fn probe(mut bind: std::net::SocketAddr, path: &str) -> Result<String, ServeError> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    if bind.ip().is_unspecified() {
        bind.set_ip(if bind.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    let failed =
        |why: String| ServeError::Io(std::io::Error::other(format!("{path} on {bind}: {why}")));
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(bind).await?;
        let head = format!("GET {path} HTTP/1.1\r\nhost: {bind}\r\nconnection: close\r\n\r\n");
        stream.write_all(head.as_bytes()).await?;
        let mut reply = Vec::new();
        stream.take(4096).read_to_end(&mut reply).await?;
        Ok::<_, std::io::Error>(reply)
    };
    let reply = tokio::time::timeout(std::time::Duration::from_secs(3), exchange)
        .await
        .map_err(|_| failed("no answer within 3s".into()))?
        .map_err(|e| failed(e.to_string()))?;
    let text = String::from_utf8_lossy(&reply);
    let status = text.lines().next().unwrap_or_default().trim().to_owned();
    if status.split_whitespace().nth(1) == Some("200") {
        Ok(status)
    } else {
        Err(failed(format!("answered `{status}`")))
    }
}

impl Cli {
    /// The command line of this server: `--help` opens with its name and version and
    /// describes it with its description (else its instructions, else its title);
    /// `--version` / `-V` print `name version`.
    fn command_for(info: &crate::server::ServerInfo) -> clap::Command {
        let about = info
            .description
            .clone()
            .or_else(|| info.instructions.clone())
            .or_else(|| info.title.clone())
            .unwrap_or_else(|| format!("The {} MCP server.", info.name));
        Cli::command()
            .name(info.name.clone())
            .version(info.version.clone())
            .about(about)
            .after_help(
                "Commands default to `serve`. Configuration: platform.toml, \
                 platform.<profile>.toml and PLATFORM_* environment variables \
                 (see `config`).",
            )
    }

    /// Parse `args` as clap programs do: `--help` and `--version` print and exit with status
    /// 0; a usage error prints clap's message (with the usage and a hint) to stderr and exits
    /// with status 2, without a backtrace.
    fn parse_for<I, T>(info: &crate::server::ServerInfo, args: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let mut command = Self::command_for(info);
        command
            .try_get_matches_from_mut(args)
            .and_then(|matches| Cli::from_arg_matches(&matches))
            .unwrap_or_else(|error| error.format(&mut command).exit())
    }
}

impl ServeArgs {
    /// The configuration with these flags on top.
    fn load(&self, cli: &Cli) -> Result<Config, ServeError> {
        let mut source = ConfigSource::default().profile(cli.profile.clone());
        if let Some(dir) = &cli.config_dir {
            source = source.dir(dir.clone());
        }
        if let Some(transport) = &self.transport {
            source = source.set("transport.kind", transport.as_str());
        }
        if let Some(bind) = self.bind {
            source = source.set("transport.bind", bind.to_string());
        }
        if let Some(path) = &self.path {
            source = source.set("transport.path", path.as_str());
        }
        if !self.allowed_hosts.is_empty() {
            source = source.set("transport.allowed_hosts", self.allowed_hosts.clone());
        }
        if !self.allowed_origins.is_empty() {
            source = source.set("transport.allowed_origins", self.allowed_origins.clone());
        }
        if let Some(log) = &cli.log {
            source = source.set("telemetry.log", log.as_str());
        }
        if let Some(format) = &cli.log_format {
            source = source.set("telemetry.format", format.as_str());
        }
        source.load().map_err(ServeError::Config)
    }
}

/// Serve over streamable HTTP until a shutdown signal arrives, then drain: after the drain
/// delay on SIGTERM (what orchestrators send), at once on ctrl-c (someone at a terminal).
async fn serve_http(
    server: Server,
    config: &Config,
    mut signals: Signals,
) -> Result<(), ServeError> {
    let mut http = crate::transport::http::HttpConfig::from(&config.transport);
    http.auth = crate::auth::Auth::from_config(config)
        .and_then(|auth| auth.map(crate::auth::Auth::build).transpose())
        .map_err(|message| ServeError::Config(crate::config::ConfigError::new(message)))?;
    match &http.auth {
        Some(auth) => tracing::info!(
            resource = auth.resource(),
            "authentication on: every request to the MCP endpoint needs credentials"
        ),
        None => tracing::warn!(
            "authentication off: anyone who can reach the server may call it (configure `[auth.jwt]` to require tokens)"
        ),
    }
    let running = crate::transport::http::start(server, http).await?;
    let signal = signals.recv().await;
    tracing::info!(signal, "shutting down");
    if signal == "ctrl-c" {
        running.shutdown_after(std::time::Duration::ZERO).await
    } else {
        running.shutdown().await
    }
}

/// Serve over stdio until the client closes stdin or a shutdown signal arrives.
async fn serve_stdio(
    server: Server,
    operator: crate::identity::Principal,
    config: crate::transport::stdio::StdioConfig,
    mut signals: Signals,
) -> Result<(), ServeError> {
    let info = server.info().clone();
    tracing::info!(
        name = info.name,
        version = info.version,
        transport = "stdio",
        "serving MCP"
    );
    tracing::info!(
        principal = operator.id(),
        roles = ?operator.roles(),
        "stdio client acts as the local operator"
    );
    let handler = server.session_handler().acting_as(operator);
    let (input, output) = crate::transport::stdio::process_streams();
    let outcome = crate::transport::stdio::serve_handler(handler, input, output, &config, async {
        let signal = signals.recv().await;
        tracing::info!(signal, "shutting down");
    })
    .await
    .map(|ended| match ended {
        crate::transport::stdio::Ended::Closed => "stdin closed",
        crate::transport::stdio::Ended::Stopped => "signal",
    });
    match outcome {
        Ok(reason) => {
            tracing::info!(reason, "stopped");
            Ok(())
        }
        Err(error) => Err(error),
    }
}

/// The shutdown signals, listened for from the moment they are installed.
struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> Result<Self, ServeError> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    /// Resolves on ctrl-c or SIGTERM, naming the signal.
    async fn recv(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.interrupt.recv() => "ctrl-c",
                _ = self.terminate.recv() => "SIGTERM",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "ctrl-c"
        }
    }
}
