//! The shape of the code: the top-level modules of `platform-runtime` and of
//! `platform-macros` import one another without a cycle, and keep to the layer order
//! written at the top of each crate's `lib.rs` (and in `docs/architecture.md`).
//!
//! Imports are read from the source: every `crate::module` path (in `use` trees, types and
//! expressions) and every `super::` path that climbs out of its top-level module. Doc
//! comments do not count (a link upward is not a dependency).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::str::FromStr as _;

use proc_macro2::{Delimiter, TokenStream, TokenTree};

/// Top-level module → the top-level modules it names, with one file that does.
type Graph = BTreeMap<String, BTreeMap<String, String>>;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read source directory") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file under `src`: `middleware/builtin/cache/mod.rs` →
/// `[middleware, builtin, cache]`, `server/router.rs` → `[server, router]`, `lib.rs` → `[]`.
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).expect("file under src");
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().expect("a file name");
    if last != "mod.rs" && last != "lib.rs" && last != "main.rs" {
        parts.push(last.trim_end_matches(".rs").to_owned());
    }
    parts
}

/// Every top-level module a token stream names, as `crate::x` or as `super::…::x` climbing
/// out of `path`.
fn imports(tokens: TokenStream, path: &[String], found: &mut BTreeSet<String>) {
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    let mut i = 0;
    while i < trees.len() {
        match &trees[i] {
            // `#[doc = "…"]` and other attributes: only their paths could matter, and a doc
            // link is not a dependency, so skip doc attributes whole.
            TokenTree::Punct(p) if p.as_char() == '#' => {
                if let Some(TokenTree::Group(g)) = trees.get(i + 1)
                    && g.delimiter() == Delimiter::Bracket
                    && g.stream()
                        .into_iter()
                        .next()
                        .is_some_and(|t| t.to_string() == "doc")
                {
                    i += 2;
                    continue;
                }
            }
            // An inline module: its `super` is one level deeper.
            TokenTree::Ident(id) if id == "mod" => {
                if let (Some(TokenTree::Ident(name)), Some(TokenTree::Group(body))) =
                    (trees.get(i + 1), trees.get(i + 2))
                    && body.delimiter() == Delimiter::Brace
                {
                    let mut inner = path.to_vec();
                    inner.push(name.to_string());
                    imports(body.stream(), &inner, found);
                    i += 3;
                    continue;
                }
            }
            TokenTree::Ident(id) if id == "crate" && is_path_sep(&trees, i + 1) => {
                first_segments(trees.get(i + 3), found);
            }
            TokenTree::Ident(id) if id == "super" && !follows_path_sep(&trees, i) => {
                // Count the `super::` hops and see whether they leave the top-level module.
                let mut hops = 0;
                let mut j = i;
                while matches!(&trees.get(j), Some(TokenTree::Ident(s)) if s == "super")
                    && is_path_sep(&trees, j + 1)
                {
                    hops += 1;
                    j += 3;
                }
                if hops >= path.len() && !path.is_empty() {
                    first_segments(trees.get(j), found);
                }
            }
            TokenTree::Group(g) => imports(g.stream(), path, found),
            _ => {}
        }
        i += 1;
    }
}

fn is_path_sep(trees: &[TokenTree], i: usize) -> bool {
    matches!((trees.get(i), trees.get(i + 1)),
        (Some(TokenTree::Punct(a)), Some(TokenTree::Punct(b))) if a.as_char() == ':' && b.as_char() == ':')
}

fn follows_path_sep(trees: &[TokenTree], i: usize) -> bool {
    i >= 2 && is_path_sep(trees, i - 2)
}

/// The first segment after `crate::`: one name, or each item of a `{…}` group.
fn first_segments(tree: Option<&TokenTree>, found: &mut BTreeSet<String>) {
    match tree {
        Some(TokenTree::Ident(name)) => {
            found.insert(name.to_string());
        }
        Some(TokenTree::Group(group)) if group.delimiter() == Delimiter::Brace => {
            let mut at_start = true;
            for tree in group.stream() {
                match &tree {
                    TokenTree::Ident(name) if at_start => {
                        found.insert(name.to_string());
                        at_start = false;
                    }
                    TokenTree::Punct(p) if p.as_char() == ',' => at_start = true,
                    _ => at_start = false,
                }
            }
        }
        _ => {}
    }
}

/// The names the crate root re-exports from a module (`pub use server::{Server, …};` in
/// `lib.rs`), so that `crate::Server` counts as naming `server`.
fn root_reexports(src: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(src.join("lib.rs")).expect("lib.rs");
    let trees: Vec<TokenTree> = TokenStream::from_str(&text)
        .expect("lib.rs tokenizes")
        .into_iter()
        .collect();
    let mut names = BTreeMap::new();
    for (i, tree) in trees.iter().enumerate() {
        let is_use = matches!(tree, TokenTree::Ident(id) if id == "use")
            && matches!(trees.get(i.wrapping_sub(1)), Some(TokenTree::Ident(id)) if id == "pub");
        let Some(TokenTree::Ident(module)) = trees.get(i + 1).filter(|_| is_use) else {
            continue;
        };
        let statement: TokenStream = trees[i + 2..]
            .iter()
            .take_while(|t| !matches!(t, TokenTree::Punct(p) if p.as_char() == ';'))
            .cloned()
            .collect();
        let mut leaves = Vec::new();
        leaf_names(statement, &mut leaves);
        for leaf in leaves {
            names.entry(leaf).or_insert_with(|| module.to_string());
        }
    }
    names
}

/// The last segment of every path in a `use` tree.
fn leaf_names(tokens: TokenStream, out: &mut Vec<String>) {
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    for (i, tree) in trees.iter().enumerate() {
        match tree {
            TokenTree::Group(group) => leaf_names(group.stream(), out),
            TokenTree::Ident(name)
                if name != "self" && name != "as" && !is_path_sep(&trees, i + 1) =>
            {
                out.push(name.to_string());
            }
            _ => {}
        }
    }
}

/// The import graph between the top-level modules of the crate whose sources are in `src`.
fn graph(src: &Path) -> Graph {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let tops: BTreeSet<String> = files
        .iter()
        .filter_map(|f| module_path(src, f).into_iter().next())
        .collect();
    let reexports = root_reexports(src);
    let mut graph = Graph::new();
    for file in &files {
        let path = module_path(src, file);
        let Some(top) = path.first() else { continue };
        let text = std::fs::read_to_string(file).expect("read source file");
        let tokens = TokenStream::from_str(&text).expect("source tokenizes");
        let mut found = BTreeSet::new();
        imports(tokens, &path, &mut found);
        let edges = graph.entry(top.clone()).or_default();
        for name in found {
            let target = reexports.get(&name).cloned().unwrap_or(name);
            if tops.contains(&target) && &target != top {
                let shown = file.strip_prefix(src).unwrap_or(file).display().to_string();
                edges.entry(target).or_insert(shown);
            }
        }
    }
    graph
}

/// A cycle in the graph, as the modules along it, if there is one.
fn cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &Graph,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(node.to_owned(), 1);
        stack.push(node.to_owned());
        for next in graph.get(node).into_iter().flat_map(|e| e.keys()) {
            match state.get(next.as_str()) {
                Some(1) => {
                    let start = stack.iter().position(|n| n == next).unwrap_or(0);
                    let mut found = stack[start..].to_vec();
                    found.push(next.clone());
                    return Some(found);
                }
                Some(_) => {}
                None => {
                    if let Some(found) = visit(next, graph, state, stack) {
                        return Some(found);
                    }
                }
            }
        }
        stack.pop();
        state.insert(node.to_owned(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for node in graph.keys() {
        if !state.contains_key(node.as_str())
            && let Some(found) = visit(node, graph, &mut state, &mut Vec::new())
        {
            return Some(found);
        }
    }
    None
}

fn explain(graph: &Graph, cycle: &[String]) -> String {
    cycle
        .windows(2)
        .map(|pair| {
            let file = &graph[&pair[0]][&pair[1]];
            format!("{} -> {} (in {file})", pair[0], pair[1])
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A crate's layer order, read from the `//!` header of its `lib.rs`: the lines of the
/// block between "Layers, lowest first:" and the next blank line, each `N. module, module —
/// what`.
fn declared_layers(src: &Path) -> Vec<Vec<String>> {
    let lib = std::fs::read_to_string(src.join("lib.rs")).expect("lib.rs");
    let mut layers = Vec::new();
    let mut inside = false;
    for line in lib.lines() {
        let Some(text) = line.strip_prefix("//!") else {
            break;
        };
        let text = text.trim();
        if text.starts_with("Layers, lowest first") {
            inside = true;
            continue;
        }
        if inside {
            if text.is_empty() {
                break;
            }
            let Some((_, rest)) = text.split_once(". ") else {
                continue;
            };
            let names = rest.split(" — ").next().unwrap_or(rest);
            layers.push(
                names
                    .split(',')
                    .map(|n| n.trim().trim_matches('`').to_owned())
                    .filter(|n| !n.is_empty())
                    .collect(),
            );
        }
    }
    layers
}

#[test]
fn runtime_modules_import_without_a_cycle() {
    let graph = graph(&root().join("platform-runtime/src"));
    if let Some(found) = cycle(&graph) {
        panic!(
            "the runtime's top-level modules import each other in a cycle:\n{}",
            explain(&graph, &found)
        );
    }
}

/// Every import of the crate in `src` goes to a lower layer than its own.
fn keeps_layers(src: &Path) {
    let graph = graph(src);
    let layers = declared_layers(src);
    assert!(
        layers.len() >= 5,
        "lib.rs declares its layers in a `//! Layers, lowest first:` list"
    );
    let level: BTreeMap<&str, usize> = layers
        .iter()
        .enumerate()
        .flat_map(|(i, names)| names.iter().map(move |n| (n.as_str(), i)))
        .collect();
    let mut wrong = Vec::new();
    for (module, edges) in &graph {
        let Some(&from) = level.get(module.as_str()) else {
            wrong.push(format!("`{module}` is in no layer of lib.rs"));
            continue;
        };
        for (target, file) in edges {
            match level.get(target.as_str()) {
                Some(&to) if to < from => {}
                Some(&to) => wrong.push(format!(
                    "{module} (layer {}) imports {target} (layer {}) in {file}",
                    from + 1,
                    to + 1
                )),
                None => wrong.push(format!("`{target}` is in no layer of lib.rs")),
            }
        }
    }
    assert!(wrong.is_empty(), "imports upward:\n{}", wrong.join("\n"));
}

#[test]
fn runtime_modules_keep_the_declared_layers() {
    keeps_layers(&root().join("platform-runtime/src"));
}

#[test]
fn macro_modules_keep_the_declared_layers() {
    keeps_layers(&root().join("platform-macros/src"));
}

#[test]
fn macro_modules_import_without_a_cycle() {
    let graph = graph(&root().join("platform-macros/src"));
    if let Some(found) = cycle(&graph) {
        panic!(
            "the macro crate's top-level modules import each other in a cycle:\n{}",
            explain(&graph, &found)
        );
    }
}

#[test]
fn the_reader_finds_imports_and_cycles() {
    // `crate::` paths, groups, `super` climbing out, an inline module, and a doc link.
    let src = r#"
        //! See [`crate::doc_only`].
        use crate::{alpha::A, beta};
        fn f() -> crate::gamma::G { super::super::delta::d() }
        mod tests { use super::*; use super::super::super::epsilon; }
    "#;
    let mut found = BTreeSet::new();
    imports(
        TokenStream::from_str(src).unwrap(),
        &["top".to_owned(), "sub".to_owned()],
        &mut found,
    );
    assert_eq!(
        found.into_iter().collect::<Vec<_>>(),
        ["alpha", "beta", "delta", "epsilon", "gamma"]
    );
    let mut graph = Graph::new();
    graph
        .entry("a".into())
        .or_default()
        .insert("b".into(), "a.rs".into());
    assert!(cycle(&graph).is_none());
    graph
        .entry("b".into())
        .or_default()
        .insert("a".into(), "b.rs".into());
    assert_eq!(cycle(&graph).unwrap(), ["a", "b", "a"]);
}
