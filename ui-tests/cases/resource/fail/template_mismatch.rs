use platform_runtime::prelude::*;

/// Alerts for a city.
#[resource("weather://{city}/alerts")]
fn alerts(town: String) -> String {
    town
}

fn main() {}
