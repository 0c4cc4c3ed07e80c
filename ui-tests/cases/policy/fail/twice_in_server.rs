use platform_runtime::prelude::*;

struct Search;

#[server]
impl Search {
    /// Search.
    #[tool(read_only)]
    #[timeout("5s")]
    #[timeout("10s")]
    fn search(&self, query: String) -> String {
        query
    }
}

fn main() {}
