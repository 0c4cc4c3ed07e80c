//! Cross-crate integration tests: real servers, real MCP, in memory.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod architecture;
mod audit;
mod auth;
mod authorization;
mod compose;
mod deploy;
mod derive;
mod direct;
mod eras;
mod errors;
mod guides;
mod hostile;
mod http;
mod limits;
mod metrics;
mod middleware;
mod mrtr;
mod prelude_derives;
mod principals;
mod proxy;
mod quickstart;
mod replicas;
mod requests;
mod server;
mod stdio;
mod tasks;
mod telemetry;
mod tools;

/// The `uri` (or `uriTemplate`) of every listed resource (or template), in order.
fn uris(listed: &[serde_json::Value]) -> Vec<&str> {
    listed
        .iter()
        .map(|r| {
            r.get("uri")
                .or_else(|| r.get("uriTemplate"))
                .and_then(serde_json::Value::as_str)
                .unwrap()
        })
        .collect()
}

/// The names of every tool the client lists, in order.
async fn tool_names(client: &platform_runtime::testing::TestClient) -> Vec<String> {
    let tools = client.list_tools().await.unwrap();
    tools.into_iter().map(|tool| tool.name).collect()
}

/// Logs written while a test runs on this thread (a current-thread test: the server's tasks
/// run on it too), for `tracing_subscriber::fmt().with_writer(move || captured.clone())`.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
