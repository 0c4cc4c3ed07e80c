//! Server-wide limits: they cover every component, and configuration loaded from files and
//! the environment reaches the server that is served.

use std::sync::Arc;
use std::time::Duration;

use platform_runtime::config::ConfigSource;
use platform_runtime::prelude::*;
use platform_runtime::testing::TestClient;
use serde_json::json;
use tokio::sync::Notify;

/// A gate handlers wait at until a test opens it.
#[derive(Default)]
struct Gate {
    entered: Notify,
    open: Notify,
}

/// A document that takes as long as the gate stays closed.
#[resource("slow://{id}")]
async fn slow_doc(State(gate): State<Arc<Gate>>, id: String) -> String {
    gate.entered.notify_one();
    gate.open.notified().await;
    format!("doc {id}")
}

/// A prompt that takes as long as the gate stays closed.
#[prompt]
async fn slow_prompt(State(gate): State<Arc<Gate>>, topic: String) -> String {
    gate.entered.notify_one();
    gate.open.notified().await;
    format!("about {topic}")
}

/// Answer at once.
#[prompt]
fn quick(topic: String) -> String {
    format!("quickly, {topic}")
}

fn builder(gate: Arc<Gate>) -> platform_runtime::ServerBuilder {
    Server::builder("limits")
        .resources(resources![slow_doc])
        .prompts(prompts![slow_prompt, quick])
        .state(gate)
}

fn message(error: platform_runtime::testing::TestError) -> String {
    error.to_string()
}

#[tokio::test(start_paused = true)]
async fn the_default_timeout_covers_resource_reads_and_prompt_gets() {
    let server = builder(Arc::default())
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let client = TestClient::connect(server).await.unwrap();
    let read = message(client.read_resource("slow://1").await.unwrap_err());
    assert!(read.contains("`slow://1` timed out after 5s"), "{read}");
    let got = message(
        client
            .get_prompt("slow_prompt", json!({ "topic": "x" }))
            .await
            .unwrap_err(),
    );
    assert!(got.contains("`slow_prompt` timed out after 5s"), "{got}");
    // The server keeps serving.
    assert!(
        client
            .get_prompt("quick", json!({ "topic": "y" }))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn the_in_flight_limit_covers_resource_reads_and_prompt_gets() {
    let gate = Arc::new(Gate::default());
    let server = builder(gate.clone()).max_in_flight(1).build().unwrap();
    let client = Arc::new(TestClient::connect(server).await.unwrap());
    let reading = {
        let client = client.clone();
        tokio::spawn(async move { client.read_resource("slow://1").await })
    };
    gate.entered.notified().await;
    let busy = message(
        client
            .get_prompt("quick", json!({ "topic": "x" }))
            .await
            .unwrap_err(),
    );
    assert!(busy.contains("busy"), "{busy}");
    gate.open.notify_one();
    assert!(reading.await.unwrap().is_ok());
    assert!(
        client
            .get_prompt("quick", json!({ "topic": "x" }))
            .await
            .is_ok()
    );
}

fn config_dir(toml: &str) -> std::path::PathBuf {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("platform-limits-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("platform.toml"), toml).unwrap();
    dir
}

#[tokio::test(start_paused = true)]
async fn configuration_from_a_file_and_the_environment_reaches_the_server() {
    let dir = config_dir("[limits]\ntimeout = \"2s\"\nmax_uri_bytes = 64\n");
    let config = ConfigSource::default()
        .dir(&dir)
        .env_prefix("PLIMITS_")
        .environment([("PLIMITS_LIMITS__MAX_URI_BYTES", "32")])
        .load()
        .unwrap();
    // The builder said 60 s; configuration wins.
    let server = builder(Arc::default())
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
        .with_config(&config)
        .unwrap();
    let handle = server.handle();
    let client = TestClient::connect(server).await.unwrap();
    let read = message(client.read_resource("slow://1").await.unwrap_err());
    assert!(read.contains("timed out after 2s"), "from the file: {read}");
    let long = message(
        client
            .read_resource(&format!("slow://{}", "x".repeat(40)))
            .await
            .unwrap_err(),
    );
    assert!(
        long.contains("the limit is 32 bytes"),
        "from the environment: {long}"
    );
    // A handle taken before the configuration was applied still reaches the server.
    assert!(!handle.set_tool_enabled("nothing", false));
    // A bad value stops start-up with the key's name.
    let dir = config_dir("[sealing]\nkey = \"short\"\n");
    let config = ConfigSource::default()
        .dir(&dir)
        .env_prefix("PLIMITS2_")
        .environment(Vec::<(String, String)>::new())
        .load()
        .unwrap();
    let error = builder(Arc::default())
        .build()
        .unwrap()
        .with_config(&config)
        .unwrap_err();
    assert!(error.to_string().contains("sealing key"), "{error}");
}
