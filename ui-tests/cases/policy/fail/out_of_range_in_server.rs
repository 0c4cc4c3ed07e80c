use platform_runtime::prelude::*;

struct Catalogue;

#[server]
impl Catalogue {
    /// Look something up.
    #[tool(read_only, idempotent)]
    #[retry(attempts = 11)]
    #[timeout("0ms")]
    fn lookup(&self, key: String) -> String {
        key
    }
}

fn main() {}
