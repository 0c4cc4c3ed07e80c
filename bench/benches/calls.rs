//! Calls/s of one trivial tool: plain rmcp, platform without middleware, and platform with the
//! default stack (error handling, logging, timing, a rate-limit check) — same transport, same
//! client, same run.
//!
//!     cargo bench -p platform-bench --bench calls
//!
//! Each group measures both servers back to back; compare their times within a group.
#![allow(clippy::expect_used)] // a benchmark that cannot build its runtime has nothing to measure

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use platform_bench::platform::Stack;
use platform_bench::{Target, connect, echo};

fn sequential(c: &mut Criterion) {
    // One thread: client, server and transport tasks share it, so the figure is CPU cost,
    // not cross-thread wake-up luck.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut group = c.benchmark_group("echo/sequential");
    for target in [
        Target::Plain,
        Target::Platform(Stack::Bare),
        Target::Platform(Stack::Default),
    ] {
        let client = runtime.block_on(connect(target));
        group.bench_function(format!("{target:?}"), |b| {
            b.to_async(&runtime).iter(|| echo(&client));
        });
    }
    group.finish();
}

fn concurrent(c: &mut Criterion) {
    const IN_FLIGHT: u32 = 16;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut group = c.benchmark_group("echo/concurrent-16");
    group.throughput(criterion::Throughput::Elements(u64::from(IN_FLIGHT)));
    for target in [
        Target::Plain,
        Target::Platform(Stack::Bare),
        Target::Platform(Stack::Default),
    ] {
        let client = runtime.block_on(connect(target));
        group.bench_function(format!("{target:?}"), |b| {
            b.to_async(&runtime).iter_custom(|iterations| {
                let client = &client;
                async move {
                    let start = Instant::now();
                    for _ in 0..iterations {
                        futures::future::join_all((0..IN_FLIGHT).map(|_| echo(client))).await;
                    }
                    start.elapsed()
                }
            });
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5)).warm_up_time(Duration::from_secs(2));
    targets = sequential, concurrent
}
criterion_main!(benches);
