//! What an idle legacy session costs: resident memory and tasks, per session, for platform
//! and for plain rmcp configured as platform configures it.
//!
//! ```sh
//! cargo run --release -p platform-bench --example session_memory -- [sessions]
//! ```
//!
//! Each server gets `sessions` legacy sessions (`initialize` with 2025-11-25, then
//! `notifications/initialized`, over one keep-alive connection from 127.0.0.1); after a
//! second's rest the growth in resident memory (`/proc/self/statm`) and in live tasks is
//! divided by the count. Resident memory is what the allocator holds, so run enough sessions
//! (the default 5000) for the per-session figure to dominate its granularity. Platform is
//! measured twice: with sleep turned off (every session keeps the SDK's worker), and with
//! sessions put to sleep 50 ms after their last use (opened in batches of 100, each let
//! fall asleep before the next).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::ListenerExt as _;
use platform_bench::client::Conn;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};

/// This process's resident memory, in bytes (`/proc/self/statm`, 4 KiB pages).
fn resident() -> Result<u64, Fail> {
    let statm = std::fs::read_to_string("/proc/self/statm")?;
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .ok_or("statm's resident field")?
        .parse()?;
    Ok(pages * 4096)
}

const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"idle","version":"1"}}}"#;
const INITIALIZED: &str = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;

type Fail = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Fail> {
    let sessions: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(5000);
    let platform = |sleep_after: Duration| async move {
        let server = platform_bench::platform::server(platform_bench::platform::Stack::Default);
        platform_runtime::transport::http::start(
            server,
            platform_runtime::transport::http::HttpConfig {
                bind: SocketAddr::from(([127, 0, 0, 1], 0)),
                max_sessions: sessions + 16,
                max_sessions_per_client: sessions + 16,
                session_sleep_after: sleep_after,
                ..Default::default()
            },
        )
        .await
    };
    let plain = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let config = StreamableHttpServerConfig::default()
            .with_allowed_hosts(vec!["127.0.0.1".to_owned()])
            .with_json_response(true);
        let service = StreamableHttpService::new(
            || Ok(platform_bench::plain::Plain::default()),
            Arc::new(LocalSessionManager::default()),
            config,
        );
        let app = axum::Router::new().nest_service("/mcp", service);
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    };
    println!("| server | resident bytes per idle session | tasks per idle session |");
    println!("|---|---:|---:|");
    let (bytes, tasks) = open_idle(plain, sessions, None).await?;
    println!("| plain rmcp | {bytes:.0} | {tasks:.2} |");
    // Sleep turned off: every session keeps the SDK's worker.
    let awake = platform(Duration::ZERO).await?;
    let (bytes, tasks) = open_idle(awake.local_addr(), sessions, None).await?;
    println!("| platform, sessions awake | {bytes:.0} | {tasks:.2} |");
    // Sessions put to sleep 50 ms after their last use.
    let asleep = platform(Duration::from_millis(50)).await?;
    let (bytes, tasks) = open_idle(asleep.local_addr(), sessions, Some(&asleep)).await?;
    println!("| platform, sessions asleep | {bytes:.0} | {tasks:.2} |");
    std::mem::forget((awake, asleep));
    Ok(())
}

/// Open `count` sessions on `addr` and leave them idle; bytes and tasks each costs. With
/// `sleepy`, sessions are opened in batches of 100, each let fall asleep before the next,
/// so the memory the awake ones held is reused rather than counted.
async fn open_idle(
    addr: SocketAddr,
    count: usize,
    sleepy: Option<&platform_runtime::transport::http::HttpServer>,
) -> Result<(f64, f64), Fail> {
    let metrics = tokio::runtime::Handle::current().metrics();
    let mut conn = Conn::open(addr).await?;
    // One session first, so one-time costs (lazy statics, pools) are not counted.
    open_one(&mut conn).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let bytes_before = resident()?;
    let tasks_before = metrics.num_alive_tasks();
    let mut opened = 0;
    while opened < count {
        let batch = if sleepy.is_some() { 100 } else { count };
        for _ in 0..batch.min(count - opened) {
            open_one(&mut conn).await?;
            opened += 1;
        }
        if let Some(http) = sleepy {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
            while http.stats().asleep_sessions < opened + 1 {
                if tokio::time::Instant::now() > deadline {
                    return Err("the sessions did not fall asleep".into());
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let bytes = resident()?.saturating_sub(bytes_before);
    let tasks = metrics.num_alive_tasks() as f64 - tasks_before as f64;
    Ok((bytes as f64 / count as f64, tasks / count as f64))
}

async fn open_one(conn: &mut Conn) -> Result<(), Fail> {
    let init = conn.post("/mcp", "", INITIALIZE, false).await?;
    let session = init
        .session
        .ok_or_else(|| format!("no session: {} {}", init.status, init.body))?;
    let headers = format!("mcp-session-id: {session}\r\nmcp-protocol-version: 2025-11-25\r\n");
    let ack = conn.post("/mcp", &headers, INITIALIZED, false).await?;
    if ack.status != 202 {
        return Err(format!("initialized answered {}", ack.status).into());
    }
    Ok(())
}
