//! `#[requires_role]` and `#[requires_scope]` on every kind of component, a derived tool and
//! prompt, and a whole `#[server]` block (above and below `#[server]`).
use platform_runtime::prelude::*;

#[derive(Roles)]
enum Role {
    Ops,
    #[role(name = "billing-admin")]
    BillingAdmin,
}

/// Purge.
#[tool]
#[requires_role(Role::Ops)]
#[timeout("5s")]
fn purge() -> String {
    "purged".into()
}

/// Audit log.
#[requires_role(any(Role::Ops, Role::BillingAdmin))]
#[resource("audit://log")]
fn audit() -> String {
    String::new()
}

/// Postmortem.
#[prompt]
#[requires_role(all("ops", "writer"))]
#[requires_scope("docs:write")]
fn postmortem(incident: String) -> String {
    incident
}

/// Page.
#[requires_role(Role::Ops)]
#[derive(Tool, Deserialize, JsonSchema)]
struct Page {
    /// What.
    message: String,
}

impl CallTool for Page {
    type Output = String;
    async fn call(self, _: Context) -> Result<String, ToolError> {
        Ok(self.message)
    }
}

/// Review.
#[requires_scope("review")]
#[derive(Prompt, Deserialize, JsonSchema)]
#[mcp(template = "Review {code}")]
struct Review {
    /// The code.
    code: String,
}

struct Billing;

#[requires_role("finance")]
#[server]
impl Billing {
    /// Invoice.
    #[tool(read_only)]
    fn invoice(&self) -> String {
        String::new()
    }
}

struct Weather;

#[server]
#[requires_scope("weather:read")]
impl Weather {
    /// Current.
    #[tool(read_only)]
    #[requires_role(Role::Ops)]
    fn current(&self) -> String {
        String::new()
    }
}

fn main() {
    let server = Server::builder("s")
        .tools(tools![purge, Page])
        .resources(resources![audit])
        .prompts(prompts![postmortem, Review])
        .mount("billing", Billing)
        .mount("weather", Weather)
        .build()
        .unwrap();
    let _ = server;
}
