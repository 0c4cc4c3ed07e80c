//! Generated code must not care what the user calls their types.
#![allow(dead_code)]

use platform_runtime::prelude::*;

struct Result;
struct Option;
struct Box;
struct Some;
struct Ok;
struct Err;
struct Vec;
struct String;
struct Arc;

/// Add two integers.
#[tool]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

/// Maybe greet.
#[tool]
async fn greet(name: std::string::String, loud: core::option::Option<bool>) -> core::result::Result<std::string::String, ToolError> {
    core::result::Result::Ok(if loud.unwrap_or(false) { name.to_uppercase() } else { name })
}

struct Weather;

#[server(name = "weather", version = "1.0.0")]
impl Weather {
    /// Current conditions.
    #[tool(read_only)]
    async fn current(&self, city: std::string::String) -> std::string::String {
        city
    }

    /// Alerts for a city.
    #[resource("weather://{city}/alerts", mime = "application/json")]
    fn alerts(&self, city: std::string::String) -> std::vec::Vec<std::string::String> {
        std::vec![city]
    }

    /// Briefing.
    #[prompt]
    fn briefing(&self, city: std::string::String) -> std::string::String {
        std::format!("Brief me on {city}")
    }
}

fn main() {
    let _server = Server::builder("x").tools(tools![add, greet]).merge(Weather).build();
}
