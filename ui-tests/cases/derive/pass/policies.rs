//! Policies on a derived tool, above the derive, are enforced like those on a function.
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use platform_runtime::prelude::*;
use platform_runtime::schemars;

static CALLS: AtomicU32 = AtomicU32::new(0);

/// Look up a price.
#[cache(ttl = "1m", scope = "public")]
#[rate_limit(100, per = "1s")]
#[timeout("2s")]
#[derive(Tool, serde::Deserialize, schemars::JsonSchema)]
#[mcp(read_only)]
struct Price {
    item: String,
}

impl CallTool for Price {
    type Output = String;
    async fn call(self, _ctx: Context) -> Result<String, ToolError> {
        CALLS.fetch_add(1, Ordering::SeqCst);
        Ok(format!("{}: 3", self.item))
    }
}

fn main() {
    let tool = tools![Price].remove(0);
    let policies = tool.policy_set();
    assert_eq!(policies.timeout, Some(Duration::from_secs(2)));
    assert_eq!(policies.cache.as_ref().map(|c| c.ttl), Some(Duration::from_secs(60)));
    assert_eq!(policies.rate_limit.as_ref().map(|r| r.requests), Some(100));
}
