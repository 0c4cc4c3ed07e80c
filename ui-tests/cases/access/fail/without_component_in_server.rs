use platform_runtime::prelude::*;

struct Ops;

#[server]
impl Ops {
    /// Purge the cache.
    #[requires_scope("cache:write")]
    fn purge(&self) -> String {
        "purged".into()
    }
}

fn main() {}
