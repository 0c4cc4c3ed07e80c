//! Every Rust block of `README.md` and `docs/**/*.md`, compiled and run as doctests by the
//! test command (`cargo test --doc`), with the dependencies a user crate has
//! (`docs/guide/getting-started.md`): `platform-runtime`, `tokio` and `serde_json`.
//!
//! The library is named `tokio` so the doctests find it under that name: it re-exports
//! tokio, replacing `#[tokio::test]` with one whose functions the doctest can call (rustdoc
//! drops `#[test]` functions unchecked). A guide's test ends with a hidden `# fn main() {
//! its_name(); }`.
//!
//! `tests/it/guides.rs` checks that every Markdown file under `docs/` is included here.

pub use guides_test_attr::test;
pub use tokio_real::*;

/// Includes a Markdown file as a hidden module's documentation, so its code blocks are
/// doctests.
macro_rules! guide {
    ($($name:ident => $path:literal),* $(,)?) => {
        $(
            #[cfg(doctest)]
            #[doc = include_str!($path)]
            mod $name {}
        )*
    };
}

guide! {
    readme => "../../README.md",
    anti_patterns => "../../docs/anti-patterns.md",
    architecture => "../../docs/architecture.md",
    conformance => "../../docs/conformance.md",
    deploy => "../../docs/deploy.md",
    performance => "../../docs/performance.md",
    security => "../../docs/security.md",
    auth => "../../docs/guide/auth.md",
    authorization => "../../docs/guide/authorization.md",
    composition => "../../docs/guide/composition.md",
    configuration => "../../docs/guide/configuration.md",
    getting_started => "../../docs/guide/getting-started.md",
    http => "../../docs/guide/http.md",
    middleware => "../../docs/guide/middleware.md",
    multi_tenancy => "../../docs/guide/multi-tenancy.md",
    observability => "../../docs/guide/observability.md",
    prompts => "../../docs/guide/prompts.md",
    resources => "../../docs/guide/resources.md",
    servers => "../../docs/guide/servers.md",
    testing => "../../docs/guide/testing.md",
    tools => "../../docs/guide/tools.md",
}
