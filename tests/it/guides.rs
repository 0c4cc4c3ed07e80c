//! The guides stay compiled and true: every Markdown file is included in the doctest crate
//! (`tests/guides`), and the getting-started guide shows the example crate as it is.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn markdown_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            markdown_under(&path, out);
        } else if path.extension().is_some_and(|e| e == "md") {
            out.push(path);
        }
    }
}

#[test]
fn every_guide_is_compiled_by_the_doctests() {
    let included = read("tests/guides/lib.rs");
    let mut files = vec![root().join("README.md")];
    markdown_under(&root().join("docs"), &mut files);
    assert!(files.len() > 10, "{files:?}");
    for file in files {
        let relative = file
            .strip_prefix(root())
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            included.contains(&format!("\"../../{relative}\"")),
            "{relative} is not included in tests/guides/lib.rs, so its code blocks are not compiled"
        );
    }
}

/// The fenced block of `language` that follows `after` in `text`.
fn block_after<'a>(text: &'a str, after: &str, language: &str) -> &'a str {
    let from = text
        .find(after)
        .unwrap_or_else(|| panic!("`{after}` not found"));
    let fence = format!("```{language}\n");
    let start = from + text[from..].find(&fence).unwrap() + fence.len();
    let end = start + text[start..].find("```").unwrap();
    &text[start..end]
}

#[test]
fn getting_started_shows_the_example_crate_as_it_is() {
    let guide = read("docs/guide/getting-started.md");
    assert_eq!(
        block_after(&guide, "Replace `src/main.rs` with:", "rust,no_run"),
        read("examples/getting-started/src/main.rs"),
        "the guide's src/main.rs differs from examples/getting-started/src/main.rs"
    );
    let manifest = read("examples/getting-started/Cargo.toml");
    let dependencies = &manifest[manifest.find("[dependencies]").unwrap()..];
    assert_eq!(
        block_after(&guide, "`Cargo.toml` now has", "toml"),
        dependencies.replace("../../platform-runtime", "../platform/platform-runtime"),
        "the guide's manifest differs from examples/getting-started/Cargo.toml"
    );
}
