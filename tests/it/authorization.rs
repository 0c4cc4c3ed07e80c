//! Authorization: `#[requires_role]` (strings and a typed `#[derive(Roles)]` enum, any-of
//! and all-of), `#[requires_scope]`, on tools, resources, prompts, derived tools, a whole
//! `#[server]` block, mounts and the server; hide or deny; tenant allow-lists and the
//! isolation of tenants' caches and limits; the audit events every decision makes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use platform_runtime::Era;
use platform_runtime::component::access::Unauthorized;
use platform_runtime::error::FORBIDDEN;
use platform_runtime::identity::Principal;
use platform_runtime::prelude::*;
use platform_runtime::testing::{TestClient, TestError};

use super::Captured;
use super::tool_names;

#[derive(Roles)]
enum Role {
    Ops,
    Admin,
    BillingAdmin,
}

/// Anyone may ask the time.
#[tool(read_only)]
fn time() -> &'static str {
    "noon"
}

/// Purge the cache.
#[tool]
#[requires_role(Role::Ops)]
fn purge() -> &'static str {
    "purged"
}

/// Rotate the signing keys: ops and admin together.
#[requires_role(all(Role::Ops, Role::Admin))]
#[tool]
fn rotate_keys() -> &'static str {
    "rotated"
}

/// Refund an invoice.
#[tool]
#[requires_role(any("billing_admin", "admin"))]
fn refund() -> &'static str {
    "refunded"
}

/// Read a file.
#[tool(read_only)]
#[requires_scope("files:read")]
fn read_file() -> &'static str {
    "contents"
}

/// The audit log.
#[resource("audit://log")]
#[requires_role(Role::Admin)]
fn audit_log() -> &'static str {
    "entries"
}

/// A postmortem for an incident.
#[prompt]
#[requires_role("ops")]
fn postmortem(incident: String) -> String {
    format!("Write the postmortem of {incident}")
}

/// Page the on-call engineer.
#[requires_role(Role::Ops)]
#[derive(Tool, Deserialize, JsonSchema)]
struct Page {
    /// What is wrong.
    message: String,
}

impl CallTool for Page {
    type Output = String;

    async fn call(self, _: Context) -> Result<String, ToolError> {
        Ok(format!("paged: {}", self.message))
    }
}

fn server(unauthorized: Unauthorized) -> Server {
    Server::builder("ops")
        .tools(tools![time, purge, rotate_keys, refund, read_file, Page])
        .resources(resources![audit_log])
        .prompts(prompts![postmortem])
        .unauthorized(unauthorized)
        .build()
        .unwrap()
}

fn forbidden(error: TestError) -> String {
    match error {
        TestError::Protocol { code, message, .. } => {
            assert_eq!(code, FORBIDDEN, "{message}");
            message
        }
        other => panic!("expected a forbidden error, got {other}"),
    }
}

#[tokio::test]
async fn callers_see_and_use_only_what_their_roles_and_scopes_allow() {
    for era in [Era::Legacy, Era::Modern] {
        let nobody =
            TestClient::connect_era_as(server(Unauthorized::Hide), era, Principal::new("n"))
                .await
                .unwrap();
        assert_eq!(tool_names(&nobody).await, ["time"], "{era:?}");
        assert!(nobody.list_resources().await.unwrap().is_empty());
        assert!(nobody.list_prompts().await.unwrap().is_empty());
        let message = forbidden(nobody.call_tool("purge", json!({})).await.unwrap_err());
        assert_eq!(message, "the tool `purge` needs the role `ops`");
        let message = forbidden(nobody.read_resource("audit://log").await.unwrap_err());
        assert_eq!(message, "the resource `audit://log` needs the role `admin`");
        let message = forbidden(
            nobody
                .get_prompt("postmortem", json!({ "incident": "x" }))
                .await
                .unwrap_err(),
        );
        assert!(message.contains("needs the role `ops`"), "{message}");

        let ops = Principal::new("o").with_roles(["ops"]);
        let ops = TestClient::connect_era_as(server(Unauthorized::Hide), era, ops)
            .await
            .unwrap();
        assert_eq!(tool_names(&ops).await, ["time", "purge", "page"], "{era:?}");
        assert_eq!(
            ops.call_tool("purge", json!({})).await.unwrap().text(),
            "purged"
        );
        assert_eq!(
            ops.call_tool("page", json!({ "message": "disk full" }))
                .await
                .unwrap()
                .text(),
            "paged: disk full"
        );
        let message = forbidden(ops.call_tool("rotate_keys", json!({})).await.unwrap_err());
        assert_eq!(
            message,
            "the tool `rotate_keys` needs all of the roles `ops`, `admin`"
        );
        assert!(
            ops.get_prompt("postmortem", json!({ "incident": "x" }))
                .await
                .is_ok()
        );

        let both = Principal::new("b")
            .with_roles(["ops", "admin"])
            .with_scopes(["files:read"]);
        let both = TestClient::connect_era_as(server(Unauthorized::Hide), era, both)
            .await
            .unwrap();
        assert_eq!(
            tool_names(&both).await,
            [
                "time",
                "purge",
                "rotate_keys",
                "refund",
                "read_file",
                "page"
            ]
        );
        assert_eq!(
            both.read_resource("audit://log").await.unwrap().text(),
            "entries"
        );

        let billing = Principal::new("c").with_roles([Role::BillingAdmin.name()]);
        let billing = TestClient::connect_era_as(server(Unauthorized::Hide), era, billing)
            .await
            .unwrap();
        assert_eq!(tool_names(&billing).await, ["time", "refund"]);
        let message = forbidden(billing.call_tool("read_file", json!({})).await.unwrap_err());
        assert_eq!(
            message,
            "the tool `read_file` needs the scopes `files:read`"
        );
    }
}

#[tokio::test]
async fn an_anonymous_caller_is_told_the_request_is_not_authenticated() {
    let anonymous = TestClient::connect(server(Unauthorized::Hide))
        .await
        .unwrap();
    let message = forbidden(anonymous.call_tool("purge", json!({})).await.unwrap_err());
    assert_eq!(
        message,
        "the tool `purge` needs the role `ops` (the request is not authenticated)"
    );
    assert_eq!(
        anonymous.call_tool("time", json!({})).await.unwrap().text(),
        "noon"
    );
}

#[tokio::test]
async fn deny_mode_lists_everything_and_refuses_the_call() {
    let nobody = TestClient::connect_as(server(Unauthorized::Deny), Principal::new("n"))
        .await
        .unwrap();
    assert_eq!(tool_names(&nobody).await.len(), 6);
    assert_eq!(nobody.list_resources().await.unwrap().len(), 1);
    let error = nobody.call_tool("purge", json!({})).await.unwrap_err();
    let TestError::Protocol { data, .. } = &error else {
        panic!("{error}")
    };
    assert_eq!(
        data.as_ref().unwrap()["requires"],
        json!([{ "any_role": ["ops"] }])
    );
}

/// Operations of a team's server.
struct Billing;

#[requires_role("finance")]
#[server]
impl Billing {
    /// An invoice.
    #[tool(read_only)]
    fn invoice(&self) -> &'static str {
        "invoice"
    }

    /// A refund, which also needs the approver role.
    #[tool]
    #[requires_role("approver")]
    fn approve_refund(&self) -> &'static str {
        "approved"
    }
}

/// Weather for everyone.
struct Weather;

#[server]
#[requires_scope("weather:read")]
impl Weather {
    /// The weather.
    #[tool(read_only)]
    fn current(&self) -> &'static str {
        "sunny"
    }
}

#[tokio::test]
async fn requirements_on_a_server_block_a_mount_and_the_server_apply_to_everything_below() {
    let acme = || {
        Server::builder("acme")
            .mount("billing", Billing)
            .mount_with("weather", Weather, |m| m.requires_role(["staff"]))
            .tools(tools![time])
            .requires_scope(["mcp"])
            .build()
            .unwrap()
    };
    let finance = Principal::new("f")
        .with_roles(["finance"])
        .with_scopes(["mcp"]);
    let client = TestClient::connect_as(acme(), finance).await.unwrap();
    assert_eq!(tool_names(&client).await, ["billing_invoice", "time"]);
    let approver = Principal::new("a")
        .with_roles(["finance", "approver", "staff"])
        .with_scopes(["mcp", "weather:read"]);
    let client = TestClient::connect_as(acme(), approver).await.unwrap();
    assert_eq!(
        tool_names(&client).await,
        [
            "billing_invoice",
            "billing_approve_refund",
            "weather_current",
            "time"
        ]
    );
    // Without the server-wide scope, nothing at all.
    let unscoped = Principal::new("u").with_roles(["finance", "approver", "staff"]);
    let client = TestClient::connect_as(acme(), unscoped).await.unwrap();
    assert!(tool_names(&client).await.is_empty());
    let message = forbidden(client.call_tool("time", json!({})).await.unwrap_err());
    assert_eq!(message, "the tool `time` needs the scopes `mcp`");
}

/// Cached per tenant, counted per tenant.
#[tool(read_only)]
#[cache(ttl = "60s", scope = "tenant")]
#[rate_limit(2, per = "1m", key = "tenant")]
fn report(State(calls): State<Arc<AtomicU32>>, #[extract] caller: Principal) -> String {
    let n = calls.fetch_add(1, Ordering::Relaxed) + 1;
    format!("report #{n} for {}", caller.tenant().unwrap_or("-"))
}

/// Acme's own tool.
#[tool(read_only)]
fn acme_forecast() -> &'static str {
    "acme"
}

/// Globex's own tool.
#[tool(read_only)]
fn globex_ledger() -> &'static str {
    "globex"
}

fn tenants() -> Server {
    Server::builder("tenants")
        .tools(tools![report, acme_forecast, globex_ledger])
        .state(Arc::new(AtomicU32::new(0)))
        .tenant_allow("acme", ["acme_*", "report"])
        .tenant_allow("globex", ["globex_*", "report"])
        .build()
        .unwrap()
}

#[tokio::test]
async fn tenants_cannot_see_or_use_each_others_components_caches_or_limits() {
    let server = tenants();
    let acme = |id: &str| Principal::new(id).with_tenant("acme");
    let globex = |id: &str| Principal::new(id).with_tenant("globex");
    let a1 = TestClient::connect_as(server.clone(), acme("a1"))
        .await
        .unwrap();
    let a2 = TestClient::connect_as(server.clone(), acme("a2"))
        .await
        .unwrap();
    let g1 = TestClient::connect_as(server.clone(), globex("g1"))
        .await
        .unwrap();
    assert_eq!(tool_names(&a1).await, ["report", "acme_forecast"]);
    assert_eq!(tool_names(&g1).await, ["report", "globex_ledger"]);
    let message = forbidden(a1.call_tool("globex_ledger", json!({})).await.unwrap_err());
    assert_eq!(
        message,
        "the tool `globex_ledger` is not available to this caller's tenant"
    );
    // The cache is per tenant: acme's second caller is served acme's entry, globex gets
    // its own.
    let first = a1.call_tool("report", json!({})).await.unwrap().text();
    assert_eq!(first, "report #1 for acme");
    assert_eq!(
        a2.call_tool("report", json!({})).await.unwrap().text(),
        first
    );
    assert_eq!(
        g1.call_tool("report", json!({})).await.unwrap().text(),
        "report #2 for globex"
    );
    // The limit is per tenant: acme spends its two calls (a cache hit does not count)…
    let limited = tenants();
    let a = TestClient::connect_as(limited.clone(), acme("a"))
        .await
        .unwrap();
    let g = TestClient::connect_as(limited.clone(), globex("g"))
        .await
        .unwrap();
    // (Distinct arguments would miss the cache; the limit sits outside it, so every call
    // counts.)
    for _ in 0..2 {
        assert!(!a.call_tool("report", json!({})).await.unwrap().is_error());
    }
    let third = a.call_tool("report", json!({})).await.unwrap();
    assert!(
        third.is_error() && third.text().contains("rate limit"),
        "{}",
        third.text()
    );
    // …and globex still has its own.
    assert!(!g.call_tool("report", json!({})).await.unwrap().is_error());
}

#[tokio::test]
async fn every_decision_is_an_audit_event() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_env_filter("platform::audit=debug")
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let ops = Principal::new("ada")
        .with_roles(["ops"])
        .with_tenant("acme");
    let client = TestClient::connect_as(server(Unauthorized::Hide), ops)
        .await
        .unwrap();
    client.call_tool("purge", json!({})).await.unwrap();
    client
        .call_tool("rotate_keys", json!({}))
        .await
        .unwrap_err();
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let allow = logs
        .lines()
        .find(|l| l.contains("decision=\"allow\""))
        .unwrap_or_else(|| panic!("{logs}"));
    assert!(
        allow.contains("platform::audit")
            && allow.contains("principal=\"ada\"")
            && allow.contains("tenant=\"acme\"")
            && allow.contains("component=\"purge\""),
        "{allow}"
    );
    let deny = logs
        .lines()
        .find(|l| l.contains("decision=\"deny\""))
        .unwrap_or_else(|| panic!("{logs}"));
    assert!(
        deny.contains("component=\"rotate_keys\"") && deny.contains("needs all of the roles"),
        "{deny}"
    );
}

#[test]
fn the_manifest_shows_each_component_s_requirements() {
    let manifest = server(Unauthorized::Hide).manifest();
    let tool = |name: &str| {
        manifest["tools"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(
        tool("rotate_keys")["requires"],
        json!([{ "all_roles": ["ops", "admin"] }])
    );
    assert_eq!(
        tool("read_file")["requires"],
        json!([{ "scopes": ["files:read"] }])
    );
    assert!(tool("time").get("requires").is_none());
    assert_eq!(
        manifest["resources"][0]["requires"],
        json!([{ "any_role": ["admin"] }])
    );
    assert_eq!(
        manifest["prompts"][0]["requires"],
        json!([{ "any_role": ["ops"] }])
    );
}

#[tokio::test]
async fn configuration_adds_server_wide_requirements_and_tenant_lists_without_code() {
    use platform_runtime::config::ConfigSource;
    let dir = std::env::temp_dir().join(format!("authz-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("platform.toml"),
        "[auth]\nrequires_role = [\"staff\"]\nunauthorized = \"deny\"\n[auth.tenants.acme]\nallow = [\"time\", \"purge\"]\n",
    )
    .unwrap();
    let config = ConfigSource::default()
        .dir(&dir)
        .env_prefix("PTEST_AUTHZ_")
        .environment(Vec::<(String, String)>::new())
        .load()
        .unwrap();
    let server = server(Unauthorized::Hide).with_config(&config).unwrap();
    // Deny mode (from the file): listed, refused; the server-wide role applies to `time`.
    let guest = TestClient::connect_as(server.clone(), Principal::new("g"))
        .await
        .unwrap();
    assert_eq!(tool_names(&guest).await.len(), 6);
    let message = forbidden(guest.call_tool("time", json!({})).await.unwrap_err());
    assert_eq!(message, "the tool `time` needs the role `staff`");
    // A staff member of acme sees acme's allow-list only.
    let acme = Principal::new("a")
        .with_roles(["staff", "ops"])
        .with_tenant("acme");
    let acme = TestClient::connect_as(server, acme).await.unwrap();
    assert_eq!(tool_names(&acme).await, ["time", "purge"]);
    assert_eq!(
        acme.call_tool("time", json!({})).await.unwrap().text(),
        "noon"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
