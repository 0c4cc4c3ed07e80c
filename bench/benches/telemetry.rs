//! The cost of telemetry fully on: the same in-memory echo calls with no subscriber, then with
//! `Telemetry` installed as the thread's subscriber — JSON log lines to a sink, request spans
//! exported over OTLP/HTTP to a receiver on loopback, metrics recorded and served for
//! Prometheus. Plain rmcp is measured both ways too, as the reference of the run.
//!
//!     cargo bench -p platform-bench --bench telemetry
//!
//! One thread (a current-thread runtime) runs client and server, so the figure is CPU cost;
//! the exporter's own thread sends the batches.
#![allow(clippy::expect_used)] // a benchmark that cannot build its runtime has nothing to measure

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use platform_bench::platform::Stack;
use platform_bench::{Target, connect, echo};
use platform_runtime::observability::Telemetry;

fn sequential(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let targets = [Target::Plain, Target::Platform(Stack::Default)];
    let mut group = c.benchmark_group("telemetry/sequential");
    for target in targets {
        let client = runtime.block_on(connect(target));
        group.bench_function(format!("{target:?} off"), |b| {
            b.to_async(&runtime).iter(|| echo(&client));
        });
    }
    let sink = platform_bench::telemetry::otlp_sink().expect("an OTLP sink");
    let section = platform_bench::telemetry::section("full", &sink);
    let (telemetry, dispatch) =
        Telemetry::with_writer(&section, "bench", std::io::sink).expect("telemetry");
    let guard = tracing::dispatcher::set_default(&dispatch);
    for target in targets {
        let client = runtime.block_on(connect(target));
        group.bench_function(format!("{target:?} on"), |b| {
            b.to_async(&runtime).iter(|| echo(&client));
        });
    }
    group.finish();
    drop(guard);
    telemetry.shutdown();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5)).warm_up_time(Duration::from_secs(2));
    targets = sequential
}
criterion_main!(benches);
