//! An MCP server on standard input and output, for the proxy tests to start as a child
//! process: echo, progress, the environment it was given, and a way to die mid-call.

use platform_runtime::prelude::*;

struct Upstream;

/// A small server started over stdio.
#[server(name = "stdio-upstream")]
impl Upstream {
    /// Echo the text.
    #[tool]
    fn echo(&self, text: String) -> String {
        format!("upstream: {text}")
    }

    /// Count to `n`, reporting progress.
    #[tool]
    async fn count(&self, n: u32, ctx: Context) -> u32 {
        for step in 1..=n {
            ctx.progress(f64::from(step), Some(f64::from(n)), None)
                .await;
        }
        n
    }

    /// The value of an environment variable of this process, if set.
    #[tool]
    fn env(&self, name: String) -> String {
        std::env::var(&name).unwrap_or_else(|_| "<unset>".into())
    }

    /// This process's id (which child of a pool answered).
    #[tool]
    fn pid(&self) -> u32 {
        std::process::id()
    }

    /// End the process in the middle of the call.
    #[tool]
    fn crash(&self) -> String {
        std::process::exit(3)
    }

    /// About this server.
    #[resource("notes://readme")]
    fn readme(&self) -> &'static str {
        "notes from upstream"
    }

    /// One page of notes.
    #[resource("notes://pages/{page}")]
    fn page(&self, page: String, ctx: Context) -> String {
        format!("page {page} at {}", ctx.component())
    }

    /// Greet someone.
    #[prompt]
    fn greet(&self, name: String) -> String {
        format!("Say hello to {name}.")
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let server = match Upstream.into_builder().build() {
        Ok(server) => server,
        Err(error) => {
            eprintln!("stdio-upstream: {error}");
            std::process::exit(2);
        }
    };
    let io = tokio::io::join(tokio::io::stdin(), tokio::io::stdout());
    if let Err(error) = server.serve_io(io).await {
        eprintln!("stdio-upstream: {error}");
    }
}
