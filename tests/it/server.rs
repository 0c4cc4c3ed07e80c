use std::sync::atomic::{AtomicU64, Ordering};

use platform_runtime::prelude::*;
use platform_runtime::schemars;
use platform_runtime::testing::TestClient;
use serde_json::json;

#[derive(Clone, Copy, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Units {
    Metric,
    Imperial,
}

#[derive(serde::Serialize, schemars::JsonSchema)]
struct Alert {
    city: String,
    level: u8,
}

#[derive(Default)]
struct Weather {
    calls: AtomicU64,
}

/// Weather for cities: current conditions, alerts and station logs.
#[server(
    name = "weather",
    version = "1.4.0",
    instructions = "Ask about the weather."
)]
impl Weather {
    /// Current temperature for a city.
    ///
    /// # Arguments
    /// * `city` - the city name
    /// * `units` - metric or imperial
    #[tool(read_only)]
    async fn current(&self, city: String, units: Option<Units>) -> String {
        self.calls.fetch_add(1, Ordering::Relaxed);
        match units.unwrap_or(Units::Metric) {
            Units::Metric => format!("{city}: 21 C"),
            Units::Imperial => format!("{city}: 70 F"),
        }
    }

    /// How many calls were served.
    #[tool]
    fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Count to three with progress and logs.
    #[tool]
    async fn count(&self, ctx: Context) -> u32 {
        for step in 1..=3 {
            ctx.progress(f64::from(step), Some(3.0), Some("counting"))
                .await;
        }
        ctx.info("counted").await;
        3
    }

    /// Active alerts for a city.
    #[resource("weather://{city}/alerts", mime = "application/json")]
    async fn alerts(&self, city: String) -> Result<Vec<Alert>, ToolError> {
        if city == "atlantis" {
            return Err(ToolError::not_found("no such city"));
        }
        Ok(vec![Alert { city, level: 2 }])
    }

    /// Station readme.
    #[resource("weather://readme")]
    fn readme(&self) -> &'static str {
        "stations report hourly"
    }

    /// Raw station log.
    #[resource("weather://stations/{id}/log")]
    fn station_log(&self, id: u32) -> Vec<u8> {
        vec![u8::try_from(id % 256).unwrap_or(0)]
    }

    /// Morning briefing.
    ///
    /// # Arguments
    /// * `city` - the city to brief on
    /// * `units` - unit system
    #[prompt]
    fn briefing(&self, city: String, units: Option<Units>) -> Vec<PromptMessage> {
        let units = match units {
            Some(Units::Imperial) => "imperial",
            _ => "metric",
        };
        vec![
            PromptMessage::user(format!("Brief me on {city} in {units} units.")),
            PromptMessage::assistant("Here is the briefing:"),
        ]
    }
}

#[tokio::test]
async fn a_server_type_is_servable_on_its_own() {
    let client = TestClient::connect(Weather::default()).await.unwrap();
    assert_eq!(
        client.server_name(),
        Some(("weather".into(), "1.4.0".into()))
    );
    assert_eq!(
        client.instructions().as_deref(),
        Some("Ask about the weather.")
    );
    assert_eq!(
        client.server_description().as_deref(),
        Some("Weather for cities: current conditions, alerts and station logs."),
        "the impl block's doc comment"
    );
    let modern = TestClient::connect_modern(Weather::default())
        .await
        .unwrap();
    assert_eq!(
        modern.server_description(),
        client.server_description(),
        "server/discover carries it too"
    );
    let names = crate::tool_names(&client).await;
    assert_eq!(names, ["current", "calls", "count"]);
    let result = client
        .call_tool("current", json!({ "city": "Lisbon", "units": "imperial" }))
        .await
        .unwrap();
    assert_eq!(result.text(), "Lisbon: 70 F");
    let calls = client.call_tool("calls", json!({})).await.unwrap();
    assert_eq!(
        calls.structured(),
        Some(&json!({ "result": 1 })),
        "methods share the server value"
    );
}

#[tokio::test]
async fn a_server_type_becomes_a_builder_keeping_its_identity() {
    use platform_runtime::middleware::{McpRequest, Next, from_fn};
    let seen = std::sync::Arc::new(AtomicU64::new(0));
    let counted = seen.clone();
    let count = from_fn(move |request: McpRequest, next: Next| {
        let counted = counted.clone();
        async move {
            counted.fetch_add(1, Ordering::Relaxed);
            next.run(request).await
        }
    });
    let server = Weather::default()
        .into_builder()
        .layer(count)
        .tools(tools![add])
        .build()
        .unwrap();
    let client = TestClient::connect(server).await.unwrap();
    assert_eq!(
        client.server_name(),
        Some(("weather".into(), "1.4.0".into())),
        "name and version from #[server]"
    );
    assert_eq!(
        client.instructions().as_deref(),
        Some("Ask about the weather.")
    );
    assert!(client.server_description().is_some(), "and its description");
    let names = crate::tool_names(&client).await;
    assert_eq!(names, ["current", "calls", "count", "add"]);
    let before = seen.load(Ordering::Relaxed);
    let sum = client
        .call_tool("add", json!({ "a": 1, "b": 2 }))
        .await
        .unwrap();
    assert_eq!(
        sum.structured_as::<i64>(),
        Some(3),
        "unwrapped from {{\"result\": 3}}"
    );
    assert_eq!(
        seen.load(Ordering::Relaxed),
        before + 1,
        "the added layer ran"
    );
}

#[tokio::test]
async fn resources_and_templates_are_listed_and_read() {
    let client = TestClient::connect(Weather::default()).await.unwrap();
    let resources = client.list_resources().await.unwrap();
    assert_eq!(resources.len(), 1);
    assert_eq!(resources[0]["uri"], "weather://readme");
    assert_eq!(resources[0]["mimeType"], "text/plain");
    let templates = client.list_resource_templates().await.unwrap();
    assert_eq!(templates.len(), 2);
    assert_eq!(templates[0]["uriTemplate"], "weather://{city}/alerts");
    assert_eq!(templates[0]["mimeType"], "application/json");
    assert_eq!(templates[1]["mimeType"], "application/octet-stream");

    let alerts = client
        .read_resource("weather://lisbon/alerts")
        .await
        .unwrap();
    assert_eq!(alerts[0].0, "weather://lisbon/alerts");
    assert_eq!(
        alerts[0].1.as_text(),
        Some(r#"[{"city":"lisbon","level":2}]"#)
    );
    assert_eq!(alerts[0].1.mime_type(), Some("application/json"));
    assert_eq!(alerts.uri(), Some("weather://lisbon/alerts"));
    assert_eq!(
        alerts.json::<serde_json::Value>().unwrap(),
        json!([{ "city": "lisbon", "level": 2 }])
    );
    let readme = client.read_resource("weather://readme").await.unwrap();
    assert_eq!(readme[0].1.as_text(), Some("stations report hourly"));
    assert_eq!(readme.text(), "stations report hourly");
    assert!(
        readme.json::<serde_json::Value>().is_err(),
        "text that is not JSON"
    );
    let log = client
        .read_resource("weather://stations/258/log")
        .await
        .unwrap();
    assert_eq!(log[0].1.as_bytes(), Some(&[2u8][..]));
    assert_eq!(log.bytes(), Some(&[2u8][..]));
    assert_eq!(log.text(), "", "no text in a binary resource");
    assert_eq!(log.contents().len(), 1);
}

#[tokio::test]
async fn unknown_and_failing_resources_are_protocol_errors() {
    let client = TestClient::connect(Weather::default()).await.unwrap();
    let missing = client.read_resource("weather://nowhere").await.unwrap_err();
    assert_eq!(missing.code(), Some(-32002));
    let atlantis = client
        .read_resource("weather://atlantis/alerts")
        .await
        .unwrap_err();
    assert_eq!(atlantis.code(), Some(-32002));
    let bad = client
        .read_resource("weather://stations/abc/log")
        .await
        .unwrap_err();
    assert_eq!(
        bad.code(),
        Some(-32602),
        "a variable of the wrong type is invalid params"
    );
}

#[tokio::test]
async fn prompts_list_arguments_and_render() {
    let client = TestClient::connect(Weather::default()).await.unwrap();
    let prompts = client.list_prompts().await.unwrap();
    assert_eq!(prompts[0]["name"], "briefing");
    assert_eq!(prompts[0]["description"], "Morning briefing.");
    assert_eq!(
        prompts[0]["arguments"],
        json!([
            { "name": "city", "description": "the city to brief on", "required": true },
            { "name": "units", "description": "unit system", "required": false }
        ])
    );
    let prompt = client
        .get_prompt("briefing", json!({ "city": "Porto", "units": "imperial" }))
        .await
        .unwrap();
    assert_eq!(prompt.messages().len(), 2);
    assert_eq!(
        prompt.messages()[0].text(),
        Some("Brief me on Porto in imperial units.")
    );
    let missing = client.get_prompt("briefing", json!({})).await.unwrap_err();
    assert_eq!(missing.code(), Some(-32602));
    assert!(missing.to_string().contains("city"), "{missing}");
    let unknown = client.get_prompt("nope", json!({})).await.unwrap_err();
    assert_eq!(unknown.code(), Some(-32602));
}

#[tokio::test]
async fn enum_arguments_complete_by_prefix() {
    let client = TestClient::connect(Weather::default()).await.unwrap();
    let values = client
        .complete_prompt_argument("briefing", "units", "im")
        .await
        .unwrap();
    assert_eq!(values, ["imperial"]);
    let values = client
        .complete_prompt_argument("briefing", "units", "")
        .await
        .unwrap();
    assert_eq!(values, ["metric", "imperial"]);
}

#[tokio::test]
async fn progress_and_logs_reach_the_client() {
    let client = TestClient::connect(Weather::default()).await.unwrap();
    let result = client.call_tool("count", json!({})).await.unwrap();
    assert_eq!(result.structured(), Some(&json!({ "result": 3 })));
    let progress = client.progress(3).await;
    let steps: Vec<_> = progress.iter().map(|p| p.progress).collect();
    assert_eq!(steps, [1.0, 2.0, 3.0]);
    assert_eq!(progress[0].total, Some(3.0));
    let logs = client.logs(1).await;
    assert_eq!(logs[0].data, json!("counted"));
    assert_eq!(logs[0].logger.as_deref(), Some("count"));
}

#[tokio::test]
async fn the_log_level_filters_client_logs() {
    let client = TestClient::connect(Weather::default()).await.unwrap();
    client
        .set_log_level(platform_runtime::LogLevel::Warning)
        .await
        .unwrap();
    client.call_tool("count", json!({})).await.unwrap();
    client.progress(3).await;
    assert!(
        client.logs(0).await.is_empty(),
        "info is below the warning threshold"
    );
}

/// Add two integers.
#[tool]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

#[tokio::test]
async fn mounting_prefixes_tool_and_prompt_names() {
    let server = Server::builder("acme")
        .tools(tools![add])
        .mount("weather", Weather::default())
        .build()
        .unwrap();
    let client = TestClient::connect(server).await.unwrap();
    let names = crate::tool_names(&client).await;
    assert_eq!(
        names,
        ["add", "weather_current", "weather_calls", "weather_count"]
    );
    let result = client
        .call_tool("weather_current", json!({ "city": "Faro" }))
        .await
        .unwrap();
    assert_eq!(result.text(), "Faro: 21 C");
    let prompts = client.list_prompts().await.unwrap();
    assert_eq!(prompts[0]["name"], "weather_briefing");
}

/// Named as the mounted `current` becomes.
#[tool]
fn weather_current() -> String {
    "mine".into()
}

#[test]
fn collisions_are_build_errors_naming_both_origins() {
    let error = Server::builder("acme")
        .tools(tools![weather_current])
        .mount("weather", Weather::default())
        .mount("forecast", Weather::default())
        .build()
        .unwrap_err();
    let problems = error.problems();
    assert!(
        problems.contains(
            &"two tools are named `weather_current` (one added to the server directly, one from mount `weather`); tool names must be unique".to_owned()
        ),
        "{error}"
    );
    assert_eq!(problems.len(), 1, "the rest are prefixed apart: {error}");
    // Names joined with `_` can meet across nesting levels.
    let error = Server::builder("acme")
        .mount("weather", Weather::default())
        .mount(
            "forecast",
            Server::builder("forecast").mount("weather", Weather::default()),
        )
        .mount("forecast_weather", Weather::default())
        .build()
        .unwrap_err();
    let problems = error.problems();
    assert!(
        problems.contains(
            &"two tools are named `forecast_weather_current` (one from mount `forecast/weather`, one from mount `forecast_weather`); tool names must be unique".to_owned()
        ),
        "{error}"
    );
    // Three tools and the prompt collide; the URIs do not (`scheme://forecast/weather/…`
    // against `scheme://forecast_weather/…`).
    assert_eq!(problems.len(), 4, "{error}");
    assert!(!problems.iter().any(|p| p.contains("URI")), "{error}");
}

#[tokio::test]
async fn pagination_walks_every_page() {
    let server = Server::builder("acme")
        .tools(tools![add])
        .merge(Weather::default())
        .page_size(3)
        .build()
        .unwrap();
    let client = TestClient::connect(server).await.unwrap();
    let (first, next) = client.list_tools_page(None).await.unwrap();
    assert_eq!(first, ["add", "current", "calls"]);
    let (second, next) = client.list_tools_page(next).await.unwrap();
    assert_eq!(second, ["count"]);
    assert_eq!(next, None);
    assert_eq!(client.list_tools().await.unwrap().len(), 4);
    let error = client
        .list_tools_page(Some("bogus".into()))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some(-32602));
}

#[tokio::test]
async fn changing_tools_notifies_clients() {
    let server = Server::builder("acme")
        .tools(tools![add])
        .merge(Weather::default())
        .build()
        .unwrap();
    let client = TestClient::connect(server.clone()).await.unwrap();
    assert!(server.handle().set_tool_enabled("count", false));
    assert_eq!(client.tools_changed(1).await, 1);
    let names = crate::tool_names(&client).await;
    assert_eq!(names, ["add", "current", "calls"]);
    let error = client.call_tool("count", json!({})).await.unwrap_err();
    assert_eq!(error.code(), Some(-32602), "a disabled tool is unknown");
    assert!(server.handle().remove_tool("add"));
    assert_eq!(client.tools_changed(2).await, 2);
}

#[derive(Clone, Copy, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Region {
    North,
    South,
    Nowhere,
}

/// Forecast for a region.
#[resource("forecast://{region}")]
fn forecast(region: Region) -> &'static str {
    match region {
        Region::North => "cold",
        Region::South => "warm",
        Region::Nowhere => "",
    }
}

#[tokio::test]
async fn enum_template_variables_complete_and_parse() {
    let server = Server::builder("t")
        .resources(resources![forecast])
        .build()
        .unwrap();
    let client = TestClient::connect(server).await.unwrap();
    let values = client
        .complete_resource_argument("forecast://{region}", "region", "no")
        .await
        .unwrap();
    assert_eq!(values, ["north", "nowhere"]);
    let read = client.read_resource("forecast://south").await.unwrap();
    assert_eq!(read[0].1.as_text(), Some("warm"));
    let unknown = client.read_resource("forecast://east").await.unwrap_err();
    assert_eq!(
        unknown.code(),
        Some(-32602),
        "not a variant: invalid params"
    );
}
