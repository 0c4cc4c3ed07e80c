//! A test client acting as a principal: every request carries it, so `Principal` parameters,
//! principal-keyed limits and middleware see the caller, in both eras.

use platform_runtime::Era;
use platform_runtime::identity::{Principal, Tenant};
use platform_runtime::middleware::{McpRequest, Next, from_fn};
use platform_runtime::prelude::*;
use platform_runtime::testing::TestClient;

/// Who is calling.
#[tool(read_only)]
fn whoami(#[extract] caller: Principal) -> String {
    format!("{} ({})", caller.id(), caller.roles().join(","))
}

/// Once a minute per caller.
#[tool(read_only)]
#[rate_limit(1, per = "1m", key = "principal")]
fn once() -> &'static str {
    "ok"
}

/// The caller's tenant.
#[tool(read_only)]
fn tenant(#[extract] tenant: Tenant) -> String {
    tenant.to_string()
}

fn server() -> Server {
    Server::builder("ids")
        .tools(tools![whoami, once, tenant])
        .build()
        .unwrap()
}

#[tokio::test]
async fn every_request_acts_as_the_principal_in_both_eras() {
    for era in [Era::Legacy, Era::Modern] {
        let ada = Principal::new("ada").with_roles(["ops"]);
        let client = TestClient::connect_era_as(server(), era, ada)
            .await
            .unwrap();
        let answer = client.call_tool("whoami", json!({})).await.unwrap();
        assert_eq!(answer.text(), "ada (ops)", "{era:?}");
    }
    let anonymous = TestClient::connect(server()).await.unwrap();
    let refused = anonymous.call_tool("whoami", json!({})).await.unwrap();
    assert!(refused.is_error());
    assert!(
        refused.text().contains("needs an authenticated caller"),
        "{}",
        refused.text()
    );
}

#[tokio::test]
async fn principal_keyed_limits_count_each_caller_apart() {
    let shared = server();
    let ada = TestClient::connect_as(shared.clone(), Principal::new("ada"))
        .await
        .unwrap();
    let grace = TestClient::connect_as(shared, Principal::new("grace"))
        .await
        .unwrap();
    assert!(!ada.call_tool("once", json!({})).await.unwrap().is_error());
    assert!(
        !grace.call_tool("once", json!({})).await.unwrap().is_error(),
        "grace has her own budget"
    );
    let again = ada.call_tool("once", json!({})).await.unwrap();
    assert!(
        again.text().contains("rate limit exceeded"),
        "{}",
        again.text()
    );
}

#[tokio::test]
async fn a_middleware_may_still_set_another_principal() {
    let swap = from_fn(|mut request: McpRequest, next: Next| async move {
        let seen = request.principal().map(|p| p.id().to_owned());
        if seen.as_deref() == Some("ada") {
            request.set_principal(Principal::new("ada-as-service"));
        }
        next.run(request).await
    });
    let server = Server::builder("ids")
        .layer(swap)
        .tools(tools![whoami])
        .build()
        .unwrap();
    let client = TestClient::connect_as(server, Principal::new("ada"))
        .await
        .unwrap();
    let answer = client.call_tool("whoami", json!({})).await.unwrap();
    assert_eq!(answer.text(), "ada-as-service ()");
}

#[tokio::test]
async fn the_tenant_comes_from_the_principal_or_the_call_is_refused() {
    let acme = Principal::new("ada").with_tenant("acme");
    let client = TestClient::connect_as(server(), acme).await.unwrap();
    assert_eq!(
        client.call_tool("tenant", json!({})).await.unwrap().text(),
        "acme"
    );

    let untenanted = TestClient::connect_as(server(), Principal::new("grace"))
        .await
        .unwrap();
    let refused = untenanted.call_tool("tenant", json!({})).await.unwrap();
    assert!(refused.is_error());
    assert!(
        refused.text().contains("needs a caller with a tenant"),
        "{}",
        refused.text()
    );
    let manifest = server().manifest();
    let schema = &manifest["tools"][2]["inputSchema"];
    assert_eq!(
        schema["properties"],
        json!({}),
        "an extractor is not an argument"
    );
}
