//! What composition costs, measured in one run:
//!
//! - in memory, one thread: `echo` called directly, through one mount (`a_echo`) and two
//!   (`a_b_echo`), rounds alternating the order, each with the default middleware;
//! - over HTTP on 127.0.0.1: the same call made directly to an upstream platform server, and
//!   through a platform server that proxies it (`remote_echo`, the client in memory).
//!
//!     cargo run --release -p platform-bench --example compose_load -- [rounds] [calls]
//!
//! Prints calls/s per target (median of the rounds), the ratio of medians and the median of
//! the per-round ratios against direct, and for the proxy the median microseconds a call
//! adds.

use std::time::{Duration, Instant};

use platform_bench::echo_as;
use platform_bench::platform::echo;
use platform_runtime::ServerBuilder;
use platform_runtime::prelude::*;
use platform_runtime::server::Upstream;
use rmcp::ServiceExt as _;
use rmcp::service::{RoleClient, RunningService};

type Client = RunningService<RoleClient, ()>;

fn mounted(levels: usize) -> ServerBuilder {
    // Innermost first: one level is `a_echo`, two are `a_b_echo`.
    let prefixes = &["a", "b"][..levels];
    let mut builder = Server::builder("inner").tools(tools![echo]);
    for (level, prefix) in prefixes.iter().rev().enumerate() {
        builder = Server::builder(format!("level{level}")).mount(prefix, builder);
    }
    builder
}

async fn in_memory(server: Server) -> Client {
    let (client_io, server_io) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        let _ = server.serve_io(server_io).await;
    });
    match ().serve(client_io).await {
        Ok(client) => client,
        Err(error) => panic!("client connects in memory: {error}"),
    }
}

/// Seconds for `calls` sequential calls of `name`.
async fn run(client: &Client, name: &'static str, calls: u32) -> f64 {
    let start = Instant::now();
    for _ in 0..calls {
        echo_as(client, name).await;
    }
    start.elapsed().as_secs_f64()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(20);
    let calls: u32 = args.next().and_then(|n| n.parse().ok()).unwrap_or(2_000);
    let single = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    single.block_on(mounts(rounds, calls));
    let multi = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    multi.block_on(proxy(rounds, calls / 4));
}

async fn mounts(rounds: usize, calls: u32) {
    let build = |levels| match mounted(levels).build() {
        Ok(server) => server,
        Err(error) => panic!("valid: {error}"),
    };
    let targets: [(&str, &'static str, Client); 3] = [
        ("direct", "echo", in_memory(build(0)).await),
        ("one mount", "a_echo", in_memory(build(1)).await),
        ("two mounts", "a_b_echo", in_memory(build(2)).await),
    ];
    // Warm-up.
    for (_, name, client) in &targets {
        run(client, name, calls / 10).await;
    }
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); targets.len()];
    for round in 0..rounds {
        // Each round starts with another target, so none always runs first.
        for k in 0..targets.len() {
            let i = (round + k) % targets.len();
            let (_, name, client) = &targets[i];
            let seconds = run(client, name, calls).await;
            rates[i].push(f64::from(calls) / seconds);
        }
    }
    println!("in memory, one thread, default middleware, {rounds} rounds of {calls} calls:");
    let direct = median(rates[0].clone());
    for (i, (label, name, _)) in targets.iter().enumerate() {
        let paired: Vec<f64> = rates[i].iter().zip(&rates[0]).map(|(r, d)| r / d).collect();
        println!(
            "  {label:<10} {name:<9} {:>8.0} calls/s  ratio of medians {:.3}  paired {:.3}",
            median(rates[i].clone()),
            median(rates[i].clone()) / direct,
            median(paired)
        );
    }
}

async fn proxy(rounds: usize, calls: u32) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let upstream = match Server::builder("upstream").tools(tools![echo]).build() {
        Ok(server) => server,
        Err(error) => panic!("valid: {error}"),
    };
    let http = platform_runtime::transport::http::start(
        upstream,
        platform_runtime::transport::http::HttpConfig {
            bind: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            ..Default::default()
        },
    )
    .await
    .unwrap_or_else(|e| panic!("upstream: {e}"));
    let url = format!("http://{}/mcp", http.local_addr());
    let direct: Client = match ()
        .serve(rmcp::transport::StreamableHttpClientTransport::from_uri(
            url.as_str(),
        ))
        .await
    {
        Ok(client) => client,
        Err(error) => panic!("direct client: {error}"),
    };
    let front = match Server::builder("front")
        .mount("remote", Upstream::http(&url))
        .build()
    {
        Ok(server) => server,
        Err(error) => panic!("valid: {error}"),
    };
    front.ready().await;
    let proxied = in_memory(front).await;
    run(&direct, "echo", calls / 10).await;
    run(&proxied, "remote_echo", calls / 10).await;
    let (mut direct_us, mut proxied_us) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let order: [(&Client, &'static str, &mut Vec<f64>); 2] = if round.is_multiple_of(2) {
            [
                (&direct, "echo", &mut direct_us),
                (&proxied, "remote_echo", &mut proxied_us),
            ]
        } else {
            [
                (&proxied, "remote_echo", &mut proxied_us),
                (&direct, "echo", &mut direct_us),
            ]
        };
        for (client, name, out) in order {
            let seconds = run(client, name, calls).await;
            out.push(seconds * 1e6 / f64::from(calls));
        }
    }
    let (d, p) = (median(direct_us), median(proxied_us));
    println!(
        "over HTTP on 127.0.0.1, 2 workers, {rounds} rounds of {calls} calls (legacy session, SSE):"
    );
    println!("  direct to the upstream     {d:>7.1} µs/call");
    println!(
        "  through the proxy          {p:>7.1} µs/call  (+{:.1} µs, {:.2}×)",
        p - d,
        p / d
    );
    let _ = http.shutdown_after(Duration::ZERO).await;
}
