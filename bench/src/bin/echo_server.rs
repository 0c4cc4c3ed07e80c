//! The benchmark's `echo` server as a process of its own, for the cross-process load
//! generator (`examples/peers_load.rs`):
//!
//! ```sh
//! echo_server platform|plain stdio
//! echo_server platform|plain http      # prints `listening 127.0.0.1:PORT`, serves `/mcp`
//! ```
//!
//! `platform` is the platform server with its default middleware stack
//! ([`platform_bench::platform::Stack::Default`]); `plain` is plain rmcp, served over HTTP
//! by rmcp's `StreamableHttpService` configured as platform configures it (legacy sessions
//! on, plain JSON where the protocol allows, `TCP_NODELAY`).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::serve::ListenerExt as _;
use platform_bench::{plain::Plain, platform};
use rmcp::ServiceExt as _;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};

type Fail = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Fail> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["platform", "stdio"] => {
            let server = platform::server(platform::Stack::Default);
            platform_runtime::transport::stdio::serve_stdio(
                &server,
                platform_runtime::transport::stdio::StdioConfig::default(),
            )
            .await?;
        }
        ["plain", "stdio"] => {
            let running = Plain::default().serve(rmcp::transport::stdio()).await?;
            running.waiting().await?;
        }
        ["platform", "http"] => {
            let server = platform::server(platform::Stack::Default);
            let http = platform_runtime::transport::http::start(
                server,
                platform_runtime::transport::http::HttpConfig {
                    bind: SocketAddr::from(([127, 0, 0, 1], 0)),
                    ..Default::default()
                },
            )
            .await?;
            println!("listening {}", http.local_addr());
            if std::env::var_os("ECHO_SERVER_STATS").is_some() {
                loop {
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    eprintln!("served directly: {}", http.served_directly());
                }
            }
            http.wait().await?;
        }
        ["plain", "http"] => {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            println!("listening {}", listener.local_addr()?);
            let config = StreamableHttpServerConfig::default()
                .with_allowed_hosts(vec!["127.0.0.1".to_owned()])
                .with_json_response(true);
            let service = StreamableHttpService::new(
                || Ok(Plain::default()),
                Arc::new(LocalSessionManager::default()),
                config,
            );
            let app = axum::Router::new().nest_service("/mcp", service);
            let listener = listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            axum::serve(listener, app).await?;
        }
        _ => {
            eprintln!("usage: echo_server platform|plain stdio|http");
            std::process::exit(2);
        }
    }
    Ok(())
}
