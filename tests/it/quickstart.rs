//! The quickstart example: its manifest (every schema users rely on) is snapshotted, and it
//! answers in both eras.

use platform_runtime::Era;
use platform_runtime::testing::TestClient;
use serde_json::json;

#[test]
fn manifest_snapshot() {
    let server = quickstart::server().unwrap();
    insta::assert_json_snapshot!(server.manifest());
}

#[tokio::test]
async fn quickstart_answers_in_both_eras() {
    for era in [Era::Legacy, Era::Modern] {
        let client = TestClient::connect_era(quickstart::server().unwrap(), era)
            .await
            .unwrap();
        let sum = client
            .call_tool("add", json!({ "a": 20, "b": 22 }))
            .await
            .unwrap();
        assert_eq!(sum.structured(), Some(&json!({ "result": 42 })));
        let note = client.read_resource("notes://2").await.unwrap();
        assert_eq!(note[0].1.as_text(), Some(r#"{"id":2,"text":"Call Ada"}"#));
        let missing = client.read_resource("notes://9").await.unwrap_err();
        assert!(
            missing.to_string().contains("there is no note 9"),
            "{missing}"
        );
        let prompt = client
            .get_prompt("summarise", json!({ "topic": "tides" }))
            .await
            .unwrap();
        assert!(prompt.messages()[0].text().unwrap().contains("tides"));
    }
}
