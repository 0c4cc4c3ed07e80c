//! One replica of a server meant to run several times behind a load balancer, for the
//! scale-out tests: each process answers with its own id, so a test can tell which replica
//! computed what. Configured like any server (`PLATFORM_REDIS__URL`, `PLATFORM_SEALING__KEY`,
//! `--transport http --bind …`).

use std::sync::atomic::{AtomicU64, Ordering};

use platform_runtime::prelude::*;
use serde_json::json;

/// How many times this process ran `slow_square`.
static COMPUTED: AtomicU64 = AtomicU64::new(0);

struct Replica;

/// A server whose tools say which process answered.
#[server(name = "replica")]
impl Replica {
    /// This process's id.
    #[tool]
    fn pid(&self) -> u32 {
        std::process::id()
    }

    /// A call limited to three a minute across every replica.
    #[tool]
    #[rate_limit(3, per = "1m", key = "global")]
    fn limited(&self) -> u32 {
        std::process::id()
    }

    /// `n²`, with the id of the process that computed it; cached for everyone for a minute.
    #[tool(read_only)]
    #[cache(ttl = "1m", scope = "public")]
    fn slow_square(&self, n: i64) -> serde_json::Value {
        let runs = COMPUTED.fetch_add(1, Ordering::Relaxed) + 1;
        json!({ "square": n * n, "pid": std::process::id(), "runs": runs })
    }

    /// Work for `ms` milliseconds, then say which process did; a task for clients that
    /// support tasks.
    #[tool(task)]
    async fn long_job(&self, ms: u64) -> String {
        tokio::time::sleep(std::time::Duration::from_millis(ms.min(60_000))).await;
        format!("job done by {}", std::process::id())
    }

    /// Ask for a confirmation (multi-round), then say which process sealed the question and
    /// which one finished it.
    #[tool]
    fn confirm(&self, ctx: Context, what: String) -> Result<ToolResponse, ToolError> {
        if let Some(state) = ctx.open_state()? {
            let ok = ctx
                .input_response("confirm")
                .is_some_and(|a| a["content"]["ok"] == true);
            let text = json!({
                "ok": ok,
                "what": state["what"],
                "sealed_by": state["pid"],
                "finished_by": std::process::id(),
            });
            return Ok(ToolResult::new()
                .with_content(Content::text(text.to_string()))
                .into());
        }
        let schema = json!({ "type": "object", "properties": { "ok": { "type": "boolean" } } });
        let state = ctx.seal_state(&json!({ "what": what, "pid": std::process::id() }), 300)?;
        Ok(InputRequired::new()
            .elicit("confirm", &format!("Really {what}?"), schema)
            .state(state)
            .into())
    }
}

#[tokio::main]
async fn main() -> Result<(), platform_runtime::server::ServeError> {
    platform_runtime::serve(Replica).await
}
