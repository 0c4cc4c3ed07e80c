//! What sharing state through Redis costs: rate-limited, cached and legacy-session calls over
//! HTTP on 127.0.0.1, against the same server keeping that state in process, in one run,
//! rounds alternating the order. Needs Redis on 127.0.0.1:6379 (or `SHARED_LOAD_REDIS=url`).
//!
//! ```sh
//! cargo run --release -p platform-bench --example shared_load -- [seconds-per-run] [rounds]
//! ```
//!
//! Workloads, 16 keep-alive clients each:
//!
//! - `rate-limited`: 2026-07-28 `tools/call` of a tool with `#[rate_limit]` (a limit never
//!   reached: every call is checked, none refused) — with Redis, one GCRA script per call;
//! - `cached`: 2026-07-28 `tools/call` of a `#[cache]` tool with the same arguments (hits) —
//!   with Redis, one `GET` per call;
//! - `session`: 2025-11-25 `tools/call` inside sessions (one per client) — with Redis, each
//!   session's record written at `initialize` and refreshed at most once a second;
//! - `plain`: 2026-07-28 `tools/call` of a tool without policies (the control: what the
//!   servers cost apart from their stores).
//!
//! Prints calls/s per cell (median of the rounds), p50/p99 latency and process CPU per call,
//! and the ratio Redis / in process. `SHARED_LOAD_ONLY=rate-limited,cached` runs only those
//! workloads.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use platform_bench::client::Conn;
use platform_bench::measure::{cpu_seconds, median};
use platform_runtime::config::ConfigSource;
use platform_runtime::prelude::*;
use platform_runtime::transport::http::{HttpConfig, start};

type Fail = Box<dyn std::error::Error + Send + Sync>;

/// Echo the text, limited (far above what the load reaches).
#[tool]
#[rate_limit(100_000_000, per = "1s", key = "client")]
async fn limited(text: String) -> String {
    text
}

/// Echo the text, cached for everyone.
#[tool(read_only)]
#[cache(ttl = "10m", scope = "public")]
async fn cached(text: String) -> String {
    text
}

/// Echo the text.
#[tool]
async fn plain(text: String) -> String {
    text
}

const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"load","version":"1"}}}"#;
const INITIALIZED: &str = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Workload {
    RateLimited,
    Cached,
    Session,
    Plain,
}

impl Workload {
    const ALL: [Workload; 4] = [Self::RateLimited, Self::Cached, Self::Session, Self::Plain];

    fn name(self) -> &'static str {
        match self {
            Self::RateLimited => "rate-limited",
            Self::Cached => "cached",
            Self::Session => "session",
            Self::Plain => "plain",
        }
    }

    fn tool(self) -> &'static str {
        match self {
            Self::RateLimited => "limited",
            Self::Cached => "cached",
            Self::Session | Self::Plain => "plain",
        }
    }
}

/// A server keeping its state in process (`redis: None`) or in Redis.
async fn server(redis: Option<&str>) -> Result<SocketAddr, Fail> {
    let mut source = ConfigSource::default()
        .dir("/nonexistent")
        .environment(Vec::<(String, String)>::new());
    if let Some(url) = redis {
        let namespace = format!("shared-load-{}", std::process::id());
        source = source
            .set("redis.url", url)
            .set("redis.namespace", namespace);
    }
    let config = source.load()?;
    let server = Server::builder("shared-load")
        .tools(tools![limited, cached, plain])
        .build()?
        .with_config(&config)?;
    let config = HttpConfig {
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        ..HttpConfig::default()
    };
    let http = start(server, config).await?;
    let addr = http.local_addr();
    tokio::spawn(http.wait());
    Ok(addr)
}

struct Cell {
    rate: f64,
    p50: u128,
    p99: u128,
    cpu_per_call: f64,
}

async fn open_session(addr: SocketAddr) -> Result<String, Fail> {
    let mut conn = Conn::open(addr).await?;
    let reply = conn
        .post(
            "/mcp",
            "mcp-protocol-version: 2025-11-25\r\n",
            INITIALIZE,
            false,
        )
        .await?;
    let session = reply
        .session
        .ok_or("initialize answered without a session")?;
    conn.post(
        "/mcp",
        &format!("mcp-protocol-version: 2025-11-25\r\nmcp-session-id: {session}\r\n"),
        INITIALIZED,
        true,
    )
    .await?;
    Ok(session)
}

async fn run(
    addr: SocketAddr,
    workload: Workload,
    workers: usize,
    duration: Duration,
) -> Result<Cell, Fail> {
    let cpu_before = cpu_seconds();
    let deadline = Instant::now() + duration;
    let mut tasks = Vec::new();
    for worker in 0..workers {
        tasks.push(tokio::spawn(async move {
            let tool = workload.tool();
            let (headers, body) = match workload {
                Workload::Session => {
                    let session = open_session(addr).await?;
                    (
                        format!("mcp-protocol-version: 2025-11-25\r\nmcp-session-id: {session}\r\n"),
                        format!(r#"{{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{{"name":"{tool}","arguments":{{"text":"hello"}}}}}}"#),
                    )
                }
                _ => (
                    format!("mcp-protocol-version: 2026-07-28\r\nmcp-method: tools/call\r\nmcp-name: {tool}\r\n"),
                    format!(r#"{{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{{"name":"{tool}","arguments":{{"text":"hello"}},"_meta":{{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{{}}}}}}}}"#),
                ),
            };
            let _ = worker;
            let mut conn = Conn::open(addr).await?;
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let started = Instant::now();
                let reply = conn.post("/mcp", &headers, &body, false).await?;
                if reply.status != 200
                    || !reply.body.contains(r#""text":"hello""#)
                    || reply.body.contains(r#""isError":true"#)
                {
                    return Err(format!("{}: unexpected reply {}: {}", workload.name(), reply.status, reply.body).into());
                }
                latencies.push(started.elapsed().as_micros());
            }
            Ok::<_, Fail>(latencies)
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await??);
    }
    let cpu = match (cpu_before, cpu_seconds()) {
        (Some(before), Some(after)) if !all.is_empty() => (after - before) * 1e6 / all.len() as f64,
        _ => f64::NAN,
    };
    all.sort_unstable();
    let at = |q: usize| all.get(all.len() * q / 100).copied().unwrap_or(0);
    Ok(Cell {
        rate: all.len() as f64 / duration.as_secs_f64(),
        p50: at(50),
        p99: at(99),
        cpu_per_call: cpu,
    })
}

#[tokio::main]
async fn main() -> Result<(), Fail> {
    let mut args = std::env::args().skip(1);
    let seconds: f64 = args.next().map_or(Ok(3.0), |a| a.parse())?;
    let rounds: usize = args.next().map_or(Ok(3), |a| a.parse())?;
    let redis_url =
        std::env::var("SHARED_LOAD_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let local = server(None).await?;
    let shared = server(Some(&redis_url)).await?;
    let duration = Duration::from_secs_f64(seconds);
    let clients: usize = std::env::var("SHARED_LOAD_CLIENTS").map_or(Ok(16), |c| c.parse())?;
    println!(
        "{seconds} s per run, {rounds} rounds, {clients} keep-alive clients (SHARED_LOAD_CLIENTS); Redis at {redis_url}\n"
    );
    println!(
        "| workload | in process calls/s | Redis calls/s | Redis / in process | p50 µs (in process / Redis) | p99 µs | CPU µs per call |"
    );
    println!("|---|---:|---:|---:|---|---|---|");
    let only = std::env::var("SHARED_LOAD_ONLY").ok();
    for workload in Workload::ALL {
        if only
            .as_deref()
            .is_some_and(|only| !only.split(',').any(|w| w == workload.name()))
        {
            continue;
        }
        let mut cells: [Vec<Cell>; 2] = [Vec::new(), Vec::new()];
        for round in 0..rounds {
            let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
            for which in order {
                let addr = if which == 0 { local } else { shared };
                cells[which].push(run(addr, workload, clients, duration).await?);
            }
        }
        let rate = |i: usize| median(cells[i].iter().map(|c| c.rate).collect());
        let p =
            |i: usize, f: fn(&Cell) -> u128| median(cells[i].iter().map(|c| f(c) as f64).collect());
        let cpu = |i: usize| median(cells[i].iter().map(|c| c.cpu_per_call).collect());
        println!(
            "| {} | {:.0} | {:.0} | **{:.2}×** | {:.0} / {:.0} | {:.0} / {:.0} | {:.0} / {:.0} |",
            workload.name(),
            rate(0),
            rate(1),
            rate(1) / rate(0),
            p(0, |c| c.p50),
            p(1, |c| c.p50),
            p(0, |c| c.p99),
            p(1, |c| c.p99),
            cpu(0),
            cpu(1),
        );
    }
    Ok(())
}
