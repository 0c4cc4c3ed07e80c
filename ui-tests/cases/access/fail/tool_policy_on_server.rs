use platform_runtime::prelude::*;

struct Ops;

#[server]
#[timeout("5s")]
impl Ops {
    /// Purge the cache.
    #[tool]
    fn purge(&self) -> String {
        "purged".into()
    }
}

fn main() {}
