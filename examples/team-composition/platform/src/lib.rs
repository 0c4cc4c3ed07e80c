//! The platform team's server: each product team owns a focused server in its own crate;
//! this crate mounts them under prefixes with their own policies, proxies a remote server,
//! and serves the whole as one MCP endpoint (`src/main.rs`).

use platform_runtime::ServerBuilder;
use platform_runtime::component::policy::RateLimit;
use platform_runtime::prelude::*;
use platform_runtime::server::Upstream;
use std::time::Duration;
use team_billing::Billing;
use team_weather::Weather;

/// The composed server: `weather_*`, `billing_*` (for the `finance` role) and `remote_*`
/// (what `inventory` serves).
pub fn platform(inventory: Upstream) -> ServerBuilder {
    Server::builder("acme-platform")
        .version(env!("CARGO_PKG_VERSION"))
        .instructions("Weather, billing and inventory tools of Acme, one endpoint.")
        .mount("weather", Weather)
        .mount_with("billing", Billing, |m| {
            m.requires_role(["finance"])
                .rate_limit(RateLimit::new(120, Duration::from_secs(60)))
                .version("refund_policy", "1")
                .tool("refund", |t| {
                    t.describe_argument("reason", "Shown to the customer.")
                })
        })
        .mount_with("remote", inventory, |m| m.timeout(Duration::from_secs(20)))
}

/// The `inventory` binary built next to `exe`, started over stdio (else `inventory` on
/// the `PATH`).
pub fn inventory_next_to(exe: Option<&std::path::Path>) -> Upstream {
    let sibling = exe
        .and_then(std::path::Path::parent)
        .map(|dir| dir.join(format!("inventory{}", std::env::consts::EXE_SUFFIX)));
    match sibling {
        Some(path) if path.exists() => Upstream::stdio(path.to_string_lossy()),
        _ => Upstream::stdio("inventory"),
    }
}
