//! Every compile error the macros promise, with its reviewed message, and the pass cases.
//! The `.stderr` files are pinned to the toolchain in `rust-toolchain.toml`; after a
//! deliberate message change, regenerate them with `TRYBUILD=overwrite` and review the diff.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("cases/*/fail/*.rs");
    cases.pass("cases/*/pass/*.rs");
}
