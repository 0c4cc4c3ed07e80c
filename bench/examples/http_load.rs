//! HTTP load generator: platform's streamable HTTP transport against a plain rmcp server
//! built the same way and a minimal hyper JSON echo (the machine's ceiling, no MCP), all in
//! this process, on 127.0.0.1, interleaved round by round.
//!
//! ```sh
//! cargo run --release -p platform-bench --example http_load -- [seconds-per-run] [rounds]
//! ```
//!
//! The client is a minimal HTTP/1.1 client that either keeps its connection alive (what the
//! TypeScript SDK and httpx do) or opens one per call (what rmcp's client does). Every reply
//! is checked for the echoed text. Workloads:
//!
//! - `modern`: 2026-07-28 `tools/call` (stateless, plain JSON);
//! - `legacy`: 2025-11-25 `tools/call` in an initialized session (SSE replies).
//!
//! Platform runs its default middleware stack; plain rmcp runs rmcp's `StreamableHttpService`
//! configured as platform configures it (legacy sessions on, `json_response`), both with
//! `TCP_NODELAY`, both through axum.
//!
//! Prints calls/s with p50/p99 latency per cell (medians over the rounds) and the ratios.
//! For 2026-07-28 a second plain rmcp server runs in rmcp's best configuration for that
//! era (stateless: `legacy_session_mode` off, `json_response`), and a second platform server
//! runs with direct dispatch off (every request through the SDK's service, as plain rmcp).
//!
//! A third platform server authenticates every request with a JWT from a `TestIssuer` on
//! loopback (RS256; the issuer's keys fetched once and cached) or an API key, to show what
//! checking credentials on every call costs; a second unauthenticated instance is the
//! control for what an instance of its own costs.
//!
//! Besides calls/s, each cell's process CPU time per call (client and server, from
//! `/proc/self/stat`) is printed: it does not depend on how the two cores' schedulers treated
//! the run.
//!
//! Environment: `PLATFORM_STACK=bare` runs platform without middleware;
//! `HTTP_LOAD_TELEMETRY=text|full|json,otlp,metrics` runs the whole process with the
//! platform's telemetry so configured (`full`: JSON log lines to a sink, spans and metrics
//! over OTLP to a sink on loopback, the Prometheus listener);
//! `HTTP_LOAD_ONLY=<text>[;<text>…]` loads only the servers of those names, or else the
//! servers whose name contains one of the texts; `HTTP_LOAD_CELLS=0,1` runs only those
//! cells (0: c=1 keep-alive, 1: c=16 keep-alive, 2 and 3: the same with new connections).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::serve::ListenerExt as _;
use platform_bench::client::Conn;
use platform_bench::measure::{cpu_seconds, median};
use platform_runtime::transport::http::{HttpConfig, start};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};

const MODERN_CALL: &str = r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hello"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}"#;
const LEGACY_CALL: &str = r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hello"}}}"#;
const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"load","version":"1"}}}"#;
const INITIALIZED: &str = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;

/// One server under load.
#[derive(Clone)]
struct Target {
    name: &'static str,
    addr: SocketAddr,
    path: &'static str,
    era: Era,
    /// `authorization: Bearer …\r\n`, for the authenticated server.
    auth: &'static str,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Era {
    /// Not MCP: the ceiling.
    Raw,
    Modern,
    Legacy,
}

fn nodelay(listener: tokio::net::TcpListener) -> impl axum::serve::Listener<Addr = SocketAddr> {
    listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    })
}

/// A benchmark failure: a server that did not start or a reply that was wrong.
type Fail = Box<dyn std::error::Error + Send + Sync>;

async fn listen() -> Result<(tokio::net::TcpListener, SocketAddr), Fail> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    Ok((listener, addr))
}

/// The ceiling: a minimal hyper HTTP/1.1 server (no router, no MCP) that reads each
/// request's body and answers a fixed JSON-RPC-shaped reply, with `TCP_NODELAY`.
async fn ceiling() -> Result<SocketAddr, Fail> {
    use http_body_util::{BodyExt as _, Full};
    const REPLY: &str =
        r#"{"jsonrpc":"2.0","id":7,"result":{"content":[{"type":"text","text":"hello"}]}}"#;
    let (listener, addr) = listen().await?;
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let _ = tcp.set_nodelay(true);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    |request: hyper::Request<hyper::body::Incoming>| async move {
                        let _ = request.into_body().collect().await;
                        let mut response = hyper::Response::new(Full::new(
                            axum::body::Bytes::from_static(REPLY.as_bytes()),
                        ));
                        response.headers_mut().insert(
                            "content-type",
                            axum::http::HeaderValue::from_static("application/json"),
                        );
                        Ok::<_, std::convert::Infallible>(response)
                    },
                );
                let io = hyper_util::rt::TokioIo::new(tcp);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, service)
                    .await;
            });
        }
    });
    Ok(addr)
}

/// Plain rmcp configured as platform configures it (legacy sessions on, plain JSON where
/// the protocol allows) or stateless, served by axum with `TCP_NODELAY`.
async fn plain(legacy_sessions: bool) -> Result<SocketAddr, Fail> {
    let (listener, addr) = listen().await?;
    let config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(vec!["127.0.0.1".to_owned()])
        .with_legacy_session_mode(legacy_sessions)
        .with_json_response(true);
    let service = StreamableHttpService::new(
        || Ok(platform_bench::plain::Plain::default()),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    let app = Router::new().nest_service("/mcp", service);
    tokio::spawn(async move { axum::serve(nodelay(listener), app).await });
    Ok(addr)
}

/// Platform's HTTP transport with its default middleware stack (`PLATFORM_STACK=bare` for
/// none: the transport's own cost); `direct` off routes 2026-07-28 requests through the
/// SDK's per-request serve loop as well.
async fn platform(direct: bool) -> Result<SocketAddr, Fail> {
    platform_with(direct, None).await
}

/// The audience of the authenticated server's tokens.
const AUDIENCE: &str = "https://bench.example/mcp";
/// An API key the authenticated server also accepts.
const API_KEY: &str = "k-load-0123456789abcdef";

/// Platform as [`platform`] does, authenticating every request with JWTs from `issuer`;
/// also returns the `authorization` header line of a valid token.
async fn platform_jwt(
    issuer: &platform_runtime::testing::TestIssuer,
) -> Result<(SocketAddr, &'static str), Fail> {
    use platform_runtime::auth::{ApiKey, Auth, JwtIssuer};
    let auth = Auth::new()
        .resource(AUDIENCE)
        .jwt(JwtIssuer::new(issuer.issuer()))
        .api_key(ApiKey::new("load", ApiKey::hash(API_KEY)))
        .build()?;
    let token = issuer
        .token("load")
        .audience(AUDIENCE)
        .expires_in(Duration::from_secs(3600))
        .sign();
    let header: &'static str =
        Box::leak(format!("authorization: Bearer {token}\r\n").into_boxed_str());
    Ok((platform_with(true, Some(auth)).await?, header))
}

async fn platform_with(
    direct: bool,
    auth: Option<platform_runtime::auth::Authenticator>,
) -> Result<SocketAddr, Fail> {
    let stack = match std::env::var("PLATFORM_STACK").as_deref() {
        Ok("bare") => platform_bench::platform::Stack::Bare,
        _ => platform_bench::platform::Stack::Default,
    };
    let server = platform_bench::platform::server(stack);
    let http = start(
        server,
        HttpConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            direct_dispatch: direct,
            auth,
            ..HttpConfig::default()
        },
    )
    .await?;
    let addr = http.local_addr();
    // Keep serving for the life of the process.
    tokio::spawn(http.wait());
    Ok(addr)
}

/// A legacy session on `target`: initialize, then the initialized notification.
async fn open_session(target: &Target) -> std::io::Result<String> {
    let mut conn = Conn::open(target.addr).await?;
    let headers = format!("mcp-protocol-version: 2025-11-25\r\n{}", target.auth);
    let reply = conn
        .post(target.path, target.auth, INITIALIZE, false)
        .await?;
    let session = reply.session.ok_or_else(|| {
        std::io::Error::other(format!("{}: no session ({})", target.name, reply.status))
    })?;
    let with_session = format!("{headers}mcp-session-id: {session}\r\n");
    conn.post(target.path, &with_session, INITIALIZED, false)
        .await?;
    Ok(session)
}

/// The headers and body of one call on `target`.
fn call(target: &Target, session: Option<&str>) -> (String, &'static str) {
    match target.era {
        Era::Raw => (String::new(), MODERN_CALL),
        Era::Modern => (
            format!(
                "mcp-protocol-version: 2026-07-28\r\nmcp-method: tools/call\r\nmcp-name: echo\r\n{}",
                target.auth
            ),
            MODERN_CALL,
        ),
        Era::Legacy => (
            format!(
                "mcp-protocol-version: 2025-11-25\r\nmcp-session-id: {}\r\n{}",
                session.unwrap_or_default(),
                target.auth
            ),
            LEGACY_CALL,
        ),
    }
}

/// One cell's measurements.
struct Cell {
    rate: f64,
    p50: u128,
    p99: u128,
    /// Process CPU per call, µs (NaN where it cannot be read).
    cpu_per_call: f64,
}

/// Run `workers` clients against `target` for `duration`.
async fn run(
    target: &Target,
    workers: usize,
    keep_alive: bool,
    duration: Duration,
) -> Result<Cell, Fail> {
    let cpu_before = cpu_seconds();
    let deadline = Instant::now() + duration;
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let target = target.clone();
        tasks.push(tokio::spawn(async move {
            let session = match target.era {
                Era::Legacy => Some(open_session(&target).await?),
                _ => None,
            };
            let (headers, body) = call(&target, session.as_deref());
            let mut latencies = Vec::new();
            let mut conn = None;
            while Instant::now() < deadline {
                let started = Instant::now();
                let open = match conn.as_mut() {
                    Some(open) => open,
                    None => conn.insert(Conn::open(target.addr).await?),
                };
                let reply = open.post(target.path, &headers, body, !keep_alive).await?;
                if reply.status != 200
                    || !reply.body.contains(r#""text":"hello""#)
                    || reply.body.contains(r#""isError":true"#)
                {
                    return Err(format!(
                        "{}: unexpected reply {}: {}",
                        target.name, reply.status, reply.body
                    )
                    .into());
                }
                latencies.push(started.elapsed().as_micros());
                if !keep_alive {
                    conn = None;
                }
            }
            // Close the session, so rounds do not pile up sessions against the per-client cap.
            if let Some(session) = &session {
                let mut conn = Conn::open(target.addr).await?;
                let request = format!(
                    "DELETE {} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\nmcp-session-id: {session}\r\nmcp-protocol-version: 2025-11-25\r\n{}content-length: 0\r\n\r\n",
                    target.path, target.auth
                );
                conn.send(request.as_bytes()).await?;
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
    let seconds: f64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(2.0);
    let rounds: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(3);
    let duration = Duration::from_secs_f64(seconds);
    // `HTTP_LOAD_TELEMETRY=text|full|json,otlp,metrics`: the whole process runs with the
    // platform's telemetry so configured (OTLP to a sink on loopback).
    let telemetry = match std::env::var("HTTP_LOAD_TELEMETRY") {
        Ok(parts) => {
            let sink = platform_bench::telemetry::otlp_sink()?;
            let section = platform_bench::telemetry::section(&parts, &sink);
            let (telemetry, dispatch) = platform_runtime::observability::Telemetry::with_writer(
                &section,
                "http_load",
                std::io::sink,
            )?;
            let _ = tracing::dispatcher::set_global_default(dispatch);
            println!("telemetry: {parts}");
            Some(telemetry)
        }
        Err(_) => None,
    };

    let plain_addr = plain(true).await?;
    let stateless_addr = plain(false).await?;
    let platform_addr = platform(true).await?;
    let via_sdk_addr = platform(false).await?;
    let ceiling_addr = ceiling().await?;
    let issuer = platform_runtime::testing::TestIssuer::start().await?;
    let (jwt_addr, bearer) = platform_jwt(&issuer).await?;
    // A second unauthenticated instance, started like the authenticated one: the control
    // for what a server instance of its own costs.
    let control_addr = platform(true).await?;
    // An unused header as long as the token's: what carrying the token costs, apart from
    // checking it.
    let padding: &'static str = Box::leak(
        format!(
            "x-padding: {}\r\n",
            "p".repeat(bearer.len() - "x-padding: \r\n".len())
        )
        .into_boxed_str(),
    );
    let targets = [
        Target {
            name: "ceiling (hyper JSON echo, no MCP)",
            addr: ceiling_addr,
            path: "/mcp",
            era: Era::Raw,
            auth: "",
        },
        Target {
            name: "plain rmcp, 2026-07-28",
            addr: plain_addr,
            path: "/mcp",
            era: Era::Modern,
            auth: "",
        },
        Target {
            name: "plain rmcp stateless (best configuration), 2026-07-28",
            addr: stateless_addr,
            path: "/mcp",
            era: Era::Modern,
            auth: "",
        },
        Target {
            name: "platform, 2026-07-28",
            addr: platform_addr,
            path: "/mcp",
            era: Era::Modern,
            auth: "",
        },
        Target {
            name: "plain rmcp, 2025-11-25 session (SSE)",
            addr: plain_addr,
            path: "/mcp",
            era: Era::Legacy,
            auth: "",
        },
        Target {
            name: "platform, 2025-11-25 session",
            addr: platform_addr,
            path: "/mcp",
            era: Era::Legacy,
            auth: "",
        },
        Target {
            name: "platform, 2026-07-28, direct dispatch off",
            addr: via_sdk_addr,
            path: "/mcp",
            era: Era::Modern,
            auth: "",
        },
        Target {
            name: "platform, 2026-07-28, a header the token's size",
            addr: platform_addr,
            path: "/mcp",
            era: Era::Modern,
            auth: padding,
        },
        Target {
            name: "platform (another instance), 2026-07-28",
            addr: control_addr,
            path: "/mcp",
            era: Era::Modern,
            auth: "",
        },
        Target {
            name: "platform + JWT, 2026-07-28",
            addr: jwt_addr,
            path: "/mcp",
            era: Era::Modern,
            auth: bearer,
        },
        Target {
            name: "platform + JWT, 2025-11-25 session",
            addr: jwt_addr,
            path: "/mcp",
            era: Era::Legacy,
            auth: bearer,
        },
        Target {
            name: "platform + API key, 2026-07-28",
            addr: jwt_addr,
            path: "/mcp",
            era: Era::Modern,
            auth: Box::leak(format!("x-api-key: {API_KEY}\r\n").into_boxed_str()),
        },
    ];
    let stack = std::env::var("PLATFORM_STACK").unwrap_or_else(|_| "default".into());
    // `HTTP_LOAD_ONLY=<text>[;<text>…]`: load only the servers so named, or else those whose
    // name contains one of the texts.
    let only = std::env::var("HTTP_LOAD_ONLY").ok();
    let selected = |name: &str| match only.as_deref() {
        None => true,
        Some(only) => only.split(';').any(|only| {
            if targets.iter().any(|t| t.name == only) {
                name == only
            } else {
                name.contains(only)
            }
        }),
    };
    println!("platform middleware: {stack}; {seconds} s per cell, {rounds} rounds, medians");
    let cells = [(1, true), (16, true), (1, false), (16, false)];
    // `HTTP_LOAD_CELLS=0,1`: run only those cells (0: c=1 keep-alive, 1: c=16 keep-alive,
    // 2: c=1 new connections, 3: c=16 new connections).
    let only_cells: Option<Vec<usize>> = std::env::var("HTTP_LOAD_CELLS").ok().map(|list| {
        list.split(',')
            .filter_map(|c| c.trim().parse().ok())
            .collect()
    });
    // results[target][cell] = (calls/s, p50, p99, CPU per call per round)
    let mut results =
        vec![vec![(Vec::new(), Vec::new(), Vec::new(), Vec::new()); cells.len()]; targets.len()];
    for round in 0..rounds {
        for (c, &(workers, keep_alive)) in cells.iter().enumerate() {
            if only_cells.as_ref().is_some_and(|only| !only.contains(&c)) {
                continue;
            }
            for (t, target) in targets.iter().enumerate() {
                if !selected(target.name) {
                    continue;
                }
                let cell = run(target, workers, keep_alive, duration).await?;
                results[t][c].0.push(cell.rate);
                results[t][c].1.push(cell.p50 as f64);
                results[t][c].2.push(cell.p99 as f64);
                results[t][c].3.push(cell.cpu_per_call);
            }
        }
        eprintln!("round {} of {rounds} done", round + 1);
    }
    println!("calls/s (p50/p99 latency)");
    println!("| server | c=1 keep-alive | c=16 keep-alive | c=1 new conn | c=16 new conn |");
    println!("|---|---:|---:|---:|---:|");
    let medians: Vec<Vec<(f64, f64, f64, f64)>> = results
        .into_iter()
        .map(|cells| {
            cells
                .into_iter()
                .map(|(r, p50, p99, cpu)| (median(r), median(p50), median(p99), median(cpu)))
                .collect()
        })
        .collect();
    let loaded = |t: usize| medians[t].iter().any(|cell| !cell.0.is_nan());
    for (t, target) in targets.iter().enumerate() {
        if !loaded(t) {
            continue; // not loaded in this run (`HTTP_LOAD_ONLY`)
        }
        let row: Vec<String> = medians[t]
            .iter()
            .map(|(rate, p50, p99, _)| format!("{rate:.0} ({p50:.0}/{p99:.0} µs)"))
            .collect();
        println!("| {} | {} |", target.name, row.join(" | "));
    }
    let ratio = |a: usize, b: usize| -> String {
        (0..cells.len())
            .map(|c| match medians[a][c].0 / medians[b][c].0 {
                r if r.is_nan() => "—".to_owned(),
                r => format!("{r:.2}×"),
            })
            .collect::<Vec<_>>()
            .join(" | ")
    };
    println!("| platform / plain rmcp, 2026-07-28 | {} |", ratio(3, 1));
    println!(
        "| platform / plain rmcp stateless, 2026-07-28 | {} |",
        ratio(3, 2)
    );
    println!("| platform / plain rmcp, 2025-11-25 | {} |", ratio(5, 4));
    println!("| platform 2026-07-28 / ceiling | {} |", ratio(3, 0));
    println!(
        "| platform, direct dispatch off / plain rmcp stateless, 2026-07-28 | {} |",
        ratio(6, 2)
    );
    println!("| plain rmcp stateless / ceiling | {} |", ratio(2, 0));
    println!(
        "| platform + JWT / platform, 2026-07-28 | {} |",
        ratio(9, 3)
    );
    println!(
        "| platform + JWT / another unauthenticated instance, 2026-07-28 | {} |",
        ratio(9, 8)
    );
    println!(
        "| platform + JWT / platform with a header the token's size, 2026-07-28 | {} |",
        ratio(9, 7)
    );
    println!(
        "| platform + JWT / platform, 2025-11-25 | {} |",
        ratio(10, 5)
    );
    println!(
        "| platform + API key / platform, 2026-07-28 | {} |",
        ratio(11, 3)
    );
    // CPU per call does not depend on how the two cores' schedulers treated a run, so it
    // separates what a server costs from the luck of one cell.
    println!();
    println!("process CPU per call, µs (client and server; median over the rounds)");
    println!("| server | c=1 keep-alive | c=16 keep-alive | c=1 new conn | c=16 new conn |");
    println!("|---|---:|---:|---:|---:|");
    for (t, target) in targets.iter().enumerate() {
        if !loaded(t) {
            continue;
        }
        let row: Vec<String> = medians[t]
            .iter()
            .map(|cell| format!("{:.1}", cell.3))
            .collect();
        println!("| {} | {} |", target.name, row.join(" | "));
    }
    // Cost ratios the same way round as the throughput ratios: above 1 is cheaper.
    let cpu_ratio = |a: usize, b: usize| -> String {
        (0..cells.len())
            .map(|c| match medians[b][c].3 / medians[a][c].3 {
                r if r.is_nan() => "—".to_owned(),
                r => format!("{r:.2}×"),
            })
            .collect::<Vec<_>>()
            .join(" | ")
    };
    println!(
        "| platform + JWT / platform, 2026-07-28 (CPU) | {} |",
        cpu_ratio(9, 3)
    );
    println!(
        "| platform + JWT / another unauthenticated instance, 2026-07-28 (CPU) | {} |",
        cpu_ratio(9, 8)
    );
    println!(
        "| platform + JWT / platform with a header the token's size, 2026-07-28 (CPU) | {} |",
        cpu_ratio(9, 7)
    );
    println!(
        "| platform + JWT / platform, 2025-11-25 (CPU) | {} |",
        cpu_ratio(10, 5)
    );
    println!(
        "| platform + API key / platform, 2026-07-28 (CPU) | {} |",
        cpu_ratio(11, 3)
    );
    if let Some(telemetry) = telemetry {
        tokio::task::spawn_blocking(move || telemetry.shutdown()).await?;
    }
    Ok(())
}
