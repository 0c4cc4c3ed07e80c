//! Serve the composed server:
//!
//! ```text
//! cargo run -p team-platform                            # stdio; inventory as a child process
//! cargo run -p team-platform -- serve --transport http  # over HTTP
//! PLATFORM_UPSTREAMS__REMOTE__URL=http://127.0.0.1:9000/mcp cargo run -p team-platform
//! ```

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let exe = std::env::current_exe().ok();
    let inventory = team_platform::inventory_next_to(exe.as_deref());
    platform_runtime::serve(team_platform::platform(inventory)).await?;
    Ok(())
}
