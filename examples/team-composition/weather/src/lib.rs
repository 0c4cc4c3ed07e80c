//! The weather team's MCP server: current conditions and forecasts, owned and tested by the
//! weather team, mounted by the platform under `weather`.

use platform_runtime::prelude::*;

/// Weather by city.
#[derive(Default)]
pub struct Weather;

/// Current conditions and forecasts for cities.
#[server(name = "weather", version = "1.2.0")]
impl Weather {
    /// Current conditions in a city.
    ///
    /// # Arguments
    /// * `city` - the city
    /// * `units` - `metric` or `imperial`
    #[tool(read_only)]
    fn current(&self, city: String, units: Option<String>) -> String {
        match units.as_deref() {
            Some("imperial") => format!("{city}: 70 F, clear"),
            _ => format!("{city}: 21 C, clear"),
        }
    }

    /// A city's forecast, as a link the client can read.
    #[tool(read_only)]
    fn forecast_link(&self, city: String) -> Content {
        Content::resource_link(
            format!("weather://forecast/{city}"),
            format!("{city} forecast"),
        )
    }

    /// The three-day forecast for a city.
    #[resource("weather://forecast/{city}", mime = "text/plain")]
    fn forecast(&self, city: String) -> String {
        format!("{city}: sun, sun, rain")
    }

    /// A morning briefing for a city.
    #[prompt]
    fn briefing(&self, city: String) -> String {
        format!("Give me a short weather briefing for {city}.")
    }
}
