//! What authenticating one request costs the server, apart from the transport: a JWT already
//! verified once (the verified-token cache), the same token checked from scratch (signature
//! and claims), and an API key.
//!
//!     cargo bench -p platform-bench --bench auth
#![allow(clippy::expect_used)] // a benchmark that cannot build its issuer has nothing to measure

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, header};
use criterion::{Criterion, criterion_group, criterion_main};
use platform_runtime::auth::{ApiKey, Auth, JwtIssuer};
use platform_runtime::testing::TestIssuer;

const AUDIENCE: &str = "https://bench.example/mcp";

fn bearer(token: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {token}")).expect("header"),
    );
    headers
}

fn authenticate(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let issuer = runtime.block_on(TestIssuer::start()).expect("issuer");
    let token = issuer
        .token("load")
        .audience(AUDIENCE)
        .expires_in(Duration::from_secs(3600))
        .sign();
    let cached = Auth::new()
        .resource(AUDIENCE)
        .jwt(JwtIssuer::new(issuer.issuer()))
        .build()
        .expect("auth");
    let uncached = Auth::new()
        .resource(AUDIENCE)
        .jwt(JwtIssuer::new(issuer.issuer()).cache_ttl(Duration::ZERO))
        .build()
        .expect("auth");
    let keyed = Auth::new()
        .resource(AUDIENCE)
        .api_key(ApiKey::new("service", ApiKey::hash("k-0123456789abcdef")))
        .build()
        .expect("auth");
    let jwt = bearer(&token);
    let mut key = HeaderMap::new();
    key.insert("x-api-key", HeaderValue::from_static("k-0123456789abcdef"));

    let mut group = c.benchmark_group("auth/authenticate");
    group.bench_function("jwt, verified before", |b| {
        b.to_async(&runtime)
            .iter(|| async { cached.authenticate(&jwt, None).await.expect("valid") });
    });
    group.bench_function("jwt, verified each time", |b| {
        b.to_async(&runtime)
            .iter(|| async { uncached.authenticate(&jwt, None).await.expect("valid") });
    });
    group.bench_function("api key", |b| {
        b.to_async(&runtime)
            .iter(|| async { keyed.authenticate(&key, None).await.expect("valid") });
    });
    group.finish();
}

criterion_group!(benches, authenticate);
criterion_main!(benches);
