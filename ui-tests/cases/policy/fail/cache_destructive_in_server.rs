use platform_runtime::prelude::*;

struct Files;

#[server]
impl Files {
    /// Delete a file.
    #[tool(destructive)]
    #[cache(ttl = "30s")]
    fn delete(&self, path: String) -> String {
        path
    }

    /// Send an email.
    #[cache(ttl = "30s")]
    #[tool]
    fn send(&self, to: String) -> String {
        to
    }
}

fn main() {}
