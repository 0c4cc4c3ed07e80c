//! The composed server as its clients see it: every team's tools under its prefix, the
//! billing mount's role requirement and selected version, and the remote inventory
//! proxied from a child process.

use platform_runtime::identity::Principal;
use platform_runtime::prelude::*;
use platform_runtime::server::Upstream;
use platform_runtime::testing::TestClient;

fn inventory() -> Upstream {
    Upstream::stdio(env!("CARGO_BIN_EXE_inventory"))
}

fn names(tools: &[platform_runtime::testing::ListedTool]) -> Vec<&str> {
    tools.iter().map(|t| t.name.as_str()).collect()
}

#[tokio::test]
async fn every_team_is_served_under_its_prefix() {
    let finance = Principal::new("ana").with_roles(["finance"]);
    let client = TestClient::connect_as(team_platform::platform(inventory()), finance)
        .await
        .unwrap();
    let tools = client.list_tools().await.unwrap();
    assert_eq!(
        names(&tools),
        [
            "weather_current",
            "weather_forecast_link",
            "billing_invoice_total",
            "billing_refund",
            "billing_refund_policy",
            "remote_stock",
            "remote_reserve"
        ]
    );
    let policy = client
        .call_tool("billing_refund_policy", json!({}))
        .await
        .unwrap();
    assert_eq!(
        policy.text(),
        "refunds within 14 days",
        "the mount selects version 1"
    );
    let link = client
        .call_tool("weather_forecast_link", json!({ "city": "Lisbon" }))
        .await
        .unwrap();
    assert_eq!(
        link.content()[0].resource_uri(),
        Some("weather://weather/forecast/Lisbon")
    );
    let forecast = client
        .read_resource("weather://weather/forecast/Lisbon")
        .await
        .unwrap();
    assert_eq!(forecast.text(), "Lisbon: sun, sun, rain");
    let stock = client
        .call_tool("remote_stock", json!({ "sku": "A-1" }))
        .await
        .unwrap();
    assert!(stock.text().starts_with("A-1: "), "{}", stock.text());
    let reserved = client
        .call_tool("remote_reserve", json!({ "sku": "A-1", "units": 2 }))
        .await
        .unwrap();
    assert_eq!(reserved.text(), "2 x A-1 reserved");
    assert_eq!(
        client.progress(2).await.len(),
        2,
        "the upstream's progress arrives"
    );
}

#[tokio::test]
async fn billing_is_for_finance_only() {
    let support = Principal::new("bo").with_roles(["support"]);
    let client = TestClient::connect_as(team_platform::platform(inventory()), support)
        .await
        .unwrap();
    let tools = client.list_tools().await.unwrap();
    assert!(
        names(&tools).iter().all(|n| !n.starts_with("billing_")),
        "{:?}",
        names(&tools)
    );
    let refund = client
        .call_tool("billing_refund", json!({ "invoice": 1, "reason": "x" }))
        .await;
    let refused = match refund {
        Ok(result) => result.is_error() && !result.text().contains("refunded"),
        Err(_) => true,
    };
    assert!(refused, "a support caller cannot refund");
    // The other teams' tools are there for everyone.
    let current = client
        .call_tool("weather_current", json!({ "city": "Porto" }))
        .await
        .unwrap();
    assert_eq!(current.text(), "Porto: 21 C, clear");
}

/// Run `team-platform` over stdio as a client would: it starts the `inventory` binary next
/// to it and lists its tools as `remote_*`.
#[test]
fn the_binary_serves_the_teams_and_the_inventory_child_over_stdio() {
    use std::io::{BufRead, BufReader, Write};
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_team-platform"))
        .env("PLATFORM_TELEMETRY__LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    for message in [
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#,
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#,
    ] {
        writeln!(stdin, "{message}").unwrap();
    }
    let mut listed = None;
    for _ in 0..10 {
        let mut line = String::new();
        if stdout.read_line(&mut line).unwrap() == 0 {
            break;
        }
        let reply: serde_json::Value = serde_json::from_str(&line).unwrap();
        if reply["id"] == 2 {
            listed = Some(reply);
            break;
        }
    }
    drop(stdin);
    let _ = child.wait();
    let listed = listed.expect("a tools/list answer");
    let names: Vec<&str> = listed["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    for expected in ["weather_current", "remote_stock", "remote_reserve"] {
        assert!(names.contains(&expected), "{expected} in {names:?}");
    }
}
