use platform_runtime::prelude::*;

struct Search;

#[server]
impl Search {
    /// Search.
    #[tool(read_only)]
    #[timeout("5 seconds")]
    #[rate_limit(10, per = "1 minute", key = "principle")]
    fn search(&self, query: String) -> String {
        query
    }
}

fn main() {}
