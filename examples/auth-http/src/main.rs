//! An MCP server over HTTP that only verified callers reach. Nothing about authentication
//! is in the code: `platform.toml` (or `PLATFORM_AUTH__JWT__ISSUER` and
//! `PLATFORM_AUTH__JWT__AUDIENCE`) names the identity provider and this server's URL, and
//! `serve()` does the rest. See `README.md` for running it against a real IdP or
//! `oauth2-mock-server`.

use std::sync::atomic::{AtomicU64, Ordering};

use platform_runtime::prelude::*;

/// The roles this server knows.
#[derive(Roles)]
pub enum Role {
    /// May reset the cache.
    Admin,
}

/// A small service with a cache, for authenticated callers.
#[derive(Default)]
pub struct AuthDemo {
    resets: AtomicU64,
}

/// Tells callers who they are, and lets administrators reset the cache.
#[server(name = "auth-http")]
impl AuthDemo {
    /// Who you are: the subject of your verified token.
    #[tool(read_only)]
    fn whoami(&self, #[extract] caller: Principal) -> String {
        caller.id().to_owned()
    }

    /// Empty the cache. Administrators only.
    #[tool(idempotent)]
    #[requires_role(Role::Admin)]
    fn reset_cache(&self, #[extract] caller: Principal) -> String {
        let n = self.resets.fetch_add(1, Ordering::Relaxed) + 1;
        format!("cache reset by {} (reset #{n})", caller.id())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    platform_runtime::serve(AuthDemo::default()).await?;
    Ok(())
}
