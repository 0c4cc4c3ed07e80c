//! The binary answers as docs/guide/getting-started.md shows (its `--help` opening lines).

use std::process::Command;

#[test]
fn help_opens_as_the_guide_shows() {
    let guide = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/guide/getting-started.md"
    ))
    .expect("the guide");
    let after = guide.find("cargo run -- --help").expect("the --help step");
    let start = after + guide[after..].find("```text\n").expect("its output") + "```text\n".len();
    let shown = &guide[start..start + guide[start..].find("```").expect("closed")];

    let out = Command::new(env!("CARGO_BIN_EXE_support-desk"))
        .arg("--help")
        .output()
        .expect("the binary runs");
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).expect("UTF-8");
    assert!(
        help.starts_with(shown),
        "the guide shows:\n{shown}\nthe binary prints:\n{help}"
    );
}
