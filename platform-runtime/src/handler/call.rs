//! Struct-based tools: `#[derive(Tool)]` makes a struct the input, `impl CallTool` runs it.

use std::future::Future;
use std::pin::Pin;

use super::context::Context;
use super::extract::RequestParts;
use crate::ToolError;

/// The handler of a `#[derive(Tool)]` struct: the struct is the tool's input.
///
/// ```
/// use platform_runtime::prelude::*;
///
/// /// Repeat a word.
/// #[derive(Tool, Deserialize, JsonSchema)]
/// #[mcp(read_only)]
/// struct Repeat {
///     /// The word to repeat.
///     word: String,
///     /// How many times.
///     times: u8,
/// }
///
/// impl CallTool for Repeat {
///     type Output = String;
///     async fn call(self, _ctx: Context) -> Result<String, ToolError> {
///         Ok(self.word.repeat(usize::from(self.times)))
///     }
/// }
///
/// let server = Server::builder("demo").tools(tools![Repeat]).build().unwrap();
/// # let _ = server;
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` derives `Tool` but has no handler",
    label = "missing `impl CallTool for {Self}`",
    note = "add `impl platform_runtime::CallTool for {Self} {{ type Output = …; async fn call(self, ctx: Context) -> Result<Self::Output, ToolError> {{ … }} }}`"
)]
pub trait CallTool: Sized + Send + 'static {
    /// What the tool returns: any `Serialize + JsonSchema` value, text or content.
    type Output;
    /// Run the tool.
    fn call(self, ctx: Context) -> impl Future<Output = Result<Self::Output, ToolError>> + Send;
}

/// Runs a [`CallTool`] with the request's [`Context`].
pub type CallToolHandler<T> = for<'a> fn(
    T,
    &'a RequestParts,
) -> Pin<
    Box<dyn Future<Output = Result<<T as CallTool>::Output, ToolError>> + Send + 'a>,
>;

/// Check the `CallTool` impl once and return the function that runs it.
pub fn call_tool_handler<T: CallTool>() -> CallToolHandler<T> {
    |input, parts| Box::pin(input.call(Context::new(parts)))
}
