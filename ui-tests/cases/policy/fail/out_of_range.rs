use platform_runtime::prelude::*;

/// Look something up.
#[tool(read_only, idempotent)]
#[retry(attempts = 1)]
#[cache(ttl = "0s")]
#[concurrency_limit(0)]
#[circuit_breaker(failure_ratio = 1.5)]
#[rate_limit(0, burst = 0)]
fn lookup(key: String) -> String {
    key
}

fn main() {}
