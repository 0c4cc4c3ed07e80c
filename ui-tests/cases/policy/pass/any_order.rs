//! Policies above or below `#[tool]`, stacked in any order, and inside `#[server]`.
use platform_runtime::prelude::*;

/// Above.
#[rate_limit(10, per = "1s", burst = 20, key = "principal")]
#[cache(ttl = "1m30s", scope = "tenant")]
#[tool(read_only, idempotent)]
#[retry(attempts = 3, backoff = "50ms", max_backoff = "1s")]
#[timeout("250ms")]
fn above(query: String) -> String {
    query
}

/// Below.
#[tool(idempotent, destructive = false)]
#[circuit_breaker(failure_ratio = 0.25, window = "1m", min_calls = 5, cooldown = "30s")]
#[concurrency_limit(4)]
#[cache(ttl = "10s", scope = "public")]
async fn below(query: String) -> String {
    query
}

struct Api;

#[server]
impl Api {
    /// Inside a server.
    #[concurrency_limit(2)]
    #[tool(read_only)]
    #[rate_limit(5)]
    fn inside(&self, query: String) -> String {
        query
    }
}

fn main() {
    let server = Server::builder("x").tools(tools![above, below]).merge(Api).build().unwrap();
    let tools = server.manifest()["tools"].as_array().unwrap().len();
    assert_eq!(tools, 3);
}
