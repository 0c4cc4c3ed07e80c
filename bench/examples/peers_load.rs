//! Cross-process load generator: platform, plain rmcp and (when built) the tower-mcp
//! reference server, each in a process of its own, driven by client processes of their own
//! on this machine, interleaved round by round.
//!
//! ```sh
//! cargo build --release -p platform-bench --bin echo_server --example peers_load
//! cargo build --release --manifest-path bench/peers/tower-mcp-echo/Cargo.toml   # optional
//! target/release/examples/peers_load [seconds-per-cell] [rounds]
//! ```
//!
//! The tower-mcp server is looked for at `$TOWER_MCP_ECHO`, else at
//! `bench/peers/tower-mcp-echo/target/release/tower-mcp-echo`; without it its column is
//! left out. Every server answers one `echo {"text":"hello"}` tool and every reply is checked.
//!
//! Cells (calls/s, median over the rounds; each round runs every server once per cell):
//!
//! - **HTTP 2025-11-25 session, c=1 and c=16**: one client process holding 1 or 16 rmcp
//!   3.11 clients, each its own legacy session (`initialize` with 2025-11-25) over its own
//!   reqwest client with keep-alive (rmcp's default client opens a connection per call),
//!   calling in a loop;
//! - **stdio, 1 and 4 clients**: 1 or 4 client processes, each starting its own server
//!   process through rmcp's child-process transport and calling in a loop;
//! - **HTTP 2026-07-28 raw POST, c=16**: one client process with 16 keep-alive connections
//!   posting complete 2026-07-28 `tools/call` requests (headers and `_meta`).
//!
//! Besides calls/s, the HTTP cells report the server process's CPU time per call
//! (`/proc/<pid>/stat`, 10 ms ticks, so take it from cells of a few seconds): on two shared
//! cores the client takes a large share, and CPU per call is the server's own cost.
//!
//! Platform serves with its default middleware stack. The client processes are this binary
//! (`peers_load client …`), each on a one-thread runtime. `PEERS_LOAD_CELLS=2,3` runs only
//! those cells (0–4, in the order above: legacy c=16, c=1, stdio 4, 1, 2026-07-28).

use std::process::Stdio;
use std::time::{Duration, Instant};

use rmcp::ServiceExt as _;
use rmcp::model::{CallToolRequestParams, ClientConfig, ProtocolVersion};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::Command;

type Fail = Box<dyn std::error::Error + Send + Sync>;

const MODERN_CALL: &str = r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hello"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"load","version":"1"}}}}"#;
const MODERN_HEADERS: &str =
    "mcp-protocol-version: 2026-07-28\r\nmcp-method: tools/call\r\nmcp-name: echo\r\n";

/// A server under load.
#[derive(Clone)]
struct Peer {
    name: &'static str,
    /// The command that serves it over stdio.
    stdio: Vec<String>,
    /// Its MCP endpoint over HTTP.
    url: String,
    /// Its HTTP server process, for the CPU time it uses.
    pid: u32,
}

#[derive(Clone, Copy, Debug)]
enum Cell {
    Legacy(usize),
    Stdio(usize),
    Modern(usize),
}

impl Cell {
    const ALL: [Cell; 5] = [
        Cell::Legacy(16),
        Cell::Legacy(1),
        Cell::Stdio(4),
        Cell::Stdio(1),
        Cell::Modern(16),
    ];

    fn label(self) -> String {
        match self {
            Cell::Legacy(c) => format!("HTTP 2025-11-25 session, c={c}"),
            Cell::Stdio(1) => "stdio, 1 client".to_owned(),
            Cell::Stdio(n) => format!("stdio, {n} client processes"),
            Cell::Modern(c) => format!("HTTP 2026-07-28 (raw POST), c={c}"),
        }
    }
}

fn main() -> Result<(), Fail> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("client") {
        // rmcp's HTTP client builds a reqwest client, which needs a TLS provider even for
        // http:// URLs.
        let _ = rustls::crypto::ring::default_provider().install_default();
        // One thread: on two cores, a client with a worker per core competes with the
        // server's workers for the same cores and measures the scheduler, not the server.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        return runtime.block_on(client(&args[1..]));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let seconds: f64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(3.0);
    let rounds: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(3);
    runtime.block_on(coordinate(seconds, rounds))
}

/// Start every server, run every cell against each, round by round; print the table.
async fn coordinate(seconds: f64, rounds: usize) -> Result<(), Fail> {
    let me = std::env::current_exe()?;
    let dir = me
        .parent()
        .and_then(|examples| examples.parent())
        .ok_or("the example's directory")?;
    let echo_server = dir.join("echo_server").to_string_lossy().into_owned();
    let mut children = Vec::new();
    let mut peers = Vec::new();
    for name in ["plain", "platform"] {
        let (child, addr) = start_http(&echo_server, &[name, "http"]).await?;
        let pid = child.id().ok_or("the server's pid")?;
        children.push(child);
        peers.push(Peer {
            name: if name == "plain" {
                "plain rmcp"
            } else {
                "platform"
            },
            stdio: vec![echo_server.clone(), name.to_owned(), "stdio".to_owned()],
            url: format!("http://{addr}/mcp"),
            pid,
        });
    }
    let tower = std::env::var("TOWER_MCP_ECHO").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/peers/tower-mcp-echo/target/release/tower-mcp-echo"
        )
        .to_owned()
    });
    if std::path::Path::new(&tower).exists() {
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0")?;
            probe.local_addr()?.port()
        };
        let addr = format!("127.0.0.1:{port}");
        let child = Command::new(&tower)
            .args(["http", &addr])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        let pid = child.id().ok_or("the server's pid")?;
        children.push(child);
        wait_listening(&addr).await?;
        peers.push(Peer {
            name: "tower-mcp",
            stdio: vec![tower.clone(), "stdio".to_owned()],
            url: format!("http://{addr}/"),
            pid,
        });
    } else {
        eprintln!("tower-mcp reference server not found at {tower}; its column is left out");
    }

    let only: Option<Vec<usize>> = std::env::var("PEERS_LOAD_CELLS").ok().map(|list| {
        list.split(',')
            .filter_map(|c| c.trim().parse().ok())
            .collect()
    });
    let wanted = |c: usize| only.as_ref().is_none_or(|only| only.contains(&c));
    // results[cell][peer] = calls/s per round; cpu[cell][peer] = the HTTP server's CPU µs
    // per call per round
    let mut results = vec![vec![Vec::new(); peers.len()]; Cell::ALL.len()];
    let mut cpu = vec![vec![Vec::new(); peers.len()]; Cell::ALL.len()];
    for round in 0..rounds {
        for (c, cell) in Cell::ALL.iter().enumerate().filter(|(c, _)| wanted(*c)) {
            // Rotate who goes first, round by round.
            for offset in 0..peers.len() {
                let p = (offset + round) % peers.len();
                let before = cpu_ticks(peers[p].pid);
                let started = Instant::now();
                let rate = run_cell(&me, *cell, &peers[p], seconds).await?;
                let wall = started.elapsed().as_secs_f64();
                if let (Some(before), Some(after), false) = (
                    before,
                    cpu_ticks(peers[p].pid),
                    matches!(cell, Cell::Stdio(_)),
                ) {
                    // Ticks are 10 ms; the calls are the rate over the whole client run.
                    let calls = rate * wall;
                    cpu[c][p].push((after - before) as f64 * 10_000.0 / calls);
                }
                eprintln!(
                    "round {round}: {} / {}: {rate:.0} calls/s",
                    cell.label(),
                    peers[p].name
                );
                results[c][p].push(rate);
            }
        }
    }
    drop(children);

    println!(
        "\ncalls/s, median of {rounds} rounds of {seconds} s (ratio to plain rmcp in brackets)"
    );
    let names: Vec<&str> = peers.iter().map(|p| p.name).collect();
    println!("| path | {} |", names.join(" | "));
    println!("|---|{}", "---:|".repeat(peers.len()));
    for (c, cell) in Cell::ALL.iter().enumerate().filter(|(c, _)| wanted(*c)) {
        let medians: Vec<f64> = results[c].iter().map(|r| median(r)).collect();
        let cells: Vec<String> = medians
            .iter()
            .map(|m| format!("{m:.0} ({:.2}×)", m / medians[0]))
            .collect();
        println!("| {} | {} |", cell.label(), cells.join(" | "));
    }
    println!("\nthe HTTP server process's CPU per call, µs (median; ratio of plain rmcp's to it)");
    println!("| path | {} |", names.join(" | "));
    println!("|---|{}", "---:|".repeat(peers.len()));
    for (c, cell) in Cell::ALL.iter().enumerate().filter(|(c, _)| wanted(*c)) {
        if matches!(cell, Cell::Stdio(_)) {
            continue;
        }
        let medians: Vec<f64> = cpu[c].iter().map(|r| median(r)).collect();
        let cells: Vec<String> = medians
            .iter()
            .map(|m| format!("{m:.1} ({:.2}×)", medians[0] / m))
            .collect();
        println!("| {} | {} |", cell.label(), cells.join(" | "));
    }
    Ok(())
}

/// User and system CPU time of process `pid`, in clock ticks (`/proc/<pid>/stat`).
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command name (which may hold spaces), from field 3 on.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let user: u64 = fields.get(11)?.parse().ok()?;
    let system: u64 = fields.get(12)?.parse().ok()?;
    Some(user + system)
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Start an HTTP server process that prints `listening ADDR`; the child and the address.
async fn start_http(program: &str, args: &[&str]) -> Result<(tokio::process::Child, String), Fail> {
    let mut child = Command::new(program)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let stdout = child.stdout.take().ok_or("the server's stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await??
        .ok_or("the server ended before listening")?;
    let addr = line
        .strip_prefix("listening ")
        .ok_or_else(|| format!("unexpected first line {line:?}"))?
        .to_owned();
    Ok((child, addr))
}

async fn wait_listening(addr: &str) -> Result<(), Fail> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        if Instant::now() > deadline {
            return Err(format!("nothing listening on {addr}").into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// Run `cell` against `peer` in client processes; calls/s over them all.
async fn run_cell(
    me: &std::path::Path,
    cell: Cell,
    peer: &Peer,
    seconds: f64,
) -> Result<f64, Fail> {
    let secs = seconds.to_string();
    let invocations: Vec<Vec<String>> = match cell {
        Cell::Legacy(c) => vec![vec![
            "legacy".into(),
            peer.url.clone(),
            c.to_string(),
            secs.clone(),
        ]],
        Cell::Modern(c) => vec![vec![
            "modern".into(),
            peer.url.clone(),
            c.to_string(),
            secs.clone(),
        ]],
        Cell::Stdio(n) => (0..n)
            .map(|_| {
                let mut args = vec!["stdio".into(), secs.clone()];
                args.extend(peer.stdio.iter().cloned());
                args
            })
            .collect(),
    };
    let mut processes = Vec::new();
    for args in invocations {
        let child = Command::new(me)
            .arg("client")
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()?;
        processes.push(child);
    }
    let mut total = 0.0;
    for child in processes {
        let output = child.wait_with_output().await?;
        let text = String::from_utf8_lossy(&output.stdout);
        let rate: f64 = text
            .trim()
            .strip_prefix("rate ")
            .and_then(|r| r.parse().ok())
            .ok_or_else(|| format!("{} {cell:?}: client said {text:?}", peer.name))?;
        total += rate;
    }
    Ok(total)
}

/// A client process: `legacy URL C SECONDS`, `modern URL C SECONDS` or
/// `stdio SECONDS PROGRAM ARGS…`; prints `rate <calls/s>`.
async fn client(args: &[String]) -> Result<(), Fail> {
    let arg = |i: usize| args.get(i).cloned().ok_or("missing argument");
    let (calls, elapsed) = match arg(0)?.as_str() {
        "legacy" => {
            let url = arg(1)?;
            let c: usize = arg(2)?.parse()?;
            let seconds: f64 = arg(3)?.parse()?;
            // rmcp's default HTTP client keeps no connection alive (a new one per call);
            // these keep theirs, as the TypeScript SDK and httpx do.
            let mut clients = Vec::new();
            for _ in 0..c {
                let transport = rmcp::transport::StreamableHttpClientTransport::with_client(
                    reqwest::Client::builder().build()?,
                    rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig::with_uri(url.clone()),
                );
                clients.push(legacy_info().serve(transport).await?);
            }
            calls_from(seconds, clients).await?
        }
        "modern" => {
            let url = arg(1)?;
            let c: usize = arg(2)?.parse()?;
            let seconds: f64 = arg(3)?.parse()?;
            let rest = url.strip_prefix("http://").ok_or("an http:// URL")?;
            let (addr, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let addr: std::net::SocketAddr = addr.parse()?;
            let path = if path.is_empty() { "/" } else { path }.to_owned();
            let mut conns = Vec::new();
            for _ in 0..c {
                conns.push((
                    platform_bench::client::Conn::open(addr).await?,
                    path.clone(),
                ));
            }
            let (calls, elapsed, _) = timed(seconds, conns, |(mut conn, path)| async move {
                let reply = conn.post(&path, MODERN_HEADERS, MODERN_CALL, false).await?;
                if reply.status != 200 || !reply.body.contains("hello") {
                    return Err(format!("{}: {}", reply.status, reply.body).into());
                }
                Ok((conn, path))
            })
            .await?;
            (calls, elapsed)
        }
        "stdio" => {
            let seconds: f64 = arg(1)?.parse()?;
            let program = arg(2)?;
            let mut command = Command::new(program);
            command.args(&args[3..]).stderr(Stdio::null());
            let transport = rmcp::transport::TokioChildProcess::new(command)?;
            let client = legacy_info().serve(transport).await?;
            calls_from(seconds, vec![client]).await?
        }
        other => return Err(format!("unknown client mode {other:?}").into()),
    };
    println!("rate {}", calls as f64 / elapsed.as_secs_f64());
    Ok(())
}

/// `echo` calls from each client in a loop for `seconds`; then each client closes (an HTTP
/// session with `DELETE`, so rounds do not pile sessions up).
async fn calls_from<S>(
    seconds: f64,
    clients: Vec<rmcp::service::RunningService<rmcp::RoleClient, S>>,
) -> Result<(u64, Duration), Fail>
where
    S: rmcp::service::Service<rmcp::RoleClient>,
{
    let (calls, elapsed, clients) = timed(seconds, clients, |client| async move {
        call(&client).await?;
        Ok(client)
    })
    .await?;
    for client in clients {
        let _ = client.cancel().await;
    }
    Ok((calls, elapsed))
}

/// A client that opens a 2025-11-25 session.
fn legacy_info() -> ClientConfig {
    let mut info = ClientConfig::default();
    info.protocol_version = ProtocolVersion::V_2025_11_25;
    info
}

/// One `echo` call, checked.
async fn call<S: rmcp::service::Service<rmcp::RoleClient>>(
    client: &rmcp::service::RunningService<rmcp::RoleClient, S>,
) -> Result<(), Fail> {
    let mut arguments = serde_json::Map::new();
    arguments.insert("text".into(), "hello".into());
    let result = client
        .call_tool(CallToolRequestParams::new("echo").with_arguments(arguments))
        .await?;
    let text = result
        .content
        .first()
        .and_then(|c| c.as_text())
        .map(|t| t.text.as_str());
    if text != Some("hello") {
        return Err(format!("echo answered {result:?}").into());
    }
    Ok(())
}

/// Run each worker's `step` in a loop for `seconds` (after a short warm-up); total calls, the
/// measured time, and the workers back.
async fn timed<W, F, Fut>(
    seconds: f64,
    workers: Vec<W>,
    step: F,
) -> Result<(u64, Duration, Vec<W>), Fail>
where
    W: Send + 'static,
    F: Fn(W) -> Fut + Send + Sync + Copy + 'static,
    Fut: std::future::Future<Output = Result<W, Fail>> + Send,
{
    let warm = Duration::from_secs_f64((seconds / 10.0).min(0.5));
    let run = Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let measure_from = start + warm;
    let end = measure_from + run;
    let mut tasks = Vec::new();
    for worker in workers {
        tasks.push(tokio::spawn(async move {
            let mut worker = worker;
            let mut calls = 0u64;
            loop {
                let now = Instant::now();
                if now >= end {
                    return Ok::<(u64, W), Fail>((calls, worker));
                }
                worker = step(worker).await?;
                if now >= measure_from {
                    calls += 1;
                }
            }
        }));
    }
    let mut calls = 0;
    let mut workers = Vec::new();
    for task in tasks {
        let (done, worker) = task.await??;
        calls += done;
        workers.push(worker);
    }
    Ok((calls, run, workers))
}
