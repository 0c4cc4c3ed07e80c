//! A fixed number of sequential `echo` calls against one server, for profilers and
//! instruction counters (`valgrind --tool=callgrind`, `perf stat`):
//!
//!     cargo run --release -p platform-bench --example calls_loop -- plain 20000
//!     cargo run --release -p platform-bench --example calls_loop -- bare 20000
//!
//! Targets: plain (rmcp), bare, errors, logging, timing, rate-limit, default (platform with
//! that middleware). Add a third argument `subscriber` to install a tracing subscriber that
//! formats events at info level into a sink, as a served binary would, or
//! `telemetry=full` (or `telemetry=json,otlp,metrics`, any of them) to install the platform's
//! own telemetry with those parts on (OTLP to a sink on loopback).

use platform_bench::{Target, connect, echo};

fn main() {
    let mut args = std::env::args().skip(1);
    let name = args.next().unwrap_or_default();
    let Some(target) = Target::parse(&name) else {
        eprintln!(
            "usage: calls_loop plain|bare|errors|logging|timing|rate-limit|default [calls] [subscriber], got {name:?}"
        );
        std::process::exit(2);
    };
    let calls: u32 = args.next().and_then(|n| n.parse().ok()).unwrap_or(20_000);
    // Kept until the end: dropping it would not flush, but shutting down does.
    let mut telemetry = None;
    match args.next().as_deref() {
        Some("subscriber") => tracing_subscriber::fmt()
            .with_writer(std::io::sink)
            .with_max_level(tracing::Level::INFO)
            .init(),
        Some(parts) if parts.starts_with("telemetry=") => {
            let sink = match platform_bench::telemetry::otlp_sink() {
                Ok(sink) => sink,
                Err(error) => {
                    eprintln!("no OTLP sink: {error}");
                    std::process::exit(1);
                }
            };
            let section = platform_bench::telemetry::section(&parts["telemetry=".len()..], &sink);
            match platform_runtime::observability::Telemetry::with_writer(
                &section,
                "calls_loop",
                std::io::sink,
            ) {
                Ok((installed, dispatch)) => {
                    let _ = tracing::dispatcher::set_global_default(dispatch);
                    telemetry = Some(installed);
                }
                Err(error) => {
                    eprintln!("{error}");
                    std::process::exit(1);
                }
            }
        }
        _ => {}
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("no runtime: {error}");
            std::process::exit(1);
        }
    };
    runtime.block_on(async {
        let client = connect(target).await;
        let start = std::time::Instant::now();
        for _ in 0..calls {
            echo(&client).await;
        }
        let elapsed = start.elapsed();
        println!(
            "{target:?}: {calls} calls in {elapsed:?} ({:.0} calls/s)",
            f64::from(calls) / elapsed.as_secs_f64()
        );
    });
    if let Some(telemetry) = telemetry {
        telemetry.shutdown();
    }
}
