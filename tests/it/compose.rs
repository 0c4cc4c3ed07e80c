//! Composition: every kind of component under a mount prefix (and back to the source's own
//! URIs), nested mounts of whole builders with their state and middleware, and the policies
//! of one mount kept away from another's components.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use platform_runtime::component::policy::{RateLimit, RateLimitKey};
use platform_runtime::middleware::{McpRequest, Next, from_fn};
use platform_runtime::model::Era;
use platform_runtime::prelude::*;
use platform_runtime::testing::TestClient;

#[derive(Default)]
struct Forecast;

/// Forecasts by city.
#[server(name = "forecast")]
impl Forecast {
    /// Links to a city's forecast and to the web.
    #[tool]
    fn link(&self, city: String) -> Vec<Content> {
        vec![
            Content::resource_link(format!("forecast://cities/{city}"), city),
            Content::resource_link("https://example.com/forecast", "web"),
            Content::resource_link("forecast://nowhere", "not served here"),
        ]
    }

    /// Never answers in time.
    #[tool]
    async fn slow(&self) -> String {
        tokio::time::sleep(Duration::from_secs(30)).await;
        "late".into()
    }

    /// A city's forecast: the URI its handler was given.
    #[resource("forecast://cities/{city}")]
    fn city(&self, city: String, ctx: Context) -> String {
        format!("{city} via {}", ctx.component())
    }

    /// About the forecasts.
    #[resource("forecast://readme")]
    fn readme(&self) -> &'static str {
        "forecasts update hourly"
    }

    /// The outlook for a city, pointing at its forecast.
    #[prompt]
    fn outlook(&self, city: String) -> Vec<PromptMessage> {
        vec![
            PromptMessage::user(format!("What is the outlook for {city}?")),
            PromptMessage::new(
                Role::User,
                Content::resource_link(format!("forecast://cities/{city}"), city),
            ),
        ]
    }
}

fn links(result: &ToolResult) -> Vec<String> {
    result
        .content()
        .iter()
        .map(|c| c.resource_uri().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn every_kind_is_served_under_the_prefix_and_the_source_keeps_its_own_uris() {
    for era in [Era::Legacy, Era::Modern] {
        let server = Server::builder("acme")
            .mount("weather", Forecast)
            .build()
            .unwrap();
        let client = TestClient::connect_era(server, era).await.unwrap();
        assert_eq!(
            crate::tool_names(&client).await,
            ["weather_link", "weather_slow"]
        );
        let prompts = client.list_prompts().await.unwrap();
        assert_eq!(prompts[0]["name"], "weather_outlook");
        assert_eq!(
            crate::uris(&client.list_resources().await.unwrap()),
            ["forecast://weather/readme"]
        );
        assert_eq!(
            crate::uris(&client.list_resource_templates().await.unwrap()),
            ["forecast://weather/cities/{city}"]
        );

        // A read under the mounted URI reaches the handler with the URI it declared; the
        // contents carry the URI the client asked for.
        let read = client
            .read_resource("forecast://weather/cities/faro")
            .await
            .unwrap();
        assert_eq!(read.text(), "faro via forecast://cities/faro");
        assert_eq!(read.uri(), Some("forecast://weather/cities/faro"));
        let readme = client
            .read_resource("forecast://weather/readme")
            .await
            .unwrap();
        assert_eq!(readme.text(), "forecasts update hourly");
        let unmounted = client.read_resource("forecast://readme").await.unwrap_err();
        assert!(
            unmounted.to_string().contains("resource not found"),
            "{unmounted}"
        );

        // Links to the source's own resources follow it; others are left alone.
        let result = client
            .call_tool("weather_link", json!({ "city": "faro" }))
            .await
            .unwrap();
        assert_eq!(
            links(&result),
            [
                "forecast://weather/cities/faro",
                "https://example.com/forecast",
                "forecast://nowhere"
            ]
        );
        let prompt = client
            .get_prompt("weather_outlook", json!({ "city": "faro" }))
            .await
            .unwrap();
        assert_eq!(
            prompt.messages()[1].content().resource_uri(),
            Some("forecast://weather/cities/faro")
        );

        // Completion names the mounted template.
        client
            .complete_resource_argument("forecast://weather/cities/{city}", "city", "")
            .await
            .unwrap();
        let unknown = client
            .complete_resource_argument("forecast://cities/{city}", "city", "")
            .await
            .unwrap_err();
        assert_eq!(unknown.code(), Some(-32602), "{unknown}");
    }
}

/// A middleware that records `"{label} {method}"` for every request it sees.
macro_rules! recorder {
    ($label:literal, $log:expr) => {{
        let log = $log.clone();
        from_fn(move |request: McpRequest, next: Next| {
            let log = log.clone();
            async move {
                log.lock()
                    .unwrap()
                    .push(format!("{} {}", $label, request.method()));
                next.run(request).await
            }
        })
    }};
}

/// Shared state of the team's own tool.
#[derive(Clone)]
struct Hits(u64);

/// How many hits the team has seen.
#[tool]
fn hits(State(hits): State<Hits>) -> u64 {
    hits.0
}

/// Add two integers.
#[tool]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

#[tokio::test]
async fn builders_nest_with_their_state_and_each_mount_wraps_only_what_is_beneath_it() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let team = Server::builder("team")
        .state(Hits(7))
        .tools(tools![hits])
        .layer(recorder!("team", log))
        .mount_with("forecast", Forecast, |m| m.layer(recorder!("inner", log)));
    let server = Server::builder("acme")
        .tools(tools![add])
        .layer(recorder!("server", log))
        .mount_with("team", team, |m| m.layer(recorder!("mount", log)))
        .build()
        .unwrap();
    let client = TestClient::connect(server).await.unwrap();
    let take = || std::mem::take(&mut *log.lock().unwrap());
    take();

    assert_eq!(
        crate::tool_names(&client).await,
        [
            "add",
            "team_hits",
            "team_forecast_link",
            "team_forecast_slow"
        ]
    );
    assert_eq!(
        take(),
        ["server tools/list"],
        "lists pass no mount's layers"
    );

    let result = client
        .call_tool("team_forecast_link", json!({ "city": "faro" }))
        .await
        .unwrap();
    assert_eq!(links(&result)[0], "forecast://team/forecast/cities/faro");
    assert_eq!(
        take(),
        [
            "server tools/call",
            "mount tools/call",
            "team tools/call",
            "inner tools/call"
        ]
    );

    let result = client.call_tool("team_hits", json!({})).await.unwrap();
    assert_eq!(result.structured(), Some(&json!({ "result": 7 })));
    assert_eq!(
        take(),
        ["server tools/call", "mount tools/call", "team tools/call"]
    );

    client
        .call_tool("add", json!({ "a": 1, "b": 2 }))
        .await
        .unwrap();
    assert_eq!(take(), ["server tools/call"]);

    let read = client
        .read_resource("forecast://team/forecast/cities/faro")
        .await
        .unwrap();
    assert_eq!(read.text(), "faro via forecast://cities/faro");
    assert_eq!(
        take(),
        [
            "server resources/read",
            "mount resources/read",
            "team resources/read",
            "inner resources/read"
        ]
    );

    client
        .get_prompt("team_forecast_outlook", json!({ "city": "faro" }))
        .await
        .unwrap();
    assert_eq!(
        take(),
        [
            "server prompts/get",
            "mount prompts/get",
            "team prompts/get",
            "inner prompts/get"
        ]
    );
}

#[tokio::test]
async fn a_mount_rate_limit_is_shared_by_its_components_and_no_one_elses() {
    let server = Server::builder("acme")
        .mount_with("limited", Forecast, |m| {
            m.rate_limit(RateLimit::new(2, Duration::from_secs(3600)).key(RateLimitKey::Global))
        })
        .mount("open", Forecast)
        .build()
        .unwrap();
    let client = TestClient::connect(server).await.unwrap();
    let city = json!({ "city": "faro" });
    assert!(
        !client
            .call_tool("limited_link", city.clone())
            .await
            .unwrap()
            .is_error()
    );
    client
        .read_resource("forecast://limited/readme")
        .await
        .unwrap();
    // The third request to the mount, whatever the component, is refused.
    let refused = client
        .call_tool("limited_link", city.clone())
        .await
        .unwrap();
    assert!(
        refused.is_error() && refused.text().contains("rate limit"),
        "{refused:?}"
    );
    let refused = client
        .get_prompt("limited_outlook", city.clone())
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("rate limit"), "{refused}");
    for _ in 0..5 {
        assert!(
            !client
                .call_tool("open_link", city.clone())
                .await
                .unwrap()
                .is_error()
        );
    }
}

#[tokio::test]
async fn a_mount_timeout_bounds_its_components() {
    let server = Server::builder("acme")
        .mount_with("quick", Forecast, |m| m.timeout(Duration::from_millis(50)))
        .build()
        .unwrap();
    let client = TestClient::connect(server).await.unwrap();
    let result = client.call_tool("quick_slow", json!({})).await.unwrap();
    assert!(
        result.is_error() && result.text().contains("timed out"),
        "{result:?}"
    );
}

#[test]
fn a_mounted_builder_refuses_what_only_a_server_honours_and_state_given_twice() {
    let error = Server::builder("acme")
        .state(Hits(1))
        .mount(
            "team",
            Server::builder("team")
                .state(Hits(2))
                .tools(tools![hits])
                .max_in_flight(4)
                .page_size(10),
        )
        .mount("again", Forecast)
        .mount("again", Forecast)
        .mount("bad prefix", Forecast)
        .build()
        .unwrap_err();
    let problems = error.problems().join("\n");
    for expected in [
        "in mount `team`: `max_in_flight` applies to a whole server and cannot be set on a mounted builder; set it on the outer server",
        "in mount `team`: `page_size` applies to a whole server",
        "is given as state both to this server and to mount `team`; give it once, to the outer server",
        "`again` is mounted twice; give each mount its own prefix",
        "mount prefix `bad prefix` is invalid",
    ] {
        assert!(problems.contains(expected), "{expected}\nin:\n{problems}");
    }
}

/// Served at the URI the mount `weather` gives its readme.
#[resource("forecast://weather/readme")]
fn clashing_readme() -> &'static str {
    "mine"
}

#[test]
fn a_resource_uri_met_twice_names_both_origins() {
    let error = Server::builder("acme")
        .resources(resources![clashing_readme])
        .mount("weather", Forecast)
        .build()
        .unwrap_err();
    assert_eq!(
        error.problems(),
        [
            "two resources use the URI `forecast://weather/readme` (one added to the server directly, one from mount `weather`); resource URIs must be unique"
        ]
    );
}

struct Stations;

/// Weather stations.
#[server(name = "stations")]
impl Stations {
    /// Current conditions.
    ///
    /// # Arguments
    /// * `city` - the city
    /// * `units` - metric or imperial
    /// * `debug` - extra output
    #[tool]
    fn current(&self, city: String, units: Option<String>, debug: Option<bool>) -> String {
        format!("{city} {units:?} {debug:?}")
    }

    /// The first forecast API.
    #[tool(name = "forecast", version = "1")]
    fn forecast_v1(&self, city: String) -> String {
        format!("v1 {city}")
    }

    /// The second forecast API.
    #[tool(name = "forecast", version = "2")]
    fn forecast_v2(&self, city: String) -> String {
        format!("v2 {city}")
    }

    /// Internal counters.
    #[tool]
    fn counters(&self) -> u32 {
        0
    }

    /// The station list.
    #[resource("stations://list")]
    fn list(&self) -> &'static str {
        "faro, porto"
    }

    /// Ask about a station.
    #[prompt]
    fn ask(&self, station: String) -> String {
        format!("Tell me about {station}.")
    }
}

#[tokio::test]
async fn transforms_rewrite_schemas_and_calls_and_a_mount_selects_a_version() {
    let server = Server::builder("acme")
        .mount_with("eu", Stations, |m| {
            m.tool("current", |t| {
                t.rename("now")
                    .title("Now")
                    .description("Conditions now, imperial.")
                    .tags(["weather"])
                    .fix_argument("units", json!("imperial"))
                    .hide_argument("debug")
                    .rename_argument("city", "place")
                    .describe_argument("place", "where")
            })
            .hide_tool("counters")
            .version("forecast", "1")
            .prompt("ask", |p| p.rename("question").description("Ask away."))
            .resource("stations://list", |r| r.description("Every station."))
        })
        .mount("us", Stations)
        .build()
        .unwrap();
    let manifest = server.manifest();
    let client = TestClient::connect(server).await.unwrap();
    assert_eq!(
        crate::tool_names(&client).await,
        [
            "eu_now",
            "eu_forecast",
            "us_current",
            "us_forecast",
            "us_counters"
        ]
    );
    let tools = &manifest["tools"];
    let now = &tools[0];
    assert_eq!(now["title"], "Now");
    assert_eq!(now["description"], "Conditions now, imperial.");
    assert_eq!(now["tags"], json!(["weather"]));
    let schema = &now["inputSchema"];
    let properties: Vec<_> = schema["properties"].as_object().unwrap().keys().collect();
    assert_eq!(properties, ["place"]);
    assert_eq!(schema["properties"]["place"]["description"], "where");
    assert_eq!(schema["required"], json!(["place"]));
    assert_eq!(tools[1]["version"], "1");
    assert_eq!(tools[3]["version"], "2", "the highest by default");

    let result = client
        .call_tool("eu_now", json!({ "place": "Faro" }))
        .await
        .unwrap();
    assert_eq!(result.text(), "Faro Some(\"imperial\") None");
    for refused in [
        json!({ "place": "Faro", "units": "metric" }),
        json!({ "place": "Faro", "debug": true }),
        json!({ "city": "Faro" }),
    ] {
        let error = client.call_tool("eu_now", refused.clone()).await;
        let refused_call = match error {
            Ok(result) => result.is_error() && result.text().contains("unknown argument"),
            Err(error) => error.to_string().contains("unknown argument"),
        };
        assert!(refused_call, "{refused}");
    }
    let v1 = client
        .call_tool("eu_forecast", json!({ "city": "Faro" }))
        .await
        .unwrap();
    assert_eq!(v1.text(), "v1 Faro");
    let v2 = client
        .call_tool("us_forecast", json!({ "city": "Faro" }))
        .await
        .unwrap();
    assert_eq!(v2.text(), "v2 Faro");
    let untouched = client
        .call_tool("us_current", json!({ "city": "Faro", "units": "metric" }))
        .await
        .unwrap();
    assert_eq!(untouched.text(), "Faro Some(\"metric\") None");

    let prompts = client.list_prompts().await.unwrap();
    assert_eq!(prompts[0]["name"], "eu_question");
    assert_eq!(prompts[0]["description"], "Ask away.");
    let resources = client.list_resources().await.unwrap();
    assert_eq!(resources[0]["description"], "Every station.");
    assert_eq!(resources[1]["description"], "The station list.");
}

#[test]
fn a_transform_that_cannot_apply_is_a_build_error() {
    let error = Server::builder("acme")
        .mount_with("eu", Stations, |m| {
            m.tool("missing", |t| t.rename("x"))
                .tool("current", |t| t.hide_argument("city"))
                .tool("forecast", |t| {
                    t.rename_argument("city", "city")
                        .fix_argument("nope", json!(1))
                })
                .version("forecast", "3")
                .prompt("missing", |p| p.hide())
        })
        .build()
        .unwrap_err();
    let problems = error.problems().join("\n");
    for expected in [
        "mount `eu` transforms tool `missing`, which its server does not have",
        "mount `eu`, tool `current`: `city` is required, so it cannot be hidden; fix it to a value with `fix_argument`",
        "mount `eu`, tool `forecast`: `city` cannot be renamed `city`: it already has an argument `city`",
        "mount `eu` selects version `3` of tool `forecast`, which has versions 1, 2",
        "mount `eu` transforms prompt `missing`, which its server does not have",
    ] {
        assert!(problems.contains(expected), "{expected}\nin:\n{problems}");
    }
}

#[tokio::test]
async fn enabling_and_disabling_at_run_time_tells_every_client_what_changed_in_both_eras() {
    use platform_runtime::testing::ListKind;
    let server = Server::builder("acme")
        .tools(tools![add])
        .mount("eu", Stations)
        .mount("team", Server::builder("team").mount("inner", Forecast))
        .build()
        .unwrap();
    let handle = server.handle();
    let legacy = TestClient::connect(server.clone()).await.unwrap();
    let modern = TestClient::connect_modern(server.clone()).await.unwrap();
    let mut changes = modern.listen_for_list_changes().await.unwrap();
    let quiet = Duration::from_millis(200);

    assert!(handle.set_mount_enabled("eu", false));
    assert_eq!(legacy.tools_changed(1).await, 1);
    assert_eq!(legacy.prompts_changed(1).await, 1);
    assert_eq!(legacy.resources_changed(1).await, 1);
    let mut kinds = Vec::new();
    for _ in 0..3 {
        kinds.push(changes.next_within(Duration::from_secs(5)).await.unwrap());
    }
    kinds.sort_by_key(|k| *k as u8);
    assert_eq!(
        kinds,
        [ListKind::Tools, ListKind::Prompts, ListKind::Resources]
    );
    for client in [&legacy, &modern] {
        assert_eq!(
            crate::tool_names(client).await,
            ["add", "team_inner_link", "team_inner_slow"]
        );
        let unknown = client.call_tool("eu_current", json!({ "city": "x" })).await;
        assert!(
            unknown.is_err_and(|e| e.to_string().contains("unknown tool")),
            "a disabled tool is unknown"
        );
        assert!(
            client
                .get_prompt("eu_ask", json!({ "station": "x" }))
                .await
                .is_err()
        );
        assert!(client.read_resource("stations://eu/list").await.is_err());
        assert!(
            client
                .list_prompts()
                .await
                .unwrap()
                .iter()
                .all(|p| p["name"] != "eu_ask")
        );
    }

    // Disabling what is already disabled changes nothing, and says nothing.
    assert!(handle.set_mount_enabled("eu", false));
    assert_eq!(changes.next_within(quiet).await, None);

    // One prompt: only the prompt list changed.
    assert!(handle.set_prompt_enabled("team_inner_outlook", false));
    assert_eq!(
        changes.next_within(Duration::from_secs(5)).await,
        Some(ListKind::Prompts)
    );
    assert_eq!(legacy.prompts_changed(2).await, 2);
    assert_eq!(legacy.tools_changed(1).await, 1);
    assert!(legacy.list_prompts().await.unwrap().is_empty());

    // A mount inside a mount, by its path; the resources list changes with it.
    assert!(handle.set_mount_enabled("team/inner", false));
    assert_eq!(crate::tool_names(&legacy).await, ["add"]);
    assert!(legacy.list_resource_templates().await.unwrap().is_empty());
    assert_eq!(legacy.resources_changed(2).await, 2);
    assert!(handle.set_resource_enabled("forecast://team/inner/cities/{city}", true));
    assert_eq!(
        crate::uris(&legacy.list_resource_templates().await.unwrap()),
        ["forecast://team/inner/cities/{city}"]
    );
    assert_eq!(
        legacy
            .read_resource("forecast://team/inner/cities/faro")
            .await
            .unwrap()
            .text(),
        "faro via forecast://cities/faro"
    );

    // Enabled again: everything is back.
    assert!(handle.set_mount_enabled("eu", true));
    assert!(handle.set_mount_enabled("team", true));
    assert_eq!(
        crate::tool_names(&modern).await,
        [
            "add",
            "eu_current",
            "eu_forecast",
            "eu_counters",
            "team_inner_link",
            "team_inner_slow"
        ]
    );
    assert!(!handle.set_mount_enabled("nowhere", true));
    assert!(!handle.set_mount_enabled("team/nowhere", true));
    assert!(!handle.set_prompt_enabled("nowhere", true));
    assert!(!handle.set_resource_enabled("stations://nowhere", true));
}
