//! Soak: a platform server under mixed valid and hostile traffic over loopback, bounded in
//! time, checking that every valid request is answered correctly (no 5xx) while hostile
//! ones are refused, that `/healthz` keeps answering, and that memory stays flat.
//!
//! ```sh
//! cargo run --release -p platform-bench --example soak -- [seconds] [workers]
//! cargo run --release -p platform-bench --example soak -- sessions [count]
//! ```
//!
//! The first form runs `workers` clients (default 16) for `seconds` (default 60); each
//! cycles through valid calls (2026-07-28 `tools/call`, a legacy session's `tools/call`,
//! `resources/read`, `tools/list`) and hostile ones (malformed JSON, 200k-deep nesting, a
//! 9 KB URI, path traversal, unknown tools, wrong argument types, a foreign `Origin`, a
//! 5 MiB body, `initialize` floods from another address). Beside them: connections that
//! trickle header bytes, connections that open and say nothing, and a prober on `/healthz`.
//! The second form measures the memory of idle legacy sessions, and whether creating one
//! costs more when many are live.
//!
//! The server runs in a process of its own (this program, `soak serve`) with its production
//! defaults, so the memory printed is the server's alone.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use platform_bench::client::Conn;
use platform_runtime::prelude::*;
use platform_runtime::transport::http::{HttpConfig, HttpServer, start};
use tokio::io::AsyncWriteExt as _;

type Fail = Box<dyn std::error::Error + Send + Sync>;

/// Echo the text.
#[tool]
async fn echo(text: String) -> String {
    text
}

/// A note by id.
#[resource("notes://{id}")]
fn note(id: u32) -> String {
    format!("note {id}")
}

/// A pseudo-status: the server closed the connection before the request was all sent.
const CLOSED_EARLY: u16 = 1;

const META: &str = r#""_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}"#;
const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"soak","version":"1"}}}"#;
const INITIALIZED: &str = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;

fn modern_headers(method: &str, name: Option<&str>) -> String {
    let mut headers = format!("mcp-protocol-version: 2026-07-28\r\nmcp-method: {method}\r\n");
    if let Some(name) = name {
        headers.push_str(&format!("mcp-name: {name}\r\n"));
    }
    headers
}

fn call_body(tool: &str, arguments: &str) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{{"name":"{tool}","arguments":{arguments},{META}}}}}"#
    )
}

fn read_body(uri: &str) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":8,"method":"resources/read","params":{{"uri":"{uri}",{META}}}}}"#
    )
}

/// The resident memory of process `pid`, in MB.
fn rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// The server under test, in a process of its own (this program with `serve`), so the
/// memory measured is the server's alone.
struct Served {
    process: std::process::Child,
    addr: SocketAddr,
    lines: std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
}

impl Served {
    fn start(max_sessions: usize, per_client: usize) -> Result<Self, Fail> {
        use std::io::BufRead as _;
        let mut process = std::process::Command::new(std::env::current_exe()?)
            .args(["serve", &max_sessions.to_string(), &per_client.to_string()])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()?;
        let stdout = process.stdout.take().ok_or("no stdout")?;
        let mut lines = std::io::BufReader::new(stdout).lines();
        let first = lines.next().ok_or("the server said nothing")??;
        let addr = first
            .strip_prefix("addr=")
            .ok_or_else(|| format!("unexpected: {first}"))?
            .parse()?;
        Ok(Self {
            process,
            addr,
            lines,
        })
    }

    fn rss_mb(&self) -> f64 {
        rss_mb(self.process.id())
    }

    /// Close the server's stdin; it prints what it counted and stops.
    fn finish(mut self) -> Result<String, Fail> {
        drop(self.process.stdin.take());
        let stats = self.lines.next().ok_or("no stats")??;
        self.process.wait()?;
        Ok(stats)
    }
}

/// `soak serve <max-sessions> <per-client>`: serve until stdin closes, then print the
/// counters.
async fn serve_until_stdin_closes(max_sessions: usize, per_client: usize) -> Result<(), Fail> {
    use std::io::Write as _;
    let http = serve(HttpConfig {
        max_sessions,
        max_sessions_per_client: per_client,
        ..HttpConfig::default()
    })
    .await?;
    println!("addr={}", http.local_addr());
    std::io::stdout().flush()?;
    tokio::task::spawn_blocking(|| std::io::copy(&mut std::io::stdin(), &mut std::io::sink()))
        .await??;
    let stats = http.stats();
    println!(
        "{} head timeouts, {} idle closed, {} evicted, {} over the cap, {} refused; live sessions at the end {}",
        stats.header_timeouts,
        stats.idle_closed,
        stats.evicted,
        stats.overflowed,
        stats.refused,
        stats.live_sessions
    );
    http.shutdown_after(Duration::ZERO).await?;
    Ok(())
}

async fn serve(config: HttpConfig) -> Result<HttpServer, Fail> {
    let server = Server::builder("soak")
        .tools(tools![echo])
        .resources(resources![note])
        .build()?;
    Ok(start(
        server,
        HttpConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            ..config
        },
    )
    .await?)
}

/// One kind of request the workers send, and what a correct answer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    ModernCall,
    SessionCall,
    Read,
    List,
    Malformed,
    DeepNesting,
    LongUri,
    Traversal,
    UnknownTool,
    WrongTypes,
    ForeignOrigin,
    HugeBody,
    InitializeFlood,
}

impl Kind {
    const ALL: [Kind; 13] = [
        Kind::ModernCall,
        Kind::SessionCall,
        Kind::Read,
        Kind::List,
        Kind::Malformed,
        Kind::ModernCall,
        Kind::DeepNesting,
        Kind::LongUri,
        Kind::Traversal,
        Kind::UnknownTool,
        Kind::WrongTypes,
        Kind::ForeignOrigin,
        Kind::InitializeFlood,
    ];

    fn valid(self) -> bool {
        matches!(
            self,
            Kind::ModernCall | Kind::SessionCall | Kind::Read | Kind::List
        )
    }
}

/// Counts per kind and status.
#[derive(Default)]
struct Tally {
    statuses: BTreeMap<(Kind, u16), u64>,
    wrong: Vec<String>,
}

async fn one(
    kind: Kind,
    conn: &mut Conn,
    addr: SocketAddr,
    session: &str,
) -> Result<(u16, bool), Fail> {
    let (status, right) = match kind {
        Kind::ModernCall => {
            let reply = conn
                .post(
                    "/mcp",
                    &modern_headers("tools/call", Some("echo")),
                    &call_body("echo", r#"{"text":"hello"}"#),
                    false,
                )
                .await?;
            (
                reply.status,
                reply.body.contains(r#""text":"hello""#)
                    && !reply.body.contains(r#""isError":true"#),
            )
        }
        Kind::SessionCall => {
            let headers =
                format!("mcp-protocol-version: 2025-11-25\r\nmcp-session-id: {session}\r\n");
            let body = r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hello"}}}"#;
            let reply = conn.post("/mcp", &headers, body, false).await?;
            (reply.status, reply.body.contains(r#""text":"hello""#))
        }
        Kind::Read => {
            let reply = conn
                .post(
                    "/mcp",
                    &modern_headers("resources/read", Some("notes://7")),
                    &read_body("notes://7"),
                    false,
                )
                .await?;
            (reply.status, reply.body.contains("note 7"))
        }
        Kind::List => {
            let body =
                format!(r#"{{"jsonrpc":"2.0","id":4,"method":"tools/list","params":{{{META}}}}}"#);
            let reply = conn
                .post("/mcp", &modern_headers("tools/list", None), &body, false)
                .await?;
            (reply.status, reply.body.contains(r#""name":"echo""#))
        }
        Kind::Malformed => {
            let reply = conn.post("/mcp", "", "{\"jsonrpc\":", false).await?;
            (reply.status, reply.status == 400)
        }
        Kind::DeepNesting => {
            let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
            let reply = conn.post("/mcp", "", &deep, false).await?;
            (reply.status, reply.status == 400)
        }
        Kind::LongUri => {
            let uri = format!("notes://{}", "1".repeat(9000));
            let reply = conn
                .post(
                    "/mcp",
                    &modern_headers("resources/read", Some(&uri)),
                    &read_body(&uri),
                    false,
                )
                .await?;
            (reply.status, reply.body.contains("-32602"))
        }
        Kind::Traversal => {
            let uri = "notes://..%2Fetc";
            let reply = conn
                .post(
                    "/mcp",
                    &modern_headers("resources/read", Some(uri)),
                    &read_body(uri),
                    false,
                )
                .await?;
            (reply.status, reply.body.contains("\"error\""))
        }
        Kind::UnknownTool => {
            let reply = conn
                .post(
                    "/mcp",
                    &modern_headers("tools/call", Some("nope")),
                    &call_body("nope", "{}"),
                    false,
                )
                .await?;
            (reply.status, reply.body.contains("unknown tool"))
        }
        Kind::WrongTypes => {
            let reply = conn
                .post(
                    "/mcp",
                    &modern_headers("tools/call", Some("echo")),
                    &call_body("echo", r#"{"text":[1,2,3]}"#),
                    false,
                )
                .await?;
            (reply.status, reply.body.contains(r#""isError":true"#))
        }
        Kind::ForeignOrigin => {
            let reply = conn
                .post(
                    "/mcp",
                    &format!(
                        "origin: https://evil.example\r\n{}",
                        modern_headers("tools/list", None)
                    ),
                    &format!(
                        r#"{{"jsonrpc":"2.0","id":4,"method":"tools/list","params":{{{META}}}}}"#
                    ),
                    false,
                )
                .await?;
            (reply.status, reply.status == 403)
        }
        Kind::HugeBody => {
            let huge = "x".repeat(5 << 20);
            match conn.post("/mcp", "", &huge, true).await {
                Ok(reply) => (reply.status, reply.status == 413),
                // The server answered 413 and closed before the client finished sending.
                Err(error)
                    if matches!(
                        error.kind(),
                        std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
                    ) =>
                {
                    (CLOSED_EARLY, true)
                }
                Err(error) => return Err(error.into()),
            }
        }
        Kind::InitializeFlood => {
            // From another address, never closed: the per-client cap answers 429.
            let mut other = Conn::open_from(IpAddr::from([127, 0, 0, 2]), addr).await?;
            let reply = other.post("/mcp", "", INITIALIZE, true).await?;
            (
                reply.status,
                reply.status == 200 || (reply.status == 429 && reply.retry_after.is_some()),
            )
        }
    };
    Ok((status, right))
}

async fn open_session(addr: SocketAddr, from: IpAddr) -> Result<String, Fail> {
    let mut conn = Conn::open_from(from, addr).await?;
    let reply = conn.post("/mcp", "", INITIALIZE, false).await?;
    let session = reply
        .session
        .ok_or_else(|| format!("no session: {} {}", reply.status, reply.body))?;
    let headers = format!("mcp-protocol-version: 2025-11-25\r\nmcp-session-id: {session}\r\n");
    conn.post("/mcp", &headers, INITIALIZED, true).await?;
    Ok(session)
}

async fn soak(seconds: u64, workers: usize) -> Result<bool, Fail> {
    let defaults = HttpConfig::default();
    let served = Served::start(defaults.max_sessions, defaults.max_sessions_per_client)?;
    let addr = served.addr;
    let pid = served.process.id();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let tally = Arc::new(Mutex::new(Tally::default()));
    let running = Arc::new(AtomicBool::new(true));
    let start_rss = rss_mb(pid);
    let started = Instant::now();

    // Trickling and silent connections, bounded in number.
    let mut side = Vec::new();
    for silent in [false, true] {
        let running = running.clone();
        side.push(tokio::spawn(async move {
            let held = Arc::new(AtomicU64::new(0));
            while running.load(Ordering::Relaxed) {
                if held.load(Ordering::Relaxed) < 32 {
                    held.fetch_add(1, Ordering::Relaxed);
                    let held = held.clone();
                    tokio::spawn(async move {
                        if let Ok(mut conn) = Conn::open(addr).await {
                            if !silent {
                                let head = b"POST /mcp HTTP/1.1\r\nhost: 127.0.0.1\r\nx-slow: ";
                                for byte in head.iter().chain(std::iter::repeat(&b'z')) {
                                    if conn.stream().write_all(&[*byte]).await.is_err() {
                                        break;
                                    }
                                    tokio::time::sleep(Duration::from_millis(500)).await;
                                }
                            } else {
                                let mut buf = [0u8; 16];
                                let _ =
                                    tokio::io::AsyncReadExt::read(conn.stream(), &mut buf).await;
                            }
                        }
                        held.fetch_sub(1, Ordering::Relaxed);
                    });
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }));
    }
    // The prober.
    let probes = Arc::new(Mutex::new((0u64, 0u64, Duration::ZERO)));
    {
        let (running, probes) = (running.clone(), probes.clone());
        side.push(tokio::spawn(async move {
            while running.load(Ordering::Relaxed) {
                let began = Instant::now();
                let ok = match Conn::open(addr).await {
                    Ok(mut conn) => conn
                        .send(b"GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n")
                        .await
                        .is_ok_and(|r| r.status == 200),
                    Err(_) => false,
                };
                let took = began.elapsed();
                {
                    let mut probes = probes.lock().unwrap_or_else(|e| e.into_inner());
                    probes.0 += 1;
                    probes.1 += u64::from(!ok);
                    probes.2 = probes.2.max(took);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }));
    }
    // Memory, every five seconds.
    let samples = Arc::new(Mutex::new(Vec::new()));
    {
        let (running, samples) = (running.clone(), samples.clone());
        side.push(tokio::spawn(async move {
            while running.load(Ordering::Relaxed) {
                samples
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((started.elapsed().as_secs(), rss_mb(pid)));
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }));
    }

    let mut tasks = Vec::new();
    for worker in 0..workers {
        let tally = tally.clone();
        tasks.push(tokio::spawn(async move {
            let session = open_session(addr, IpAddr::from([127, 0, 0, 1])).await?;
            let mut conn = Conn::open(addr).await?;
            let mut n = worker;
            while Instant::now() < deadline {
                n += 1;
                let kind = if n % 400 == 0 {
                    Kind::HugeBody
                } else {
                    Kind::ALL[n % Kind::ALL.len()]
                };
                let outcome = one(kind, &mut conn, addr, &session).await;
                {
                    let mut tally = tally.lock().unwrap_or_else(|e| e.into_inner());
                    match outcome {
                        Ok((status, right)) => {
                            *tally.statuses.entry((kind, status)).or_default() += 1;
                            if !right && tally.wrong.len() < 10 {
                                tally.wrong.push(format!("{kind:?}: {status}"));
                            }
                            if !right || (kind.valid() && status >= 500) {
                                *tally.statuses.entry((kind, 999)).or_default() += 1;
                            }
                        }
                        Err(error) => {
                            *tally.statuses.entry((kind, 0)).or_default() += 1;
                            if tally.wrong.len() < 10 {
                                tally.wrong.push(format!("{kind:?}: {error}"));
                            }
                        }
                    }
                }
                // Connections the server closed (after 400s and 413s) are reopened.
                if matches!(kind, Kind::HugeBody | Kind::DeepNesting | Kind::Malformed) {
                    conn = Conn::open(addr).await?;
                }
            }
            Ok::<_, Fail>(())
        }));
    }
    for task in tasks {
        if let Err(error) = task.await? {
            eprintln!("a worker stopped: {error}");
        }
    }
    running.store(false, Ordering::Relaxed);
    for task in side {
        let _ = task.await;
    }
    let end_rss = served.rss_mb();
    let stats = served.finish()?;

    let tally = tally.lock().unwrap_or_else(|e| e.into_inner());
    println!("soak: {seconds} s, {workers} workers, loopback, production defaults");
    println!("| request | answers (status × count) |");
    println!("|---|---|");
    let mut by_kind: BTreeMap<Kind, Vec<String>> = BTreeMap::new();
    for ((kind, status), count) in &tally.statuses {
        let label = match status {
            0 => "transport error".to_owned(),
            1 => "closed while the client was still sending".to_owned(),
            999 => "wrong".to_owned(),
            s => s.to_string(),
        };
        by_kind
            .entry(*kind)
            .or_default()
            .push(format!("{label} × {count}"));
    }
    for (kind, answers) in &by_kind {
        let valid = if kind.valid() { " (valid)" } else { "" };
        println!("| {kind:?}{valid} | {} |", answers.join(", "));
    }
    let total: u64 = tally
        .statuses
        .iter()
        .filter(|((_, s), _)| *s != 999)
        .map(|(_, c)| c)
        .sum();
    let valid_5xx: u64 = tally
        .statuses
        .iter()
        .filter(|((k, s), _)| k.valid() && (500..999).contains(s))
        .map(|(_, c)| c)
        .sum();
    let wrong: u64 = tally
        .statuses
        .iter()
        .filter(|((_, s), _)| *s == 999 || *s == 0)
        .map(|(_, c)| c)
        .sum();
    println!(
        "requests: {total} ({:.0}/s); 5xx to valid requests: {valid_5xx}; wrong or failed answers: {wrong}",
        total as f64 / seconds as f64
    );
    for line in &tally.wrong {
        println!("  e.g. {line}");
    }
    let probes = *probes.lock().unwrap_or_else(|e| e.into_inner());
    println!(
        "/healthz: {} probes, {} failed, slowest {:?}",
        probes.0, probes.1, probes.2
    );
    println!("connection layer: {stats}");
    let samples = samples.lock().unwrap_or_else(|e| e.into_inner());
    let series: Vec<String> = samples
        .iter()
        .map(|(t, mb)| format!("{t}s {mb:.1}"))
        .collect();
    println!(
        "RSS (MB): start {start_rss:.1}; {}; end {end_rss:.1}",
        series.join(", ")
    );
    let warm = samples
        .iter()
        .find(|(t, _)| *t >= 10)
        .map_or(start_rss, |(_, mb)| *mb);
    let after: Vec<f64> = samples
        .iter()
        .filter(|(t, _)| *t >= 10)
        .map(|(_, mb)| *mb)
        .collect();
    let (low, high) = after.iter().fold((f64::MAX, f64::MIN), |(lo, hi), mb| {
        (lo.min(*mb), hi.max(*mb))
    });
    println!(
        "RSS after the 10 s warm-up: {warm:.1} MB at 10 s, {end_rss:.1} MB at the end ({:+.1} MB), between {low:.1} and {high:.1} MB meanwhile",
        end_rss - warm
    );
    Ok(valid_5xx == 0 && wrong == 0 && probes.1 == 0)
}

async fn sessions(count: usize) -> Result<(), Fail> {
    let served = Served::start(count + 16, count + 16)?;
    let addr = served.addr;
    let loopback = IpAddr::from([127, 0, 0, 1]);
    for _ in 0..16 {
        open_session(addr, loopback).await?;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = served.rss_mb();
    let mut took = Vec::with_capacity(count);
    for _ in 0..count {
        let began = Instant::now();
        open_session(addr, loopback).await?;
        took.push(began.elapsed());
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = served.rss_mb();
    let mean = |slice: &[Duration]| {
        slice.iter().sum::<Duration>().as_secs_f64() * 1e6 / slice.len().max(1) as f64
    };
    let window = (count / 10).max(1);
    println!("idle legacy sessions: {count} (plus 16 warm-up), loopback, production defaults");
    println!(
        "RSS {before:.1} MB → {after:.1} MB: {:.1} KB per idle session",
        (after - before) * 1024.0 / count as f64
    );
    println!(
        "time to create one (initialize + initialized): first {window} {:.0} µs, last {window} {:.0} µs on average",
        mean(&took[..window]),
        mean(&took[count - window..])
    );
    println!("server: {}", served.finish()?);
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Fail> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("serve") {
        let number =
            |i: usize, default| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(default);
        return serve_until_stdin_closes(number(1, 1024), number(2, 128)).await;
    }
    if args.first().map(String::as_str) == Some("sessions") {
        let count = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1000);
        return sessions(count).await;
    }
    let seconds = args.first().and_then(|s| s.parse().ok()).unwrap_or(60);
    let workers = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(16);
    if soak(seconds, workers).await? {
        Ok(())
    } else {
        Err("the soak found wrong answers".into())
    }
}
