//! A crate that re-exports the runtime under another path points the macros at it.

mod facade {
    pub use platform_runtime as rt;
}

use platform_runtime::{Server, tools};

/// Add two integers.
#[platform_runtime::tool(crate = facade::rt)]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

struct Calc;

#[platform_runtime::server(crate = facade::rt)]
impl Calc {
    /// Double a number.
    #[tool]
    fn double(&self, n: i64) -> i64 {
        n * 2
    }
}

fn main() {
    let server = Server::builder("calc").tools(tools![add]).merge(Calc).build();
    assert!(server.is_ok());
}
