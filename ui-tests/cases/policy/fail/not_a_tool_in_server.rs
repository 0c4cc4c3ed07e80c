use platform_runtime::prelude::*;

struct Notes;

#[server]
impl Notes {
    /// A note.
    #[resource("notes://{id}")]
    #[cache(ttl = "30s")]
    fn note(&self, id: String) -> String {
        id
    }

    /// Greet someone.
    #[prompt]
    #[concurrency_limit(2)]
    fn greet(&self, name: String) -> String {
        format!("Greet {name}.")
    }
}

fn main() {}
